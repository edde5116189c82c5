//! Every SQL statement the server runs, one module per table or concern.
//!
//! - [`locks`]: the one lock order every writing transaction follows.
//! - [`courses`], [`students`], [`enrollments`], [`phases`]: reads and
//!   writes of each table.
//! - [`outbox`]: the mail outbox — changes written in their own
//!   transaction, digests, claims, retries and parked mail.
//! - [`sessions`]: live sessions and the deployment row, what Redis is
//!   rebuilt from after losing its data.
//! - [`admins`]: admin accounts and their sessions.
//!
//! Statements bind every value as a parameter. Errors come back as
//! [`StoreError`]: a named constraint that refused a change is told apart
//! ([`Constraint`]), so callers can answer it in their own words; the
//! database's own error text never leaves the server.

pub mod admins;
pub mod audit;
pub mod blocks;
pub mod cancel;
pub mod cart;
pub mod courses;
pub mod enrollments;
pub mod locks;
pub mod offers;
pub mod outbox;
pub mod overrides;
pub mod phases;
pub mod sessions;
pub mod students;
pub mod waitlist;
pub mod withheld;

use crate::db::is_unavailable;

/// A constraint that refused a change, by its name in the schema.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Constraint {
    /// `students_student_no_key`: the student number exists already.
    StudentNoTaken,
    /// `courses_code_key`: the course code exists already.
    CourseCodeTaken,
    /// `admins_username_key`: an admin account has this username already.
    AdminUsernameTaken,
    /// `enrolled_within_capacity`: fewer seats than are taken.
    EnrolledWithinCapacity,
    /// `block_enrolled_within_seats`: a block smaller than its students.
    BlockBelowEnrolled,
    /// `pool_within_open_seats`: the open pool has given away seats that
    /// blocks (or a lower capacity) would take back.
    ReservedSeatsTaken,
    /// `blocks_within_capacity`: blocks reserving more than the capacity.
    ReservedOverCapacity,
    /// `enrollments_block_fkey`: a block removed while students hold its
    /// seats.
    BlockInUse,
    /// Another unique constraint.
    OtherUnique,
    /// Another check constraint (input validation should have caught it).
    OtherCheck,
}

impl Constraint {
    fn classify(sqlstate: &str, name: Option<&str>) -> Option<Self> {
        Some(match (sqlstate, name) {
            ("23505", Some("students_student_no_key")) => Self::StudentNoTaken,
            ("23505", Some("courses_code_key")) => Self::CourseCodeTaken,
            ("23505", Some("admins_username_key")) => Self::AdminUsernameTaken,
            ("23505", _) => Self::OtherUnique,
            ("23514", Some("enrolled_within_capacity")) => Self::EnrolledWithinCapacity,
            ("23514", Some("block_enrolled_within_seats")) => Self::BlockBelowEnrolled,
            ("23514", Some("pool_within_open_seats")) => Self::ReservedSeatsTaken,
            ("23514", Some("blocks_within_capacity")) => Self::ReservedOverCapacity,
            ("23503", Some("enrollments_block_fkey")) => Self::BlockInUse,
            ("23514", _) => Self::OtherCheck,
            _ => return None,
        })
    }
}

/// Why a statement failed.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The database cannot be reached (down, restarting, pool exhausted).
    #[error("the database is unavailable")]
    Unavailable(#[source] sqlx::Error),
    /// A constraint refused the change.
    #[error("the change breaks a constraint: {0:?}")]
    Refused(Constraint),
    /// Anything else: a bug or an unexpected state.
    #[error("database statement failed")]
    Failed(#[source] sqlx::Error),
}

impl From<sqlx::Error> for StoreError {
    fn from(err: sqlx::Error) -> Self {
        if let Some(db) = err.as_database_error() {
            let refused = db
                .code()
                .and_then(|code| Constraint::classify(&code, db.constraint()));
            if let Some(c) = refused {
                return Self::Refused(c);
            }
        }
        if is_unavailable(&err) {
            return Self::Unavailable(err);
        }
        Self::Failed(err)
    }
}

pub type StoreResult<T> = Result<T, StoreError>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn constraints_are_told_apart_by_name() {
        use Constraint::*;
        let c = |state, name| Constraint::classify(state, name);
        assert_eq!(
            c("23505", Some("students_student_no_key")),
            Some(StudentNoTaken)
        );
        assert_eq!(c("23505", Some("courses_code_key")), Some(CourseCodeTaken));
        assert_eq!(
            c("23505", Some("admins_username_key")),
            Some(AdminUsernameTaken)
        );
        assert_eq!(c("23505", Some("something_else")), Some(OtherUnique));
        assert_eq!(
            c("23514", Some("enrolled_within_capacity")),
            Some(EnrolledWithinCapacity)
        );
        assert_eq!(c("23514", None), Some(OtherCheck));
        assert_eq!(
            c("23514", Some("pool_within_open_seats")),
            Some(ReservedSeatsTaken)
        );
        assert_eq!(c("23503", Some("enrollments_block_fkey")), Some(BlockInUse));
        assert_eq!(c("40001", None), None);
    }
}
