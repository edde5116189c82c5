//! The real-time loop's rounds (`Shared::step`) on the real-time schedule,
//! with injected timestamps and real HTTP targets: an evaluation sees the
//! scrapes started in its own round (a target that dies fires in the round
//! of its first failed scrape, not a round later), and a target that never
//! answers holds the evaluation back only for the bounded wait.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use alerter::app::Alerter;
use alerter::engine::Health;
use alerter::shared::scrape_wait;
use alerter::sink::PostableAlert;
use tokio::sync::mpsc;

mod support;

const T0: i64 = 1_700_000_000_000;

/// A metrics endpoint that answers until stopped (connections are served
/// inline and closed, so nothing answers once the task is gone).
async fn answering_target() -> (SocketAddr, tokio::task::JoinHandle<()>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    (addr, support::serve_metrics(listener, "node_load1 0.5\n"))
}

/// Accepts connections and never answers them.
async fn silent_target() -> (SocketAddr, tokio::task::JoinHandle<()>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let task = tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((conn, _)) = listener.accept().await {
            held.push(conn);
        }
    });
    (addr, task)
}

fn write_config(
    dir: &Path,
    target: SocketAddr,
    scrape: &str,
    timeout: &str,
    eval: &str,
) -> PathBuf {
    std::fs::write(
        dir.join("rules.yml"),
        "groups:\n  - name: node\n    rules:\n      - alert: InstanceDown\n        expr: up == 0\n",
    )
    .unwrap();
    let path = dir.join("alerter.yml");
    std::fs::write(
        &path,
        format!(
            "global:\n  scrape_interval: {scrape}\n  scrape_timeout: {timeout}\n  evaluation_interval: {eval}\nscrape_configs:\n  - job_name: node\n    static_configs:\n      - targets: ['{target}']\nrule_files: ['{}']\n",
            dir.join("rules.yml").display()
        ),
    )
    .unwrap();
    path
}

/// An alerter on the real-time schedule anchored at `T0`, stepped by hand.
async fn start(config: PathBuf) -> (Alerter, mpsc::UnboundedReceiver<Vec<PostableAlert>>) {
    let (tx, rx) = mpsc::unbounded_channel();
    let settings = support::settings(config);
    let alerter = Alerter::build(settings, Arc::new(tx)).await.unwrap();
    alerter.shared().engine().align_schedule(T0);
    (alerter, rx)
}

fn drain(rx: &mut mpsc::UnboundedReceiver<Vec<PostableAlert>>) -> Vec<PostableAlert> {
    let mut out = Vec::new();
    while let Ok(batch) = rx.try_recv() {
        out.extend(batch);
    }
    out
}

#[tokio::test]
async fn a_dead_target_fires_in_the_round_of_its_first_failed_scrape() {
    let dir = tempfile::tempdir().unwrap();
    let (addr, target) = answering_target().await;
    let (alerter, mut rx) = start(write_config(dir.path(), addr, "1m", "10s", "1m")).await;
    let shared = alerter.shared();
    {
        let engine = shared.engine();
        let due = [engine.targets[0].target.clone()];
        assert_eq!(scrape_wait(&due, 60_000), Duration::from_secs(6));
    }

    // Wake-ups land a few ms after the slot; the round's time is the wake-up.
    let first = T0 + 3;
    shared.step(first).await;
    {
        let engine = shared.engine();
        assert_eq!(engine.targets[0].health, Health::Up);
        assert_eq!(engine.targets[0].last_scrape, Some(first));
        assert_eq!(engine.groups[0].group.last_evaluation, Some(first));
        assert!(engine.active_alerts().is_empty());
    }
    assert!(drain(&mut rx).is_empty());

    target.abort();
    let _ = target.await;
    let second = T0 + 60_000 + 2;
    assert_eq!(shared.engine().next_due(), Some(T0 + 60_000));
    shared.step(second).await;
    let engine = shared.engine();
    assert_eq!(engine.targets[0].health, Health::Down);
    assert_eq!(engine.targets[0].last_scrape, Some(second));
    assert_eq!(engine.groups[0].group.last_evaluation, Some(second));
    let active = engine.active_alerts();
    assert_eq!(
        active.len(),
        1,
        "the evaluation saw this round's failed scrape"
    );
    assert_eq!(active[0].1.active_at, second);
    drop(engine);
    let sent = drain(&mut rx);
    assert_eq!(sent.len(), 1);
    assert_eq!(sent[0].labels["alertname"], "InstanceDown");
    assert_eq!(sent[0].starts_at.timestamp_millis(), second);
}

#[tokio::test]
async fn a_target_that_never_answers_delays_evaluation_only_by_the_bounded_wait() {
    let dir = tempfile::tempdir().unwrap();
    let (addr, _target) = silent_target().await;
    // The scrape may take 30s; evaluations every 1s wait at most 100ms.
    let (alerter, _rx) = start(write_config(dir.path(), addr, "1m", "30s", "1s")).await;
    let shared = alerter.shared();
    {
        let engine = shared.engine();
        let due = [engine.targets[0].target.clone()];
        assert_eq!(scrape_wait(&due, 1_000), Duration::from_millis(100));
    }
    shared.step(T0).await;
    let engine = shared.engine();
    assert_eq!(
        engine.groups[0].group.last_evaluation,
        Some(T0),
        "the group was evaluated"
    );
    assert_eq!(
        engine.targets[0].last_scrape, None,
        "without waiting for the scrape that is still running"
    );
    assert_eq!(engine.targets[0].health, Health::Unknown);
    assert_eq!(engine.groups[0].next_eval, T0 + 1_000);
}
