//! Per-student fair-use buckets and the cap on tickets in line, kept in
//! Redis so that every instance shares them (see [`crate::fair_use`]).
//!
//! Each student's keys share one hash slot (`{s<id>}`), apart from the
//! courses' queues (`{c<id>}`): counting the request and reserving a place
//! among the student's open tickets is one `MULTI` of plain commands
//! ([`check`]; a script would cost Redis several times as much), and
//! enqueueing in the course is the next call. A reservation the enqueue did
//! not use is given back at once, and admission gives back those of the
//! tickets it decides, in the round trip that records them
//! ([`release_call`]); one left behind by a crash between the two is found
//! when the student reaches the cap ([`prune_decided`]): it names a course
//! whose queue no longer holds them.
//!
//! A bucket holds `burst` requests and is refilled whole every `burst ÷
//! rate` (a window, numbered from the epoch, so every instance agrees on
//! it within its clock's error): the same average rate, and an answer that
//! costs Redis one `INCR`.

use std::sync::LazyLock;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use crate::redis::conn::RedisConn;
use redis::{AsyncCommands, FromRedisValue, RedisResult, Script, Value};

use super::keys::{self, CourseKey};
use super::pipeline::{Call, Pipeliner};
use crate::fair_use::{Rate, StudentLimit};

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
    /// The bucket is empty: it is refilled after this long.
    Wait(Duration),
    /// The student already holds this many tickets in line (the cap).
    AtCap(u32),
}

/// A place among the student's open tickets, asked for with the request.
#[derive(Debug, Clone, Copy)]
pub struct OpenTicket {
    pub course: i64,
    pub cap: u32,
}

/// Milliseconds since the epoch on this machine's clock.
pub fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64)
}

/// The window of `rate` that `now_ms` falls in: its number and how long
/// until it ends.
fn window(rate: Rate, now_ms: u64) -> (u64, u64) {
    let len = (rate.interval.as_millis() as u64 * u64::from(rate.burst)).max(1);
    (now_ms / len, len - now_ms % len)
}

/// What decides the answer of one gate call.
pub struct GateCheck {
    rate: Rate,
    open: Option<OpenTicket>,
    wait: Duration,
}

/// The gate's transaction for `student`'s `limit` bucket (and a place among
/// their open tickets), at `now_ms`, and what decides its answer.
pub fn gate_call(
    student: i64,
    limit: StudentLimit,
    rate: Rate,
    open: Option<OpenTicket>,
    now_ms: u64,
) -> (Call, GateCheck) {
    let (n, left) = window(rate, now_ms);
    let mut cmds = Vec::with_capacity(5);
    if !rate.is_off() {
        let key = keys::fair_use_window(student, limit.name(), n);
        cmds.push(redis::cmd("INCR").arg(&key).to_owned());
        cmds.push(redis::cmd("PEXPIRE").arg(&key).arg(left + 1000).to_owned());
    }
    if let Some(o) = open {
        let open_set = keys::open_tickets(student);
        let ttl = OPEN_SET_TTL.as_millis() as u64;
        cmds.push(
            redis::cmd("ZADD")
                .arg(&open_set)
                .arg("NX")
                .arg(now_ms)
                .arg(o.course)
                .to_owned(),
        );
        cmds.push(redis::cmd("ZCARD").arg(&open_set).to_owned());
        cmds.push(redis::cmd("PEXPIRE").arg(&open_set).arg(ttl).to_owned());
    }
    let check = GateCheck {
        rate,
        open,
        wait: Duration::from_millis(left),
    };
    (Call::transaction(cmds), check)
}

impl GateCheck {
    /// Reads the transaction's answer; with a place reserved that may not be
    /// kept, also the call that gives it back.
    pub fn decide(
        &self,
        student: i64,
        reply: RedisResult<Value>,
    ) -> RedisResult<(Gate, Option<Call>)> {
        let replies: Vec<Value> = FromRedisValue::from_redis_value(reply?)?;
        let mut replies = replies.into_iter();
        let mut next = || -> RedisResult<i64> {
            Ok(i64::from_redis_value(replies.next().unwrap_or(Value::Nil))?)
        };
        let over_rate = if self.rate.is_off() {
            false
        } else {
            let count = next()?;
            next()?;
            count > i64::from(self.rate.burst)
        };
        let Some(open) = self.open else {
            return Ok((
                if over_rate {
                    Gate::Wait(self.wait)
                } else {
                    Gate::Go
                },
                None,
            ));
        };
        let added = next()? == 1;
        let held = next()?;
        let give_back = added.then(|| release_call(student, open.course));
        Ok(if over_rate {
            (Gate::Wait(self.wait), give_back)
        } else if added && held > i64::from(open.cap) {
            (Gate::AtCap(open.cap), give_back)
        } else {
            (Gate::Go, None)
        })
    }
}

/// Counts a request against `student`'s `limit` bucket, and with `open`
/// reserves a place among their open tickets, through the shared pipeline.
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
    let (call, check) = gate_call(student, limit, rate, open, now_ms());
    let reply = pipeline.call(call).await;
    let (gate, give_back) = check.decide(student, reply)?;
    if let Some(call) = give_back {
        pipeline.call(call).await?;
    }
    Ok(gate)
}

/// The call giving back `student`'s place for `course`: its ticket was
/// decided, or the enqueue answered without a new ticket in line.
pub fn release_call(student: i64, course: i64) -> Call {
    let open_set = keys::open_tickets(student);
    Call::plain(redis::cmd("ZREM").arg(open_set).arg(course).to_owned())
}

/// Gives back `student`'s places in courses whose queue no longer holds
/// them (decided while a release was lost); returns how many.
pub async fn prune_decided(redis: &mut RedisConn, student: i64) -> RedisResult<u32> {
    let open_set = keys::open_tickets(student);
    let held: Vec<(i64, String)> = redis.zrange_withscores(&open_set, 0, -1).await?;
    let grace = PRUNE_GRACE.as_millis() as u64;
    let now = now_ms();
    let old: Vec<(i64, String)> = held
        .into_iter()
        .filter(|(_, score)| score.parse::<u64>().is_ok_and(|t| t + grace < now))
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
