//! The local stack as `./scripts/stack.sh` runs it (the `devstack` binary,
//! debug build), with Slack faked as a local HTTP server: students go
//! through HAProxy (event streams unbuffered, oversized bodies refused at
//! the edge); one enroll-server is stopped (it drains) and started again,
//! then killed (typed commands): reads keep succeeding throughout, queued
//! students who retry keep their ticket; an
//! alert for the dead instance reaches Slack and the local inbox, once,
//! although the alerter and Prometheus both evaluate the rules; after
//! `start` it resolves.

use std::collections::HashMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{mpsc, Arc, Mutex};
use std::time::{Duration, Instant};

use reqwest::blocking::Client;
use serde_json::{json, Value};

use crate::common::binaries;

/// Slack's incoming webhook, faked: every body POSTed, answered `ok`.
struct FakeSlack {
    port: u16,
    bodies: Arc<Mutex<Vec<String>>>,
}

impl FakeSlack {
    fn start() -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let bodies = Arc::new(Mutex::new(Vec::new()));
        let seen = bodies.clone();
        std::thread::spawn(move || {
            for stream in listener.incoming().flatten() {
                let seen = seen.clone();
                std::thread::spawn(move || serve_slack(stream, &seen));
            }
        });
        Self { port, bodies }
    }

    fn url(&self) -> String {
        format!("http://127.0.0.1:{}/services/T0/B0/fake", self.port)
    }

    fn messages(&self) -> Vec<String> {
        self.bodies.lock().unwrap().clone()
    }
}

/// Answers HTTP/1.1 requests on one (kept-alive) connection.
fn serve_slack(stream: TcpStream, seen: &Mutex<Vec<String>>) {
    let mut reader = BufReader::new(stream.try_clone().unwrap());
    let mut stream = stream;
    loop {
        let mut length = 0usize;
        let mut line = String::new();
        if reader.read_line(&mut line).unwrap_or(0) == 0 {
            return;
        }
        loop {
            line.clear();
            if reader.read_line(&mut line).unwrap_or(0) == 0 {
                return;
            }
            let header = line.trim_end();
            if header.is_empty() {
                break;
            }
            if let Some((name, value)) = header.split_once(':') {
                if name.eq_ignore_ascii_case("content-length") {
                    length = value.trim().parse().unwrap_or(0);
                }
            }
        }
        let mut body = vec![0u8; length];
        if reader.read_exact(&mut body).is_err() {
            return;
        }
        seen.lock()
            .unwrap()
            .push(String::from_utf8_lossy(&body).into_owned());
        let answer = b"HTTP/1.1 200 OK\r\ncontent-type: text/plain\r\ncontent-length: 2\r\n\r\nok";
        if stream.write_all(answer).is_err() {
            return;
        }
    }
}

/// The running devstack: its stdin (for commands) and what its banner said.
struct Devstack {
    child: Child,
    stdin: ChildStdin,
    students: String,
    admin_token: String,
    state: Value,
}

impl Devstack {
    fn start(slack: &FakeSlack) -> Self {
        let bins = binaries();
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_devstack"));
        cmd.arg("--bin-dir").arg(&bins);
        for flag in [
            "--enroll-port",
            "--balancer-stats-port",
            "--node-agent-port",
            "--alerter-port",
            "--inbox-port",
            "--prometheus-port",
        ] {
            // Any free port: never those of a stack someone runs here.
            cmd.args([flag, "0"]);
        }
        cmd.args(["--instance-ports", "0,0"])
            .env("SLACK_WEBHOOK_URL", slack.url())
            .env_remove("SLACK_BOT_TOKEN")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit());
        let mut child = cmd.spawn().expect("start devstack");
        let stdin = child.stdin.take().unwrap();
        let stdout = child.stdout.take().unwrap();
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                println!("devstack| {line}");
                let _ = tx.send(line);
            }
        });
        let mut banner = HashMap::new();
        let deadline = Instant::now() + Duration::from_secs(240);
        while !banner.contains_key("data and logs") {
            let left = deadline.saturating_duration_since(Instant::now());
            let line = rx
                .recv_timeout(left)
                .expect("devstack printed no banner in time");
            for key in ["students' URL", "admin token", "data and logs"] {
                if let Some(rest) = line.trim_start().strip_prefix(key) {
                    let value = rest.split_whitespace().next().unwrap_or("").to_string();
                    banner.insert(key, value);
                }
            }
        }
        std::thread::spawn(move || while rx.recv().is_ok() {});
        let dir = std::path::PathBuf::from(&banner["data and logs"]);
        let state: Value =
            serde_json::from_slice(&std::fs::read(dir.join("stack.json")).unwrap()).unwrap();
        Self {
            child,
            stdin,
            students: banner["students' URL"].clone(),
            admin_token: banner["admin token"].clone(),
            state,
        }
    }

    fn url_of(&self, name: &str) -> String {
        self.state["services"]
            .as_array()
            .unwrap()
            .iter()
            .find(|s| s["name"] == name)
            .unwrap_or_else(|| panic!("no {name} in {}", self.state))["url"]
            .as_str()
            .unwrap()
            .to_string()
    }

    fn type_line(&mut self, line: &str) {
        writeln!(self.stdin, "{line}").unwrap();
        self.stdin.flush().unwrap();
    }
}

impl Drop for Devstack {
    fn drop(&mut self) {
        // SAFETY: kill(2) on our own child.
        unsafe { libc::kill(self.child.id() as libc::pid_t, libc::SIGTERM) };
        let deadline = Instant::now() + Duration::from_secs(60);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn wait_for(what: &str, timeout: Duration, mut check: impl FnMut() -> bool) {
    let deadline = Instant::now() + timeout;
    while !check() {
        assert!(Instant::now() < deadline, "{what}: not within {timeout:?}");
        std::thread::sleep(Duration::from_millis(250));
    }
}

fn login(base: &str, i: usize) -> Client {
    let client = Client::builder().cookie_store(true).build().unwrap();
    let no = format!("2026{:04}", i + 1);
    let r = client
        .post(format!("{base}/api/v1/auth/login"))
        .json(&json!({"student_no": no, "password": format!("demo-{no}")}))
        .send()
        .unwrap();
    assert_eq!(r.status(), 200, "login {no}");
    client
}

/// Admission paused and the registration window open, as both instances
/// see them (each refreshes from Redis and the database on its own).
fn ready_to_queue(stack: &Devstack) -> bool {
    ["enroll-server-1", "enroll-server-2"].iter().all(|name| {
        let url = stack.url_of(name);
        let paused = reqwest::blocking::get(format!("{url}/metrics"))
            .and_then(|r| r.text())
            .is_ok_and(|t| t.lines().any(|l| l == "enroll_admission_paused 1"));
        let open = reqwest::blocking::get(format!("{url}/api/v1/registration-window"))
            .and_then(|r| r.json::<Value>())
            .is_ok_and(|w| w["open"] == true);
        paused && open
    })
}

/// `host:port` of HAProxy's stats page (its metrics are under `/metrics`).
fn stats_address(stack: &Devstack) -> String {
    stack
        .url_of("haproxy")
        .trim_start_matches("http://")
        .to_string()
}

/// Reads through the balancer on two threads until `stop`; counts answers
/// other than 200.
fn reader(
    base: String,
    stop: Arc<AtomicBool>,
    ok: Arc<AtomicU64>,
    failed: Arc<Mutex<Vec<String>>>,
) {
    let client = Client::new();
    while !stop.load(Ordering::Relaxed) {
        match client.get(format!("{base}/api/v1/courses")).send() {
            Ok(r) if r.status() == 200 => {
                ok.fetch_add(1, Ordering::Relaxed);
            }
            Ok(r) => failed.lock().unwrap().push(format!("{}", r.status())),
            Err(e) => failed.lock().unwrap().push(e.to_string()),
        }
    }
}

#[test]
fn balancer_routes_around_a_killed_instance_and_the_alert_reaches_slack() {
    let slack = FakeSlack::start();
    let mut stack = Devstack::start(&slack);
    let base = stack.students.clone();
    let admin = Client::new();

    // Hold every ticket in line, so a retry can be compared with the first.
    let r = admin
        .put(format!("{base}/api/v1/admin/admission"))
        .bearer_auth(&stack.admin_token)
        .json(&json!({"paused": true}))
        .send()
        .unwrap();
    assert_eq!(r.status(), 200);
    wait_for(
        "both instances queueing, admission paused",
        Duration::from_secs(20),
        || ready_to_queue(&stack),
    );
    let courses: Value = admin
        .get(format!("{base}/api/v1/courses"))
        .send()
        .unwrap()
        .json()
        .unwrap();
    let course = courses["items"][0]["id"].as_i64().expect("a course");
    let students: Vec<Client> = (0..12).map(|i| login(&base, i)).collect();
    // A 503 (Redis slow to confirm on a loaded machine) is retried, as the
    // students' page does: the retry keeps the ticket.
    let enroll = |c: &Client| -> Value {
        let mut tries = 0;
        loop {
            let r = c
                .post(format!("{base}/api/v1/enrollments"))
                .json(&json!({"course_id": course}))
                .send()
                .unwrap();
            let status = r.status();
            let body: Value = r.json().unwrap();
            if status == 503 && tries < 10 {
                tries += 1;
                std::thread::sleep(Duration::from_millis(300));
                continue;
            }
            assert_eq!(status, 202, "enroll through the balancer: {body}");
            return body;
        }
    };
    let first: Vec<Value> = students.iter().map(&enroll).collect();

    // The edge: an event stream passes through unbuffered (its first event
    // arrives while the response is still open), a body over the cap is
    // refused by HAProxy itself, in the API's JSON envelope.
    let mut events = students[0]
        .get(format!("{base}/api/v1/enrollments/events"))
        .send()
        .unwrap();
    assert_eq!(events.status(), 200);
    let mut chunk = [0u8; 256];
    let n = events.read(&mut chunk).unwrap();
    let head = String::from_utf8_lossy(&chunk[..n]).into_owned();
    assert!(
        head.contains("ready"),
        "first event through the balancer: {head:?}"
    );
    drop(events);
    // Only the head is sent: HAProxy answers from the announced length.
    let address = base.trim_start_matches("http://");
    let mut conn = TcpStream::connect(address).unwrap();
    write!(
        conn,
        "POST /api/v1/auth/login HTTP/1.1\r\nHost: {address}\r\ncontent-type: application/json\r\ncontent-length: {}\r\n\r\n",
        9 << 20
    )
    .unwrap();
    let mut answer = String::new();
    BufReader::new(conn).read_to_string(&mut answer).unwrap();
    assert!(answer.starts_with("HTTP/1.1 413"), "{answer}");
    let body: Value = serde_json::from_str(answer.split("\r\n\r\n").nth(1).unwrap()).unwrap();
    assert_eq!(body["error"]["code"], "payload_too_large", "{body}");

    let stop = Arc::new(AtomicBool::new(false));
    let ok = Arc::new(AtomicU64::new(0));
    let failed = Arc::new(Mutex::new(Vec::new()));
    let readers: Vec<_> = (0..2)
        .map(|_| {
            let (base, stop, ok, failed) = (base.clone(), stop.clone(), ok.clone(), failed.clone());
            std::thread::spawn(move || reader(base, stop, ok, failed))
        })
        .collect();
    // A graceful stop first: the instance drains (not ready, still serving)
    // and no read fails; then it comes back and takes requests again.
    std::thread::sleep(Duration::from_secs(1));
    stack.type_line("stop enroll-server-2");
    wait_for("enroll-server-2 stopped", Duration::from_secs(30), || {
        reqwest::blocking::get(format!("{}/healthz", stack.url_of("enroll-server-2"))).is_err()
    });
    let after_drain = failed.lock().unwrap().clone();
    assert!(
        after_drain.is_empty(),
        "reads failed during a drain: {after_drain:?}"
    );
    stack.type_line("start enroll-server-2");
    wait_for(
        "enroll-server-2 back in the balancer",
        Duration::from_secs(60),
        || {
            reqwest::blocking::get(format!("http://{}/metrics", stats_address(&stack)))
                .and_then(|r| r.text())
                .is_ok_and(|t| {
                    t.lines().any(|l| {
                        l.starts_with("haproxy_server_status{")
                            && l.contains("server=\"enroll-2\"")
                            && l.contains("state=\"UP\"")
                            && l.ends_with(" 1")
                    })
                })
        },
    );

    let killed_at = Instant::now();
    stack.type_line("kill enroll-server-2");
    // Students who retry after the kill keep their ticket and place.
    std::thread::sleep(Duration::from_secs(3));
    let again: Vec<Value> = students.iter().map(&enroll).collect();
    for (a, b) in first.iter().zip(&again) {
        assert_eq!(a["ticket"], b["ticket"], "a retry got another ticket");
        assert_eq!(a["position"], b["position"], "a retry lost its place");
    }
    std::thread::sleep(Duration::from_secs(3));
    stop.store(true, Ordering::Relaxed);
    for r in readers {
        r.join().unwrap();
    }
    let failed = failed.lock().unwrap().clone();
    println!(
        "reads through the balancer while an instance died: {} ok, {} failed",
        ok.load(Ordering::Relaxed),
        failed.len()
    );
    assert!(failed.is_empty(), "reads failed: {failed:?}");
    assert!(ok.load(Ordering::Relaxed) > 0);

    let firing = |m: &String| m.contains("EnrollServerDown") && m.contains("FIRING");
    wait_for("the alert in Slack", Duration::from_secs(150), || {
        slack.messages().iter().any(firing)
    });
    println!(
        "EnrollServerDown reached Slack {:.0} s after the kill",
        killed_at.elapsed().as_secs_f64()
    );
    let inbox: Value =
        reqwest::blocking::get(format!("{}/api/notifications", stack.url_of("alert-inbox")))
            .unwrap()
            .json()
            .unwrap();
    let down: Vec<&Value> = inbox
        .as_array()
        .unwrap()
        .iter()
        .filter(|n| n["alerts"][0]["labels"]["alertname"] == "EnrollServerDown")
        .collect();
    assert_eq!(down.len(), 1, "one notification in the inbox: {inbox}");
    // Both evaluators fired it; the notifier merged them into one alert.
    assert_eq!(down[0]["alerts"].as_array().unwrap().len(), 1, "{inbox}");
    assert_eq!(
        down[0]["alerts"][0]["labels"]["instance"],
        stack
            .url_of("enroll-server-2")
            .trim_start_matches("http://")
    );
    let messages = slack.messages();
    assert_eq!(
        messages.iter().filter(|m| firing(m)).count(),
        1,
        "{messages:?}"
    );
    assert!(
        !messages.iter().any(|m| m.contains("InstanceDown")),
        "EnrollServerDown inhibits InstanceDown: {messages:?}"
    );

    stack.type_line("start enroll-server-2");
    let resolved = |m: &String| m.contains("EnrollServerDown") && m.contains("RESOLVED");
    wait_for(
        "the alert resolved in Slack",
        Duration::from_secs(150),
        || slack.messages().iter().any(resolved),
    );
}
