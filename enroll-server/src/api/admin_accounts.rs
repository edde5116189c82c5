//! Named admin accounts: logging in and out, and the registrar's list of
//! accounts. A session's token is sent as `Authorization: Bearer <token>`
//! to every admin route, as the bootstrap token is.

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::routing::{delete, post};
use axum::{Json, Router};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::caller::{bearer_token, Actor, Admin, ClientAddr, Registrar, Role};
use super::error::{ApiError, ApiResult, ErrorBody};
use super::extract::{ApiObject, ApiPath};
use crate::domain::admin::{AdminAccount, NewAdmin};
use crate::service::accounts::LoginError;
use crate::service::admins;
use crate::state::AppState;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/api/v1/admin/auth/login", post(login))
        .route("/api/v1/admin/auth/logout", post(logout))
        .route("/api/v1/admin/accounts", post(create).get(list))
        .route("/api/v1/admin/accounts/{username}", delete(remove))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AdminLoginRequest {
    pub username: String,
    pub password: String,
}

/// A started admin session.
#[derive(Serialize, ToSchema)]
pub struct AdminLoginResponse {
    /// Send as `Authorization: Bearer <token>`; it is never shown again.
    pub token: String,
    /// When the session ends (`ENROLL_ADMIN_SESSION_TTL_SECS` after login).
    pub expires_at: DateTime<Utc>,
    pub username: String,
    pub role: Role,
}

/// Logs an admin account in: a bearer token for the admin routes. Wrong
/// usernames and wrong passwords get the same answer after the same work.
#[utoipa::path(post, path = "/api/v1/admin/auth/login", request_body = AdminLoginRequest,
    responses((status = 200, body = AdminLoginResponse),
              (status = 401, body = ErrorBody, description = "invalid_credentials"),
              (status = 429, body = ErrorBody, description = "too_many_attempts, rate_limited (with Retry-After)"),
              (status = 503, body = ErrorBody, description = "busy (with Retry-After): password checks queue up")))]
#[tracing::instrument(name = "Logging an admin in", skip_all, fields(username = %body.username))]
pub async fn login(
    State(state): State<AppState>,
    client: ClientAddr,
    ApiObject(body): ApiObject<AdminLoginRequest>,
) -> ApiResult<Json<AdminLoginResponse>> {
    let admins::AdminLogin {
        token,
        expires_at,
        username,
        role,
    } = admins::login(&state, client.0, &body.username, body.password)
        .await
        .map_err(|e| match e {
            LoginError::InvalidCredentials => {
                ApiError::unauthorized("invalid_credentials", "username or password is wrong")
            }
            other => other.into(),
        })?;
    Ok(Json(AdminLoginResponse {
        token,
        expires_at,
        username,
        role,
    }))
}

/// Ends the admin session whose token is sent: it no longer works on any
/// instance. The bootstrap token has no session (409 `no_session`):
/// change `ENROLL_ADMIN_TOKEN` to revoke it.
#[utoipa::path(post, path = "/api/v1/admin/auth/logout", security(("admin_token" = [])),
    responses((status = 204, description = "the session ended"),
              (status = 409, body = ErrorBody, description = "no_session: sent with the bootstrap token")))]
pub async fn logout(
    State(state): State<AppState>,
    admin: Admin,
    headers: HeaderMap,
) -> ApiResult<StatusCode> {
    if admin.actor == Actor::Token {
        return Err(ApiError::conflict(
            "no_session",
            "the bootstrap token has no session to end",
        ));
    }
    let token = bearer_token(&headers).unwrap_or_default();
    admins::logout(&state, token).await?;
    tracing::info!(admin = %admin.actor, "admin logged out");
    Ok(StatusCode::NO_CONTENT)
}

/// Creates an admin account (registrar). Its password is stored as an
/// argon2id hash; `created_by` names who asked (`token` for the bootstrap
/// token).
#[utoipa::path(post, path = "/api/v1/admin/accounts", request_body = NewAdmin,
    security(("admin_token" = ["registrar"])),
    responses((status = 201, body = AdminAccount),
              (status = 409, body = ErrorBody, description = "duplicate_username"),
              (status = 422, body = ErrorBody, description = "invalid_field, weak_password, invalid_body")))]
pub async fn create(
    State(state): State<AppState>,
    Registrar(admin): Registrar,
    ApiObject(body): ApiObject<NewAdmin>,
) -> ApiResult<(StatusCode, Json<AdminAccount>)> {
    let created = admins::create(&state, &admin.actor, body).await?;
    Ok((StatusCode::CREATED, Json(created)))
}

/// Every admin account, by username (never a password or its hash).
#[utoipa::path(get, path = "/api/v1/admin/accounts", security(("admin_token" = [])),
    responses((status = 200, body = Vec<AdminAccount>)))]
pub async fn list(
    State(state): State<AppState>,
    _admin: Admin,
) -> ApiResult<Json<Vec<AdminAccount>>> {
    Ok(Json(admins::list(&state).await?))
}

/// Deletes an admin account (registrar); every session of it ends at once.
#[utoipa::path(delete, path = "/api/v1/admin/accounts/{username}",
    params(("username" = String, Path, description = "The account's username")),
    security(("admin_token" = ["registrar"])),
    responses((status = 204, description = "deleted"),
              (status = 404, body = ErrorBody, description = "admin_not_found")))]
pub async fn remove(
    State(state): State<AppState>,
    Registrar(admin): Registrar,
    ApiPath(username): ApiPath<String>,
) -> ApiResult<StatusCode> {
    admins::delete(&state, &admin.actor, &username).await?;
    Ok(StatusCode::NO_CONTENT)
}
