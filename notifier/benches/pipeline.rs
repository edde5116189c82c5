//! Notifier pipeline benchmark (prints figures; not a test).
//!
//! `cargo bench -p notifier --bench pipeline`
//!
//! 1. receive → Slack latency: one new alert at a time with `group_wait: 0s`,
//!    the dispatcher task running on real time, a local fake Slack webhook;
//!    time from `Notifier::receive` to the request reaching the server.
//! 2. burst: N alerts in G groups handed over at once, with the state file
//!    on; time until every group's message arrived, state file size, RSS.

#[path = "../tests/common/mod.rs"]
mod common;

use common::FakeSlack;
use notifier::{Alert, Notifier, NotifierOptions, NotifyConfig};
use std::time::{Duration, Instant};

fn config(slack: &FakeSlack) -> NotifyConfig {
    NotifyConfig::from_yaml(&format!(
        "route:\n  receiver: r\n  group_by: [alertname, group]\n  group_wait: 0s\n  group_interval: 1m\nreceivers:\n  - name: r\n    slack_configs:\n      - api_url: {}\n",
        slack.webhook_url("bench")
    ))
    .expect("bench config")
}

fn alert(name: &str, group: usize, i: usize) -> Alert {
    Alert {
        labels: [
            ("alertname".to_string(), name.to_string()),
            ("group".to_string(), group.to_string()),
            ("instance".to_string(), format!("host-{i}")),
            ("severity".to_string(), "critical".to_string()),
        ]
        .into(),
        annotations: [("summary".to_string(), format!("host-{i} is down"))].into(),
        ..Default::default()
    }
}

fn rss_kib() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmRSS:"))
                .and_then(|l| l.split_whitespace().nth(1)?.parse().ok())
        })
        .unwrap_or(0)
}

async fn wait_for(slack: &FakeSlack, count: usize) {
    while slack.count() < count {
        tokio::time::sleep(Duration::from_micros(200)).await;
    }
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    sorted[((sorted.len() - 1) as f64 * p).round() as usize]
}

async fn latency(rounds: usize) {
    let slack = FakeSlack::start().await;
    let dir = tempfile::tempdir().unwrap();
    let options = NotifierOptions {
        state_file: Some(dir.path().join("state.json")),
        ..Default::default()
    };
    let n = Notifier::build(&config(&slack), options).unwrap();
    let task = n.spawn();
    let mut samples = Vec::with_capacity(rounds);
    for i in 0..rounds {
        // Alerts arrive while the notifier is idle (its last state write done).
        tokio::time::sleep(Duration::from_millis(30)).await;
        let start = tokio::time::Instant::now();
        n.receive(vec![alert("Latency", i, i)]).await;
        wait_for(&slack, i + 1).await;
        samples.push(slack.received()[i].at - start);
    }
    task.abort();
    samples.sort();
    println!(
        "receive→Slack latency (group_wait 0s, state file on, idle notifier), {rounds} alerts: p50 {:.2} ms, p99 {:.2} ms, max {:.2} ms",
        percentile(&samples, 0.5).as_secs_f64() * 1e3,
        percentile(&samples, 0.99).as_secs_f64() * 1e3,
        samples.last().unwrap().as_secs_f64() * 1e3
    );
}

async fn burst(alerts: usize, groups: usize) {
    let slack = FakeSlack::start().await;
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path().join("state.json");
    // The queue bound (default 100) would fold a burst of more groups into
    // a summary; raise it to measure delivery of every message.
    let options = NotifierOptions {
        state_file: Some(state.clone()),
        queue_bound: groups,
        ..Default::default()
    };
    let n = Notifier::build(&config(&slack), options).unwrap();
    let rss_before = rss_kib();
    let task = n.spawn();
    let batch: Vec<Alert> = (0..alerts).map(|i| alert("Burst", i % groups, i)).collect();
    let start = Instant::now();
    n.receive(batch).await;
    let received = start.elapsed();
    wait_for(&slack, groups).await;
    let done = start.elapsed();
    task.abort();
    let size = std::fs::metadata(&state).map(|m| m.len()).unwrap_or(0);
    println!(
        "burst: {alerts} alerts in {groups} groups: receive {:.1} ms, all {groups} messages delivered after {:.1} ms ({:.0} messages/s); state file {} KiB; RSS {} → {} KiB",
        received.as_secs_f64() * 1e3,
        done.as_secs_f64() * 1e3,
        groups as f64 / done.as_secs_f64(),
        size / 1024,
        rss_before,
        rss_kib()
    );
}

fn main() {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        latency(200).await;
        burst(1_000, 100).await;
        burst(10_000, 500).await;
    });
}
