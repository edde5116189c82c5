//! One admission transaction: lock, read, decide, insert, commit — for the
//! batches of one or several courses at once.
//!
//! Locks are taken in the one order every writing transaction follows
//! ([`crate::store::locks`]): all the batches' course rows, then the
//! students who may get a seat.
//!
//! Why several courses per transaction: while requests pour in, each
//! course's queue holds only the few tickets that arrived during the last
//! batch, and PostgreSQL's fixed cost per transaction (start-up of each
//! statement, the trigger, the commit's WAL flush) dominates. Deciding the
//! batches of every course that has one in a single transaction pays it
//! once (see [`super::commit`]).

use std::collections::HashMap;

use sqlx::PgPool;

use super::decide::{decide, Outcome, Students};
use crate::domain::course::CourseSeats;
use crate::domain::enrollment::HeldSeat;
use crate::domain::phase::Cohort;
use crate::store::audit::{self, Decided, DecisionRow};
use crate::store::enrollments::{self, NewSeats, Standing};
use crate::store::locks::lock_courses_then_students;
use crate::ticket::{Reason, TicketId, TicketStatus};

/// One course's batch: its queue heads `(student, seq)` in queue order.
#[derive(Debug, Clone)]
pub struct CourseBatch {
    pub course: i64,
    pub heads: Vec<(i64, i64)>,
    /// Where each head's ticket was asked from (for its audit row).
    pub addrs: Vec<Option<std::net::IpAddr>>,
}

/// Decides the batches of several courses in one transaction and commits
/// the seats; one outcome per batch, in the order given (`None` for a
/// course that no longer exists). Courses are decided in ascending id
/// order, and a seat granted to a student in one counts against their
/// credit limit and timetable in the next. With `announce`, every seat
/// granted is written to the mail outbox in the same transaction.
pub async fn admit_courses(
    pool: &PgPool,
    batches: &[CourseBatch],
    credit_limit: i32,
    announce: bool,
) -> Result<Vec<Option<Outcome>>, sqlx::Error> {
    let course_ids: Vec<i64> = batches.iter().map(|b| b.course).collect();
    let mut tx = pool.begin().await?;
    // Students who may get a seat are locked (their credits and timetable
    // must not change under us); a full course's heads need no lock, its
    // own locked row keeps its enrollments still.
    let locked = lock_courses_then_students(&mut tx, &course_ids, |courses| {
        let seats: HashMap<i64, &CourseSeats> = courses.iter().map(|c| (c.id, c)).collect();
        heads_with_seats(batches, |id| seats.get(&id).is_some_and(|c| c.has_seats()))
    })
    .await?;
    let mut courses: HashMap<i64, CourseSeats> =
        locked.courses.into_iter().map(|c| (c.id, c)).collect();
    // The heads of courses with seats, in id order; those that exist came
    // back locked.
    let open = locked.asked;
    let mut cohorts: HashMap<i64, Cohort> = locked.students.into_iter().collect();
    let mut held: HashMap<i64, Vec<HeldSeat>> = HashMap::new();
    if !open.is_empty() {
        for (student, seat) in enrollments::held_by(&mut tx, &open).await? {
            held.entry(student).or_default().push(seat);
        }
    }
    read_full_heads(&mut tx, batches, &courses, &open, &mut cohorts, &mut held).await?;
    // Decisions made for good by an earlier try of these very batches (its
    // worker died after COMMIT): repeated, never made anew.
    let tickets: Vec<String> = batches
        .iter()
        .flat_map(|b| {
            b.heads.iter().map(move |&(_, seq)| {
                TicketId {
                    course_id: b.course,
                    seq,
                }
                .to_string()
            })
        })
        .collect();
    let rejected = audit::rejections(&mut tx, &tickets).await?;

    // Decide in course id order (the lock order), carrying new seats along.
    let mut order: Vec<usize> = (0..batches.len()).collect();
    order.sort_by_key(|&i| batches[i].course);
    let mut outcomes: Vec<Option<Outcome>> = (0..batches.len()).map(|_| None).collect();
    let mut seats = NewSeats::default();
    let mut events = Decided::default();
    for i in order {
        let b = &batches[i];
        let Some(course) = courses.get_mut(&b.course) else {
            continue;
        };
        let students = Students {
            cohorts: &cohorts,
            held: &held,
            rejected: &rejected,
        };
        let outcome = decide(course, &b.heads, &students, credit_limit);
        course.enrolled = course.capacity - outcome.remaining;
        for seat in &outcome.inserts {
            held.entry(seat.student).or_default().push(HeldSeat {
                course_id: course.id,
                ticket: Some(seat.ticket.clone()),
                credits: course.credits,
                schedule: course.schedule.clone(),
            });
            let (ticket, block) = (seat.ticket.clone(), seat.block.clone());
            seats.push(seat.student, course.id, Some(ticket), block);
        }
        record(&mut events, course.id, &outcome, &b.addrs);
        outcomes[i] = Some(outcome);
    }

    if !seats.students.is_empty() {
        enrollments::insert_all(&mut tx, &seats, announce).await?;
    }
    audit::decisions(&mut tx, &events).await?;
    tx.commit().await?;
    Ok(outcomes)
}

/// Adds every decision of `outcome` (a batch of `course`) to the audit
/// rows, with the block of each seat granted.
fn record(
    events: &mut Decided,
    course: i64,
    outcome: &Outcome,
    addrs: &[Option<std::net::IpAddr>],
) {
    let mut seats = outcome.inserts.iter().peekable();
    // One decision per head, in the heads' order.
    for (i, d) in outcome.decisions.iter().enumerate() {
        let ticket = TicketId {
            course_id: course,
            seq: d.seq,
        }
        .to_string();
        let block = match seats.peek() {
            Some(s) if s.ticket == ticket => seats.next().and_then(|s| s.block.clone()),
            _ => None,
        };
        let kind = match d.status {
            TicketStatus::Enrolled => "enrolled",
            _ => "rejected",
        };
        let reason = d.reason.map(Reason::as_str);
        events.push(DecisionRow {
            kind,
            student: d.student,
            course,
            ticket,
            reason,
            block,
            addr: addrs.get(i).copied().flatten(),
        });
    }
}

/// The students at the heads of courses with seats left (the lock helper
/// sorts them and drops repeats).
fn heads_with_seats(batches: &[CourseBatch], has_seats: impl Fn(i64) -> bool) -> Vec<i64> {
    batches
        .iter()
        .filter(|b| has_seats(b.course))
        .flat_map(|b| b.heads.iter().map(|h| h.0))
        .collect()
}

/// For the heads of full courses whose students were not read above: whether
/// each student exists and whether they already hold that very course (then
/// `already_enrolled`, or `enrolled` for the ticket a crashed worker
/// committed) — all [`decide`] needs to answer the rest `course_full`. One
/// cheap query for all of them.
async fn read_full_heads(
    tx: &mut sqlx::PgConnection,
    batches: &[CourseBatch],
    courses: &HashMap<i64, CourseSeats>,
    open: &[i64],
    cohorts: &mut HashMap<i64, Cohort>,
    held: &mut HashMap<i64, Vec<HeldSeat>>,
) -> Result<(), sqlx::Error> {
    let (mut students, mut course_ids) = (Vec::new(), Vec::new());
    for b in batches {
        let Some(c) = courses.get(&b.course) else {
            continue;
        };
        if c.has_seats() {
            continue;
        }
        for &(student, _) in &b.heads {
            if open.binary_search(&student).is_err() {
                students.push(student);
                course_ids.push(b.course);
            }
        }
    }
    if students.is_empty() {
        return Ok(());
    }
    for s in enrollments::standing(tx, &students, &course_ids).await? {
        let Standing {
            student,
            course_id,
            exists,
            holds,
        } = s;
        if exists {
            // A full course gives no seat: the cohort is never weighed.
            cohorts.entry(student).or_insert(Cohort {
                year: 0,
                department: String::new(),
            });
        }
        if let Some(ticket) = holds {
            let credits = courses.get(&course_id).map_or(0, |c| c.credits);
            let list = held.entry(student).or_default();
            if !list.iter().any(|h| h.course_id == course_id) {
                list.push(HeldSeat {
                    course_id,
                    ticket,
                    credits,
                    schedule: Vec::new(),
                });
            }
        }
    }
    Ok(())
}
