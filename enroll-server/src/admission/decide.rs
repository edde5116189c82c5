//! The admission rules, as a pure function of what the transaction read.

use std::collections::HashMap;

use crate::domain::block::seat_for;
use crate::domain::course::CourseSeats;
use crate::domain::enrollment::HeldSeat;
use crate::domain::phase::Cohort;
use crate::domain::schedule::clashes;
use crate::ticket::{Decision, Reason, TicketId};

/// A seat granted: who, by which ticket, from which block (`None`: the
/// open pool).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Seat {
    pub student: i64,
    pub ticket: String,
    pub block: Option<String>,
}

/// The decisions for one batch and the rows to insert.
#[derive(Debug, Default)]
pub struct Outcome {
    pub decisions: Vec<Decision>,
    /// Seats to insert as enrollments.
    pub inserts: Vec<Seat>,
    /// Seats left after this batch, reserved ones included.
    pub remaining: i32,
}

/// What the transaction read about the heads' students.
pub struct Students<'a> {
    /// Each existing student's year and department.
    pub cohorts: &'a HashMap<i64, Cohort>,
    /// Every seat they hold.
    pub held: &'a HashMap<i64, Vec<HeldSeat>>,
    /// Tickets already rejected for good (a retried batch repeats those
    /// decisions rather than make new ones).
    pub rejected: &'a HashMap<String, Reason>,
}

/// Decides `heads` (in queue order) against the seats left — a block the
/// student qualifies for first, else the open pool — and each student's
/// other enrollments.
pub fn decide(
    course: &CourseSeats,
    heads: &[(i64, i64)],
    students: &Students<'_>,
    credit_limit: i32,
) -> Outcome {
    let mut pool_left = course.pool_left;
    let mut blocks = course.blocks.clone();
    let mut out = Outcome::default();
    let none = Vec::new();
    for &(student, seq) in heads {
        let ticket = TicketId {
            course_id: course.id,
            seq,
        }
        .to_string();
        let held = students.held.get(&student).unwrap_or(&none);
        let reject = |reason| Decision::rejected(student, seq, reason);
        let seat = students
            .cohorts
            .get(&student)
            .and_then(|c| seat_for(&blocks, pool_left, c));
        let decision = if let Some(h) = held.iter().find(|h| h.course_id == course.id) {
            if h.ticket.as_deref() == Some(ticket.as_str()) {
                // This very ticket committed before (a retried batch).
                Decision::enrolled(student, seq)
            } else {
                reject(Reason::AlreadyEnrolled)
            }
        } else if let Some(&reason) = students.rejected.get(&ticket) {
            reject(reason)
        } else if !students.cohorts.contains_key(&student) {
            reject(Reason::UnknownStudent)
        } else if seat.is_none() {
            reject(Reason::CourseFull)
        } else if held.iter().map(|h| h.credits as i32).sum::<i32>() + course.credits as i32
            > credit_limit
        {
            reject(Reason::CreditLimit)
        } else if held.iter().any(|h| clashes(&h.schedule, &course.schedule)) {
            reject(Reason::ScheduleConflict)
        } else {
            let block = match seat.flatten() {
                Some(i) => {
                    blocks[i].enrolled += 1;
                    Some(blocks[i].name.clone())
                }
                None => {
                    pool_left -= 1;
                    None
                }
            };
            out.inserts.push(Seat {
                student,
                ticket,
                block,
            });
            Decision::enrolled(student, seq)
        };
        out.decisions.push(decision);
    }
    out.remaining = pool_left.max(0) + blocks.iter().map(|b| b.left()).sum::<i32>();
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::block::Block;
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
            pool_left: capacity - enrolled,
            blocks: Vec::new(),
        }
    }

    fn cohorts(ids: impl IntoIterator<Item = i64>, department: &str) -> HashMap<i64, Cohort> {
        ids.into_iter()
            .map(|id| {
                let c = Cohort {
                    year: 1,
                    department: department.into(),
                };
                (id, c)
            })
            .collect()
    }

    fn run(
        c: &CourseSeats,
        heads: &[(i64, i64)],
        cohorts: &HashMap<i64, Cohort>,
        held: &HashMap<i64, Vec<HeldSeat>>,
    ) -> Outcome {
        let rejected = HashMap::new();
        let students = Students {
            cohorts,
            held,
            rejected: &rejected,
        };
        decide(c, heads, &students, 18)
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
        let o = run(&course(10, 8), &heads, &cohorts(1..=5, ""), &HashMap::new());
        assert_eq!(
            o.inserts.iter().map(|i| i.student).collect::<Vec<_>>(),
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
    fn unknown_students_are_rejected() {
        let o = run(
            &course(10, 0),
            &[(1, 1), (2, 2)],
            &cohorts([1], ""),
            &HashMap::new(),
        );
        assert_eq!(reasons(&o), vec![None, Some("unknown_student")]);
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
        let heads = [(1, 1), (2, 2), (3, 3)];
        let o = run(&course(10, 0), &heads, &cohorts(1..=3, ""), &held);
        assert_eq!(
            reasons(&o),
            vec![Some("credit_limit"), Some("schedule_conflict"), None]
        );
        assert_eq!(o.remaining, 9);
    }

    #[test]
    fn retried_batch_recognises_its_own_commit_and_rejections() {
        let mut held = HashMap::new();
        for (student, ticket) in [(1, "9-7"), (2, "9-1")] {
            held.insert(
                student,
                vec![HeldSeat {
                    course_id: 9,
                    ticket: Some(ticket.into()),
                    credits: 3,
                    schedule: vec![],
                }],
            );
        }
        let rejected = HashMap::from([("9-9".to_string(), Reason::CourseFull)]);
        let known = cohorts(1..=3, "");
        let students = Students {
            cohorts: &known,
            held: &held,
            rejected: &rejected,
        };
        // A seat is free now, but ticket 9-9 was rejected for good before.
        let o = decide(&course(10, 2), &[(1, 7), (2, 8), (3, 9)], &students, 18);
        assert_eq!(o.decisions[0].status, TicketStatus::Enrolled);
        assert_eq!(
            reasons(&o),
            vec![None, Some("already_enrolled"), Some("course_full")]
        );
        assert!(o.inserts.is_empty(), "nothing inserted twice");
    }

    #[test]
    fn majors_fill_their_block_and_then_the_pool_others_only_the_pool() {
        let mut c = course(4, 0);
        c.pool_left = 2;
        c.blocks = vec![Block {
            name: "cs".into(),
            seats: 2,
            enrolled: 0,
            departments: Some(vec!["CS".into()]),
            years: None,
            release_at: None,
            released_at: None,
        }];
        let mut people = cohorts([1, 2, 3], "CS");
        people.extend(cohorts([4, 5, 6], "EE"));
        let heads = [(4, 1), (1, 2), (5, 3), (2, 4), (6, 5), (3, 6)];
        let o = run(&c, &heads, &people, &HashMap::new());
        let seats: Vec<(i64, Option<&str>)> = o
            .inserts
            .iter()
            .map(|s| (s.student, s.block.as_deref()))
            .collect();
        // EE students take the pool until it is gone; CS students their
        // block; the third CS student finds both gone.
        assert_eq!(
            seats,
            vec![(4, None), (1, Some("cs")), (5, None), (2, Some("cs"))]
        );
        assert_eq!(reasons(&o)[4..], [Some("course_full"), Some("course_full")]);
        assert_eq!(o.remaining, 0);
    }
}
