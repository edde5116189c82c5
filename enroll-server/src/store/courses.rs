//! The catalogue's rows.

use serde_json::json;
use sqlx::types::Json;
use sqlx::PgPool;

use super::audit::{self, By};
use super::blocks;
use super::waitlist::{self, Rules};
use super::StoreResult;
use crate::db::Db;
use crate::domain::course::{Course, CoursePatch, CourseSeats, NewCourse, COURSE_COLUMNS};
use crate::domain::schedule::Meeting;

/// A catalogue search: a substring of code, name or professor, an exact
/// department (empty: any), and a page.
#[derive(Debug, Clone)]
pub struct Search<'a> {
    pub query: &'a str,
    pub department: &'a str,
    pub limit: i64,
    pub offset: i64,
}

/// The courses matching `search`, ordered by code, and how many match in
/// all. Read from a replica when one is healthy (browsing may be slightly
/// stale).
pub async fn search(db: &Db, search: &Search<'_>) -> StoreResult<(Vec<Course>, i64)> {
    let pattern = format!("%{}%", escape_like(search.query));
    let filter = "($1 = '%%' OR code ILIKE $1 OR name ILIKE $1 OR professor ILIKE $1) \
                  AND ($2 = '' OR department = $2)";
    let list_sql = format!(
        "SELECT {COURSE_COLUMNS} FROM courses WHERE {filter} ORDER BY code LIMIT $3 OFFSET $4"
    );
    let count_sql = format!("SELECT count(*) FROM courses WHERE {filter}");
    let found = db
        .read_stale(|pool| {
            let (list_sql, count_sql, pattern) = (&list_sql, &count_sql, &pattern);
            async move {
                let items: Vec<Course> = sqlx::query_as(list_sql)
                    .bind(pattern)
                    .bind(search.department)
                    .bind(search.limit)
                    .bind(search.offset)
                    .fetch_all(&pool)
                    .await?;
                let total: i64 = sqlx::query_scalar(count_sql)
                    .bind(pattern)
                    .bind(search.department)
                    .fetch_one(&pool)
                    .await?;
                Ok((items, total))
            }
        })
        .await?;
    Ok(found)
}

/// One course, from a replica when one is healthy.
pub async fn find_stale(db: &Db, id: i64) -> StoreResult<Option<Course>> {
    let sql = format!("SELECT {COURSE_COLUMNS} FROM courses WHERE id = $1");
    let course = db
        .read_stale(|pool| {
            let sql = &sql;
            async move { sqlx::query_as(sql).bind(id).fetch_optional(&pool).await }
        })
        .await?;
    Ok(course)
}

/// One course, exact (from the primary).
pub async fn find(pool: &PgPool, id: i64) -> StoreResult<Option<Course>> {
    let sql = format!("SELECT {COURSE_COLUMNS} FROM courses WHERE id = $1");
    Ok(sqlx::query_as(&sql).bind(id).fetch_optional(pool).await?)
}

/// Creates the courses in one transaction: all or none.
pub async fn create_all(pool: &PgPool, courses: &[NewCourse]) -> StoreResult<Vec<Course>> {
    let sql = format!(
        "INSERT INTO courses (code, name, professor, department, credits, capacity, schedule) \
         VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING {COURSE_COLUMNS}"
    );
    let mut tx = pool.begin().await?;
    let mut created = Vec::with_capacity(courses.len());
    for c in courses {
        let course: Course = sqlx::query_as(&sql)
            .bind(&c.code)
            .bind(&c.name)
            .bind(&c.professor)
            .bind(&c.department)
            .bind(c.credits)
            .bind(c.capacity)
            .bind(Json(&c.schedule))
            .fetch_one(&mut *tx)
            .await?;
        created.push(course);
    }
    tx.commit().await?;
    Ok(created)
}

/// Changes a course and, with `reserved`, replaces its blocks, in one
/// transaction; a new capacity or new blocks are recorded in the audit
/// trail (before and after) as made `by`. `None` when there is no such
/// course.
pub async fn update(
    pool: &PgPool,
    id: i64,
    patch: &CoursePatch,
    by: By<'_>,
    rules: &Rules<'_>,
) -> StoreResult<Option<Course>> {
    let mut tx = pool.begin().await?;
    let lock = format!("SELECT {COURSE_COLUMNS} FROM courses WHERE id = $1 FOR UPDATE OF courses");
    let waitlist = patch.waitlist.as_ref();
    let Some(before): Option<Course> = sqlx::query_as(&lock)
        .bind(id)
        .fetch_optional(&mut *tx)
        .await?
    else {
        return Ok(None);
    };
    sqlx::query(
        "UPDATE courses SET name = COALESCE($2, name), professor = COALESCE($3, professor), \
         department = COALESCE($4, department), credits = COALESCE($5, credits), \
         capacity = COALESCE($6, capacity), schedule = COALESCE($7, schedule), \
         waitlist_mode = COALESCE($8, waitlist_mode), waitlist_limit = COALESCE($9, waitlist_limit), \
         offer_minutes = COALESCE($10, offer_minutes), updated_at = now() \
         WHERE id = $1",
    )
    .bind(id)
    .bind(&patch.name)
    .bind(&patch.professor)
    .bind(&patch.department)
    .bind(patch.credits)
    .bind(patch.capacity)
    .bind(patch.schedule.as_ref().map(Json))
    .bind(waitlist.and_then(|w| w.mode).map(|m| m.as_str()))
    .bind(waitlist.and_then(|w| w.limit))
    .bind(waitlist.and_then(|w| w.offer_minutes))
    .execute(&mut *tx)
    .await?;
    if let Some(new) = &patch.reserved {
        blocks::replace(&mut tx, id, &before.blocks, new).await?;
    }
    let after: Course = sqlx::query_as(&format!(
        "SELECT {COURSE_COLUMNS} FROM courses WHERE id = $1"
    ))
    .bind(id)
    .fetch_one(&mut *tx)
    .await?;
    if after.capacity != before.capacity || after.blocks.0 != before.blocks.0 {
        let seats = |c: &Course| json!({"capacity": c.capacity, "blocks": c.blocks.0});
        let change = audit::Change {
            kind: "course_changed",
            course_id: Some(id),
            detail: Some(json!({"before": seats(&before), "after": seats(&after)})),
            ..Default::default()
        };
        audit::write(&mut tx, &change, by).await?;
        // More seats, or seats moved: the waitlist gets them first.
        waitlist::promote(&mut tx, id, rules).await?;
    }
    tx.commit().await?;
    Ok(Some(after))
}

/// `(id, capacity, enrolled, credits, schedule, pool_left)`.
type SeatsRow = (i64, i32, i32, i16, Json<Vec<Meeting>>, i32);

const SEATS_COLUMNS: &str = "id, capacity, enrolled + withheld, credits, schedule, \
     capacity - reserved - pooled - withheld AS pool_left";

fn seats((id, capacity, enrolled, credits, Json(schedule), pool_left): SeatsRow) -> CourseSeats {
    CourseSeats {
        id,
        capacity,
        enrolled,
        credits,
        schedule,
        pool_left,
        blocks: Vec::new(),
    }
}

/// Every course's seats (the enqueue path's snapshot).
pub async fn all_seats(pool: &PgPool) -> Result<Vec<CourseSeats>, sqlx::Error> {
    let rows: Vec<SeatsRow> = sqlx::query_as(&format!("SELECT {SEATS_COLUMNS} FROM courses"))
        .fetch_all(pool)
        .await?;
    Ok(rows.into_iter().map(seats).collect())
}

/// One course's seats.
pub async fn seats_of(pool: &PgPool, id: i64) -> Result<Option<CourseSeats>, sqlx::Error> {
    let row: Option<SeatsRow> = sqlx::query_as(&format!(
        "SELECT {SEATS_COLUMNS} FROM courses WHERE id = $1"
    ))
    .bind(id)
    .fetch_optional(pool)
    .await?;
    Ok(row.map(seats))
}

/// Escapes `%`, `_` and `\` so user input matches literally inside ILIKE.
fn escape_like(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        if matches!(c, '%' | '_' | '\\') {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

/// Ids of the courses with no seat left.
pub async fn full_ids(pool: &PgPool) -> Result<Vec<i64>, sqlx::Error> {
    let rows: Vec<(i64,)> =
        sqlx::query_as("SELECT id FROM courses WHERE enrolled + withheld >= capacity")
            .fetch_all(pool)
            .await?;
    Ok(rows.into_iter().map(|(id,)| id).collect())
}

#[cfg(test)]
mod tests {
    #[test]
    fn like_wildcards_are_literal() {
        assert_eq!(super::escape_like(r"50%_a\b"), r"50\%\_a\\b");
    }
}
