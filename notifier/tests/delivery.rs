//! Delivery against Slack's failure answers: 429 + Retry-After, 500 with
//! backoff, Slack down then back, invalid_auth / invalid_token kept as dead
//! letters, and the bounded queue folding overflow into a summary.

mod common;
use common::*;
use std::time::Duration;

fn webhook_config(slack: &FakeSlack) -> String {
    format!(
        r#"
route:
  receiver: team
  group_by: ['...']
  group_wait: 0s
  group_interval: 1m
receivers:
  - name: team
    slack_configs:
      - api_url: {url}
"#,
        url = slack.webhook_url("T1"),
    )
}

fn chat_config(slack: &FakeSlack) -> String {
    format!(
        r#"
route:
  receiver: team
  group_wait: 0s
receivers:
  - name: team
    slack_configs:
      - token_env: NOTIFIER_TEST_BOT_TOKEN
        channel: C123
        api_base_url: {api}
"#,
        api = slack.api_url(),
    )
}

#[tokio::test]
async fn rate_limit_waits_exactly_retry_after() {
    let slack = FakeSlack::start().await;
    slack.script([Answer::RateLimited(7)]);
    let h = Harness::new(&webhook_config(&slack));
    h.notifier
        .receive(vec![firing(&[("alertname", "A")], h.now())])
        .await;
    assert_eq!(h.advance(0).await, 0);
    assert_eq!(slack.received().len(), 1);
    assert_eq!(h.outcome_count("rate_limited"), 1);
    assert_eq!(
        h.notifier.next_wakeup(),
        Some(h.now() + chrono::Duration::seconds(7))
    );
    assert_eq!(h.advance(6).await, 0);
    assert_eq!(slack.received().len(), 1, "no retry before Retry-After");
    assert_eq!(h.advance(1).await, 1, "retried exactly Retry-After later");
    assert_eq!(slack.delivered().len(), 1);
    assert_eq!(h.notifier.sent_log()[0].attempts, 1);
}

#[tokio::test]
async fn server_errors_retry_with_capped_exponential_backoff() {
    let slack = FakeSlack::start().await;
    slack.script([
        Answer::ServerError,
        Answer::ServerError,
        Answer::ServerError,
    ]);
    let h = Harness::new(&webhook_config(&slack));
    h.notifier
        .receive(vec![firing(&[("alertname", "A")], h.now())])
        .await;
    h.advance(0).await;
    let mut gaps = Vec::new();
    let mut last = h.now();
    for _ in 0..20 {
        let before = slack.received().len();
        h.advance(1).await;
        if slack.received().len() > before {
            gaps.push((h.now() - last).num_seconds());
            last = h.now();
        }
    }
    assert_eq!(
        gaps,
        [1, 2, 4],
        "1s, 2s, 4s between attempts, then delivered"
    );
    assert_eq!(slack.delivered().len(), 1);
    assert_eq!(h.outcome_count("retry"), 3);
    assert_eq!(h.outcome_count("success"), 1);
}

#[tokio::test]
async fn slack_down_then_back_delivers_everything_in_order() {
    let slack = FakeSlack::start().await;
    slack.script(std::iter::repeat_n(Answer::ServerError, 1000));
    let h = Harness::new(&webhook_config(&slack));
    for i in 0..5 {
        h.notifier
            .receive(vec![firing(
                &[("alertname", "A"), ("n", &i.to_string())],
                h.now(),
            )])
            .await;
        h.advance(1).await;
    }
    // Slack keeps failing for a while; the queue holds all five.
    for _ in 0..10 {
        h.advance(20).await;
    }
    assert!(slack.delivered().is_empty());
    assert_eq!(h.notifier.queued().len(), 5);
    assert_eq!(h.metric_sum("alerter_notification_queue_length", ""), 5);
    // Slack is back: everything arrives, oldest first.
    slack.recover();
    for _ in 0..10 {
        h.advance(60).await;
    }
    let titles: Vec<String> = slack.delivered().iter().map(|r| r.title()).collect();
    assert_eq!(titles.len(), 5, "{titles:?}");
    for (i, t) in titles.iter().enumerate() {
        assert!(t.ends_with(&format!("A {i}")), "in order: {titles:?}");
    }
    assert!(h.notifier.queued().is_empty());
}

#[tokio::test]
async fn unreachable_slack_is_retried_not_dropped() {
    // Nothing listens on this port: connection refused, a network error.
    let yaml = webhook_config(&FakeSlack::unreachable());
    let h = Harness::new(&yaml);
    h.notifier
        .receive(vec![firing(&[("alertname", "A")], h.now())])
        .await;
    h.advance(0).await;
    h.advance(1).await;
    assert_eq!(h.notifier.queued().len(), 1);
    assert!(h.notifier.queued()[0].last_error.is_some());
    assert!(h.notifier.dead_letters().is_empty());
    assert_eq!(h.outcome_count("retry"), 2);
}

#[tokio::test]
async fn invalid_auth_is_kept_as_a_dead_letter_and_can_be_retried() {
    std::env::set_var("NOTIFIER_TEST_BOT_TOKEN", "xoxb-from-env");
    let slack = FakeSlack::start().await;
    slack.script([Answer::ApiError("invalid_auth")]);
    let h = Harness::new(&chat_config(&slack));
    h.notifier
        .receive(vec![firing(&[("alertname", "A")], h.now())])
        .await;
    h.advance(0).await;
    h.advance(3600).await;
    assert_eq!(
        slack.received().len(),
        1,
        "a permanent error is not retried"
    );
    assert_eq!(
        slack.received()[0].authorization.as_deref(),
        Some("Bearer xoxb-from-env")
    );
    let dead = h.notifier.dead_letters();
    assert_eq!(dead.len(), 1);
    assert!(dead[0].error.contains("invalid_auth"), "{}", dead[0].error);
    assert_eq!(h.outcome_count("failed"), 1);
    assert_eq!(h.metric_sum("alerter_notification_dead_letters", ""), 1);
    // After the operator fixes the token, the dead letter can be re-queued.
    assert!(h.notifier.retry_dead_letter(dead[0].notification.id));
    h.advance(0).await;
    assert_eq!(slack.delivered().len(), 1);
    assert!(h.notifier.dead_letters().is_empty());
}

#[tokio::test]
async fn webhook_invalid_token_is_a_dead_letter() {
    let slack = FakeSlack::start().await;
    slack.script([Answer::WebhookError(403, "invalid_token")]);
    let h = Harness::new(&webhook_config(&slack));
    h.notifier
        .receive(vec![firing(&[("alertname", "A")], h.now())])
        .await;
    h.advance(0).await;
    h.advance(600).await;
    assert_eq!(slack.received().len(), 1);
    let dead = h.notifier.dead_letters();
    assert_eq!(dead.len(), 1);
    assert!(
        dead[0].error.contains("403") && dead[0].error.contains("invalid_token"),
        "{}",
        dead[0].error
    );
}

#[tokio::test]
async fn overflow_while_down_is_summarised_not_lost() {
    let slack = FakeSlack::start().await;
    slack.script(std::iter::repeat_n(Answer::ServerError, 200));
    let h = Harness::new(&webhook_config(&slack)); // queue_bound 20
    for i in 0..50 {
        h.notifier
            .receive(vec![firing(
                &[("alertname", "Flood"), ("n", &format!("{i:02}"))],
                h.now(),
            )])
            .await;
        h.advance(0).await;
    }
    assert_eq!(h.notifier.queued().len(), 20, "bounded");
    assert_eq!(h.outcome_count("summarised"), 30);
    // Slack comes back.
    slack.recover();
    let mut rounds = 0;
    while !h.notifier.queued().is_empty() && rounds < 200 {
        h.advance(60).await;
        rounds += 1;
    }
    let got = slack.delivered();
    assert_eq!(got.len(), 20);
    let summary = got
        .iter()
        .find(|r| r.title().starts_with("[SUMMARY]"))
        .expect("a summary message");
    assert!(
        summary.title().contains("31 notifications"),
        "{}",
        summary.title()
    );
    for i in 0..50 {
        let needle = format!("Flood {i:02}");
        let carriers = got
            .iter()
            .filter(|r| r.title().contains(&needle) || r.all_text().contains(&needle))
            .count();
        assert_eq!(carriers, 1, "alert {i} reported exactly once");
    }
    let total_alerts: usize = h.notifier.sent_log().iter().map(|s| s.alerts).sum();
    assert_eq!(total_alerts, 50, "every alert accounted for");
}

#[tokio::test(start_paused = true)]
async fn dispatcher_loop_honours_retry_after_on_tokio_time() {
    let slack = FakeSlack::start().await;
    slack.script([Answer::RateLimited(30)]);
    let config = notifier::NotifyConfig::from_yaml(&webhook_config(&slack)).unwrap();
    let clock = std::sync::Arc::new(notifier::clock::TokioClock::starting_at(t0()));
    let options = notifier::NotifierOptions {
        clock,
        ..Default::default()
    };
    let n = notifier::Notifier::build(&config, options).unwrap();
    let task = n.spawn();
    n.receive(vec![firing(&[("alertname", "A")], t0())]).await;
    for _ in 0..100 {
        if slack.delivered().len() == 1 {
            break;
        }
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
    task.abort();
    let got = slack.received();
    assert_eq!(got.len(), 2, "one 429, one retry");
    assert_eq!(
        got[1].at - got[0].at,
        Duration::from_secs(30),
        "retried after exactly Retry-After"
    );
}

#[tokio::test]
async fn chat_post_message_retries_429_and_dead_letters_channel_not_found() {
    std::env::set_var("NOTIFIER_TEST_BOT_TOKEN", "xoxb-from-env");
    let slack = FakeSlack::start().await;
    slack.script([
        Answer::RateLimited(3),
        Answer::ServerError,
        Answer::ApiError("channel_not_found"),
    ]);
    let h = Harness::new(&chat_config(&slack));
    h.notifier
        .receive(vec![firing(&[("alertname", "A")], h.now())])
        .await;
    h.advance(0).await; // 429
    h.advance(3).await; // 500
    h.advance(1).await; // channel_not_found: permanent
    h.advance(600).await;
    assert_eq!(slack.received().len(), 3);
    assert!(slack.received().iter().all(|r| r.channel() == "C123"));
    let dead = h.notifier.dead_letters();
    assert_eq!(dead.len(), 1);
    assert!(dead[0].error.contains("channel_not_found"));
    assert_eq!(dead[0].notification.attempts, 3);
    assert_eq!(
        (
            h.outcome_count("rate_limited"),
            h.outcome_count("retry"),
            h.outcome_count("failed")
        ),
        (1, 1, 1)
    );
}

/// A shipped configuration names Slack as `optional`: with its variables
/// unset (or empty) the integration is left out and the receiver's other
/// integration still delivers; with them set, Slack receives too, and the
/// bot's channel comes from the environment.
#[tokio::test]
async fn optional_slack_is_left_out_until_its_variables_are_set() {
    let slack = FakeSlack::start().await;
    let sink = FakeSlack::start().await;
    let config = format!(
        r#"
route:
  receiver: team
  group_wait: 0s
receivers:
  - name: team
    webhook_configs:
      - url: {hook}
    slack_configs:
      - api_url_env: NOTIFIER_TEST_OPTIONAL_WEBHOOK
        optional: true
      - token_env: NOTIFIER_TEST_OPTIONAL_TOKEN
        channel_env: NOTIFIER_TEST_OPTIONAL_CHANNEL
        api_base_url: {api}
        optional: true
"#,
        hook = sink.webhook_url("inbox"),
        api = slack.api_url(),
    );
    std::env::remove_var("NOTIFIER_TEST_OPTIONAL_WEBHOOK");
    std::env::set_var("NOTIFIER_TEST_OPTIONAL_TOKEN", "");
    let h = Harness::new(&config);
    h.notifier
        .receive(vec![firing(&[("alertname", "A")], h.now())])
        .await;
    h.advance(0).await;
    assert_eq!(sink.delivered().len(), 1, "the webhook still delivers");
    assert_eq!(slack.count(), 0, "Slack left out while unset");

    std::env::set_var("NOTIFIER_TEST_OPTIONAL_TOKEN", "xoxb-optional");
    std::env::set_var("NOTIFIER_TEST_OPTIONAL_CHANNEL", "C-FROM-ENV");
    let h = Harness::new(&config);
    h.notifier
        .receive(vec![firing(&[("alertname", "B")], h.now())])
        .await;
    h.advance(0).await;
    let got = slack.delivered();
    assert_eq!(got.len(), 1, "the bot posts once its token is set");
    assert_eq!(got[0].channel(), "C-FROM-ENV");
    assert_eq!(
        got[0].authorization.as_deref(),
        Some("Bearer xoxb-optional")
    );

    // Not optional: an unset variable still refuses the configuration.
    let strict = config.replace("optional: true", "optional: false");
    std::env::remove_var("NOTIFIER_TEST_OPTIONAL_TOKEN");
    let yaml = notifier::NotifyConfig::from_yaml(&strict).unwrap();
    let err = notifier::Notifier::build(&yaml, options(h.clock.clone(), None))
        .err()
        .expect("an unset variable is an error");
    assert!(format!("{err}").contains("NOTIFIER_TEST_OPTIONAL"), "{err}");
}
