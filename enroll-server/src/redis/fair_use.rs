//! Per-student fair-use buckets and the cap on tickets in line, kept in
//! Redis so that every instance shares them (see [`crate::fair_use`]).
//!
//! Each student's keys share one hash slot (`{s<id>}`), apart from the
//! courses' queues (`{c<id>}`): taking a token and reserving a place among
//! the student's open tickets is one script ([`check`]), atomic per student,
//! and enqueueing in the course is the next. A reservation the enqueue did
//! not use is given back at once, and admission gives back those of the
//! tickets it decides, in the round trip that records them
//! ([`release_call`]); one left behind by a crash between the two is found
//! when the student reaches the cap ([`prune_decided`]): it names a course
//! whose queue no longer holds them.

use std::sync::LazyLock;
use std::time::Duration;

use redis::aio::ConnectionManager;
use redis::{FromRedisValue, RedisResult, Script, Value};

use super::keys::{self, CourseKey};
use super::pipeline::{Call, Pipeliner};
use crate::fair_use::{Rate, StudentLimit};

static GATE: LazyLock<Script> =
    LazyLock::new(|| Script::new(include_str!("scripts/student_gate.lua")));
static PRUNE: LazyLock<Script> =
    LazyLock::new(|| Script::new(include_str!("scripts/prune_open.lua")));

/// How long a student's set of open tickets outlives its last change.
const OPEN_SET_TTL: Duration = Duration::from_secs(24 * 3600);

/// A reservation younger than this may belong to an enqueue still on its
/// way, so pruning leaves it.
const PRUNE_GRACE: Duration = Duration::from_secs(10);

/// What the gate answered.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Gate {
    Go,
    /// The bucket is empty: a token is back after this long.
    Wait(Duration),
    /// The student already holds this many tickets in line (the cap).
    AtCap(u32),
}

/// A place among the student's open tickets, asked for with the token.
#[derive(Debug, Clone, Copy)]
pub struct OpenTicket {
    pub course: i64,
    pub cap: u32,
}

/// The gate script for `student`'s `limit` bucket (and a place among their
/// open tickets), at Redis's clock or at `now_us` (tests).
pub fn gate_call(
    student: i64,
    limit: StudentLimit,
    rate: Rate,
    open: Option<OpenTicket>,
    now_us: Option<u64>,
) -> Call {
    let (bucket, open_set) = keys::student_fair_use(student, limit.name());
    let interval_us = rate.interval.as_micros() as u64;
    let now = now_us.map(|n| n.to_string()).unwrap_or_default();
    let keys: &[&str] = match open {
        None => &[&bucket],
        Some(_) => &[&bucket, &open_set],
    };
    Call::script(&GATE, keys, |c| {
        c.arg(interval_us).arg(rate.burst).arg(now);
        if let Some(o) = open {
            c.arg(o.course)
                .arg(o.cap)
                .arg(OPEN_SET_TTL.as_millis() as u64);
        }
    })
}

/// Reads the gate script's answer.
pub fn decode(reply: RedisResult<Value>) -> RedisResult<Gate> {
    let (kind, n): (i64, i64) = FromRedisValue::from_redis_value(reply?)?;
    Ok(match kind {
        0 => Gate::Go,
        1 => Gate::Wait(Duration::from_millis(n.max(1) as u64)),
        _ => Gate::AtCap(n as u32),
    })
}

/// Takes a token from `student`'s `limit` bucket, and with `open` a place
/// among their open tickets, through the shared pipeline.
pub async fn check(
    pipeline: &Pipeliner,
    student: i64,
    limit: StudentLimit,
    rate: Rate,
    open: Option<OpenTicket>,
) -> RedisResult<Gate> {
    if rate.is_off() && open.is_none() {
        return Ok(Gate::Go);
    }
    decode(
        pipeline
            .call(gate_call(student, limit, rate, open, None))
            .await,
    )
}

/// The call giving back `student`'s place for `course`: its ticket was
/// decided, or the enqueue answered without a new ticket in line.
pub fn release_call(student: i64, course: i64) -> Call {
    let (_, open_set) = keys::student_fair_use(student, "");
    Call::plain(redis::cmd("ZREM").arg(open_set).arg(course).to_owned())
}

/// Gives back `student`'s places in courses whose queue no longer holds
/// them (decided while a release was lost); returns how many.
pub async fn prune_decided(redis: &mut ConnectionManager, student: i64) -> RedisResult<u32> {
    let (_, open_set) = keys::student_fair_use(student, "");
    let (held, now): (Vec<(i64, String)>, (u64, u64)) = redis::pipe()
        .zrange_withscores(&open_set, 0, -1)
        .cmd("TIME")
        .query_async(redis)
        .await?;
    let now_us = now.0 * 1_000_000 + now.1;
    let grace = PRUNE_GRACE.as_micros() as u64;
    let old: Vec<(i64, String)> = held
        .into_iter()
        .filter(|(_, score)| score.parse::<u64>().is_ok_and(|t| t + grace < now_us))
        .collect();
    if old.is_empty() {
        return Ok(0);
    }
    let mut pipe = redis::pipe();
    for (course, _) in &old {
        pipe.zscore(CourseKey::Queue.of(*course), student);
    }
    let in_line: Vec<Option<f64>> = pipe.query_async(redis).await?;
    let mut inv = PRUNE.prepare_invoke();
    inv.key(&open_set);
    let mut any = false;
    for ((course, score), queued) in old.iter().zip(in_line) {
        if queued.is_none() {
            inv.arg(course).arg(score);
            any = true;
        }
    }
    if !any {
        return Ok(0);
    }
    inv.invoke_async(redis).await
}
