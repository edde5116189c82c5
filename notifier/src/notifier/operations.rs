//! Operator-facing views (alerts, queue, dead letters, sent log) and
//! silence management.

use super::{lock, Notifier, SilenceNotFound};
use crate::alert::Alert;
use crate::notification::{DeadLetter, Queued, SentRecord};
use crate::silence::{upsert, NewSilence, Silence, SilenceError, SilenceState};

/// Operator-facing views and silence management.
impl Notifier {
    /// Creates a silence, or updates the one the request names (see
    /// [`crate::silence`] for when an update replaces it under a new id);
    /// returns the id in force.
    pub fn upsert_silence(&self, request: NewSilence) -> Result<String, SilenceError> {
        let now = self.now();
        let id = upsert(&mut lock(&self.inner.state).silences, &request, now)?;
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

    /// One silence with its state now.
    pub fn silence(&self, id: &str) -> Option<(Silence, SilenceState)> {
        let now = self.now();
        lock(&self.inner.state)
            .silences
            .iter()
            .find(|s| s.id == id)
            .map(|s| (s.clone(), s.state(now)))
    }

    /// Expires a silence (it stays listed as expired); expiring an expired
    /// silence changes nothing.
    pub fn expire_silence(&self, id: &str) -> Result<(), SilenceNotFound> {
        let now = self.now();
        {
            let mut state = lock(&self.inner.state);
            state
                .silences
                .iter_mut()
                .find(|s| s.id == id)
                .ok_or_else(|| SilenceNotFound(id.to_string()))?
                .expire(now);
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
