//! What every handler may ask for.

use std::sync::Arc;

use crate::admission::Wake;
use axum::extract::FromRef;
use redis::aio::ConnectionManager;

use crate::config::Settings;
use crate::db::Db;
use crate::enqueuer::Enqueuer;
use crate::followed_cache::KnownFull;
use crate::live::Live;
use crate::metrics::Metrics;
use crate::password::PasswordHasher;
use crate::queue;
use crate::session::SessionStore;
use crate::ticket_events::TicketEvents;

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
    /// Sends enroll requests' enqueue scripts to Redis, those that arrive
    /// together in one pipeline.
    pub enqueuer: Enqueuer,
    pub sessions: SessionStore,
    pub hasher: PasswordHasher,
    pub metrics: Metrics,
    /// Registration window and course facts, refreshed every second.
    pub live: Live,
    /// Wakes this instance's admission runner when a ticket is queued or a
    /// seat is freed here (other instances' work is found by polling).
    pub wake_admission: Arc<Wake>,
    /// Courses Redis answered as full, so their enroll requests are refused
    /// without a round trip (see [`crate::followed_cache`]).
    pub known_full: Arc<KnownFull>,
    /// The students' ticket event streams held here (see
    /// [`crate::ticket_events`]).
    pub events: Arc<TicketEvents>,
}

impl Services {
    /// Seats of `course` were freed (a cancel, a capacity raised, a stale
    /// flag): clears the full flag in Redis and tells every instance
    /// (`cancelled`: see [`queue::seats_freed`]), forgets the flag here at
    /// once, and wakes this instance's admission for the course.
    pub async fn seats_freed(
        &self,
        course: i64,
        cancelled: Option<(i64, Option<i64>)>,
    ) -> redis::RedisResult<()> {
        let mut redis = self.redis.clone();
        queue::seats_freed(&mut redis, course, cancelled).await?;
        self.known_full.evict(&course);
        self.wake_admission.course(course);
        Ok(())
    }
}

impl FromRef<AppState> for Metrics {
    fn from_ref(s: &AppState) -> Self {
        s.metrics.clone()
    }
}
