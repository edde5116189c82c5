//! The server's HTTP limits against cheap attacks: a half-sent head is
//! closed at its deadline, connections past the cap are answered 503 and
//! counted, and a request that hangs is answered 503 `timeout` while the
//! event stream is exempt.

use std::time::{Duration, Instant};

use enroll_server::config::Options;
use reqwest::StatusCode;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::helpers::{assert_error, eventually, start, Spawn, TestApp};

async fn start_with(extra: Options) -> TestApp {
    let mut spec = Spawn::fresh();
    spec.extra = extra;
    start(spec).await
}

fn addr(app: &TestApp) -> String {
    app.base.trim_start_matches("http://").to_string()
}

async fn read_to_close(s: &mut TcpStream) -> String {
    let mut buf = Vec::new();
    let read = tokio::time::timeout(Duration::from_secs(20), s.read_to_end(&mut buf)).await;
    assert!(read.is_ok(), "the server did not close the connection");
    String::from_utf8_lossy(&buf).into_owned()
}

#[tokio::test]
async fn a_half_sent_head_is_closed_at_the_configured_deadline() {
    let app = start_with(Options {
        http_header_read_timeout_ms: Some(300),
        ..Default::default()
    })
    .await;
    let mut slow = TcpStream::connect(addr(&app)).await.unwrap();
    let began = Instant::now();
    slow.write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Slow")
        .await
        .unwrap();
    assert_eq!(read_to_close(&mut slow).await, "");
    assert!(began.elapsed() >= Duration::from_millis(250));
    // Whole requests are still served.
    let ok = reqwest::get(app.url("/healthz")).await.unwrap();
    assert_eq!(ok.status(), StatusCode::OK);
}

#[tokio::test]
async fn connections_past_the_cap_are_answered_503_and_counted() {
    let app = start_with(Options {
        http_max_connections: Some(3),
        ..Default::default()
    })
    .await;
    // Three idle connections hold every place.
    let mut held = Vec::new();
    for _ in 0..3 {
        held.push(TcpStream::connect(addr(&app)).await.unwrap());
    }
    let answer = until(|| async {
        let mut c = TcpStream::connect(addr(&app)).await.unwrap();
        let answer = read_to_close(&mut c).await;
        answer.starts_with("HTTP/1.1 503").then_some(answer)
    })
    .await;
    assert!(answer.contains("Retry-After: 1"), "{answer}");
    assert!(answer.contains("\"too_many_connections\""), "{answer}");
    // Places free up: the server answers again, and says what happened.
    held.clear();
    eventually(Duration::from_secs(10), "served again", || async {
        reqwest::get(app.url("/healthz"))
            .await
            .is_ok_and(|r| r.status() == StatusCode::OK)
    })
    .await;
    let metric = app.metric("enroll_http_connections_refused_total").await;
    assert!(metric >= 1.0, "refusals counted: {metric}");
}

/// The first `Some` of `attempt`, tried every 50 ms for at most 10 s.
async fn until<T, F, Fut>(mut attempt: F) -> T
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Option<T>>,
{
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        if let Some(v) = attempt().await {
            return v;
        }
        assert!(Instant::now() < deadline, "gave up after 10 s");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test]
async fn a_hanging_request_is_answered_503_timeout_and_streams_are_exempt() {
    let app = start_with(Options {
        http_request_timeout_ms: Some(500),
        ..Default::default()
    })
    .await;
    app.open_window().await;
    app.import_students("T", 1).await;
    let course = app.create_course("T-1", 10, 3, serde_json::json!([])).await;
    let student = app.login("T0").await;
    // Another transaction holds the course row: a cancel waits for it.
    let blocker = app.hold_course_lock(course).await;
    let began = Instant::now();
    let res = student
        .delete(app.url(&format!("/api/v1/enrollments/{course}")))
        .send()
        .await
        .unwrap();
    assert!(began.elapsed() >= Duration::from_millis(450));
    assert_error(res, StatusCode::SERVICE_UNAVAILABLE, "timeout").await;
    blocker.rollback().await.unwrap();
    // The event stream outlives the request timeout.
    let mut stream = student
        .get(app.url("/api/v1/enrollments/events"))
        .send()
        .await
        .unwrap();
    assert_eq!(stream.status(), StatusCode::OK);
    let first = stream.chunk().await.unwrap().unwrap();
    assert!(String::from_utf8_lossy(&first).contains("ready"));
    let next = tokio::time::timeout(Duration::from_millis(1500), stream.chunk()).await;
    assert!(next.is_err(), "the stream ended at the request timeout");
}

#[tokio::test]
async fn made_up_course_ids_share_a_few_reloads_and_new_courses_are_found() {
    let app = start_with(Options::default()).await;
    app.open_window().await;
    app.import_students("U", 1).await;
    let student = app.login("U0").await;
    let enroll = |course: i64| {
        let student = student.clone();
        let url = app.url("/api/v1/enrollments");
        async move {
            student
                .post(url)
                .json(&serde_json::json!({ "course_id": course }))
                .send()
                .await
                .unwrap()
        }
    };
    // A course another instance just created (here: straight into the
    // database) is found by the next request: the miss reloads the
    // snapshot.
    let id: i64 = sqlx::query_scalar(
        "INSERT INTO courses (code, name, credits, capacity) VALUES ('U-NEW', 'New', 3, 5) RETURNING id",
    )
    .fetch_one(&app.db)
    .await
    .unwrap();
    assert_eq!(enroll(id).await.status(), StatusCode::ACCEPTED);
    // 200 requests for courses that do not exist, at once, share a few
    // reloads instead of a primary read each.
    let answers = futures::future::join_all((0..200).map(|i| enroll(9_000_000 + i))).await;
    for res in answers {
        assert_error(res, StatusCode::NOT_FOUND, "course_not_found").await;
    }
    let reloads = app.metric("enroll_catalog_miss_reloads_total").await;
    assert!(
        (1.0..=5.0).contains(&reloads),
        "{reloads} reloads for 201 misses"
    );
}
