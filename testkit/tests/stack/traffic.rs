//! What the live test does to the enroll-server: demo data through the admin
//! API, logins, a small rush for a one-seat course, background reads.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use reqwest::blocking::Client;
use serde_json::{json, Value};

/// The admin token the live test starts enroll-server with.
pub const ADMIN_TOKEN: &str = "stack-test-admin-token-0123456789";

fn admin(client: &Client, method: reqwest::Method, url: String, body: Value) -> Value {
    let r = client
        .request(method, &url)
        .bearer_auth(ADMIN_TOKEN)
        .json(&body)
        .send()
        .unwrap();
    let status = r.status();
    let body: Value = r.json().unwrap_or(Value::Null);
    assert!(status.is_success(), "{url}: {status} {body}");
    body
}

/// Three courses (one with a single seat), five students, an open window.
/// Returns the hot course's id.
pub fn seed(client: &Client, base: &str) -> i64 {
    let meeting = |day: &str| json!([{"day": day, "start": "09:00", "end": "10:15"}]);
    let courses = admin(
        client,
        reqwest::Method::POST,
        format!("{base}/api/v1/admin/courses"),
        json!([
            {"code": "HOT101", "name": "Hot seat", "credits": 3, "capacity": 1, "schedule": meeting("MON")},
            {"code": "CSE201", "name": "Data Structures", "credits": 3, "capacity": 40, "schedule": meeting("TUE")},
            {"code": "MAT101", "name": "Calculus", "credits": 3, "capacity": 40, "schedule": meeting("WED")},
        ]),
    );
    let students: Vec<Value> = (1..=5)
        .map(|i| {
            json!({"student_no": format!("S{i}"), "name": format!("Student {i}"),
                        "email": format!("s{i}@example.edu"), "password": format!("password-{i}")})
        })
        .collect();
    admin(
        client,
        reqwest::Method::POST,
        format!("{base}/api/v1/admin/students"),
        Value::Array(students),
    );
    let now = chrono::Utc::now();
    admin(
        client,
        reqwest::Method::PUT,
        format!("{base}/api/v1/admin/registration-window"),
        json!({"opens_at": (now - chrono::Duration::minutes(1)).to_rfc3339(),
               "closes_at": (now + chrono::Duration::hours(1)).to_rfc3339()}),
    );
    courses[0]["id"].as_i64().expect("course id")
}

/// Logs in and returns the session cookie (`name=value`).
pub fn login(client: &Client, base: &str, i: usize) -> String {
    let r = client
        .post(format!("{base}/api/v1/auth/login"))
        .json(&json!({"student_no": format!("S{i}"), "password": format!("password-{i}")}))
        .send()
        .unwrap();
    assert!(r.status().is_success(), "login S{i}: {}", r.status());
    let cookie = r.headers()["set-cookie"].to_str().unwrap();
    cookie.split(';').next().unwrap().to_string()
}

/// Five students ask for the one seat; waits until every ticket is decided.
pub fn rush(client: &Client, base: &str, course: i64) {
    let mut tickets = Vec::new();
    for i in 1..=5 {
        let cookie = login(client, base, i);
        let r = client
            .post(format!("{base}/api/v1/enrollments"))
            .header("cookie", &cookie)
            .json(&json!({"course_id": course}))
            .send()
            .unwrap();
        let status = r.status();
        let body: Value = r.json().unwrap_or(Value::Null);
        eprintln!("rush: S{i} -> {status} {body}");
        if status == 202 {
            tickets.push((
                cookie,
                body["ticket"].as_str().unwrap_or_default().to_string(),
            ));
        }
    }
    let deadline = Instant::now() + Duration::from_secs(20);
    for (cookie, ticket) in tickets {
        loop {
            let t: Value = client
                .get(format!("{base}/api/v1/enrollments/tickets/{ticket}"))
                .header("cookie", &cookie)
                .send()
                .and_then(|r| r.json())
                .unwrap_or(Value::Null);
            if t["status"] != "queued" || Instant::now() > deadline {
                break;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

/// Catalogue reads and a failed login every 100 ms until `stop` is set.
pub fn background_traffic(base: String, stop: Arc<AtomicBool>) -> std::thread::JoinHandle<()> {
    std::thread::spawn(move || {
        let client = Client::new();
        while !stop.load(Ordering::Relaxed) {
            let _ = client.get(format!("{base}/api/v1/courses")).send();
            let _ = client
                .get(format!("{base}/api/v1/registration-window"))
                .send();
            let _ = client
                .post(format!("{base}/api/v1/auth/login"))
                .json(&json!({"student_no": "S1", "password": "wrong"}))
                .send();
            std::thread::sleep(Duration::from_millis(100));
        }
    })
}
