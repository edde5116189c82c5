use reqwest::StatusCode;
use serde_json::{json, Value};

use crate::helpers::{assert_error, spawn_app};

async fn get(app: &crate::helpers::TestApp, path: &str) -> Value {
    let res = reqwest::get(app.url(path)).await.unwrap();
    assert_eq!(res.status(), StatusCode::OK, "{path}");
    res.json().await.unwrap()
}

#[tokio::test]
async fn catalogue_pages_and_searches() {
    let app = spawn_app().await;
    let courses: Vec<Value> = (0..25)
        .map(|i| {
            let dept = if i % 5 == 0 { "MATH" } else { "CSE" };
            json!({"code": format!("C{i:03}"), "name": if i == 7 { "Operating Systems".to_string() } else { format!("Course {i}") },
                   "professor": if i == 3 { "Park_Ji" } else { "Kim" }, "department": dept, "credits": 3, "capacity": 10})
        })
        .collect();
    assert_eq!(
        app.admin_post("/api/v1/admin/courses", &json!(courses))
            .await
            .status(),
        StatusCode::CREATED
    );
    // Catalogue reads come from the replica, which replays asynchronously.
    app.replicas_caught_up().await;

    let p1 = get(&app, "/api/v1/courses?per_page=10").await;
    let p3 = get(&app, "/api/v1/courses?per_page=10&page=3").await;
    assert_eq!(p1["items"].as_array().unwrap().len(), 10);
    assert_eq!(p1["items"][0]["code"], "C000", "ordered by code");
    assert_eq!(p3["items"].as_array().unwrap().len(), 5);
    assert_eq!(p3["items"][4]["code"], "C024");
    assert_eq!(p3["total"], 25);
    let beyond = get(&app, "/api/v1/courses?per_page=10&page=9").await;
    assert_eq!(
        (
            beyond["items"].as_array().unwrap().len(),
            beyond["total"].as_i64()
        ),
        (0, Some(25))
    );

    let math = get(&app, "/api/v1/courses?department=MATH").await;
    assert_eq!(math["total"], 5);
    assert!(math["items"]
        .as_array()
        .unwrap()
        .iter()
        .all(|c| c["department"] == "MATH"));
    let os = get(&app, "/api/v1/courses?query=operating").await;
    assert_eq!(os["total"], 1, "case-insensitive name search");
    assert_eq!(os["items"][0]["code"], "C007");
    let by_prof = get(&app, "/api/v1/courses?query=park_j").await;
    assert_eq!(by_prof["total"], 1);
    // `_` is literal, not a LIKE wildcard.
    assert_eq!(get(&app, "/api/v1/courses?query=k_m").await["total"], 0);

    let one = &p1["items"][1];
    let id = one["id"].as_i64().unwrap();
    let shown = get(&app, &format!("/api/v1/courses/{id}")).await;
    assert_eq!(&shown, one);
    for key in [
        "id",
        "code",
        "name",
        "professor",
        "department",
        "credits",
        "capacity",
        "enrolled",
        "remaining",
        "schedule",
    ] {
        assert!(shown.get(key).is_some(), "course has {key}");
    }
}

#[tokio::test]
async fn bad_paging_and_unknown_courses_are_coded_errors() {
    let app = spawn_app().await;
    for q in [
        "per_page=0",
        "per_page=101",
        "page=0",
        "page=abc",
        "colour=red",
    ] {
        let res = reqwest::get(app.url(&format!("/api/v1/courses?{q}")))
            .await
            .unwrap();
        assert_error(res, StatusCode::UNPROCESSABLE_ENTITY, "invalid_query").await;
    }
    let res = reqwest::get(app.url("/api/v1/courses/424242"))
        .await
        .unwrap();
    assert_error(res, StatusCode::NOT_FOUND, "course_not_found").await;
    let res = reqwest::get(app.url("/api/v1/courses/not-a-number"))
        .await
        .unwrap();
    assert_error(res, StatusCode::NOT_FOUND, "not_found").await;
}
