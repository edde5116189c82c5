//! What every handler and service may ask for.

use std::sync::atomic::AtomicBool;
use std::sync::Arc;

use crate::redis::conn::RedisConn;
use axum::extract::FromRef;

use crate::admission::{PauseFlag, Wake};
use crate::cache::KnownFull;
use crate::config::Settings;
use crate::db::Db;
use crate::events::TicketEvents;
use crate::metrics::Metrics;
use crate::password::PasswordHasher;
use crate::redis::enqueue::Enqueuer;
use crate::redis::session_store::SessionStore;
use crate::service::fair_use::FairUse;
use crate::session::TokenSigner;
use crate::snapshot::CatalogSnapshot;
use crate::store::sessions::Deployment;

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
    pub redis: RedisConn,
    /// Sends enroll requests' enqueue scripts to Redis, those that arrive
    /// together in one pipeline.
    pub enqueuer: Enqueuer,
    pub sessions: SessionStore,
    /// Issues and recognises admin accounts' bearer tokens (signed with the
    /// deployment's session key, as students' are).
    pub admin_tokens: TokenSigner,
    /// Rate limits and the cap on tickets in line (see [`crate::fair_use`]).
    pub fair_use: FairUse,
    pub hasher: PasswordHasher,
    pub metrics: Metrics,
    /// Registration window and course seats, refreshed every second.
    pub catalog: CatalogSnapshot,
    /// Wakes this instance's admission runner when a ticket is queued or a
    /// seat is freed here (other instances' work is found by polling).
    pub wake_admission: Arc<Wake>,
    /// Whether an admin has paused admission, as last seen here.
    pub admission_paused: Arc<PauseFlag>,
    /// Courses Redis answered as full, so their enroll requests are refused
    /// without a round trip (see [`crate::cache`]).
    pub known_full: Arc<KnownFull>,
    /// The students' ticket event streams held here (see [`crate::events`]).
    pub events: Arc<TicketEvents>,
    /// Set when the instance is stopping: `/readyz` answers 503 while
    /// requests are still served (see `ENROLL_SHUTDOWN_DRAIN_MS`).
    pub draining: Arc<AtomicBool>,
    /// This database's deployment (its id is checked against Redis).
    pub deployment: Deployment,
    /// False while Redis holds another deployment's data (see
    /// [`crate::service::recovery`]): nothing read from it is believed.
    pub redis_trusted: Arc<AtomicBool>,
}

impl FromRef<AppState> for Metrics {
    fn from_ref(s: &AppState) -> Self {
        s.metrics.clone()
    }
}
