//! The lock order every writing transaction follows.
//!
//! Course rows first, in ascending id order, then student rows in ascending
//! id order. A transaction deciding several courses takes all their course
//! locks before any student lock; a cancel takes one course, then one
//! student. So two transactions sharing courses or students, or an
//! admission transaction and a cancel, can wait for each other but never
//! deadlock. [`lock_courses_then_students`] is the only place that takes
//! these locks.

use sqlx::types::Json;
use sqlx::PgConnection;

use crate::domain::course::CourseSeats;
use crate::domain::schedule::Meeting;

/// Locks the courses (`$1`: their ids), in id order.
pub const LOCK_COURSES: &str = "SELECT id, capacity, enrolled, credits, schedule FROM courses \
     WHERE id = ANY($1) ORDER BY id FOR UPDATE";

/// Locks the students (`$1`: their ids), in id order.
const LOCK_STUDENTS: &str = "SELECT id FROM students WHERE id = ANY($1) ORDER BY id FOR UPDATE";

/// `(id, capacity, enrolled, credits, schedule)` of a locked course.
type CourseRow = (i64, i32, i32, i16, Json<Vec<Meeting>>);

/// What a transaction locked.
#[derive(Debug)]
pub struct Locked {
    /// The courses that exist, in id order.
    pub courses: Vec<CourseSeats>,
    /// The students asked for, in id order, without repeats.
    pub asked: Vec<i64>,
    /// Those of them that exist (and are now locked), in id order.
    pub students: Vec<i64>,
}

/// Locks `courses`, then the students `students_for` names once it has seen
/// the locked courses (admission only locks the students of courses with
/// seats left). Ids may come in any order and repeat.
pub async fn lock_courses_then_students(
    tx: &mut PgConnection,
    courses: &[i64],
    students_for: impl FnOnce(&[CourseSeats]) -> Vec<i64>,
) -> Result<Locked, sqlx::Error> {
    let mut course_ids = courses.to_vec();
    course_ids.sort_unstable();
    course_ids.dedup();
    let rows: Vec<CourseRow> = sqlx::query_as(LOCK_COURSES)
        .bind(&course_ids)
        .fetch_all(&mut *tx)
        .await?;
    let courses: Vec<CourseSeats> = rows
        .into_iter()
        .map(
            |(id, capacity, enrolled, credits, Json(schedule))| CourseSeats {
                id,
                capacity,
                enrolled,
                credits,
                schedule,
            },
        )
        .collect();
    let mut student_ids = students_for(&courses);
    student_ids.sort_unstable();
    student_ids.dedup();
    let students = if student_ids.is_empty() {
        Vec::new()
    } else {
        sqlx::query_scalar(LOCK_STUDENTS)
            .bind(&student_ids)
            .fetch_all(&mut *tx)
            .await?
    };
    Ok(Locked {
        courses,
        asked: student_ids,
        students,
    })
}
