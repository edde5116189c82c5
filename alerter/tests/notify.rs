//! The alerter with its embedded notifier, end to end against a local HTTP
//! server that answers as Slack's incoming webhooks do. Time is injected:
//! the alerter steps with `tick(now)`, the notifier reads a manual clock set
//! to the same instant and is stepped with `Notifier::tick`.
//!
//! A dying target → one InstanceDown message with the right content; a
//! restart of the whole alerter from its data directory mid-incident → no
//! duplicate, same `startsAt`, a pending alert's `for` timer resumes; the
//! resolution when the target returns; `POST /api/v2/alerts` and silences on
//! the alerter's port; a bad notifier configuration on reload keeps the old.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use alerter::app::{Alerter, Settings};
use alerter::engine::to_datetime;
use alerter::notify::{attach, Notifications, NotifyOptions};
use alerter::shared::Clock;
use axum::extract::{Path as UrlPath, State};
use axum::routing::post;
use notifier::clock::ManualClock;
use serde_json::{json, Value};

/// A multiple of the 15s scrape/evaluation slots.
const T0: i64 = 1_900_000_020_000;
const STEP: i64 = 15_000;

/// Requests received: (hook name, JSON body).
type Inbox = Arc<Mutex<Vec<(String, Value)>>>;

/// Incoming-webhook requests received, by hook name.
#[derive(Clone, Default)]
struct FakeSlack {
    received: Inbox,
    base: String,
}

impl FakeSlack {
    async fn start() -> FakeSlack {
        let received: Inbox = Arc::default();
        let app = axum::Router::new()
            .route(
                "/hooks/{name}",
                post(
                    |State(r): State<Inbox>,
                     UrlPath(name): UrlPath<String>,
                     axum::Json(body): axum::Json<Value>| async move {
                        r.lock().unwrap().push((name, body));
                        "ok"
                    },
                ),
            )
            .with_state(received.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        FakeSlack { received, base }
    }

    fn url(&self, hook: &str) -> String {
        format!("{}/hooks/{hook}", self.base)
    }

    /// Messages to `hook` whose title contains `needle`.
    fn titles(&self, hook: &str, needle: &str) -> Vec<Value> {
        self.received
            .lock()
            .unwrap()
            .iter()
            .filter(|(h, b)| h == hook && b["text"].as_str().unwrap_or("").contains(needle))
            .map(|(_, b)| b.clone())
            .collect()
    }
}

/// A metrics endpoint on a fixed address that can be stopped and restarted.
struct FakeTarget {
    addr: SocketAddr,
    task: Option<tokio::task::JoinHandle<()>>,
}

impl FakeTarget {
    async fn start(addr: SocketAddr) -> Self {
        let listener = tokio::net::TcpListener::bind(addr).await.unwrap();
        let addr = listener.local_addr().unwrap();
        let app = axum::Router::new().route(
            "/metrics",
            axum::routing::get(|| async { "node_load1 0.5\n" }),
        );
        let task = tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
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

const RULES: &str = r#"groups:
  - name: node
    rules:
      - alert: InstanceDown
        expr: up == 0
        for: 30s
        labels: {severity: critical}
        annotations:
          summary: 'Instance {{ $labels.instance }} down'
          description: '{{ $labels.instance }} of job {{ $labels.job }} has been down for more than 30 seconds.'
          runbook_url: https://runbooks.example/InstanceDown
      - alert: InstanceDownLong
        expr: up == 0
        for: 5m
        labels: {severity: warning}
"#;

fn write_config(dir: &Path, target: &str, hook_url: &str, group_wait: &str) -> PathBuf {
    std::fs::write(dir.join("rules.yml"), RULES).unwrap();
    let path = dir.join("alerter.yml");
    std::fs::write(
        &path,
        format!(
            "global:\n  scrape_interval: 15s\n  evaluation_interval: 15s\nscrape_configs:\n  - job_name: node\n    static_configs:\n      - targets: ['{target}']\nrule_files: ['rules.yml']\nroute:\n  receiver: slack\n  group_by: [alertname, instance]\n  group_wait: {group_wait}\n  group_interval: 1m\n  repeat_interval: 4h\nreceivers:\n  - name: slack\n    slack_configs:\n      - api_url: {hook_url}\n"
        ),
    )
    .unwrap();
    path
}

/// One alerter process: built from `dir` (config, data directory), served on
/// a free port, alerter and notifier stepped together.
struct Running {
    alerter_shared: Arc<alerter::shared::Shared>,
    notifications: Notifications,
    clock: Arc<ManualClock>,
    port: u16,
    data: PathBuf,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    server: Option<tokio::task::JoinHandle<()>>,
}

impl Running {
    async fn start(dir: &Path, now: i64) -> Running {
        let data = dir.join("data");
        let settings = Settings {
            config_path: dir.join("alerter.yml"),
            listen_address: "127.0.0.1:0".into(),
            external_url: "http://alerter.test".into(),
            resend_delay: Duration::from_secs(60),
            clock: Clock::Manual,
        };
        let alerter = Alerter::build(settings, Arc::new(alerter::sink::LogSink))
            .await
            .unwrap();
        let shared = alerter.shared();
        alerter::persist::restore(&shared, &data.join("alerts-state.json"), now).unwrap();
        let clock = Arc::new(ManualClock::new(to_datetime(now)));
        let options = NotifyOptions {
            state_file: Some(data.join("notifier-state.json")),
            clock: clock.clone(),
            spawn_dispatcher: false,
        };
        let (alerter, notifications) = attach(alerter, options).await.unwrap();
        let port = alerter.port();
        let (tx, rx) = tokio::sync::oneshot::channel::<()>();
        let server = tokio::spawn(async move {
            alerter
                .run_until_stopped(async {
                    let _ = rx.await;
                })
                .await
                .unwrap();
        });
        Running {
            alerter_shared: shared,
            notifications: notifications.expect("route configured"),
            clock,
            port,
            data,
            stop: Some(tx),
            server: Some(server),
        }
    }

    /// Alerter scrape + evaluation at `now`, alerts into the notifier, one
    /// dispatcher step; then the alert state is saved as the running
    /// process does after each change.
    async fn step(&self, now: i64) {
        self.clock.set(to_datetime(now));
        self.alerter_shared.tick(now).await;
        self.notifications.settled().await;
        self.notifications.notifier.tick().await;
        alerter::persist::save(&self.alerter_shared, &self.data.join("alerts-state.json")).unwrap();
    }

    async fn dispatch_at(&self, now: i64) {
        self.clock.set(to_datetime(now));
        self.notifications.notifier.tick().await;
    }

    async fn stop(mut self) {
        let _ = self.stop.take().unwrap().send(());
        self.server.take().unwrap().await.unwrap();
    }

    fn url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{path}", self.port)
    }

    async fn get(&self, path: &str) -> Value {
        let text = reqwest::get(self.url(path))
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        serde_json::from_str(&text).unwrap()
    }

    async fn post(&self, path: &str, body: &Value) -> reqwest::StatusCode {
        reqwest::Client::new()
            .post(self.url(path))
            .header("content-type", "application/json")
            .body(body.to_string())
            .send()
            .await
            .unwrap()
            .status()
    }

    /// `(alertname, state, activeAt)` from `/api/v1/alerts`.
    async fn alert_states(&self) -> Vec<(String, String, String)> {
        let v = self.get("/api/v1/alerts").await;
        let mut out: Vec<_> = v["data"]["alerts"]
            .as_array()
            .unwrap()
            .iter()
            .map(|a| {
                (
                    a["labels"]["alertname"].as_str().unwrap().to_string(),
                    a["state"].as_str().unwrap().to_string(),
                    a["activeAt"].as_str().unwrap().to_string(),
                )
            })
            .collect();
        out.sort();
        out
    }

    async fn metrics(&self) -> String {
        reqwest::get(self.url("/metrics"))
            .await
            .unwrap()
            .text()
            .await
            .unwrap()
    }
}

fn iso(ms: i64) -> String {
    to_datetime(ms).to_rfc3339_opts(chrono::SecondsFormat::AutoSi, true)
}

fn free_addr() -> SocketAddr {
    format!("127.0.0.1:{}", testkit::free_port())
        .parse()
        .unwrap()
}

#[tokio::test]
async fn instance_down_reaches_slack_once_across_a_restart_and_resolves() {
    let slack = FakeSlack::start().await;
    let dir = tempfile::tempdir().unwrap();
    let mut target = FakeTarget::start(free_addr()).await;
    let instance = target.addr.to_string();
    write_config(dir.path(), &instance, &slack.url("T1"), "10s");
    let run = Running::start(dir.path(), T0).await;
    run.step(T0).await;
    target.stop().await;
    for i in 1..=4 {
        run.step(T0 + i * STEP).await; // down from T0+15s, firing at T0+45s
    }
    let down_title = format!("InstanceDown {instance}");
    let fired = slack.titles("T1", &down_title);
    assert_eq!(fired.len(), 1, "exactly one message: {fired:?}");
    let msg = &fired[0];
    assert!(msg["text"]
        .as_str()
        .unwrap()
        .contains(&format!("[FIRING:1] {down_title}")));
    let blocks = msg["attachments"][0]["blocks"].to_string();
    assert!(
        blocks.contains(&format!("Instance {instance} down")),
        "{blocks}"
    );
    assert!(
        blocks.contains("has been down for more than 30 seconds"),
        "{blocks}"
    );
    assert!(
        blocks.contains("https://runbooks.example/InstanceDown"),
        "{blocks}"
    );
    assert!(blocks.contains("critical"), "{blocks}");
    assert_eq!(msg["attachments"][0]["color"], "#d00000", "{msg}");
    let before = run.alert_states().await;
    assert_eq!(
        before,
        vec![
            ("InstanceDown".into(), "firing".into(), iso(T0 + STEP)),
            ("InstanceDownLong".into(), "pending".into(), iso(T0 + STEP)),
        ]
    );
    run.stop().await;

    // The whole alerter restarts a minute later from its data directory.
    let restart = T0 + 8 * STEP;
    let run = Running::start(dir.path(), restart).await;
    let states = run.alert_states().await;
    assert_eq!(states[0], before[0], "firing again at once, same activeAt");
    // Pending since T0+15s, saved at T0+60s (45s spent), down 60s: the
    // `for` timer resumes with 4m15s to go.
    let resumed_active_at = T0 + STEP + 4 * STEP;
    assert_eq!(
        states[1],
        (
            "InstanceDownLong".into(),
            "pending".into(),
            iso(resumed_active_at)
        )
    );
    let mut t = restart;
    while t < resumed_active_at + 300_000 - STEP {
        run.step(t).await;
        t += STEP;
    }
    assert_eq!(
        run.alert_states().await[1].1,
        "pending",
        "not before for has passed"
    );
    run.step(resumed_active_at + 300_000).await;
    assert_eq!(run.alert_states().await[1].1, "firing");
    let down = slack.titles("T1", &down_title);
    assert_eq!(down.len(), 1, "no duplicate after the restart: {down:?}");
    let held = run.get("/api/v2/alerts").await;
    let held = held
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["labels"]["alertname"] == "InstanceDown")
        .cloned()
        .unwrap();
    assert_eq!(
        held["startsAt"]
            .as_str()
            .unwrap()
            .parse::<chrono::DateTime<chrono::Utc>>()
            .unwrap(),
        to_datetime(T0 + 3 * STEP),
        "same startsAt (when it started firing)"
    );

    // The target comes back: one resolved message.
    let _target = FakeTarget::start(target.addr).await;
    let back = t + STEP;
    for i in 0..6 {
        run.step(back + i * STEP).await;
    }
    let resolved = slack.titles("T1", &format!("[RESOLVED:1] {down_title}"));
    assert_eq!(resolved.len(), 1, "{resolved:?}");
    assert_eq!(resolved[0]["attachments"][0]["color"], "#2eb886");
    assert_eq!(
        slack.titles("T1", &down_title).len(),
        2,
        "firing once, resolved once"
    );
    run.stop().await;
}

#[tokio::test]
async fn pushed_alerts_and_silences_on_the_alerters_port() {
    let slack = FakeSlack::start().await;
    let dir = tempfile::tempdir().unwrap();
    write_config(dir.path(), &free_addr().to_string(), &slack.url("T1"), "0s");
    std::fs::write(dir.path().join("rules.yml"), "groups: []\n").unwrap();
    let run = Running::start(dir.path(), T0).await;
    let silence = json!({
        "matchers": ["alertname=\"Muted\""],
        "starts_at": iso(T0),
        "ends_at": iso(T0 + 3_600_000),
        "created_by": "test",
        "comment": "maintenance",
    });
    assert_eq!(run.post("/api/v1/silences", &silence).await, 200);
    let listed = run.get("/api/v1/silences").await;
    assert_eq!(listed[0]["status"]["state"], "active", "{listed}");
    let alerts = json!([
        {"labels": {"alertname": "Pushed", "instance": "db1"}, "annotations": {"summary": "pushed by Prometheus"}, "startsAt": iso(T0)},
        {"labels": {"alertname": "Muted", "instance": "db1"}, "startsAt": iso(T0)},
    ]);
    assert_eq!(run.post("/api/v2/alerts", &alerts).await, 200);
    for i in 0..3 {
        run.dispatch_at(T0 + i * 1000).await;
    }
    let pushed = slack.titles("T1", "Pushed");
    assert_eq!(pushed.len(), 1, "{pushed:?}");
    assert!(pushed[0]["attachments"][0]["blocks"]
        .to_string()
        .contains("pushed by Prometheus"));
    assert!(
        slack.titles("T1", "Muted").is_empty(),
        "silenced alert was sent"
    );
    let metrics = run.metrics().await;
    assert!(
        metrics.contains("alerter_notifications_total{integration=\"slack\",outcome=\"success\",receiver=\"slack\"} 1"),
        "{metrics}"
    );
    run.stop().await;
}

async fn reload(run: &Running) -> reqwest::StatusCode {
    run.post("/-/reload", &json!({})).await
}

/// Polls `/metrics` until the notifier has applied `n` reloads of `result`.
async fn wait_notifier_reloads(run: &Running, result: &str, n: u32) {
    let line = format!("alerter_notifier_config_reloads_total{{result=\"{result}\"}} {n}");
    for _ in 0..500 {
        if run.metrics().await.contains(&line) {
            return;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    panic!("no {line} on /metrics");
}

#[tokio::test]
async fn bad_notifier_config_on_reload_keeps_the_old_one() {
    let slack = FakeSlack::start().await;
    let dir = tempfile::tempdir().unwrap();
    let target = free_addr().to_string();
    let config = write_config(dir.path(), &target, &slack.url("OLD"), "0s");
    std::fs::write(dir.path().join("rules.yml"), "groups: []\n").unwrap();
    let run = Running::start(dir.path(), T0).await;
    let push = |name: &str| json!([{"labels": {"alertname": name}, "startsAt": iso(T0)}]);

    // Rejected by the configuration check: unknown receiver.
    let good = std::fs::read_to_string(&config).unwrap();
    std::fs::write(&config, good.replace("receiver: slack", "receiver: pager")).unwrap();
    assert_eq!(reload(&run).await, 500);
    // Valid, but its secret cannot be read: the notifier keeps the old one.
    let missing = dir.path().join("missing-url");
    let secret = good.replace(
        &format!("api_url: {}", slack.url("OLD")),
        &format!("api_url_file: {}", missing.display()),
    );
    std::fs::write(&config, secret).unwrap();
    assert_eq!(reload(&run).await, 200);
    wait_notifier_reloads(&run, "failure", 1).await;
    assert_eq!(run.post("/api/v2/alerts", &push("First")).await, 200);
    run.dispatch_at(T0 + 1000).await;
    assert_eq!(slack.titles("OLD", "First").len(), 1);

    // A good one takes effect.
    std::fs::write(&config, good.replace("hooks/OLD", "hooks/NEW")).unwrap();
    assert_eq!(reload(&run).await, 200);
    wait_notifier_reloads(&run, "success", 1).await;
    assert_eq!(run.post("/api/v2/alerts", &push("Second")).await, 200);
    run.dispatch_at(T0 + 2000).await;
    assert_eq!(slack.titles("NEW", "Second").len(), 1);
    assert!(slack.titles("OLD", "Second").is_empty());
    run.stop().await;
}
