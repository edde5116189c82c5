//! A batch of a course's queue: claimed at the head, decided in PostgreSQL,
//! then finished here.
//!
//! Heads stay in the queue until their decision is written back, so a
//! worker that dies mid-batch leaves them at the head for the next lease
//! holder; the claim marker tells that holder a batch was interrupted.

use std::sync::LazyLock;

use crate::redis::conn::RedisConn;
use redis::Script;

use super::feed::Channel;
use super::keys::CourseKeys;
use super::pipeline::{self, Call};
use crate::pace::Pace;
use crate::ticket::{encode_batch, Decision};

static FINISH: LazyLock<Script> = LazyLock::new(|| Script::new(include_str!("scripts/finish.lua")));
static CLAIM: LazyLock<Script> = LazyLock::new(|| Script::new(include_str!("scripts/claim.lua")));

/// The first `n` waiting `(student, seq)` pairs, in queue order, plus the
/// seat generation seen now. Marks the batch as claimed by `worker`.
pub async fn claim_heads(
    redis: &mut RedisConn,
    course_id: i64,
    n: usize,
    worker: &str,
) -> redis::RedisResult<(Vec<Head>, i64)> {
    let k = CourseKeys::new(course_id);
    let keys = [k.queue.as_str(), &k.gen, &k.claim, &k.addrs];
    let call = Call::script(&CLAIM, &keys, |c| {
        c.arg(n).arg(worker);
    });
    let reply = pipeline::run_all(redis, std::slice::from_ref(&call))
        .await?
        .into_iter()
        .next()
        .expect("one reply")?;
    let items: Vec<String> = redis::from_redis_value(reply)?;
    let gen = items.first().and_then(|g| g.parse().ok()).unwrap_or(0);
    let heads = items[1.min(items.len())..]
        .chunks_exact(3)
        .filter_map(|h| {
            Some(Head {
                student: h[0].parse().ok()?,
                seq: h[1].parse().ok()?,
                addr: h[2].parse().ok(),
            })
        })
        .collect();
    Ok((heads, gen))
}

/// A queue head claimed for a batch.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Head {
    pub student: i64,
    pub seq: i64,
    /// Where the ticket was asked from (for its audit row).
    pub addr: Option<std::net::IpAddr>,
}

/// Decisions written (and published) per call of the finishing script: a
/// batch bigger than this is finished in parts, one after the other, so
/// its first students hear their decisions while the rest are written.
pub const FINISH_PART: usize = 256;

/// Records decisions (after COMMIT), removes them from the queue, flags the
/// course full when it is (unless seats were freed since `gen_seen`),
/// records the queue's pace, clears the claim marker and publishes the
/// decisions on [`Channel::Decided`] for the students' event streams (their
/// places among their open tickets are given back lazily: see
/// [`crate::redis::fair_use`]). Returns the queue length left, or `None` when
/// `worker` no longer holds the course's lease: then nothing more was
/// written (the new holder decides the same heads again from the committed
/// rows, and writes those still queued).
pub async fn finish(
    redis: &mut RedisConn,
    worker: &str,
    course_id: i64,
    gen_seen: i64,
    full: bool,
    pace: Pace,
    decisions: &[Decision],
) -> redis::RedisResult<Option<i64>> {
    let batch = Batch {
        worker,
        course_id,
        keys: CourseKeys::new(course_id),
        gen_seen,
        full,
        pace,
    };
    let parts: Vec<&[Decision]> = if decisions.is_empty() {
        vec![decisions]
    } else {
        decisions.chunks(FINISH_PART).collect()
    };
    let mut left = 0;
    for (i, &part) in parts.iter().enumerate() {
        let last = i + 1 == parts.len();
        let Some(n) = finish_part(redis, &batch, part, last).await? else {
            return Ok(None);
        };
        left = n;
    }
    Ok(Some(left))
}

/// What every part of one batch is finished with.
struct Batch<'a> {
    worker: &'a str,
    course_id: i64,
    keys: CourseKeys,
    gen_seen: i64,
    /// Flag the course full (done by the last part).
    full: bool,
    pace: Pace,
}

/// [`finish`] for one part of a batch; `last` finishes the batch itself.
async fn finish_part(
    redis: &mut RedisConn,
    b: &Batch<'_>,
    decisions: &[Decision],
    last: bool,
) -> redis::RedisResult<Option<i64>> {
    let k = &b.keys;
    let keys = [
        k.queue.as_str(),
        &k.tickets,
        &k.full,
        &k.gen,
        &k.pace,
        &k.claim,
        &k.done,
        &k.lease,
        &k.addrs,
    ];
    let finish = Call::script(&FINISH, &keys, |c| {
        c.arg(b.gen_seen)
            .arg(if b.full { "1" } else { "0" })
            .arg(b.pace.encode())
            .arg(Channel::Decided.name())
            .arg(encode_batch(b.course_id, decisions))
            .arg(b.worker)
            .arg(if last { "1" } else { "0" });
        for d in decisions {
            c.arg(d.student).arg(d.seq).arg(d.outcome());
        }
    });
    let left = pipeline::run_all(redis, &[finish])
        .await?
        .pop()
        .expect("one reply per call")?;
    let left: i64 = redis::from_redis_value(left)?;
    Ok((left >= 0).then_some(left))
}
