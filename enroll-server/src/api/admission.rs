//! Pausing and resuming admission (admin): the queues keep accepting
//! tickets in arrival order, but no seat is decided until admission resumes.
//!
//! For the minutes when deciding would be wrong — a capacity typo found at
//! opening time, a database failover in progress — without closing
//! registration and without losing anyone's place. Every instance obeys
//! (the switch is in Redis) within one poll of its admission runner (20 ms
//! while queues are busy, 250 ms when idle); a batch already in its
//! transaction completes.

use axum::extract::State;
use axum::routing::get;
use axum::{Json, Router};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::caller::{Admin, Registrar};
use super::error::ApiResult;
use super::extract::ApiJson;
use crate::redis::control;
use crate::service::registrar;
use crate::state::AppState;

pub fn router() -> Router<AppState> {
    Router::new().route("/api/v1/admin/admission", get(show).put(set))
}

/// Whether admission is paused.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AdmissionSwitch {
    pub paused: bool,
}

/// Whether admission is paused (admin).
#[utoipa::path(get, path = "/api/v1/admin/admission", security(("admin_token" = [])),
    responses((status = 200, body = AdmissionSwitch)))]
pub async fn show(
    State(state): State<AppState>,
    _admin: Admin,
) -> ApiResult<Json<AdmissionSwitch>> {
    let mut redis = state.redis.clone();
    let paused = control::admission_paused(&mut redis).await?;
    Ok(Json(AdmissionSwitch { paused }))
}

/// Pauses or resumes admission on every instance (admin).
#[utoipa::path(put, path = "/api/v1/admin/admission", request_body = AdmissionSwitch,
    security(("admin_token" = ["registrar"])),
    responses((status = 200, body = AdmissionSwitch)))]
pub async fn set(
    State(state): State<AppState>,
    _registrar: Registrar,
    ApiJson(req): ApiJson<AdmissionSwitch>,
) -> ApiResult<Json<AdmissionSwitch>> {
    registrar::set_admission_paused(&state, req.paused).await?;
    Ok(Json(AdmissionSwitch { paused: req.paused }))
}
