//! Invariant 9 (`--scenario cart`): the cart's close, re-derived.
//!
//! a. Every course is settled as the rules say, re-derived here from the
//!    carts the tool filled and the seats students held before: in course
//!    id order, a cart student who holds the course, would pass the credit
//!    limit or has a timetable clash (counting the seats given earlier in
//!    the run) is skipped for that reason; where the others fit the seats,
//!    exactly they are enrolled; where they do not, with the lottery, the
//!    winners are exactly the first of the order re-derived from the seed
//!    — SHA-256 of `"{seed}:{course_id}:{student_no}"` in lowercase hex,
//!    ascending — and without it the course gives no cart seat at all.
//! b. Each drawn course has one `lottery_drawn` audit row publishing that
//!    seed and that order; no other course has one.
//! c. One `cart_enrolled` audit row per cart enrollment (the ticket-less
//!    rows), saying whether it was drawn, and one `cart_skipped` row per
//!    skipped cart entry with the reason.
//! d. The rush after it: a student's request for a course they hold from
//!    the cart is rejected `already_enrolled` (its ticket queues: Redis
//!    knows no ticket of theirs for it) or refused at once `course_full`
//!    (once the course is known full) — never 409 `already_enrolled`; the
//!    other tickets keep invariant 4 over the seats the cart left.
//!
//! Invariants 1 and 2 run over every row, cart seats included: no
//! oversell, no cart seat past the credit limit or clashing.

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};

use sha2::{Digest, Sha256};

use super::{queue_order, EnrollmentRow, Facts, IssuedTicket};
use crate::mix::clashes;

/// What the scenario put in the carts, and how the close was set.
pub struct Carts<'a> {
    /// `(student index, course index)` of every cart item answered 201.
    pub items: &'a [(usize, usize)],
    /// Student index → student number (the draw's key names students so).
    pub student_nos: &'a [String],
    pub seed: i64,
    /// Over-demanded courses are drawn (`lottery`); else left to the rush.
    pub lottery: bool,
}

/// How the close must settle one course.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Settled {
    /// Every eligible cart student gets a seat.
    Fit,
    /// Over-demanded and drawn: the students' numbers in drawn order.
    Drawn(Vec<String>),
    /// Over-demanded and left to the rush.
    LeftToRush,
}

/// The close as the rules make it.
#[derive(Debug, Default)]
pub struct Expected {
    /// `(student_id, course_id)` → drawn, for every cart seat.
    pub seats: BTreeMap<(i64, i64), bool>,
    /// `(student_id, course_id)` → reason, for every entry skipped.
    pub skipped: BTreeMap<(i64, i64), &'static str>,
    /// Course id → how it is settled, for every course in a cart.
    pub courses: BTreeMap<i64, Settled>,
}

/// A cart audit row: `(kind, student_id, course_id, reason, detail)` with
/// the detail as JSON text.
pub type CartEvent = (
    String,
    Option<i64>,
    Option<i64>,
    Option<String>,
    Option<String>,
);

/// The draw's key: lowercase hex SHA-256 of `"{seed}:{course}:{student_no}"`.
pub fn draw_key(seed: i64, course_id: i64, student_no: &str) -> String {
    Sha256::digest(format!("{seed}:{course_id}:{student_no}").as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// `student_nos` in drawn order.
pub fn draw_order<'a>(
    seed: i64,
    course_id: i64,
    student_nos: impl IntoIterator<Item = &'a str>,
) -> Vec<String> {
    let mut keyed: Vec<(String, &str)> = student_nos
        .into_iter()
        .map(|no| (draw_key(seed, course_id, no), no))
        .collect();
    keyed.sort();
    keyed.into_iter().map(|(_, no)| no.to_string()).collect()
}

/// Re-derives the close from the carts and the seats held before it (the
/// mix's pre-rush enrollments).
pub fn expected(facts: &Facts, carts: &Carts) -> Expected {
    let mix = facts.mix;
    let mut held: HashMap<usize, Vec<usize>> = HashMap::new();
    for &(s, c) in &mix.pre {
        held.entry(s).or_default().push(c);
    }
    let mut entrants: BTreeMap<i64, (usize, Vec<usize>)> = BTreeMap::new();
    for &(s, c) in carts.items {
        entrants
            .entry(facts.course_ids[c])
            .or_insert((c, Vec::new()))
            .1
            .push(s);
    }
    let mut out = Expected::default();
    for (course_id, (c, students)) in entrants {
        let spec = &mix.courses[c];
        let mut eligible = Vec::new();
        for s in students {
            let mine = held.get(&s).map_or(&[][..], Vec::as_slice);
            let credits: i32 = mine.iter().map(|&m| mix.courses[m].credits as i32).sum();
            let reason = if mine.contains(&c) {
                Some("already_enrolled")
            } else if credits + spec.credits as i32 > facts.credit_limit {
                Some("credit_limit")
            } else if mine
                .iter()
                .any(|&m| clashes(&mix.courses[m].meetings, &spec.meetings))
            {
                Some("schedule_conflict")
            } else {
                None
            };
            match reason {
                Some(r) => {
                    out.skipped.insert((facts.student_ids[s], course_id), r);
                }
                None => eligible.push(s),
            }
        }
        let seated = |order: &[usize]| {
            let mut left = mix.seats_left(c);
            order
                .iter()
                .copied()
                .filter(|&s| mix.seat_for(s, c, &mut left).is_some())
                .collect::<Vec<usize>>()
        };
        let (settled, winners) = if seated(&eligible).len() == eligible.len() {
            (Settled::Fit, eligible)
        } else if carts.lottery {
            let order = draw_order(
                carts.seed,
                course_id,
                eligible.iter().map(|&s| carts.student_nos[s].as_str()),
            );
            let index: HashMap<&str, usize> = eligible
                .iter()
                .map(|&s| (carts.student_nos[s].as_str(), s))
                .collect();
            let drawn: Vec<usize> = order.iter().map(|no| index[no.as_str()]).collect();
            (Settled::Drawn(order), seated(&drawn))
        } else {
            (Settled::LeftToRush, Vec::new())
        };
        let drawn = matches!(settled, Settled::Drawn(_));
        for s in winners {
            held.entry(s).or_default().push(c);
            out.seats.insert((facts.student_ids[s], course_id), drawn);
        }
        out.courses.insert(course_id, settled);
    }
    out
}

/// What the audit trail says of one kind, by `(student_id, course_id)`.
fn by_pair<'a>(events: &'a [CartEvent], kind: &str) -> BTreeMap<(i64, i64), Vec<&'a CartEvent>> {
    let mut out: BTreeMap<(i64, i64), Vec<&CartEvent>> = BTreeMap::new();
    for e in events.iter().filter(|e| e.0 == kind) {
        if let (Some(s), Some(c)) = (e.1, e.2) {
            out.entry((s, c)).or_default().push(e);
        }
    }
    out
}

fn detail(e: &CartEvent) -> serde_json::Value {
    e.4.as_deref()
        .and_then(|d| serde_json::from_str(d).ok())
        .unwrap_or_default()
}

/// 9a–c: the close's audit rows and the ticket-less enrollment rows
/// against [`expected`].
pub fn settlement(
    carts: &Carts,
    expected: &Expected,
    events: &[CartEvent],
    rows: &[EnrollmentRow],
) -> Vec<String> {
    let mut v = Vec::new();
    let seated = by_pair(events, "cart_enrolled");
    let mut given: BTreeMap<i64, BTreeSet<i64>> = BTreeMap::new();
    for (&(s, c), audit) in &seated {
        given.entry(c).or_default().insert(s);
        if audit.len() > 1 {
            v.push(format!(
                "inv9c: student {s} course {c}: {} cart_enrolled audit rows for one seat",
                audit.len()
            ));
        }
        let drawn = detail(audit[0])["drawn"].as_bool();
        if let Some(&due) = expected.seats.get(&(s, c)) {
            if drawn != Some(due) {
                v.push(format!(
                    "inv9c: student {s} course {c}: cart seat audited drawn = {drawn:?}, expected {due}"
                ));
            }
        }
    }
    let mut due: BTreeMap<i64, BTreeSet<i64>> = BTreeMap::new();
    for &(s, c) in expected.seats.keys() {
        due.entry(c).or_default().insert(s);
    }
    let empty = BTreeSet::new();
    let courses: BTreeSet<i64> = given
        .keys()
        .chain(expected.courses.keys())
        .copied()
        .collect();
    for c in courses {
        let (got, want) = (
            given.get(&c).unwrap_or(&empty),
            due.get(&c).unwrap_or(&empty),
        );
        if got == want {
            continue;
        }
        let (extra, missing) = (got.difference(want).count(), want.difference(got).count());
        v.push(match expected.courses.get(&c) {
            Some(Settled::Fit) => format!(
                "inv9a: course {c}: its {} eligible cart students fit its seats, but {missing} of them got no cart seat and {extra} others did",
                want.len()
            ),
            Some(Settled::Drawn(order)) => format!(
                "inv9a: course {c}: the cart seats are not the first {} of the {} drawn from seed {}: {extra} winners outside them, {missing} of them left out",
                want.len(),
                order.len(),
                carts.seed
            ),
            Some(Settled::LeftToRush) => format!(
                "inv9a: course {c} was over-demanded and left to the rush, yet gave {} cart seats",
                got.len()
            ),
            None => format!(
                "inv9a: course {c} is in no cart but gave {} cart seats",
                got.len()
            ),
        });
    }
    v.extend(draws(carts, expected, events));
    v.extend(skips(expected, events));
    let mut held: BTreeMap<(i64, i64), usize> = BTreeMap::new();
    for r in rows.iter().filter(|r| r.2.is_none()) {
        *held.entry((r.0, r.1)).or_default() += 1;
    }
    for (&(s, c), &n) in &held {
        if !seated.contains_key(&(s, c)) || n > 1 {
            v.push(format!(
                "inv9c: student {s} holds course {c} without a ticket {n} time(s), with {} cart_enrolled rows",
                seated.get(&(s, c)).map_or(0, Vec::len)
            ));
        }
    }
    for &(s, c) in seated.keys() {
        if !held.contains_key(&(s, c)) {
            v.push(format!(
                "inv9c: student {s} course {c}: a cart_enrolled row but no enrollment row"
            ));
        }
    }
    v
}

/// 9b: the published draws.
fn draws(carts: &Carts, expected: &Expected, events: &[CartEvent]) -> Vec<String> {
    let mut v = Vec::new();
    let mut published: BTreeMap<i64, Vec<serde_json::Value>> = BTreeMap::new();
    for e in events.iter().filter(|e| e.0 == "lottery_drawn") {
        match e.2 {
            Some(c) => published.entry(c).or_default().push(detail(e)),
            None => v.push("inv9b: a lottery_drawn row names no course".into()),
        }
    }
    for (&c, settled) in &expected.courses {
        let rows = published.remove(&c).unwrap_or_default();
        let Settled::Drawn(order) = settled else {
            if !rows.is_empty() {
                v.push(format!(
                    "inv9b: course {c} needed no draw but has {} lottery_drawn rows",
                    rows.len()
                ));
            }
            continue;
        };
        let [row] = rows.as_slice() else {
            v.push(format!(
                "inv9b: drawn course {c} has {} lottery_drawn rows, expected one",
                rows.len()
            ));
            continue;
        };
        if row["seed"].as_i64() != Some(carts.seed) {
            v.push(format!(
                "inv9b: course {c}: the published seed is {}, the period's {}",
                row["seed"], carts.seed
            ));
        }
        let order_published: Option<Vec<&str>> = row["order"]
            .as_array()
            .map(|a| a.iter().filter_map(|n| n.as_str()).collect());
        if order_published != Some(order.iter().map(String::as_str).collect()) {
            v.push(format!(
                "inv9b: course {c}: the published order differs from the one re-derived from seed {} ({} students)",
                carts.seed,
                order.len()
            ));
        }
    }
    for (c, rows) in published {
        v.push(format!(
            "inv9b: course {c} is in no cart but has {} lottery_drawn rows",
            rows.len()
        ));
    }
    v
}

/// 9c: the skipped entries and their reasons.
fn skips(expected: &Expected, events: &[CartEvent]) -> Vec<String> {
    let mut v = Vec::new();
    let audited = by_pair(events, "cart_skipped");
    for (&(s, c), &reason) in &expected.skipped {
        match audited.get(&(s, c)).map(Vec::as_slice) {
            Some([e]) if e.3.as_deref() == Some(reason) => {}
            Some([e]) => v.push(format!(
                "inv9c: student {s} course {c} was skipped for {:?}, expected {reason}",
                e.3
            )),
            other => v.push(format!(
                "inv9c: student {s} course {c} should be skipped ({reason}) once but has {} cart_skipped rows",
                other.map_or(0, <[_]>::len)
            )),
        }
    }
    for &(s, c) in audited.keys() {
        if !expected.skipped.contains_key(&(s, c)) {
            v.push(format!(
                "inv9c: student {s} course {c} was skipped, though eligible"
            ));
        }
    }
    v
}

/// 9d: the rush after the close. `rows` are every enrollment row (the
/// ticket-less ones are the cart's seats); `refused` and `request_errors`
/// are the rush's.
pub fn rush_after_cart(
    facts: &Facts,
    issued: &[IssuedTicket],
    rows: &[EnrollmentRow],
    refused: &BTreeMap<String, usize>,
    request_errors: usize,
) -> Vec<String> {
    let mut v = Vec::new();
    let from_cart: HashSet<(i64, i64)> = rows
        .iter()
        .filter(|r| r.2.is_none())
        .map(|r| (r.0, r.1))
        .collect();
    // The seats the cart left: each course's capacity less its cart seats
    // (the scenario reserves no blocks).
    let mut mix = facts.mix.clone();
    let course_of = facts.course_index();
    for (_, course) in &from_cart {
        if let Some(&c) = course_of.get(course) {
            mix.courses[c].capacity -= 1;
        }
    }
    let mut rest = Vec::new();
    let mut ticketed_holders = 0;
    for t in issued {
        if !from_cart.contains(&(t.student_id, t.course_id)) {
            rest.push(t.clone());
            continue;
        }
        ticketed_holders += 1;
        if t.status != "rejected" || t.reason.as_deref() != Some("already_enrolled") {
            v.push(format!(
                "inv9d: ticket {} of student {}, who holds the course from the cart, ended {} {}, expected rejected already_enrolled",
                t.id(),
                t.student_id,
                t.status,
                t.reason.as_deref().unwrap_or("")
            ));
        }
    }
    let after = Facts {
        mix: &mix,
        ..*facts
    };
    let ticketed: Vec<EnrollmentRow> = rows.iter().filter(|r| r.2.is_some()).cloned().collect();
    v.extend(queue_order(&after, &rest, &ticketed));
    if let Some(n) = refused.get("409 already_enrolled") {
        v.push(format!(
            "inv9d: {n} requests were answered 409 already_enrolled; a cart seat has no ticket for the queue to know"
        ));
    }
    let asked = facts
        .mix
        .rush
        .iter()
        .filter(|&&(s, c)| from_cart.contains(&(facts.student_ids[s], facts.course_ids[c])))
        .count();
    let full = refused.get("409 course_full").copied().unwrap_or(0);
    if asked > ticketed_holders + full + request_errors {
        v.push(format!(
            "inv9d: {asked} requests for courses held from the cart, {ticketed_holders} got a ticket and at most {full} were refused course_full"
        ));
    }
    v
}

#[cfg(test)]
mod tests;
