//! Seats offered from a waitlist: accepted, declined, or expired — a seat
//! given back by an offer goes to the next head in the same transaction.

use chrono::{DateTime, Utc};
use sqlx::PgPool;

use super::audit::{self, By, Change as AuditChange};
use super::locks::lock_courses_then_students;
use super::outbox;
use super::waitlist::{self, Promotion, Rules};
use crate::domain::mail::Change;

/// What accepting an offer did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Accepted {
    Enrolled,
    NoOffer,
    Expired,
}

/// Turns the student's offered seat into an enrollment, before its deadline.
pub async fn accept(
    pool: &PgPool,
    student: i64,
    course: i64,
    now: DateTime<Utc>,
    announce: bool,
) -> Result<Accepted, sqlx::Error> {
    let mut tx = pool.begin().await?;
    let row: Option<(Option<String>,)> = sqlx::query_as(
        "UPDATE enrollments SET offer_expires_at = NULL \
         WHERE student_id = $1 AND course_id = $2 AND offer_expires_at > $3 RETURNING block",
    )
    .bind(student)
    .bind(course)
    .bind(now)
    .fetch_optional(&mut *tx)
    .await?;
    let Some((block,)) = row else {
        let expired: bool = sqlx::query_scalar(
            "SELECT EXISTS (SELECT 1 FROM enrollments WHERE student_id = $1 AND course_id = $2 \
             AND offer_expires_at IS NOT NULL)",
        )
        .bind(student)
        .bind(course)
        .fetch_one(&mut *tx)
        .await?;
        return Ok(if expired {
            Accepted::Expired
        } else {
            Accepted::NoOffer
        });
    };
    if announce {
        outbox::announce(&mut tx, &[student], &[course], Change::Enrolled).await?;
    }
    let change = AuditChange {
        kind: "offer_accepted",
        student_id: Some(student),
        course_id: Some(course),
        block,
        ..AuditChange::default()
    };
    audit::write(&mut tx, &change, By::SYSTEM).await?;
    tx.commit().await?;
    Ok(Accepted::Enrolled)
}

/// Declines the student's offered seat; the next head gets it. `None`
/// when there was no offer.
pub async fn decline(
    pool: &PgPool,
    student: i64,
    course: i64,
    rules: &Rules<'_>,
) -> Result<Option<Promotion>, sqlx::Error> {
    let mut tx = pool.begin().await?;
    let mut students = waitlist::heads(&mut tx, course).await?;
    students.push(student);
    lock_courses_then_students(&mut tx, &[course], |_| students).await?;
    let row: Option<(Option<String>,)> = sqlx::query_as(
        "DELETE FROM enrollments WHERE student_id = $1 AND course_id = $2 \
         AND offer_expires_at IS NOT NULL RETURNING block",
    )
    .bind(student)
    .bind(course)
    .fetch_optional(&mut *tx)
    .await?;
    let Some((block,)) = row else {
        return Ok(None);
    };
    let change = AuditChange {
        kind: "offer_declined",
        student_id: Some(student),
        course_id: Some(course),
        block,
        ..AuditChange::default()
    };
    audit::write(&mut tx, &change, By::SYSTEM).await?;
    let promoted = waitlist::promote(&mut tx, course, rules).await?;
    tx.commit().await?;
    Ok(Some(promoted))
}

/// Withdraws every offer past its deadline at `rules.now` and gives the
/// seats to the next heads. Returns each course touched with what its
/// waitlist got (seats still `left` are the queue's).
pub async fn expire_due(
    pool: &PgPool,
    rules: &Rules<'_>,
) -> Result<Vec<(i64, Promotion)>, sqlx::Error> {
    let due: Vec<i64> = sqlx::query_scalar(
        "SELECT DISTINCT course_id FROM enrollments WHERE offer_expires_at <= $1 ORDER BY 1",
    )
    .bind(rules.now)
    .fetch_all(pool)
    .await?;
    if due.is_empty() {
        return Ok(Vec::new());
    }
    let mut tx = pool.begin().await?;
    lock_courses_then_students(&mut tx, &due, |_| Vec::new()).await?;
    let gone: Vec<(i64, i64, Option<String>)> = sqlx::query_as(
        "DELETE FROM enrollments WHERE course_id = ANY($1) AND offer_expires_at <= $2 \
         RETURNING student_id, course_id, block",
    )
    .bind(&due)
    .bind(rules.now)
    .fetch_all(&mut *tx)
    .await?;
    let rows: Vec<AuditChange> = gone
        .into_iter()
        .map(|(student, course, block)| AuditChange {
            kind: "offer_expired",
            student_id: Some(student),
            course_id: Some(course),
            block,
            ..AuditChange::default()
        })
        .collect();
    audit::write_all(&mut tx, &rows, By::SYSTEM).await?;
    let moved = waitlist::promote_each(&mut tx, &due, rules).await?;
    tx.commit().await?;
    Ok(moved)
}
