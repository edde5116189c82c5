//! Two enroll-server processes share one Redis and one database; one is
//! killed with SIGKILL in the middle of a rush. Every acknowledged ticket
//! must still be decided, and invariants 1-4 must hold.

use std::collections::{HashMap, HashSet};
use std::time::{Duration, Instant};

use futures::future::join_all;
use redis::AsyncCommands;
use reqwest::{Client, StatusCode};
use serde_json::{json, Value};
use sqlx::PgPool;
use testkit::RedisServer;

use crate::common::{assert_seats_consistent, login, seed, spawn_server, until_seats};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_servers_one_killed_mid_rush_keep_every_invariant() {
    let (db_url, replica_urls) = tokio::task::spawn_blocking(|| testkit::shared::database("procs"))
        .await
        .unwrap()
        .unwrap();
    let redis = RedisServer::start().unwrap();
    let (a, a_url) = spawn_server(&db_url, &replica_urls, &redis.url());
    let (mut b, b_url) = spawn_server(&db_url, &replica_urls, &redis.url());
    let n_students = 240;
    // Three hot courses (oversubscribed) and two roomy ones; no clashes and
    // 5 x 3 credits < 18, so every student is eligible for every course and
    // invariant 4 is "the earliest `capacity` tickets win".
    let caps = [15, 25, 40, 500, 500];
    let course_ids = seed(&a_url, "P", n_students, "K", &caps).await;
    let cookies = join_all((0..n_students).map(|i| {
        let base = if i % 2 == 0 {
            a_url.clone()
        } else {
            b_url.clone()
        };
        async move { login(&base, &format!("P{i}")).await }
    }))
    .await;
    // Server B learns of the window within its one-second refresh.
    tokio::time::sleep(Duration::from_millis(1200)).await;

    // The rush: every student asks for three courses, half of them through B.
    let requests: Vec<(usize, i64, String)> = (0..n_students)
        .flat_map(|s| (0..3).map(move |k| (s, (s + k) % 5)))
        .map(|(s, c)| {
            (
                s,
                course_ids[c],
                if s % 2 == 0 {
                    a_url.clone()
                } else {
                    b_url.clone()
                },
            )
        })
        .collect();
    let client = Client::builder()
        .timeout(Duration::from_secs(10))
        .build()
        .unwrap();
    let fire = join_all(requests.iter().map(|(s, course, base)| {
        let (client, cookie) = (client.clone(), cookies[*s].clone());
        async move {
            let res = client
                .post(format!("{base}/api/v1/enrollments"))
                .header("cookie", cookie)
                .json(&json!({"course_id": course}))
                .send()
                .await;
            match res {
                Ok(r) if r.status() == StatusCode::ACCEPTED => {
                    Some(r.json::<Value>().await.unwrap())
                }
                Ok(r) => {
                    assert_eq!(
                        r.status(),
                        StatusCode::CONFLICT,
                        "only course_full may refuse at once"
                    );
                    None
                }
                Err(_) => None, // sent to B as it died: never acknowledged
            }
        }
    }));
    let pool = PgPool::connect(&db_url).await.unwrap();
    let killer = async {
        // Kill B once seats are being committed (a few batches in, far from
        // done: courses 3 and 4 alone take 288 seats).
        until_seats(&pool, 40).await;
        b.signal(libc::SIGKILL).unwrap();
    };
    let (acks, ()) = tokio::join!(fire, killer);
    assert!(
        b.try_wait().is_some() || {
            std::thread::sleep(Duration::from_millis(200));
            b.try_wait().is_some()
        },
        "B was killed"
    );
    let acked: Vec<(usize, Value)> = acks
        .into_iter()
        .enumerate()
        .filter_map(|(i, t)| t.map(|t| (requests[i].0, t)))
        .collect();
    eprintln!(
        "acknowledged {} of {} requests before and after killing B",
        acked.len(),
        requests.len()
    );
    // A alone acknowledges its 144 requests for the two big courses; more
    // means both servers took part before B died.
    assert!(
        acked.len() > 150,
        "a rush's worth of requests was acknowledged: {}",
        acked.len()
    );

    // Invariant 3: every acknowledged ticket reaches a decision (polled on A).
    let deadline = Instant::now() + Duration::from_secs(60);
    let mut finals: HashMap<String, Value> = HashMap::new();
    while finals.len() < acked.len() {
        assert!(
            Instant::now() < deadline,
            "{} of {} tickets never decided",
            acked.len() - finals.len(),
            acked.len()
        );
        for (s, t) in &acked {
            let id = t["ticket"].as_str().unwrap();
            if finals.contains_key(id) {
                continue;
            }
            let res = client
                .get(format!("{a_url}/api/v1/enrollments/tickets/{id}"))
                .header("cookie", &cookies[*s])
                .send()
                .await
                .unwrap();
            assert_eq!(res.status(), StatusCode::OK);
            let v: Value = res.json().await.unwrap();
            if v["status"] != "queued" {
                finals.insert(id.to_string(), v);
            }
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }

    // Invariants 1 and 2, from the database.
    assert_seats_consistent(&pool).await;
    // Every "enrolled" answer is backed by a row, and every row by a ticket.
    let held: HashSet<(i64, String)> =
        sqlx::query_as::<_, (i64, Option<String>)>("SELECT course_id, ticket FROM enrollments")
            .fetch_all(&pool)
            .await
            .unwrap()
            .into_iter()
            .map(|(c, t)| (c, t.expect("admission records the ticket")))
            .collect();
    for (id, v) in &finals {
        let course = v["course_id"].as_i64().unwrap();
        assert_eq!(
            v["status"] == "enrolled",
            held.contains(&(course, id.clone())),
            "ticket {id}: {v}"
        );
    }

    // Invariant 4 over *all* tickets Redis issued (acknowledged or not): the
    // winners of each course are exactly its earliest tickets.
    let mut redis_conn = redis::Client::open(redis.url())
        .unwrap()
        .get_multiplexed_async_connection()
        .await
        .unwrap();
    for (i, &course) in course_ids.iter().enumerate() {
        let issued: HashMap<String, String> = redis_conn
            .hgetall(format!("tk:{{c{course}}}"))
            .await
            .unwrap();
        let mut seqs: Vec<(i64, String)> = issued
            .iter()
            .map(|(k, v)| (k.parse().unwrap(), v.clone()))
            .collect();
        seqs.sort();
        assert!(
            seqs.iter().all(|(_, v)| !v.contains("|queued|")),
            "course {course}: nothing left queued"
        );
        let winners: Vec<i64> = seqs
            .iter()
            .filter(|(_, v)| v.contains("|enrolled|"))
            .map(|(s, _)| *s)
            .collect();
        let expected: Vec<i64> = seqs
            .iter()
            .take(caps[i] as usize)
            .map(|(s, _)| *s)
            .collect();
        assert_eq!(winners, expected, "course {course}: earliest tickets win");
        let db_winners: HashSet<String> = held
            .iter()
            .filter(|(c, _)| *c == course)
            .map(|(_, t)| t.clone())
            .collect();
        assert_eq!(
            db_winners,
            expected.iter().map(|s| format!("{course}-{s}")).collect(),
            "course {course}: rows match"
        );
    }
    drop(a);
}
