//! The catalogue: `GET /api/v1/courses` and `GET /api/v1/courses/{id}`.
//! Served from a replica (slightly stale is fine for browsing).

use axum::extract::State;
use axum::routing::get;
use axum::{Json, Router};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::caller::MaybeStudent;
use super::error::{course_not_found, ApiError, ApiResult, ErrorBody};
use super::extract::{ApiPath, ApiQuery};
use crate::domain::course::Course;
use crate::domain::phase::Cohort;
use crate::service::accounts;
use crate::state::AppState;
use crate::store::courses::{self, Search};

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/api/v1/courses", get(list))
        .route("/api/v1/courses/{id}", get(show))
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct ListParams {
    /// Matches code, name or professor (case-insensitive substring).
    #[serde(default)]
    #[param(max_length = 100, pattern = r"^[^\u0000]*$")]
    pub query: String,
    /// Exact department.
    #[serde(default)]
    #[param(max_length = 100, pattern = r"^[^\u0000]*$")]
    pub department: String,
    /// 1-based page number [default: 1].
    #[param(minimum = 1, maximum = 10000)]
    pub page: Option<u32>,
    /// Courses per page, 1 to 100 [default: 20].
    #[param(minimum = 1, maximum = 100)]
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
    student: MaybeStudent,
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
    if params.query.contains('\0') || params.department.contains('\0') {
        return Err(ApiError::unprocessable(
            "invalid_query",
            "filters must not contain NUL characters",
        ));
    }
    if params.query.chars().count() > 100 || params.department.chars().count() > 100 {
        return Err(ApiError::unprocessable(
            "invalid_query",
            "filters are at most 100 characters",
        ));
    }
    let search = Search {
        query: &params.query,
        department: &params.department,
        limit: per_page as i64,
        offset: (page as i64 - 1) * per_page as i64,
    };
    let (mut items, total) = courses::search(&state.db, &search).await?;
    if let Some(cohort) = cohort(&state, &student).await? {
        items = items.into_iter().map(|c| c.for_student(&cohort)).collect();
    }
    Ok(Json(CoursePage {
        items,
        page,
        per_page,
        total,
    }))
}

/// One course.
#[utoipa::path(get, path = "/api/v1/courses/{id}", params(("id" = i64, Path, description = "The course's id")),
    responses((status = 200, body = Course), (status = 404, body = ErrorBody, description = "course_not_found")))]
pub async fn show(
    State(state): State<AppState>,
    student: MaybeStudent,
    ApiPath(id): ApiPath<i64>,
) -> ApiResult<Json<Course>> {
    let course = courses::find_stale(&state.db, id)
        .await?
        .ok_or_else(course_not_found)?;
    Ok(Json(match cohort(&state, &student).await? {
        Some(cohort) => course.for_student(&cohort),
        None => course,
    }))
}

/// The logged-in student's year and department, if someone is logged in.
async fn cohort(state: &AppState, student: &MaybeStudent) -> ApiResult<Option<Cohort>> {
    match &student.0 {
        Some(s) => Ok(Some(accounts::cohort(state, &s.session).await?)),
        None => Ok(None),
    }
}
