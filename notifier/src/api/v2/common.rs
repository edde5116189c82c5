//! What the v2 handlers share: Alertmanager's error answers, JSON bodies
//! read whatever their content type, and its time format.
//!
//! Alertmanager's handlers answer a refused request with the reason as a
//! JSON string (`"Failed to create silence: …"`), and its generated server
//! refuses a body that is not JSON with `{"code": 400, "message": …}` and
//! one of the wrong shape with `{"code": 602, "message": …}` (422). amtool
//! and Grafana print these bodies as they come, so v2 keeps those shapes
//! rather than the `{"error": code}` of our v1 routes.

use axum::body::Bytes;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use chrono::{DateTime, Utc};
use serde::de::DeserializeOwned;
use serde_json::json;

/// A refused v2 request.
#[derive(Debug, PartialEq)]
pub(crate) enum AmError {
    /// 400, the reason as a JSON string.
    BadRequest(String),
    /// 404, with the reason as a JSON string when Alertmanager gives one.
    NotFound(Option<String>),
    /// 400 `{"code": 400, "message": …}`: a body or parameter that does
    /// not parse.
    Malformed(String),
    /// 422 `{"code": 602, "message": …}`: JSON of the wrong shape.
    Unprocessable(String),
}

impl IntoResponse for AmError {
    fn into_response(self) -> Response {
        match self {
            AmError::BadRequest(m) => (StatusCode::BAD_REQUEST, Json(m)).into_response(),
            AmError::NotFound(Some(m)) => (StatusCode::NOT_FOUND, Json(m)).into_response(),
            AmError::NotFound(None) => StatusCode::NOT_FOUND.into_response(),
            AmError::Malformed(m) => (
                StatusCode::BAD_REQUEST,
                Json(json!({"code": 400, "message": m})),
            )
                .into_response(),
            AmError::Unprocessable(m) => (
                StatusCode::UNPROCESSABLE_ENTITY,
                Json(json!({"code": 602, "message": m})),
            )
                .into_response(),
        }
    }
}

/// Parses a JSON body (any content type): syntax errors are
/// [`AmError::Malformed`], a wrong shape [`AmError::Unprocessable`].
pub(crate) fn parse_body<T: DeserializeOwned>(body: &Bytes, what: &str) -> Result<T, AmError> {
    serde_json::from_slice(body).map_err(|e| {
        let message = format!("parsing {what} body failed: {e}");
        match e.classify() {
            serde_json::error::Category::Data => AmError::Unprocessable(message),
            _ => AmError::Malformed(message),
        }
    })
}

/// Alertmanager's time format: RFC 3339 with milliseconds, UTC.
pub(crate) fn time(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}

/// Go's zero time, for an alert time that is not set.
pub(crate) const ZERO_TIME: &str = "0001-01-01T00:00:00.000Z";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn syntax_and_shape_errors_are_told_apart() {
        let bad = |text: &'static str| parse_body::<Vec<u8>>(&Bytes::from(text), "x").unwrap_err();
        assert!(matches!(bad("[1,"), AmError::Malformed(_)));
        assert!(matches!(bad("{\"a\":1}"), AmError::Unprocessable(_)));
    }
}
