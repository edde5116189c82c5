//! `GET|POST /api/v2/alerts` and `GET /api/v2/alerts/groups`.
//!
//! A push is taken best effort, as Alertmanager does: every valid alert of
//! the list is received, and the invalid ones are reported in one 400
//! answer (`"at least one label pair required; …"`).

use super::common::{parse_body, time, AmError, ZERO_TIME};
use super::query::AlertQuery;
use crate::alert::Alert;
use crate::notifier::{AlertView, Notifier};
use axum::body::Bytes;
use axum::extract::{RawQuery, State};
use axum::http::StatusCode;
use axum::Json;
use serde_json::{json, Value};

/// Alertmanager's `gettableAlert`.
pub(crate) fn alert_json(a: &AlertView) -> Value {
    let mut v = json!({
        "labels": a.alert.labels,
        "annotations": a.alert.annotations,
        "receivers": a.receivers.iter().map(|r| json!({"name": r})).collect::<Vec<_>>(),
        "fingerprint": format!("{:016x}", a.fingerprint),
        "startsAt": a.alert.starts_at.map_or(ZERO_TIME.into(), time),
        "updatedAt": time(a.updated_at),
        "endsAt": a.alert.ends_at.map_or(ZERO_TIME.into(), time),
        "status": {
            "state": a.status.state.as_str(),
            "silencedBy": a.status.silenced_by,
            "inhibitedBy": a.status.inhibited_by,
        },
    });
    if let Some(url) = a.alert.generator_url.as_deref().filter(|u| !u.is_empty()) {
        v["generatorURL"] = json!(url);
    }
    v
}

pub(crate) async fn get_alerts(
    State(n): State<Notifier>,
    RawQuery(raw): RawQuery,
) -> Result<Json<Vec<Value>>, AmError> {
    let q = AlertQuery::parse(raw.as_deref())?;
    let list = n
        .alert_views()
        .iter()
        .filter(|a| q.receiver.is_none() || a.receivers.iter().any(|r| q.receiver_ok(r)))
        .filter(|a| q.keeps(a))
        .map(alert_json)
        .collect();
    Ok(Json(list))
}

pub(crate) async fn get_groups(
    State(n): State<Notifier>,
    RawQuery(raw): RawQuery,
) -> Result<Json<Vec<Value>>, AmError> {
    let q = AlertQuery::parse(raw.as_deref())?;
    let groups = n
        .group_views()
        .into_iter()
        .filter(|g| q.receiver_ok(&g.receiver))
        .filter_map(|g| {
            let alerts: Vec<Value> = g
                .alerts
                .iter()
                .filter(|a| q.keeps(a))
                .map(alert_json)
                .collect();
            (!alerts.is_empty()).then(|| {
                json!({
                    "labels": g.labels,
                    "receiver": {"name": g.receiver},
                    "alerts": alerts,
                })
            })
        })
        .collect();
    Ok(Json(groups))
}

pub(crate) async fn post_alerts(
    State(n): State<Notifier>,
    body: Bytes,
) -> Result<StatusCode, AmError> {
    let items: Vec<Value> = parse_body(&body, "alerts")?;
    let mut valid = Vec::with_capacity(items.len());
    let mut problems = Vec::new();
    for item in items {
        let parsed = serde_json::from_value::<Alert>(item)
            .map_err(|e| e.to_string())
            .and_then(|mut a| a.normalize_and_validate().map(|()| a));
        match parsed {
            Ok(a) => valid.push(a),
            Err(e) => problems.push(e),
        }
    }
    n.receive(valid).await;
    if problems.is_empty() {
        Ok(StatusCode::OK)
    } else {
        Err(AmError::BadRequest(problems.join("; ")))
    }
}
