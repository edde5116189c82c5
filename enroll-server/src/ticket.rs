//! The ticket vocabulary: ids, states, reasons, decisions, and the one way
//! they are written down in Redis.
//!
//! A ticket's outcome travels in two Redis records, and both spell it the
//! same way, `status|reason` (reason empty when there is none):
//!
//! - the stored ticket, field `<seq>` of `tk:{c<id>}`:
//!   `student|status|reason`, plus `|decided_ms` once decided
//!   ([`StoredTicket`]);
//! - a published batch of decisions: the course id on the first line, then
//!   one `student seq status|reason` line per decision ([`encode_batch`],
//!   [`decode_batch`]).
//!
//! The enqueue script reads the status of a student's previous ticket, so
//! the words of [`TicketStatus`] are also spelled in `redis/scripts/*.lua`.

use std::fmt::Write as _;

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// A ticket id: `<course>-<sequence>`; the sequence is the queue position's
/// score, so the id alone says which course and place it is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct TicketId {
    pub course_id: i64,
    pub seq: i64,
}

impl TicketId {
    pub fn parse(s: &str) -> Option<Self> {
        let (c, q) = s.split_once('-')?;
        Some(Self {
            course_id: c.parse().ok()?,
            seq: q.parse().ok()?,
        })
    }
}

impl std::fmt::Display for TicketId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}-{}", self.course_id, self.seq)
    }
}

/// Where a ticket stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum TicketStatus {
    /// Waiting in the course's queue.
    Queued,
    /// Decided: the student holds a seat.
    Enrolled,
    /// Decided: no seat, for a [`Reason`].
    Rejected,
    /// The seat it won was given back.
    Cancelled,
}

impl TicketStatus {
    pub const ALL: [Self; 4] = [
        Self::Queued,
        Self::Enrolled,
        Self::Rejected,
        Self::Cancelled,
    ];

    /// The word on the wire and in Redis.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Queued => "queued",
            Self::Enrolled => "enrolled",
            Self::Rejected => "rejected",
            Self::Cancelled => "cancelled",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|v| v.as_str() == s)
    }
}

/// Why a ticket was rejected.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Reason {
    /// No seat was left when the ticket reached the head of the line.
    CourseFull,
    /// The student already holds a seat in this course.
    AlreadyEnrolled,
    /// The seat would take the student past the term's credit limit.
    CreditLimit,
    /// The course meets at a time the student already has a class.
    ScheduleConflict,
    /// The student's account no longer exists.
    UnknownStudent,
    /// The course was deleted while the ticket waited.
    CourseNotFound,
}

impl Reason {
    pub const ALL: [Self; 6] = [
        Self::CourseFull,
        Self::AlreadyEnrolled,
        Self::CreditLimit,
        Self::ScheduleConflict,
        Self::UnknownStudent,
        Self::CourseNotFound,
    ];

    /// The word on the wire and in Redis.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::CourseFull => "course_full",
            Self::AlreadyEnrolled => "already_enrolled",
            Self::CreditLimit => "credit_limit",
            Self::ScheduleConflict => "schedule_conflict",
            Self::UnknownStudent => "unknown_student",
            Self::CourseNotFound => "course_not_found",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|v| v.as_str() == s)
    }
}

/// `status|reason`: the one spelling of an outcome in Redis.
pub fn encode_outcome(status: TicketStatus, reason: Option<Reason>, out: &mut String) {
    out.push_str(status.as_str());
    out.push('|');
    if let Some(r) = reason {
        out.push_str(r.as_str());
    }
}

/// Reads [`encode_outcome`]'s form; `None` for words this version does not
/// know.
pub fn decode_outcome(s: &str) -> Option<(TicketStatus, Option<Reason>)> {
    let (status, reason) = s.split_once('|')?;
    let reason = match reason {
        "" => None,
        r => Some(Reason::parse(r)?),
    };
    Some((TicketStatus::parse(status)?, reason))
}

/// One decided ticket, written back to Redis after the database committed
/// it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Decision {
    pub student: i64,
    pub seq: i64,
    /// [`TicketStatus::Enrolled`] or [`TicketStatus::Rejected`].
    pub status: TicketStatus,
    pub reason: Option<Reason>,
}

impl Decision {
    pub fn enrolled(student: i64, seq: i64) -> Self {
        Self {
            student,
            seq,
            status: TicketStatus::Enrolled,
            reason: None,
        }
    }

    pub fn rejected(student: i64, seq: i64, reason: Reason) -> Self {
        Self {
            student,
            seq,
            status: TicketStatus::Rejected,
            reason: Some(reason),
        }
    }

    /// Its outcome as the finishing script stores it.
    pub fn outcome(&self) -> String {
        let mut out = String::with_capacity(24);
        encode_outcome(self.status, self.reason, &mut out);
        out
    }
}

/// A ticket as stored in `tk:{c<id>}`: `student|status|reason`, plus
/// `|decided_ms` once decided.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StoredTicket {
    pub student: i64,
    pub status: TicketStatus,
    pub reason: Option<Reason>,
}

impl StoredTicket {
    /// The record written when a ticket is issued or cancelled (no decision
    /// time).
    pub fn encode(&self) -> String {
        let mut out = String::with_capacity(32);
        let _ = write!(out, "{}|", self.student);
        encode_outcome(self.status, self.reason, &mut out);
        out
    }

    /// Reads a stored record; `None` when it is not one.
    pub fn decode(record: &str) -> Option<Self> {
        let (student, rest) = record.split_once('|')?;
        // The outcome is the next two fields; a decision time may follow.
        let end = rest
            .match_indices('|')
            .nth(1)
            .map_or(rest.len(), |(i, _)| i);
        let (status, reason) = decode_outcome(&rest[..end])?;
        Some(Self {
            student: student.parse().ok()?,
            status,
            reason,
        })
    }
}

/// A batch of decisions as published for the students' event streams: the
/// course id on the first line, then one `student seq status|reason` line
/// per decision.
pub fn encode_batch(course: i64, decisions: &[Decision]) -> String {
    let mut out = String::with_capacity(16 + decisions.len() * 32);
    let _ = writeln!(out, "{course}");
    for d in decisions {
        let _ = write!(out, "{} {} ", d.student, d.seq);
        encode_outcome(d.status, d.reason, &mut out);
        out.push('\n');
    }
    out
}

/// One decision read back from a published batch.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Decided {
    pub student: i64,
    pub ticket: TicketId,
    pub status: TicketStatus,
    pub reason: Option<Reason>,
}

/// The decisions of an [`encode_batch`]ed batch; `None` when it is not one
/// (lines that do not parse are skipped, the rest still count).
pub fn decode_batch(payload: &str) -> Option<impl Iterator<Item = Decided> + '_> {
    let mut lines = payload.lines();
    let course_id: i64 = lines.next()?.parse().ok()?;
    Some(lines.filter_map(move |line| {
        let (student, rest) = line.split_once(' ')?;
        let (seq, outcome) = rest.split_once(' ')?;
        let (status, reason) = decode_outcome(outcome)?;
        Some(Decided {
            student: student.parse().ok()?,
            ticket: TicketId {
                course_id,
                seq: seq.parse().ok()?,
            },
            status,
            reason,
        })
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ticket_ids_round_trip() {
        let t = TicketId {
            course_id: 42,
            seq: 1017,
        };
        assert_eq!(t.to_string(), "42-1017");
        assert_eq!(TicketId::parse("42-1017"), Some(t));
        assert_eq!(TicketId::parse("42"), None);
        assert_eq!(TicketId::parse("a-b"), None);
    }

    #[test]
    fn words_match_their_serde_names() {
        for s in TicketStatus::ALL {
            assert_eq!(serde_json::to_value(s).unwrap(), s.as_str());
            assert_eq!(TicketStatus::parse(s.as_str()), Some(s));
        }
        for r in Reason::ALL {
            assert_eq!(serde_json::to_value(r).unwrap(), r.as_str());
            assert_eq!(Reason::parse(r.as_str()), Some(r));
        }
        assert_eq!(TicketStatus::parse("lost"), None);
        assert_eq!(Reason::parse(""), None);
    }

    #[test]
    fn stored_tickets_round_trip_with_or_without_a_decision_time() {
        let issued = StoredTicket {
            student: 7,
            status: TicketStatus::Queued,
            reason: None,
        };
        assert_eq!(issued.encode(), "7|queued|");
        assert_eq!(StoredTicket::decode("7|queued|"), Some(issued));
        let rejected = StoredTicket::decode("8|rejected|course_full|1733550000123").unwrap();
        assert_eq!(
            (rejected.student, rejected.status, rejected.reason),
            (8, TicketStatus::Rejected, Some(Reason::CourseFull))
        );
        let d = Decision::enrolled(9, 3);
        let stored = format!("9|{}|1733550000123", d.outcome());
        assert_eq!(
            StoredTicket::decode(&stored).map(|t| (t.status, t.reason)),
            Some((TicketStatus::Enrolled, None))
        );
        for bad in ["", "7", "x|queued|", "7|lost|", "7|rejected|why_not"] {
            assert_eq!(StoredTicket::decode(bad), None, "{bad}");
        }
    }

    #[test]
    fn a_batch_round_trips() {
        let batch = [
            Decision::enrolled(7, 100),
            Decision::rejected(8, 101, Reason::CourseFull),
        ];
        let text = encode_batch(42, &batch);
        assert_eq!(text, "42\n7 100 enrolled|\n8 101 rejected|course_full\n");
        let back: Vec<_> = decode_batch(&text).unwrap().collect();
        assert_eq!(
            back,
            vec![
                Decided {
                    student: 7,
                    ticket: TicketId {
                        course_id: 42,
                        seq: 100
                    },
                    status: TicketStatus::Enrolled,
                    reason: None,
                },
                Decided {
                    student: 8,
                    ticket: TicketId {
                        course_id: 42,
                        seq: 101
                    },
                    status: TicketStatus::Rejected,
                    reason: Some(Reason::CourseFull),
                },
            ]
        );
        assert!(decode_batch("not a course\n1 2 enrolled|").is_none());
        assert_eq!(
            decode_batch("42\ngarbage\n1 2 enrolled|").unwrap().count(),
            1
        );
    }
}
