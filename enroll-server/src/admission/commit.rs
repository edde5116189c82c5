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
//! One worker is the default (`ENROLL_ADMISSION_CONNECTIONS=1`): measured on
//! the rush benchmark (four interleaved rounds), PostgreSQL spent 1.6–1.9
//! CPU-s per rush with one transaction in flight, 2.1–2.5 with two and
//! 2.1–3.3 with four, for the same decisions and no faster (smaller
//! transactions, each paying the fixed costs, waiting on each other's
//! student rows); every instance adds its own worker.
//!
//! When a shared transaction fails, its batches are decided again one by
//! one, so a course whose batch cannot commit (whatever the reason) does
//! not hold up the others; a batch that fails alone reports the error to
//! its drain, which retries it (the heads are still at the front of its
//! queue).

use std::sync::Arc;
use std::time::Instant;

use prometheus::IntGauge;
use tokio::sync::{mpsc, oneshot, Mutex};

use super::batch::{self, CourseBatch};
use super::decide::Outcome;
use crate::metrics::Metrics;

type Reply = oneshot::Sender<Result<Option<Outcome>, Arc<sqlx::Error>>>;

struct Job {
    batch: CourseBatch,
    reply: Reply,
}

/// Hands course batches to the transaction workers.
#[derive(Clone)]
pub struct Committer {
    jobs: mpsc::UnboundedSender<Job>,
    waiting: IntGauge,
}

impl Committer {
    /// Starts `workers` transaction workers on the current runtime.
    pub fn start(
        pool: sqlx::PgPool,
        metrics: Metrics,
        workers: usize,
        max_tickets: usize,
        credit_limit: i32,
    ) -> Self {
        let (tx, rx) = mpsc::unbounded_channel();
        let rx = Arc::new(Mutex::new(rx));
        for _ in 0..workers.max(1) {
            let worker = Worker {
                pool: pool.clone(),
                metrics: metrics.clone(),
                jobs: rx.clone(),
                max_tickets: max_tickets.max(1),
                credit_limit,
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
}

impl Worker {
    async fn run(self) {
        while let Some(jobs) = self.take().await {
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
        let outcomes = batch::admit_courses(&self.pool, batches, self.credit_limit)
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
