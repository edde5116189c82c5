//! What the enqueue path and the countdown page must know without a
//! database round trip: the phases (when whom may enroll), and which
//! courses exist.
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

use prometheus::IntCounter;
use sqlx::PgPool;

use crate::domain::course::CourseSeats;
use crate::domain::phase::Phase;
use crate::store::{courses, phases};

/// Least time between two reloads caused by unknown course ids.
pub const MISS_RELOAD_INTERVAL: Duration = Duration::from_millis(250);

/// Process-wide snapshot of the phases and the catalogue's seats.
#[derive(Debug, Clone)]
pub struct CatalogSnapshot {
    /// The phases and a generation bumped by every local change, so a
    /// refresh that read the database before the change cannot overwrite it.
    phases: Arc<RwLock<(Arc<[Phase]>, u64)>>,
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
            phases: Arc::new(RwLock::new((Arc::from(Vec::new()), 0))),
            courses: Arc::default(),
            last_miss_reload: Arc::default(),
            miss_reloads,
        }
    }

    /// Reloads the phases and every course from the primary.
    pub async fn refresh(&self, pool: &PgPool) -> Result<(), sqlx::Error> {
        let generation = self.phases.read().unwrap().1;
        let stored = phases::all(pool).await?;
        let all = courses::all_seats(pool).await?;
        {
            let mut current = self.phases.write().unwrap();
            if current.1 == generation {
                current.0 = stored.into();
            }
        }
        *self.courses.write().unwrap() = all.into_iter().map(|c| (c.id, c)).collect();
        Ok(())
    }

    /// The phases as last loaded.
    pub fn phases(&self) -> Arc<[Phase]> {
        self.phases.read().unwrap().0.clone()
    }

    /// Records phases set through this instance.
    pub fn set_phases(&self, phases: Vec<Phase>) {
        let mut current = self.phases.write().unwrap();
        *current = (phases.into(), current.1 + 1);
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
