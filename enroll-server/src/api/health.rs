//! `GET /healthz`, `GET /readyz`, `GET /metrics`.

use std::sync::atomic::Ordering;

use axum::extract::State;
use axum::http::{header, StatusCode};
use axum::response::IntoResponse;
use axum::routing::get;
use axum::{Json, Router};
use serde::Serialize;
use utoipa::ToSchema;

use crate::db::ReplicaStatus;
use crate::state::AppState;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/healthz", get(healthz))
        .route("/readyz", get(readyz))
        .route("/metrics", get(metrics))
}

/// The process is alive (no dependency is checked).
#[utoipa::path(get, path = "/healthz", responses((status = 200, description = "ok")))]
pub async fn healthz() -> &'static str {
    "ok"
}

#[derive(Serialize, ToSchema)]
pub struct Readiness {
    /// The instance is stopping: it still answers requests, but a load
    /// balancer should send it no new ones (503 while true).
    pub draining: bool,
    /// `ok` or the reason the primary is unusable.
    pub primary: String,
    /// `ok` or the reason Redis is unusable.
    pub redis: String,
    /// Every replica's state and lag; replicas never make the service unready.
    pub replicas: Vec<ReplicaStatus>,
}

/// Ready when the primary and Redis answer and the instance is not
/// stopping (503 otherwise); reports each replica's state and lag.
#[utoipa::path(get, path = "/readyz",
    responses((status = 200, body = Readiness), (status = 503, body = Readiness)))]
pub async fn readyz(State(state): State<AppState>) -> impl IntoResponse {
    let timeout = std::time::Duration::from_secs(2);
    let primary = tokio::time::timeout(timeout, state.db.ping_primary());
    let mut redis = state.redis.clone();
    let ping_cmd = redis::cmd("PING");
    let ping = tokio::time::timeout(timeout, ping_cmd.query_async::<String>(&mut redis));
    let (primary, ping) = tokio::join!(primary, ping);
    let primary = probe("the primary", primary);
    let mut redis = probe("Redis", ping);
    if redis == "ok" && crate::service::recovery::ensure_trusted(&state).is_err() {
        redis = "error: holds another deployment's data".to_string();
    }
    state.metrics.db_up.set((primary == "ok") as i64);
    state.metrics.redis_up.set((redis == "ok") as i64);
    let draining = state.draining.load(Ordering::Relaxed);
    let status = if primary == "ok" && redis == "ok" && !draining {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    let body = Readiness {
        draining,
        primary,
        redis,
        replicas: state.db.replica_status(),
    };
    (status, Json(body))
}

/// `ok`, or what failed. The cause goes to the log; the probe's answer
/// (public: load balancers read it) says only what failed.
fn probe<T, E: std::fmt::Display>(
    what: &str,
    answer: Result<Result<T, E>, tokio::time::error::Elapsed>,
) -> String {
    match answer {
        Ok(Ok(_)) => "ok",
        Ok(Err(e)) => {
            tracing::warn!(error = %e, "readiness: {what} does not answer");
            "error: unreachable"
        }
        Err(_) => "error: timed out",
    }
    .to_string()
}

/// Prometheus text exposition of this process's metrics.
#[utoipa::path(get, path = "/metrics", responses((status = 200, description = "Prometheus text format")))]
pub async fn metrics(State(state): State<AppState>) -> impl IntoResponse {
    // Pool sizes as of this scrape (the health monitor also sets them, but
    // only once per check interval).
    state.db.update_pool_gauges();
    (
        [(
            header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )],
        state.metrics.render(),
    )
}
