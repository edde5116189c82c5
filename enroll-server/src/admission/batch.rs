//! One admission transaction: lock, read, decide, insert, commit — for the
//! batches of one or several courses at once.
//!
//! Lock order, the same everywhere (admission and cancel): course rows first,
//! in ascending id order, then student rows in ascending id order. A
//! transaction deciding several courses takes all their course locks before
//! any student lock; a cancel takes one course, then one student. So two
//! transactions sharing courses or students, or a transaction and a cancel,
//! can wait for each other but never deadlock.
//!
//! Why several courses per transaction: while requests pour in, each
//! course's queue holds only the few tickets that arrived during the last
//! batch, and PostgreSQL's fixed cost per transaction (start-up of each
//! statement, the trigger, the commit's WAL flush) dominates. Deciding the
//! batches of every course that has one in a single transaction pays it
//! once (see [`super::commit`]).

use std::collections::{HashMap, HashSet};

use sqlx::types::Json;
use sqlx::PgPool;

use super::decide::{decide, CourseSeats, Held, Outcome};
use crate::domain::schedule::Meeting;

/// `(student, course, ticket, credits, schedule)` of a seat already held.
type HeldRow = (i64, i64, Option<String>, i16, Json<Vec<Meeting>>);

/// Locks the batches' courses (`$1`: their ids), in id order.
pub const LOCK_COURSES: &str = "SELECT id, capacity, enrolled, credits, schedule FROM courses \
     WHERE id = ANY($1) ORDER BY id FOR UPDATE";

/// `(id, capacity, enrolled, credits, schedule)` of a locked course.
type CourseRow = (i64, i32, i32, i16, Json<Vec<Meeting>>);

/// One course's batch: its queue heads `(student, seq)` in queue order.
#[derive(Debug, Clone)]
pub struct CourseBatch {
    pub course: i64,
    pub heads: Vec<(i64, i64)>,
}

/// Decides the batches of several courses in one transaction and commits
/// the seats; one outcome per batch, in the order given (`None` for a
/// course that no longer exists). Courses are decided in ascending id
/// order, and a seat granted to a student in one counts against their
/// credit limit and timetable in the next.
pub async fn admit_courses(
    pool: &PgPool,
    batches: &[CourseBatch],
    credit_limit: i32,
) -> Result<Vec<Option<Outcome>>, sqlx::Error> {
    let mut course_ids: Vec<i64> = batches.iter().map(|b| b.course).collect();
    course_ids.sort_unstable();
    course_ids.dedup();

    let mut tx = pool.begin().await?;
    let rows: Vec<CourseRow> = sqlx::query_as(LOCK_COURSES)
        .bind(&course_ids)
        .fetch_all(&mut *tx)
        .await?;
    let mut courses: HashMap<i64, CourseSeats> = rows
        .into_iter()
        .map(|(id, capacity, enrolled, credits, Json(schedule))| {
            let seats = CourseSeats {
                id,
                capacity,
                enrolled,
                credits,
                schedule,
            };
            (id, seats)
        })
        .collect();

    // Students who may get a seat are locked (their credits and timetable
    // must not change under us); a full course's heads need no lock, its
    // own locked row keeps its enrollments still.
    let has_seats = |course: i64| {
        courses
            .get(&course)
            .is_some_and(|c| c.capacity > c.enrolled)
    };
    let mut open: Vec<i64> = batches
        .iter()
        .filter(|b| has_seats(b.course))
        .flat_map(|b| b.heads.iter().map(|h| h.0))
        .collect();
    open.sort_unstable();
    open.dedup();
    let mut known: HashSet<i64> = HashSet::new();
    let mut held: HashMap<i64, Vec<Held>> = HashMap::new();
    if !open.is_empty() {
        known.extend(
            sqlx::query_scalar::<_, i64>(
                "SELECT id FROM students WHERE id = ANY($1) ORDER BY id FOR UPDATE",
            )
            .bind(&open)
            .fetch_all(&mut *tx)
            .await?,
        );
        let rows: Vec<HeldRow> = sqlx::query_as(
            "SELECT e.student_id, e.course_id, e.ticket, c.credits, c.schedule \
             FROM enrollments e JOIN courses c ON c.id = e.course_id \
             WHERE e.student_id = ANY($1)",
        )
        .bind(&open)
        .fetch_all(&mut *tx)
        .await?;
        for (student, course_id, ticket, credits, Json(schedule)) in rows {
            held.entry(student).or_default().push(Held {
                course_id,
                ticket,
                credits,
                schedule,
            });
        }
    }
    read_full_heads(&mut tx, batches, &courses, &open, &mut known, &mut held).await?;

    // Decide in course id order (the lock order), carrying new seats along.
    let mut order: Vec<usize> = (0..batches.len()).collect();
    order.sort_by_key(|&i| batches[i].course);
    let mut outcomes: Vec<Option<Outcome>> = (0..batches.len()).map(|_| None).collect();
    let (mut ins_students, mut ins_courses, mut ins_tickets) = (Vec::new(), Vec::new(), Vec::new());
    for i in order {
        let b = &batches[i];
        let Some(course) = courses.get_mut(&b.course) else {
            continue;
        };
        let outcome = decide(
            course,
            &b.heads,
            &held,
            &|s| known.contains(&s),
            credit_limit,
        );
        course.enrolled = course.capacity - outcome.remaining;
        for (student, ticket) in &outcome.inserts {
            held.entry(*student).or_default().push(Held {
                course_id: course.id,
                ticket: Some(ticket.clone()),
                credits: course.credits,
                schedule: course.schedule.clone(),
            });
            ins_students.push(*student);
            ins_courses.push(course.id);
            ins_tickets.push(ticket.clone());
        }
        outcomes[i] = Some(outcome);
    }

    if !ins_students.is_empty() {
        // ON CONFLICT: a retried batch must never fail or double-insert.
        sqlx::query(
            "INSERT INTO enrollments (student_id, course_id, ticket) \
             SELECT s, c, t FROM UNNEST($1::bigint[], $2::bigint[], $3::text[]) AS u(s, c, t) \
             ON CONFLICT (student_id, course_id) DO NOTHING",
        )
        .bind(&ins_students)
        .bind(&ins_courses)
        .bind(&ins_tickets)
        .execute(&mut *tx)
        .await?;
    }
    tx.commit().await?;
    Ok(outcomes)
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
    known: &mut HashSet<i64>,
    held: &mut HashMap<i64, Vec<Held>>,
) -> Result<(), sqlx::Error> {
    let (mut students, mut course_ids) = (Vec::new(), Vec::new());
    for b in batches {
        let Some(c) = courses.get(&b.course) else {
            continue;
        };
        if c.capacity > c.enrolled {
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
    let rows: Vec<(i64, i64, bool, Option<String>, bool)> = sqlx::query_as(
        "SELECT u.s, u.c, s.id IS NOT NULL, e.ticket, e.student_id IS NOT NULL \
         FROM UNNEST($1::bigint[], $2::bigint[]) AS u(s, c) \
         LEFT JOIN students s ON s.id = u.s \
         LEFT JOIN enrollments e ON e.student_id = u.s AND e.course_id = u.c",
    )
    .bind(&students)
    .bind(&course_ids)
    .fetch_all(&mut *tx)
    .await?;
    for (student, course_id, exists, ticket, holds) in rows {
        if exists {
            known.insert(student);
        }
        if holds {
            let credits = courses.get(&course_id).map_or(0, |c| c.credits);
            let list = held.entry(student).or_default();
            if !list.iter().any(|h| h.course_id == course_id) {
                list.push(Held {
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
