//! When whom may enroll: the phases, and the registration window (the
//! simple case: one phase for everyone).

use axum::extract::State;
use axum::routing::{get, put};
use axum::{Json, Router};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::caller::{Admin, MaybeStudent, Registrar};
use super::error::{ApiError, ApiResult, ErrorBody};
use super::extract::ApiJson;
use crate::domain::objects::objects;
use crate::domain::phase::{self, Phase, PhaseInput};
use crate::service::{accounts, registrar};
use crate::state::AppState;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/api/v1/registration-window", get(show))
        .route("/api/v1/admin/registration-window", put(set))
        .route("/api/v1/admin/phases", put(set_phases).get(list_phases))
}

#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct WindowRequest {
    /// RFC 3339, e.g. 2026-02-10T09:00:00+09:00.
    pub opens_at: DateTime<Utc>,
    pub closes_at: DateTime<Utc>,
}

/// A phase as the countdown page shows it.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct PhaseView {
    pub name: String,
    pub opens_at: DateTime<Utc>,
    pub closes_at: DateTime<Utc>,
    pub open: bool,
    /// Years it is for (absent: every year).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub years: Option<Vec<i16>>,
    /// Departments it is for (absent: every department).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub departments: Option<Vec<String>>,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Window {
    /// The phase shown: the one open now, else the next to open, else the
    /// last that closed. For a logged-in student only their own phases
    /// count; for anyone else every phase.
    pub opens_at: Option<DateTime<Utc>>,
    pub closes_at: Option<DateTime<Utc>>,
    /// Whether enrollment requests are accepted right now (for the student;
    /// anonymously: for anyone).
    pub open: bool,
    /// The name of the phase shown.
    pub phase: Option<String>,
    /// The phases counted, in the registrar's order.
    pub phases: Vec<PhaseView>,
    /// The server's clock when it answered: a page counts down to
    /// `opens_at` by it, not by the device's own clock.
    pub now: DateTime<Utc>,
}

/// When registration opens — for the logged-in student, their own phases;
/// for anyone else, every phase (public: the page shows a countdown).
#[utoipa::path(get, path = "/api/v1/registration-window",
    security((), ("student_session" = [])),
    responses((status = 200, body = Window)))]
pub async fn show(State(state): State<AppState>, student: MaybeStudent) -> ApiResult<Json<Window>> {
    // From memory: a countdown page polls this, and the primary has better
    // things to do (the snapshot is at most a second old).
    let phases = state.catalog.phases();
    let now = Utc::now();
    let Some(student) = student.0 else {
        return Ok(Json(evaluate(phases.iter(), now)));
    };
    let session = &student.session;
    let cohort = accounts::cohort(&state, session).await?;
    let theirs = phases
        .iter()
        .filter(|p| p.audience.includes(&session.student_no, &cohort));
    Ok(Json(evaluate(theirs, now)))
}

/// Sets the registration window: one phase, `registration`, for everyone,
/// replacing every phase (admin).
#[utoipa::path(put, path = "/api/v1/admin/registration-window", request_body = WindowRequest,
    security(("admin_token" = ["registrar"])),
    responses((status = 200, body = Window),
               (status = 422, body = ErrorBody, description = "invalid_window")))]
pub async fn set(
    State(state): State<AppState>,
    _registrar: Registrar,
    ApiJson(req): ApiJson<WindowRequest>,
) -> ApiResult<Json<Window>> {
    if req.closes_at <= req.opens_at {
        return Err(ApiError::unprocessable(
            "invalid_window",
            "closes_at must be after opens_at",
        ));
    }
    let phases = vec![Phase::everyone(req.opens_at, req.closes_at)];
    registrar::set_phases(&state, phases.clone()).await?;
    // What was just stored, not read back.
    Ok(Json(evaluate(phases.iter(), Utc::now())))
}

/// Replaces every phase (admin). A student may enroll while any phase that
/// includes them is open; phases that could include the same student must
/// not overlap in time.
#[utoipa::path(put, path = "/api/v1/admin/phases", request_body = Vec<PhaseInput>,
    security(("admin_token" = ["registrar"])),
    responses((status = 200, body = Vec<Phase>),
               (status = 422, body = ErrorBody, description = "invalid_phase, invalid_audience, overlapping_phases, invalid_body")))]
pub async fn set_phases(
    State(state): State<AppState>,
    _registrar: Registrar,
    ApiJson(req): ApiJson<Vec<serde_json::Value>>,
) -> ApiResult<Json<Vec<Phase>>> {
    let req: Vec<PhaseInput> =
        objects(req).map_err(|e| ApiError::unprocessable("invalid_body", e.to_string()))?;
    let phases: Vec<Phase> = req.into_iter().map(Phase::from).collect();
    registrar::set_phases(&state, phases.clone()).await?;
    Ok(Json(phases))
}

/// Every phase with whom it is for (admin).
#[utoipa::path(get, path = "/api/v1/admin/phases", security(("admin_token" = [])),
    responses((status = 200, body = Vec<Phase>)))]
pub async fn list_phases(State(state): State<AppState>, _admin: Admin) -> Json<Vec<Phase>> {
    Json(state.catalog.phases().to_vec())
}

/// The phases counted, evaluated at `now`.
fn evaluate<'a>(phases: impl Iterator<Item = &'a Phase> + Clone, now: DateTime<Utc>) -> Window {
    let shown = phase::window(phases.clone(), now);
    Window {
        opens_at: shown.map(|p| p.opens_at),
        closes_at: shown.map(|p| p.closes_at),
        open: shown.is_some_and(|p| p.is_open(now)),
        phase: shown.map(|p| p.name.clone()),
        // Student numbers stay with the registrar.
        phases: phases
            .map(|p| PhaseView {
                name: p.name.clone(),
                opens_at: p.opens_at,
                closes_at: p.closes_at,
                open: p.is_open(now),
                years: p.audience.years.clone(),
                departments: p.audience.departments.clone(),
            })
            .collect(),
        now,
    }
}
