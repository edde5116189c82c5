//! Admission: turns queued tickets into seats, continuously.
//!
//! Every enroll-server instance runs one [`Admission`] runner. It watches the
//! queue lengths of all courses (one pipelined round trip), and for each
//! course with waiting students takes the course's lease in Redis and drains
//! it batch by batch: peek up to N heads, decide them in one PostgreSQL
//! transaction ([`batch::admit_batch`]), and only after COMMIT write the
//! decisions back to Redis ([`crate::queue::finish`]). Different courses are
//! drained in parallel, across instances too; one course by one worker at a
//! time.
//!
//! The runner lives on a thread of its own with its own single-threaded
//! runtime, database pool and Redis connection ([`thread`]): a batch makes
//! about ten round trips one after another, and on the HTTP runtime each
//! of them would wait behind hundreds of queued requests during a rush.
//!
//! Crash safety: heads stay in the queue until their decision is written
//! back, so a worker that dies mid-batch leaves them at the head for the
//! next lease holder. If it died after COMMIT, the retried batch finds the
//! enrollment rows carrying the same ticket and reports them enrolled
//! without inserting twice.

pub mod batch;
pub mod decide;
pub mod thread;

use std::collections::HashSet;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use rand::Rng;
use tokio::sync::{Notify, Semaphore};

use crate::config::Settings;
use crate::live::Live;
use crate::metrics::Metrics;
use crate::queue::{self, Lease};

/// How soon the runner looks at the queues again while any has students
/// (work queued through other instances is found this way).
const BUSY_POLL: Duration = Duration::from_millis(20);
/// The same when every queue was empty; a ticket queued through this
/// instance wakes the runner at once regardless.
const IDLE_POLL: Duration = Duration::from_millis(250);

/// What admission works with: its own pool and Redis connection, created
/// on its own runtime (see [`thread`]).
#[derive(Clone)]
pub struct AdmissionCtx {
    pub settings: Arc<Settings>,
    pub metrics: Metrics,
    pub live: Live,
    pub pool: sqlx::PgPool,
    pub redis: redis::aio::ConnectionManager,
}

/// The admission runner of one instance.
pub struct Admission {
    state: AdmissionCtx,
    worker_id: String,
    draining: Mutex<HashSet<i64>>,
    permits: Arc<Semaphore>,
}

impl Admission {
    pub fn new(state: AdmissionCtx) -> Arc<Self> {
        let worker_id = format!(
            "{}-{:08x}",
            std::process::id(),
            rand::thread_rng().gen::<u32>()
        );
        // One drain per connection of admission's own pool.
        let parallel = state.pool.options().get_max_connections() as usize;
        Arc::new(Self {
            state,
            worker_id,
            draining: Mutex::new(HashSet::new()),
            permits: Arc::new(Semaphore::new(parallel)),
        })
    }

    /// Runs forever: find courses with waiting students, drain them.
    pub async fn run(self: Arc<Self>, wake: Arc<Notify>) {
        loop {
            let pause = match self.clone().start_drains().await {
                Ok(true) => BUSY_POLL,
                Ok(false) => IDLE_POLL,
                Err(err) => {
                    tracing::warn!(error = %err, "admission could not read the queues");
                    IDLE_POLL
                }
            };
            tokio::select! {
                _ = wake.notified() => {}
                _ = tokio::time::sleep(pause) => {}
            }
        }
    }

    /// Starts a drain for every course with waiting students that no worker
    /// holds; returns whether any queue had students.
    async fn start_drains(self: Arc<Self>) -> redis::RedisResult<bool> {
        let (courses, _) = self.state.live.course_ids();
        let mut redis = self.state.redis.clone();
        let lengths = queue::queue_lengths(&mut redis, &courses).await?;
        let busy = lengths.iter().any(|&l| l > 0);
        for (&course, &len) in courses.iter().zip(&lengths) {
            self.state
                .metrics
                .queue_length
                .with_label_values(&[&course.to_string()])
                .set(len);
            if len == 0 || self.draining.lock().unwrap().contains(&course) {
                continue;
            }
            let Ok(permit) = self.permits.clone().try_acquire_owned() else {
                break; // every permit busy; the rest wait for the next round
            };
            match queue::acquire_lease(&mut redis, course, &self.worker_id, self.lease_ms()).await?
            {
                Lease::Busy => continue,
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
            let me = self.clone();
            tokio::spawn(async move {
                me.drain(course).await;
                me.draining.lock().unwrap().remove(&course);
                drop(permit);
            });
        }
        Ok(busy)
    }

    fn lease_ms(&self) -> u64 {
        self.state.settings.admission_lease.as_millis() as u64
    }

    /// Decides batches of `course` until its queue is empty or the lease is lost.
    async fn drain(&self, course: i64) {
        let mut redis = self.state.redis.clone();
        let mut rate = 0.0_f64;
        loop {
            match self.decide_next_batch(course, &mut rate).await {
                Ok(0) => break,
                Ok(_) => {}
                Err(err) => {
                    tracing::warn!(course, error = %err, "admission batch failed; will retry");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
            }
            match queue::acquire_lease(&mut redis, course, &self.worker_id, self.lease_ms()).await {
                Ok(Lease::Held) | Ok(Lease::TakenOver) => {}
                Ok(Lease::Busy) => return, // lease expired and someone else took it
                Err(err) => {
                    tracing::warn!(course, error = %err, "could not renew the lease");
                    return;
                }
            }
        }
        let _ = queue::release_lease(&mut redis, course, &self.worker_id).await;
        self.state
            .metrics
            .admission_rate
            .with_label_values(&[&course.to_string()])
            .set(0.0);
    }

    /// Decides the next batch; returns how many tickets it decided.
    async fn decide_next_batch(&self, course: i64, rate: &mut f64) -> anyhow::Result<usize> {
        let s = &self.state;
        let mut redis = s.redis.clone();
        let n = s.settings.admission_batch_size;
        let (heads, gen) = queue::peek_heads(&mut redis, course, n, &self.worker_id).await?;
        if heads.is_empty() {
            return Ok(0);
        }
        let started = Instant::now();
        let outcome = batch::admit_batch(&s.pool, course, &heads, s.settings.credit_limit).await?;
        let commit_time = started.elapsed();
        let (decisions, full) = match outcome {
            Some(o) => (o.decisions, o.remaining <= 0),
            None => {
                // The course was deleted: answer everyone rather than leave them waiting.
                let d = heads
                    .iter()
                    .map(|&(student, seq)| queue::Decision {
                        student,
                        seq,
                        status: "rejected",
                        reason: Some("course_not_found"),
                    })
                    .collect();
                (d, false)
            }
        };
        let per_sec = decisions.len() as f64 / started.elapsed().as_secs_f64().max(1e-6);
        *rate = if *rate == 0.0 {
            per_sec
        } else {
            0.7 * *rate + 0.3 * per_sec
        };
        let left = queue::finish(&mut redis, course, gen, full, *rate, &decisions).await?;
        let m = &s.metrics;
        m.batch_size.observe(decisions.len() as f64);
        m.commit_seconds.observe(commit_time.as_secs_f64());
        m.queue_length
            .with_label_values(&[&course.to_string()])
            .set(left);
        for d in &decisions {
            m.decisions
                .with_label_values(&[d.status, d.reason.unwrap_or("")])
                .inc();
        }
        Ok(decisions.len())
    }
}
