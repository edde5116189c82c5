//! Redis Sentinel: a primary, a replica and a sentinel
//! ([`RedisSentinel`]), the server finding the primary through the sentinel and
//! following it through a failover; with `ENROLL_REDIS_WAIT_REPLICAS=1` an
//! acknowledged place in line survives it.

use std::time::Duration;

use enroll_server::config::Options;
use reqwest::StatusCode;
use serde_json::{json, Value};
use testkit::{RedisSentinel, RedisServer};

use crate::enroll::{enroll, enroll_past_503};
use crate::helpers::{eventually, start, Spawn};

fn port_of(url: &str) -> u16 {
    url.rsplit(':')
        .next()
        .unwrap()
        .trim_end_matches('/')
        .parse()
        .unwrap()
}

async fn primary_named(sentinel_port: u16) -> u16 {
    let mut s = redis::Client::open(format!("redis://127.0.0.1:{sentinel_port}"))
        .unwrap()
        .get_multiplexed_async_connection()
        .await
        .unwrap();
    let (_, port): (String, u16) = redis::cmd("SENTINEL")
        .arg("get-master-addr-by-name")
        .arg("mymaster")
        .query_async(&mut s)
        .await
        .unwrap();
    port
}

#[tokio::test]
async fn the_server_follows_a_sentinel_failover_and_loses_no_acknowledged_ticket() {
    let primary = RedisServer::start().unwrap();
    let primary_port = port_of(&primary.url());
    let replica = RedisServer::start_with_args(&[
        "--replicaof".into(),
        "127.0.0.1".into(),
        primary_port.to_string(),
    ])
    .unwrap();
    let replica_port = port_of(&replica.url());
    let sentinel = RedisSentinel::start(primary_port).unwrap();
    let sentinel_port = sentinel.port;
    tokio::task::spawn_blocking(move || {
        testkit::redis::wait_for_replica(primary_port, Duration::from_secs(20))
    })
    .await
    .unwrap()
    .expect("the replica follows");

    let app = start(Spawn {
        // The address in the URL is not used: the sentinel names the primary.
        redis_url: "redis://127.0.0.1:1".into(),
        redis: None,
        extra: Options {
            redis_sentinels: Some(vec![format!("127.0.0.1:{sentinel_port}")]),
            redis_wait_replicas: Some(1),
            redis_wait_ms: Some(1000),
            ..Options::default()
        },
        ..Spawn::fresh()
    })
    .await;
    app.open_window().await;
    app.import_students("S", 1).await;
    let a = app.create_course("SEN101", 5, 3, json!([])).await;
    let b = app.create_course("SEN102", 5, 3, json!([])).await;
    // Hold every decision, so the ticket is still a place in line when the
    // primary goes.
    let res = app
        .admin_put("/api/v1/admin/admission", &json!({"paused": true}))
        .await;
    assert_eq!(res.status(), StatusCode::OK);
    let client = app.login("S0").await;
    let first = enroll(&app, &client, a).await;
    assert_eq!(first.status(), StatusCode::ACCEPTED);
    let first: Value = first.json().await.unwrap();
    let ticket = first["ticket"].as_str().unwrap().to_string();

    let _: () = {
        let mut s = redis::Client::open(format!("redis://127.0.0.1:{sentinel_port}"))
            .unwrap()
            .get_multiplexed_async_connection()
            .await
            .unwrap();
        redis::cmd("SENTINEL")
            .arg("FAILOVER")
            .arg("mymaster")
            .query_async(&mut s)
            .await
            .unwrap()
    };
    eventually(
        Duration::from_secs(30),
        "the replica is promoted",
        || async { primary_named(sentinel_port).await == replica_port },
    )
    .await;

    // Requests go on against the promoted replica (a few may be answered
    // 503 while the switch happens; the client retries).
    let second = enroll_past_503(&app, &client, b, Duration::from_secs(30)).await;
    assert_eq!(second.status(), StatusCode::ACCEPTED);
    let second: Value = second.json().await.unwrap();
    let mut promoted = redis::Client::open(replica.url())
        .unwrap()
        .get_multiplexed_async_connection()
        .await
        .unwrap();
    let role: Vec<redis::Value> = redis::cmd("ROLE").query_async(&mut promoted).await.unwrap();
    assert_eq!(role[0], redis::Value::BulkString(b"master".to_vec()));
    let seq = second["ticket"]
        .as_str()
        .unwrap()
        .split_once('-')
        .unwrap()
        .1
        .to_string();
    let written: bool = redis::cmd("HEXISTS")
        .arg(format!("tk:{{c{b}}}"))
        .arg(&seq)
        .query_async(&mut promoted)
        .await
        .unwrap();
    assert!(written, "the new ticket is on the promoted primary");
    // The place acknowledged before the failover is still there.
    let t = app.ticket_state(&client, &ticket).await;
    assert_eq!(t["status"], "queued", "{t}");
    assert_eq!(t["position"], 1, "{t}");
}
