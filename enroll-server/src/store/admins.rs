//! Admin accounts and their sessions (`admins`, `admin_sessions`).
//!
//! Sessions live only in the database: admins are few and their requests
//! rare, so a session is one indexed lookup by its token's digest on the
//! primary, and ending one (logout, a deleted account) takes effect on
//! every instance at once.

use chrono::{DateTime, Utc};
use sqlx::PgPool;

use super::{StoreError, StoreResult};
use crate::domain::admin::{AdminAccount, Role};
use crate::session::Digest;

type AccountRow = (i64, String, String, DateTime<Utc>, String);

const ACCOUNT_COLUMNS: &str = "id, username, role, created_at, created_by";

fn account((id, username, role, created_at, created_by): AccountRow) -> StoreResult<AdminAccount> {
    Ok(AdminAccount {
        id,
        username,
        role: role_of(&role)?,
        created_at,
        created_by,
    })
}

/// The role stored as `name` (the table's check allows only known ones).
fn role_of(name: &str) -> StoreResult<Role> {
    Role::parse(name).ok_or_else(|| {
        StoreError::Failed(sqlx::Error::Decode(
            format!("unknown admin role {name:?}").into(),
        ))
    })
}

/// Creates an account; a taken username is refused by the table's unique
/// constraint (`admins_username_key`).
pub async fn create(
    pool: &PgPool,
    username: &str,
    password_hash: &str,
    role: Role,
    created_by: &str,
) -> StoreResult<AdminAccount> {
    let row: AccountRow = sqlx::query_as(&format!(
        "INSERT INTO admins (username, password_hash, role, created_by) VALUES ($1, $2, $3, $4) \
         RETURNING {ACCOUNT_COLUMNS}"
    ))
    .bind(username)
    .bind(password_hash)
    .bind(role.as_str())
    .bind(created_by)
    .fetch_one(pool)
    .await?;
    account(row)
}

/// Every account, by username.
pub async fn list(pool: &PgPool) -> StoreResult<Vec<AdminAccount>> {
    let rows: Vec<AccountRow> = sqlx::query_as(&format!(
        "SELECT {ACCOUNT_COLUMNS} FROM admins ORDER BY username"
    ))
    .fetch_all(pool)
    .await?;
    rows.into_iter().map(account).collect()
}

/// Deletes the account named `username` (its sessions go with it, by the
/// foreign key's cascade); whether there was one.
pub async fn delete(pool: &PgPool, username: &str) -> StoreResult<bool> {
    Ok(sqlx::query("DELETE FROM admins WHERE username = $1")
        .bind(username)
        .execute(pool)
        .await?
        .rows_affected()
        == 1)
}

/// An account and its password hash, for logging in.
#[derive(Debug)]
pub struct Credentials {
    pub id: i64,
    pub username: String,
    pub role: Role,
    pub password_hash: String,
}

/// The account named `username` and its password hash.
pub async fn credentials(pool: &PgPool, username: &str) -> StoreResult<Option<Credentials>> {
    let row: Option<(i64, String, String, String)> =
        sqlx::query_as("SELECT id, username, role, password_hash FROM admins WHERE username = $1")
            .bind(username)
            .fetch_optional(pool)
            .await?;
    row.map(|(id, username, role, password_hash)| {
        Ok(Credentials {
            id,
            username,
            role: role_of(&role)?,
            password_hash,
        })
    })
    .transpose()
}

/// Records a session of `admin` under its token's digest, and deletes that
/// admin's sessions that have ended (so they never pile up).
pub async fn start_session(
    pool: &PgPool,
    digest: &Digest,
    admin: i64,
    expires_at: DateTime<Utc>,
) -> StoreResult<()> {
    sqlx::query(
        "WITH ended AS (DELETE FROM admin_sessions WHERE admin_id = $2 AND expires_at <= now()) \
         INSERT INTO admin_sessions (digest, admin_id, expires_at) VALUES ($1, $2, $3)",
    )
    .bind(&digest[..])
    .bind(admin)
    .bind(expires_at)
    .execute(pool)
    .await?;
    Ok(())
}

/// Who holds the live session with `digest`: one lookup by the primary key.
pub async fn session(pool: &PgPool, digest: &Digest) -> StoreResult<Option<(i64, String, Role)>> {
    let row: Option<(i64, String, String)> = sqlx::query_as(
        "SELECT a.id, a.username, a.role FROM admin_sessions s JOIN admins a ON a.id = s.admin_id \
         WHERE s.digest = $1 AND s.expires_at > now()",
    )
    .bind(&digest[..])
    .fetch_optional(pool)
    .await?;
    row.map(|(id, username, role)| Ok((id, username, role_of(&role)?)))
        .transpose()
}

/// Ends the session with `digest` (idempotent).
pub async fn end_session(pool: &PgPool, digest: &Digest) -> StoreResult<()> {
    sqlx::query("DELETE FROM admin_sessions WHERE digest = $1")
        .bind(&digest[..])
        .execute(pool)
        .await?;
    Ok(())
}

/// Deletes every session that has ended; returns how many.
pub async fn sweep_sessions(pool: &PgPool) -> StoreResult<u64> {
    Ok(
        sqlx::query("DELETE FROM admin_sessions WHERE expires_at <= now()")
            .execute(pool)
            .await?
            .rows_affected(),
    )
}
