//! `POST /api/v1/auth/login` and `POST /api/v1/auth/logout`.

use axum::extract::State;
use axum::http::header::SET_COOKIE;
use axum::http::StatusCode;
use axum::response::{AppendHeaders, IntoResponse};
use axum::routing::post;
use axum::{Json, Router};
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
    responses((status = 200, body = LoginResponse), (status = 401, body = ErrorBody, description = "invalid_credentials")))]
#[tracing::instrument(name = "Logging a student in", skip_all, fields(student_no = %body.student_no))]
pub async fn login(
    State(state): State<AppState>,
    ApiJson(body): ApiJson<LoginRequest>,
) -> ApiResult<impl IntoResponse> {
    if body.student_no.len() > 32 || body.password.len() > 1024 {
        return Err(invalid_credentials());
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
        return Err(invalid_credentials());
    };
    if !state.hasher.verify(body.password, hash).await? {
        return Err(invalid_credentials());
    }
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
