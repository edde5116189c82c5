//! The streams themselves, one task each on this tool's one thread, and
//! the enroll requests that give each of them a decision to wait for.

use std::collections::{HashMap, HashSet};
use std::time::Duration;

use anyhow::{bail, Context, Result};
use futures::StreamExt;
use tokio::sync::mpsc;

use super::now_ms;
use crate::conn::Endpoint;
use crate::sse::{Parser, StreamEvent};

/// The streams held open; each reports `(ticket, arrival in Unix ms)` of
/// the decisions it is told.
pub struct Held {
    decided: mpsc::UnboundedReceiver<(String, i64)>,
    tasks: Vec<tokio::task::JoinHandle<()>>,
}

impl Drop for Held {
    fn drop(&mut self) {
        for t in &self.tasks {
            t.abort();
        }
    }
}

/// Opens one stream per cookie (256 opening at a time) and waits until
/// every one has said `ready`.
pub async fn open_all(base: &str, cookies: &[String]) -> Result<Held> {
    let endpoint = Endpoint::new(base).await?;
    let target = endpoint.target("/api/v1/enrollments/events")?;
    let (tx, decided) = mpsc::unbounded_channel();
    let (ready_tx, mut ready_rx) = mpsc::unbounded_channel::<Result<()>>();
    let mut tasks = Vec::with_capacity(cookies.len());
    let opening = std::sync::Arc::new(tokio::sync::Semaphore::new(256));
    for cookie in cookies {
        let (endpoint, target, cookie) = (endpoint.clone(), target.clone(), cookie.clone());
        let (tx, ready_tx, opening) = (tx.clone(), ready_tx.clone(), opening.clone());
        tasks.push(tokio::spawn(async move {
            let mut permit = Some(opening.acquire_owned().await);
            let (status, mut stream) = match endpoint.open_stream(&target, &cookie).await {
                Ok(s) => s,
                Err(e) => {
                    let _ = ready_tx.send(Err(e));
                    return;
                }
            };
            if status != 200 {
                let _ = ready_tx.send(Err(anyhow::anyhow!("stream answered {status}")));
                return;
            }
            let mut parser = Parser::default();
            let mut ready = false;
            loop {
                match stream.next_data(parser.buffer()).await {
                    Ok(true) => {}
                    _ => return,
                }
                let Ok(events) = parser.events() else { return };
                for e in events {
                    match e {
                        StreamEvent::Ready if !ready => {
                            ready = true;
                            permit.take();
                            let _ = ready_tx.send(Ok(()));
                        }
                        StreamEvent::Ticket(d) => {
                            let _ = tx.send((d.ticket, now_ms()));
                        }
                        _ => {}
                    }
                }
            }
        }));
    }
    drop(ready_tx);
    for _ in 0..cookies.len() {
        match ready_rx.recv().await {
            Some(Ok(())) => {}
            Some(Err(e)) => return Err(e.context("opening a stream")),
            None => bail!("streams ended before all were ready"),
        }
    }
    Ok(Held { decided, tasks })
}

impl Held {
    /// Waits until each of `tickets` has arrived on a stream; returns each
    /// ticket's arrival time.
    pub async fn wait_for_decisions(
        &mut self,
        tickets: &[String],
        timeout: Duration,
    ) -> Result<HashMap<String, i64>> {
        let mut waiting: HashSet<&str> = tickets.iter().map(String::as_str).collect();
        let mut arrived = HashMap::with_capacity(tickets.len());
        let deadline = tokio::time::Instant::now() + timeout;
        while !waiting.is_empty() {
            match tokio::time::timeout_at(deadline, self.decided.recv()).await {
                Ok(Some((ticket, at))) => {
                    if waiting.remove(ticket.as_str()) {
                        arrived.insert(ticket, at);
                    }
                }
                Ok(None) => bail!("streams closed with {} decisions missing", waiting.len()),
                Err(_) => bail!(
                    "{} decisions did not arrive within {timeout:?}",
                    waiting.len()
                ),
            }
        }
        Ok(arrived)
    }
}

/// Every student asks for a seat in `course`; returns the tickets.
pub async fn enroll_all(base: &str, cookies: &[String], course: i64) -> Result<Vec<String>> {
    let client = reqwest::Client::builder()
        .pool_max_idle_per_host(32)
        .build()?;
    let url = format!("{base}/api/v1/enrollments");
    let body = serde_json::json!({ "course_id": course });
    futures::stream::iter(cookies)
        .map(|cookie| {
            let req = client
                .post(&url)
                .header("cookie", cookie)
                .json(&body)
                .send();
            async move {
                let res = req.await?;
                if res.status().as_u16() != 202 {
                    bail!("enroll answered {}", res.status());
                }
                let v: serde_json::Value = res.json().await?;
                Ok(v["ticket"].as_str().context("no ticket")?.to_string())
            }
        })
        .buffer_unordered(32)
        .collect::<Vec<_>>()
        .await
        .into_iter()
        .collect()
}

/// When the server decided each ticket of `course` (Unix ms, Redis's clock).
pub async fn decision_stamps(redis_url: &str, course: i64) -> Result<HashMap<String, i64>> {
    let mut conn = redis::Client::open(redis_url)?
        .get_multiplexed_async_connection()
        .await?;
    let entries: Vec<(String, String)> = redis::cmd("HGETALL")
        .arg(format!("tk:{{c{course}}}"))
        .query_async(&mut conn)
        .await?;
    let mut out = HashMap::with_capacity(entries.len());
    for (seq, value) in entries {
        let t = crate::check::parse_ticket_entry(course, &seq, &value)
            .with_context(|| format!("bad ticket entry {seq} = {value}"))?;
        if let Some(ms) = t.decided_ms {
            out.insert(format!("{course}-{seq}"), ms);
        }
    }
    Ok(out)
}

/// Follows the decisions channel as the servers do, and notes when each
/// ticket's decision was published (when its message reached this tool):
/// the moment the finishing script's writes became visible.
pub async fn watch_published(redis_url: &str) -> Result<mpsc::UnboundedReceiver<(String, i64)>> {
    let mut pubsub = redis::Client::open(redis_url)?.get_async_pubsub().await?;
    pubsub.subscribe("tickets:decided").await?;
    let (tx, rx) = mpsc::unbounded_channel();
    tokio::spawn(async move {
        let mut messages = pubsub.into_on_message();
        while let Some(msg) = messages.next().await {
            let at = now_ms();
            let payload: Vec<u8> = msg.get_payload_bytes().to_vec();
            let text = String::from_utf8_lossy(&payload);
            let mut lines = text.lines();
            let Some(course) = lines.next() else { continue };
            for line in lines {
                // `student seq status|reason`
                if let Some(seq) = line.split(' ').nth(1) {
                    let _ = tx.send((format!("{course}-{seq}"), at));
                }
            }
        }
    });
    Ok(rx)
}
