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

use std::collections::HashMap;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::task::{Context, Poll};

use futures::Stream;
use prometheus::{IntCounter, IntGauge};
use serde::Serialize;
use tokio::sync::mpsc;

use crate::session::Digest;
use crate::ticket::{decode_batch, Reason, TicketStatus};

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
}

/// The streams held on this instance, by student.
pub struct TicketEvents {
    per_student: usize,
    next_id: AtomicU64,
    closed: AtomicBool,
    streams: Mutex<HashMap<i64, Vec<Subscriber>>>,
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
            streams: Mutex::new(HashMap::new()),
            open,
            sent,
            dropped,
        }
    }

    fn streams(&self) -> MutexGuard<'_, HashMap<i64, Vec<Subscriber>>> {
        self.streams.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// A new stream of `student`'s events for the session `session`, held
    /// until the returned stream is dropped or the session ends.
    pub fn open(
        self: &Arc<Self>,
        student: i64,
        session: Digest,
    ) -> Result<Subscription, OpenError> {
        let mut streams = self.streams();
        if self.closed.load(Ordering::Acquire) {
            return Err(OpenError::Closed);
        }
        let mine = streams.entry(student).or_default();
        if mine.len() >= self.per_student {
            return Err(OpenError::TooMany);
        }
        let (tx, rx) = mpsc::channel(BUFFERED);
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        mine.push(Subscriber { id, session, tx });
        self.open.inc();
        Ok(Subscription {
            rx,
            events: self.clone(),
            student,
            id,
        })
    }

    fn remove(&self, student: i64, id: u64) {
        let mut streams = self.streams();
        if let Some(mine) = streams.get_mut(&student) {
            let before = mine.len();
            mine.retain(|s| s.id != id);
            self.open.sub((before - mine.len()) as i64);
            if mine.is_empty() {
                streams.remove(&student);
            }
        }
    }

    /// Hands every decision of a published batch to its student's streams
    /// here; returns how many events were sent.
    pub fn deliver(&self, payload: &[u8]) -> usize {
        let Some(decided) = std::str::from_utf8(payload).ok().and_then(decode_batch) else {
            tracing::warn!("unreadable message on the decisions channel");
            return 0;
        };
        let mut streams = self.streams();
        if streams.is_empty() {
            return 0;
        }
        let mut sent = 0;
        for d in decided {
            let Some(mine) = streams.get_mut(&d.student) else {
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
                streams.remove(&d.student);
            }
        }
        self.sent.inc_by(sent as u64);
        sent
    }

    /// Tells every stream here to read its tickets again (the feed was
    /// (re)joined: anything published meanwhile was missed).
    pub fn resync_all(&self) {
        let mut streams = self.streams();
        for mine in streams.values_mut() {
            self.send_all(mine, &Event::Resync);
        }
        streams.retain(|_, mine| !mine.is_empty());
    }

    /// Ends the streams opened by the session `digest` (logged out).
    pub fn close_session(&self, digest: &Digest) {
        let mut streams = self.streams();
        let mut closed = 0;
        streams.retain(|_, mine| {
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
        let mut streams = self.streams();
        self.closed.store(true, Ordering::Release);
        let n: usize = streams.values().map(Vec::len).sum();
        streams.clear();
        self.open.sub(n as i64);
    }

    /// Streams held here.
    pub fn len(&self) -> usize {
        self.streams().values().map(Vec::len).sum()
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
        mine.retain(|s| match s.tx.try_send(event.clone()) {
            Ok(()) => {
                sent += 1;
                true
            }
            Err(mpsc::error::TrySendError::Full(_)) => {
                self.dropped.inc();
                false
            }
            Err(mpsc::error::TrySendError::Closed(_)) => false,
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
}

impl Stream for Subscription {
    type Item = Event;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Event>> {
        self.rx.poll_recv(cx)
    }
}

impl Drop for Subscription {
    fn drop(&mut self) {
        self.events.remove(self.student, self.id);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ticket::{encode_batch, Decision};
    use futures::StreamExt;

    fn events(per_student: usize) -> Arc<TicketEvents> {
        Arc::new(TicketEvents::new(
            per_student,
            IntGauge::new("open", "open").unwrap(),
            IntCounter::new("sent", "sent").unwrap(),
            IntCounter::new("dropped", "dropped").unwrap(),
        ))
    }

    fn enrolled(student: i64, seq: i64) -> String {
        encode_batch(42, &[Decision::enrolled(student, seq)])
    }

    #[tokio::test]
    async fn each_decision_reaches_only_its_students_streams() {
        let ev = events(4);
        let mut a1 = ev.open(7, [7; 32]).unwrap();
        let mut a2 = ev.open(7, [7; 32]).unwrap();
        let mut b = ev.open(8, [8; 32]).unwrap();
        let sent = ev.deliver(enrolled(7, 100).as_bytes());
        assert_eq!(sent, 2);
        let want =
            Event::Ticket(r#"{"ticket":"42-100","course_id":42,"status":"enrolled"}"#.into());
        assert_eq!(a1.next().await, Some(want.clone()));
        assert_eq!(a2.next().await, Some(want));
        let rejected = encode_batch(42, &[Decision::rejected(8, 101, Reason::CreditLimit)]);
        assert_eq!(ev.deliver(rejected.as_bytes()), 1);
        assert_eq!(
            b.next().await,
            Some(Event::Ticket(
                r#"{"ticket":"42-101","course_id":42,"status":"rejected","reason":"credit_limit"}"#
                    .into()
            ))
        );
        assert!(
            a1.rx.try_recv().is_err(),
            "student 7 got nothing of student 8's"
        );
        assert_eq!(ev.open.get(), 3);
    }

    #[test]
    fn a_dropped_stream_unregisters_and_the_limit_counts_open_streams() {
        let ev = events(2);
        let a = ev.open(7, [7; 32]).unwrap();
        let _b = ev.open(7, [7; 32]).unwrap();
        assert_eq!(ev.open(7, [7; 32]).err(), Some(OpenError::TooMany));
        drop(a);
        assert_eq!(ev.len(), 1);
        assert!(ev.open(7, [7; 32]).is_ok());
        assert_eq!(ev.open.get(), 1, "the opened-and-dropped one is gone too");
    }

    #[tokio::test]
    async fn a_stream_that_falls_behind_is_closed_not_buffered() {
        let ev = events(4);
        let mut slow = ev.open(7, [7; 32]).unwrap();
        for seq in 0..BUFFERED as i64 + 10 {
            ev.deliver(enrolled(7, seq).as_bytes());
        }
        assert_eq!(ev.dropped.get(), 1);
        assert!(ev.is_empty() && ev.open.get() == 0);
        // What it had buffered is still read, then it ends.
        assert_eq!(slow.by_ref().count().await, BUFFERED);
    }

    #[tokio::test]
    async fn a_logout_ends_that_sessions_streams_only() {
        let ev = events(4);
        let mut laptop = ev.open(7, [1; 32]).unwrap();
        let mut phone = ev.open(7, [2; 32]).unwrap();
        ev.close_session(&[1; 32]);
        assert_eq!(laptop.next().await, None);
        assert_eq!(ev.len(), 1);
        assert_eq!(ev.open.get(), 1);
        ev.deliver(enrolled(7, 1).as_bytes());
        assert!(matches!(phone.next().await, Some(Event::Ticket(_))));
    }

    #[tokio::test]
    async fn resync_reaches_every_stream_and_close_all_ends_them() {
        let ev = events(4);
        let mut a = ev.open(7, [7; 32]).unwrap();
        let mut b = ev.open(8, [8; 32]).unwrap();
        ev.resync_all();
        assert_eq!(a.next().await, Some(Event::Resync));
        assert_eq!(b.next().await, Some(Event::Resync));
        ev.close_all();
        assert_eq!(a.next().await, None);
        assert_eq!(b.next().await, None);
        assert_eq!(ev.open(9, [9; 32]).err(), Some(OpenError::Closed));
        assert_eq!(ev.open.get(), 0);
    }
}
