//! Phases: when whom may enroll (the registration window is one of them).

use chrono::{DateTime, Utc};
use sqlx::PgPool;

use super::StoreResult;
use crate::domain::phase::{Audience, Phase};

type PhaseRow = (
    String,
    DateTime<Utc>,
    DateTime<Utc>,
    Option<Vec<i16>>,
    Option<Vec<String>>,
    Option<Vec<String>>,
);

/// Every phase, in the registrar's order.
pub async fn all(pool: &PgPool) -> Result<Vec<Phase>, sqlx::Error> {
    let rows: Vec<PhaseRow> = sqlx::query_as(
        "SELECT name, opens_at, closes_at, years, departments, student_nos \
         FROM phases ORDER BY position, name",
    )
    .fetch_all(pool)
    .await?;
    Ok(rows
        .into_iter()
        .map(
            |(name, opens_at, closes_at, years, departments, student_nos)| Phase {
                name,
                opens_at,
                closes_at,
                audience: Audience {
                    years,
                    departments,
                    student_nos,
                },
            },
        )
        .collect())
}

/// Replaces every phase with `phases` (validated), in one transaction.
pub async fn replace(pool: &PgPool, phases: &[Phase]) -> StoreResult<()> {
    let mut tx = pool.begin().await?;
    sqlx::query("DELETE FROM phases").execute(&mut *tx).await?;
    for (i, p) in phases.iter().enumerate() {
        sqlx::query(
            "INSERT INTO phases (name, position, opens_at, closes_at, years, departments, student_nos) \
             VALUES ($1, $2, $3, $4, $5, $6, $7)",
        )
        .bind(&p.name)
        .bind(i as i32)
        .bind(p.opens_at)
        .bind(p.closes_at)
        .bind(&p.audience.years)
        .bind(&p.audience.departments)
        .bind(&p.audience.student_nos)
        .execute(&mut *tx)
        .await?;
    }
    tx.commit().await?;
    Ok(())
}
