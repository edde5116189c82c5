//! How a loop that talks to Redis waits and complains while Redis fails:
//! [`Backoff`] spaces its attempts out, [`Warnings`] keeps one failing
//! Redis from filling the log (a failover lasts seconds, a loop may fail
//! thousands of times in them).
//!
//! Both read tokio's clock, so `tokio::time::pause` drives them in tests.

use std::sync::Mutex;
use std::time::Duration;

use tokio::time::Instant;

/// Waits that double from `first` up to `max`; back to `first` once the
/// loop succeeds again.
#[derive(Debug, Clone)]
pub struct Backoff {
    first: Duration,
    max: Duration,
    next: Duration,
}

impl Backoff {
    pub fn new(first: Duration, max: Duration) -> Self {
        Self {
            first,
            max,
            next: first,
        }
    }

    /// The wait after one more failure.
    pub fn next_wait(&mut self) -> Duration {
        let wait = self.next;
        self.next = (self.next * 2).min(self.max);
        wait
    }

    /// After a success: the next failure waits `first` again.
    pub fn reset(&mut self) {
        self.next = self.first;
    }
}

/// How often a failure that goes on is logged again.
pub const WARN_EVERY: Duration = Duration::from_secs(30);

/// A warning logged at most once per `every`, with how many were left
/// out in between: the first failure is logged at once, a failure that
/// goes on once per `every`. Shared by the callers of one call site (a
/// `static` for a per-request warning).
#[derive(Debug)]
pub struct Warnings {
    every: Duration,
    state: Mutex<WarnState>,
}

#[derive(Debug, Default)]
struct WarnState {
    last: Option<Instant>,
    left_out: u64,
}

impl Warnings {
    pub const fn new(every: Duration) -> Self {
        Self {
            every,
            state: Mutex::new(WarnState {
                last: None,
                left_out: 0,
            }),
        }
    }

    /// `Some(left out since the last one)` when this failure is to be
    /// logged, `None` when it is only counted.
    pub fn due(&self) -> Option<u64> {
        let now = Instant::now();
        let mut s = self.state.lock().unwrap_or_else(|p| p.into_inner());
        match s.last {
            Some(last) if now.duration_since(last) < self.every => {
                s.left_out += 1;
                None
            }
            _ => {
                s.last = Some(now);
                Some(std::mem::take(&mut s.left_out))
            }
        }
    }

    /// After a success: the next failure is logged at once.
    pub fn reset(&self) {
        *self.state.lock().unwrap_or_else(|p| p.into_inner()) = WarnState::default();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_up_to_its_cap_and_starts_over_after_a_success() {
        let mut b = Backoff::new(Duration::from_millis(100), Duration::from_millis(500));
        let waits: Vec<u128> = (0..5).map(|_| b.next_wait().as_millis()).collect();
        assert_eq!(waits, [100, 200, 400, 500, 500]);
        b.reset();
        assert_eq!(b.next_wait(), Duration::from_millis(100));
    }

    #[tokio::test(start_paused = true)]
    async fn a_failure_that_goes_on_is_logged_once_per_interval_with_the_count_left_out() {
        let w = Warnings::new(Duration::from_secs(30));
        assert_eq!(w.due(), Some(0), "the first one is logged at once");
        for _ in 0..1000 {
            assert_eq!(w.due(), None);
        }
        tokio::time::advance(Duration::from_secs(29)).await;
        assert_eq!(w.due(), None);
        tokio::time::advance(Duration::from_secs(1)).await;
        assert_eq!(w.due(), Some(1001));
        assert_eq!(w.due(), None);
        w.reset();
        assert_eq!(w.due(), Some(0), "after a success, at once again");
    }
}
