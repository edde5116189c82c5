//! A student gives a seat back: the cancel transaction, which hands the
//! seat to the course's waitlist first.

use chrono::{DateTime, Utc};
use sqlx::PgPool;

use super::audit::{self, By};
use super::locks::lock_courses_then_students;
use super::waitlist::{self, Promotion, Rules};
use super::withheld;
use super::{outbox, StoreResult};
use crate::domain::mail::Change;

/// Gives a seat back, locking in the order admission does, and gives it to
/// the course's waitlist when it has one ([`waitlist::promote`]). `None`
/// when the student holds no seat in the course; else the ticket that had
/// won it, what the waitlist got, and — when `withhold_until` is given and
/// nobody on the waitlist took the open-pool seat — until when it is
/// withheld from the queue. With `announce`, the cancel is written to the mail outbox
/// in the same transaction.
pub async fn cancel(
    pool: &PgPool,
    student_id: i64,
    course_id: i64,
    by: By<'_>,
    rules: &Rules<'_>,
    withhold_until: Option<DateTime<Utc>>,
) -> StoreResult<Option<Cancelled>> {
    let mut tx = pool.begin().await?;
    // The waitlist's first students are locked with this one, in order.
    let mut students = waitlist::heads(&mut tx, course_id).await?;
    students.push(student_id);
    let locked = lock_courses_then_students(&mut tx, &[course_id], |courses| {
        if courses.is_empty() {
            Vec::new()
        } else {
            students
        }
    })
    .await?;
    if locked.courses.is_empty() {
        return Ok(None);
    }
    let row: Option<(Option<String>, Option<String>, bool)> = sqlx::query_as(
        "DELETE FROM enrollments WHERE student_id = $1 AND course_id = $2 \
         RETURNING ticket, block, over_capacity",
    )
    .bind(student_id)
    .bind(course_id)
    .fetch_optional(&mut *tx)
    .await?;
    let Some((ticket, block, over_capacity)) = row else {
        return Ok(None);
    };
    if rules.announce {
        outbox::announce(&mut tx, &[student_id], &[course_id], Change::Cancelled).await?;
    }
    let change = audit::Change {
        kind: "cancelled",
        student_id: Some(student_id),
        course_id: Some(course_id),
        block: block.clone(),
        ..Default::default()
    };
    audit::write(&mut tx, &change, by).await?;
    let mut promoted = waitlist::promote(&mut tx, course_id, rules).await?;
    // Nobody on the waitlist took the open-pool seat: withheld for a while.
    // A seat held over capacity frees none: a seat free for another reason
    // is not this cancel's to withhold.
    let frees_pool_seat = block.is_none() && !over_capacity;
    let withheld = match withhold_until {
        Some(until) if promoted.given.is_empty() && promoted.left > 0 && frees_pool_seat => {
            withheld::withhold(&mut tx, course_id, rules.now, until).await?;
            promoted.left -= 1;
            Some(until)
        }
        _ => None,
    };
    tx.commit().await?;
    Ok(Some(Cancelled {
        ticket,
        promoted,
        withheld,
    }))
}

/// What a cancel did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cancelled {
    /// The ticket that had won the seat (`None`: granted otherwise).
    pub ticket: Option<String>,
    /// What the waitlist got.
    pub promoted: Promotion,
    /// Until when the seat is withheld from the queue, if it is.
    pub withheld: Option<DateTime<Utc>>,
}
