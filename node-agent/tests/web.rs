//! `--web.config.file`, as node_exporter takes it: scraped over TLS with a
//! test CA and basic auth (401 without or with a wrong password, the
//! metrics with the right one), plain HTTP to the TLS port answered with
//! nothing, the same file accepted by `promtool check web-config`, and a
//! bad file refused at startup with file:line.

mod common;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::Duration;

use common::Agent;
use testkit::webcfg::{promtool_check_web_config, TestPki};

fn client(pki: &TestPki, port: u16) -> reqwest::blocking::Client {
    reqwest::blocking::Client::builder()
        .use_rustls_tls()
        .tls_built_in_root_certs(false)
        .add_root_certificate(reqwest::Certificate::from_pem(pki.ca_pem.as_bytes()).unwrap())
        .resolve("localhost", ([127, 0, 0, 1], port).into())
        .timeout(Duration::from_secs(30))
        .build()
        .unwrap()
}

#[test]
fn scraped_over_tls_with_the_right_password_only() {
    let dir = tempfile::tempdir().unwrap();
    let pki = TestPki::create(dir.path()).unwrap();
    let yaml = pki.tls_and_users(&[("prometheus", "scrape-me")]).unwrap();
    let file = pki.write_config("web.yml", &yaml).unwrap();
    if let Some((ok, out)) = promtool_check_web_config(&file) {
        assert!(ok, "promtool check web-config:\n{out}");
    }
    let agent = Agent::start(&[
        format!("--web.config.file={}", file.display()),
        "--collector.disable-defaults".into(),
        "--collector.loadavg".into(),
    ]);
    let http = client(&pki, agent.port);
    let url = format!("https://localhost:{}/metrics", agent.port);

    for auth in [
        None,
        Some(("prometheus", "wrong")),
        Some(("root", "scrape-me")),
    ] {
        let mut req = http.get(&url);
        if let Some((u, p)) = auth {
            req = req.basic_auth(u, Some(p));
        }
        let resp = req.send().unwrap();
        assert_eq!(resp.status(), 401, "{auth:?}");
        assert_eq!(resp.headers()["www-authenticate"], "Basic");
        assert!(!resp.text().unwrap().contains("node_load1"));
    }
    let resp = http
        .get(&url)
        .basic_auth("prometheus", Some("scrape-me"))
        .send()
        .unwrap();
    assert_eq!(resp.status(), 200);
    let body = resp.text().unwrap();
    assert!(body.contains("\nnode_load1 "), "{body}");
    assert!(
        body.contains("node_agent_http_tls_handshake_failures_total 0\n"),
        "{body}"
    );
    // The landing page needs credentials too.
    let landing = http
        .get(format!("https://localhost:{}/", agent.port))
        .send()
        .unwrap();
    assert_eq!(landing.status(), 401);

    // Plain HTTP to the TLS port: no HTTP answer, just a closed connection.
    let mut plain = TcpStream::connect(("127.0.0.1", agent.port)).unwrap();
    plain
        .set_read_timeout(Some(Duration::from_secs(30)))
        .unwrap();
    plain
        .write_all(b"GET /metrics HTTP/1.0\r\nHost: localhost\r\n\r\n")
        .unwrap();
    let mut got = Vec::new();
    let _ = plain.read_to_end(&mut got);
    let got = String::from_utf8_lossy(&got);
    assert!(
        !got.contains("HTTP/1.") && !got.contains("node_load1"),
        "{got}"
    );
}

#[test]
fn a_bad_web_config_stops_startup_with_file_and_line() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("web.yml");
    std::fs::write(
        &file,
        "tls_server_config:\n  cert_file: server.crt\n  key_file: server.key\n  min_version: TLS11\n",
    )
    .unwrap();
    let config = node_agent::Config::parse_from([
        "node-agent".to_string(),
        "--web.listen-address=127.0.0.1:0".into(),
        format!("--web.config.file={}", file.display()),
    ])
    .unwrap();
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let err = rt
        .block_on(node_agent::build(&config))
        .err()
        .expect("refused")
        .to_string();
    assert!(
        err.starts_with(&format!(
            "{}:4:3: min_version TLS11 is not supported",
            file.display()
        )),
        "{err}"
    );

    // The binary exits non-zero with the same message.
    std::fs::write(&file, "basic_auth_users:\n  prometheus: hunter2\n").unwrap();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_node-agent"))
        .arg("--web.listen-address=127.0.0.1:0")
        .arg(format!("--web.config.file={}", file.display()))
        .output()
        .unwrap();
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains(&format!("{}:2:3: ", file.display())) && stderr.contains("bcrypt"),
        "{stderr}"
    );
    assert!(
        !stderr.contains("hunter2"),
        "the password is echoed: {stderr}"
    );
    if let Some((ok, out)) = promtool_check_web_config(&file) {
        assert!(!ok, "promtool accepted it:\n{out}");
    }
}
