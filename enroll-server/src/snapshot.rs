//! What the enqueue path and the countdown page must know without a
//! database round trip: the registration window, and which courses exist.
//! Refreshed from the primary every second (and at once after a local admin
//! change), so every instance converges within a second of a change made
//! anywhere.
//!
//! A course id the snapshot does not know (created elsewhere in the last
//! second, or made up) reloads the snapshot at most once per
//! [`MISS_RELOAD_INTERVAL`], shared by every request that missed
//! meanwhile: a stream of made-up ids costs the primary a few reads a
//! second, not one per request.

use std::collections::HashMap;
use std::sync::{Arc, RwLock};
use std::time::Duration;

use chrono::{DateTime, Utc};
use prometheus::IntCounter;
use sqlx::PgPool;

use crate::domain::course::CourseSeats;
use crate::store::{courses, window};

/// Least time between two reloads caused by unknown course ids.
pub const MISS_RELOAD_INTERVAL: Duration = Duration::from_millis(250);

/// Process-wide snapshot of the registration window and the catalogue's
/// seats.
#[derive(Debug, Clone)]
pub struct CatalogSnapshot {
    /// The window and a generation bumped by every local change, so a
    /// refresh that read the database before the change cannot overwrite it.
    window: Arc<RwLock<(Option<window::Window>, u64)>>,
    courses: Arc<RwLock<HashMap<i64, CourseSeats>>>,
    /// When an unknown id last reloaded the snapshot; held while one does.
    last_miss_reload: Arc<tokio::sync::Mutex<Option<tokio::time::Instant>>>,
    /// Counts reloads caused by unknown ids.
    miss_reloads: IntCounter,
}

impl CatalogSnapshot {
    /// An empty snapshot (load it with [`Self::refresh`]); `miss_reloads`
    /// counts the reloads unknown course ids cause.
    pub fn new(miss_reloads: IntCounter) -> Self {
        Self {
            window: Arc::default(),
            courses: Arc::default(),
            last_miss_reload: Arc::default(),
            miss_reloads,
        }
    }

    /// Reloads the window and every course from the primary.
    pub async fn refresh(&self, pool: &PgPool) -> Result<(), sqlx::Error> {
        let generation = self.window.read().unwrap().1;
        let stored = window::get(pool).await?;
        let all = courses::all_seats(pool).await?;
        {
            let mut current = self.window.write().unwrap();
            if current.1 == generation {
                current.0 = stored;
            }
        }
        *self.courses.write().unwrap() = all.into_iter().map(|c| (c.id, c)).collect();
        Ok(())
    }

    /// The window as last loaded: `(opens_at, closes_at)`, if one is set.
    pub fn window(&self) -> Option<window::Window> {
        self.window.read().unwrap().0
    }

    /// Whether enrollment requests are accepted at `now`.
    pub fn window_open(&self, now: DateTime<Utc>) -> bool {
        self.window
            .read()
            .unwrap()
            .0
            .is_some_and(|(opens, closes)| opens <= now && now < closes)
    }

    /// Records a window set through this instance.
    pub fn set_window(&self, opens: DateTime<Utc>, closes: DateTime<Utc>) {
        let mut current = self.window.write().unwrap();
        *current = (Some((opens, closes)), current.1 + 1);
    }

    /// Whether the course exists (checked on every enroll, so answered from
    /// the snapshot without copying anything). An id not in the snapshot
    /// reloads it, at most once per [`MISS_RELOAD_INTERVAL`] (requests that
    /// miss meanwhile wait for that reload and share it).
    pub async fn course_exists(&self, id: i64, pool: &PgPool) -> Result<bool, sqlx::Error> {
        if self.knows(id) {
            return Ok(true);
        }
        let mut last = self.last_miss_reload.lock().await;
        let now = tokio::time::Instant::now();
        if last.is_none_or(|at| now.duration_since(at) >= MISS_RELOAD_INTERVAL) {
            *last = Some(now);
            self.miss_reloads.inc();
            self.refresh(pool).await?;
        }
        Ok(self.knows(id))
    }

    fn knows(&self, id: i64) -> bool {
        self.courses.read().unwrap().contains_key(&id)
    }

    /// Ids of every known course, and those with seats left.
    pub fn course_ids(&self) -> (Vec<i64>, Vec<i64>) {
        let courses = self.courses.read().unwrap();
        let mut all: Vec<i64> = courses.keys().copied().collect();
        all.sort_unstable();
        let open = all
            .iter()
            .copied()
            .filter(|id| courses[id].has_seats())
            .collect();
        (all, open)
    }
}
