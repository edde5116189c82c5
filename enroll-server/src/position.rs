//! A place in line kept current from the decisions feed, without asking
//! Redis for it: the arithmetic of one event stream's queued tickets.
//!
//! A course's queue is ordered by sequence number, tickets leave it only
//! by being decided, admission always decides the heads, and a new ticket
//! always gets a higher sequence number than every ticket before it. So a
//! ticket's place drops by exactly the number of decided sequence numbers
//! below its own, and every instance already hears every batch's decided
//! sequence numbers (the feed, [`crate::events`]): moving the places of
//! the streams held here costs no Redis round trip per student per batch.
//!
//! What is counted must be counted once. A place is read from Redis (its
//! 0-based rank) together with the sequence number at the head of the
//! queue then (the [`Place::floor`]): every ticket decided before the read
//! had a lower number than that head and is already out of the rank, every
//! ticket decided after it had that number or a higher one. So a batch is
//! counted only for its numbers in `floor..own`, whichever way the read and
//! the feed's message cross: the line is handed every number its courses
//! decided lately ([`Line::count_decided`]), and after a read's answer
//! ([`Line::end_read`]) those at or above the head it saw are the ones
//! decided since. The floor then rises past each number counted, so a
//! number heard twice, or handed over again, moves nothing twice.
//!
//! Pub/sub may still lose a message (the feed was down: the stream is told
//! to resync and reads again) and an arithmetic error would never heal by
//! itself, so the driver reads every place again at a bounded period too.
//!
//! Events are coalesced: whoever sends them asks for the places that
//! changed since they were last sent ([`Line::due`]), at its own pace, and
//! only the latest place of each ticket goes out. Far from the head a
//! small move is not worth a write to every stream in line: a place is
//! sent again once it moved by a tenth, within [`NEAR`] of the head, or
//! [`STALE`] after the last one.

use std::time::{Duration, Instant};

use crate::pace::Pace;
use crate::ticket::TicketId;

/// Places this close to the head are sent on every change.
pub const NEAR: i64 = 10;

/// A changed place is sent at least this often.
pub const STALE: Duration = Duration::from_secs(3);

/// Whether a place moved from `sent` (sent at `at`) to `now_at` is worth
/// sending at `now`.
fn worth_sending(sent: i64, at: Instant, position: i64, now: Instant) -> bool {
    position != sent && (position <= NEAR || (sent - position) * 10 >= sent || now >= at + STALE)
}

/// How many of `decided` (ascending) lie in `floor..own`: tickets ahead of
/// `own` decided since the place was read.
pub fn passed(decided: &[i64], floor: i64, own: i64) -> i64 {
    let lo = decided.partition_point(|&s| s < floor);
    let hi = decided.partition_point(|&s| s < own);
    hi.saturating_sub(lo) as i64
}

/// A place in line as last worked out.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Place {
    /// 1-based.
    pub position: i64,
    /// Decided sequence numbers below this are already out of `position`.
    pub floor: i64,
}

impl Place {
    /// A place read from Redis: the 0-based `rank` and the sequence number
    /// at the head of the queue in the same transaction.
    pub fn read(rank: i64, head: i64) -> Self {
        Self {
            position: rank + 1,
            floor: head,
        }
    }

    /// Moves the place of ticket `own` up by the tickets of `decided`
    /// (ascending) it had not counted; returns whether it moved.
    pub fn advance(&mut self, own: i64, decided: &[i64]) -> bool {
        let ahead = &decided[..decided.partition_point(|&s| s < own)];
        let n = passed(ahead, self.floor, own);
        if let Some(&last) = ahead.last() {
            self.floor = self.floor.max(last + 1);
        }
        let before = self.position;
        self.position = (self.position - n).max(1);
        self.position != before
    }
}

/// What a read of one ticket found while it is queued.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Standing {
    /// 0-based.
    pub rank: i64,
    /// The sequence number at the head of the queue.
    pub head: i64,
    pub pace: Option<Pace>,
}

/// A place to send: the latest.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Due {
    pub ticket: TicketId,
    pub position: i64,
    pub pace: Option<Pace>,
}

#[derive(Debug)]
struct Tracked {
    id: TicketId,
    /// `None` until first read.
    place: Option<Place>,
    pace: Option<Pace>,
    /// The place last sent, and when.
    sent: Option<(i64, Instant)>,
}

/// One stream's queued tickets and their places.
#[derive(Debug, Default)]
pub struct Line {
    tickets: Vec<Tracked>,
    /// A read of every place is wanted.
    stale: bool,
}

impl Line {
    /// Starts following `id` (its place is read next); false if already.
    pub fn follow(&mut self, id: TicketId) -> bool {
        if self.tickets.iter().any(|t| t.id == id) {
            return false;
        }
        self.tickets.push(Tracked {
            id,
            place: None,
            pace: None,
            sent: None,
        });
        self.stale = true;
        true
    }

    /// Starts following `id` from a place already read (0-based `rank`
    /// and the queue's `head` in the same step, as the enqueue script
    /// answers): no read of its own. False if already followed.
    pub fn follow_at(&mut self, id: TicketId, rank: i64, head: i64, pace: Option<Pace>) -> bool {
        if self.tickets.iter().any(|t| t.id == id) {
            return false;
        }
        self.tickets.push(Tracked {
            id,
            place: Some(Place::read(rank, head)),
            pace,
            sent: None,
        });
        true
    }

    /// Whether a ticket of `course` is followed.
    pub fn follows_course(&self, course: i64) -> bool {
        self.tickets.iter().any(|t| t.id.course_id == course)
    }

    /// The courses of the followed tickets (a course may repeat).
    pub fn courses(&self) -> impl Iterator<Item = i64> + '_ {
        self.tickets.iter().map(|t| t.id.course_id)
    }

    pub fn is_empty(&self) -> bool {
        self.tickets.is_empty()
    }

    /// Asks for every place to be read again.
    pub fn resync(&mut self) {
        self.stale = !self.tickets.is_empty();
    }

    /// Whether a read is wanted.
    pub fn wants_read(&self) -> bool {
        self.stale
    }

    /// The tickets to read.
    pub fn begin_read(&mut self) -> Vec<TicketId> {
        self.stale = false;
        self.tickets.iter().map(|t| t.id).collect()
    }

    /// Takes a read's answer (`None`: no longer queued, or not the
    /// student's: no longer followed). What was decided since the read
    /// went out is counted next by [`Self::count_decided`], given every number
    /// decided lately: those at or above the head the read saw.
    pub fn end_read(&mut self, read: &[(TicketId, Option<Standing>)]) {
        for (id, found) in read {
            let Some(i) = self.tickets.iter().position(|t| t.id == *id) else {
                continue; // decided meanwhile
            };
            let Some(s) = found else {
                self.tickets.swap_remove(i);
                continue;
            };
            let t = &mut self.tickets[i];
            t.place = Some(Place::read(s.rank, s.head));
            t.pace = s.pace;
        }
    }

    /// What each course decided lately: `decided_in(course)`, if anything
    /// (ascending; a number seen before counts once). A decided ticket is no
    /// longer followed (its decision is its own event), the others move up.
    /// Returns whether any place moved.
    pub fn count_decided<'a>(&mut self, decided_in: impl Fn(i64) -> Option<&'a [i64]>) -> bool {
        self.tickets.retain(|t| {
            decided_in(t.id.course_id).is_none_or(|d| d.binary_search(&t.id.seq).is_err())
        });
        let mut moved = false;
        for t in &mut self.tickets {
            if let (Some(decided), Some(place)) = (decided_in(t.id.course_id), &mut t.place) {
                moved |= place.advance(t.id.seq, decided);
            }
        }
        moved
    }

    /// Whether a place moved since it was last sent but was not worth
    /// sending yet.
    pub fn holds_back(&self) -> bool {
        self.tickets
            .iter()
            .any(|t| matches!((t.place, t.sent), (Some(p), Some((sent, _))) if p.position != sent))
    }

    /// The places to send at `now`: those never sent, and those that moved
    /// enough since last sent (see the module's doc); each then counts as
    /// sent.
    pub fn due(&mut self, now: Instant) -> Vec<Due> {
        let mut out = Vec::new();
        for t in &mut self.tickets {
            let Some(place) = t.place else { continue };
            if let Some((sent, at)) = t.sent {
                if !worth_sending(sent, at, place.position, now) {
                    continue;
                }
            }
            t.sent = Some((place.position, now));
            out.push(Due {
                ticket: t.id,
                position: place.position,
                pace: t.pace,
            });
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    impl Line {
        /// [`Line::count_decided`] for one course.
        fn decided(&mut self, course: i64, decided: &[i64]) -> bool {
            self.count_decided(|c| (c == course).then_some(decided))
        }
    }

    const C: i64 = 42;

    fn id(seq: i64) -> TicketId {
        TicketId { course_id: C, seq }
    }

    fn standing(rank: i64, head: i64) -> Option<Standing> {
        Some(Standing {
            rank,
            head,
            pace: None,
        })
    }

    /// A line following ticket `seq`, read at `rank` with `head` first.
    fn read_line(seq: i64, rank: i64, head: i64) -> Line {
        let mut line = Line::default();
        line.follow(id(seq));
        let ids = line.begin_read();
        line.end_read(&[(ids[0], standing(rank, head))]);
        line
    }

    fn position(line: &Line) -> Option<i64> {
        line.tickets
            .iter()
            .find(|t| t.id.course_id == C)
            .and_then(|t| t.place)
            .map(|p| p.position)
    }

    #[test]
    fn only_decided_numbers_below_ones_own_and_above_the_floor_count() {
        assert_eq!(passed(&[1, 2, 3, 8, 9], 0, 5), 3);
        assert_eq!(
            passed(&[1, 2, 3, 8, 9], 2, 5),
            2,
            "1 was gone before the read"
        );
        assert_eq!(passed(&[6, 7], 0, 5), 0, "behind it: nothing");
        assert_eq!(passed(&[], 0, 5), 0);
        assert_eq!(passed(&[5], 0, 5), 0, "its own is not ahead of it");
    }

    #[test]
    fn a_place_moves_by_the_batches_ahead_and_never_twice() {
        // Ticket 110 read 5th, queue head 100: 100..=103 are ahead of it.
        let mut p = Place::read(4, 100);
        assert!(p.advance(110, &[100, 101]));
        assert_eq!(
            p,
            Place {
                position: 3,
                floor: 102
            }
        );
        // The same message again (or one from before the read) moves nothing.
        assert!(!p.advance(110, &[100, 101]));
        assert!(!p.advance(110, &[90, 95]));
        // Numbers behind it do not count; the floor stays below its own.
        assert!(p.advance(110, &[102, 111, 120]));
        assert_eq!(
            p,
            Place {
                position: 2,
                floor: 103
            }
        );
        // Never below 1, whatever arrives.
        assert!(p.advance(110, &[103, 104, 105, 106]));
        assert_eq!(p.position, 1);
        assert!(!p.advance(110, &[107]));
    }

    #[test]
    fn numbers_decided_around_a_read_count_from_its_head() {
        let mut line = Line::default();
        line.follow(id(110));
        let ids = line.begin_read();
        // Heard while the read was in flight: [100, 101] was decided before
        // the read (the read's head is 102), [102, 103] after it. Nothing
        // to move yet.
        assert!(!line.decided(C, &[100, 101, 102, 103]));
        // The read: 8th in line, 102 at the head (102..=108 ahead of it);
        // then everything decided lately is counted, once.
        line.end_read(&[(ids[0], standing(7, 102))]);
        assert_eq!(position(&line), Some(8));
        assert!(line.decided(C, &[100, 101, 102, 103]));
        assert_eq!(position(&line), Some(6));
        // Later batches count as usual, what was counted does not.
        assert!(line.decided(C, &[100, 101, 102, 103, 104, 105]));
        assert!(!line.decided(C, &[100, 101, 102, 103, 104, 105]));
        assert_eq!(position(&line), Some(4));
    }

    #[test]
    fn a_decided_ticket_or_one_no_longer_queued_is_no_longer_followed() {
        let mut line = read_line(110, 0, 110);
        assert!(line.follows_course(C));
        assert!(!line.decided(C, &[110]));
        assert!(line.is_empty());

        let mut line = Line::default();
        line.follow(id(7));
        let ids = line.begin_read();
        line.end_read(&[(ids[0], None)]);
        assert!(line.is_empty() && !line.follows_course(C));
    }

    #[test]
    fn another_courses_batch_moves_nothing() {
        let mut line = read_line(110, 4, 100);
        assert!(!line.decided(C + 1, &[100, 101, 102]));
        assert_eq!(position(&line), Some(5));
    }

    #[test]
    fn only_changed_places_are_due_and_the_latest_wins() {
        let t0 = Instant::now();
        let mut line = read_line(110, 9, 100);
        // The first place is due at once.
        let due = line.due(t0);
        assert_eq!(due.iter().map(|d| d.position).collect::<Vec<_>>(), [10]);
        // Nothing changed: nothing to send.
        assert!(line.due(t0).is_empty());
        // Three batches between two sends: one place, the latest.
        line.decided(C, &[100]);
        line.decided(C, &[101]);
        line.decided(C, &[102, 103]);
        let due = line.due(t0);
        assert_eq!(due.iter().map(|d| d.position).collect::<Vec<_>>(), [6]);
        assert!(line.due(t0).is_empty());
    }

    #[test]
    fn far_from_the_head_a_small_move_waits() {
        let t0 = Instant::now();
        let mut line = read_line(1_000, 899, 100);
        assert_eq!(line.due(t0)[0].position, 900);
        // 900 -> 850: less than a tenth, not sent yet.
        let decided: Vec<i64> = (100..150).collect();
        line.decided(C, &decided);
        assert!(line.due(t0).is_empty());
        // ... unless the last one is old.
        assert_eq!(line.due(t0 + STALE)[0].position, 850);
        // 850 -> 765: a tenth, sent at once.
        let decided: Vec<i64> = (150..235).collect();
        line.decided(C, &decided);
        assert_eq!(line.due(t0 + STALE)[0].position, 765);
        // Near the head, every change.
        assert!(worth_sending(11, t0, 10, t0));
        assert!(worth_sending(3, t0, 2, t0));
        assert!(!worth_sending(2, t0, 2, t0 + STALE));
    }

    #[test]
    fn a_resync_reads_every_place_and_a_failed_read_keeps_them() {
        let mut line = read_line(110, 4, 100);
        assert!(!line.wants_read());
        line.resync();
        assert!(line.wants_read());
        let ids = line.begin_read();
        assert_eq!(ids, [id(110)]);
        // The read fails (no answer): the place still moves by the feed.
        line.decided(C, &[100]);
        assert_eq!(position(&line), Some(4), "moved by the feed meanwhile");
        // An empty line has nothing to read.
        let mut empty = Line::default();
        empty.resync();
        assert!(!empty.wants_read());
        // Following a ticket twice changes nothing.
        assert!(!line.follow(id(110)));
    }
}
