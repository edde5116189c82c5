//! The students' ticket event streams: one per student, opened before the
//! clock starts (as pages are open before registration opens), each read by
//! a task of its own until the wave ends.

use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::Instant;

use anyhow::{bail, Context, Result};
use futures::{StreamExt, TryStreamExt};
use tokio::task::JoinHandle;

use super::shared::{Decided, Shared};
use crate::conn::EventStream;
use crate::sse::{Parser, StreamEvent};

/// Streams opened at once while setting up.
const OPENING: usize = 64;

/// Opens the stream of every student in `requests` and waits for each to be
/// `ready`; the tasks reading them (abort them when the wave is over).
pub(super) async fn open_all(
    shared: &Arc<Shared>,
    requests: &[(usize, i64)],
) -> Result<Vec<JoinHandle<()>>> {
    let students: BTreeSet<usize> = requests.iter().map(|&(s, _)| s).collect();
    let endpoint = &shared.requests.endpoint;
    let target = endpoint.target("/api/v1/enrollments/events")?;
    futures::stream::iter(students)
        .map(|student| {
            let target = &target;
            async move {
                let cookie = shared.requests.cookie(student);
                let (status, mut body) = endpoint.open_stream(target, cookie).await?;
                if !(200..300).contains(&status) {
                    bail!("GET /api/v1/enrollments/events answered {status}");
                }
                let mut parser = Parser::default();
                let early = ready(&mut body, &mut parser)
                    .await
                    .with_context(|| format!("student {student}'s event stream"))?;
                let shared = shared.clone();
                Ok(tokio::spawn(async move {
                    for event in early {
                        on_event(&shared, student, event);
                    }
                    follow(&shared, student, body, parser).await;
                }))
            }
        })
        .buffer_unordered(OPENING)
        .try_collect()
        .await
}

/// The events the stream's next data completes (an error if they do not
/// parse); `None` once the stream has ended or failed.
async fn next_events(
    body: &mut EventStream,
    parser: &mut Parser,
) -> Option<Result<Vec<StreamEvent>>> {
    match body.next_data(parser.buffer()).await {
        Ok(true) => Some(parser.events()),
        Ok(false) | Err(_) => None,
    }
}

/// Reads until the `ready` event; what came after it in the same reads.
async fn ready(body: &mut EventStream, parser: &mut Parser) -> Result<Vec<StreamEvent>> {
    loop {
        let mut events = next_events(body, parser)
            .await
            .context("the stream ended before it was ready")??
            .into_iter();
        if events.by_ref().any(|e| e == StreamEvent::Ready) {
            return Ok(events.collect());
        }
    }
}

/// Hands every event of `student`'s stream to the wave until it ends.
async fn follow(shared: &Shared, student: usize, mut body: EventStream, mut parser: Parser) {
    while let Some(events) = next_events(&mut body, &mut parser).await {
        match events {
            Ok(events) => {
                for event in events {
                    on_event(shared, student, event);
                }
            }
            Err(e) => {
                eprintln!("warning: unreadable event on student {student}'s stream: {e:#}");
                // Whatever it said is lost: poll what is pending.
                shared.resync(student);
            }
        }
    }
    // Ended by the server: what is still pending is found by the fallback
    // polls.
}

fn on_event(shared: &Shared, student: usize, event: StreamEvent) {
    match event {
        StreamEvent::Ticket(d) => shared.decided_by_event(
            d.ticket,
            Decided {
                at: Instant::now(),
                status: d.status,
                reason: d.reason,
            },
        ),
        StreamEvent::Resync => shared.resync(student),
        StreamEvent::Ready | StreamEvent::Other(_) => {}
    }
}
