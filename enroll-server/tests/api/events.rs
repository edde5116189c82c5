//! The students' ticket event streams: decisions pushed as they happen.

use std::time::Duration;

use enroll_server::config::Options;
use reqwest::StatusCode;
use serde_json::{json, Value};

use crate::helpers::{assert_error, spawn_app, start, Spawn, TestApp};

/// One student's event stream, read event by event.
pub struct Events {
    res: reqwest::Response,
    buf: String,
}

impl Events {
    /// Opens `client`'s stream on `app` and waits for its `ready` event.
    pub async fn open(app: &TestApp, client: &reqwest::Client) -> Self {
        Self::naming(app, client, &[]).await
    }

    /// The same, naming the queued tickets whose places it is to send.
    async fn naming(app: &TestApp, client: &reqwest::Client, tickets: &[&str]) -> Self {
        let query = if tickets.is_empty() {
            String::new()
        } else {
            format!("?tickets={}", tickets.join(","))
        };
        let res = client
            .get(app.url(&format!("/api/v1/enrollments/events{query}")))
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), StatusCode::OK);
        assert_eq!(res.headers()["content-type"], "text/event-stream");
        let mut events = Self {
            res,
            buf: String::new(),
        };
        assert_eq!(events.next().await.unwrap().0, "ready");
        events
    }

    /// The next event's name and data (comments skipped); `None` once the
    /// server ended the stream. Gives up after 30 s (a hung test, not a
    /// measured time).
    pub async fn next(&mut self) -> Option<(String, Value)> {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
        loop {
            if let Some(end) = self.buf.find("\n\n") {
                let block: String = self.buf.drain(..end + 2).collect();
                let (mut name, mut data) = (None, None);
                for line in block.lines() {
                    if let Some(v) = line.strip_prefix("event:") {
                        name = Some(v.trim().to_string());
                    } else if let Some(v) = line.strip_prefix("data:") {
                        data = Some(serde_json::from_str(v.trim()).unwrap());
                    }
                }
                match (name, data) {
                    (Some(n), Some(d)) => return Some((n, d)),
                    _ => continue, // a keep-alive comment
                }
            }
            let chunk = tokio::time::timeout_at(deadline, self.res.chunk())
                .await
                .expect("an event within 30 s")
                .unwrap()?;
            self.buf.push_str(std::str::from_utf8(&chunk).unwrap());
        }
    }

    /// The places sent until the next `ticket` event, and that event.
    async fn places_until_decided(&mut self) -> (Vec<i64>, Value) {
        let mut places = Vec::new();
        loop {
            match self.next().await.expect("the stream is open") {
                (name, data) if name == "position" => {
                    places.push(data["position"].as_i64().unwrap());
                }
                (name, data) if name == "ticket" => return (places, data),
                _ => {}
            }
        }
    }

    /// The next `ticket` event's data.
    async fn next_ticket(&mut self) -> Value {
        self.next_named("ticket").await
    }

    /// The next `name` event's data, the others skipped.
    pub async fn next_named(&mut self, name: &str) -> Value {
        loop {
            let (n, data) = self.next().await.expect("the stream is open");
            if n == name {
                return data;
            }
        }
    }
}

/// Waits until `instances` servers follow the decisions channel (each
/// subscribes shortly after it starts; a stream opened before that gets a
/// `resync` first, and a decision published before it is not pushed).
async fn following(app: &TestApp, instances: i64) {
    subscribed(app, "tickets:decided", instances).await;
}

/// Waits until `instances` servers follow the feed's `channel`.
pub async fn subscribed(app: &TestApp, channel: &str, instances: i64) {
    let redis = app.redis().await;
    crate::helpers::eventually(Duration::from_secs(10), "instances following", || {
        let mut redis = redis.clone();
        async move {
            let (_, n): (String, i64) = redis::cmd("PUBSUB")
                .arg(&["NUMSUB", channel])
                .query_async(&mut redis)
                .await
                .unwrap();
            n >= instances
        }
    })
    .await;
}

async fn pause_admission(app: &TestApp, paused: bool) {
    let res = app
        .admin_put("/api/v1/admin/admission", &json!({ "paused": paused }))
        .await;
    assert_eq!(res.status(), StatusCode::OK);
}

async fn enroll(app: &TestApp, client: &reqwest::Client, course: i64) -> String {
    let res = client
        .post(app.url("/api/v1/enrollments"))
        .json(&json!({"course_id": course}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::ACCEPTED);
    let body: Value = res.json().await.unwrap();
    body["ticket"].as_str().unwrap().to_string()
}

#[tokio::test]
async fn each_decision_is_pushed_to_its_students_streams_only() {
    let app = spawn_app().await;
    app.import_students("E", 2).await;
    let course = app.create_course("EVT1", 1, 3, json!([])).await;
    app.open_window().await;
    let (e0, e1) = (app.login("E0").await, app.login("E1").await);
    following(&app, 1).await;
    let mut first_tab = Events::open(&app, &e0).await;
    let mut second_tab = Events::open(&app, &e0).await;
    let mut other = Events::open(&app, &e1).await;

    // Both queue for the one seat, then are decided in one batch.
    pause_admission(&app, true).await;
    let t0 = enroll(&app, &e0, course).await;
    let t1 = enroll(&app, &e1, course).await;
    pause_admission(&app, false).await;

    let pushed = first_tab.next_ticket().await;
    assert_eq!(
        pushed,
        json!({"ticket": t0, "course_id": course, "status": "enrolled"})
    );
    assert_eq!(second_tab.next_ticket().await, pushed);
    // Pushed once written: a read right after agrees.
    assert_eq!(app.ticket_state(&e0, &t0).await["status"], "enrolled");
    // E1's first ticket event is its own, not E0's of the same batch.
    assert_eq!(
        other.next_ticket().await,
        json!({"ticket": t1, "course_id": course, "status": "rejected", "reason": "course_full"})
    );
    assert_eq!(app.metric("enroll_ticket_streams ").await, 3.0);
    assert_eq!(app.metric("enroll_ticket_events_total").await, 3.0);
}

#[tokio::test]
async fn a_stream_on_one_instance_hears_decisions_made_through_another() {
    let a = spawn_app().await;
    a.import_students("F", 1).await;
    let course = a.create_course("EVT2", 5, 3, json!([])).await;
    a.open_window().await;
    let b = start(a.beside(Options::default())).await;
    let f0 = a.login("F0").await;
    following(&a, 2).await;
    let mut on_b = Events::open(&b, &f0).await;
    let t = enroll(&a, &f0, course).await;
    assert_eq!(on_b.next_ticket().await["ticket"], t);
}

#[tokio::test]
async fn streams_are_told_to_resync_when_the_feed_comes_back() {
    let app = spawn_app().await;
    app.import_students("G", 1).await;
    let g0 = app.login("G0").await;
    // Subscribed first: the only resync can then be the one after the cut.
    following(&app, 1).await;
    let mut events = Events::open(&app, &g0).await;
    // The instance's subscription is cut: whatever was published until it
    // is back is lost to it, so its streams must read their tickets again.
    let mut redis = app.redis().await;
    eventually_killed(&mut redis).await;
    let (name, _) = events.next().await.expect("the stream stays open");
    assert_eq!(name, "resync");
}

/// Kills the server's pub/sub connection (retrying until there is one).
async fn eventually_killed(redis: &mut redis::aio::MultiplexedConnection) {
    crate::helpers::eventually(Duration::from_secs(10), "a pub/sub client", || {
        let mut redis = redis.clone();
        async move {
            let killed: i64 = redis::cmd("CLIENT")
                .arg(&["KILL", "TYPE", "pubsub"])
                .query_async(&mut redis)
                .await
                .unwrap();
            killed > 0
        }
    })
    .await;
}

#[tokio::test]
async fn streams_need_a_session_and_are_limited_per_student() {
    let mut spec = Spawn::fresh();
    spec.extra = Options {
        event_streams_per_student: Some(1),
        ..Default::default()
    };
    let app = start(spec).await;
    let res = reqwest::get(app.url("/api/v1/enrollments/events"))
        .await
        .unwrap();
    assert_error(res, StatusCode::UNAUTHORIZED, "unauthenticated").await;

    app.import_students("H", 1).await;
    let h0 = app.login("H0").await;
    let first = Events::open(&app, &h0).await;
    let res = h0
        .get(app.url("/api/v1/enrollments/events"))
        .send()
        .await
        .unwrap();
    assert_error(res, StatusCode::TOO_MANY_REQUESTS, "too_many_streams").await;
    // Closing the first frees its place once the server notices.
    drop(first);
    crate::helpers::eventually(
        Duration::from_secs(10),
        "the closed stream let go",
        || async { app.metric("enroll_ticket_streams ").await == 0.0 },
    )
    .await;
    Events::open(&app, &h0).await;
}

#[tokio::test]
async fn a_logout_ends_the_sessions_streams_on_every_instance() {
    let a = spawn_app().await;
    a.import_students("L", 1).await;
    let b = start(a.beside(Options::default())).await;
    let laptop = a.login("L0").await;
    following(&a, 2).await;
    let phone = a.login("L0").await;
    let mut on_b = Events::open(&b, &laptop).await;
    let _phone_stream = Events::open(&b, &phone).await;
    let res = laptop
        .post(a.url("/api/v1/auth/logout"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::NO_CONTENT);
    // Ended on B by the revocation A published; the phone's stays open.
    assert_eq!(on_b.next().await, None);
    crate::helpers::eventually(Duration::from_secs(10), "one stream left on B", || async {
        b.metric("enroll_ticket_streams ").await == 1.0
    })
    .await;
}

#[tokio::test]
async fn stopping_the_server_ends_the_streams() {
    let app = spawn_app().await;
    app.import_students("K", 1).await;
    let k0 = app.login("K0").await;
    let mut events = Events::open(&app, &k0).await;
    // A held stream must not keep the graceful shutdown waiting.
    drop(app);
    assert_eq!(events.next().await, None);
}

/// Admission deciding one head at a time, a batch every 400 ms at the
/// quickest, and places sent every 50 ms: slow enough for every place to
/// be sent on its own.
fn one_by_one() -> Options {
    Options {
        admission_batch_size: Some(1),
        admission_transaction_interval_ms: Some(400),
        position_interval_ms: Some(50),
        ..Default::default()
    }
}

#[tokio::test]
async fn places_in_line_move_over_the_stream_on_every_instance() {
    let mut spec = Spawn::fresh();
    spec.extra = one_by_one();
    let a = start(spec).await;
    a.import_students("P", 5).await;
    let course = a.create_course("POS1", 5, 3, json!([])).await;
    a.open_window().await;
    let b = start(a.beside(one_by_one())).await;
    let students = a.login_many("P", 5).await;
    following(&a, 2).await;
    pause_admission(&a, true).await;
    for app in [&a, &b] {
        crate::helpers::eventually(Duration::from_secs(10), "admission paused", || async {
            app.metric("enroll_admission_paused").await == 1.0
        })
        .await;
    }
    let mut tickets = Vec::new();
    for s in &students {
        tickets.push(enroll(&a, s, course).await);
    }
    // The fifth student's page names its ticket on both instances.
    let (last, ticket) = (&students[4], tickets[4].as_str());
    let mut on_a = Events::naming(&a, last, &[ticket]).await;
    let mut on_b = Events::naming(&b, last, &[ticket]).await;
    let fifth =
        json!({"ticket": ticket, "course_id": course, "position": 5, "admission_paused": true});
    for events in [&mut on_a, &mut on_b] {
        assert_eq!(
            events.next().await,
            Some(("position".to_string(), fifth.clone()))
        );
    }

    pause_admission(&a, false).await;
    for events in [&mut on_a, &mut on_b] {
        let (places, decided) = events.places_until_decided().await;
        // Each batch moved the place, down to the head of the line, before
        // its own decision came.
        assert!(places.windows(2).all(|w| w[1] < w[0]), "{places:?}");
        assert!(places.len() >= 2 && places[0] < 5, "{places:?}");
        assert_eq!(places.last(), Some(&1), "{places:?}");
        assert_eq!(
            decided,
            json!({"ticket": ticket, "course_id": course, "status": "enrolled"})
        );
    }
    for app in [&a, &b] {
        assert!(app.metric("enroll_ticket_position_events_total").await >= 3.0);
    }
}

#[tokio::test]
async fn a_ticket_enrolled_through_the_streams_instance_is_followed_unnamed() {
    let app = spawn_app().await;
    app.import_students("U", 2).await;
    let course = app.create_course("POS2", 5, 3, json!([])).await;
    app.open_window().await;
    let (u0, u1) = (app.login("U0").await, app.login("U1").await);
    following(&app, 1).await;
    pause_admission(&app, true).await;
    enroll(&app, &u0, course).await;
    let mut events = Events::open(&app, &u1).await;
    let ticket = enroll(&app, &u1, course).await;
    let (name, place) = events.next().await.unwrap();
    assert_eq!(name, "position");
    assert_eq!(place["ticket"], ticket.as_str());
    assert_eq!(place["position"], 2);
    // Someone else's ticket, or a malformed one, is not followed; too many
    // are refused.
    let mut other = Events::naming(&app, &u0, &[&ticket, "x-1"]).await;
    pause_admission(&app, false).await;
    let (name, decided) = other.next().await.unwrap();
    assert_eq!(
        (name.as_str(), &decided["status"]),
        ("ticket", &json!("enrolled"))
    );
    let many: Vec<String> = (0..33).map(|i| format!("{course}-{i}")).collect();
    let res = u0
        .get(app.url(&format!(
            "/api/v1/enrollments/events?tickets={}",
            many.join(",")
        )))
        .send()
        .await
        .unwrap();
    assert_error(res, StatusCode::UNPROCESSABLE_ENTITY, "too_many_tickets").await;
}
