//! `POST /api/v1/auth/login` and `POST /api/v1/auth/logout`.

use axum::extract::State;
use axum::http::header::SET_COOKIE;
use axum::http::StatusCode;
use axum::response::{AppendHeaders, IntoResponse};
use axum::routing::post;
use axum::{Json, Router};
use redis::AsyncCommands;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::auth::CurrentStudent;
use crate::domain::student::Student;
use crate::error::{ApiError, ApiResult, ErrorBody};
use crate::extract::ApiJson;
use crate::session::{clear_cookie, set_cookie, Session};
use crate::state::AppState;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/api/v1/auth/login", post(login))
        .route("/api/v1/auth/logout", post(logout))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct LoginRequest {
    pub student_no: String,
    pub password: String,
}

#[derive(Serialize, ToSchema)]
pub struct LoginResponse {
    pub student: Student,
}

/// Logs a student in and sets the HttpOnly session cookie.
#[utoipa::path(post, path = "/api/v1/auth/login", request_body = LoginRequest,
    responses((status = 200, body = LoginResponse), (status = 401, body = ErrorBody, description = "invalid_credentials"),
               (status = 429, body = ErrorBody, description = "too_many_attempts")))]
#[tracing::instrument(name = "Logging a student in", skip_all, fields(student_no = %body.student_no))]
pub async fn login(
    State(state): State<AppState>,
    ApiJson(body): ApiJson<LoginRequest>,
) -> ApiResult<impl IntoResponse> {
    if body.student_no.len() > 32 || body.password.len() > 1024 {
        return Err(invalid_credentials());
    }
    let mut redis = state.redis.clone();
    let failures_key = format!("login_fail:{}", body.student_no);
    let failures: Option<u32> = redis.get(&failures_key).await?;
    if failures.unwrap_or(0) >= MAX_FAILED_LOGINS {
        return Err(ApiError::too_many_requests(
            "too_many_attempts",
            "too many failed logins for this student number; try again in 15 minutes",
        ));
    }
    // Read from the primary: an account imported a moment ago must log in.
    let row: Option<(i64, String, String, String, String)> = sqlx::query_as(
        "SELECT id, student_no, name, email, password_hash FROM students WHERE student_no = $1",
    )
    .bind(&body.student_no)
    .fetch_optional(&state.db.primary)
    .await?;
    let Some((id, student_no, name, email, hash)) = row else {
        // Spend the same time as a real check so timing does not reveal
        // which student numbers exist.
        let dummy = state.hasher.dummy_hash().await?;
        let _ = state.hasher.verify(body.password, dummy).await;
        return Err(count_failure(&mut redis, &failures_key).await);
    };
    if !state.hasher.verify(body.password, hash).await? {
        return Err(count_failure(&mut redis, &failures_key).await);
    }
    let _: () = redis.del(&failures_key).await?;
    let session = Session {
        student_id: id,
        student_no: student_no.clone(),
    };
    let token = state.sessions.create(&session).await?;
    let cookie = set_cookie(&token, state.sessions.ttl(), state.settings.cookie_secure);
    let student = Student {
        id,
        student_no,
        name,
        email,
    };
    Ok((
        AppendHeaders([(SET_COOKIE, cookie)]),
        Json(LoginResponse { student }),
    ))
}

/// Failed logins per student number before logins for it are refused for
/// [`FAILED_LOGIN_WINDOW_SECS`] (online guessing; argon2 only slows it).
pub const MAX_FAILED_LOGINS: u32 = 10;
pub const FAILED_LOGIN_WINDOW_SECS: i64 = 900;

async fn count_failure(redis: &mut redis::aio::ConnectionManager, key: &str) -> ApiError {
    let counted: redis::RedisResult<()> = redis::pipe()
        .incr(key, 1)
        .ignore()
        .expire(key, FAILED_LOGIN_WINDOW_SECS)
        .ignore()
        .query_async(redis)
        .await;
    if let Err(err) = counted {
        tracing::warn!(error = %err, "could not count a failed login");
    }
    invalid_credentials()
}

fn invalid_credentials() -> ApiError {
    ApiError::unauthorized("invalid_credentials", "student number or password is wrong")
}

/// Ends the session and clears the cookie.
#[utoipa::path(post, path = "/api/v1/auth/logout",
    responses((status = 204), (status = 401, body = ErrorBody, description = "unauthenticated")))]
pub async fn logout(
    State(state): State<AppState>,
    student: CurrentStudent,
) -> ApiResult<impl IntoResponse> {
    state.sessions.delete(&student.token).await?;
    Ok((
        StatusCode::NO_CONTENT,
        AppendHeaders([(SET_COOKIE, clear_cookie(state.settings.cookie_secure))]),
    ))
}
