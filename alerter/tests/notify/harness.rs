//! What the tests run against: a fake Slack, a scrape target that can
//! die, and the alerter with its notifier on injected time.

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
use serde_json::Value;

/// A multiple of the 15s scrape/evaluation slots.
pub(crate) const T0: i64 = 1_900_000_020_000;
pub(crate) const STEP: i64 = 15_000;

/// Requests received: (hook name, JSON body).
pub(crate) type Inbox = Arc<Mutex<Vec<(String, Value)>>>;

/// Incoming-webhook requests received, by hook name.
#[derive(Clone, Default)]
pub(crate) struct FakeSlack {
    pub(crate) received: Inbox,
    pub(crate) base: String,
}

impl FakeSlack {
    pub(crate) async fn start() -> FakeSlack {
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

    pub(crate) fn url(&self, hook: &str) -> String {
        format!("{}/hooks/{hook}", self.base)
    }

    /// Messages to `hook` whose title contains `needle`.
    pub(crate) fn titles(&self, hook: &str, needle: &str) -> Vec<Value> {
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
pub(crate) struct FakeTarget {
    pub(crate) addr: SocketAddr,
    pub(crate) task: Option<tokio::task::JoinHandle<()>>,
}

impl FakeTarget {
    pub(crate) async fn start(addr: SocketAddr) -> Self {
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

    pub(crate) async fn stop(&mut self) {
        if let Some(t) = self.task.take() {
            t.abort();
            let _ = t.await;
        }
    }
}

pub(crate) const RULES: &str = r#"groups:
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

pub(crate) fn write_config(dir: &Path, target: &str, hook_url: &str, group_wait: &str) -> PathBuf {
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
pub(crate) struct Running {
    pub(crate) alerter_shared: Arc<alerter::shared::Shared>,
    pub(crate) notifications: Notifications,
    pub(crate) clock: Arc<ManualClock>,
    pub(crate) port: u16,
    pub(crate) data: PathBuf,
    pub(crate) stop: Option<tokio::sync::oneshot::Sender<()>>,
    pub(crate) server: Option<tokio::task::JoinHandle<()>>,
}

impl Running {
    pub(crate) async fn start(dir: &Path, now: i64) -> Running {
        let data = dir.join("data");
        let settings = Settings {
            config_path: dir.join("alerter.yml"),
            listen_address: "127.0.0.1:0".into(),
            external_url: "http://alerter.test".into(),
            resend_delay: Duration::from_secs(60),
            clock: Clock::Manual,
            http: Default::default(),
            web: alerter::app::WebSettings {
                enable_lifecycle: true,
                ..Default::default()
            },
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
    pub(crate) async fn step(&self, now: i64) {
        self.clock.set(to_datetime(now));
        self.alerter_shared.tick(now).await;
        self.notifications.settled().await;
        self.notifications.notifier.tick().await;
        alerter::persist::save(&self.alerter_shared, &self.data.join("alerts-state.json")).unwrap();
    }

    pub(crate) async fn dispatch_at(&self, now: i64) {
        self.clock.set(to_datetime(now));
        self.notifications.notifier.tick().await;
    }

    pub(crate) async fn stop(mut self) {
        let _ = self.stop.take().unwrap().send(());
        self.server.take().unwrap().await.unwrap();
    }

    pub(crate) fn url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{path}", self.port)
    }

    pub(crate) async fn get(&self, path: &str) -> Value {
        let text = reqwest::get(self.url(path))
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        serde_json::from_str(&text).unwrap()
    }

    pub(crate) async fn post(&self, path: &str, body: &Value) -> reqwest::StatusCode {
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
    pub(crate) async fn alert_states(&self) -> Vec<(String, String, String)> {
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

    pub(crate) async fn metrics(&self) -> String {
        reqwest::get(self.url("/metrics"))
            .await
            .unwrap()
            .text()
            .await
            .unwrap()
    }
}

pub(crate) fn iso(ms: i64) -> String {
    to_datetime(ms).to_rfc3339_opts(chrono::SecondsFormat::AutoSi, true)
}

pub(crate) fn free_addr() -> SocketAddr {
    format!("127.0.0.1:{}", testkit::free_port())
        .parse()
        .unwrap()
}
