//! Delayed release: a seat given back with nobody waiting for it reopens to
//! the queue only after a random delay within the configured range (the
//! clock handed in, not waited for), unannounced; both moments audited.

use chrono::{DateTime, Duration as Span, Utc};
use enroll_server::config::Options;
use reqwest::{Client, StatusCode};
use serde_json::{json, Value};

use crate::helpers::{assert_invariants, open_phases, rules_at, start, Spawn, TestApp};

async fn cancel(app: &TestApp, c: &Client, course: i64) {
    let res = c
        .delete(app.url(&format!("/api/v1/enrollments/{course}")))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::NO_CONTENT);
}

async fn release_due(app: &TestApp, now: DateTime<Utc>) -> Vec<i64> {
    let phases = open_phases();
    enroll_server::store::withheld::release_due(&app.db, &rules_at(&phases, now))
        .await
        .unwrap()
        .into_iter()
        .map(|(course, _)| course)
        .collect()
}

async fn app_with_delay() -> TestApp {
    start(Spawn {
        extra: Options {
            release_delay_min_secs: Some(180),
            release_delay_max_secs: Some(600),
            ..Options::default()
        },
        ..Spawn::fresh()
    })
    .await
}

#[tokio::test]
async fn seats_given_back_reopen_only_after_a_delay_in_the_range() {
    let app = app_with_delay().await;
    app.open_window().await;
    app.import_students("D", 6).await;
    let course = app.create_course("DL1", 5, 3, json!([])).await;
    let holders = app.login_many("D", 5).await;
    for i in 0..5 {
        app.force_add(&format!("D{i}"), course).await;
    }
    for c in &holders {
        cancel(&app, c, course).await;
    }
    // Five seats free in the database, none open to the queue.
    let (withheld, enrolled): (i32, i32) =
        sqlx::query_as("SELECT withheld, enrolled FROM courses WHERE id = $1")
            .bind(course)
            .fetch_one(&app.db)
            .await
            .unwrap();
    assert_eq!((withheld, enrolled), (5, 0));
    app.replicas_caught_up().await;
    let shown: Value = Client::new()
        .get(app.url(&format!("/api/v1/courses/{course}")))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(shown["remaining"], 0, "withheld seats are not announced");
    let delays: Vec<(DateTime<Utc>, DateTime<Utc>)> =
        sqlx::query_as("SELECT freed_at, release_at FROM withheld_seats WHERE course_id = $1")
            .bind(course)
            .fetch_all(&app.db)
            .await
            .unwrap();
    assert_eq!(delays.len(), 5);
    for (freed, release) in &delays {
        let d = *release - *freed;
        assert!(d >= Span::seconds(180) && d <= Span::seconds(600), "{d}");
    }
    // A racer meanwhile gets no seat.
    let racer = app.login("D5").await;
    let res = racer
        .post(app.url("/api/v1/enrollments"))
        .json(&json!({"course_id": course}))
        .send()
        .await
        .unwrap();
    if res.status() == StatusCode::ACCEPTED {
        let t: Value = res.json().await.unwrap();
        let t = app
            .wait_decided(&racer, t["ticket"].as_str().unwrap())
            .await;
        assert_eq!(t["reason"], "course_full", "{t}");
    } else {
        assert_eq!(res.status(), StatusCode::CONFLICT);
    }
    // Never earlier than the range...
    let first = delays.iter().map(|d| d.1).min().unwrap();
    assert!(release_due(&app, first - Span::seconds(1)).await.is_empty());
    // ... and all of them once past it.
    let last = delays.iter().map(|d| d.1).max().unwrap();
    assert_eq!(release_due(&app, last).await, vec![course]);
    let withheld: i32 = sqlx::query_scalar("SELECT withheld FROM courses WHERE id = $1")
        .bind(course)
        .fetch_one(&app.db)
        .await
        .unwrap();
    assert_eq!(withheld, 0);
    let audit: Vec<(String, i64)> = sqlx::query_as(
        "SELECT kind, count(*) FROM enrollment_events WHERE course_id = $1 \
         AND kind IN ('seat_withheld', 'seat_released') GROUP BY 1 ORDER BY 1",
    )
    .bind(course)
    .fetch_all(&app.db)
    .await
    .unwrap();
    assert_eq!(
        audit,
        vec![("seat_released".into(), 5), ("seat_withheld".into(), 5)]
    );
    // The seats are the queue's now: the server clears the full flag the
    // racer's rejection left within a tick.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    let res = loop {
        let res = racer
            .post(app.url("/api/v1/enrollments"))
            .json(&json!({"course_id": course}))
            .send()
            .await
            .unwrap();
        if res.status() == StatusCode::ACCEPTED {
            break res;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "the queue never reopened"
        );
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    };
    let t: Value = res.json().await.unwrap();
    let t = app
        .wait_decided(&racer, t["ticket"].as_str().unwrap())
        .await;
    assert_eq!(t["status"], "enrolled", "{t}");
    assert_invariants(&app.db, 18).await;
}

#[tokio::test]
async fn a_waitlist_takes_the_seat_before_any_delay() {
    let app = app_with_delay().await;
    app.open_window().await;
    app.import_students("V", 2).await;
    let course = app.create_course("DL2", 1, 3, json!([])).await;
    let c = app.login_many("V", 2).await;
    app.force_add("V0", course).await;
    let res = c[1]
        .post(app.url("/api/v1/waitlist"))
        .json(&json!({"course_id": course}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::CREATED);
    cancel(&app, &c[0], course).await;
    let (withheld, holder): (i32, Option<String>) = sqlx::query_as(
        "SELECT c.withheld, (SELECT s.student_no FROM enrollments e JOIN students s ON s.id = e.student_id \
         WHERE e.course_id = c.id) FROM courses c WHERE c.id = $1",
    )
    .bind(course)
    .fetch_one(&app.db)
    .await
    .unwrap();
    assert_eq!((withheld, holder), (0, Some("V1".into())));
}

/// A seat held over capacity frees none when it is given back: a seat free
/// for another reason at that moment stays open to the queue.
#[tokio::test]
async fn giving_back_a_seat_over_capacity_withholds_nothing() {
    let app = app_with_delay().await;
    app.open_window().await;
    app.import_students("O", 2).await;
    let course = app.create_course("DL3", 1, 3, json!([])).await;
    app.force_add("O0", course).await;
    let res = app
        .admin_post(
            "/api/v1/admin/enrollments",
            &json!({"student_no": "O1", "course_id": course, "reason": "test", "over_capacity": true}),
        )
        .await;
    assert_eq!(res.status(), StatusCode::CREATED, "{:?}", res.text().await);
    // A seat comes free for another reason: the capacity is raised.
    let res = app
        .admin_patch(
            &format!("/api/v1/admin/courses/{course}"),
            &json!({"capacity": 2}),
        )
        .await;
    assert_eq!(res.status(), StatusCode::OK, "{:?}", res.text().await);
    let over = app.login("O1").await;
    cancel(&app, &over, course).await;
    let (withheld, free): (i32, i32) = sqlx::query_as(
        "SELECT withheld, capacity - reserved - pooled - withheld FROM courses WHERE id = $1",
    )
    .bind(course)
    .fetch_one(&app.db)
    .await
    .unwrap();
    assert_eq!((withheld, free), (0, 1), "the raised seat stays open");
    assert_invariants(&app.db, 18).await;
}
