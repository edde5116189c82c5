//! Admin accounts: logging in and out, recognising a session's bearer
//! token, and creating, listing and deleting accounts.
//!
//! An admin logs in as a student does — argon2id through the shared
//! hasher (503 `busy` when checks queue up), the login throttle counted
//! before the password is checked (under keys of its own), a dummy check
//! for an unknown username — and gets a bearer token signed like a
//! student's ([`crate::session::TokenSigner`]); only its SHA-256 is stored,
//! in `admin_sessions`. A token this deployment did not sign is refused
//! without asking the database.

use std::net::IpAddr;

use chrono::{DateTime, Utc};

use super::accounts::LoginError;
use crate::domain::admin::{self, Actor, AdminAccount, NewAdmin, Role};
use crate::domain::Invalid;
use crate::redis::login_throttle::{self, Accounts, Attempt};
use crate::session::digest;
use crate::state::Services;
use crate::store::{admins, StoreError};

/// Longest bearer token looked up (a signed token is 64 characters).
const MAX_TOKEN: usize = 100;

/// A started admin session.
#[derive(Debug)]
pub struct AdminLogin {
    /// For `Authorization: Bearer`.
    pub token: String,
    pub expires_at: DateTime<Utc>,
    pub username: String,
    pub role: Role,
}

/// Why an account could not be created or deleted.
#[derive(Debug, thiserror::Error)]
pub enum AccountError {
    #[error(transparent)]
    Invalid(#[from] Invalid),
    #[error("no such admin account")]
    NotFound,
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Internal(#[from] anyhow::Error),
}

/// Checks `username`'s password, logging in from `client`, and starts a
/// session of `ENROLL_ADMIN_SESSION_TTL_SECS`. Wrong usernames and wrong
/// passwords are the same [`LoginError::InvalidCredentials`], after the
/// same work.
pub async fn login(
    s: &Services,
    client: IpAddr,
    username: &str,
    password: String,
) -> Result<AdminLogin, LoginError> {
    s.fair_use.login(client)?;
    // No account has such a name, and no password is that long (256
    // characters at most, 4 bytes each): wrong without any work.
    if !admin::valid_username(username) || password.len() > 4 * admin::MAX_PASSWORD {
        return Err(LoginError::InvalidCredentials);
    }
    let mut redis = s.redis.clone();
    let limits = &s.settings.login_throttle;
    if let Attempt::Wait(retry_after) =
        login_throttle::attempt(&mut redis, Accounts::Admins, client, username, limits).await?
    {
        return Err(LoginError::TooManyAttempts { retry_after });
    }
    let Some(found) = admins::credentials(&s.db.primary, username).await? else {
        // The same time as a real check: timing does not tell which
        // usernames exist.
        let dummy = s.hasher.dummy_hash().await?;
        s.hasher.verify(password, dummy).await?;
        return Err(LoginError::InvalidCredentials);
    };
    if !s.hasher.verify(password, found.password_hash).await? {
        return Err(LoginError::InvalidCredentials);
    }
    login_throttle::succeeded(&mut redis, Accounts::Admins, client, username).await?;
    let token = s.admin_tokens.issue();
    let ttl =
        chrono::Duration::from_std(s.settings.admin_session_ttl).map_err(anyhow::Error::from)?;
    let expires_at = Utc::now() + ttl;
    admins::start_session(&s.db.primary, &digest(&token), found.id, expires_at).await?;
    tracing::info!(admin = %found.username, role = %found.role, "admin logged in");
    Ok(AdminLogin {
        token,
        expires_at,
        username: found.username,
        role: found.role,
    })
}

/// Who holds the admin session of bearer `token`, if it is live: a token
/// this deployment did not sign costs no query, a signed one one indexed
/// lookup on the primary (never an argon2 check).
pub async fn authenticate(s: &Services, token: &str) -> Result<Option<(Actor, Role)>, StoreError> {
    if token.len() > MAX_TOKEN || !s.admin_tokens.is_genuine(token) {
        return Ok(None);
    }
    let found = admins::session(&s.db.primary, &digest(token)).await?;
    Ok(found.map(|(id, username, role)| (Actor::Account { id, username }, role)))
}

/// Ends the admin session of bearer `token` everywhere (idempotent).
pub async fn logout(s: &Services, token: &str) -> Result<(), StoreError> {
    admins::end_session(&s.db.primary, &digest(token)).await
}

/// Creates an account with an argon2id hash of its password, recording
/// `actor` as who created it.
pub async fn create(
    s: &Services,
    actor: &Actor,
    new: NewAdmin,
) -> Result<AdminAccount, AccountError> {
    new.validate()?;
    let hash = s.hasher.hash(new.password).await?;
    let created =
        admins::create(&s.db.primary, &new.username, &hash, new.role, actor.label()).await?;
    tracing::info!(admin = %actor, username = %created.username, role = %created.role,
        "admin account created");
    Ok(created)
}

/// Every admin account, by username.
pub async fn list(s: &Services) -> Result<Vec<AdminAccount>, StoreError> {
    admins::list(&s.db.primary).await
}

/// Deletes the account named `username`; its sessions end with it.
pub async fn delete(s: &Services, actor: &Actor, username: &str) -> Result<(), AccountError> {
    // A name no account can have (a NUL, which PostgreSQL's text cannot
    // hold, among them) names none.
    if !admin::valid_username(username) || !admins::delete(&s.db.primary, username).await? {
        return Err(AccountError::NotFound);
    }
    tracing::info!(admin = %actor, username, "admin account deleted");
    Ok(())
}
