//! Waitlists: joining and leaving, and giving freed seats to their heads
//! inside the transaction that frees them.
//!
//! [`promote`] runs with the course row locked by its caller (a cancel, a
//! force-drop, an offer declined or expired, a capacity raised, a block
//! released). It locks the heads' student rows — the cancel and force-drop
//! lock the first heads together with their own student, in ascending id
//! order, as every writer does ([`super::locks`]) — and gives each free
//! seat to the first head that may take it: enrolled at once (`auto`) or
//! offered until a deadline (`offer`: the seat is held by an enrollment
//! row with `offer_expires_at`, so it is never held by nobody). A head the
//! credit limit, the timetable or their phases rule out is taken off the
//! list with the reason; one that only a reserved block's seat is left
//! for, and who does not qualify, keeps their place.

use chrono::{DateTime, Duration, Utc};
use serde_json::json;
use sqlx::PgConnection;

use super::audit::{self, By, Change as AuditChange};
use super::enrollments;
use super::outbox;
use crate::domain::block::seat_for;
use crate::domain::enrollment::HeldSeat;
use crate::domain::mail::Change;
use crate::domain::phase::{self, Cohort, Phase};
use crate::domain::schedule::clashes;
use crate::domain::schedule::Meeting;
use sqlx::types::Json;

/// Heads read, and locked, at a time by a promotion.
pub const HEADS: i64 = 16;

/// What promotion weighs a head by.
pub struct Rules<'a> {
    pub phases: &'a [Phase],
    pub credit_limit: i32,
    pub now: DateTime<Utc>,
    /// Announce seats given by mail (mail is configured).
    pub announce: bool,
}

/// A head given a seat.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Given {
    pub student: i64,
    pub block: Option<String>,
    /// Offered until this instant (absent: enrolled).
    pub offered_until: Option<DateTime<Utc>>,
}

/// What a promotion did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Promotion {
    pub given: Vec<Given>,
    /// `(student, reason)` taken off the list.
    pub skipped: Vec<(i64, &'static str)>,
    /// Seats still free afterwards (for the queue).
    pub left: i32,
}

/// The first heads of `course`'s waitlist (read without locks, so a
/// caller can lock them in order with its own students).
pub async fn heads(tx: &mut PgConnection, course: i64) -> Result<Vec<i64>, sqlx::Error> {
    sqlx::query_scalar("SELECT student_id FROM waitlist WHERE course_id = $1 ORDER BY seq LIMIT $2")
        .bind(course)
        .bind(HEADS)
        .fetch_all(tx)
        .await
}

type SeatRow = (
    String,
    i32,
    i32,
    i16,
    Json<Vec<Meeting>>,
    i32,
    Option<Json<Vec<crate::domain::block::Block>>>,
);

/// Gives `course`'s free seats to its waitlist's heads (the course row is
/// locked by the caller).
pub async fn promote(
    tx: &mut PgConnection,
    course: i64,
    rules: &Rules<'_>,
) -> Result<Promotion, sqlx::Error> {
    let (mode, capacity, enrolled, credits, Json(schedule), offer_minutes, blocks): SeatRow =
        sqlx::query_as(
            "SELECT waitlist_mode, capacity, enrolled + withheld, credits, schedule, offer_minutes, \
             (SELECT json_agg(json_build_object('name', b.name, 'seats', b.seats, 'enrolled', b.enrolled, \
               'departments', b.departments, 'years', b.years, 'release_at', b.release_at, \
               'released_at', b.released_at) ORDER BY b.position) FROM course_blocks b WHERE b.course_id = c.id) \
             FROM courses c WHERE id = $1",
        )
        .bind(course)
        .fetch_one(&mut *tx)
        .await?;
    let pool_left: i32 = sqlx::query_scalar(
        "SELECT capacity - reserved - pooled - withheld FROM courses WHERE id = $1",
    )
    .bind(course)
    .fetch_one(&mut *tx)
    .await?;
    let mut blocks = blocks.map(|b| b.0).unwrap_or_default();
    let mut pool = pool_left;
    let total = |pool: i32, blocks: &[crate::domain::block::Block]| {
        pool.max(0) + blocks.iter().map(|b| b.left()).sum::<i32>()
    };
    let mut out = Promotion::default();
    if mode == "off" || capacity <= enrolled {
        out.left = (capacity - enrolled).max(0);
        return Ok(out);
    }
    let offered_until =
        (mode == "offer").then(|| rules.now + Duration::minutes(offer_minutes as i64));
    let mut after = i64::MIN;
    let mut first = true;
    'windows: while total(pool, &blocks) > 0 {
        let rows = next_heads(tx, course, after).await?;
        let Some(last) = rows.last() else { break };
        after = last.seq;
        let full_window = rows.len() as i64 == HEADS;
        let ids: Vec<i64> = rows.iter().map(|r| r.student).collect();
        let locked = lock_heads(tx, &ids, first).await?;
        first = false;
        let held = enrollments::held_by(tx, &ids).await?;
        for head in rows {
            if total(pool, &blocks) <= 0 {
                break 'windows;
            }
            // Busy elsewhere: nobody behind them may pass them, so the
            // seats left go to the next promotion or the queue.
            if !locked.contains(&head.student) {
                break 'windows;
            }
            let mine: Vec<&HeldSeat> = held
                .iter()
                .filter(|h| h.0 == head.student)
                .map(|h| &h.1)
                .collect();
            if let Some(reason) = ruled_out(&head, &mine, course, credits, &schedule, rules) {
                out.skipped.push((head.student, reason));
                continue;
            }
            let block = match seat_for(&blocks, pool, &head.cohort) {
                Some(Some(i)) => {
                    blocks[i].enrolled += 1;
                    Some(blocks[i].name.clone())
                }
                Some(None) => {
                    pool -= 1;
                    None
                }
                // Only a block's seat is left and it is not theirs: they
                // keep their place for the next seat.
                None => continue,
            };
            out.given.push(Given {
                student: head.student,
                block,
                offered_until,
            });
        }
        if !full_window {
            break;
        }
    }
    out.left = total(pool, &blocks);
    record(tx, course, &out, rules.announce).await?;
    Ok(out)
}

/// One waitlisted student, as promotion weighs them.
struct Head {
    seq: i64,
    student: i64,
    student_no: String,
    cohort: Cohort,
}

/// The next [`HEADS`] of `course`'s waitlist behind sequence number `after`.
async fn next_heads(
    tx: &mut PgConnection,
    course: i64,
    after: i64,
) -> Result<Vec<Head>, sqlx::Error> {
    let rows: Vec<(i64, i64, String, i16, String)> = sqlx::query_as(
        "SELECT w.seq, w.student_id, s.student_no, s.year, s.department FROM waitlist w \
         JOIN students s ON s.id = w.student_id WHERE w.course_id = $1 AND w.seq > $2 \
         ORDER BY w.seq LIMIT $3",
    )
    .bind(course)
    .bind(after)
    .bind(HEADS)
    .fetch_all(&mut *tx)
    .await?;
    Ok(rows
        .into_iter()
        .map(|(seq, student, student_no, year, department)| Head {
            seq,
            student,
            student_no,
            cohort: Cohort { year, department },
        })
        .collect())
}

/// Locks the heads' student rows in id order; returns those locked. The
/// first window waits for them, as the callers lock the first heads with
/// their own students in that order. Later ones are locked after students
/// with higher ids may already be held, so waiting there could deadlock:
/// they skip rows another transaction holds instead.
async fn lock_heads(
    tx: &mut PgConnection,
    ids: &[i64],
    first: bool,
) -> Result<Vec<i64>, sqlx::Error> {
    let sql = if first {
        "SELECT id FROM students WHERE id = ANY($1) ORDER BY id FOR UPDATE"
    } else {
        "SELECT id FROM students WHERE id = ANY($1) ORDER BY id FOR UPDATE SKIP LOCKED"
    };
    sqlx::query_scalar(sql).bind(ids).fetch_all(tx).await
}

/// Why a head may not take the seat, if they may not.
fn ruled_out(
    head: &Head,
    mine: &[&HeldSeat],
    course: i64,
    credits: i16,
    schedule: &[Meeting],
    rules: &Rules<'_>,
) -> Option<&'static str> {
    if mine.iter().any(|h| h.course_id == course) {
        Some("already_enrolled")
    } else if mine.iter().map(|h| h.credits as i32).sum::<i32>() + credits as i32
        > rules.credit_limit
    {
        Some("credit_limit")
    } else if mine.iter().any(|h| clashes(&h.schedule, schedule)) {
        Some("schedule_conflict")
    } else if phase::admits(rules.phases, &head.student_no, &head.cohort, rules.now).is_err() {
        Some("not_your_phase")
    } else {
        None
    }
}

/// [`promote`] for each of `courses` (locked by the caller), with what
/// each waitlist got.
pub async fn promote_each(
    tx: &mut PgConnection,
    courses: &[i64],
    rules: &Rules<'_>,
) -> Result<Vec<(i64, Promotion)>, sqlx::Error> {
    let mut moved = Vec::with_capacity(courses.len());
    for &course in courses {
        moved.push((course, promote(tx, course, rules).await?));
    }
    Ok(moved)
}

/// Writes a promotion: the seats, the list, the audit trail, the mail.
async fn record(
    tx: &mut PgConnection,
    course: i64,
    p: &Promotion,
    announce: bool,
) -> Result<(), sqlx::Error> {
    let mut rows = Vec::new();
    for g in &p.given {
        sqlx::query(
            "INSERT INTO enrollments (student_id, course_id, block, offer_expires_at) VALUES ($1, $2, $3, $4)",
        )
        .bind(g.student)
        .bind(course)
        .bind(&g.block)
        .bind(g.offered_until)
        .execute(&mut *tx)
        .await?;
        rows.push(AuditChange {
            kind: if g.offered_until.is_some() {
                "offer_made"
            } else {
                "waitlist_promoted"
            },
            student_id: Some(g.student),
            course_id: Some(course),
            block: g.block.clone(),
            detail: g.offered_until.map(|t| json!({"expires_at": t})),
            ..AuditChange::default()
        });
    }
    for &(student, reason) in &p.skipped {
        rows.push(AuditChange {
            kind: "waitlist_skipped",
            student_id: Some(student),
            course_id: Some(course),
            reason: Some(reason.to_string()),
            ..AuditChange::default()
        });
    }
    let gone: Vec<i64> = p
        .given
        .iter()
        .map(|g| g.student)
        .chain(p.skipped.iter().map(|s| s.0))
        .collect();
    if !gone.is_empty() {
        sqlx::query("DELETE FROM waitlist WHERE course_id = $1 AND student_id = ANY($2)")
            .bind(course)
            .bind(&gone)
            .execute(&mut *tx)
            .await?;
    }
    let enrolled: Vec<i64> = p
        .given
        .iter()
        .filter(|g| g.offered_until.is_none())
        .map(|g| g.student)
        .collect();
    if announce && !enrolled.is_empty() {
        let courses = vec![course; enrolled.len()];
        outbox::announce(tx, &enrolled, &courses, Change::Enrolled).await?;
    }
    audit::write_all(tx, &rows, By::SYSTEM).await
}

mod list;
pub use list::{gauges, join, leave, mine, Joined, Place};
