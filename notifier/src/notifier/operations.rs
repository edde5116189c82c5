//! Operator-facing views (alerts, queue, dead letters, sent log) and
//! silence management.

use super::{lock, Notifier, SilenceNotFound};
use crate::alert::Alert;
use crate::notification::{DeadLetter, Queued, SentRecord};
use crate::silence::{NewSilence, Silence, SilenceState};

/// Operator-facing views and silence management.
impl Notifier {
    /// Creates a silence; returns its id.
    pub fn create_silence(&self, request: NewSilence) -> Result<String, String> {
        let now = self.now();
        let id = {
            let mut state = lock(&self.inner.state);
            let n = state.take_id();
            let id = format!(
                "{:016x}-{n}",
                crate::alert::fingerprint(&[("t".to_string(), now.to_rfc3339())].into())
            );
            let silence = request.into_silence(id.clone(), now)?;
            state.silences.push(silence);
            id
        };
        self.persist();
        Ok(id)
    }

    /// Every silence with its state now.
    pub fn silences(&self) -> Vec<(Silence, SilenceState)> {
        let now = self.now();
        lock(&self.inner.state)
            .silences
            .iter()
            .map(|s| (s.clone(), s.state(now)))
            .collect()
    }

    /// Expires a silence (it stays listed as expired).
    pub fn expire_silence(&self, id: &str) -> Result<(), SilenceNotFound> {
        let now = self.now();
        {
            let mut state = lock(&self.inner.state);
            let s = state
                .silences
                .iter_mut()
                .find(|s| s.id == id)
                .ok_or_else(|| SilenceNotFound(id.to_string()))?;
            if s.ends_at > now {
                s.ends_at = now;
                s.starts_at = s.starts_at.min(now);
                s.updated_at = now;
            }
        }
        self.persist();
        Ok(())
    }

    /// Alerts currently held (firing and recently resolved).
    pub fn alerts(&self) -> Vec<Alert> {
        lock(&self.inner.state)
            .alerts
            .values()
            .map(|a| a.alert.clone())
            .collect()
    }

    /// Notifications waiting for delivery, oldest first.
    pub fn queued(&self) -> Vec<Queued> {
        lock(&self.inner.state).queue.iter().cloned().collect()
    }

    /// Notifications that could not be delivered, oldest first.
    pub fn dead_letters(&self) -> Vec<DeadLetter> {
        lock(&self.inner.state)
            .dead_letters
            .iter()
            .cloned()
            .collect()
    }

    /// Puts a dead letter back in the queue (after fixing its cause).
    pub fn retry_dead_letter(&self, id: u64) -> bool {
        let now = self.now();
        let found = {
            let mut state = lock(&self.inner.state);
            match state
                .dead_letters
                .iter()
                .position(|d| d.notification.id == id)
            {
                Some(pos) => {
                    let mut q = state
                        .dead_letters
                        .remove(pos)
                        .expect("position found")
                        .notification;
                    q.attempts = 0;
                    q.not_before = now;
                    state.queue.push_back(q);
                    true
                }
                None => false,
            }
        };
        if found {
            self.persist();
            self.update_gauges();
            self.inner.wake.notify_one();
        }
        found
    }

    /// The notification log: what was delivered to whom and when.
    pub fn sent_log(&self) -> Vec<SentRecord> {
        lock(&self.inner.state).sent.iter().cloned().collect()
    }
}
