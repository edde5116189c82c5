//! Courses as the catalogue shows them and as admins create and change them.

use serde::{Deserialize, Serialize};
use sqlx::types::Json;
use utoipa::ToSchema;

use super::schedule::{self, Meeting};
use super::Invalid;

/// A course as the API returns it.
#[derive(Debug, Clone, Serialize, ToSchema, sqlx::FromRow)]
pub struct Course {
    pub id: i64,
    pub code: String,
    pub name: String,
    pub professor: String,
    pub department: String,
    pub credits: i16,
    pub capacity: i32,
    pub enrolled: i32,
    /// Seats left (`capacity - enrolled`).
    pub remaining: i32,
    #[schema(value_type = Vec<Meeting>)]
    pub schedule: Json<Vec<Meeting>>,
}

/// Columns selected for a [`Course`]; `remaining` is derived, never stored.
pub const COURSE_COLUMNS: &str = "id, code, name, professor, department, credits, capacity, \
     enrolled, capacity - enrolled AS remaining, schedule";

/// A course's seats and what a seat in it costs a student: what admission
/// decides against and what the enqueue path knows of every course.
#[derive(Debug, Clone)]
pub struct CourseSeats {
    pub id: i64,
    pub capacity: i32,
    pub enrolled: i32,
    pub credits: i16,
    pub schedule: Vec<Meeting>,
}

impl CourseSeats {
    /// Whether a seat is left.
    pub fn has_seats(&self) -> bool {
        self.capacity > self.enrolled
    }
}

/// A course to create.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewCourse {
    pub code: String,
    pub name: String,
    #[serde(default)]
    pub professor: String,
    #[serde(default)]
    pub department: String,
    pub credits: i16,
    pub capacity: i32,
    #[serde(default)]
    pub schedule: Vec<Meeting>,
}

impl NewCourse {
    pub fn validate(&self) -> Result<(), Invalid> {
        text("code", &self.code, 1, 32)?;
        text("name", &self.name, 1, 200)?;
        text("professor", &self.professor, 0, 200)?;
        text("department", &self.department, 0, 100)?;
        credits(self.credits)?;
        capacity(self.capacity)?;
        schedule::validate(&self.schedule).map_err(|m| Invalid::new("invalid_schedule", m))
    }
}

/// Changes to a course; absent fields stay as they are.
#[derive(Debug, Clone, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CoursePatch {
    pub name: Option<String>,
    pub professor: Option<String>,
    pub department: Option<String>,
    pub credits: Option<i16>,
    pub capacity: Option<i32>,
    pub schedule: Option<Vec<Meeting>>,
}

impl CoursePatch {
    pub fn validate(&self) -> Result<(), Invalid> {
        if let Some(v) = &self.name {
            text("name", v, 1, 200)?;
        }
        if let Some(v) = &self.professor {
            text("professor", v, 0, 200)?;
        }
        if let Some(v) = &self.department {
            text("department", v, 0, 100)?;
        }
        if let Some(v) = self.credits {
            credits(v)?;
        }
        if let Some(v) = self.capacity {
            capacity(v)?;
        }
        if let Some(s) = &self.schedule {
            schedule::validate(s).map_err(|m| Invalid::new("invalid_schedule", m))?;
        }
        Ok(())
    }
}

fn text(field: &str, v: &str, min: usize, max: usize) -> Result<(), Invalid> {
    let n = v.trim().chars().count();
    if n < min || v.chars().count() > max {
        return Err(Invalid::new(
            "invalid_field",
            format!("`{field}` must be {min} to {max} characters"),
        ));
    }
    Ok(())
}

fn credits(v: i16) -> Result<(), Invalid> {
    if !(0..=30).contains(&v) {
        return Err(Invalid::new("invalid_field", "`credits` must be 0 to 30"));
    }
    Ok(())
}

fn capacity(v: i32) -> Result<(), Invalid> {
    if !(0..=100_000).contains(&v) {
        return Err(Invalid::new(
            "invalid_field",
            "`capacity` must be 0 to 100000",
        ));
    }
    Ok(())
}

/// Re-exported for the student module's length checks.
pub(crate) fn check_text(field: &str, v: &str, min: usize, max: usize) -> Result<(), Invalid> {
    text(field, v, min, max)
}
