use reqwest::StatusCode;
use serde_json::{json, Value};

use crate::helpers::{
    assert_error, browser, eventually, spawn_app, start, Spawn, TestApp, PASSWORD,
};

#[tokio::test]
async fn login_sets_httponly_cookie_and_me_shows_the_student() {
    let app = spawn_app().await;
    app.import_students("A", 1).await;
    let client = browser();
    let res = client
        .post(app.url("/api/v1/auth/login"))
        .json(&json!({"student_no": "A0", "password": PASSWORD}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    let cookie = res.headers()["set-cookie"].to_str().unwrap().to_string();
    assert!(cookie.starts_with("enroll_session="), "{cookie}");
    assert!(
        cookie.contains("HttpOnly") && cookie.contains("SameSite=Lax"),
        "{cookie}"
    );
    assert!(
        !cookie.contains("Secure"),
        "Secure is off when configured for local http: {cookie}"
    );

    let me: Value = client
        .get(app.url("/api/v1/me"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(me["student_no"], "A0");
    assert_eq!(me["enrollments"], json!([]));
    assert_eq!(me["credits_total"], 0);
    assert!(me.get("password_hash").is_none());
}

#[tokio::test]
async fn wrong_password_and_unknown_student_get_invalid_credentials() {
    let app = spawn_app().await;
    app.import_students("B", 1).await;
    for (no, pw) in [("B0", "wrong password"), ("nobody", PASSWORD)] {
        let res = browser()
            .post(app.url("/api/v1/auth/login"))
            .json(&json!({"student_no": no, "password": pw}))
            .send()
            .await
            .unwrap();
        assert!(res.headers().get("set-cookie").is_none());
        assert_error(res, StatusCode::UNAUTHORIZED, "invalid_credentials").await;
    }
}

#[tokio::test]
async fn student_routes_need_a_session() {
    let app = spawn_app().await;
    let res = browser().get(app.url("/api/v1/me")).send().await.unwrap();
    assert_error(res, StatusCode::UNAUTHORIZED, "unauthenticated").await;
    let res = reqwest::Client::new()
        .get(app.url("/api/v1/me"))
        .header("cookie", "enroll_session=forged-token")
        .send()
        .await
        .unwrap();
    assert_error(res, StatusCode::UNAUTHORIZED, "unauthenticated").await;
}

#[tokio::test]
async fn logout_ends_the_session() {
    let app = spawn_app().await;
    app.import_students("C", 1).await;
    let client = app.login("C0").await;
    let res = client
        .post(app.url("/api/v1/auth/logout"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::NO_CONTENT);
    assert!(res.headers()["set-cookie"]
        .to_str()
        .unwrap()
        .contains("Max-Age=0"));
    let res = client.get(app.url("/api/v1/me")).send().await.unwrap();
    assert_error(res, StatusCode::UNAUTHORIZED, "unauthenticated").await;
}

#[tokio::test]
async fn sessions_are_shared_between_instances_on_one_redis() {
    let a = spawn_app().await;
    a.import_students("D", 1).await;
    // A second server on the same database and the same Redis.
    let b = start(a.beside(Default::default())).await;
    let cookie = a.login_cookie("D0").await;
    let me_on_b = reqwest::Client::new()
        .get(b.url("/api/v1/me"))
        .header("cookie", &cookie)
        .send()
        .await
        .unwrap();
    assert_eq!(
        me_on_b.status(),
        StatusCode::OK,
        "a session made on A works on B"
    );
    let me: Value = me_on_b.json().await.unwrap();
    assert_eq!(me["student_no"], "D0");

    assert_eq!(logout_with(&b, &cookie).await, StatusCode::NO_CONTENT);
    let res = reqwest::Client::new()
        .get(a.url("/api/v1/me"))
        .header("cookie", &cookie)
        .send()
        .await
        .unwrap();
    assert_error(res, StatusCode::UNAUTHORIZED, "unauthenticated").await;
}

#[tokio::test]
async fn repeated_wrong_passwords_make_this_client_wait_for_this_number() {
    let app = spawn_app().await;
    app.import_students("G", 2).await;
    let attempt = |no: &'static str, pw: &'static str| {
        let url = app.url("/api/v1/auth/login");
        async move {
            browser()
                .post(url)
                .json(&json!({"student_no": no, "password": pw}))
                .send()
                .await
                .unwrap()
        }
    };
    for _ in 0..10 {
        assert_error(
            attempt("G0", "guess-guess").await,
            StatusCode::UNAUTHORIZED,
            "invalid_credentials",
        )
        .await;
    }
    // Even the right password is refused now, from this address and for
    // this student number only.
    assert_error(
        attempt("G0", PASSWORD).await,
        StatusCode::TOO_MANY_REQUESTS,
        "too_many_attempts",
    )
    .await;
    assert_eq!(attempt("G1", PASSWORD).await.status(), StatusCode::OK);
}

/// Sessions are cached per instance; a logout elsewhere must still end them
/// here at once (pub/sub), not when the cache time runs out.
#[tokio::test]
async fn a_logout_on_one_instance_ends_the_session_cached_on_another() {
    use enroll_server::config::Options;
    use std::time::Duration;

    // A cache time far longer than this test: only the revocation message
    // can explain A refusing the session.
    let long_cache = || Options {
        session_cache_ms: Some(600_000),
        ..Default::default()
    };
    let mut spec = Spawn::fresh();
    spec.extra = long_cache();
    let a = start(spec).await;
    a.import_students("K", 1).await;
    let b = start(a.beside(long_cache())).await;
    let cookie = a.login_cookie("K0").await;
    let me_on_a = || async {
        reqwest::Client::new()
            .get(a.url("/api/v1/me"))
            .header("cookie", &cookie)
            .send()
            .await
            .unwrap()
            .status()
    };
    // A follows revocations shortly after start; from then on it answers
    // this session from memory.
    let from_cache = "enroll_session_lookups_total{source=\"cache\"}";
    eventually(
        Duration::from_secs(10),
        "A serves the session from its cache",
        || async {
            assert_eq!(me_on_a().await, StatusCode::OK);
            a.metric(from_cache).await >= 1.0
        },
    )
    .await;
    let hits = a.metric(from_cache).await;
    assert_eq!(me_on_a().await, StatusCode::OK);
    assert!(a.metric(from_cache).await > hits);

    assert_eq!(logout_with(&b, &cookie).await, StatusCode::NO_CONTENT);
    // The message is in flight for a moment at most.
    eventually(
        Duration::from_secs(3),
        "A refuses the logged-out session",
        || async { me_on_a().await == StatusCode::UNAUTHORIZED },
    )
    .await;
}

/// Logs out on `app` with a session cookie sent by hand.
async fn logout_with(app: &TestApp, cookie: &str) -> StatusCode {
    reqwest::Client::new()
        .post(app.url("/api/v1/auth/logout"))
        .header("cookie", cookie)
        .send()
        .await
        .unwrap()
        .status()
}

/// A client whose connections come from `local` (any 127.x address reaches
/// the server on 127.0.0.1).
pub fn from_address(local: &str) -> reqwest::Client {
    reqwest::Client::builder()
        .cookie_store(true)
        .local_address(local.parse::<std::net::IpAddr>().unwrap())
        .build()
        .unwrap()
}

async fn login_from(
    app: &crate::helpers::TestApp,
    client: &reqwest::Client,
    no: &str,
    pw: &str,
) -> reqwest::Response {
    client
        .post(app.url("/api/v1/auth/login"))
        .json(&json!({"student_no": no, "password": pw}))
        .send()
        .await
        .unwrap()
}

#[tokio::test]
async fn guesses_from_one_address_do_not_lock_the_student_out_elsewhere() {
    let app = spawn_app().await;
    app.import_students("V", 1).await;
    let attacker = from_address("127.0.0.2");
    for _ in 0..10 {
        let res = login_from(&app, &attacker, "V0", "guess-guess").await;
        assert_error(res, StatusCode::UNAUTHORIZED, "invalid_credentials").await;
    }
    // The attacker's address now waits, even with the right password ...
    let refused = login_from(&app, &attacker, "V0", PASSWORD).await;
    assert_eq!(refused.status(), StatusCode::TOO_MANY_REQUESTS);
    let wait: u64 = refused.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((1..=900).contains(&wait), "Retry-After {wait}");
    assert_error(refused, StatusCode::TOO_MANY_REQUESTS, "too_many_attempts").await;
    // ... while the student, from their own address, logs in.
    let student = from_address("127.0.0.3");
    let res = login_from(&app, &student, "V0", PASSWORD).await;
    assert_eq!(res.status(), StatusCode::OK);
    let me = student.get(app.url("/api/v1/me")).send().await.unwrap();
    assert_eq!(me.status(), StatusCode::OK);
}

#[tokio::test]
async fn parallel_guesses_are_all_counted() {
    let app = spawn_app().await;
    app.import_students("P", 1).await;
    let attacker = from_address("127.0.0.4");
    let guesses = (0..30).map(|_| login_from(&app, &attacker, "P0", "guess-guess"));
    let statuses: Vec<StatusCode> = futures::future::join_all(guesses)
        .await
        .iter()
        .map(|r| r.status())
        .collect();
    let checked = statuses
        .iter()
        .filter(|s| **s == StatusCode::UNAUTHORIZED)
        .count();
    let refused = statuses
        .iter()
        .filter(|s| **s == StatusCode::TOO_MANY_REQUESTS)
        .count();
    assert_eq!(checked + refused, 30, "{statuses:?}");
    assert_eq!(checked, 10, "only the first ten guesses were checked");
}

#[tokio::test]
async fn an_address_counter_left_without_expiry_gets_one_back() {
    use redis::AsyncCommands;

    let app = spawn_app().await;
    app.import_students("E", 1).await;
    // What a success's DECR leaves when the counter expired meanwhile.
    let mut redis = app.redis().await;
    let key = "login:{l127.0.0.5}";
    let _: () = redis.set(key, -1).await.unwrap();
    let client = from_address("127.0.0.5");
    let res = login_from(&app, &client, "E0", "guess-guess").await;
    assert_error(res, StatusCode::UNAUTHORIZED, "invalid_credentials").await;
    let ttl: i64 = redis.pttl(key).await.unwrap();
    assert!(ttl > 0, "the address counter never expires (PTTL {ttl})");
}
