//! The places in line a stream follows: which tickets, moved by batches,
//! and sent at the pace of whoever asks ([`TicketEvents::send_moved`]).

use std::time::Instant;

use super::{Event, Hub, StreamKey, Subscription, TicketEvents};
use crate::pace::Pace;
use crate::position::{Due, Line};
use crate::ticket::TicketId;

/// Streams whose places are sent per lock hold.
const CHUNK: usize = 256;

impl TicketEvents {
    /// Has every stream of `student` here follow `ticket` (just enrolled
    /// through this instance), from `place` — `(rank, head, pace)` as the
    /// enqueue script read them, sent with the next beat — or, without
    /// one, from a read of its own; returns how many took it up.
    pub fn follow(
        &self,
        student: i64,
        ticket: TicketId,
        place: Option<(i64, i64, Option<Pace>)>,
    ) -> usize {
        let mut hub = self.hub();
        let Some(mine) = hub.streams.get_mut(&student) else {
            return 0;
        };
        let mut keys = Vec::new();
        for s in mine.iter_mut() {
            let took = match place {
                Some((rank, head, pace)) => s.line.follow_at(ticket, rank, head, pace),
                None => {
                    let took = s.line.follow(ticket);
                    if took {
                        s.wake.notify_one();
                    }
                    took
                }
            };
            if took {
                keys.push((student, s.id));
            }
        }
        for &key in &keys {
            hub.index(key);
            if place.is_some() {
                hub.moved.insert(key);
            }
        }
        keys.len()
    }

    /// Runs `f` on the stream's line; `None` once the stream is gone.
    pub(super) fn with_line<R>(
        &self,
        sub: &Subscription,
        f: impl FnOnce(&mut Line) -> R,
    ) -> Option<R> {
        let mut hub = self.hub();
        hub.subscriber((sub.student, sub.id))
            .map(|s| f(&mut s.line))
    }

    /// Sends every moved stream its places that changed since last sent,
    /// each made into an event by `event`; returns how many were sent. In
    /// the hub's lock, as decisions are, so a place never follows its
    /// ticket's decision.
    ///
    /// The lock is taken for [`CHUNK`] streams at a time, so a batch's
    /// decisions never wait behind a whole line's places.
    pub fn send_moved(&self, event: impl Fn(&Due) -> Event) -> usize {
        let keys: Vec<StreamKey> = self.hub().moved.drain().collect();
        let now = Instant::now();
        keys.chunks(CHUNK)
            .map(|chunk| {
                let mut hub = self.hub();
                chunk
                    .iter()
                    .map(|&key| send_places(&mut hub, key, now, &event))
                    .sum::<usize>()
            })
            .sum()
    }

    /// [`Self::send_moved`] for one stream (its places were just read).
    pub fn send_places_of(&self, sub: &Subscription, event: impl Fn(&Due) -> Event) -> usize {
        let mut hub = self.hub();
        let key = (sub.student, sub.id);
        hub.moved.remove(&key);
        send_places(&mut hub, key, Instant::now(), &event)
    }
}

fn send_places(
    hub: &mut Hub,
    key: StreamKey,
    now: Instant,
    event: &impl Fn(&Due) -> Event,
) -> usize {
    let Some(s) = hub.subscriber(key) else {
        return 0;
    };
    let mut sent = 0;
    for due in s.line.due(now) {
        // A stream too full to take it is closed by its next decision.
        if s.tx.try_send(event(&due)).is_ok() {
            sent += 1;
        }
    }
    if s.line.holds_back() {
        // Moved too little to send yet: looked at again next beat.
        hub.moved.insert(key);
    }
    sent
}

/// Moves the places of the streams following `course` past `decided`
/// (ascending), marking those whose places moved.
pub(super) fn advance(hub: &mut Hub, course: i64, decided: &[i64]) {
    let Hub {
        streams,
        by_course,
        moved,
    } = hub;
    let Some(following) = by_course.get_mut(&course) else {
        return;
    };
    following.retain(|&(student, id)| {
        let Some(s) = streams
            .get_mut(&student)
            .and_then(|mine| mine.iter_mut().find(|s| s.id == id))
        else {
            return false;
        };
        if s.line.decided(course, decided) {
            moved.insert((student, id));
        }
        s.line.follows_course(course)
    });
    if following.is_empty() {
        by_course.remove(&course);
    }
}
