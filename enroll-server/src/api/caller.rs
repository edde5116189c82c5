//! Who is calling: a logged-in student (session cookie) or an admin (token).

use axum::extract::FromRequestParts;
use axum::http::header::{AUTHORIZATION, COOKIE};
use axum::http::request::Parts;
use subtle::ConstantTimeEq;

use super::error::ApiError;
use crate::session::{token_from_cookies, Session};
use crate::state::AppState;

/// The logged-in student; rejects with 401 `unauthenticated` otherwise.
#[derive(Debug, Clone)]
pub struct CurrentStudent {
    pub session: Session,
    /// The cookie's token (logout deletes it).
    pub token: String,
}

impl FromRequestParts<AppState> for CurrentStudent {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        let unauthenticated = || ApiError::unauthenticated();
        let token = parts
            .headers
            .get_all(COOKIE)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .find_map(token_from_cookies)
            .ok_or_else(unauthenticated)?
            .to_string();
        let session = state
            .sessions
            .get(&token)
            .await?
            .ok_or_else(unauthenticated)?;
        Ok(Self { session, token })
    }
}

impl ApiError {
    /// 401 for student routes without a valid session.
    pub fn unauthenticated() -> Self {
        ApiError::unauthorized("unauthenticated", "log in first")
    }
}

/// Proof that the request carried the admin token. 401
/// `admin_token_required` without one, 403 `forbidden` with a wrong one.
#[derive(Debug, Clone, Copy)]
pub struct Admin;

impl FromRequestParts<AppState> for Admin {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        let given = parts
            .headers
            .get(AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "))
            .ok_or_else(|| {
                ApiError::unauthorized(
                    "admin_token_required",
                    "send Authorization: Bearer <admin token>",
                )
            })?;
        let expected = state.settings.admin_token.expose().as_bytes();
        if bool::from(given.trim().as_bytes().ct_eq(expected)) {
            Ok(Admin)
        } else {
            Err(ApiError::forbidden(
                "forbidden",
                "the admin token is not valid",
            ))
        }
    }
}
