//! Silences: matchers plus a time window. Expired silences stay listed
//! (as in Alertmanager) but no longer mute anything.

use crate::alert::LabelSet;
use crate::matcher::{all_match, Matcher};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// A silence as stored and as listed by `GET /api/v1/silences`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Silence {
    /// Id returned on creation.
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
}

/// Body of `POST /api/v1/silences` (snake_case or Alertmanager's camelCase).
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewSilence {
    /// At least one matcher, as strings (`alertname="X"`) or objects.
    pub matchers: Vec<Matcher>,
    /// Defaults to now.
    #[serde(default, alias = "startsAt")]
    pub starts_at: Option<DateTime<Utc>>,
    /// Required, after `starts_at`.
    #[serde(alias = "endsAt")]
    pub ends_at: DateTime<Utc>,
    /// Who creates it.
    #[serde(default, alias = "createdBy")]
    pub created_by: String,
    /// Why.
    #[serde(default)]
    pub comment: String,
    /// Accepted for Alertmanager compatibility; a given id updates nothing.
    #[serde(default)]
    pub id: Option<String>,
}

impl NewSilence {
    /// Checks the request and turns it into a silence with `id`.
    pub fn into_silence(self, id: String, now: DateTime<Utc>) -> Result<Silence, String> {
        if self.matchers.is_empty() {
            return Err("a silence needs at least one matcher".into());
        }
        if self.matchers.iter().all(|m| m.matches(&LabelSet::new())) {
            return Err("at least one matcher must not match the empty string".into());
        }
        let starts_at = self.starts_at.unwrap_or(now).max(now);
        if self.ends_at <= starts_at {
            return Err("ends_at must be after starts_at (and in the future)".into());
        }
        Ok(Silence {
            id,
            matchers: self.matchers,
            starts_at,
            ends_at: self.ends_at,
            created_by: self.created_by,
            comment: self.comment,
            updated_at: now,
        })
    }
}

/// Whether any silence mutes these labels at `now`.
pub(crate) fn silenced(silences: &[Silence], labels: &LabelSet, now: DateTime<Utc>) -> bool {
    silences.iter().any(|s| s.mutes(labels, now))
}
