//! node-agent vs prometheus-node-exporter, side by side on this machine.
//!
//!     cargo bench -p node-agent --bench compare
//!     SCRAPES=200 cargo bench -p node-agent --bench compare   # fewer scrapes
//!
//! The node-agent binary is the one Cargo builds for this bench with the
//! bench (optimised) profile: `CARGO_BIN_EXE_node-agent` is set for benches
//! as for integration tests, so there is no second build to locate. Both
//! agents run the same collectors with the same filters on the real /proc
//! and /sys, each is scraped `SCRAPES` times (default 500, at most 240 s in
//! all) in alternating rounds of 50, so both see the same background load,
//! over a fresh HTTP/1.0 connection without gzip, and the bench
//! prints CPU seconds per scrape (utime+stime deltas from /proc/<pid>/stat),
//! latency p50/p99, resident memory (VmRSS, and the peak VmHWM), series
//! count, the ratios against the goals (≤ 1/2 CPU, ≤ 1/3 RSS), and how many
//! of the Node Exporter Full dashboard's families each one has.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use node_agent::collectors::COLLECTORS;
use node_agent::config::{
    DEFAULT_DISKSTATS_EXCLUDE, DEFAULT_FS_TYPES_EXCLUDE, DEFAULT_MOUNT_POINTS_EXCLUDE,
};
use node_agent::parse::parse;
use testkit::ChildGuard;

const NODE_EXPORTER: &str = "/usr/bin/prometheus-node-exporter";
const TIME_LIMIT: Duration = Duration::from_secs(120);
/// Scrapes per agent before switching to the other one.
const ROUND: usize = 50;

// The families the Node Exporter Full dashboard (and so the host alert
// rules) use, shared with tests/node_exporter_full.
#[path = "../tests/node_exporter_full/families.rs"]
mod families;
use families::NODE_EXPORTER_FULL_FAMILIES;

struct Figures {
    name: &'static str,
    scrapes: usize,
    cpu_per_scrape: f64,
    p50: Duration,
    p99: Duration,
    rss_kib: u64,
    hwm_kib: u64,
    series: usize,
    /// Which of [`NODE_EXPORTER_FULL_FAMILIES`] the scrape has.
    present: Vec<&'static str>,
}

fn cpu_seconds(pid: u32) -> f64 {
    let stat = servekit::procstat::of_pid(pid).expect("read stat");
    servekit::procstat::cpu_seconds(&stat)
}

fn status_kib(pid: u32, key: &str) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).expect("read status");
    status
        .lines()
        .find_map(|l| {
            l.strip_prefix(key)?
                .trim()
                .strip_suffix("kB")?
                .trim()
                .parse()
                .ok()
        })
        .unwrap_or(0)
}

fn get(port: u16) -> String {
    let mut s = TcpStream::connect(("127.0.0.1", port)).expect("connect");
    s.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
    s.write_all(b"GET /metrics HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n")
        .unwrap();
    let mut raw = String::new();
    s.read_to_string(&mut raw).expect("read");
    let (head, body) = raw.split_once("\r\n\r\n").expect("response");
    assert!(
        head.starts_with("HTTP/1.") && head.contains(" 200 "),
        "{head}"
    );
    body.to_string()
}

/// One agent under test and what was measured of it so far.
struct Target {
    name: &'static str,
    pid: u32,
    port: u16,
    cpu: f64,
    latencies: Vec<Duration>,
    last: String,
}

impl Target {
    fn new(name: &'static str, pid: u32, port: u16) -> Self {
        for _ in 0..20 {
            get(port); // warm-up: first-scrape allocations, caches
        }
        Self {
            name,
            pid,
            port,
            cpu: 0.0,
            latencies: Vec::new(),
            last: String::new(),
        }
    }

    /// `n` scrapes, adding their CPU time and latencies.
    fn round(&mut self, n: usize) {
        let cpu0 = cpu_seconds(self.pid);
        for _ in 0..n {
            let t = Instant::now();
            self.last = get(self.port);
            self.latencies.push(t.elapsed());
        }
        self.cpu += cpu_seconds(self.pid) - cpu0;
    }

    fn figures(mut self) -> Figures {
        self.latencies.sort();
        let l = &self.latencies;
        let pct = |p: f64| l[((l.len() - 1) as f64 * p).round() as usize];
        let parsed = parse(&self.last).expect("scrape parses");
        Figures {
            name: self.name,
            scrapes: l.len(),
            cpu_per_scrape: self.cpu / l.len() as f64,
            p50: pct(0.50),
            p99: pct(0.99),
            rss_kib: status_kib(self.pid, "VmRSS:"),
            hwm_kib: status_kib(self.pid, "VmHWM:"),
            series: parsed.series(),
            present: NODE_EXPORTER_FULL_FAMILIES
                .iter()
                .copied()
                .filter(|f| parsed.samples.contains_key(*f))
                .collect(),
        }
    }
}

fn args() -> Vec<String> {
    let mut a = vec![
        format!("--collector.filesystem.mount-points-exclude={DEFAULT_MOUNT_POINTS_EXCLUDE}"),
        format!("--collector.filesystem.fs-types-exclude={DEFAULT_FS_TYPES_EXCLUDE}"),
        format!("--collector.diskstats.device-exclude={DEFAULT_DISKSTATS_EXCLUDE}"),
        "--collector.netdev.device-exclude=^$".to_string(),
        // Debian's build reads /var/lib/prometheus/node-exporter by default.
        "--collector.textfile.directory=".to_string(),
        "--collector.disable-defaults".to_string(),
    ];
    a.extend(COLLECTORS.iter().map(|c| format!("--collector.{}", c.name)));
    a
}

fn start(name: &str, bin: &str) -> (ChildGuard, u16) {
    let port = testkit::free_port();
    let child = ChildGuard::spawn(
        name,
        Command::new(bin)
            .arg(format!("--web.listen-address=127.0.0.1:{port}"))
            .args(args())
            .stdout(Stdio::null())
            .stderr(Stdio::null()),
    )
    .expect("start");
    testkit::wait_for_port(port, Duration::from_secs(10)).expect("listens");
    (child, port)
}

fn print(f: &Figures) {
    println!(
        "{:<26} {:>7} {:>12.3} {:>9.2} {:>9.2} {:>9.1} {:>9.1} {:>7}",
        f.name,
        f.scrapes,
        f.cpu_per_scrape * 1e3,
        f.p50.as_secs_f64() * 1e3,
        f.p99.as_secs_f64() * 1e3,
        f.rss_kib as f64 / 1024.0,
        f.hwm_kib as f64 / 1024.0,
        f.series
    );
}

fn main() {
    // `cargo bench` passes `--bench`; nothing else to parse.
    let scrapes: usize = std::env::var("SCRAPES")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(500);
    if !std::path::Path::new(NODE_EXPORTER).exists() {
        println!("NOTICE: {NODE_EXPORTER} is not installed; nothing to compare against");
        return;
    }
    let agent_bin = env!("CARGO_BIN_EXE_node-agent");
    let (agent, agent_port) = start("node-agent", agent_bin);
    let (exporter, exporter_port) = start("prometheus-node-exporter", NODE_EXPORTER);
    let mut a = Target::new("node-agent", agent.pid(), agent_port);
    let mut e = Target::new("node_exporter 1.5 (Debian)", exporter.pid(), exporter_port);
    // Alternate rounds so both see the same background load on a shared machine.
    let started = Instant::now();
    while a.latencies.len() < scrapes && started.elapsed() < TIME_LIMIT * 2 {
        let n = ROUND.min(scrapes - a.latencies.len());
        a.round(n);
        e.round(n);
    }
    let agent_figures = a.figures();
    let exporter_figures = e.figures();
    drop((agent, exporter));

    println!(
        "\n{:<26} {:>7} {:>12} {:>9} {:>9} {:>9} {:>9} {:>7}",
        "agent", "scrapes", "CPU ms/scr", "p50 ms", "p99 ms", "RSS MiB", "peak MiB", "series"
    );
    print(&agent_figures);
    print(&exporter_figures);
    let cpu_ratio = agent_figures.cpu_per_scrape / exporter_figures.cpu_per_scrape;
    let rss_ratio = agent_figures.rss_kib as f64 / exporter_figures.rss_kib as f64;
    println!(
        "\nratios node-agent / node_exporter: CPU per scrape {cpu_ratio:.3} (goal <= 0.5: {}), \
         RSS {rss_ratio:.3} (goal <= 0.333: {}), p50 latency {:.3}",
        if cpu_ratio <= 0.5 { "met" } else { "NOT met" },
        if rss_ratio <= 1.0 / 3.0 {
            "met"
        } else {
            "NOT met"
        },
        agent_figures.p50.as_secs_f64() / exporter_figures.p50.as_secs_f64(),
    );
    for f in [&agent_figures, &exporter_figures] {
        println!(
            "{}: {} of the {} Node Exporter Full families",
            f.name,
            f.present.len(),
            NODE_EXPORTER_FULL_FAMILIES.len()
        );
    }
    let exporter_only: Vec<&str> = exporter_figures
        .present
        .iter()
        .copied()
        .filter(|f| !agent_figures.present.contains(f))
        .collect();
    if exporter_only.is_empty() {
        println!("every dashboard family node_exporter has here, node-agent has too");
    } else {
        println!("MISSING in node-agent, present in node_exporter: {exporter_only:?}");
    }
}
