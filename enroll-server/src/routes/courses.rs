//! The catalogue: `GET /api/v1/courses` and `GET /api/v1/courses/{id}`.
//! Served from a replica (slightly stale is fine for browsing).

use axum::extract::State;
use axum::routing::get;
use axum::{Json, Router};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use crate::domain::course::{Course, COURSE_COLUMNS};
use crate::error::{ApiError, ApiResult, ErrorBody};
use crate::extract::{ApiPath, ApiQuery};
use crate::state::AppState;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/api/v1/courses", get(list))
        .route("/api/v1/courses/{id}", get(show))
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
pub struct ListParams {
    /// Matches code, name or professor (case-insensitive substring).
    #[serde(default)]
    pub query: String,
    /// Exact department.
    #[serde(default)]
    pub department: String,
    /// 1-based page number [default: 1].
    pub page: Option<u32>,
    /// Courses per page, 1 to 100 [default: 20].
    pub per_page: Option<u32>,
}

#[derive(Serialize, ToSchema)]
pub struct CoursePage {
    pub items: Vec<Course>,
    pub page: u32,
    pub per_page: u32,
    /// Courses matching the filters, over all pages.
    pub total: i64,
}

/// Searches the catalogue, ordered by course code.
#[utoipa::path(get, path = "/api/v1/courses", params(ListParams),
    responses((status = 200, body = CoursePage), (status = 422, body = ErrorBody)))]
pub async fn list(
    State(state): State<AppState>,
    ApiQuery(params): ApiQuery<ListParams>,
) -> ApiResult<Json<CoursePage>> {
    let page = params.page.unwrap_or(1);
    let per_page = params.per_page.unwrap_or(20);
    if !(1..=10_000).contains(&page) || !(1..=100).contains(&per_page) {
        return Err(ApiError::unprocessable(
            "invalid_query",
            "page must be 1 to 10000 and per_page 1 to 100",
        ));
    }
    if params.query.len() > 100 || params.department.len() > 100 {
        return Err(ApiError::unprocessable(
            "invalid_query",
            "filters are at most 100 characters",
        ));
    }
    let pattern = format!("%{}%", escape_like(&params.query));
    let filter = "($1 = '%%' OR code ILIKE $1 OR name ILIKE $1 OR professor ILIKE $1) \
                  AND ($2 = '' OR department = $2)";
    let list_sql = format!(
        "SELECT {COURSE_COLUMNS} FROM courses WHERE {filter} ORDER BY code LIMIT $3 OFFSET $4"
    );
    let count_sql = format!("SELECT count(*) FROM courses WHERE {filter}");
    let offset = (page as i64 - 1) * per_page as i64;
    let (items, total) = state
        .db
        .read_stale(|pool| {
            let (list_sql, count_sql, pattern, dept) =
                (&list_sql, &count_sql, &pattern, &params.department);
            async move {
                let items: Vec<Course> = sqlx::query_as(list_sql)
                    .bind(pattern)
                    .bind(dept)
                    .bind(per_page as i64)
                    .bind(offset)
                    .fetch_all(&pool)
                    .await?;
                let total: i64 = sqlx::query_scalar(count_sql)
                    .bind(pattern)
                    .bind(dept)
                    .fetch_one(&pool)
                    .await?;
                Ok((items, total))
            }
        })
        .await?;
    Ok(Json(CoursePage {
        items,
        page,
        per_page,
        total,
    }))
}

/// One course.
#[utoipa::path(get, path = "/api/v1/courses/{id}",
    responses((status = 200, body = Course), (status = 404, body = ErrorBody, description = "course_not_found")))]
pub async fn show(
    State(state): State<AppState>,
    ApiPath(id): ApiPath<i64>,
) -> ApiResult<Json<Course>> {
    let sql = format!("SELECT {COURSE_COLUMNS} FROM courses WHERE id = $1");
    let course: Option<Course> = state
        .db
        .read_stale(|pool| {
            let sql = &sql;
            async move { sqlx::query_as(sql).bind(id).fetch_optional(&pool).await }
        })
        .await?;
    course.map(Json).ok_or_else(course_not_found)
}

pub fn course_not_found() -> ApiError {
    ApiError::not_found("course_not_found", "no such course")
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

#[cfg(test)]
mod tests {
    #[test]
    fn like_wildcards_are_literal() {
        assert_eq!(super::escape_like(r"50%_a\b"), r"50\%\_a\\b");
    }
}
