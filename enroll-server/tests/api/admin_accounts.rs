//! Named admin accounts: the bootstrap token creates them, each logs in for
//! a bearer token of its own, a viewer reads but changes nothing, sessions
//! end on logout and with their account, logins are throttled per client,
//! and every admin request is attributed to who made it.

use std::collections::BTreeSet;
use std::io::Write;
use std::sync::{Arc, Mutex, OnceLock};

use enroll_server::config::Options;
use reqwest::{Client, Method, StatusCode};
use serde_json::{json, Value};

use crate::auth::from_address;
use crate::helpers::{assert_error, spawn_app, start, Spawn, TestApp, ADMIN_TOKEN, PASSWORD};

/// Every admin route of the served document as `(method, path)`, with
/// path parameters filled in; `changing` picks the routes that change
/// something (any method but GET), else the reads.
async fn admin_routes(app: &TestApp, changing: bool) -> Vec<(Method, String)> {
    let doc: Value = reqwest::get(app.url("/api-docs/openapi.json"))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let mut routes = Vec::new();
    for (path, item) in doc["paths"].as_object().unwrap() {
        // Logging in and out is for every admin (and anyone, to log in).
        if !path.starts_with("/api/v1/admin/") || path.starts_with("/api/v1/admin/auth/") {
            continue;
        }
        let filled = path
            .replace("{id}", "999999")
            .replace("{username}", "nobody");
        for method in item.as_object().unwrap().keys() {
            let method: Method = method.to_uppercase().parse().unwrap();
            if (method != Method::GET) == changing {
                routes.push((method, filled.clone()));
            }
        }
    }
    routes
}

#[tokio::test]
async fn a_viewer_reads_everything_and_changes_nothing() {
    let app = spawn_app().await;
    let course = app.create_course("V101", 10, 3, json!([])).await;
    app.create_admin("reg.kim", "registrar").await;
    let created = app.create_admin("view.lee", "viewer").await;
    assert_eq!(
        (
            &created["username"],
            &created["role"],
            &created["created_by"]
        ),
        (&json!("view.lee"), &json!("viewer"), &json!("token"))
    );
    assert!(created["id"].as_i64().is_some() && created["created_at"].is_string());
    let viewer = app.admin_login("view.lee").await;
    let registrar = app.admin_login("reg.kim").await;

    // Reads: the roster, the admission switch, parked mail, the accounts.
    let res = app
        .admin_as(
            &viewer,
            Method::GET,
            &format!("/api/v1/admin/courses/{course}/roster"),
            &json!({}),
        )
        .await;
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(res.json::<Value>().await.unwrap()["course"]["code"], "V101");
    for path in ["/api/v1/admin/admission", "/api/v1/admin/mail/parked"] {
        let res = app.admin_as(&viewer, Method::GET, path, &json!({})).await;
        assert_eq!(res.status(), StatusCode::OK, "{path}");
    }
    let res = app
        .admin_as(&viewer, Method::GET, "/api/v1/admin/accounts", &json!({}))
        .await;
    assert_eq!(res.status(), StatusCode::OK);
    let accounts: Vec<Value> = res.json().await.unwrap();
    let names: Vec<&str> = accounts
        .iter()
        .map(|a| a["username"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["reg.kim", "view.lee"]);
    for a in &accounts {
        assert!(a.get("password_hash").is_none() && a.get("password").is_none());
        assert!(!a.to_string().contains("argon2"), "{a}");
    }
    // Every read of the document is open to the viewer (a made-up course
    // is not found, which is not a refusal).
    let reads = admin_routes(&app, false).await;
    assert!(reads.len() >= 4, "{reads:?}");
    for (method, path) in reads {
        let res = app
            .admin_as(&viewer, method.clone(), &path, &json!({}))
            .await;
        assert!(
            matches!(res.status(), StatusCode::OK | StatusCode::NOT_FOUND),
            "{method} {path}: {}",
            res.status()
        );
    }

    // Every route that changes something refuses the viewer, before it
    // looks at the body, and names why.
    let changing = admin_routes(&app, true).await;
    let listed: BTreeSet<String> = changing.iter().map(|(m, p)| format!("{m} {p}")).collect();
    for known in [
        "POST /api/v1/admin/courses",
        "PATCH /api/v1/admin/courses/999999",
        "POST /api/v1/admin/students",
        "PUT /api/v1/admin/registration-window",
        "PUT /api/v1/admin/admission",
        "POST /api/v1/admin/mail/requeue",
        "POST /api/v1/admin/accounts",
        "DELETE /api/v1/admin/accounts/nobody",
    ] {
        assert!(
            listed.contains(known),
            "the document lacks {known}: {listed:?}"
        );
    }
    for (method, path) in &changing {
        let res = app
            .admin_as(&viewer, method.clone(), path, &json!({}))
            .await;
        assert_error(res, StatusCode::FORBIDDEN, "insufficient_role").await;
    }
    // A real change, too: nothing happened.
    let res = app
        .admin_as(
            &viewer,
            Method::PATCH,
            &format!("/api/v1/admin/courses/{course}"),
            &json!({"capacity": 99}),
        )
        .await;
    assert_error(res, StatusCode::FORBIDDEN, "insufficient_role").await;
    let capacity: i32 = sqlx::query_scalar("SELECT capacity FROM courses WHERE id = $1")
        .bind(course)
        .fetch_one(&app.db)
        .await
        .unwrap();
    assert_eq!(capacity, 10);

    // The registrar's session changes things, attributed to its account.
    let res = app
        .admin_as(
            &registrar,
            Method::PATCH,
            &format!("/api/v1/admin/courses/{course}"),
            &json!({"capacity": 12}),
        )
        .await;
    assert_eq!(res.status(), StatusCode::OK);
    let res = app
        .admin_as(
            &registrar,
            Method::POST,
            "/api/v1/admin/accounts",
            &json!({"username": "view.park", "password": PASSWORD, "role": "viewer"}),
        )
        .await;
    assert_eq!(res.status(), StatusCode::CREATED);
    assert_eq!(res.json::<Value>().await.unwrap()["created_by"], "reg.kim");
}

/// `GET /api/v1/admin/accounts` with `bearer`.
async fn accounts(app: &TestApp, bearer: &str) -> reqwest::Response {
    app.admin_as(bearer, Method::GET, "/api/v1/admin/accounts", &json!({}))
        .await
}

/// Asserts that `bearer` is refused as no admin's (403 `forbidden`).
async fn assert_refused(app: &TestApp, bearer: &str) {
    assert_error(
        accounts(app, bearer).await,
        StatusCode::FORBIDDEN,
        "forbidden",
    )
    .await;
}

/// `POST /api/v1/admin/auth/logout` with `bearer`.
async fn logout(app: &TestApp, bearer: &str) -> reqwest::Response {
    app.admin_as(
        bearer,
        Method::POST,
        "/api/v1/admin/auth/logout",
        &json!({}),
    )
    .await
}

/// `POST /api/v1/admin/auth/login` from `client`.
async fn login(
    app: &TestApp,
    client: &Client,
    username: &str,
    password: &str,
) -> reqwest::Response {
    client
        .post(app.url("/api/v1/admin/auth/login"))
        .json(&json!({"username": username, "password": password}))
        .send()
        .await
        .unwrap()
}

#[tokio::test]
async fn accounts_are_checked_and_their_sessions_end_with_them() {
    let app = spawn_app().await;
    app.create_admin("kim", "registrar").await;
    let new = |username: &str, password: &str, role: &str| json!({"username": username, "password": password, "role": role});
    let res = app
        .admin_post("/api/v1/admin/accounts", &new("kim", PASSWORD, "viewer"))
        .await;
    assert_error(res, StatusCode::CONFLICT, "duplicate_username").await;
    for bad in ["Kim", ".kim", "kim lee", "token", &"k".repeat(65)] {
        let res = app
            .admin_post("/api/v1/admin/accounts", &new(bad, PASSWORD, "viewer"))
            .await;
        assert_error(res, StatusCode::UNPROCESSABLE_ENTITY, "invalid_field").await;
    }
    let res = app
        .admin_post("/api/v1/admin/accounts", &new("lee", "short", "viewer"))
        .await;
    assert_error(res, StatusCode::UNPROCESSABLE_ENTITY, "weak_password").await;
    let res = app
        .admin_post("/api/v1/admin/accounts", &new("lee", PASSWORD, "owner"))
        .await;
    assert_error(res, StatusCode::UNPROCESSABLE_ENTITY, "invalid_body").await;
    // Serde would read the fields from an array in order; only an object is
    // an account.
    let res = app
        .admin_post(
            "/api/v1/admin/accounts",
            &json!(["lee", PASSWORD, "viewer"]),
        )
        .await;
    assert_error(res, StatusCode::UNPROCESSABLE_ENTITY, "invalid_body").await;
    let hash: String =
        sqlx::query_scalar("SELECT password_hash FROM admins WHERE username = 'kim'")
            .fetch_one(&app.db)
            .await
            .unwrap();
    assert!(hash.starts_with("$argon2id$") && !hash.contains(PASSWORD));

    // Wrong passwords and unknown users get the same answer.
    for (username, password) in [("kim", "not the password"), ("nobody", PASSWORD)] {
        let res = login(&app, &Client::new(), username, password).await;
        assert_error(res, StatusCode::UNAUTHORIZED, "invalid_credentials").await;
    }

    // A session answers with its expiry and role, and works until the
    // account is deleted: then at once, on the next request.
    let res = login(&app, &Client::new(), "kim", PASSWORD).await;
    assert_eq!(res.status(), StatusCode::OK);
    let login: Value = res.json().await.unwrap();
    assert_eq!(
        (&login["username"], &login["role"]),
        (&json!("kim"), &json!("registrar"))
    );
    let expires: chrono::DateTime<chrono::Utc> =
        login["expires_at"].as_str().unwrap().parse().unwrap();
    let hours = (expires - chrono::Utc::now()).num_minutes() as f64 / 60.0;
    assert!((7.9..=8.0).contains(&hours), "8 hours by default: {hours}");
    let kim = login["token"].as_str().unwrap().to_string();
    let stored: i64 =
        sqlx::query_scalar("SELECT count(*) FROM admin_sessions WHERE digest = sha256($1::bytea)")
            .bind(kim.as_bytes())
            .fetch_one(&app.db)
            .await
            .unwrap();
    assert_eq!(stored, 1, "stored under its SHA-256");
    assert_eq!(accounts(&app, &kim).await.status(), StatusCode::OK);
    let res = app
        .admin(Method::DELETE, "/api/v1/admin/accounts/kim", &json!({}))
        .await;
    assert_eq!(res.status(), StatusCode::NO_CONTENT);
    assert_refused(&app, &kim).await;
    let left: i64 = sqlx::query_scalar("SELECT count(*) FROM admin_sessions")
        .fetch_one(&app.db)
        .await
        .unwrap();
    assert_eq!(left, 0, "the account's sessions went with it");
    let res = app
        .admin(Method::DELETE, "/api/v1/admin/accounts/kim", &json!({}))
        .await;
    assert_error(res, StatusCode::NOT_FOUND, "admin_not_found").await;
}

#[tokio::test]
async fn logout_ends_the_token_and_other_tokens_are_refused() {
    let app = spawn_app().await;
    app.create_admin("ops", "registrar").await;
    let token = app.admin_login("ops").await;
    let second = app.admin_login("ops").await;
    assert_eq!(accounts(&app, &token).await.status(), StatusCode::OK);
    assert_eq!(logout(&app, &token).await.status(), StatusCode::NO_CONTENT);
    assert_refused(&app, &token).await;
    // Only that session ended.
    assert_eq!(accounts(&app, &second).await.status(), StatusCode::OK);
    // The bootstrap token has no session to end, and keeps working.
    assert_error(
        logout(&app, ADMIN_TOKEN).await,
        StatusCode::CONFLICT,
        "no_session",
    )
    .await;
    assert_eq!(accounts(&app, ADMIN_TOKEN).await.status(), StatusCode::OK);

    // An ended session is refused like a wrong token.
    sqlx::query("UPDATE admin_sessions SET expires_at = now() - interval '1 second'")
        .execute(&app.db)
        .await
        .unwrap();
    assert_refused(&app, &second).await;
    // Neither a made-up token nor a student's session is an admin's.
    app.import_students("S", 1).await;
    let cookie = app.login_cookie("S0").await;
    let student_token = cookie.split_once('=').unwrap().1;
    for bearer in ["made-up-token", student_token, &"x".repeat(500)] {
        assert_refused(&app, bearer).await;
    }
    let res = Client::new()
        .get(app.url("/api/v1/admin/accounts"))
        .send()
        .await
        .unwrap();
    assert_error(res, StatusCode::UNAUTHORIZED, "admin_token_required").await;
}

#[tokio::test]
async fn failed_admin_logins_slow_down_that_client_only() {
    let mut spec = Spawn::fresh();
    spec.extra = Options {
        login_failures_per_client: Some(3),
        login_failures_per_address: Some(3),
        admin_session_ttl_secs: Some(600),
        ..Options::default()
    };
    let app = start(spec).await;
    app.create_admin("kim", "registrar").await;
    app.import_students("S", 1).await;
    let attacker = from_address("127.0.0.2");
    for _ in 0..3 {
        let res = login(&app, &attacker, "kim", "guess-guess").await;
        assert_error(res, StatusCode::UNAUTHORIZED, "invalid_credentials").await;
    }
    // That client now waits, even with the right password ...
    let refused = login(&app, &attacker, "kim", PASSWORD).await;
    assert_eq!(refused.status(), StatusCode::TOO_MANY_REQUESTS);
    let wait: u64 = refused.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!(wait >= 1, "Retry-After {wait}");
    assert_error(refused, StatusCode::TOO_MANY_REQUESTS, "too_many_attempts").await;
    // ... but the admin logs in from another address, for the configured
    // lifetime,
    let res = login(&app, &from_address("127.0.0.3"), "kim", PASSWORD).await;
    assert_eq!(res.status(), StatusCode::OK);
    let body: Value = res.json().await.unwrap();
    let expires: chrono::DateTime<chrono::Utc> =
        body["expires_at"].as_str().unwrap().parse().unwrap();
    let secs = (expires - chrono::Utc::now()).num_seconds();
    assert!((590..=600).contains(&secs), "{secs}");
    // ... and students at the attacker's address are counted apart (the
    // address is past its admin limit, not its students' one).
    let res = attacker
        .post(app.url("/api/v1/auth/login"))
        .json(&json!({"student_no": "S0", "password": PASSWORD}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
}

/// What every test of this binary logs from now on (the global
/// subscriber: a thread's own default is not reliably seen by callsites
/// that other tests' threads registered first).
#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl Captured {
    /// The log, installed as the global subscriber on first use.
    fn global() -> &'static Captured {
        static LOGS: OnceLock<Captured> = OnceLock::new();
        LOGS.get_or_init(|| {
            let logs = Captured::default();
            let writer = logs.clone();
            let subscriber = tracing_subscriber::fmt()
                .with_ansi(false)
                .with_writer(move || writer.clone())
                .finish();
            tracing::subscriber::set_global_default(subscriber)
                .expect("no other global subscriber in the api tests");
            logs
        })
    }

    fn text(&self) -> String {
        String::from_utf8_lossy(&self.0.lock().unwrap()).into_owned()
    }
}

#[tokio::test]
async fn every_admin_request_is_logged_with_who_made_it() {
    let logs = Captured::global();
    let app = spawn_app().await;
    app.create_admin("audit.kim", "registrar").await;
    let token = app.admin_login("audit.kim").await;
    let res = app
        .admin_as(
            &token,
            Method::POST,
            "/api/v1/admin/courses",
            &json!({"code": "LOG1", "name": "Logged", "credits": 3, "capacity": 5}),
        )
        .await;
    assert_eq!(res.status(), StatusCode::CREATED);
    let text = logs.text();
    let line = |admin: &str, method: &str, path: &str| {
        text.lines().any(|l| {
            l.contains("admin request")
                && l.contains(&format!("admin={admin}"))
                && l.contains(&format!("method={method}"))
                && l.contains(&format!("path={path}"))
        })
    };
    assert!(line("token", "POST", "/api/v1/admin/accounts"), "{text}");
    assert!(line("audit.kim", "POST", "/api/v1/admin/courses"), "{text}");
    // Neither token nor password is ever written.
    for secret in [token.as_str(), ADMIN_TOKEN, PASSWORD] {
        assert!(!text.contains(secret), "a secret in the log:\n{text}");
    }
}
