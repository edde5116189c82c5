//! The registrar's overrides and the audit trail: force-add, force-drop,
//! the trail itself, and each student's own history.

use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::{delete, get, post};
use axum::{Json, Router};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::caller::{Admin, ClientAddr, CurrentStudent, Registrar};
use super::error::{ApiError, ApiResult, ErrorBody};
use super::extract::{ApiObject, ApiPath, ApiQuery};
use crate::service::overrides;
use crate::state::AppState;
use crate::store::audit::{self, By, Event, Filter};
use crate::store::overrides::Added;

/// The registrar's routes.
pub fn admin_router() -> Router<AppState> {
    Router::new()
        .route("/api/v1/admin/enrollments", post(force_add))
        .route(
            "/api/v1/admin/enrollments/{student_no}/{course_id}",
            delete(force_drop),
        )
        .route("/api/v1/admin/audit", get(trail))
}

/// The student's own history.
pub fn student_router() -> Router<AppState> {
    Router::new().route("/api/v1/me/history", get(history))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ForceAdd {
    #[schema(min_length = 1, max_length = 32, pattern = r"^[^\u0000]*$")]
    pub student_no: String,
    #[serde(deserialize_with = "crate::domain::whole::number")]
    pub course_id: i64,
    /// Why (kept in the audit trail), 1 to 500 characters.
    #[schema(
        min_length = 1,
        max_length = 500,
        pattern = r"^[^\u0000]*[^\s\u0000][^\u0000]*$"
    )]
    pub reason: String,
    /// Add beyond the capacity when no seat is left for the student.
    #[serde(default)]
    pub over_capacity: bool,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ForceAdded {
    pub student_no: String,
    pub course_id: i64,
    /// The block the seat came from (absent: the open pool or beyond the
    /// capacity).
    pub block: Option<String>,
    pub over_capacity: bool,
}

/// Force-adds a student to a course (registrar): a seat from a block they
/// qualify for or the open pool, else — only with `over_capacity: true` —
/// beyond the capacity. Credit limit and timetable are not checked.
#[utoipa::path(post, path = "/api/v1/admin/enrollments", request_body = ForceAdd,
    security(("admin_token" = ["registrar"])),
    responses((status = 201, body = ForceAdded),
              (status = 404, body = ErrorBody, description = "student_not_found, course_not_found"),
              (status = 409, body = ErrorBody, description = "already_enrolled, course_full"),
              (status = 422, body = ErrorBody, description = "reason_required, invalid_body")))]
pub async fn force_add(
    State(state): State<AppState>,
    Registrar(admin): Registrar,
    client: ClientAddr,
    ApiObject(req): ApiObject<ForceAdd>,
) -> ApiResult<(StatusCode, Json<ForceAdded>)> {
    let by = By::admin(admin.actor.label(), client.0);
    let added = overrides::force_add(
        &state,
        &req.student_no,
        req.course_id,
        req.over_capacity,
        &req.reason,
        by,
    )
    .await?;
    let Added::Seat {
        block,
        over_capacity,
        ..
    } = added
    else {
        return Err(ApiError::Internal(anyhow::anyhow!(
            "force-add gave no seat"
        )));
    };
    Ok((
        StatusCode::CREATED,
        Json(ForceAdded {
            student_no: req.student_no,
            course_id: req.course_id,
            block,
            over_capacity,
        }),
    ))
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct DropParams {
    /// Why (kept in the audit trail), 1 to 500 characters.
    #[param(
        min_length = 1,
        max_length = 500,
        pattern = r"^[^\u0000]*[^\s\u0000][^\u0000]*$"
    )]
    pub reason: String,
}

/// Force-drops a student's seat (registrar); the next student in line can
/// take it.
#[utoipa::path(delete, path = "/api/v1/admin/enrollments/{student_no}/{course_id}",
    params(("student_no" = String, Path), ("course_id" = i64, Path), DropParams),
    security(("admin_token" = ["registrar"])),
    responses((status = 204),
              (status = 404, body = ErrorBody, description = "student_not_found, not_enrolled"),
              (status = 422, body = ErrorBody, description = "reason_required, invalid_query")))]
pub async fn force_drop(
    State(state): State<AppState>,
    Registrar(admin): Registrar,
    client: ClientAddr,
    ApiPath((student_no, course_id)): ApiPath<(String, i64)>,
    ApiQuery(q): ApiQuery<DropParams>,
) -> ApiResult<StatusCode> {
    let by = By::admin(admin.actor.label(), client.0);
    overrides::force_drop(&state, &student_no, course_id, &q.reason, by).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct TrailParams {
    /// Only this student's changes.
    #[param(max_length = 32, pattern = r"^[^\u0000]*$")]
    pub student_no: Option<String>,
    /// Only this course's changes.
    pub course_id: Option<i64>,
    /// Only changes from this instant on (RFC 3339).
    pub since: Option<DateTime<Utc>>,
    /// Rows after this id: the `next_after` of the previous page.
    #[param(minimum = 0)]
    pub after: Option<i64>,
    #[param(minimum = 1, maximum = 1000)]
    pub limit: Option<i64>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct TrailPage {
    pub items: Vec<Event>,
    /// Pass as `after` for the next page; absent on the last one.
    pub next_after: Option<i64>,
}

fn page(params: (Option<i64>, Option<i64>)) -> ApiResult<(i64, i64)> {
    let (after, limit) = (params.0.unwrap_or(0), params.1.unwrap_or(100));
    if after < 0 || !(1..=1000).contains(&limit) {
        return Err(ApiError::unprocessable(
            "invalid_query",
            "after must be 0 or more and limit 1 to 1000",
        ));
    }
    Ok((after, limit))
}

fn paged(items: Vec<Event>, limit: i64) -> TrailPage {
    let next_after = (items.len() as i64 == limit)
        .then(|| items.last().map(|e| e.id))
        .flatten();
    TrailPage { items, next_after }
}

/// Pages through the audit trail, oldest first (registrar or viewer).
#[utoipa::path(get, path = "/api/v1/admin/audit", params(TrailParams),
    security(("admin_token" = [])),
    responses((status = 200, body = TrailPage), (status = 404, body = ErrorBody, description = "student_not_found"),
              (status = 422, body = ErrorBody, description = "invalid_query")))]
pub async fn trail(
    State(state): State<AppState>,
    _admin: Admin,
    ApiQuery(q): ApiQuery<TrailParams>,
) -> ApiResult<Json<TrailPage>> {
    let (after, limit) = page((q.after, q.limit))?;
    let pool = &state.db.primary;
    let student_id = match &q.student_no {
        Some(no) => Some(
            crate::store::students::id_of(pool, no)
                .await?
                .ok_or_else(|| {
                    ApiError::not_found("student_not_found", "no student has this number")
                })?,
        ),
        None => None,
    };
    let filter = Filter {
        student_id,
        course_id: q.course_id,
        since: q.since,
        after,
        limit,
    };
    Ok(Json(paged(audit::list(pool, &filter).await?, limit)))
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct HistoryParams {
    /// Rows after this id: the `next_after` of the previous page.
    #[param(minimum = 0)]
    pub after: Option<i64>,
    #[param(minimum = 1, maximum = 1000)]
    pub limit: Option<i64>,
}

/// The student's own enrollment history, oldest first: every decision,
/// cancel and registrar's change of their seats, with the reasons (who in
/// the registrar's office and from where stays with the registrar).
#[utoipa::path(get, path = "/api/v1/me/history", params(HistoryParams),
    security(("student_session" = [])),
    responses((status = 200, body = TrailPage), (status = 422, body = ErrorBody, description = "invalid_query")))]
pub async fn history(
    State(state): State<AppState>,
    student: CurrentStudent,
    ApiQuery(q): ApiQuery<HistoryParams>,
) -> ApiResult<Json<TrailPage>> {
    let (after, limit) = page((q.after, q.limit))?;
    let filter = Filter {
        student_id: Some(student.session.student_id),
        after,
        limit,
        ..Filter::default()
    };
    // From the primary: a decision just made must be in it.
    let mut items = audit::list(&state.db.primary, &filter).await?;
    for e in &mut items {
        e.actor = None;
        e.source_addr = None;
    }
    Ok(Json(paged(items, limit)))
}
