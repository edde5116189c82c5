//! The registration window. Migration 0004 replaced the single window with
//! phases; until phases have their own API, the window is the phase named
//! `registration` (the one 0004 made from the old window).

use chrono::{DateTime, Utc};
use sqlx::PgPool;

use super::StoreResult;

/// `(opens_at, closes_at)`.
pub type Window = (DateTime<Utc>, DateTime<Utc>);

/// The phase that stands for the single window.
const PHASE: &str = "registration";

/// The window as stored; `None` when none was ever set (closed).
pub async fn get(pool: &PgPool) -> Result<Option<Window>, sqlx::Error> {
    sqlx::query_as("SELECT opens_at, closes_at FROM phases WHERE name = $1")
        .bind(PHASE)
        .fetch_optional(pool)
        .await
}

/// Sets the window.
pub async fn set(pool: &PgPool, opens: DateTime<Utc>, closes: DateTime<Utc>) -> StoreResult<()> {
    sqlx::query(
        "INSERT INTO phases (name, position, opens_at, closes_at) VALUES ($1, 0, $2, $3) \
         ON CONFLICT (name) DO UPDATE SET opens_at = EXCLUDED.opens_at, closes_at = EXCLUDED.closes_at",
    )
    .bind(PHASE)
    .bind(opens)
    .bind(closes)
    .execute(pool)
    .await?;
    Ok(())
}
