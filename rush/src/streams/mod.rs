//! `rush-streams`: what holding every student's event stream costs one
//! enroll-server, and how fast a decision reaches all of them.
//!
//! Registration morning keeps one stream open per student's page. This
//! starts an own stack, logs `--streams` students in, opens one stream
//! each on one instance, and measures:
//! - the server's memory before and with the streams held (per stream),
//!   once the logins' password-checking threads are gone, and after the
//!   streams idled a while;
//! - its CPU while they idle (keep-alive comments every 15 s);
//! - with admission paused, every student enrolls in one course; admission
//!   resumes and decides the whole line in one batch and one transaction,
//!   then publishes the decisions: the time from each decision's server
//!   stamp (Redis's clock, written after COMMIT) to its arrival on the
//!   student's stream, and until the last stream has it.

mod hold;

use std::path::PathBuf;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use anyhow::{bail, Context, Result};
use futures::StreamExt;

use crate::api::Api;
use crate::mix::{CourseSpec, Kind};
use crate::stack::{self, OwnStack, ServerSettings};

/// How long after the logins the baseline is taken: tokio's blocking
/// threads (the password checks) exit 10 s after their last task.
const LOGIN_THREADS_GONE: Duration = Duration::from_secs(12);

/// The command line.
#[derive(Debug, Clone, clap::Parser)]
#[command(
    name = "rush-streams",
    version,
    about = "Event streams held by one enroll-server: memory, idle CPU, decision push time"
)]
pub struct StreamsCli {
    /// Event streams (and students) to hold open.
    #[arg(long, default_value_t = 20_000)]
    pub streams: usize,
    /// Seconds to watch the server's CPU while the streams idle (two
    /// keep-alive rounds at the default 30).
    #[arg(long, default_value_t = 30)]
    pub idle_secs: u64,
    /// Decisions per admission batch: all of them in one batch and one
    /// transaction by default (the worst case for the push: every stream
    /// gets its decision at once); 256 is the server's own default.
    #[arg(long)]
    pub batch_size: Option<usize>,
    /// The enroll-server binary [default: next to this one].
    #[arg(long)]
    pub server_bin: Option<PathBuf>,
    /// Where the server's log goes.
    #[arg(long, default_value = "target/rush-streams")]
    pub out: PathBuf,
}

/// What one run measured.
#[derive(Debug, Clone)]
pub struct Figures {
    pub streams: usize,
    /// Decisions per admission batch.
    pub batch: usize,
    /// Streams asked for (more than `streams` when the file limit capped it).
    pub asked: usize,
    pub rss_before_mib: f64,
    pub rss_with_streams_mib: f64,
    pub peak_rss_mib: f64,
    pub kib_per_stream: f64,
    pub open_secs: f64,
    pub idle_cpu_percent: f64,
    pub push_ms: Percentiles,
    /// From the decision's message being published to the stream: the
    /// fan-out alone, without the finishing script's own writes.
    pub fanout_ms: Percentiles,
    /// From the first decision's stamp to the last stream's arrival.
    pub all_reached_ms: f64,
}

#[derive(Debug, Clone, Copy)]
pub struct Percentiles {
    pub p50: f64,
    pub p90: f64,
    pub p99: f64,
    pub max: f64,
}

impl Percentiles {
    pub fn of(mut v: Vec<f64>) -> Percentiles {
        v.sort_by(f64::total_cmp);
        let at = |q: f64| v[((v.len() as f64 - 1.0) * q).round() as usize];
        Percentiles {
            p50: at(0.5),
            p90: at(0.9),
            p99: at(0.99),
            max: at(1.0),
        }
    }
}

impl Figures {
    /// The RSS with `asked` streams, from the memory per stream measured.
    pub fn scaled_mib(&self) -> f64 {
        self.rss_before_mib + self.kib_per_stream * self.asked as f64 / 1024.0
    }

    pub fn table(&self) -> String {
        let met = |ok: bool| if ok { "met" } else { "NOT met" };
        let p = &self.push_ms;
        let rows = [
            (
                "server RSS before the streams".to_string(),
                format!("{:.1} MiB", self.rss_before_mib),
                String::new(),
            ),
            (
                format!("server RSS with {} streams", self.streams),
                format!("{:.1} MiB", self.rss_with_streams_mib),
                format!(
                    "goal <= 512 MiB: {}",
                    met(self.rss_with_streams_mib <= 512.0)
                ),
            ),
            (
                "memory per stream".into(),
                format!("{:.1} KiB", self.kib_per_stream),
                String::new(),
            ),
            (
                format!("RSS scaled to {} streams", self.asked),
                format!("{:.1} MiB", self.scaled_mib()),
                if self.asked > self.streams {
                    format!("goal <= 512 MiB: {}", met(self.scaled_mib() <= 512.0))
                } else {
                    String::new()
                },
            ),
            (
                "peak RSS, decisions pushed".into(),
                format!("{:.1} MiB", self.peak_rss_mib),
                String::new(),
            ),
            (
                "time to open every stream".into(),
                format!("{:.1} s", self.open_secs),
                String::new(),
            ),
            (
                "server CPU, streams idle".into(),
                format!("{:.2} % core", self.idle_cpu_percent),
                String::new(),
            ),
            (
                "decision stamp -> stream p50".into(),
                format!("{:.1} ms", p.p50),
                String::new(),
            ),
            (
                "decision stamp -> stream p90".into(),
                format!("{:.1} ms", p.p90),
                String::new(),
            ),
            (
                "decision stamp -> stream p99".into(),
                format!("{:.1} ms", p.p99),
                format!("goal <= 200 ms: {}", met(p.p99 <= 200.0)),
            ),
            (
                "decision stamp -> stream max".into(),
                format!("{:.1} ms", p.max),
                String::new(),
            ),
            (
                "published -> stream p50 / p99".into(),
                format!("{:.0} / {:.0} ms", self.fanout_ms.p50, self.fanout_ms.p99),
                "the fan-out alone".into(),
            ),
            (
                "first decision -> last stream".into(),
                format!("{:.1} ms", self.all_reached_ms),
                String::new(),
            ),
        ];
        let mut out = format!(
            "event streams held by one enroll-server: {}; decisions in batches of {}\n",
            self.streams, self.batch
        );
        for (label, value, note) in rows {
            let line = format!("{label:<36} {value:>14}   {note}");
            out.push_str(line.trim_end());
            out.push('\n');
        }
        out.trim_end().to_string()
    }
}

/// File descriptors each process keeps besides the streams: the server's
/// pools, listener and Redis connections; this tool's HTTP clients.
const OTHER_FILES: u64 = 256;

/// Raises this process's open-file limit to what `streams` need (the
/// server it starts inherits it) and returns how many streams the limit
/// allows: all asked for, or fewer where the hard limit is lower and
/// cannot be raised (a container without CAP_SYS_RESOURCE).
fn raise_file_limit(streams: usize) -> Result<usize> {
    let need = streams as u64 + OTHER_FILES;
    let (_, hard) = rlimit::Resource::NOFILE.get()?;
    if hard < need {
        // Root with CAP_SYS_RESOURCE may raise the hard limit too.
        let _ = rlimit::Resource::NOFILE.set(need, need);
    }
    let got = rlimit::increase_nofile_limit(need)?;
    if got < need {
        let allowed = got.saturating_sub(OTHER_FILES) as usize;
        if allowed < streams / 2 {
            bail!("the open-file limit is {got}: raise it (ulimit -n) or ask for fewer --streams");
        }
        eprintln!(
            "rush-streams: NOTICE: the open-file limit is {got} per process and cannot be raised \
             here: holding {allowed} streams, and scaling the memory figure to {streams}"
        );
        return Ok(allowed);
    }
    Ok(streams)
}

/// The server's resident memory in MiB (`VmRSS`, and `VmHWM` for the peak).
fn rss_mib(pid: u32) -> Result<(f64, f64)> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status"))?;
    let field = |name: &str| -> Option<f64> {
        let line = status.lines().find(|l| l.starts_with(name))?;
        line.split_whitespace()
            .nth(1)?
            .parse::<f64>()
            .ok()
            .map(|kib| kib / 1024.0)
    };
    Ok((
        field("VmRSS:").context("no VmRSS")?,
        field("VmHWM:").context("no VmHWM")?,
    ))
}

fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default()
        .as_millis() as i64
}

/// One whole run.
pub async fn run(cli: &StreamsCli) -> Result<Figures> {
    let n = raise_file_limit(cli.streams)?;
    let batch = cli.batch_size.unwrap_or(n).clamp(1, n);
    std::fs::create_dir_all(&cli.out)?;
    let binary = match &cli.server_bin {
        Some(p) => p.clone(),
        None => stack::default_server_binary()?,
    };
    let env: Vec<(String, String)> = [
        ("ENROLL_HTTP_MAX_CONNECTIONS", (n + 2_000).to_string()),
        // One client address holds every stream: the per-address ceilings
        // are for real students, not for this.
        ("ENROLL_RATE_REQUESTS_PER_ADDRESS", "off".into()),
        ("ENROLL_RATE_LOGINS_PER_ADDRESS", "off".into()),
        ("ENROLL_RATE_ENROLL", "off".into()),
        ("ENROLL_RATE_EVENT_STREAMS", "off".into()),
        // By default the whole line in one batch and one transaction: one
        // commit decides every student at once.
        (
            "ENROLL_ADMISSION_TRANSACTION_TICKETS",
            batch.max(256).to_string(),
        ),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v))
    .collect();
    let settings = ServerSettings {
        binary,
        batch_size: batch,
        db_max_connections: 16,
        log: cli.out.join("enroll-server.log"),
        env,
        smtp: None,
        redis_sentinel: false,
    };
    eprintln!("rush-streams: starting PostgreSQL, Redis and enroll-server");
    let stack = tokio::task::spawn_blocking(move || OwnStack::start(&settings)).await??;
    let ep = stack.endpoints.clone();
    let pid = stack.server_pid;
    let api = Api::new(&ep.base_url, &ep.admin_token, 32)?;

    eprintln!("rush-streams: {n} students, one course with a seat for each");
    let run_tag = format!("S{:x}", now_ms());
    let student_nos: Vec<String> = (0..n).map(|i| format!("{run_tag}-{i}")).collect();
    api.import_students(&student_nos, None).await?;
    let course = CourseSpec {
        code: format!("{run_tag}-C"),
        kind: Kind::Normal { slot: 0 },
        credits: 3,
        capacity: n as i32,
        meetings: Vec::new(),
        department: crate::mix::DEFAULT_DEPARTMENT.into(),
        blocks: Vec::new(),
    };
    let course_id = api.create_courses(&[course]).await?[0];
    api.ensure_window_open().await?;
    let started = Instant::now();
    let cookies: Vec<String> = futures::stream::iter(student_nos.iter())
        .map(|no| api.login(no))
        .buffered(32)
        .collect::<Vec<_>>()
        .await
        .into_iter()
        .collect::<Result<_>>()?;
    eprintln!(
        "rush-streams: logged in in {:.1} s",
        started.elapsed().as_secs_f64()
    );
    // The password checks ran on tokio's blocking threads, which stay
    // 10 s after their last task, with their allocator's memory: gone
    // before the morning's streams are counted.
    tokio::time::sleep(LOGIN_THREADS_GONE).await;
    let (rss_before, _) = rss_mib(pid)?;

    let started = Instant::now();
    let mut held = hold::open_all(&ep.base_url, &cookies).await?;
    let open_secs = started.elapsed().as_secs_f64();
    eprintln!("rush-streams: {n} streams open in {open_secs:.1} s");
    tokio::time::sleep(Duration::from_secs(2)).await;
    let held_by_server = api.metrics_text().await?;
    let gauge = held_by_server
        .lines()
        .find(|l| l.starts_with("enroll_ticket_streams "))
        .and_then(|l| l.split_whitespace().nth(1)?.parse::<f64>().ok())
        .unwrap_or(0.0);
    if gauge as usize != n {
        bail!("the server says it holds {gauge} streams, not {n}");
    }

    eprintln!("rush-streams: watching idle CPU for {} s", cli.idle_secs);
    let cpu0 = stack::process_cpu_seconds(pid).context("server gone")?;
    let t0 = Instant::now();
    tokio::time::sleep(Duration::from_secs(cli.idle_secs)).await;
    let cpu1 = stack::process_cpu_seconds(pid).context("server gone")?;
    let idle_cpu_percent = (cpu1 - cpu0) / t0.elapsed().as_secs_f64() * 100.0;
    // Held a while: what the instance keeps for the streams, not the
    // opening's passing buffers.
    let (rss_with, _) = rss_mib(pid)?;

    eprintln!("rush-streams: every student enrolls while admission is paused");
    api.set_admission_paused(true).await?;
    let tickets = hold::enroll_all(&ep.base_url, &cookies, course_id).await?;
    let redis_url = ep.redis_url.as_deref().context("own stack has Redis")?;
    let mut published = hold::watch_published(redis_url).await?;
    api.set_admission_paused(false).await?;
    let arrivals = held
        .wait_for_decisions(&tickets, Duration::from_secs(120))
        .await?;
    tokio::time::sleep(Duration::from_millis(200)).await;
    let mut published_ms = std::collections::HashMap::with_capacity(n);
    while let Ok((ticket, at)) = published.try_recv() {
        published_ms.insert(ticket, at);
    }
    let (_, high_water) = rss_mib(pid)?;
    let peak = high_water.max(rss_with);
    let stamps = hold::decision_stamps(redis_url, course_id).await?;
    let mut push = Vec::with_capacity(n);
    let mut fanout = Vec::with_capacity(n);
    let mut first_stamp = i64::MAX;
    let mut last_arrival = i64::MIN;
    for (ticket, arrived_ms) in &arrivals {
        let stamp = *stamps
            .get(ticket)
            .with_context(|| format!("no stamp for {ticket}"))?;
        push.push((arrived_ms - stamp) as f64);
        let at = published_ms
            .get(ticket)
            .with_context(|| format!("{ticket} was not seen published"))?;
        fanout.push((arrived_ms - at) as f64);
        first_stamp = first_stamp.min(stamp);
        last_arrival = last_arrival.max(*arrived_ms);
    }
    drop(held);
    drop(stack);
    Ok(Figures {
        streams: n,
        batch,
        asked: cli.streams,
        rss_before_mib: rss_before,
        rss_with_streams_mib: rss_with,
        peak_rss_mib: peak,
        kib_per_stream: (rss_with - rss_before) * 1024.0 / n as f64,
        open_secs,
        idle_cpu_percent,
        push_ms: Percentiles::of(push),
        fanout_ms: Percentiles::of(fanout),
        all_reached_ms: (last_arrival - first_stamp) as f64,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentiles_pick_the_nearest_rank() {
        let p = Percentiles::of((1..=100).map(f64::from).rev().collect());
        assert_eq!((p.p50, p.p90, p.p99, p.max), (51.0, 90.0, 99.0, 100.0));
        let one = Percentiles::of(vec![7.0]);
        assert_eq!((one.p50, one.max), (7.0, 7.0));
    }

    #[test]
    fn the_table_says_whether_each_goal_is_met() {
        let f = Figures {
            streams: 19_744,
            batch: 256,
            asked: 20_000,
            rss_before_mib: 75.0,
            rss_with_streams_mib: 479.0,
            peak_rss_mib: 500.0,
            kib_per_stream: 21.0,
            open_secs: 8.0,
            idle_cpu_percent: 2.0,
            push_ms: Percentiles::of(vec![5.0, 17.0, 250.0]),
            fanout_ms: Percentiles::of(vec![1.0, 2.0, 3.0]),
            all_reached_ms: 1_300.0,
        };
        let table = f.table();
        assert!(table.contains("RSS scaled to 20000 streams"), "{table}");
        assert!(table.contains("goal <= 512 MiB: met"), "{table}");
        assert!(table.contains("goal <= 200 ms: NOT met"), "{table}");
        assert!(table.lines().all(|l| l == l.trim_end()));
    }
}
