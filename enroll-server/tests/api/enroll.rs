//! Enroll and follow tickets against real PostgreSQL and Redis; the helpers
//! the other enrollment tests share.

use enroll_server::config::Options;
use futures::future::join_all;
use redis::AsyncCommands;
use reqwest::StatusCode;
use serde_json::{json, Value};

use crate::helpers::{assert_error, assert_invariants, spawn_app, start, Spawn, TestApp};

pub(crate) async fn enroll(
    app: &TestApp,
    client: &reqwest::Client,
    course: i64,
) -> reqwest::Response {
    client
        .post(app.url("/api/v1/enrollments"))
        .json(&json!({"course_id": course}))
        .send()
        .await
        .unwrap()
}

/// [`enroll`], asked again while it is answered 503 (Redis switching to
/// another primary, or slow to confirm a replica), as a client retries,
/// for at most `patience`.
pub(crate) async fn enroll_past_503(
    app: &TestApp,
    client: &reqwest::Client,
    course: i64,
    patience: std::time::Duration,
) -> reqwest::Response {
    let deadline = std::time::Instant::now() + patience;
    loop {
        let res = enroll(app, client, course).await;
        if res.status() != reqwest::StatusCode::SERVICE_UNAVAILABLE
            || std::time::Instant::now() > deadline
        {
            return res;
        }
        tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    }
}

pub(crate) async fn enroll_ok(app: &TestApp, client: &reqwest::Client, course: i64) -> Value {
    let res = enroll(app, client, course).await;
    assert_eq!(res.status(), StatusCode::ACCEPTED);
    res.json().await.unwrap()
}

/// Holds `course`'s lease for another worker for 30 s, so no admission
/// worker decides it and its tickets stay queued.
pub(crate) async fn hold_lease(redis: &mut redis::aio::MultiplexedConnection, course: i64) {
    let _: () = redis
        .set_ex(format!("lease:{{c{course}}}"), "someone-else", 30)
        .await
        .unwrap();
}

/// Enrolls, waits for the decision and returns its `status`.
pub(crate) async fn enroll_decided(app: &TestApp, client: &reqwest::Client, course: i64) -> String {
    let t = enroll_ok(app, client, course).await;
    app.wait_decided(client, t["ticket"].as_str().unwrap())
        .await["status"]
        .as_str()
        .unwrap()
        .to_string()
}

/// The `status` of each final ticket state, in order.
pub(crate) fn statuses(finals: &[Value]) -> Vec<&str> {
    finals
        .iter()
        .map(|f| f["status"].as_str().unwrap())
        .collect()
}

pub(crate) fn seq(ticket: &Value) -> i64 {
    ticket["ticket"]
        .as_str()
        .unwrap()
        .split('-')
        .nth(1)
        .unwrap()
        .parse()
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn seed_scenario_50_students_40_seats() {
    let app = spawn_app().await;
    app.import_students("R", 50).await;
    let course = app.create_course("HOT101", 40, 3, json!([])).await;
    app.open_window().await;
    let clients = app.login_many("R", 50).await;

    // Everyone presses "enroll" at once. On a busy machine admission may fill
    // the course before the last requests arrive: those are refused at once
    // (409 course_full) instead of queueing, which is the same answer.
    let answers = join_all(clients.iter().map(|c| enroll(&app, c, course))).await;
    let (mut queued, mut tickets, mut refused_at_once) = (Vec::new(), Vec::new(), 0);
    for (client, res) in clients.iter().zip(answers) {
        if res.status() == StatusCode::CONFLICT {
            assert_error(res, StatusCode::CONFLICT, "course_full").await;
            refused_at_once += 1;
            continue;
        }
        assert_eq!(res.status(), StatusCode::ACCEPTED);
        let t: Value = res.json().await.unwrap();
        assert_eq!(t["status"], "queued");
        assert!(
            t["position"].as_i64().unwrap() >= 1 && t["eta_ms"].is_u64(),
            "{t}"
        );
        queued.push(client.clone());
        tickets.push(t);
    }
    let clients = queued;
    let finals = app.wait_all_decided(&clients, &tickets).await;
    let enrolled: Vec<i64> = tickets
        .iter()
        .zip(&finals)
        .filter(|(_, f)| f["status"] == "enrolled")
        .map(|(t, _)| seq(t))
        .collect();
    let rejected_full = finals
        .iter()
        .filter(|f| f["status"] == "rejected" && f["reason"] == "course_full")
        .count();
    assert_eq!(
        (enrolled.len(), rejected_full + refused_at_once),
        (40, 10),
        "exactly 40 enrolled, 10 rejected course_full"
    );
    assert_eq!(tickets.len() + refused_at_once, 50);

    // Invariant 4: the winners are exactly the 40 earliest tickets.
    let mut all: Vec<i64> = tickets.iter().map(seq).collect();
    all.sort_unstable();
    let mut winners = enrolled.clone();
    winners.sort_unstable();
    assert_eq!(winners, all[..40].to_vec());
    assert_invariants(&app.db, 18).await;
    let rows: i64 = sqlx::query_scalar("SELECT count(*) FROM enrollments")
        .fetch_one(&app.db)
        .await
        .unwrap();
    assert_eq!(rows, 40);

    // Later requests are refused at once, and the metrics saw it all.
    let late = app.login("R0").await;
    app.import_students("late", 1).await;
    let res = enroll(&app, &app.login("late0").await, course).await;
    assert_error(res, StatusCode::CONFLICT, "course_full").await;
    let again = enroll(&app, &late, course).await;
    assert!(matches!(again.status(), StatusCode::CONFLICT));
    assert_eq!(
        app.metric("enroll_admission_decisions_total{outcome=\"enrolled\",reason=\"\"}")
            .await,
        40.0
    );
    assert_eq!(
        app.metric("enroll_admission_decisions_total{outcome=\"rejected\",reason=\"course_full\"}")
            .await,
        rejected_full as f64
    );
    assert!(app.metric("enroll_admission_batch_size_count").await >= 1.0);
    assert!(app.metric("enroll_admission_commit_seconds_count").await >= 1.0);
    assert_eq!(
        app.metric("enroll_tickets_total{outcome=\"queued\"}").await,
        tickets.len() as f64
    );
    assert!(
        app.metric("enroll_tickets_total{outcome=\"refused_full\"}")
            .await
            >= 1.0 + refused_at_once as f64
    );
    assert_eq!(
        app.metric(&format!("enroll_queue_length{{course=\"{course}\"}}"))
            .await,
        0.0
    );
}

#[tokio::test]
async fn several_tickets_are_read_in_one_request_and_stay_private() {
    let app = spawn_app().await;
    app.import_students("R", 2).await;
    let c1 = app.create_course("R1", 5, 3, json!([])).await;
    let c2 = app.create_course("R2", 5, 3, json!([])).await;
    let a = app.login("R0").await;
    let b = app.login("R1").await;
    app.open_window().await;
    // C1's line does not move (another worker's lease); C2's does.
    let mut redis = app.redis().await;
    hold_lease(&mut redis, c1).await;
    let b1 = enroll_ok(&app, &b, c1).await;
    let a1 = enroll_ok(&app, &a, c1).await;
    let a2 = enroll_ok(&app, &a, c2).await;
    let id = |t: &Value| t["ticket"].as_str().unwrap().to_string();
    app.wait_decided(&a, &id(&a2)).await;

    let read = |client: &reqwest::Client, ids: String| {
        let req = client
            .get(app.url("/api/v1/enrollments/tickets"))
            .query(&[("ids", ids)]);
        async move { req.send().await.unwrap() }
    };
    let ids = format!("{},{},{},nonsense,{c2}-999999", id(&a2), id(&b1), id(&a1));
    let res = read(&a, ids).await;
    assert_eq!(res.status(), StatusCode::OK);
    let body: Value = res.json().await.unwrap();
    let got: Vec<(String, String, Option<i64>)> = body["tickets"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| {
            let s = t["status"].as_str().unwrap().to_string();
            (
                t["ticket"].as_str().unwrap().to_string(),
                s,
                t["position"].as_i64(),
            )
        })
        .collect();
    assert_eq!(
        got,
        vec![
            (id(&a2), "enrolled".to_string(), None),
            (id(&a1), "queued".to_string(), Some(2)),
        ],
        "the caller's tickets in the order asked, with their place"
    );
    // Someone else's, malformed and never issued: all just unknown.
    assert_eq!(
        body["unknown"],
        json!([id(&b1), "nonsense", format!("{c2}-999999")])
    );

    // Reads run no script: Redis forgetting its scripts (as after a
    // restart) changes nothing for them.
    let _: () = redis::cmd("SCRIPT")
        .arg("FLUSH")
        .query_async(&mut redis)
        .await
        .unwrap();
    let again: Value = read(&a, id(&a1)).await.json().await.unwrap();
    assert_eq!(again["tickets"][0]["status"], "queued");

    let many = vec![id(&a1); 33].join(",");
    assert_error(
        read(&a, many).await,
        StatusCode::UNPROCESSABLE_ENTITY,
        "too_many_tickets",
    )
    .await;
    let anon = reqwest::Client::new();
    assert_error(
        read(&anon, id(&a1)).await,
        StatusCode::UNAUTHORIZED,
        "unauthenticated",
    )
    .await;
    // Reading changed nothing: released, the queued ticket is decided.
    let _: () = redis.del(format!("lease:{{c{c1}}}")).await.unwrap();
    assert_eq!(app.wait_decided(&a, &id(&a1)).await["status"], "enrolled");
}

#[tokio::test]
async fn retry_keeps_ticket_and_place_and_tickets_are_private() {
    let app = spawn_app().await;
    app.import_students("P", 2).await;
    let course = app.create_course("Q1", 5, 3, json!([])).await;
    let a = app.login("P0").await;
    let b = app.login("P1").await;

    let res = enroll(&app, &a, course).await;
    assert_error(res, StatusCode::FORBIDDEN, "registration_closed").await;
    app.open_window().await;
    let res = enroll(&app, &a, 987654).await;
    assert_error(res, StatusCode::NOT_FOUND, "course_not_found").await;

    // Hold the admission worker off this course so the ticket stays queued.
    let mut redis = app.redis().await;
    hold_lease(&mut redis, course).await;
    let first = enroll_ok(&app, &a, course).await;
    let second = enroll_ok(&app, &a, course).await;
    assert_eq!(
        first["ticket"], second["ticket"],
        "a retry returns the same ticket"
    );
    assert_eq!(
        (first["position"].as_i64(), second["position"].as_i64()),
        (Some(1), Some(1))
    );
    let b_ticket = enroll_ok(&app, &b, course).await;
    assert_eq!(b_ticket["position"], 2);

    let t = first["ticket"].as_str().unwrap();
    let mine: Value = a
        .get(app.url(&format!("/api/v1/enrollments/tickets/{t}")))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(
        (mine["status"].as_str(), mine["position"].as_i64()),
        (Some("queued"), Some(1))
    );
    let theirs = b
        .get(app.url(&format!("/api/v1/enrollments/tickets/{t}")))
        .send()
        .await
        .unwrap();
    assert_error(theirs, StatusCode::NOT_FOUND, "unknown_ticket").await;
    let anon = reqwest::get(app.url(&format!("/api/v1/enrollments/tickets/{t}")))
        .await
        .unwrap();
    assert_error(anon, StatusCode::UNAUTHORIZED, "unauthenticated").await;

    // Release the course: both are admitted, in order.
    let _: () = redis.del(format!("lease:{{c{course}}}")).await.unwrap();
    assert_eq!(app.wait_decided(&a, t).await["status"], "enrolled");
    assert_eq!(
        app.wait_decided(&b, b_ticket["ticket"].as_str().unwrap())
            .await["status"],
        "enrolled"
    );
    let res = enroll(&app, &a, course).await;
    assert_error(res, StatusCode::CONFLICT, "already_enrolled").await;

    // Redis lost the course's queue data: the ticket that won the seat is
    // answered from the database (never "queued" forever, never unknown),
    // and a new ticket never reuses the old id.
    let lost_keys: Vec<String> = ["q", "seq", "st", "tk", "full"]
        .iter()
        .map(|k| format!("{k}:{{c{course}}}"))
        .collect();
    let _: () = redis.del(lost_keys).await.unwrap();
    assert_eq!(app.ticket_state(&a, t).await["status"], "enrolled");
    // ... and the database still refuses a second seat for the same student.
    let t2 = enroll_ok(&app, &a, course).await;
    assert_ne!(t2["ticket"], first["ticket"]);
    let decided = app.wait_decided(&a, t2["ticket"].as_str().unwrap()).await;
    assert_eq!(
        (decided["status"].as_str(), decided["reason"].as_str()),
        (Some("rejected"), Some("already_enrolled"))
    );
}

/// `eta_ms` counts whole admission cycles: admission stores each course's
/// measured cycle and batch size, and a place waits one cycle per batch of
/// places ahead of it (the head a whole cycle, not "1 ms").
#[tokio::test]
async fn eta_counts_admission_cycles_of_the_measured_pace() {
    let app = start({
        let mut spec = Spawn::fresh();
        spec.extra = Options {
            admission_batch_size: Some(2),
            ..Default::default()
        };
        spec
    })
    .await;
    app.import_students("E", 4).await;
    let course = app.create_course("ETA1", 10, 3, json!([])).await;
    app.open_window().await;
    let students = app.login_many("E", 4).await;

    // Admission decides one ticket and records the course's pace.
    enroll_decided(&app, &students[0], course).await;
    let mut redis = app.redis().await;
    let pace: String = redis.get(format!("pace:{{c{course}}}")).await.unwrap();
    let (cycle, batch) = pace.split_once('|').unwrap();
    assert_eq!(batch, "2", "{pace}");
    assert!(cycle.parse::<f64>().unwrap() > 0.0, "{pace}");

    // With the course held (no worker decides it), places 1..3 at a pace of
    // 40 ms per batch of 2: the batch in flight (half a cycle on average),
    // then one cycle per batch of places: 60, 60 and 100 ms, in the 202 and
    // when read.
    hold_lease(&mut redis, course).await;
    let _: () = redis
        .set(format!("pace:{{c{course}}}"), "40.0|2")
        .await
        .unwrap();
    let mut etas = Vec::new();
    let mut last = String::new();
    for s in &students[1..] {
        let t = enroll_ok(&app, s, course).await;
        etas.push((
            t["position"].as_i64().unwrap(),
            t["eta_ms"].as_u64().unwrap(),
        ));
        last = t["ticket"].as_str().unwrap().to_string();
        let read = app.ticket_state(s, &last).await;
        assert_eq!(read["eta_ms"], t["eta_ms"], "{read}");
    }
    assert_eq!(etas, [(1, 60), (2, 60), (3, 100)]);

    // Nothing measured (or a value this version does not read): one assumed
    // 50 ms cycle per configured batch.
    let _: () = redis
        .set(format!("pace:{{c{course}}}"), "1234.5")
        .await
        .unwrap();
    let read = app.ticket_state(&students[3], &last).await;
    assert_eq!(
        (read["position"].as_i64(), read["eta_ms"].as_u64()),
        (Some(3), Some(125))
    );
}
