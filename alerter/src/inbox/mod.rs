//! `alerter inbox`: a receiver for Alertmanager's webhook that an operator
//! can watch, for a stack without Slack (the local stack, a first compose
//! run). It keeps the latest notifications in memory and shows them on a
//! page that refreshes itself; each one is also appended, as a JSON line,
//! to a file when one is given (`tail -f` it).
//!
//! Endpoints: `POST /` (webhook, version 4 JSON), `GET /` (the page),
//! `GET /api/notifications` (newest first), `GET /-/healthy`.

mod page;

use std::collections::{BTreeMap, VecDeque};
use std::fs::{File, OpenOptions};
use std::io::Write;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use anyhow::Context;
use axum::extract::{DefaultBodyLimit, State};
use axum::http::{header, StatusCode};
use axum::response::{Html, IntoResponse};
use axum::routing::get;
use axum::{Json, Router};
use serde::{Deserialize, Serialize};

/// What Alertmanager's webhook sends (the fields the page shows; the rest
/// is ignored).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Notification {
    #[serde(default)]
    pub receiver: String,
    /// `firing` or `resolved`.
    pub status: String,
    #[serde(default)]
    pub alerts: Vec<WebhookAlert>,
    #[serde(default)]
    pub group_labels: BTreeMap<String, String>,
    #[serde(default)]
    pub common_annotations: BTreeMap<String, String>,
    #[serde(default)]
    pub external_url: String,
}

/// One alert of a notification.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct WebhookAlert {
    pub status: String,
    #[serde(default)]
    pub labels: BTreeMap<String, String>,
    #[serde(default)]
    pub annotations: BTreeMap<String, String>,
    #[serde(default)]
    pub starts_at: String,
    #[serde(default)]
    pub ends_at: String,
}

/// A notification as it arrived.
#[derive(Debug, Clone, Serialize)]
pub struct Received {
    /// When it arrived (RFC 3339, UTC).
    pub received_at: String,
    #[serde(flatten)]
    pub notification: Notification,
}

/// The latest notifications, newest first, and the file they are appended to.
pub struct Inbox {
    items: Mutex<VecDeque<Received>>,
    keep: usize,
    log: Option<Mutex<File>>,
}

impl Inbox {
    /// Keeps the latest `keep` notifications; appends each to `log` when given.
    pub fn new(keep: usize, log: Option<PathBuf>) -> anyhow::Result<Self> {
        let log = match log {
            Some(path) => Some(Mutex::new(
                OpenOptions::new()
                    .create(true)
                    .append(true)
                    .open(&path)
                    .with_context(|| format!("cannot open {}", path.display()))?,
            )),
            None => None,
        };
        Ok(Self {
            items: Mutex::new(VecDeque::new()),
            keep: keep.max(1),
            log,
        })
    }

    fn add(&self, notification: Notification) {
        let received = Received {
            received_at: chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
            notification,
        };
        let names: Vec<&str> = received
            .notification
            .alerts
            .iter()
            .filter_map(|a| a.labels.get("alertname").map(String::as_str))
            .collect();
        tracing::info!(
            status = %received.notification.status,
            receiver = %received.notification.receiver,
            alerts = ?names,
            "notification received"
        );
        if let Some(log) = &self.log {
            let line = serde_json::to_string(&received).unwrap_or_default();
            let mut file = log.lock().unwrap_or_else(|p| p.into_inner());
            if let Err(e) = writeln!(file, "{line}") {
                tracing::warn!(error = %e, "cannot append to the inbox file");
            }
        }
        let mut items = self.items.lock().unwrap_or_else(|p| p.into_inner());
        items.push_front(received);
        items.truncate(self.keep);
    }

    /// The notifications held, newest first.
    pub fn latest(&self) -> Vec<Received> {
        let items = self.items.lock().unwrap_or_else(|p| p.into_inner());
        items.iter().cloned().collect()
    }
}

/// The inbox's routes.
pub fn router(inbox: Arc<Inbox>) -> Router {
    Router::new()
        .route("/", get(show).post(receive))
        .route("/api/notifications", get(list))
        .route("/-/healthy", get(|| async { "Inbox is Healthy.\n" }))
        // A webhook body holds at most a few hundred alerts.
        .layer(DefaultBodyLimit::max(4 << 20))
        .with_state(inbox)
}

async fn receive(
    State(inbox): State<Arc<Inbox>>,
    body: Result<Json<Notification>, axum::extract::rejection::JsonRejection>,
) -> impl IntoResponse {
    match body {
        Ok(Json(n)) => {
            inbox.add(n);
            (StatusCode::OK, "ok\n".to_string())
        }
        Err(e) => (e.status(), format!("{}\n", e.body_text())),
    }
}

async fn list(State(inbox): State<Arc<Inbox>>) -> Json<Vec<Received>> {
    Json(inbox.latest())
}

async fn show(State(inbox): State<Arc<Inbox>>) -> impl IntoResponse {
    (
        [
            (
                header::CONTENT_SECURITY_POLICY,
                "default-src 'none'; style-src 'unsafe-inline'",
            ),
            (header::CACHE_CONTROL, "no-store"),
        ],
        Html(page::render(&inbox.latest())),
    )
}

/// Serves the inbox on `listen` (`:9097` means every interface) until
/// SIGINT/SIGTERM.
pub async fn run(listen: &str, inbox: Inbox, limits: servekit::http::Limits) -> anyhow::Result<()> {
    let listen = crate::app::listen_addr(listen);
    let listener = tokio::net::TcpListener::bind(&listen)
        .await
        .with_context(|| format!("cannot listen on {listen}"))?;
    tracing::info!(addr = %listener.local_addr()?, "alert inbox listening");
    servekit::http::serve(
        listener,
        router(Arc::new(inbox)),
        limits,
        Default::default(),
        servekit::shutdown_signal(),
    )
    .await
    .context("HTTP server failed")
}
