//! What the HTTP side tells the admission runner: the pause switch as
//! last seen, and the courses to look at at once.

use std::collections::HashSet;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Mutex, MutexGuard};

use tokio::sync::Notify;

/// Whether an admin has paused admission, as this instance last saw it: at
/// the runner's last poll or this instance's last admin switch (at most one
/// poll old). Read without a Redis round trip, by the runner and by the
/// answers to students.
#[derive(Debug, Default)]
pub struct PauseFlag(AtomicBool);

impl PauseFlag {
    pub fn is_paused(&self) -> bool {
        self.0.load(Ordering::Acquire)
    }

    /// Records the switch as just read from Redis or set by an admin here.
    pub fn set(&self, paused: bool) {
        self.0.store(paused, Ordering::Release);
    }
}

/// Courses this instance saw gain waiting students or free seats, for the
/// runner to look at at once (without reading every queue's length).
#[derive(Default)]
pub struct Wake {
    courses: Mutex<HashSet<i64>>,
    pub(super) notify: Notify,
}

impl Wake {
    /// `course` may have work: a ticket was queued or a seat freed.
    pub fn course(&self, course: i64) {
        self.courses().insert(course);
        self.notify.notify_one();
    }

    fn courses(&self) -> MutexGuard<'_, HashSet<i64>> {
        self.courses.lock().unwrap_or_else(|p| p.into_inner())
    }

    pub(super) fn take(&self) -> Vec<i64> {
        self.courses().drain().collect()
    }
}
