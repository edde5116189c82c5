//! Logging in and out.

use crate::domain::student::Student;
use crate::redis::login_failures;
use crate::session::Session;
use crate::state::Services;
use crate::store::{students, StoreError};

/// Failed logins per student number before logins for it are refused for
/// [`FAILED_LOGIN_WINDOW_SECS`] (online guessing; argon2 only slows it).
pub const MAX_FAILED_LOGINS: u32 = 10;
pub const FAILED_LOGIN_WINDOW_SECS: i64 = 900;

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
    #[error("too many failed logins for this student number")]
    TooManyAttempts,
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Redis(#[from] redis::RedisError),
    #[error(transparent)]
    Internal(#[from] anyhow::Error),
}

/// Checks the password and starts a session.
pub async fn login(
    s: &Services,
    student_no: &str,
    password: String,
) -> Result<LoggedIn, LoginError> {
    if student_no.len() > MAX_STUDENT_NO || password.len() > MAX_PASSWORD {
        return Err(LoginError::InvalidCredentials);
    }
    let mut redis = s.redis.clone();
    if login_failures::count(&mut redis, student_no).await? >= MAX_FAILED_LOGINS {
        return Err(LoginError::TooManyAttempts);
    }
    // Read from the primary: an account imported a moment ago must log in.
    let Some(found) = students::credentials(&s.db.primary, student_no).await? else {
        // Spend the same time as a real check so timing does not reveal
        // which student numbers exist.
        let dummy = s.hasher.dummy_hash().await?;
        let _ = s.hasher.verify(password, dummy).await;
        return Err(failed(s, student_no).await);
    };
    if !s.hasher.verify(password, found.password_hash).await? {
        return Err(failed(s, student_no).await);
    }
    login_failures::clear(&mut redis, student_no).await?;
    let student = found.student;
    let token = s
        .sessions
        .create(&Session {
            student_id: student.id,
            student_no: student.student_no.clone(),
        })
        .await?;
    Ok(LoggedIn { token, student })
}

/// Counts a failed login; the answer is the same whether counting worked.
async fn failed(s: &Services, student_no: &str) -> LoginError {
    let mut redis = s.redis.clone();
    if let Err(err) = login_failures::record(&mut redis, student_no, FAILED_LOGIN_WINDOW_SECS).await
    {
        tracing::warn!(error = %err, "could not count a failed login");
    }
    LoginError::InvalidCredentials
}

/// Ends the session of `token` everywhere (idempotent).
pub async fn logout(s: &Services, token: &str) -> redis::RedisResult<()> {
    s.sessions.delete(token).await
}
