//! Invariants 1-7, checked against the database and the issued tickets.
//!
//! 1. `enrolled` never exceeds `capacity` and equals the course's rows.
//! 2. No student holds a course twice, nor more credits than the limit, nor
//!    two courses whose timetables clash.
//! 3. Every acknowledged ticket reached `enrolled` or `rejected`, and what the
//!    student was told matches the database.
//! 4. Each course's winners are exactly the eligible tickets that found a
//!    seat in queue (sequence) order — a block's seat for a student it
//!    admits while it has one, else the open pool's — each row holding the
//!    seat from that block or the pool (without blocks: the first
//!    `capacity` eligible tickets); ineligible tickets are rejected for the
//!    reason the rules give (or `course_full`).
//! 5. Each reserved block's `enrolled` equals its rows and never exceeds its
//!    seats; each course's `pooled` equals its open-pool rows and never
//!    exceeds `capacity - reserved`.
//! 6. The audit trail holds exactly one `enrolled` or `rejected` row per
//!    decided ticket, saying what the ticket says, and one `enrolled` row
//!    per enrollment row with a ticket, naming the same block.
//! 7. Only students with an open phase got a ticket in the rush, and every
//!    request of the others was answered 403 `not_your_phase`; nobody was
//!    told `registration_closed`.
//! 8. With `--scenario waitlist`: waitlist order, promotions only after
//!    cancels, no seat left idle while a waitlisted student could take it,
//!    one audit row per join, cancel and promotion ([`waitlist`]).
//! 9. With `--scenario cart`: the cart's close re-derived — demand that fit
//!    enrolled whole, draws re-run from the published seed, one audit row
//!    per cart seat — and the rush after it ([`cart`]).
//!
//! Each check is a pure function returning human-readable violations.

use std::collections::{BTreeMap, HashMap, HashSet};

use crate::mix::{clashes, Kind, Mix};

/// The workload and the ids the server gave it.
pub struct Facts<'a> {
    pub mix: &'a Mix,
    /// Mix course index -> server id.
    pub course_ids: &'a [i64],
    /// Mix student index -> server id.
    pub student_ids: &'a [i64],
    pub credit_limit: i32,
}

impl Facts<'_> {
    /// Server course id -> mix course index.
    pub fn course_index(&self) -> HashMap<i64, usize> {
        self.course_ids
            .iter()
            .enumerate()
            .map(|(i, &id)| (id, i))
            .collect()
    }
}

/// A course row: `(id, capacity, enrolled, number of enrollment rows)`.
pub type CourseRow = (i64, i32, i32, i64);
/// An enrollment row: `(student_id, course_id, ticket, block)`.
pub type EnrollmentRow = (i64, i64, Option<String>, Option<String>);
/// A reserved block: `(course_id, name, seats, enrolled, rows holding a seat
/// from it)`.
pub type BlockRow = (i64, String, i32, i32, i64);
/// A course's open pool: `(id, capacity, reserved, pooled, open-pool rows)`.
pub type PoolRow = (i64, i32, i32, i32, i64);
/// An admission decision in the audit trail: `(ticket, kind, student_id,
/// course_id, block)`.
pub type AuditRow = (
    Option<String>,
    String,
    Option<i64>,
    Option<i64>,
    Option<String>,
);

/// A ticket the server issued, with its final state.
#[derive(Debug, Clone, PartialEq)]
pub struct IssuedTicket {
    pub course_id: i64,
    pub seq: i64,
    pub student_id: i64,
    pub status: String,
    pub reason: Option<String>,
    /// When the server decided it (Unix ms, Redis's clock), if it says.
    pub decided_ms: Option<i64>,
}

impl IssuedTicket {
    /// The ticket id as the API shows it.
    pub fn id(&self) -> String {
        format!("{}-{}", self.course_id, self.seq)
    }
}

/// Invariant 1.
pub fn seat_counts(courses: &[CourseRow]) -> Vec<String> {
    let mut v = Vec::new();
    for &(id, capacity, enrolled, rows) in courses {
        if enrolled > capacity {
            v.push(format!(
                "inv1: course {id} has {enrolled} enrolled > capacity {capacity}"
            ));
        }
        if enrolled as i64 != rows {
            v.push(format!(
                "inv1: course {id} says {enrolled} enrolled but has {rows} rows"
            ));
        }
    }
    v
}

/// Invariant 2.
pub fn student_rules(facts: &Facts, rows: &[EnrollmentRow]) -> Vec<String> {
    let course_of = facts.course_index();
    let mut held: BTreeMap<i64, Vec<usize>> = BTreeMap::new();
    let mut v = Vec::new();
    let mut seen = HashSet::new();
    for &(student, course, _, _) in rows {
        if !seen.insert((student, course)) {
            v.push(format!(
                "inv2: student {student} holds course {course} twice"
            ));
        }
        match course_of.get(&course) {
            Some(&c) => held.entry(student).or_default().push(c),
            None => v.push(format!("inv2: enrollment in unknown course {course}")),
        }
    }
    for (student, courses) in held {
        let credits: i32 = courses
            .iter()
            .map(|&c| facts.mix.courses[c].credits as i32)
            .sum();
        if credits > facts.credit_limit {
            v.push(format!(
                "inv2: student {student} holds {credits} credits > {}",
                facts.credit_limit
            ));
        }
        for (i, &a) in courses.iter().enumerate() {
            for &b in &courses[i + 1..] {
                let (ma, mb) = (
                    &facts.mix.courses[a].meetings,
                    &facts.mix.courses[b].meetings,
                );
                if clashes(ma, mb) {
                    v.push(format!(
                        "inv2: student {student} holds clashing courses {} and {}",
                        facts.course_ids[a], facts.course_ids[b]
                    ));
                }
            }
        }
    }
    v
}

/// Invariant 3: `told` is `(ticket id, final status the student saw, if any)`
/// for every acknowledged ticket.
pub fn all_decided(
    told: &[(String, Option<String>)],
    issued: &[IssuedTicket],
    rows: &[EnrollmentRow],
) -> Vec<String> {
    let mut v = Vec::new();
    let winners: HashSet<&str> = rows.iter().filter_map(|r| r.2.as_deref()).collect();
    for (ticket, status) in told {
        match status.as_deref() {
            Some(s @ ("enrolled" | "rejected")) => {
                if (s == "enrolled") != winners.contains(ticket.as_str()) {
                    v.push(format!(
                        "inv3: ticket {ticket} was told {s}, the database disagrees"
                    ));
                }
            }
            Some(other) => v.push(format!("inv3: ticket {ticket} ended {other}")),
            None => v.push(format!("inv3: ticket {ticket} was never decided")),
        }
    }
    for t in issued {
        if t.status != "enrolled" && t.status != "rejected" {
            v.push(format!(
                "inv3: issued ticket {} is still {}",
                t.id(),
                t.status
            ));
        }
    }
    v
}

/// Invariant 4.
pub fn queue_order(facts: &Facts, issued: &[IssuedTicket], rows: &[EnrollmentRow]) -> Vec<String> {
    let course_of = index_of(facts.course_ids);
    let student_of = index_of(facts.student_ids);
    let mut by_course: BTreeMap<i64, Vec<&IssuedTicket>> = BTreeMap::new();
    for t in issued {
        by_course.entry(t.course_id).or_default().push(t);
    }
    let mut v = Vec::new();
    for (course_id, mut tickets) in by_course {
        let Some(&c) = course_of.get(&course_id) else {
            v.push(format!("inv4: ticket for unknown course {course_id}"));
            continue;
        };
        tickets.sort_by_key(|t| t.seq);
        let blocks = &facts.mix.courses[c].blocks;
        let mut left = facts.mix.seats_left(c);
        // (ticket, block) of each expected winner, in queue order.
        let mut expected: Vec<(String, Option<String>)> = Vec::new();
        for t in &tickets {
            let Some(&s) = student_of.get(&t.student_id) else {
                v.push(format!(
                    "inv4: ticket {} of unknown student {}",
                    t.id(),
                    t.student_id
                ));
                continue;
            };
            match facts.mix.eligibility(s, c) {
                Ok(()) => {
                    if let Some(seat) = facts.mix.seat_for(s, c, &mut left) {
                        expected.push((t.id(), seat.map(|i| blocks[i].name.clone())));
                    }
                }
                Err(reason) => {
                    let r = t.reason.as_deref().unwrap_or("");
                    if t.status != "rejected" || (r != reason && r != "course_full") {
                        v.push(format!(
                            "inv4: ineligible ticket {} ended {} {r}, expected rejected {reason}",
                            t.id(),
                            t.status
                        ));
                    }
                }
            }
        }
        let winners: Vec<String> = tickets
            .iter()
            .filter(|t| t.status == "enrolled")
            .map(|t| t.id())
            .collect();
        let expected_ids: Vec<&String> = expected.iter().map(|(id, _)| id).collect();
        if winners.iter().collect::<Vec<_>>() != expected_ids {
            v.push(format!(
                "inv4: course {course_id}: {} winners, expected {} eligible tickets in queue order ({} differ)",
                winners.len(),
                expected.len(),
                winners.iter().filter(|w| !expected_ids.contains(w)).count()
                    + expected_ids.iter().filter(|e| !winners.contains(e)).count()
            ));
        }
        let mut in_db: Vec<(String, Option<String>)> = rows
            .iter()
            .filter(|r| r.1 == course_id)
            .map(|r| (r.2.clone().unwrap_or_default(), r.3.clone()))
            .collect();
        in_db.sort();
        expected.sort();
        if in_db != expected {
            v.push(format!(
                "inv4: course {course_id}: the rows do not hold the expected tickets from the expected blocks"
            ));
        }
    }
    v
}

/// Server id -> index, for the mix's students or courses.
fn index_of(ids: &[i64]) -> HashMap<i64, usize> {
    ids.iter().enumerate().map(|(i, &id)| (id, i)).collect()
}

/// Invariant 5.
pub fn block_counts(blocks: &[BlockRow], pools: &[PoolRow]) -> Vec<String> {
    let mut v = Vec::new();
    for (course, name, seats, enrolled, rows) in blocks {
        if enrolled > seats {
            v.push(format!(
                "inv5: block {name} of course {course} has {enrolled} enrolled > {seats} seats"
            ));
        }
        if *enrolled as i64 != *rows {
            v.push(format!(
                "inv5: block {name} of course {course} says {enrolled} enrolled but has {rows} rows"
            ));
        }
    }
    for &(course, capacity, reserved, pooled, rows) in pools {
        if pooled > capacity - reserved {
            v.push(format!(
                "inv5: course {course} has {pooled} in its open pool > capacity {capacity} - reserved {reserved}"
            ));
        }
        if pooled as i64 != rows {
            v.push(format!(
                "inv5: course {course} says {pooled} in its open pool but has {rows} pool rows"
            ));
        }
    }
    v
}

/// Invariant 6. `issued_complete`: `issued` is every ticket the server
/// issued (read from Redis), so an audit row for any other is wrong too.
pub fn audit_trail(
    issued: &[IssuedTicket],
    rows: &[EnrollmentRow],
    audit: &[AuditRow],
    issued_complete: bool,
) -> Vec<String> {
    let mut v = Vec::new();
    let mut by_ticket: HashMap<&str, Vec<&AuditRow>> = HashMap::new();
    for a in audit {
        match a.0.as_deref() {
            Some(t) => by_ticket.entry(t).or_default().push(a),
            None => v.push(format!(
                "inv6: an {} audit row of course {:?} names no ticket",
                a.1, a.3
            )),
        }
    }
    let mut decided = HashSet::new();
    for t in issued {
        if t.status != "enrolled" && t.status != "rejected" {
            continue;
        }
        let id = t.id();
        match by_ticket.get(id.as_str()).map(Vec::as_slice) {
            None | Some([]) => v.push(format!(
                "inv6: ticket {id} was {} but has no audit row",
                t.status
            )),
            Some([(_, kind, student, course, _)]) => {
                if *kind != t.status {
                    v.push(format!(
                        "inv6: ticket {id} was {} but its audit row says {kind}",
                        t.status
                    ));
                }
                if *student != Some(t.student_id) || *course != Some(t.course_id) {
                    v.push(format!(
                        "inv6: the audit row of ticket {id} names student {student:?}, course {course:?}"
                    ));
                }
            }
            Some(more) => v.push(format!("inv6: ticket {id} has {} audit rows", more.len())),
        }
        decided.insert(id);
    }
    for (student, course, ticket, block) in rows {
        let Some(ticket) = ticket else { continue };
        let enrolled: Vec<&&AuditRow> = by_ticket
            .get(ticket.as_str())
            .into_iter()
            .flatten()
            .filter(|a| a.1 == "enrolled")
            .collect();
        match enrolled.as_slice() {
            [] => v.push(format!(
                "inv6: enrollment {ticket} has no enrolled audit row"
            )),
            [(_, _, s, c, b)] => {
                if b != block || *s != Some(*student) || *c != Some(*course) {
                    v.push(format!(
                        "inv6: enrollment {ticket} (student {student}, course {course}, block {block:?}) \
                         is audited as student {s:?}, course {c:?}, block {b:?}"
                    ));
                }
            }
            // Reported above when the ticket was issued.
            _ if decided.contains(ticket.as_str()) => {}
            more => v.push(format!(
                "inv6: enrollment {ticket} has {} enrolled audit rows",
                more.len()
            )),
        }
    }
    if issued_complete {
        let issued: HashSet<String> = issued.iter().map(IssuedTicket::id).collect();
        let mut stray: Vec<&&str> = by_ticket.keys().filter(|t| !issued.contains(**t)).collect();
        stray.sort();
        for t in stray {
            v.push(format!(
                "inv6: audit row for ticket {t}, which was never issued"
            ));
        }
    }
    v
}

/// Invariant 7: `refused` is the rush's immediate refusals by `"<status>
/// <code>"`, `request_errors` its requests that got no answer.
pub fn phase_gate(
    facts: &Facts,
    issued: &[IssuedTicket],
    refused: &BTreeMap<String, usize>,
    request_errors: usize,
) -> Vec<String> {
    let mut v = Vec::new();
    let course_of = index_of(facts.course_ids);
    let student_of = index_of(facts.student_ids);
    let mix = facts.mix;
    let mut outside: BTreeMap<i64, usize> = BTreeMap::new();
    for t in issued {
        let rush_course = course_of.get(&t.course_id).is_some_and(|&c| {
            matches!(mix.courses[c].kind, Kind::Hot { .. } | Kind::Normal { .. })
        });
        // The seminar and capstone were enrolled in before the phases.
        if rush_course
            && student_of
                .get(&t.student_id)
                .is_some_and(|&s| !mix.in_phase(s))
        {
            *outside.entry(t.student_id).or_default() += 1;
        }
    }
    for (student, n) in outside {
        v.push(format!(
            "inv7: student {student} has no open phase but got {n} tickets"
        ));
    }
    let expected = mix.rush.iter().filter(|&&(s, _)| !mix.in_phase(s)).count();
    let got = refused.get("403 not_your_phase").copied().unwrap_or(0);
    if got > expected || got + request_errors < expected {
        v.push(format!(
            "inv7: {got} requests were answered not_your_phase, {expected} came from students without an open phase"
        ));
    }
    if let Some(n) = refused.get("403 registration_closed") {
        v.push(format!(
            "inv7: {n} requests were answered registration_closed during the rush"
        ));
    }
    v
}

/// Parses a `tk:{c<id>}` hash entry: field = sequence, value =
/// `student|status|reason`, plus `|decided_ms` once decided.
pub fn parse_ticket_entry(course_id: i64, seq: &str, value: &str) -> Option<IssuedTicket> {
    let mut parts = value.split('|');
    let student_id = parts.next()?.parse().ok()?;
    let status = parts.next()?.to_string();
    let reason = parts.next().filter(|r| !r.is_empty()).map(str::to_string);
    let decided_ms = parts.next().and_then(|ms| ms.parse().ok());
    Some(IssuedTicket {
        course_id,
        seq: seq.parse().ok()?,
        student_id,
        status,
        reason,
        decided_ms,
    })
}

pub mod cart;
pub mod waitlist;

#[cfg(test)]
mod tests;
