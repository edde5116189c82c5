//! Starting servers and logging in, for the process tests.

use std::process::{Command, Stdio};
use std::time::Duration;

use reqwest::{Client, StatusCode};
use serde_json::{json, Value};
use testkit::{free_port, wait_for_port, ChildGuard};

pub const ADMIN: &str = "process-test-admin-token-0123";

pub fn spawn_server(db: &str, replicas: &[String], redis: &str) -> (ChildGuard, String) {
    spawn_server_with(db, replicas, redis, &[])
}

pub fn spawn_server_with(
    db: &str,
    replicas: &[String],
    redis: &str,
    env: &[(&str, &str)],
) -> (ChildGuard, String) {
    let port = free_port();
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_enroll-server"));
    cmd.env("ENROLL_LISTEN", format!("127.0.0.1:{port}"))
        .env("ENROLL_DATABASE_URL", db)
        .env("ENROLL_REPLICA_URLS", replicas.join(","))
        .env("ENROLL_REDIS_URL", redis)
        .env("ENROLL_ADMIN_TOKEN", ADMIN)
        .env("ENROLL_ARGON2_MEMORY_KIB", "1024")
        .env("ENROLL_ARGON2_ITERATIONS", "1")
        // Small batches and a short lease: the kill lands mid-rush and the
        // survivor takes over quickly.
        .env("ENROLL_ADMISSION_BATCH_SIZE", "4")
        .env("ENROLL_ADMISSION_LEASE_MS", "500")
        .env("RUST_LOG", "warn")
        .envs(env.iter().copied())
        .stdout(Stdio::null());
    let child = ChildGuard::spawn("enroll-server", &mut cmd).unwrap();
    wait_for_port(port, Duration::from_secs(30)).unwrap();
    (child, format!("http://127.0.0.1:{port}"))
}

pub async fn login(base: &str, no: &str) -> String {
    let res = Client::new()
        .post(format!("{base}/api/v1/auth/login"))
        .json(&json!({"student_no": no, "password": "password-123"}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    res.headers()["set-cookie"]
        .to_str()
        .unwrap()
        .split(';')
        .next()
        .unwrap()
        .to_string()
}

/// Through server `url`'s admin API: students `{students}0..n` (password
/// `password-123`), one 3-credit course `{courses}<i>` per capacity in
/// `caps`, each on its own weekday (at most five, so no clashes and no
/// credit limit reached), and registration open. Returns the course ids.
pub async fn seed(url: &str, students: &str, n: usize, courses: &str, caps: &[i32]) -> Vec<i64> {
    let admin = Client::new();
    let people: Vec<Value> = (0..n)
        .map(|i| {
            json!({"student_no": format!("{students}{i}"), "name": students,
                   "email": format!("{}{i}@uni.test", students.to_lowercase()),
                   "password": "password-123"})
        })
        .collect();
    let res = admin
        .post(format!("{url}/api/v1/admin/students"))
        .bearer_auth(ADMIN)
        .json(&people)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::CREATED);
    let days = ["MON", "TUE", "WED", "THU", "FRI"];
    let list: Vec<Value> = caps
        .iter()
        .zip(days)
        .enumerate()
        .map(|(i, (cap, day))| {
            json!({"code": format!("{courses}{i}"), "name": courses, "credits": 3, "capacity": cap,
                   "schedule": [{"day": day, "start": "09:00", "end": "10:00"}]})
        })
        .collect();
    let created: Vec<Value> = admin
        .post(format!("{url}/api/v1/admin/courses"))
        .bearer_auth(ADMIN)
        .json(&list)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let res = admin
        .put(format!("{url}/api/v1/admin/registration-window"))
        .bearer_auth(ADMIN)
        .json(&json!({"opens_at": "2020-01-01T00:00:00Z", "closes_at": "2099-01-01T00:00:00Z"}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    created.iter().map(|c| c["id"].as_i64().unwrap()).collect()
}

/// Waits until at least `n` seats are committed (or 20 s have passed), so
/// that a fault lands mid-rush.
pub async fn until_seats(pool: &sqlx::PgPool, n: i64) {
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    loop {
        let held: i64 = sqlx::query_scalar("SELECT count(*) FROM enrollments")
            .fetch_one(pool)
            .await
            .unwrap();
        if held >= n || std::time::Instant::now() > deadline {
            return;
        }
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
}

/// Invariants 1 and 2 from the database: every course's `enrolled` equals
/// its rows and never exceeds its capacity. Returns `(id, capacity,
/// enrolled)` of every course.
pub async fn assert_seats_consistent(pool: &sqlx::PgPool) -> Vec<(i64, i32, i32)> {
    let rows: Vec<(i64, i32, i32, i64)> = sqlx::query_as(
        "SELECT id, capacity, enrolled, (SELECT count(*) FROM enrollments e WHERE e.course_id = c.id) FROM courses c",
    )
    .fetch_all(pool)
    .await
    .unwrap();
    for (id, cap, enrolled, count) in &rows {
        assert_eq!(*enrolled as i64, *count, "course {id}");
        assert!(enrolled <= cap, "course {id} oversold");
    }
    rows.into_iter()
        .map(|(id, cap, enrolled, _)| (id, cap, enrolled))
        .collect()
}
