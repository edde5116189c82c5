//! What every handler may ask for.

use std::sync::Arc;

use crate::admission::Wake;
use axum::extract::FromRef;
use redis::aio::ConnectionManager;

use crate::config::Settings;
use crate::db::Db;
use crate::live::Live;
use crate::metrics::Metrics;
use crate::password::PasswordHasher;
use crate::session::SessionStore;

/// Shared state: one pointer, so the per-request clones axum makes of it
/// cost one reference-count increment.
#[derive(Clone)]
pub struct AppState(Arc<Services>);

impl AppState {
    pub fn new(services: Services) -> Self {
        Self(Arc::new(services))
    }
}

impl std::ops::Deref for AppState {
    type Target = Services;

    fn deref(&self) -> &Services {
        &self.0
    }
}

/// What the state holds.
pub struct Services {
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
    pub wake_admission: Arc<Wake>,
}

impl FromRef<AppState> for Metrics {
    fn from_ref(s: &AppState) -> Self {
        s.metrics.clone()
    }
}
