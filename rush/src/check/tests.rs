use super::*;
use crate::mix::{CourseSpec, Group, Kind, SLOTS};

/// Course 0: hot, slot 0, 2 seats. Course 1: normal, slot 1, 5 seats.
/// Student 2 is in the clash group (slot 0 ineligible).
fn mix() -> Mix {
    let course = |kind, slot: usize, capacity| CourseSpec {
        code: format!("C{slot}"),
        kind,
        credits: 3,
        capacity,
        meetings: SLOTS[slot].to_vec(),
    };
    Mix {
        courses: vec![
            course(Kind::Hot { slot: 0 }, 0, 2),
            course(Kind::Normal { slot: 1 }, 1, 5),
        ],
        groups: vec![Group::Plain, Group::Plain, Group::Clash, Group::Plain],
        pre: vec![],
        rush: vec![],
    }
}

const COURSES: [i64; 2] = [100, 101];
const STUDENTS: [i64; 4] = [10, 11, 12, 13];

fn facts(mix: &Mix) -> Facts<'_> {
    Facts {
        mix,
        course_ids: &COURSES,
        student_ids: &STUDENTS,
        credit_limit: 18,
    }
}

fn t(
    course_id: i64,
    seq: i64,
    student_id: i64,
    status: &str,
    reason: Option<&str>,
) -> IssuedTicket {
    IssuedTicket {
        course_id,
        seq,
        student_id,
        status: status.into(),
        reason: reason.map(str::to_string),
        decided_ms: None,
    }
}

fn row(student: i64, course: i64, ticket: &str) -> EnrollmentRow {
    (student, course, Some(ticket.into()))
}

#[test]
fn seat_counts_flag_oversold_and_drifted_courses() {
    assert!(seat_counts(&[(1, 10, 10, 10)]).is_empty());
    assert_eq!(seat_counts(&[(1, 10, 11, 11)]).len(), 1);
    assert_eq!(seat_counts(&[(1, 10, 9, 10)]).len(), 1);
}

#[test]
fn student_rules_flag_clashes_and_credit_overflow() {
    let m = mix();
    let f = facts(&m);
    assert!(student_rules(&f, &[row(10, 100, "a"), row(10, 101, "b")]).is_empty());
    let mut clashing = m.clone();
    clashing.courses[1].meetings = SLOTS[0].to_vec();
    let v = student_rules(&facts(&clashing), &[row(10, 100, "a"), row(10, 101, "b")]);
    assert!(v[0].contains("clashing"), "{v:?}");
    let mut heavy = m.clone();
    heavy.courses[1].credits = 16;
    let v = student_rules(&facts(&heavy), &[row(10, 100, "a"), row(10, 101, "b")]);
    assert!(v[0].contains("19 credits"), "{v:?}");
}

/// The earliest eligible tickets win: student 12 is ineligible for course 100.
fn good_tickets() -> (Vec<IssuedTicket>, Vec<EnrollmentRow>) {
    let tickets = vec![
        t(100, 1, 12, "rejected", Some("schedule_conflict")),
        t(100, 2, 10, "enrolled", None),
        t(100, 3, 11, "enrolled", None),
        t(100, 4, 13, "rejected", Some("course_full")),
        t(101, 7, 10, "enrolled", None),
    ];
    let rows = vec![
        row(10, 100, "100-2"),
        row(11, 100, "100-3"),
        row(10, 101, "101-7"),
    ];
    (tickets, rows)
}

#[test]
fn queue_order_accepts_the_earliest_eligible_winners() {
    let m = mix();
    let (tickets, rows) = good_tickets();
    assert_eq!(
        queue_order(&facts(&m), &tickets, &rows),
        Vec::<String>::new()
    );
}

#[test]
fn queue_order_flags_a_late_winner_and_an_ineligible_one() {
    let m = mix();
    let (mut tickets, mut rows) = good_tickets();
    // Student 13 (seq 4) won instead of student 11 (seq 3).
    tickets[2].status = "rejected".into();
    tickets[3].status = "enrolled".into();
    rows[1] = row(13, 100, "100-4");
    let v = queue_order(&facts(&m), &tickets, &rows);
    assert_eq!(v.len(), 2, "winners and rows both wrong: {v:?}");
    assert!(
        v[0].contains("course 100: 2 winners") && v[0].contains("2 differ"),
        "{v:?}"
    );
    assert!(v[1].contains("rows do not hold"), "{v:?}");

    let (mut tickets, rows) = good_tickets();
    tickets[0].reason = Some("credit_limit".into());
    let v = queue_order(&facts(&m), &tickets, &rows);
    assert!(
        v[0].contains("expected rejected schedule_conflict"),
        "{v:?}"
    );
}

#[test]
fn all_decided_flags_undecided_and_contradicted_tickets() {
    let (tickets, rows) = good_tickets();
    let told = vec![
        ("100-2".to_string(), Some("enrolled".to_string())),
        ("100-4".to_string(), Some("rejected".to_string())),
    ];
    assert!(all_decided(&told, &tickets, &rows).is_empty());
    let told = vec![
        ("100-2".to_string(), None),
        ("100-4".to_string(), Some("enrolled".to_string())),
    ];
    let mut issued = tickets.clone();
    issued[4].status = "queued".into();
    assert_eq!(all_decided(&told, &issued, &rows).len(), 3);
}

#[test]
fn parses_redis_ticket_entries() {
    assert_eq!(
        parse_ticket_entry(5, "17", "42|rejected|course_full"),
        Some(t(5, 17, 42, "rejected", Some("course_full")))
    );
    assert_eq!(
        parse_ticket_entry(5, "18", "43|enrolled|"),
        Some(t(5, 18, 43, "enrolled", None))
    );
    assert_eq!(parse_ticket_entry(5, "x", "43|enrolled|"), None);
    // Decided tickets carry the decision time.
    let decided = parse_ticket_entry(5, "19", "44|rejected|credit_limit|1795619507697").unwrap();
    assert_eq!(decided.reason.as_deref(), Some("credit_limit"));
    assert_eq!(decided.decided_ms, Some(1_795_619_507_697));
    let enrolled = parse_ticket_entry(5, "20", "45|enrolled||1795619507698").unwrap();
    assert_eq!(
        (enrolled.reason, enrolled.decided_ms),
        (None, Some(1_795_619_507_698))
    );
}
