//! The registration window: when enrollment requests are accepted.

use axum::extract::State;
use axum::routing::{get, put};
use axum::{Json, Router};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::service::registrar;
use crate::store::window as stored;
use utoipa::ToSchema;

use super::caller::Registrar;
use super::error::{ApiResult, ErrorBody};
use super::extract::ApiJson;
use crate::state::AppState;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/api/v1/registration-window", get(show))
        .route("/api/v1/admin/registration-window", put(set))
}

#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct WindowRequest {
    /// RFC 3339, e.g. 2026-02-10T09:00:00+09:00.
    pub opens_at: DateTime<Utc>,
    pub closes_at: DateTime<Utc>,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Window {
    pub opens_at: Option<DateTime<Utc>>,
    pub closes_at: Option<DateTime<Utc>>,
    /// Whether enrollment requests are accepted right now.
    pub open: bool,
    /// The server's clock when it answered: a page counts down to
    /// `opens_at` by it, not by the device's own clock.
    pub now: DateTime<Utc>,
}

/// The current window (public: clients show a countdown).
#[utoipa::path(get, path = "/api/v1/registration-window", responses((status = 200, body = Window)))]
pub async fn show(State(state): State<AppState>) -> Json<Window> {
    // From memory: a countdown page polls this, and the primary has better
    // things to do (the snapshot is at most a second old).
    Json(evaluate(state.catalog.window(), Utc::now()))
}

/// Sets the window (admin).
#[utoipa::path(put, path = "/api/v1/admin/registration-window", request_body = WindowRequest,
    security(("admin_token" = ["registrar"])),
    responses((status = 200, body = Window),
               (status = 422, body = ErrorBody, description = "invalid_window")))]
pub async fn set(
    State(state): State<AppState>,
    _registrar: Registrar,
    ApiJson(req): ApiJson<WindowRequest>,
) -> ApiResult<Json<Window>> {
    registrar::set_window(&state, req.opens_at, req.closes_at).await?;
    // What was just stored, not read back.
    Ok(Json(evaluate(
        Some((req.opens_at, req.closes_at)),
        Utc::now(),
    )))
}

/// A stored window, evaluated at `now`.
fn evaluate(stored: Option<stored::Window>, now: DateTime<Utc>) -> Window {
    match stored {
        Some((opens_at, closes_at)) => Window {
            opens_at: Some(opens_at),
            closes_at: Some(closes_at),
            open: opens_at <= now && now < closes_at,
            now,
        },
        None => Window {
            opens_at: None,
            closes_at: None,
            open: false,
            now,
        },
    }
}
