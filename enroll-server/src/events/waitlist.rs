//! Waitlist moves pushed to the students they concern: a freed seat
//! enrolled them, offered them a seat until a deadline, or took them off
//! the list with a reason. Published on the feed after the transaction
//! that made the move commits (any instance may hold the student's
//! stream); at most once, like decisions — the page reads its waitlist
//! again on `resync`.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::{Event, TicketEvents};

/// One move, as published and (without the student) as sent.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Move {
    #[serde(skip_serializing_if = "is_zero", default)]
    pub student: i64,
    pub course_id: i64,
    /// `enrolled`, `offered` or `skipped`.
    pub status: String,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub reason: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub offer_expires_at: Option<DateTime<Utc>>,
}

fn is_zero(n: &i64) -> bool {
    *n == 0
}

impl TicketEvents {
    /// Hands each published move to its student's streams here; returns
    /// how many events were sent.
    pub fn deliver_waitlist(&self, payload: &[u8]) -> usize {
        let Ok(moves) = serde_json::from_slice::<Vec<Move>>(payload) else {
            tracing::warn!("unreadable message on the waitlist channel");
            return 0;
        };
        let mut hub = self.hub();
        let mut sent = 0;
        for m in moves {
            let student = m.student;
            let Some(mine) = hub.streams.get_mut(&student) else {
                continue;
            };
            let shown = Move { student: 0, ..m };
            let json = serde_json::to_string(&shown).expect("a move serializes");
            sent += self.send_all(mine, &Event::Waitlist(json.into()));
            if mine.is_empty() {
                hub.streams.remove(&student);
            }
        }
        self.sent.inc_by(sent as u64);
        sent
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_student_is_published_but_never_sent() {
        let m = Move {
            student: 7,
            course_id: 3,
            status: "offered".into(),
            reason: None,
            offer_expires_at: None,
        };
        let published = serde_json::to_string(std::slice::from_ref(&m)).unwrap();
        assert!(published.contains("\"student\":7"), "{published}");
        let back: Vec<Move> = serde_json::from_str(&published).unwrap();
        assert_eq!(back, vec![m.clone()]);
        let shown = serde_json::to_string(&Move { student: 0, ..m }).unwrap();
        assert_eq!(shown, r#"{"course_id":3,"status":"offered"}"#);
    }
}
