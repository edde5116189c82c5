//! Test support: a local HTTP server that answers as Slack does, and a
//! notifier driven by a manual clock.
#![allow(dead_code)]

use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::{Json, Router};
use chrono::{DateTime, Utc};
use notifier::clock::ManualClock;
use notifier::{Alert, Notifier, NotifierOptions, NotifyConfig};
use serde_json::{json, Value};
use std::collections::VecDeque;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// How the fake answers one request.
#[derive(Clone, Debug)]
pub enum Answer {
    Ok,
    /// 429 with `Retry-After: n`.
    RateLimited(u64),
    /// HTTP 500.
    ServerError,
    /// chat.postMessage: HTTP 200 `{"ok":false,"error":code}`.
    ApiError(&'static str),
    /// Incoming webhook: HTTP status with a plain-text error (`invalid_token`).
    WebhookError(u16, &'static str),
}

/// One request the fake received.
#[derive(Clone, Debug)]
pub struct Received {
    pub path: String,
    pub authorization: Option<String>,
    pub body: Value,
    /// Whether the fake answered it with success.
    pub accepted: bool,
    pub at: tokio::time::Instant,
}

impl Received {
    /// The message title (fallback text).
    pub fn title(&self) -> String {
        self.body["text"].as_str().unwrap_or_default().to_string()
    }
    pub fn color(&self) -> String {
        self.body["attachments"][0]["color"]
            .as_str()
            .unwrap_or_default()
            .to_string()
    }
    pub fn blocks(&self) -> Vec<Value> {
        self.body["attachments"][0]["blocks"]
            .as_array()
            .cloned()
            .unwrap_or_default()
    }
    /// All block texts joined.
    pub fn all_text(&self) -> String {
        self.blocks()
            .iter()
            .map(|b| b["text"]["text"].as_str().unwrap_or_default().to_string())
            .collect::<Vec<_>>()
            .join("\n")
    }
    /// `ts` of a chat.update request (the message updated).
    pub fn ts(&self) -> String {
        self.body["ts"].as_str().unwrap_or_default().to_string()
    }
    pub fn channel(&self) -> String {
        self.body["channel"]
            .as_str()
            .unwrap_or_default()
            .to_string()
    }
}

#[derive(Default)]
struct Inner {
    script: VecDeque<Answer>,
    received: Vec<Received>,
    /// Messages posted with chat.postMessage (each gets its own `ts`).
    posted: u64,
}

/// A fake Slack: incoming webhooks at `/hooks/{name}`, Web API at `/api/...`.
#[derive(Clone)]
pub struct FakeSlack {
    inner: Arc<Mutex<Inner>>,
    pub base: String,
}

impl FakeSlack {
    pub async fn start() -> FakeSlack {
        let inner = Arc::new(Mutex::new(Inner::default()));
        let app = Router::new()
            .route("/hooks/{name}", post(webhook))
            .route("/api/chat.postMessage", post(post_message))
            .route("/api/chat.update", post(update_message))
            .with_state(inner.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        FakeSlack { inner, base }
    }

    /// A "Slack" nothing listens on: every request fails to connect.
    pub fn unreachable() -> FakeSlack {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        FakeSlack {
            inner: Arc::default(),
            base: format!("http://127.0.0.1:{port}"),
        }
    }

    /// Answers for the next requests, in order; afterwards every request is OK.
    pub fn script(&self, answers: impl IntoIterator<Item = Answer>) {
        self.inner.lock().unwrap().script.extend(answers);
    }

    /// Forgets the remaining scripted answers: from now on every request is OK.
    pub fn recover(&self) {
        self.inner.lock().unwrap().script.clear();
    }

    /// Number of requests received so far.
    pub fn count(&self) -> usize {
        self.inner.lock().unwrap().received.len()
    }

    /// Every request received so far.
    pub fn received(&self) -> Vec<Received> {
        self.inner.lock().unwrap().received.clone()
    }

    /// Requests that were answered with success.
    pub fn delivered(&self) -> Vec<Received> {
        self.received().into_iter().filter(|r| r.accepted).collect()
    }

    pub fn webhook_url(&self, name: &str) -> String {
        format!("{}/hooks/{name}", self.base)
    }

    pub fn api_url(&self) -> String {
        format!("{}/api", self.base)
    }
}

fn record(inner: &Mutex<Inner>, path: String, headers: &HeaderMap, body: Value) -> Answer {
    let mut inner = inner.lock().unwrap();
    let answer = inner.script.pop_front().unwrap_or(Answer::Ok);
    let authorization = headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .map(str::to_string);
    inner.received.push(Received {
        path,
        authorization,
        body,
        accepted: matches!(answer, Answer::Ok),
        at: tokio::time::Instant::now(),
    });
    answer
}

fn common_answer(answer: &Answer) -> Option<Response> {
    match answer {
        Answer::RateLimited(secs) => Some(
            (
                StatusCode::TOO_MANY_REQUESTS,
                [("retry-after", secs.to_string())],
                "rate_limited",
            )
                .into_response(),
        ),
        Answer::ServerError => Some((StatusCode::INTERNAL_SERVER_ERROR, "oops").into_response()),
        _ => None,
    }
}

async fn webhook(
    State(inner): State<Arc<Mutex<Inner>>>,
    Path(name): Path<String>,
    headers: HeaderMap,
    Json(body): Json<Value>,
) -> Response {
    let answer = record(&inner, format!("/hooks/{name}"), &headers, body);
    if let Some(r) = common_answer(&answer) {
        return r;
    }
    match answer {
        Answer::WebhookError(status, text) => {
            (StatusCode::from_u16(status).unwrap(), text).into_response()
        }
        _ => (StatusCode::OK, "ok").into_response(),
    }
}

async fn post_message(
    State(inner): State<Arc<Mutex<Inner>>>,
    headers: HeaderMap,
    Json(body): Json<Value>,
) -> Response {
    let answer = record(
        &inner,
        "/api/chat.postMessage".into(),
        &headers,
        body.clone(),
    );
    if let Some(r) = common_answer(&answer) {
        return r;
    }
    match answer {
        Answer::ApiError(code) => Json(json!({"ok": false, "error": code})).into_response(),
        _ => {
            let ts = {
                let mut inner = inner.lock().unwrap();
                inner.posted += 1;
                format!("1700000000.{:06}", inner.posted)
            };
            let channel = channel_id(&body);
            Json(json!({"ok": true, "channel": channel, "ts": ts,
                        "message": {"ts": ts, "text": body["text"]}}))
            .into_response()
        }
    }
}

/// Slack answers with channel ids: `#pager` is posted to as `C-pager`.
fn channel_id(body: &Value) -> String {
    let name = body["channel"].as_str().unwrap_or_default();
    match name.strip_prefix('#') {
        Some(n) => format!("C-{n}"),
        None => name.to_string(),
    }
}

async fn update_message(
    State(inner): State<Arc<Mutex<Inner>>>,
    headers: HeaderMap,
    Json(body): Json<Value>,
) -> Response {
    let answer = record(&inner, "/api/chat.update".into(), &headers, body.clone());
    if let Some(r) = common_answer(&answer) {
        return r;
    }
    match answer {
        Answer::ApiError(code) => Json(json!({"ok": false, "error": code})).into_response(),
        _ => Json(
            json!({"ok": true, "channel": body["channel"], "ts": body["ts"],
                         "message": {"text": body["text"]}}),
        )
        .into_response(),
    }
}

pub fn t0() -> DateTime<Utc> {
    "2030-01-01T00:00:00Z".parse().unwrap()
}

/// A notifier on a manual clock, with its registry.
pub struct Harness {
    pub notifier: Notifier,
    pub clock: Arc<ManualClock>,
    pub registry: prometheus::Registry,
}

pub fn options(clock: Arc<ManualClock>, state_file: Option<PathBuf>) -> NotifierOptions {
    NotifierOptions {
        state_file,
        registry: prometheus::Registry::new(),
        clock,
        queue_bound: 20,
        retry_initial: Duration::from_secs(1),
        retry_max: Duration::from_secs(60),
        request_timeout: Duration::from_secs(10),
        // Tests re-send firing alerts only when they want to; keep unsent
        // ones firing for the whole test.
        resolve_timeout: Duration::from_secs(86_400),
        ..NotifierOptions::default()
    }
}

impl Harness {
    pub fn new(yaml: &str) -> Harness {
        Self::with_clock(yaml, Arc::new(ManualClock::new(t0())), None)
    }

    pub fn with_clock(yaml: &str, clock: Arc<ManualClock>, state_file: Option<PathBuf>) -> Harness {
        let config = NotifyConfig::from_yaml(yaml).expect("test config is valid");
        let opts = options(clock.clone(), state_file);
        let registry = opts.registry.clone();
        let notifier = Notifier::build(&config, opts).expect("notifier builds");
        Harness {
            notifier,
            clock,
            registry,
        }
    }

    /// Moves the clock forward and runs one dispatcher step.
    pub async fn advance(&self, secs: u64) -> usize {
        self.clock.advance(Duration::from_secs(secs));
        self.notifier.tick().await
    }

    pub fn now(&self) -> DateTime<Utc> {
        notifier::clock::Clock::now(self.clock.as_ref())
    }

    /// Value of `alerter_notifications_total` for this outcome (all receivers).
    pub fn outcome_count(&self, outcome: &str) -> u64 {
        self.metric_sum(
            "alerter_notifications_total{",
            &format!("outcome=\"{outcome}\""),
        )
    }

    /// Sum of the samples whose line starts with `prefix` and contains `needle`.
    pub fn metric_sum(&self, prefix: &str, needle: &str) -> u64 {
        let text = prometheus::TextEncoder::new()
            .encode_to_string(&self.registry.gather())
            .unwrap();
        text.lines()
            .filter(|l| l.starts_with(prefix) && l.contains(needle))
            .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
            .sum::<f64>() as u64
    }
}

/// A firing alert with these labels, started at `starts_at`.
pub fn firing(labels: &[(&str, &str)], starts_at: DateTime<Utc>) -> Alert {
    Alert {
        labels: labels
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect(),
        annotations: [("summary".to_string(), format!("{} is broken", labels[0].1))].into(),
        starts_at: Some(starts_at),
        ends_at: None,
        generator_url: None,
    }
}

/// The same alert, resolved at `at`.
pub fn resolved(mut alert: Alert, at: DateTime<Utc>) -> Alert {
    alert.ends_at = Some(at);
    alert
}

/// One request to `app`: status and JSON body (`null` when the body is not
/// JSON or empty).
pub async fn call(
    app: &axum::Router,
    method: &str,
    uri: &str,
    body: Option<Value>,
) -> (StatusCode, Value) {
    let request = axum::http::Request::builder()
        .method(method)
        .uri(uri)
        .header("content-type", "application/json")
        .body(body.map_or(axum::body::Body::empty(), |b| {
            axum::body::Body::from(b.to_string())
        }))
        .unwrap();
    let response = tower::ServiceExt::oneshot(app.clone(), request)
        .await
        .unwrap();
    let status = response.status();
    let bytes = http_body_util::BodyExt::collect(response.into_body())
        .await
        .unwrap()
        .to_bytes();
    (
        status,
        serde_json::from_slice(&bytes).unwrap_or(Value::Null),
    )
}
