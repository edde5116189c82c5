//! Redis losing its data, or belonging to another database: sessions
//! survive, the database's answers come back, and a foreign Redis is never
//! believed.

use std::time::Duration;

use enroll_server::config::Options;
use reqwest::StatusCode;
use serde_json::{json, Value};

use crate::enroll::{enroll, enroll_past_503};
use crate::helpers::{assert_error, eventually, spawn_app, start, Spawn};

/// FLUSHALL mid-registration: a logged-in student stays logged in (their
/// genuine token is found in the database and put back), and once the
/// loss is noticed the full flag and the won ticket are rebuilt, so a
/// retry is answered "already enrolled" and the old ticket still reads
/// "enrolled".
#[tokio::test]
async fn a_flushed_redis_logs_nobody_out_and_is_rebuilt_from_the_database() {
    let app = start(Spawn {
        // No per-process session cache: every request asks Redis.
        extra: Options {
            session_cache_ms: Some(0),
            ..Options::default()
        },
        ..Spawn::fresh()
    })
    .await;
    app.open_window().await;
    app.import_students("R", 2).await;
    let course = app.create_course("ONE101", 1, 3, json!([])).await;
    let winner = app.login("R0").await;
    let loser = app.login("R1").await;
    let ticket: Value = enroll(&app, &winner, course).await.json().await.unwrap();
    let ticket = ticket["ticket"].as_str().unwrap().to_string();
    assert_eq!(
        app.wait_decided(&winner, &ticket).await["status"],
        "enrolled"
    );
    assert_error(
        enroll(&app, &loser, course).await,
        StatusCode::CONFLICT,
        "course_full",
    )
    .await;

    let mut redis = app.redis().await;
    let _: () = redis::cmd("FLUSHALL")
        .query_async(&mut redis)
        .await
        .unwrap();

    // Still logged in, at once (before the rebuild, too).
    let me = winner.get(app.url("/api/v1/me")).send().await.unwrap();
    assert_eq!(me.status(), StatusCode::OK);
    let me: Value = me.json().await.unwrap();
    assert_eq!(me["student_no"], "R0", "{me}");
    assert!(
        app.metric("enroll_session_lookups_total{source=\"database\"}")
            .await
            >= 1.0
    );

    eventually(Duration::from_secs(10), "Redis rebuilt", || async {
        app.metric("enroll_redis_rebuilds_total").await >= 2.0
    })
    .await;
    let full: bool = redis::cmd("EXISTS")
        .arg(format!("full:{{c{course}}}"))
        .query_async(&mut redis)
        .await
        .unwrap();
    assert!(full, "the full flag is back");
    assert_eq!(
        app.ticket_state(&winner, &ticket).await["status"],
        "enrolled"
    );
    // An instance without this one's memory of full courses answers the
    // winner's retry from the rebuilt ticket.
    let second = start(app.beside(Options::default())).await;
    assert_error(
        enroll(&second, &winner, course).await,
        StatusCode::CONFLICT,
        "already_enrolled",
    )
    .await;
    // Forgotten by Redis again (as a day after its decision): the database
    // still answers for the seat it won.
    let seq = ticket.split_once('-').unwrap().1;
    let _: () = redis::cmd("HDEL")
        .arg(format!("tk:{{c{course}}}"))
        .arg(seq)
        .query_async(&mut redis)
        .await
        .unwrap();
    assert_eq!(
        app.ticket_state(&winner, &ticket).await["status"],
        "enrolled"
    );
    // Someone else's ticket id is not answered from the database either.
    let other = loser
        .get(app.url(&format!("/api/v1/enrollments/tickets/{ticket}")))
        .send()
        .await
        .unwrap();
    assert_error(other, StatusCode::NOT_FOUND, "unknown_ticket").await;

    assert_error(
        enroll(&app, &loser, course).await,
        StatusCode::CONFLICT,
        "course_full",
    )
    .await;
    // The other student's session came back with the rebuild.
    let sessions: Vec<String> = redis::cmd("KEYS")
        .arg("sess:*")
        .query_async(&mut redis)
        .await
        .unwrap();
    assert_eq!(sessions.len(), 2, "{sessions:?}");
    // A made-up token never reaches the database.
    let before = app
        .metric("enroll_session_lookups_total{source=\"database\"}")
        .await;
    let forged = reqwest::Client::new()
        .get(app.url("/api/v1/me"))
        .header("cookie", format!("enroll_session={}", "A".repeat(64)))
        .send()
        .await
        .unwrap();
    assert_eq!(forged.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(
        app.metric("enroll_session_lookups_total{source=\"database\"}")
            .await,
        before
    );
}

/// Logging out ends the session in the database too: a flushed Redis does
/// not bring it back.
#[tokio::test]
async fn a_logged_out_session_stays_ended_after_redis_loses_its_data() {
    let app = spawn_app().await;
    app.import_students("L", 1).await;
    let cookie = app.login_cookie("L0").await;
    let out = reqwest::Client::new()
        .post(app.url("/api/v1/auth/logout"))
        .header("cookie", &cookie)
        .send()
        .await
        .unwrap();
    assert_eq!(out.status(), StatusCode::NO_CONTENT);
    let mut redis = app.redis().await;
    let _: () = redis::cmd("FLUSHALL")
        .query_async(&mut redis)
        .await
        .unwrap();
    let me = reqwest::Client::new()
        .get(app.url("/api/v1/me"))
        .header("cookie", &cookie)
        .send()
        .await
        .unwrap();
    assert_eq!(me.status(), StatusCode::UNAUTHORIZED);
}

/// A Redis that holds another database's data: a new instance refuses to
/// start on it, and a running one that finds itself pointed at one (or
/// whose Redis is taken over) stops believing it until it is its own
/// again.
#[tokio::test]
async fn a_redis_of_another_deployment_is_never_believed() {
    let app = spawn_app().await;
    app.open_window().await;
    app.import_students("F", 1).await;
    let course = app.create_course("FOR101", 5, 3, json!([])).await;

    // Another database, the same Redis.
    let (other_db, other_replicas) = testkit::shared::database("api").unwrap();
    let other = Spawn {
        database_url: other_db,
        replica_urls: other_replicas,
        redis_url: app.redis_url.clone(),
        redis: None,
        extra: Options::default(),
    };
    let options = Options {
        listen: Some("127.0.0.1:0".parse().unwrap()),
        database_url: Some(other.database_url.clone()),
        redis_url: Some(other.redis_url.clone()),
        admin_token: Some(crate::helpers::ADMIN_TOKEN.into()),
        ..Options::default()
    };
    let refused = enroll_server::Application::build(options.resolve().unwrap()).await;
    let err = format!("{:#}", refused.err().expect("refused"));
    assert!(err.contains("another deployment"), "{err}");

    let client = app.login("F0").await;
    let mut redis = app.redis().await;
    let ours: String = redis::cmd("GET")
        .arg("deployment")
        .query_async(&mut redis)
        .await
        .unwrap();
    let _: () = redis::cmd("SET")
        .arg("deployment")
        .arg("00000000-0000-0000-0000-000000000000")
        .query_async(&mut redis)
        .await
        .unwrap();
    eventually(Duration::from_secs(10), "readiness reports it", || async {
        reqwest::get(app.url("/readyz")).await.unwrap().status() == StatusCode::SERVICE_UNAVAILABLE
    })
    .await;
    let ready: Value = reqwest::get(app.url("/readyz"))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert!(
        ready["redis"]
            .as_str()
            .unwrap()
            .contains("another deployment"),
        "{ready}"
    );
    assert_error(
        enroll(&app, &client, course).await,
        StatusCode::SERVICE_UNAVAILABLE,
        "redis_unavailable",
    )
    .await;

    let _: () = redis::cmd("SET")
        .arg("deployment")
        .arg(&ours)
        .query_async(&mut redis)
        .await
        .unwrap();
    eventually(Duration::from_secs(10), "trusted again", || async {
        reqwest::get(app.url("/readyz")).await.unwrap().status() == StatusCode::OK
    })
    .await;
    assert_eq!(
        enroll(&app, &client, course).await.status(),
        StatusCode::ACCEPTED
    );
}

/// With `ENROLL_REDIS_WAIT_REPLICAS=1`, a place in line is acknowledged
/// only once a replica has it: without one the request is answered 503;
/// once a replica follows, it is acknowledged and the replica holds it.
#[tokio::test]
async fn a_place_in_line_waits_for_a_replica_when_asked_to() {
    let app = start(Spawn {
        extra: Options {
            redis_wait_replicas: Some(1),
            redis_wait_ms: Some(1000),
            ..Options::default()
        },
        ..Spawn::fresh()
    })
    .await;
    app.open_window().await;
    app.import_students("W", 1).await;
    let course = app.create_course("WAIT101", 5, 3, json!([])).await;
    let client = app.login("W0").await;
    assert_error(
        enroll(&app, &client, course).await,
        StatusCode::SERVICE_UNAVAILABLE,
        "redis_unavailable",
    )
    .await;

    let port = app.redis_url.rsplit(':').next().unwrap().to_string();
    let primary_port: u16 = port.parse().unwrap();
    let replica =
        testkit::RedisServer::start_with_args(&["--replicaof".into(), "127.0.0.1".into(), port])
            .unwrap();
    tokio::task::spawn_blocking(move || {
        testkit::redis::wait_for_replica(primary_port, Duration::from_secs(20))
    })
    .await
    .unwrap()
    .expect("the replica follows");
    // A loaded machine may still answer 503 now and then (the replica slow
    // to confirm); a client retries.
    let res = enroll_past_503(&app, &client, course, Duration::from_secs(3)).await;
    assert_eq!(res.status(), StatusCode::ACCEPTED);
    let body: Value = res.json().await.unwrap();
    // Acknowledged means the replica has it already.
    let seq = body["ticket"]
        .as_str()
        .unwrap()
        .split_once('-')
        .unwrap()
        .1
        .to_string();
    let mut on_replica = redis::Client::open(replica.url())
        .unwrap()
        .get_multiplexed_async_connection()
        .await
        .unwrap();
    let held: Option<String> = redis::cmd("HGET")
        .arg(format!("tk:{{c{course}}}"))
        .arg(&seq)
        .query_async(&mut on_replica)
        .await
        .unwrap();
    assert!(
        held.is_some_and(|t| t.contains("|queued|") || t.contains("|enrolled|")),
        "the replica holds the acknowledged ticket"
    );
}

/// A rejection is as durable as a seat: with Redis's data gone, the losing
/// ticket still reads `rejected` with its reason, from the audit trail.
#[tokio::test]
async fn a_rejected_ticket_is_answered_from_the_database_after_a_flush() {
    let app = spawn_app().await;
    app.open_window().await;
    app.import_students("J", 2).await;
    let course = app.create_course("REJ101", 1, 3, json!([])).await;
    let (a, b) = (app.login("J0").await, app.login("J1").await);
    // Both in line before anything is decided.
    let pause = |paused: bool| {
        let app = &app;
        async move {
            let res = app
                .admin_put("/api/v1/admin/admission", &json!({"paused": paused}))
                .await;
            assert_eq!(res.status(), StatusCode::OK);
        }
    };
    pause(true).await;
    let ta: Value = enroll(&app, &a, course).await.json().await.unwrap();
    let tb: Value = enroll(&app, &b, course).await.json().await.unwrap();
    pause(false).await;
    let tb = tb["ticket"].as_str().unwrap().to_string();
    assert_eq!(app.wait_decided(&b, &tb).await["reason"], "course_full");
    let ta = ta["ticket"].as_str().unwrap().to_string();
    assert_eq!(app.wait_decided(&a, &ta).await["status"], "enrolled");

    let mut redis = app.redis().await;
    let _: () = redis::cmd("FLUSHALL")
        .query_async(&mut redis)
        .await
        .unwrap();
    let t = app.ticket_state(&b, &tb).await;
    assert_eq!(
        (t["status"].clone(), t["reason"].clone()),
        (json!("rejected"), json!("course_full")),
        "{t}"
    );
    assert_eq!(app.ticket_state(&a, &ta).await["status"], "enrolled");
    // Someone else's decided ticket is still nobody else's business.
    let other = a
        .get(app.url(&format!("/api/v1/enrollments/tickets/{tb}")))
        .send()
        .await
        .unwrap();
    assert_error(other, StatusCode::NOT_FOUND, "unknown_ticket").await;
}
