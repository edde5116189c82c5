//! The alerter's HTTP limits (`--web.read-timeout`, `--web.max-connections`):
//! a half-sent request head is closed at the deadline, a connection past
//! the cap is answered 503, and `/metrics` counts it.

use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use alerter::app::{Alerter, Settings};
use servekit::http::Limits;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::sync::mpsc;

mod support;

async fn start(dir: &Path, limits: Limits) -> (u16, tokio::sync::oneshot::Sender<()>) {
    let config = dir.join("alerter.yml");
    std::fs::write(&config, "global:\n  scrape_interval: 15s\n").unwrap();
    let (tx, _rx) = mpsc::unbounded_channel::<Vec<alerter::sink::PostableAlert>>();
    let settings = Settings {
        http: limits,
        ..support::settings(config)
    };
    let alerter = Alerter::build(settings, Arc::new(tx)).await.unwrap();
    let port = alerter.port();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    tokio::spawn(alerter.run_until_stopped(async {
        let _ = stopped.await;
    }));
    (port, stop)
}

async fn read_to_close(s: &mut TcpStream) -> String {
    let mut buf = Vec::new();
    let read = tokio::time::timeout(Duration::from_secs(20), s.read_to_end(&mut buf)).await;
    assert!(read.is_ok(), "the alerter did not close the connection");
    String::from_utf8_lossy(&buf).into_owned()
}

#[tokio::test]
async fn slow_heads_are_closed_and_connections_past_the_cap_refused() {
    let dir = tempfile::tempdir().unwrap();
    let limits = Limits {
        header_read_timeout: Duration::from_millis(300),
        max_connections: 2,
    };
    let (port, _stop) = start(dir.path(), limits).await;
    let addr = format!("127.0.0.1:{port}");
    // A head that never ends is closed at the deadline.
    let mut slow = TcpStream::connect(&addr).await.unwrap();
    let began = Instant::now();
    slow.write_all(b"POST /-/reload HTTP/1.1\r\nHost: x")
        .await
        .unwrap();
    assert_eq!(read_to_close(&mut slow).await, "");
    assert!(began.elapsed() >= Duration::from_millis(250));
    // Two idle connections fill the cap; the third is answered 503.
    let _a = TcpStream::connect(&addr).await.unwrap();
    let _b = TcpStream::connect(&addr).await.unwrap();
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let mut c = TcpStream::connect(&addr).await.unwrap();
        let answer = read_to_close(&mut c).await;
        if answer.starts_with("HTTP/1.1 503") {
            assert!(answer.contains("too_many_connections"), "{answer}");
            break;
        }
        assert!(Instant::now() < deadline, "never refused: {answer}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    // Once the idle ones time out, /metrics answers and counts the refusal.
    let deadline = Instant::now() + Duration::from_secs(10);
    let text = loop {
        if let Ok(res) = reqwest::get(format!("http://{addr}/metrics")).await {
            if res.status() == 200 {
                break res.text().await.unwrap();
            }
        }
        assert!(Instant::now() < deadline, "/metrics never answered");
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    let refused: f64 = text
        .lines()
        .find_map(|l| l.strip_prefix("alerter_http_connections_refused_total "))
        .expect("the refusal metric")
        .parse()
        .unwrap();
    assert!(refused >= 1.0, "{text}");
}
