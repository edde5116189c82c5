//! The pre-registration cart: filled during its period with a validation
//! report, settled at close — demand that fits is enrolled, over-demand is
//! left to the rush or drawn by a lottery anyone can re-derive.

use chrono::{Duration as Span, Utc};
use reqwest::{Client, Method, StatusCode};
use serde_json::{json, Value};
use sha2::{Digest, Sha256};
use std::time::Duration;

use enroll_server::config::Options;

use crate::events::{subscribed, Events};
use crate::helpers::{assert_error, assert_invariants, eventually, spawn_app, start, TestApp};

async fn put(app: &TestApp, c: &Client, course: i64) -> reqwest::Response {
    c.post(app.url(&format!("/api/v1/cart/{course}")))
        .send()
        .await
        .unwrap()
}

async fn period(app: &TestApp, closes_in: Span, policy: &str, seed: i64) -> Value {
    let now = Utc::now();
    let res = app
        .admin_put(
            "/api/v1/admin/cart-period",
            &json!({"opens_at": (now - Span::hours(1)).to_rfc3339(),
                    "closes_at": (now + closes_in).to_rfc3339(), "policy": policy, "seed": seed}),
        )
        .await;
    assert_eq!(res.status(), StatusCode::OK, "{:?}", res.text().await);
    res.json().await.unwrap()
}

fn closes_at(p: &Value) -> chrono::DateTime<Utc> {
    p["closes_at"].as_str().unwrap().parse().unwrap()
}

#[tokio::test]
async fn the_cart_fills_in_its_period_and_reports_what_would_fail() {
    let app = spawn_app().await;
    app.import_students("K", 1).await;
    let mon9 = json!([{"day": "MON", "start": "09:00", "end": "10:30"}]);
    let a = app.create_course("CA1", 5, 9, mon9.clone()).await;
    let b = app
        .create_course(
            "CA2",
            5,
            9,
            json!([{"day": "MON", "start": "10:00", "end": "11:00"}]),
        )
        .await;
    let c = app.create_course("CA3", 5, 3, json!([])).await;
    let k = app.login("K0").await;
    // No period yet: closed.
    assert_error(put(&app, &k, a).await, StatusCode::FORBIDDEN, "cart_closed").await;
    period(&app, Span::hours(1), "rush", 1).await;
    for course in [a, b, c] {
        assert_eq!(put(&app, &k, course).await.status(), StatusCode::CREATED);
    }
    assert_error(
        put(&app, &k, a).await,
        StatusCode::CONFLICT,
        "already_in_cart",
    )
    .await;
    assert_error(
        put(&app, &k, 999_999).await,
        StatusCode::NOT_FOUND,
        "course_not_found",
    )
    .await;
    let cart: Value = k
        .get(app.url("/api/v1/cart"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(cart["open"], true);
    assert_eq!(cart["cart_credits"], 21);
    let problems: Vec<(i64, String)> = cart["problems"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| {
            (
                p["course_id"].as_i64().unwrap(),
                p["code"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    // CA1 and CA2 clash; the third course takes the cart past 18 credits;
    // no phase was set, so none includes the student.
    assert!(
        problems.contains(&(a, "schedule_conflict".into())),
        "{problems:?}"
    );
    assert!(
        problems.contains(&(b, "schedule_conflict".into())),
        "{problems:?}"
    );
    assert!(
        problems.contains(&(c, "over_credit_limit".into())),
        "{problems:?}"
    );
    assert!(
        !problems.contains(&(a, "over_credit_limit".into())),
        "{problems:?}"
    );
    assert!(problems.contains(&(a, "no_phase".into())), "{problems:?}");
    let res = k
        .delete(app.url(&format!("/api/v1/cart/{b}")))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::NO_CONTENT);
    let res = k
        .delete(app.url(&format!("/api/v1/cart/{b}")))
        .send()
        .await
        .unwrap();
    assert_error(res, StatusCode::NOT_FOUND, "not_in_cart").await;
    let demand: Value = app
        .admin(Method::GET, "/api/v1/admin/cart/demand", &json!(null))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(demand.as_array().unwrap().len(), 2);
    assert_eq!(demand[0]["demand"], 1);
    assert!((demand[0]["ratio"].as_f64().unwrap() - 0.2).abs() < 1e-9);
}

#[tokio::test]
async fn at_close_fitting_demand_is_enrolled_and_over_demand_left_to_the_rush() {
    let app = spawn_app().await;
    app.import_students("L", 5).await;
    let fits = app.create_course("CF1", 3, 3, json!([])).await;
    let over = app.create_course("CF2", 2, 3, json!([])).await;
    let p = period(&app, Span::hours(1), "rush", 5).await;
    let clients = app.login_many("L", 5).await;
    for (i, c) in clients.iter().enumerate() {
        if i < 2 {
            assert_eq!(put(&app, c, fits).await.status(), StatusCode::CREATED);
        }
        assert_eq!(put(&app, c, over).await.status(), StatusCode::CREATED);
    }
    // Not before the close (the clock handed in, not waited for).
    let early = enroll_server::store::cart::settle(&app.db, Utc::now(), 18, false)
        .await
        .unwrap();
    assert!(early.is_none());
    let done =
        enroll_server::store::cart::settle(&app.db, closes_at(&p) + Span::seconds(1), 18, false)
            .await
            .unwrap()
            .expect("settled");
    assert_eq!(done.enrolled, 2);
    assert_eq!(done.left_to_rush, vec![over]);
    let again =
        enroll_server::store::cart::settle(&app.db, closes_at(&p) + Span::hours(1), 18, false)
            .await
            .unwrap();
    assert!(again.is_none(), "settled once");
    let seats: Vec<(i64, i64)> =
        sqlx::query_as("SELECT course_id, count(*) FROM enrollments GROUP BY 1")
            .fetch_all(&app.db)
            .await
            .unwrap();
    assert_eq!(seats, vec![(fits, 2)]);
    let rows: i64 =
        sqlx::query_scalar("SELECT count(*) FROM enrollment_events WHERE kind = 'cart_enrolled'")
            .fetch_one(&app.db)
            .await
            .unwrap();
    assert_eq!(rows, 2);
    // The cart closed: no more changes; the period stays as settled.
    assert_error(
        put(&app, &clients[0], over).await,
        StatusCode::FORBIDDEN,
        "cart_closed",
    )
    .await;
    let res = app
        .admin_put(
            "/api/v1/admin/cart-period",
            &json!({"opens_at": "2030-01-01T00:00:00Z", "closes_at": "2030-01-02T00:00:00Z"}),
        )
        .await;
    assert_error(res, StatusCode::CONFLICT, "cart_settled").await;
    assert_invariants(&app.db, 18).await;
}

#[tokio::test]
async fn a_lottery_draws_in_the_published_order_anyone_can_re_derive() {
    let app = spawn_app().await;
    app.import_students("T", 6).await;
    let course = app.create_course("LT1", 2, 3, json!([])).await;
    let p = period(&app, Span::hours(1), "lottery", 424_242).await;
    assert_eq!(p["seed"], 424_242, "the seed is published");
    let now = Utc::now();
    for c in app.login_many("T", 6).await {
        assert_eq!(put(&app, &c, course).await.status(), StatusCode::CREATED);
    }
    // Closed now: the server settles it by itself within a tick.
    let res = app
        .admin_put(
            "/api/v1/admin/cart-period",
            &json!({"opens_at": (now - Span::hours(2)).to_rfc3339(), "closes_at": (now - Span::hours(1)).to_rfc3339(),
                    "policy": "lottery", "seed": 424_242}),
        )
        .await;
    assert_eq!(res.status(), StatusCode::OK);
    eventually(Duration::from_secs(10), "the cart settled", || async {
        let p: Value = app
            .admin(Method::GET, "/api/v1/admin/cart-period", &json!(null))
            .await
            .json()
            .await
            .unwrap();
        p["settled_at"].is_string()
    })
    .await;
    let draw: Value = sqlx::query_scalar(
        "SELECT detail FROM enrollment_events WHERE kind = 'lottery_drawn' AND course_id = $1",
    )
    .bind(course)
    .fetch_one(&app.db)
    .await
    .unwrap();
    // Re-derive the order from the seed alone, as anyone could.
    let seed = draw["seed"].as_i64().unwrap();
    let mut expected: Vec<(String, String)> = (0..6)
        .map(|i| {
            let no = format!("T{i}");
            let key = Sha256::digest(format!("{seed}:{course}:{no}").as_bytes());
            (key.iter().map(|b| format!("{b:02x}")).collect(), no)
        })
        .collect();
    expected.sort();
    let order: Vec<String> = expected.into_iter().map(|(_, n)| n).collect();
    assert_eq!(draw["order"], json!(order));
    let mut winners: Vec<String> = sqlx::query_scalar(
        "SELECT s.student_no FROM enrollments e JOIN students s ON s.id = e.student_id WHERE e.course_id = $1",
    )
    .bind(course)
    .fetch_all(&app.db)
    .await
    .unwrap();
    winners.sort();
    let mut first_two = order[..2].to_vec();
    first_two.sort();
    assert_eq!(winners, first_two);
    assert_invariants(&app.db, 18).await;
}

async fn cart_of(app: &TestApp, c: &Client) -> Value {
    let res = c.get(app.url("/api/v1/cart")).send().await.unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    res.json().await.unwrap()
}

/// `(course, outcome, reason)` for each course of a settled cart.
fn outcomes(cart: &Value) -> Vec<(i64, String, Option<String>)> {
    let mut out: Vec<_> = cart["outcomes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|o| {
            (
                o["course_id"].as_i64().unwrap(),
                o["outcome"].as_str().unwrap().to_string(),
                o["reason"].as_str().map(String::from),
            )
        })
        .collect();
    out.sort();
    out
}

#[tokio::test]
async fn the_settled_cart_is_pushed_to_streams_on_every_instance() {
    let a = spawn_app().await;
    a.import_students("V", 2).await;
    let fits = a.create_course("CV1", 5, 3, json!([])).await;
    let drawn = a.create_course("CV2", 1, 3, json!([])).await;
    let heavy = a.create_course("CV3", 5, 16, json!([])).await;
    let b = start(a.beside(Options::default())).await;
    period(&a, Span::hours(1), "lottery", 7).await;
    let (v0, v1) = (a.login("V0").await, a.login("V1").await);
    for course in [fits, drawn, heavy] {
        assert_eq!(put(&a, &v0, course).await.status(), StatusCode::CREATED);
    }
    assert_eq!(put(&a, &v1, drawn).await.status(), StatusCode::CREATED);
    assert!(cart_of(&a, &v0).await["outcomes"]
        .as_array()
        .unwrap()
        .is_empty());
    subscribed(&a, "cart:settled", 2).await;
    let mut on_a = Events::open(&a, &v0).await;
    let mut on_b = Events::open(&b, &v1).await;

    // Closed now: whichever instance settles it, one of the two streams is
    // held by the other instance, and both are told.
    period(&a, Span::seconds(-1), "lottery", 7).await;
    let told_a = on_a.next_named("cart").await;
    let told_b = on_b.next_named("cart").await;
    let settled: Value = a
        .admin(Method::GET, "/api/v1/admin/cart-period", &json!(null))
        .await
        .json()
        .await
        .unwrap();
    let settled_at: chrono::DateTime<Utc> =
        settled["settled_at"].as_str().unwrap().parse().unwrap();
    for told in [&told_a, &told_b] {
        assert_eq!(told["settled"], true, "{told}");
        let at: chrono::DateTime<Utc> = told["settled_at"].as_str().unwrap().parse().unwrap();
        assert_eq!(at, settled_at, "{told}");
    }

    // Each page then reads its own cart once: what the close did with each
    // course, and why a course was not won.
    let (c0, c1) = (cart_of(&b, &v0).await, cart_of(&a, &v1).await);
    assert!(c0["settled_at"].is_string());
    let o0 = outcomes(&c0);
    let o1 = outcomes(&c1);
    assert_eq!(o0[0], (fits, "enrolled".into(), None));
    assert_eq!(
        o0[2],
        (heavy, "skipped".into(), Some("credit_limit".into()))
    );
    let won_draw =
        |o: &[(i64, String, Option<String>)]| o.iter().any(|x| x.0 == drawn && x.1 == "enrolled");
    assert_ne!(
        won_draw(&o0),
        won_draw(&o1),
        "one seat, one winner: {o0:?} {o1:?}"
    );
    let loser = if won_draw(&o0) { &o1 } else { &o0 };
    assert!(
        loser.contains(&(drawn, "not_drawn".into(), None)),
        "{loser:?}"
    );
    assert_invariants(&a.db, 18).await;
}
