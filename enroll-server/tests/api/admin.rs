use reqwest::{Client, StatusCode};
use serde_json::{json, Value};

use crate::helpers::{assert_error, spawn_app, ADMIN_TOKEN};

#[tokio::test]
async fn admin_routes_need_the_admin_token() {
    let app = spawn_app().await;
    let body = json!({"code": "X1", "name": "X", "credits": 3, "capacity": 10});
    let res = Client::new()
        .post(app.url("/api/v1/admin/courses"))
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_error(res, StatusCode::UNAUTHORIZED, "admin_token_required").await;
    let res = Client::new()
        .post(app.url("/api/v1/admin/courses"))
        .bearer_auth("not-the-admin-token-at-all")
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_error(res, StatusCode::FORBIDDEN, "forbidden").await;
    // A logged-in student is not an admin either.
    app.import_students("S", 1).await;
    let student = app.login("S0").await;
    let res = student
        .get(app.url("/api/v1/admin/courses/1/roster"))
        .send()
        .await
        .unwrap();
    assert_error(res, StatusCode::UNAUTHORIZED, "admin_token_required").await;
    let count: i64 = sqlx::query_scalar("SELECT count(*) FROM courses")
        .fetch_one(&app.db)
        .await
        .unwrap();
    assert_eq!(count, 0, "nothing was created without the token");
}

#[tokio::test]
async fn bulk_import_hashes_with_argon2id_and_rejects_duplicates_whole() {
    let app = spawn_app().await;
    let ids = app.import_students("20260", 50).await;
    assert_eq!(ids.len(), 50);
    let hashes: Vec<String> = sqlx::query_scalar("SELECT password_hash FROM students ORDER BY id")
        .fetch_all(&app.db)
        .await
        .unwrap();
    assert_eq!(hashes.len(), 50);
    assert!(hashes.iter().all(|h| h.starts_with("$argon2id$")));
    assert!(hashes.iter().all(|h| !h.contains("correct horse")));
    // Every imported student can log in at once (login reads the primary).
    app.login("2026049").await;

    // One duplicate fails the whole batch: no partial import.
    let batch = json!([
        {"student_no": "new-1", "name": "N", "email": "n1@uni.test", "password": "password-123"},
        {"student_no": "202600", "name": "Dup", "email": "d@uni.test", "password": "password-123"},
    ]);
    let res = app.admin_post("/api/v1/admin/students", &batch).await;
    assert_error(res, StatusCode::CONFLICT, "duplicate_student_no").await;
    let n: i64 = sqlx::query_scalar("SELECT count(*) FROM students")
        .fetch_one(&app.db)
        .await
        .unwrap();
    assert_eq!(n, 50);

    let weak = json!({"student_no": "w", "name": "W", "email": "w@uni.test", "password": "short"});
    let res = app.admin_post("/api/v1/admin/students", &weak).await;
    assert_error(res, StatusCode::UNPROCESSABLE_ENTITY, "weak_password").await;
}

#[tokio::test]
async fn courses_are_created_singly_or_in_bulk_and_patched() {
    let app = spawn_app().await;
    let one = app
        .admin_post(
            "/api/v1/admin/courses",
            &json!({"code": "CSE101", "name": "Intro", "credits": 3, "capacity": 40,
                    "schedule": [{"day": "MON", "start": "09:00", "end": "10:15"}]}),
        )
        .await;
    assert_eq!(one.status(), StatusCode::CREATED);
    let one: Value = one.json().await.unwrap();
    assert!(
        one["id"].as_i64().is_some(),
        "single object in, single object out: {one}"
    );
    assert_eq!(one["remaining"], 40);
    assert_eq!(one["schedule"][0]["end"], "10:15");

    let many = app
        .admin_post(
            "/api/v1/admin/courses",
            &json!([{"code": "CSE201", "name": "Data", "credits": 3, "capacity": 30},
                    {"code": "CSE202", "name": "Algo", "credits": 4, "capacity": 20}]),
        )
        .await;
    assert_eq!(many.status(), StatusCode::CREATED);
    let many: Vec<Value> = many.json().await.unwrap();
    assert_eq!(many.len(), 2);
    assert_ne!(many[0]["id"], many[1]["id"]);

    let dup = app
        .admin_post(
            "/api/v1/admin/courses",
            &json!({"code": "CSE101", "name": "Again", "credits": 3, "capacity": 1}),
        )
        .await;
    assert_error(dup, StatusCode::CONFLICT, "duplicate_code").await;

    let id = one["id"].as_i64().unwrap();
    let res = app
        .admin_patch(
            &format!("/api/v1/admin/courses/{id}"),
            &json!({"capacity": 45, "professor": "Lee"}),
        )
        .await;
    assert_eq!(res.status(), StatusCode::OK);
    let patched: Value = res.json().await.unwrap();
    assert_eq!(
        (patched["capacity"].as_i64(), patched["professor"].as_str()),
        (Some(45), Some("Lee"))
    );
    assert_eq!(patched["name"], "Intro", "absent fields unchanged");

    let res = app
        .admin_patch("/api/v1/admin/courses/999999", &json!({"capacity": 5}))
        .await;
    assert_error(res, StatusCode::NOT_FOUND, "course_not_found").await;
    let res = app
        .admin_patch(
            &format!("/api/v1/admin/courses/{id}"),
            &json!({"schedule": [{"day": "MON", "start": "11:00", "end": "10:00"}]}),
        )
        .await;
    assert_error(res, StatusCode::UNPROCESSABLE_ENTITY, "invalid_schedule").await;
}

#[tokio::test]
async fn the_database_itself_rejects_enrolled_over_capacity() {
    let app = spawn_app().await;
    let ids = app.import_students("K", 3).await;
    let course = app.create_course("CAP1", 2, 3, json!([])).await;
    for sid in &ids[..2] {
        sqlx::query("INSERT INTO enrollments (student_id, course_id) VALUES ($1, $2)")
            .bind(sid)
            .bind(course)
            .execute(&app.db)
            .await
            .unwrap();
    }
    let enrolled: i32 = sqlx::query_scalar("SELECT enrolled FROM courses WHERE id = $1")
        .bind(course)
        .fetch_one(&app.db)
        .await
        .unwrap();
    assert_eq!(enrolled, 2, "the trigger counts enrollment rows");

    // A third seat in a full course: the CHECK constraint refuses it.
    let err = sqlx::query("INSERT INTO enrollments (student_id, course_id) VALUES ($1, $2)")
        .bind(ids[2])
        .bind(course)
        .execute(&app.db)
        .await
        .unwrap_err();
    let db_err = err.as_database_error().expect("a database error");
    assert_eq!(
        db_err.code().as_deref(),
        Some("23514"),
        "check_violation: {db_err}"
    );
    assert_eq!(db_err.constraint(), Some("enrolled_within_capacity"));
    // So does a hand-written UPDATE ...
    let err = sqlx::query("UPDATE courses SET enrolled = capacity + 1 WHERE id = $1")
        .bind(course)
        .execute(&app.db)
        .await
        .unwrap_err();
    assert_eq!(
        err.as_database_error().unwrap().code().as_deref(),
        Some("23514")
    );
    // ... and an admin lowering the capacity below the seats taken.
    let res = app
        .admin_patch(
            &format!("/api/v1/admin/courses/{course}"),
            &json!({"capacity": 1}),
        )
        .await;
    assert_error(res, StatusCode::CONFLICT, "capacity_below_enrolled").await;

    let roster: Value = Client::new()
        .get(app.url(&format!("/api/v1/admin/courses/{course}/roster")))
        .bearer_auth(ADMIN_TOKEN)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(roster["students"].as_array().unwrap().len(), 2);
    assert_eq!(roster["course"]["enrolled"], 2);
}

#[tokio::test]
async fn registration_window_is_closed_until_opened() {
    let app = spawn_app().await;
    let w: Value = reqwest::get(app.url("/api/v1/registration-window"))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(w["open"], false);
    let res = app
        .admin_put("/api/v1/admin/registration-window", &json!({"opens_at": "2026-02-10T09:00:00+09:00", "closes_at": "2026-02-10T08:00:00+09:00"}))
        .await;
    assert_error(res, StatusCode::UNPROCESSABLE_ENTITY, "invalid_window").await;
    let res = app
        .admin_put(
            "/api/v1/admin/registration-window",
            &json!({"opens_at": "2020-01-01T00:00:00Z", "closes_at": "2099-01-01T00:00:00Z"}),
        )
        .await;
    assert_eq!(res.status(), StatusCode::OK);
    let w: Value = res.json().await.unwrap();
    assert_eq!(w["open"], true);
    let res = app
        .admin_put(
            "/api/v1/admin/registration-window",
            &json!({"opens_at": "yesterday", "closes_at": "2099-01-01T00:00:00Z"}),
        )
        .await;
    assert_error(res, StatusCode::UNPROCESSABLE_ENTITY, "invalid_body").await;
}
