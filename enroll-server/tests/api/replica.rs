//! Primary/replica split, on clusters of their own (these tests stop or
//! pause their replica).

use std::time::Duration;

use enroll_server::config::Options;
use reqwest::StatusCode;
use serde_json::{json, Value};
use testkit::{PgCluster, PgOptions, RedisServer};

use crate::helpers::{eventually, start, Spawn, TestApp};

async fn app_on(cluster: &PgCluster, extra: Options) -> TestApp {
    let (database_url, replica_urls) = cluster.create_database("replica_test").unwrap();
    let redis = RedisServer::start().unwrap();
    let app = start(Spawn {
        database_url,
        replica_urls,
        redis_url: redis.url(),
        redis: Some(redis),
        extra,
    })
    .await;
    eventually(Duration::from_secs(10), "replica healthy", || async {
        replica_state(&app).await["healthy"] == true
    })
    .await;
    let replica = &cluster.replicas[0];
    eventually(
        Duration::from_secs(10),
        "replica has replayed the migrations",
        || async {
            // Every migration, not just the first: the catalogue reads
            // tables later ones add.
            let applied = replica
                .psql(
                    "replica_test",
                    "SELECT count(*) FROM _sqlx_migrations WHERE success",
                )
                .unwrap_or_default();
            applied
                == enroll_server::startup::MIGRATOR
                    .migrations
                    .len()
                    .to_string()
        },
    )
    .await;
    app
}

async fn replica_state(app: &TestApp) -> Value {
    let ready: Value = reqwest::get(app.url("/readyz"))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    ready["replicas"][0].clone()
}

async fn total_courses(app: &TestApp) -> i64 {
    let res = reqwest::get(app.url("/api/v1/courses")).await.unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    res.json::<Value>().await.unwrap()["total"]
        .as_i64()
        .unwrap()
}

#[tokio::test]
async fn catalogue_reads_go_to_the_replica_and_survive_its_death() {
    let cluster = tokio::task::spawn_blocking(|| PgCluster::start(PgOptions::default()))
        .await
        .unwrap()
        .unwrap();
    let app = app_on(&cluster, Options::default()).await;
    let replica = &cluster.replicas[0];

    // Freeze the replica's replay: a course created now exists only on the
    // primary, so a catalogue that does not show it was read from the replica.
    replica
        .psql("replica_test", "SELECT pg_wal_replay_pause()")
        .unwrap();
    app.create_course("R1", 10, 3, json!([])).await;
    assert_eq!(
        total_courses(&app).await,
        0,
        "catalogue read from the (paused) replica"
    );
    assert_eq!(app.metric("enroll_replica_fallbacks_total").await, 0.0);

    // Kill the replica mid-test: the catalogue is still served, from the primary.
    let mut cluster = cluster;
    cluster.replicas[0].stop();
    assert_eq!(
        total_courses(&app).await,
        1,
        "served by the primary after the replica died"
    );
    let fallbacks = app
        .metric("enroll_replica_fallbacks_total{reason=\"replica_error\"}")
        .await
        + app
            .metric("enroll_replica_fallbacks_total{reason=\"no_healthy_replica\"}")
            .await;
    assert!(fallbacks >= 1.0, "fallback counted");
    eventually(Duration::from_secs(10), "replica reported down", || async {
        replica_state(&app).await["healthy"] == false
    })
    .await;
    let ready = reqwest::get(app.url("/readyz")).await.unwrap();
    assert_eq!(
        ready.status(),
        StatusCode::OK,
        "a dead replica does not make the service unready"
    );
    // Why, in the server's words: no driver text for anonymous callers.
    let body: Value = ready.json().await.unwrap();
    assert_eq!(body["replicas"][0]["error"], "unreachable", "{body}");
    assert_eq!(total_courses(&app).await, 1);
    assert!(
        app.metric("enroll_replica_fallbacks_total{reason=\"no_healthy_replica\"}")
            .await
            >= 1.0
    );
}

#[tokio::test]
async fn lagging_replica_is_skipped_and_own_writes_are_fresh() {
    let cluster = tokio::task::spawn_blocking(|| PgCluster::start(PgOptions::default()))
        .await
        .unwrap()
        .unwrap();
    let app = app_on(
        &cluster,
        Options {
            replica_max_lag_ms: Some(300),
            ..Options::default()
        },
    )
    .await;
    let replica = &cluster.replicas[0];
    let student = app.import_students("L", 1).await[0];
    let course = app
        .create_course(
            "LAG1",
            10,
            3,
            json!([{"day": "TUE", "start": "13:00", "end": "14:15"}]),
        )
        .await;
    let client = app.login("L0").await;
    eventually(Duration::from_secs(10), "replica caught up", || async {
        total_courses(&app).await == 1
    })
    .await;

    replica
        .psql("replica_test", "SELECT pg_wal_replay_pause()")
        .unwrap();
    // A write (as the admission worker makes it) followed at once by /me.
    sqlx::query("INSERT INTO enrollments (student_id, course_id) VALUES ($1, $2)")
        .bind(student)
        .bind(course)
        .execute(&app.db)
        .await
        .unwrap();
    let me: Value = client
        .get(app.url("/api/v1/me"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(
        me["enrollments"][0]["code"], "LAG1",
        "own data is never stale"
    );
    assert_eq!(me["credits_total"], 3);

    // The replica falls behind by more than 300 ms: it is taken out of rotation.
    eventually(
        Duration::from_secs(10),
        "lagging replica marked unhealthy",
        || async {
            let r = replica_state(&app).await;
            r["healthy"] == false && r["lag_seconds"].as_f64().unwrap() > 0.3
        },
    )
    .await;
    let shown: Value = reqwest::get(app.url(&format!("/api/v1/courses/{course}")))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(
        shown["enrolled"], 1,
        "read from the primary, not the stale replica"
    );
    assert!(
        app.metric("enroll_replica_fallbacks_total{reason=\"no_healthy_replica\"}")
            .await
            >= 1.0
    );
    assert!(app.metric("enroll_replica_lag_seconds").await > 0.3);

    // Replay resumes: the replica catches up and serves again.
    replica
        .psql("replica_test", "SELECT pg_wal_replay_resume()")
        .unwrap();
    eventually(
        Duration::from_secs(10),
        "replica back in rotation",
        || async { replica_state(&app).await["healthy"] == true },
    )
    .await;
}
