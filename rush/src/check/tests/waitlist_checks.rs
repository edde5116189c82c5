//! Invariant 8 (`check/waitlist.rs`): waitlist promotions and cancels.

use super::*;
use crate::check::waitlist::*;

fn ev(id: i64, kind: &str, student: i64, course: i64) -> EventRow {
    (id, kind.into(), Some(student), Some(course), None, None)
}

fn won(id: i64, student: i64, course: i64, ticket: &str) -> EventRow {
    (
        id,
        "enrolled".into(),
        Some(student),
        Some(course),
        Some(ticket.into()),
        None,
    )
}

#[test]
fn promotions_in_waitlist_order_after_cancels_pass() {
    let events = vec![
        ev(1, "waitlisted", 12, 100),
        ev(2, "waitlisted", 13, 100),
        ev(3, "cancelled", 10, 100),
        ev(4, "waitlist_promoted", 12, 100),
        ev(5, "cancelled", 11, 100),
        ev(6, "waitlist_promoted", 13, 100),
    ];
    assert_eq!(promotion_order(&events), Vec::<String>::new());
}

#[test]
fn a_promotion_out_of_order_or_without_a_cancel_is_reported() {
    let events = vec![
        ev(1, "waitlisted", 12, 100),
        ev(2, "waitlisted", 13, 100),
        ev(3, "cancelled", 10, 100),
        ev(4, "waitlist_promoted", 13, 100),
        ev(5, "cancelled", 11, 100),
        ev(6, "waitlist_promoted", 12, 100),
        ev(7, "waitlist_promoted", 11, 101),
    ];
    let v = promotion_order(&events);
    assert_eq!(v.len(), 3, "{v:?}");
    assert!(v[0].contains("student 12") && v[0].contains("after student 13"));
    assert!(v[1].contains("after only 0 cancels"));
    assert!(v[2].contains("without joining"));
}

#[test]
fn students_skipped_or_gone_do_not_count_for_the_order() {
    let events = vec![
        ev(1, "waitlisted", 12, 100),
        ev(2, "waitlisted", 13, 100),
        ev(3, "waitlist_left", 12, 100),
        ev(4, "waitlisted", 12, 100),
        ev(5, "cancelled", 10, 100),
        ev(6, "waitlist_promoted", 13, 100),
        ev(7, "cancelled", 11, 100),
        ev(8, "waitlist_promoted", 12, 100),
    ];
    assert_eq!(promotion_order(&events), Vec::<String>::new());
}

#[test]
fn a_free_seat_with_a_waitlisted_student_who_could_take_it_is_reported() {
    let m = mix();
    let f = facts(&m);
    // Course 100 (slot 0): one seat free, student 13 waiting, holding
    // only course 101 (slot 1): could take it.
    let seats = [(100, 2, 1, 0), (101, 5, 1, 0)];
    let rows = [row(10, 100, "100-1"), row(13, 101, "101-1")];
    let v = idle_seats(&f, &seats, &[(100, 13)], &rows);
    assert_eq!(v.len(), 1, "{v:?}");
    // Full, or the seat withheld: nothing to say.
    assert!(idle_seats(&f, &[(100, 2, 2, 0)], &[(100, 13)], &rows).is_empty());
    assert!(idle_seats(&f, &[(100, 2, 1, 1)], &[(100, 13)], &rows).is_empty());
}

#[test]
fn a_free_seat_nobody_waiting_may_take_is_fine() {
    let mut m = mix();
    // Student 13 holds a clashing course in slot 0's timetable.
    m.courses.push(CourseSpec {
        code: "X".into(),
        kind: Kind::Seminar,
        credits: 3,
        capacity: 5,
        meetings: SLOTS[0].to_vec(),
        department: "RUSH".into(),
        blocks: vec![],
    });
    let courses = [100, 101, 102];
    let f = Facts {
        mix: &m,
        course_ids: &courses,
        student_ids: &STUDENTS,
        credit_limit: 18,
    };
    let rows = [row(13, 102, "102-1")];
    assert!(idle_seats(&f, &[(100, 2, 1, 0)], &[(100, 13)], &rows).is_empty());
}

#[test]
fn one_audit_row_per_join_cancel_and_promotion() {
    let events = vec![
        ev(1, "waitlisted", 12, 100),
        ev(2, "cancelled", 10, 100),
        ev(3, "waitlist_promoted", 12, 100),
    ];
    let rows = [(12, 100, None, None), row(11, 100, "100-2")];
    let ok = churn_audit(&[(12, 100)], &[(10, 100)], &events, &rows, &[], true);
    assert_eq!(ok, Vec::<String>::new());
    // A second cancelled row; a cancel nobody made; promoted but no row;
    // still on the list while holding the course.
    let mut twice = events.clone();
    twice.push(ev(4, "cancelled", 10, 100));
    twice.push(ev(5, "cancelled", 11, 101));
    let v = churn_audit(
        &[(12, 100)],
        &[(10, 100)],
        &twice,
        &rows,
        &[(100, 11)],
        true,
    );
    assert_eq!(v.len(), 3, "{v:?}");
    let v = churn_audit(&[(12, 100)], &[(10, 100)], &events, &rows[1..], &[], true);
    assert_eq!(v.len(), 1, "{v:?}");
    assert!(v[0].contains("holds no ticket-less row"));
}

#[test]
fn cancelled_tickets_count_as_won_and_the_first_eligible_must_win() {
    let m = mix();
    let f = facts(&m);
    // Course 100, 2 seats: 10 and 11 win, 10 cancels, 13's later ticket
    // takes the freed seat (nobody waiting).
    let issued = [
        t(100, 1, 10, "enrolled", None),
        t(100, 2, 11, "enrolled", None),
        t(100, 3, 12, "rejected", Some("schedule_conflict")),
        t(100, 4, 13, "enrolled", None),
    ];
    let events = vec![
        won(1, 10, 100, "100-1"),
        won(2, 11, 100, "100-2"),
        ev(3, "cancelled", 10, 100),
        won(4, 13, 100, "100-4"),
    ];
    let rows = [row(11, 100, "100-2"), row(13, 100, "100-4")];
    let all = ticket_rows(&rows, &events);
    assert_eq!(all.len(), 3);
    // Redis shows the cancelled ticket so; with its cancel audited it
    // counts as enrolled.
    let mut shown = issued.to_vec();
    shown[0].status = "cancelled".into();
    assert_eq!(uncancel(&shown, &events), issued.to_vec());
    assert_eq!(uncancel(&shown, &events[..2])[0].status, "cancelled");
    assert_eq!(
        queue_order_with_cancels(&f, &issued, &all, &events),
        Vec::<String>::new()
    );
    // Without the cancel, three winners are one too many; and the
    // rows no longer hold ticket 100-1.
    let v = queue_order_with_cancels(&f, &issued, &all, &events[..2]);
    assert_eq!(v.len(), 1, "{v:?}");
    let v = queue_order_with_cancels(&f, &issued, &rows, &events);
    assert_eq!(v.len(), 1, "{v:?}");
    // An early eligible ticket rejected, an ineligible one enrolled.
    let bad = [
        t(100, 1, 10, "rejected", Some("course_full")),
        t(100, 2, 11, "enrolled", None),
        t(100, 3, 12, "enrolled", None),
    ];
    let rows = [row(11, 100, "100-2"), row(12, 100, "100-3")];
    let v = queue_order_with_cancels(&f, &bad, &rows, &[]);
    assert_eq!(v.len(), 2, "{v:?}");
}
