//! What gets queued for delivery: a group notification, or a summary of
//! several notifications merged when the queue overflowed.

use crate::alert::{Alert, Fingerprint, LabelSet};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// One alert inside a notification, with its state at flush time.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct NotifiedAlert {
    /// The alert as held when the group flushed.
    pub alert: Alert,
    /// Its fingerprint.
    pub fingerprint: Fingerprint,
    /// Resolved at flush time.
    pub resolved: bool,
}

/// A notification about one aggregation group.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Notification {
    /// Receiver name.
    pub receiver: String,
    /// Aggregation group key.
    pub group_key: String,
    /// Labels the group is keyed by.
    pub group_labels: LabelSet,
    /// Firing alerts first, then resolved ones.
    pub alerts: Vec<NotifiedAlert>,
}

impl Notification {
    /// Number of firing alerts.
    pub fn firing(&self) -> usize {
        self.alerts.iter().filter(|a| !a.resolved).count()
    }

    /// Number of resolved alerts.
    pub fn resolved(&self) -> usize {
        self.alerts.len() - self.firing()
    }

    /// `firing` if any alert fires, else `resolved`.
    pub fn status(&self) -> &'static str {
        if self.firing() > 0 {
            "firing"
        } else {
            "resolved"
        }
    }

    /// Labels with the same value on every alert.
    pub fn common_labels(&self) -> LabelSet {
        common(self.alerts.iter().map(|a| &a.alert.labels))
    }

    /// Annotations with the same value on every alert.
    pub fn common_annotations(&self) -> LabelSet {
        common(self.alerts.iter().map(|a| &a.alert.annotations))
    }

    /// One line for an overflow summary.
    pub fn summary_line(&self, queued_at: DateTime<Utc>) -> String {
        let values: Vec<&str> = self.group_labels.values().map(String::as_str).collect();
        let name = if values.is_empty() {
            self.common_labels()
                .get("alertname")
                .cloned()
                .unwrap_or_default()
        } else {
            values.join(" ")
        };
        let count = if self.firing() > 0 {
            self.firing()
        } else {
            self.resolved()
        };
        format!(
            "[{}:{}] {} (queued {})",
            self.status().to_uppercase(),
            count,
            name,
            queued_at.format("%Y-%m-%d %H:%M:%SZ")
        )
    }
}

fn common<'a>(mut sets: impl Iterator<Item = &'a LabelSet>) -> LabelSet {
    let Some(first) = sets.next() else {
        return LabelSet::new();
    };
    let mut out = first.clone();
    for set in sets {
        out.retain(|k, v| set.get(k) == Some(v));
    }
    out
}

/// Several queued notifications folded into one message because the queue
/// passed its bound while the destination was unreachable.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Summary {
    /// One line per folded notification, oldest first.
    pub lines: Vec<String>,
    /// Total alerts across the folded notifications.
    pub alerts: usize,
}

/// The payload of a queue entry.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Content {
    /// A normal group notification.
    Group(Notification),
    /// Folded overflow.
    Summary(Summary),
}

impl Content {
    /// Folds `self` (older) and `newer` into one summary.
    pub fn fold(
        self,
        self_queued: DateTime<Utc>,
        newer: Content,
        newer_queued: DateTime<Utc>,
    ) -> Content {
        let (mut lines, mut alerts) = self.into_lines(self_queued);
        let (more, more_alerts) = newer.into_lines(newer_queued);
        lines.extend(more);
        alerts += more_alerts;
        Content::Summary(Summary { lines, alerts })
    }

    fn into_lines(self, queued_at: DateTime<Utc>) -> (Vec<String>, usize) {
        match self {
            Content::Group(n) => (vec![n.summary_line(queued_at)], n.alerts.len()),
            Content::Summary(s) => (s.lines, s.alerts),
        }
    }

    /// Group key, when this is a group notification.
    pub fn group_key(&self) -> Option<&str> {
        match self {
            Content::Group(n) => Some(&n.group_key),
            Content::Summary(_) => None,
        }
    }

    /// `firing`, `resolved` or `summary`.
    pub fn status(&self) -> &'static str {
        match self {
            Content::Group(n) => n.status(),
            Content::Summary(_) => "summary",
        }
    }

    /// Alerts carried.
    pub fn alert_count(&self) -> usize {
        match self {
            Content::Group(n) => n.alerts.len(),
            Content::Summary(s) => s.alerts,
        }
    }
}

/// A notification waiting for (or between attempts at) delivery.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Queued {
    /// Queue-wide unique id.
    pub id: u64,
    /// Integration key, `receiver/slack/0`.
    pub integration: String,
    /// Receiver name.
    pub receiver: String,
    /// What to send.
    pub content: Content,
    /// When it was queued.
    pub queued_at: DateTime<Utc>,
    /// Failed attempts so far.
    pub attempts: u32,
    /// Not to be tried before this time (backoff or `Retry-After`).
    pub not_before: DateTime<Utc>,
    /// Last failure, for operators.
    pub last_error: Option<String>,
}

/// A notification that cannot succeed (bad token, unknown channel), kept
/// for the operator instead of being dropped.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct DeadLetter {
    /// The notification as it was queued.
    pub notification: Queued,
    /// Why it failed.
    pub error: String,
    /// When it was given up on.
    pub failed_at: DateTime<Utc>,
}

/// A message posted with `chat.postMessage`: where it is, so that the
/// group's resolution can update it in place (`chat.update`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SlackMessageRef {
    /// Channel id as Slack returned it (`C123…`).
    pub channel: String,
    /// The message's timestamp, Slack's message id.
    pub ts: String,
    /// When it was posted (old references are forgotten).
    pub posted_at: DateTime<Utc>,
}

/// One line of the notification log: what was sent to whom, and when.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SentRecord {
    /// Queue id.
    pub id: u64,
    /// Integration key.
    pub integration: String,
    /// Receiver name.
    pub receiver: String,
    /// Group key (none for summaries).
    pub group_key: Option<String>,
    /// `firing`, `resolved` or `summary`.
    pub status: String,
    /// Alerts in the message.
    pub alerts: usize,
    /// FNV-1a 64 of the exact payload sent, hex.
    pub content_hash: String,
    /// When it was queued.
    pub queued_at: DateTime<Utc>,
    /// When the destination accepted it.
    pub sent_at: DateTime<Utc>,
    /// Failed attempts before success.
    pub attempts: u32,
    /// Delivered by updating the group's earlier Slack message in place.
    #[serde(default)]
    pub updated_in_place: bool,
}
