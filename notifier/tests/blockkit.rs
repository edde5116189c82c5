//! Block Kit within Slack's limits with many alerts: ≤ 50 blocks, ≤ 3,000
//! characters per section, overflow summarised, runbook links kept.

mod common;
use common::*;

#[tokio::test]
async fn many_alerts_fit_slack_limits_and_the_rest_is_summarised() {
    let slack = FakeSlack::start().await;
    let yaml = format!(
        r#"
route:
  receiver: team
  group_by: [alertname]
  group_wait: 0s
receivers:
  - name: team
    slack_configs:
      - api_url: {url}
        title: '{{{{ .Status | toUpper }}}} {{{{ .CommonLabels.alertname }}}} x{{{{ .Alerts.Firing | len }}}}'
        text: 'Team {{{{ .CommonLabels.team }}}}'
"#,
        url = slack.webhook_url("T1")
    );
    let h = Harness::new(&yaml);
    let now = h.now();
    let alerts: Vec<notifier::Alert> = (0..120)
        .map(|i| {
            let mut a = firing(
                &[
                    ("alertname", "HostDown"),
                    ("instance", &format!("host-{i:03}")),
                    ("team", "sre"),
                ],
                now,
            );
            a.annotations.insert("description".into(), "x".repeat(5000));
            a.annotations.insert(
                "runbook_url".into(),
                "https://runbooks.example/HostDown".into(),
            );
            a
        })
        .collect();
    h.notifier.receive(alerts).await;
    h.advance(0).await;
    let got = slack.delivered();
    assert_eq!(got.len(), 1);
    let msg = &got[0];
    assert_eq!(msg.title(), "FIRING HostDown x120");
    let blocks = msg.blocks();
    assert!(blocks.len() <= 50, "{} blocks", blocks.len());
    assert_eq!(blocks.len(), 50, "uses the room it has");
    for b in &blocks {
        if let Some(text) = b["text"]["text"].as_str() {
            assert!(
                text.chars().count() <= 3000,
                "section of {} chars",
                text.chars().count()
            );
        }
    }
    let shown = blocks
        .iter()
        .filter(|b| {
            b["text"]["text"]
                .as_str()
                .is_some_and(|t| t.contains("host-"))
        })
        .count();
    let last = blocks.last().unwrap()["text"]["text"]
        .as_str()
        .unwrap()
        .to_string();
    assert_eq!(
        last,
        format!(
            "…and {} more alerts: HostDown ×{}",
            120 - shown,
            120 - shown
        )
    );
    let text = msg.all_text();
    assert!(text.contains("Team sre"));
    assert!(text.contains("*Common labels:* `alertname=HostDown` `team=sre`"));
    assert!(text.contains("<https://runbooks.example/HostDown|:notebook: Runbook>"));
    assert!(text.contains("*Alerts:* 120 firing, 0 resolved"));
}
