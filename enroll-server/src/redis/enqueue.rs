//! Joining a course's queue: the enqueue script, and the task that sends the
//! scripts of enroll requests arriving together in one pipeline.
//!
//! Arrival order is the order in which Redis ran the enqueue script: the
//! sequence number comes from `INCR` inside it, never from a server clock.
//! (A counter that does not exist yet starts at Redis's own clock in
//! microseconds, only so that ticket ids stay unique if Redis loses data.)
//!
//! Sent one by one on the shared connection, most enqueue scripts would go
//! out in a write of their own and come back in a read of their own: per
//! request a system call on each side, a wake-up of Redis and one of this
//! process. [`Enqueuer`] is one task that takes every request waiting for
//! it, sends them as one pipeline (one write, each request still one
//! `EVALSHA`), hands each answer back, and meanwhile the next requests
//! gather. One pipeline is in flight at a time, so under load the batches
//! grow with the round trip (group commit) and when idle a request goes out
//! at once, alone. Redis runs the scripts in the order of the pipeline,
//! which is the order the requests reached the task.

use std::sync::LazyLock;

use redis::aio::ConnectionManager;
use redis::{ErrorKind, RedisError, RedisResult, Script};
use tokio::sync::{mpsc, oneshot};

use super::keys::CourseKeys;
use crate::pace::Pace;

static ENQUEUE: LazyLock<Script> =
    LazyLock::new(|| Script::new(include_str!("scripts/enqueue.lua")));

/// What the enqueue script answered.
#[derive(Debug, Clone, PartialEq)]
pub enum Enqueued {
    /// In line (new, or the same ticket again on a retry). `rank` is 0-based.
    Queued {
        seq: i64,
        rank: i64,
        retry: bool,
        pace: Option<Pace>,
    },
    /// The student already holds a seat in this course.
    AlreadyEnrolled,
    /// The course is flagged full.
    Full,
}

/// The enqueue script's answer: status, sequence, 0-based rank, retry (0/1)
/// and the course's pace.
type EnqueueReply = (String, String, i64, i64, String);

fn enqueued((status, seq, rank, retry, pace): EnqueueReply) -> Enqueued {
    match status.as_str() {
        "queued" => Enqueued::Queued {
            seq: seq.parse().unwrap_or(0),
            rank,
            retry: retry == 1,
            pace: Pace::parse(&pace),
        },
        "enrolled" => Enqueued::AlreadyEnrolled,
        _ => Enqueued::Full,
    }
}

/// The enqueue script run for `student` in line for `course_id`.
fn enqueue_cmd(course_id: i64, student: i64) -> redis::Cmd {
    let k = CourseKeys::new(course_id);
    let mut cmd = redis::cmd("EVALSHA");
    cmd.arg(ENQUEUE.get_hash())
        .arg(6)
        .arg(&k.queue)
        .arg(&k.seq)
        .arg(&k.student_ticket)
        .arg(&k.tickets)
        .arg(&k.full)
        .arg(&k.pace)
        .arg(student);
    cmd
}

/// Puts each `(course, student)` in line for the course, or returns their
/// existing place: the enqueue script once per request, all in one pipelined
/// round trip, run by Redis in this order. One answer per request, in order;
/// a request's own failure (e.g. a course key of the wrong type) is its
/// answer alone. Requests that found Redis's script cache empty
/// (`NOSCRIPT`: Redis restarted or `SCRIPT FLUSH`) are sent once more after
/// loading the script — the script is idempotent.
pub async fn enqueue_many(
    redis: &mut ConnectionManager,
    requests: &[(i64, i64)],
) -> RedisResult<Vec<RedisResult<Enqueued>>> {
    let mut answers: Vec<Option<RedisResult<Enqueued>>> = vec![None; requests.len()];
    let mut todo: Vec<usize> = (0..requests.len()).collect();
    for attempt in 0..2 {
        let mut pipe = redis::pipe();
        pipe.ignore_errors();
        for &i in &todo {
            let (course, student) = requests[i];
            pipe.add_command(enqueue_cmd(course, student));
        }
        let replies: Vec<RedisResult<EnqueueReply>> = pipe.query_async(redis).await?;
        if replies.len() != todo.len() {
            return Err(RedisError::from((
                ErrorKind::Parse,
                "the enqueue pipeline's reply count does not match its requests",
            )));
        }
        let mut again = Vec::new();
        for (&i, reply) in todo.iter().zip(replies) {
            match reply {
                Err(e)
                    if attempt == 0
                        && e.kind() == ErrorKind::Server(redis::ServerErrorKind::NoScript) =>
                {
                    again.push(i);
                }
                reply => answers[i] = Some(reply.map(enqueued)),
            }
        }
        if again.is_empty() {
            break;
        }
        ENQUEUE.load_async(redis).await?;
        todo = again;
    }
    Ok(answers
        .into_iter()
        .map(|a| a.expect("the second attempt answers every request"))
        .collect())
}

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

    /// Puts `student` in line for `course` (see [`enqueue_many`]).
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
        match enqueue_many(&mut redis, &items).await {
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
