//! Reserved blocks: the registrar's changes and their release.
//!
//! Both lock the course rows first, as every writing transaction does
//! ([`super::locks`]): a seat taken or given back updates the course row
//! and then its block's, so a block is never locked before its course.

use sqlx::{PgConnection, PgPool};

use super::waitlist::{self, Promotion, Rules};
use crate::domain::block::{Block, BlockInput};

/// Replaces a course's blocks with `new` (the course row is locked by the
/// caller). Removed blocks go first and growing ones last, so the seats
/// reserved never exceed, midway, what they are at the end.
pub async fn replace(
    tx: &mut PgConnection,
    course: i64,
    old: &[Block],
    new: &[BlockInput],
) -> Result<(), sqlx::Error> {
    let names: Vec<&str> = new.iter().map(|b| b.name.as_str()).collect();
    sqlx::query("DELETE FROM course_blocks WHERE course_id = $1 AND NOT (name = ANY($2))")
        .bind(course)
        .bind(&names)
        .execute(&mut *tx)
        .await?;
    let growth =
        |b: &BlockInput| b.seats - old.iter().find(|o| o.name == b.name).map_or(0, |o| o.seats);
    let mut order: Vec<(usize, &BlockInput)> = new.iter().enumerate().collect();
    order.sort_by_key(|(_, b)| growth(b));
    for (position, b) in order {
        sqlx::query(
            "INSERT INTO course_blocks (course_id, name, position, seats, departments, years, release_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7) \
             ON CONFLICT (course_id, name) DO UPDATE SET position = EXCLUDED.position, \
             seats = EXCLUDED.seats, departments = EXCLUDED.departments, years = EXCLUDED.years, \
             release_at = EXCLUDED.release_at",
        )
        .bind(course)
        .bind(&b.name)
        .bind(position as i16)
        .bind(b.seats)
        .bind(&b.departments)
        .bind(&b.years)
        .bind(b.release_at)
        .execute(&mut *tx)
        .await?;
    }
    Ok(())
}

/// Releases every block whose `release_at` has come by `rules.now`: its unused
/// seats join the open pool, recorded in the audit trail. Returns the
/// courses that gained seats, with what their waitlists got.
pub async fn release_due(
    pool: &PgPool,
    rules: &Rules<'_>,
) -> Result<Vec<(i64, Promotion)>, sqlx::Error> {
    let now = rules.now;
    let mut tx = pool.begin().await?;
    let courses: Vec<i64> = sqlx::query_scalar(
        "SELECT id FROM courses WHERE id IN (SELECT course_id FROM course_blocks \
         WHERE released_at IS NULL AND release_at <= $1) ORDER BY id FOR UPDATE",
    )
    .bind(now)
    .fetch_all(&mut *tx)
    .await?;
    if courses.is_empty() {
        return Ok(Vec::new());
    }
    let freed: Vec<i64> = sqlx::query_scalar(
        "WITH r AS (UPDATE course_blocks SET released_at = $1 \
                    WHERE course_id = ANY($2) AND released_at IS NULL AND release_at <= $1 \
                    RETURNING course_id, name, seats - enrolled AS freed), \
              e AS (INSERT INTO enrollment_events (kind, course_id, block, actor_kind, detail) \
                    SELECT 'block_released', course_id, name, 'system', \
                           jsonb_build_object('seats_freed', freed) FROM r) \
         SELECT DISTINCT course_id FROM r WHERE freed > 0",
    )
    .bind(now)
    .bind(&courses)
    .fetch_all(&mut *tx)
    .await?;
    // The waitlists get the released seats first.
    let moved = waitlist::promote_each(&mut tx, &freed, rules).await?;
    tx.commit().await?;
    Ok(moved)
}
