//! Enroll, list and cancel enrollments.

use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::{delete, post};
use axum::{Json, Router};
use serde::Deserialize;
use utoipa::ToSchema;

use super::caller::{ClientAddr, CurrentStudent};
use super::error::{ApiResult, ErrorBody};
use super::extract::{ApiJson, ApiPath};
use super::tickets::Ticket;
use crate::domain::enrollment::Enrollment;
use crate::service::enrollment;
use crate::state::AppState;
use crate::store::enrollments;
use crate::ticket::TicketStatus;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/api/v1/enrollments", post(enroll).get(list))
        .route("/api/v1/enrollments/{course_id}", delete(cancel))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct EnrollRequest {
    #[serde(deserialize_with = "crate::domain::whole::number")]
    pub course_id: i64,
}

/// Joins the course's waiting queue: 202 with a ticket and place, after two
/// Redis round trips (the student's fair-use check, the enqueue). Retrying returns the same ticket and place — until the
/// course is flagged full: from then on this instance refuses every request
/// for it with `course_full` from memory (a queued retry's ticket will be
/// rejected `course_full` too; a student holding a seat sees their seat in
/// their enrollments), until seats are freed anywhere.
#[utoipa::path(post, path = "/api/v1/enrollments", request_body = EnrollRequest,
    security(("student_session" = [])),
    responses((status = 202, body = Ticket), (status = 401, body = ErrorBody),
              (status = 403, body = ErrorBody, description = "registration_closed, not_your_phase"),
              (status = 404, body = ErrorBody, description = "course_not_found"),
              (status = 409, body = ErrorBody, description = "already_enrolled, course_full, too_many_open_tickets"),
              (status = 429, body = ErrorBody, description = "rate_limited")))]
pub async fn enroll(
    State(state): State<AppState>,
    student: CurrentStudent,
    client: ClientAddr,
    ApiJson(req): ApiJson<EnrollRequest>,
) -> ApiResult<(StatusCode, Json<Ticket>)> {
    let q = enrollment::enroll(&state, &student.session, req.course_id, client.0).await?;
    Ok((
        StatusCode::ACCEPTED,
        Json(Ticket {
            ticket: q.ticket.to_string(),
            course_id: q.ticket.course_id,
            status: TicketStatus::Queued,
            reason: None,
            position: Some(q.position),
            eta_ms: q.eta_ms,
            admission_paused: q.admission_paused,
        }),
    ))
}

/// The student's enrollments, fresh (read from the primary).
#[utoipa::path(get, path = "/api/v1/enrollments", security(("student_session" = [])),
    responses((status = 200, body = Vec<Enrollment>), (status = 401, body = ErrorBody)))]
pub async fn list(
    State(state): State<AppState>,
    student: CurrentStudent,
) -> ApiResult<Json<Vec<Enrollment>>> {
    Ok(Json(
        enrollments::of_student(&state.db.primary, student.session.student_id).await?,
    ))
}

/// Gives a seat back; the next student in line can take it.
#[utoipa::path(delete, path = "/api/v1/enrollments/{course_id}",
    params(("course_id" = i64, Path, description = "The course to give the seat back in")),
    security(("student_session" = [])),
    responses((status = 204), (status = 403, body = ErrorBody, description = "registration_closed, not_your_phase"),
              (status = 404, body = ErrorBody, description = "not_enrolled")))]
pub async fn cancel(
    State(state): State<AppState>,
    student: CurrentStudent,
    client: ClientAddr,
    ApiPath(course_id): ApiPath<i64>,
) -> ApiResult<StatusCode> {
    enrollment::cancel(&state, &student.session, course_id, client.0).await?;
    Ok(StatusCode::NO_CONTENT)
}
