//! node-agent and node_exporter side by side, both with their default
//! collectors and flags, scraped every second by one real Prometheus as two
//! jobs (so each has its own `job` and `instance` labels).

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;
use testkit::{free_port, ChildGuard};

/// The two agents' jobs, as the dashboard's `$job` variable offers them.
pub const AGENT_JOB: &str = "node-agent";
pub const EXPORTER_JOB: &str = "node-exporter";

/// Debian's Prometheus, or `None` (with a notice).
pub fn prometheus_bin() -> Option<PathBuf> {
    let bin = PathBuf::from("/usr/bin/prometheus");
    if bin.is_file() {
        Some(bin)
    } else {
        eprintln!("NOTICE: {} is not installed (Debian package `prometheus`, scripts/install-deps.sh); skipping", bin.display());
        None
    }
}

/// The running processes; killed (by pid) when dropped, before the
/// temporary directory goes.
pub struct Stack {
    pub prometheus: String,
    client: reqwest::blocking::Client,
    _prom: ChildGuard,
    _agent: ChildGuard,
    _exporter: ChildGuard,
    _tmp: tempfile::TempDir,
}

fn spawn(name: &str, cmd: &mut Command, log: &Path) -> ChildGuard {
    let log = std::fs::File::create(log).unwrap();
    ChildGuard::spawn(name, cmd.stdout(Stdio::null()).stderr(Stdio::from(log)))
        .unwrap_or_else(|e| panic!("{name} starts: {e:#}"))
}

impl Stack {
    /// Starts both agents and Prometheus; returns once Prometheus is ready.
    pub fn start(prometheus: &Path, node_exporter: &str) -> Stack {
        let tmp = tempfile::Builder::new()
            .prefix("node-exporter-full-")
            .tempdir()
            .unwrap();
        let dir = tmp.path();
        let (agent_port, exporter_port, prom_port) = (free_port(), free_port(), free_port());
        let agent = spawn(
            "node-agent",
            Command::new(env!("CARGO_BIN_EXE_node-agent"))
                .arg(format!("--web.listen-address=127.0.0.1:{agent_port}")),
            &dir.join("node-agent.log"),
        );
        let exporter = spawn(
            "prometheus-node-exporter",
            Command::new(node_exporter)
                .arg(format!("--web.listen-address=127.0.0.1:{exporter_port}")),
            &dir.join("node-exporter.log"),
        );
        let config = format!(
            "global:\n  scrape_interval: 1s\n  scrape_timeout: 900ms\nscrape_configs:\n\
             - job_name: {AGENT_JOB}\n  static_configs: [{{targets: ['127.0.0.1:{agent_port}']}}]\n\
             - job_name: {EXPORTER_JOB}\n  static_configs: [{{targets: ['127.0.0.1:{exporter_port}']}}]\n"
        );
        std::fs::write(dir.join("prometheus.yml"), config).unwrap();
        let prom = spawn(
            "prometheus",
            Command::new(prometheus)
                .arg(format!(
                    "--config.file={}",
                    dir.join("prometheus.yml").display()
                ))
                .arg(format!(
                    "--storage.tsdb.path={}",
                    dir.join("tsdb").display()
                ))
                .arg(format!("--web.listen-address=127.0.0.1:{prom_port}")),
            &dir.join("prometheus.log"),
        );
        let stack = Stack {
            prometheus: format!("http://127.0.0.1:{prom_port}"),
            client: reqwest::blocking::Client::builder()
                .timeout(Duration::from_secs(30))
                .build()
                .unwrap(),
            _prom: prom,
            _agent: agent,
            _exporter: exporter,
            _tmp: tmp,
        };
        stack.poll("Prometheus ready", Duration::from_secs(30), || {
            stack
                .client
                .get(format!("{}/-/ready", stack.prometheus))
                .send()
                .is_ok_and(|r| r.status().is_success())
        });
        stack
    }

    /// Calls `done` every 200 ms until it is true; panics with the logs
    /// after `limit`.
    pub fn poll(&self, what: &str, limit: Duration, mut done: impl FnMut() -> bool) {
        let start = Instant::now();
        while !done() {
            if start.elapsed() > limit {
                panic!("{what}: not within {limit:?}\n{}", self.logs());
            }
            std::thread::sleep(Duration::from_millis(200));
        }
    }

    fn logs(&self) -> String {
        let mut all = String::new();
        for name in ["node-agent", "node-exporter", "prometheus"] {
            let text = std::fs::read_to_string(self._tmp.path().join(format!("{name}.log")));
            let text = text.unwrap_or_default();
            let tail: Vec<&str> = text.lines().rev().take(15).collect();
            all += &format!("--- {name}.log (last lines)\n");
            all.extend(tail.into_iter().rev().map(|l| format!("{l}\n")));
        }
        all
    }

    /// Waits until Prometheus holds `n` successful scrapes of both jobs.
    pub fn wait_scraped(&self, n: usize) {
        self.poll("both agents scraped", Duration::from_secs(60), || {
            [AGENT_JOB, EXPORTER_JOB].iter().all(|job| {
                let q = format!(
                    "count_over_time(up{{job=\"{job}\"}}[1m]) >= {n} and up{{job=\"{job}\"}} == 1"
                );
                self.query(&q).is_ok_and(|r| !r.is_empty())
            })
        });
    }

    /// An instant query's result series (a scalar or string counts as one);
    /// `Err` with Prometheus's message when it refuses the query.
    pub fn query(&self, expr: &str) -> Result<Vec<Value>, String> {
        let body = self
            .client
            .post(format!("{}/api/v1/query", self.prometheus))
            .form(&[("query", expr)])
            .send()
            .and_then(|r| r.text())
            .map_err(|e| format!("query failed: {e}"))?;
        let json: Value = serde_json::from_str(&body).map_err(|e| format!("{e}: {body}"))?;
        if json["status"] != "success" {
            return Err(json["error"].as_str().unwrap_or(&body).to_string());
        }
        let data = &json["data"];
        Ok(match data["resultType"].as_str() {
            Some("scalar" | "string") => vec![data["result"].clone()],
            _ => data["result"].as_array().cloned().unwrap_or_default(),
        })
    }

    /// A label of the job's `node_uname_info` (for `$nodename`).
    pub fn uname_label(&self, job: &str, label: &str) -> String {
        let r = self
            .query(&format!("node_uname_info{{job=\"{job}\"}}"))
            .unwrap_or_default();
        r.first()
            .and_then(|s| s["metric"][label].as_str())
            .unwrap_or("")
            .to_string()
    }

    /// The job's `instance` label (for `$node`).
    pub fn instance(&self, job: &str) -> String {
        let r = self.query(&format!("up{{job=\"{job}\"}}")).unwrap();
        r[0]["metric"]["instance"].as_str().unwrap().to_string()
    }
}
