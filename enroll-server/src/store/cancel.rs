//! A student gives a seat back: the cancel transaction, which hands the
//! seat to the course's waitlist first.

use sqlx::PgPool;

use super::audit::{self, By};
use super::locks::lock_courses_then_students;
use super::waitlist::{self, Promotion, Rules};
use super::{outbox, StoreResult};
use crate::domain::mail::Change;

/// Gives a seat back, locking in the order admission does, and gives it to
/// the course's waitlist when it has one ([`waitlist::promote`]). `None`
/// when the student holds no seat in the course; else the ticket that had
/// won it (`None` inside for a seat granted otherwise) and what the
/// waitlist got. With `announce`, the cancel is written to the mail outbox
/// in the same transaction.
pub async fn cancel(
    pool: &PgPool,
    student_id: i64,
    course_id: i64,
    by: By<'_>,
    rules: &Rules<'_>,
) -> StoreResult<Option<(Option<String>, Promotion)>> {
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
    let row: Option<(Option<String>, Option<String>)> = sqlx::query_as(
        "DELETE FROM enrollments WHERE student_id = $1 AND course_id = $2 RETURNING ticket, block",
    )
    .bind(student_id)
    .bind(course_id)
    .fetch_optional(&mut *tx)
    .await?;
    let Some((ticket, block)) = row else {
        return Ok(None);
    };
    if rules.announce {
        outbox::announce(&mut tx, &[student_id], &[course_id], Change::Cancelled).await?;
    }
    let change = audit::Change {
        kind: "cancelled",
        student_id: Some(student_id),
        course_id: Some(course_id),
        block,
        ..Default::default()
    };
    audit::write(&mut tx, &change, by).await?;
    let promoted = waitlist::promote(&mut tx, course_id, rules).await?;
    tx.commit().await?;
    Ok(Some((ticket, promoted)))
}
