//! Every dashboard panel's query, run by a real Prometheus against a real
//! enroll-server and node-agent.
//!
//! Binaries: `<target>/debug/enroll-server` and `<target>/debug/node-agent`
//! from this test's own target directory (see [`binaries`]).
//! Prometheus is Debian's `/usr/bin/prometheus` (or `prometheus` on PATH).
//!
//! How each panel is checked:
//! - every panel not listed below: each of its queries returns at least one
//!   series, after ordinary traffic (logins, a failed login, catalogue reads);
//! - [`RUSH_PANELS`] need enrollment traffic: the test drives a small rush
//!   (five students for a one-seat course) and then expects data too; only
//!   if a query stays empty is it accepted that its metric names exist in
//!   Prometheus (`/api/v1/label/__name__/values`) or in enroll-server's
//!   `/metrics`, and the test says so;
//! - [`FAULT_PANELS`] need a fault: the test stops the replica, keeps reading
//!   the catalogue, and expects the fallback panel to show data and the
//!   replica-health panel to show 0.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use reqwest::blocking::Client;
use serde_json::Value;
use testkit::{free_port, ChildGuard, PgCluster, PgOptions, RedisServer};

use crate::common::{binaries, dashboards, metric_names, panels, Panel};
use crate::traffic::{background_traffic, login, rush, seed, ADMIN_TOKEN};

/// Panels whose metrics only move when students enroll.
const RUSH_PANELS: &[&str] = &[
    "Enrollment requests by outcome",
    "Queue length per course",
    "Admission decisions",
    "Admission batch size",
    "Enqueue pipeline size",
    "Admission commit latency",
    "Admission transactions per second",
    "Courses per admission transaction",
    "Admission rate per course",
    "course_full refusals: from memory vs all",
];

/// Panels whose metrics only appear when a replica fails.
const FAULT_PANELS: &[&str] = &["Replica fallbacks"];

struct Running {
    base: String,
    prometheus: String,
    logs: PathBuf,
    // Fields drop in declaration order: the services (killed by pid) first,
    // then Redis and PostgreSQL, then the temporary directory.
    _enroll: ChildGuard,
    _node: ChildGuard,
    _prom: ChildGuard,
    _redis: RedisServer,
    pg: PgCluster,
    _tmp: tempfile::TempDir,
}

fn prometheus_bin() -> Option<PathBuf> {
    let debian = Path::new("/usr/bin/prometheus");
    if debian.is_file() {
        return Some(debian.to_path_buf());
    }
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|d| d.join("prometheus"))
        .find(|p| p.is_file())
}

fn spawn_logged(name: &str, cmd: &mut Command, logs: &Path) -> ChildGuard {
    let log = fs::File::create(logs.join(format!("{name}.log"))).unwrap();
    cmd.stdin(Stdio::null())
        .stdout(log.try_clone().unwrap())
        .stderr(log);
    ChildGuard::spawn(name, cmd)
        .unwrap()
        .with_stop_signal(libc::SIGTERM)
}

fn wait_ok(client: &Client, url: &str, logs: &Path, name: &str) {
    let deadline = Instant::now() + Duration::from_secs(60);
    while Instant::now() < deadline {
        if client
            .get(url)
            .send()
            .map(|r| r.status().is_success())
            .unwrap_or(false)
        {
            return;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    let log = fs::read_to_string(logs.join(format!("{name}.log"))).unwrap_or_default();
    panic!("{name} never answered {url}; its log:\n{log}");
}

fn start(prometheus: &Path, client: &Client) -> Running {
    let bins = binaries();
    let tmp = tempfile::Builder::new()
        .prefix("stack-test-")
        .tempdir()
        .unwrap();
    let logs = tmp.path().to_path_buf();
    let pg = PgCluster::start(PgOptions::default()).expect("PostgreSQL primary + replica");
    let (db_url, replica_urls) = pg.create_database("stack").unwrap();
    let redis = RedisServer::start().expect("redis-server");

    let enroll_port = free_port();
    let enroll = spawn_logged(
        "enroll-server",
        Command::new(bins.join("enroll-server"))
            .env("ENROLL_DATABASE_URL", &db_url)
            .env("ENROLL_REPLICA_URLS", replica_urls.join(","))
            .env("ENROLL_REDIS_URL", redis.url())
            .env("ENROLL_ADMIN_TOKEN", ADMIN_TOKEN)
            .env("ENROLL_LISTEN", format!("127.0.0.1:{enroll_port}"))
            .env("ENROLL_ARGON2_MEMORY_KIB", "1024")
            .env("ENROLL_ARGON2_ITERATIONS", "1")
            .env("ENROLL_REPLICA_CHECK_INTERVAL_MS", "200"),
        &logs,
    );
    let base = format!("http://127.0.0.1:{enroll_port}");
    wait_ok(client, &format!("{base}/readyz"), &logs, "enroll-server");

    let node_port = free_port();
    let node = spawn_logged(
        "node-agent",
        Command::new(bins.join("node-agent"))
            .arg(format!("--web.listen-address=127.0.0.1:{node_port}")),
        &logs,
    );
    wait_ok(
        client,
        &format!("http://127.0.0.1:{node_port}/metrics"),
        &logs,
        "node-agent",
    );

    let prom_port = free_port();
    let config = format!(
        "global:\n  scrape_interval: 1s\n  scrape_timeout: 900ms\nscrape_configs:\n\
         - job_name: enroll-server\n  static_configs: [{{targets: ['127.0.0.1:{enroll_port}']}}]\n\
         - job_name: node\n  static_configs: [{{targets: ['127.0.0.1:{node_port}']}}]\n"
    );
    fs::write(logs.join("prometheus.yml"), config).unwrap();
    let prom = spawn_logged(
        "prometheus",
        Command::new(prometheus)
            .arg(format!(
                "--config.file={}",
                logs.join("prometheus.yml").display()
            ))
            .arg(format!(
                "--storage.tsdb.path={}",
                logs.join("tsdb").display()
            ))
            .arg(format!("--web.listen-address=127.0.0.1:{prom_port}")),
        &logs,
    );
    let prometheus = format!("http://127.0.0.1:{prom_port}");
    wait_ok(
        client,
        &format!("{prometheus}/-/ready"),
        &logs,
        "prometheus",
    );
    Running {
        base,
        prometheus,
        logs,
        _enroll: enroll,
        _node: node,
        _prom: prom,
        _redis: redis,
        pg,
        _tmp: tmp,
    }
}

/// Replaces Grafana's variables: `$__rate_interval` with 1m, template
/// variables with a match-all regex.
fn concrete(expr: &str) -> String {
    expr.replace("$__rate_interval", "1m")
        .replace("$instance", ".*")
        .replace("$job", ".*")
}

/// The result vector of an instant query; a query Prometheus refuses fails
/// the test with its error.
fn query(client: &Client, prometheus: &str, expr: &str) -> Vec<Value> {
    let body: Value = client
        .get(format!("{prometheus}/api/v1/query"))
        .query(&[("query", expr)])
        .send()
        .and_then(|r| r.json())
        .unwrap_or_else(|e| panic!("query {expr}: {e}"));
    assert_eq!(
        body["status"], "success",
        "Prometheus refused `{expr}`: {body}"
    );
    body["data"]["result"]
        .as_array()
        .cloned()
        .unwrap_or_default()
}

/// Polls until every query of every panel returns data, or the deadline.
/// Returns the panels still lacking data.
fn wait_for_data(
    client: &Client,
    prometheus: &str,
    mut pending: Vec<Panel>,
    timeout: Duration,
) -> Vec<Panel> {
    let deadline = Instant::now() + timeout;
    loop {
        pending.retain(|p| {
            let empty = p
                .exprs
                .iter()
                .any(|e| query(client, prometheus, &concrete(e)).is_empty());
            if !empty {
                eprintln!("checked by query: {} / {}", p.dashboard, p.title);
            }
            empty
        });
        if pending.is_empty() || Instant::now() > deadline {
            return pending;
        }
        std::thread::sleep(Duration::from_millis(500));
    }
}

/// The metric names of panels that stayed empty must at least exist.
fn assert_names_exist(client: &Client, run: &Running, empty: &[Panel]) {
    let known: Value = client
        .get(format!("{}/api/v1/label/__name__/values", run.prometheus))
        .send()
        .and_then(|r| r.json())
        .unwrap();
    let known: Vec<&str> = known["data"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|v| v.as_str())
        .collect();
    let exposed = client
        .get(format!("{}/metrics", run.base))
        .send()
        .and_then(|r| r.text())
        .unwrap();
    for panel in empty {
        for e in &panel.exprs {
            for name in metric_names(e) {
                assert!(
                    known.contains(&name.as_str()) || exposed.contains(&name),
                    "{} / {}: `{name}` is neither in Prometheus nor in enroll-server's /metrics (logs in {})",
                    panel.dashboard, panel.title, run.logs.display()
                );
            }
        }
        eprintln!(
            "checked by metric name only (no rush data): {} / {}",
            panel.dashboard, panel.title
        );
    }
}

/// Every `label_values(<selector>, label)` variable query selects series.
fn check_variables(client: &Client, prometheus: &str, dashboard: &Value) {
    for var in dashboard["templating"]["list"]
        .as_array()
        .into_iter()
        .flatten()
    {
        let Some(def) = var["definition"].as_str() else {
            continue;
        };
        let Some(inner) = def
            .strip_prefix("label_values(")
            .and_then(|s| s.rsplit_once(','))
        else {
            continue;
        };
        let selector = concrete(inner.0);
        assert!(
            !query(client, prometheus, &selector).is_empty(),
            "variable {}: {selector} is empty",
            var["name"]
        );
    }
}

#[test]
fn every_dashboard_query_returns_data_from_a_real_prometheus() {
    let Some(prometheus_bin) = prometheus_bin() else {
        panic!("Prometheus is not installed: run ./scripts/install-deps.sh (Debian package `prometheus`)");
    };
    let client = Client::builder()
        .timeout(Duration::from_secs(10))
        .build()
        .unwrap();
    let run = start(&prometheus_bin, &client);
    let hot = seed(&client, &run.base);
    let stop = Arc::new(AtomicBool::new(false));
    let traffic = background_traffic(run.base.clone(), stop.clone());
    let cookie = login(&client, &run.base, 2);
    let me = client
        .get(format!("{}/api/v1/me", run.base))
        .header("cookie", &cookie)
        .send()
        .unwrap();
    assert!(me.status().is_success(), "/api/v1/me: {}", me.status());
    rush(&client, &run.base, hot);

    let all: Vec<(Value, Vec<Panel>)> = dashboards()
        .into_iter()
        .map(|(_, d)| {
            let p = panels(&d);
            (d, p)
        })
        .collect();
    let listed = |p: &Panel, list: &[&str]| list.contains(&p.title.as_str());
    let every: Vec<Panel> = all.iter().flat_map(|(_, p)| p.clone()).collect();
    for title in RUSH_PANELS.iter().chain(FAULT_PANELS) {
        assert!(
            every.iter().any(|p| p.title == *title),
            "no panel titled {title}"
        );
    }
    let ordinary: Vec<Panel> = every
        .iter()
        .filter(|p| !listed(p, RUSH_PANELS) && !listed(p, FAULT_PANELS))
        .cloned()
        .collect();
    let rush_panels: Vec<Panel> = every
        .iter()
        .filter(|p| listed(p, RUSH_PANELS))
        .cloned()
        .collect();
    let fault: Vec<Panel> = every
        .iter()
        .filter(|p| listed(p, FAULT_PANELS))
        .cloned()
        .collect();

    let missing = wait_for_data(&client, &run.prometheus, ordinary, Duration::from_secs(30));
    let names: Vec<String> = missing
        .iter()
        .map(|p| format!("{} / {}: {:?}", p.dashboard, p.title, p.exprs))
        .collect();
    assert!(
        missing.is_empty(),
        "panels without data (logs in {}):\n{}",
        run.logs.display(),
        names.join("\n")
    );
    // Scraped series exist now, so the variables' queries must find them.
    for (d, _) in &all {
        check_variables(&client, &run.prometheus, d);
    }
    let empty_rush = wait_for_data(
        &client,
        &run.prometheus,
        rush_panels,
        Duration::from_secs(5),
    );
    assert_names_exist(&client, &run, &empty_rush);

    // The fault: the replica goes away, catalogue reads fall back to the primary.
    let mut run = run;
    run.pg.replicas[0].stop();
    let missing = wait_for_data(&client, &run.prometheus, fault, Duration::from_secs(30));
    assert!(
        missing.is_empty(),
        "no fallback data after the replica stopped: {missing:?}"
    );
    let healthy = r#"min by (replica) (enroll_replica_healthy{job=~".*",instance=~".*"})"#;
    let deadline = Instant::now() + Duration::from_secs(20);
    while query(&client, &run.prometheus, healthy)
        .iter()
        .all(|s| s["value"][1] != "0")
    {
        assert!(
            Instant::now() < deadline,
            "the Replica healthy panel never showed the stopped replica as 0"
        );
        std::thread::sleep(Duration::from_millis(500));
    }
    stop.store(true, Ordering::Relaxed);
    traffic.join().unwrap();
}
