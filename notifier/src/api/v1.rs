//! Our own API additions: silences in a simpler shape than Alertmanager's,
//! and the delivery queue, log and dead letters. Errors carry a stable
//! `error` code: `{"error": "bad_request", "message": "…"}`.

use crate::notifier::Notifier;
use crate::silence::{NewSilence, SilenceError};
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{delete, get, post};
use axum::{Json, Router};
use serde_json::{json, Value};

/// API failures, each with a stable `error` code in the JSON body.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// The request is invalid.
    #[error("{0}")]
    BadRequest(String),
    /// No such object.
    #[error("{0}")]
    NotFound(String),
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let (status, code) = match &self {
            ApiError::BadRequest(_) => (StatusCode::BAD_REQUEST, "bad_request"),
            ApiError::NotFound(_) => (StatusCode::NOT_FOUND, "not_found"),
        };
        (
            status,
            Json(json!({"error": code, "message": self.to_string()})),
        )
            .into_response()
    }
}

/// The v1 routes, with the notifier as state.
pub fn router(notifier: Notifier) -> Router {
    Router::new()
        .route("/api/v1/silences", post(post_silence).get(get_silences))
        .route("/api/v1/silences/{id}", delete(delete_silence))
        .route("/api/v1/notifications/queue", get(get_queue))
        .route("/api/v1/notifications/log", get(get_log))
        .route("/api/v1/notifications/dead_letters", get(get_dead_letters))
        .route(
            "/api/v1/notifications/dead_letters/{id}/retry",
            post(retry_dead_letter),
        )
        .with_state(notifier)
}

async fn post_silence(
    State(n): State<Notifier>,
    Json(request): Json<NewSilence>,
) -> Result<Json<Value>, ApiError> {
    let id = n.upsert_silence(request).map_err(|e| match e {
        SilenceError::NotFound => ApiError::NotFound(e.to_string()),
        SilenceError::Invalid(m) => ApiError::BadRequest(m),
    })?;
    Ok(Json(json!({"silenceID": id})))
}

async fn get_silences(State(n): State<Notifier>) -> Json<Vec<Value>> {
    let list = n
        .silences()
        .into_iter()
        .map(|(s, state)| {
            let mut v = serde_json::to_value(&s).unwrap_or(Value::Null);
            v["status"] = json!({"state": state});
            v
        })
        .collect();
    Json(list)
}

async fn delete_silence(
    State(n): State<Notifier>,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    n.expire_silence(&id)
        .map_err(|e| ApiError::NotFound(e.to_string()))?;
    Ok(StatusCode::OK)
}

async fn get_queue(State(n): State<Notifier>) -> impl IntoResponse {
    Json(n.queued())
}

async fn get_log(State(n): State<Notifier>) -> impl IntoResponse {
    Json(n.sent_log())
}

async fn get_dead_letters(State(n): State<Notifier>) -> impl IntoResponse {
    Json(n.dead_letters())
}

async fn retry_dead_letter(
    State(n): State<Notifier>,
    Path(id): Path<u64>,
) -> Result<StatusCode, ApiError> {
    if n.retry_dead_letter(id) {
        Ok(StatusCode::OK)
    } else {
        Err(ApiError::NotFound(format!("no dead letter with id {id}")))
    }
}
