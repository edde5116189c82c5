//! Shared test support: the fixture folder, a ttar reader, starting
//! node-agent (through `node_agent::build`, as `main` does) and the real
//! `prometheus-node-exporter`, and a minimal HTTP GET.
#![allow(dead_code)]

pub mod ttar;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

use node_agent::parse::{parse, Scrape};
use testkit::ChildGuard;

/// node_exporter's fixtures, or `None` (with a printed notice) when absent.
pub fn fixtures() -> Option<PathBuf> {
    let dir = PathBuf::from(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../shared/fixtures/node_exporter"
    ));
    if dir.join("proc").is_dir() {
        Some(dir)
    } else {
        eprintln!(
            "NOTICE: {} is absent; skipping the fixture comparison",
            dir.display()
        );
        None
    }
}

/// The Debian node_exporter binary, or `None` (with a notice).
pub fn node_exporter_bin() -> Option<&'static str> {
    let bin = "/usr/bin/prometheus-node-exporter";
    if Path::new(bin).exists() {
        Some(bin)
    } else {
        eprintln!("NOTICE: {bin} is not installed; skipping the comparison with it");
        None
    }
}

/// A node-agent started through `node_agent::build` on its own thread.
pub struct Agent {
    /// The bound port.
    pub port: u16,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Agent {
    /// Starts node-agent with command-line `args` (listen address added).
    pub fn start(args: &[String]) -> Agent {
        let mut argv = vec![
            "node-agent".to_string(),
            "--web.listen-address=127.0.0.1:0".to_string(),
        ];
        argv.extend(args.iter().cloned());
        let config = node_agent::Config::parse_from(argv).expect("valid flags");
        let (port_tx, port_rx) = std::sync::mpsc::channel();
        let (stop, stop_rx) = tokio::sync::oneshot::channel::<()>();
        let thread = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap();
            rt.block_on(async move {
                let app = node_agent::build(&config).await.expect("build");
                port_tx.send(app.port()).unwrap();
                app.run_until_stopped(async {
                    let _ = stop_rx.await;
                })
                .await;
            });
        });
        let port = port_rx
            .recv_timeout(Duration::from_secs(10))
            .expect("agent started");
        Agent {
            port,
            stop: Some(stop),
            thread: Some(thread),
        }
    }

    /// GET the telemetry path and parse it.
    pub fn scrape(&self) -> (String, Scrape) {
        let body = http_get(self.port, "/metrics");
        let parsed = parse(&body).expect("node-agent output parses");
        (body, parsed)
    }
}

impl Drop for Agent {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// The real node_exporter on a free loopback port.
pub struct Exporter {
    /// The port it listens on.
    pub port: u16,
    /// Kills it (by pid) when dropped.
    pub guard: ChildGuard,
}

impl Exporter {
    /// Starts `prometheus-node-exporter` with `args`.
    pub fn start(bin: &str, args: &[String]) -> Exporter {
        let port = testkit::free_port();
        let guard = ChildGuard::spawn(
            "prometheus-node-exporter",
            Command::new(bin)
                .arg(format!("--web.listen-address=127.0.0.1:{port}"))
                .args(args)
                .stdout(Stdio::null())
                .stderr(Stdio::null()),
        )
        .expect("node_exporter starts");
        testkit::wait_for_port(port, Duration::from_secs(10)).expect("node_exporter listens");
        Exporter { port, guard }
    }

    /// GET /metrics and parse it.
    pub fn scrape(&self) -> (String, Scrape) {
        let body = http_get(self.port, "/metrics");
        let parsed = parse(&body).expect("node_exporter output parses");
        (body, parsed)
    }
}

/// A blocking HTTP/1.0 GET (no chunked encoding to undo) on 127.0.0.1; returns the body of a 200.
pub fn http_get(port: u16, path: &str) -> String {
    let (status, body) = http_get_status(port, path);
    assert_eq!(status, 200, "GET {path} on {port}: {body}");
    body
}

/// A blocking HTTP/1.0 GET returning (status, body).
pub fn http_get_status(port: u16, path: &str) -> (u16, String) {
    let mut s = TcpStream::connect(("127.0.0.1", port)).expect("connect");
    s.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
    write!(s, "GET {path} HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n").unwrap();
    let mut raw = Vec::new();
    s.read_to_end(&mut raw).expect("read response");
    let text = String::from_utf8_lossy(&raw).into_owned();
    let (head, body) = text.split_once("\r\n\r\n").expect("HTTP response");
    let status = head
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .expect("status code");
    (status, body.to_string())
}

/// Families whose values describe the moment or the process, not the input:
/// compared by presence, type and label names only.
pub const VOLATILE: &[&str] = &[
    "node_scrape_collector_duration_seconds",
    "node_time_seconds",
    "process_cpu_seconds_total",
    "process_max_fds",
    "process_open_fds",
    "process_resident_memory_bytes",
    "process_start_time_seconds",
    "process_virtual_memory_bytes",
    "process_virtual_memory_max_bytes",
];

/// Equal within a relative 1e-9 (different but equivalent float arithmetic).
pub fn close(a: f64, b: f64) -> bool {
    a == b || (a - b).abs() <= 1e-9 * a.abs().max(b.abs()) || (a.is_nan() && b.is_nan())
}

/// Every difference between `mine` and `theirs` over the families `mine`
/// exports, except those named in `skip` (with the reason kept by the caller).
/// The agent's own HTTP server figures (node_exporter's are its
/// `promhttp_*`): nothing in node_exporter's output to compare them with.
pub fn agent_only(family: &str) -> bool {
    family.starts_with("node_agent_http_")
}

pub fn differences(mine: &Scrape, theirs: &Scrape, skip: &[&str]) -> Vec<String> {
    let mut diffs = Vec::new();
    for (name, samples) in &mine.samples {
        if skip.contains(&name.as_str()) || agent_only(name) {
            continue;
        }
        let Some(other) = theirs.samples.get(name) else {
            diffs.push(format!("{name}: missing in the reference"));
            continue;
        };
        if mine.types.get(name) != theirs.types.get(name) {
            diffs.push(format!(
                "{name}: type {:?} vs {:?}",
                mine.types.get(name),
                theirs.types.get(name)
            ));
        }
        if mine.helps.get(name) != theirs.helps.get(name) {
            diffs.push(format!(
                "{name}: help {:?} vs {:?}",
                mine.helps.get(name),
                theirs.helps.get(name)
            ));
        }
        let volatile = VOLATILE.contains(&name.as_str());
        for (labels, v) in samples {
            match other.get(labels) {
                None => diffs.push(format!("{name}{labels:?}: missing in the reference")),
                Some(w) if !volatile && !close(*v, *w) => {
                    diffs.push(format!("{name}{labels:?}: {v} vs {w}"))
                }
                Some(_) => {}
            }
        }
        let collectors: Vec<&String> = mine
            .samples
            .get("node_scrape_collector_success")
            .map(|m| m.keys().filter_map(|l| l.get("collector")).collect())
            .unwrap_or_default();
        for labels in other.keys() {
            // Per-collector families: only the collectors node-agent has.
            let foreign = labels
                .get("collector")
                .is_some_and(|c| !collectors.contains(&c));
            if !samples.contains_key(labels) && !foreign {
                diffs.push(format!("{name}{labels:?}: only in the reference"));
            }
        }
    }
    diffs
}
