//! Waitlists: a freed seat goes to the head in the transaction that frees
//! it — enrolled or offered — an ineligible head is skipped with a reason,
//! an offer expires and moves on, and racing enrolls never get the seat.

use chrono::Utc;
use futures::future::join_all;
use reqwest::{Client, StatusCode};
use serde_json::{json, Value};

use crate::events::Events;
use crate::helpers::{
    assert_error, assert_invariants, eventually, open_phases, rules_at, spawn_app, TestApp,
};

async fn join(app: &TestApp, c: &Client, course: i64) -> reqwest::Response {
    c.post(app.url("/api/v1/waitlist"))
        .json(&json!({"course_id": course}))
        .send()
        .await
        .unwrap()
}

async fn cancel(app: &TestApp, c: &Client, course: i64) -> StatusCode {
    c.delete(app.url(&format!("/api/v1/enrollments/{course}")))
        .send()
        .await
        .unwrap()
        .status()
}

async fn places(app: &TestApp, c: &Client) -> Value {
    c.get(app.url("/api/v1/waitlist"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap()
}

async fn holders(app: &TestApp, course: i64) -> Vec<(String, bool)> {
    sqlx::query_as(
        "SELECT s.student_no, e.offer_expires_at IS NOT NULL FROM enrollments e \
         JOIN students s ON s.id = e.student_id WHERE e.course_id = $1 ORDER BY 1",
    )
    .bind(course)
    .fetch_all(&app.db)
    .await
    .unwrap()
}

async fn kinds(app: &TestApp, course: i64) -> Vec<(String, Option<String>)> {
    sqlx::query_as(
        "SELECT kind, reason FROM enrollment_events WHERE course_id = $1 \
         AND kind LIKE 'waitlist%' OR course_id = $1 AND kind LIKE 'offer%' ORDER BY id",
    )
    .bind(course)
    .fetch_all(&app.db)
    .await
    .unwrap()
}

#[tokio::test]
async fn a_freed_seat_goes_to_the_head_and_an_ineligible_head_is_skipped() {
    let app = spawn_app().await;
    app.open_window().await;
    app.import_students("W", 4).await;
    let course = app.create_course("WL1", 1, 3, json!([])).await;
    let heavy = app.create_course("WL2", 5, 16, json!([])).await;
    let c = app.login_many("W", 4).await;
    // A seat is left: enroll instead.
    assert_error(
        join(&app, &c[1], course).await,
        StatusCode::CONFLICT,
        "seats_left",
    )
    .await;
    app.force_add("W0", course).await;
    assert_error(
        join(&app, &c[0], course).await,
        StatusCode::CONFLICT,
        "already_enrolled",
    )
    .await;
    for (i, want) in [(1, 1), (2, 2), (3, 3)] {
        let res = join(&app, &c[i], course).await;
        assert_eq!(res.status(), StatusCode::CREATED);
        assert_eq!(res.json::<Value>().await.unwrap()["position"], want);
    }
    assert_error(
        join(&app, &c[1], course).await,
        StatusCode::CONFLICT,
        "already_waitlisted",
    )
    .await;
    // W1, the head, now holds 16 credits: 3 more would pass the limit.
    app.force_add("W1", heavy).await;
    let mut w1 = Events::open(&app, &c[1]).await;
    let mut w2 = Events::open(&app, &c[2]).await;
    assert_eq!(cancel(&app, &c[0], course).await, StatusCode::NO_CONTENT);
    // Both are told over their event streams.
    let (name, skipped) = w1.next().await.unwrap();
    assert_eq!(name, "waitlist");
    assert_eq!(
        skipped,
        json!({"course_id": course, "status": "skipped", "reason": "credit_limit"})
    );
    let (name, enrolled) = w2.next().await.unwrap();
    assert_eq!(
        (name.as_str(), enrolled),
        (
            "waitlist",
            json!({"course_id": course, "status": "enrolled"})
        )
    );
    // In the same transaction: W1 skipped with the reason, W2 enrolled.
    assert_eq!(holders(&app, course).await, vec![("W2".into(), false)]);
    let moved = kinds(&app, course).await;
    assert!(
        moved.contains(&("waitlist_skipped".into(), Some("credit_limit".into()))),
        "{moved:?}"
    );
    assert!(
        moved.contains(&("waitlist_promoted".into(), None)),
        "{moved:?}"
    );
    // Counted on the instance that moved them; the list's length is read
    // from the database every few seconds.
    let moves = "enroll_waitlist_moves_total{outcome=";
    assert_eq!(app.metric(&format!("{moves}\"enrolled\"}}")).await, 1.0);
    assert_eq!(app.metric(&format!("{moves}\"skipped\"}}")).await, 1.0);
    eventually(
        std::time::Duration::from_secs(10),
        "the waitlist gauge",
        || async { app.metric("enroll_waitlist_students ").await == 1.0 },
    )
    .await;
    let w3 = places(&app, &c[3]).await;
    assert_eq!(w3["items"][0]["position"], 1, "{w3}");
    assert!(places(&app, &c[1]).await["items"]
        .as_array()
        .unwrap()
        .is_empty());
    // Leaving the list.
    let res = c[3]
        .delete(app.url(&format!("/api/v1/waitlist/{course}")))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::NO_CONTENT);
    let res = c[3]
        .delete(app.url(&format!("/api/v1/waitlist/{course}")))
        .send()
        .await
        .unwrap();
    assert_error(res, StatusCode::NOT_FOUND, "not_waitlisted").await;
    assert_invariants(&app.db, 18).await;
}

/// Promotion reads the list a window at a time: when every head of the
/// first window is ruled out, the seat still goes to the first one behind
/// them who may take it, not to the queue.
#[tokio::test]
async fn a_freed_seat_passes_a_whole_window_of_ruled_out_heads() {
    let app = spawn_app().await;
    app.open_window().await;
    let n = 18;
    app.import_students("X", n).await;
    let course = app.create_course("WX1", 1, 3, json!([])).await;
    let heavy = app.create_course("WX2", 20, 16, json!([])).await;
    let c = app.login_many("X", n).await;
    app.force_add("X0", course).await;
    for (i, client) in c.iter().enumerate().skip(1) {
        assert_eq!(
            join(&app, client, course).await.status(),
            StatusCode::CREATED
        );
        // The first 16 heads hold 16 credits: 3 more pass the limit.
        if i <= 16 {
            app.force_add(&format!("X{i}"), heavy).await;
        }
    }
    assert_eq!(cancel(&app, &c[0], course).await, StatusCode::NO_CONTENT);
    assert_eq!(holders(&app, course).await, vec![("X17".into(), false)]);
    let moved = kinds(&app, course).await;
    let skipped = moved
        .iter()
        .filter(|k| *k == &("waitlist_skipped".into(), Some("credit_limit".into())))
        .count();
    assert_eq!(skipped, 16, "{moved:?}");
    assert!(places(&app, &c[17]).await["items"]
        .as_array()
        .unwrap()
        .is_empty());
    assert_invariants(&app.db, 18).await;
}

#[tokio::test]
async fn an_offer_is_accepted_or_expires_and_moves_on() {
    let app = spawn_app().await;
    app.open_window().await;
    app.import_students("O", 4).await;
    let course = app.create_course("OF1", 1, 3, json!([])).await;
    let res = app
        .admin_patch(
            &format!("/api/v1/admin/courses/{course}"),
            &json!({"waitlist": {"mode": "offer", "offer_minutes": 30}}),
        )
        .await;
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(res.json::<Value>().await.unwrap()["waitlist_mode"], "offer");
    let c = app.login_many("O", 4).await;
    app.force_add("O0", course).await;
    for client in &c[1..] {
        assert_eq!(
            join(&app, client, course).await.status(),
            StatusCode::CREATED
        );
    }
    assert_eq!(cancel(&app, &c[0], course).await, StatusCode::NO_CONTENT);
    // Offered to O1: the seat is held for them, not yet theirs.
    assert_eq!(holders(&app, course).await, vec![("O1".into(), true)]);
    let mine = places(&app, &c[1]).await;
    assert!(mine["items"][0]["offer_expires_at"].is_string(), "{mine}");
    let res = c[1]
        .post(app.url(&format!("/api/v1/waitlist/{course}/accept")))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::NO_CONTENT);
    assert_eq!(holders(&app, course).await, vec![("O1".into(), false)]);
    let res = c[2]
        .post(app.url(&format!("/api/v1/waitlist/{course}/accept")))
        .send()
        .await
        .unwrap();
    assert_error(res, StatusCode::NOT_FOUND, "no_offer").await;

    // O1 gives the seat back: offered to O2, who lets it expire (the
    // clock handed in), so it moves on to O3.
    assert_eq!(cancel(&app, &c[1], course).await, StatusCode::NO_CONTENT);
    assert_eq!(holders(&app, course).await, vec![("O2".into(), true)]);
    let phases = open_phases();
    let rules = |now| rules_at(&phases, now);
    let early = enroll_server::store::offers::expire_due(&app.db, &rules(Utc::now()))
        .await
        .unwrap();
    assert!(early.is_empty());
    assert_eq!(
        holders(&app, course).await,
        vec![("O2".into(), true)],
        "not before its deadline"
    );
    let later = Utc::now() + chrono::Duration::minutes(31);
    let moved = enroll_server::store::offers::expire_due(&app.db, &rules(later))
        .await
        .unwrap();
    assert_eq!(moved.len(), 1);
    assert_eq!(moved[0].1.left, 0, "the seat went to O3, not the queue");
    assert_eq!(holders(&app, course).await, vec![("O3".into(), true)]);
    let res = c[2]
        .post(app.url(&format!("/api/v1/waitlist/{course}/accept")))
        .send()
        .await
        .unwrap();
    assert_error(res, StatusCode::NOT_FOUND, "no_offer").await;
    // O3 declines: nobody is left, the seat goes back to the queue.
    let res = c[3]
        .post(app.url(&format!("/api/v1/waitlist/{course}/decline")))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::NO_CONTENT);
    assert!(holders(&app, course).await.is_empty());
    let trail: Vec<String> = kinds(&app, course).await.into_iter().map(|k| k.0).collect();
    assert!(
        trail.ends_with(&[
            "offer_made".into(),
            "offer_expired".into(),
            "offer_made".into(),
            "offer_declined".into()
        ]),
        "{trail:?}"
    );
    assert_invariants(&app.db, 18).await;
}

#[tokio::test]
async fn racing_enrolls_never_take_a_seat_the_waitlist_is_owed() {
    let app = spawn_app().await;
    app.open_window().await;
    app.import_students("H", 3).await;
    app.import_students("Q", 3).await;
    app.import_students("R", 20).await;
    let course = app.create_course("RC1", 3, 3, json!([])).await;
    for i in 0..3 {
        app.force_add(&format!("H{i}"), course).await;
    }
    let holders_c = app.login_many("H", 3).await;
    let waiting = app.login_many("Q", 3).await;
    for c in &waiting {
        assert_eq!(join(&app, c, course).await.status(), StatusCode::CREATED);
    }
    let racers = app.login_many("R", 20).await;
    // Three cancels and twenty enrolls at once.
    let cancels = join_all(holders_c.iter().map(|c| cancel(&app, c, course)));
    let enrolls = join_all(racers.iter().map(|c| {
        c.post(app.url("/api/v1/enrollments"))
            .json(&json!({"course_id": course}))
            .send()
    }));
    let (cancelled, tickets) = futures::join!(cancels, enrolls);
    assert!(cancelled.iter().all(|s| *s == StatusCode::NO_CONTENT));
    // Every racer's ticket (if it got one) is decided without a seat.
    for (c, res) in racers.iter().zip(tickets) {
        let res = res.unwrap();
        if res.status() == StatusCode::ACCEPTED {
            let t: Value = res.json().await.unwrap();
            let t = app.wait_decided(c, t["ticket"].as_str().unwrap()).await;
            assert_eq!(t["status"], "rejected", "{t}");
        }
    }
    let got: Vec<String> = holders(&app, course)
        .await
        .into_iter()
        .map(|h| h.0)
        .collect();
    assert_eq!(got, ["Q0", "Q1", "Q2"]);
    assert_invariants(&app.db, 18).await;
}
