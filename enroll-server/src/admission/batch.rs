//! One admission transaction: lock, read, decide, insert, commit.
//!
//! Lock order, the same everywhere (admission and cancel): the course row
//! first, then the students' rows in ascending id order. Every transaction
//! holds at most one course lock, taken first, so two batches of different
//! courses sharing students, or a batch and a cancel, can wait for each
//! other but never deadlock.

use std::collections::{HashMap, HashSet};

use sqlx::types::Json;
use sqlx::PgPool;

use super::decide::{decide, CourseSeats, Held, Outcome};
use crate::domain::schedule::Meeting;

/// `(student, course, ticket, credits, schedule)` of a seat already held.
type HeldRow = (i64, i64, Option<String>, i16, Json<Vec<Meeting>>);

/// Decides `heads` of `course_id` and commits the seats. `None` when the
/// course no longer exists.
pub async fn admit_batch(
    pool: &PgPool,
    course_id: i64,
    heads: &[(i64, i64)],
    credit_limit: i32,
) -> Result<Option<Outcome>, sqlx::Error> {
    let mut tx = pool.begin().await?;
    let course: Option<(i32, i32, i16, Json<Vec<Meeting>>)> = sqlx::query_as(
        "SELECT capacity, enrolled, credits, schedule FROM courses WHERE id = $1 FOR UPDATE",
    )
    .bind(course_id)
    .fetch_optional(&mut *tx)
    .await?;
    let Some((capacity, enrolled, credits, Json(schedule))) = course else {
        return Ok(None);
    };
    let course = CourseSeats {
        id: course_id,
        capacity,
        enrolled,
        credits,
        schedule,
    };

    let mut students: Vec<i64> = heads.iter().map(|h| h.0).collect();
    students.sort_unstable();
    students.dedup();
    if capacity <= enrolled {
        let outcome = decide_full(&mut tx, &course, heads, &students, credit_limit).await?;
        tx.commit().await?;
        return Ok(Some(outcome));
    }
    let known: HashSet<i64> = sqlx::query_scalar::<_, i64>(
        "SELECT id FROM students WHERE id = ANY($1) ORDER BY id FOR UPDATE",
    )
    .bind(&students)
    .fetch_all(&mut *tx)
    .await?
    .into_iter()
    .collect();
    let rows: Vec<HeldRow> = sqlx::query_as(
        "SELECT e.student_id, e.course_id, e.ticket, c.credits, c.schedule \
         FROM enrollments e JOIN courses c ON c.id = e.course_id WHERE e.student_id = ANY($1)",
    )
    .bind(&students)
    .fetch_all(&mut *tx)
    .await?;
    let mut held: HashMap<i64, Vec<Held>> = HashMap::new();
    for (student, course_id, ticket, credits, Json(schedule)) in rows {
        held.entry(student).or_default().push(Held {
            course_id,
            ticket,
            credits,
            schedule,
        });
    }

    let outcome = decide(&course, heads, &held, &|s| known.contains(&s), credit_limit);
    if !outcome.inserts.is_empty() {
        let (ids, tickets): (Vec<i64>, Vec<String>) = outcome.inserts.iter().cloned().unzip();
        // ON CONFLICT: a retried batch must never fail or double-insert.
        sqlx::query(
            "INSERT INTO enrollments (student_id, course_id, ticket) \
             SELECT s, $2, t FROM UNNEST($1::bigint[], $3::text[]) AS u(s, t) \
             ON CONFLICT (student_id, course_id) DO NOTHING",
        )
        .bind(&ids)
        .bind(course_id)
        .bind(&tickets)
        .execute(&mut *tx)
        .await?;
    }
    tx.commit().await?;
    Ok(Some(outcome))
}

/// A batch for a course with no seat left: every ticket is rejected
/// `course_full` unless it already holds this course (then `already_enrolled`,
/// or `enrolled` for the very ticket a crashed worker committed) or its
/// student is unknown — the same rules as [`decide`], which checks those
/// first. Nothing is inserted, and the course row lock already keeps this
/// course's enrollments still, so the students' rows need no lock and their
/// other courses no read: a full course's queue drains with one cheap query
/// per batch.
async fn decide_full(
    tx: &mut sqlx::PgConnection,
    course: &CourseSeats,
    heads: &[(i64, i64)],
    students: &[i64],
    credit_limit: i32,
) -> Result<Outcome, sqlx::Error> {
    let rows: Vec<(i64, Option<i64>, Option<String>)> = sqlx::query_as(
        "SELECT s.id, e.course_id, e.ticket FROM students s \
         LEFT JOIN enrollments e ON e.student_id = s.id AND e.course_id = $2 \
         WHERE s.id = ANY($1)",
    )
    .bind(students)
    .bind(course.id)
    .fetch_all(&mut *tx)
    .await?;
    let mut known = HashSet::new();
    let mut held: HashMap<i64, Vec<Held>> = HashMap::new();
    for (student, course_id, ticket) in rows {
        known.insert(student);
        if course_id.is_some() {
            held.entry(student).or_default().push(Held {
                course_id: course.id,
                ticket,
                credits: course.credits,
                schedule: Vec::new(),
            });
        }
    }
    let outcome = decide(course, heads, &held, &|s| known.contains(&s), credit_limit);
    debug_assert!(outcome.inserts.is_empty());
    Ok(outcome)
}
