//! The waitlist scenario's figures: joins, cancels, promotions and what
//! is still waiting.

use std::collections::BTreeMap;

use serde::Serialize;

/// What the waitlist scenario's students did during the rush and what the
/// server made of it (from the audit trail and the lists at the end).
#[derive(Debug, Clone, Default, Serialize)]
pub struct WaitlistFigures {
    /// Waitlist joins answered 201.
    pub joined: usize,
    /// Cancels answered 204.
    pub cancelled: usize,
    /// Other answers to joins and cancels, by `"join|cancel <status> <code>"`.
    pub refused: BTreeMap<String, usize>,
    /// Joins and cancels that got no answer.
    pub errors: usize,
    /// `waitlist_promoted` and `waitlist_skipped` audit rows.
    pub promoted: usize,
    pub skipped: usize,
    /// Places left on the courses' waitlists at the end.
    pub still_waiting: usize,
}

impl WaitlistFigures {
    /// The summary table's rows.
    pub fn rows(&self) -> Vec<(String, String)> {
        let mut rows = vec![
            (
                "waitlist joins (201)".into(),
                format!(
                    "{}  ({} promoted, {} skipped, {} still waiting)",
                    self.joined, self.promoted, self.skipped, self.still_waiting
                ),
            ),
            ("cancels (204)".into(), self.cancelled.to_string()),
        ];
        for (what, n) in &self.refused {
            rows.push((format!("answered: {what}"), n.to_string()));
        }
        if self.errors > 0 {
            rows.push(("join/cancel errors".into(), self.errors.to_string()));
        }
        rows
    }
}
