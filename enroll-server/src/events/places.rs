//! The places in line a stream follows: which tickets, moved by batches,
//! and sent at the pace of whoever asks ([`TicketEvents::send_moved`]).

use std::collections::{HashSet, VecDeque};
use std::time::Instant;

use super::decided::Decided;
use super::shares::{share_of, StreamKey, SHARES};
use super::{Event, Hub, Subscription, TicketEvents};
use crate::pace::Pace;
use crate::position::{Due, Line};
use crate::ticket::TicketId;

/// Streams whose places are sent per lock hold.
const CHUNK: usize = 256;

/// Streams with a place not yet sent, in [`SHARES`] by stream id (streams
/// opened together land in different shares).
#[derive(Default)]
pub(super) struct Moved([Share; SHARES]);

/// One share's streams to send, in the order they were queued.
#[derive(Default)]
struct Share {
    /// Streams with a ticket's first place: sent whatever the budget, as
    /// the page takes a ticket that gets no place for a while as unknown
    /// here and opens its stream again.
    fresh: VecDeque<StreamKey>,
    /// Streams whose places moved, the longest waiting first.
    moved: VecDeque<StreamKey>,
    /// The streams queued: an entry of either queue not in here was taken
    /// or removed meanwhile, and is passed over.
    queued: HashSet<StreamKey>,
}

impl Moved {
    fn share(&mut self, key: StreamKey) -> &mut Share {
        &mut self.0[share_of(key)]
    }

    /// Queues a stream whose places moved (behind those queued before).
    pub(super) fn insert(&mut self, key: StreamKey) {
        let share = self.share(key);
        if share.queued.insert(key) {
            share.moved.push_back(key);
        }
    }

    /// Queues a stream with a ticket's first place to send.
    fn insert_fresh(&mut self, key: StreamKey) {
        let share = self.share(key);
        share.queued.insert(key);
        share.fresh.push_back(key);
    }

    fn remove(&mut self, key: StreamKey) {
        self.share(key).queued.remove(&key);
    }

    pub(super) fn clear(&mut self) {
        for share in &mut self.0 {
            *share = Share::default();
        }
    }

    /// Takes `share`'s queued streams: those with a first place, and those
    /// whose places moved, each in order.
    fn take(&mut self, share: usize) -> (Vec<StreamKey>, Vec<StreamKey>) {
        let Share {
            fresh,
            moved,
            queued,
        } = &mut self.0[share % SHARES];
        let fresh = fresh.drain(..).filter(|k| queued.remove(k)).collect();
        let moved = moved.drain(..).filter(|k| queued.remove(k)).collect();
        (fresh, moved)
    }

    /// Puts `keys` (taken, not sent) back at the head of `share`'s queue.
    fn put_back(&mut self, share: usize, keys: &[StreamKey]) {
        let Share { moved, queued, .. } = &mut self.0[share % SHARES];
        for &key in keys.iter().rev() {
            if queued.insert(key) {
                moved.push_front(key);
            }
        }
    }
}

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
                hub.moved.insert_fresh(key);
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

    /// Sends the streams of `share` (of [`SHARES`]) their places that
    /// changed since last sent, each made into an event by `event`: every
    /// stream with a ticket's first place, and at most `budget` others
    /// (those left wait for the share's next beat, ahead of any queued
    /// after them). Returns how many places were sent. In the hub's lock,
    /// as decisions are, so a place never follows its ticket's decision.
    ///
    /// The lock is taken for [`CHUNK`] streams at a time, so a batch's
    /// decisions never wait behind a whole share's places.
    pub fn send_moved(&self, share: usize, budget: usize, event: impl Fn(&Due) -> Event) -> usize {
        let now = Instant::now();
        let (fresh, moved) = {
            let mut hub = self.hub();
            queue_followers(&mut hub, share, now);
            hub.moved.take(share)
        };
        let mut sent = 0;
        for chunk in fresh.chunks(CHUNK) {
            let mut hub = self.hub();
            sent += chunk
                .iter()
                .map(|&key| send_places(&mut hub, key, now, &event))
                .sum::<usize>();
        }
        // A stream that sends nothing (moved too little) costs no budget.
        let mut left = budget;
        let mut rest = &moved[..];
        while left > 0 && !rest.is_empty() {
            let mut hub = self.hub();
            let mut n = 0;
            while n < rest.len().min(CHUNK) && left > 0 {
                let places = send_places(&mut hub, rest[n], now, &event);
                sent += places;
                left -= usize::from(places > 0);
                n += 1;
            }
            rest = &rest[n..];
        }
        if !rest.is_empty() {
            self.hub().moved.put_back(share, rest);
        }
        sent
    }

    /// [`Self::send_moved`] for one stream (its places were just read).
    pub fn send_places_of(&self, sub: &Subscription, event: impl Fn(&Due) -> Event) -> usize {
        let mut hub = self.hub();
        let key = (sub.student, sub.id);
        hub.moved.remove(key);
        send_places(&mut hub, key, Instant::now(), &event)
    }
}

fn send_places(
    hub: &mut Hub,
    key: StreamKey,
    now: Instant,
    event: &impl Fn(&Due) -> Event,
) -> usize {
    catch_up(hub, key);
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

/// Has `key`'s line count what the courses it follows decided since it
/// last looked: a decided ticket leaves the line (its decision was sent
/// already), the others move up.
pub(super) fn catch_up(hub: &mut Hub, (student, id): StreamKey) {
    let Hub {
        streams, decided, ..
    } = hub;
    let Some(s) = streams
        .get_mut(&student)
        .and_then(|mine| mine.iter_mut().find(|s| s.id == id))
    else {
        return;
    };
    s.line
        .count_decided(|course| decided.get(&course).map(Decided::seqs));
}

/// Queues the streams of `share` that follow a course with a batch they
/// have not looked at, and drops from the index those gone or no longer
/// following it; forgets, once a cycle, courses decided long ago.
fn queue_followers(hub: &mut Hub, share: usize, now: Instant) {
    let Hub {
        streams,
        by_course,
        decided,
        moved,
    } = hub;
    let by_course = &mut by_course[share % SHARES];
    for (course, d) in decided.iter_mut() {
        if !d.take_pending(share) {
            continue;
        }
        let Some(following) = by_course.get_mut(course) else {
            continue;
        };
        following.retain(|&(student, id)| {
            let follows = streams
                .get(&student)
                .and_then(|mine| mine.iter().find(|s| s.id == id))
                .is_some_and(|s| s.line.follows_course(*course));
            if follows {
                moved.insert((student, id));
            }
            follows
        });
        if following.is_empty() {
            by_course.remove(course);
        }
    }
    if share.is_multiple_of(SHARES) {
        decided.retain(|_, d| !d.forget(now));
    }
}
