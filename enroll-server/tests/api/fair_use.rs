//! Fair-use limits against real servers: per-student buckets shared by two
//! instances through Redis, the cap on tickets in line under concurrency,
//! per-address ceilings that spare other addresses, and the bucket script's
//! arithmetic at injected times.

use std::time::Duration;

use enroll_server::config::Options;
use enroll_server::fair_use::{Rate, StudentLimit};
use enroll_server::redis::fair_use::{gate_call, Gate, OpenTicket};
use enroll_server::redis::keys;
use enroll_server::redis::pipeline::run_all;
use futures::future::join_all;
use redis::AsyncCommands;
use reqwest::{Client, Response, StatusCode};
use serde_json::{json, Value};

use crate::enroll::{enroll, enroll_decided};
use crate::helpers::{assert_error, browser, eventually, start, Spawn, TestApp, PASSWORD};

fn rate(s: &str) -> Option<Rate> {
    Some(s.parse().unwrap())
}

async fn start_with(extra: Options) -> TestApp {
    let mut spec = Spawn::fresh();
    spec.extra = extra;
    start(spec).await
}

async fn courses(app: &TestApp, prefix: &str, n: usize) -> Vec<i64> {
    let mut ids = Vec::new();
    for i in 0..n {
        ids.push(
            app.create_course(&format!("{prefix}-{i}"), 50, 1, json!([]))
                .await,
        );
    }
    ids
}

fn retry_after(res: &Response) -> u64 {
    res.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap()
}

/// A client whose connections come from `local` (any 127.x address reaches
/// the server on 127.0.0.1).
fn from_address(local: &str) -> Client {
    Client::builder()
        .cookie_store(true)
        .local_address(local.parse::<std::net::IpAddr>().unwrap())
        .build()
        .unwrap()
}

#[tokio::test]
async fn a_students_enroll_bucket_is_shared_by_two_instances() {
    let limits = Options {
        // Hour-long windows: the test never straddles two.
        rate_enroll: rate("1/h burst 3"),
        ..Default::default()
    };
    let a = start_with(limits.clone()).await;
    a.open_window().await;
    a.import_students("F", 2).await;
    let ids = courses(&a, "F", 5).await;
    // Started after: it loads the open window and the courses at once.
    let b = start(a.beside(limits)).await;
    let cookie = a.login_cookie("F0").await;
    let send = |app: &TestApp, course: i64| {
        let req = Client::new()
            .post(app.url("/api/v1/enrollments"))
            .header("cookie", cookie.clone())
            .json(&json!({ "course_id": course }));
        async move { req.send().await.unwrap() }
    };
    // Three tokens, spent on both instances ...
    for (app, course) in [(&a, ids[0]), (&b, ids[1]), (&a, ids[2])] {
        assert_eq!(send(app, course).await.status(), StatusCode::ACCEPTED);
    }
    // ... so the fourth is refused by either, with a wait of about a minute.
    for app in [&a, &b] {
        let res = send(app, ids[3]).await;
        let wait = retry_after(&res);
        // The bucket of 3 refills every 3 hours.
        assert!((1..=3 * 3600).contains(&wait), "Retry-After {wait}");
        assert_error(res, StatusCode::TOO_MANY_REQUESTS, "rate_limited").await;
    }
    // Another student has an allowance of their own.
    let other = b.login("F1").await;
    assert_eq!(
        enroll(&b, &other, ids[3]).await.status(),
        StatusCode::ACCEPTED
    );
    let refused = a
        .metric("enroll_fair_use_refusals_total{limit=\"enroll\"}")
        .await
        + b.metric("enroll_fair_use_refusals_total{limit=\"enroll\"}")
            .await;
    assert_eq!(refused, 2.0);
}

#[tokio::test]
async fn ticket_reads_and_event_streams_have_buckets_of_their_own() {
    let app = start_with(Options {
        rate_ticket_reads: rate("1/h burst 2"),
        rate_event_streams: rate("1/h burst 1"),
        ..Default::default()
    })
    .await;
    app.open_window().await;
    app.import_students("G", 1).await;
    let course = courses(&app, "G", 1).await[0];
    let student = app.login("G0").await;
    let ticket: Value = enroll(&app, &student, course).await.json().await.unwrap();
    let read = || {
        student
            .get(app.url(&format!(
                "/api/v1/enrollments/tickets?ids={}",
                ticket["ticket"].as_str().unwrap()
            )))
            .send()
    };
    assert_eq!(read().await.unwrap().status(), StatusCode::OK);
    assert_eq!(read().await.unwrap().status(), StatusCode::OK);
    let res = read().await.unwrap();
    assert!(retry_after(&res) >= 1);
    assert_error(res, StatusCode::TOO_MANY_REQUESTS, "rate_limited").await;
    // One stream may be opened; the next one within the hour may not.
    let first = student
        .get(app.url("/api/v1/enrollments/events"))
        .send()
        .await
        .unwrap();
    assert_eq!(first.status(), StatusCode::OK);
    drop(first);
    let again = student
        .get(app.url("/api/v1/enrollments/events"))
        .send()
        .await
        .unwrap();
    assert_error(again, StatusCode::TOO_MANY_REQUESTS, "rate_limited").await;
    // The profile is not rate limited.
    let me = student.get(app.url("/api/v1/me")).send().await.unwrap();
    assert_eq!(me.status(), StatusCode::OK);
}

#[tokio::test]
async fn the_open_ticket_cap_holds_under_concurrency_on_two_instances() {
    let limits = Options {
        open_tickets_per_student: Some(3),
        ..Default::default()
    };
    let a = start_with(limits.clone()).await;
    a.open_window().await;
    a.import_students("H", 1).await;
    let ids = courses(&a, "H", 10).await;
    let b = start(a.beside(limits)).await;
    // Tickets stay in line while admission is paused.
    let res = a
        .admin_put("/api/v1/admin/admission", &json!({"paused": true}))
        .await;
    assert_eq!(res.status(), StatusCode::OK);
    // Both instances must have seen the switch, or one may decide (and so
    // give back) a ticket before the retry below.
    for app in [&a, &b] {
        eventually(Duration::from_secs(10), "admission paused", || async {
            app.metric("enroll_admission_paused").await == 1.0
        })
        .await;
    }
    let cookie = a.login_cookie("H0").await;
    let send = |app: &TestApp, course: i64| {
        let req = Client::new()
            .post(app.url("/api/v1/enrollments"))
            .header("cookie", cookie.clone())
            .json(&json!({ "course_id": course }));
        async move { (course, req.send().await.unwrap()) }
    };
    let answers = join_all(
        ids.iter()
            .enumerate()
            .map(|(i, &c)| send(if i % 2 == 0 { &a } else { &b }, c)),
    )
    .await;
    let mut held = Vec::new();
    for (course, res) in answers {
        match res.status() {
            StatusCode::ACCEPTED => held.push(course),
            _ => assert_error(res, StatusCode::CONFLICT, "too_many_open_tickets").await,
        }
    }
    assert_eq!(held.len(), 3, "exactly the cap got in line: {held:?}");
    // Asking again for a course already held is the same ticket, not a fourth.
    assert_eq!(send(&b, held[0]).await.1.status(), StatusCode::ACCEPTED);
    // Once admission decides them, the cap finds their places free.
    let res = a
        .admin_put("/api/v1/admin/admission", &json!({"paused": false}))
        .await;
    assert_eq!(res.status(), StatusCode::OK);
    let free = *ids.iter().find(|c| !held.contains(c)).unwrap();
    eventually(
        Duration::from_secs(20),
        "a place freed by decisions",
        || async { send(&a, free).await.1.status() == StatusCode::ACCEPTED },
    )
    .await;
}

#[tokio::test]
async fn a_decided_ticket_frees_its_place_at_once_and_one_on_its_way_does_not() {
    let app = start_with(Options {
        open_tickets_per_student: Some(1),
        ..Default::default()
    })
    .await;
    app.open_window().await;
    let student_id = app.import_students("M", 1).await[0];
    let ids = courses(&app, "M", 3).await;
    let student = app.login("M0").await;
    assert_eq!(enroll_decided(&app, &student, ids[0]).await, "enrolled");
    // Well within the grace given to enqueues on their way: the decision
    // came after the place was taken, so it is free.
    assert_eq!(enroll_decided(&app, &student, ids[1]).await, "enrolled");
    // A place taken just now with no ticket yet (an enqueue on its way)
    // is held, even with a decided ticket beside it.
    let mut redis = app.redis().await;
    let now = enroll_server::redis::fair_use::now_ms();
    let _: () = redis
        .zadd(keys::open_tickets(student_id), ids[0], now)
        .await
        .unwrap();
    let res = enroll(&app, &student, ids[2]).await;
    assert_error(res, StatusCode::CONFLICT, "too_many_open_tickets").await;
    let held: Vec<i64> = redis
        .zrange(keys::open_tickets(student_id), 0, -1)
        .await
        .unwrap();
    assert_eq!(
        held,
        vec![ids[0]],
        "the decided place was pruned, the refused one given back"
    );
}

#[tokio::test]
async fn a_place_whose_release_was_lost_is_found_at_the_cap() {
    let app = start_with(Options {
        open_tickets_per_student: Some(1),
        ..Default::default()
    })
    .await;
    app.open_window().await;
    let student_id = app.import_students("J", 1).await[0];
    let ids = courses(&app, "J", 2).await;
    // A place left behind: the student is in no queue for ids[0], and the
    // entry is older than the grace given to enqueues on their way.
    let mut redis = app.redis().await;
    let old = enroll_server::redis::fair_use::now_ms() - 60_000;
    let _: () = redis
        .zadd(keys::open_tickets(student_id), ids[0], old)
        .await
        .unwrap();
    let student = app.login("J0").await;
    assert_eq!(
        enroll(&app, &student, ids[1]).await.status(),
        StatusCode::ACCEPTED
    );
    // Now the one place is really held.
    let res = enroll(&app, &student, ids[0]).await;
    assert_error(res, StatusCode::CONFLICT, "too_many_open_tickets").await;
    // A set left without a lifetime (its gate's PEXPIRE lost) gets one at
    // its next pruning.
    let _: bool = redis.persist(keys::open_tickets(student_id)).await.unwrap();
    let res = enroll(&app, &student, ids[0]).await;
    assert_error(res, StatusCode::CONFLICT, "too_many_open_tickets").await;
    let ttl: i64 = redis.pttl(keys::open_tickets(student_id)).await.unwrap();
    assert!(ttl > 3_600_000, "pruning gives the set a lifetime: {ttl}");
}

#[tokio::test]
async fn an_address_past_its_ceiling_waits_and_others_do_not() {
    let app = start_with(Options {
        rate_requests_per_address: rate("1/min burst 5"),
        rate_logins_per_address: rate("1/min burst 2"),
        ..Default::default()
    })
    .await;
    app.import_students("K", 1).await;
    let noisy = from_address("127.0.0.5");
    for _ in 0..5 {
        let res = noisy.get(app.url("/api/v1/courses")).send().await.unwrap();
        assert_eq!(res.status(), StatusCode::OK);
    }
    let res = noisy.get(app.url("/api/v1/courses")).send().await.unwrap();
    assert!(retry_after(&res) >= 1);
    assert_error(res, StatusCode::TOO_MANY_REQUESTS, "rate_limited").await;
    // Probes are not counted against anyone.
    let health = noisy.get(app.url("/healthz")).send().await.unwrap();
    assert_eq!(health.status(), StatusCode::OK);
    // Another address logs in twice; its third login waits, whatever the
    // password.
    let login = |client: &Client| {
        client
            .post(app.url("/api/v1/auth/login"))
            .json(&json!({"student_no": "K0", "password": PASSWORD}))
            .send()
    };
    let quiet = from_address("127.0.0.6");
    assert_eq!(login(&quiet).await.unwrap().status(), StatusCode::OK);
    assert_eq!(login(&quiet).await.unwrap().status(), StatusCode::OK);
    let res = login(&quiet).await.unwrap();
    assert_error(res, StatusCode::TOO_MANY_REQUESTS, "rate_limited").await;
    // A third address is untouched by both.
    let res = login(&browser()).await.unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    let by_address = app
        .metric("enroll_fair_use_refusals_total{limit=\"requests_per_address\"}")
        .await;
    assert_eq!(by_address, 1.0);
}

#[tokio::test]
async fn the_gate_counts_buckets_by_window_and_holds_the_cap() {
    let redis = testkit::RedisServer::start().unwrap();
    let mut conn = enroll_server::redis::conn::RedisConn::connect(&redis.url(), None)
        .await
        .unwrap();
    // 2/s burst 3: a bucket of 3 refilled every 1.5 s.
    let r: Rate = "2/s burst 3".parse().unwrap();
    let start = 1_000_000_000_000 / 1500 * 1500; // a window's first ms
    async fn gate_at(
        conn: &mut enroll_server::redis::conn::RedisConn,
        r: Rate,
        now_ms: u64,
        open: Option<OpenTicket>,
    ) -> Gate {
        let (call, check) = gate_call(7, StudentLimit::Enroll, r, open, now_ms);
        let reply = run_all(conn, &[call]).await.unwrap().pop().unwrap();
        let (gate, then) = check.decide(7, reply).unwrap();
        if let Some(call) = then {
            run_all(conn, &[call])
                .await
                .unwrap()
                .pop()
                .unwrap()
                .unwrap();
        }
        gate
    }
    for _ in 0..3 {
        assert_eq!(gate_at(&mut conn, r, start, None).await, Gate::Go);
    }
    let wait = |ms| Gate::Wait(Duration::from_millis(ms));
    assert_eq!(gate_at(&mut conn, r, start, None).await, wait(1500));
    assert_eq!(gate_at(&mut conn, r, start + 1400, None).await, wait(100));
    // The next window: a full bucket again, not fuller.
    for _ in 0..3 {
        assert_eq!(gate_at(&mut conn, r, start + 1500, None).await, Gate::Go);
    }
    assert_eq!(gate_at(&mut conn, r, start + 1500, None).await, wait(1500));
    // The open-ticket cap: a retry of a held course takes no new place, and
    // a refused one is given back.
    let open = |course| Some(OpenTicket { course, cap: 2 });
    let later = start + 60_000;
    assert_eq!(gate_at(&mut conn, r, later, open(1)).await, Gate::Go);
    let ttl: i64 = redis::cmd("PTTL")
        .arg(keys::open_tickets(7))
        .query_async(&mut conn)
        .await
        .unwrap();
    assert!(
        ttl > 3_600_000,
        "the set is given its lifetime when created: {ttl}"
    );
    assert_eq!(gate_at(&mut conn, r, later, open(1)).await, Gate::Go);
    assert_eq!(gate_at(&mut conn, r, later, open(2)).await, Gate::Go);
    assert_eq!(
        gate_at(&mut conn, r, later + 1500, open(3)).await,
        Gate::AtCap(2)
    );
    let held: Vec<i64> = redis::cmd("ZRANGE")
        .arg(keys::open_tickets(7))
        .arg(0)
        .arg(-1)
        .query_async(&mut conn)
        .await
        .unwrap();
    assert_eq!(held, vec![1, 2], "the refused course was given back");
}
