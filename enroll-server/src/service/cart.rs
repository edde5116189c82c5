//! The cart: filling it during its period, its validation report, and the
//! close run (on whichever instance gets to it first).

use chrono::{DateTime, SubsecRound, Utc};

use crate::domain::cart::{Outcome, Policy};
use crate::domain::course::Course;
use crate::domain::schedule::clashes;
use crate::domain::Invalid;
use crate::redis::control;
use crate::session::Session;
use crate::state::Services;
use crate::store::cart::{self, Period, Put};
use crate::store::{enrollments, StoreError};

use super::accounts;

/// Why a cart change was refused.
#[derive(Debug, thiserror::Error)]
pub enum CartError {
    #[error(transparent)]
    Invalid(#[from] Invalid),
    #[error("the cart is not open")]
    Closed,
    #[error("no such course")]
    CourseNotFound,
    #[error("the course is in the cart already")]
    AlreadyInCart,
    #[error("the course is not in the cart")]
    NotInCart,
    #[error("a cart holds at most {} courses", cart::MAX_ITEMS)]
    CartFull,
    #[error("the cart was settled already")]
    Settled,
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl From<sqlx::Error> for CartError {
    fn from(e: sqlx::Error) -> Self {
        Self::Store(e.into())
    }
}

/// Whether the cart takes changes at `now`.
fn open(p: &Option<Period>, now: DateTime<Utc>) -> bool {
    p.as_ref()
        .is_some_and(|p| p.settled_at.is_none() && p.opens_at <= now && now < p.closes_at)
}

pub async fn add(s: &Services, student: i64, course: i64) -> Result<(), CartError> {
    if !open(&cart::get_period(&s.db.primary).await?, Utc::now()) {
        return Err(CartError::Closed);
    }
    match cart::add(&s.db.primary, student, course).await? {
        Put::Added => Ok(()),
        Put::AlreadyThere => Err(CartError::AlreadyInCart),
        Put::NoCourse => Err(CartError::CourseNotFound),
        Put::Full => Err(CartError::CartFull),
    }
}

pub async fn remove(s: &Services, student: i64, course: i64) -> Result<(), CartError> {
    if !open(&cart::get_period(&s.db.primary).await?, Utc::now()) {
        return Err(CartError::Closed);
    }
    if !cart::remove(&s.db.primary, student, course).await? {
        return Err(CartError::NotInCart);
    }
    Ok(())
}

/// Something in the cart that would stop a course from being enrolled.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    pub course_id: i64,
    /// `already_enrolled`, `schedule_conflict`, `course_full`,
    /// `over_credit_limit` or `no_phase`.
    pub code: &'static str,
    /// The course codes it clashes with (`schedule_conflict`).
    pub with: Vec<String>,
}

/// A student's cart with what is wrong with it.
#[derive(Debug, Clone)]
pub struct CartView {
    pub period: Option<Period>,
    pub open: bool,
    pub items: Vec<Course>,
    pub cart_credits: i64,
    pub enrolled_credits: i64,
    pub credit_limit: i32,
    pub problems: Vec<Problem>,
    /// Once settled: what the close run did with each course in the cart.
    pub outcomes: Vec<Settled>,
}

/// What the close run did with one course of a student's cart.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Settled {
    pub course_id: i64,
    pub outcome: Outcome,
    /// Why it was skipped: `already_enrolled`, `credit_limit` or
    /// `schedule_conflict`.
    pub reason: Option<String>,
}

/// Each item's outcome, from the close run's audit rows for the student.
fn outcomes(
    items: &[Course],
    rows: Vec<(i64, String, Option<String>)>,
    policy: Policy,
) -> Vec<Settled> {
    items
        .iter()
        .map(|c| {
            let row = rows.iter().find(|r| r.0 == c.id);
            Settled {
                course_id: c.id,
                outcome: Outcome::of(row.map(|r| r.1.as_str()), policy),
                reason: row.and_then(|r| r.2.clone()),
            }
        })
        .collect()
}

/// The cart and its validation report: clashes (with another cart course
/// or a course held), courses held or full already, the credits over the
/// limit (every course past it, in the order added), and no phase that
/// ever includes the student.
pub async fn view(s: &Services, session: &Session) -> Result<CartView, CartError> {
    let pool = &s.db.primary;
    let period = cart::get_period(pool).await?;
    let cohort = accounts::cohort(s, session).await?;
    let items: Vec<Course> = cart::items(pool, session.student_id)
        .await?
        .into_iter()
        .map(|c| c.for_student(&cohort))
        .collect();
    let held = enrollments::of_student(pool, session.student_id).await?;
    let enrolled_credits: i64 = held.iter().map(|e| e.credits as i64).sum();
    let limit = s.settings.credit_limit;
    let in_phase = s
        .catalog
        .phases()
        .iter()
        .any(|p| p.audience.includes(&session.student_no, &cohort));
    let mut problems = Vec::new();
    let mut running = enrolled_credits;
    for (i, c) in items.iter().enumerate() {
        let mut add = |code, with| {
            problems.push(Problem {
                course_id: c.id,
                code,
                with,
            })
        };
        if held.iter().any(|e| e.course_id == c.id) {
            add("already_enrolled", Vec::new());
            continue;
        }
        let mut with: Vec<String> = held
            .iter()
            .filter(|e| clashes(&e.schedule, &c.schedule))
            .map(|e| e.code.clone())
            .collect();
        with.extend(
            items
                .iter()
                .enumerate()
                .filter(|(j, o)| *j != i && clashes(&o.schedule, &c.schedule))
                .map(|(_, o)| o.code.clone()),
        );
        if !with.is_empty() {
            add("schedule_conflict", with);
        }
        if c.remaining_for_you.unwrap_or(c.remaining) <= 0 {
            add("course_full", Vec::new());
        }
        running += c.credits as i64;
        if running > limit as i64 {
            add("over_credit_limit", Vec::new());
        }
        if !in_phase {
            add("no_phase", Vec::new());
        }
    }
    let outcomes = match &period {
        Some(p) if p.settled_at.is_some() => {
            let rows = cart::entries_settled(pool, session.student_id).await?;
            outcomes(&items, rows, p.policy)
        }
        _ => Vec::new(),
    };
    Ok(CartView {
        open: open(&period, Utc::now()),
        outcomes,
        period,
        cart_credits: items.iter().map(|c| c.credits as i64).sum(),
        items,
        enrolled_credits,
        credit_limit: limit,
        problems,
    })
}

/// Sets the cart period (refused once the cart was settled).
pub async fn set_period(
    s: &Services,
    opens_at: DateTime<Utc>,
    closes_at: DateTime<Utc>,
    policy: Policy,
    seed: Option<i64>,
) -> Result<Period, CartError> {
    if closes_at <= opens_at {
        return Err(Invalid::new("invalid_window", "closes_at must be after opens_at").into());
    }
    let period = Period {
        opens_at,
        closes_at,
        policy,
        seed: seed.unwrap_or_else(|| rand::random::<i64>().abs()),
        settled_at: None,
    };
    if !cart::set_period(&s.db.primary, &period).await? {
        return Err(CartError::Settled);
    }
    tracing::info!(%opens_at, %closes_at, policy = policy.as_str(), "cart period set");
    Ok(period)
}

/// Settles the cart if its period has closed by `now` and nobody has yet;
/// once committed, tells every instance's event streams.
pub async fn settle_due(
    s: &Services,
    now: DateTime<Utc>,
) -> Result<Option<cart::Settled>, StoreError> {
    // As the database keeps it (microseconds), so the moment published is
    // the one the period shows.
    let now = now.trunc_subsecs(6);
    let announce = s.settings.mail.is_some();
    let done = cart::settle(&s.db.primary, now, s.settings.credit_limit, announce).await?;
    if let Some(d) = &done {
        tracing::info!(
            enrolled = d.enrolled,
            skipped = d.skipped,
            drawn = d.drawn_courses,
            left_to_rush = d.left_to_rush.len(),
            "cart settled"
        );
        let mut redis = s.redis.clone();
        if let Err(err) = control::cart_settled(&mut redis, now).await {
            // The pages read the cart a little after the close anyway.
            tracing::warn!(error = %err, "could not publish the settled cart");
        }
        s.catalog.refresh(&s.db.primary).await?;
    }
    Ok(done)
}
