//! The registrar's overrides of admission: force-add and force-drop.

use crate::domain::Invalid;
use crate::redis::control::Cancelled;
use crate::state::Services;
use crate::store::audit::By;
use crate::store::overrides::{self, Added, Dropped};
use crate::store::StoreError;
use crate::ticket::TicketId;

use super::enrollment::{promoted, rules, seats_freed};

/// Why an override was refused.
#[derive(Debug, thiserror::Error)]
pub enum OverrideError {
    #[error(transparent)]
    Invalid(#[from] Invalid),
    #[error("no student has this number")]
    StudentNotFound,
    #[error("no such course")]
    CourseNotFound,
    #[error("the student already holds a seat in this course")]
    AlreadyEnrolled,
    #[error(
        "no seat is left for this student; send over_capacity: true to add one beyond the capacity"
    )]
    Full,
    #[error("the student holds no seat in this course")]
    NotEnrolled,
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Redis(#[from] redis::RedisError),
}

/// An override's reason: what the audit trail keeps, 1 to 500 characters.
pub fn check_reason(reason: &str) -> Result<(), Invalid> {
    let n = reason.chars().count();
    if reason.trim().is_empty() || n > 500 || reason.contains('\0') {
        return Err(Invalid::new(
            "reason_required",
            "give a reason of 1 to 500 characters",
        ));
    }
    Ok(())
}

/// Gives a student a seat, beyond the capacity only with `over_capacity`.
pub async fn force_add(
    s: &Services,
    student_no: &str,
    course: i64,
    over_capacity: bool,
    reason: &str,
    by: By<'_>,
) -> Result<Added, OverrideError> {
    check_reason(reason)?;
    let announce = s.settings.mail.is_some();
    let added = overrides::force_add(
        &s.db.primary,
        student_no,
        course,
        over_capacity,
        reason,
        by,
        announce,
    )
    .await?;
    match added {
        Added::Seat { student_id, .. } => {
            tracing::info!(
                course_id = course,
                student_id,
                admin = by.name,
                "force-added"
            );
            Ok(added)
        }
        Added::NoStudent => Err(OverrideError::StudentNotFound),
        Added::NoCourse => Err(OverrideError::CourseNotFound),
        Added::AlreadyEnrolled => Err(OverrideError::AlreadyEnrolled),
        Added::Full => Err(OverrideError::Full),
    }
}

/// Takes a student's seat away; the next student in line can take it.
pub async fn force_drop(
    s: &Services,
    student_no: &str,
    course: i64,
    reason: &str,
    by: By<'_>,
) -> Result<(), OverrideError> {
    check_reason(reason)?;
    let phases = s.catalog.phases();
    let rules = rules(s, &phases);
    let dropped =
        overrides::force_drop(&s.db.primary, student_no, course, reason, by, &rules).await?;
    let (student, ticket) = match dropped {
        Dropped::Seat {
            student_id,
            ticket,
            promoted: moved,
        } => {
            promoted(s, course, &moved).await;
            (student_id, ticket)
        }
        Dropped::NoStudent => return Err(OverrideError::StudentNotFound),
        Dropped::NotEnrolled => return Err(OverrideError::NotEnrolled),
    };
    let seq = ticket.as_deref().and_then(TicketId::parse).map(|t| t.seq);
    seats_freed(s, course, Some(Cancelled { student, seq })).await?;
    tracing::info!(
        course_id = course,
        student_id = student,
        admin = by.name,
        "force-dropped"
    );
    Ok(())
}
