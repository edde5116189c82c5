//! Live sessions and the deployment row: what Redis's copies are rebuilt
//! from when Redis loses its data (see [`crate::service::recovery`]).

use chrono::{DateTime, Utc};
use sqlx::PgPool;

use crate::domain::phase::Cohort;
use crate::session::{Digest, Session};

/// This database's deployment: its id (checked against Redis) and the key
/// that signs session tokens.
#[derive(Clone)]
pub struct Deployment {
    pub id: String,
    pub session_key: Vec<u8>,
}

impl std::fmt::Debug for Deployment {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Deployment")
            .field("id", &self.id)
            .finish_non_exhaustive()
    }
}

/// The deployment row (made by the migrations).
pub async fn deployment(pool: &PgPool) -> Result<Deployment, sqlx::Error> {
    let (id, session_key): (String, Vec<u8>) =
        sqlx::query_as("SELECT id::text, session_key FROM deployment")
            .fetch_one(pool)
            .await?;
    Ok(Deployment { id, session_key })
}

/// Records a new session.
pub async fn insert(
    pool: &PgPool,
    digest: &Digest,
    student: i64,
    expires_at: DateTime<Utc>,
) -> Result<(), sqlx::Error> {
    sqlx::query("INSERT INTO sessions (digest, student_id, expires_at) VALUES ($1, $2, $3)")
        .bind(&digest[..])
        .bind(student)
        .bind(expires_at)
        .execute(pool)
        .await?;
    Ok(())
}

/// The live session with `digest`, and when it ends.
pub async fn find(
    pool: &PgPool,
    digest: &Digest,
) -> Result<Option<(Session, DateTime<Utc>)>, sqlx::Error> {
    let row: Option<(i64, String, i16, String, DateTime<Utc>)> = sqlx::query_as(
        "SELECT s.student_id, st.student_no, st.year, st.department, s.expires_at FROM sessions s \
         JOIN students st ON st.id = s.student_id \
         WHERE s.digest = $1 AND s.expires_at > now()",
    )
    .bind(&digest[..])
    .fetch_optional(pool)
    .await?;
    Ok(
        row.map(|(student_id, student_no, year, department, expires)| {
            (
                Session {
                    student_id,
                    student_no,
                    cohort: Some(Cohort { year, department }),
                },
                expires,
            )
        }),
    )
}

/// Ends the sessions with these digests.
pub async fn delete(pool: &PgPool, digests: &[Digest]) -> Result<(), sqlx::Error> {
    let digests: Vec<&[u8]> = digests.iter().map(|d| &d[..]).collect();
    sqlx::query("DELETE FROM sessions WHERE digest = ANY($1)")
        .bind(digests)
        .execute(pool)
        .await?;
    Ok(())
}

/// Ends every session of `student`; returns their digests.
pub async fn delete_all(pool: &PgPool, student: i64) -> Result<Vec<Digest>, sqlx::Error> {
    let rows: Vec<(Vec<u8>,)> =
        sqlx::query_as("DELETE FROM sessions WHERE student_id = $1 RETURNING digest")
            .bind(student)
            .fetch_all(pool)
            .await?;
    Ok(rows
        .into_iter()
        .filter_map(|(d,)| Digest::try_from(d.as_slice()).ok())
        .collect())
}

/// `(digest, student_id, student_no, year, department, expires_at)`.
type LiveRow = (Vec<u8>, i64, String, i16, String, DateTime<Utc>);

/// Every live session, for rebuilding Redis.
pub async fn live(pool: &PgPool) -> Result<Vec<(Digest, Session, DateTime<Utc>)>, sqlx::Error> {
    let rows: Vec<LiveRow> = sqlx::query_as(
        "SELECT s.digest, s.student_id, st.student_no, st.year, st.department, s.expires_at \
         FROM sessions s \
         JOIN students st ON st.id = s.student_id WHERE s.expires_at > now()",
    )
    .fetch_all(pool)
    .await?;
    Ok(rows
        .into_iter()
        .filter_map(|(d, student_id, student_no, year, department, expires)| {
            let digest = Digest::try_from(d.as_slice()).ok()?;
            Some((
                digest,
                Session {
                    student_id,
                    student_no,
                    cohort: Some(Cohort { year, department }),
                },
                expires,
            ))
        })
        .collect())
}

/// Deletes sessions that have ended; returns how many.
pub async fn sweep(pool: &PgPool) -> Result<u64, sqlx::Error> {
    Ok(
        sqlx::query("DELETE FROM sessions WHERE expires_at <= now()")
            .execute(pool)
            .await?
            .rows_affected(),
    )
}
