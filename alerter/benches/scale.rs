//! Scale benchmark: N synthetic targets × M series, scraped and evaluated by
//! the alerter and by Debian's Prometheus in the same run, with the same
//! scrape interval and the same rules. Prints ingest CPU (from
//! /proc/<pid>/stat), resident memory, rule evaluation time, and ratios.
//!
//! `cargo bench -p alerter --bench scale`; sizes via ALERTER_BENCH_TARGETS
//! (default 50), ALERTER_BENCH_SERIES (per target, default 400),
//! ALERTER_BENCH_SECONDS (measured window, default 60).

use std::net::SocketAddr;
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use testkit::ChildGuard;

const SCRAPE_INTERVAL_S: u64 = 2;
const PROMETHEUS: &str = "/usr/bin/prometheus";

fn env_or(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// Body of one synthetic target: node-like gauges and counters plus
/// `series` request counters, values moving with time.
fn render_body(target: usize, series: usize, started: Instant) -> String {
    let t = started.elapsed().as_secs_f64();
    let mut s = String::with_capacity(series * 80 + 1024);
    s.push_str("# TYPE node_memory_MemAvailable_bytes gauge\n");
    s.push_str(&format!(
        "node_memory_MemAvailable_bytes {}\n",
        4e9 + (t * 1e3) % 1e6
    ));
    s.push_str("node_memory_MemTotal_bytes 8e9\n");
    s.push_str(&format!("node_vmstat_pgmajfault {}\n", (t * 10.0).floor()));
    for cpu in 0..2 {
        for (mode, share) in [("idle", 0.7), ("user", 0.2), ("system", 0.1)] {
            s.push_str(&format!(
                "node_cpu_seconds_total{{cpu=\"{cpu}\",mode=\"{mode}\"}} {:.3}\n",
                t * share
            ));
        }
    }
    s.push_str(
        "node_filesystem_avail_bytes{device=\"/dev/sda1\",fstype=\"ext4\",mountpoint=\"/\"} 5e10\n",
    );
    s.push_str(
        "node_filesystem_size_bytes{device=\"/dev/sda1\",fstype=\"ext4\",mountpoint=\"/\"} 1e11\n",
    );
    s.push_str(
        "node_filesystem_readonly{device=\"/dev/sda1\",fstype=\"ext4\",mountpoint=\"/\"} 0\n",
    );
    s.push_str("# TYPE bench_requests_total counter\n");
    for j in 0..series {
        let code = if j % 10 == 0 { "500" } else { "200" };
        let v = (t * (1.0 + (j % 7) as f64)).floor() + target as f64;
        s.push_str(&format!(
            "bench_requests_total{{path=\"/api/{}\",code=\"{code}\"}} {v}\n",
            j / 2
        ));
    }
    s
}

/// Serves every synthetic target from this process (its CPU is not measured).
fn start_targets(rt: &tokio::runtime::Runtime, n: usize, series: usize) -> Vec<SocketAddr> {
    let started = Instant::now();
    let mut addrs = Vec::new();
    for i in 0..n {
        let listener = rt
            .block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))
            .unwrap();
        addrs.push(listener.local_addr().unwrap());
        let app = axum::Router::new().route(
            "/metrics",
            axum::routing::get(move || async move { render_body(i, series, started) }),
        );
        rt.spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
    }
    addrs
}

const BENCH_RULES: &str = r#"groups:
  - name: bench
    rules:
      - record: instance:bench_requests:rate1m
        expr: sum by (instance) (rate(bench_requests_total[1m]))
      - alert: BenchErrorRatioHigh
        expr: sum by (instance) (rate(bench_requests_total{code="500"}[1m])) / sum by (instance) (rate(bench_requests_total[1m])) > 0.01
        labels: {severity: warning}
        annotations: {summary: "{{ $value | humanizePercentage }} errors on {{ $labels.instance }}"}
      - alert: BenchPathBusy
        expr: rate(bench_requests_total[1m]) > 1000
        labels: {severity: info}
"#;

fn write_setup(dir: &Path, targets: &[SocketAddr], node_rules: &Path) {
    std::fs::write(dir.join("bench.yml"), BENCH_RULES).unwrap();
    std::fs::copy(node_rules, dir.join("node.yml")).unwrap();
    let list: Vec<String> = targets.iter().map(|a| format!("'{a}'")).collect();
    let cfg = format!(
        "global:\n  scrape_interval: {SCRAPE_INTERVAL_S}s\n  scrape_timeout: {SCRAPE_INTERVAL_S}s\n  evaluation_interval: {SCRAPE_INTERVAL_S}s\nscrape_configs:\n  - job_name: bench\n    static_configs:\n      - targets: [{}]\nrule_files: ['node.yml', 'bench.yml']\n",
        list.join(", ")
    );
    std::fs::write(dir.join("config.yml"), cfg).unwrap();
}

/// utime + stime of a process, seconds.
fn cpu_seconds(pid: u32) -> f64 {
    servekit::procstat::of_pid(pid)
        .map(|stat| servekit::procstat::cpu_seconds(&stat))
        .unwrap_or(0.0)
}

/// (VmRSS, VmHWM) in MiB.
fn memory_mib(pid: u32) -> (f64, f64) {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    let field = |name: &str| {
        status
            .lines()
            .find(|l| l.starts_with(name))
            .and_then(|l| l.split_whitespace().nth(1))
            .and_then(|v| v.parse::<f64>().ok())
            .unwrap_or(0.0)
            / 1024.0
    };
    (field("VmRSS:"), field("VmHWM:"))
}

fn scrape_metrics(rt: &tokio::runtime::Runtime, port: u16) -> String {
    rt.block_on(async {
        match reqwest::get(format!("http://127.0.0.1:{port}/metrics")).await {
            Ok(r) => r.text().await.unwrap_or_default(),
            Err(_) => String::new(),
        }
    })
}

/// Sum of every sample of `name` (any labels) in an exposition text.
fn metric_sum(text: &str, name: &str) -> f64 {
    text.lines()
        .filter(|l| !l.starts_with('#'))
        .filter(|l| l.starts_with(&format!("{name}{{")) || l.starts_with(&format!("{name} ")))
        .filter_map(|l| l.rsplit(' ').next().and_then(|v| v.parse::<f64>().ok()))
        .sum()
}

struct Figures {
    cpu_s: f64,
    rss: f64,
    hwm: f64,
    eval_ms: f64,
}

fn measure(
    rt: &tokio::runtime::Runtime,
    pid: u32,
    port: u16,
    window: Duration,
    eval: (&str, &str),
) -> Figures {
    let before = scrape_metrics(rt, port);
    let cpu0 = cpu_seconds(pid);
    std::thread::sleep(window);
    let cpu1 = cpu_seconds(pid);
    let after = scrape_metrics(rt, port);
    let (rss, hwm) = memory_mib(pid);
    let d = |name: &str| metric_sum(&after, name) - metric_sum(&before, name);
    let evals = d(eval.1);
    Figures {
        cpu_s: cpu1 - cpu0,
        rss,
        hwm,
        eval_ms: if evals > 0.0 {
            d(eval.0) / evals * 1000.0
        } else {
            f64::NAN
        },
    }
}

fn main() {
    if !Path::new(PROMETHEUS).exists() {
        println!("NOTICE: {PROMETHEUS} not installed; benchmark skipped");
        return;
    }
    let n = env_or("ALERTER_BENCH_TARGETS", 50);
    let m = env_or("ALERTER_BENCH_SERIES", 400);
    let window = Duration::from_secs(env_or("ALERTER_BENCH_SECONDS", 60) as u64);
    let warmup = Duration::from_secs(20);
    let rt = Arc::new(
        tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .unwrap(),
    );
    let targets = start_targets(&rt, n, m);
    let series_per_target = m + 15;
    println!(
        "scale: {n} targets × {series_per_target} series, scrape and evaluation every {SCRAPE_INTERVAL_S}s, {} samples/s, window {}s after {}s warm-up",
        n * series_per_target / SCRAPE_INTERVAL_S as usize,
        window.as_secs(),
        warmup.as_secs()
    );
    let node_rules = Path::new(env!("CARGO_MANIFEST_DIR")).join("../rules/node.yml");

    let a_dir = tempfile::tempdir().unwrap();
    write_setup(a_dir.path(), &targets, &node_rules);
    let a_port = testkit::free_port();
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_alerter"));
    cmd.args(["run", "--config"])
        .arg(a_dir.path().join("config.yml"))
        .args(["--web.listen-address", &format!("127.0.0.1:{a_port}")])
        .arg("--storage.path")
        .arg(a_dir.path().join("data"))
        .env("RUST_LOG", "warn")
        .stdout(Stdio::null());
    let alerter = ChildGuard::spawn("alerter", &mut cmd).unwrap();

    let p_dir = tempfile::tempdir().unwrap();
    write_setup(p_dir.path(), &targets, &node_rules);
    let p_port = testkit::free_port();
    let mut cmd = Command::new(PROMETHEUS);
    cmd.arg(format!(
        "--config.file={}",
        p_dir.path().join("config.yml").display()
    ))
    .arg(format!(
        "--storage.tsdb.path={}",
        p_dir.path().join("data").display()
    ))
    .arg(format!("--web.listen-address=127.0.0.1:{p_port}"))
    .stdout(Stdio::null())
    .stderr(Stdio::null());
    let prometheus = ChildGuard::spawn("prometheus", &mut cmd).unwrap();
    testkit::wait_for_port(a_port, Duration::from_secs(10)).unwrap();
    testkit::wait_for_port(p_port, Duration::from_secs(30)).unwrap();
    std::thread::sleep(warmup);

    // Both measured over the same window, concurrently.
    let rt2 = Arc::clone(&rt);
    let (a_pid, p_pid) = (alerter.pid(), prometheus.pid());
    let a = std::thread::spawn(move || {
        measure(
            &rt2,
            a_pid,
            a_port,
            window,
            (
                "alerter_rule_evaluation_seconds_total",
                "alerter_rule_group_evaluations_total",
            ),
        )
    });
    let p = measure(
        &rt,
        p_pid,
        p_port,
        window,
        (
            "prometheus_rule_group_duration_seconds_sum",
            "prometheus_rule_group_duration_seconds_count",
        ),
    );
    let a = a.join().unwrap();
    let secs = window.as_secs_f64();
    println!(
        "{:<12} {:>14} {:>10} {:>12} {:>16}",
        "", "CPU (% core)", "RSS MiB", "peak MiB", "rule group eval"
    );
    for (name, f) in [("alerter", &a), ("prometheus", &p)] {
        println!(
            "{name:<12} {:>14.1} {:>10.1} {:>12.1} {:>13.3} ms",
            f.cpu_s / secs * 100.0,
            f.rss,
            f.hwm,
            f.eval_ms
        );
    }
    println!(
        "ratio alerter/prometheus: CPU {:.2}, RSS {:.2}, peak {:.2}, rule group eval {:.2}",
        a.cpu_s / p.cpu_s,
        a.rss / p.rss,
        a.hwm / p.hwm,
        a.eval_ms / p.eval_ms
    );
    let alerts_json = rt.block_on(async {
        reqwest::get(format!("http://127.0.0.1:{a_port}/api/v1/alerts"))
            .await
            .unwrap()
            .text()
            .await
            .unwrap()
    });
    let prom_json = rt.block_on(async {
        reqwest::get(format!("http://127.0.0.1:{p_port}/api/v1/alerts"))
            .await
            .unwrap()
            .text()
            .await
            .unwrap()
    });
    println!(
        "alerts active (pending or firing): alerter {}, prometheus {}",
        alerts_json.matches("\"alertname\"").count(),
        prom_json.matches("\"alertname\"").count()
    );
    drop(alerter);
    drop(prometheus);
}
