//! Decisions pushed to the students waiting for them, instead of polled.
//!
//! A student's page opens one event stream
//! (`GET /api/v1/enrollments/events`, server-sent events) and is told each of
//! its tickets' decisions the moment admission has written them. On
//! registration day most tickets are decided within a tenth of a second, so
//! a page polling its tickets would either poll several times per ticket or
//! learn late; one held stream costs the server one small write per
//! decision instead of a whole request per look.
//!
//! Admission may run on any instance while the student's stream is held by
//! another, so decisions travel through Redis: the script that records a
//! batch's decisions publishes them in the same step (a subscriber that
//! reads the ticket after the message sees it decided). Every instance
//! follows the feed ([`crate::redis::feed`]) and hands each decision to the
//! streams its student holds here ([`TicketEvents::deliver`]).
//!
//! A stream belongs to the session that opened it: a logout on any
//! instance ends it ([`TicketEvents::close_session`], from the same feed).
//!
//! Pub/sub delivers at most once. Whenever an instance (re)subscribes, every
//! stream it holds gets a `resync` event: decisions published while it was
//! not listening are lost, so the page reads its pending tickets again. The
//! same goes for a page that opens its stream after enrolling. A stream that
//! falls [`BUFFERED`] events behind (a client that stopped reading) is
//! closed rather than buffered without bound; a browser's `EventSource`
//! reconnects by itself.
//!
//! Each stream also keeps the places in line of the queued tickets it
//! follows ([`crate::position::Line`]), moved by the same feed: a batch of
//! a course only adds its numbers to what the course decided lately
//! ([`decided`]), and the streams that follow a ticket of that course
//! (found through an index by course, not by looking at every stream)
//! count them when their turn to be sent comes. A batch costs the same
//! however many streams wait in its line. The moved streams' new places
//! are sent at a steady pace, a tenth of the streams per beat
//! ([`TicketEvents::send_moved`], from [`crate::service::positions`]), so
//! a ticket gets at most one place per interval however many batches pass
//! it, one decided before its beat gets none, and a line that moves as a
//! whole is told in ten small waves. Which tickets a stream
//! follows: those its page names when it opens it, and those its student
//! enrolls through this instance while it is open ([`TicketEvents::follow`]);
//! see the driver for why that is enough.

use std::collections::{HashMap, HashSet};
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::task::{Context, Poll};
use std::time::Instant;

use futures::channel::mpsc;
use futures::{Stream, StreamExt};
use prometheus::{IntCounter, IntGauge};
use serde::Serialize;
use tokio::sync::Notify;

use crate::position::Line;
use crate::session::Digest;
use crate::ticket::{decode_batch, Reason, TicketId, TicketStatus};

/// Events a stream may hold unread before it is closed.
pub const BUFFERED: usize = 256;

/// What a stream tells its page.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Event {
    /// A ticket was decided: its JSON (`ticket`, `course_id`, `status`,
    /// `reason`).
    Ticket(Arc<str>),
    /// Decisions may have been missed: read the pending tickets again.
    Resync,
    /// A queued ticket's place moved: its JSON (`ticket`, `course_id`,
    /// `position`, `eta_ms`), made from the stream's [`Line`] by whoever
    /// sends the places ([`TicketEvents::send_moved`]).
    Position(Arc<str>),
    /// A freed seat moved the student's place on a waitlist: its JSON
    /// (`course_id`, `status` enrolled | offered | skipped, `reason`,
    /// `offer_expires_at`); see [`waitlist`].
    Waitlist(Arc<str>),
    /// The cart was settled: its JSON (`settled`, `settled_at`), the same
    /// for every stream; see [`cart`].
    Cart(Arc<str>),
}

#[derive(Serialize)]
struct TicketJson {
    ticket: String,
    course_id: i64,
    status: TicketStatus,
    #[serde(skip_serializing_if = "Option::is_none")]
    reason: Option<Reason>,
}

/// Why a stream could not be opened.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum OpenError {
    #[error("this student already holds the most event streams allowed")]
    TooMany,
    #[error("the server is shutting down")]
    Closed,
}

struct Subscriber {
    id: u64,
    /// The session that opened it (its token's digest).
    session: Digest,
    tx: mpsc::Sender<Event>,
    /// The queued tickets it follows.
    line: Line,
    /// Wakes its driver: a place is to be read.
    wake: Arc<Notify>,
}

#[derive(Default)]
struct Hub {
    /// By student.
    streams: HashMap<i64, Vec<Subscriber>>,
    /// The streams following a ticket of each course, by share. Added to
    /// whenever a stream follows one; an entry whose stream is gone or no
    /// longer follows the course is dropped when its share next looks at
    /// the course's batches.
    by_course: [HashMap<i64, HashSet<StreamKey>>; SHARES],
    /// What each course's batches decided lately.
    decided: HashMap<i64, Decided>,
    /// Streams with a place to send.
    moved: places::Moved,
}

impl Hub {
    fn subscriber(&mut self, (student, id): StreamKey) -> Option<&mut Subscriber> {
        self.streams
            .get_mut(&student)?
            .iter_mut()
            .find(|s| s.id == id)
    }

    /// Indexes the courses `key`'s line follows.
    fn index(&mut self, key: StreamKey) {
        let Some(sub) = self.subscriber(key) else {
            return;
        };
        let courses: Vec<i64> = sub.line.courses().collect();
        for course in courses {
            self.by_course[share_of(key)]
                .entry(course)
                .or_default()
                .insert(key);
        }
    }
}

/// The streams held on this instance, by student.
pub struct TicketEvents {
    per_student: usize,
    next_id: AtomicU64,
    closed: AtomicBool,
    hub: Mutex<Hub>,
    open: IntGauge,
    sent: IntCounter,
    dropped: IntCounter,
}

impl TicketEvents {
    /// At most `per_student` streams per student; `open` counts the streams
    /// held, `sent` the events handed to them, `dropped` the streams closed
    /// for falling behind.
    pub fn new(per_student: usize, open: IntGauge, sent: IntCounter, dropped: IntCounter) -> Self {
        Self {
            per_student: per_student.max(1),
            next_id: AtomicU64::new(0),
            closed: AtomicBool::new(false),
            hub: Mutex::new(Hub::default()),
            open,
            sent,
            dropped,
        }
    }

    fn hub(&self) -> MutexGuard<'_, Hub> {
        self.hub.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// A new stream of `student`'s events for the session `session`, held
    /// until the returned stream is dropped or the session ends, following
    /// the tickets `follow` (their places are read first thing).
    pub fn open(
        self: &Arc<Self>,
        student: i64,
        session: Digest,
        follow: &[TicketId],
    ) -> Result<Subscription, OpenError> {
        let mut hub = self.hub();
        if self.closed.load(Ordering::Acquire) {
            return Err(OpenError::Closed);
        }
        // Most students hold one stream: room for one, not the usual four.
        let mine = hub
            .streams
            .entry(student)
            .or_insert_with(|| Vec::with_capacity(1));
        if mine.len() >= self.per_student {
            return Err(OpenError::TooMany);
        }
        // Room for `buffer` events plus one per sender (the one).
        let (tx, rx) = mpsc::channel(BUFFERED - 1);
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        let mut line = Line::default();
        for &t in follow {
            line.follow(t);
        }
        let wake = Arc::new(Notify::new());
        if line.wants_read() {
            wake.notify_one();
        }
        mine.push(Subscriber {
            id,
            session,
            tx,
            line,
            wake: wake.clone(),
        });
        hub.index((student, id));
        self.open.inc();
        Ok(Subscription {
            rx,
            events: self.clone(),
            student,
            id,
            wake,
        })
    }

    fn remove(&self, student: i64, id: u64) {
        let mut hub = self.hub();
        if let Some(mine) = hub.streams.get_mut(&student) {
            let before = mine.len();
            mine.retain(|s| s.id != id);
            self.open.sub((before - mine.len()) as i64);
            if mine.is_empty() {
                hub.streams.remove(&student);
            }
        }
    }

    /// Hands every decision of a published batch to its student's streams
    /// here, and moves the places of the streams following the course;
    /// returns how many events were sent.
    pub fn deliver(&self, payload: &[u8]) -> usize {
        let Some(decided) = std::str::from_utf8(payload).ok().and_then(decode_batch) else {
            tracing::warn!("unreadable message on the decisions channel");
            return 0;
        };
        let mut hub = self.hub();
        if hub.streams.is_empty() {
            return 0;
        }
        let decided: Vec<_> = decided.collect();
        if let Some(first) = decided.first() {
            let mut seqs: Vec<i64> = decided.iter().map(|d| d.ticket.seq).collect();
            seqs.sort_unstable();
            hub.decided
                .entry(first.ticket.course_id)
                .or_default()
                .add(&seqs, Instant::now());
        }
        let mut sent = 0;
        for d in decided {
            let Some(mine) = hub.streams.get_mut(&d.student) else {
                continue;
            };
            let json = serde_json::to_string(&TicketJson {
                ticket: d.ticket.to_string(),
                course_id: d.ticket.course_id,
                status: d.status,
                reason: d.reason,
            })
            .expect("a ticket serializes");
            let event = Event::Ticket(json.into());
            sent += self.send_all(mine, &event);
            if mine.is_empty() {
                hub.streams.remove(&d.student);
            }
        }
        self.sent.inc_by(sent as u64);
        sent
    }

    /// Tells every stream here to read its tickets again (the feed was
    /// (re)joined: anything published meanwhile was missed).
    pub fn resync_all(&self) {
        let mut hub = self.hub();
        for mine in hub.streams.values_mut() {
            self.send_all(mine, &Event::Resync);
        }
        hub.streams.retain(|_, mine| !mine.is_empty());
    }

    /// Ends the streams opened by the session `digest` (logged out).
    pub fn close_session(&self, digest: &Digest) {
        let mut hub = self.hub();
        let mut closed = 0;
        hub.streams.retain(|_, mine| {
            let before = mine.len();
            mine.retain(|s| &s.session != digest);
            closed += before - mine.len();
            !mine.is_empty()
        });
        self.open.sub(closed as i64);
    }

    /// Ends every stream and refuses new ones (shutting down: a held stream
    /// would keep the graceful shutdown waiting forever).
    pub fn close_all(&self) {
        let mut hub = self.hub();
        self.closed.store(true, Ordering::Release);
        let n: usize = hub.streams.values().map(Vec::len).sum();
        hub.streams.clear();
        hub.by_course.iter_mut().for_each(HashMap::clear);
        hub.decided.clear();
        hub.moved.clear();
        self.open.sub(n as i64);
    }

    /// Streams held here.
    pub fn len(&self) -> usize {
        self.hub().streams.values().map(Vec::len).sum()
    }

    /// Whether no stream is held.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Sends `event` to each of `mine`, dropping those that are gone or
    /// full; returns how many took it.
    fn send_all(&self, mine: &mut Vec<Subscriber>, event: &Event) -> usize {
        let before = mine.len();
        let mut sent = 0;
        mine.retain_mut(|s| match s.tx.try_send(event.clone()) {
            Ok(()) => {
                sent += 1;
                true
            }
            Err(e) if e.is_full() => {
                self.dropped.inc();
                false
            }
            Err(_) => false,
        });
        self.open.sub((before - mine.len()) as i64);
        sent
    }
}

/// One student's stream of events; unregisters itself when dropped (the
/// client went away). Ends when the server closes it (shutdown, or it fell
/// behind).
pub struct Subscription {
    rx: mpsc::Receiver<Event>,
    events: Arc<TicketEvents>,
    student: i64,
    id: u64,
    wake: Arc<Notify>,
}

impl Subscription {
    /// The student whose stream it is.
    pub fn student(&self) -> i64 {
        self.student
    }

    /// Notified when a read of its places is wanted.
    pub fn wake(&self) -> Arc<Notify> {
        self.wake.clone()
    }

    /// Runs `f` on this stream's line; `None` once the stream is gone.
    pub fn line<R>(&self, f: impl FnOnce(&mut Line) -> R) -> Option<R> {
        self.events.with_line(self, f)
    }
}

impl Stream for Subscription {
    type Item = Event;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Event>> {
        self.rx.poll_next_unpin(cx)
    }
}

impl Drop for Subscription {
    fn drop(&mut self) {
        self.events.remove(self.student, self.id);
    }
}

mod cart;
mod decided;
mod places;
mod shares;
use decided::Decided;
pub use shares::SHARES;
use shares::{share_of, StreamKey};
pub mod waitlist;

#[cfg(test)]
mod tests;
