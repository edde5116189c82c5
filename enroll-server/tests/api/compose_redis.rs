//! The Redis of `docker-compose.yml`, really started: its ACL (default user
//! off, an `enroll` user without dangerous commands) and memory policy
//! still let enroll-server do its whole job, and refuse the rest.

use std::collections::HashMap;
use std::time::Duration;

use reqwest::StatusCode;
use serde_json::json;

use crate::enroll::enroll_decided;
use crate::helpers::{start, Spawn};

/// `${NAME:?message}` and `${NAME:-default}` as compose expands them.
fn expand(arg: &str, env: &HashMap<&str, &str>) -> String {
    let mut out = String::new();
    let mut rest = arg;
    while let Some(at) = rest.find("${") {
        out.push_str(&rest[..at]);
        let end = rest[at..].find('}').expect("closed ${") + at;
        let expr = &rest[at + 2..end];
        let (name, default) = match expr.split_once(":-") {
            Some((n, d)) => (n, Some(d)),
            None => (expr.split_once(":?").map_or(expr, |(n, _)| n), None),
        };
        let value = env.get(name).copied().or(default);
        out.push_str(value.unwrap_or_else(|| panic!("compose would refuse: {name} unset")));
        rest = &rest[end + 1..];
    }
    out.push_str(rest);
    out
}

fn compose_redis_args(env: &HashMap<&str, &str>) -> Vec<String> {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../docker-compose.yml");
    let compose: yaml_serde::Value =
        yaml_serde::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    let command = compose["services"]["redis"]["command"]
        .as_sequence()
        .unwrap();
    assert_eq!(command[0].as_str(), Some("redis-server"));
    command[1..]
        .iter()
        .map(|a| expand(a.as_str().unwrap(), env))
        .collect()
}

#[tokio::test]
async fn the_shipped_redis_acl_serves_enroll_server_and_nothing_more() {
    let password = "compose-test-redis-password";
    let env = HashMap::from([
        ("REDIS_PASSWORD", password),
        (
            "REDIS_REPLICATION_PASSWORD",
            "compose-test-replication-password",
        ),
        ("REDIS_SENTINEL_PASSWORD", "compose-test-sentinel-password"),
    ]);
    let args = compose_redis_args(&env);
    let joined = args.join(" ");
    assert!(joined.contains("--maxmemory-policy noeviction"), "{joined}");
    assert!(joined.contains("--maxmemory 1gb"), "{joined}");
    let redis = testkit::RedisServer::start_with_args(&args).unwrap();
    let url = format!("redis://enroll:{password}@127.0.0.1:{}", redis.port);

    // The default user is off; the enroll user may not run dangerous commands.
    let mut anonymous = redis::Client::open(redis.url()).unwrap();
    let refused: redis::RedisResult<String> = redis::cmd("PING").query(&mut anonymous);
    assert!(refused.is_err(), "the default user answered");
    let mut enroll = redis::Client::open(url.as_str()).unwrap();
    for (cmd, arg) in [
        ("FLUSHALL", None),
        ("KEYS", Some("*")),
        ("CONFIG", Some("GET")),
    ] {
        let mut c = redis::cmd(cmd);
        if let Some(arg) = arg {
            c.arg(arg);
        }
        if cmd == "CONFIG" {
            c.arg("*");
        }
        let err = c.query::<redis::Value>(&mut enroll).unwrap_err();
        assert!(err.to_string().contains("no permissions"), "{cmd}: {err}");
    }

    // The whole student path works through it.
    let mut spec = Spawn::fresh();
    spec.redis_url = url;
    spec.redis = None;
    let app = start(spec).await;
    app.open_window().await;
    app.import_students("R", 1).await;
    let course = app.create_course("R-1", 5, 3, json!([])).await;
    let student = app.login("R0").await;
    let mut stream = student
        .get(app.url("/api/v1/enrollments/events"))
        .send()
        .await
        .unwrap();
    assert_eq!(stream.status(), StatusCode::OK);
    assert_eq!(enroll_decided(&app, &student, course).await, "enrolled");
    let pushed = tokio::time::timeout(Duration::from_secs(10), async {
        let mut seen = String::new();
        while !seen.contains("event: ticket") {
            let chunk = stream.chunk().await.unwrap().unwrap();
            seen.push_str(&String::from_utf8_lossy(&chunk));
        }
    })
    .await;
    assert!(pushed.is_ok(), "the decision reached the event stream");
    let res = student
        .post(app.url("/api/v1/auth/logout-all"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::NO_CONTENT);
    let me = student.get(app.url("/api/v1/me")).send().await.unwrap();
    assert_eq!(me.status(), StatusCode::UNAUTHORIZED);
}
