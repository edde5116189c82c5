//! Where alerts go: a pluggable [`AlertSink`]. Every evaluation hands the
//! alerts that need sending (firing ones every `resend_delay`, resolved ones
//! once they resolve and then every `resend_delay` for 15 minutes) to the
//! sink, in the shape of Alertmanager's `POST /api/v2/alerts` body, so a
//! downstream notifier can stay stateless about re-sending.

use std::sync::Arc;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::storage::Labels;

/// One alert as Alertmanager's v2 API receives it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PostableAlert {
    /// Identifying labels (`alertname` included, external labels added).
    pub labels: Labels,
    /// Templated annotations.
    pub annotations: Labels,
    /// When the alert started firing.
    #[serde(rename = "startsAt")]
    pub starts_at: DateTime<Utc>,
    /// When it resolved, or for a firing alert how long this notice stays
    /// valid: now + 4 × max(evaluation interval, resend delay).
    #[serde(rename = "endsAt")]
    pub ends_at: DateTime<Utc>,
    /// Link back to the expression.
    #[serde(rename = "generatorURL")]
    pub generator_url: String,
}

impl PostableAlert {
    /// Whether the alert is resolved as of `now`.
    pub fn is_resolved_at(&self, now: DateTime<Utc>) -> bool {
        self.ends_at <= now
    }
}

/// Receives alerts after each rule-group evaluation. Called with the
/// engine locked: implementations must return quickly (hand off to a task).
pub trait AlertSink: Send + Sync + 'static {
    /// Delivers one batch (never empty).
    fn send(&self, alerts: Vec<PostableAlert>);
}

/// The default sink: logs each alert.
#[derive(Debug, Default, Clone)]
pub struct LogSink;

impl AlertSink for LogSink {
    fn send(&self, alerts: Vec<PostableAlert>) {
        let now = Utc::now();
        for a in alerts {
            let state = if a.is_resolved_at(now) {
                "resolved"
            } else {
                "firing"
            };
            tracing::info!(
                alertname = a.labels.get("alertname").map(String::as_str).unwrap_or(""),
                state,
                labels = ?a.labels,
                "alert"
            );
        }
    }
}

impl AlertSink for tokio::sync::mpsc::UnboundedSender<Vec<PostableAlert>> {
    fn send(&self, alerts: Vec<PostableAlert>) {
        if tokio::sync::mpsc::UnboundedSender::send(self, alerts).is_err() {
            tracing::warn!("alert receiver is gone; alerts dropped");
        }
    }
}

impl AlertSink for tokio::sync::mpsc::Sender<Vec<PostableAlert>> {
    fn send(&self, alerts: Vec<PostableAlert>) {
        if let Err(e) = self.try_send(alerts) {
            tracing::warn!(error = %e, "alert channel full or closed; batch dropped (it is re-sent after resend_delay)");
        }
    }
}

impl<T: AlertSink + ?Sized> AlertSink for Arc<T> {
    fn send(&self, alerts: Vec<PostableAlert>) {
        (**self).send(alerts)
    }
}
