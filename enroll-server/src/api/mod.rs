//! The HTTP API: one router per resource, merged in [`router`]. Handlers
//! map a request to a service or store call and its result back; nothing
//! below this module knows about HTTP.
//!
//! - [`auth`], [`me`], [`courses`], [`enrollments`], [`tickets`],
//!   [`window`]: what students use.
//! - [`admin`], [`admission`]: the registrar's routes (admin token).
//! - [`health`], [`docs`]: probes, metrics, the OpenAPI document.
//! - [`error`]: the one API error type, and the mapping of every lower
//!   layer's errors to it.
//! - [`extract`], [`caller`]: extractors that turn bad input into coded
//!   errors, and who is calling (student session or admin token).

pub mod admin;
pub mod admission;
pub mod auth;
pub mod caller;
pub mod courses;
pub mod docs;
pub mod enrollments;
pub mod error;
pub mod extract;
pub mod health;
pub mod me;
pub mod tickets;
pub mod window;

use axum::Router;
use tower_http::trace::TraceLayer;

use crate::metrics::track_http;
use crate::state::AppState;

/// The whole HTTP surface.
pub fn router(state: AppState) -> Router {
    Router::new()
        .merge(auth::router())
        .merge(me::router())
        .merge(courses::router())
        .merge(enrollments::router())
        .merge(tickets::router())
        .merge(window::router())
        .merge(admin::router())
        .merge(admission::router())
        .merge(health::router())
        .merge(docs::router())
        .fallback(|| async { error::ApiError::not_found("not_found", "no such route") })
        .layer(axum::middleware::from_fn_with_state(
            state.metrics.clone(),
            track_http,
        ))
        .layer(TraceLayer::new_for_http())
        .with_state(state)
}
