//! What the browser tests stand on: a real enroll-server process (so it can
//! be killed and started again on the same port) on the shared PostgreSQL
//! cluster and a Redis of its own, and Debian's chromium driven through
//! chromedriver (never a downloaded browser), headless.

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use fantoccini::{Client, ClientBuilder, Locator};
use reqwest::StatusCode;
use serde_json::{json, Value};
use testkit::{free_port, wait_for_port, ChildGuard, RedisServer};
use tokio::sync::Semaphore;

pub const ADMIN: &str = "browser-test-admin-token-0123";
pub const PASSWORD: &str = "password-123";
const CHROMIUM: &str = "/usr/bin/chromium";
const CHROMEDRIVER: &str = "/usr/bin/chromedriver";

/// Chromium is heavy for a 2-core machine: at most two at once.
static BROWSERS: Semaphore = Semaphore::const_new(2);

/// An enroll-server process with its database and Redis.
pub struct Server {
    pub base: String,
    port: u16,
    db: String,
    replicas: Vec<String>,
    redis: RedisServer,
    child: Option<ChildGuard>,
    /// Settings besides the defaults (`ENROLL_*` variables).
    env: Vec<(&'static str, &'static str)>,
}

impl Server {
    pub async fn start() -> Server {
        Self::start_with(&[]).await
    }

    /// A server with settings `env` (`ENROLL_*` variables) besides the
    /// defaults.
    pub async fn start_with(env: &[(&'static str, &'static str)]) -> Server {
        let (db, replicas) = tokio::task::spawn_blocking(|| testkit::shared::database("page"))
            .await
            .unwrap()
            .unwrap();
        let redis = RedisServer::start().unwrap();
        let port = free_port();
        let mut server = Server {
            base: format!("http://127.0.0.1:{port}"),
            port,
            db,
            replicas,
            redis,
            child: None,
            env: env.to_vec(),
        };
        server.spawn();
        server
    }

    fn spawn(&mut self) {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_enroll-server"));
        cmd.env("ENROLL_LISTEN", format!("127.0.0.1:{}", self.port))
            .env("ENROLL_DATABASE_URL", &self.db)
            .env("ENROLL_REPLICA_URLS", self.replicas.join(","))
            .env("ENROLL_REDIS_URL", self.redis.url())
            .env("ENROLL_ADMIN_TOKEN", ADMIN)
            .env("ENROLL_COOKIE_SECURE", "false")
            .env("ENROLL_ARGON2_MEMORY_KIB", "1024")
            .env("ENROLL_ARGON2_ITERATIONS", "1")
            .env("RUST_LOG", "warn")
            .envs(self.env.iter().copied())
            .stdout(Stdio::null());
        self.child = Some(ChildGuard::spawn("enroll-server", &mut cmd).unwrap());
        wait_for_port(self.port, Duration::from_secs(30)).unwrap();
    }

    /// SIGKILL, then the same binary on the same port (sessions and tickets
    /// are in Redis and survive).
    pub fn restart(&mut self) {
        if let Some(mut child) = self.child.take() {
            child.kill();
        }
        self.spawn();
    }

    pub async fn admin(&self, method: reqwest::Method, path: &str, body: Value) -> Value {
        let res = reqwest::Client::new()
            .request(method, format!("{}{path}", self.base))
            .bearer_auth(ADMIN)
            .json(&body)
            .send()
            .await
            .unwrap();
        assert!(res.status().is_success(), "{path}: {}", res.status());
        res.json().await.unwrap()
    }

    /// Students `prefix0..prefixN`.
    pub async fn students(&self, prefix: &str, n: usize) {
        let list: Vec<Value> = (0..n)
            .map(|i| {
                json!({"student_no": format!("{prefix}{i}"), "name": format!("학생 {i}"),
                            "email": format!("{prefix}{i}@uni.test"), "password": PASSWORD})
            })
            .collect();
        self.admin(reqwest::Method::POST, "/api/v1/admin/students", json!(list))
            .await;
    }

    /// Creates courses; returns their ids in order.
    pub async fn courses(&self, courses: Value) -> Vec<i64> {
        let created = self
            .admin(reqwest::Method::POST, "/api/v1/admin/courses", courses)
            .await;
        created
            .as_array()
            .unwrap()
            .iter()
            .map(|c| c["id"].as_i64().unwrap())
            .collect()
    }

    /// Sets the window; an instance learns of it within a second.
    pub async fn window(&self, opens_at: chrono::DateTime<chrono::Utc>, hours: i64) {
        let body =
            json!({"opens_at": opens_at, "closes_at": opens_at + chrono::Duration::hours(hours)});
        self.admin(
            reqwest::Method::PUT,
            "/api/v1/admin/registration-window",
            body,
        )
        .await;
        tokio::time::sleep(Duration::from_millis(1200)).await;
    }

    pub async fn open_window(&self) {
        self.window(chrono::Utc::now() - chrono::Duration::hours(1), 48)
            .await;
    }

    pub async fn pause_admission(&self, paused: bool) {
        self.admin(
            reqwest::Method::PUT,
            "/api/v1/admin/admission",
            json!({"paused": paused}),
        )
        .await;
    }

    /// A student's session outside the browser (the "other student").
    pub async fn api_student(&self, student_no: &str) -> reqwest::Client {
        let client = reqwest::Client::builder()
            .cookie_store(true)
            .build()
            .unwrap();
        let res = client
            .post(format!("{}/api/v1/auth/login", self.base))
            .json(&json!({"student_no": student_no, "password": PASSWORD}))
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), StatusCode::OK);
        client
    }

    /// The sum of `enroll_http_requests_total` over every status for one
    /// route template and method, from the server's `/metrics`.
    pub async fn requests(&self, method: &str, route: &str) -> u64 {
        let text = reqwest::get(format!("{}/metrics", self.base))
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        let (method, route) = (format!("method=\"{method}\""), format!("route=\"{route}\""));
        text.lines()
            .filter(|l| l.starts_with("enroll_http_requests_total{"))
            .filter(|l| l.contains(&method) && l.contains(&route))
            .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
            .sum::<f64>() as u64
    }

    /// Holds the cart period's row lock in a transaction of its own until
    /// it is rolled back or dropped: the close run waits for it.
    pub async fn hold_cart_period(&self) -> sqlx::Transaction<'static, sqlx::Postgres> {
        let pool = sqlx::PgPool::connect(&self.db).await.unwrap();
        let mut tx = pool.begin().await.unwrap();
        sqlx::query("SELECT 1 FROM cart_period FOR UPDATE")
            .execute(&mut *tx)
            .await
            .unwrap();
        tx
    }

    /// Waits until a transaction of this server's database waits on a lock.
    pub async fn wait_for_a_lock_waiter(&self, timeout: Duration) {
        let pool = sqlx::PgPool::connect(&self.db).await.unwrap();
        let deadline = Instant::now() + timeout;
        loop {
            let waiting: i64 = sqlx::query_scalar(
                "SELECT count(*) FROM pg_stat_activity \
                 WHERE datname = current_database() AND wait_event_type = 'Lock'",
            )
            .fetch_one(&pool)
            .await
            .unwrap();
            if waiting > 0 {
                return;
            }
            assert!(Instant::now() < deadline, "nothing waits on a lock");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// Enrolls through the API and waits for the decision.
    pub async fn enroll_via_api(&self, client: &reqwest::Client, course: i64) -> Value {
        let res = client
            .post(format!("{}/api/v1/enrollments", self.base))
            .json(&json!({"course_id": course}))
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), StatusCode::ACCEPTED);
        res.json().await.unwrap()
    }
}

/// A headless chromium session and the chromedriver behind it.
pub struct Browser {
    pub client: Client,
    _driver: ChildGuard,
    _profile: tempfile::TempDir,
    _slot: tokio::sync::SemaphorePermit<'static>,
}

/// How the browser presents itself.
#[derive(Clone, Copy)]
pub struct Look {
    pub width: u32,
    pub height: u32,
    /// The browser's preferred language (`ko-KR`, `en-US`).
    pub lang: &'static str,
}

pub const DESKTOP_EN: Look = Look {
    width: 1280,
    height: 900,
    lang: "en-US",
};
pub const DESKTOP_KO: Look = Look {
    width: 1280,
    height: 900,
    lang: "ko-KR",
};

impl Browser {
    pub async fn start(look: Look) -> Browser {
        for bin in [CHROMIUM, CHROMEDRIVER] {
            assert!(
                Path::new(bin).exists(),
                "{bin} is missing: run ./scripts/install-deps.sh (Debian's chromium and chromium-driver)"
            );
        }
        let slot = BROWSERS.acquire().await.unwrap();
        let port = free_port();
        let mut cmd = Command::new(CHROMEDRIVER);
        cmd.arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        let driver = ChildGuard::spawn("chromedriver", &mut cmd).unwrap();
        wait_for_port(port, Duration::from_secs(20)).unwrap();
        let profile = tempfile::tempdir().unwrap();
        let args = json!([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-dev-shm-usage",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--disable-quic",
            format!("--user-data-dir={}", profile.path().display()),
            format!("--window-size={},{}", look.width, look.height),
            format!("--lang={}", look.lang),
            format!("--accept-lang={}", look.lang),
        ]);
        let mut options = json!({
            "binary": CHROMIUM,
            "args": args,
            "prefs": {"intl": {"accept_languages": look.lang}},
        });
        if look.width < 600 {
            // A desktop window cannot be that narrow: emulate the phone.
            options["mobileEmulation"] = json!({"deviceMetrics":
                {"width": look.width, "height": look.height, "pixelRatio": 1.0, "touch": true}});
        }
        let caps = json!({"browserName": "chrome", "goog:chromeOptions": options});
        let caps = caps.as_object().unwrap().clone();
        let client = ClientBuilder::new(hyper_util::client::legacy::connect::HttpConnector::new())
            .capabilities(caps)
            .connect(&format!("http://127.0.0.1:{port}"))
            .await
            .expect("chromedriver session");
        Browser {
            client,
            _driver: driver,
            _profile: profile,
            _slot: slot,
        }
    }

    /// Runs `scenario`, then ends the browser session whatever happened
    /// (chromium quits with it), then reports the scenario's panic if any.
    pub async fn run<F, Fut>(look: Look, scenario: F)
    where
        F: FnOnce(Client) -> Fut,
        Fut: std::future::Future<Output = ()>,
    {
        use futures::FutureExt;
        let browser = Browser::start(look).await;
        let outcome = std::panic::AssertUnwindSafe(scenario(browser.client.clone()))
            .catch_unwind()
            .await;
        let _ = browser.client.clone().close().await;
        drop(browser);
        if let Err(panic) = outcome {
            std::panic::resume_unwind(panic);
        }
    }
}

/// Polls `script` (a function body returning a value) until it returns
/// `true`; panics with `what` and the last answer after `timeout`.
pub async fn wait_js(c: &Client, what: &str, script: &str, timeout: Duration) {
    let deadline = Instant::now() + timeout;
    let mut last = Value::Null;
    while Instant::now() < deadline {
        match c.execute(script, vec![]).await {
            Ok(Value::Bool(true)) => return,
            Ok(v) => last = v,
            Err(e) => last = json!(e.to_string()),
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("timed out waiting for {what}; last answer: {last}");
}

/// `script`'s answer.
pub async fn js(c: &Client, script: &str) -> Value {
    c.execute(script, vec![]).await.unwrap()
}

pub async fn css(c: &Client, selector: &str) -> fantoccini::elements::Element {
    c.wait()
        .at_most(Duration::from_secs(10))
        .for_element(Locator::Css(selector))
        .await
        .unwrap_or_else(|e| panic!("{selector}: {e}"))
}

/// Opens the page and logs in as `student_no`.
pub async fn log_in(c: &Client, server: &Server, student_no: &str) {
    c.goto(&format!("{}/", server.base)).await.unwrap();
    wait_js(
        c,
        "the page to start",
        "return document.body.dataset.ready === 'true'",
        SECS10,
    )
    .await;
    css(c, "[data-testid=login-student-no]")
        .await
        .send_keys(student_no)
        .await
        .unwrap();
    css(c, "[data-testid=login-password]")
        .await
        .send_keys(PASSWORD)
        .await
        .unwrap();
    css(c, "[data-testid=login-submit]")
        .await
        .click()
        .await
        .unwrap();
    wait_js(
        c,
        "the catalogue after logging in",
        "return document.querySelectorAll('[data-testid=course-row]').length > 0",
        SECS10,
    )
    .await;
}

pub const SECS10: Duration = Duration::from_secs(10);

/// The course row's selector.
pub fn row(course: i64) -> String {
    format!("[data-testid=course-row][data-course-id=\"{course}\"]")
}

/// Clicks `selector`, finding it again when a redraw replaced it between
/// the find and the click.
pub async fn click(c: &Client, selector: &str) {
    for _ in 0..20 {
        match css(c, selector).await.click().await {
            Ok(()) => return,
            Err(fantoccini::error::CmdError::Standard(e))
                if e.error == fantoccini::error::ErrorStatus::StaleElementReference =>
            {
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
            Err(e) => panic!("click {selector}: {e}"),
        }
    }
    panic!("click {selector}: the element kept being replaced");
}
