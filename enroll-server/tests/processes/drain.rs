//! A stopped server drains before it goes.

use std::time::{Duration, Instant};

use reqwest::{Client, StatusCode};
use serde_json::Value;
use testkit::RedisServer;

use crate::common::spawn_server_with;

/// SIGTERM with a drain period: `/readyz` turns 503 `draining` while other
/// requests are still answered, so a balancer's health check takes the
/// instance out before it stops; then the process exits by itself.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_drains_before_stopping() {
    let (db_url, replica_urls) = tokio::task::spawn_blocking(|| testkit::shared::database("drain"))
        .await
        .unwrap()
        .unwrap();
    let redis = RedisServer::start().unwrap();
    // Long enough that the checks below all fall inside it on a busy machine.
    let drain = [("ENROLL_SHUTDOWN_DRAIN_MS", "10000")];
    let (mut server, url) = spawn_server_with(&db_url, &replica_urls, &redis.url(), &drain);
    let client = Client::new();
    let ready = client.get(format!("{url}/readyz")).send().await.unwrap();
    assert_eq!(ready.status(), StatusCode::OK);
    let body: Value = ready.json().await.unwrap();
    assert_eq!(body["draining"], false, "{body}");

    server.signal(libc::SIGTERM).unwrap();
    let deadline = Instant::now() + Duration::from_secs(10);
    let body: Value = loop {
        let r = client.get(format!("{url}/readyz")).send().await.unwrap();
        if r.status() == StatusCode::SERVICE_UNAVAILABLE {
            break r.json().await.unwrap();
        }
        assert!(Instant::now() < deadline, "/readyz still 200 after SIGTERM");
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    assert_eq!(body["draining"], true, "{body}");
    assert_eq!(body["primary"], "ok", "{body}");
    // Not ready, but still serving: a fresh connection and a real route.
    let courses = Client::new()
        .get(format!("{url}/api/v1/courses"))
        .send()
        .await
        .unwrap();
    assert_eq!(courses.status(), StatusCode::OK);
    let status = tokio::task::spawn_blocking(move || {
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            if let Some(status) = server.try_wait() {
                return status;
            }
            assert!(Instant::now() < deadline, "still running after the drain");
            std::thread::sleep(Duration::from_millis(100));
        }
    })
    .await
    .unwrap();
    assert!(status.success(), "{status}");
}
