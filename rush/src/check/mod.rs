//! Invariants 1-4, checked against the database and the issued tickets.
//!
//! 1. `enrolled` never exceeds `capacity` and equals the course's rows.
//! 2. No student holds a course twice, nor more credits than the limit, nor
//!    two courses whose timetables clash.
//! 3. Every acknowledged ticket reached `enrolled` or `rejected`, and what the
//!    student was told matches the database.
//! 4. Each course's winners are exactly its first `capacity` eligible
//!    tickets in queue (sequence) order; ineligible tickets are rejected for
//!    the reason the rules give (or `course_full`).
//!
//! Each check is a pure function returning human-readable violations.

use std::collections::{BTreeMap, HashMap, HashSet};

use crate::mix::{clashes, Mix};

/// The workload and the ids the server gave it.
pub struct Facts<'a> {
    pub mix: &'a Mix,
    /// Mix course index -> server id.
    pub course_ids: &'a [i64],
    /// Mix student index -> server id.
    pub student_ids: &'a [i64],
    pub credit_limit: i32,
}

/// A course row: `(id, capacity, enrolled, number of enrollment rows)`.
pub type CourseRow = (i64, i32, i32, i64);
/// An enrollment row: `(student_id, course_id, ticket)`.
pub type EnrollmentRow = (i64, i64, Option<String>);

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
    let course_of: HashMap<i64, usize> = facts
        .course_ids
        .iter()
        .enumerate()
        .map(|(i, &id)| (id, i))
        .collect();
    let mut held: BTreeMap<i64, Vec<usize>> = BTreeMap::new();
    let mut v = Vec::new();
    let mut seen = HashSet::new();
    for &(student, course, _) in rows {
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
    let course_of: HashMap<i64, usize> = facts
        .course_ids
        .iter()
        .enumerate()
        .map(|(i, &id)| (id, i))
        .collect();
    let student_of: HashMap<i64, usize> = facts
        .student_ids
        .iter()
        .enumerate()
        .map(|(i, &id)| (id, i))
        .collect();
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
        let capacity = facts.mix.courses[c].capacity.max(0) as usize;
        let mut expected = Vec::new();
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
                Ok(()) if expected.len() < capacity => expected.push(t.id()),
                Ok(()) => {}
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
        if winners != expected {
            v.push(format!(
                "inv4: course {course_id}: {} winners, expected the first {} eligible ({} differ)",
                winners.len(),
                expected.len(),
                winners.iter().filter(|w| !expected.contains(w)).count()
                    + expected.iter().filter(|e| !winners.contains(e)).count()
            ));
        }
        let mut in_db: Vec<String> = rows
            .iter()
            .filter(|r| r.1 == course_id)
            .map(|r| r.2.clone().unwrap_or_default())
            .collect();
        in_db.sort();
        let mut want = expected.clone();
        want.sort();
        if in_db != want {
            v.push(format!(
                "inv4: course {course_id}: the rows do not hold the expected tickets"
            ));
        }
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

#[cfg(test)]
mod tests;
