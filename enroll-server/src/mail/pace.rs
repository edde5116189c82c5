//! Time in the sender: the clock that dates retries and claims (a trait,
//! so tests drive it), the retry backoff, and the sending rate limit (on
//! tokio's clock, so `tokio::time::pause` drives it).

use std::sync::Mutex;
use std::time::Duration;

use chrono::{DateTime, Utc};
use tokio::time::Instant;

use crate::fair_use::Rate;

/// Where the sender reads the time it writes into the outbox (retry
/// times, claim leases).
pub trait Clock: Send + Sync + 'static {
    fn now(&self) -> DateTime<Utc>;
}

/// The system's clock.
#[derive(Debug, Default, Clone, Copy)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> DateTime<Utc> {
        Utc::now()
    }
}

/// A clock that moves only when told (tests).
#[derive(Debug)]
pub struct ManualClock(Mutex<DateTime<Utc>>);

impl ManualClock {
    pub fn new(start: DateTime<Utc>) -> Self {
        Self(Mutex::new(start))
    }

    pub fn advance(&self, by: Duration) {
        let mut now = self.0.lock().unwrap_or_else(|p| p.into_inner());
        *now += chrono::Duration::from_std(by).expect("a test's step fits");
    }
}

impl Clock for ManualClock {
    fn now(&self) -> DateTime<Utc> {
        *self.0.lock().unwrap_or_else(|p| p.into_inner())
    }
}

/// The first retry waits this long; each further one twice as long.
pub const FIRST_RETRY: Duration = Duration::from_secs(1);

/// How long to wait after the `attempts`-th attempt at message `id` failed
/// for now: 1 s, 2 s, 4 s, … up to `max`, plus up to an eighth more,
/// spread by the message id so that mails that failed together (a mail
/// server that was down) do not come back together.
pub fn retry_delay(attempts: i32, max: Duration, id: i64) -> Duration {
    let doublings = attempts.saturating_sub(1).clamp(0, 30) as u32;
    let base = FIRST_RETRY.saturating_mul(1 << doublings).min(max);
    let eighths = (id.unsigned_abs().wrapping_mul(0x9E37_79B9_7F4A_7C15) >> 61) as u32; // 0..=7
    (base + base / 8 * eighths / 7).min(max)
}

/// The sending rate limit: a token bucket (as GCRA) of `burst` mails,
/// one back every `interval`. Each send reserves its turn and waits for it
/// outside any lock.
#[derive(Debug)]
pub struct RatePacer {
    rate: Rate,
    /// The theoretical arrival time of the next send.
    tat: Mutex<Option<Instant>>,
}

impl RatePacer {
    pub fn new(rate: Rate) -> Self {
        Self {
            rate,
            tat: Mutex::new(None),
        }
    }

    /// When a send asking at `now` may go; books that turn.
    pub fn reserve(&self, now: Instant) -> Instant {
        if self.rate.is_off() {
            return now;
        }
        let interval = self.rate.interval;
        let tolerance = interval * self.rate.burst.saturating_sub(1);
        let mut tat = self.tat.lock().unwrap_or_else(|p| p.into_inner());
        let due = tat.map_or(now, |t| t.max(now));
        let go = due.checked_sub(tolerance).map_or(now, |g| g.max(now));
        *tat = Some(due.max(go) + interval);
        go
    }

    /// Waits for this send's turn.
    pub async fn turn(&self) {
        let go = self.reserve(Instant::now());
        tokio::time::sleep_until(go).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retries_double_from_a_second_up_to_the_cap_with_a_little_spread() {
        let max = Duration::from_secs(600);
        for id in [1, 2, 77, 123_456] {
            let d: Vec<Duration> = (1..=12).map(|a| retry_delay(a, max, id)).collect();
            for (i, delay) in d.iter().enumerate() {
                let base = Duration::from_secs(1 << i).min(max);
                assert!(
                    *delay >= base && *delay <= (base + base / 8).min(max),
                    "{id} {i} {delay:?}"
                );
            }
            assert_eq!(retry_delay(40, max, id), max, "capped, never overflowing");
        }
        let spread: std::collections::HashSet<Duration> =
            (0..50).map(|id| retry_delay(5, max, id)).collect();
        assert!(spread.len() > 3, "ids spread the retries: {spread:?}");
    }

    #[tokio::test(start_paused = true)]
    async fn the_rate_allows_a_burst_then_one_per_interval() {
        let pacer = RatePacer::new(Rate::new(2, Duration::from_secs(1), 3));
        let t0 = Instant::now();
        for _ in 0..3 {
            pacer.turn().await;
        }
        assert_eq!(t0.elapsed(), Duration::ZERO, "the burst goes at once");
        pacer.turn().await;
        assert_eq!(t0.elapsed(), Duration::from_millis(500));
        pacer.turn().await;
        assert_eq!(t0.elapsed(), Duration::from_millis(1000));
        // After a quiet spell the bucket is full again, no more than that.
        tokio::time::sleep(Duration::from_secs(10)).await;
        let t1 = Instant::now();
        for _ in 0..4 {
            pacer.turn().await;
        }
        assert_eq!(t1.elapsed(), Duration::from_millis(500));
    }

    #[tokio::test(start_paused = true)]
    async fn off_never_waits() {
        let pacer = RatePacer::new(Rate::OFF);
        let t0 = Instant::now();
        for _ in 0..1000 {
            pacer.turn().await;
        }
        assert_eq!(t0.elapsed(), Duration::ZERO);
    }

    #[test]
    fn the_manual_clock_moves_only_when_told() {
        let start = Utc::now();
        let clock = ManualClock::new(start);
        assert_eq!(clock.now(), start);
        clock.advance(Duration::from_millis(1500));
        assert_eq!(clock.now() - start, chrono::Duration::milliseconds(1500));
    }
}
