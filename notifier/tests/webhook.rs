//! `webhook_configs`: Alertmanager's webhook JSON (version 4).

mod common;
use common::*;

#[tokio::test]
async fn webhook_receives_alertmanager_json() {
    let slack = FakeSlack::start().await; // any HTTP server that records JSON will do
    let yaml = format!(
        r#"
route:
  receiver: hook
  group_by: [alertname]
  group_wait: 0s
receivers:
  - name: hook
    webhook_configs:
      - url: {url}
        max_alerts: 2
"#,
        url = slack.webhook_url("generic")
    );
    let h = Harness::new(&yaml);
    let now = h.now();
    h.notifier
        .receive(
            (0..3)
                .map(|i| firing(&[("alertname", "Q"), ("instance", &i.to_string())], now))
                .collect(),
        )
        .await;
    h.advance(0).await;
    let got = slack.delivered();
    assert_eq!(got.len(), 1);
    let body = &got[0].body;
    assert_eq!(body["version"], "4");
    assert_eq!(body["status"], "firing");
    assert_eq!(body["receiver"], "hook");
    assert_eq!(body["groupLabels"]["alertname"], "Q");
    assert_eq!(body["commonLabels"]["alertname"], "Q");
    assert_eq!(body["alerts"].as_array().unwrap().len(), 2);
    assert_eq!(body["truncatedAlerts"], 1);
    assert_eq!(body["alerts"][0]["status"], "firing");
    assert!(body["alerts"][0]["startsAt"]
        .as_str()
        .unwrap()
        .starts_with("2030-01-01T00:00:00"));
    assert_eq!(
        h.metric_sum("alerter_notifications_total{", "integration=\"webhook\""),
        1
    );
}
