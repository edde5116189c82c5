//! `POST /api/v1/auth/login`, `POST /api/v1/auth/logout` and
//! `POST /api/v1/auth/logout-all`.

use axum::extract::State;
use axum::http::header::SET_COOKIE;
use axum::http::StatusCode;
use axum::response::{AppendHeaders, IntoResponse};
use axum::routing::post;
use axum::{Json, Router};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::caller::{ClientAddr, CurrentStudent};
use super::error::{ApiResult, ErrorBody};
use super::extract::ApiJson;
use crate::domain::student::Student;
use crate::service::accounts;
use crate::session::SessionCookie;
use crate::state::AppState;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/api/v1/auth/login", post(login))
        .route("/api/v1/auth/logout", post(logout))
        .route("/api/v1/auth/logout-all", post(logout_all))
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
               (status = 429, body = ErrorBody, description = "too_many_attempts, rate_limited (with Retry-After)"),
               (status = 503, body = ErrorBody, description = "busy (with Retry-After): password checks queue up")))]
#[tracing::instrument(name = "Logging a student in", skip_all, fields(student_no = %body.student_no))]
pub async fn login(
    State(state): State<AppState>,
    client: ClientAddr,
    ApiJson(body): ApiJson<LoginRequest>,
) -> ApiResult<impl IntoResponse> {
    let accounts::LoggedIn { token, student } =
        accounts::login(&state, client.0, &body.student_no, body.password).await?;
    let cookie = SessionCookie::new(state.settings.cookie_secure).set(&token, state.sessions.ttl());
    Ok((
        AppendHeaders([(SET_COOKIE, cookie)]),
        Json(LoginResponse { student }),
    ))
}

/// Ends the session and clears the cookie.
#[utoipa::path(post, path = "/api/v1/auth/logout", security(("student_session" = [])),
    responses((status = 204), (status = 401, body = ErrorBody, description = "unauthenticated")))]
pub async fn logout(
    State(state): State<AppState>,
    student: CurrentStudent,
) -> ApiResult<impl IntoResponse> {
    accounts::logout(&state, student.session.student_id, &student.token).await?;
    Ok((
        StatusCode::NO_CONTENT,
        AppendHeaders([(
            SET_COOKIE,
            SessionCookie::new(state.settings.cookie_secure).clear(),
        )]),
    ))
}

/// Ends every session of the student, on every device (their event streams
/// close), and clears this browser's cookie.
#[utoipa::path(post, path = "/api/v1/auth/logout-all", security(("student_session" = [])),
    responses((status = 204), (status = 401, body = ErrorBody, description = "unauthenticated")))]
pub async fn logout_all(
    State(state): State<AppState>,
    student: CurrentStudent,
) -> ApiResult<impl IntoResponse> {
    accounts::logout_all(&state, student.session.student_id).await?;
    Ok((
        StatusCode::NO_CONTENT,
        AppendHeaders([(
            SET_COOKIE,
            SessionCookie::new(state.settings.cookie_secure).clear(),
        )]),
    ))
}
