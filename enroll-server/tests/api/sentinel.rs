//! Redis Sentinel: a primary, its replicas and a sentinel
//! ([`RedisSentinel`]), the server finding the primary through the sentinel
//! and following it through a failover — graceful, or the primary
//! SIGKILLed (and brought back as the new primary's replica); with
//! `ENROLL_REDIS_WAIT_REPLICAS=1` an acknowledged place in line survives
//! it, and no request is answered 500 meanwhile.

use std::time::{Duration, Instant};

use enroll_server::config::Options;
use reqwest::StatusCode;
use serde_json::{json, Value};
use testkit::{RedisSentinel, RedisServer};

use crate::enroll::{enroll, enroll_past_503};
use crate::helpers::{eventually, start, Spawn, TestApp};

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

fn replica_of(port: u16) -> Vec<String> {
    vec!["--replicaof".into(), "127.0.0.1".into(), port.to_string()]
}

/// A primary with `replicas` replicas under a sentinel, and a server that
/// finds the primary through it and waits for one replica.
struct Failover {
    primary: RedisServer,
    replicas: Vec<RedisServer>,
    sentinel: RedisSentinel,
    app: TestApp,
    client: reqwest::Client,
    courses: [i64; 2],
    /// Acknowledged before the failover, while admission is paused.
    ticket: String,
}

impl Failover {
    async fn start(replicas: usize) -> Self {
        let primary = RedisServer::start().unwrap();
        let replicas: Vec<RedisServer> = (0..replicas)
            .map(|_| RedisServer::start_with_args(&replica_of(primary.port)).unwrap())
            .collect();
        let sentinel = RedisSentinel::start(primary.port).unwrap();
        let port = primary.port;
        tokio::task::spawn_blocking(move || {
            testkit::redis::wait_for_replica(port, Duration::from_secs(20))
        })
        .await
        .unwrap()
        .expect("the replica follows");
        let app = start(Spawn {
            // The address in the URL is not used: the sentinel names the primary.
            redis_url: "redis://127.0.0.1:1".into(),
            redis: None,
            extra: Options {
                redis_sentinels: Some(vec![sentinel.address()]),
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
        // Hold every decision, so the ticket is still a place in line when
        // the primary goes.
        let res = app
            .admin_put("/api/v1/admin/admission", &json!({"paused": true}))
            .await;
        assert_eq!(res.status(), StatusCode::OK);
        let client = app.login("S0").await;
        let first = enroll(&app, &client, a).await;
        assert_eq!(first.status(), StatusCode::ACCEPTED);
        let first: Value = first.json().await.unwrap();
        Self {
            primary,
            replicas,
            sentinel,
            client,
            courses: [a, b],
            ticket: first["ticket"].as_str().unwrap().to_string(),
            app,
        }
    }

    /// SIGKILLs the primary (our child) and waits until it is dead.
    async fn kill_primary(&self) {
        let pid = self.primary.pid();
        // SAFETY: kill(2) on our own child, which its guard has not reaped.
        assert_eq!(unsafe { libc::kill(pid as libc::pid_t, libc::SIGKILL) }, 0);
        eventually(Duration::from_secs(10), "the primary dies", || async {
            let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
            // The state follows the command in parentheses: Z once dead.
            stat.rsplit_once(')')
                .is_none_or(|(_, rest)| rest.trim_start().starts_with('Z'))
        })
        .await;
    }

    /// Waits until the sentinel names one of the replicas; its index.
    async fn promoted(&self) -> usize {
        let port = self.sentinel.port;
        eventually(Duration::from_secs(30), "a replica is promoted", || async {
            primary_named(port).await != self.primary.port
        })
        .await;
        let named = primary_named(port).await;
        self.replicas.iter().position(|r| r.port == named).unwrap()
    }

    /// Enrolls in the second course until it is acknowledged, within
    /// `patience`: every answer meanwhile is 503 `redis_unavailable` with
    /// `Retry-After` (or 429 from the student's own rate limit), never a 500.
    async fn enroll_through(&self, patience: Duration) -> Value {
        let deadline = Instant::now() + patience;
        let mut unavailable = 0;
        loop {
            let res = enroll(&self.app, &self.client, self.courses[1]).await;
            let status = res.status();
            if status == StatusCode::ACCEPTED {
                return res.json().await.unwrap();
            }
            let retry_after = res.headers().get("retry-after").cloned();
            let body: Value = res.json().await.unwrap();
            match status {
                StatusCode::SERVICE_UNAVAILABLE => {
                    assert_eq!(body["error"]["code"], "redis_unavailable", "{body}");
                    assert!(retry_after.is_some(), "503 without Retry-After: {body}");
                    unavailable += 1;
                }
                StatusCode::TOO_MANY_REQUESTS => {}
                other => panic!("answered {other} through the failover: {body}"),
            }
            assert!(
                Instant::now() < deadline,
                "no acknowledgement within {patience:?} ({unavailable} answered 503)"
            );
            tokio::time::sleep(Duration::from_millis(250)).await;
        }
    }

    /// The new ticket is on `promoted` and the one acknowledged before the
    /// failover is still in line.
    async fn assert_served_by(&self, promoted: &RedisServer, second: &Value) {
        let mut conn = redis::Client::open(promoted.url())
            .unwrap()
            .get_multiplexed_async_connection()
            .await
            .unwrap();
        let role: Vec<redis::Value> = redis::cmd("ROLE").query_async(&mut conn).await.unwrap();
        assert_eq!(role[0], redis::Value::BulkString(b"master".to_vec()));
        let ticket = second["ticket"].as_str().unwrap();
        let seq = ticket.split_once('-').unwrap().1;
        let written: bool = redis::cmd("HEXISTS")
            .arg(format!("tk:{{c{}}}", self.courses[1]))
            .arg(seq)
            .query_async(&mut conn)
            .await
            .unwrap();
        assert!(written, "the new ticket is on the promoted primary");
        let t = self.app.ticket_state(&self.client, &self.ticket).await;
        assert_eq!(t["status"], "queued", "{t}");
        assert_eq!(t["position"], 1, "{t}");
    }
}

#[tokio::test]
async fn the_server_follows_a_sentinel_failover_and_loses_no_acknowledged_ticket() {
    let f = Failover::start(1).await;
    let _: () = {
        let mut s = redis::Client::open(format!("redis://{}", f.sentinel.address()))
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
    let promoted = f.promoted().await;
    // Requests go on against the promoted replica (a few may be answered
    // 503 while the switch happens; the client retries).
    let second = enroll_past_503(&f.app, &f.client, f.courses[1], Duration::from_secs(30)).await;
    assert_eq!(second.status(), StatusCode::ACCEPTED);
    let second: Value = second.json().await.unwrap();
    f.assert_served_by(&f.replicas[promoted], &second).await;
}

#[tokio::test]
async fn the_server_follows_a_killed_primary_to_the_promoted_replica() {
    // Two replicas: the one not promoted follows the new primary, so
    // `WAIT 1` is answered again after the failover.
    let f = Failover::start(2).await;
    f.kill_primary().await;
    let promoted = f.promoted().await;
    let second = f.enroll_through(Duration::from_secs(40)).await;
    f.assert_served_by(&f.replicas[promoted], &second).await;
}

#[tokio::test]
async fn the_server_leaves_a_killed_primary_that_returns_as_a_replica() {
    let mut f = Failover::start(1).await;
    let old_port = f.primary.port;
    f.kill_primary().await;
    let promoted = f.promoted().await;
    // Nothing can be acknowledged while the promoted primary has no replica
    // of its own, but reads need none: the ticket is read from it.
    eventually(
        Duration::from_secs(20),
        "a ticket read from the promoted primary",
        || async {
            let res = f
                .client
                .get(
                    f.app
                        .url(&format!("/api/v1/enrollments/tickets/{}", f.ticket)),
                )
                .send()
                .await
                .unwrap();
            res.status() == StatusCode::OK
        },
    )
    .await;
    // Back on its address as the new primary's replica, as its supervisor
    // would bring it back: it answers again, refusing writes (READONLY).
    let new_port = f.replicas[promoted].port;
    let back = RedisServer::start_on_with_args(old_port, &replica_of(new_port)).unwrap();
    let _killed = std::mem::replace(&mut f.primary, back);
    let second = f.enroll_through(Duration::from_secs(40)).await;
    f.assert_served_by(&f.replicas[promoted], &second).await;
}

/// A Redis that answers as a replica refuses the enqueue script inside a
/// pipeline (`READONLY` per call, not an error of the pipeline): Redis
/// unavailable, 503 with `Retry-After`, never 500.
#[tokio::test]
async fn a_redis_answering_as_a_replica_is_unavailable_not_an_error() {
    let primary = RedisServer::start().unwrap();
    let spec = Spawn::fresh();
    let redis_url = spec.redis_url.clone();
    let app = start(spec).await;
    app.open_window().await;
    app.import_students("R", 1).await;
    let course = app.create_course("RO101", 5, 3, json!([])).await;
    let client = app.login("R0").await;
    let mut conn = redis::Client::open(redis_url)
        .unwrap()
        .get_multiplexed_async_connection()
        .await
        .unwrap();
    let () = redis::cmd("REPLICAOF")
        .arg("127.0.0.1")
        .arg(primary.port)
        .query_async(&mut conn)
        .await
        .unwrap();
    let res = enroll(&app, &client, course).await;
    assert_eq!(res.status(), StatusCode::SERVICE_UNAVAILABLE);
    assert!(res.headers().contains_key("retry-after"));
    let body: Value = res.json().await.unwrap();
    assert_eq!(body["error"]["code"], "redis_unavailable", "{body}");
}
