//! Joining a course's queue: the enqueue script, and the task that sends the
//! scripts of enroll requests arriving together in one pipeline.
//!
//! Arrival order is the order in which Redis ran the enqueue script: the
//! sequence number comes from `INCR` inside it, never from a server clock.
//! (A counter that does not exist yet starts at Redis's own clock in
//! microseconds, only so that ticket ids stay unique if Redis loses data.)
//!
//! Enroll requests arriving together are sent in one pipeline by the
//! [`Pipeliner`] task; Redis runs their scripts in the order the requests
//! reached it.

use std::net::IpAddr;
use std::sync::LazyLock;

use crate::redis::conn::RedisConn;
use redis::{FromRedisValue, RedisResult, Script};

use super::keys::CourseKeys;
use super::pipeline::{self, Call, Pipeliner};
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
        /// The sequence number at the queue's head, read with `rank`.
        head: i64,
    },
    /// The student already holds a seat in this course.
    AlreadyEnrolled,
    /// The course is flagged full.
    Full,
}

/// The enqueue script's answer: status, sequence, 0-based rank, retry (0/1),
/// the course's pace and the sequence number at the queue's head.
type EnqueueReply = (String, String, i64, i64, String, String);

fn enqueued((status, seq, rank, retry, pace, head): EnqueueReply) -> Enqueued {
    match status.as_str() {
        "queued" => Enqueued::Queued {
            seq: seq.parse().unwrap_or(0),
            rank,
            retry: retry == 1,
            pace: Pace::parse(&pace),
            head: head.parse().unwrap_or(0),
        },
        "enrolled" => Enqueued::AlreadyEnrolled,
        _ => Enqueued::Full,
    }
}

/// The enqueue script run for `student` in line for `course_id`.
fn enqueue_call(course_id: i64, student: i64, from: IpAddr) -> Call {
    let k = CourseKeys::new(course_id);
    let keys = [
        k.queue.as_str(),
        &k.seq,
        &k.student_ticket,
        &k.tickets,
        &k.full,
        &k.pace,
        &k.addrs,
    ];
    Call::script(&ENQUEUE, &keys, |c| {
        c.arg(student).arg(from.to_string());
    })
}

fn decode(reply: RedisResult<redis::Value>) -> RedisResult<Enqueued> {
    reply
        .and_then(|v| EnqueueReply::from_redis_value(v).map_err(Into::into))
        .map(enqueued)
}

/// Puts each `(course, student)` in line for the course, or returns their
/// existing place: the enqueue script once per request, all in one pipelined
/// round trip, run by Redis in this order (see [`pipeline::run_all`]; the
/// script is idempotent).
pub async fn enqueue_many(
    redis: &mut RedisConn,
    requests: &[(i64, i64)],
) -> RedisResult<Vec<RedisResult<Enqueued>>> {
    let calls: Vec<Call> = requests
        .iter()
        // No request behind these: no address for their audit rows.
        .map(|&(course, student)| enqueue_call(course, student, IpAddr::from([0, 0, 0, 0])))
        .collect();
    Ok(pipeline::run_all(redis, &calls)
        .await?
        .into_iter()
        .map(decode)
        .collect())
}

/// Sends enqueue requests through the shared [`Pipeliner`] (cheap to clone).
#[derive(Clone)]
pub struct Enqueuer {
    pipeline: Pipeliner,
}

impl Enqueuer {
    pub fn new(pipeline: Pipeliner) -> Self {
        Self { pipeline }
    }

    /// Starts a pipeline of its own (see [`Pipeliner::start`]).
    pub fn start(redis: RedisConn, batch_size: prometheus::Histogram) -> Self {
        Self::new(Pipeliner::start(redis, batch_size))
    }

    /// Puts `student` in line for `course` (see [`enqueue_many`]).
    pub async fn enqueue(&self, course: i64, student: i64, from: IpAddr) -> RedisResult<Enqueued> {
        decode(
            self.pipeline
                .call(enqueue_call(course, student, from))
                .await,
        )
    }
}
