//! The waiting queue in Redis: one sorted set per course, scripts that keep
//! every multi-key step atomic.
//!
//! Keys of course 42 all carry the hash tag `{c42}`, so every script touches
//! one slot and the same code runs on Redis Cluster:
//!
//! | key          | type   | holds                                              |
//! |--------------|--------|----------------------------------------------------|
//! | `q:{c42}`    | ZSET   | waiting students, scored by their sequence number  |
//! | `seq:{c42}`  | string | last sequence number handed out (`INCR`)           |
//! | `st:{c42}`   | HASH   | student id → their latest ticket's sequence number |
//! | `tk:{c42}`   | HASH   | sequence number → `student|status|reason`, plus `|decided_ms` (Redis time) once decided |
//! | `full:{c42}` | string | present while the course is known to be full       |
//! | `gen:{c42}`  | string | bumped when seats are freed (cancel, more capacity)|
//! | `lease:{c42}`| string | the admission worker deciding this course (PX TTL) |
//! | `claim:{c42}`| string | set while a batch is being decided (crash marker)  |
//! | `pace:{c42}` | string | `<cycle_ms>|<batch>`: how fast the line moves (ETAs) |
//!
//! Arrival order is the order in which Redis ran the enqueue script: the
//! sequence number comes from `INCR` inside it, never from a server clock.
//! (A counter that does not exist yet starts at Redis's own clock in
//! microseconds, only so that ticket ids stay unique if Redis loses data.)

use std::sync::LazyLock;

use redis::aio::ConnectionManager;
use redis::Script;

use crate::followed_cache::FREED_CHANNEL;
use crate::ticket_events::{self, DECIDED_CHANNEL};

/// Key names of one course.
#[derive(Debug, Clone)]
pub struct CourseKeys {
    pub queue: String,
    pub seq: String,
    pub student_ticket: String,
    pub tickets: String,
    pub full: String,
    pub gen: String,
    pub lease: String,
    pub claim: String,
    pub pace: String,
}

impl CourseKeys {
    /// Every key of the course. Built on each enqueue, so without
    /// `format!` (which cost more than the rest of the key handling).
    pub fn new(course_id: i64) -> Self {
        let tag = hash_tag(course_id);
        Self {
            queue: ["q:", &tag].concat(),
            seq: ["seq:", &tag].concat(),
            student_ticket: ["st:", &tag].concat(),
            tickets: ["tk:", &tag].concat(),
            full: ["full:", &tag].concat(),
            gen: ["gen:", &tag].concat(),
            lease: ["lease:", &tag].concat(),
            claim: ["claim:", &tag].concat(),
            pace: ["pace:", &tag].concat(),
        }
    }
}

/// `{c<id>}`: the hash tag every key of the course carries.
fn hash_tag(course_id: i64) -> String {
    let mut tag = String::with_capacity(24);
    tag.push_str("{c");
    tag.push_str(itoa::Buffer::new().format(course_id));
    tag.push('}');
    tag
}

/// The course's waiting queue (a sorted set: student → sequence).
fn queue_key(course_id: i64) -> String {
    ["q:", &hash_tag(course_id)].concat()
}

/// Set while the course is known to be full.
fn full_key(course_id: i64) -> String {
    ["full:", &hash_tag(course_id)].concat()
}

/// A ticket id: `<course>-<sequence>`; the sequence is the queue position's
/// score, so the id alone says which course and place it is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TicketId {
    pub course_id: i64,
    pub seq: i64,
}

impl TicketId {
    pub fn parse(s: &str) -> Option<Self> {
        let (c, q) = s.split_once('-')?;
        Some(Self {
            course_id: c.parse().ok()?,
            seq: q.parse().ok()?,
        })
    }
}

impl std::fmt::Display for TicketId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}-{}", self.course_id, self.seq)
    }
}

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

/// How fast a course's queue moves, as the admission worker deciding it last
/// measured: a batch of up to `batch` heads is decided every `cycle_ms`
/// (claim, the shared transaction — including its pacing wait — and COMMIT).
/// Stored as `<cycle_ms>|<batch>` in `pace:{c<id>}`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Pace {
    pub cycle_ms: f64,
    pub batch: usize,
}

impl Pace {
    /// Reads the stored form; `None` for anything else (nothing measured
    /// yet, or a value this version does not know).
    pub fn parse(s: &str) -> Option<Self> {
        let (cycle, batch) = s.split_once('|')?;
        let cycle_ms: f64 = cycle.parse().ok()?;
        let batch: usize = batch.parse().ok()?;
        (cycle_ms.is_finite() && cycle_ms >= 0.0 && batch > 0).then_some(Self { cycle_ms, batch })
    }

    /// The stored form.
    pub fn encode(&self) -> String {
        format!("{:.1}|{}", self.cycle_ms, self.batch)
    }

    /// Expected time until the ticket at 1-based `position` is decided: the
    /// heads are decided `batch` at a time, one cycle each, so place 1 waits
    /// a whole cycle (not `1 / rate`) and place `batch + 1` two — plus, on
    /// average, half a cycle for the batch being decided when the ticket
    /// came (it was taken before the ticket joined).
    pub fn eta_ms(&self, position: i64) -> u64 {
        let cycles = (position.max(1) as u64).div_ceil(self.batch as u64);
        ((cycles as f64 + 0.5) * self.cycle_ms).ceil().max(1.0) as u64
    }
}

static ENQUEUE: LazyLock<Script> = LazyLock::new(|| {
    Script::new(
        r#"
-- KEYS: q, seq, st, tk, full, pace   ARGV: student
local prev = redis.call('HGET', KEYS[3], ARGV[1])
if prev then
  local t = redis.call('HGET', KEYS[4], prev)
  if t then
    local status = string.match(t, '^[^|]*|([^|]*)')
    if status == 'queued' then
      local rank = redis.call('ZRANK', KEYS[1], ARGV[1])
      if rank then return {'queued', prev, rank, 1, redis.call('GET', KEYS[6]) or '0'} end
    elseif status == 'enrolled' then
      return {'enrolled', prev, -1, 1, '0'}
    end
  end
end
if redis.call('EXISTS', KEYS[5]) == 1 then return {'full', '0', -1, 0, '0'} end
local seq = redis.call('INCR', KEYS[2])
if seq == 1 then
  -- A new (or lost and recreated) counter starts at Redis's clock in
  -- microseconds, so ticket ids never repeat after a data loss. Order still
  -- comes only from INCR.
  local t = redis.call('TIME')
  seq = tonumber(t[1]) * 1000000 + tonumber(t[2])
  redis.call('SET', KEYS[2], string.format('%.0f', seq))
end
-- Numbers are passed as strings: Lua would print large ones in %.14g.
local s = string.format('%.0f', seq)
redis.call('ZADD', KEYS[1], 'NX', s, ARGV[1])
redis.call('HSET', KEYS[3], ARGV[1], s)
redis.call('HSET', KEYS[4], s, ARGV[1] .. '|queued|')
return {'queued', s, redis.call('ZRANK', KEYS[1], ARGV[1]), 0, redis.call('GET', KEYS[6]) or '0'}
"#,
    )
});

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
/// round trip (see [`crate::enqueuer`]), run by Redis in this order. One
/// answer per request, in order; a request's own failure (e.g. a course key
/// of the wrong type) is its answer alone. Requests that found Redis's script
/// cache empty (`NOSCRIPT`: Redis restarted or `SCRIPT FLUSH`) are sent once
/// more after loading the script — the script is idempotent.
pub async fn enqueue_many(
    redis: &mut ConnectionManager,
    requests: &[(i64, i64)],
) -> redis::RedisResult<Vec<redis::RedisResult<Enqueued>>> {
    let mut answers: Vec<Option<redis::RedisResult<Enqueued>>> = vec![None; requests.len()];
    let mut todo: Vec<usize> = (0..requests.len()).collect();
    for attempt in 0..2 {
        let mut pipe = redis::pipe();
        pipe.ignore_errors();
        for &i in &todo {
            let (course, student) = requests[i];
            pipe.add_command(enqueue_cmd(course, student));
        }
        let replies: Vec<redis::RedisResult<EnqueueReply>> = pipe.query_async(redis).await?;
        if replies.len() != todo.len() {
            return Err(redis::RedisError::from((
                redis::ErrorKind::Parse,
                "the enqueue pipeline's reply count does not match its requests",
            )));
        }
        let mut again = Vec::new();
        for (&i, reply) in todo.iter().zip(replies) {
            match reply {
                Err(e)
                    if attempt == 0
                        && e.kind()
                            == redis::ErrorKind::Server(redis::ServerErrorKind::NoScript) =>
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

/// One of the caller's tickets as stored.
#[derive(Debug, Clone, PartialEq)]
pub struct TicketState {
    pub status: String,
    pub reason: Option<String>,
    /// 0-based rank while queued.
    pub rank: Option<i64>,
    /// How fast the course's queue moves, once admission has measured it.
    pub pace: Option<Pace>,
}

/// Reads one of `student`'s tickets (`None`: missing or someone else's).
/// One round trip.
pub async fn ticket(
    redis: &mut ConnectionManager,
    student: i64,
    id: TicketId,
) -> redis::RedisResult<Option<TicketState>> {
    Ok(tickets(redis, student, &[id]).await?.pop().flatten())
}

/// Reads tickets (of any courses) that `student` asks for, in one pipelined
/// round trip of plain commands — per ticket `MULTI`, the ticket, the
/// student's place in that course's queue, the course's pace, `EXEC` — so
/// each ticket is read atomically and within its own course's slot. `None`
/// for a ticket that is missing or someone else's (the two are answered
/// alike, so ids reveal nothing); the place looked up is the caller's, so it
/// is only kept for their own ticket. A Lua script did the same in about
/// three times Redis's time per ticket (`INFO commandstats` during the rush
/// benchmark: ~14 µs per script call, ~4 µs per `EXEC`).
pub async fn tickets(
    redis: &mut ConnectionManager,
    student: i64,
    ids: &[TicketId],
) -> redis::RedisResult<Vec<Option<TicketState>>> {
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    let mut pipe = redis::pipe();
    for id in ids {
        // Only the three keys read, not every key of the course: this runs
        // for every ticket of every poll.
        let tag = hash_tag(id.course_id);
        pipe.cmd("MULTI")
            .ignore()
            .hget(["tk:", &tag].concat(), id.seq)
            .ignore()
            .zrank(["q:", &tag].concat(), student)
            .ignore()
            .get(["pace:", &tag].concat())
            .ignore()
            .cmd("EXEC");
    }
    let found: Vec<(Option<String>, Option<i64>, Option<String>)> = pipe.query_async(redis).await?;
    Ok(found
        .into_iter()
        .map(|(t, rank, pace)| {
            let mut state = ticket_state(&t?, student)?;
            if state.status == "queued" {
                state.rank = rank;
            }
            state.pace = pace.as_deref().and_then(Pace::parse);
            Some(state)
        })
        .collect())
}

/// `student|status|reason`, and `|decided_ms` once decided — if `owner`'s;
/// no place or pace yet.
fn ticket_state(t: &str, owner: i64) -> Option<TicketState> {
    let mut parts = t.split('|');
    if parts.next()?.parse::<i64>().ok()? != owner {
        return None;
    }
    let status = parts.next()?.to_string();
    let reason = parts.next().filter(|r| !r.is_empty()).map(str::to_string);
    Some(TicketState {
        status,
        reason,
        rank: None,
        pace: None,
    })
}

/// One decided ticket, written back after the database committed it.
#[derive(Debug, Clone)]
pub struct Decision {
    pub student: i64,
    pub seq: i64,
    /// `enrolled` or `rejected`.
    pub status: &'static str,
    pub reason: Option<&'static str>,
}

static FINISH: LazyLock<Script> = LazyLock::new(|| {
    Script::new(
        r#"
-- KEYS: q, tk, full, gen, pace, claim
-- ARGV: gen_seen, mark_full, pace, channel, message, then
--       (student, seq, status|reason) triples
-- Each ticket becomes student|status|reason|decided_ms (Redis's clock); the
-- message (the decisions for the students' event streams) is published
-- once they are all written.
local now = redis.call('TIME')
local ms = string.format('%d', tonumber(now[1]) * 1000 + math.floor(tonumber(now[2]) / 1000))
for i = 6, #ARGV, 3 do
  local student, seq = ARGV[i], ARGV[i + 1]
  local score = redis.call('ZSCORE', KEYS[1], student)
  if score and tonumber(score) == tonumber(seq) then
    redis.call('ZREM', KEYS[1], student)
  end
  redis.call('HSET', KEYS[2], seq, student .. '|' .. ARGV[i + 2] .. '|' .. ms)
end
-- Only flag the course full if no seat was freed since the batch began.
if ARGV[2] == '1' and (redis.call('GET', KEYS[4]) or '0') == ARGV[1] then
  redis.call('SET', KEYS[3], '1')
end
redis.call('SET', KEYS[5], ARGV[3])
redis.call('DEL', KEYS[6])
if #ARGV > 5 then
  redis.call('PUBLISH', ARGV[4], ARGV[5])
end
return redis.call('ZCARD', KEYS[1])
"#,
    )
});

/// Records decisions (after COMMIT), removes them from the queue, flags the
/// course full when it is, records the queue's pace, clears the crash
/// marker and publishes the decisions on [`DECIDED_CHANNEL`] (see
/// [`crate::ticket_events`]). Returns the queue length left.
pub async fn finish(
    redis: &mut ConnectionManager,
    course_id: i64,
    gen_seen: i64,
    full: bool,
    pace: Pace,
    decisions: &[Decision],
) -> redis::RedisResult<i64> {
    let k = CourseKeys::new(course_id);
    let mut inv = FINISH.prepare_invoke();
    inv.key(&k.queue)
        .key(&k.tickets)
        .key(&k.full)
        .key(&k.gen)
        .key(&k.pace)
        .key(&k.claim);
    inv.arg(gen_seen)
        .arg(if full { "1" } else { "0" })
        .arg(pace.encode())
        .arg(DECIDED_CHANNEL)
        .arg(ticket_events::encode(course_id, decisions));
    for d in decisions {
        inv.arg(d.student)
            .arg(d.seq)
            .arg(format!("{}|{}", d.status, d.reason.unwrap_or("")));
    }
    inv.invoke_async(redis).await
}

/// The first `n` waiting `(student, seq)` pairs, in queue order, plus the
/// seat generation seen now. Marks the batch as claimed by `worker`.
pub async fn peek_heads(
    redis: &mut ConnectionManager,
    course_id: i64,
    n: usize,
    worker: &str,
) -> redis::RedisResult<(Vec<(i64, i64)>, i64)> {
    let k = CourseKeys::new(course_id);
    let (heads, gen): (Vec<(i64, f64)>, Option<i64>) = redis::pipe()
        .zrange_withscores(&k.queue, 0, n as isize - 1)
        .get(&k.gen)
        .set(&k.claim, worker)
        .ignore()
        .query_async(redis)
        .await?;
    Ok((
        heads.into_iter().map(|(s, q)| (s, q as i64)).collect(),
        gen.unwrap_or(0),
    ))
}

static ACQUIRE: LazyLock<Script> = LazyLock::new(|| {
    Script::new(
        r#"
-- KEYS: lease, claim   ARGV: worker, ttl_ms
local cur = redis.call('GET', KEYS[1])
if cur == ARGV[1] then
  redis.call('PEXPIRE', KEYS[1], ARGV[2])
  return 1
end
if cur then return 0 end
redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
local c = redis.call('GET', KEYS[2])
if c and c ~= ARGV[1] then return 2 end
return 1
"#,
    )
});

/// Outcome of trying to take or renew a course's lease.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Lease {
    Held,
    /// Taken over from a worker that died mid-batch (its claim was left).
    TakenOver,
    Busy,
}

/// Takes (or renews) the lease on a course for `ttl_ms`.
pub async fn acquire_lease(
    redis: &mut ConnectionManager,
    course_id: i64,
    worker: &str,
    ttl_ms: u64,
) -> redis::RedisResult<Lease> {
    let k = CourseKeys::new(course_id);
    let r: i64 = ACQUIRE
        .key(&k.lease)
        .key(&k.claim)
        .arg(worker)
        .arg(ttl_ms)
        .invoke_async(redis)
        .await?;
    Ok(match r {
        1 => Lease::Held,
        2 => Lease::TakenOver,
        _ => Lease::Busy,
    })
}

static RELEASE: LazyLock<Script> = LazyLock::new(|| {
    Script::new(
        r#"
-- KEYS: lease, claim   ARGV: worker
if redis.call('GET', KEYS[1]) == ARGV[1] then
  redis.call('DEL', KEYS[2])
  return redis.call('DEL', KEYS[1])
end
return 0
"#,
    )
});

/// Gives the lease back if we still hold it.
pub async fn release_lease(
    redis: &mut ConnectionManager,
    course_id: i64,
    worker: &str,
) -> redis::RedisResult<()> {
    let k = CourseKeys::new(course_id);
    let _: i64 = RELEASE
        .key(&k.lease)
        .key(&k.claim)
        .arg(worker)
        .invoke_async(redis)
        .await?;
    Ok(())
}

/// Set while an admin has paused admission (every instance).
const PAUSED_KEY: &str = "admission:paused";

/// Whether an admin has paused admission.
pub async fn admission_paused(redis: &mut ConnectionManager) -> redis::RedisResult<bool> {
    redis::cmd("EXISTS")
        .arg(PAUSED_KEY)
        .query_async(redis)
        .await
}

/// Pauses (`true`) or resumes admission on every instance.
pub async fn set_admission_paused(
    redis: &mut ConnectionManager,
    paused: bool,
) -> redis::RedisResult<()> {
    if paused {
        redis::cmd("SET")
            .arg(PAUSED_KEY)
            .arg("1")
            .query_async(redis)
            .await
    } else {
        redis::cmd("DEL")
            .arg(PAUSED_KEY)
            .query_async::<i64>(redis)
            .await
            .map(drop)
    }
}

/// Seats were freed (cancel, capacity raised): clear the full flag, bump the
/// generation so an in-flight batch cannot set a stale flag, forget the
/// student's cancelled ticket so they may queue again, and tell every
/// instance to forget the flag too ([`FREED_CHANNEL`]), in one transaction.
pub async fn seats_freed(
    redis: &mut ConnectionManager,
    course_id: i64,
    cancelled: Option<(i64, Option<i64>)>,
) -> redis::RedisResult<()> {
    let k = CourseKeys::new(course_id);
    let mut pipe = redis::pipe();
    pipe.atomic().incr(&k.gen, 1).ignore().del(&k.full).ignore();
    if let Some((student, seq)) = cancelled {
        pipe.hdel(&k.student_ticket, student).ignore();
        if let Some(seq) = seq {
            pipe.hset(&k.tickets, seq, format!("{student}|cancelled|"))
                .ignore();
        }
    }
    pipe.publish(FREED_CHANNEL, course_id).ignore();
    pipe.query_async::<()>(redis).await
}

/// What the admission runner's poll reads, in one round trip: whether an
/// admin has paused admission, and the queue length of each course.
pub async fn scan_state(
    redis: &mut ConnectionManager,
    courses: &[i64],
) -> redis::RedisResult<(bool, Vec<i64>)> {
    let mut pipe = redis::pipe();
    pipe.exists(PAUSED_KEY);
    for &c in courses {
        pipe.zcard(queue_key(c));
    }
    let mut answers: Vec<i64> = pipe.query_async(redis).await?;
    let paused = answers.remove(0) != 0;
    Ok((paused, answers))
}

/// Whether each course is flagged full, in one round trip.
pub async fn full_flags(
    redis: &mut ConnectionManager,
    courses: &[i64],
) -> redis::RedisResult<Vec<bool>> {
    if courses.is_empty() {
        return Ok(Vec::new());
    }
    let mut pipe = redis::pipe();
    for &c in courses {
        pipe.exists(full_key(c));
    }
    pipe.query_async(redis).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ticket_ids_round_trip() {
        let t = TicketId {
            course_id: 42,
            seq: 1017,
        };
        assert_eq!(t.to_string(), "42-1017");
        assert_eq!(TicketId::parse("42-1017"), Some(t));
        assert_eq!(TicketId::parse("42"), None);
        assert_eq!(TicketId::parse("a-b"), None);
    }

    #[test]
    fn pace_round_trips_and_rejects_other_values() {
        let p = Pace {
            cycle_ms: 42.5,
            batch: 256,
        };
        assert_eq!(p.encode(), "42.5|256");
        assert_eq!(Pace::parse(&p.encode()), Some(p));
        // The previous format (a bare rate), garbage and nonsense are unknown.
        for bad in ["1234.500", "", "x|1", "10|0", "-1|5", "NaN|5", "10|-2"] {
            assert_eq!(Pace::parse(bad), None, "{bad}");
        }
    }

    #[test]
    fn eta_counts_whole_cycles_of_a_batch() {
        let p = Pace {
            cycle_ms: 40.0,
            batch: 100,
        };
        // The head waits one whole cycle, like everyone in the first batch,
        // after half a cycle for the batch already being decided.
        assert_eq!(p.eta_ms(1), 60);
        assert_eq!(p.eta_ms(100), 60);
        assert_eq!(p.eta_ms(101), 100);
        assert_eq!(p.eta_ms(1000), 420);
        // Never zero: a decision always takes some time.
        let instant = Pace {
            cycle_ms: 0.0,
            batch: 5,
        };
        assert_eq!(instant.eta_ms(1), 1);
    }

    #[test]
    fn keys_share_one_hash_tag() {
        let k = CourseKeys::new(7);
        for key in [
            &k.queue,
            &k.seq,
            &k.student_ticket,
            &k.tickets,
            &k.full,
            &k.gen,
            &k.lease,
            &k.claim,
            &k.pace,
        ] {
            assert!(key.ends_with(":{c7}"), "{key}");
        }
        // The names other tools read (rush reads tk:{c<id>}), and the scans'
        // own builders agree with them.
        let k = CourseKeys::new(1_234_567);
        assert_eq!(
            [&k.queue, &k.tickets, &k.full, &k.lease],
            [
                "q:{c1234567}",
                "tk:{c1234567}",
                "full:{c1234567}",
                "lease:{c1234567}"
            ]
        );
        assert_eq!(
            (queue_key(1_234_567), full_key(1_234_567)),
            (k.queue.clone(), k.full.clone())
        );
    }
}
