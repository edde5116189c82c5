//! `GET /api/v1/me`: the student, their enrollments and credit total.

use axum::extract::State;
use axum::routing::get;
use axum::{Json, Router};
use serde::Serialize;
use utoipa::ToSchema;

use super::caller::CurrentStudent;
use super::error::{ApiError, ApiResult, ErrorBody};
use crate::domain::enrollment::Enrollment;
use crate::state::AppState;
use crate::store::{enrollments, students};

pub fn router() -> Router<AppState> {
    Router::new().route("/api/v1/me", get(me))
}

#[derive(Serialize, ToSchema)]
pub struct Me {
    pub id: i64,
    pub student_no: String,
    pub name: String,
    pub email: String,
    /// Year of study and department: what phases and reserved seats go by.
    pub year: i16,
    pub department: String,
    pub enrollments: Vec<Enrollment>,
    /// Sum of the credits of every enrolled course.
    pub credits_total: i64,
    /// The term's credit limit.
    pub credit_limit: i32,
}

/// The logged-in student with their enrollments.
///
/// Read from the primary: right after an enrollment or a cancel the student
/// must see it, and a replica may not have replayed it yet. These are
/// primary-key lookups, cheap next to the catalogue reads the replicas take.
#[utoipa::path(get, path = "/api/v1/me", security(("student_session" = [])),
    responses((status = 200, body = Me), (status = 401, body = ErrorBody)))]
pub async fn me(State(state): State<AppState>, student: CurrentStudent) -> ApiResult<Json<Me>> {
    let pool = &state.db.primary;
    let me = students::find(pool, student.session.student_id)
        .await?
        .ok_or_else(ApiError::unauthenticated)?;
    let enrollments = enrollments::of_student(pool, me.id).await?;
    let credits_total = enrollments.iter().map(|e| e.credits as i64).sum();
    Ok(Json(Me {
        id: me.id,
        student_no: me.student_no,
        name: me.name,
        email: me.email,
        year: me.year,
        department: me.department,
        enrollments,
        credits_total,
        credit_limit: state.settings.credit_limit,
    }))
}
