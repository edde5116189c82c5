//! What the registrar's office changes: courses, students, the window, the
//! admission switch.

use futures::future::try_join_all;

use super::enrollment::{rules, seats_freed};
use crate::domain::course::{Course, CoursePatch, NewCourse};
use crate::domain::phase::{self, Phase};
use crate::domain::student::{ImportedStudent, NewStudent, Student, StudentPatch};
use crate::domain::Invalid;
use crate::redis::control;
use crate::state::Services;
use crate::store::audit::By;
use crate::store::{courses, phases, students, StoreError};

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
    #[error("no such student")]
    StudentNotFound,
    #[error(transparent)]
    Session(#[from] crate::redis::session_store::SessionError),
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
    by: By<'_>,
) -> Result<Course, RegistrarError> {
    patch.validate()?;
    let phases = s.catalog.phases();
    let course = courses::update(&s.db.primary, id, patch, by, &rules(s, &phases))
        .await?
        .ok_or(RegistrarError::CourseNotFound)?;
    if patch.capacity.is_some() || patch.reserved.is_some() {
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

/// Changes a student; a new year or department ends their sessions (a
/// session carries both from login, for the phase check).
pub async fn update_student(
    s: &Services,
    student_no: &str,
    patch: &StudentPatch,
) -> Result<Student, RegistrarError> {
    patch.validate()?;
    let student = students::update(&s.db.primary, student_no, patch)
        .await?
        .ok_or(RegistrarError::StudentNotFound)?;
    if patch.changes_cohort() {
        s.sessions.delete_all(student.id).await?;
    }
    tracing::info!(student_id = student.id, "student changed");
    Ok(student)
}

/// Replaces every phase (every instance follows within a second; this one
/// at once).
pub async fn set_phases(s: &Services, new: Vec<Phase>) -> Result<(), RegistrarError> {
    phase::validate(&new)?;
    phases::replace(&s.db.primary, &new).await?;
    let names: Vec<&str> = new.iter().map(|p| p.name.as_str()).collect();
    tracing::info!(?names, "phases set");
    s.catalog.set_phases(new);
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
