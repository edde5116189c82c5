//! What the enqueue path must know without a database round trip: whether
//! the registration window is open, and which courses exist. Refreshed from
//! the primary every second (and at once after a local admin change), so
//! every instance converges within a second of a change made anywhere.

use std::collections::HashMap;
use std::sync::{Arc, RwLock};

use chrono::{DateTime, Utc};
use sqlx::types::Json;
use sqlx::PgPool;

use crate::domain::schedule::Meeting;

/// Facts about a course used by admission and the enqueue checks.
#[derive(Debug, Clone)]
pub struct CourseFacts {
    pub capacity: i32,
    pub enrolled: i32,
    pub credits: i16,
    pub schedule: Vec<Meeting>,
}

/// Process-wide snapshot of the window and the courses.
#[derive(Debug, Clone, Default)]
pub struct Live {
    /// The window and a generation bumped by every local change, so a
    /// refresh that read the database before the change cannot overwrite it.
    window: Arc<RwLock<(Option<Window>, u64)>>,
    courses: Arc<RwLock<HashMap<i64, CourseFacts>>>,
}

/// `(opens_at, closes_at)`.
type Window = (DateTime<Utc>, DateTime<Utc>);

type CourseRow = (i64, i32, i32, i16, Json<Vec<Meeting>>);

impl Live {
    /// Reloads the window and every course from the primary.
    pub async fn refresh(&self, pool: &PgPool) -> Result<(), sqlx::Error> {
        let generation = self.window.read().unwrap().1;
        let window: Option<Window> =
            sqlx::query_as("SELECT opens_at, closes_at FROM registration_window")
                .fetch_optional(pool)
                .await?;
        let rows: Vec<CourseRow> =
            sqlx::query_as("SELECT id, capacity, enrolled, credits, schedule FROM courses")
                .fetch_all(pool)
                .await?;
        {
            let mut current = self.window.write().unwrap();
            if current.1 == generation {
                current.0 = window;
            }
        }
        let courses = rows
            .into_iter()
            .map(|(id, capacity, enrolled, credits, Json(schedule))| {
                (
                    id,
                    CourseFacts {
                        capacity,
                        enrolled,
                        credits,
                        schedule,
                    },
                )
            });
        *self.courses.write().unwrap() = courses.collect();
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
        let row: Option<CourseRow> = sqlx::query_as(
            "SELECT id, capacity, enrolled, credits, schedule FROM courses WHERE id = $1",
        )
        .bind(id)
        .fetch_optional(pool)
        .await?;
        let Some((id, capacity, enrolled, credits, Json(schedule))) = row else {
            return Ok(false);
        };
        let facts = CourseFacts {
            capacity,
            enrolled,
            credits,
            schedule,
        };
        self.courses.write().unwrap().insert(id, facts);
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
            .filter(|id| courses[id].enrolled < courses[id].capacity)
            .collect();
        (all, open)
    }
}
