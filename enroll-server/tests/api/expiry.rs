//! Decided tickets are forgotten after their time; queued ones never are,
//! and the outcome stays in the database.

use std::time::Duration;

use enroll_server::redis::expiry::expire_decided;
use reqwest::StatusCode;
use serde_json::{json, Value};

use crate::enroll::enroll_ok;
use crate::helpers::{eventually, spawn_app};

#[tokio::test]
async fn decided_tickets_are_forgotten_and_queued_ones_kept() {
    let app = spawn_app().await;
    app.open_window().await;
    app.import_students("E", 2).await;
    let course = app.create_course("E-1", 5, 3, json!([])).await;
    let decided_by = app.login("E0").await;
    let decided = enroll_ok(&app, &decided_by, course).await;
    let decided = decided["ticket"].as_str().unwrap().to_string();
    assert_eq!(
        app.wait_decided(&decided_by, &decided).await["status"],
        "enrolled"
    );
    // A second ticket waits while admission is paused.
    let res = app
        .admin_put("/api/v1/admin/admission", &json!({"paused": true}))
        .await;
    assert_eq!(res.status(), StatusCode::OK);
    eventually(Duration::from_secs(10), "admission paused", || async {
        app.metric("enroll_admission_paused").await == 1.0
    })
    .await;
    let waiting_by = app.login("E1").await;
    let waiting = enroll_ok(&app, &waiting_by, course).await;
    let waiting = waiting["ticket"].as_str().unwrap().to_string();

    let mut redis = enroll_server::redis::conn::RedisConn::connect(&app.redis_url, None)
        .await
        .unwrap();
    let day = Duration::from_secs(86_400);
    let (secs, _): (u64, u64) = redis::cmd("TIME").query_async(&mut redis).await.unwrap();
    let now_ms = secs * 1000;
    // Not yet old enough: nothing goes.
    assert_eq!(
        expire_decided(&mut redis, course, day, Some(now_ms))
            .await
            .unwrap(),
        0
    );
    // A day later the decided ticket goes; the queued one stays.
    let later = now_ms + day.as_millis() as u64 + 1000;
    assert_eq!(
        expire_decided(&mut redis, course, day, Some(later))
            .await
            .unwrap(),
        1
    );
    let seq = decided.split_once('-').unwrap().1;
    let kept: bool = redis::cmd("HEXISTS")
        .arg(format!("tk:{{c{course}}}"))
        .arg(seq)
        .query_async(&mut redis)
        .await
        .unwrap();
    assert!(!kept, "Redis forgot the decided ticket");
    // The seat it won is still answered, from the database.
    assert_eq!(
        app.ticket_state(&decided_by, &decided).await["status"],
        "enrolled"
    );
    let still = app.ticket_state(&waiting_by, &waiting).await;
    assert_eq!(still["status"], "queued", "{still}");
    // The outcome is where it always was.
    let mine: Value = decided_by
        .get(app.url("/api/v1/enrollments"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(mine.as_array().unwrap().len(), 1, "{mine}");
    assert_eq!(
        expire_decided(&mut redis, course, day, Some(later))
            .await
            .unwrap(),
        0
    );
}
