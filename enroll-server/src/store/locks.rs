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

use crate::domain::block::Block;
use crate::domain::course::CourseSeats;
use crate::domain::phase::Cohort;
use crate::domain::schedule::Meeting;

/// Locks the courses (`$1`: their ids), in id order, and reads their
/// blocks (changed only under the course's lock).
pub const LOCK_COURSES: &str = "SELECT id, capacity, enrolled + withheld, credits, schedule, \
     capacity - reserved - pooled - withheld, \
     (SELECT json_agg(json_build_object('name', b.name, 'seats', b.seats, 'enrolled', b.enrolled, \
       'departments', b.departments, 'years', b.years, 'release_at', b.release_at, \
       'released_at', b.released_at) ORDER BY b.position) \
      FROM course_blocks b WHERE b.course_id = courses.id) \
     FROM courses WHERE id = ANY($1) ORDER BY id FOR UPDATE OF courses";

/// Locks the students (`$1`: their ids), in id order.
const LOCK_STUDENTS: &str =
    "SELECT id, year, department FROM students WHERE id = ANY($1) ORDER BY id FOR UPDATE";

/// `(id, capacity, enrolled, credits, schedule, pool_left, blocks)` of a
/// locked course.
type CourseRow = (
    i64,
    i32,
    i32,
    i16,
    Json<Vec<Meeting>>,
    i32,
    Option<Json<Vec<Block>>>,
);

/// What a transaction locked.
#[derive(Debug)]
pub struct Locked {
    /// The courses that exist, in id order.
    pub courses: Vec<CourseSeats>,
    /// The students asked for, in id order, without repeats.
    pub asked: Vec<i64>,
    /// Those of them that exist (and are now locked), in id order, with
    /// what reserved blocks select them by.
    pub students: Vec<(i64, Cohort)>,
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
            |(id, capacity, enrolled, credits, Json(schedule), pool_left, blocks)| CourseSeats {
                id,
                capacity,
                enrolled,
                credits,
                schedule,
                pool_left,
                blocks: blocks.map(|b| b.0).unwrap_or_default(),
            },
        )
        .collect();
    let mut student_ids = students_for(&courses);
    student_ids.sort_unstable();
    student_ids.dedup();
    let students = if student_ids.is_empty() {
        Vec::new()
    } else {
        let rows: Vec<(i64, i16, String)> = sqlx::query_as(LOCK_STUDENTS)
            .bind(&student_ids)
            .fetch_all(&mut *tx)
            .await?;
        rows.into_iter()
            .map(|(id, year, department)| (id, Cohort { year, department }))
            .collect()
    };
    Ok(Locked {
        courses,
        asked: student_ids,
        students,
    })
}
