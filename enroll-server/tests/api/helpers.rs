//! `spawn_app()`: a real enroll-server on port 0, its own database on the
//! shared PostgreSQL cluster (primary + streaming replica) and its own
//! redis-server, started through the same `Application::build` as `main`.

use std::time::{Duration, Instant};

use enroll_server::config::Options;
use enroll_server::startup::Application;
use reqwest::{Client, Response, StatusCode};
use serde_json::{json, Value};
use sqlx::PgPool;
use testkit::RedisServer;
use tokio::sync::oneshot;

pub const ADMIN_TOKEN: &str = "test-admin-token-0123456789";
pub const PASSWORD: &str = "correct horse battery";

pub struct TestApp {
    pub base: String,
    pub db: PgPool,
    pub database_url: String,
    pub replica_urls: Vec<String>,
    pub redis_url: String,
    stop: Option<oneshot::Sender<()>>,
    _redis: Option<RedisServer>,
}

/// What differs between test apps.
pub struct Spawn {
    pub database_url: String,
    pub replica_urls: Vec<String>,
    pub redis_url: String,
    pub redis: Option<RedisServer>,
    pub extra: Options,
}

impl Spawn {
    /// A fresh database on the shared cluster and a fresh Redis.
    pub fn fresh() -> Self {
        let (database_url, replica_urls) = testkit::shared::database("api").expect("test database");
        let redis = RedisServer::start().expect("redis-server");
        Self {
            database_url,
            replica_urls,
            redis_url: redis.url(),
            redis: Some(redis),
            extra: Options::default(),
        }
    }
}

pub async fn spawn_app() -> TestApp {
    start(Spawn::fresh()).await
}

pub async fn start(spec: Spawn) -> TestApp {
    let options = Options {
        listen: Some("127.0.0.1:0".parse().unwrap()),
        database_url: Some(spec.database_url.clone()),
        replica_urls: Some(spec.replica_urls.clone()),
        redis_url: Some(spec.redis_url.clone()),
        admin_token: Some(ADMIN_TOKEN.into()),
        // The tests speak plain http, as a developer's machine does.
        cookie_secure: spec.extra.cookie_secure.or(Some(false)),
        // Cheap argon2id so tests are not CPU-bound; the algorithm is the same.
        argon2_memory_kib: Some(1024),
        argon2_iterations: Some(1),
        replica_check_interval_ms: Some(100),
        ..spec.extra
    };
    let app = Application::build(options.resolve().unwrap())
        .await
        .expect("build app");
    let base = format!("http://127.0.0.1:{}", app.port());
    let (tx, rx) = oneshot::channel();
    tokio::spawn(app.run_until_stopped(async move {
        let _ = rx.await;
    }));
    let db = PgPool::connect(&spec.database_url).await.unwrap();
    TestApp {
        base,
        db,
        database_url: spec.database_url,
        replica_urls: spec.replica_urls,
        redis_url: spec.redis_url,
        stop: Some(tx),
        _redis: spec.redis,
    }
}

impl Drop for TestApp {
    fn drop(&mut self) {
        if let Some(tx) = self.stop.take() {
            let _ = tx.send(());
        }
    }
}

/// A client that keeps cookies, like a browser.
pub fn browser() -> Client {
    Client::builder().cookie_store(true).build().unwrap()
}

impl TestApp {
    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.base, path)
    }

    /// Sends `body` to an admin route with the admin token.
    pub async fn admin(&self, method: reqwest::Method, path: &str, body: &Value) -> Response {
        Client::new()
            .request(method, self.url(path))
            .bearer_auth(ADMIN_TOKEN)
            .json(body)
            .send()
            .await
            .unwrap()
    }

    pub async fn admin_post(&self, path: &str, body: &Value) -> Response {
        self.admin(reqwest::Method::POST, path, body).await
    }

    pub async fn admin_patch(&self, path: &str, body: &Value) -> Response {
        self.admin(reqwest::Method::PATCH, path, body).await
    }

    pub async fn admin_put(&self, path: &str, body: &Value) -> Response {
        self.admin(reqwest::Method::PUT, path, body).await
    }

    /// Creates an admin account with [`PASSWORD`] and `role` (`registrar`
    /// or `viewer`) through the bootstrap token; returns the account.
    pub async fn create_admin(&self, username: &str, role: &str) -> Value {
        let res = self
            .admin_post(
                "/api/v1/admin/accounts",
                &json!({"username": username, "password": PASSWORD, "role": role}),
            )
            .await;
        assert_eq!(res.status(), StatusCode::CREATED, "create admin {username}");
        res.json().await.unwrap()
    }

    /// Logs admin `username` in with [`PASSWORD`]; returns the bearer token.
    pub async fn admin_login(&self, username: &str) -> String {
        let res = Client::new()
            .post(self.url("/api/v1/admin/auth/login"))
            .json(&json!({"username": username, "password": PASSWORD}))
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), StatusCode::OK, "admin login {username}");
        let body: Value = res.json().await.unwrap();
        body["token"].as_str().unwrap().to_string()
    }

    /// Sends `body` to an admin route with `bearer` (an admin session's
    /// token, or any other).
    pub async fn admin_as(
        &self,
        bearer: &str,
        method: reqwest::Method,
        path: &str,
        body: &Value,
    ) -> Response {
        Client::new()
            .request(method, self.url(path))
            .bearer_auth(bearer)
            .json(body)
            .send()
            .await
            .unwrap()
    }

    /// A connection to the app's Redis, for tests that stage queue state.
    pub async fn redis(&self) -> redis::aio::MultiplexedConnection {
        redis::Client::open(self.redis_url.as_str())
            .unwrap()
            .get_multiplexed_async_connection()
            .await
            .unwrap()
    }

    /// Imports students `prefix0..prefixN` with [`PASSWORD`]; returns their ids.
    pub async fn import_students(&self, prefix: &str, n: usize) -> Vec<i64> {
        let students: Vec<Value> = (0..n)
            .map(|i| {
                json!({"student_no": format!("{prefix}{i}"), "name": format!("Student {i}"),
                            "email": format!("{prefix}{i}@uni.test"), "password": PASSWORD})
            })
            .collect();
        let res = self
            .admin_post("/api/v1/admin/students", &json!(students))
            .await;
        assert_eq!(res.status(), StatusCode::CREATED);
        let body: Value = res.json().await.unwrap();
        body["students"]
            .as_array()
            .unwrap()
            .iter()
            .map(|s| s["id"].as_i64().unwrap())
            .collect()
    }

    /// Creates one course; returns its id.
    pub async fn create_course(
        &self,
        code: &str,
        capacity: i32,
        credits: i16,
        schedule: Value,
    ) -> i64 {
        let res = self
            .admin_post(
                "/api/v1/admin/courses",
                &json!({"code": code, "name": format!("Course {code}"), "professor": "Kim",
                        "department": "CSE", "credits": credits, "capacity": capacity, "schedule": schedule}),
            )
            .await;
        assert_eq!(res.status(), StatusCode::CREATED, "{:?}", res.text().await);
        let body: Value = res.json().await.unwrap();
        body["id"].as_i64().unwrap()
    }

    /// Logs in a fresh browser as `student_no`.
    pub async fn login(&self, student_no: &str) -> Client {
        let client = browser();
        let res = client
            .post(self.url("/api/v1/auth/login"))
            .json(&json!({"student_no": student_no, "password": PASSWORD}))
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), StatusCode::OK, "login {student_no}");
        client
    }

    /// Logs in `prefix0..prefixN` concurrently.
    pub async fn login_many(&self, prefix: &str, n: usize) -> Vec<Client> {
        let names: Vec<String> = (0..n).map(|i| format!("{prefix}{i}")).collect();
        futures::future::join_all(names.iter().map(|name| self.login(name))).await
    }

    /// Logs in and returns the `name=value` session cookie to send by hand.
    pub async fn login_cookie(&self, student_no: &str) -> String {
        let res = reqwest::Client::new()
            .post(self.url("/api/v1/auth/login"))
            .json(&json!({"student_no": student_no, "password": PASSWORD}))
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), StatusCode::OK, "login {student_no}");
        let set_cookie = res.headers()["set-cookie"].to_str().unwrap();
        set_cookie.split(';').next().unwrap().to_string()
    }

    /// The value of a metric sample line starting with `prefix` (0 if absent).
    pub async fn metric(&self, prefix: &str) -> f64 {
        let text = reqwest::get(self.url("/metrics"))
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        text.lines()
            .find(|l| l.starts_with(prefix))
            .and_then(|l| l.rsplit(' ').next())
            .and_then(|v| v.parse().ok())
            .unwrap_or(0.0)
    }
}

/// Asserts the coded error envelope, without any database text in it.
pub async fn assert_error(res: Response, status: StatusCode, code: &str) {
    assert_eq!(res.status(), status, "status for {code}");
    let body: Value = res.json().await.expect("error body is JSON");
    assert_eq!(body["error"]["code"], code, "{body}");
    let message = body["error"]["message"].as_str().expect("a message");
    // The database's own words never reach a client.
    for leak in [
        "violates",
        "constraint",
        "duplicate key",
        "SQLSTATE",
        "relation",
        "_key",
    ] {
        assert!(!message.contains(leak), "{code}: database text in {body}");
    }
}

/// Polls `check` until it returns true or `timeout` passes (for conditions
/// that depend on other processes, e.g. a replica catching up).
pub async fn eventually<F, Fut>(timeout: Duration, what: &str, mut check: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let deadline = Instant::now() + timeout;
    while !check().await {
        assert!(Instant::now() < deadline, "timed out waiting for: {what}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

impl TestApp {
    /// Opens registration from the past until far in the future.
    pub async fn open_window(&self) {
        let res = self
            .admin_put(
                "/api/v1/admin/registration-window",
                &json!({"opens_at": "2020-01-01T00:00:00Z", "closes_at": "2099-01-01T00:00:00Z"}),
            )
            .await;
        assert_eq!(res.status(), StatusCode::OK);
    }

    /// A second server on this app's database and Redis.
    /// Waits until every replica has replayed all the primary has committed
    /// so far. Reads may move between the primary and a replica that is
    /// behind (in rotation again once within its lag bound), so "one read saw
    /// the data" does not mean the next one will. The insert position, not
    /// the write position: the test cluster commits asynchronously, so a
    /// commit can still sit in the WAL buffers, before the write position.
    pub async fn replicas_caught_up(&self) {
        let written: String = sqlx::query_scalar("SELECT pg_current_wal_insert_lsn()::text")
            .fetch_one(&self.db)
            .await
            .unwrap();
        for url in &self.replica_urls {
            let replica = PgPool::connect(url).await.unwrap();
            eventually(Duration::from_secs(30), "the replica replays", || async {
                sqlx::query_scalar::<_, bool>("SELECT pg_last_wal_replay_lsn() >= $1::pg_lsn")
                    .bind(&written)
                    .fetch_one(&replica)
                    .await
                    .unwrap()
            })
            .await;
            replica.close().await;
        }
    }

    /// Holds `course`'s row lock in a transaction of its own until it is
    /// rolled back or dropped.
    pub async fn hold_course_lock(
        &self,
        course: i64,
    ) -> sqlx::Transaction<'static, sqlx::Postgres> {
        let mut tx = self.db.begin().await.unwrap();
        sqlx::query("SELECT 1 FROM courses WHERE id = $1 FOR UPDATE")
            .bind(course)
            .execute(&mut *tx)
            .await
            .unwrap();
        tx
    }

    /// Waits until one transaction of this app's database waits on a lock.
    pub async fn wait_for_a_lock_waiter(&self) {
        eventually(
            Duration::from_secs(10),
            "a transaction waits on a lock",
            || async {
                sqlx::query_scalar::<_, i64>(
                    "SELECT count(*) FROM pg_stat_activity \
                 WHERE datname = current_database() AND wait_event_type = 'Lock'",
                )
                .fetch_one(&self.db)
                .await
                .unwrap()
                    == 1
            },
        )
        .await;
    }

    pub fn beside(&self, extra: Options) -> Spawn {
        Spawn {
            database_url: self.database_url.clone(),
            replica_urls: self.replica_urls.clone(),
            redis_url: self.redis_url.clone(),
            redis: None,
            extra,
        }
    }

    /// A ticket's state as its owner sees it now (waiting out a 429 as
    /// its `Retry-After` asks, as a well-behaved client does).
    pub async fn ticket_state(&self, client: &Client, ticket: &str) -> Value {
        loop {
            let res = client
                .get(self.url(&format!("/api/v1/enrollments/tickets/{ticket}")))
                .send()
                .await
                .unwrap();
            if res.status() == StatusCode::TOO_MANY_REQUESTS {
                let secs: u64 = res.headers()["retry-after"]
                    .to_str()
                    .unwrap()
                    .parse()
                    .unwrap();
                tokio::time::sleep(Duration::from_secs(secs)).await;
                continue;
            }
            assert_eq!(res.status(), StatusCode::OK, "ticket {ticket}");
            return res.json().await.unwrap();
        }
    }

    /// Waits until every ticket (`tickets[i]` as enrolled by `clients[i]`)
    /// is decided; their final states, in order.
    pub async fn wait_all_decided(&self, clients: &[Client], tickets: &[Value]) -> Vec<Value> {
        futures::future::join_all(
            clients
                .iter()
                .zip(tickets)
                .map(|(c, t)| self.wait_decided(c, t["ticket"].as_str().unwrap())),
        )
        .await
    }

    /// Polls a ticket until it is decided; returns its final state.
    pub async fn wait_decided(&self, client: &Client, ticket: &str) -> Value {
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let t = self.ticket_state(client, ticket).await;
            if t["status"] != "queued" {
                return t;
            }
            assert!(
                Instant::now() < deadline,
                "ticket {ticket} never decided: {t}"
            );
            // Within the default ticket-read allowance (10/s).
            tokio::time::sleep(Duration::from_millis(120)).await;
        }
    }
}

/// Checks invariants 1 and 2 against the database: enrolled equals the row
/// count and never exceeds capacity; nobody over the credit limit or with a
/// timetable clash.
pub async fn assert_invariants(db: &PgPool, credit_limit: i64) {
    let bad: Vec<(i64, i32, i32, i64)> = sqlx::query_as(
        "SELECT c.id, c.capacity, c.enrolled, \
         (SELECT count(*) FROM enrollments e WHERE e.course_id = c.id AND NOT e.over_capacity) \
         FROM courses c",
    )
    .fetch_all(db)
    .await
    .unwrap();
    for (id, capacity, enrolled, rows) in bad {
        assert_eq!(
            enrolled as i64, rows,
            "course {id}: enrolled equals its enrollment rows"
        );
        assert!(enrolled <= capacity, "course {id}: {enrolled} > {capacity}");
    }
    let over: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM (SELECT e.student_id FROM enrollments e JOIN courses c ON c.id = e.course_id \
         GROUP BY e.student_id HAVING sum(c.credits) > $1) x",
    )
    .bind(credit_limit)
    .fetch_one(db)
    .await
    .unwrap();
    assert_eq!(over, 0, "students over the credit limit");
    let clashes: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM enrollments a JOIN enrollments b ON a.student_id = b.student_id AND a.course_id < b.course_id \
         JOIN courses ca ON ca.id = a.course_id JOIN courses cb ON cb.id = b.course_id \
         WHERE EXISTS (SELECT 1 FROM jsonb_array_elements(ca.schedule) x, jsonb_array_elements(cb.schedule) y \
                       WHERE x->>'day' = y->>'day' AND x->>'start' < y->>'end' AND y->>'start' < x->>'end')",
    )
    .fetch_one(db)
    .await
    .unwrap();
    assert_eq!(clashes, 0, "timetable clashes");
    assert_seat_blocks(db).await;
}

/// Reserved seats: every block holds its students' count and no more than
/// its seats, the open pool no more than the seats no block reserves.
pub async fn assert_seat_blocks(db: &PgPool) {
    let blocks: Vec<(i64, String, i32, i32, i64)> = sqlx::query_as(
        "SELECT b.course_id, b.name, b.seats, b.enrolled, \
         (SELECT count(*) FROM enrollments e WHERE e.course_id = b.course_id AND e.block = b.name) \
         FROM course_blocks b",
    )
    .fetch_all(db)
    .await
    .unwrap();
    for (course, name, seats, enrolled, rows) in blocks {
        assert_eq!(enrolled as i64, rows, "course {course} block {name}: count");
        assert!(
            enrolled <= seats,
            "course {course} block {name}: {enrolled} > {seats}"
        );
    }
    let pools: Vec<(i64, i32, i32, i64)> = sqlx::query_as(
        "SELECT c.id, c.capacity - c.reserved, c.pooled, \
         (SELECT count(*) FROM enrollments e WHERE e.course_id = c.id AND e.block IS NULL AND NOT e.over_capacity) \
         FROM courses c",
    )
    .fetch_all(db)
    .await
    .unwrap();
    for (course, open, pooled, rows) in pools {
        assert_eq!(pooled as i64, rows, "course {course}: pool count");
        assert!(pooled <= open, "course {course}: pool {pooled} > {open}");
    }
}

/// The phase [`TestApp::open_window`] sets, as the server's snapshot holds
/// it: for the registrar's steps run with a clock handed in.
pub fn open_phases() -> [enroll_server::domain::phase::Phase; 1] {
    [enroll_server::domain::phase::Phase::everyone(
        "2020-01-01T00:00:00Z".parse().unwrap(),
        "2099-01-01T00:00:00Z".parse().unwrap(),
    )]
}

/// What the server's scheduled steps weigh waitlist heads by, at `now`
/// (the default credit limit, no mail).
pub fn rules_at(
    phases: &[enroll_server::domain::phase::Phase],
    now: chrono::DateTime<chrono::Utc>,
) -> enroll_server::store::waitlist::Rules<'_> {
    enroll_server::store::waitlist::Rules {
        phases,
        credit_limit: 18,
        now,
        announce: false,
    }
}

impl TestApp {
    /// Gives `student_no` a seat directly (a registrar's force-add).
    pub async fn force_add(&self, student_no: &str, course: i64) {
        let res = self
            .admin_post(
                "/api/v1/admin/enrollments",
                &json!({"student_no": student_no, "course_id": course, "reason": "test setup"}),
            )
            .await;
        assert_eq!(res.status(), StatusCode::CREATED, "{:?}", res.text().await);
    }
}
