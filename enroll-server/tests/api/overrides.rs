//! The registrar's overrides and the audit trail: force-add (beyond the
//! capacity only with the flag and a reason), force-drop, every change
//! recorded once with who, why and from where, and each student's own
//! history.

use reqwest::{Client, Method, StatusCode};
use serde_json::{json, Value};

use crate::helpers::{assert_error, assert_invariants, spawn_app, TestApp};
use crate::phases::import_cohort;

async fn add(app: &TestApp, body: Value) -> reqwest::Response {
    app.admin_post("/api/v1/admin/enrollments", &body).await
}

async fn drop_seat(
    app: &TestApp,
    student_no: &str,
    course: i64,
    reason: &str,
) -> reqwest::Response {
    let path = format!("/api/v1/admin/enrollments/{student_no}/{course}");
    Client::new()
        .delete(app.url(&path))
        .query(&[("reason", reason)])
        .bearer_auth(crate::helpers::ADMIN_TOKEN)
        .send()
        .await
        .unwrap()
}

async fn trail(app: &TestApp, query: &str) -> Value {
    let res = app
        .admin(
            Method::GET,
            &format!("/api/v1/admin/audit?{query}"),
            &json!(null),
        )
        .await;
    assert_eq!(res.status(), StatusCode::OK);
    res.json().await.unwrap()
}

#[tokio::test]
async fn force_add_goes_beyond_capacity_only_when_asked_with_a_reason() {
    let app = spawn_app().await;
    app.open_window().await;
    import_cohort(&app, &[("F1", 2, "CS"), ("F2", 2, "EE"), ("F3", 2, "EE")]).await;
    let course = app.create_course("OV1", 1, 3, json!([])).await;
    let res = add(
        &app,
        json!({"student_no": "F1", "course_id": course, "reason": "advisor approved"}),
    )
    .await;
    assert_eq!(res.status(), StatusCode::CREATED);
    let body: Value = res.json().await.unwrap();
    assert_eq!(
        (body["over_capacity"].clone(), body["block"].clone()),
        (json!(false), json!(null))
    );
    // Full now: not without the flag, not without a reason.
    let res = add(
        &app,
        json!({"student_no": "F2", "course_id": course, "reason": "thesis"}),
    )
    .await;
    assert_error(res, StatusCode::CONFLICT, "course_full").await;
    let res = add(
        &app,
        json!({"student_no": "F2", "course_id": course, "reason": "  ", "over_capacity": true}),
    )
    .await;
    assert_error(res, StatusCode::UNPROCESSABLE_ENTITY, "reason_required").await;
    let res = add(
        &app,
        json!({"student_no": "F2", "course_id": course, "over_capacity": true}),
    )
    .await;
    assert_error(res, StatusCode::UNPROCESSABLE_ENTITY, "invalid_body").await;
    let res = add(&app, json!({"student_no": "F2", "course_id": course, "reason": "graduating", "over_capacity": true})).await;
    assert_eq!(res.status(), StatusCode::CREATED);
    let body: Value = res.json().await.unwrap();
    assert_eq!(body["over_capacity"], true);
    let res = add(
        &app,
        json!({"student_no": "F2", "course_id": course, "reason": "again"}),
    )
    .await;
    assert_error(res, StatusCode::CONFLICT, "already_enrolled").await;
    for (body, code) in [
        (
            json!({"student_no": "NOPE", "course_id": course, "reason": "r"}),
            "student_not_found",
        ),
        (
            json!({"student_no": "F3", "course_id": 999999, "reason": "r"}),
            "course_not_found",
        ),
    ] {
        assert_error(add(&app, body).await, StatusCode::NOT_FOUND, code).await;
    }
    // The seat beyond capacity takes nobody's: the course shows it apart.
    app.replicas_caught_up().await;
    let c: Value = Client::new()
        .get(app.url(&format!("/api/v1/courses/{course}")))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(
        (
            c["enrolled"].clone(),
            c["over_capacity"].clone(),
            c["remaining"].clone()
        ),
        (json!(1), json!(1), json!(0))
    );
    let t = trail(&app, &format!("course_id={course}")).await;
    let adds: Vec<&Value> = t["items"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["kind"] == "force_added")
        .collect();
    assert_eq!(adds.len(), 2, "{t}");
    assert_eq!(adds[1]["student_no"], "F2");
    assert_eq!(adds[1]["reason"], "graduating");
    assert_eq!(adds[1]["detail"]["over_capacity"], true);
    assert_eq!(adds[1]["actor_kind"], "admin");
    assert_eq!(adds[1]["source_addr"], "127.0.0.1");
    assert!(adds[1]["actor"].is_string());
    assert_invariants(&app.db, 21).await;
}

#[tokio::test]
async fn force_drop_frees_the_seat_for_the_line_and_everything_is_in_the_history() {
    let app = spawn_app().await;
    app.open_window().await;
    import_cohort(&app, &[("D1", 1, "CS"), ("D2", 1, "CS")]).await;
    let course = app.create_course("OV2", 1, 3, json!([])).await;
    let d1 = app.login("D1").await;
    let d2 = app.login("D2").await;
    let enroll = |c: Client| {
        let app = &app;
        async move {
            let res = c
                .post(app.url("/api/v1/enrollments"))
                .json(&json!({"course_id": course}))
                .send()
                .await
                .unwrap();
            assert_eq!(res.status(), StatusCode::ACCEPTED);
            let t: Value = res.json().await.unwrap();
            t["ticket"].as_str().unwrap().to_string()
        }
    };
    // Both in line before anything is decided: D1 wins, D2 is rejected.
    let pause = |paused: bool| {
        let app = &app;
        async move {
            app.admin_put("/api/v1/admin/admission", &json!({"paused": paused}))
                .await
        }
    };
    assert_eq!(pause(true).await.status(), StatusCode::OK);
    let (t1, t2) = (enroll(d1.clone()).await, enroll(d2.clone()).await);
    assert_eq!(pause(false).await.status(), StatusCode::OK);
    assert_eq!(app.wait_decided(&d1, &t1).await["status"], "enrolled");
    assert_eq!(app.wait_decided(&d2, &t2).await["reason"], "course_full");
    assert_error(
        drop_seat(&app, "D2", course, "x").await,
        StatusCode::NOT_FOUND,
        "not_enrolled",
    )
    .await;
    let res = drop_seat(&app, "D1", course, "").await;
    assert_eq!(res.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let res = drop_seat(&app, "D1", course, "prerequisite missing").await;
    assert_eq!(res.status(), StatusCode::NO_CONTENT);
    // The seat is free for the next in line at once.
    let t = enroll(d2.clone()).await;
    assert_eq!(app.wait_decided(&d2, &t).await["status"], "enrolled");

    // D1's history: enrolled, then dropped by the registrar with the
    // reason; who in the office and from where stay with the registrar.
    let h: Value = d1
        .get(app.url("/api/v1/me/history"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let kinds: Vec<&str> = h["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["kind"].as_str().unwrap())
        .collect();
    assert_eq!(kinds, ["enrolled", "force_dropped"]);
    assert_eq!(h["items"][1]["reason"], "prerequisite missing");
    assert!(h["items"][1]["actor"].is_null() && h["items"][1]["source_addr"].is_null());
    // D2's: rejected (with the reason), then enrolled.
    let h: Value = d2
        .get(app.url("/api/v1/me/history"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let rows: Vec<(String, Value)> = h["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| (e["kind"].as_str().unwrap().to_string(), e["reason"].clone()))
        .collect();
    assert_eq!(
        rows,
        [
            ("rejected".into(), json!("course_full")),
            ("enrolled".into(), json!(null))
        ]
    );

    // The registrar pages through everything, by student, course and time.
    let all = trail(&app, "limit=2").await;
    assert_eq!(all["items"].as_array().unwrap().len(), 2);
    let next = all["next_after"].as_i64().expect("a next page");
    let rest = trail(&app, &format!("after={next}&limit=100")).await;
    assert!(rest["next_after"].is_null());
    assert!(rest["items"][0]["id"].as_i64().unwrap() > next);
    // Admission's decisions carry the address each ticket was asked from.
    let d2_rows = trail(&app, "student_no=D2").await;
    let decided: Vec<&Value> = d2_rows["items"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["kind"] == "rejected" || e["kind"] == "enrolled")
        .collect();
    assert_eq!(decided.len(), 2, "{d2_rows}");
    assert!(
        decided.iter().all(|e| e["source_addr"] == "127.0.0.1"),
        "{d2_rows}"
    );
    let d1_rows = trail(&app, "student_no=D1").await;
    assert_eq!(d1_rows["items"].as_array().unwrap().len(), 2);
    let later = trail(&app, "since=2999-01-01T00:00:00Z").await;
    assert!(later["items"].as_array().unwrap().is_empty());
    let res = app
        .admin(
            Method::GET,
            "/api/v1/admin/audit?student_no=NOPE",
            &json!(null),
        )
        .await;
    assert_error(res, StatusCode::NOT_FOUND, "student_not_found").await;
    let res = app
        .admin(Method::GET, "/api/v1/admin/audit?limit=0", &json!(null))
        .await;
    assert_error(res, StatusCode::UNPROCESSABLE_ENTITY, "invalid_query").await;
    // The trail cannot be rewritten, even by the server's own role.
    let err = sqlx::query("DELETE FROM enrollment_events")
        .execute(&app.db)
        .await
        .unwrap_err();
    assert!(err.to_string().contains("append-only"), "{err}");
    assert_invariants(&app.db, 21).await;
}
