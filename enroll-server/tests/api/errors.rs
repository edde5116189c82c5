use reqwest::{Client, StatusCode};
use serde_json::Value;

use crate::helpers::{assert_error, spawn_app, ADMIN_TOKEN};

#[tokio::test]
async fn bad_bodies_get_coded_errors_never_500() {
    let app = spawn_app().await;
    let cases: &[(&str, &str, StatusCode, &str)] = &[
        (
            "/api/v1/auth/login",
            "{not json",
            StatusCode::BAD_REQUEST,
            "malformed_json",
        ),
        (
            "/api/v1/auth/login",
            r#"{"student_no": 5, "password": "x"}"#,
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_body",
        ),
        (
            "/api/v1/auth/login",
            r#"{"student_no": "a"}"#,
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_body",
        ),
        (
            "/api/v1/auth/login",
            r#"{"student_no": "a", "password": "b", "admin": true}"#,
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_body",
        ),
        (
            "/api/v1/admin/courses",
            r#"{"code": "A", "name": "A", "credits": 3, "capacity": -1}"#,
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_field",
        ),
        (
            "/api/v1/admin/courses",
            r#"{"code": "A", "name": "A", "credits": 300000, "capacity": 1}"#,
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_body",
        ),
        (
            "/api/v1/admin/courses",
            r#"{"code": "A", "name": "A", "credits": 3, "capacity": 1, "seats": 4}"#,
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_body",
        ),
        (
            "/api/v1/admin/courses",
            r#"{"code": "A", "name": "A", "credits": 3, "capacity": 1, "schedule": [{"day": "MON", "start": "25:00", "end": "26:00"}]}"#,
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_body",
        ),
        (
            "/api/v1/admin/courses",
            "42",
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_body",
        ),
        (
            "/api/v1/admin/courses",
            "[]",
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_body",
        ),
        (
            "/api/v1/admin/students",
            r#"[{"student_no": "x"}]"#,
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_body",
        ),
    ];
    for (path, body, status, code) in cases {
        let res = Client::new()
            .post(app.url(path))
            .bearer_auth(ADMIN_TOKEN)
            .header("content-type", "application/json")
            .body(*body)
            .send()
            .await
            .unwrap();
        assert_error(res, *status, code).await;
    }
    let res = Client::new()
        .post(app.url("/api/v1/auth/login"))
        .body("student_no=a")
        .send()
        .await
        .unwrap();
    assert_error(
        res,
        StatusCode::UNSUPPORTED_MEDIA_TYPE,
        "unsupported_media_type",
    )
    .await;
    let res = Client::new()
        .get(app.url("/api/v1/nope"))
        .send()
        .await
        .unwrap();
    assert_error(res, StatusCode::NOT_FOUND, "not_found").await;
    assert_eq!(app.metric("enroll_http_requests_total{method=\"POST\",route=\"/api/v1/auth/login\",status=\"500\"}").await, 0.0);
}

#[tokio::test]
async fn health_metrics_and_api_docs() {
    let app = spawn_app().await;
    assert_eq!(
        reqwest::get(app.url("/healthz")).await.unwrap().status(),
        StatusCode::OK
    );
    let ready = reqwest::get(app.url("/readyz")).await.unwrap();
    assert_eq!(ready.status(), StatusCode::OK);
    let ready: Value = ready.json().await.unwrap();
    assert_eq!(
        (ready["primary"].as_str(), ready["redis"].as_str()),
        (Some("ok"), Some("ok"))
    );
    assert_eq!(ready["replicas"].as_array().unwrap().len(), 1);

    reqwest::get(app.url("/api/v1/courses")).await.unwrap();
    let text = reqwest::get(app.url("/metrics"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    for name in [
        "enroll_http_requests_total{method=\"GET\",route=\"/api/v1/courses\",status=\"200\"} 1",
        "enroll_http_request_duration_seconds_bucket{method=\"GET\",route=\"/api/v1/courses\"",
        "enroll_db_pool_connections{pool=\"primary\",state=\"idle\"}",
        "enroll_replica_healthy{replica=",
        "enroll_db_up 1",
        "process_resident_memory_bytes",
    ] {
        assert!(text.contains(name), "metrics lack {name}:\n{text}");
    }

    let doc: Value = reqwest::get(app.url("/api-docs/openapi.json"))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert!(doc["openapi"].as_str().unwrap().starts_with("3."));
    for path in [
        "/api/v1/auth/login",
        "/api/v1/me",
        "/api/v1/courses",
        "/api/v1/admin/students",
        "/readyz",
    ] {
        assert!(doc["paths"].get(path).is_some(), "openapi lacks {path}");
    }
    // Every schema a path or schema refers to is in the document.
    let mut refs = Vec::new();
    collect_refs(&doc, &mut refs);
    assert!(!refs.is_empty());
    for r in refs {
        let name = r.strip_prefix("#/components/schemas/").unwrap_or(&r);
        assert!(
            doc["components"]["schemas"].get(name).is_some(),
            "openapi refers to {r}, which it lacks"
        );
    }
    // The ticket vocabulary is spelled out for clients.
    let status = &doc["components"]["schemas"]["TicketStatus"]["enum"];
    assert_eq!(
        status,
        &serde_json::json!(["queued", "enrolled", "rejected", "cancelled"])
    );
    let reasons = doc["components"]["schemas"]["Reason"]["enum"].as_array();
    assert!(
        reasons.is_some_and(|r| r.contains(&"course_full".into())),
        "{doc}"
    );
}

fn collect_refs(v: &Value, out: &mut Vec<String>) {
    match v {
        Value::Object(map) => {
            for (k, v) in map {
                match (k.as_str(), v) {
                    ("$ref", Value::String(r)) => out.push(r.clone()),
                    _ => collect_refs(v, out),
                }
            }
        }
        Value::Array(items) => items.iter().for_each(|v| collect_refs(v, out)),
        _ => {}
    }
}
