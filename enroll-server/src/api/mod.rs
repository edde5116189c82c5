//! The HTTP API: one router per resource, merged in [`router`]. Handlers
//! map a request to a service or store call and its result back; nothing
//! below this module knows about HTTP.
//!
//! - [`auth`], [`me`], [`courses`], [`enrollments`], [`tickets`],
//!   [`window`]: what students use.
//! - [`admin`], [`admission`], [`mail`]: the registrar's routes (admin
//!   token or an admin session); parked enrollment mail.
//! - [`admin_accounts`]: named admin accounts — login, logout, creating,
//!   listing and deleting them.
//! - [`health`], [`docs`]: probes, metrics, the OpenAPI document (the
//!   students' page beside them is [`crate::web`]).
//! - [`error`]: the one API error type, and the mapping of every lower
//!   layer's errors to it.
//! - [`extract`], [`caller`]: extractors that turn bad input into coded
//!   errors, and who is calling (student session, or an admin and their
//!   role).
//! - [`guard`]: what every student route passes first — the request
//!   timeout, the per-address ceiling, the cross-site check.

pub mod admin;
pub mod admin_accounts;
pub mod admission;
pub mod audit;
pub mod auth;
pub mod caller;
pub mod cart;
pub mod courses;
pub mod docs;
pub mod enrollments;
pub mod error;
pub mod extract;
pub mod guard;
pub mod health;
pub mod mail;
pub mod me;
pub mod tickets;
pub mod waitlist;
pub mod window;

use axum::Router;
use tower_http::trace::{DefaultOnFailure, TraceLayer};

use crate::metrics::track_http;
use crate::state::AppState;

/// The whole HTTP surface. The routes anyone can call are answered 503
/// `timeout` when they take longer than the request timeout; the event
/// stream is held open on purpose, and the registrar's routes (an import
/// hashes thousands of passwords) are only called with the admin token.
/// What students call also counts against the per-address ceiling (probes,
/// metrics and the registrar's routes do not), and may change nothing when
/// sent from another site.
pub fn router(state: AppState) -> Router {
    let bounded = |routes: Router<AppState>| {
        routes.route_layer(axum::middleware::from_fn_with_state(
            state.settings.http_request_timeout,
            guard::time_limit,
        ))
    };
    let students = bounded(
        Router::new()
            .merge(auth::router())
            .merge(me::router())
            .merge(audit::student_router())
            .merge(cart::student_router())
            .merge(waitlist::router())
            .merge(courses::router())
            .merge(enrollments::router())
            .merge(tickets::router())
            .merge(window::router()),
    )
    .merge(tickets::stream_router())
    .route_layer(axum::middleware::from_fn(guard::same_origin))
    .route_layer(axum::middleware::from_fn_with_state(
        state.clone(),
        guard::per_address,
    ));
    Router::new()
        .merge(students)
        .merge(bounded(
            Router::new()
                .merge(health::router())
                .merge(docs::router())
                .merge(crate::web::router()),
        ))
        .merge(admin::router())
        .merge(audit::admin_router())
        .merge(cart::admin_router())
        .merge(admin_accounts::router())
        .merge(admission::router())
        .merge(mail::router())
        .fallback(|| async { error::ApiError::not_found("not_found", "no such route") })
        .layer(axum::middleware::from_fn_with_state(
            state.metrics.clone(),
            track_http,
        ))
        // A failing response is logged where its cause is known (a 500
        // with its cause chain, a dependency unavailable rate-limited), not
        // once more per response: a failover fails thousands of them.
        .layer(
            TraceLayer::new_for_http()
                .on_failure(DefaultOnFailure::new().level(tracing::Level::DEBUG)),
        )
        .with_state(state)
}
