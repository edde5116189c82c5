//! Seats as students and registrars see them.

use chrono::{DateTime, Utc};
use serde::Serialize;
use sqlx::types::Json;
use utoipa::ToSchema;

use super::schedule::Meeting;

/// A seat the student holds.
#[derive(Debug, Serialize, ToSchema, sqlx::FromRow)]
pub struct Enrollment {
    pub course_id: i64,
    pub code: String,
    pub name: String,
    pub professor: String,
    pub credits: i16,
    #[schema(value_type = Vec<Meeting>)]
    pub schedule: Json<Vec<Meeting>>,
    pub enrolled_at: DateTime<Utc>,
}

/// A student holding a seat in a course, on its roster.
#[derive(Debug, Serialize, ToSchema, sqlx::FromRow)]
pub struct RosterEntry {
    pub id: i64,
    pub student_no: String,
    pub name: String,
    pub email: String,
    pub enrolled_at: DateTime<Utc>,
}

/// A seat a student already holds, as admission weighs it: its ticket (to
/// recognise a retried batch), credits and meetings.
#[derive(Debug, Clone)]
pub struct HeldSeat {
    pub course_id: i64,
    pub ticket: Option<String>,
    pub credits: i16,
    pub schedule: Vec<Meeting>,
}
