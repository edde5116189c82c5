//! The HTTP server and the binary: telemetry path, landing page, errors,
//! a failing collector not failing the scrape, promtool accepting the output,
//! and the binary's flags.

mod common;

use std::io::Write;
use std::process::{Command, Stdio};
use std::time::Duration;

use common::{fixtures, http_get, http_get_status, ttar, Agent};
use node_agent::collectors::COLLECTORS;

fn promtool_check(text: &str) -> Option<(bool, String)> {
    let mut child = match Command::new("promtool")
        .args(["check", "metrics"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
    {
        Ok(c) => c,
        Err(_) => {
            eprintln!("NOTICE: promtool is not installed; skipping");
            return None;
        }
    };
    child
        .stdin
        .take()
        .unwrap()
        .write_all(text.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    let msg = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    // Exit 1 = the exposition does not parse; 3 = lint findings only.
    // node_exporter's own names trip two lints (camelCase kernel field names
    // such as node_memory_MemTotal_bytes, and `_bits` in the entropy
    // family); node-agent must keep those names, so only those are accepted.
    let code = out.status.code().unwrap_or(1);
    let foreign_lints: Vec<&str> = msg.lines().filter(|l| !inherent_lint(l)).collect();
    let ok = (code == 0 || code == 3) && foreign_lints.is_empty();
    Some((ok, msg))
}

/// A lint finding caused by a name node_exporter itself uses.
fn inherent_lint(line: &str) -> bool {
    let camel = line.ends_with("metric names should be written in 'snake_case' not 'camelCase'");
    let bits = line.starts_with("node_entropy_")
        && line.ends_with("use base unit \"bytes\" instead of \"bits\"");
    camel || bits
}

#[test]
fn promtool_accepts_a_scrape_of_this_host() {
    let agent = Agent::start(&[]);
    let (body, parsed) = agent.scrape();
    assert!(parsed.series() > 50, "only {} series", parsed.series());
    if let Some((ok, msg)) = promtool_check(&body) {
        assert!(ok, "promtool check metrics rejected the scrape:\n{msg}");
    }
    // promtool really is strict: a duplicated TYPE line is refused.
    if let Some((ok, _)) = promtool_check(&format!("{body}# TYPE node_load1 gauge\nnode_load1 1\n"))
    {
        assert!(!ok, "promtool accepted a broken exposition");
    }
}

#[test]
fn promtool_accepts_a_scrape_of_the_fixture_root() {
    let Some(fx) = fixtures() else { return };
    let tmp = tempfile::tempdir().unwrap();
    ttar::unpack(&fx.join("sys.ttar"), tmp.path()).unwrap();
    let agent = Agent::start(&[
        format!("--path.procfs={}", fx.join("proc").display()),
        format!("--path.sysfs={}", tmp.path().join("sys").display()),
        format!("--path.rootfs={}", fx.display()),
    ]);
    let (body, _) = agent.scrape();
    if let Some((ok, msg)) = promtool_check(&body) {
        assert!(ok, "promtool check metrics rejected the scrape:\n{msg}");
    }
}

#[test]
fn failing_collectors_report_success_zero_and_the_scrape_goes_on() {
    let empty = tempfile::tempdir().unwrap();
    let agent = Agent::start(&[format!("--path.procfs={}", empty.path().display())]);
    let (_, s) = agent.scrape();
    for c in ["cpu", "meminfo", "loadavg", "stat", "vmstat"] {
        assert_eq!(
            s.get("node_scrape_collector_success", &[("collector", c)]),
            Some(0.0),
            "{c}"
        );
    }
    // uname and time do not read procfs.
    assert_eq!(
        s.get("node_scrape_collector_success", &[("collector", "uname")]),
        Some(1.0)
    );
    assert!(s.samples.contains_key("node_uname_info"));
    assert!(s.samples.contains_key("node_time_seconds"));
    assert!(s.samples.contains_key("process_resident_memory_bytes"));
}

#[test]
fn landing_page_custom_telemetry_path_and_not_found() {
    let agent = Agent::start(&["--web.telemetry-path=/custom".to_string()]);
    assert!(http_get(agent.port, "/").contains("href=\"/custom\""));
    assert!(http_get(agent.port, "/custom").contains("# TYPE node_load1 gauge"));
    assert_eq!(http_get_status(agent.port, "/metrics").0, 404);
}

#[test]
fn help_lists_a_flag_pair_per_collector_and_version_works() {
    let bin = env!("CARGO_BIN_EXE_node-agent");
    let help = Command::new(bin).arg("--help").output().unwrap();
    let help = String::from_utf8_lossy(&help.stdout);
    for c in COLLECTORS {
        assert!(
            help.contains(&format!("--collector.{}", c.name)),
            "{}",
            c.name
        );
        assert!(
            help.contains(&format!("--no-collector.{}", c.name)),
            "{}",
            c.name
        );
    }
    for flag in [
        "--web.listen-address",
        "--path.rootfs",
        "--collector.filesystem.fs-types-exclude",
    ] {
        assert!(help.contains(flag), "{flag}");
    }
    let v = Command::new(bin).arg("--version").output().unwrap();
    assert!(v.status.success());
    assert!(String::from_utf8_lossy(&v.stdout).contains(env!("CARGO_PKG_VERSION")));
    let bad = Command::new(bin).arg("--collector.bogus").output().unwrap();
    assert!(!bad.status.success());
}

#[test]
fn the_binary_serves_and_stops_on_sigterm() {
    let bin = env!("CARGO_BIN_EXE_node-agent");
    let port = testkit::free_port();
    let mut child = testkit::ChildGuard::spawn(
        "node-agent",
        Command::new(bin)
            .arg(format!("--web.listen-address=127.0.0.1:{port}"))
            .stderr(Stdio::null()),
    )
    .unwrap();
    testkit::wait_for_port(port, Duration::from_secs(10)).unwrap();
    assert!(http_get(port, "/metrics").contains("node_cpu_seconds_total"));
    child.signal(15).unwrap();
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    let status = loop {
        if let Some(s) = child.try_wait() {
            break s;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "no exit after SIGTERM"
        );
        std::thread::sleep(Duration::from_millis(20));
    };
    assert!(status.success(), "{status:?}");
}

#[test]
fn disable_exporter_metrics_drops_the_process_families() {
    let agent = Agent::start(&["--web.disable-exporter-metrics".to_string()]);
    let (_, s) = agent.scrape();
    assert!(s.samples.keys().all(|k| !k.starts_with("process_")));
    assert!(s.samples.contains_key("node_load1"));
    let with = Agent::start(&[]);
    assert!(with
        .scrape()
        .1
        .samples
        .contains_key("process_cpu_seconds_total"));
}

#[test]
fn promtool_accepts_text_file_histograms_and_summaries() {
    let Some(fx) = fixtures() else { return };
    let dir = tempfile::tempdir().unwrap();
    for case in [
        "histogram",
        "summary_extra_dimension",
        "inconsistent_metrics",
    ] {
        let src = fx.join("textfile").join(case).join("metrics.prom");
        std::fs::copy(src, dir.path().join(format!("{case}.prom"))).unwrap();
    }
    let agent = Agent::start(&[
        "--collector.disable-defaults".to_string(),
        "--collector.textfile".to_string(),
        format!("--collector.textfile.directory={}", dir.path().display()),
    ]);
    let (body, s) = agent.scrape();
    assert_eq!(s.get("node_textfile_scrape_error", &[]), Some(0.0));
    assert!(body.contains("# TYPE prometheus_rule_evaluation_duration_seconds summary"));
    if let Some((ok, msg)) = promtool_check(&body) {
        assert!(ok, "promtool check metrics rejected the scrape:\n{msg}");
    }
}

#[test]
fn scrapes_beyond_web_max_requests_get_503() {
    // A FIFO in the text file directory holds the first scrape in flight
    // (opening it blocks until the test opens the writing end).
    let dir = tempfile::tempdir().unwrap();
    let fifo = dir.path().join("held.prom");
    let c = std::ffi::CString::new(fifo.to_str().unwrap()).unwrap();
    // SAFETY: mkfifo with a valid NUL-terminated path.
    assert_eq!(unsafe { libc::mkfifo(c.as_ptr(), 0o600) }, 0);
    let agent = Agent::start(&[
        "--web.max-requests=1".to_string(),
        "--collector.disable-defaults".to_string(),
        "--collector.textfile".to_string(),
        format!("--collector.textfile.directory={}", dir.path().display()),
    ]);
    let port = agent.port;
    let first = std::thread::spawn(move || http_get_status(port, "/metrics"));
    // Opening the writing end returns once the scrape has opened the FIFO,
    // i.e. once the first scrape is certainly in flight.
    let mut writer = std::fs::OpenOptions::new().write(true).open(&fifo).unwrap();
    let (status, body) = http_get_status(port, "/metrics");
    assert_eq!(status, 503, "{body}");
    writer.write_all(b"held_metric 7\n").unwrap();
    drop(writer);
    let (status, body) = first.join().unwrap();
    assert_eq!(status, 200);
    assert!(body.contains("held_metric 7"), "{body}");
    // Once it is done, scrapes are served again.
    std::fs::remove_file(&fifo).unwrap();
    assert_eq!(http_get_status(port, "/metrics").0, 200);
}

#[test]
fn slow_heads_are_closed_and_connections_past_the_cap_answered_503() {
    use std::io::Read;
    use std::net::TcpStream;
    use std::time::Instant;

    let agent = Agent::start(&[
        "--web.read-timeout=300ms".to_string(),
        "--web.max-connections=2".to_string(),
    ]);
    let read_to_close = |s: &mut TcpStream| {
        s.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
        let mut buf = Vec::new();
        s.read_to_end(&mut buf)
            .expect("the agent closes the connection");
        String::from_utf8_lossy(&buf).into_owned()
    };
    // A head that never ends is closed at the deadline.
    let mut slow = TcpStream::connect(("127.0.0.1", agent.port)).unwrap();
    let began = Instant::now();
    slow.write_all(b"GET /metrics HTTP/1.1\r\nHost: x").unwrap();
    assert_eq!(read_to_close(&mut slow), "");
    assert!(began.elapsed() >= Duration::from_millis(250));
    // Two idle connections fill the cap: the next one is answered 503.
    let _a = TcpStream::connect(("127.0.0.1", agent.port)).unwrap();
    let _b = TcpStream::connect(("127.0.0.1", agent.port)).unwrap();
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let mut c = TcpStream::connect(("127.0.0.1", agent.port)).unwrap();
        let answer = read_to_close(&mut c);
        if answer.starts_with("HTTP/1.1 503") {
            break;
        }
        assert!(Instant::now() < deadline, "never refused: {answer}");
        std::thread::sleep(Duration::from_millis(50));
    }
    // The idle ones time out; the next scrape reports the refusal.
    drop((_a, _b));
    let deadline = Instant::now() + Duration::from_secs(10);
    let body = loop {
        let (status, body) = http_get_status(agent.port, "/metrics");
        if status == 200 {
            break body;
        }
        assert!(Instant::now() < deadline, "never served again");
        std::thread::sleep(Duration::from_millis(50));
    };
    let refused: f64 = body
        .lines()
        .find_map(|l| l.strip_prefix("node_agent_http_connections_refused_total "))
        .expect("the refusal metric")
        .parse()
        .unwrap();
    assert!(refused >= 1.0);
}
