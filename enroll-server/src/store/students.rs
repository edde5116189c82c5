//! Student accounts.

use sqlx::PgPool;

use super::StoreResult;
use crate::domain::student::{ImportedStudent, NewStudent, Student};

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
        "INSERT INTO students (student_no, name, email, password_hash, mail_language) \
         SELECT * FROM UNNEST($1::text[], $2::text[], $3::text[], $4::text[], $5::text[]) \
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
    Ok(sqlx::query_as(
        "SELECT id, student_no, name, email, password_hash FROM students WHERE student_no = $1",
    )
    .bind(student_no)
    .fetch_optional(pool)
    .await?)
}

/// One student.
pub async fn find(pool: &PgPool, id: i64) -> StoreResult<Option<Student>> {
    Ok(
        sqlx::query_as("SELECT id, student_no, name, email FROM students WHERE id = $1")
            .bind(id)
            .fetch_optional(pool)
            .await?,
    )
}
