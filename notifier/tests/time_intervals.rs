//! Routes with `mute_time_intervals` and `active_time_intervals`, on a
//! manual clock: nothing is sent while a route is muted (or outside its
//! active intervals), the first flush after that notifies, other routes
//! are not affected, time zones move the calendar, the older top-level
//! `mute_time_intervals` name works, and the configuration errors.

mod common;
use common::*;
use notifier::NotifyConfig;

/// 2030-01-05 is a Saturday.
fn saturday_noon() -> chrono::DateTime<chrono::Utc> {
    "2030-01-05T12:00:00Z".parse().unwrap()
}

fn config(slack: &FakeSlack) -> String {
    format!(
        r#"
route:
  receiver: default
  group_by: [alertname]
  group_wait: 30s
  group_interval: 5m
  repeat_interval: 1w
  routes:
    - matchers: ['team="db"']
      receiver: db
      mute_time_intervals: [weekends]
    - matchers: ['team="web"']
      receiver: web
      active_time_intervals: [office]
receivers:
  - name: default
    slack_configs: [{{api_url: '{default}'}}]
  - name: db
    slack_configs: [{{api_url: '{db}'}}]
  - name: web
    slack_configs: [{{api_url: '{web}'}}]
time_intervals:
  - name: office
    time_intervals:
      - weekdays: ['monday:friday']
        times: [{{start_time: '09:00', end_time: '17:00'}}]
        location: America/New_York
mute_time_intervals:
  - name: weekends
    time_intervals:
      - weekdays: ['saturday', 'sunday']
"#,
        default = slack.webhook_url("default"),
        db = slack.webhook_url("db"),
        web = slack.webhook_url("web"),
    )
}

fn paths(slack: &FakeSlack) -> Vec<String> {
    slack.delivered().iter().map(|r| r.path.clone()).collect()
}

fn harness(slack: &FakeSlack) -> Harness {
    let clock = std::sync::Arc::new(notifier::clock::ManualClock::new(saturday_noon()));
    Harness::with_clock(&config(slack), clock, None)
}

#[tokio::test]
async fn a_muted_route_notifies_after_its_interval_ends() {
    let slack = FakeSlack::start().await;
    let h = harness(&slack);
    let now = h.now();
    // Firing all weekend (as if Prometheus kept re-sending it).
    let mut disk = firing(&[("alertname", "DiskFull"), ("team", "db")], now);
    disk.ends_at = Some(now + chrono::Duration::days(7));
    h.notifier
        .receive(vec![disk, firing(&[("alertname", "Other")], now)])
        .await;
    h.advance(30).await;
    assert_eq!(paths(&slack), ["/hooks/default"], "db is muted on Saturday");
    // Every group_interval over the weekend: still nothing for db.
    for _ in 0..(36 * 12 - 1) {
        h.advance(300).await;
    }
    assert_eq!(h.now().to_rfc3339(), "2030-01-06T23:55:30+00:00");
    // (The unmuted default route did notify meanwhile: its alert resolved
    // after the harness's 24h resolve timeout.)
    assert!(!paths(&slack).contains(&"/hooks/db".to_string()));
    // Monday 00:00:30 UTC: the first flush after the mute notifies.
    h.advance(300).await;
    let db: Vec<String> = slack
        .delivered()
        .iter()
        .filter(|r| r.path == "/hooks/db")
        .map(|r| r.title())
        .collect();
    assert_eq!(db, ["[FIRING:1] DiskFull"]);
}

#[tokio::test]
async fn an_active_route_notifies_only_inside_its_interval_in_its_time_zone() {
    let slack = FakeSlack::start().await;
    let h = harness(&slack);
    // Monday 2030-01-07 13:30 UTC is 08:30 in New York: not yet office hours.
    h.clock.set("2030-01-07T13:30:00Z".parse().unwrap());
    let now = h.now();
    h.notifier
        .receive(vec![firing(
            &[("alertname", "SlowPages"), ("team", "web")],
            now,
        )])
        .await;
    h.advance(30).await;
    assert!(paths(&slack).is_empty(), "before 09:00 New York time");
    h.advance(300).await; // 08:35:30 New York
    h.advance(300).await; // 08:40:30
    assert!(paths(&slack).is_empty());
    for _ in 0..4 {
        h.advance(300).await; // … 09:00:30
    }
    assert_eq!(h.now().to_rfc3339(), "2030-01-07T14:00:30+00:00");
    assert_eq!(paths(&slack), ["/hooks/web"], "09:00:30 in New York");
    // Repeats wait for repeat_interval, not for the interval to reopen.
    h.advance(300).await;
    assert_eq!(paths(&slack).len(), 1);
}

#[tokio::test]
async fn alerts_resolved_during_a_mute_are_not_reported() {
    let slack = FakeSlack::start().await;
    let h = harness(&slack);
    let now = h.now();
    let alert = firing(&[("alertname", "DiskFull"), ("team", "db")], now);
    h.notifier.receive(vec![alert.clone()]).await;
    h.advance(30).await;
    h.advance(300).await;
    h.notifier.receive(vec![resolved(alert, h.now())]).await;
    h.advance(300).await;
    h.clock.set("2030-01-07T09:00:00Z".parse().unwrap());
    h.notifier.tick().await;
    assert!(paths(&slack).is_empty(), "{:?}", paths(&slack));
}

#[test]
fn undefined_and_misplaced_intervals_are_configuration_errors() {
    let base = "route:\n  receiver: a\n  routes:\n    - receiver: a\n      mute_time_intervals: [nights]\nreceivers:\n  - name: a\n";
    let e = NotifyConfig::from_yaml(base).unwrap_err().to_string();
    assert_eq!(
        e,
        "route.routes[0].mute_time_intervals: undefined time interval \"nights\" used in route"
    );
    let defined = format!("{base}time_intervals:\n  - name: nights\n    time_intervals: [{{times: [{{start_time: '00:00', end_time: '06:00'}}]}}]\n");
    NotifyConfig::from_yaml(&defined).unwrap();
    let twice = format!("{defined}mute_time_intervals:\n  - name: nights\n");
    let e = NotifyConfig::from_yaml(&twice).unwrap_err().to_string();
    assert!(e.contains("time interval \"nights\" is not unique"), "{e}");
    let bad = defined.replace("'06:00'", "'6am'");
    let e = NotifyConfig::from_yaml(&bad).unwrap_err().to_string();
    assert!(
        e.contains("couldn't parse timestamp 6am") && e.contains("line 10"),
        "{e}"
    );
}
