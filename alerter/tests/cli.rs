//! The binary as operators use it: `check config` and `run` (real clock,
//! scraping itself, reloading on SIGHUP).

use std::os::unix::fs::PermissionsExt;
use std::process::Command;
use std::time::{Duration, Instant};

use testkit::ChildGuard;

const SIGHUP: i32 = 1;

fn alerter() -> Command {
    Command::new(env!("CARGO_BIN_EXE_alerter"))
}

#[test]
fn check_config_reports_file_line_and_column() {
    let dir = tempfile::tempdir().unwrap();
    let rules = dir.path().join("rules.yml");
    std::fs::write(
        &rules,
        "groups:\n  - name: g\n    rules:\n      - alert: A\n        expr: up == 0\n",
    )
    .unwrap();
    let good = dir.path().join("good.yml");
    std::fs::write(&good, "scrape_configs:\n  - job_name: a\n    static_configs:\n      - targets: ['127.0.0.1:1']\nrule_files: ['rules.yml']\nroute:\n  receiver: slack\nreceivers:\n  - name: slack\n").unwrap();
    let out = alerter()
        .args(["check", "config"])
        .arg(&good)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains("1 rule groups"));

    let bad = dir.path().join("bad.yml");
    std::fs::write(
        &bad,
        "global:\n  scrape_interval: 15s\n  evaluation_intervall: 15s\n",
    )
    .unwrap();
    let out = alerter()
        .args(["check", "config"])
        .arg(&bad)
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("bad.yml:3:3") && err.contains("evaluation_intervall"),
        "{err}"
    );

    std::fs::write(
        &rules,
        "groups:\n  - name: g\n    rules:\n      - alert: A\n        expr: up ==\n",
    )
    .unwrap();
    let out = alerter()
        .args(["check", "config"])
        .arg(&good)
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("rules.yml:5:15"), "{err}");
}

fn get(port: u16, path: &str) -> String {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        reqwest::get(format!("http://127.0.0.1:{port}{path}"))
            .await
            .unwrap()
            .text()
            .await
            .unwrap()
    })
}

/// Polls `check` against a real process until it holds or `timeout` passes.
fn eventually(timeout: Duration, mut check: impl FnMut() -> bool) -> bool {
    let deadline = Instant::now() + timeout;
    while Instant::now() < deadline {
        if check() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    false
}

#[test]
fn run_scrapes_itself_and_reloads_on_sighup() {
    let dir = tempfile::tempdir().unwrap();
    let port = testkit::free_port();
    let rules = dir.path().join("rules.yml");
    std::fs::write(&rules, "groups:\n  - name: self\n    interval: 1s\n    rules:\n      - alert: AlwaysOn\n        expr: up{job=\"alerter\"} == 1\n").unwrap();
    let config = dir.path().join("alerter.yml");
    std::fs::write(
        &config,
        format!("global:\n  scrape_interval: 1s\n  scrape_timeout: 1s\nscrape_configs:\n  - job_name: alerter\n    static_configs:\n      - targets: ['127.0.0.1:{port}']\nrule_files: ['rules.yml']\n"),
    )
    .unwrap();
    // A data directory other users may enter is narrowed at startup.
    let data = dir.path().join("data");
    std::fs::create_dir(&data).unwrap();
    std::fs::set_permissions(&data, std::fs::Permissions::from_mode(0o755)).unwrap();
    let mut cmd = alerter();
    cmd.stdout(std::process::Stdio::null());
    cmd.args(["run", "--config"])
        .arg(&config)
        .args(["--web.listen-address", &format!("127.0.0.1:{port}")])
        .arg(format!(
            "--storage.path={}",
            dir.path().join("data").display()
        ));
    let child = ChildGuard::spawn("alerter", &mut cmd).unwrap();
    testkit::wait_for_port(port, Duration::from_secs(10)).unwrap();
    // A SIGHUP as soon as the port is open reloads; it does not end the
    // process (the handler is in place before the port is bound).
    child.signal(SIGHUP).unwrap();
    assert_eq!(get(port, "/-/healthy"), "Alerter is Healthy.\n");
    assert!(
        eventually(Duration::from_secs(10), || get(port, "/api/v1/targets")
            .contains("\"health\":\"up\"")),
        "{}",
        get(port, "/api/v1/targets")
    );
    assert!(eventually(Duration::from_secs(10), || get(
        port,
        "/api/v1/alerts"
    )
    .contains("AlwaysOn")));
    // The alert state is saved within a second, readable by the owner only.
    let mode = |p: &std::path::Path| std::fs::metadata(p).map(|m| m.permissions().mode() & 0o777);
    assert!(eventually(Duration::from_secs(10), || mode(
        &data.join("alerts-state.json")
    )
    .is_ok_and(|m| m == 0o600)));
    assert_eq!(mode(&data).unwrap(), 0o700);

    std::fs::write(
        &rules,
        "groups:\n  - name: self\n    rules:\n      - alert: AlwaysOn\n        expr: nope(\n",
    )
    .unwrap();
    child.signal(SIGHUP).unwrap();
    assert!(eventually(Duration::from_secs(10), || get(
        port, "/metrics"
    )
    .contains("alerter_config_reload_failures_total 1")));
    assert!(
        get(port, "/api/v1/rules").contains("AlwaysOn"),
        "last good rules keep running"
    );
}

fn post(port: u16, path: &str, body: &str) -> u16 {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        reqwest::Client::new()
            .post(format!("http://127.0.0.1:{port}{path}"))
            .header("content-type", "application/json")
            .body(body.to_string())
            .send()
            .await
            .unwrap()
            .status()
            .as_u16()
    })
}

/// `alerter inbox` receives what a running alerter's webhook receiver sends
/// and shows it on its page and in its file; a body that is not a
/// notification is refused and leaves nothing behind.
#[test]
fn inbox_shows_what_the_alerter_sends() {
    let dir = tempfile::tempdir().unwrap();
    let inbox_port = testkit::free_port();
    let file = dir.path().join("alerts.jsonl");
    let mut cmd = alerter();
    cmd.stdout(std::process::Stdio::null());
    cmd.args(["inbox", "--web.listen-address"])
        .arg(format!("127.0.0.1:{inbox_port}"))
        .arg("--file")
        .arg(&file);
    let _inbox = ChildGuard::spawn("inbox", &mut cmd).unwrap();
    testkit::wait_for_port(inbox_port, Duration::from_secs(10)).unwrap();
    assert!(get(inbox_port, "/").contains("No notification yet"));
    assert_eq!(post(inbox_port, "/", "{\"not\": \"a notification\"}"), 422);
    assert_eq!(get(inbox_port, "/api/notifications"), "[]");

    let port = testkit::free_port();
    let rules = dir.path().join("rules.yml");
    std::fs::write(&rules, "groups:\n  - name: self\n    interval: 1s\n    rules:\n      - alert: InboxCheck\n        expr: up{job=\"alerter\"} == 1\n        annotations:\n          summary: \"<i>checked</i>\"\n").unwrap();
    let config = dir.path().join("alerter.yml");
    std::fs::write(
        &config,
        format!("global:\n  scrape_interval: 1s\n  scrape_timeout: 1s\nscrape_configs:\n  - job_name: alerter\n    static_configs:\n      - targets: ['127.0.0.1:{port}']\nrule_files: ['rules.yml']\nroute:\n  receiver: inbox\n  group_wait: 1s\nreceivers:\n  - name: inbox\n    webhook_configs:\n      - url: http://127.0.0.1:{inbox_port}/\n"),
    )
    .unwrap();
    let mut cmd = alerter();
    cmd.stdout(std::process::Stdio::null());
    cmd.args(["run", "--config"])
        .arg(&config)
        .args(["--web.listen-address", &format!("127.0.0.1:{port}")])
        .arg(format!(
            "--storage.path={}",
            dir.path().join("data").display()
        ));
    let _alerter = ChildGuard::spawn("alerter", &mut cmd).unwrap();
    assert!(
        eventually(Duration::from_secs(30), || get(
            inbox_port,
            "/api/notifications"
        )
        .contains("InboxCheck")),
        "no notification reached the inbox"
    );
    let list: serde_json::Value =
        serde_json::from_str(&get(inbox_port, "/api/notifications")).unwrap();
    assert_eq!(list[0]["status"], "firing", "{list}");
    assert_eq!(list[0]["receiver"], "inbox", "{list}");
    assert_eq!(list[0]["alerts"][0]["labels"]["alertname"], "InboxCheck");
    let page = get(inbox_port, "/");
    assert!(page.contains("[FIRING]"), "{page}");
    assert!(page.contains("&lt;i&gt;checked&lt;/i&gt;"), "{page}");
    let lines = std::fs::read_to_string(&file).unwrap();
    let first: serde_json::Value = serde_json::from_str(lines.lines().next().unwrap()).unwrap();
    assert_eq!(first["alerts"][0]["labels"]["alertname"], "InboxCheck");
}

/// The configuration compose ships passes `alerter check config` as it is.
/// (The check does not read secrets, so whether Slack's variables are set
/// makes no difference here; what `optional` does at run time is tested in
/// notifier/tests/delivery.rs.)
#[test]
fn the_shipped_compose_config_passes_check_config() {
    let config = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../deploy/alerter.yml");
    let out = alerter()
        .args(["check", "config"])
        .arg(&config)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}
