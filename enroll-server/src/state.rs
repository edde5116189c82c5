//! What every handler may ask for.

use std::sync::Arc;

use axum::extract::FromRef;
use redis::aio::ConnectionManager;
use tokio::sync::Notify;

use crate::config::Settings;
use crate::db::Db;
use crate::live::Live;
use crate::metrics::Metrics;
use crate::password::PasswordHasher;
use crate::session::SessionStore;

/// Shared state; cheap to clone (everything inside is reference-counted).
#[derive(Clone)]
pub struct AppState {
    pub settings: Arc<Settings>,
    pub db: Db,
    pub redis: ConnectionManager,
    pub sessions: SessionStore,
    pub hasher: PasswordHasher,
    pub metrics: Metrics,
    /// Registration window and course facts, refreshed every second.
    pub live: Live,
    /// Wakes this instance's admission runner when a ticket is queued or a
    /// seat is freed here (other instances' work is found by polling).
    pub wake_admission: Arc<Notify>,
}

impl FromRef<AppState> for Metrics {
    fn from_ref(s: &AppState) -> Self {
        s.metrics.clone()
    }
}
