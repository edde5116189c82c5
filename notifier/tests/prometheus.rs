//! A real Prometheus (Debian package) pushes alerts to the notifier's
//! Alertmanager-compatible `POST /api/v2/alerts`, and they reach Slack.
//! Real time, a few seconds; skipped with a notice when `prometheus` is absent.

mod common;
use common::*;
use std::process::Command;
use std::time::Duration;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn prometheus_pushes_alerts_that_reach_slack() {
    if Command::new("prometheus")
        .arg("--version")
        .output()
        .is_err()
    {
        eprintln!("prometheus not installed; skipping");
        return;
    }
    let slack = FakeSlack::start().await;
    let config = notifier::NotifyConfig::from_yaml(&format!(
        "route:\n  receiver: team\n  group_by: [alertname]\n  group_wait: 0s\nreceivers:\n  - name: team\n    slack_configs:\n      - api_url: {}\n",
        slack.webhook_url("prom")
    ))
    .unwrap();
    let n = notifier::Notifier::build(&config, notifier::NotifierOptions::default()).unwrap();
    let dispatcher = n.spawn();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let am_port = listener.local_addr().unwrap().port();
    let app = notifier::api::router(n.clone());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });

    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("rules.yml"),
        r#"groups:
  - name: t
    interval: 1s
    rules:
      - alert: AlwaysFiring
        expr: vector(1) > 0
        labels: {severity: warning}
        annotations:
          summary: Always firing
          runbook_url: https://runbooks.example/AlwaysFiring
"#,
    )
    .unwrap();
    std::fs::write(
        dir.path().join("prometheus.yml"),
        format!(
            "global:\n  evaluation_interval: 1s\nrule_files: [rules.yml]\nalerting:\n  alertmanagers:\n    - api_version: v2\n      static_configs:\n        - targets: ['127.0.0.1:{am_port}']\n"
        ),
    )
    .unwrap();
    let prom_port = testkit::free_port();
    let _prometheus = testkit::ChildGuard::spawn(
        "prometheus",
        Command::new("prometheus")
            .arg(format!(
                "--config.file={}",
                dir.path().join("prometheus.yml").display()
            ))
            .arg(format!(
                "--storage.tsdb.path={}",
                dir.path().join("data").display()
            ))
            .arg(format!("--web.listen-address=127.0.0.1:{prom_port}"))
            // Alerts evaluated before Alertmanager discovery settles (~5s)
            // are dropped by Prometheus; re-send every second, not minute.
            .arg("--rules.alert.resend-delay=1s")
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null()),
    )
    .unwrap();

    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    while slack.count() == 0 && tokio::time::Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    dispatcher.abort();
    let got = slack.delivered();
    assert!(!got.is_empty(), "no message reached Slack within 60s");
    assert_eq!(got[0].title(), "[FIRING:1] AlwaysFiring");
    assert!(got[0].all_text().contains("runbooks.example/AlwaysFiring"));
    let held = n.alerts();
    assert_eq!(held.len(), 1);
    assert!(held[0]
        .generator_url
        .as_deref()
        .unwrap_or("")
        .contains(&prom_port.to_string()));
}
