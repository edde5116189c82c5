//! The queue's Redis side against a real redis-server: the enqueue sender
//! (requests that arrive together share one pipeline, each keeps its own
//! answer and place) and the finishing script on a large batch.

use enroll_server::redis::enqueue::{self as queue, Enqueued, Enqueuer};
use futures::future::join_all;
use futures::StreamExt;
use testkit::RedisServer;

async fn manager(redis: &RedisServer) -> enroll_server::redis::conn::RedisConn {
    enroll_server::redis::conn::RedisConn::connect(&redis.url(), None)
        .await
        .unwrap()
}

const LOCAL: std::net::IpAddr = std::net::IpAddr::V4(std::net::Ipv4Addr::LOCALHOST);

fn histogram() -> prometheus::Histogram {
    prometheus::Histogram::with_opts(prometheus::HistogramOpts::new("t", "t")).unwrap()
}

fn place(e: &Enqueued) -> (i64, i64, bool) {
    match e {
        Enqueued::Queued {
            seq, rank, retry, ..
        } => (*seq, *rank, *retry),
        other => panic!("not queued: {other:?}"),
    }
}

#[tokio::test]
async fn requests_that_arrive_together_share_a_pipeline_and_keep_their_order() {
    let redis = RedisServer::start().unwrap();
    let sizes = histogram();
    let enqueuer = Enqueuer::start(manager(&redis).await, sizes.clone());
    // All 200 are handed over before the sending task first runs (this test's
    // runtime has one thread): one pipeline.
    let answers = join_all((1..=200).map(|student| enqueuer.enqueue(5, student, LOCAL))).await;
    assert_eq!(sizes.get_sample_count(), 1);
    assert_eq!(sizes.get_sample_sum(), 200.0);
    let places: Vec<_> = answers.iter().map(|a| place(a.as_ref().unwrap())).collect();
    for (i, &(seq, rank, retry)) in places.iter().enumerate() {
        // In line in the order handed over: ranks 0.., sequences rising.
        assert_eq!(rank, i as i64, "student {}", i + 1);
        assert!(!retry);
        if i > 0 {
            assert_eq!(seq, places[i - 1].0 + 1);
        }
    }
    // Every answer names the head of the line, read with its rank: the
    // first ticket's sequence number.
    for a in &answers {
        let Enqueued::Queued { head, .. } = a.as_ref().unwrap() else {
            unreachable!()
        };
        assert_eq!(*head, places[0].0);
    }
    // A retry, alone this time, gets the same ticket and place.
    let again = place(&enqueuer.enqueue(5, 17, LOCAL).await.unwrap());
    assert_eq!(again, (places[16].0, 16, true));
    assert_eq!(sizes.get_sample_count(), 2);
}

#[tokio::test]
async fn one_failing_request_does_not_fail_the_others_and_an_emptied_script_cache_is_refilled() {
    let redis = RedisServer::start().unwrap();
    let mut conn = manager(&redis).await;
    // Course 9's queue key holds a string: its script fails there.
    let _: () = redis::cmd("SET")
        .arg("q:{c9}")
        .arg("not a queue")
        .query_async(&mut conn)
        .await
        .unwrap();
    for round in 0..2 {
        // Redis forgets its scripts (as after a restart): NOSCRIPT, loaded,
        // sent again.
        let _: () = redis::cmd("SCRIPT")
            .arg("FLUSH")
            .query_async(&mut conn)
            .await
            .unwrap();
        let base = round * 10;
        let answers = queue::enqueue_many(
            &mut conn,
            &[(3, base + 1), (9, base + 2), (3, base + 3), (4, base + 1)],
        )
        .await
        .unwrap();
        assert_eq!(answers.len(), 4);
        assert!(answers[1].is_err(), "{:?}", answers[1]);
        let (s1, r1, _) = place(answers[0].as_ref().unwrap());
        let (s3, r3, _) = place(answers[2].as_ref().unwrap());
        assert_eq!((r1, r3), (base * 2 / 10, base * 2 / 10 + 1));
        assert_eq!(s3, s1 + 1);
        assert_eq!(place(answers[3].as_ref().unwrap()).1, round);
    }
    // A course flagged full answers Full, and the others in the pipeline are
    // unaffected.
    let _: () = redis::cmd("SET")
        .arg("full:{c3}")
        .arg(1)
        .query_async(&mut conn)
        .await
        .unwrap();
    let answers = queue::enqueue_many(&mut conn, &[(3, 99), (4, 99)])
        .await
        .unwrap();
    assert_eq!(answers[0].as_ref().unwrap(), &Enqueued::Full);
    assert_eq!(place(answers[1].as_ref().unwrap()).1, 2);
}

#[tokio::test]
async fn while_redis_is_down_each_request_is_answered_503_and_then_served_again() {
    use axum::response::IntoResponse;
    use enroll_server::api::error::ApiError;

    let redis = RedisServer::start().unwrap();
    let port = redis.port;
    let enqueuer = Enqueuer::start(manager(&redis).await, histogram());
    assert_eq!(place(&enqueuer.enqueue(1, 1, LOCAL).await.unwrap()).1, 0);
    drop(redis);
    // Every request of a batch gets its own answer: the service is
    // unavailable, a 503 with a stable code (never a 500, never a hang).
    let answers = join_all((2..=11).map(|student| enqueuer.enqueue(1, student, LOCAL))).await;
    for answer in answers {
        let err = answer.expect_err("Redis is down");
        let res = ApiError::from(err).into_response();
        assert_eq!(res.status(), 503);
        let body = axum::body::to_bytes(res.into_body(), 4096).await.unwrap();
        let body: serde_json::Value = serde_json::from_slice(&body).unwrap();
        assert_eq!(body["error"]["code"], "redis_unavailable", "{body}");
    }
    // Redis is back (empty): the same sender serves again once the
    // connection is re-established.
    let _redis = RedisServer::start_on(port).unwrap();
    let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(10);
    loop {
        match enqueuer.enqueue(1, 12, LOCAL).await {
            Ok(answer) => {
                assert_eq!(place(&answer).1, 0, "a fresh Redis: first in line");
                break;
            }
            Err(e) => assert!(
                tokio::time::Instant::now() < deadline,
                "still failing 10 s after Redis came back: {e}"
            ),
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
}

#[tokio::test]
async fn finishing_a_large_batch_leaves_only_newer_tickets_in_line() {
    use enroll_server::pace::Pace;
    use enroll_server::redis::batch::finish;
    use enroll_server::ticket::{Decision, TicketStatus};

    let redis = RedisServer::start().unwrap();
    let mut conn = manager(&redis).await;
    // 1,100 students in line, all decided by one call.
    let requests: Vec<(i64, i64)> = (1..=1100).map(|s| (7, s)).collect();
    let mut seqs = Vec::new();
    for chunk in requests.chunks(256) {
        for a in queue::enqueue_many(&mut conn, chunk).await.unwrap() {
            seqs.push(place(&a.unwrap()).0);
        }
    }
    // Student 600's decision is for an older ticket (a batch retried after
    // a crash, the student since back in line): that decision is recorded
    // but must not take the newer ticket out of line.
    let decisions: Vec<Decision> = (1..=1100)
        .map(|s| Decision {
            student: s,
            seq: if s == 600 { 1 } else { seqs[s as usize - 1] },
            status: TicketStatus::Enrolled,
            reason: None,
        })
        .collect();
    let pace = Pace {
        cycle_ms: 40.0,
        batch: 1100,
    };
    enroll_server::redis::lease::acquire_lease(&mut conn, 7, "w1", 60_000)
        .await
        .unwrap();
    let _: () = redis::cmd("SET")
        .arg("claim:{c7}")
        .arg("w1")
        .query_async(&mut conn)
        .await
        .unwrap();
    let mut pubsub = redis::Client::open(redis.url())
        .unwrap()
        .get_async_pubsub()
        .await
        .unwrap();
    pubsub.subscribe("tickets:decided").await.unwrap();
    let left = finish(&mut conn, "w1", 7, 0, false, pace, &decisions)
        .await
        .unwrap();
    assert_eq!(
        left,
        Some(1),
        "only student 600's newer ticket is still in line"
    );
    // Written and published in parts, the first ones before the rest.
    let mut messages = pubsub.on_message();
    let mut parts = Vec::new();
    while parts.iter().sum::<usize>() < decisions.len() {
        let m = tokio::time::timeout(std::time::Duration::from_secs(5), messages.next())
            .await
            .expect("every decision published")
            .unwrap();
        let payload: String = m.get_payload().unwrap();
        parts.push(
            enroll_server::ticket::decode_batch(&payload)
                .unwrap()
                .count(),
        );
    }
    assert_eq!(parts, [256, 256, 256, 256, 76]);
    let claimed: bool = redis::cmd("EXISTS")
        .arg("claim:{c7}")
        .query_async(&mut conn)
        .await
        .unwrap();
    assert!(!claimed, "the last part clears the claim");
    let in_line: Vec<String> = redis::cmd("ZRANGE")
        .arg("q:{c7}")
        .arg(0)
        .arg(-1)
        .query_async(&mut conn)
        .await
        .unwrap();
    assert_eq!(in_line, ["600"]);
    for s in [1_i64, 512, 513, 1024, 1025, 1100] {
        let t: String = redis::cmd("HGET")
            .arg("tk:{c7}")
            .arg(seqs[s as usize - 1])
            .query_async(&mut conn)
            .await
            .unwrap();
        assert!(
            t.starts_with(&format!("{s}|enrolled||")),
            "student {s}: {t}"
        );
    }
    let newer: String = redis::cmd("HGET")
        .arg("tk:{c7}")
        .arg(seqs[599])
        .query_async(&mut conn)
        .await
        .unwrap();
    assert_eq!(newer, "600|queued|");
}

/// A worker that stalled past its lease writes nothing when it finally
/// finishes: the new holder's decision stands. And a decided ticket is
/// never overwritten by a later decision for it.
#[tokio::test]
async fn a_stalled_worker_does_not_overwrite_the_new_holders_decision() {
    use enroll_server::pace::Pace;
    use enroll_server::redis::batch::finish;
    use enroll_server::redis::lease::acquire_lease;
    use enroll_server::ticket::{Decision, Reason, TicketStatus};

    let redis = RedisServer::start().unwrap();
    let mut conn = manager(&redis).await;
    let (seq, _, _) = place(
        &queue::enqueue_many(&mut conn, &[(9, 1)]).await.unwrap()[0]
            .clone()
            .unwrap(),
    );
    let pace = Pace {
        cycle_ms: 10.0,
        batch: 1,
    };
    let decided = |status, reason| {
        vec![Decision {
            student: 1,
            seq,
            status,
            reason,
        }]
    };
    // "old" took the lease, then stalled until it ran out (its key gone).
    acquire_lease(&mut conn, 9, "old", 60_000).await.unwrap();
    let _: () = redis::cmd("DEL")
        .arg("lease:{c9}")
        .query_async(&mut conn)
        .await
        .unwrap();
    acquire_lease(&mut conn, 9, "new", 60_000).await.unwrap();
    let enrolled = decided(TicketStatus::Enrolled, None);
    assert_eq!(
        finish(&mut conn, "new", 9, 0, false, pace, &enrolled)
            .await
            .unwrap(),
        Some(0)
    );
    let late = decided(TicketStatus::Rejected, Some(Reason::CourseFull));
    assert_eq!(
        finish(&mut conn, "old", 9, 0, true, pace, &late)
            .await
            .unwrap(),
        None,
        "the stalled worker's finish is refused"
    );
    // Even the lease holder cannot overwrite a decided ticket.
    assert_eq!(
        finish(&mut conn, "new", 9, 0, false, pace, &late)
            .await
            .unwrap(),
        Some(0)
    );
    let t: String = redis::cmd("HGET")
        .arg("tk:{c9}")
        .arg(seq)
        .query_async(&mut conn)
        .await
        .unwrap();
    assert!(t.starts_with("1|enrolled||"), "{t}");
    let full: bool = redis::cmd("EXISTS")
        .arg("full:{c9}")
        .query_async(&mut conn)
        .await
        .unwrap();
    assert!(!full, "the stalled worker's full flag was not set either");
}
