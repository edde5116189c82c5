//! Phases: who may enroll when — per year, department and student number,
//! before, during and after, and two phases for one student.

use chrono::{Duration as Span, Utc};
use reqwest::{Client, StatusCode};
use serde_json::{json, Value};

use crate::helpers::{assert_error, spawn_app, TestApp, PASSWORD};

/// Imports students `(student_no, year, department)`.
pub async fn import_cohort(app: &TestApp, students: &[(&str, i64, &str)]) {
    let body: Vec<Value> = students
        .iter()
        .map(|(no, year, dep)| {
            json!({"student_no": no, "name": no, "email": format!("{no}@uni.test"),
                   "password": PASSWORD, "year": year, "department": dep})
        })
        .collect();
    let res = app.admin_post("/api/v1/admin/students", &json!(body)).await;
    assert_eq!(res.status(), StatusCode::CREATED, "{:?}", res.text().await);
}

async fn enroll(app: &TestApp, client: &Client, course: i64) -> reqwest::Response {
    client
        .post(app.url("/api/v1/enrollments"))
        .json(&json!({"course_id": course}))
        .send()
        .await
        .unwrap()
}

async fn window(app: &TestApp, client: &Client) -> Value {
    let res = client
        .get(app.url("/api/v1/registration-window"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    res.json().await.unwrap()
}

#[tokio::test]
async fn phases_admit_each_year_in_its_own_time() {
    let app = spawn_app().await;
    import_cohort(&app, &[("Y4", 4, "CS"), ("Y3", 3, "CS"), ("Y3EE", 3, "EE")]).await;
    let course = app.create_course("PH1", 10, 3, json!([])).await;
    let now = Utc::now();
    let h = |n: i64| (now + Span::hours(n)).to_rfc3339();
    // 4th years now; CS 3rd years in a day; everyone in three days (a
    // 4th year is in two phases).
    let phases = json!([
        {"name": "4th years", "opens_at": h(-1), "closes_at": h(1), "years": [4]},
        {"name": "CS 3rd years", "opens_at": h(24), "closes_at": h(26), "years": [3], "departments": ["CS"]},
        {"name": "everyone", "opens_at": h(72), "closes_at": h(74)},
    ]);
    let res = app.admin_put("/api/v1/admin/phases", &phases).await;
    assert_eq!(res.status(), StatusCode::OK, "{:?}", res.text().await);

    let y4 = app.login("Y4").await;
    let y3 = app.login("Y3").await;
    let ee = app.login("Y3EE").await;
    assert_eq!(
        enroll(&app, &y4, course).await.status(),
        StatusCode::ACCEPTED
    );
    // A 3rd year now: not their phase, with when theirs opens.
    let res = enroll(&app, &y3, course).await;
    assert_eq!(res.status(), StatusCode::FORBIDDEN);
    let body: Value = res.json().await.unwrap();
    assert_eq!(body["error"]["code"], "not_your_phase");
    let opens = chrono::DateTime::parse_from_rfc3339(body["error"]["opens_at"].as_str().unwrap());
    assert_eq!(
        opens.unwrap().timestamp(),
        (now + Span::hours(24)).timestamp()
    );
    // An EE 3rd year waits for everyone's phase.
    let res = enroll(&app, &ee, course).await;
    let body: Value = res.json().await.unwrap();
    assert_eq!(body["error"]["code"], "not_your_phase");
    let opens = chrono::DateTime::parse_from_rfc3339(body["error"]["opens_at"].as_str().unwrap());
    assert_eq!(
        opens.unwrap().timestamp(),
        (now + Span::hours(72)).timestamp()
    );
    // Cancelling is gated the same way.
    let res = y3
        .delete(app.url(&format!("/api/v1/enrollments/{course}")))
        .send()
        .await
        .unwrap();
    assert_error(res, StatusCode::FORBIDDEN, "not_your_phase").await;

    // The countdown answers each student for their own phases, and anyone
    // else for all of them (student numbers never shown).
    let w = window(&app, &y3).await;
    assert_eq!(w["open"], false);
    assert_eq!(w["phase"], "CS 3rd years");
    assert_eq!(w["phases"].as_array().unwrap().len(), 2);
    let w = window(&app, &y4).await;
    assert_eq!(
        (w["open"].clone(), w["phase"].clone()),
        (json!(true), json!("4th years"))
    );
    let w = window(&app, &Client::new()).await;
    assert_eq!(w["open"], true);
    assert_eq!(w["phases"].as_array().unwrap().len(), 3);

    // The 4th years' phase over, nothing open: registration_closed, with
    // the 4th year's next phase (everyone's).
    let phases = json!([
        {"name": "4th years", "opens_at": h(-3), "closes_at": h(-2), "years": [4]},
        {"name": "everyone", "opens_at": h(72), "closes_at": h(74)},
    ]);
    assert_eq!(
        app.admin_put("/api/v1/admin/phases", &phases)
            .await
            .status(),
        StatusCode::OK
    );
    let other = app.create_course("PH2", 10, 3, json!([])).await;
    let res = enroll(&app, &y4, other).await;
    assert_eq!(res.status(), StatusCode::FORBIDDEN);
    let body: Value = res.json().await.unwrap();
    assert_eq!(body["error"]["code"], "registration_closed");
    assert!(body["error"]["opens_at"].is_string(), "{body}");
}

#[tokio::test]
async fn a_phase_for_named_students_and_a_new_year_ends_old_sessions() {
    let app = spawn_app().await;
    import_cohort(&app, &[("G1", 4, "CS"), ("G2", 4, "CS")]).await;
    let course = app.create_course("PH3", 10, 3, json!([])).await;
    let now = Utc::now();
    let h = |n: i64| (now + Span::hours(n)).to_rfc3339();
    let phases = json!([
        {"name": "graduating", "opens_at": h(-1), "closes_at": h(1), "years": [4], "student_nos": ["G1"]},
        {"name": "2nd years", "opens_at": h(-1), "closes_at": h(1), "years": [2]},
    ]);
    assert_eq!(
        app.admin_put("/api/v1/admin/phases", &phases)
            .await
            .status(),
        StatusCode::OK
    );
    let g1 = app.login("G1").await;
    let g2 = app.login("G2").await;
    assert_eq!(
        enroll(&app, &g1, course).await.status(),
        StatusCode::ACCEPTED
    );
    assert_eq!(
        enroll(&app, &g2, course).await.status(),
        StatusCode::FORBIDDEN
    );
    // The registrar corrects G2's year: their session ends (it carried the
    // old year), and the next one enrolls in the 2nd years' phase.
    let res = app
        .admin_patch("/api/v1/admin/students/G2", &json!({"year": 2}))
        .await;
    assert_eq!(res.status(), StatusCode::OK);
    let body: Value = res.json().await.unwrap();
    assert_eq!(
        (body["year"].clone(), body["department"].clone()),
        (json!(2), json!("CS"))
    );
    assert_error(
        enroll(&app, &g2, course).await,
        StatusCode::UNAUTHORIZED,
        "unauthenticated",
    )
    .await;
    let g2 = app.login("G2").await;
    assert_eq!(
        enroll(&app, &g2, course).await.status(),
        StatusCode::ACCEPTED
    );
    let res = app
        .admin_patch("/api/v1/admin/students/NOBODY", &json!({"year": 2}))
        .await;
    assert_error(res, StatusCode::NOT_FOUND, "student_not_found").await;
    let res = app
        .admin_patch("/api/v1/admin/students/G1", &json!({"year": 7}))
        .await;
    assert_error(res, StatusCode::UNPROCESSABLE_ENTITY, "invalid_field").await;
}

#[tokio::test]
async fn overlapping_or_malformed_phases_are_refused_and_the_old_ones_kept() {
    let app = spawn_app().await;
    let now = Utc::now();
    let h = |n: i64| (now + Span::hours(n)).to_rfc3339();
    let good = json!([{"name": "all", "opens_at": h(-1), "closes_at": h(1)}]);
    assert_eq!(
        app.admin_put("/api/v1/admin/phases", &good).await.status(),
        StatusCode::OK
    );
    for (phases, code, named) in [
        (
            json!([{"name": "a", "opens_at": h(0), "closes_at": h(5)},
                   {"name": "b", "opens_at": h(4), "closes_at": h(6), "years": [1]}]),
            "overlapping_phases",
            "`b`",
        ),
        (
            json!([{"name": "late", "opens_at": h(5), "closes_at": h(4)}]),
            "invalid_phase",
            "`late`",
        ),
        (
            json!([{"name": "y", "opens_at": h(0), "closes_at": h(1), "years": [0]}]),
            "invalid_audience",
            "`y`",
        ),
    ] {
        let res = app.admin_put("/api/v1/admin/phases", &phases).await;
        assert_eq!(res.status(), StatusCode::UNPROCESSABLE_ENTITY);
        let body: Value = res.json().await.unwrap();
        assert_eq!(body["error"]["code"], code, "{body}");
        assert!(
            body["error"]["message"].as_str().unwrap().contains(named),
            "{body}"
        );
    }
    // A misspelt field is an error, not a phase for everyone.
    let typo = json!([{"name": "t", "opens_at": h(0), "closes_at": h(1), "year": [4]}]);
    let res = app.admin_put("/api/v1/admin/phases", &typo).await;
    assert_error(res, StatusCode::UNPROCESSABLE_ENTITY, "invalid_body").await;
    // Nothing refused replaced what was there.
    let res = app
        .admin(reqwest::Method::GET, "/api/v1/admin/phases", &json!(null))
        .await;
    let stored: Value = res.json().await.unwrap();
    assert_eq!(stored.as_array().unwrap().len(), 1);
    assert_eq!(stored[0]["name"], "all");
    // Same hours for different years is fine.
    let split = json!([{"name": "a", "opens_at": h(0), "closes_at": h(5), "years": [4]},
                       {"name": "b", "opens_at": h(0), "closes_at": h(5), "years": [3]}]);
    assert_eq!(
        app.admin_put("/api/v1/admin/phases", &split).await.status(),
        StatusCode::OK
    );
    let res = app
        .admin(reqwest::Method::GET, "/api/v1/admin/phases", &json!(null))
        .await;
    let stored: Value = res.json().await.unwrap();
    assert_eq!(stored.as_array().unwrap().len(), 2);
    assert_eq!(stored[0]["years"], json!([4]));
}
