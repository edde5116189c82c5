//! Silences: matchers plus a time window. Expired silences stay listed
//! (as in Alertmanager) but no longer mute anything.
//!
//! Creating and updating follow Alertmanager's `Silences.Set`: a request
//! naming an existing silence updates it in place when only its end,
//! comment or author change (or, while it is pending, its start); any
//! other change expires it and creates a new silence with a new id.

use crate::alert::LabelSet;
use crate::matcher::{all_match, Matcher};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// A silence as stored and as listed by `GET /api/v1/silences`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Silence {
    /// Id returned on creation (a UUID, as Alertmanager's).
    pub id: String,
    /// Alerts matching all of these are muted.
    pub matchers: Vec<Matcher>,
    /// Start of the window.
    pub starts_at: DateTime<Utc>,
    /// End of the window (set to the deletion time when deleted).
    pub ends_at: DateTime<Utc>,
    /// Who created it.
    pub created_by: String,
    /// Why.
    pub comment: String,
    /// Last change.
    pub updated_at: DateTime<Utc>,
}

/// Where a silence is in its life.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum SilenceState {
    /// Starts in the future.
    Pending,
    /// Muting now.
    Active,
    /// Ended.
    Expired,
}

impl SilenceState {
    /// `pending`, `active` or `expired`.
    pub fn as_str(self) -> &'static str {
        match self {
            SilenceState::Pending => "pending",
            SilenceState::Active => "active",
            SilenceState::Expired => "expired",
        }
    }
}

impl Silence {
    /// State at `now`.
    pub fn state(&self, now: DateTime<Utc>) -> SilenceState {
        if now >= self.ends_at {
            SilenceState::Expired
        } else if now < self.starts_at {
            SilenceState::Pending
        } else {
            SilenceState::Active
        }
    }

    /// Whether it mutes an alert with these labels at `now`.
    pub fn mutes(&self, labels: &LabelSet, now: DateTime<Utc>) -> bool {
        self.state(now) == SilenceState::Active && all_match(&self.matchers, labels)
    }

    /// Ends the silence at `now` (a pending one never starts); an expired
    /// silence is left as it is.
    pub fn expire(&mut self, now: DateTime<Utc>) {
        if self.ends_at > now {
            self.ends_at = now;
            self.starts_at = self.starts_at.min(now);
            self.updated_at = now;
        }
    }
}

/// Body of `POST /api/v2/silences` and `POST /api/v1/silences`
/// (Alertmanager's camelCase, or snake_case).
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewSilence {
    /// At least one matcher, as strings (`alertname="X"`) or objects.
    pub matchers: Vec<Matcher>,
    /// Defaults to now; a start in the past becomes now.
    #[serde(default, alias = "startsAt")]
    pub starts_at: Option<DateTime<Utc>>,
    /// Required, after `starts_at` and in the future.
    #[serde(alias = "endsAt")]
    pub ends_at: DateTime<Utc>,
    /// Who creates it.
    #[serde(default, alias = "createdBy")]
    pub created_by: String,
    /// Why.
    #[serde(default)]
    pub comment: String,
    /// The silence to update; empty or absent creates a new one.
    #[serde(default)]
    pub id: Option<String>,
}

/// Why a silence request was refused.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum SilenceError {
    /// The request names a silence that does not exist.
    #[error("silence not found")]
    NotFound,
    /// The request itself is invalid (Alertmanager's wording).
    #[error("{0}")]
    Invalid(String),
}

impl NewSilence {
    /// The id to update, if any (an empty id creates).
    pub fn target_id(&self) -> Option<&str> {
        self.id.as_deref().filter(|id| !id.is_empty())
    }

    /// Checks the request as Alertmanager does and returns it as a silence
    /// with `id`, its start not yet moved to `now`.
    pub fn validated(&self, id: String, now: DateTime<Utc>) -> Result<Silence, SilenceError> {
        let invalid = |m: &str| Err(SilenceError::Invalid(m.to_string()));
        if self.matchers.is_empty() {
            return invalid("at least one matcher required");
        }
        if self.matchers.iter().all(|m| m.matches(&LabelSet::new())) {
            return invalid("at least one matcher must not match the empty string");
        }
        let starts_at = self.starts_at.unwrap_or(now);
        if self.ends_at <= starts_at {
            return invalid("Failed to create silence: start time must be before end time");
        }
        if self.ends_at < now {
            return invalid("Failed to create silence: end time can't be in the past");
        }
        Ok(Silence {
            id,
            matchers: self.matchers.clone(),
            starts_at,
            ends_at: self.ends_at,
            created_by: self.created_by.clone(),
            comment: self.comment.clone(),
            updated_at: now,
        })
    }
}

/// Whether `old` may take `new`'s window and texts in place (Alertmanager's
/// `canUpdate`): same matchers; an active silence keeps its start and does
/// not end in the past; a pending one does not start in the past; an
/// expired one never changes.
pub fn can_update(old: &Silence, new: &Silence, now: DateTime<Utc>) -> bool {
    if old.matchers != new.matchers {
        return false;
    }
    match old.state(now) {
        SilenceState::Active => new.starts_at == old.starts_at && new.ends_at >= now,
        SilenceState::Pending => new.starts_at >= now,
        SilenceState::Expired => false,
    }
}

/// Creates the silence `request` describes, or updates the one it names
/// (in place when [`can_update`] allows, else by expiring it and creating
/// a new one); returns the id in force. A new silence starting in the past
/// starts `now`.
pub(crate) fn upsert(
    silences: &mut Vec<Silence>,
    request: &NewSilence,
    now: DateTime<Utc>,
) -> Result<String, SilenceError> {
    let mut silence = request.validated(String::new(), now)?;
    if let Some(id) = request.target_id() {
        let old = silences
            .iter_mut()
            .find(|s| s.id == id)
            .ok_or(SilenceError::NotFound)?;
        if can_update(old, &silence, now) {
            silence.id = old.id.clone();
            *old = silence;
            return Ok(id.to_string());
        }
        old.expire(now);
    }
    silence.id = new_id();
    silence.starts_at = silence.starts_at.max(now);
    let id = silence.id.clone();
    silences.push(silence);
    Ok(id)
}

/// A fresh silence id: a random (version 4) UUID.
pub fn new_id() -> String {
    let mut b = [0u8; 16];
    if getrandom::fill(&mut b).is_err() {
        // No system randomness: the clock and a counter; ids only need to
        // be unique within this notifier.
        static COUNTER: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
        let n = COUNTER.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let t = Utc::now().timestamp_nanos_opt().unwrap_or_default() as u64;
        b[..8].copy_from_slice(&t.to_be_bytes());
        b[8..].copy_from_slice(&n.to_be_bytes());
    }
    b[6] = (b[6] & 0x0f) | 0x40;
    b[8] = (b[8] & 0x3f) | 0x80;
    let hex: String = b.iter().map(|x| format!("{x:02x}")).collect();
    format!(
        "{}-{}-{}-{}-{}",
        &hex[0..8],
        &hex[8..12],
        &hex[12..16],
        &hex[16..20],
        &hex[20..32]
    )
}

/// Ids of the silences muting these labels at `now`.
pub(crate) fn silenced_by(
    silences: &[Silence],
    labels: &LabelSet,
    now: DateTime<Utc>,
) -> Vec<String> {
    silences
        .iter()
        .filter(|s| s.mutes(labels, now))
        .map(|s| s.id.clone())
        .collect()
}

/// Whether any silence mutes these labels at `now`.
pub(crate) fn silenced(silences: &[Silence], labels: &LabelSet, now: DateTime<Utc>) -> bool {
    silences.iter().any(|s| s.mutes(labels, now))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(s: &str) -> DateTime<Utc> {
        s.parse().unwrap()
    }

    fn request(matcher: &str, starts: &str, ends: &str) -> NewSilence {
        NewSilence {
            matchers: vec![Matcher::parse(matcher).unwrap()],
            starts_at: Some(at(starts)),
            ends_at: at(ends),
            created_by: "ops".into(),
            comment: "c".into(),
            id: None,
        }
    }

    #[test]
    fn ids_are_version_4_uuids() {
        let (a, b) = (new_id(), new_id());
        assert_ne!(a, b);
        assert_eq!(a.len(), 36);
        assert_eq!(&a[14..15], "4", "{a}");
        assert!("89ab".contains(&a[19..20]), "{a}");
    }

    #[test]
    fn validation_uses_alertmanagers_reasons() {
        let now = at("2030-01-01T00:00:00Z");
        let bad = |r: NewSilence| match r.validated("x".into(), now) {
            Err(SilenceError::Invalid(m)) => m,
            other => panic!("{other:?}"),
        };
        let r = request("a=b", "2030-01-01T01:00:00Z", "2030-01-01T00:30:00Z");
        assert!(bad(r).contains("start time must be before end time"));
        let r = request("a=b", "2029-12-31T00:00:00Z", "2029-12-31T01:00:00Z");
        assert!(bad(r).contains("end time can't be in the past"));
        let r = request("a=~\".*\"", "2030-01-01T00:00:00Z", "2030-01-01T01:00:00Z");
        assert!(bad(r).contains("empty string"));
    }

    #[test]
    fn only_the_window_of_a_same_matcher_silence_updates_in_place() {
        let now = at("2030-01-01T00:30:00Z");
        let old = request("a=b", "2030-01-01T00:00:00Z", "2030-01-01T01:00:00Z")
            .validated("id".into(), now)
            .unwrap();
        let longer = request("a=b", "2030-01-01T00:00:00Z", "2030-01-01T05:00:00Z")
            .validated("id".into(), now)
            .unwrap();
        assert!(can_update(&old, &longer, now));
        let moved = request("a=b", "2030-01-01T00:10:00Z", "2030-01-01T05:00:00Z")
            .validated("id".into(), now)
            .unwrap();
        assert!(
            !can_update(&old, &moved, now),
            "an active silence keeps its start"
        );
        let other = request("a=c", "2030-01-01T00:00:00Z", "2030-01-01T05:00:00Z")
            .validated("id".into(), now)
            .unwrap();
        assert!(!can_update(&old, &other, now));
        let mut list = vec![old.clone()];
        let mut update = request("a=b", "2030-01-01T00:00:00Z", "2030-01-01T05:00:00Z");
        update.id = Some("id".into());
        assert_eq!(upsert(&mut list, &update, now).unwrap(), "id");
        assert_eq!((list.len(), list[0].ends_at), (1, longer.ends_at));
        update.matchers = vec![Matcher::parse("a=c").unwrap()];
        let replaced = upsert(&mut list, &update, now).unwrap();
        assert_ne!(replaced, "id");
        assert_eq!(
            list[0].state(now),
            SilenceState::Expired,
            "the old one ends"
        );
        assert_eq!(list[1].id, replaced);
        update.id = Some("unknown".into());
        assert_eq!(upsert(&mut list, &update, now), Err(SilenceError::NotFound));
        let mut expired = old.clone();
        expired.expire(now);
        assert_eq!(expired.state(now), SilenceState::Expired);
        assert!(!can_update(&expired, &longer, now));
    }
}
