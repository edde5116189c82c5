//! Redis loses all its data in the middle of a rush (FLUSHALL, as a restart
//! without persistence or a failover to an empty replica would). Nothing
//! the database committed may be misreported: every seat held is answered
//! `enrolled` to its ticket's owner, every `enrolled` answer is a seat;
//! only tickets that were still queued may end `unknown_ticket`. Sessions
//! stay valid and the full flags come back.

use std::collections::{HashMap, HashSet};
use std::time::{Duration, Instant};

use futures::future::join_all;
use reqwest::{Client, StatusCode};
use serde_json::{json, Value};
use sqlx::PgPool;
use testkit::RedisServer;

use crate::common::{assert_seats_consistent, login, seed, spawn_server, until_seats};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redis_flushed_mid_rush_misreports_no_committed_seat() {
    let (db_url, replica_urls) = tokio::task::spawn_blocking(|| testkit::shared::database("flush"))
        .await
        .unwrap()
        .unwrap();
    let redis = RedisServer::start().unwrap();
    let (_a, a_url) = spawn_server(&db_url, &replica_urls, &redis.url());
    let (_b, b_url) = spawn_server(&db_url, &replica_urls, &redis.url());
    let n_students = 160;
    let caps = [12, 30, 400];
    let course_ids = seed(&a_url, "F", n_students, "F", &caps).await;
    let base = |s: usize| if s.is_multiple_of(2) { &a_url } else { &b_url };
    let cookies =
        join_all((0..n_students).map(|s| async move { login(base(s), &format!("F{s}")).await }))
            .await;
    // Both servers learn of the window within their one-second refresh.
    tokio::time::sleep(Duration::from_millis(1200)).await;

    let requests: Vec<(usize, i64)> = (0..n_students)
        .flat_map(|s| (0..3).map(move |k| (s, (s + k) % 3)))
        .map(|(s, c)| (s, course_ids[c]))
        .collect();
    let client = Client::builder()
        .timeout(Duration::from_secs(10))
        .build()
        .unwrap();
    let fire = join_all(requests.iter().map(|&(s, course)| {
        let (client, cookie, url) = (client.clone(), cookies[s].clone(), base(s).clone());
        async move {
            let r = client
                .post(format!("{url}/api/v1/enrollments"))
                .header("cookie", cookie)
                .json(&json!({"course_id": course}))
                .send()
                .await
                .unwrap();
            let status = r.status();
            let body: Value = r.json().await.unwrap();
            assert!(
                status == StatusCode::ACCEPTED || status == StatusCode::CONFLICT,
                "a student was refused with {status}: {body}"
            );
            (status == StatusCode::ACCEPTED).then_some(body)
        }
    }));
    let pool = PgPool::connect(&db_url).await.unwrap();
    let mut conn = redis::Client::open(redis.url())
        .unwrap()
        .get_multiplexed_async_connection()
        .await
        .unwrap();
    let flusher = async {
        until_seats(&pool, 30).await;
        let _: () = redis::cmd("FLUSHALL").query_async(&mut conn).await.unwrap();
    };
    let (acks, ()) = tokio::join!(fire, flusher);
    let acked: Vec<(usize, String)> = acks
        .into_iter()
        .enumerate()
        .filter_map(|(i, t)| t.map(|t| (requests[i].0, t["ticket"].as_str().unwrap().to_string())))
        .collect();

    // Every acknowledged ticket ends decided or unknown (queued when the
    // data went); read by its owner, on the server it did not enroll on.
    let deadline = Instant::now() + Duration::from_secs(60);
    let mut finals: HashMap<String, String> = HashMap::new();
    while finals.len() < acked.len() {
        assert!(Instant::now() < deadline, "tickets never settled");
        for (s, id) in &acked {
            if finals.contains_key(id) {
                continue;
            }
            let other = if s.is_multiple_of(2) { &b_url } else { &a_url };
            let res = client
                .get(format!("{other}/api/v1/enrollments/tickets/{id}"))
                .header("cookie", &cookies[*s])
                .send()
                .await
                .unwrap();
            match res.status() {
                StatusCode::NOT_FOUND => {
                    finals.insert(id.clone(), "unknown".into());
                }
                StatusCode::OK => {
                    let v: Value = res.json().await.unwrap();
                    if v["status"] != "queued" {
                        finals.insert(id.clone(), v["status"].as_str().unwrap().to_string());
                    }
                }
                // Past the ticket-read allowance: ask again next round.
                StatusCode::TOO_MANY_REQUESTS => {}
                other => panic!("ticket {id}: {other} (session lost?)"),
            }
        }
        tokio::time::sleep(Duration::from_millis(300)).await;
    }

    let held: HashSet<String> =
        sqlx::query_scalar::<_, Option<String>>("SELECT ticket FROM enrollments")
            .fetch_all(&pool)
            .await
            .unwrap()
            .into_iter()
            .map(|t| t.expect("admission records the ticket"))
            .collect();
    let acked_ids: HashSet<&String> = acked.iter().map(|(_, id)| id).collect();
    let misreported: Vec<(&String, &String)> = finals
        .iter()
        .filter(|(id, status)| (status.as_str() == "enrolled") != held.contains(*id))
        .collect();
    let untold: Vec<&String> = held.iter().filter(|t| !acked_ids.contains(t)).collect();
    let unknown = finals.values().filter(|s| *s == "unknown").count();
    eprintln!(
        "Redis flushed mid-rush: {} acknowledged, {} seats held, {} ended unknown (queued when the data went), {} misreported",
        acked.len(),
        held.len(),
        unknown,
        misreported.len()
    );
    assert!(
        misreported.is_empty(),
        "API and database disagree: {misreported:?}"
    );
    assert!(
        untold.is_empty(),
        "seats for tickets nobody was given: {untold:?}"
    );
    assert!(
        held.len() >= 30,
        "seats were committed before and after the flush"
    );

    // Invariants 1 and 2, from the database.
    for (id, cap, enrolled) in assert_seats_consistent(&pool).await {
        if enrolled >= cap {
            let full: bool = redis::cmd("EXISTS")
                .arg(format!("full:{{c{id}}}"))
                .query_async(&mut conn)
                .await
                .unwrap();
            assert!(full, "course {id} is full and flagged so again");
        }
    }
    // Every student is still logged in, on both servers.
    for (s, cookie) in cookies.iter().enumerate() {
        for url in [&a_url, &b_url] {
            let me = client
                .get(format!("{url}/api/v1/me"))
                .header("cookie", cookie)
                .send()
                .await
                .unwrap();
            assert_eq!(me.status(), StatusCode::OK, "student {s} logged out");
        }
    }
}
