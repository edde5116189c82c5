//! Alertmanager's API v2 on the notifier, in Alertmanager's JSON shapes:
//! status and receivers, alerts with their status and the `filter`,
//! `active`, `silenced`, `inhibited` and `receiver` filters, alert groups,
//! silences (create, update in place, replace, get, expire, filter) and
//! the answers to bad input. amtool itself is run against the alerter in
//! `alerter/tests/amtool.rs`.

mod common;
use axum::http::StatusCode;
use common::*;
use serde_json::{json, Value};

const CONFIG: &str = r#"
route:
  receiver: default
  group_by: [alertname]
  routes:
    - matchers: ['team="db"']
      receiver: db
      continue: true
    - matchers: ['severity="critical"']
      receiver: pager
receivers:
  - name: default
    slack_configs: [{api_url: 'http://127.0.0.1:9/hooks/very-secret'}]
  - name: db
    webhook_configs: [{url: 'http://127.0.0.1:9/db'}]
  - name: pager
    slack_configs: [{token: xoxb-very-secret, channel: '#pager'}]
inhibit_rules:
  - source_matchers: ['alertname="InstanceDown"']
    target_matchers: ['severity="warning"']
    equal: [instance]
"#;

fn names(list: &Value) -> Vec<String> {
    let mut v: Vec<String> = list
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["labels"]["alertname"].as_str().unwrap().to_string())
        .collect();
    v.sort();
    v
}

async fn setup() -> (Harness, axum::Router) {
    let h = Harness::new(CONFIG);
    let app = notifier::api::router(h.notifier.clone());
    let now = h.now();
    h.notifier
        .receive(vec![
            firing(
                &[
                    ("alertname", "InstanceDown"),
                    ("instance", "a"),
                    ("team", "db"),
                ],
                now,
            ),
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
                    ("alertname", "DiskFull"),
                    ("instance", "b"),
                    ("severity", "critical"),
                ],
                now,
            ),
            resolved(firing(&[("alertname", "Gone")], now), now),
        ])
        .await;
    (h, app)
}

#[tokio::test]
async fn status_and_receivers() {
    let (_h, app) = setup().await;
    let (code, status) = call(&app, "GET", "/api/v2/status", None).await;
    assert_eq!(code, StatusCode::OK);
    assert_eq!(status["cluster"]["status"], "disabled");
    assert_eq!(status["uptime"], "2030-01-01T00:00:00.000Z");
    assert!(status["versionInfo"]["version"].is_string());
    let original = status["config"]["original"].as_str().unwrap();
    assert!(original.contains("receiver: default"), "{original}");
    assert!(!original.contains("very-secret"), "{original}");
    let (_, receivers) = call(&app, "GET", "/api/v2/receivers", None).await;
    assert_eq!(
        receivers,
        json!([{"name": "default"}, {"name": "db"}, {"name": "pager"}])
    );
}

#[tokio::test]
async fn alerts_carry_status_and_receivers_and_filter_like_alertmanager() {
    let (h, app) = setup().await;
    let (code, all) = call(&app, "GET", "/api/v2/alerts", None).await;
    assert_eq!(code, StatusCode::OK);
    assert_eq!(
        names(&all),
        ["DiskFull", "HighLoad", "InstanceDown"],
        "resolved left out"
    );
    let by_name = |list: &Value, name: &str| -> Value {
        list.as_array()
            .unwrap()
            .iter()
            .find(|a| a["labels"]["alertname"] == name)
            .cloned()
            .unwrap()
    };
    let down = by_name(&all, "InstanceDown");
    assert_eq!(
        down["receivers"],
        json!([{"name": "db"}]),
        "the matching child, not the root"
    );
    assert_eq!(
        down["status"],
        json!({"state": "active", "silencedBy": [], "inhibitedBy": []})
    );
    assert_eq!(down["startsAt"], "2030-01-01T00:00:00.000Z");
    assert_eq!(down["fingerprint"].as_str().unwrap().len(), 16);
    let load = by_name(&all, "HighLoad");
    assert_eq!(load["status"]["state"], "suppressed");
    assert_eq!(load["status"]["inhibitedBy"], json!([down["fingerprint"]]));

    // A silence on DiskFull.
    let ends = (h.now() + chrono::Duration::hours(1)).to_rfc3339();
    let (code, created) = call(
        &app,
        "POST",
        "/api/v2/silences",
        Some(json!({"matchers": [{"name": "alertname", "value": "DiskFull", "isRegex": false, "isEqual": true}],
                    "startsAt": h.now().to_rfc3339(), "endsAt": ends, "createdBy": "ops", "comment": "disk swap"})),
    )
    .await;
    assert_eq!(code, StatusCode::OK, "{created}");
    let sid = created["silenceID"].as_str().unwrap();
    let (_, all) = call(&app, "GET", "/api/v2/alerts", None).await;
    assert_eq!(
        by_name(&all, "DiskFull")["status"]["silencedBy"],
        json!([sid])
    );

    let q = |query: &'static str| {
        let app = app.clone();
        async move {
            let (code, body) = call(&app, "GET", &format!("/api/v2/alerts?{query}"), None).await;
            assert_eq!(code, StatusCode::OK, "{query}: {body}");
            names(&body)
        }
    };
    assert_eq!(q("silenced=false").await, ["HighLoad", "InstanceDown"]);
    assert_eq!(q("inhibited=false").await, ["DiskFull", "InstanceDown"]);
    assert_eq!(q("active=false").await, ["DiskFull", "HighLoad"]);
    assert_eq!(q("active=false&silenced=false").await, ["HighLoad"]);
    assert_eq!(
        q("filter=instance%3D%22a%22").await,
        ["HighLoad", "InstanceDown"]
    );
    assert_eq!(
        q("filter=instance%3D%22a%22&filter=alertname%3D~%22Inst.*%22").await,
        ["InstanceDown"]
    );
    assert_eq!(q("receiver=pager").await, ["DiskFull"]);
    assert_eq!(
        q("receiver=d.*").await,
        ["HighLoad", "InstanceDown"],
        "db and default"
    );
    assert_eq!(q("receiver=d").await, Vec::<String>::new(), "anchored");

    let (code, body) = call(&app, "GET", "/api/v2/alerts?filter=%3D%3D", None).await;
    assert_eq!(code, StatusCode::BAD_REQUEST);
    assert!(
        body.as_str().unwrap().contains("invalid label name"),
        "{body}"
    );
    let (code, body) = call(&app, "GET", "/api/v2/alerts?receiver=(", None).await;
    assert_eq!(code, StatusCode::BAD_REQUEST);
    assert!(
        body.as_str()
            .unwrap()
            .starts_with("failed to parse receiver param"),
        "{body}"
    );
    let (code, body) = call(&app, "GET", "/api/v2/alerts?active=perhaps", None).await;
    assert_eq!(
        (code, body["code"].clone()),
        (StatusCode::BAD_REQUEST, json!(400))
    );
}

#[tokio::test]
async fn groups_per_route_with_the_same_filters() {
    let (_h, app) = setup().await;
    let (code, groups) = call(&app, "GET", "/api/v2/alerts/groups", None).await;
    assert_eq!(code, StatusCode::OK);
    let summary: Vec<(String, String, usize)> = groups
        .as_array()
        .unwrap()
        .iter()
        .map(|g| {
            (
                g["labels"]["alertname"].as_str().unwrap().to_string(),
                g["receiver"]["name"].as_str().unwrap().to_string(),
                g["alerts"].as_array().unwrap().len(),
            )
        })
        .collect();
    assert_eq!(
        summary,
        [
            ("DiskFull".into(), "pager".into(), 1),
            ("HighLoad".into(), "default".into(), 1),
            ("InstanceDown".into(), "db".into(), 1),
        ]
    );
    let (_, groups) = call(
        &app,
        "GET",
        "/api/v2/alerts/groups?receiver=db&inhibited=false",
        None,
    )
    .await;
    assert_eq!(groups.as_array().unwrap().len(), 1, "{groups}");
    let (_, groups) = call(&app, "GET", "/api/v2/alerts/groups?inhibited=false", None).await;
    assert!(
        !groups.to_string().contains("HighLoad"),
        "a group left with no alerts is left out: {groups}"
    );
}

#[tokio::test]
async fn silences_are_created_updated_replaced_and_expired() {
    let (h, app) = setup().await;
    let at = |mins: i64| (h.now() + chrono::Duration::minutes(mins)).to_rfc3339();
    let body = |id: Option<&str>, matcher: &str, start: i64, end: i64| {
        let mut b = json!({"matchers": [matcher], "startsAt": at(start), "endsAt": at(end),
                            "createdBy": "ops", "comment": "c"});
        if let Some(id) = id {
            b["id"] = json!(id);
        }
        b
    };
    let post = |b: Value| {
        let app = app.clone();
        async move { call(&app, "POST", "/api/v2/silences", Some(b)).await }
    };
    let (code, created) = post(body(None, "alertname=\"DiskFull\"", 0, 60)).await;
    assert_eq!(code, StatusCode::OK);
    let id = created["silenceID"].as_str().unwrap().to_string();
    assert_eq!(id.len(), 36, "a UUID: {id}");

    // Longer, same matchers and start: updated in place.
    let (_, updated) = post(body(Some(&id), "alertname=\"DiskFull\"", 0, 120)).await;
    assert_eq!(updated["silenceID"], id);
    let (code, one) = call(&app, "GET", &format!("/api/v2/silence/{id}"), None).await;
    assert_eq!(code, StatusCode::OK);
    assert_eq!(one["endsAt"], common_time(&at(120)));
    assert_eq!(one["status"]["state"], "active");
    assert_eq!(
        one["matchers"],
        json!([{"name": "alertname", "value": "DiskFull", "isRegex": false, "isEqual": true}])
    );

    // Other matchers: the old one expires, a new id takes over.
    let (_, replaced) = post(body(Some(&id), "alertname=~\"Disk.*\"", 0, 120)).await;
    let new_id = replaced["silenceID"].as_str().unwrap().to_string();
    assert_ne!(new_id, id);
    let (_, old) = call(&app, "GET", &format!("/api/v2/silence/{id}"), None).await;
    assert_eq!(old["status"]["state"], "expired");

    // A pending one, listed after the active one; expired ones last.
    let (_, pending) = post(body(None, "alertname=\"Later\"", 30, 90)).await;
    let (_, list) = call(&app, "GET", "/api/v2/silences", None).await;
    let order: Vec<&str> = list
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["status"]["state"].as_str().unwrap())
        .collect();
    assert_eq!(order, ["active", "pending", "expired"]);
    assert_eq!(list[1]["id"], pending["silenceID"]);
    let (_, filtered) = call(
        &app,
        "GET",
        "/api/v2/silences?filter=alertname%3D~%22Disk.*%22",
        None,
    )
    .await;
    assert_eq!(filtered.as_array().unwrap().len(), 1);
    assert_eq!(filtered[0]["id"], new_id.as_str());

    // Expire: 200, twice; unknown ids 404.
    let delete = format!("/api/v2/silence/{new_id}");
    assert_eq!(call(&app, "DELETE", &delete, None).await.0, StatusCode::OK);
    assert_eq!(call(&app, "DELETE", &delete, None).await.0, StatusCode::OK);
    let (_, gone) = call(&app, "GET", &format!("/api/v2/silence/{new_id}"), None).await;
    assert_eq!(gone["status"]["state"], "expired");
    assert_eq!(
        call(&app, "DELETE", "/api/v2/silence/no-such-id", None)
            .await
            .0,
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        call(&app, "GET", "/api/v2/silence/no-such-id", None)
            .await
            .0,
        StatusCode::NOT_FOUND
    );
    let (code, body404) = post(body(Some("no-such-id"), "a=\"b\"", 0, 60)).await;
    assert_eq!(
        (code, body404),
        (StatusCode::NOT_FOUND, json!("silence not found"))
    );
}

fn common_time(rfc3339: &str) -> String {
    rfc3339
        .parse::<chrono::DateTime<chrono::Utc>>()
        .unwrap()
        .to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}

#[tokio::test]
async fn bad_input_is_refused_with_a_reason_and_valid_alerts_are_kept() {
    let (h, app) = setup().await;
    let past = (h.now() - chrono::Duration::hours(1)).to_rfc3339();
    let (code, body) = call(
        &app,
        "POST",
        "/api/v2/silences",
        Some(json!({"matchers": ["a=\"b\""], "startsAt": h.now().to_rfc3339(), "endsAt": past, "createdBy": "x", "comment": "y"})),
    )
    .await;
    assert_eq!(code, StatusCode::BAD_REQUEST);
    assert_eq!(
        body,
        json!("Failed to create silence: start time must be before end time")
    );
    let (code, body) = call(
        &app,
        "POST",
        "/api/v2/silences",
        Some(json!({"matchers": "x"})),
    )
    .await;
    assert_eq!(
        (code, body["code"].clone()),
        (StatusCode::UNPROCESSABLE_ENTITY, json!(602))
    );

    // Not JSON at all.
    let request = axum::http::Request::post("/api/v2/alerts")
        .body(axum::body::Body::from("[{"))
        .unwrap();
    let response = tower::ServiceExt::oneshot(app.clone(), request)
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);

    // One good alert, two bad ones: the good one is taken.
    let now = h.now().to_rfc3339();
    let (code, body) = call(
        &app,
        "POST",
        "/api/v2/alerts",
        Some(json!([
            {"labels": {"alertname": "Kept", "empty": ""}, "startsAt": now},
            {"labels": {}, "startsAt": now},
            {"labels": {"alertname": "Backwards"}, "startsAt": now, "endsAt": past},
        ])),
    )
    .await;
    assert_eq!(code, StatusCode::BAD_REQUEST);
    assert_eq!(
        body,
        json!("at least one label pair required; start time must be before end time")
    );
    let (_, all) = call(
        &app,
        "GET",
        "/api/v2/alerts?filter=alertname%3D%22Kept%22",
        None,
    )
    .await;
    assert_eq!(
        all[0]["labels"],
        json!({"alertname": "Kept"}),
        "empty labels dropped"
    );
}
