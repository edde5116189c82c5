//! `GET /api/v2/status` and `GET /api/v2/receivers`.
//!
//! The notifier is one process, never a cluster: `cluster.status` is
//! `disabled`, as for an Alertmanager started without peers.

use super::common::time;
use crate::notifier::Notifier;
use axum::extract::State;
use axum::Json;
use serde_json::{json, Value};

pub(crate) async fn get_status(State(n): State<Notifier>) -> Json<Value> {
    Json(json!({
        "cluster": {"status": "disabled", "peers": []},
        "versionInfo": {
            "version": n.version(),
            "revision": "",
            "branch": "",
            "buildUser": "",
            "buildDate": "",
            "goVersion": "",
        },
        "config": {"original": n.config_original()},
        "uptime": time(n.started_at()),
    }))
}

pub(crate) async fn get_receivers(State(n): State<Notifier>) -> Json<Vec<Value>> {
    Json(n.receivers().iter().map(|r| json!({"name": r})).collect())
}
