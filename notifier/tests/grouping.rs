//! group_wait, group_interval, repeat_interval and resolved notifications,
//! against a fake Slack incoming webhook, on a manual clock.

mod common;
use common::*;

fn config(slack: &FakeSlack, extra_slack: &str, group_by: &str) -> String {
    format!(
        r#"
route:
  receiver: team
  group_by: {group_by}
  group_wait: 30s
  group_interval: 5m
  repeat_interval: 1h
receivers:
  - name: team
    slack_configs:
      - api_url: {url}
{extra_slack}
"#,
        url = slack.webhook_url("T1"),
    )
}

#[tokio::test]
async fn group_wait_batches_alerts_into_one_message() {
    let slack = FakeSlack::start().await;
    let h = Harness::new(&config(&slack, "", "[alertname]"));
    let now = h.now();
    h.notifier
        .receive(vec![firing(
            &[
                ("alertname", "HostDown"),
                ("instance", "a"),
                ("severity", "critical"),
            ],
            now,
        )])
        .await;
    assert_eq!(h.advance(10).await, 0, "nothing before group_wait");
    h.notifier
        .receive(vec![firing(
            &[
                ("alertname", "HostDown"),
                ("instance", "b"),
                ("severity", "critical"),
            ],
            h.now(),
        )])
        .await;
    assert_eq!(h.advance(19).await, 0, "still inside group_wait (29s)");
    assert!(slack.received().is_empty());
    assert_eq!(h.advance(1).await, 1, "flushed at exactly group_wait");
    let got = slack.delivered();
    assert_eq!(got.len(), 1);
    assert_eq!(got[0].title(), "[FIRING:2] HostDown");
    assert_eq!(got[0].color(), "#d00000", "critical is red");
    assert!(got[0].all_text().contains("instance=a") && got[0].all_text().contains("instance=b"));
    assert_eq!(h.outcome_count("success"), 1);
}

#[tokio::test]
async fn new_alert_in_flushed_group_waits_for_group_interval() {
    let slack = FakeSlack::start().await;
    let h = Harness::new(&config(&slack, "", "[alertname]"));
    h.notifier
        .receive(vec![firing(
            &[("alertname", "Disk"), ("instance", "a")],
            h.now(),
        )])
        .await;
    h.advance(30).await;
    assert_eq!(slack.delivered().len(), 1);
    h.notifier
        .receive(vec![firing(
            &[("alertname", "Disk"), ("instance", "b")],
            h.now(),
        )])
        .await;
    assert_eq!(
        h.advance(60).await,
        0,
        "a flushed group does not re-wait group_wait"
    );
    assert_eq!(h.advance(239).await, 0);
    assert_eq!(
        h.advance(1).await,
        1,
        "next flush at group_interval (5m after the first)"
    );
    assert_eq!(slack.delivered()[1].title(), "[FIRING:2] Disk");
}

#[tokio::test]
async fn unchanged_group_repeats_only_after_repeat_interval() {
    let slack = FakeSlack::start().await;
    let h = Harness::new(&config(&slack, "", "[alertname]"));
    h.notifier
        .receive(vec![firing(&[("alertname", "Load")], h.now())])
        .await;
    h.advance(30).await;
    // Flushes every 5 minutes; nothing changes for 55 minutes.
    for _ in 0..11 {
        h.advance(300).await;
    }
    assert_eq!(
        slack.delivered().len(),
        1,
        "no repeat before repeat_interval"
    );
    h.advance(300).await; // 60m after the first notification
    assert_eq!(slack.delivered().len(), 2, "repeat after repeat_interval");
    assert_eq!(slack.delivered()[1].title(), "[FIRING:1] Load");
}

#[tokio::test]
async fn resolution_sends_a_resolved_message_by_default() {
    let slack = FakeSlack::start().await;
    let h = Harness::new(&config(&slack, "", "[alertname]"));
    let alert = firing(&[("alertname", "Api5xx"), ("severity", "warning")], h.now());
    h.notifier.receive(vec![alert.clone()]).await;
    h.advance(30).await;
    assert_eq!(slack.delivered()[0].color(), "#daa038", "warning is orange");
    h.advance(60).await;
    h.notifier
        .receive(vec![resolved(alert.clone(), h.now())])
        .await;
    h.advance(239).await;
    assert_eq!(
        slack.delivered().len(),
        1,
        "resolution waits for the group_interval flush"
    );
    h.advance(1).await;
    assert_eq!(
        slack.delivered().len(),
        2,
        "resolved at the next group_interval flush"
    );
    let msg = &slack.delivered()[1];
    assert_eq!(msg.title(), "[RESOLVED:1] Api5xx");
    assert_eq!(msg.color(), "#2eb886");
    // Re-sent resolved copies (as Prometheus does) change nothing.
    h.notifier.receive(vec![resolved(alert, h.now())]).await;
    h.advance(3600).await;
    h.advance(3600).await;
    assert_eq!(slack.delivered().len(), 2, "no duplicate resolved message");
}

#[tokio::test]
async fn send_resolved_false_stays_quiet_on_resolution() {
    let slack = FakeSlack::start().await;
    let h = Harness::new(&config(
        &slack,
        "        send_resolved: false",
        "[alertname]",
    ));
    let alert = firing(&[("alertname", "Api5xx")], h.now());
    h.notifier.receive(vec![alert.clone()]).await;
    h.advance(30).await;
    h.notifier.receive(vec![resolved(alert, h.now())]).await;
    h.advance(300).await;
    h.advance(300).await;
    assert_eq!(slack.delivered().len(), 1, "only the firing message");
}

#[tokio::test]
async fn group_by_all_labels_sends_one_message_per_alert() {
    let slack = FakeSlack::start().await;
    let h = Harness::new(&config(&slack, "", "['...']"));
    let now = h.now();
    h.notifier
        .receive(vec![
            firing(&[("alertname", "HostDown"), ("instance", "a")], now),
            firing(&[("alertname", "HostDown"), ("instance", "b")], now),
            firing(&[("alertname", "Disk"), ("instance", "a")], now),
        ])
        .await;
    assert_eq!(h.advance(30).await, 3);
    let mut titles: Vec<String> = slack.delivered().iter().map(|r| r.title()).collect();
    titles.sort();
    assert_eq!(
        titles,
        [
            "[FIRING:1] Disk a",
            "[FIRING:1] HostDown a",
            "[FIRING:1] HostDown b"
        ]
    );
}

#[tokio::test]
async fn alert_older_than_group_wait_is_sent_at_once() {
    let slack = FakeSlack::start().await;
    let h = Harness::new(&config(&slack, "", "[alertname]"));
    let long_ago = h.now() - chrono::Duration::minutes(10);
    h.notifier
        .receive(vec![firing(&[("alertname", "Old")], long_ago)])
        .await;
    assert_eq!(
        h.advance(0).await,
        1,
        "Alertmanager flushes at once when startsAt + group_wait has passed"
    );
}

#[tokio::test(start_paused = true)]
async fn dispatcher_task_keeps_group_timers_on_tokio_time() {
    use std::time::Duration;
    let slack = FakeSlack::start().await;
    let config = notifier::NotifyConfig::from_yaml(&config(&slack, "", "[alertname]")).unwrap();
    let clock = std::sync::Arc::new(notifier::clock::TokioClock::starting_at(t0()));
    let options = notifier::NotifierOptions {
        clock,
        // Not re-sent by an evaluator here: keep the alerts firing.
        resolve_timeout: Duration::from_secs(86_400),
        ..Default::default()
    };
    let n = notifier::Notifier::build(&config, options).unwrap();
    let task = n.spawn();
    let start = tokio::time::Instant::now();
    n.receive(vec![firing(
        &[("alertname", "Cpu"), ("instance", "a")],
        t0(),
    )])
    .await;
    tokio::time::sleep(Duration::from_secs(29)).await;
    assert_eq!(slack.count(), 0, "group_wait not over");
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert_eq!(slack.count(), 1);
    n.receive(vec![firing(
        &[("alertname", "Cpu"), ("instance", "b")],
        t0(),
    )])
    .await;
    tokio::time::sleep(Duration::from_secs(300)).await;
    task.abort();
    let got = slack.delivered();
    assert_eq!(got.len(), 2);
    assert_eq!(
        got[0].at - start,
        Duration::from_secs(30),
        "first flush at group_wait"
    );
    assert_eq!(
        got[1].at - got[0].at,
        Duration::from_secs(300),
        "next at group_interval"
    );
    assert_eq!(got[1].title(), "[FIRING:2] Cpu", "{}", got[1].all_text());
}
