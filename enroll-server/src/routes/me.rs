//! `GET /api/v1/me`: the student, their enrollments and credit total.

use axum::extract::State;
use axum::routing::get;
use axum::{Json, Router};
use chrono::{DateTime, Utc};
use serde::Serialize;
use sqlx::types::Json as SqlJson;
use sqlx::PgPool;
use utoipa::ToSchema;

use crate::auth::CurrentStudent;
use crate::domain::schedule::Meeting;
use crate::error::{ApiError, ApiResult, ErrorBody};
use crate::state::AppState;

pub fn router() -> Router<AppState> {
    Router::new().route("/api/v1/me", get(me))
}

#[derive(Serialize, ToSchema)]
pub struct Me {
    pub id: i64,
    pub student_no: String,
    pub name: String,
    pub email: String,
    pub enrollments: Vec<Enrollment>,
    /// Sum of the credits of every enrolled course.
    pub credits_total: i64,
    /// The term's credit limit.
    pub credit_limit: i32,
}

/// A seat the student holds.
#[derive(Serialize, ToSchema, sqlx::FromRow)]
pub struct Enrollment {
    pub course_id: i64,
    pub code: String,
    pub name: String,
    pub professor: String,
    pub credits: i16,
    #[schema(value_type = Vec<Meeting>)]
    pub schedule: SqlJson<Vec<Meeting>>,
    pub enrolled_at: DateTime<Utc>,
}

/// The logged-in student with their enrollments.
///
/// Read from the primary: right after an enrollment or a cancel the student
/// must see it, and a replica may not have replayed it yet. These are
/// primary-key lookups, cheap next to the catalogue reads the replicas take.
#[utoipa::path(get, path = "/api/v1/me",
    responses((status = 200, body = Me), (status = 401, body = ErrorBody)))]
pub async fn me(State(state): State<AppState>, student: CurrentStudent) -> ApiResult<Json<Me>> {
    let pool = &state.db.primary;
    let (id, student_no, name, email): (i64, String, String, String) =
        sqlx::query_as("SELECT id, student_no, name, email FROM students WHERE id = $1")
            .bind(student.session.student_id)
            .fetch_optional(pool)
            .await?
            .ok_or_else(ApiError::unauthenticated)?;
    let enrollments = enrollments_of(pool, id).await?;
    let credits_total = enrollments.iter().map(|e| e.credits as i64).sum();
    Ok(Json(Me {
        id,
        student_no,
        name,
        email,
        enrollments,
        credits_total,
        credit_limit: state.settings.credit_limit,
    }))
}

/// A student's enrollments, oldest first.
pub async fn enrollments_of(
    pool: &PgPool,
    student_id: i64,
) -> Result<Vec<Enrollment>, sqlx::Error> {
    sqlx::query_as(
        "SELECT c.id AS course_id, c.code, c.name, c.professor, c.credits, c.schedule, e.enrolled_at \
         FROM enrollments e JOIN courses c ON c.id = e.course_id \
         WHERE e.student_id = $1 ORDER BY e.enrolled_at, c.code",
    )
    .bind(student_id)
    .fetch_all(pool)
    .await
}
