//! Admission as operators see it: leases, the pause switch, queue gauges.

use std::collections::HashMap;
use std::time::Duration;

use enroll_server::config::Options;
use redis::AsyncCommands;
use reqwest::StatusCode;
use serde_json::{json, Value};

use crate::enroll::{enroll_ok, statuses};
use crate::helpers::{assert_error, eventually, spawn_app, start, Spawn};

#[tokio::test]
async fn a_dead_workers_lease_is_taken_over_after_it_expires() {
    let app = start(Spawn {
        extra: Options {
            admission_lease_ms: Some(300),
            ..Options::default()
        },
        ..Spawn::fresh()
    })
    .await;
    app.import_students("W", 3).await;
    let course = app.create_course("LEASE1", 2, 3, json!([])).await;
    app.open_window().await;
    // A worker "died" holding the lease in the middle of a batch.
    let mut redis = app.redis().await;
    let _: () = redis
        .pset_ex(format!("lease:{{c{course}}}"), "dead-worker", 400)
        .await
        .unwrap();
    let _: () = redis
        .set(format!("claim:{{c{course}}}"), "dead-worker")
        .await
        .unwrap();

    let clients = app.login_many("W", 3).await;
    let mut tickets = Vec::new();
    for c in &clients {
        tickets.push(enroll_ok(&app, c, course).await); // in a known order
    }
    let finals = app.wait_all_decided(&clients, &tickets).await;
    assert_eq!(
        statuses(&finals),
        ["enrolled", "enrolled", "rejected"],
        "queue order kept across the takeover"
    );
    eventually(Duration::from_secs(5), "takeover counted", || async {
        app.metric("enroll_admission_lease_takeovers_total").await == 1.0
    })
    .await;
}

/// An admin pauses admission: tickets keep queueing in arrival order and
/// nothing is decided, on every poll of the runner; resuming decides them in
/// that order.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn paused_admission_queues_without_deciding_until_resumed() {
    let app = spawn_app().await;
    app.import_students("P", 3).await;
    let course = app.create_course("PAUSE1", 2, 3, json!([])).await;
    app.open_window().await;

    let res = reqwest::Client::new()
        .put(app.url("/api/v1/admin/admission"))
        .json(&json!({"paused": true}))
        .send()
        .await
        .unwrap();
    assert_error(res, StatusCode::UNAUTHORIZED, "admin_token_required").await;
    let res = app
        .admin_put("/api/v1/admin/admission", &json!({"paused": true}))
        .await;
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(res.json::<Value>().await.unwrap()["paused"], true);
    eventually(
        Duration::from_secs(5),
        "the runner sees the pause",
        || async { app.metric("enroll_admission_paused").await == 1.0 },
    )
    .await;

    let clients = app.login_many("P", 3).await;
    let mut tickets = Vec::new();
    for c in &clients {
        tickets.push(enroll_ok(&app, c, course).await);
    }
    // Students are told their place and that admission is paused, not an
    // ETA that would pass without anything happening.
    for t in &tickets {
        assert_eq!(t["admission_paused"], true, "{t}");
        assert!(t.get("eta_ms").is_none(), "{t}");
    }
    // Several full polls of the runner later, still nothing decided.
    let scans = app.metric("enroll_admission_scans_total").await;
    eventually(
        Duration::from_secs(5),
        "three more runner polls",
        || async { app.metric("enroll_admission_scans_total").await >= scans + 3.0 },
    )
    .await;
    for (i, (c, t)) in clients.iter().zip(&tickets).enumerate() {
        let now = app.ticket_state(c, t["ticket"].as_str().unwrap()).await;
        assert_eq!(now["status"], "queued", "{now}");
        assert_eq!(now["position"], i + 1, "{now}");
        assert_eq!(now["admission_paused"], true, "{now}");
        assert!(now.get("eta_ms").is_none(), "{now}");
    }
    let rows: i64 = sqlx::query_scalar("SELECT count(*) FROM enrollments")
        .fetch_one(&app.db)
        .await
        .unwrap();
    assert_eq!(rows, 0);
    let shown: Value = app
        .admin(
            reqwest::Method::GET,
            "/api/v1/admin/admission",
            &json!(null),
        )
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(shown["paused"], true);

    let wall_ms = || {
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_millis() as i64
    };
    let resumed_ms = wall_ms();
    let res = app
        .admin_put("/api/v1/admin/admission", &json!({"paused": false}))
        .await;
    assert_eq!(res.json::<Value>().await.unwrap()["paused"], false);
    let finals = app.wait_all_decided(&clients, &tickets).await;
    // Each decided ticket carries when it was decided (Redis's clock, this
    // machine's): after the resume, before now.
    let stored: HashMap<String, String> = app
        .redis()
        .await
        .hgetall(format!("tk:{{c{course}}}"))
        .await
        .unwrap();
    let done_ms = wall_ms();
    assert_eq!(stored.len(), 3);
    for value in stored.values() {
        let decided_ms: i64 = value.rsplit('|').next().unwrap().parse().unwrap();
        assert!(
            (resumed_ms..=done_ms).contains(&decided_ms),
            "{value}: decided at {decided_ms}, resumed {resumed_ms}, done {done_ms}"
        );
    }
    assert_eq!(
        statuses(&finals),
        ["enrolled", "enrolled", "rejected"],
        "arrival order kept"
    );
    assert_eq!(finals[2]["reason"], "course_full");
    assert!(finals.iter().all(|f| f.get("admission_paused").is_none()));
    assert_eq!(app.metric("enroll_admission_paused").await, 0.0);
}

/// `enroll_queue_length` shows every waiting course, also while every
/// admission connection is busy (the courses left over wait their turn but
/// are still measured: the backlog alert and the dashboard read it).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn queue_gauges_cover_every_course_while_admission_is_saturated() {
    let mut spec = Spawn::fresh();
    spec.extra = Options {
        admission_connections: Some(1),
        ..Default::default()
    };
    let app = start(spec).await;
    app.import_students("Q", 4).await;
    let courses = [
        app.create_course("QA1", 10, 3, json!([])).await,
        app.create_course("QB1", 10, 3, json!([])).await,
        app.create_course("QC1", 10, 3, json!([])).await,
    ];
    app.open_window().await;
    let clients = app.login_many("Q", 4).await;
    // The first course's drain takes the only admission connection and waits
    // on this lock.
    let blocker = app.hold_course_lock(courses[0]).await;
    enroll_ok(&app, &clients[0], courses[0]).await;
    app.wait_for_a_lock_waiter().await;
    // Now 1 and 2 students wait for the other courses, whose batches wait
    // behind the blocked transaction for the only connection; their queues
    // must still be measured.
    enroll_ok(&app, &clients[1], courses[1]).await;
    enroll_ok(&app, &clients[2], courses[2]).await;
    enroll_ok(&app, &clients[3], courses[2]).await;
    let gauge = |course: i64| {
        let app = &app;
        async move {
            app.metric(&format!("enroll_queue_length{{course=\"{course}\"}}"))
                .await
        }
    };
    eventually(Duration::from_secs(10), "every queue measured", || async {
        gauge(courses[0]).await == 1.0
            && gauge(courses[1]).await == 1.0
            && gauge(courses[2]).await == 2.0
    })
    .await;
    blocker.rollback().await.unwrap();
    eventually(Duration::from_secs(10), "all four decided", || async {
        sqlx::query_scalar::<_, i64>("SELECT count(*) FROM enrollments")
            .fetch_one(&app.db)
            .await
            .unwrap()
            == 4
    })
    .await;
}
