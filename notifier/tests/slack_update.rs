//! With a bot token, a group's resolution updates the group's Slack
//! message in place (`chat.update` with the channel id and `ts` Slack
//! returned for `chat.postMessage`) instead of posting a new message: the
//! latest message of the group, across a restart, with a fallback to a new
//! message when Slack can no longer edit the old one. Incoming webhooks
//! still post a new message.

mod common;
use common::*;
use notifier::clock::ManualClock;
use std::sync::Arc;

/// A receiver with a bot-token Slack config and an incoming webhook.
fn config(slack: &FakeSlack) -> String {
    format!(
        "{}      - api_url: {}\n",
        bot_only(slack),
        slack.webhook_url("T1")
    )
}

/// A receiver with only the bot-token Slack config (scripted answers then
/// go to it alone).
fn bot_only(slack: &FakeSlack) -> String {
    format!(
        r#"
route:
  receiver: team
  group_by: [alertname]
  group_wait: 30s
  group_interval: 5m
receivers:
  - name: team
    slack_configs:
      - token: xoxb-test-token
        channel: '#ops'
        api_base_url: {api}
"#,
        api = slack.api_url(),
    )
}

fn requests(slack: &FakeSlack, path: &str) -> Vec<Received> {
    slack
        .delivered()
        .into_iter()
        .filter(|r| r.path == path)
        .collect()
}

const POST: &str = "/api/chat.postMessage";
const UPDATE: &str = "/api/chat.update";

#[tokio::test]
async fn resolution_updates_the_groups_message_in_place() {
    let slack = FakeSlack::start().await;
    let h = Harness::new(&config(&slack));
    let alert = firing(&[("alertname", "DiskFull"), ("instance", "db1")], h.now());
    h.notifier.receive(vec![alert.clone()]).await;
    h.advance(30).await;
    let posted = requests(&slack, POST);
    assert_eq!(posted.len(), 1);
    assert_eq!(posted[0].title(), "[FIRING:1] DiskFull");

    h.notifier.receive(vec![resolved(alert, h.now())]).await;
    h.advance(300).await;
    assert_eq!(requests(&slack, POST).len(), 1, "no second message");
    let updates = requests(&slack, UPDATE);
    assert_eq!(updates.len(), 1);
    let update = &updates[0];
    assert_eq!(update.channel(), "C-ops", "the channel id Slack returned");
    assert_eq!(update.ts(), "1700000000.000001", "the posted message");
    assert_eq!(update.title(), "[RESOLVED:1] DiskFull");
    assert_eq!(update.color(), notifier::message::COLOR_RESOLVED);
    assert_eq!(
        update.authorization.as_deref(),
        Some("Bearer xoxb-test-token")
    );

    // The webhook integration of the same receiver posted twice.
    let hook: Vec<String> = requests(&slack, "/hooks/T1")
        .iter()
        .map(|r| r.title())
        .collect();
    assert_eq!(hook, ["[FIRING:1] DiskFull", "[RESOLVED:1] DiskFull"]);
    let log = h.notifier.sent_log();
    let in_place: Vec<(String, bool)> = log
        .iter()
        .map(|s| (s.status.clone(), s.updated_in_place))
        .collect();
    assert!(
        in_place.contains(&("resolved".into(), true)),
        "{in_place:?}"
    );
    assert_eq!(h.outcome_count("success"), 4);

    // The group fires again later: a new message, not an update.
    let again = firing(&[("alertname", "DiskFull"), ("instance", "db1")], h.now());
    h.notifier.receive(vec![again]).await;
    h.advance(30).await;
    assert_eq!(requests(&slack, POST).len(), 2);
    assert_eq!(requests(&slack, UPDATE).len(), 1);
}

#[tokio::test]
async fn the_latest_message_of_the_group_is_updated_across_a_restart() {
    let slack = FakeSlack::start().await;
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path().join("notifier-state.json");
    let clock = Arc::new(ManualClock::new(t0()));
    let a = firing(&[("alertname", "HostDown"), ("instance", "a")], t0());
    let b = firing(&[("alertname", "HostDown"), ("instance", "b")], t0());
    {
        let h = Harness::with_clock(&config(&slack), clock.clone(), Some(state.clone()));
        h.notifier.receive(vec![a.clone()]).await;
        h.advance(30).await;
        h.notifier.receive(vec![b.clone()]).await;
        h.advance(300).await; // the group grew: a second message
        let posted = requests(&slack, POST);
        assert_eq!(posted.len(), 2);
        assert_eq!(posted[1].title(), "[FIRING:2] HostDown");
    } // the process stops
    let h = Harness::with_clock(&config(&slack), clock, Some(state));
    let now = h.now();
    h.notifier
        .receive(vec![resolved(a, now), resolved(b, now)])
        .await;
    h.advance(300).await;
    let updates = requests(&slack, UPDATE);
    assert_eq!(updates.len(), 1);
    assert_eq!(updates[0].ts(), "1700000000.000002", "the latest message");
    assert_eq!(updates[0].title(), "[RESOLVED:2] HostDown");
    assert_eq!(requests(&slack, POST).len(), 2);
}

#[tokio::test]
async fn a_message_that_cannot_be_edited_gets_a_new_one_and_429_is_retried() {
    let slack = FakeSlack::start().await;
    let h = Harness::new(&bot_only(&slack));
    let x = firing(&[("alertname", "X")], h.now());
    let y = firing(&[("alertname", "Y")], h.now());
    h.notifier.receive(vec![x.clone(), y.clone()]).await;
    h.advance(30).await;
    assert_eq!(requests(&slack, POST).len(), 2);

    // X: Slack no longer has the message; a new one is posted instead.
    slack.script([Answer::ApiError("message_not_found")]);
    h.notifier.receive(vec![resolved(x, h.now())]).await;
    h.advance(300).await;
    let titles: Vec<String> = requests(&slack, POST).iter().map(|r| r.title()).collect();
    assert_eq!(titles.last().unwrap(), "[RESOLVED:1] X", "{titles:?}");
    assert_eq!(h.outcome_count("failed"), 0, "not a dead letter");

    // Y: the update is rate limited, then retried after Retry-After.
    slack.script([Answer::RateLimited(5)]);
    h.notifier.receive(vec![resolved(y, h.now())]).await;
    h.advance(300).await;
    h.advance(5).await;
    let updates: Vec<String> = slack
        .received()
        .iter()
        .filter(|r| r.path == UPDATE)
        .map(|r| format!("{} {}", r.title(), r.accepted))
        .collect();
    assert_eq!(
        updates,
        [
            "[RESOLVED:1] X false",
            "[RESOLVED:1] Y false",
            "[RESOLVED:1] Y true"
        ]
    );
    assert_eq!(requests(&slack, POST).len(), 3, "Y was not posted anew");
}
