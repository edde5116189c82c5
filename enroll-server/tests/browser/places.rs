//! The place in line moves over the event stream, not by polling.

use std::time::Duration;

use serde_json::{json, Value};

use crate::harness::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_place_in_line_moves_over_the_stream() {
    // One head decided at a time, a batch every 700 ms at the quickest: the
    // line moves slowly enough to watch each place.
    let server = Server::start_with(&[
        ("ENROLL_ADMISSION_BATCH_SIZE", "1"),
        ("ENROLL_ADMISSION_TRANSACTION_INTERVAL_MS", "700"),
    ])
    .await;
    server.students("Q", 4).await;
    let ids = server
        .courses(
            json!([{"code": "PHY1001", "name": "Physics", "professor": "Kim",
            "department": "PHY", "credits": 3, "capacity": 10,
            "schedule": [{"day": "WED", "start": "09:00", "end": "10:15"}]}]),
        )
        .await;
    let physics = ids[0];
    server.open_window().await;
    // Three students are in line before the one in the browser.
    server.pause_admission(true).await;
    for i in 0..3 {
        let other = server.api_student(&format!("Q{i}")).await;
        server.enroll_via_api(&other, physics).await;
    }
    Browser::run(DESKTOP_EN, |c| async move {
        log_in(&c, &server, "Q3").await;
        wait_js(&c, "the stream to be live",
            "return document.getElementById('live').dataset.state === 'live'", SECS10).await;
        click(&c, &format!("{} [data-testid=enroll-button]", row(physics))).await;
        // The stream follows the new ticket at once: its place comes from it.
        wait_js(&c, "place 4 from the stream",
            "const p = document.querySelector('[data-testid=ticket-position]'); \
             return p?.textContent === '4' && p.dataset.positionSource === 'stream'", SECS10).await;
        // Every place shown from now on is written down with where it came from.
        js(&c, "window.places = []; window.watch = setInterval(() => { \
                  const p = document.querySelector('[data-testid=ticket-position]'); \
                  if (!p) return; \
                  const last = window.places[window.places.length - 1]; \
                  const now = [Number(p.textContent), p.dataset.positionSource]; \
                  if (!last || last[0] !== now[0] || last[1] !== now[1]) window.places.push(now); \
                }, 20); return true").await;
        server.pause_admission(false).await;
        wait_js(&c, "the ticket to turn enrolled",
            "return document.querySelector('[data-testid=ticket]')?.dataset.ticketStatus === 'enrolled'",
            Duration::from_secs(30)).await;
        let places = js(&c, "clearInterval(window.watch); return window.places").await;
        let places: Vec<(i64, String)> = serde_json::from_value::<Vec<Value>>(places)
            .unwrap()
            .into_iter()
            .map(|p| (p[0].as_i64().unwrap(), p[1].as_str().unwrap().to_string()))
            .collect();
        // The place went down, step by step, each step pushed by the stream
        // (a poll would have marked it `read`).
        let moved: Vec<i64> = places.iter().map(|p| p.0).collect();
        assert!(moved.len() >= 3, "{places:?}");
        assert!(moved.windows(2).all(|w| w[1] < w[0]), "{places:?}");
        assert_eq!(moved.last(), Some(&1), "{places:?}");
        assert!(places.iter().all(|p| p.1 == "stream"), "{places:?}");
    })
    .await;
}
