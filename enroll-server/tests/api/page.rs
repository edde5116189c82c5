//! The students' page at `/`: versioned assets, cache headers, compression
//! and the Content-Security-Policy.

use reqwest::header::{ACCEPT_ENCODING, CACHE_CONTROL, CONTENT_ENCODING, ETAG, IF_NONE_MATCH};
use reqwest::{Client, StatusCode};

use crate::helpers::spawn_app;

#[tokio::test]
async fn the_page_is_served_with_its_assets_cache_headers_and_policy() {
    let app = spawn_app().await;
    let client = Client::new();
    let res = client.get(app.url("/")).send().await.unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    let h = res.headers().clone();
    assert_eq!(h[CACHE_CONTROL], "no-cache");
    let csp = h["content-security-policy"].to_str().unwrap();
    assert!(
        csp.contains("script-src 'self'") && csp.contains("style-src 'self'"),
        "{csp}"
    );
    assert!(
        !csp.contains("unsafe-inline") && !csp.contains("unsafe-eval"),
        "{csp}"
    );
    assert!(csp.contains("frame-ancestors 'none'"));
    assert_eq!(h["x-content-type-options"], "nosniff");
    let etag = h[ETAG].to_str().unwrap().to_string();
    let html = res.text().await.unwrap();
    for hook in [
        "login-student-no",
        "login-password",
        "login-submit",
        "logout",
        "course-search",
        "timetable",
        "lang-toggle",
        "countdown",
        "cart-panel",
        "waitlist-panel",
        "confirm-yes",
    ] {
        assert!(html.contains(&format!("data-testid=\"{hook}\"")), "{hook}");
    }
    let version = etag.trim_matches('"');
    let script = format!("/assets/{version}/js/app.js");
    assert!(
        html.contains(&script),
        "the page names its versioned script"
    );
    // The hooks of the elements the scripts make, module by module.
    for (module, hooks) in [
        (
            "catalogue.js",
            &["course-row", "enroll-button", "cart-add", "waitlist-join"][..],
        ),
        ("cart.js", &["cart-item", "cart-problem", "cart-remove"]),
        (
            "waitlist.js",
            &[
                "waitlist-row",
                "waitlist-position",
                "waitlist-leave",
                "waitlist-news",
                "offer",
                "offer-countdown",
                "offer-accept",
                "offer-decline",
            ],
        ),
        (
            "enrollments.js",
            &[
                "enrollment-row",
                "cancel-button",
                "ticket",
                "ticket-position",
            ],
        ),
    ] {
        let src = client
            .get(app.url(&format!("/assets/{version}/js/{module}")))
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        for hook in hooks {
            assert!(
                src.contains(&format!("testid: '{hook}'")),
                "{module}: {hook}"
            );
        }
    }

    // Same release: 304, nothing sent again.
    let again = client
        .get(app.url("/"))
        .header(IF_NONE_MATCH, &etag)
        .send()
        .await
        .unwrap();
    assert_eq!(again.status(), StatusCode::NOT_MODIFIED);

    // Assets: cached for a year, compressed when asked.
    let js = client
        .get(app.url(&script))
        .header(ACCEPT_ENCODING, "gzip")
        .send()
        .await
        .unwrap();
    assert_eq!(js.status(), StatusCode::OK);
    assert_eq!(
        js.headers()[CACHE_CONTROL],
        "public, max-age=31536000, immutable"
    );
    assert_eq!(js.headers()[CONTENT_ENCODING], "gzip");
    assert!(js.headers()["content-type"]
        .to_str()
        .unwrap()
        .starts_with("text/javascript"));
    let css = client
        .get(app.url(&format!("/assets/{version}/app.css")))
        .send()
        .await
        .unwrap();
    assert_eq!(css.status(), StatusCode::OK);

    // Another release's asset, or none at all: 404, not cached.
    for path in [
        "/assets/000000000000/js/app.js",
        &format!("/assets/{version}/js/nope.js"),
    ] {
        let res = client.get(app.url(path)).send().await.unwrap();
        assert_eq!(res.status(), StatusCode::NOT_FOUND, "{path}");
        assert_eq!(res.headers()[CACHE_CONTROL], "no-store");
    }
    // The API is unchanged: JSON errors, no page.
    let res = client.get(app.url("/api/v1/nope")).send().await.unwrap();
    assert_eq!(res.status(), StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn the_window_carries_the_servers_clock() {
    let app = spawn_app().await;
    let before = chrono::Utc::now();
    let w: serde_json::Value = reqwest::get(app.url("/api/v1/registration-window"))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let now: chrono::DateTime<chrono::Utc> = w["now"].as_str().unwrap().parse().unwrap();
    assert!((now - before).num_seconds().abs() < 5, "{w}");
}
