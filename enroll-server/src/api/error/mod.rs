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

mod from;

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
    /// 403 for enrollment changes outside the student's phases, with when
    /// one next opens for them.
    #[error("{message}")]
    Gated {
        code: &'static str,
        message: String,
        opens_at: Option<chrono::DateTime<chrono::Utc>>,
    },
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
    /// 503 with `Retry-After`: this instance is saturated, or Redis is
    /// failing over; come back after this long.
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
            Self::Forbidden { code, .. } | Self::Gated { code, .. } => {
                (StatusCode::FORBIDDEN, code)
            }
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
    /// With `registration_closed` and `not_your_phase`: when a phase next
    /// opens for the student (absent when none will).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub opens_at: Option<chrono::DateTime<chrono::Utc>>,
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
        let opens_at = match &self {
            Self::Gated { opens_at, .. } => *opens_at,
            _ => None,
        };
        let body = ErrorBody {
            error: ErrorDetail {
                code: code.to_string(),
                message,
                opens_at,
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

/// 404: no such course.
pub fn course_not_found() -> ApiError {
    ApiError::not_found("course_not_found", "no such course")
}

pub type ApiResult<T> = Result<T, ApiError>;
