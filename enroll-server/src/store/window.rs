//! The registration window: at most one row.

use chrono::{DateTime, Utc};
use sqlx::PgPool;

use super::StoreResult;

/// `(opens_at, closes_at)`.
pub type Window = (DateTime<Utc>, DateTime<Utc>);

/// The window as stored; `None` when none was ever set (closed).
pub async fn get(pool: &PgPool) -> Result<Option<Window>, sqlx::Error> {
    sqlx::query_as("SELECT opens_at, closes_at FROM registration_window")
        .fetch_optional(pool)
        .await
}

/// Sets the window.
pub async fn set(pool: &PgPool, opens: DateTime<Utc>, closes: DateTime<Utc>) -> StoreResult<()> {
    sqlx::query(
        "INSERT INTO registration_window (singleton, opens_at, closes_at) VALUES (TRUE, $1, $2) \
         ON CONFLICT (singleton) DO UPDATE SET opens_at = EXCLUDED.opens_at, closes_at = EXCLUDED.closes_at",
    )
    .bind(opens)
    .bind(closes)
    .execute(pool)
    .await?;
    Ok(())
}
