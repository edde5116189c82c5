//! An event stream's driver: its events, plus `position` events that move
//! the places in line of the queued tickets it follows as batches are
//! decided (the arithmetic is [`crate::position`]).
//!
//! Which tickets a stream follows, and why that is enough: the page names
//! the queued tickets it shows when it opens the stream
//! (`?tickets=<id>,<id>`), and a ticket its student enrolls through this
//! instance while the stream is open is followed from the enroll handler
//! ([`crate::events::TicketEvents::follow`], no Redis). A page only ever
//! shows the tickets in its own book, so these are exactly the places
//! anyone looks at, read in one pipelined round trip — no per-student index
//! of tickets is kept in Redis for it (the one there, the open-ticket cap's
//! set, exists only while the cap is on and names courses, not tickets).
//! A ticket enqueued through another instance (the balancer spreads
//! requests, so often) or in another tab is not known here: the page sees
//! that its stream sends no place for it and opens the stream again naming
//! it, which costs one stream per such enroll instead of a Redis message to
//! every instance per enroll. Until then the page reads that ticket as it
//! did before streams moved places.
//!
//! Places are read from Redis when the stream opens, when a ticket starts
//! being followed, on `resync`, and every [`PERIOD`] (started at a random
//! point of the first one, so streams opened together do not read
//! together): whatever the feed lost or the arithmetic got wrong lasts at
//! most that long. In between a place costs nothing per batch but the
//! arithmetic, and at most one event per ticket every
//! [`crate::position::GAP`].

use std::collections::VecDeque;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

use futures::{Stream, StreamExt};
use rand::Rng;
use serde::Serialize;
use tokio::sync::Notify;
use tokio::time::{Instant, Interval, MissedTickBehavior};

use crate::events::{Event, Subscription};
use crate::pace::eta_ms;
use crate::position::{Line, GAP};
use crate::redis::tickets;
use crate::state::AppState;

/// How often a stream reads its places again at the latest.
pub const PERIOD: Duration = Duration::from_secs(12);

/// A `position` event's data.
#[derive(Serialize)]
struct PositionJson {
    ticket: String,
    course_id: i64,
    position: i64,
    /// Absent while admission is paused.
    #[serde(skip_serializing_if = "Option::is_none")]
    eta_ms: Option<u64>,
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    admission_paused: bool,
}

/// `sub`'s events and its `position` events, until the stream ends.
pub fn drive(state: AppState, sub: Subscription) -> impl Stream<Item = Event> + Send {
    let driver = Driver::new(state, sub);
    futures::stream::unfold(driver, |mut d| async move {
        let event = d.next().await?;
        Some((event, d))
    })
}

struct Driver {
    state: AppState,
    sub: Subscription,
    wake: Arc<Notify>,
    out: VecDeque<Event>,
    period: Interval,
    /// When a coalesced place is due.
    due: Option<Instant>,
}

impl Driver {
    fn new(state: AppState, sub: Subscription) -> Self {
        let first = PERIOD / 2 + rand::thread_rng().gen_range(Duration::ZERO..PERIOD / 2);
        let mut period = tokio::time::interval_at(Instant::now() + first, PERIOD);
        period.set_missed_tick_behavior(MissedTickBehavior::Delay);
        Self {
            state,
            wake: sub.wake(),
            sub,
            out: VecDeque::new(),
            period,
            due: None,
        }
    }

    /// The next event; `None` once the stream ended.
    async fn next(&mut self) -> Option<Event> {
        loop {
            if let Some(e) = self.out.pop_front() {
                return Some(e);
            }
            let due = self.due;
            tokio::select! {
                biased;
                e = self.sub.next() => {
                    let e = e?;
                    let resync = e == Event::Resync;
                    self.out.push_back(e);
                    if resync {
                        self.sub.line(Line::resync);
                        self.refresh().await;
                    }
                }
                () = self.wake.notified() => self.refresh().await,
                _ = self.period.tick() => {
                    self.sub.line(Line::resync);
                    self.refresh().await;
                }
                () = tokio::time::sleep_until(due.unwrap_or_else(Instant::now)), if due.is_some() => {
                    self.flush();
                }
            }
        }
    }

    /// Reads the places if a read is wanted, then sends those due.
    async fn refresh(&mut self) {
        if self.sub.line(|l| l.wants_read()) == Some(true) {
            self.read().await;
        }
        self.flush();
    }

    /// Reads every followed ticket's place (one pipelined round trip).
    async fn read(&mut self) {
        let Some(ids) = self.sub.line(Line::begin_read) else {
            return;
        };
        if ids.is_empty() {
            return;
        }
        // Nothing read from a Redis of another deployment is believed.
        if !self.state.redis_trusted.load(Ordering::Acquire) {
            self.sub.line(Line::abort_read);
            return;
        }
        let mut redis = self.state.redis.clone();
        match tickets::standings(&mut redis, self.sub.student(), &ids).await {
            Ok(found) => {
                let read: Vec<_> = ids.into_iter().zip(found).collect();
                self.sub.line(|l| l.end_read(&read));
            }
            Err(e) => {
                tracing::warn!(error = %e, "cannot read places in line for an event stream");
                self.sub.line(Line::abort_read);
            }
        }
    }

    /// Queues the places due now; remembers when the next waiting one is.
    fn flush(&mut self) {
        let now = std::time::Instant::now();
        let Some((due, next)) = self.sub.line(|l| l.due(now, GAP)) else {
            return;
        };
        self.due = next.map(Instant::from_std);
        if due.is_empty() {
            return;
        }
        let paused = self.state.admission_paused.is_paused();
        let batch = self.state.settings.admission_batch_size;
        for d in &due {
            let json = serde_json::to_string(&PositionJson {
                ticket: d.ticket.to_string(),
                course_id: d.ticket.course_id,
                position: d.position,
                eta_ms: (!paused).then(|| eta_ms(d.position, d.pace, batch)),
                admission_paused: paused,
            })
            .expect("a place serializes");
            self.out.push_back(Event::Position(json.into()));
        }
        self.state
            .metrics
            .ticket_position_events
            .inc_by(due.len() as u64);
    }
}
