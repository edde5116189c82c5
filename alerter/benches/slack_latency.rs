//! Detection-to-Slack latency: the alerter (release binary, embedded
//! notifier) against Debian's Prometheus + Alertmanager, in the same run,
//! with the same scrape interval, evaluation interval, `for` and grouping.
//!
//! N small HTTP targets serve a few metrics; both systems scrape all of
//! them. Repetition i kills target i (at a random phase of the scrape
//! interval) and measures, for each system, the time until the local fake
//! Slack webhook receives the firing `InstanceDown` message for that
//! instance. Each target is its own group (`group_by: [alertname,
//! instance]`), so repetitions do not interfere. Each latency is split at
//! the alert's `activeAt` (the timestamp of the evaluation that fired it,
//! from each system's `/api/v1/alerts`): kill → evaluation, and evaluation
//! → Slack. Prints median / p90 / max per system, the ratios, resident
//! memory (alerter vs prometheus + alertmanager) and the load average.
//!
//! Run: `cargo bench -p alerter --bench slack_latency` (repetitions:
//! `ALERTER_BENCH_REPS`, default 20). Loopback only; every process is
//! started here and killed by pid; bounded in time.

use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime};

use testkit::{free_port, wait_for_port, ChildGuard};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

const DEFAULT_REPS: usize = 20;
const SCRAPE: &str = "1s";
const EVAL: &str = "1s";
const FOR: &str = "0s";
const GROUP_WAIT: &str = "0s";
const PROMETHEUS: &str = "/usr/bin/prometheus";
const ALERTMANAGER: &str = "/usr/bin/prometheus-alertmanager";

/// Firing messages received: (hook, raw body, when).
type Inbox = Arc<Mutex<Vec<(String, String, SystemTime)>>>;

/// A fake Slack incoming-webhook server: `POST /hooks/<name>` answers `ok`.
async fn fake_slack(inbox: Inbox) -> u16 {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let app = axum::Router::new().route(
        "/hooks/{name}",
        axum::routing::post(
            |axum::extract::Path(name): axum::extract::Path<String>, body: String| async move {
                inbox.lock().unwrap().push((name, body, SystemTime::now()));
                "ok"
            },
        ),
    );
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    port
}

/// A target answering every connection with a few metrics, then closing
/// it (no keep-alive, so once the task stops nothing answers).
async fn target(port: u16) -> tokio::task::JoinHandle<()> {
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", port))
        .await
        .unwrap();
    tokio::spawn(async move {
        let body = "# TYPE node_load1 gauge\nnode_load1 0.5\nnode_memory_MemAvailable_bytes 4e9\nnode_memory_MemTotal_bytes 8e9\n";
        while let Ok((mut conn, _)) = listener.accept().await {
            let mut buf = [0u8; 4096];
            let _ = conn.read(&mut buf).await;
            let resp = format!(
                "HTTP/1.1 200 OK\r\nContent-Type: text/plain; version=0.0.4\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                body.len()
            );
            let _ = conn.write_all(resp.as_bytes()).await;
            let _ = conn.shutdown().await;
        }
    })
}

fn rules() -> String {
    format!(
        "groups:\n  - name: node\n    rules:\n      - alert: InstanceDown\n        expr: up == 0\n        for: {FOR}\n        labels: {{severity: critical}}\n        annotations:\n          summary: 'Instance {{{{ $labels.instance }}}} down'\n"
    )
}

fn scrape_section(targets: &[u16]) -> String {
    let list: Vec<String> = targets.iter().map(|p| format!("'127.0.0.1:{p}'")).collect();
    format!(
        "global:\n  scrape_interval: {SCRAPE}\n  scrape_timeout: {SCRAPE}\n  evaluation_interval: {EVAL}\nscrape_configs:\n  - job_name: node\n    static_configs:\n      - targets: [{}]\nrule_files: ['rules.yml']\n",
        list.join(", ")
    )
}

fn route_section(hook_url: &str) -> String {
    format!(
        "route:\n  receiver: slack\n  group_by: [alertname, instance]\n  group_wait: {GROUP_WAIT}\n  group_interval: 5m\n  repeat_interval: 4h\nreceivers:\n  - name: slack\n    slack_configs:\n      - api_url: {hook_url}\n        send_resolved: true\n"
    )
}

fn rss_kib(pid: u32) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmRSS:"))
                .and_then(|l| l.split_whitespace().nth(1)?.parse().ok())
        })
        .unwrap_or(0)
}

fn quiet<'a>(cmd: &'a mut Command, dir: &Path, name: &str) -> &'a mut Command {
    let log = std::fs::File::create(dir.join(format!("{name}.log"))).unwrap();
    cmd.stdout(Stdio::null()).stderr(Stdio::from(log))
}

struct Systems {
    alerter: (ChildGuard, u16),
    pair: Option<(ChildGuard, ChildGuard, u16)>,
}

fn start_alerter(dir: &Path, targets: &[u16], slack: u16) -> anyhow::Result<(ChildGuard, u16)> {
    let d = dir.join("alerter");
    std::fs::create_dir_all(&d)?;
    std::fs::write(d.join("rules.yml"), rules())?;
    let hook = format!("http://127.0.0.1:{slack}/hooks/alerter");
    std::fs::write(
        d.join("alerter.yml"),
        scrape_section(targets) + &route_section(&hook),
    )?;
    let port = free_port();
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_alerter"));
    cmd.arg("run")
        .arg(format!("--config={}", d.join("alerter.yml").display()))
        .arg(format!("--web.listen-address=127.0.0.1:{port}"))
        .arg(format!("--storage.path={}", d.join("data").display()));
    let child = ChildGuard::spawn("alerter", quiet(&mut cmd, &d, "alerter"))?;
    wait_for_port(port, Duration::from_secs(10))?;
    Ok((child, port))
}

fn start_pair(
    dir: &Path,
    targets: &[u16],
    slack: u16,
) -> anyhow::Result<(ChildGuard, ChildGuard, u16)> {
    let d = dir.join("prometheus");
    std::fs::create_dir_all(&d)?;
    std::fs::write(d.join("rules.yml"), rules())?;
    let am_port = free_port();
    let hook = format!("http://127.0.0.1:{slack}/hooks/alertmanager");
    std::fs::write(d.join("alertmanager.yml"), route_section(&hook))?;
    let mut am = Command::new(ALERTMANAGER);
    am.arg(format!(
        "--config.file={}",
        d.join("alertmanager.yml").display()
    ))
    .arg(format!("--storage.path={}", d.join("am-data").display()))
    .arg(format!("--web.listen-address=127.0.0.1:{am_port}"))
    .arg("--cluster.listen-address=");
    let am = ChildGuard::spawn("alertmanager", quiet(&mut am, &d, "alertmanager"))?;
    wait_for_port(am_port, Duration::from_secs(20))?;
    let prom_port = free_port();
    let alerting = format!(
        "alerting:\n  alertmanagers:\n    - static_configs:\n        - targets: ['127.0.0.1:{am_port}']\n"
    );
    std::fs::write(
        d.join("prometheus.yml"),
        scrape_section(targets) + &alerting,
    )?;
    let mut prom = Command::new(PROMETHEUS);
    prom.arg(format!(
        "--config.file={}",
        d.join("prometheus.yml").display()
    ))
    .arg(format!("--storage.tsdb.path={}", d.join("tsdb").display()))
    .arg(format!("--web.listen-address=127.0.0.1:{prom_port}"));
    let prom = ChildGuard::spawn("prometheus", quiet(&mut prom, &d, "prometheus"))?;
    wait_for_port(prom_port, Duration::from_secs(20))?;
    Ok((prom, am, prom_port))
}

/// Waits until Prometheus has discovered the Alertmanager (its discovery
/// manager applies updates at most every 5 s) and both systems scrape every
/// target as up.
async fn wait_ready(alerter_port: Option<u16>, prom_port: Option<u16>, deadline: Instant) {
    let client = reqwest::Client::new();
    let get = |url: String| {
        let client = client.clone();
        async move {
            match client.get(url).send().await {
                Ok(r) => r.text().await.unwrap_or_default(),
                Err(_) => String::new(),
            }
        }
    };
    while Instant::now() < deadline {
        let mut ready = true;
        if let Some(p) = prom_port {
            let am = get(format!("http://127.0.0.1:{p}/api/v1/alertmanagers")).await;
            let targets = get(format!("http://127.0.0.1:{p}/api/v1/targets")).await;
            ready &= am.contains("activeAlertmanagers\":[{");
            ready &= !targets.contains("\"health\":\"unknown\"") && targets.contains("\"up\"");
        }
        if let Some(p) = alerter_port {
            let targets = get(format!("http://127.0.0.1:{p}/api/v1/targets")).await;
            ready &= !targets.contains("\"health\":\"unknown\"") && targets.contains("\"up\"");
        }
        if ready {
            return;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    panic!("systems not ready in time");
}

fn stats(v: &[f64]) -> (f64, f64, f64) {
    let mut v = v.to_vec();
    v.sort_by(|a, b| a.partial_cmp(b).unwrap());
    let q = |p: f64| v[((v.len() as f64 - 1.0) * p).round() as usize];
    (q(0.5), q(0.9), v[v.len() - 1])
}

/// One system's measurements, in seconds: kill → Slack, kill → the
/// evaluation that fired (its `activeAt`), evaluation → Slack.
#[derive(Default)]
struct Latencies {
    total: Vec<f64>,
    detect: Vec<f64>,
    deliver: Vec<f64>,
}

fn secs_between(from: SystemTime, to: SystemTime) -> f64 {
    match to.duration_since(from) {
        Ok(d) => d.as_secs_f64(),
        Err(e) => -e.duration().as_secs_f64(),
    }
}

/// The `activeAt` of the `InstanceDown` alert for `instance` in a
/// Prometheus-style `/api/v1/alerts` answer.
async fn active_at(client: &reqwest::Client, port: u16, instance: &str) -> Option<SystemTime> {
    let url = format!("http://127.0.0.1:{port}/api/v1/alerts");
    let text = client.get(url).send().await.ok()?.text().await.ok()?;
    let body: serde_json::Value = serde_json::from_str(&text).ok()?;
    let alert = body["data"]["alerts"].as_array()?.iter().find(|a| {
        a["labels"]["alertname"] == "InstanceDown" && a["labels"]["instance"] == instance
    })?;
    let at = chrono::DateTime::parse_from_rfc3339(alert["activeAt"].as_str()?).ok()?;
    let nanos = at.timestamp_nanos_opt()?;
    Some(SystemTime::UNIX_EPOCH + Duration::from_nanos(nanos as u64))
}

fn load_average() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .map(|s| s.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_else(|_| "unknown".into())
}

fn main() -> anyhow::Result<()> {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?;
    rt.block_on(run())
}

fn reps() -> usize {
    std::env::var("ALERTER_BENCH_REPS")
        .ok()
        .and_then(|v| v.parse().ok())
        .filter(|&n| n > 0)
        .unwrap_or(DEFAULT_REPS)
}

async fn run() -> anyhow::Result<()> {
    let reps = reps();
    let dir = tempfile::tempdir()?;
    let inbox: Inbox = Arc::default();
    let slack = fake_slack(inbox.clone()).await;
    let ports: Vec<u16> = (0..reps).map(|_| free_port()).collect();
    let mut tasks = Vec::new();
    for p in &ports {
        tasks.push(Some(target(*p).await));
    }
    let have_pair = Path::new(PROMETHEUS).exists() && Path::new(ALERTMANAGER).exists();
    if !have_pair {
        println!("notice: {PROMETHEUS} or {ALERTMANAGER} missing; measuring the alerter only");
    }
    let systems = Systems {
        alerter: start_alerter(dir.path(), &ports, slack)?,
        pair: if have_pair {
            Some(start_pair(dir.path(), &ports, slack)?)
        } else {
            None
        },
    };
    let ports_of = (systems.alerter.1, systems.pair.as_ref().map(|p| p.2));
    wait_ready(
        Some(ports_of.0),
        ports_of.1,
        Instant::now() + Duration::from_secs(60),
    )
    .await;
    // Let both settle (first scrapes, first evaluations) before measuring.
    tokio::time::sleep(Duration::from_secs(3)).await;
    println!(
        "slack_latency: scrape_interval {SCRAPE}, evaluation_interval {EVAL}, for {FOR}, group_wait {GROUP_WAIT}, {reps} repetitions; load average {}",
        load_average()
    );
    let client = reqwest::Client::new();
    let mut alerter = Latencies::default();
    let mut pair = Latencies::default();
    let mut seed = SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)?
        .as_nanos() as u64
        ^ 0x9e37_79b9_7f4a_7c15;
    for (i, port) in ports.iter().enumerate() {
        seed = seed
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        tokio::time::sleep(Duration::from_millis(300 + (seed >> 33) % 1000)).await;
        let instance = format!("127.0.0.1:{port}");
        if let Some(t) = tasks[i].take() {
            t.abort();
            let _ = t.await;
        }
        let killed = SystemTime::now();
        let (got_a, got_p) = wait_firing(&inbox, &instance, killed, have_pair).await;
        let mut line = format!("  rep {:>2}:", i + 1);
        for (name, got, port, into) in [
            ("alerter", got_a, Some(ports_of.0), &mut alerter),
            ("prometheus+alertmanager", got_p, ports_of.1, &mut pair),
        ] {
            let Some(port) = port else { continue };
            let Some(received) = got else {
                line.push_str(&format!(" {name} timeout;"));
                continue;
            };
            let total = secs_between(killed, received);
            into.total.push(total);
            line.push_str(&format!(" {name} {total:.3} s"));
            if let Some(at) = active_at(&client, port, &instance).await {
                let (detect, deliver) = (secs_between(killed, at), secs_between(at, received));
                into.detect.push(detect);
                into.deliver.push(deliver);
                line.push_str(&format!(
                    " (evaluation +{detect:.3}, to Slack +{deliver:.3})"
                ));
            }
            line.push(';');
        }
        println!("{}", line.trim_end_matches(';'));
    }
    report(&systems, &alerter, &pair);
    println!("load average at the end {}", load_average());
    drop(systems);
    Ok(())
}

/// Polls the inbox until both systems' firing messages for `instance`
/// arrived (30 s at most); returns when each arrived.
async fn wait_firing(
    inbox: &Inbox,
    instance: &str,
    killed: SystemTime,
    have_pair: bool,
) -> (Option<SystemTime>, Option<SystemTime>) {
    let deadline = Instant::now() + Duration::from_secs(30);
    let mut got_a = None;
    let mut got_p = None;
    while Instant::now() < deadline && (got_a.is_none() || (have_pair && got_p.is_none())) {
        for (hook, body, at) in inbox.lock().unwrap().iter() {
            if !body.contains("FIRING") || !body.contains(instance) || *at < killed {
                continue;
            }
            match hook.as_str() {
                "alerter" if got_a.is_none() => got_a = Some(*at),
                "alertmanager" if got_p.is_none() => got_p = Some(*at),
                _ => {}
            }
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    (got_a, got_p)
}

fn summary(name: &str, l: &Latencies) -> Option<(f64, f64, f64)> {
    if l.total.is_empty() {
        println!("{name}: no firing message received");
        return None;
    }
    let (t50, t90, tmax) = stats(&l.total);
    print!(
        "{name:<25} latency median {t50:.3} s, p90 {t90:.3} s, max {tmax:.3} s ({} runs)",
        l.total.len()
    );
    if !l.detect.is_empty() {
        let (d50, _, dmax) = stats(&l.detect);
        let (s50, _, smax) = stats(&l.deliver);
        print!(
            "; kill → evaluation median {d50:.3} s, max {dmax:.3} s; evaluation → Slack median {s50:.3} s, max {smax:.3} s"
        );
    }
    println!();
    Some((t50, t90, tmax))
}

fn report(systems: &Systems, alerter: &Latencies, pair: &Latencies) {
    let rss_a = rss_kib(systems.alerter.0.pid());
    let Some((a50, a90, amax)) = summary("alerter", alerter) else {
        return;
    };
    println!("alerter RSS {:.1} MiB", rss_a as f64 / 1024.0);
    let Some((prom, am, _)) = &systems.pair else {
        return;
    };
    let (rss_p, rss_m) = (rss_kib(prom.pid()), rss_kib(am.pid()));
    let Some((p50, p90, pmax)) = summary("prometheus+alertmanager", pair) else {
        return;
    };
    println!(
        "prometheus+alertmanager RSS {:.1} + {:.1} = {:.1} MiB",
        rss_p as f64 / 1024.0,
        rss_m as f64 / 1024.0,
        (rss_p + rss_m) as f64 / 1024.0
    );
    println!(
        "ratio alerter / pair: latency median {:.2}, p90 {:.2}, max {:.2}; RSS {:.2}",
        a50 / p50,
        a90 / p90,
        amax / pmax,
        rss_a as f64 / (rss_p + rss_m).max(1) as f64
    );
}
