//! When things are due: targets' scrapes and groups' evaluations, on the
//! real-time grid (every target and group at `anchor + k × interval`, so
//! an evaluation falls in the round of the scrapes that feed it) or, with
//! the manual clock, as soon as asked.

use super::Engine;
use crate::config::Target;

impl Engine {
    /// Whether group `i` is due at `now`; if so, its next evaluation is
    /// scheduled.
    pub(super) fn take_due_group(&mut self, i: usize, now: i64) -> bool {
        let g = &mut self.groups[i];
        if g.next_eval > now {
            return false;
        }
        let interval = g.group.interval_ms.max(1);
        g.next_eval = next_slot(g.next_eval, now, interval);
        true
    }

    /// Targets due for a scrape at `now`; their next scrape is scheduled.
    pub fn due_targets(&mut self, now: i64) -> Vec<Target> {
        let mut due = Vec::new();
        for t in self.targets.iter_mut() {
            if t.next_scrape <= now {
                let interval = t.target.interval_ms.max(1);
                t.next_scrape = next_slot(t.next_scrape, now, interval);
                due.push(t.target.clone());
            }
        }
        due
    }

    /// When something with `interval` configured at `now` first runs: on
    /// the real-time grid, the first slot at or after `now` that is later
    /// than `done` (its last run, so a reload never repeats a slot);
    /// without a grid, `now`.
    pub(super) fn first_slot(&self, now: i64, interval: i64, done: Option<i64>) -> i64 {
        let Some(anchor) = self.schedule_anchor else {
            return now;
        };
        let interval = interval.max(1);
        let from = match done {
            Some(d) if d >= now => d + 1,
            _ => now,
        };
        if from <= anchor {
            return anchor;
        }
        anchor + (from - anchor + interval - 1) / interval * interval
    }

    /// Puts every target and group on the real-time grid anchored at
    /// `anchor` (ms): all of them are due at `anchor`, then every interval.
    ///
    /// Targets are not spread over the interval (Prometheus hashes each
    /// target to its own offset, and each group to another): a scrape
    /// round takes every target of an interval at once, and a group due in
    /// the same round is evaluated after those scrapes, so a change is
    /// seen within one scrape interval instead of up to a scrape plus an
    /// evaluation interval.
    pub fn align_schedule(&mut self, anchor: i64) {
        self.schedule_anchor = Some(anchor);
        for t in self.targets.iter_mut() {
            t.next_scrape = anchor;
        }
        for g in self.groups.iter_mut() {
            g.next_eval = anchor;
        }
    }

    /// Delays every group's next evaluation to `until` (ms) or later,
    /// keeping it on the grid.
    pub fn hold_evaluations_until(&mut self, until: i64) {
        for i in 0..self.groups.len() {
            let slot = self.first_slot(until, self.groups[i].group.interval_ms, None);
            self.groups[i].next_eval = self.groups[i].next_eval.max(slot);
        }
    }

    /// The shortest interval of the groups due at `now` (`None`: no group
    /// is due).
    pub fn due_group_interval(&self, now: i64) -> Option<i64> {
        self.groups
            .iter()
            .filter(|g| g.next_eval <= now)
            .map(|g| g.group.interval_ms)
            .min()
    }

    /// Next time something is due (scrape or evaluation).
    pub fn next_due(&self) -> Option<i64> {
        let t = self.targets.iter().map(|t| t.next_scrape);
        let g = self.groups.iter().map(|g| g.next_eval);
        t.chain(g).min()
    }
}

/// The first `scheduled + k × interval` after `now` (missed slots are
/// skipped, not replayed).
fn next_slot(scheduled: i64, now: i64, interval: i64) -> i64 {
    if scheduled > now {
        return scheduled;
    }
    scheduled + ((now - scheduled) / interval + 1) * interval
}
