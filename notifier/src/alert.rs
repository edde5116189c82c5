//! Alerts in Alertmanager's API v2 shape, their fingerprint, and how a
//! re-sent alert merges with the copy already held.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// Label or annotation set.
pub type LabelSet = BTreeMap<String, String>;

/// An alert as Prometheus posts it to `POST /api/v2/alerts`.
///
/// A firing alert has `ends_at` unset (the notifier then assumes it resolves
/// after the resolve timeout unless re-sent) or in the future; a resolved
/// alert has `ends_at` at or before now.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Alert {
    /// Identifying labels, including `alertname`.
    #[serde(default)]
    pub labels: LabelSet,
    /// `summary`, `description`, `runbook_url`, …
    #[serde(default)]
    pub annotations: LabelSet,
    /// When the alert started firing.
    #[serde(default, rename = "startsAt", alias = "starts_at", with = "opt_time")]
    pub starts_at: Option<DateTime<Utc>>,
    /// When it resolved, or when it should be considered resolved.
    #[serde(default, rename = "endsAt", alias = "ends_at", with = "opt_time")]
    pub ends_at: Option<DateTime<Utc>>,
    /// Link to the expression that produced it.
    #[serde(
        default,
        rename = "generatorURL",
        alias = "generator_url",
        skip_serializing_if = "Option::is_none"
    )]
    pub generator_url: Option<String>,
}

impl Alert {
    /// Alert name (label `alertname`), empty when missing.
    pub fn name(&self) -> &str {
        self.labels
            .get("alertname")
            .map(String::as_str)
            .unwrap_or("")
    }

    /// Stable identity of the label set (FNV-1a 64 over sorted pairs); the
    /// same across restarts and builds.
    pub fn fingerprint(&self) -> Fingerprint {
        fingerprint(&self.labels)
    }

    /// Whether the alert is resolved at `now`.
    pub fn resolved_at(&self, now: DateTime<Utc>) -> bool {
        self.ends_at.is_some_and(|end| end <= now)
    }

    /// Alertmanager's checks on a pushed alert, after dropping labels with
    /// empty values (which Alertmanager ignores): at least one label, valid
    /// label names, and no end before the start.
    pub fn normalize_and_validate(&mut self) -> Result<(), String> {
        self.labels.retain(|_, v| !v.is_empty());
        if let Some(name) = self.labels.keys().find(|k| !valid_label_name(k)) {
            return Err(format!("invalid label set: invalid name {name:?}"));
        }
        if self.labels.is_empty() {
            return Err("at least one label pair required".into());
        }
        if let Some(name) = self.annotations.keys().find(|k| !valid_label_name(k)) {
            return Err(format!("invalid annotations: invalid name {name:?}"));
        }
        if let (Some(start), Some(end)) = (self.starts_at, self.ends_at) {
            if end < start {
                return Err("start time must be before end time".into());
            }
        }
        Ok(())
    }
}

/// Prometheus's label name rule: `[a-zA-Z_][a-zA-Z0-9_]*`.
pub fn valid_label_name(name: &str) -> bool {
    let mut chars = name.chars();
    chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

/// Alert identity; hex of a 64-bit hash of the labels.
pub type Fingerprint = u64;

/// FNV-1a 64 over `name\xffvalue\xff` for each label in order.
pub fn fingerprint(labels: &LabelSet) -> Fingerprint {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for (k, v) in labels {
        for bytes in [k.as_bytes(), &[0xff], v.as_bytes(), &[0xff]] {
            for b in bytes {
                hash ^= u64::from(*b);
                hash = hash.wrapping_mul(0x0000_0100_0000_01b3);
            }
        }
    }
    hash
}

/// An alert as held by the notifier: times filled in, plus bookkeeping.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub(crate) struct StoredAlert {
    pub alert: Alert,
    /// When the notifier last received it.
    pub updated_at: DateTime<Utc>,
    /// `ends_at` was filled in from the resolve timeout, not by the sender.
    pub timeout: bool,
}

impl StoredAlert {
    /// Fills missing times the way Alertmanager does.
    pub fn from_received(
        mut alert: Alert,
        now: DateTime<Utc>,
        resolve_timeout: chrono::Duration,
    ) -> Self {
        // Alertmanager's defaults: a resolved alert without a start
        // started when it ended.
        let starts = alert.starts_at.or(alert.ends_at).unwrap_or(now);
        alert.starts_at = Some(starts);
        let timeout = alert.ends_at.is_none();
        if timeout {
            alert.ends_at = Some(now + resolve_timeout);
        }
        StoredAlert {
            alert,
            updated_at: now,
            timeout,
        }
    }

    pub fn resolved_at(&self, now: DateTime<Utc>) -> bool {
        self.alert.resolved_at(now)
    }

    /// Merges a newer copy into this one: earliest start, and the end time
    /// rules of Alertmanager (an explicit resolve wins; a timeout end never
    /// overrides a later explicit one). A copy that starts after this one
    /// ended is a new occurrence and replaces it.
    pub fn merge(&mut self, newer: StoredAlert, now: DateTime<Utc>) {
        let (old_start, old_end) = (self.alert.starts_at, self.alert.ends_at);
        let old_resolved = self.resolved_at(now);
        let old_timeout = self.timeout;
        let new_start = newer.alert.starts_at;
        let new_resolved = newer.resolved_at(now);
        let new_occurrence = old_resolved && new_start > old_end && !new_resolved;
        *self = newer;
        if new_occurrence {
            return;
        }
        if old_start < self.alert.starts_at {
            self.alert.starts_at = old_start;
        }
        let later_end = old_end > self.alert.ends_at;
        if later_end && ((new_resolved && old_resolved) || (!new_resolved && !old_timeout)) {
            self.alert.ends_at = old_end;
            self.timeout = old_timeout;
        }
    }
}

/// Serde for optional RFC 3339 times; Go's zero time (year 1) reads as unset.
mod opt_time {
    use chrono::{DateTime, Datelike, Utc};
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(t: &Option<DateTime<Utc>>, s: S) -> Result<S::Ok, S::Error> {
        match t {
            Some(t) => s.serialize_str(&t.to_rfc3339_opts(chrono::SecondsFormat::Millis, true)),
            None => s.serialize_str("0001-01-01T00:00:00Z"),
        }
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<DateTime<Utc>>, D::Error> {
        let text: Option<String> = Option::deserialize(d)?;
        let Some(text) = text.filter(|t| !t.is_empty()) else {
            return Ok(None);
        };
        let t = DateTime::parse_from_rfc3339(&text)
            .map_err(|e| serde::de::Error::custom(format!("invalid time {text:?}: {e}")))?
            .with_timezone(&Utc);
        Ok((t.year() > 1).then_some(t))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn alert(json: &str) -> Alert {
        serde_json::from_str(json).unwrap()
    }

    #[test]
    fn parses_alertmanager_v2_shape_and_go_zero_time() {
        let a = alert(
            r#"{"labels":{"alertname":"Up"},"annotations":{},"startsAt":"2024-01-01T00:00:00Z","endsAt":"0001-01-01T00:00:00Z","generatorURL":"http://x"}"#,
        );
        assert_eq!(a.name(), "Up");
        assert!(a.starts_at.is_some());
        assert!(a.ends_at.is_none());
        assert_eq!(a.generator_url.as_deref(), Some("http://x"));
    }

    #[test]
    fn fingerprint_depends_only_on_labels() {
        let a = alert(r#"{"labels":{"a":"1","b":"2"}}"#);
        let mut b = alert(r#"{"labels":{"b":"2","a":"1"},"annotations":{"x":"y"}}"#);
        assert_eq!(a.fingerprint(), b.fingerprint());
        b.labels.insert("c".into(), "3".into());
        assert_ne!(a.fingerprint(), b.fingerprint());
    }

    #[test]
    fn merge_keeps_earliest_start_and_explicit_resolve() {
        let t0: DateTime<Utc> = "2024-01-01T00:00:00Z".parse().unwrap();
        let m = chrono::Duration::minutes;
        let timeout = m(5);
        let mut held = StoredAlert::from_received(
            Alert {
                starts_at: Some(t0),
                ..Default::default()
            },
            t0,
            timeout,
        );
        let again = StoredAlert::from_received(Alert::default(), t0 + m(1), timeout);
        held.merge(again, t0 + m(1));
        assert_eq!(held.alert.starts_at, Some(t0));
        assert_eq!(held.alert.ends_at, Some(t0 + m(6)));
        let resolved = StoredAlert::from_received(
            Alert {
                ends_at: Some(t0 + m(2)),
                ..Default::default()
            },
            t0 + m(2),
            timeout,
        );
        held.merge(resolved, t0 + m(2));
        assert!(held.resolved_at(t0 + m(2)));
    }
}
