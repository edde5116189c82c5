//! The cart: its period, the students' items, demand per course, and the
//! close run that settles it in one transaction.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use serde::Serialize;
use serde_json::json;
use sqlx::{PgConnection, PgPool};
use utoipa::ToSchema;

use super::audit::{self, By, Change};
use super::enrollments::{self, NewSeats};
use super::locks::lock_courses_then_students;
use super::StoreResult;
use crate::domain::cart::{self, Demand, Entrant, Policy, Settlement};
use crate::domain::course::{Course, COURSE_COLUMNS};

/// Most courses one cart may hold.
pub const MAX_ITEMS: i64 = 30;

/// The cart period as stored.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Period {
    pub opens_at: DateTime<Utc>,
    pub closes_at: DateTime<Utc>,
    pub policy: Policy,
    /// The lottery's seed (published: anyone may re-run the draw).
    pub seed: i64,
    /// When the close run committed (absent: not yet).
    pub settled_at: Option<DateTime<Utc>>,
}

type PeriodRow = (
    DateTime<Utc>,
    DateTime<Utc>,
    String,
    i64,
    Option<DateTime<Utc>>,
);

fn period((opens_at, closes_at, policy, seed, settled_at): PeriodRow) -> Period {
    Period {
        opens_at,
        closes_at,
        policy: Policy::parse(&policy),
        seed,
        settled_at,
    }
}

const PERIOD: &str = "SELECT opens_at, closes_at, policy, seed, settled_at FROM cart_period";

pub async fn get_period(pool: &PgPool) -> Result<Option<Period>, sqlx::Error> {
    let row: Option<PeriodRow> = sqlx::query_as(PERIOD).fetch_optional(pool).await?;
    Ok(row.map(period))
}

/// Sets the period unless its cart was settled already (`false` then).
pub async fn set_period(pool: &PgPool, p: &Period) -> StoreResult<bool> {
    let done: Option<(bool,)> = sqlx::query_as(
        "INSERT INTO cart_period (singleton, opens_at, closes_at, policy, seed) \
         VALUES (TRUE, $1, $2, $3, $4) \
         ON CONFLICT (singleton) DO UPDATE SET opens_at = EXCLUDED.opens_at, \
           closes_at = EXCLUDED.closes_at, policy = EXCLUDED.policy, seed = EXCLUDED.seed \
         WHERE cart_period.settled_at IS NULL RETURNING TRUE",
    )
    .bind(p.opens_at)
    .bind(p.closes_at)
    .bind(p.policy.as_str())
    .bind(p.seed)
    .fetch_optional(pool)
    .await?;
    Ok(done.is_some())
}

/// What adding to a cart did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Put {
    Added,
    AlreadyThere,
    NoCourse,
    Full,
}

/// Puts a course in a student's cart (at most [`MAX_ITEMS`]).
pub async fn add(pool: &PgPool, student: i64, course: i64) -> StoreResult<Put> {
    let exists: Option<(bool,)> = sqlx::query_as("SELECT TRUE FROM courses WHERE id = $1")
        .bind(course)
        .fetch_optional(pool)
        .await?;
    if exists.is_none() {
        return Ok(Put::NoCourse);
    }
    let row: Option<(bool,)> = sqlx::query_as(
        "WITH n AS (SELECT count(*) AS n FROM cart_items WHERE student_id = $1) \
         INSERT INTO cart_items (student_id, course_id) SELECT $1, $2 FROM n WHERE n.n < $3 \
         ON CONFLICT DO NOTHING RETURNING TRUE",
    )
    .bind(student)
    .bind(course)
    .bind(MAX_ITEMS)
    .fetch_optional(pool)
    .await?;
    if row.is_some() {
        return Ok(Put::Added);
    }
    let there: bool = sqlx::query_scalar(
        "SELECT EXISTS (SELECT 1 FROM cart_items WHERE student_id = $1 AND course_id = $2)",
    )
    .bind(student)
    .bind(course)
    .fetch_one(pool)
    .await?;
    Ok(if there { Put::AlreadyThere } else { Put::Full })
}

/// Takes a course out of a cart; whether it was there.
pub async fn remove(pool: &PgPool, student: i64, course: i64) -> StoreResult<bool> {
    let done = sqlx::query("DELETE FROM cart_items WHERE student_id = $1 AND course_id = $2")
        .bind(student)
        .bind(course)
        .execute(pool)
        .await?;
    Ok(done.rows_affected() > 0)
}

/// The courses in a student's cart, in the order added.
pub async fn items(pool: &PgPool, student: i64) -> StoreResult<Vec<Course>> {
    Ok(sqlx::query_as(&format!(
        "SELECT {COURSE_COLUMNS} FROM courses JOIN cart_items ci ON ci.course_id = courses.id \
         WHERE ci.student_id = $1 ORDER BY ci.added_at, courses.code"
    ))
    .bind(student)
    .fetch_all(pool)
    .await?)
}

/// The audit rows the close run wrote for one student's cart entries:
/// `(course, kind, reason)`, kind `cart_enrolled` or `cart_skipped` (read
/// through the trail's index by student).
pub async fn entries_settled(
    pool: &PgPool,
    student: i64,
) -> StoreResult<Vec<(i64, String, Option<String>)>> {
    Ok(sqlx::query_as(
        "SELECT course_id, kind, reason FROM enrollment_events \
         WHERE student_id = $1 AND kind IN ('cart_enrolled', 'cart_skipped') ORDER BY id",
    )
    .bind(student)
    .fetch_all(pool)
    .await?)
}

/// Cart demand for one course.
#[derive(Debug, Clone, Serialize, ToSchema, sqlx::FromRow)]
pub struct CourseDemand {
    pub course_id: i64,
    pub code: String,
    pub name: String,
    /// Students with the course in their cart.
    pub demand: i64,
    pub capacity: i32,
    pub remaining: i32,
    /// Demand over capacity (absent for a course without seats).
    pub ratio: Option<f64>,
}

/// Demand per course, the most over-demanded first.
pub async fn demand(pool: &PgPool) -> StoreResult<Vec<CourseDemand>> {
    Ok(sqlx::query_as(
        "SELECT c.id AS course_id, c.code, c.name, count(*) AS demand, c.capacity, \
                c.capacity - c.enrolled AS remaining, \
                count(*)::float8 / NULLIF(c.capacity, 0) AS ratio \
         FROM cart_items ci JOIN courses c ON c.id = ci.course_id \
         GROUP BY c.id ORDER BY ratio DESC NULLS FIRST, c.code",
    )
    .fetch_all(pool)
    .await?)
}

/// What the close run did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Settled {
    pub enrolled: usize,
    pub skipped: usize,
    pub drawn_courses: usize,
    pub left_to_rush: Vec<i64>,
    /// Courses that gave seats.
    pub courses: Vec<i64>,
}

/// Settles the cart once its period has closed by `now`, in one
/// transaction (`None`: not closed yet, or settled already — by this
/// instance or another). Locks in the order every writer follows: the
/// courses, then the students.
pub async fn settle(
    pool: &PgPool,
    now: DateTime<Utc>,
    credit_limit: i32,
    announce: bool,
) -> StoreResult<Option<Settled>> {
    // Every instance asks every second: a plain read first, the lock only
    // once the cart is due.
    let due = |p: &Period| p.settled_at.is_none() && p.closes_at <= now;
    if !get_period(pool).await?.is_some_and(|p| due(&p)) {
        return Ok(None);
    }
    let mut tx = pool.begin().await?;
    let row: Option<PeriodRow> = sqlx::query_as(&format!("{PERIOD} FOR UPDATE"))
        .fetch_optional(&mut *tx)
        .await?;
    let Some(p) = row.map(period) else {
        return Ok(None);
    };
    if !due(&p) {
        return Ok(None);
    }
    let items: Vec<(i64, i64, String)> = sqlx::query_as(
        "SELECT ci.course_id, ci.student_id, s.student_no FROM cart_items ci \
         JOIN students s ON s.id = ci.student_id ORDER BY ci.course_id, ci.added_at, ci.student_id",
    )
    .fetch_all(&mut *tx)
    .await?;
    let courses: Vec<i64> = items.iter().map(|i| i.0).collect();
    let students: Vec<i64> = items.iter().map(|i| i.1).collect();
    let locked = lock_courses_then_students(&mut tx, &courses, |_| students.clone()).await?;
    let cohorts: HashMap<i64, _> = locked.students.into_iter().collect();
    let mut demands: Vec<Demand> = locked
        .courses
        .into_iter()
        .map(|course| Demand {
            course,
            entrants: Vec::new(),
        })
        .collect();
    for (course, student, student_no) in items {
        let (Some(d), Some(cohort)) = (
            demands.iter_mut().find(|d| d.course.id == course),
            cohorts.get(&student),
        ) else {
            continue;
        };
        d.entrants.push(Entrant {
            student,
            student_no,
            cohort: cohort.clone(),
        });
    }
    let mut held = HashMap::new();
    for (student, seat) in enrollments::held_by(&mut tx, &locked.asked).await? {
        held.entry(student).or_insert_with(Vec::new).push(seat);
    }
    let s = cart::settle(&demands, &mut held, credit_limit, p.policy, p.seed);
    record(&mut tx, &s, p.seed, announce).await?;
    sqlx::query("UPDATE cart_period SET settled_at = $1")
        .bind(now)
        .execute(&mut *tx)
        .await?;
    tx.commit().await?;
    let mut given: Vec<i64> = s.seats.iter().map(|x| x.course).collect();
    given.dedup();
    Ok(Some(Settled {
        enrolled: s.seats.len(),
        skipped: s.skipped.len(),
        drawn_courses: s.draws.len(),
        left_to_rush: s.left_to_rush,
        courses: given,
    }))
}

/// Writes the run's seats, skips and draws.
async fn record(
    tx: &mut PgConnection,
    s: &Settlement,
    seed: i64,
    announce: bool,
) -> Result<(), sqlx::Error> {
    let mut seats = NewSeats::default();
    let mut rows = Vec::new();
    for seat in &s.seats {
        seats.push(seat.student, seat.course, None, seat.block.clone());
        rows.push(Change {
            kind: "cart_enrolled",
            student_id: Some(seat.student),
            course_id: Some(seat.course),
            block: seat.block.clone(),
            detail: Some(json!({"drawn": seat.drawn})),
            ..Change::default()
        });
    }
    for &(student, course, reason) in &s.skipped {
        rows.push(Change {
            kind: "cart_skipped",
            student_id: Some(student),
            course_id: Some(course),
            reason: Some(reason.to_string()),
            ..Change::default()
        });
    }
    for (course, order) in &s.draws {
        rows.push(Change {
            kind: "lottery_drawn",
            course_id: Some(*course),
            detail: Some(
                json!({"seed": seed, "order": order, "key": "sha256(seed:course_id:student_no)"}),
            ),
            ..Change::default()
        });
    }
    if !seats.students.is_empty() {
        enrollments::insert_all(tx, &seats, announce).await?;
    }
    audit::write_all(tx, &rows, By::SYSTEM).await
}
