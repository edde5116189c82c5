//! The admission rules, as a pure function of what the transaction read.

use std::collections::HashMap;

use crate::domain::course::CourseSeats;
use crate::domain::enrollment::HeldSeat;
use crate::domain::schedule::clashes;
use crate::ticket::{Decision, Reason, TicketId};

/// The decisions for one batch and the rows to insert.
#[derive(Debug, Default)]
pub struct Outcome {
    pub decisions: Vec<Decision>,
    /// `(student, ticket)` pairs to insert as enrollments.
    pub inserts: Vec<(i64, String)>,
    /// Seats left after this batch.
    pub remaining: i32,
}

/// Decides `heads` (in queue order) against the seats left and each
/// student's other enrollments. `known` says whether a student exists.
pub fn decide(
    course: &CourseSeats,
    heads: &[(i64, i64)],
    held: &HashMap<i64, Vec<HeldSeat>>,
    known: &dyn Fn(i64) -> bool,
    credit_limit: i32,
) -> Outcome {
    let mut remaining = course.capacity - course.enrolled;
    let mut out = Outcome::default();
    let none = Vec::new();
    for &(student, seq) in heads {
        let ticket = TicketId {
            course_id: course.id,
            seq,
        }
        .to_string();
        let held = held.get(&student).unwrap_or(&none);
        let reject = |reason| Decision::rejected(student, seq, reason);
        let decision = if let Some(h) = held.iter().find(|h| h.course_id == course.id) {
            if h.ticket.as_deref() == Some(ticket.as_str()) {
                // This very ticket committed before (a retried batch).
                Decision::enrolled(student, seq)
            } else {
                reject(Reason::AlreadyEnrolled)
            }
        } else if !known(student) {
            reject(Reason::UnknownStudent)
        } else if remaining <= 0 {
            reject(Reason::CourseFull)
        } else if held.iter().map(|h| h.credits as i32).sum::<i32>() + course.credits as i32
            > credit_limit
        {
            reject(Reason::CreditLimit)
        } else if held.iter().any(|h| clashes(&h.schedule, &course.schedule)) {
            reject(Reason::ScheduleConflict)
        } else {
            remaining -= 1;
            out.inserts.push((student, ticket));
            Decision::enrolled(student, seq)
        };
        out.decisions.push(decision);
    }
    out.remaining = remaining;
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::schedule::{Day, Meeting, TimeOfDay};
    use crate::ticket::TicketStatus;

    fn mon(start: &str, end: &str) -> Vec<Meeting> {
        vec![Meeting {
            day: Day::MON,
            start: TimeOfDay::parse(start).unwrap(),
            end: TimeOfDay::parse(end).unwrap(),
        }]
    }

    fn course(capacity: i32, enrolled: i32) -> CourseSeats {
        CourseSeats {
            id: 9,
            capacity,
            enrolled,
            credits: 3,
            schedule: mon("09:00", "10:15"),
        }
    }

    fn reasons(o: &Outcome) -> Vec<Option<&str>> {
        o.decisions
            .iter()
            .map(|d| d.reason.map(Reason::as_str))
            .collect()
    }

    #[test]
    fn earliest_tickets_win_the_last_seats() {
        let heads: Vec<(i64, i64)> = (1..=5).map(|s| (s, s * 10)).collect();
        let o = decide(&course(10, 8), &heads, &HashMap::new(), &|_| true, 18);
        assert_eq!(
            o.inserts.iter().map(|i| i.0).collect::<Vec<_>>(),
            vec![1, 2]
        );
        assert_eq!(
            reasons(&o),
            vec![
                None,
                None,
                Some("course_full"),
                Some("course_full"),
                Some("course_full")
            ]
        );
        assert_eq!(o.remaining, 0);
    }

    #[test]
    fn credit_limit_and_timetable_reject() {
        let mut held = HashMap::new();
        held.insert(
            1,
            vec![HeldSeat {
                course_id: 1,
                ticket: None,
                credits: 16,
                schedule: vec![],
            }],
        );
        held.insert(
            2,
            vec![HeldSeat {
                course_id: 2,
                ticket: None,
                credits: 3,
                schedule: mon("10:00", "11:00"),
            }],
        );
        let o = decide(
            &course(10, 0),
            &[(1, 1), (2, 2), (3, 3)],
            &held,
            &|_| true,
            18,
        );
        assert_eq!(
            reasons(&o),
            vec![Some("credit_limit"), Some("schedule_conflict"), None]
        );
        assert_eq!(o.remaining, 9);
    }

    #[test]
    fn retried_batch_recognises_its_own_commit() {
        let mut held = HashMap::new();
        held.insert(
            1,
            vec![HeldSeat {
                course_id: 9,
                ticket: Some("9-7".into()),
                credits: 3,
                schedule: vec![],
            }],
        );
        held.insert(
            2,
            vec![HeldSeat {
                course_id: 9,
                ticket: Some("9-1".into()),
                credits: 3,
                schedule: vec![],
            }],
        );
        let o = decide(&course(10, 2), &[(1, 7), (2, 8)], &held, &|_| true, 18);
        assert_eq!(o.decisions[0].status, TicketStatus::Enrolled);
        assert_eq!(reasons(&o), vec![None, Some("already_enrolled")]);
        assert!(o.inserts.is_empty(), "nothing inserted twice");
    }
}
