//! Admission: turns queued tickets into seats, continuously.
//!
//! Every enroll-server instance runs one [`Admission`] runner. A course that
//! gains waiting students or free seats through this instance is handed to it
//! at once ([`Wake`]); every 20 ms while any queue has students (250 ms when
//! all are empty) it also reads the queue lengths of all courses in one
//! pipelined round trip, which finds work queued through other instances and
//! keeps the queue-length gauges current. For each course with waiting
//! students it takes the course's lease in Redis (renewed once half of it
//! has run out) and drains it batch by batch: peek up to N heads, have them
//! decided in one PostgreSQL transaction, and only after COMMIT write the
//! decisions back to Redis ([`crate::redis::batch::finish`]). One course is
//! drained by one worker at a time, across instances too; the batches of all
//! courses being drained meet in the [`commit::Committer`], which decides
//! every batch waiting in one shared transaction ([`batch::admit_courses`]).
//!
//! The runner lives on a thread of its own with its own single-threaded
//! runtime, database pool and Redis connection ([`thread`]): a batch makes
//! about ten round trips one after another, and on the HTTP runtime each
//! of them would wait behind hundreds of queued requests during a rush.
//!
//! An admin may pause admission (`PUT /api/v1/admin/admission`): the switch
//! is read from Redis on every scan; while it is set no drain starts and
//! running drains stop after their current batch.
//!
//! Crash safety: heads stay in the queue until their decision is written
//! back, so a worker that dies mid-batch leaves them at the head for the
//! next lease holder. If it died after COMMIT, the retried batch finds the
//! enrollment rows carrying the same ticket and reports them enrolled
//! without inserting twice.

pub mod batch;
pub mod commit;
pub mod decide;
mod signals;
pub mod thread;

pub use signals::{PauseFlag, Wake};

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use prometheus::IntGauge;
use rand::Rng;
use tokio::sync::Semaphore;

use self::batch::CourseBatch;
use self::commit::{Committer, CommitterOptions};
use crate::config::Settings;
use crate::metrics::Metrics;
use crate::pace::Pace;
use crate::redis::lease::{acquire_lease, release_lease, Lease};
use crate::redis::retry::{Backoff, Warnings, WARN_EVERY};
use crate::redis::{batch as redis_batch, control};
use crate::snapshot::CatalogSnapshot;
use crate::ticket::{Decision, Reason};

/// How soon the runner looks at the queues again while any has students
/// (work queued through other instances is found this way).
const BUSY_POLL: Duration = Duration::from_millis(20);
/// The same when every queue was empty; a ticket queued through this
/// instance wakes the runner at once regardless.
const IDLE_POLL: Duration = Duration::from_millis(250);
/// The longest wait between attempts while Redis or the database fails.
const FAILING_POLL_MAX: Duration = Duration::from_secs(2);

/// What admission works with: its own pool and Redis connection, created
/// on its own runtime (see [`thread`]).
#[derive(Clone)]
pub struct AdmissionCtx {
    pub settings: Arc<Settings>,
    pub metrics: Metrics,
    pub catalog: CatalogSnapshot,
    pub pool: sqlx::PgPool,
    pub redis: crate::redis::conn::RedisConn,
}

/// Courses drained at once by one instance. Draining a course is mostly
/// waiting (for Redis, and for the transaction its batch shares with other
/// courses), so this only bounds memory and leases held.
const MAX_DRAINS: usize = 1024;

/// The admission runner of one instance.
pub struct Admission {
    state: AdmissionCtx,
    committer: Committer,
    worker_id: String,
    draining: Mutex<HashSet<i64>>,
    permits: Arc<Semaphore>,
    /// Courses to look at.
    wake: Arc<Wake>,
    /// The pause switch (read from Redis on every scan, set at once by a
    /// local admin switch); the HTTP side reads the same.
    paused: Arc<PauseFlag>,
    /// Queue-length gauge of each course, looked up once.
    gauges: Mutex<HashMap<i64, IntGauge>>,
}

impl Admission {
    pub fn new(state: AdmissionCtx, wake: Arc<Wake>, paused: Arc<PauseFlag>) -> Arc<Self> {
        let worker_id = format!(
            "{}-{:08x}",
            std::process::id(),
            rand::thread_rng().gen::<u32>()
        );
        // One transaction worker per connection of admission's own pool.
        let workers = state.pool.options().get_max_connections() as usize;
        let committer = Committer::start(
            state.pool.clone(),
            state.metrics.clone(),
            CommitterOptions {
                workers,
                max_tickets: state.settings.admission_transaction_tickets,
                credit_limit: state.settings.credit_limit,
                interval: state.settings.admission_transaction_interval,
                announce: state.settings.mail.is_some(),
            },
        );
        Arc::new(Self {
            state,
            committer,
            worker_id,
            draining: Mutex::new(HashSet::new()),
            permits: Arc::new(Semaphore::new(MAX_DRAINS)),
            wake,
            paused,
            gauges: Mutex::new(HashMap::new()),
        })
    }

    /// Runs forever: drain the courses [`Wake`] names at once, and every
    /// poll interval every course with waiting students.
    pub async fn run(self: Arc<Self>) {
        let wake = self.wake.clone();
        let mut next_scan = tokio::time::Instant::now();
        // While Redis fails: scans further apart, warnings rate-limited.
        let mut failing = Backoff::new(IDLE_POLL, FAILING_POLL_MAX);
        let (lease_warnings, scan_warnings) =
            (Warnings::new(WARN_EVERY), Warnings::new(WARN_EVERY));
        loop {
            tokio::select! {
                _ = wake.notify.notified() => {
                    for course in wake.take() {
                        if let Err(err) = self.clone().try_drain(course).await {
                            if let Some(left_out) = lease_warnings.due() {
                                tracing::warn!(course, error = %err, left_out, "admission could not take a lease");
                            }
                        }
                    }
                }
                _ = tokio::time::sleep_until(next_scan) => {
                    let pause = match self.clone().scan().await {
                        Ok(busy) => {
                            failing.reset();
                            scan_warnings.reset();
                            if busy { BUSY_POLL } else { IDLE_POLL }
                        }
                        Err(err) => {
                            if let Some(left_out) = scan_warnings.due() {
                                tracing::warn!(error = %err, left_out, "admission could not read the queues");
                            }
                            failing.next_wait()
                        }
                    };
                    next_scan = tokio::time::Instant::now() + pause;
                }
            }
        }
    }

    /// Reads every course's queue length, updates the gauges and starts a
    /// drain for every course with waiting students that no worker holds;
    /// returns whether any queue had students.
    async fn scan(self: Arc<Self>) -> redis::RedisResult<bool> {
        let (courses, _) = self.state.catalog.course_ids();
        let mut redis = self.state.redis.clone();
        let (paused, lengths) = control::scan_state(&mut redis, &courses).await?;
        self.paused.set(paused);
        self.state.metrics.admission_paused.set(i64::from(paused));
        self.state.metrics.admission_scans.inc();
        let busy = lengths.iter().any(|&l| l > 0);
        // Every gauge is set, also once every permit is busy (the courses
        // left over then wait for the next round).
        let mut permits_left = !paused;
        for (&course, &len) in courses.iter().zip(&lengths) {
            self.queue_gauge(course).set(len);
            if len > 0 && permits_left {
                permits_left = self.clone().try_drain(course).await?;
            }
        }
        Ok(busy)
    }

    fn queue_gauge(&self, course: i64) -> IntGauge {
        let mut gauges = self.gauges.lock().unwrap_or_else(|p| p.into_inner());
        gauges
            .entry(course)
            .or_insert_with(|| {
                self.state
                    .metrics
                    .queue_length
                    .with_label_values(&[&course.to_string()])
            })
            .clone()
    }

    /// Starts draining `course` unless this runner already is or another
    /// worker holds its lease; `false` when every permit is busy.
    async fn try_drain(self: Arc<Self>, course: i64) -> redis::RedisResult<bool> {
        if self.is_paused() || self.draining.lock().unwrap().contains(&course) {
            return Ok(true);
        }
        let Ok(permit) = self.permits.clone().try_acquire_owned() else {
            return Ok(false);
        };
        let mut redis = self.state.redis.clone();
        let asked = Instant::now();
        match acquire_lease(&mut redis, course, &self.worker_id, self.lease_ms()).await? {
            Lease::Busy => return Ok(true),
            Lease::TakenOver => {
                tracing::warn!(
                    course,
                    "took over the lease of a worker that died mid-batch"
                );
                self.state.metrics.lease_takeovers.inc();
            }
            Lease::Held => {}
        }
        self.draining.lock().unwrap().insert(course);
        tokio::spawn(async move {
            self.drain(course, asked).await;
            self.draining.lock().unwrap().remove(&course);
            drop(permit);
        });
        Ok(true)
    }

    fn is_paused(&self) -> bool {
        self.paused.is_paused()
    }

    fn lease_ms(&self) -> u64 {
        self.state.settings.admission_lease.as_millis() as u64
    }

    /// Decides batches of `course` until its queue is empty or the lease is
    /// lost. The lease was taken by a request sent at `leased_at`.
    async fn drain(&self, course: i64, mut leased_at: Instant) {
        let mut redis = self.state.redis.clone();
        let mut pace = Measured::default();
        let lease = self.state.settings.admission_lease;
        let mut failing = Backoff::new(Duration::from_millis(100), FAILING_POLL_MAX);
        static WARNINGS: Warnings = Warnings::new(WARN_EVERY);
        loop {
            if self.is_paused() {
                break;
            }
            match self.decide_next_batch(course, &mut pace).await {
                Ok(0) => break,
                Ok(_) => failing.reset(),
                Err(err) => {
                    if let Some(left_out) = WARNINGS.due() {
                        tracing::warn!(course, error = %err, left_out, "admission batch failed; will retry");
                    }
                    tokio::time::sleep(failing.next_wait()).await;
                }
            }
            if !renewal_due(leased_at, Instant::now(), lease) {
                continue;
            }
            let asked = Instant::now();
            match acquire_lease(&mut redis, course, &self.worker_id, self.lease_ms()).await {
                Ok(Lease::Held) | Ok(Lease::TakenOver) => leased_at = asked,
                Ok(Lease::Busy) => return, // lease expired and someone else took it
                Err(err) => {
                    tracing::warn!(course, error = %err, "could not renew the lease");
                    return;
                }
            }
        }
        let _ = release_lease(&mut redis, course, &self.worker_id).await;
        self.state
            .metrics
            .admission_decisions_per_second
            .with_label_values(&[&course.to_string()])
            .set(0.0);
    }

    /// Decides the next batch; returns how many tickets it decided.
    async fn decide_next_batch(&self, course: i64, pace: &mut Measured) -> anyhow::Result<usize> {
        let s = &self.state;
        let mut redis = s.redis.clone();
        let n = s.settings.admission_batch_size;
        let peeked_at = Instant::now();
        let (heads, gen) = redis_batch::claim_heads(&mut redis, course, n, &self.worker_id).await?;
        if heads.is_empty() {
            return Ok(0);
        }
        let outcome = self
            .committer
            .admit(CourseBatch {
                course,
                heads: heads.iter().map(|h| (h.student, h.seq)).collect(),
                addrs: heads.iter().map(|h| h.addr).collect(),
            })
            .await?;
        let (decisions, full) = match outcome {
            Some(o) => (o.decisions, o.remaining <= 0),
            None => {
                // The course was deleted: answer everyone rather than leave them waiting.
                let d = heads
                    .iter()
                    .map(|h| Decision::rejected(h.student, h.seq, Reason::CourseNotFound))
                    .collect();
                (d, false)
            }
        };
        let took = pace.lap(peeked_at, Instant::now());
        pace.record(decisions.len(), took);
        let m = &s.metrics;
        m.admission_decisions_per_second
            .with_label_values(&[&course.to_string()])
            .set(pace.per_sec);
        let cycle = Pace {
            cycle_ms: pace.cycle_ms,
            batch: n,
        };
        let finished = redis_batch::finish(
            &mut redis,
            &self.worker_id,
            course,
            gen,
            full,
            cycle,
            &decisions,
        )
        .await?;
        let Some(left) = finished else {
            // Stalled past the lease: the new holder re-decides these heads
            // from the committed rows and writes them; nothing of ours is.
            tracing::warn!(course, "lease lost before the decisions were written back");
            m.admission_lease_lost.inc();
            return Ok(0);
        };
        self.queue_gauge(course).set(left);
        for d in &decisions {
            m.decisions
                .with_label_values(&[d.status.as_str(), d.reason.map_or("", |r| r.as_str())])
                .inc();
        }
        Ok(decisions.len())
    }
}

/// Whether a lease taken by a request sent at `leased_at` is to be renewed
/// at `now`: once half of it has run out, as lease keep-alives usually are.
/// Until then it cannot have expired, so no one else can hold it, and the
/// renewal a batch would otherwise pay (a script call per course and batch,
/// ~4,000 per rush) is skipped.
fn renewal_due(leased_at: Instant, now: Instant, lease: Duration) -> bool {
    now.saturating_duration_since(leased_at) >= lease / 2
}

/// A draining course's measured pace: moving averages of one batch's time
/// and of the decisions per second it made. A batch's time is the whole
/// cycle a waiting ticket sees: from the previous batch's end (its decisions
/// about to be written) to this one's — the decisions' write, a lease
/// renewal when one is due, the claim, the shared transaction with its
/// pacing wait and COMMIT; the first batch of a drain counts from its claim.
#[derive(Debug, Default, Clone, Copy, PartialEq)]
struct Measured {
    cycle_ms: f64,
    per_sec: f64,
    last_end: Option<Instant>,
}

impl Measured {
    /// A batch claimed at `claimed` ends at `now`: its cycle's length.
    fn lap(&mut self, claimed: Instant, now: Instant) -> Duration {
        let since = self.last_end.unwrap_or(claimed);
        self.last_end = Some(now);
        now - since
    }

    /// Folds in one batch of `decided` tickets that took `took`: the first
    /// batch sets the averages, later ones move them by 30 %.
    fn record(&mut self, decided: usize, took: Duration) {
        let secs = took.as_secs_f64().max(1e-6);
        let (cycle_ms, per_sec) = (secs * 1000.0, decided as f64 / secs);
        if self.cycle_ms == 0.0 {
            (self.cycle_ms, self.per_sec) = (cycle_ms, per_sec);
        } else {
            self.cycle_ms = 0.7 * self.cycle_ms + 0.3 * cycle_ms;
            self.per_sec = 0.7 * self.per_sec + 0.3 * per_sec;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn measured_pace_starts_at_the_first_batch_then_moves_by_30_percent() {
        let mut m = Measured::default();
        m.record(100, Duration::from_millis(50));
        assert_eq!((m.cycle_ms, m.per_sec), (50.0, 2000.0));
        m.record(10, Duration::from_millis(10));
        assert!((m.cycle_ms - 38.0).abs() < 1e-9, "{m:?}");
        assert!((m.per_sec - 1700.0).abs() < 1e-9, "{m:?}");
    }

    #[test]
    fn a_lease_is_renewed_once_half_of_it_has_run_out() {
        let t0 = Instant::now();
        let lease = Duration::from_millis(5000);
        let at = |ms| t0 + Duration::from_millis(ms);
        assert!(
            !renewal_due(t0, at(15), lease),
            "a batch later: still fresh"
        );
        assert!(!renewal_due(t0, at(2499), lease));
        assert!(renewal_due(t0, at(2500), lease));
        assert!(renewal_due(t0, at(9000), lease), "long expired: ask Redis");
        // A clock read before the lease was asked for never counts as late.
        assert!(!renewal_due(at(10), t0, lease));
    }

    #[test]
    fn a_cycle_runs_from_the_previous_batch_end_to_this_ones() {
        let mut m = Measured::default();
        let t0 = Instant::now();
        let ms = Duration::from_millis;
        // The first batch of a drain: from its claim (at 5 ms) to its end.
        assert_eq!(m.lap(t0 + ms(5), t0 + ms(30)), ms(25));
        // The next one claimed at 32 ms and done at 60: its waiters also
        // waited for the writes and the claim between the two.
        assert_eq!(m.lap(t0 + ms(32), t0 + ms(60)), ms(30));
    }
}
