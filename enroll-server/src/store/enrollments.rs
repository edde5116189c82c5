//! Seats: who holds which course, and the statements of the admission
//! transaction (the cancel is [`super::cancel`]).

use sqlx::types::Json;
use sqlx::{PgConnection, PgPool};

use super::StoreResult;
use crate::domain::enrollment::{Enrollment, HeldSeat, RosterEntry};
use crate::domain::schedule::Meeting;

/// A student's enrollments, oldest first (seats only offered to them
/// from a waitlist are not yet theirs: see the waitlist).
pub async fn of_student(pool: &PgPool, student_id: i64) -> StoreResult<Vec<Enrollment>> {
    Ok(sqlx::query_as(
        "SELECT c.id AS course_id, c.code, c.name, c.professor, c.credits, c.schedule, e.enrolled_at \
         FROM enrollments e JOIN courses c ON c.id = e.course_id \
         WHERE e.student_id = $1 AND e.offer_expires_at IS NULL ORDER BY e.enrolled_at, c.code",
    )
    .bind(student_id)
    .fetch_all(pool)
    .await?)
}

/// Who holds a seat in the course, in the order they got it.
pub async fn roster(pool: &PgPool, course_id: i64) -> StoreResult<Vec<RosterEntry>> {
    Ok(sqlx::query_as(
        "SELECT s.id, s.student_no, s.name, s.email, e.enrolled_at FROM enrollments e \
         JOIN students s ON s.id = e.student_id WHERE e.course_id = $1 ORDER BY e.enrolled_at, s.student_no",
    )
    .bind(course_id)
    .fetch_all(pool)
    .await?)
}

/// `(student, course, ticket, credits, schedule)` of a seat already held.
type HeldRow = (i64, i64, Option<String>, i16, Json<Vec<Meeting>>);

/// Every seat the students hold, as `(student, seat)`.
pub async fn held_by(
    tx: &mut PgConnection,
    students: &[i64],
) -> Result<Vec<(i64, HeldSeat)>, sqlx::Error> {
    let rows: Vec<HeldRow> = sqlx::query_as(
        "SELECT e.student_id, e.course_id, e.ticket, c.credits, c.schedule \
         FROM enrollments e JOIN courses c ON c.id = e.course_id \
         WHERE e.student_id = ANY($1)",
    )
    .bind(students)
    .fetch_all(tx)
    .await?;
    Ok(rows
        .into_iter()
        .map(|(student, course_id, ticket, credits, Json(schedule))| {
            let seat = HeldSeat {
                course_id,
                ticket,
                credits,
                schedule,
            };
            (student, seat)
        })
        .collect())
}

/// A (student, course) pair asked about by [`standing`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Standing {
    pub student: i64,
    pub course_id: i64,
    /// Whether the student exists.
    pub exists: bool,
    /// Whether they hold that course, and with which ticket.
    pub holds: Option<Option<String>>,
}

/// For each `(students[i], courses[i])`: whether the student exists and
/// whether they hold that very course — one cheap query for many pairs.
pub async fn standing(
    tx: &mut PgConnection,
    students: &[i64],
    courses: &[i64],
) -> Result<Vec<Standing>, sqlx::Error> {
    let rows: Vec<(i64, i64, bool, Option<String>, bool)> = sqlx::query_as(
        "SELECT u.s, u.c, s.id IS NOT NULL, e.ticket, e.student_id IS NOT NULL \
         FROM UNNEST($1::bigint[], $2::bigint[]) AS u(s, c) \
         LEFT JOIN students s ON s.id = u.s \
         LEFT JOIN enrollments e ON e.student_id = u.s AND e.course_id = u.c",
    )
    .bind(students)
    .bind(courses)
    .fetch_all(tx)
    .await?;
    Ok(rows
        .into_iter()
        .map(|(student, course_id, exists, ticket, holds)| Standing {
            student,
            course_id,
            exists,
            holds: holds.then_some(ticket),
        })
        .collect())
}

/// Seats admission grants in one transaction, column by column.
#[derive(Debug, Default)]
pub struct NewSeats {
    pub students: Vec<i64>,
    pub courses: Vec<i64>,
    /// The ticket that won each seat (`None`: granted otherwise).
    pub tickets: Vec<Option<String>>,
    /// The block each seat comes from (`None`: the open pool).
    pub blocks: Vec<Option<String>>,
}

impl NewSeats {
    pub fn push(
        &mut self,
        student: i64,
        course: i64,
        ticket: Option<String>,
        block: Option<String>,
    ) {
        self.students.push(student);
        self.courses.push(course);
        self.tickets.push(ticket);
        self.blocks.push(block);
    }
}

/// Inserts the seats. A seat that exists already is left as it is: a
/// retried batch must never fail or double-insert. With `announce`, each
/// seat inserted (and only those: a retried batch announces nothing twice)
/// is written to the mail outbox by the same statement.
pub async fn insert_all(
    tx: &mut PgConnection,
    seats: &NewSeats,
    announce: bool,
) -> Result<(), sqlx::Error> {
    let sql = if announce {
        "WITH ins AS (INSERT INTO enrollments (student_id, course_id, ticket, block) \
             SELECT s, c, t, b FROM UNNEST($1::bigint[], $2::bigint[], $3::text[], $4::text[]) AS u(s, c, t, b) \
             ON CONFLICT (student_id, course_id) DO NOTHING RETURNING student_id, course_id) \
         INSERT INTO mail_outbox (student_id, course_id, change) \
         SELECT student_id, course_id, 'enrolled' FROM ins"
    } else {
        "INSERT INTO enrollments (student_id, course_id, ticket, block) \
         SELECT s, c, t, b FROM UNNEST($1::bigint[], $2::bigint[], $3::text[], $4::text[]) AS u(s, c, t, b) \
         ON CONFLICT (student_id, course_id) DO NOTHING"
    };
    sqlx::query(sql)
        .bind(&seats.students)
        .bind(&seats.courses)
        .bind(&seats.tickets)
        .bind(&seats.blocks)
        .execute(tx)
        .await?;
    Ok(())
}

/// Every seat won by a queue ticket: `(ticket, student, enrolled_at)`, for
/// rebuilding Redis after it lost its data.
pub async fn won_by_tickets(
    pool: &PgPool,
) -> Result<Vec<(String, i64, chrono::DateTime<chrono::Utc>)>, sqlx::Error> {
    sqlx::query_as(
        "SELECT ticket, student_id, enrolled_at FROM enrollments WHERE ticket IS NOT NULL",
    )
    .fetch_all(pool)
    .await
}

/// Which of `tickets` won `student` a seat (held now).
pub async fn won_tickets_of(
    pool: &PgPool,
    student: i64,
    tickets: &[crate::ticket::TicketId],
) -> Result<Vec<crate::ticket::TicketId>, sqlx::Error> {
    let courses: Vec<i64> = tickets.iter().map(|t| t.course_id).collect();
    let names: Vec<String> = tickets.iter().map(ToString::to_string).collect();
    let rows: Vec<(String,)> = sqlx::query_as(
        "SELECT ticket FROM enrollments \
         WHERE student_id = $1 AND course_id = ANY($2) AND ticket = ANY($3)",
    )
    .bind(student)
    .bind(courses)
    .bind(names)
    .fetch_all(pool)
    .await?;
    Ok(rows
        .into_iter()
        .filter_map(|(t,)| crate::ticket::TicketId::parse(&t))
        .collect())
}
