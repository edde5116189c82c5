//! The notifier's API on the alerter's port, and reloads of its
//! configuration.

use std::time::Duration;

use serde_json::json;

use crate::harness::*;

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
