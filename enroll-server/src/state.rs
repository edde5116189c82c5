//! What every handler may ask for.

use std::sync::Arc;

use axum::extract::FromRef;
use redis::aio::ConnectionManager;

use crate::config::Settings;
use crate::db::Db;
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
}

impl FromRef<AppState> for Metrics {
    fn from_ref(s: &AppState) -> Self {
        s.metrics.clone()
    }
}
