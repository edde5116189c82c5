//! What the enqueue path must know without a database round trip: whether
//! the registration window is open, and which courses exist. Refreshed from
//! the primary every second (and at once after a local admin change), so
//! every instance converges within a second of a change made anywhere.

use std::collections::HashMap;
use std::sync::{Arc, RwLock};

use chrono::{DateTime, Utc};
use sqlx::PgPool;

use crate::domain::course::CourseSeats;
use crate::store::{courses, window};

/// Process-wide snapshot of the registration window and the catalogue's
/// seats.
#[derive(Debug, Clone, Default)]
pub struct CatalogSnapshot {
    /// The window and a generation bumped by every local change, so a
    /// refresh that read the database before the change cannot overwrite it.
    window: Arc<RwLock<(Option<window::Window>, u64)>>,
    courses: Arc<RwLock<HashMap<i64, CourseSeats>>>,
}

impl CatalogSnapshot {
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
    /// the snapshot without copying anything); a course not in the snapshot
    /// (created in the last second) is looked up on the primary once.
    pub async fn course_exists(&self, id: i64, pool: &PgPool) -> Result<bool, sqlx::Error> {
        if self.courses.read().unwrap().contains_key(&id) {
            return Ok(true);
        }
        let Some(seats) = courses::seats_of(pool, id).await? else {
            return Ok(false);
        };
        self.courses.write().unwrap().insert(id, seats);
        Ok(true)
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
