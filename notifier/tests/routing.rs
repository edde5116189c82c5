//! Routing by matchers (with `continue`) to different receivers and
//! channels, inhibition, and silences through the HTTP API.

mod common;
use axum::http::StatusCode;
use common::*;
use serde_json::json;

fn config(slack: &FakeSlack) -> String {
    format!(
        r#"
route:
  receiver: default
  group_by: [alertname, instance]
  group_wait: 30s
  group_interval: 5m
  routes:
    - matchers: ['severity="critical"']
      receiver: pager
      continue: true
    - matchers: ['team=~"db|storage"']
      receiver: db
    - matchers: ['team="web"']
      receiver: web
receivers:
  - name: default
    slack_configs:
      - api_url: {default}
  - name: pager
    slack_configs:
      - token: xoxb-test-token
        channel: '#pager'
        api_base_url: {api}
  - name: db
    slack_configs:
      - token: xoxb-test-token
        channel: '#db'
        api_base_url: {api}
  - name: web
    slack_configs:
      - api_url: {web}
inhibit_rules:
  - source_matchers: ['alertname="InstanceDown"']
    target_matchers: ['severity=~"warning|info"']
    equal: [instance]
"#,
        default = slack.webhook_url("default"),
        web = slack.webhook_url("web"),
        api = slack.api_url(),
    )
}

fn destinations(slack: &FakeSlack) -> Vec<String> {
    let mut d: Vec<String> = slack
        .delivered()
        .iter()
        .map(|r| {
            if r.path.starts_with("/hooks/") {
                r.path.clone()
            } else {
                r.channel()
            }
        })
        .collect();
    d.sort();
    d
}

#[tokio::test]
async fn matchers_route_to_receivers_and_channels_with_continue() {
    let slack = FakeSlack::start().await;
    let h = Harness::new(&config(&slack));
    let now = h.now();
    h.notifier
        .receive(vec![
            firing(
                &[
                    ("alertname", "PgDown"),
                    ("severity", "critical"),
                    ("team", "db"),
                ],
                now,
            ),
            firing(
                &[
                    ("alertname", "Slow"),
                    ("severity", "warning"),
                    ("team", "web"),
                ],
                now,
            ),
            firing(
                &[
                    ("alertname", "Odd"),
                    ("severity", "info"),
                    ("team", "other"),
                ],
                now,
            ),
        ])
        .await;
    h.advance(30).await;
    assert_eq!(
        destinations(&slack),
        ["#db", "#pager", "/hooks/default", "/hooks/web"]
    );
    let chat: Vec<Received> = slack
        .delivered()
        .into_iter()
        .filter(|r| r.path == "/api/chat.postMessage")
        .collect();
    assert!(chat
        .iter()
        .all(|r| r.authorization.as_deref() == Some("Bearer xoxb-test-token")));
    assert!(chat.iter().all(|r| r.title().contains("PgDown")));
}

#[tokio::test]
async fn instance_down_inhibits_the_same_instances_warnings() {
    let slack = FakeSlack::start().await;
    let h = Harness::new(&config(&slack));
    let now = h.now();
    let down = firing(
        &[
            ("alertname", "InstanceDown"),
            ("instance", "a"),
            ("severity", "critical"),
        ],
        now,
    );
    h.notifier
        .receive(vec![
            down.clone(),
            firing(
                &[
                    ("alertname", "HighLoad"),
                    ("instance", "a"),
                    ("severity", "warning"),
                ],
                now,
            ),
            firing(
                &[
                    ("alertname", "HighLoad"),
                    ("instance", "b"),
                    ("severity", "warning"),
                ],
                now,
            ),
        ])
        .await;
    h.advance(30).await;
    let titles: Vec<String> = slack.delivered().iter().map(|r| r.title()).collect();
    assert!(
        titles.iter().any(|t| t.contains("HighLoad b")),
        "{titles:?}"
    );
    assert!(
        !titles.iter().any(|t| t.contains("HighLoad a")),
        "inhibited: {titles:?}"
    );
    assert!(titles.iter().any(|t| t.contains("InstanceDown a")));
    // The source resolves: the target is no longer inhibited.
    h.notifier.receive(vec![resolved(down, h.now())]).await;
    h.advance(300).await;
    let titles: Vec<String> = slack.delivered().iter().map(|r| r.title()).collect();
    assert!(
        titles.iter().any(|t| t == "[FIRING:1] HighLoad a"),
        "{titles:?}"
    );
}

#[tokio::test]
async fn silences_mute_until_deleted_or_expired() {
    let slack = FakeSlack::start().await;
    let h = Harness::new(&config(&slack));
    let app = notifier::api::router(h.notifier.clone());
    let ends = (h.now() + chrono::Duration::hours(1)).to_rfc3339();
    let (status, body) = call(
        &app,
        "POST",
        "/api/v1/silences",
        Some(json!({"matchers": ["alertname=\"Noisy\""], "ends_at": ends, "created_by": "ops", "comment": "maintenance"})),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let id = body["silenceID"].as_str().unwrap().to_string();
    // A second silence that expires on its own after 10 minutes.
    let short = (h.now() + chrono::Duration::minutes(10)).to_rfc3339();
    let (status, _) = call(
        &app,
        "POST",
        "/api/v1/silences",
        Some(json!({"matchers": [{"name": "alertname", "value": "Flappy", "isRegex": false}], "endsAt": short, "createdBy": "ops", "comment": "short"})),
    )
    .await;
    assert_eq!(status, StatusCode::OK);

    // Alerts arrive through Alertmanager's push API, as from Prometheus.
    let alerts = json!([
        {"labels": {"alertname": "Noisy", "instance": "x"}, "annotations": {}, "startsAt": h.now().to_rfc3339()},
        {"labels": {"alertname": "Flappy", "instance": "x"}, "annotations": {}, "startsAt": h.now().to_rfc3339()},
    ]);
    assert_eq!(
        call(&app, "POST", "/api/v2/alerts", Some(alerts)).await.0,
        StatusCode::OK
    );
    h.advance(30).await;
    assert!(slack.received().is_empty(), "both silenced");

    let (_, list) = call(&app, "GET", "/api/v1/silences", None).await;
    assert_eq!(list.as_array().unwrap().len(), 2);
    assert!(list
        .as_array()
        .unwrap()
        .iter()
        .all(|s| s["status"]["state"] == "active"));

    h.advance(600).await; // the short silence has expired (flush at 330s, 630s)
    let titles: Vec<String> = slack.delivered().iter().map(|r| r.title()).collect();
    assert_eq!(
        titles,
        ["[FIRING:1] Flappy x"],
        "expired silence stops muting"
    );

    assert_eq!(
        call(&app, "DELETE", &format!("/api/v1/silences/{id}"), None)
            .await
            .0,
        StatusCode::OK
    );
    assert_eq!(
        call(&app, "DELETE", "/api/v1/silences/nope", None).await.0,
        StatusCode::NOT_FOUND
    );
    h.advance(300).await;
    let titles: Vec<String> = slack.delivered().iter().map(|r| r.title()).collect();
    assert!(
        titles.contains(&"[FIRING:1] Noisy x".to_string()),
        "{titles:?}"
    );
    let (_, list) = call(&app, "GET", "/api/v1/silences", None).await;
    assert!(list
        .as_array()
        .unwrap()
        .iter()
        .all(|s| s["status"]["state"] == "expired"));
}

#[tokio::test]
async fn bad_silences_are_rejected_with_a_reason() {
    let slack = FakeSlack::start().await;
    let h = Harness::new(&config(&slack));
    let app = notifier::api::router(h.notifier.clone());
    let past = (h.now() - chrono::Duration::hours(1)).to_rfc3339();
    let (status, body) = call(
        &app,
        "POST",
        "/api/v1/silences",
        Some(json!({"matchers": ["a=\"b\""], "ends_at": past})),
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(body["message"].as_str().unwrap().contains("end time"));
    let (status, _) = call(
        &app,
        "POST",
        "/api/v1/silences",
        Some(json!({"matchers": ["a=~\".*\""], "ends_at": past})),
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
}

#[tokio::test]
async fn reload_applies_new_routes_and_keeps_the_old_on_error() {
    let slack = FakeSlack::start().await;
    let before = format!(
        "route:\n  receiver: default\n  group_by: [alertname, instance]\n  group_wait: 30s\nreceivers:\n  - name: default\n    slack_configs:\n      - api_url: {}\n",
        slack.webhook_url("default")
    );
    let h = Harness::new(&before);
    h.notifier
        .receive(vec![firing(
            &[("alertname", "X"), ("team", "web")],
            h.now(),
        )])
        .await;
    h.advance(30).await;
    assert_eq!(destinations(&slack), ["/hooks/default"]);

    let mut bad = notifier::NotifyConfig::from_yaml(&config(&slack)).unwrap();
    bad.route.receiver = Some("nobody".into());
    let e = h
        .notifier
        .reload(&bad)
        .expect_err("unknown receiver rejected");
    assert!(e.to_string().contains("nobody"), "{e}");
    h.notifier
        .receive(vec![firing(&[("alertname", "Z")], h.now())])
        .await;
    h.advance(30).await;
    assert_eq!(
        destinations(&slack),
        ["/hooks/default", "/hooks/default"],
        "old config still in force"
    );
    let after = notifier::NotifyConfig::from_yaml(&config(&slack)).unwrap();
    h.notifier.reload(&after).unwrap();
    h.notifier
        .receive(vec![firing(
            &[("alertname", "Y"), ("team", "web")],
            h.now(),
        )])
        .await;
    h.advance(30).await;
    // Z keeps its group key (same route, same group_by): not re-sent.
    // X and Y now route to `web`: new groups there, notified once each.
    assert_eq!(
        destinations(&slack),
        [
            "/hooks/default",
            "/hooks/default",
            "/hooks/web",
            "/hooks/web"
        ]
    );
    h.advance(3600).await;
    assert_eq!(
        slack.delivered().len(),
        4,
        "nothing re-sent after the reload"
    );
}
