use super::*;
use crate::mix::{CourseSpec, Group, Kind, Mix, SLOTS};

/// Course 0 (id 100): hot, slot 0, 2 seats. Course 1 (id 101): normal,
/// slot 1, 3 seats. Course 2 (id 102): a seminar clashing with slot 0,
/// held by student 2 (id 12) before the cart.
fn mix() -> Mix {
    let course = |kind, slot: usize, capacity| CourseSpec {
        code: format!("C{slot}"),
        kind,
        credits: 3,
        capacity,
        meetings: SLOTS[slot].to_vec(),
        department: "RUSH".into(),
        blocks: vec![],
    };
    Mix {
        courses: vec![
            course(Kind::Hot { slot: 0 }, 0, 2),
            course(Kind::Normal { slot: 1 }, 1, 3),
            course(Kind::Seminar, 0, 10),
        ],
        groups: vec![Group::Plain, Group::Plain, Group::Clash, Group::Plain],
        pre: vec![(2, 2)],
        rush: vec![(0, 1), (2, 1), (3, 1)],
        cohorts: None,
        phases: vec![],
    }
}

const COURSES: [i64; 3] = [100, 101, 102];
const STUDENTS: [i64; 4] = [10, 11, 12, 13];
const SEED: i64 = 42;

fn facts(mix: &Mix) -> Facts<'_> {
    Facts {
        mix,
        course_ids: &COURSES,
        student_ids: &STUDENTS,
        credit_limit: 18,
    }
}

fn nos() -> Vec<String> {
    (0..4).map(|i| format!("S{i}")).collect()
}

/// Everybody wants course 0 (student 2 clashes with it); students 0 and 1
/// want course 1.
const ITEMS: [(usize, usize); 6] = [(0, 0), (1, 0), (2, 0), (3, 0), (0, 1), (1, 1)];

fn carts(nos: &[String], lottery: bool) -> Carts<'_> {
    Carts {
        items: &ITEMS,
        student_nos: nos,
        seed: SEED,
        lottery,
    }
}

/// The audit rows and ticket-less enrollment rows a server settling as
/// `e` says would write.
fn written(e: &Expected, seed: i64) -> (Vec<CartEvent>, Vec<EnrollmentRow>) {
    let mut events = Vec::new();
    let mut rows = Vec::new();
    for (&(s, c), &drawn) in &e.seats {
        events.push(enrolled(s, c, drawn));
        rows.push((s, c, None, None));
    }
    for (&(s, c), &r) in &e.skipped {
        events.push((
            "cart_skipped".into(),
            Some(s),
            Some(c),
            Some(r.into()),
            None,
        ));
    }
    for (&c, settled) in &e.courses {
        if let Settled::Drawn(order) = settled {
            events.push(drawn_row(c, seed, order));
        }
    }
    (events, rows)
}

fn enrolled(s: i64, c: i64, drawn: bool) -> CartEvent {
    (
        "cart_enrolled".into(),
        Some(s),
        Some(c),
        None,
        Some(format!("{{\"drawn\": {drawn}}}")),
    )
}

fn drawn_row(c: i64, seed: i64, order: &[String]) -> CartEvent {
    let detail = serde_json::json!({"seed": seed, "order": order, "key": "sha256(seed:course_id:student_no)"});
    (
        "lottery_drawn".into(),
        None,
        Some(c),
        None,
        Some(detail.to_string()),
    )
}

#[test]
fn the_draw_key_is_the_servers_documented_hash() {
    // printf '%s' '42:7:2024001' | sha256sum (the server's own test vector)
    assert_eq!(
        draw_key(42, 7, "2024001"),
        "dc74ab201797a172e54b5f936b6b68a7c286e7c572a23b78383a618e3d3cc6d9"
    );
    let order = draw_order(SEED, 100, ["S0", "S1", "S3"]);
    let mut keys: Vec<String> = order.iter().map(|n| draw_key(SEED, 100, n)).collect();
    let sorted = {
        let mut k = keys.clone();
        k.sort();
        k
    };
    assert_eq!(keys, sorted, "ascending by key");
    keys.dedup();
    assert_eq!(keys.len(), 3);
}

#[test]
fn fit_courses_seat_everyone_and_over_demanded_ones_draw_their_seats() {
    let (m, nos) = (mix(), nos());
    let e = expected(&facts(&m), &carts(&nos, true));
    // Student 2 clashes with course 100 through the seminar held before.
    assert_eq!(
        e.skipped.into_iter().collect::<Vec<_>>(),
        vec![((12, 100), "schedule_conflict")]
    );
    let order = draw_order(SEED, 100, ["S0", "S1", "S3"]);
    assert_eq!(e.courses[&100], Settled::Drawn(order.clone()));
    assert_eq!(e.courses[&101], Settled::Fit);
    let id = |no: &str| STUDENTS[no[1..].parse::<usize>().unwrap()];
    let mut seats: Vec<(i64, i64, bool)> = e.seats.iter().map(|(&(s, c), &d)| (s, c, d)).collect();
    seats.sort();
    let mut want = vec![
        (id(&order[0]), 100, true),
        (id(&order[1]), 100, true),
        (10, 101, false),
        (11, 101, false),
    ];
    want.sort();
    assert_eq!(seats, want);
    // Without the lottery the hot course gives no cart seat.
    let rush = expected(&facts(&m), &carts(&nos, false));
    assert_eq!(rush.courses[&100], Settled::LeftToRush);
    assert_eq!(rush.seats.len(), 2);
}

#[test]
fn settlement_accepts_the_close_the_rules_make() {
    let (m, nos) = (mix(), nos());
    let c = carts(&nos, true);
    let e = expected(&facts(&m), &c);
    let (events, rows) = written(&e, SEED);
    assert_eq!(settlement(&c, &e, &events, &rows), Vec::<String>::new());
}

#[test]
fn settlement_flags_a_lottery_winner_outside_the_drawn_order() {
    let (m, nos) = (mix(), nos());
    let c = carts(&nos, true);
    let e = expected(&facts(&m), &c);
    let Settled::Drawn(order) = &e.courses[&100] else {
        panic!()
    };
    let id = |no: &str| STUDENTS[no[1..].parse::<usize>().unwrap()];
    let (loser, winner) = (id(&order[2]), id(&order[1]));
    let (mut events, mut rows) = written(&e, SEED);
    // The third drawn got the second's seat.
    for ev in events.iter_mut().filter(|ev| ev.0 == "cart_enrolled") {
        if ev.1 == Some(winner) && ev.2 == Some(100) {
            ev.1 = Some(loser);
        }
    }
    for r in rows.iter_mut().filter(|r| r.0 == winner && r.1 == 100) {
        r.0 = loser;
    }
    let v = settlement(&c, &e, &events, &rows);
    assert_eq!(v.len(), 1, "{v:?}");
    assert!(
        v[0].contains("inv9a: course 100") && v[0].contains("not the first 2 of the 3 drawn"),
        "{v:?}"
    );
}

#[test]
fn settlement_flags_a_published_order_that_is_not_the_seeds() {
    let (m, nos) = (mix(), nos());
    let c = carts(&nos, true);
    let e = expected(&facts(&m), &c);
    let (mut events, rows) = written(&e, SEED);
    let Settled::Drawn(order) = &e.courses[&100] else {
        panic!()
    };
    let mut reversed = order.clone();
    reversed.reverse();
    let i = events
        .iter()
        .position(|ev| ev.0 == "lottery_drawn")
        .unwrap();
    events[i] = drawn_row(100, SEED, &reversed);
    let v = settlement(&c, &e, &events, &rows);
    assert!(
        v.len() == 1 && v[0].contains("inv9b") && v[0].contains("published order"),
        "{v:?}"
    );
    // A draw published under another seed.
    events[i] = drawn_row(100, SEED + 1, order);
    let v = settlement(&c, &e, &events, &rows);
    assert!(
        v.len() == 1 && v[0].contains("published seed is 43"),
        "{v:?}"
    );
}

#[test]
fn settlement_flags_a_fitting_course_that_left_a_cart_student_out() {
    let (m, nos) = (mix(), nos());
    let c = carts(&nos, true);
    let e = expected(&facts(&m), &c);
    let (mut events, mut rows) = written(&e, SEED);
    events.retain(|ev| !(ev.0 == "cart_enrolled" && ev.1 == Some(11) && ev.2 == Some(101)));
    rows.retain(|r| !(r.0 == 11 && r.1 == 101));
    let v = settlement(&c, &e, &events, &rows);
    assert!(
        v.len() == 1
            && v[0].contains("fit its seats")
            && v[0].contains("1 of them got no cart seat"),
        "{v:?}"
    );
}

#[test]
fn settlement_flags_seats_without_their_audit_row_and_wrong_skips() {
    let (m, nos) = (mix(), nos());
    let c = carts(&nos, true);
    let e = expected(&facts(&m), &c);
    let (events, mut rows) = written(&e, SEED);
    // A second ticket-less seat that no audit row explains.
    rows.push((10, 101, None, None));
    let v = settlement(&c, &e, &events, &rows);
    assert!(
        v.len() == 1 && v[0].contains("inv9c: student 10 holds course 101"),
        "{v:?}"
    );
    let (mut events, rows) = written(&e, SEED);
    let i = events.iter().position(|ev| ev.0 == "cart_skipped").unwrap();
    events[i].3 = Some("credit_limit".into());
    let v = settlement(&c, &e, &events, &rows);
    assert!(
        v.len() == 1 && v[0].contains("expected schedule_conflict"),
        "{v:?}"
    );
}

#[test]
fn settlement_flags_cart_seats_in_a_course_left_to_the_rush() {
    let (m, nos) = (mix(), nos());
    let c = carts(&nos, false);
    let e = expected(&facts(&m), &c);
    let (mut events, mut rows) = written(&e, SEED);
    assert_eq!(settlement(&c, &e, &events, &rows), Vec::<String>::new());
    events.push(enrolled(10, 100, true));
    rows.push((10, 100, None, None));
    let v = settlement(&c, &e, &events, &rows);
    assert!(v.len() == 1 && v[0].contains("left to the rush"), "{v:?}");
}

/// Students 0 and 1 hold course 101 (3 seats) from the cart: one seat is
/// left for the rush. Student 0 asks for it again.
fn after_cart() -> (Vec<IssuedTicket>, Vec<EnrollmentRow>) {
    let t = |seq, student, status: &str, reason: Option<&str>| IssuedTicket {
        course_id: 101,
        seq,
        student_id: student,
        status: status.into(),
        reason: reason.map(str::to_string),
        decided_ms: None,
    };
    let tickets = vec![
        t(1, 10, "rejected", Some("already_enrolled")),
        t(2, 12, "enrolled", None),
        t(3, 13, "rejected", Some("course_full")),
    ];
    let rows = vec![
        (10, 101, None, None),
        (11, 101, None, None),
        (12, 101, Some("101-2".into()), None),
    ];
    (tickets, rows)
}

#[test]
fn the_rush_after_the_cart_counts_the_seats_it_gave() {
    let m = mix();
    let f = facts(&m);
    let (tickets, rows) = after_cart();
    let none = BTreeMap::new();
    assert_eq!(
        rush_after_cart(&f, &tickets, &rows, &none, 0),
        Vec::<String>::new()
    );
    // A second rush winner where the cart left one seat.
    let (mut tickets, mut rows) = after_cart();
    tickets[2].status = "enrolled".into();
    tickets[2].reason = None;
    rows.push((13, 101, Some("101-3".into()), None));
    let v = rush_after_cart(&f, &tickets, &rows, &none, 0);
    assert!(v.iter().any(|v| v.contains("inv4: course 101")), "{v:?}");
}

#[test]
fn a_cart_seat_asked_for_again_must_be_rejected_already_enrolled() {
    let m = mix();
    let f = facts(&m);
    let (mut tickets, rows) = after_cart();
    tickets[0].reason = Some("course_full".into());
    let v = rush_after_cart(&f, &tickets, &rows, &BTreeMap::new(), 0);
    assert!(
        v.len() == 1
            && v[0].contains("inv9d: ticket 101-1")
            && v[0].contains("expected rejected already_enrolled"),
        "{v:?}"
    );
    // Refused at once instead: course_full is the one answer that can be.
    let (mut tickets, rows) = after_cart();
    tickets.remove(0);
    let full = BTreeMap::from([("409 course_full".to_string(), 1)]);
    assert_eq!(
        rush_after_cart(&f, &tickets, &rows, &full, 0),
        Vec::<String>::new()
    );
    let v = rush_after_cart(&f, &tickets, &rows, &BTreeMap::new(), 0);
    assert!(
        v.len() == 1 && v[0].contains("1 requests for courses held"),
        "{v:?}"
    );
    let enrolled = BTreeMap::from([("409 already_enrolled".to_string(), 1)]);
    let v = rush_after_cart(&f, &tickets, &rows, &enrolled, 0);
    assert!(
        v.iter().any(|v| v.contains("409 already_enrolled")),
        "{v:?}"
    );
}
