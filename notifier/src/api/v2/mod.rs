//! Alertmanager's API v2 (`api/v2/openapi.yaml` of prometheus/alertmanager),
//! the parts Prometheus, amtool and Grafana's Alertmanager data source use.
//!
//! Layout: `common` (error answers, bodies, times) and `query` (query
//! parameters, filters) are leaves; `alerts`, `silences` and `status` hold
//! the handlers; this module only wires them.

mod alerts;
mod common;
mod query;
mod silences;
mod status;

use crate::notifier::Notifier;
use axum::routing::get;
use axum::Router;

/// The v2 routes, with the notifier as state.
pub fn router(notifier: Notifier) -> Router {
    Router::new()
        .route("/api/v2/status", get(status::get_status))
        .route("/api/v2/receivers", get(status::get_receivers))
        .route(
            "/api/v2/alerts",
            get(alerts::get_alerts).post(alerts::post_alerts),
        )
        .route("/api/v2/alerts/groups", get(alerts::get_groups))
        .route(
            "/api/v2/silences",
            get(silences::get_silences).post(silences::post_silences),
        )
        .route(
            "/api/v2/silence/{id}",
            get(silences::get_silence).delete(silences::delete_silence),
        )
        .with_state(notifier)
}
