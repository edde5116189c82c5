//! The hub's tests: who hears what, limits, closing, places in line.

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
    let mut a1 = ev.open(7, [7; 32], &[]).unwrap();
    let mut a2 = ev.open(7, [7; 32], &[]).unwrap();
    let mut b = ev.open(8, [8; 32], &[]).unwrap();
    let sent = ev.deliver(enrolled(7, 100).as_bytes());
    assert_eq!(sent, 2);
    let want = Event::Ticket(r#"{"ticket":"42-100","course_id":42,"status":"enrolled"}"#.into());
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
    let a = ev.open(7, [7; 32], &[]).unwrap();
    let _b = ev.open(7, [7; 32], &[]).unwrap();
    assert_eq!(ev.open(7, [7; 32], &[]).err(), Some(OpenError::TooMany));
    drop(a);
    assert_eq!(ev.len(), 1);
    assert!(ev.open(7, [7; 32], &[]).is_ok());
    assert_eq!(ev.open.get(), 1, "the opened-and-dropped one is gone too");
}

#[tokio::test]
async fn a_stream_that_falls_behind_is_closed_not_buffered() {
    let ev = events(4);
    let mut slow = ev.open(7, [7; 32], &[]).unwrap();
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
    let mut laptop = ev.open(7, [1; 32], &[]).unwrap();
    let mut phone = ev.open(7, [2; 32], &[]).unwrap();
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
    let mut a = ev.open(7, [7; 32], &[]).unwrap();
    let mut b = ev.open(8, [8; 32], &[]).unwrap();
    ev.resync_all();
    assert_eq!(a.next().await, Some(Event::Resync));
    assert_eq!(b.next().await, Some(Event::Resync));
    ev.close_all();
    assert_eq!(a.next().await, None);
    assert_eq!(b.next().await, None);
    assert_eq!(ev.open(9, [9; 32], &[]).err(), Some(OpenError::Closed));
    assert_eq!(ev.open.get(), 0);
}

#[tokio::test]
async fn a_settled_cart_is_told_to_every_stream_of_every_student() {
    let ev = events(4);
    let mut laptop = ev.open(7, [7; 32], &[]).unwrap();
    let mut phone = ev.open(7, [17; 32], &[]).unwrap();
    let mut other = ev.open(8, [8; 32], &[]).unwrap();
    assert_eq!(ev.deliver_cart(b"2027-02-01T09:00:00Z"), 3);
    let told = Event::Cart(r#"{"settled":true,"settled_at":"2027-02-01T09:00:00Z"}"#.into());
    for s in [&mut laptop, &mut phone, &mut other] {
        assert_eq!(s.next().await, Some(told.clone()));
    }
    assert_eq!(
        ev.deliver_cart(b"garbage"),
        0,
        "nothing sent for a bad message"
    );
}

fn ticket(course_id: i64, seq: i64) -> TicketId {
    TicketId { course_id, seq }
}

/// Reads `sub`'s places as Redis would answer: `rank` for every ticket,
/// with `head` at the head of its queue.
fn read(sub: &Subscription, rank: i64, head: i64) {
    use crate::position::Standing;
    sub.line(|line| {
        let ids = line.begin_read();
        let found: Vec<_> = ids
            .into_iter()
            .map(|id| {
                let standing = Standing {
                    rank,
                    head,
                    pace: None,
                };
                (id, Some(standing))
            })
            .collect();
        line.end_read(&found);
    })
    .unwrap();
}

/// The places `sub` would be sent now, having counted what was decided.
fn places(sub: &Subscription) -> Vec<(TicketId, i64)> {
    places::catch_up(&mut sub.events.hub(), (sub.student, sub.id));
    let due = sub.line(|l| l.due(std::time::Instant::now())).unwrap();
    due.into_iter().map(|d| (d.ticket, d.position)).collect()
}

/// A place as [`TicketEvents::send_moved`] is asked to make it: `seq:position`.
fn place_event(d: &crate::position::Due) -> Event {
    Event::Position(format!("{}:{}", d.ticket.seq, d.position).into())
}

/// Every share's beat once: what one `ENROLL_POSITION_INTERVAL_MS` sends.
fn beat(ev: &TicketEvents) -> usize {
    (0..SHARES)
        .map(|share| ev.send_moved(share, usize::MAX, place_event))
        .sum()
}

/// The events waiting in `sub`, without waiting for more.
fn waiting(sub: &mut Subscription) -> Vec<Event> {
    let mut out = Vec::new();
    while let Ok(e) = sub.rx.try_recv() {
        out.push(e);
    }
    out
}

#[tokio::test]
async fn a_batch_moves_the_places_of_the_streams_following_its_course() {
    let ev = events(4);
    // Student 7 named ticket 42-110 when opening; 8 follows nothing yet.
    let s7 = ev.open(7, [7; 32], &[ticket(42, 110)]).unwrap();
    let s8 = ev.open(8, [8; 32], &[]).unwrap();
    // A place to read is announced at once.
    s7.wake().notified().await;
    read(&s7, 4, 100);
    assert_eq!(places(&s7), [(ticket(42, 110), 5)]);
    // Student 8 enrolls through this instance: its stream follows the ticket.
    assert_eq!(ev.follow(8, ticket(42, 120), None), 1);
    assert_eq!(ev.follow(9, ticket(42, 121), None), 0, "no stream here");
    s8.wake().notified().await;
    read(&s8, 9, 100);
    // One batch of three heads: both move, each by what was ahead of it.
    let batch = encode_batch(
        42,
        &[
            Decision::enrolled(1, 100),
            Decision::enrolled(2, 101),
            Decision::rejected(3, 102, Reason::CourseFull),
        ],
    );
    ev.deliver(batch.as_bytes());
    assert_eq!(places(&s7), [(ticket(42, 110), 2)]);
    assert_eq!(places(&s8), [(ticket(42, 120), 7)]);
    // Another course's batch moves nothing.
    ev.deliver(encode_batch(43, &[Decision::enrolled(4, 100)]).as_bytes());
    assert!(places(&s7).is_empty());
}

#[tokio::test]
async fn moved_places_wait_for_the_beat_and_only_the_latest_is_sent() {
    let ev = events(4);
    let mut s7 = ev.open(7, [7; 32], &[ticket(42, 110)]).unwrap();
    read(&s7, 4, 100);
    // The place just read goes to the stream itself.
    assert_eq!(ev.send_places_of(&s7, place_event), 1);
    assert_eq!(waiting(&mut s7), [Event::Position("110:5".into())]);
    // Two batches, then one beat: one event, the latest place.
    ev.deliver(encode_batch(42, &[Decision::enrolled(1, 100)]).as_bytes());
    ev.deliver(encode_batch(42, &[Decision::enrolled(2, 101)]).as_bytes());
    assert!(waiting(&mut s7).is_empty(), "nothing is sent per batch");
    assert_eq!(beat(&ev), 1);
    assert_eq!(waiting(&mut s7), [Event::Position("110:3".into())]);
    assert_eq!(beat(&ev), 0, "nothing moved since");
    // A ticket enrolled here starts from the enqueue's place, sent with the
    // next beat, without a read.
    let s8 = ev.open(8, [8; 32], &[]).unwrap();
    assert_eq!(ev.follow(8, ticket(42, 120), Some((9, 100, None))), 1);
    assert!(!s8.line(|l| l.wants_read()).unwrap());
    // Decided before the beat: its decision, and no place after it.
    ev.deliver(encode_batch(42, &[Decision::enrolled(7, 110)]).as_bytes());
    assert_eq!(beat(&ev), 1, "only 8's place");
    assert!(matches!(&waiting(&mut s7)[..], [Event::Ticket(_)]));
}

#[tokio::test]
async fn a_line_moving_as_a_whole_is_sent_a_share_per_beat() {
    let ev = events(4);
    let subs: Vec<_> = (0..30)
        .map(|i| {
            let s = ev.open(100 + i, [1; 32], &[ticket(42, 200 + i)]).unwrap();
            read(&s, 5, 100);
            ev.send_places_of(&s, place_event);
            s
        })
        .collect();
    // Everyone near the head: every place is due after one batch.
    ev.deliver(encode_batch(42, &[Decision::enrolled(1, 100)]).as_bytes());
    let first = ev.send_moved(0, usize::MAX, place_event);
    assert_eq!(first, 30 / SHARES, "one share of the streams per beat");
    assert_eq!(
        ev.send_moved(0, usize::MAX, place_event),
        0,
        "that share is sent"
    );
    assert_eq!(beat(&ev), 30 - first, "the other shares on their beats");
    drop(subs);
}

#[tokio::test]
async fn past_the_budget_places_wait_their_turn_but_first_places_do_not() {
    let ev = events(4);
    // 50 streams (ids 0 to 49), each 6th in its line; share 0 holds ids
    // 0, 10, 20, 30 and 40.
    let mut subs: Vec<_> = (0..50)
        .map(|i| {
            let mut s = ev.open(100 + i, [1; 32], &[ticket(42, 200 + i)]).unwrap();
            read(&s, 5, 100);
            ev.send_places_of(&s, place_event);
            waiting(&mut s);
            s
        })
        .collect();
    let sent_to = |subs: &mut Vec<Subscription>| -> Vec<usize> {
        (0..5)
            .filter(|&i| !waiting(&mut subs[i * SHARES]).is_empty())
            .collect()
    };
    ev.deliver(encode_batch(42, &[Decision::enrolled(1, 100)]).as_bytes());
    assert_eq!(ev.send_moved(0, 2, place_event), 2, "two of share 0's five");
    let first = sent_to(&mut subs);
    assert_eq!(first.len(), 2);
    // A ticket enrolled here meanwhile (stream 50, share 0), and another
    // batch that moves everyone again.
    let mut fresh = ev.open(999, [9; 32], &[]).unwrap();
    assert_eq!(ev.follow(999, ticket(42, 500), Some((300, 100, None))), 1);
    ev.deliver(encode_batch(42, &[Decision::enrolled(2, 101)]).as_bytes());
    // The first place goes out whatever the budget; then the three left
    // over, ahead of the two sent last time.
    assert_eq!(ev.send_moved(0, 3, place_event), 4);
    assert_eq!(waiting(&mut fresh).len(), 1);
    let second = sent_to(&mut subs);
    assert_eq!(second.len(), 3);
    assert!(
        second.iter().all(|i| !first.contains(i)),
        "{first:?} {second:?}"
    );
    assert_eq!(ev.send_moved(0, 10, place_event), 2);
    assert_eq!(sent_to(&mut subs), first);
}

/// Streams indexed as following `course`, over every share.
fn following(ev: &TicketEvents, course: i64) -> usize {
    ev.hub()
        .by_course
        .iter()
        .filter_map(|by_course| by_course.get(&course))
        .map(HashSet::len)
        .sum()
}

#[tokio::test]
async fn a_decided_ticket_leaves_its_line_and_the_course_index() {
    let ev = events(4);
    let mut s7 = ev.open(7, [7; 32], &[ticket(42, 110)]).unwrap();
    read(&s7, 0, 110);
    ev.deliver(enrolled(7, 110).as_bytes());
    assert!(matches!(s7.next().await, Some(Event::Ticket(_))));
    // Its turn: the ticket leaves the line, and no place follows its
    // decision.
    assert_eq!(beat(&ev), 0);
    assert!(s7.line(|l| l.is_empty()).unwrap());
    // The index lets go of it when its share next looks at the course.
    assert_eq!(following(&ev, 42), 1);
    ev.deliver(enrolled(1, 111).as_bytes());
    beat(&ev);
    assert_eq!(following(&ev, 42), 0);
    // So does a closed stream's entry.
    let s8 = ev.open(8, [8; 32], &[ticket(42, 130)]).unwrap();
    drop(s8);
    assert_eq!(following(&ev, 42), 1);
    ev.deliver(enrolled(1, 112).as_bytes());
    beat(&ev);
    assert_eq!(following(&ev, 42), 0);
    assert!(s7.line(|l| l.is_empty()).unwrap());
}
