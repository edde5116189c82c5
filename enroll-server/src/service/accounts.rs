//! Logging in and out.

use std::net::IpAddr;
use std::time::Duration;

use crate::domain::phase::Cohort;
use crate::domain::student::Student;
use crate::password::VerifyError;
use crate::redis::login_throttle::{self, Accounts, Attempt};
use crate::redis::session_store::SessionError;
use crate::service::fair_use::FairUseError;
use crate::session::Session;
use crate::state::Services;
use crate::store::{students, StoreError};

/// Longest student number and password looked at; longer ones are wrong
/// without any work.
const MAX_STUDENT_NO: usize = 32;
const MAX_PASSWORD: usize = 1024;

/// A started session.
#[derive(Debug)]
pub struct LoggedIn {
    /// For the session cookie.
    pub token: String,
    pub student: Student,
}

/// Why a login failed.
#[derive(Debug, thiserror::Error)]
pub enum LoginError {
    #[error("student number or password is wrong")]
    InvalidCredentials,
    #[error("too many failed logins from this address")]
    TooManyAttempts { retry_after: Duration },
    #[error("too many logins are waiting for a password check")]
    Busy,
    #[error(transparent)]
    FairUse(#[from] FairUseError),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Redis(#[from] redis::RedisError),
    #[error(transparent)]
    Internal(#[from] anyhow::Error),
}

/// Checks the password of `student_no`, logging in from `client`, and
/// starts a session. The attempt is counted before the password is checked
/// ([`login_throttle`]), per client address: failures elsewhere never
/// refuse this client.
pub async fn login(
    s: &Services,
    client: IpAddr,
    student_no: &str,
    password: String,
) -> Result<LoggedIn, LoginError> {
    s.fair_use.login(client)?;
    // No student number holds NUL (PostgreSQL's text cannot).
    if student_no.len() > MAX_STUDENT_NO
        || password.len() > MAX_PASSWORD
        || student_no.contains('\0')
    {
        return Err(LoginError::InvalidCredentials);
    }
    let mut redis = s.redis.clone();
    let limits = &s.settings.login_throttle;
    if let Attempt::Wait(retry_after) =
        login_throttle::attempt(&mut redis, Accounts::Students, client, student_no, limits).await?
    {
        return Err(LoginError::TooManyAttempts { retry_after });
    }
    // Read from the primary: an account imported a moment ago must log in.
    let Some(found) = students::credentials(&s.db.primary, student_no).await? else {
        // Spend the same time as a real check so timing does not reveal
        // which student numbers exist.
        let dummy = s.hasher.dummy_hash().await?;
        s.hasher.verify(password, dummy).await?;
        return Err(LoginError::InvalidCredentials);
    };
    if !s.hasher.verify(password, found.password_hash).await? {
        return Err(LoginError::InvalidCredentials);
    }
    login_throttle::succeeded(&mut redis, Accounts::Students, client, student_no).await?;
    let student = found.student;
    let token = s
        .sessions
        .create(&Session {
            student_id: student.id,
            student_no: student.student_no.clone(),
            cohort: Some(student.cohort()),
        })
        .await?;
    Ok(LoggedIn { token, student })
}

impl From<SessionError> for LoginError {
    fn from(e: SessionError) -> Self {
        match e {
            SessionError::Redis(e) => Self::Redis(e),
            SessionError::Store(e) => Self::Store(e),
        }
    }
}

impl From<VerifyError> for LoginError {
    fn from(e: VerifyError) -> Self {
        match e {
            VerifyError::Busy => Self::Busy,
            VerifyError::Failed(e) => Self::Internal(e),
        }
    }
}

/// Ends `student`'s session of `token` everywhere (idempotent).
pub async fn logout(s: &Services, student: i64, token: &str) -> Result<(), SessionError> {
    s.sessions.delete(student, token).await
}

/// Ends every session of `student` ("log out everywhere": a lost phone, a
/// shared computer); returns how many there were.
pub async fn logout_all(s: &Services, student: i64) -> Result<usize, SessionError> {
    let ended = s.sessions.delete_all(student).await?;
    tracing::info!(
        student_id = student,
        sessions = ended,
        "logged out everywhere"
    );
    Ok(ended)
}

/// What phases and reserved blocks select the session's student by: from
/// the session (since login), or — for a session older than phases — from
/// the database.
pub async fn cohort(s: &Services, session: &Session) -> Result<Cohort, StoreError> {
    if let Some(c) = &session.cohort {
        return Ok(c.clone());
    }
    let found = students::cohort(&s.db.primary, session.student_id).await?;
    // A student deleted meanwhile matches no phase and no block.
    Ok(found.unwrap_or(Cohort {
        year: 0,
        department: String::new(),
    }))
}
