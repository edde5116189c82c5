//! Enroll, tickets, admission and cancel against real PostgreSQL and Redis.

use std::collections::HashMap;
use std::time::Duration;

use enroll_server::config::Options;
use futures::future::join_all;
use redis::AsyncCommands;
use reqwest::StatusCode;
use serde_json::{json, Value};

use crate::helpers::{
    assert_error, assert_invariants, eventually, spawn_app, start, Spawn, TestApp,
};

async fn enroll(app: &TestApp, client: &reqwest::Client, course: i64) -> reqwest::Response {
    client
        .post(app.url("/api/v1/enrollments"))
        .json(&json!({"course_id": course}))
        .send()
        .await
        .unwrap()
}

async fn enroll_ok(app: &TestApp, client: &reqwest::Client, course: i64) -> Value {
    let res = enroll(app, client, course).await;
    assert_eq!(res.status(), StatusCode::ACCEPTED);
    res.json().await.unwrap()
}

/// Holds `course`'s lease for another worker for 30 s, so no admission
/// worker decides it and its tickets stay queued.
async fn hold_lease(redis: &mut redis::aio::MultiplexedConnection, course: i64) {
    let _: () = redis
        .set_ex(format!("lease:{{c{course}}}"), "someone-else", 30)
        .await
        .unwrap();
}

/// Enrolls, waits for the decision and returns its `status`.
async fn enroll_decided(app: &TestApp, client: &reqwest::Client, course: i64) -> String {
    let t = enroll_ok(app, client, course).await;
    app.wait_decided(client, t["ticket"].as_str().unwrap())
        .await["status"]
        .as_str()
        .unwrap()
        .to_string()
}

/// The `status` of each final ticket state, in order.
fn statuses(finals: &[Value]) -> Vec<&str> {
    finals
        .iter()
        .map(|f| f["status"].as_str().unwrap())
        .collect()
}

fn seq(ticket: &Value) -> i64 {
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

    // Redis lost the course's queue data: the ticket is unknown, never
    // "queued" forever, and a new ticket never reuses the old id.
    let lost_keys: Vec<String> = ["q", "seq", "st", "tk", "full"]
        .iter()
        .map(|k| format!("{k}:{{c{course}}}"))
        .collect();
    let _: () = redis.del(lost_keys).await.unwrap();
    let lost = a
        .get(app.url(&format!("/api/v1/enrollments/tickets/{t}")))
        .send()
        .await
        .unwrap();
    assert_error(lost, StatusCode::NOT_FOUND, "unknown_ticket").await;
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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn credit_limit_and_timetable_hold_across_concurrent_courses() {
    let extra = Options {
        credit_limit: Some(6),
        admission_batch_size: Some(4),
        ..Options::default()
    };
    let app = start(Spawn {
        extra,
        ..Spawn::fresh()
    })
    .await;
    app.import_students("T", 20).await;
    let slot =
        |day: &str, start: &str, end: &str| json!([{"day": day, "start": start, "end": end}]);
    let a = app
        .create_course("A3", 100, 3, slot("MON", "09:00", "10:15"))
        .await;
    let b = app
        .create_course("B3", 100, 3, slot("TUE", "09:00", "10:15"))
        .await;
    let c = app
        .create_course("C3", 100, 3, slot("WED", "09:00", "10:15"))
        .await;
    let clash = app
        .create_course("A3X", 100, 2, slot("MON", "10:00", "11:00"))
        .await;
    app.open_window().await;
    let clients = app.login_many("T", 20).await;

    // Each student asks for 3+3+3 credits (limit 6) and a clashing course,
    // all at once; the four courses are decided in parallel.
    let mut pending = Vec::new();
    for client in &clients {
        for course in [a, b, c, clash] {
            pending.push((client, course));
        }
    }
    let tickets = join_all(pending.iter().map(|(cl, co)| enroll_ok(&app, cl, *co))).await;
    let finals = join_all(
        pending
            .iter()
            .zip(&tickets)
            .map(|((cl, _), t)| app.wait_decided(cl, t["ticket"].as_str().unwrap())),
    )
    .await;
    assert_invariants(&app.db, 6).await;
    let mut per_reason: HashMap<String, usize> = HashMap::new();
    for f in &finals {
        *per_reason
            .entry(format!("{}:{}", f["status"], f["reason"]))
            .or_default() += 1;
    }
    let enrolled = per_reason.get("\"enrolled\":null").copied().unwrap_or(0);
    // Every student ends with a full 6 credits and nobody more: with 2 or 3
    // credit courses and ample seats, each gets exactly what fits.
    let credits: Vec<i64> = sqlx::query_scalar(
        "SELECT COALESCE(sum(c.credits), 0)::bigint FROM students s LEFT JOIN enrollments e ON e.student_id = s.id \
         LEFT JOIN courses c ON c.id = e.course_id GROUP BY s.id",
    )
    .fetch_all(&app.db)
    .await
    .unwrap();
    assert!(credits.iter().all(|&c| (5..=6).contains(&c)), "{credits:?}");
    assert!(
        per_reason.contains_key("\"rejected\":\"credit_limit\""),
        "{per_reason:?}"
    );
    assert_eq!(
        per_reason.values().sum::<usize>(),
        80,
        "every ticket decided"
    );
    let rows: i64 = sqlx::query_scalar("SELECT count(*) FROM enrollments")
        .fetch_one(&app.db)
        .await
        .unwrap();
    assert_eq!(
        enrolled as i64, rows,
        "every enrolled answer is a row, and no more"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_cancels_and_enrolls_across_courses_keep_every_invariant() {
    // Small batches: many admission transactions, each over several of the
    // four courses, while students cancel seats in the same courses.
    let extra = Options {
        admission_batch_size: Some(2),
        ..Options::default()
    };
    let app = start(Spawn {
        extra,
        ..Spawn::fresh()
    })
    .await;
    app.import_students("W", 24).await;
    let mut courses = Vec::new();
    for code in ["W1", "W2", "W3", "W4"] {
        courses.push(app.create_course(code, 6, 3, json!([])).await);
    }
    app.open_window().await;
    let clients = app.login_many("W", 24).await;

    // Every student, for every course at once: enroll, wait for the answer,
    // cancel, enroll again.
    let round = |client: &reqwest::Client, course: i64| {
        let app = &app;
        let client = client.clone();
        async move {
            let mut tickets = Vec::new();
            let first = enroll(app, &client, course).await;
            if first.status() == StatusCode::ACCEPTED {
                let t: Value = first.json().await.unwrap();
                app.wait_decided(&client, t["ticket"].as_str().unwrap())
                    .await;
                tickets.push(t);
            }
            let cancelled = client
                .delete(app.url(&format!("/api/v1/enrollments/{course}")))
                .send()
                .await
                .unwrap()
                .status();
            let again = enroll(app, &client, course).await;
            match again.status() {
                StatusCode::ACCEPTED => tickets.push(again.json().await.unwrap()),
                StatusCode::CONFLICT => {}
                other => panic!("an enroll answered {other}: {:?}", again.text().await),
            }
            (cancelled, tickets)
        }
    };
    let mut rounds = Vec::new();
    for client in &clients {
        for &course in &courses {
            rounds.push(round(client, course));
        }
    }
    let results = join_all(rounds).await;
    let cancelled: Vec<StatusCode> = results.iter().map(|r| r.0).collect();
    for status in &cancelled {
        assert!(
            [StatusCode::NO_CONTENT, StatusCode::NOT_FOUND].contains(status),
            "a cancel answered {status}"
        );
    }
    let tickets: Vec<Value> = results.into_iter().flat_map(|r| r.1).collect();
    eventually(Duration::from_secs(30), "every queue drained", || async {
        let mut redis = app.redis().await;
        let mut left = 0;
        for &course in &courses {
            let n: i64 = redis.zcard(format!("q:{{c{course}}}")).await.unwrap();
            left += n;
        }
        left == 0
    })
    .await;
    assert_invariants(&app.db, 18).await;
    assert!(
        cancelled.contains(&StatusCode::NO_CONTENT),
        "some cancels met a seat"
    );
    // Some admission transactions carried several courses' batches.
    let (courses_sum, txns) = (
        app.metric("enroll_admission_transaction_courses_sum").await,
        app.metric("enroll_admission_transaction_courses_count")
            .await,
    );
    assert!(
        courses_sum > txns,
        "{courses_sum} courses in {txns} transactions"
    );
    // Every ticket reached a final answer.
    for t in &tickets {
        let (course, seq) = (t["course_id"].as_i64().unwrap(), seq(t));
        let mut redis = app.redis().await;
        let state: String = redis.hget(format!("tk:{{c{course}}}"), seq).await.unwrap();
        assert!(!state.contains("|queued|"), "{course}-{seq}: {state}");
    }
}

#[tokio::test]
async fn cancel_frees_the_seat_for_the_next_in_line() {
    let app = spawn_app().await;
    app.import_students("X", 3).await;
    let course = app.create_course("ONE1", 1, 3, json!([])).await;
    app.open_window().await;
    let (x0, x1, x2) = (
        app.login("X0").await,
        app.login("X1").await,
        app.login("X2").await,
    );

    assert_eq!(enroll_decided(&app, &x0, course).await, "enrolled");
    // Known full: refused at once, without queueing.
    for c in [&x1, &x2] {
        assert_error(
            enroll(&app, c, course).await,
            StatusCode::CONFLICT,
            "course_full",
        )
        .await;
    }

    let res = x1
        .delete(app.url(&format!("/api/v1/enrollments/{course}")))
        .send()
        .await
        .unwrap();
    assert_error(res, StatusCode::NOT_FOUND, "not_enrolled").await;
    let res = x0
        .delete(app.url(&format!("/api/v1/enrollments/{course}")))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::NO_CONTENT);
    let mine: Vec<Value> = x0
        .get(app.url("/api/v1/enrollments"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert!(mine.is_empty(), "the cancel shows at once");

    // The full flag is gone: the next student queues and takes the seat.
    assert_eq!(enroll_decided(&app, &x2, course).await, "enrolled");
    let mine: Vec<Value> = x2
        .get(app.url("/api/v1/enrollments"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(mine[0]["course_id"], course);
    assert_invariants(&app.db, 18).await;
}

/// Refusals of a full course are answered from memory, and seats freed
/// through another instance reopen the course here at once (pub/sub), not
/// when the memory's time runs out.
#[tokio::test]
async fn seats_freed_on_one_instance_reopen_a_course_another_knows_full() {
    // Memory far longer than this test: only the message can explain A
    // letting the next student queue.
    let long_memory = || Options {
        full_cache_ms: Some(600_000),
        ..Default::default()
    };
    let mut spec = Spawn::fresh();
    spec.extra = long_memory();
    let a = start(spec).await;
    a.import_students("W", 3).await;
    let course = a.create_course("ONE2", 1, 3, json!([])).await;
    a.open_window().await;
    // B starts with the window and the course already in its snapshot.
    let b = start(a.beside(long_memory())).await;
    let (w0, w1, w2) = (
        a.login("W0").await,
        a.login("W1").await,
        a.login("W2").await,
    );
    assert_eq!(enroll_decided(&a, &w0, course).await, "enrolled");

    // A follows the feed shortly after start; from then on, once Redis has
    // answered "full", A refuses from memory.
    let from_memory = "enroll_known_full_refusals_total";
    eventually(
        Duration::from_secs(10),
        "A refuses the full course from memory",
        || async {
            assert_error(
                enroll(&a, &w1, course).await,
                StatusCode::CONFLICT,
                "course_full",
            )
            .await;
            a.metric(from_memory).await >= 1.0
        },
    )
    .await;
    // Redis forgets the flag without telling anyone: A still answers from
    // memory (asked, Redis would queue the request).
    let mut redis = a.redis().await;
    let _: () = redis.del(format!("full:{{c{course}}}")).await.unwrap();
    let refused = a.metric(from_memory).await;
    assert_error(
        enroll(&a, &w2, course).await,
        StatusCode::CONFLICT,
        "course_full",
    )
    .await;
    assert_eq!(a.metric(from_memory).await, refused + 1.0);
    let _: () = redis.set(format!("full:{{c{course}}}"), "1").await.unwrap();

    // W0 cancels through B: A lets the next student queue as soon as the
    // message arrives, and that student takes the seat.
    let res = w0
        .delete(b.url(&format!("/api/v1/enrollments/{course}")))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::NO_CONTENT);
    let ticket = std::sync::Mutex::new(None);
    eventually(
        Duration::from_secs(3),
        "A lets W1 queue for the freed seat",
        || async {
            let res = enroll(&a, &w1, course).await;
            if res.status() != StatusCode::ACCEPTED {
                assert_error(res, StatusCode::CONFLICT, "course_full").await;
                return false;
            }
            *ticket.lock().unwrap() = Some(res.json::<Value>().await.unwrap());
            true
        },
    )
    .await;
    let t1 = ticket.into_inner().unwrap().unwrap();
    assert_eq!(
        a.wait_decided(&w1, t1["ticket"].as_str().unwrap()).await["status"],
        "enrolled"
    );
    assert_invariants(&a.db, 18).await;
}

#[tokio::test]
async fn a_dead_workers_lease_is_taken_over_after_it_expires() {
    let app = start(Spawn {
        extra: Options {
            admission_lease_ms: Some(300),
            ..Options::default()
        },
        ..Spawn::fresh()
    })
    .await;
    app.import_students("W", 3).await;
    let course = app.create_course("LEASE1", 2, 3, json!([])).await;
    app.open_window().await;
    // A worker "died" holding the lease in the middle of a batch.
    let mut redis = app.redis().await;
    let _: () = redis
        .pset_ex(format!("lease:{{c{course}}}"), "dead-worker", 400)
        .await
        .unwrap();
    let _: () = redis
        .set(format!("claim:{{c{course}}}"), "dead-worker")
        .await
        .unwrap();

    let clients = app.login_many("W", 3).await;
    let mut tickets = Vec::new();
    for c in &clients {
        tickets.push(enroll_ok(&app, c, course).await); // in a known order
    }
    let finals = app.wait_all_decided(&clients, &tickets).await;
    assert_eq!(
        statuses(&finals),
        ["enrolled", "enrolled", "rejected"],
        "queue order kept across the takeover"
    );
    eventually(Duration::from_secs(5), "takeover counted", || async {
        app.metric("enroll_admission_lease_takeovers_total").await == 1.0
    })
    .await;
}

/// An admin pauses admission: tickets keep queueing in arrival order and
/// nothing is decided, on every poll of the runner; resuming decides them in
/// that order.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn paused_admission_queues_without_deciding_until_resumed() {
    let app = spawn_app().await;
    app.import_students("P", 3).await;
    let course = app.create_course("PAUSE1", 2, 3, json!([])).await;
    app.open_window().await;

    let res = reqwest::Client::new()
        .put(app.url("/api/v1/admin/admission"))
        .json(&json!({"paused": true}))
        .send()
        .await
        .unwrap();
    assert_error(res, StatusCode::UNAUTHORIZED, "admin_token_required").await;
    let res = app
        .admin_put("/api/v1/admin/admission", &json!({"paused": true}))
        .await;
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(res.json::<Value>().await.unwrap()["paused"], true);
    eventually(
        Duration::from_secs(5),
        "the runner sees the pause",
        || async { app.metric("enroll_admission_paused").await == 1.0 },
    )
    .await;

    let clients = app.login_many("P", 3).await;
    let mut tickets = Vec::new();
    for c in &clients {
        tickets.push(enroll_ok(&app, c, course).await);
    }
    // Students are told their place and that admission is paused, not an
    // ETA that would pass without anything happening.
    for t in &tickets {
        assert_eq!(t["admission_paused"], true, "{t}");
        assert!(t.get("eta_ms").is_none(), "{t}");
    }
    // Several full polls of the runner later, still nothing decided.
    let scans = app.metric("enroll_admission_scans_total").await;
    eventually(
        Duration::from_secs(5),
        "three more runner polls",
        || async { app.metric("enroll_admission_scans_total").await >= scans + 3.0 },
    )
    .await;
    for (i, (c, t)) in clients.iter().zip(&tickets).enumerate() {
        let now = app.ticket_state(c, t["ticket"].as_str().unwrap()).await;
        assert_eq!(now["status"], "queued", "{now}");
        assert_eq!(now["position"], i + 1, "{now}");
        assert_eq!(now["admission_paused"], true, "{now}");
        assert!(now.get("eta_ms").is_none(), "{now}");
    }
    let rows: i64 = sqlx::query_scalar("SELECT count(*) FROM enrollments")
        .fetch_one(&app.db)
        .await
        .unwrap();
    assert_eq!(rows, 0);
    let shown: Value = app
        .admin(
            reqwest::Method::GET,
            "/api/v1/admin/admission",
            &json!(null),
        )
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(shown["paused"], true);

    let wall_ms = || {
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_millis() as i64
    };
    let resumed_ms = wall_ms();
    let res = app
        .admin_put("/api/v1/admin/admission", &json!({"paused": false}))
        .await;
    assert_eq!(res.json::<Value>().await.unwrap()["paused"], false);
    let finals = app.wait_all_decided(&clients, &tickets).await;
    // Each decided ticket carries when it was decided (Redis's clock, this
    // machine's): after the resume, before now.
    let stored: HashMap<String, String> = app
        .redis()
        .await
        .hgetall(format!("tk:{{c{course}}}"))
        .await
        .unwrap();
    let done_ms = wall_ms();
    assert_eq!(stored.len(), 3);
    for value in stored.values() {
        let decided_ms: i64 = value.rsplit('|').next().unwrap().parse().unwrap();
        assert!(
            (resumed_ms..=done_ms).contains(&decided_ms),
            "{value}: decided at {decided_ms}, resumed {resumed_ms}, done {done_ms}"
        );
    }
    assert_eq!(
        statuses(&finals),
        ["enrolled", "enrolled", "rejected"],
        "arrival order kept"
    );
    assert_eq!(finals[2]["reason"], "course_full");
    assert!(finals.iter().all(|f| f.get("admission_paused").is_none()));
    assert_eq!(app.metric("enroll_admission_paused").await, 0.0);
}

/// `enroll_queue_length` shows every waiting course, also while every
/// admission connection is busy (the courses left over wait their turn but
/// are still measured: the backlog alert and the dashboard read it).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn queue_gauges_cover_every_course_while_admission_is_saturated() {
    let mut spec = Spawn::fresh();
    spec.extra = Options {
        admission_connections: Some(1),
        ..Default::default()
    };
    let app = start(spec).await;
    app.import_students("Q", 4).await;
    let courses = [
        app.create_course("QA1", 10, 3, json!([])).await,
        app.create_course("QB1", 10, 3, json!([])).await,
        app.create_course("QC1", 10, 3, json!([])).await,
    ];
    app.open_window().await;
    let clients = app.login_many("Q", 4).await;
    // The first course's drain takes the only admission connection and waits
    // on this lock.
    let blocker = app.hold_course_lock(courses[0]).await;
    enroll_ok(&app, &clients[0], courses[0]).await;
    app.wait_for_a_lock_waiter().await;
    // Now 1 and 2 students wait for the other courses, whose batches wait
    // behind the blocked transaction for the only connection; their queues
    // must still be measured.
    enroll_ok(&app, &clients[1], courses[1]).await;
    enroll_ok(&app, &clients[2], courses[2]).await;
    enroll_ok(&app, &clients[3], courses[2]).await;
    let gauge = |course: i64| {
        let app = &app;
        async move {
            app.metric(&format!("enroll_queue_length{{course=\"{course}\"}}"))
                .await
        }
    };
    eventually(Duration::from_secs(10), "every queue measured", || async {
        gauge(courses[0]).await == 1.0
            && gauge(courses[1]).await == 1.0
            && gauge(courses[2]).await == 2.0
    })
    .await;
    blocker.rollback().await.unwrap();
    eventually(Duration::from_secs(10), "all four decided", || async {
        sqlx::query_scalar::<_, i64>("SELECT count(*) FROM enrollments")
            .fetch_one(&app.db)
            .await
            .unwrap()
            == 4
    })
    .await;
}
