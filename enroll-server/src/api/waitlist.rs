//! Waitlists: a full course's ordered list, and seats offered from it.

use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::{delete, get, post};
use axum::{Json, Router};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::caller::CurrentStudent;
use super::error::{ApiResult, ErrorBody};
use super::extract::{ApiObject, ApiPath};
use crate::service::waitlist;
use crate::state::AppState;
use crate::store::waitlist::Place;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/api/v1/waitlist", get(list).post(join))
        .route("/api/v1/waitlist/{course_id}", delete(leave))
        .route("/api/v1/waitlist/{course_id}/accept", post(accept))
        .route("/api/v1/waitlist/{course_id}/decline", post(decline))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct JoinRequest {
    #[serde(deserialize_with = "crate::domain::whole::number")]
    pub course_id: i64,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Joined {
    pub course_id: i64,
    /// 1-based place in line.
    pub position: i64,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Waitlists {
    /// Places in line, then seats offered (accept before `offer_expires_at`).
    pub items: Vec<Place>,
}

/// Joins a full course's waitlist. A freed seat goes to the head: enrolled
/// at once, or offered until a deadline (by course); a head the credit
/// limit, the timetable or their phases rule out is taken off the list.
#[utoipa::path(post, path = "/api/v1/waitlist", request_body = JoinRequest,
    security(("student_session" = [])),
    responses((status = 201, body = Joined),
              (status = 403, body = ErrorBody, description = "registration_closed, not_your_phase"),
              (status = 404, body = ErrorBody, description = "course_not_found"),
              (status = 409, body = ErrorBody, description = "seats_left, already_enrolled, already_waitlisted, waitlist_full, waitlist_off")))]
pub async fn join(
    State(state): State<AppState>,
    student: CurrentStudent,
    ApiObject(req): ApiObject<JoinRequest>,
) -> ApiResult<(StatusCode, Json<Joined>)> {
    let position = waitlist::join(&state, &student.session, req.course_id).await?;
    Ok((
        StatusCode::CREATED,
        Json(Joined {
            course_id: req.course_id,
            position,
        }),
    ))
}

/// The student's places in line and seats offered to them.
#[utoipa::path(get, path = "/api/v1/waitlist", security(("student_session" = [])),
    responses((status = 200, body = Waitlists)))]
pub async fn list(
    State(state): State<AppState>,
    student: CurrentStudent,
) -> ApiResult<Json<Waitlists>> {
    let items = waitlist::mine(&state, student.session.student_id).await?;
    Ok(Json(Waitlists { items }))
}

/// Leaves a waitlist.
#[utoipa::path(delete, path = "/api/v1/waitlist/{course_id}", security(("student_session" = [])),
    params(("course_id" = i64, Path, description = "The course's id")),
    responses((status = 204), (status = 404, body = ErrorBody, description = "not_waitlisted")))]
pub async fn leave(
    State(state): State<AppState>,
    student: CurrentStudent,
    ApiPath(course_id): ApiPath<i64>,
) -> ApiResult<StatusCode> {
    waitlist::leave(&state, student.session.student_id, course_id).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Accepts the seat offered in a course, before its deadline.
#[utoipa::path(post, path = "/api/v1/waitlist/{course_id}/accept", security(("student_session" = [])),
    params(("course_id" = i64, Path, description = "The course's id")),
    responses((status = 204), (status = 404, body = ErrorBody, description = "no_offer"),
              (status = 409, body = ErrorBody, description = "offer_expired")))]
pub async fn accept(
    State(state): State<AppState>,
    student: CurrentStudent,
    ApiPath(course_id): ApiPath<i64>,
) -> ApiResult<StatusCode> {
    waitlist::accept(&state, student.session.student_id, course_id).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Declines the seat offered in a course; the next in line gets it.
#[utoipa::path(post, path = "/api/v1/waitlist/{course_id}/decline", security(("student_session" = [])),
    params(("course_id" = i64, Path, description = "The course's id")),
    responses((status = 204), (status = 404, body = ErrorBody, description = "no_offer")))]
pub async fn decline(
    State(state): State<AppState>,
    student: CurrentStudent,
    ApiPath(course_id): ApiPath<i64>,
) -> ApiResult<StatusCode> {
    waitlist::decline(&state, student.session.student_id, course_id).await?;
    Ok(StatusCode::NO_CONTENT)
}
