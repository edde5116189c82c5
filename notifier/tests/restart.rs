//! Restarting from the state file: nothing re-sent, nothing forgotten,
//! queued notifications delivered after the restart.

mod common;
use common::*;
use notifier::clock::ManualClock;
use std::sync::Arc;

fn config(slack: &FakeSlack) -> String {
    format!(
        r#"
route:
  receiver: team
  group_by: [alertname]
  group_wait: 30s
  group_interval: 5m
  repeat_interval: 1h
receivers:
  - name: team
    slack_configs:
      - api_url: {url}
"#,
        url = slack.webhook_url("T1"),
    )
}

#[tokio::test]
async fn restart_neither_resends_nor_forgets_firing_alerts() {
    let slack = FakeSlack::start().await;
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path().join("notifier-state.json");
    let clock = Arc::new(ManualClock::new(t0()));
    let alert = firing(&[("alertname", "HostDown"), ("instance", "a")], t0());
    {
        let h = Harness::with_clock(&config(&slack), clock.clone(), Some(state.clone()));
        h.notifier.receive(vec![alert.clone()]).await;
        h.advance(30).await;
        assert_eq!(slack.delivered().len(), 1);
        h.advance(60).await;
    } // the process stops
    assert!(state.exists());
    let h = Harness::with_clock(&config(&slack), clock.clone(), Some(state.clone()));
    h.notifier.receive(vec![alert.clone()]).await; // the alerter re-sends on its next evaluation
    for _ in 0..10 {
        h.advance(300).await;
    }
    assert_eq!(slack.delivered().len(), 1, "no duplicate after restart");
    assert_eq!(h.notifier.sent_log().len(), 1, "notification log survived");
    // Repeat interval counts from the original notification (t0+30s).
    h.advance(300).await; // t0 + 56m30s: not yet
    h.advance(300).await; // t0 + 61m30s: first flush past t0 + 30s + 1h
    assert_eq!(
        slack.delivered().len(),
        2,
        "repeat after repeat_interval, measured across the restart"
    );

    // Restart again; the alerter only sends the resolution: the notifier
    // still knows the alert fired and reports it resolved.
    drop(h);
    let h = Harness::with_clock(&config(&slack), clock, Some(state));
    h.notifier.receive(vec![resolved(alert, h.now())]).await;
    h.advance(300).await;
    let got = slack.delivered();
    assert_eq!(got.len(), 3);
    assert_eq!(got[2].title(), "[RESOLVED:1] HostDown");
}

#[tokio::test]
async fn queued_notifications_survive_a_restart() {
    let slack = FakeSlack::start().await;
    slack.script(std::iter::repeat_n(Answer::ServerError, 100));
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path().join("state.json");
    let clock = Arc::new(ManualClock::new(t0()));
    {
        let h = Harness::with_clock(&config(&slack), clock.clone(), Some(state.clone()));
        h.notifier
            .receive(vec![firing(&[("alertname", "DiskFull")], t0())])
            .await;
        h.advance(30).await;
        h.advance(10).await;
        assert_eq!(h.notifier.queued().len(), 1);
        assert!(slack.delivered().is_empty());
    }
    slack.recover();
    let h = Harness::with_clock(&config(&slack), clock, Some(state));
    assert_eq!(
        h.notifier.queued().len(),
        1,
        "queue restored from the state file"
    );
    for _ in 0..5 {
        h.advance(60).await;
    }
    let got = slack.delivered();
    assert_eq!(got.len(), 1, "delivered once after the restart");
    assert_eq!(got[0].title(), "[FIRING:1] DiskFull");
    assert!(h.notifier.queued().is_empty());
}

#[tokio::test]
async fn a_corrupt_state_file_is_an_error_not_a_silent_reset() {
    let slack = FakeSlack::start().await;
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path().join("state.json");
    std::fs::write(&state, "{ truncated").unwrap();
    let config = notifier::NotifyConfig::from_yaml(&config(&slack)).unwrap();
    let clock = Arc::new(ManualClock::new(t0()));
    let err = notifier::Notifier::build(&config, options(clock, Some(state)))
        .err()
        .expect("refuses");
    assert!(err.to_string().contains("state.json"), "{err}");
}
