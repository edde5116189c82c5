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

/// Heads looked at per promotion.
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
    let rows: Vec<(i64, String, i16, String)> = sqlx::query_as(
        "SELECT w.student_id, s.student_no, s.year, s.department FROM waitlist w \
         JOIN students s ON s.id = w.student_id WHERE w.course_id = $1 ORDER BY w.seq LIMIT $2",
    )
    .bind(course)
    .bind(HEADS)
    .fetch_all(&mut *tx)
    .await?;
    let mut ids: Vec<i64> = rows.iter().map(|r| r.0).collect();
    ids.sort_unstable();
    sqlx::query("SELECT id FROM students WHERE id = ANY($1) ORDER BY id FOR UPDATE")
        .bind(&ids)
        .execute(&mut *tx)
        .await?;
    let held = enrollments::held_by(tx, &ids).await?;
    let offered_until =
        (mode == "offer").then(|| rules.now + Duration::minutes(offer_minutes as i64));
    for (student, student_no, year, department) in rows {
        if total(pool, &blocks) <= 0 {
            break;
        }
        let cohort = Cohort { year, department };
        let mine: Vec<&HeldSeat> = held
            .iter()
            .filter(|h| h.0 == student)
            .map(|h| &h.1)
            .collect();
        let reason = if mine.iter().any(|h| h.course_id == course) {
            Some("already_enrolled")
        } else if mine.iter().map(|h| h.credits as i32).sum::<i32>() + credits as i32
            > rules.credit_limit
        {
            Some("credit_limit")
        } else if mine.iter().any(|h| clashes(&h.schedule, &schedule)) {
            Some("schedule_conflict")
        } else if phase::admits(rules.phases, &student_no, &cohort, rules.now).is_err() {
            Some("not_your_phase")
        } else {
            None
        };
        if let Some(reason) = reason {
            out.skipped.push((student, reason));
            continue;
        }
        let block = match seat_for(&blocks, pool, &cohort) {
            Some(Some(i)) => {
                blocks[i].enrolled += 1;
                Some(blocks[i].name.clone())
            }
            Some(None) => {
                pool -= 1;
                None
            }
            // Only a block's seat is left and it is not theirs: they keep
            // their place for the next seat.
            None => continue,
        };
        out.given.push(Given {
            student,
            block,
            offered_until,
        });
    }
    out.left = total(pool, &blocks);
    record(tx, course, &out, rules.announce).await?;
    Ok(out)
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

/// What joining a waitlist did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Joined {
    /// In line, at this 1-based place.
    At(i64),
    NoCourse,
    /// The course keeps no waitlist.
    Off,
    AlreadyEnrolled,
    AlreadyWaiting,
    /// A seat is left for the student: enroll instead.
    SeatsLeft,
    /// The list is at its limit.
    Full,
}

/// Puts a student on a course's waitlist: only when no seat is left for
/// them, and within the course's limit (the course row locked, so the
/// limit holds under concurrency).
pub async fn join(
    pool: &sqlx::PgPool,
    student: i64,
    course: i64,
    cohort: &Cohort,
) -> Result<Joined, sqlx::Error> {
    let mut tx = pool.begin().await?;
    let locked =
        super::locks::lock_courses_then_students(&mut tx, &[course], |_| vec![student]).await?;
    let Some(c) = locked.courses.first() else {
        return Ok(Joined::NoCourse);
    };
    let (mode, limit): (String, i32) =
        sqlx::query_as("SELECT waitlist_mode, waitlist_limit FROM courses WHERE id = $1")
            .bind(course)
            .fetch_one(&mut *tx)
            .await?;
    if mode == "off" {
        return Ok(Joined::Off);
    }
    let (enrolled, waiting, length): (bool, bool, i64) = sqlx::query_as(
        "SELECT EXISTS (SELECT 1 FROM enrollments WHERE student_id = $1 AND course_id = $2), \
                EXISTS (SELECT 1 FROM waitlist WHERE student_id = $1 AND course_id = $2), \
                (SELECT count(*) FROM waitlist WHERE course_id = $2)",
    )
    .bind(student)
    .bind(course)
    .fetch_one(&mut *tx)
    .await?;
    if enrolled {
        return Ok(Joined::AlreadyEnrolled);
    }
    if waiting {
        return Ok(Joined::AlreadyWaiting);
    }
    if seat_for(&c.blocks, c.pool_left, cohort).is_some() {
        return Ok(Joined::SeatsLeft);
    }
    if length >= limit as i64 {
        return Ok(Joined::Full);
    }
    sqlx::query("INSERT INTO waitlist (course_id, student_id) VALUES ($1, $2)")
        .bind(course)
        .bind(student)
        .execute(&mut *tx)
        .await?;
    let change = AuditChange {
        kind: "waitlisted",
        student_id: Some(student),
        course_id: Some(course),
        ..AuditChange::default()
    };
    audit::write(&mut tx, &change, By::SYSTEM).await?;
    tx.commit().await?;
    Ok(Joined::At(length + 1))
}

/// Takes a student off a waitlist; whether they were on it.
pub async fn leave(pool: &sqlx::PgPool, student: i64, course: i64) -> Result<bool, sqlx::Error> {
    let mut tx = pool.begin().await?;
    let gone = sqlx::query("DELETE FROM waitlist WHERE course_id = $1 AND student_id = $2")
        .bind(course)
        .bind(student)
        .execute(&mut *tx)
        .await?
        .rows_affected()
        > 0;
    if gone {
        let change = AuditChange {
            kind: "waitlist_left",
            student_id: Some(student),
            course_id: Some(course),
            ..AuditChange::default()
        };
        audit::write(&mut tx, &change, By::SYSTEM).await?;
    }
    tx.commit().await?;
    Ok(gone)
}

/// A student's place on one waitlist, or a seat offered to them.
#[derive(Debug, Clone, serde::Serialize, utoipa::ToSchema, sqlx::FromRow)]
pub struct Place {
    pub course_id: i64,
    pub code: String,
    pub name: String,
    /// 1-based place in line (absent for an offer).
    pub position: Option<i64>,
    /// An offered seat: accept it before this instant.
    pub offer_expires_at: Option<DateTime<Utc>>,
}

/// The student's waitlist places and open offers.
pub async fn mine(pool: &sqlx::PgPool, student: i64) -> Result<Vec<Place>, sqlx::Error> {
    sqlx::query_as(
        "SELECT w.course_id, c.code, c.name, \
                (SELECT count(*) FROM waitlist o WHERE o.course_id = w.course_id AND o.seq <= w.seq) AS position, \
                NULL::timestamptz AS offer_expires_at \
         FROM waitlist w JOIN courses c ON c.id = w.course_id WHERE w.student_id = $1 \
         UNION ALL \
         SELECT e.course_id, c.code, c.name, NULL, e.offer_expires_at FROM enrollments e \
         JOIN courses c ON c.id = e.course_id \
         WHERE e.student_id = $1 AND e.offer_expires_at IS NOT NULL ORDER BY 4 NULLS FIRST, 2",
    )
    .bind(student)
    .fetch_all(pool)
    .await
}

/// What the registrar's gauges show: `(cart items, over-demanded courses,
/// waitlisted, offers open, seats withheld)`.
pub async fn gauges(pool: &sqlx::PgPool) -> Result<(i64, i64, i64, i64, i64), sqlx::Error> {
    sqlx::query_as(
        "SELECT (SELECT count(*) FROM cart_items), \
                (SELECT count(*) FROM (SELECT 1 FROM cart_items ci JOIN courses c ON c.id = ci.course_id \
                  GROUP BY c.id, c.capacity HAVING count(*) > c.capacity) o), \
                (SELECT count(*) FROM waitlist), \
                (SELECT count(*) FROM enrollments WHERE offer_expires_at IS NOT NULL), \
                (SELECT coalesce(sum(withheld), 0)::bigint FROM courses)",
    )
    .fetch_one(pool)
    .await
}
