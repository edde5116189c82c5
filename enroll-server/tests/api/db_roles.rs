//! The shipped database roles (`deploy/postgres/app-role.sql`) against a
//! real PostgreSQL: the server does its whole job as the DML-only role once
//! the owner has migrated, the role cannot change the schema, and a server
//! that is not to migrate refuses an old schema.

use std::process::Command;

use enroll_server::config::Options;
use enroll_server::startup::MIGRATOR;
use reqwest::StatusCode;
use serde_json::json;
use sqlx::PgPool;

use crate::enroll::enroll_decided;
use crate::helpers::{start, Spawn};

const SQL: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../deploy/postgres/app-role.sql"
);

/// Runs app-role.sql as the owner (`postgres` here) and returns the app
/// role's URLs (primary, replicas).
fn create_app_role(db_url: &str, replicas: &[String], role: &str) -> (String, Vec<String>) {
    let (host_port, db) = db_url
        .trim_start_matches("postgres://postgres@")
        .split_once('/')
        .unwrap();
    let port = host_port.split_once(':').unwrap().1;
    let psql = testkit::pg::pg_bin_dir().unwrap().join("psql");
    let out = Command::new(psql)
        .args([
            "-X",
            "-q",
            "-v",
            "ON_ERROR_STOP=1",
            "-h",
            "127.0.0.1",
            "-U",
            "postgres",
        ])
        .args(["-p", port, "-d", db])
        .args([
            "-v",
            &format!("app_user={role}"),
            "-v",
            "app_password=app-pw",
        ])
        .args(["-v", "owner=postgres", "-v", &format!("db={db}")])
        .args(["-f", SQL])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let as_app = |url: &str| {
        url.replace(
            "postgres://postgres@",
            &format!("postgres://{role}:app-pw@"),
        )
    };
    (as_app(db_url), replicas.iter().map(|u| as_app(u)).collect())
}

fn unique_role() -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .subsec_nanos();
    format!("app_{}_{nanos}", std::process::id())
}

#[tokio::test]
async fn the_server_runs_as_the_dml_only_role_after_the_owner_migrates() {
    let (owner_url, owner_replicas) = testkit::shared::database("roles").unwrap();
    let role = unique_role();
    // As compose does it: the role first (database init), then migrations.
    let (app_url, app_replicas) = create_app_role(&owner_url, &owner_replicas, &role);
    let owner = PgPool::connect(&owner_url).await.unwrap();
    MIGRATOR.run(&owner).await.unwrap();

    let mut spec = Spawn::fresh();
    spec.database_url = app_url.clone();
    spec.replica_urls = app_replicas;
    spec.extra = Options {
        migrate_on_start: Some(false),
        ..Default::default()
    };
    let app = start(spec).await;
    app.open_window().await;
    app.import_students("Q", 1).await;
    let course = app.create_course("Q-1", 5, 3, json!([])).await;
    let student = app.login("Q0").await;
    assert_eq!(enroll_decided(&app, &student, course).await, "enrolled");
    let res = student
        .delete(app.url(&format!("/api/v1/enrollments/{course}")))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::NO_CONTENT);

    // The role reads and writes rows, and cannot change the schema.
    let as_app = PgPool::connect(&app_url).await.unwrap();
    for ddl in [
        "CREATE TABLE intruder (id int)",
        "DROP TABLE courses",
        "ALTER TABLE courses ADD COLUMN x int",
        "TRUNCATE enrollments",
    ] {
        let err = sqlx::query(ddl).execute(&as_app).await.unwrap_err();
        assert!(
            err.to_string().contains("permission denied")
                || err.to_string().contains("must be owner"),
            "{ddl}: {err}"
        );
    }
}

#[tokio::test]
async fn a_server_that_does_not_migrate_refuses_an_old_schema() {
    let (owner_url, owner_replicas) = testkit::shared::database("roles").unwrap();
    let (app_url, _) = create_app_role(&owner_url, &owner_replicas, &unique_role());
    let redis = testkit::RedisServer::start().unwrap();
    let options = Options {
        database_url: Some(app_url),
        admin_token: Some("an-admin-token-0123456789".into()),
        redis_url: Some(redis.url()),
        listen: Some("127.0.0.1:0".parse().unwrap()),
        migrate_on_start: Some(false),
        ..Default::default()
    };
    let err = match enroll_server::Application::build(options.resolve().unwrap()).await {
        Ok(_) => panic!("started on an unmigrated database"),
        Err(e) => format!("{e:#}"),
    };
    assert!(err.contains("enroll-server migrate"), "{err}");
}
