//! Student accounts.

use sqlx::PgPool;

use super::StoreResult;
use crate::domain::phase::Cohort;
use crate::domain::student::{ImportedStudent, NewStudent, Student, StudentPatch, STUDENT_COLUMNS};

/// Inserts the students with their password hashes (one per student, same
/// order), all or none.
pub async fn import(
    pool: &PgPool,
    students: &[NewStudent],
    hashes: &[String],
) -> StoreResult<Vec<ImportedStudent>> {
    let column =
        |f: fn(&NewStudent) -> &String| students.iter().map(f).cloned().collect::<Vec<_>>();
    Ok(sqlx::query_as(
        "INSERT INTO students (student_no, name, email, password_hash, mail_language, year, department) \
         SELECT * FROM UNNEST($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::int2[], $7::text[]) \
         RETURNING id, student_no",
    )
    .bind(column(|s| &s.student_no))
    .bind(column(|s| &s.name))
    .bind(column(|s| &s.email))
    .bind(hashes)
    .bind(
        students
            .iter()
            .map(|s| s.mail_language.as_str())
            .collect::<Vec<_>>(),
    )
    .bind(students.iter().map(|s| s.year).collect::<Vec<_>>())
    .bind(column(|s| &s.department))
    .fetch_all(pool)
    .await?)
}

/// A student and their password hash, for logging in.
#[derive(Debug, sqlx::FromRow)]
pub struct Credentials {
    #[sqlx(flatten)]
    pub student: Student,
    pub password_hash: String,
}

/// The student with this number and their password hash.
pub async fn credentials(pool: &PgPool, student_no: &str) -> StoreResult<Option<Credentials>> {
    Ok(sqlx::query_as(&format!(
        "SELECT {STUDENT_COLUMNS}, password_hash FROM students WHERE student_no = $1"
    ))
    .bind(student_no)
    .fetch_optional(pool)
    .await?)
}

/// One student.
pub async fn find(pool: &PgPool, id: i64) -> StoreResult<Option<Student>> {
    Ok(sqlx::query_as(&format!(
        "SELECT {STUDENT_COLUMNS} FROM students WHERE id = $1"
    ))
    .bind(id)
    .fetch_optional(pool)
    .await?)
}

/// Changes a student; `None` when no student has this number.
pub async fn update(
    pool: &PgPool,
    student_no: &str,
    patch: &StudentPatch,
) -> StoreResult<Option<Student>> {
    if student_no.contains('\0') {
        return Ok(None);
    }
    Ok(sqlx::query_as(&format!(
        "UPDATE students SET name = coalesce($2, name), email = coalesce($3, email), \
         year = coalesce($4, year), department = coalesce($5, department), \
         mail_language = coalesce($6, mail_language) \
         WHERE student_no = $1 RETURNING {STUDENT_COLUMNS}"
    ))
    .bind(student_no)
    .bind(&patch.name)
    .bind(&patch.email)
    .bind(patch.year)
    .bind(&patch.department)
    .bind(patch.mail_language.map(|l| l.as_str()))
    .fetch_optional(pool)
    .await?)
}

/// What phases and blocks select the student by.
pub async fn cohort(pool: &PgPool, id: i64) -> Result<Option<Cohort>, sqlx::Error> {
    let row: Option<(i16, String)> =
        sqlx::query_as("SELECT year, department FROM students WHERE id = $1")
            .bind(id)
            .fetch_optional(pool)
            .await?;
    Ok(row.map(|(year, department)| Cohort { year, department }))
}

/// The id of the student with this number.
pub async fn id_of(pool: &PgPool, student_no: &str) -> StoreResult<Option<i64>> {
    // PostgreSQL's text cannot hold NUL: no student has such a number.
    if student_no.contains('\0') {
        return Ok(None);
    }
    Ok(
        sqlx::query_scalar("SELECT id FROM students WHERE student_no = $1")
            .bind(student_no)
            .fetch_optional(pool)
            .await?,
    )
}
