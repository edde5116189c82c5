//! Invariant 8 (`--scenario waitlist`): waitlists and cancels during the
//! rush.
//!
//! a. Each course's promoted students (`waitlist_promoted`, in audit id
//!    order) joined its waitlist (their latest `waitlisted` row before it)
//!    in the same order — students skipped or who left aside — and each
//!    promotion follows a cancel of that course: no more promotions than
//!    `cancelled` rows, none before the first.
//! b. No course ends with a free seat while a student on its waitlist
//!    could take it (credit limit and timetable, from the rows they hold).
//! c. One audit row per change: a `waitlisted` row per join answered 201, a
//!    `cancelled` row per cancel answered 204, and the ticket-less
//!    enrollment rows are exactly the promoted students, each promoted once
//!    and off the list.
//! d. Invariant 4 with seats given back: each course's first `capacity`
//!    eligible tickets won (cancels only free seats, promotions only take
//!    freed ones), every winner was eligible, and no more won than
//!    `capacity` plus the course's cancels.
//!
//! Invariants 3 and 6 are run over [`ticket_rows`]: the rows tickets won,
//! cancelled ones included.

use std::collections::{BTreeMap, HashMap, HashSet};

use super::{index_of, EnrollmentRow, Facts, IssuedTicket};
use crate::mix::clashes;

/// An audit row: `(id, kind, student_id, course_id, ticket, block)`.
pub type EventRow = (
    i64,
    String,
    Option<i64>,
    Option<i64>,
    Option<String>,
    Option<String>,
);
/// A course's seats at the end: `(id, capacity, enrolled, withheld)`.
pub type SeatRow = (i64, i32, i32, i32);
/// A waitlist place at the end: `(course_id, student_id)`.
pub type PlaceRow = (i64, i64);

fn pair(e: &EventRow) -> Option<(i64, i64)> {
    Some((e.2?, e.3?))
}

/// The rows tickets won: the ticketed enrollment rows plus, for every
/// `cancelled` row, the ticket its `enrolled` row named.
pub fn ticket_rows(rows: &[EnrollmentRow], events: &[EventRow]) -> Vec<EnrollmentRow> {
    let mut out: Vec<EnrollmentRow> = rows.iter().filter(|r| r.2.is_some()).cloned().collect();
    let won: HashMap<(i64, i64), &EventRow> = events
        .iter()
        .filter(|e| e.1 == "enrolled" && e.4.is_some())
        .filter_map(|e| Some((pair(e)?, e)))
        .collect();
    for e in events.iter().filter(|e| e.1 == "cancelled") {
        if let Some(w) = pair(e).and_then(|p| won.get(&p)) {
            out.push((e.2.unwrap_or(0), e.3.unwrap_or(0), w.4.clone(), w.5.clone()));
        }
    }
    out
}

/// The issued tickets as admission decided them: a ticket Redis shows
/// `cancelled` was enrolled, when the audit trail has its student's
/// cancel of that course (else it stays as it is, and is reported).
pub fn uncancel(issued: &[IssuedTicket], events: &[EventRow]) -> Vec<IssuedTicket> {
    let cancelled: HashSet<(i64, i64)> = events
        .iter()
        .filter(|e| e.1 == "cancelled")
        .filter_map(pair)
        .collect();
    issued
        .iter()
        .map(|t| {
            let mut t = t.clone();
            if t.status == "cancelled" && cancelled.contains(&(t.student_id, t.course_id)) {
                t.status = "enrolled".into();
            }
            t
        })
        .collect()
}

/// A course's trail so far, for [`promotion_order`]: cancels, promotions,
/// and the last promoted student with the audit id of their join.
type Course = (usize, usize, Option<(i64, i64)>);

/// 8a.
pub fn promotion_order(events: &[EventRow]) -> Vec<String> {
    let mut v = Vec::new();
    let mut sorted: Vec<&EventRow> = events.iter().collect();
    sorted.sort_by_key(|e| e.0);
    let excused: HashSet<(i64, i64)> = sorted
        .iter()
        .filter(|e| e.1 == "waitlist_skipped" || e.1 == "waitlist_left")
        .filter_map(|e| pair(e))
        .collect();
    let mut joined_at: HashMap<(i64, i64), i64> = HashMap::new();
    let mut per_course: BTreeMap<i64, Course> = BTreeMap::new();
    for e in sorted {
        let Some((student, course)) = pair(e) else {
            continue;
        };
        let c = per_course.entry(course).or_default();
        match e.1.as_str() {
            "waitlisted" => {
                joined_at.insert((student, course), e.0);
            }
            "cancelled" => c.0 += 1,
            "waitlist_promoted" => {
                c.1 += 1;
                if c.1 > c.0 {
                    v.push(format!(
                        "inv8a: course {course}: promotion {} (student {student}, audit {}) after only {} cancels",
                        c.1, e.0, c.0
                    ));
                }
                let Some(&joined) = joined_at.get(&(student, course)) else {
                    v.push(format!(
                        "inv8a: student {student} was promoted in course {course} without joining its waitlist"
                    ));
                    continue;
                };
                if excused.contains(&(student, course)) {
                    continue;
                }
                if let Some((prev_student, prev_joined)) = c.2 {
                    if joined < prev_joined {
                        v.push(format!(
                            "inv8a: course {course}: student {student} (joined at audit {joined}) was promoted after student {prev_student} (joined at audit {prev_joined})"
                        ));
                    }
                }
                c.2 = Some((student, joined));
            }
            _ => {}
        }
    }
    v
}

/// 8b: `rows` are the enrollment rows at the end.
pub fn idle_seats(
    facts: &Facts,
    seats: &[SeatRow],
    waiting: &[PlaceRow],
    rows: &[EnrollmentRow],
) -> Vec<String> {
    let course_of = index_of(facts.course_ids);
    let mut held: HashMap<i64, Vec<usize>> = HashMap::new();
    for r in rows {
        if let Some(&c) = course_of.get(&r.1) {
            held.entry(r.0).or_default().push(c);
        }
    }
    let mut waiting_for: BTreeMap<i64, Vec<i64>> = BTreeMap::new();
    for &(course, student) in waiting {
        waiting_for.entry(course).or_default().push(student);
    }
    let mut v = Vec::new();
    for &(course, capacity, enrolled, withheld) in seats {
        let free = capacity - enrolled - withheld;
        let (Some(students), Some(&c), true) =
            (waiting_for.get(&course), course_of.get(&course), free > 0)
        else {
            continue;
        };
        let spec = &facts.mix.courses[c];
        let could = students.iter().filter(|s| {
            let mine = held.get(s).map(Vec::as_slice).unwrap_or(&[]);
            let credits: i32 = mine
                .iter()
                .map(|&m| facts.mix.courses[m].credits as i32)
                .sum();
            !mine.contains(&c)
                && credits + spec.credits as i32 <= facts.credit_limit
                && !mine
                    .iter()
                    .any(|&m| clashes(&facts.mix.courses[m].meetings, &spec.meetings))
        });
        let n = could.count();
        if n > 0 {
            v.push(format!(
                "inv8b: course {course} ends with {free} free seats while {n} waitlisted students could take one"
            ));
        }
    }
    v
}

/// 8c: `joined` and `cancelled` are `(student_id, course_id)` answered 201
/// and 204; with `exact` (every request was answered) no other join or
/// cancel may be audited.
pub fn churn_audit(
    joined: &[(i64, i64)],
    cancelled: &[(i64, i64)],
    events: &[EventRow],
    rows: &[EnrollmentRow],
    waiting: &[PlaceRow],
    exact: bool,
) -> Vec<String> {
    let mut v = Vec::new();
    let count = |kind: &str| {
        let mut n: HashMap<(i64, i64), usize> = HashMap::new();
        for e in events.iter().filter(|e| e.1 == kind) {
            if let Some(p) = pair(e) {
                *n.entry(p).or_default() += 1;
            }
        }
        n
    };
    for (kind, done) in [("waitlisted", joined), ("cancelled", cancelled)] {
        let mut audited = count(kind);
        for p in done {
            match audited.remove(p) {
                Some(1) => {}
                n => v.push(format!(
                    "inv8c: student {} course {}: {} {kind} audit rows for one change",
                    p.0,
                    p.1,
                    n.unwrap_or(0)
                )),
            }
        }
        if exact {
            let mut stray: Vec<_> = audited.into_keys().collect();
            stray.sort();
            for p in stray {
                v.push(format!(
                    "inv8c: a {kind} audit row for student {} course {} that nobody asked for",
                    p.0, p.1
                ));
            }
        }
    }
    let mut promoted = count("waitlist_promoted");
    for r in rows.iter().filter(|r| r.2.is_none()) {
        match promoted.remove(&(r.0, r.1)) {
            Some(1) => {}
            n => v.push(format!(
                "inv8c: student {} holds course {} without a ticket, with {} waitlist_promoted rows",
                r.0,
                r.1,
                n.unwrap_or(0)
            )),
        }
    }
    let mut stray: Vec<_> = promoted.into_keys().collect();
    stray.sort();
    for p in stray {
        v.push(format!(
            "inv8c: student {} was promoted in course {} but holds no ticket-less row",
            p.0, p.1
        ));
    }
    let held: HashSet<(i64, i64)> = rows.iter().map(|r| (r.0, r.1)).collect();
    for &(course, student) in waiting {
        if held.contains(&(student, course)) {
            v.push(format!(
                "inv8c: student {student} holds course {course} and is still on its waitlist"
            ));
        }
    }
    v
}

/// 8d: `ticket_rows` from [`ticket_rows`], `events` for the cancels.
pub fn queue_order_with_cancels(
    facts: &Facts,
    issued: &[IssuedTicket],
    ticket_rows: &[EnrollmentRow],
    events: &[EventRow],
) -> Vec<String> {
    let course_of = index_of(facts.course_ids);
    let student_of = index_of(facts.student_ids);
    let mut cancels: HashMap<i64, usize> = HashMap::new();
    for e in events.iter().filter(|e| e.1 == "cancelled") {
        if let Some(c) = e.3 {
            *cancels.entry(c).or_default() += 1;
        }
    }
    let mut by_course: BTreeMap<i64, Vec<&IssuedTicket>> = BTreeMap::new();
    for t in issued {
        by_course.entry(t.course_id).or_default().push(t);
    }
    let mut v = Vec::new();
    for (course_id, mut tickets) in by_course {
        let Some(&c) = course_of.get(&course_id) else {
            v.push(format!("inv8d: ticket for unknown course {course_id}"));
            continue;
        };
        tickets.sort_by_key(|t| t.seq);
        let mut left = facts.mix.seats_left(c);
        let mut must_win = Vec::new();
        let mut winners = HashSet::new();
        for t in &tickets {
            let Some(&s) = student_of.get(&t.student_id) else {
                v.push(format!("inv8d: ticket {} of unknown student", t.id()));
                continue;
            };
            let eligible = facts.mix.eligibility(s, c);
            if t.status == "enrolled" {
                winners.insert(t.id());
                if let Err(reason) = eligible {
                    v.push(format!(
                        "inv8d: ticket {} won though its student is ruled out ({reason})",
                        t.id()
                    ));
                }
            }
            if eligible.is_ok() && facts.mix.seat_for(s, c, &mut left).is_some() {
                must_win.push(t.id());
            }
        }
        let lost = must_win.iter().filter(|t| !winners.contains(*t)).count();
        if lost > 0 {
            v.push(format!(
                "inv8d: course {course_id}: {lost} of its first {} eligible tickets did not win",
                must_win.len()
            ));
        }
        let most =
            facts.mix.courses[c].capacity as usize + cancels.get(&course_id).copied().unwrap_or(0);
        if winners.len() > most {
            v.push(format!(
                "inv8d: course {course_id}: {} tickets won, more than capacity plus cancels ({most})",
                winners.len()
            ));
        }
        let in_db: HashSet<String> = ticket_rows
            .iter()
            .filter(|r| r.1 == course_id)
            .filter_map(|r| r.2.clone())
            .collect();
        if in_db != winners {
            v.push(format!(
                "inv8d: course {course_id}: the rows (cancelled ones included) do not hold its {} winning tickets",
                winners.len()
            ));
        }
    }
    v
}
