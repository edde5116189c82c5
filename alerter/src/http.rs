//! The HTTP API, in Prometheus's JSON shapes: `/api/v1/alerts`,
//! `/api/v1/rules`, `/api/v1/targets`; plus `/-/healthy`, `/-/ready`,
//! `/metrics`, and the lifecycle API `POST|PUT /-/reload` and
//! `POST|PUT /-/quit`, which answer 403 unless `--web.enable-lifecycle` is
//! given, as Prometheus's do.

use std::sync::Arc;

use axum::extract::{FromRef, State};
use axum::http::{header, StatusCode};
use axum::response::IntoResponse;
use axum::routing::{get, post};
use axum::{Json, Router};
use serde_json::{json, Value};

use crate::engine::{to_datetime, Health};
use crate::gofmt::format_e;
use crate::rules::{Alert, Rule};
use crate::shared::Shared;

/// What the API needs besides the shared state.
#[derive(Debug, Clone, Default)]
pub struct HttpOptions {
    /// `--web.enable-lifecycle`: serve `/-/reload` and `/-/quit`.
    pub lifecycle: bool,
    /// Notified by `/-/quit`; the server shuts down gracefully.
    pub quit: Arc<tokio::sync::Notify>,
    /// `--web.config.file`, for its figures on `/metrics`.
    pub web: servekit::webconfig::WebConfig,
}

#[derive(Clone)]
struct ApiState {
    shared: Arc<Shared>,
    options: Arc<HttpOptions>,
}

impl FromRef<ApiState> for Arc<Shared> {
    fn from_ref(s: &ApiState) -> Self {
        s.shared.clone()
    }
}

/// The router for every endpoint.
pub fn router(shared: Arc<Shared>, options: HttpOptions) -> Router {
    let state = ApiState {
        shared,
        options: Arc::new(options),
    };
    Router::new()
        .route("/api/v1/alerts", get(alerts))
        .route("/api/v1/rules", get(rules))
        .route("/api/v1/targets", get(targets))
        .route("/-/healthy", get(|| async { "Alerter is Healthy.\n" }))
        .route("/-/ready", get(|| async { "Alerter is Ready.\n" }))
        .route("/-/reload", post(reload).put(reload))
        .route("/-/quit", post(quit).put(quit))
        .route("/metrics", get(metrics))
        .with_state(state)
}

/// Prometheus's answer to a lifecycle call without `--web.enable-lifecycle`.
const LIFECYCLE_DISABLED: &str = "Lifecycle API is not enabled.\n";

fn success(data: Value) -> Json<Value> {
    Json(json!({"status": "success", "data": data}))
}

fn time_str(ms: Option<i64>) -> String {
    match ms {
        Some(ms) => to_datetime(ms).to_rfc3339_opts(chrono::SecondsFormat::AutoSi, true),
        None => "0001-01-01T00:00:00Z".into(),
    }
}

fn alert_json(a: &Alert) -> Value {
    let mut v = json!({
        "labels": a.labels,
        "annotations": a.annotations,
        "state": a.state.as_str(),
        "activeAt": time_str(Some(a.active_at)),
        "value": format_e(a.value),
    });
    if let Some(k) = a.keep_firing_since {
        v["keepFiringSince"] = json!(time_str(Some(k)));
    }
    v
}

async fn alerts(State(s): State<Arc<Shared>>) -> Json<Value> {
    let engine = s.engine();
    let list: Vec<Value> = engine
        .active_alerts()
        .into_iter()
        .map(|(_, a)| alert_json(a))
        .collect();
    success(json!({ "alerts": list }))
}

fn rule_json(r: &Rule) -> Value {
    let h = r.health();
    let mut v = match r {
        Rule::Alerting(a) => json!({
            "state": a.state().as_str(),
            "name": a.name,
            "query": a.expr_text.trim(),
            "duration": a.hold_ms as f64 / 1000.0,
            "keepFiringFor": a.keep_firing_for_ms as f64 / 1000.0,
            "labels": a.labels.iter().map(|(k, t)| (k.clone(), Value::String(t.source.clone()))).collect::<serde_json::Map<String, Value>>(),
            "annotations": a.annotations.iter().map(|(k, t)| (k.clone(), Value::String(t.source.clone()))).collect::<serde_json::Map<String, Value>>(),
            "alerts": a.pending_or_firing().map(alert_json).collect::<Vec<_>>(),
            "type": "alerting",
        }),
        Rule::Recording(rr) => json!({
            "name": rr.name,
            "query": rr.expr_text.trim(),
            "labels": rr.labels,
            "type": "recording",
        }),
    };
    v["health"] = json!(h.status());
    v["lastError"] = json!(h.last_error.clone().unwrap_or_default());
    v["evaluationTime"] = json!(h.evaluation_seconds);
    v["lastEvaluation"] = json!(time_str(h.last_evaluation));
    v
}

async fn rules(State(s): State<Arc<Shared>>) -> Json<Value> {
    let engine = s.engine();
    let groups: Vec<Value> = engine
        .groups
        .iter()
        .map(|g| {
            let g = &g.group;
            json!({
                "name": g.name,
                "file": g.file,
                "rules": g.rules.iter().map(rule_json).collect::<Vec<_>>(),
                "interval": g.interval_ms as f64 / 1000.0,
                "limit": g.limit,
                "evaluationTime": g.evaluation_seconds,
                "lastEvaluation": time_str(g.last_evaluation),
            })
        })
        .collect();
    success(json!({ "groups": groups }))
}

async fn targets(State(s): State<Arc<Shared>>) -> Json<Value> {
    let engine = s.engine();
    let active: Vec<Value> = engine
        .targets
        .iter()
        .map(|t| {
            let tg = &t.target;
            let address = tg.labels.get("instance").cloned().unwrap_or_default();
            let path = tg.url.splitn(4, '/').nth(3).map(|p| format!("/{p}")).unwrap_or_default();
            json!({
                "discoveredLabels": {
                    "__address__": address,
                    "__metrics_path__": path,
                    "__scheme__": "http",
                    "job": tg.job,
                },
                "labels": tg.labels,
                "scrapePool": tg.job,
                "scrapeUrl": tg.url,
                "globalUrl": tg.url,
                "lastError": t.last_error,
                "lastScrape": time_str(t.last_scrape),
                "lastScrapeDuration": t.last_duration,
                "health": match t.health { Health::Up => "up", Health::Down => "down", Health::Unknown => "unknown" },
                "scrapeInterval": notifier::duration::format_duration(std::time::Duration::from_millis(tg.interval_ms as u64)),
                "scrapeTimeout": notifier::duration::format_duration(std::time::Duration::from_millis(tg.timeout_ms as u64)),
            })
        })
        .collect();
    success(json!({ "activeTargets": active, "droppedTargets": [] }))
}

async fn metrics(State(api): State<ApiState>) -> impl IntoResponse {
    let s = &api.shared;
    let web = &api.options.web;
    let text = {
        let reload = s.reload_stats();
        let engine = s.engine();
        let mut text = crate::metrics::render(&engine, &reload, s.start_time_s);
        drop(engine);
        text.push_str(&s.extra_metrics());
        text.push_str(&s.connections.render_text("alerter"));
        if web.tls().is_some() {
            text.push_str(&s.connections.render_tls_text("alerter"));
        }
        if web.requires_auth() {
            text.push_str(&format!(
                "# HELP alerter_http_auth_refusals_total Requests answered 401 for missing or wrong credentials.\n\
                 # TYPE alerter_http_auth_refusals_total counter\n\
                 alerter_http_auth_refusals_total {}\n",
                web.refusals()
            ));
        }
        text
    };
    (
        [(
            header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )],
        text,
    )
}

async fn reload(State(api): State<ApiState>) -> impl IntoResponse {
    if !api.options.lifecycle {
        return (StatusCode::FORBIDDEN, LIFECYCLE_DISABLED.to_string());
    }
    match api.shared.reload() {
        Ok(()) => (StatusCode::OK, "config reloaded\n".to_string()),
        Err(e) => (
            StatusCode::INTERNAL_SERVER_ERROR,
            format!("failed to reload config: {e}\n"),
        ),
    }
}

async fn quit(State(api): State<ApiState>) -> impl IntoResponse {
    if !api.options.lifecycle {
        return (StatusCode::FORBIDDEN, LIFECYCLE_DISABLED);
    }
    tracing::info!("quit requested over the lifecycle API");
    api.options.quit.notify_one();
    (StatusCode::OK, "Requesting termination... Goodbye!\n")
}
