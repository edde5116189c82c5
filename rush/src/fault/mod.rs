//! `--fault`: Redis fails halfway through the rush, and what that cost.
//!
//! - `redis-flush`: once half the enroll requests are answered, the own
//!   stack's redis-server is SIGKILLed and started again, empty, on the
//!   same port — what a Redis without persistence does after a crash, the
//!   case measured in the issue ("restarted empty"): the enroll-servers
//!   see the outage (503s, broken connections) and then the loss. Against
//!   `--target`, `FLUSHALL` on `--redis-url` (a remote Redis cannot be
//!   restarted from here): the loss without the outage.
//! - `redis-failover`: the own stack runs Redis with one replica under a
//!   Sentinel, the server following it with `WAIT` on
//!   (`ENROLL_REDIS_WAIT_REPLICAS=1`); halfway the primary is SIGKILLed and
//!   the Sentinel promotes the replica; the old primary is then started
//!   again as the new one's replica, as its supervisor would.
//!
//! Students ride the fault out ([`crate::wave::RideOut`]), and afterwards
//! every acknowledged ticket is read once more and held against the
//! database ([`ledger`]).

use std::sync::atomic::Ordering::SeqCst;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use serde::Serialize;
use testkit::RedisServer;

use crate::stack::{Endpoints, OwnStack};
use crate::wave::{RideOut, WaveOutcome};

pub mod ledger;

pub use ledger::{FaultFigures, Ledger};

/// What `--fault` makes happen.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, clap::ValueEnum)]
#[serde(rename_all = "kebab-case")]
pub enum Fault {
    /// Redis loses its data halfway: SIGKILLed and restarted empty (own
    /// stack), or FLUSHALL (`--target` with `--redis-url`).
    RedisFlush,
    /// The Redis primary is SIGKILLed halfway and the Sentinel promotes its
    /// replica (own stack only; the server waits for the replica).
    RedisFailover,
}

impl Fault {
    pub fn name(self) -> &'static str {
        match self {
            Fault::RedisFlush => "redis-flush",
            Fault::RedisFailover => "redis-failover",
        }
    }

    /// Whether an acknowledged ticket may end `unknown_ticket`: after a
    /// flush, the tickets still queued are gone with Redis (their students
    /// enroll again); through a failover with `WAIT`, none may be.
    pub fn may_lose_queued(self) -> bool {
        self == Fault::RedisFlush
    }
}

/// The Redis the fault is made to.
#[derive(Debug, Clone)]
pub enum Target {
    /// The own stack's primary (our child): `pid`, its port, and for a
    /// failover the Sentinel's `host:port`.
    Own {
        pid: u32,
        port: u16,
        sentinel: Option<String>,
    },
    /// A running stack's Redis (`--target --redis-url`).
    Remote { url: String },
}

/// One Redis as seen just before or just after the fault.
#[derive(Debug, Clone, Default, Serialize)]
pub struct RedisState {
    pub address: String,
    pub run_id: String,
    pub role: String,
    pub keys: u64,
}

/// What the fault did: the evidence that it happened.
#[derive(Debug, Clone, Serialize)]
pub struct Happened {
    pub fault: Fault,
    /// Enroll requests answered when it struck.
    pub at_answers: usize,
    /// The Redis before and the one serving after.
    pub before: RedisState,
    pub after: RedisState,
    /// From the kill to the new Redis answering (restarted, or named by the
    /// Sentinel); 0 for FLUSHALL.
    pub outage_ms: f64,
    /// Where the tickets are read after the rush.
    #[serde(skip)]
    pub redis_url: String,
}

/// A fault made, and the Redis it started (kept running until the run
/// ends).
pub struct Struck {
    pub happened: Happened,
    pub restarted: Option<RedisServer>,
}

/// A fault waiting for its moment during the rush, and the students'
/// way of riding it out.
pub struct Armed {
    pub fault: Fault,
    pub ride_out: Arc<RideOut>,
    task: tokio::task::JoinHandle<Result<Struck>>,
}

impl Armed {
    /// Arms `fault` against the own stack or the target's Redis, to strike
    /// once `requests / 2` enroll requests are answered.
    pub fn new(
        fault: Fault,
        own: Option<&OwnStack>,
        endpoints: &Endpoints,
        requests: usize,
    ) -> Result<Self> {
        let target = match own {
            Some(s) => Target::Own {
                pid: s.redis_pid,
                port: s.redis_port,
                sentinel: s.sentinel.clone(),
            },
            None => Target::Remote {
                url: endpoints
                    .redis_url
                    .clone()
                    .context("--fault with --target needs --redis-url")?,
            },
        };
        if let (Fault::RedisFailover, Target::Remote { .. }) = (fault, &target) {
            bail!("--fault redis-failover needs rush's own stack (no --target)");
        }
        let ride_out = Arc::new(RideOut::default());
        let task = tokio::spawn(strike_halfway_told(
            fault,
            target,
            ride_out.clone(),
            requests.div_ceil(2),
        ));
        Ok(Self {
            fault,
            ride_out,
            task,
        })
    }

    /// What the fault did, once the rush is over (`Err` if the rush
    /// failed before it struck).
    pub async fn struck(self, rush_ok: bool) -> Result<Struck> {
        if !rush_ok && !self.task.is_finished() {
            self.task.abort();
            bail!("the rush failed before the fault struck");
        }
        self.task.await?
    }

    /// Reads every ticket of the `waves` once more and holds them against
    /// the database; the ledger, and the report's figures.
    pub async fn settle(
        struck: &Struck,
        ride_out: &RideOut,
        base_url: &str,
        cookies: &[String],
        pool: &sqlx::PgPool,
        course_ids: &[i64],
        waves: [&WaveOutcome; 2],
    ) -> Result<(Ledger, FaultFigures)> {
        let acked = waves
            .iter()
            .flat_map(|w| &w.tickets)
            .map(|t| {
                let told = t.decided.as_ref().map(|d| d.status.clone());
                (t.student, t.ticket.clone(), told)
            })
            .collect();
        let fault = struck.happened.fault;
        eprintln!(
            "{}: reading every acknowledged ticket once more ...",
            fault.name()
        );
        let ledger = Ledger::settle(fault, base_url, cookies, pool, course_ids, acked).await?;
        let figures = ledger.figures(
            struck.happened.clone(),
            ride_out.unauthenticated.load(SeqCst),
            ride_out.retries.load(SeqCst),
        );
        Ok((ledger, figures))
    }
}

/// [`strike_halfway`], saying at once when the fault could not be made
/// (the rush then waits out its timeouts).
async fn strike_halfway_told(
    fault: Fault,
    target: Target,
    ride_out: Arc<RideOut>,
    half: usize,
) -> Result<Struck> {
    let struck = strike_halfway(fault, target, ride_out, half).await;
    if let Err(e) = &struck {
        eprintln!("error: {}: {e:#}", fault.name());
    }
    struck
}

/// Waits until `half` enroll requests are answered, then makes `fault`.
pub async fn strike_halfway(
    fault: Fault,
    target: Target,
    ride_out: Arc<RideOut>,
    half: usize,
) -> Result<Struck> {
    while ride_out.answered.load(SeqCst) < half {
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let at_answers = ride_out.answered.load(SeqCst);
    eprintln!("{}: striking after {at_answers} answers", fault.name());
    let (before, after, outage, restarted) = match (fault, &target) {
        (Fault::RedisFlush, Target::Own { pid, port, .. }) => restart_empty(*pid, *port).await?,
        (Fault::RedisFlush, Target::Remote { url }) => flush_all(url).await?,
        (
            Fault::RedisFailover,
            Target::Own {
                pid,
                port,
                sentinel,
            },
        ) => {
            let sentinel = sentinel.as_deref().context("the stack runs no Sentinel")?;
            fail_over(*pid, *port, sentinel).await?
        }
        (Fault::RedisFailover, Target::Remote { .. }) => {
            bail!("--fault redis-failover needs rush's own stack (no --target)")
        }
    };
    eprintln!(
        "{}: {} ({} keys, run {}) -> {} ({} keys, run {}, {}) after {:.0} ms",
        fault.name(),
        before.address,
        before.keys,
        short(&before.run_id),
        after.address,
        after.keys,
        short(&after.run_id),
        after.role,
        outage.as_secs_f64() * 1e3
    );
    let redis_url = match &target {
        Target::Remote { url } => url.clone(),
        Target::Own { .. } => format!("redis://{}", after.address),
    };
    Ok(Struck {
        happened: Happened {
            fault,
            at_answers,
            redis_url,
            before,
            after,
            outage_ms: outage.as_secs_f64() * 1e3,
        },
        restarted,
    })
}

type Made = (RedisState, RedisState, Duration, Option<RedisServer>);

/// SIGKILL, then a new redis-server on the same port, empty.
async fn restart_empty(pid: u32, port: u16) -> Result<Made> {
    let before = state(&local(port)).await?;
    let killed = Instant::now();
    kill(pid)?;
    let restarted = tokio::task::spawn_blocking(move || -> Result<RedisServer> {
        wait_gone(pid)?;
        let mut tries = 0;
        loop {
            tries += 1;
            match RedisServer::start_on(port) {
                Ok(redis) => return Ok(redis),
                Err(e) if tries < 3 => eprintln!("warning: restarting redis-server: {e:#}"),
                Err(e) => return Err(e.context("restarting redis-server")),
            }
        }
    })
    .await??;
    let outage = killed.elapsed();
    let after = state_once_up(&local(port)).await?;
    Ok((before, after, outage, Some(restarted)))
}

/// FLUSHALL on a running stack's Redis.
async fn flush_all(url: &str) -> Result<Made> {
    let before = state(url).await?;
    let mut conn = redis::Client::open(url)?
        .get_multiplexed_async_connection()
        .await?;
    let () = redis::cmd("FLUSHALL").query_async(&mut conn).await?;
    let after = state(url).await?;
    Ok((before, after, Duration::ZERO, None))
}

/// SIGKILL the primary; wait for the Sentinel to name another.
async fn fail_over(pid: u32, port: u16, sentinel: &str) -> Result<Made> {
    let before = state(&local(port)).await?;
    let killed = Instant::now();
    kill(pid)?;
    let sentinel = redis::Client::open(format!("redis://{sentinel}"))?;
    let promoted = loop {
        if killed.elapsed() > Duration::from_secs(60) {
            bail!("the Sentinel promoted no replica within 60 s");
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
        let Ok(mut conn) = sentinel.get_multiplexed_async_connection().await else {
            continue;
        };
        let named: redis::RedisResult<(String, u16)> = redis::cmd("SENTINEL")
            .arg("get-master-addr-by-name")
            .arg(testkit::RedisSentinel::PRIMARY_NAME)
            .query_async(&mut conn)
            .await;
        if let Ok((host, p)) = named {
            if p != port {
                break format!("redis://{host}:{p}");
            }
        }
    };
    let outage = killed.elapsed();
    let after = state_once_up(&promoted).await?;
    // The killed primary comes back, as its supervisor would restart it,
    // as the new primary's replica: with `WAIT 1` nothing is acknowledged
    // while no replica is there to confirm it.
    // A few seconds later, as a supervisor would (the server has followed
    // the Sentinel to the new primary by then).
    tokio::time::sleep(REJOIN_AFTER).await;
    let new_port = after
        .address
        .rsplit(':')
        .next()
        .unwrap_or_default()
        .to_string();
    let rejoined = tokio::task::spawn_blocking(move || -> Result<RedisServer> {
        wait_gone(pid)?;
        let replica_of = ["--replicaof".to_string(), "127.0.0.1".into(), new_port];
        RedisServer::start_on_with_args(port, &replica_of).context("restarting the old primary")
    })
    .await??;
    Ok((before, after, outage, Some(rejoined)))
}

/// How long after the promotion the killed primary comes back.
const REJOIN_AFTER: Duration = Duration::from_secs(5);

fn local(port: u16) -> String {
    format!("redis://127.0.0.1:{port}")
}

/// [`state`] of a Redis just (re)started or promoted: it may drop the
/// first connections while it comes up (or while the servers' own
/// reconnections crowd in), so it is asked again for a few seconds.
async fn state_once_up(url: &str) -> Result<RedisState> {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        match state(url).await {
            Ok(s) => return Ok(s),
            Err(e) if Instant::now() >= deadline => return Err(e),
            Err(_) => tokio::time::sleep(Duration::from_millis(100)).await,
        }
    }
}

/// A Redis's address, run id, role and number of keys.
async fn state(url: &str) -> Result<RedisState> {
    let client = redis::Client::open(url)?;
    let mut conn = client
        .get_multiplexed_async_connection()
        .await
        .with_context(|| format!("connecting to {url}"))?;
    let info: String = redis::cmd("INFO")
        .arg("server")
        .query_async(&mut conn)
        .await?;
    let role: Vec<redis::Value> = redis::cmd("ROLE").query_async(&mut conn).await?;
    let keys: u64 = redis::cmd("DBSIZE").query_async(&mut conn).await?;
    Ok(RedisState {
        // Without the credentials a URL may carry.
        address: url
            .trim_start_matches("redis://")
            .rsplit('@')
            .next()
            .unwrap_or_default()
            .to_string(),
        run_id: info_field(&info, "run_id").unwrap_or_default(),
        role: match role.first() {
            Some(redis::Value::BulkString(b)) => String::from_utf8_lossy(b).into_owned(),
            _ => String::new(),
        },
        keys,
    })
}

/// `field`'s value in an `INFO` answer.
fn info_field(info: &str, field: &str) -> Option<String> {
    info.lines()
        .find_map(|l| l.strip_prefix(field)?.strip_prefix(':'))
        .map(|v| v.trim().to_string())
}

fn short(run_id: &str) -> &str {
    &run_id[..run_id.len().min(8)]
}

/// SIGKILL to `pid`, a child of this process not yet reaped.
fn kill(pid: u32) -> Result<()> {
    // SAFETY: kill(2) on our own child, which its guard has not reaped.
    let rc = unsafe { libc::kill(pid as libc::pid_t, libc::SIGKILL) };
    if rc != 0 {
        bail!("kill({pid}, SIGKILL) failed");
    }
    Ok(())
}

/// Waits until `pid` has died (a zombie, or gone), so its port is free.
fn wait_gone(pid: u32) -> Result<()> {
    let deadline = Instant::now() + Duration::from_secs(10);
    while Instant::now() < deadline {
        match servekit::procstat::of_pid(pid) {
            Some(stat) if stat.state != 'Z' => std::thread::sleep(Duration::from_millis(5)),
            _ => return Ok(()),
        }
    }
    bail!("redis-server {pid} did not die")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_fields_of_an_info_answer() {
        let info = "# Server\r\nredis_version:7.0.15\r\nrun_id:abc123\r\ntcp_port:6379\r\n";
        assert_eq!(info_field(info, "run_id").as_deref(), Some("abc123"));
        assert_eq!(info_field(info, "tcp_port").as_deref(), Some("6379"));
        assert_eq!(info_field(info, "run"), None);
    }

    #[test]
    fn only_a_flush_may_lose_queued_tickets() {
        assert!(Fault::RedisFlush.may_lose_queued());
        assert!(!Fault::RedisFailover.may_lose_queued());
    }
}
