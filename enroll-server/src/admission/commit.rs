//! Group commit of course batches.
//!
//! Each course's drain hands its batch to a [`Committer`] and waits for the
//! outcome. The committer's workers — one per connection of admission's
//! pool — each take every batch waiting when they become free (up to
//! `max_tickets` tickets) and decide them in one transaction
//! ([`batch::admit_courses`]). While requests pour in and each course only
//! has a handful of new tickets per batch, one transaction carries the
//! batches of dozens of courses instead of one; when the queue is quiet a
//! single batch still commits at once, without waiting for company.
//!
//! One worker is the default (`ENROLL_ADMISSION_CONNECTIONS=1`): with more
//! transactions in flight PostgreSQL spends more CPU for the same decisions
//! and decides them no faster — smaller transactions, each paying the fixed
//! costs, waiting on each other's student rows. Every instance adds its own
//! worker.
//!
//! While batches keep coming, a worker starts its transactions at least
//! `interval` apart (`ENROLL_ADMISSION_TRANSACTION_INTERVAL_MS`, 15 ms by
//! default) and takes everything that arrived meanwhile — Kafka's
//! `linger.ms`, but only under load: the first batch after a quiet spell
//! starts at once. A transaction's fixed costs (five statements, the
//! trigger's update of every course row it touches, the commit) and each
//! course's Redis round trips per batch are paid per transaction: letting
//! a few milliseconds of tickets gather makes transactions several times
//! fewer and saves PostgreSQL CPU that the requests on the same machine
//! need; without it the worker starts the next transaction the moment one
//! commits, with a handful of tickets each.
//!
//! When a shared transaction fails, its batches are decided again one by
//! one, so a course whose batch cannot commit (whatever the reason) does
//! not hold up the others; a batch that fails alone reports the error to
//! its drain, which retries it (the heads are still at the front of its
//! queue).

use std::sync::Arc;
use std::time::Duration;

use prometheus::IntGauge;
use tokio::sync::{mpsc, oneshot, Mutex};
use tokio::time::Instant;

use super::batch::{self, CourseBatch};
use super::decide::Outcome;
use crate::metrics::Metrics;

type Reply = oneshot::Sender<Result<Option<Outcome>, Arc<sqlx::Error>>>;

struct Job {
    batch: CourseBatch,
    reply: Reply,
}

/// How the [`Committer`] works.
#[derive(Debug, Clone, Copy)]
pub struct CommitterOptions {
    /// Transaction workers (= connections of admission's pool).
    pub workers: usize,
    /// Tickets at most in one transaction (one batch always goes, however
    /// large).
    pub max_tickets: usize,
    pub credit_limit: i32,
    /// Least time between the starts of one worker's transactions while
    /// batches keep coming; zero starts each as soon as the last commits.
    pub interval: Duration,
    /// Write each seat granted to the mail outbox (mail is configured).
    pub announce: bool,
}

/// When a worker may start its next transaction: at least `interval` after
/// the start of its last one, and at once when that is already past (the
/// first batch after a quiet spell never waits).
#[derive(Debug)]
pub struct Pacer {
    interval: Duration,
    last_start: Option<Instant>,
}

impl Pacer {
    pub fn new(interval: Duration) -> Self {
        Self {
            interval,
            last_start: None,
        }
    }

    /// Waits until the next transaction may start.
    pub async fn ready(&self) {
        if let Some(last) = self.last_start {
            tokio::time::sleep_until(last + self.interval).await;
        }
    }

    /// A transaction starts now.
    pub fn started(&mut self) {
        self.last_start = Some(Instant::now());
    }
}

/// Hands course batches to the transaction workers.
#[derive(Clone)]
pub struct Committer {
    jobs: mpsc::UnboundedSender<Job>,
    waiting: IntGauge,
}

impl Committer {
    /// Starts `opts.workers` transaction workers on the current runtime.
    pub fn start(pool: sqlx::PgPool, metrics: Metrics, opts: CommitterOptions) -> Self {
        let (tx, rx) = mpsc::unbounded_channel();
        let rx = Arc::new(Mutex::new(rx));
        for _ in 0..opts.workers.max(1) {
            let worker = Worker {
                pool: pool.clone(),
                metrics: metrics.clone(),
                jobs: rx.clone(),
                max_tickets: opts.max_tickets.max(1),
                credit_limit: opts.credit_limit,
                announce: opts.announce,
                pacer: Pacer::new(opts.interval),
            };
            tokio::spawn(worker.run());
        }
        Self {
            jobs: tx,
            waiting: metrics.batches_waiting.clone(),
        }
    }

    /// Decides `batch` (in a transaction it may share with other courses'
    /// batches) and returns its outcome once committed; `None` when the
    /// course no longer exists.
    pub async fn admit(&self, batch: CourseBatch) -> anyhow::Result<Option<Outcome>> {
        let (reply, answer) = oneshot::channel();
        // Counted before sending: a worker may take it at once.
        self.waiting.inc();
        if self.jobs.send(Job { batch, reply }).is_err() {
            self.waiting.dec();
            anyhow::bail!("the admission committer has stopped");
        }
        match answer.await {
            Ok(Ok(outcome)) => Ok(outcome),
            Ok(Err(err)) => Err(anyhow::anyhow!("admission transaction failed: {err}")),
            Err(_) => Err(anyhow::anyhow!("the admission committer dropped the batch")),
        }
    }
}

struct Worker {
    pool: sqlx::PgPool,
    metrics: Metrics,
    jobs: Arc<Mutex<mpsc::UnboundedReceiver<Job>>>,
    max_tickets: usize,
    credit_limit: i32,
    announce: bool,
    pacer: Pacer,
}

impl Worker {
    async fn run(mut self) {
        loop {
            // Batches arriving meanwhile wait in the channel and go together.
            self.pacer.ready().await;
            let Some(jobs) = self.take().await else {
                break;
            };
            self.pacer.started();
            let (batches, replies): (Vec<CourseBatch>, Vec<Reply>) =
                jobs.into_iter().map(|j| (j.batch, j.reply)).unzip();
            match self.admit(&batches).await {
                Ok(outcomes) => {
                    for (reply, outcome) in replies.into_iter().zip(outcomes) {
                        let _ = reply.send(Ok(outcome));
                    }
                }
                Err(err) if batches.len() > 1 => {
                    // One course's batch must not hold up every other
                    // course's: decide each alone, so only a batch that
                    // fails by itself reports the failure.
                    tracing::warn!(
                        error = %err,
                        courses = batches.len(),
                        "shared admission transaction failed; deciding its batches one by one"
                    );
                    for (batch, reply) in batches.into_iter().zip(replies) {
                        let one = self.admit(std::slice::from_ref(&batch)).await;
                        let _ = reply.send(one.map(|mut o| o.pop().flatten()).map_err(Arc::new));
                    }
                }
                Err(err) => {
                    let err = Arc::new(err);
                    for reply in replies {
                        let _ = reply.send(Err(err.clone()));
                    }
                }
            }
        }
    }

    /// One transaction for `batches`, measured.
    async fn admit(&self, batches: &[CourseBatch]) -> Result<Vec<Option<Outcome>>, sqlx::Error> {
        let started = Instant::now();
        let m = &self.metrics;
        let outcomes = batch::admit_courses(&self.pool, batches, self.credit_limit, self.announce)
            .await
            .inspect_err(|_| m.transaction_failures.inc())?;
        m.commit_seconds.observe(started.elapsed().as_secs_f64());
        let tickets: usize = batches.iter().map(|b| b.heads.len()).sum();
        m.batch_size.observe(tickets as f64);
        m.transaction_courses.observe(batches.len() as f64);
        Ok(outcomes)
    }

    /// Waits for one batch, then takes every batch already waiting, up to
    /// `max_tickets` tickets (one batch always, however large). `None` once
    /// every sender is gone.
    async fn take(&self) -> Option<Vec<Job>> {
        let mut rx = self.jobs.lock().await;
        let first = rx.recv().await?;
        let mut tickets = first.batch.heads.len();
        let mut jobs = vec![first];
        while tickets < self.max_tickets {
            match rx.try_recv() {
                Ok(job) => {
                    tickets += job.batch.heads.len();
                    jobs.push(job);
                }
                Err(_) => break,
            }
        }
        self.metrics.batches_waiting.sub(jobs.len() as i64);
        Some(jobs)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn the_first_transaction_and_one_after_a_quiet_spell_start_at_once() {
        let mut pacer = Pacer::new(Duration::from_millis(15));
        let t0 = Instant::now();
        pacer.ready().await;
        assert_eq!(t0.elapsed(), Duration::ZERO);
        pacer.started();
        tokio::time::sleep(Duration::from_millis(40)).await;
        let t1 = Instant::now();
        pacer.ready().await;
        assert_eq!(t1.elapsed(), Duration::ZERO);
    }

    #[tokio::test(start_paused = true)]
    async fn under_load_starts_are_an_interval_apart() {
        let mut pacer = Pacer::new(Duration::from_millis(15));
        pacer.started();
        let start = Instant::now();
        // The transaction took 4 ms: the next one waits the other 11.
        tokio::time::sleep(Duration::from_millis(4)).await;
        pacer.ready().await;
        assert_eq!(start.elapsed(), Duration::from_millis(15));
        pacer.started();
        // One that took longer than the interval is followed at once.
        tokio::time::sleep(Duration::from_millis(20)).await;
        let late = Instant::now();
        pacer.ready().await;
        assert_eq!(late.elapsed(), Duration::ZERO);
    }

    #[tokio::test(start_paused = true)]
    async fn a_zero_interval_never_waits() {
        let mut pacer = Pacer::new(Duration::ZERO);
        pacer.started();
        let t = Instant::now();
        pacer.ready().await;
        assert_eq!(t.elapsed(), Duration::ZERO);
    }
}
