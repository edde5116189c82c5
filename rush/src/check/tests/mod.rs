use super::*;
use crate::mix::{BlockSpec, Cohort, CourseSpec, Group, Kind, PHASES, SLOTS};

/// Course 0: hot, slot 0, 2 seats. Course 1: normal, slot 1, 5 seats.
/// Student 2 is in the clash group (slot 0 ineligible).
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
            course(Kind::Normal { slot: 1 }, 1, 5),
        ],
        groups: vec![Group::Plain, Group::Plain, Group::Clash, Group::Plain],
        pre: vec![],
        rush: vec![],
        cohorts: None,
        phases: vec![],
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
    (student, course, Some(ticket.into()), None)
}

fn row_in(student: i64, course: i64, ticket: &str, block: &str) -> EnrollmentRow {
    (student, course, Some(ticket.into()), Some(block.into()))
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

fn cohort(year: i16, department: &str) -> Cohort {
    Cohort {
        year,
        department: department.into(),
    }
}

/// Course 100 (hot, slot 0) has 3 seats, one reserved for CS majors.
/// Students 10, 11, 12 (clash group), 14 are EE; 13 is CS.
fn blocked_mix() -> Mix {
    let mut m = mix();
    m.courses[0].capacity = 3;
    m.courses[0].department = "CS".into();
    m.courses[0].blocks = vec![BlockSpec {
        name: "majors".into(),
        seats: 1,
        departments: vec!["CS".into()],
    }];
    m.groups.push(Group::Plain);
    m.cohorts = Some(vec![
        cohort(2, "EE"),
        cohort(2, "EE"),
        cohort(2, "EE"),
        cohort(3, "CS"),
        cohort(4, "EE"),
    ]);
    m
}

const FIVE: [i64; 5] = [10, 11, 12, 13, 14];

fn blocked_tickets() -> (Vec<IssuedTicket>, Vec<EnrollmentRow>) {
    let tickets = vec![
        t(100, 1, 10, "enrolled", None),
        t(100, 2, 12, "rejected", Some("schedule_conflict")),
        t(100, 3, 11, "enrolled", None),
        // The pool is gone; the block's seat is not for EE.
        t(100, 4, 14, "rejected", Some("course_full")),
        t(100, 5, 13, "enrolled", None),
    ];
    let rows = vec![
        row(10, 100, "100-1"),
        row(11, 100, "100-3"),
        row_in(13, 100, "100-5", "majors"),
    ];
    (tickets, rows)
}

#[test]
fn queue_order_gives_majors_their_block_and_the_rest_the_pool() {
    let m = blocked_mix();
    let f = Facts {
        student_ids: &FIVE,
        ..facts(&m)
    };
    let (tickets, rows) = blocked_tickets();
    assert_eq!(queue_order(&f, &tickets, &rows), Vec::<String>::new());

    // The major's seat recorded as the pool's.
    let (tickets, mut rows) = blocked_tickets();
    rows[2].3 = None;
    let v = queue_order(&f, &tickets, &rows);
    assert!(v.len() == 1 && v[0].contains("expected blocks"), "{v:?}");

    // The EE student took the reserved seat.
    let (mut tickets, mut rows) = blocked_tickets();
    tickets[3].status = "enrolled".into();
    tickets[4].status = "rejected".into();
    rows[2] = row_in(14, 100, "100-4", "majors");
    let v = queue_order(&f, &tickets, &rows);
    assert_eq!(v.len(), 2, "{v:?}");
    assert!(
        v[0].contains("3 winners") && v[0].contains("2 differ"),
        "{v:?}"
    );
}

#[test]
fn block_counts_flag_overfull_and_drifted_blocks_and_pools() {
    let block = |seats, enrolled, rows| (100, "majors".to_string(), seats, enrolled, rows);
    assert!(block_counts(&[block(12, 12, 12)], &[(100, 40, 12, 28, 28)]).is_empty());
    let v = block_counts(&[block(12, 13, 13), block(12, 5, 6)], &[]);
    assert_eq!(v.len(), 2, "{v:?}");
    assert!(v[0].contains("13 enrolled > 12 seats"), "{v:?}");
    assert!(v[1].contains("5 enrolled but has 6 rows"), "{v:?}");
    let v = block_counts(&[], &[(100, 40, 12, 29, 29), (101, 40, 12, 20, 21)]);
    assert_eq!(v.len(), 2, "{v:?}");
    assert!(
        v[0].contains("29 in its open pool > capacity 40 - reserved 12"),
        "{v:?}"
    );
    assert!(
        v[1].contains("20 in its open pool but has 21 pool rows"),
        "{v:?}"
    );
}

fn audit_of(t: &IssuedTicket, block: Option<&str>) -> AuditRow {
    (
        Some(t.id()),
        t.status.clone(),
        Some(t.student_id),
        Some(t.course_id),
        block.map(str::to_string),
    )
}

fn good_audit() -> (Vec<IssuedTicket>, Vec<EnrollmentRow>, Vec<AuditRow>) {
    let (tickets, rows) = blocked_tickets();
    let audit = tickets
        .iter()
        .map(|t| audit_of(t, (t.seq == 5).then_some("majors")))
        .collect();
    (tickets, rows, audit)
}

#[test]
fn audit_trail_holds_one_row_per_decision_and_seat() {
    let (tickets, rows, audit) = good_audit();
    assert_eq!(
        audit_trail(&tickets, &rows, &audit, true),
        Vec::<String>::new()
    );

    // A decision written twice, one missing.
    let (tickets, rows, mut audit) = good_audit();
    audit[1] = audit[0].clone();
    let v = audit_trail(&tickets, &rows, &audit, true);
    assert_eq!(v.len(), 2, "{v:?}");
    assert!(v[0].contains("ticket 100-1 has 2 audit rows"), "{v:?}");
    assert!(
        v[1].contains("ticket 100-2 was rejected but has no audit row"),
        "{v:?}"
    );

    // Audited as the wrong outcome, and a seat audited from the pool.
    let (tickets, rows, mut audit) = good_audit();
    audit[3].1 = "enrolled".into();
    audit[4].4 = None;
    let v = audit_trail(&tickets, &rows, &audit, true);
    assert_eq!(v.len(), 2, "{v:?}");
    assert!(
        v[0].contains("100-4 was rejected but its audit row says enrolled"),
        "{v:?}"
    );
    assert!(
        v[1].contains("enrollment 100-5") && v[1].contains("block None"),
        "{v:?}"
    );

    // A row for a ticket nobody was issued: wrong only when the issued
    // tickets are all known (read from Redis).
    let (tickets, rows, mut audit) = good_audit();
    audit.push((
        Some("100-9".into()),
        "rejected".into(),
        Some(10),
        Some(100),
        None,
    ));
    assert!(audit_trail(&tickets, &rows, &audit, false).is_empty());
    let v = audit_trail(&tickets, &rows, &audit, true);
    assert!(
        v.len() == 1 && v[0].contains("100-9, which was never issued"),
        "{v:?}"
    );

    // An enrollment whose ticket the tool never saw, with no audit row.
    let (tickets, mut rows, audit) = good_audit();
    rows.push(row(14, 101, "101-3"));
    let v = audit_trail(&tickets, &rows, &audit, false);
    assert!(
        v.len() == 1 && v[0].contains("101-3 has no enrolled audit row"),
        "{v:?}"
    );
}

#[test]
fn phase_gate_lets_in_only_open_years_and_refuses_the_rest() {
    let mut m = blocked_mix();
    m.phases = PHASES.to_vec();
    // Student 10 is year 1 (no open phase); the others years 2-4.
    m.cohorts.as_mut().unwrap()[0].year = 1;
    m.rush = vec![(0, 0), (0, 1), (1, 0), (3, 1)];
    let f = Facts {
        student_ids: &FIVE,
        ..facts(&m)
    };
    let refused = |pairs: &[(&str, usize)]| -> BTreeMap<String, usize> {
        pairs.iter().map(|&(k, n)| (k.to_string(), n)).collect()
    };
    let fine = [
        t(100, 3, 11, "enrolled", None),
        t(101, 1, 13, "enrolled", None),
    ];
    let two = refused(&[("403 not_your_phase", 2), ("409 course_full", 7)]);
    assert!(phase_gate(&f, &fine, &two, 0).is_empty());
    // One answer lost to a request error is no violation; one too few is.
    let one = refused(&[("403 not_your_phase", 1)]);
    assert!(phase_gate(&f, &fine, &one, 1).is_empty());
    assert_eq!(phase_gate(&f, &fine, &one, 0).len(), 1);
    let three = refused(&[("403 not_your_phase", 3)]);
    assert!(phase_gate(&f, &fine, &three, 0)[0].contains("3 requests"));
    // A ticket for the year-1 student.
    let v = phase_gate(&f, &[t(100, 1, 10, "enrolled", None)], &two, 0);
    assert!(
        v.len() == 1 && v[0].contains("student 10 has no open phase"),
        "{v:?}"
    );
    let closed = refused(&[("403 not_your_phase", 2), ("403 registration_closed", 1)]);
    assert!(phase_gate(&f, &fine, &closed, 0)[0].contains("registration_closed"));
    // Without phases nobody may be refused so.
    let d = mix();
    let f = facts(&d);
    assert!(phase_gate(&f, &fine, &BTreeMap::new(), 0).is_empty());
    assert_eq!(phase_gate(&f, &fine, &two, 0).len(), 1);
}

/// Invariant 8 (`check/waitlist.rs`).
mod waitlist_checks;
