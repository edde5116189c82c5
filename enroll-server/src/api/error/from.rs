//! Every lower layer's errors in the API's words: validation, the store,
//! the services. The database's own text never leaves the server.

use super::{course_not_found, ApiError};
use crate::domain::Invalid;
use crate::events::OpenError;
use crate::redis::conn::is_unavailable;
use crate::redis::retry::{Warnings, WARN_EVERY};
use crate::redis::session_store::SessionError;
use crate::service::accounts::LoginError;
use crate::service::admins::AccountError;
use crate::service::cart::CartError;
use crate::service::enrollment::{CancelError, EnrollError, GateError};
use crate::service::fair_use::FairUseError;
use crate::service::overrides::OverrideError;
use crate::service::registrar::RegistrarError;
use crate::service::tickets::TicketReadError;
use crate::service::waitlist::WaitlistError;
use crate::store::{Constraint, StoreError};

impl From<Invalid> for ApiError {
    fn from(e: Invalid) -> Self {
        Self::unprocessable(e.code, e.message)
    }
}

/// A refused change in the API's words; the database's own text is never
/// shown.
impl From<StoreError> for ApiError {
    fn from(err: StoreError) -> Self {
        match err {
            StoreError::Refused(c) => match c {
                Constraint::StudentNoTaken => {
                    Self::conflict("duplicate_student_no", "a student number exists already")
                }
                Constraint::CourseCodeTaken => {
                    Self::conflict("duplicate_code", "a course with this code exists already")
                }
                Constraint::AdminUsernameTaken => Self::conflict(
                    "duplicate_username",
                    "an admin account with this username exists already",
                ),
                Constraint::EnrolledWithinCapacity => Self::conflict(
                    "capacity_below_enrolled",
                    "the capacity is below the seats already taken",
                ),
                Constraint::BlockBelowEnrolled => Self::conflict(
                    "block_below_enrolled",
                    "a block would have fewer seats than students holding them",
                ),
                Constraint::ReservedSeatsTaken => Self::conflict(
                    "reserved_seats_taken",
                    "the open pool has already given away the seats this would reserve or remove",
                ),
                Constraint::ReservedOverCapacity => Self::conflict(
                    "reserved_over_capacity",
                    "the blocks would reserve more seats than the capacity",
                ),
                Constraint::BlockInUse => Self::conflict(
                    "block_in_use",
                    "students hold seats from a block that would be removed",
                ),
                Constraint::OtherUnique => {
                    Self::conflict("conflict", "conflicts with existing data")
                }
                Constraint::OtherCheck => {
                    Self::unprocessable("invalid_field", "a value is outside its allowed range")
                }
            },
            StoreError::Unavailable(err) => {
                tracing::warn!(error = %err, "database unavailable");
                Self::unavailable("database_unavailable", "the database is unavailable")
            }
            StoreError::Failed(err) => {
                Self::Internal(anyhow::Error::new(err).context("database statement failed"))
            }
        }
    }
}

impl From<sqlx::Error> for ApiError {
    fn from(err: sqlx::Error) -> Self {
        StoreError::from(err).into()
    }
}

/// Redis gone, failing over, or answering as a replica: 503 with
/// `Retry-After` (a failover is over in seconds), never 500. Warned about
/// once per [`WARN_EVERY`], with how many were left out: during a
/// failover every request fails.
impl From<redis::RedisError> for ApiError {
    fn from(err: redis::RedisError) -> Self {
        static WARNINGS: Warnings = Warnings::new(WARN_EVERY);
        if is_unavailable(&err) {
            if let Some(left_out) = WARNINGS.due() {
                tracing::warn!(error = %err, left_out, "redis unavailable");
            }
            return ApiError::Busy {
                code: "redis_unavailable",
                message: "the queue service is unavailable".into(),
                retry_after: std::time::Duration::from_secs(1),
            };
        }
        ApiError::Internal(anyhow::Error::new(err).context("redis command failed"))
    }
}

impl From<EnrollError> for ApiError {
    fn from(e: EnrollError) -> Self {
        match e {
            EnrollError::Gate(e) => e.into(),
            EnrollError::CourseNotFound => course_not_found(),
            EnrollError::Full => Self::conflict("course_full", "the course is full"),
            EnrollError::AlreadyEnrolled => {
                Self::conflict("already_enrolled", "you already hold a seat in this course")
            }
            EnrollError::FairUse(e) => e.into(),
            EnrollError::Store(e) => e.into(),
            EnrollError::Redis(e) => e.into(),
        }
    }
}

impl From<CancelError> for ApiError {
    fn from(e: CancelError) -> Self {
        match e {
            CancelError::Gate(e) => e.into(),
            CancelError::NotEnrolled => {
                Self::not_found("not_enrolled", "you hold no seat in this course")
            }
            CancelError::Store(e) => e.into(),
            CancelError::Redis(e) => e.into(),
        }
    }
}

impl From<FairUseError> for ApiError {
    fn from(e: FairUseError) -> Self {
        match e {
            FairUseError::RateLimited { retry_after, .. } => Self::RetryLater {
                code: "rate_limited",
                message: e.to_string(),
                retry_after,
            },
            FairUseError::TooManyOpenTickets { .. } => {
                Self::conflict("too_many_open_tickets", e.to_string())
            }
            FairUseError::Redis(e) => e.into(),
        }
    }
}

impl From<TicketReadError> for ApiError {
    fn from(e: TicketReadError) -> Self {
        match e {
            TicketReadError::FairUse(e) => e.into(),
            TicketReadError::Store(e) => e.into(),
        }
    }
}

impl From<SessionError> for ApiError {
    fn from(e: SessionError) -> Self {
        match e {
            SessionError::Redis(e) => e.into(),
            SessionError::Store(e) => e.into(),
        }
    }
}

impl From<LoginError> for ApiError {
    fn from(e: LoginError) -> Self {
        match e {
            LoginError::InvalidCredentials => {
                Self::unauthorized("invalid_credentials", "student number or password is wrong")
            }
            LoginError::TooManyAttempts { retry_after } => Self::RetryLater {
                code: "too_many_attempts",
                message: "too many failed logins from here; try again later".into(),
                retry_after,
            },
            LoginError::Busy => Self::Busy {
                code: "busy",
                message: "too many logins are waiting; retry in a moment".into(),
                retry_after: std::time::Duration::from_secs(1),
            },
            LoginError::FairUse(e) => e.into(),
            LoginError::Store(e) => e.into(),
            LoginError::Redis(e) => e.into(),
            LoginError::Internal(e) => Self::Internal(e),
        }
    }
}

impl From<RegistrarError> for ApiError {
    fn from(e: RegistrarError) -> Self {
        match e {
            RegistrarError::Invalid(e) => e.into(),
            RegistrarError::CourseNotFound => course_not_found(),
            RegistrarError::StudentNotFound => {
                Self::not_found("student_not_found", "no student has this number")
            }
            RegistrarError::Session(e) => e.into(),
            RegistrarError::Store(e) => e.into(),
            RegistrarError::Redis(e) => e.into(),
            RegistrarError::Internal(e) => Self::Internal(e),
        }
    }
}

impl From<OverrideError> for ApiError {
    fn from(e: OverrideError) -> Self {
        let message = e.to_string();
        match e {
            OverrideError::Invalid(e) => e.into(),
            OverrideError::StudentNotFound => Self::not_found("student_not_found", message),
            OverrideError::CourseNotFound => course_not_found(),
            OverrideError::AlreadyEnrolled => Self::conflict("already_enrolled", message),
            OverrideError::Full => Self::conflict("course_full", message),
            OverrideError::NotEnrolled => Self::not_found("not_enrolled", message),
            OverrideError::Store(e) => e.into(),
            OverrideError::Redis(e) => e.into(),
        }
    }
}

impl From<AccountError> for ApiError {
    fn from(e: AccountError) -> Self {
        match e {
            AccountError::Invalid(e) => e.into(),
            AccountError::NotFound => Self::not_found("admin_not_found", "no such admin account"),
            AccountError::Store(e) => e.into(),
            AccountError::Internal(e) => Self::Internal(e),
        }
    }
}

impl From<OpenError> for ApiError {
    fn from(e: OpenError) -> Self {
        match e {
            OpenError::TooMany => Self::too_many_requests(
                "too_many_streams",
                "close another of your event streams first",
            ),
            OpenError::Closed => Self::unavailable("shutting_down", "the server is stopping"),
        }
    }
}

/// 403: enrollment changes outside the student's phases.
impl From<GateError> for ApiError {
    fn from(e: GateError) -> Self {
        let code = match e {
            GateError::Closed { .. } => "registration_closed",
            GateError::NotYourPhase { .. } => "not_your_phase",
        };
        Self::Gated {
            code,
            message: e.to_string(),
            opens_at: e.opens_at(),
        }
    }
}

impl From<CartError> for ApiError {
    fn from(e: CartError) -> Self {
        let message = e.to_string();
        match e {
            CartError::Invalid(e) => e.into(),
            CartError::Closed => Self::forbidden("cart_closed", message),
            CartError::CourseNotFound => course_not_found(),
            CartError::AlreadyInCart => Self::conflict("already_in_cart", message),
            CartError::NotInCart => Self::not_found("not_in_cart", message),
            CartError::CartFull => Self::conflict("cart_full", message),
            CartError::Settled => Self::conflict("cart_settled", message),
            CartError::Store(e) => e.into(),
        }
    }
}

impl From<WaitlistError> for ApiError {
    fn from(e: WaitlistError) -> Self {
        let message = e.to_string();
        match e {
            WaitlistError::Gate(e) => e.into(),
            WaitlistError::CourseNotFound => course_not_found(),
            WaitlistError::Off => Self::conflict("waitlist_off", message),
            WaitlistError::AlreadyEnrolled => Self::conflict("already_enrolled", message),
            WaitlistError::AlreadyWaiting => Self::conflict("already_waitlisted", message),
            WaitlistError::SeatsLeft => Self::conflict("seats_left", message),
            WaitlistError::Full => Self::conflict("waitlist_full", message),
            WaitlistError::NotWaiting => Self::not_found("not_waitlisted", message),
            WaitlistError::NoOffer => Self::not_found("no_offer", message),
            WaitlistError::Expired => Self::conflict("offer_expired", message),
            WaitlistError::Store(e) => e.into(),
            WaitlistError::Redis(e) => e.into(),
        }
    }
}
