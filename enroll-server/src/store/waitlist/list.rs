//! Joining, leaving and reading waitlists.

use chrono::{DateTime, Utc};

use crate::domain::block::seat_for;
use crate::domain::phase::Cohort;
use crate::store::audit::{self, By, Change as AuditChange};
use crate::store::locks;

/// What joining a waitlist did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Joined {
    /// In line, at this 1-based place.
    At(i64),
    NoCourse,
    /// The course keeps no waitlist.
    Off,
    AlreadyEnrolled,
    AlreadyWaiting,
    /// A seat is left for the student: enroll instead.
    SeatsLeft,
    /// The list is at its limit.
    Full,
}

/// Puts a student on a course's waitlist: only when no seat is left for
/// them, and within the course's limit (the course row locked, so the
/// limit holds under concurrency).
pub async fn join(
    pool: &sqlx::PgPool,
    student: i64,
    course: i64,
    cohort: &Cohort,
) -> Result<Joined, sqlx::Error> {
    let mut tx = pool.begin().await?;
    let locked = locks::lock_courses_then_students(&mut tx, &[course], |_| vec![student]).await?;
    let Some(c) = locked.courses.first() else {
        return Ok(Joined::NoCourse);
    };
    let (mode, limit): (String, i32) =
        sqlx::query_as("SELECT waitlist_mode, waitlist_limit FROM courses WHERE id = $1")
            .bind(course)
            .fetch_one(&mut *tx)
            .await?;
    if mode == "off" {
        return Ok(Joined::Off);
    }
    let (enrolled, waiting, length): (bool, bool, i64) = sqlx::query_as(
        "SELECT EXISTS (SELECT 1 FROM enrollments WHERE student_id = $1 AND course_id = $2), \
                EXISTS (SELECT 1 FROM waitlist WHERE student_id = $1 AND course_id = $2), \
                (SELECT count(*) FROM waitlist WHERE course_id = $2)",
    )
    .bind(student)
    .bind(course)
    .fetch_one(&mut *tx)
    .await?;
    if enrolled {
        return Ok(Joined::AlreadyEnrolled);
    }
    if waiting {
        return Ok(Joined::AlreadyWaiting);
    }
    if seat_for(&c.blocks, c.pool_left, cohort).is_some() {
        return Ok(Joined::SeatsLeft);
    }
    if length >= limit as i64 {
        return Ok(Joined::Full);
    }
    sqlx::query("INSERT INTO waitlist (course_id, student_id) VALUES ($1, $2)")
        .bind(course)
        .bind(student)
        .execute(&mut *tx)
        .await?;
    let change = AuditChange {
        kind: "waitlisted",
        student_id: Some(student),
        course_id: Some(course),
        ..AuditChange::default()
    };
    audit::write(&mut tx, &change, By::SYSTEM).await?;
    tx.commit().await?;
    Ok(Joined::At(length + 1))
}

/// Takes a student off a waitlist; whether they were on it.
pub async fn leave(pool: &sqlx::PgPool, student: i64, course: i64) -> Result<bool, sqlx::Error> {
    let mut tx = pool.begin().await?;
    let gone = sqlx::query("DELETE FROM waitlist WHERE course_id = $1 AND student_id = $2")
        .bind(course)
        .bind(student)
        .execute(&mut *tx)
        .await?
        .rows_affected()
        > 0;
    if gone {
        let change = AuditChange {
            kind: "waitlist_left",
            student_id: Some(student),
            course_id: Some(course),
            ..AuditChange::default()
        };
        audit::write(&mut tx, &change, By::SYSTEM).await?;
    }
    tx.commit().await?;
    Ok(gone)
}

/// A student's place on one waitlist, or a seat offered to them.
#[derive(Debug, Clone, serde::Serialize, utoipa::ToSchema, sqlx::FromRow)]
pub struct Place {
    pub course_id: i64,
    pub code: String,
    pub name: String,
    /// 1-based place in line (absent for an offer).
    pub position: Option<i64>,
    /// An offered seat: accept it before this instant.
    pub offer_expires_at: Option<DateTime<Utc>>,
}

/// The student's waitlist places and open offers.
pub async fn mine(pool: &sqlx::PgPool, student: i64) -> Result<Vec<Place>, sqlx::Error> {
    sqlx::query_as(
        "SELECT w.course_id, c.code, c.name, \
                (SELECT count(*) FROM waitlist o WHERE o.course_id = w.course_id AND o.seq <= w.seq) AS position, \
                NULL::timestamptz AS offer_expires_at \
         FROM waitlist w JOIN courses c ON c.id = w.course_id WHERE w.student_id = $1 \
         UNION ALL \
         SELECT e.course_id, c.code, c.name, NULL, e.offer_expires_at FROM enrollments e \
         JOIN courses c ON c.id = e.course_id \
         WHERE e.student_id = $1 AND e.offer_expires_at IS NOT NULL ORDER BY 4 NULLS FIRST, 2",
    )
    .bind(student)
    .fetch_all(pool)
    .await
}

/// What the registrar's gauges show: `(cart items, over-demanded courses,
/// waitlisted, offers open, seats withheld)`.
pub async fn gauges(pool: &sqlx::PgPool) -> Result<(i64, i64, i64, i64, i64), sqlx::Error> {
    sqlx::query_as(
        "SELECT (SELECT count(*) FROM cart_items), \
                (SELECT count(*) FROM (SELECT 1 FROM cart_items ci JOIN courses c ON c.id = ci.course_id \
                  GROUP BY c.id, c.capacity HAVING count(*) > c.capacity) o), \
                (SELECT count(*) FROM waitlist), \
                (SELECT count(*) FROM enrollments WHERE offer_expires_at IS NOT NULL), \
                (SELECT coalesce(sum(withheld), 0)::bigint FROM courses)",
    )
    .fetch_one(pool)
    .await
}
