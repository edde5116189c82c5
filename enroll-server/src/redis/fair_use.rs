//! Per-student fair-use buckets and the cap on tickets in line, kept in
//! Redis so that every instance shares them (see [`crate::fair_use`]).
//!
//! Each student's keys share one hash slot (`{s<id>}`), apart from the
//! courses' queues (`{c<id>}`): counting the request and reserving a place
//! among the student's open tickets is one `MULTI` of plain commands
//! ([`check`]; a script would cost Redis several times as much), and
//! enqueueing in the course is the next call. A reservation the enqueue did
//! not use is given back at once ([`release_call`]). Places of decided
//! tickets are given back lazily: only when the student reaches the cap
//! ([`prune_decided`]) are their courses looked up, and those whose ticket
//! was decided since the place was taken (or which hold no ticket long
//! after) are dropped. Admission so writes nothing in the students' slots,
//! and a student below the cap never pays for the lookup.
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
use super::pipeline::{run_all, Call, Pipeliner};
use super::retry::{Warnings, WARN_EVERY};
use crate::fair_use::{Rate, StudentLimit};

static PRUNE: LazyLock<Script> =
    LazyLock::new(|| Script::new(include_str!("scripts/prune_open.lua")));
static OPEN_STATE: LazyLock<Script> =
    LazyLock::new(|| Script::new(include_str!("scripts/open_state.lua")));

/// How long a student's set of open tickets lives from its creation (a
/// registration day and more: tickets are decided within it).
const OPEN_SET_TTL: Duration = Duration::from_secs(24 * 3600);

/// A place taken this recently, without a ticket decided since, may belong
/// to an enqueue still on its way, so pruning leaves it.
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
        // Scored by the time it was last asked for: pruning tells an enqueue
        // still on its way from a ticket decided since.
        let open_set = keys::open_tickets(student);
        cmds.push(
            redis::cmd("ZADD")
                .arg(&open_set)
                .arg(now_ms)
                .arg(o.course)
                .to_owned(),
        );
        cmds.push(redis::cmd("ZCARD").arg(&open_set).to_owned());
    }
    let check = GateCheck {
        rate,
        open,
        wait: Duration::from_millis(left),
    };
    (Call::transaction(cmds), check)
}

impl GateCheck {
    /// Reads the transaction's answer, and the call to make next: the one
    /// giving back a place reserved that may not be kept, or the one giving
    /// a set just created its lifetime.
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
        } else if added && held == 1 {
            (Gate::Go, Some(expire_call(student)))
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
    let (gate, then) = check.decide(student, reply)?;
    if let Some(call) = then {
        // Either way the answer stands: a place not given back is pruned
        // once the grace is over, a set left without a lifetime gets one
        // at its next pruning.
        if let Err(e) = pipeline.call(call).await {
            static WARNINGS: Warnings = Warnings::new(WARN_EVERY);
            if let Some(left_out) = WARNINGS.due() {
                tracing::warn!(error = %e, student, left_out, "could not update a student's open tickets");
            }
        }
    }
    Ok(gate)
}

/// The call giving `student`'s set of open tickets its lifetime: sent once,
/// when the set is created, rather than with every request.
fn expire_call(student: i64) -> Call {
    let ttl = OPEN_SET_TTL.as_millis() as u64;
    let open_set = keys::open_tickets(student);
    Call::plain(redis::cmd("PEXPIRE").arg(open_set).arg(ttl).to_owned())
}

/// The call giving back `student`'s place for `course`: the enqueue
/// answered without a new ticket in line.
pub fn release_call(student: i64, course: i64) -> Call {
    let open_set = keys::open_tickets(student);
    Call::plain(redis::cmd("ZREM").arg(open_set).arg(course).to_owned())
}

/// Gives back `student`'s places whose tickets were decided after the
/// place was last asked for, and those without a ticket past the grace
/// (the enqueue failed, or its give-back was lost); returns how many.
pub async fn prune_decided(redis: &mut RedisConn, student: i64) -> RedisResult<u32> {
    let open_set = keys::open_tickets(student);
    let held: Vec<(i64, String)> = redis.zrange_withscores(&open_set, 0, -1).await?;
    let student_arg = student.to_string();
    let calls: Vec<Call> = held
        .iter()
        .map(|(course, _)| {
            let st = CourseKey::StudentTicket.of(*course);
            let tk = CourseKey::Tickets.of(*course);
            Call::script(&OPEN_STATE, &[&st, &tk], |c| {
                c.arg(&student_arg);
            })
        })
        .collect();
    let states = run_all(redis, &calls).await?;
    let now = now_ms();
    let mut inv = PRUNE.prepare_invoke();
    inv.key(&open_set).arg(OPEN_SET_TTL.as_millis() as u64);
    for ((course, score), state) in held.iter().zip(states) {
        let state: i64 = redis::from_redis_value(state?)?;
        let Ok(taken) = score.parse::<u64>() else {
            continue;
        };
        if stale(taken, state, now) {
            inv.arg(course).arg(score);
        }
    }
    inv.invoke_async(redis).await
}

/// Whether a place taken at `taken` (ms) may be given back, its ticket's
/// `state` being -1 (in line), -2 (none) or the time it was decided.
fn stale(taken: u64, state: i64, now: u64) -> bool {
    match u64::try_from(state) {
        // Decided since the place was last asked for: that ask's ticket.
        Ok(decided) if decided >= taken => true,
        _ if state == -1 => false,
        // No ticket, or one decided before: an enqueue may still be on its
        // way, until the grace is over.
        _ => taken + (PRUNE_GRACE.as_millis() as u64) < now,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn places_are_stale_once_decided_or_long_without_a_ticket() {
        let grace = PRUNE_GRACE.as_millis() as u64;
        let taken = 1_000_000;
        // In line: never, however old.
        assert!(!stale(taken, -1, taken + 100 * grace));
        // Decided after the place was asked for: at once.
        assert!(stale(taken, taken as i64, taken));
        assert!(stale(taken, taken as i64 + 5, taken + 5));
        // Decided before (a new enqueue may be on its way), or no ticket:
        // only after the grace.
        for state in [-2, taken as i64 - 1, 0] {
            assert!(!stale(taken, state, taken + grace));
            assert!(stale(taken, state, taken + grace + 1));
        }
    }
}
