//! Reserved seats: blocks fill independently of the open pool, release
//! their unused seats at `release_at`, never oversell under concurrent
//! admission, and refuse changes that would take seats back.

use chrono::{Duration as Span, Utc};
use futures::future::join_all;
use reqwest::{Client, StatusCode};
use serde_json::{json, Value};
use std::time::Duration;

use crate::helpers::{
    assert_error, assert_invariants, eventually, open_phases, rules_at, spawn_app, TestApp,
};
use crate::phases::import_cohort;

async fn enroll(app: &TestApp, client: &Client, course: i64) -> Value {
    let res = client
        .post(app.url("/api/v1/enrollments"))
        .json(&json!({"course_id": course}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::ACCEPTED, "{:?}", res.text().await);
    res.json().await.unwrap()
}

async fn enroll_decided(app: &TestApp, client: &Client, course: i64) -> Value {
    let t = enroll(app, client, course).await;
    app.wait_decided(client, t["ticket"].as_str().unwrap())
        .await
}

/// The course as `client` sees it (from a replica, caught up first).
async fn course_as(app: &TestApp, client: &Client, course: i64) -> Value {
    app.replicas_caught_up().await;
    let res = client
        .get(app.url(&format!("/api/v1/courses/{course}")))
        .send()
        .await
        .unwrap();
    res.json().await.unwrap()
}

/// Releases the blocks due at `now` (a clock handed in, not waited for).
async fn release_due(app: &TestApp, now: chrono::DateTime<Utc>) -> Vec<i64> {
    let phases = open_phases();
    enroll_server::store::blocks::release_due(&app.db, &rules_at(&phases, now))
        .await
        .unwrap()
        .into_iter()
        .map(|(course, _)| course)
        .collect()
}

async fn reserve(app: &TestApp, course: i64, blocks: Value) -> reqwest::Response {
    app.admin_patch(
        &format!("/api/v1/admin/courses/{course}"),
        &json!({"reserved": blocks}),
    )
    .await
}

#[tokio::test]
async fn majors_and_others_fill_their_own_seats() {
    let app = spawn_app().await;
    app.open_window().await;
    let cs: Vec<String> = (0..3).map(|i| format!("CS{i}")).collect();
    let ee: Vec<String> = (0..3).map(|i| format!("EE{i}")).collect();
    let mut people: Vec<(&str, i64, &str)> = cs.iter().map(|n| (n.as_str(), 2, "CS")).collect();
    people.extend(ee.iter().map(|n| (n.as_str(), 2, "EE")));
    import_cohort(&app, &people).await;
    let course = app.create_course("BL1", 4, 3, json!([])).await;
    let res = reserve(
        &app,
        course,
        json!([{"name": "CS majors", "seats": 2, "departments": ["CS"]}]),
    )
    .await;
    assert_eq!(res.status(), StatusCode::OK, "{:?}", res.text().await);
    let c: Value = res.json().await.unwrap();
    assert_eq!(
        (c["reserved"].clone(), c["remaining"].clone()),
        (json!(2), json!(4))
    );

    let ee_clients = join_all(ee.iter().map(|n| app.login(n))).await;
    let cs_clients = join_all(cs.iter().map(|n| app.login(n))).await;
    // The others take the open pool (2 seats); the third finds it gone
    // though two reserved seats are left.
    assert_eq!(
        course_as(&app, &ee_clients[0], course).await["remaining_for_you"],
        2
    );
    assert_eq!(
        course_as(&app, &cs_clients[0], course).await["remaining_for_you"],
        4
    );
    for (i, c) in ee_clients.iter().enumerate() {
        let t = enroll_decided(&app, c, course).await;
        let want = if i < 2 { "enrolled" } else { "rejected" };
        assert_eq!(t["status"], want, "EE{i}: {t}");
    }
    let seen = course_as(&app, &ee_clients[2], course).await;
    assert_eq!(
        (seen["remaining"].clone(), seen["remaining_for_you"].clone()),
        (json!(2), json!(0))
    );
    assert!(Client::new()
        .get(app.url(&format!("/api/v1/courses/{course}")))
        .send()
        .await
        .unwrap()
        .json::<Value>()
        .await
        .unwrap()
        .get("remaining_for_you")
        .is_none());
    // The majors take their block, and the third finds nothing left.
    for c in &cs_clients[..2] {
        assert_eq!(enroll_decided(&app, c, course).await["status"], "enrolled");
    }
    // The course is full now: refused at the door.
    let res = cs_clients[2]
        .post(app.url("/api/v1/enrollments"))
        .json(&json!({"course_id": course}))
        .send()
        .await
        .unwrap();
    assert_error(res, StatusCode::CONFLICT, "course_full").await;
    let blocks: Vec<(String, Option<String>)> = sqlx::query_as(
        "SELECT s.department, e.block FROM enrollments e JOIN students s ON s.id = e.student_id \
         WHERE e.course_id = $1 ORDER BY 1",
    )
    .bind(course)
    .fetch_all(&app.db)
    .await
    .unwrap();
    let majors = Some("CS majors".to_string());
    assert_eq!(
        blocks,
        vec![
            ("CS".into(), majors.clone()),
            ("CS".into(), majors),
            ("EE".into(), None),
            ("EE".into(), None)
        ]
    );
    assert_invariants(&app.db, 21).await;
}

#[tokio::test]
async fn a_block_releases_its_unused_seats_at_its_time() {
    let app = spawn_app().await;
    app.open_window().await;
    import_cohort(&app, &[("R1", 1, "EE"), ("R2", 1, "EE")]).await;
    let course = app.create_course("BL2", 2, 3, json!([])).await;
    let later = Utc::now() + Span::hours(1);
    let res = reserve(
        &app,
        course,
        json!([{"name": "CS", "seats": 1, "departments": ["CS"], "release_at": later}]),
    )
    .await;
    assert_eq!(res.status(), StatusCode::OK);
    let r1 = app.login("R1").await;
    let r2 = app.login("R2").await;
    assert_eq!(
        enroll_decided(&app, &r1, course).await["status"],
        "enrolled"
    );
    assert_eq!(
        enroll_decided(&app, &r2, course).await["status"],
        "rejected"
    );
    // Not before its time (the clock handed in, not waited for) ...
    let released = release_due(&app, Utc::now()).await;
    assert!(released.is_empty());
    // ... and at it: the seat joins the open pool, recorded once.
    let released = release_due(&app, later + Span::seconds(1)).await;
    assert_eq!(released, vec![course]);
    let again = release_due(&app, later + Span::hours(1)).await;
    assert!(again.is_empty(), "released once");
    let events: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM enrollment_events WHERE kind = 'block_released' AND course_id = $1 \
         AND detail->>'seats_freed' = '1' AND actor_kind = 'system'",
    )
    .bind(course)
    .fetch_one(&app.db)
    .await
    .unwrap();
    assert_eq!(events, 1);
    let c = course_as(&app, &r2, course).await;
    assert_eq!(
        (c["reserved"].clone(), c["remaining_for_you"].clone()),
        (json!(0), json!(1))
    );
    assert_eq!(
        enroll_decided(&app, &r2, course).await["status"],
        "enrolled"
    );

    // A block already due is released by the server itself within a tick.
    let other = app.create_course("BL3", 3, 3, json!([])).await;
    let past = Utc::now() - Span::minutes(1);
    let res = reserve(
        &app,
        other,
        json!([{"name": "CS", "seats": 2, "release_at": past}]),
    )
    .await;
    assert_eq!(res.status(), StatusCode::OK);
    eventually(
        Duration::from_secs(10),
        "the due block released",
        || async {
            let c = course_as(&app, &r1, other).await;
            c["reserved"] == 0 && c["blocks"][0]["released_at"].is_string()
        },
    )
    .await;
    assert_invariants(&app.db, 21).await;
}

#[tokio::test]
async fn changes_that_would_take_seats_back_are_refused_and_nothing_changes() {
    let app = spawn_app().await;
    app.open_window().await;
    import_cohort(&app, &[("C1", 1, "CS"), ("E1", 1, "EE"), ("E2", 1, "EE")]).await;
    let course = app.create_course("BL4", 4, 3, json!([])).await;
    let res = reserve(
        &app,
        course,
        json!([{"name": "CS", "seats": 2, "departments": ["CS"]}]),
    )
    .await;
    assert_eq!(res.status(), StatusCode::OK);
    for who in ["C1", "E1", "E2"] {
        let c = app.login(who).await;
        assert_eq!(
            enroll_decided(&app, &c, course).await["status"],
            "enrolled",
            "{who}"
        );
    }
    let before: Value = app
        .admin(
            reqwest::Method::GET,
            &format!("/api/v1/admin/courses/{course}/roster"),
            &json!(null),
        )
        .await
        .json()
        .await
        .unwrap();
    for (blocks, code) in [
        (
            json!([{"name": "CS", "seats": 0, "departments": ["CS"]}]),
            "block_below_enrolled",
        ),
        (json!([]), "block_in_use"),
        // The pool gave both its seats to EE; reserving a third takes one back.
        (
            json!([{"name": "CS", "seats": 3, "departments": ["CS"]}]),
            "reserved_seats_taken",
        ),
        (
            json!([{"name": "CS", "seats": 2, "departments": ["CS"]}, {"name": "X", "seats": 5}]),
            "reserved_over_capacity",
        ),
    ] {
        assert_error(
            reserve(&app, course, blocks).await,
            StatusCode::CONFLICT,
            code,
        )
        .await;
    }
    let res = reserve(
        &app,
        course,
        json!([{"name": "a", "seats": 1}, {"name": "a", "seats": 1}]),
    )
    .await;
    assert_error(res, StatusCode::UNPROCESSABLE_ENTITY, "invalid_block").await;
    let after: Value = app
        .admin(
            reqwest::Method::GET,
            &format!("/api/v1/admin/courses/{course}/roster"),
            &json!(null),
        )
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(
        before["course"], after["course"],
        "the last good state kept"
    );
    // A refused change leaves no audit row; a good one leaves one, with
    // what was and what is.
    let res = reserve(
        &app,
        course,
        json!([{"name": "CS", "seats": 1, "departments": ["CS"]}]),
    )
    .await;
    assert_eq!(res.status(), StatusCode::OK);
    let detail: Vec<Value> = sqlx::query_scalar(
        "SELECT detail FROM enrollment_events WHERE kind = 'course_changed' AND course_id = $1 ORDER BY id",
    )
    .bind(course)
    .fetch_all(&app.db)
    .await
    .unwrap();
    assert_eq!(detail.len(), 2, "the first reservation and this one");
    assert_eq!(detail[1]["before"]["blocks"][0]["seats"], 2);
    assert_eq!(detail[1]["after"]["blocks"][0]["seats"], 1);
    assert_invariants(&app.db, 21).await;
}

#[tokio::test]
async fn concurrent_admission_across_blocks_never_oversells_and_audits_every_decision() {
    let app = spawn_app().await;
    app.open_window().await;
    let names: Vec<(String, &str)> = (0..60)
        .map(|i| (format!("M{i}"), ["CS", "EE", "ME"][i % 3]))
        .collect();
    let people: Vec<(&str, i64, &str)> = names
        .iter()
        .map(|(n, d)| (n.as_str(), 1 + (n.len() as i64 % 4), *d))
        .collect();
    import_cohort(&app, &people).await;
    let mut courses = Vec::new();
    for code in ["BX1", "BX2"] {
        let c = app.create_course(code, 20, 3, json!([])).await;
        let res = reserve(
            &app,
            c,
            json!([
                {"name": "CS", "seats": 5, "departments": ["CS"]},
                {"name": "EE seniors", "seats": 3, "departments": ["EE"], "years": [2, 3, 4]},
            ]),
        )
        .await;
        assert_eq!(res.status(), StatusCode::OK);
        courses.push(c);
    }
    let clients = join_all(names.iter().map(|(n, _)| app.login(n))).await;
    let app = &app;
    let tickets = join_all(
        clients
            .iter()
            .flat_map(|c| courses.iter().map(move |&course| enroll(app, c, course))),
    )
    .await;
    let owners: Vec<Client> = clients
        .iter()
        .flat_map(|c| [c.clone(), c.clone()])
        .collect();
    let decided = app.wait_all_decided(&owners, &tickets).await;
    let enrolled = decided.iter().filter(|t| t["status"] == "enrolled").count();
    assert_eq!(enrolled, 40, "every seat of both courses, no more");
    assert_invariants(&app.db, 21).await;
    // One audit row per decision, each naming its ticket; the seats'
    // blocks agree with the rows.
    let rows: Vec<(String, String, Option<String>)> = sqlx::query_as(
        "SELECT ticket, kind, block FROM enrollment_events WHERE kind IN ('enrolled', 'rejected')",
    )
    .fetch_all(&app.db)
    .await
    .unwrap();
    assert_eq!(rows.len(), decided.len());
    for t in &decided {
        let row = rows
            .iter()
            .find(|r| r.0 == t["ticket"].as_str().unwrap())
            .expect("audited");
        assert_eq!(row.1, t["status"].as_str().unwrap());
    }
    let mismatched: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM enrollments e LEFT JOIN enrollment_events v \
         ON v.ticket = e.ticket AND v.kind = 'enrolled' AND v.block IS NOT DISTINCT FROM e.block \
         WHERE v.id IS NULL",
    )
    .fetch_one(&app.db)
    .await
    .unwrap();
    assert_eq!(mismatched, 0);
}
