//! Seats given back and withheld from the queue for a random delay, so a
//! cancel-then-grab hand-off between friends does not work: the seat
//! reopens when nobody is watching for it.

use chrono::{DateTime, Utc};
use serde_json::json;
use sqlx::{PgConnection, PgPool};

use super::audit::{self, By, Change};
use super::locks::lock_courses_then_students;
use super::waitlist::{self, Promotion, Rules};

/// Withholds one open-pool seat of `course` (locked by the caller) until
/// `until`, recorded in the audit trail.
pub async fn withhold(
    tx: &mut PgConnection,
    course: i64,
    now: DateTime<Utc>,
    until: DateTime<Utc>,
) -> Result<(), sqlx::Error> {
    sqlx::query("INSERT INTO withheld_seats (course_id, freed_at, release_at) VALUES ($1, $2, $3)")
        .bind(course)
        .bind(now)
        .bind(until)
        .execute(&mut *tx)
        .await?;
    sqlx::query("UPDATE courses SET withheld = withheld + 1 WHERE id = $1")
        .bind(course)
        .execute(&mut *tx)
        .await?;
    let change = Change {
        kind: "seat_withheld",
        course_id: Some(course),
        detail: Some(json!({"release_at": until})),
        ..Change::default()
    };
    audit::write(tx, &change, By::SYSTEM).await
}

/// Reopens every seat whose delay has passed at `rules.now`: the waitlist
/// first (someone may have joined meanwhile), else the queue. Returns each
/// course with what its waitlist got (seats still `left` are the queue's).
pub async fn release_due(
    pool: &PgPool,
    rules: &Rules<'_>,
) -> Result<Vec<(i64, Promotion)>, sqlx::Error> {
    let due: Vec<i64> = sqlx::query_scalar(
        "SELECT DISTINCT course_id FROM withheld_seats WHERE release_at <= $1 ORDER BY 1",
    )
    .bind(rules.now)
    .fetch_all(pool)
    .await?;
    if due.is_empty() {
        return Ok(Vec::new());
    }
    let mut tx = pool.begin().await?;
    lock_courses_then_students(&mut tx, &due, |_| Vec::new()).await?;
    let released: Vec<(i64, DateTime<Utc>, DateTime<Utc>)> = sqlx::query_as(
        "DELETE FROM withheld_seats WHERE course_id = ANY($1) AND release_at <= $2 \
         RETURNING course_id, freed_at, release_at",
    )
    .bind(&due)
    .bind(rules.now)
    .fetch_all(&mut *tx)
    .await?;
    let mut rows = Vec::new();
    for &(course, freed_at, release_at) in &released {
        sqlx::query("UPDATE courses SET withheld = withheld - 1 WHERE id = $1")
            .bind(course)
            .execute(&mut *tx)
            .await?;
        rows.push(Change {
            kind: "seat_released",
            course_id: Some(course),
            detail: Some(json!({"freed_at": freed_at, "release_at": release_at})),
            ..Change::default()
        });
    }
    audit::write_all(&mut tx, &rows, By::SYSTEM).await?;
    let moved = waitlist::promote_each(&mut tx, &due, rules).await?;
    tx.commit().await?;
    Ok(moved)
}
