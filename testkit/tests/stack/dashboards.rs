//! The Grafana dashboards and provisioning files, checked for structure
//! (Grafana itself cannot be installed here; `live` runs their queries).

use std::collections::BTreeSet;

use serde_json::Value;

use crate::common::{dashboards, metric_names, panels, repo, yaml};

fn variables(dashboard: &Value) -> BTreeSet<String> {
    dashboard["templating"]["list"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|v| v["name"].as_str().map(str::to_string))
        .collect()
}

/// `$name` and `${name}` references in a string.
fn references(s: &str) -> Vec<String> {
    let mut out = Vec::new();
    for (i, _) in s.match_indices('$') {
        let rest = s[i + 1..].trim_start_matches('{');
        let name: String = rest
            .chars()
            .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
            .collect();
        if !name.is_empty() && !name.starts_with("__") {
            out.push(name);
        }
    }
    out
}

#[test]
fn dashboards_are_well_formed() {
    let all = dashboards();
    assert!(
        all.len() >= 2,
        "expected the Enrollment service and Host dashboards"
    );
    let mut uids = BTreeSet::new();
    for (file, d) in &all {
        let uid = d["uid"].as_str().unwrap_or_default();
        assert!(!uid.is_empty() && uid.len() <= 40, "{file}: uid");
        assert!(uids.insert(uid.to_string()), "{file}: duplicate uid {uid}");
        assert!(
            !d["title"].as_str().unwrap_or_default().is_empty(),
            "{file}: title"
        );
        assert!(
            d["schemaVersion"].as_u64().is_some(),
            "{file}: schemaVersion"
        );
        let vars = variables(d);
        let mut ids = BTreeSet::new();
        for p in d["panels"].as_array().expect("panels") {
            let title = p["title"].as_str().unwrap_or_default();
            assert!(
                ids.insert(p["id"].as_u64().expect("panel id")),
                "{file}: duplicate id"
            );
            for k in ["h", "w", "x", "y"] {
                assert!(
                    p["gridPos"][k].as_u64().is_some(),
                    "{file}/{title}: gridPos.{k}"
                );
            }
            if p["type"] == "row" {
                continue;
            }
            assert!(!title.is_empty(), "{file}: a panel without a title");
            assert_eq!(
                p["datasource"]["type"], "prometheus",
                "{file}/{title}: datasource"
            );
            let targets = p["targets"].as_array().filter(|t| !t.is_empty());
            let targets = targets.unwrap_or_else(|| panic!("{file}/{title}: no targets"));
            let mut refs = BTreeSet::new();
            for t in targets {
                assert!(
                    refs.insert(t["refId"].as_str().unwrap()),
                    "{file}/{title}: refId"
                );
                let expr = t["expr"].as_str().unwrap_or_default();
                assert!(!expr.trim().is_empty(), "{file}/{title}: empty expr");
                assert!(
                    !metric_names(expr).is_empty(),
                    "{file}/{title}: no metric in {expr}"
                );
                let uses = references(expr)
                    .into_iter()
                    .chain(references(t["datasource"]["uid"].as_str().unwrap_or("")));
                for var in uses {
                    assert!(
                        vars.contains(&var),
                        "{file}/{title}: ${var} is not a variable"
                    );
                }
            }
        }
    }
}

fn exprs_of(title: &str) -> String {
    let (_, d) = dashboards()
        .into_iter()
        .find(|(_, d)| d["title"] == title)
        .unwrap_or_else(|| panic!("no dashboard titled {title}"));
    panels(&d)
        .into_iter()
        .flat_map(|p| p.exprs)
        .collect::<Vec<_>>()
        .join("\n")
}

#[test]
fn enrollment_dashboard_covers_the_service_and_its_metrics_exist() {
    let exprs = exprs_of("Enrollment service");
    for metric in [
        "enroll_http_requests_total",
        "enroll_http_request_duration_seconds_bucket",
        "enroll_queue_length",
        "enroll_tickets_total",
        "enroll_admission_decisions_total",
        "enroll_admission_batch_size_bucket",
        "enroll_admission_commit_seconds_bucket",
        "enroll_replica_lag_seconds",
        "enroll_replica_healthy",
        "enroll_replica_fallbacks_total",
        "enroll_redis_up",
        "enroll_db_up",
        "enroll_db_pool_connections",
        "enroll_admission_paused",
        "enroll_session_lookups_total",
        "enroll_admission_transaction_courses_count",
        "enroll_admission_batches_waiting",
        "enroll_admission_decisions_per_second",
        "enroll_known_full_refusals_total",
        "enroll_ticket_streams",
        "enroll_ticket_events_total",
        "enroll_ticket_streams_dropped_total",
        "enroll_mail_sent_total",
        "enroll_mail_retries_total",
        "enroll_mail_parked_total",
        "enroll_mail_oldest_unsent_age_seconds",
        "enroll_mail_backlog",
    ] {
        assert!(
            exprs.contains(metric),
            "the Enrollment dashboard does not show {metric}"
        );
    }
    // Every enroll_* name the dashboard uses is registered by enroll-server.
    let source = std::fs::read_to_string(repo().join("enroll-server/src/metrics.rs")).unwrap();
    for name in metric_names(&exprs)
        .into_iter()
        .filter(|n| n.starts_with("enroll_"))
    {
        let base = ["_bucket", "_count", "_sum"]
            .iter()
            .find_map(|s| name.strip_suffix(s))
            .unwrap_or(&name);
        assert!(
            source.contains(&format!("\"{base}\"")),
            "enroll-server does not export {base}"
        );
    }
}

#[test]
fn host_dashboard_uses_node_exporter_names() {
    let exprs = exprs_of("Host");
    for metric in [
        "node_cpu_seconds_total",
        "node_memory_MemAvailable_bytes",
        "node_disk_read_bytes_total",
        "node_filesystem_avail_bytes",
        "node_network_receive_bytes_total",
        "node_load1",
    ] {
        assert!(
            exprs.contains(metric),
            "the Host dashboard does not show {metric}"
        );
    }
    let names = metric_names(&exprs);
    assert!(names.iter().all(|n| n.starts_with("node_")), "{names:?}");
}

#[test]
fn provisioning_files_point_at_prometheus_and_the_mounted_dashboards() {
    let ds = yaml("dashboards/provisioning/datasources/prometheus.yml");
    assert_eq!(ds["apiVersion"].as_u64(), Some(1));
    let first = &ds["datasources"][0];
    assert_eq!(first["type"].as_str(), Some("prometheus"));
    assert!(first["url"]
        .as_str()
        .unwrap()
        .starts_with("http://prometheus:"));

    let providers = yaml("dashboards/provisioning/dashboards/dashboards.yml");
    assert_eq!(providers["apiVersion"].as_u64(), Some(1));
    let path = providers["providers"][0]["options"]["path"]
        .as_str()
        .unwrap()
        .to_string();
    // docker-compose.yml mounts ./dashboards exactly there, and the
    // provisioning folder where Grafana reads it.
    let compose = yaml("docker-compose.yml");
    let mounts: Vec<&str> = compose["services"]["grafana"]["volumes"]
        .as_sequence()
        .unwrap()
        .iter()
        .filter_map(|v| v.as_str())
        .collect();
    assert!(
        mounts
            .iter()
            .any(|m| m.starts_with("./dashboards:") && m.contains(&format!(":{path}"))),
        "{mounts:?}"
    );
    assert!(
        mounts
            .iter()
            .any(|m| m.starts_with("./dashboards/provisioning:/etc/grafana/provisioning")),
        "{mounts:?}"
    );
}
