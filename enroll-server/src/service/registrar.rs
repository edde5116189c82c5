//! What the registrar's office changes: courses, students, the window, the
//! admission switch.

use chrono::{DateTime, Utc};
use futures::future::try_join_all;

use super::enrollment::seats_freed;
use crate::domain::course::{Course, CoursePatch, NewCourse};
use crate::domain::student::{ImportedStudent, NewStudent};
use crate::domain::Invalid;
use crate::redis::control;
use crate::state::Services;
use crate::store::{courses, students, window, StoreError};

/// Most courses one request may create (bounded work per request).
pub const MAX_COURSES: usize = 1_000;
/// Most students one import may carry (bounded work per request).
pub const MAX_IMPORT: usize = 5_000;

/// Why a registrar's change was refused.
#[derive(Debug, thiserror::Error)]
pub enum RegistrarError {
    #[error(transparent)]
    Invalid(#[from] Invalid),
    #[error("no such course")]
    CourseNotFound,
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Redis(#[from] redis::RedisError),
    #[error(transparent)]
    Internal(#[from] anyhow::Error),
}

/// Creates the courses in one transaction, all or none.
pub async fn create_courses(
    s: &Services,
    new: &[NewCourse],
) -> Result<Vec<Course>, RegistrarError> {
    if new.is_empty() || new.len() > MAX_COURSES {
        return Err(
            Invalid::new("invalid_body", format!("send 1 to {MAX_COURSES} courses")).into(),
        );
    }
    for c in new {
        c.validate()?;
    }
    let created = courses::create_all(&s.db.primary, new).await?;
    tracing::info!(count = created.len(), "courses created");
    Ok(created)
}

/// Changes a course. Lowering the capacity below the seats already taken is
/// refused by the database itself; raising it lets the line move at once.
pub async fn update_course(
    s: &Services,
    id: i64,
    patch: &CoursePatch,
) -> Result<Course, RegistrarError> {
    patch.validate()?;
    let course = courses::update(&s.db.primary, id, patch)
        .await?
        .ok_or(RegistrarError::CourseNotFound)?;
    if patch.capacity.is_some() {
        // More seats may have opened: clear the full flag, let the line move.
        seats_freed(s, id, None).await?;
        s.catalog
            .refresh(&s.db.primary)
            .await
            .map_err(StoreError::from)?;
    }
    Ok(course)
}

/// Imports students with argon2id hashes of their passwords, all or none.
pub async fn import_students(
    s: &Services,
    new: &[NewStudent],
) -> Result<Vec<ImportedStudent>, RegistrarError> {
    if new.is_empty() || new.len() > MAX_IMPORT {
        let message = format!("send 1 to {MAX_IMPORT} students per request");
        return Err(Invalid::new("invalid_body", message).into());
    }
    for student in new {
        student.validate()?;
    }
    let hashes = try_join_all(new.iter().map(|st| s.hasher.hash(st.password.clone()))).await?;
    let rows = students::import(&s.db.primary, new, &hashes).await?;
    tracing::info!(count = rows.len(), "students imported");
    Ok(rows)
}

/// Sets the registration window (every instance follows within a second;
/// this one at once).
pub async fn set_window(
    s: &Services,
    opens_at: DateTime<Utc>,
    closes_at: DateTime<Utc>,
) -> Result<(), RegistrarError> {
    if closes_at <= opens_at {
        return Err(Invalid::new("invalid_window", "closes_at must be after opens_at").into());
    }
    window::set(&s.db.primary, opens_at, closes_at).await?;
    s.catalog.set_window(opens_at, closes_at);
    tracing::info!(%opens_at, %closes_at, "registration window set");
    Ok(())
}

/// Pauses or resumes admission on every instance.
pub async fn set_admission_paused(s: &Services, paused: bool) -> Result<(), RegistrarError> {
    let mut redis = s.redis.clone();
    control::set_admission_paused(&mut redis, paused).await?;
    s.admission_paused.set(paused);
    tracing::warn!(paused, "admission switched by an admin");
    Ok(())
}
