//! Enroll requests that arrive together go to Redis together.
//!
//! Every enroll request runs the enqueue script once
//! ([`queue::enqueue_many`]). Sent one by one on the shared connection, most
//! of them went out in a write of their own and came back in a read of their
//! own: per request a system call on each side, a wake-up of Redis and one
//! of this process. Here one task sends them: it takes every request waiting
//! for it, sends them as one pipeline (one write, each request still one
//! `EVALSHA`), hands each answer back, and meanwhile the next requests
//! gather. One pipeline is in flight at a time, so under load the batches
//! grow with the round trip (group commit) and when idle a request goes out
//! at once, alone.
//!
//! Order is unchanged in meaning: Redis runs the scripts one after another in
//! the order of the pipeline, which is the order the requests reached this
//! task; a place in line still comes from `INCR` inside the script.

use redis::aio::ConnectionManager;
use redis::{ErrorKind, RedisError, RedisResult};
use tokio::sync::{mpsc, oneshot};

use crate::queue::{self, Enqueued};

/// The most requests one pipeline carries.
pub const MAX_BATCH: usize = 256;

/// One request waiting for its answer.
struct Pending {
    course: i64,
    student: i64,
    answer: oneshot::Sender<RedisResult<Enqueued>>,
}

/// Hands enqueue requests to the task that sends them (cheap to clone).
#[derive(Clone)]
pub struct Enqueuer {
    requests: mpsc::UnboundedSender<Pending>,
}

impl Enqueuer {
    /// Starts the sending task on the current runtime; it ends once every
    /// `Enqueuer` is dropped. `batch_size` observes each pipeline's size.
    pub fn start(redis: ConnectionManager, batch_size: prometheus::Histogram) -> Self {
        let (requests, waiting) = mpsc::unbounded_channel();
        tokio::spawn(send_batches(waiting, redis, batch_size));
        Self { requests }
    }

    /// Puts `student` in line for `course` (see [`queue::enqueue_many`]).
    pub async fn enqueue(&self, course: i64, student: i64) -> RedisResult<Enqueued> {
        let (answer, answered) = oneshot::channel();
        let stopped = || {
            RedisError::from((
                ErrorKind::Io,
                "the enqueue sender has stopped (shutting down)",
            ))
        };
        self.requests
            .send(Pending {
                course,
                student,
                answer,
            })
            .map_err(|_| stopped())?;
        answered.await.map_err(|_| stopped())?
    }
}

async fn send_batches(
    mut waiting: mpsc::UnboundedReceiver<Pending>,
    mut redis: ConnectionManager,
    batch_size: prometheus::Histogram,
) {
    let mut batch = Vec::with_capacity(MAX_BATCH);
    while waiting.recv_many(&mut batch, MAX_BATCH).await > 0 {
        batch_size.observe(batch.len() as f64);
        let items: Vec<(i64, i64)> = batch.iter().map(|p| (p.course, p.student)).collect();
        match queue::enqueue_many(&mut redis, &items).await {
            Ok(answers) => {
                for (p, answer) in batch.drain(..).zip(answers) {
                    // A request whose client went away no longer listens.
                    let _ = p.answer.send(answer);
                }
            }
            Err(e) => {
                for p in batch.drain(..) {
                    let _ = p.answer.send(Err(e.clone()));
                }
            }
        }
    }
}
