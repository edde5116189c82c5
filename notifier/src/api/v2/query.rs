//! The query parameters of `GET /api/v2/alerts`, `/alerts/groups` and
//! `/silences`, and Alertmanager's filter rules for them.
//!
//! `filter` may be repeated (`?filter=a="1"&filter=b=~"x|y"`); `active`,
//! `silenced` and `inhibited` default to true; `receiver` is a regex
//! anchored at both ends. An alert is kept when every `filter` matcher
//! matches its labels (with Alertmanager's rule for empty values: `x=""`
//! also keeps alerts without `x`, `x!=""` also keeps alerts with it).

use super::common::AmError;
use crate::alert::LabelSet;
use crate::matcher::{MatchType, Matcher};
use crate::notifier::{AlertState, AlertView};
use regex::Regex;

/// Parsed alert query.
pub(crate) struct AlertQuery {
    pub filter: Vec<Matcher>,
    pub active: bool,
    pub silenced: bool,
    pub inhibited: bool,
    pub receiver: Option<Regex>,
}

fn pairs(raw: Option<&str>) -> Vec<(String, String)> {
    url::form_urlencoded::parse(raw.unwrap_or("").as_bytes())
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect()
}

/// Go's `swag.ConvertBool`, which Alertmanager's server uses.
fn boolean(name: &str, value: &str) -> Result<bool, AmError> {
    match value.to_ascii_lowercase().as_str() {
        "true" | "1" | "yes" | "y" | "on" | "selected" | "checked" | "enabled" => Ok(true),
        "false" | "0" | "no" | "n" | "off" | "" => Ok(false),
        _ => Err(AmError::Malformed(format!(
            "{name} in query must be of type boolean: {value:?}"
        ))),
    }
}

/// The `filter` parameters as matchers (400 with the parser's reason).
pub(crate) fn filter(raw: Option<&str>) -> Result<Vec<Matcher>, AmError> {
    pairs(raw)
        .into_iter()
        .filter(|(k, _)| k == "filter")
        .map(|(_, v)| Matcher::parse(&v).map_err(AmError::BadRequest))
        .collect()
}

impl AlertQuery {
    /// Parses the raw query string.
    pub fn parse(raw: Option<&str>) -> Result<Self, AmError> {
        let mut q = AlertQuery {
            filter: filter(raw)?,
            active: true,
            silenced: true,
            inhibited: true,
            receiver: None,
        };
        for (k, v) in pairs(raw) {
            match k.as_str() {
                "active" => q.active = boolean(&k, &v)?,
                "silenced" => q.silenced = boolean(&k, &v)?,
                "inhibited" => q.inhibited = boolean(&k, &v)?,
                "unprocessed" => {
                    // Status is computed when asked: nothing is unprocessed.
                    boolean(&k, &v)?;
                }
                "receiver" if !v.is_empty() => {
                    let re = Regex::new(&format!("^(?:{v})$")).map_err(|e| {
                        AmError::BadRequest(format!("failed to parse receiver param: {e}"))
                    })?;
                    q.receiver = Some(re);
                }
                _ => {}
            }
        }
        Ok(q)
    }

    /// Alertmanager's `alertFilter`: state flags, then the label filter.
    pub fn keeps(&self, a: &AlertView) -> bool {
        if !self.active && a.status.state == AlertState::Active {
            return false;
        }
        if !self.silenced && !a.status.silenced_by.is_empty() {
            return false;
        }
        if !self.inhibited && !a.status.inhibited_by.is_empty() {
            return false;
        }
        labels_match(&self.filter, &a.alert.labels)
    }

    /// Whether `receiver` passes the `receiver` regex (if any).
    pub fn receiver_ok(&self, receiver: &str) -> bool {
        self.receiver
            .as_ref()
            .is_none_or(|re| re.is_match(receiver))
    }
}

/// Alertmanager's `matchFilterLabels`.
pub(crate) fn labels_match(filter: &[Matcher], labels: &LabelSet) -> bool {
    filter.iter().all(|m| {
        let present = labels.contains_key(&m.name);
        let skip = match m.kind {
            MatchType::NotEqual | MatchType::NotRegex => m.value.is_empty() && present,
            MatchType::Equal | MatchType::Regex => m.value.is_empty() && !present,
        };
        skip || m.matches(labels)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn repeated_filters_flags_and_receiver_regex() {
        let q = AlertQuery::parse(Some(
            "filter=alertname%3D%22Down%22&filter=severity%3D~%22crit.*%22&silenced=false&receiver=slack",
        ))
        .unwrap();
        assert_eq!(q.filter.len(), 2);
        assert!(q.active && !q.silenced && q.inhibited);
        assert!(
            q.receiver_ok("slack") && !q.receiver_ok("slack-db"),
            "anchored"
        );
        assert!(matches!(
            AlertQuery::parse(Some("active=maybe")),
            Err(AmError::Malformed(_))
        ));
        assert!(matches!(
            AlertQuery::parse(Some("filter=%3D%3D")),
            Err(AmError::BadRequest(_))
        ));
    }

    #[test]
    fn empty_values_follow_alertmanager() {
        let labels: LabelSet = [("a".to_string(), "1".to_string())].into();
        let m = |s: &str| vec![Matcher::parse(s).unwrap()];
        assert!(labels_match(&m("b=\"\""), &labels));
        assert!(labels_match(&m("a!=\"\""), &labels));
        assert!(!labels_match(&m("a=\"2\""), &labels));
        assert!(labels_match(&m("a=~\"[0-9]\""), &labels));
    }
}
