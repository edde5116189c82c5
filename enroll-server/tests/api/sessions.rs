//! Session hardening: the `__Host-` cookie served by default, requests from
//! other sites refused, and "log out everywhere".

use enroll_server::config::Options;
use reqwest::{Client, StatusCode};
use serde_json::json;

use crate::helpers::{assert_error, start, Spawn, TestApp, PASSWORD};

async fn login(app: &TestApp, no: &str) -> String {
    let res = Client::new()
        .post(app.url("/api/v1/auth/login"))
        .json(&json!({"student_no": no, "password": PASSWORD}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    res.headers()["set-cookie"].to_str().unwrap().to_string()
}

async fn me(app: &TestApp, cookie: &str) -> StatusCode {
    Client::new()
        .get(app.url("/api/v1/me"))
        .header("cookie", cookie)
        .send()
        .await
        .unwrap()
        .status()
}

#[tokio::test]
async fn by_default_the_cookie_is_secure_and_host_only() {
    let mut spec = Spawn::fresh();
    spec.extra = Options {
        cookie_secure: Some(true),
        ..Default::default()
    };
    let app = start(spec).await;
    app.import_students("S", 1).await;
    let set = login(&app, "S0").await;
    assert!(set.starts_with("__Host-enroll_session="), "{set}");
    assert!(set.contains("; Secure") && set.contains("HttpOnly") && set.contains("Path=/"));
    assert!(!set.contains("Domain="), "{set}");
    let token = set.split(';').next().unwrap().split_once('=').unwrap().1;
    assert_eq!(
        me(&app, &format!("__Host-enroll_session={token}")).await,
        StatusCode::OK
    );
    // The same token under the plain name (as a sibling domain could plant
    // it) is not a session here.
    assert_eq!(
        me(&app, &format!("enroll_session={token}")).await,
        StatusCode::UNAUTHORIZED
    );
    // And the default, with nothing configured, is the secure cookie.
    let defaults = Options {
        database_url: Some("postgres://x".into()),
        admin_token: Some("an-admin-token-0123456789".into()),
        ..Default::default()
    };
    assert!(defaults.resolve().unwrap().cookie_secure);
}

#[tokio::test]
async fn another_site_cannot_change_anything_with_the_students_cookie() {
    let app = start(Spawn::fresh()).await;
    app.open_window().await;
    app.import_students("X", 1).await;
    let course = app.create_course("X-1", 10, 3, json!([])).await;
    let cookie = login(&app, "X0").await;
    let cookie = cookie.split(';').next().unwrap().to_string();
    let enroll = |headers: &[(&str, &str)]| {
        let mut req = Client::new()
            .post(app.url("/api/v1/enrollments"))
            .header("cookie", &cookie)
            .json(&json!({ "course_id": course }));
        for (k, v) in headers {
            req = req.header(*k, *v);
        }
        req.send()
    };
    let host = app.base.trim_start_matches("http://").to_string();
    let own_origin = app.base.clone();
    for refused in [
        vec![("sec-fetch-site", "cross-site")],
        vec![("sec-fetch-site", "same-site")],
        vec![("origin", "https://evil.test")],
        vec![("origin", "null")],
    ] {
        let res = enroll(&refused).await.unwrap();
        assert_error(res, StatusCode::FORBIDDEN, "cross_site_request").await;
    }
    // A cross-site login (logging the victim in as someone else) too.
    let res = Client::new()
        .post(app.url("/api/v1/auth/login"))
        .header("sec-fetch-site", "cross-site")
        .json(&json!({"student_no": "X0", "password": PASSWORD}))
        .send()
        .await
        .unwrap();
    assert_error(res, StatusCode::FORBIDDEN, "cross_site_request").await;
    // Reading is allowed from anywhere; changing from the page's own origin.
    let res = Client::new()
        .get(app.url("/api/v1/courses"))
        .header("sec-fetch-site", "cross-site")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    let res = enroll(&[("sec-fetch-site", "same-origin"), ("origin", &own_origin)]).await;
    assert_eq!(res.unwrap().status(), StatusCode::ACCEPTED);
    // Past the cross-site check: the retry's own answer (the same ticket,
    // or already enrolled if admission decided it in between).
    let res = enroll(&[("origin", &own_origin), ("host", &host)]).await;
    let status = res.unwrap().status();
    assert!(
        status == StatusCode::ACCEPTED || status == StatusCode::CONFLICT,
        "a same-origin retry: {status}"
    );
}

#[tokio::test]
async fn logging_out_everywhere_ends_every_device_and_only_that_student() {
    let mut spec = Spawn::fresh();
    spec.extra = Options::default();
    let a = start(spec).await;
    a.import_students("Y", 2).await;
    // The second instance shares Redis: its cached sessions end too.
    let b = start(a.beside(Options::default())).await;
    let phone = login(&a, "Y0").await.split(';').next().unwrap().to_string();
    let laptop = login(&b, "Y0").await.split(';').next().unwrap().to_string();
    let friend = login(&a, "Y1").await.split(';').next().unwrap().to_string();
    for (app, c) in [(&a, &phone), (&b, &phone), (&b, &laptop), (&a, &friend)] {
        assert_eq!(me(app, c).await, StatusCode::OK);
    }
    let mut stream = Client::new()
        .get(b.url("/api/v1/enrollments/events"))
        .header("cookie", &laptop)
        .send()
        .await
        .unwrap();
    assert!(String::from_utf8_lossy(&stream.chunk().await.unwrap().unwrap()).contains("ready"));
    let res = Client::new()
        .post(a.url("/api/v1/auth/logout-all"))
        .header("cookie", &phone)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::NO_CONTENT);
    assert!(res.headers()["set-cookie"]
        .to_str()
        .unwrap()
        .contains("Max-Age=0"));
    for (app, c) in [(&a, &phone), (&b, &phone), (&a, &laptop), (&b, &laptop)] {
        assert_eq!(me(app, c).await, StatusCode::UNAUTHORIZED);
    }
    assert_eq!(
        me(&a, &friend).await,
        StatusCode::OK,
        "another student stays"
    );
    // The laptop's event stream ends with its session.
    let ended = tokio::time::timeout(std::time::Duration::from_secs(10), async {
        while let Ok(Some(_)) = stream.chunk().await {}
    })
    .await;
    assert!(ended.is_ok(), "the stream outlived its session");
}

/// Two logout-all requests racing: the second finds no session left to end
/// (its own was still valid when it arrived) and answers 204, not 500.
#[tokio::test]
async fn logout_all_with_nothing_left_to_end_is_not_an_error() {
    let app = crate::helpers::spawn_app().await;
    let ids = app.import_students("Z", 1).await;
    let cookie = login(&app, "Z0")
        .await
        .split(';')
        .next()
        .unwrap()
        .to_string();
    // The first request has already emptied the student's session index.
    let mut redis = app.redis().await;
    let _: () = redis::cmd("DEL")
        .arg(format!("sessions:{{s{}}}", ids[0]))
        .query_async(&mut redis)
        .await
        .unwrap();
    let res = Client::new()
        .post(app.url("/api/v1/auth/logout-all"))
        .header("cookie", &cookie)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::NO_CONTENT);
}
