//! Seats taken and given back across courses and instances: credit limit,
//! timetable, cancels, freed seats.

use std::collections::HashMap;
use std::time::Duration;

use enroll_server::config::Options;
use futures::future::join_all;
use redis::AsyncCommands;
use reqwest::StatusCode;
use serde_json::{json, Value};

use crate::enroll::{enroll, enroll_decided, enroll_ok, seq};
use crate::helpers::{assert_error, assert_invariants, eventually, spawn_app, start, Spawn};

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
