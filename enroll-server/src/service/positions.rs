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
//! being followed without the place the enqueue script read, on `resync`,
//! and every [`PERIOD`] (started at a random point of the first one, so
//! streams opened together do not read together): whatever the feed lost
//! or the arithmetic got wrong lasts at most that long. In between a place
//! costs nothing per batch but the arithmetic. Places are sent by one task
//! per instance ([`beat`]), the latest of each moved ticket, to each stream
//! at most once every `ENROLL_POSITION_INTERVAL_MS` (a tenth of the streams
//! per tenth of it) and to at most `ENROLL_POSITION_BUDGET` streams a
//! second, and by a stream's driver right after it read them.

use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

use futures::{Stream, StreamExt};
use rand::Rng;
use serde::Serialize;
use tokio::sync::Notify;
use tokio::time::{Instant, Interval, MissedTickBehavior};

use crate::events::{Event, Subscription, SHARES};
use crate::pace::eta_ms;
use crate::position::{Due, Line};
use crate::redis::retry::{Warnings, WARN_EVERY};
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

/// Sends the places that moved since they were last sent, a share of the
/// streams at a time, each share every `interval`, to at most `budget`
/// streams a second (first places aside), until the process ends.
pub async fn beat(state: AppState, interval: Duration, budget: u32) {
    let tick = interval / SHARES as u32;
    let per_tick = (f64::from(budget) * tick.as_secs_f64()).ceil().max(1.0) as usize;
    let mut ticks = tokio::time::interval(tick);
    ticks.set_missed_tick_behavior(MissedTickBehavior::Delay);
    for share in (0..SHARES).cycle() {
        ticks.tick().await;
        let event = position_event(&state);
        let sent = state.events.send_moved(share, per_tick, event);
        state.metrics.ticket_position_events.inc_by(sent as u64);
    }
}

/// Makes a place into its event, as admission stands now.
fn position_event(state: &AppState) -> impl Fn(&Due) -> Event {
    let paused = state.admission_paused.is_paused();
    let batch = state.settings.admission_batch_size;
    move |d| {
        let json = serde_json::to_string(&PositionJson {
            ticket: d.ticket.to_string(),
            course_id: d.ticket.course_id,
            position: d.position,
            eta_ms: (!paused).then(|| eta_ms(d.position, d.pace, batch)),
            admission_paused: paused,
        })
        .expect("a place serializes");
        Event::Position(json.into())
    }
}

struct Driver {
    state: AppState,
    sub: Subscription,
    wake: Arc<Notify>,
    period: Interval,
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
            period,
        }
    }

    /// The next event; `None` once the stream ended.
    async fn next(&mut self) -> Option<Event> {
        loop {
            tokio::select! {
                biased;
                e = self.sub.next() => {
                    let e = e?;
                    if e == Event::Resync {
                        self.sub.line(Line::resync);
                        self.refresh().await;
                    }
                    return Some(e);
                }
                () = self.wake.notified() => self.refresh().await,
                _ = self.period.tick() => {
                    self.sub.line(Line::resync);
                    self.refresh().await;
                }
            }
        }
    }

    /// Reads the places if a read is wanted, then sends those that changed.
    async fn refresh(&mut self) {
        if self.sub.line(|l| l.wants_read()) != Some(true) {
            return;
        }
        self.read().await;
        let sent = self
            .state
            .events
            .send_places_of(&self.sub, position_event(&self.state));
        self.state
            .metrics
            .ticket_position_events
            .inc_by(sent as u64);
    }

    /// Reads every followed ticket's place (one pipelined round trip).
    async fn read(&mut self) {
        let Some(ids) = self.sub.line(Line::begin_read) else {
            return;
        };
        if ids.is_empty() {
            return;
        }
        // Nothing read from a Redis of another deployment is believed; a
        // failed read leaves the places as the feed moves them, until the
        // next one.
        if !self.state.redis_trusted.load(Ordering::Acquire) {
            return;
        }
        let mut redis = self.state.redis.clone();
        match tickets::standings(&mut redis, self.sub.student(), &ids).await {
            Ok(found) => {
                let read: Vec<_> = ids.into_iter().zip(found).collect();
                self.sub.line(|l| l.end_read(&read));
            }
            Err(e) => {
                static WARNINGS: Warnings = Warnings::new(WARN_EVERY);
                if let Some(left_out) = WARNINGS.due() {
                    tracing::warn!(error = %e, left_out, "cannot read places in line for an event stream");
                }
            }
        }
    }
}
