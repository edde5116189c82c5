//! The alerter against real HTTP targets, with injected time: a target dies
//! → `InstanceDown` pending, firing after `for`, re-sent, resolved when the
//! target returns. Also reload of good and bad rule files.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use alerter::app::{Alerter, Settings};
use alerter::promql::{parse_supported, Evaluator, Value};
use alerter::sink::PostableAlert;
use serde_json::Value as Json;
use tokio::sync::mpsc;

mod support;

const T0: i64 = 1_700_000_000_000;
const STEP: i64 = 15_000;

/// A metrics endpoint on a fixed port that can be stopped and restarted.
struct FakeTarget {
    addr: SocketAddr,
    task: Option<tokio::task::JoinHandle<()>>,
}

impl FakeTarget {
    async fn start(addr: SocketAddr) -> Self {
        let listener = tokio::net::TcpListener::bind(addr)
            .await
            .expect("bind target");
        let addr = listener.local_addr().unwrap();
        let body = "# TYPE node_memory_MemAvailable_bytes gauge\nnode_memory_MemAvailable_bytes 4e9\nnode_memory_MemTotal_bytes 8e9\nnode_load1 0.5\n";
        let task = support::serve_metrics(listener, body);
        Self {
            addr,
            task: Some(task),
        }
    }

    async fn stop(&mut self) {
        if let Some(t) = self.task.take() {
            t.abort();
            let _ = t.await;
        }
    }
}

fn write_config(dir: &Path, target: SocketAddr, rules: &Path) -> PathBuf {
    let path = dir.join("alerter.yml");
    std::fs::write(
        &path,
        format!(
            "global:\n  scrape_interval: 15s\n  evaluation_interval: 15s\n  external_labels: {{cluster: test}}\nscrape_configs:\n  - job_name: node\n    static_configs:\n      - targets: ['{target}']\nrule_files: ['{}']\n",
            rules.display()
        ),
    )
    .unwrap();
    path
}

async fn start_alerter(config: PathBuf) -> (Alerter, mpsc::UnboundedReceiver<Vec<PostableAlert>>) {
    let (tx, rx) = mpsc::unbounded_channel();
    let settings = Settings {
        external_url: "http://alerter.test".into(),
        web: alerter::app::WebSettings {
            enable_lifecycle: true,
            ..Default::default()
        },
        ..support::settings(config)
    };
    (
        Alerter::build(settings, Arc::new(tx)).await.expect("build"),
        rx,
    )
}

async fn get_json(port: u16, path: &str) -> Json {
    let text = reqwest::get(format!("http://127.0.0.1:{port}{path}"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    serde_json::from_str(&text).unwrap()
}

fn drain(rx: &mut mpsc::UnboundedReceiver<Vec<PostableAlert>>) -> Vec<PostableAlert> {
    let mut out = Vec::new();
    while let Ok(batch) = rx.try_recv() {
        out.extend(batch);
    }
    out
}

fn instant(alerter: &Alerter, expr: &str, at: i64) -> usize {
    let shared = alerter.shared();
    let engine = shared.engine();
    let expr = parse_supported(expr).unwrap();
    match Evaluator::new(&engine.storage, at).eval(&expr).unwrap() {
        Value::Vector(v) => v.len(),
        other => panic!("{other:?}"),
    }
}

fn alert_states(alerts: &Json) -> Vec<String> {
    alerts["data"]["alerts"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|a| a["labels"]["alertname"] == "InstanceDown")
        .map(|a| a["state"].as_str().unwrap().to_string())
        .collect()
}

#[tokio::test]
async fn dead_target_goes_pending_then_firing_then_resolves() {
    let rules = Path::new(env!("CARGO_MANIFEST_DIR")).join("../rules/node.yml");
    let dir = tempfile::tempdir().unwrap();
    let mut target = FakeTarget::start("127.0.0.1:0".parse().unwrap()).await;
    let (alerter, mut rx) = start_alerter(write_config(dir.path(), target.addr, &rules)).await;
    let port = alerter.port();
    let shared = alerter.shared();
    let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(alerter_server(alerter, stop_rx));
    let alerter = server_handle(shared);

    alerter.tick(T0).await;
    alerter.tick(T0 + STEP).await;
    assert_eq!(
        alerter.count("node_memory_MemAvailable_bytes", T0 + STEP),
        1
    );
    assert_eq!(alerter.count("up == 1", T0 + STEP), 1);
    assert!(alert_states(&get_json(port, "/api/v1/alerts").await).is_empty());

    target.stop().await;
    let t = T0 + 2 * STEP;
    alerter.tick(t).await;
    // Failed scrape: up is 0 and the target's series are stale at once.
    assert_eq!(alerter.count("up == 0", t), 1);
    assert_eq!(alerter.count("node_memory_MemAvailable_bytes", t), 0);
    assert_eq!(
        alert_states(&get_json(port, "/api/v1/alerts").await),
        ["pending"]
    );
    let targets = get_json(port, "/api/v1/targets").await;
    assert_eq!(targets["data"]["activeTargets"][0]["health"], "down");
    assert!(!targets["data"]["activeTargets"][0]["lastError"]
        .as_str()
        .unwrap()
        .is_empty());

    for k in 3..=5 {
        alerter.tick(T0 + k * STEP).await;
        assert_eq!(
            alert_states(&get_json(port, "/api/v1/alerts").await),
            ["pending"],
            "step {k}"
        );
    }
    assert!(drain(&mut rx).is_empty(), "pending alerts are not sent");

    let fired = T0 + 6 * STEP; // `for: 1m` after becoming active at 2 steps.
    alerter.tick(fired).await;
    assert_eq!(
        alert_states(&get_json(port, "/api/v1/alerts").await),
        ["firing"]
    );
    let sent = drain(&mut rx);
    assert_eq!(sent.len(), 1);
    assert_eq!(sent[0].labels["alertname"], "InstanceDown");
    assert_eq!(sent[0].labels["severity"], "critical");
    assert_eq!(
        sent[0].labels["cluster"], "test",
        "external labels are added"
    );
    assert_eq!(sent[0].starts_at.timestamp_millis(), fired);
    assert_eq!(sent[0].ends_at.timestamp_millis(), fired + 4 * 60_000);
    assert!(sent[0]
        .generator_url
        .starts_with("http://alerter.test/graph?g0.expr=up"));
    assert!(sent[0].annotations["summary"].contains(&target.addr.to_string()));

    let metrics = reqwest::get(format!("http://127.0.0.1:{port}/metrics"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        metrics.lines().any(|l| l.starts_with("ALERTS{")
            && l.contains("alertstate=\"firing\"")
            && l.contains("InstanceDown")),
        "{metrics}"
    );
    let active_at = metrics
        .lines()
        .find(|l| l.starts_with("ALERTS_FOR_STATE{alertname=\"InstanceDown\""))
        .and_then(|l| l.rsplit(' ').next())
        .and_then(|v| v.parse::<f64>().ok());
    assert_eq!(
        active_at,
        Some(((T0 + 2 * STEP) / 1000) as f64),
        "{metrics}"
    );

    let value_of = |name: &str| -> f64 {
        metrics
            .lines()
            .find(|l| l.starts_with(name))
            .and_then(|l| l.rsplit(' ').next())
            .and_then(|v| v.parse().ok())
            .unwrap_or_else(|| panic!("{name} missing"))
    };
    assert_eq!(value_of("alerter_scrapes_total{job=\"node\"}"), 7.0);
    assert_eq!(value_of("alerter_scrape_failures_total{job=\"node\"}"), 5.0);
    assert_eq!(value_of("alerter_alerts{state=\"firing\"}"), 1.0);
    assert_eq!(value_of("alerter_notifications_sent_total"), 1.0);
    assert!(value_of("alerter_storage_series") >= 3.0);
    assert!(value_of("process_resident_memory_bytes") > 0.0);

    // Still down: re-sent once resend_delay (1m) has passed, not before.
    for k in 7..=10 {
        alerter.tick(T0 + k * STEP).await;
    }
    assert!(drain(&mut rx).is_empty(), "no re-send within resend_delay");
    alerter.tick(T0 + 11 * STEP).await;
    assert_eq!(drain(&mut rx).len(), 1, "re-sent after resend_delay");

    let mut target = FakeTarget::start(target.addr).await;
    let back = T0 + 12 * STEP;
    alerter.tick(back).await;
    assert!(alert_states(&get_json(port, "/api/v1/alerts").await).is_empty());
    let resolved = drain(&mut rx);
    assert_eq!(resolved.len(), 1);
    assert_eq!(
        resolved[0].ends_at.timestamp_millis(),
        back,
        "resolved alert ends when it resolved"
    );
    target.stop().await;
    let _ = stop_tx.send(());
    server.await.unwrap().unwrap();
}

async fn alerter_server(
    alerter: Alerter,
    stop: tokio::sync::oneshot::Receiver<()>,
) -> anyhow::Result<()> {
    alerter
        .run_until_stopped(async {
            let _ = stop.await;
        })
        .await
}

/// Drives the shared state after `run_until_stopped` took the `Alerter`.
struct Handle(Arc<alerter::shared::Shared>);

fn server_handle(shared: Arc<alerter::shared::Shared>) -> Handle {
    Handle(shared)
}

impl Handle {
    async fn tick(&self, now: i64) {
        self.0.tick(now).await
    }

    fn count(&self, expr: &str, at: i64) -> usize {
        let engine = self.0.engine();
        let expr = parse_supported(expr).unwrap();
        match Evaluator::new(&engine.storage, at).eval(&expr).unwrap() {
            Value::Vector(v) => v.len(),
            other => panic!("{other:?}"),
        }
    }
}

#[tokio::test]
async fn reload_rejects_a_bad_file_and_keeps_the_last_good_rules() {
    let dir = tempfile::tempdir().unwrap();
    let rules = dir.path().join("r.yml");
    std::fs::write(
        &rules,
        "groups:\n  - name: g\n    rules:\n      - alert: First\n        expr: vector(1)\n",
    )
    .unwrap();
    let config = write_config(dir.path(), "127.0.0.1:9".parse().unwrap(), &rules);
    let (alerter, _rx) = start_alerter(config).await;
    let port = alerter.port();
    let shared = alerter.shared();
    alerter.tick(T0).await;
    assert_eq!(instant(&alerter, "ALERTS", T0), 1);
    let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(alerter_server(alerter, stop_rx));
    let client = reqwest::Client::new();
    let url = format!("http://127.0.0.1:{port}/-/reload");

    std::fs::write(
        &rules,
        "groups:\n  - name: g\n    rules:\n      - alert: Second\n        expr: stddev(up)\n",
    )
    .unwrap();
    let resp = client.post(&url).send().await.unwrap();
    assert_eq!(resp.status(), 500);
    assert!(resp.text().await.unwrap().contains("r.yml:5:15"));
    let names = rule_names(&get_json(port, "/api/v1/rules").await);
    assert_eq!(names, ["First"], "last good rules keep running");
    let metrics = reqwest::get(format!("http://127.0.0.1:{port}/metrics"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        metrics.contains("alerter_config_reload_failures_total 1"),
        "{metrics}"
    );
    assert!(
        metrics.contains("alerter_config_last_reload_successful 0"),
        "{metrics}"
    );

    std::fs::write(&rules, "groups:\n  - name: g\n    rules:\n      - alert: First\n        expr: vector(1)\n      - alert: Second\n        expr: vector(2)\n").unwrap();
    assert_eq!(client.post(&url).send().await.unwrap().status(), 200);
    assert_eq!(
        rule_names(&get_json(port, "/api/v1/rules").await),
        ["First", "Second"]
    );
    shared.tick(T0 + 60_000).await;
    let alerts = get_json(port, "/api/v1/alerts").await;
    let first = alerts["data"]["alerts"]
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["labels"]["alertname"] == "First")
        .unwrap()
        .clone();
    assert_eq!(
        first["activeAt"], "2023-11-14T22:13:20Z",
        "state of the unchanged rule survives the reload"
    );
    assert_eq!(first["value"], "1e+00");
    let _ = stop_tx.send(());
    server.await.unwrap().unwrap();
}

fn rule_names(rules: &Json) -> Vec<String> {
    rules["data"]["groups"][0]["rules"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["name"].as_str().unwrap().to_string())
        .collect()
}

#[tokio::test]
async fn notifier_hooks_sink_routes_metrics_and_config_updates() {
    let dir = tempfile::tempdir().unwrap();
    let rules = dir.path().join("r.yml");
    std::fs::write(
        &rules,
        "groups:\n  - name: g\n    rules:\n      - alert: Now\n        expr: vector(1)\n",
    )
    .unwrap();
    let config = write_config(dir.path(), "127.0.0.1:9".parse().unwrap(), &rules);
    let text = std::fs::read_to_string(&config).unwrap();
    std::fs::write(&config, format!("{text}route:\n  receiver: first\nreceivers:\n  - name: first\n    slack_configs:\n      - api_url: http://127.0.0.1:9/a\n  - name: second\n    slack_configs:\n      - api_url: http://127.0.0.1:9/b\n")).unwrap();
    let (alerter, mut default_rx) = start_alerter(config.clone()).await;
    let shared = alerter.shared();
    let (tx, mut rx) = mpsc::unbounded_channel();
    shared.set_sink(Arc::new(tx));
    shared.set_extra_metrics(Arc::new(|| "notifier_messages_sent_total 3\n".to_string()));
    let mut updates = shared.config_updates();
    assert_eq!(
        updates.borrow().route.as_ref().unwrap().receiver.as_deref(),
        Some("first")
    );
    let alerter = alerter.with_routes(
        axum::Router::new().route("/api/v1/silences", axum::routing::get(|| async { "[]" })),
    );
    let port = alerter.port();
    let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(alerter_server(alerter, stop_rx));

    shared.tick(T0).await;
    assert_eq!(
        drain(&mut rx).len(),
        1,
        "the swapped-in sink receives the alert"
    );
    assert!(drain(&mut default_rx).is_empty());
    let silences = reqwest::get(format!("http://127.0.0.1:{port}/api/v1/silences"))
        .await
        .unwrap();
    assert_eq!(silences.text().await.unwrap(), "[]");
    let metrics = reqwest::get(format!("http://127.0.0.1:{port}/metrics"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        metrics.contains("notifier_messages_sent_total 3"),
        "{metrics}"
    );

    std::fs::write(&config, format!("{text}route:\n  receiver: second\nreceivers:\n  - name: first\n    slack_configs:\n      - api_url: http://127.0.0.1:9/a\n  - name: second\n    slack_configs:\n      - api_url: http://127.0.0.1:9/b\n")).unwrap();
    let resp = reqwest::Client::new()
        .post(format!("http://127.0.0.1:{port}/-/reload"))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    assert!(updates.has_changed().unwrap());
    assert_eq!(
        updates
            .borrow_and_update()
            .route
            .as_ref()
            .unwrap()
            .receiver
            .as_deref(),
        Some("second")
    );
    let _ = stop_tx.send(());
    server.await.unwrap().unwrap();
}
