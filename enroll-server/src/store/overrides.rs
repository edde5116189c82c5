//! The registrar's overrides: force-add (over capacity only when asked,
//! with a reason) and force-drop, each audited and announced in its own
//! transaction, locking in the order admission does.

use serde_json::json;
use sqlx::PgPool;

use super::audit::{self, By};
use super::locks::lock_courses_then_students;
use super::waitlist::{self, Promotion, Rules};
use super::{outbox, StoreResult};
use crate::domain::block::seat_for;
use crate::domain::mail::Change;
use crate::domain::phase::Cohort;

/// What a force-add did, or why it did not.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Added {
    /// A seat from this block (`None`: the open pool) or over capacity.
    Seat {
        student_id: i64,
        block: Option<String>,
        over_capacity: bool,
    },
    NoStudent,
    NoCourse,
    AlreadyEnrolled,
    /// No seat for this student and `over_capacity` not asked for.
    Full,
}

/// What a force-drop did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Dropped {
    /// The seat is given back; the ticket that had won it, if any, and
    /// what the waitlist got.
    Seat {
        student_id: i64,
        ticket: Option<String>,
        promoted: Promotion,
    },
    NoStudent,
    NotEnrolled,
}

async fn student(pool: &PgPool, student_no: &str) -> StoreResult<Option<i64>> {
    super::students::id_of(pool, student_no).await
}

/// Gives `student_no` a seat in `course`: from a block they qualify for or
/// the open pool, else beyond the capacity when `over_capacity`. Credit
/// limit and timetable are the registrar's call, not checked.
pub async fn force_add(
    pool: &PgPool,
    student_no: &str,
    course: i64,
    over_capacity: bool,
    reason: &str,
    by: By<'_>,
    announce: bool,
) -> StoreResult<Added> {
    let Some(id) = student(pool, student_no).await? else {
        return Ok(Added::NoStudent);
    };
    let mut tx = pool.begin().await?;
    let locked = lock_courses_then_students(&mut tx, &[course], |_| vec![id]).await?;
    let (Some(c), Some((_, cohort))) = (locked.courses.first(), locked.students.first()) else {
        return Ok(if locked.courses.is_empty() {
            Added::NoCourse
        } else {
            Added::NoStudent
        });
    };
    let holds: bool = sqlx::query_scalar(
        "SELECT EXISTS (SELECT 1 FROM enrollments WHERE student_id = $1 AND course_id = $2)",
    )
    .bind(id)
    .bind(course)
    .fetch_one(&mut *tx)
    .await?;
    if holds {
        return Ok(Added::AlreadyEnrolled);
    }
    let cohort: &Cohort = cohort;
    let (block, over) = match seat_for(&c.blocks, c.pool_left, cohort) {
        Some(b) => (b.map(|i| c.blocks[i].name.clone()), false),
        None if over_capacity => (None, true),
        None => return Ok(Added::Full),
    };
    sqlx::query(
        "INSERT INTO enrollments (student_id, course_id, block, over_capacity) VALUES ($1, $2, $3, $4)",
    )
    .bind(id)
    .bind(course)
    .bind(&block)
    .bind(over)
    .execute(&mut *tx)
    .await?;
    if announce {
        outbox::announce(&mut tx, &[id], &[course], Change::Added).await?;
    }
    let change = audit::Change {
        kind: "force_added",
        student_id: Some(id),
        course_id: Some(course),
        reason: Some(reason.to_string()),
        block: block.clone(),
        detail: Some(json!({"over_capacity": over})),
    };
    audit::write(&mut tx, &change, by).await?;
    tx.commit().await?;
    Ok(Added::Seat {
        student_id: id,
        block,
        over_capacity: over,
    })
}

/// Takes `student_no`'s seat in `course` away; the course's waitlist gets
/// it in the same transaction.
pub async fn force_drop(
    pool: &PgPool,
    student_no: &str,
    course: i64,
    reason: &str,
    by: By<'_>,
    rules: &Rules<'_>,
) -> StoreResult<Dropped> {
    let Some(id) = student(pool, student_no).await? else {
        return Ok(Dropped::NoStudent);
    };
    let mut tx = pool.begin().await?;
    let mut students = waitlist::heads(&mut tx, course).await?;
    students.push(id);
    lock_courses_then_students(&mut tx, &[course], |_| students).await?;
    let row: Option<(Option<String>, Option<String>, bool)> = sqlx::query_as(
        "DELETE FROM enrollments WHERE student_id = $1 AND course_id = $2 \
         RETURNING ticket, block, over_capacity",
    )
    .bind(id)
    .bind(course)
    .fetch_optional(&mut *tx)
    .await?;
    let Some((ticket, block, over)) = row else {
        return Ok(Dropped::NotEnrolled);
    };
    if rules.announce {
        outbox::announce(&mut tx, &[id], &[course], Change::Dropped).await?;
    }
    let change = audit::Change {
        kind: "force_dropped",
        student_id: Some(id),
        course_id: Some(course),
        reason: Some(reason.to_string()),
        block,
        detail: Some(json!({"over_capacity": over, "ticket": ticket})),
    };
    audit::write(&mut tx, &change, by).await?;
    let promoted = waitlist::promote(&mut tx, course, rules).await?;
    tx.commit().await?;
    Ok(Dropped::Seat {
        student_id: id,
        ticket,
        promoted,
    })
}
