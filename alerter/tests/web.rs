//! `--web.config.file` and `--web.enable-lifecycle` on a real alerter with
//! its notifier: over TLS with a test CA, every endpoint (reload, silences,
//! pushed alerts, metrics) refuses missing and wrong credentials with 401
//! and serves the right bcrypt-checked password; plain HTTP to the TLS port
//! fails; promtool accepts the same file; a bad file stops the binary with
//! file:line; the lifecycle API answers 403 unless enabled.

use std::path::Path;
use std::time::Duration;

use alerter::app::WebSettings;
use reqwest::{Method, StatusCode};
use serde_json::json;
use testkit::webcfg::{promtool_check_web_config, TestPki};

mod support;

const CONFIG: &str = "global:\n  scrape_interval: 15s\nroute:\n  receiver: slack\nreceivers:\n  - name: slack\n    slack_configs:\n      - api_url: http://127.0.0.1:9/hook\n";

/// An alerter with the notifier attached, `web` as its web settings.
async fn start(dir: &Path, web: WebSettings) -> anyhow::Result<support::Running> {
    support::start_with_notifier(dir, CONFIG, web).await
}

/// A client trusting the test CA, resolving `localhost` to 127.0.0.1.
fn client(pki: Option<&TestPki>, port: u16) -> reqwest::Client {
    let mut b = reqwest::Client::builder()
        .resolve("localhost", ([127, 0, 0, 1], port).into())
        .timeout(Duration::from_secs(20));
    if let Some(pki) = pki {
        b = b
            .use_rustls_tls()
            .tls_built_in_root_certs(false)
            .add_root_certificate(reqwest::Certificate::from_pem(pki.ca_pem.as_bytes()).unwrap());
    }
    b.build().unwrap()
}

#[tokio::test]
async fn every_endpoint_needs_the_right_password_over_tls() {
    let dir = tempfile::tempdir().unwrap();
    let pki = TestPki::create(dir.path()).unwrap();
    let yaml = pki
        .tls_and_users(&[("ops", "correct horse"), ("prometheus", "scrape")])
        .unwrap();
    let web_yml = pki.write_config("web.yml", &yaml).unwrap();
    // promtool accepts the very file the alerter is started with.
    if let Some((ok, out)) = promtool_check_web_config(&web_yml) {
        assert!(ok, "promtool check web-config:\n{out}");
    }
    let web = WebSettings {
        config_file: Some(web_yml),
        enable_lifecycle: true,
    };
    let mut run = start(dir.path(), web).await.unwrap();
    assert!(run.base.starts_with("https://"), "{}", run.base);
    let http = client(Some(&pki), run.port);

    let silence = json!({
        "matchers": ["alertname=\"Muted\""],
        "starts_at": "2030-01-01T00:00:00Z",
        "ends_at": "2030-01-01T01:00:00Z",
        "created_by": "test",
        "comment": "maintenance",
    });
    let alerts = json!([{"labels": {"alertname": "Pushed"}}]);
    let requests: Vec<(Method, &str, Option<&serde_json::Value>)> = vec![
        (Method::POST, "/-/reload", None),
        (Method::POST, "/api/v1/silences", Some(&silence)),
        (Method::POST, "/api/v2/alerts", Some(&alerts)),
        (Method::POST, "/api/v2/silences", Some(&silence)),
        (Method::GET, "/api/v1/silences", None),
        (Method::GET, "/api/v2/silences", None),
        (Method::GET, "/api/v2/status", None),
        (Method::GET, "/metrics", None),
        (Method::GET, "/-/healthy", None),
    ];
    let send = |method: &Method,
                path: &str,
                body: Option<&serde_json::Value>,
                auth: Option<(&str, &str)>| {
        let mut req = http.request(method.clone(), format!("{}{path}", run.base));
        if let Some(body) = body {
            req = req.json(body);
        }
        if let Some((u, p)) = auth {
            req = req.basic_auth(u, Some(p));
        }
        req.send()
    };
    for (method, path, body) in &requests {
        for auth in [
            None,
            Some(("ops", "wrong")),
            Some(("nobody", "correct horse")),
        ] {
            let resp = send(method, path, *body, auth).await.unwrap();
            assert_eq!(
                resp.status(),
                StatusCode::UNAUTHORIZED,
                "{method} {path} with {auth:?}"
            );
            assert_eq!(resp.headers()["www-authenticate"], "Basic");
        }
        let resp = send(method, path, *body, Some(("ops", "correct horse")))
            .await
            .unwrap();
        assert_eq!(resp.status(), StatusCode::OK, "{method} {path}");
    }
    // Each silence was created once, by the authenticated request.
    let listed: serde_json::Value = send(
        &Method::GET,
        "/api/v1/silences",
        None,
        Some(("prometheus", "scrape")),
    )
    .await
    .unwrap()
    .json()
    .await
    .unwrap();
    let id = listed[0]["id"].as_str().expect("one silence").to_string();
    assert_eq!(listed.as_array().unwrap().len(), 2, "{listed}");
    for delete in [
        format!("/api/v1/silences/{id}"),
        format!("/api/v2/silence/{}", listed[1]["id"].as_str().unwrap()),
    ] {
        let resp = send(&Method::DELETE, &delete, None, None).await.unwrap();
        assert_eq!(resp.status(), StatusCode::UNAUTHORIZED);
        let resp = send(
            &Method::DELETE,
            &delete,
            None,
            Some(("ops", "correct horse")),
        )
        .await
        .unwrap();
        assert_eq!(resp.status(), StatusCode::OK);
    }

    let metrics = send(
        &Method::GET,
        "/metrics",
        None,
        Some(("prometheus", "scrape")),
    )
    .await
    .unwrap()
    .text()
    .await
    .unwrap();
    assert!(
        metrics.contains("alerter_http_auth_refusals_total 29\n"),
        "{metrics}"
    );
    assert!(
        metrics.contains("alerter_http_tls_handshake_failures_total 0\n"),
        "{metrics}"
    );

    // Plain HTTP to the TLS port gets no answer.
    let plain = client(None, run.port)
        .get(format!("http://localhost:{}/-/healthy", run.port))
        .basic_auth("ops", Some("correct horse"))
        .send()
        .await;
    assert!(plain.is_err(), "plain HTTP was answered: {plain:?}");
    // A client that does not trust the test CA fails the handshake.
    let untrusted = reqwest::Client::builder()
        .use_rustls_tls()
        .resolve("localhost", ([127, 0, 0, 1], run.port).into())
        .build()
        .unwrap()
        .get(format!("{}/-/healthy", run.base))
        .send()
        .await;
    assert!(untrusted.is_err(), "{untrusted:?}");

    let _ = run.stop.take().unwrap().send(());
    run.server.await.unwrap().unwrap();
}

async fn status(http: &reqwest::Client, url: String) -> (StatusCode, String) {
    let resp = http.post(url).send().await.unwrap();
    (resp.status(), resp.text().await.unwrap())
}

#[tokio::test]
async fn the_lifecycle_api_needs_the_flag() {
    let dir = tempfile::tempdir().unwrap();
    let run = start(dir.path(), WebSettings::default()).await.unwrap();
    let http = client(None, run.port);
    for path in ["/-/reload", "/-/quit"] {
        let (code, body) = status(&http, format!("{}{path}", run.base)).await;
        assert_eq!(code, StatusCode::FORBIDDEN, "{path}");
        assert_eq!(body, "Lifecycle API is not enabled.\n");
    }
    let put = http
        .put(format!("{}/-/reload", run.base))
        .send()
        .await
        .unwrap();
    assert_eq!(put.status(), StatusCode::FORBIDDEN);
    // Still serving: /-/quit did nothing.
    let healthy = http
        .get(format!("{}/-/healthy", run.base))
        .send()
        .await
        .unwrap();
    assert_eq!(healthy.status(), StatusCode::OK);

    let dir = tempfile::tempdir().unwrap();
    let web = WebSettings {
        enable_lifecycle: true,
        ..Default::default()
    };
    let run = start(dir.path(), web).await.unwrap();
    let http = client(None, run.port);
    let (code, body) = status(&http, format!("{}/-/reload", run.base)).await;
    assert_eq!((code, body.as_str()), (StatusCode::OK, "config reloaded\n"));
    let (code, _) = status(&http, format!("{}/-/quit", run.base)).await;
    assert_eq!(code, StatusCode::OK);
    // The server shuts down on its own.
    let stopped = tokio::time::timeout(Duration::from_secs(20), run.server).await;
    stopped
        .expect("/-/quit stopped the server")
        .unwrap()
        .unwrap();
    drop(run.stop);
}

#[tokio::test]
async fn a_bad_web_config_stops_startup_with_file_and_line() {
    let dir = tempfile::tempdir().unwrap();
    let bad = dir.path().join("web.yml");
    std::fs::write(&bad, "basic_auth_users:\n  ops: not-a-hash\n").unwrap();
    let web = WebSettings {
        config_file: Some(bad.clone()),
        ..Default::default()
    };
    let err = start(dir.path(), web)
        .await
        .err()
        .expect("refused")
        .to_string();
    assert!(
        err.starts_with(&format!("{}:2:3: ", bad.display())),
        "{err}"
    );
    assert!(!err.contains("not-a-hash"), "the hash is echoed: {err}");

    // The binary says the same and exits 1, before binding.
    std::fs::write(dir.path().join("alerter.yml"), CONFIG).unwrap();
    std::fs::write(
        &bad,
        "tls_server_config:\n  cert_file: missing.crt\n  key_file: missing.key\n",
    )
    .unwrap();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_alerter"))
        .args(["run", "--config"])
        .arg(dir.path().join("alerter.yml"))
        .arg("--web.listen-address=127.0.0.1:0")
        .arg(format!("--web.config.file={}", bad.display()))
        .arg(format!(
            "--storage.path={}",
            dir.path().join("data").display()
        ))
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains(&format!("{}:2:3: cert_file: ", bad.display()))
            && stderr.contains("missing.crt"),
        "{stderr}"
    );
    if let Some((ok, out)) = promtool_check_web_config(&bad) {
        assert!(!ok, "promtool accepted it:\n{out}");
    }
}
