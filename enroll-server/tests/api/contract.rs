//! The OpenAPI document tells the truth: schemathesis (PyPI, installed
//! under the target directory by `scripts/schemathesis.sh`) generates
//! requests for every operation from `/api-docs/openapi.json` — valid ones
//! and invalid ones, student and admin routes authenticated — and checks
//! every answer against the document: no server error, only documented
//! statuses, bodies and content types, invalid input refused, valid input
//! accepted, authentication not ignored.

use std::path::PathBuf;
use std::process::Command;

use enroll_server::config::Options;
use enroll_server::fair_use::Rate;
use reqwest::StatusCode;
use serde_json::json;

use crate::helpers::{start, Spawn, ADMIN_TOKEN, PASSWORD};

fn schemathesis() -> PathBuf {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..");
    let out = Command::new(root.join("scripts/schemathesis.sh"))
        .output()
        .expect("scripts/schemathesis.sh");
    assert!(
        out.status.success(),
        "installing schemathesis failed:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    PathBuf::from(String::from_utf8(out.stdout).unwrap().trim())
}

/// Runs schemathesis with the project's settings; panics with its report
/// unless every check passed.
fn run(st: &PathBuf, base: &str, session: &str, extra: &[&str]) {
    let config = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/schemathesis.toml");
    let out = Command::new(st)
        .arg("--config-file")
        .arg(&config)
        .arg("--no-color")
        .args([
            "run",
            &format!("{base}/api-docs/openapi.json"),
            "--checks",
            "all",
            // One worker: hypothesis's caches are not thread-safe, and two
            // workers now and then fail a run with a KeyError of its own.
            "--workers",
            "1",
        ])
        .args(extra)
        .env("CONTRACT_ADMIN_TOKEN", ADMIN_TOKEN)
        .env("CONTRACT_SESSION", session)
        .output()
        .expect("schemathesis run");
    let report = String::from_utf8_lossy(&out.stdout);
    let summary: Vec<&str> = report.lines().rev().take(25).collect();
    eprintln!(
        "{}",
        summary.into_iter().rev().collect::<Vec<_>>().join("\n")
    );
    assert!(
        out.status.success(),
        "schemathesis found contract failures:\n{report}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_openapi_document_holds_for_every_operation() {
    let st = tokio::task::spawn_blocking(schemathesis).await.unwrap();
    let mut spec = Spawn::fresh();
    // Fair-use limits answer 429, which is documented; off, more requests
    // reach the handlers and more of the contract is exercised.
    spec.extra = Options {
        rate_enroll: Some(Rate::OFF),
        rate_ticket_reads: Some(Rate::OFF),
        rate_event_streams: Some(Rate::OFF),
        rate_requests_per_address: Some(Rate::OFF),
        rate_logins_per_address: Some(Rate::OFF),
        ..Options::default()
    };
    let app = start(spec).await;
    app.import_students("C", 2).await;
    for code in ["CT1", "CT2"] {
        app.create_course(
            code,
            30,
            3,
            json!([{"day": "MON", "start": "09:00", "end": "10:00"}]),
        )
        .await;
    }
    let res = app
        .admin_put(
            "/api/v1/admin/registration-window",
            &json!({"opens_at": "2020-01-01T00:00:00Z", "closes_at": "2099-01-01T00:00:00Z"}),
        )
        .await;
    assert_eq!(res.status(), StatusCode::OK);
    let session = |no: &'static str| {
        let base = app.base.clone();
        async move {
            let res = reqwest::Client::new()
                .post(format!("{base}/api/v1/auth/login"))
                .json(&json!({"student_no": no, "password": PASSWORD}))
                .send()
                .await
                .unwrap();
            assert_eq!(res.status(), StatusCode::OK);
            let cookie = res.headers()["set-cookie"].to_str().unwrap();
            let value = cookie.split(';').next().unwrap();
            value.split_once('=').unwrap().1.to_string()
        }
    };
    // Every operation but the two that end the session.
    let main = session("C0").await;
    let base = app.base.clone();
    tokio::task::spawn_blocking(move || {
        run(
            &st,
            &base,
            &main,
            &["--exclude-path-regex", "^/api/v1/auth/logout"],
        );
    })
    .await
    .unwrap();
    // Then those, with a session of their own.
    let st = tokio::task::spawn_blocking(schemathesis).await.unwrap();
    let other = session("C1").await;
    let base = app.base.clone();
    tokio::task::spawn_blocking(move || {
        run(
            &st,
            &base,
            &other,
            &["--include-path-regex", "^/api/v1/auth/logout"],
        );
    })
    .await
    .unwrap();
}
