//! One error type for the HTTP API, named by outcome.
//!
//! Every error answers `{"error":{"code":"...","message":"..."}}`. The `code`
//! is stable and machine-readable; clients switch on it. Internal errors are
//! logged with their whole cause chain and answered with a generic 500 that
//! reveals nothing.
//!
//! The layers below have errors of their own (validation, the store, the
//! services); this module is the one place that maps them to HTTP.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::Serialize;
use utoipa::ToSchema;

use crate::domain::Invalid;
use crate::events::OpenError;
use crate::redis::session_store::SessionError;
use crate::service::accounts::LoginError;
use crate::service::admins::AccountError;
use crate::service::enrollment::{CancelError, EnrollError};
use crate::service::fair_use::FairUseError;
use crate::service::registrar::RegistrarError;
use crate::service::tickets::TicketReadError;
use crate::store::{Constraint, StoreError};

/// An API failure, mapped to a status and a stable code.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// 400: the body is not JSON, or not the JSON we expect.
    #[error("{message}")]
    BadRequest { code: &'static str, message: String },
    /// 422: well-formed but out-of-range or inconsistent values.
    #[error("{message}")]
    Unprocessable { code: &'static str, message: String },
    /// 401: no valid session or token.
    #[error("{message}")]
    Unauthorized { code: &'static str, message: String },
    /// 403: authenticated but not allowed.
    #[error("{message}")]
    Forbidden { code: &'static str, message: String },
    /// 404.
    #[error("{message}")]
    NotFound { code: &'static str, message: String },
    /// 409: conflicts with the current state (duplicates, full course, ...).
    #[error("{message}")]
    Conflict { code: &'static str, message: String },
    /// 429: slow down (e.g. too many event streams).
    #[error("{message}")]
    TooManyRequests { code: &'static str, message: String },
    /// 429 with `Retry-After`: come back after this long.
    #[error("{message}")]
    RetryLater {
        code: &'static str,
        message: String,
        retry_after: std::time::Duration,
    },
    /// 415: not `Content-Type: application/json`.
    #[error("expected Content-Type: application/json")]
    UnsupportedMediaType,
    /// 503: a dependency (database, Redis) is unavailable.
    #[error("{message}")]
    Unavailable { code: &'static str, message: String },
    /// 503 with `Retry-After`: this instance is saturated; come back after
    /// this long.
    #[error("{message}")]
    Busy {
        code: &'static str,
        message: String,
        retry_after: std::time::Duration,
    },
    /// 500: a bug or an unexpected failure; logged, never shown.
    #[error(transparent)]
    Internal(#[from] anyhow::Error),
}

/// Shorthand constructors, so handlers read as outcomes.
impl ApiError {
    pub fn bad_request(code: &'static str, message: impl Into<String>) -> Self {
        Self::BadRequest {
            code,
            message: message.into(),
        }
    }
    pub fn unprocessable(code: &'static str, message: impl Into<String>) -> Self {
        Self::Unprocessable {
            code,
            message: message.into(),
        }
    }
    pub fn unauthorized(code: &'static str, message: impl Into<String>) -> Self {
        Self::Unauthorized {
            code,
            message: message.into(),
        }
    }
    pub fn forbidden(code: &'static str, message: impl Into<String>) -> Self {
        Self::Forbidden {
            code,
            message: message.into(),
        }
    }
    pub fn not_found(code: &'static str, message: impl Into<String>) -> Self {
        Self::NotFound {
            code,
            message: message.into(),
        }
    }
    pub fn conflict(code: &'static str, message: impl Into<String>) -> Self {
        Self::Conflict {
            code,
            message: message.into(),
        }
    }
    pub fn too_many_requests(code: &'static str, message: impl Into<String>) -> Self {
        Self::TooManyRequests {
            code,
            message: message.into(),
        }
    }
    pub fn unavailable(code: &'static str, message: impl Into<String>) -> Self {
        Self::Unavailable {
            code,
            message: message.into(),
        }
    }

    /// The HTTP status and the stable code.
    pub fn status_and_code(&self) -> (StatusCode, &'static str) {
        match self {
            Self::BadRequest { code, .. } => (StatusCode::BAD_REQUEST, code),
            Self::Unprocessable { code, .. } => (StatusCode::UNPROCESSABLE_ENTITY, code),
            Self::Unauthorized { code, .. } => (StatusCode::UNAUTHORIZED, code),
            Self::Forbidden { code, .. } => (StatusCode::FORBIDDEN, code),
            Self::NotFound { code, .. } => (StatusCode::NOT_FOUND, code),
            Self::Conflict { code, .. } => (StatusCode::CONFLICT, code),
            Self::TooManyRequests { code, .. } | Self::RetryLater { code, .. } => {
                (StatusCode::TOO_MANY_REQUESTS, code)
            }
            Self::UnsupportedMediaType => {
                (StatusCode::UNSUPPORTED_MEDIA_TYPE, "unsupported_media_type")
            }
            Self::Unavailable { code, .. } | Self::Busy { code, .. } => {
                (StatusCode::SERVICE_UNAVAILABLE, code)
            }
            Self::Internal(_) => (StatusCode::INTERNAL_SERVER_ERROR, "internal"),
        }
    }
}

/// The JSON error envelope.
#[derive(Debug, Serialize, ToSchema)]
pub struct ErrorBody {
    pub error: ErrorDetail,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ErrorDetail {
    /// Stable machine-readable code, e.g. `invalid_credentials`.
    pub code: String,
    /// Human-readable explanation; may change between versions.
    pub message: String,
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let (status, code) = self.status_and_code();
        let retry_after = match &self {
            // Whole seconds, rounded up: never earlier than the wait.
            Self::RetryLater { retry_after, .. } | Self::Busy { retry_after, .. } => {
                Some(retry_after.as_secs() + u64::from(retry_after.subsec_nanos() > 0))
            }
            _ => None,
        };
        let message = match &self {
            Self::Internal(err) => {
                tracing::error!(error = ?err, "internal error");
                "internal server error".to_string()
            }
            other => other.to_string(),
        };
        let body = ErrorBody {
            error: ErrorDetail {
                code: code.to_string(),
                message,
            },
        };
        let mut response = (status, Json(body)).into_response();
        if let Some(secs) = retry_after {
            response
                .headers_mut()
                .insert(axum::http::header::RETRY_AFTER, secs.into());
        }
        response
    }
}

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

impl From<redis::RedisError> for ApiError {
    fn from(err: redis::RedisError) -> Self {
        if err.is_io_error()
            || err.is_connection_dropped()
            || err.is_connection_refusal()
            || err.is_timeout()
        {
            tracing::warn!(error = %err, "redis unavailable");
            return ApiError::unavailable("redis_unavailable", "the queue service is unavailable");
        }
        ApiError::Internal(anyhow::Error::new(err).context("redis command failed"))
    }
}

impl From<EnrollError> for ApiError {
    fn from(e: EnrollError) -> Self {
        match e {
            EnrollError::Closed => registration_closed(),
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
            CancelError::Closed => registration_closed(),
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
            RegistrarError::Store(e) => e.into(),
            RegistrarError::Redis(e) => e.into(),
            RegistrarError::Internal(e) => Self::Internal(e),
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

/// 403: enrollment changes outside the registration window.
pub fn registration_closed() -> ApiError {
    ApiError::forbidden("registration_closed", "registration is not open")
}

/// 404: no such course.
pub fn course_not_found() -> ApiError {
    ApiError::not_found("course_not_found", "no such course")
}

pub type ApiResult<T> = Result<T, ApiError>;
