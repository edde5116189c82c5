//! Admin routes (`Authorization: Bearer` the admin token or an admin
//! session's token): courses, student import (registrar), rosters (any
//! admin). The registration window is in [`super::window`].

use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::{get, patch, post};
use axum::{Json, Router};
use serde::de::DeserializeOwned;
use serde::Serialize;
use serde_json::Value;
use std::borrow::Cow;
use std::marker::PhantomData;

use utoipa::openapi::schema::{ArrayBuilder, OneOfBuilder, Schema};
use utoipa::openapi::{Ref, RefOr};
use utoipa::{PartialSchema, ToSchema};

use super::caller::{Admin, ClientAddr, Registrar};
use super::error::{course_not_found, ApiError, ApiResult, ErrorBody};
use super::extract::{ApiJson, ApiObject, ApiPath};
use crate::domain::course::{Course, CoursePatch, NewCourse};
use crate::domain::enrollment::RosterEntry;
use crate::domain::student::{ImportedStudent, NewStudent, Student, StudentPatch};
use crate::service::registrar;
use crate::state::AppState;
use crate::store::audit::By;
use crate::store::{courses, enrollments};

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/api/v1/admin/courses", post(create_courses))
        .route("/api/v1/admin/courses/{id}", patch(update_course))
        .route("/api/v1/admin/courses/{id}/roster", get(roster))
        .route("/api/v1/admin/students", post(import_students))
        .route("/api/v1/admin/students/{student_no}", patch(update_student))
}

/// What `POST /api/v1/admin/courses` takes: one course or 1 to 1,000.
pub type NewCourses = OneOrManySchema<NewCourse, { registrar::MAX_COURSES }>;
/// What it answers: the course, or the courses.
pub type CreatedCourses = OneOrManySchema<Course, { registrar::MAX_COURSES }>;
/// What `POST /api/v1/admin/students` takes: one student or 1 to 5,000.
pub type NewStudents = OneOrManySchema<NewStudent, { registrar::MAX_IMPORT }>;

/// The documented schema of [`OneOrMany`]: one `T`, or an array of 1 to
/// `MAX` of them.
pub struct OneOrManySchema<T, const MAX: usize>(PhantomData<T>);

impl<T: ToSchema, const MAX: usize> PartialSchema for OneOrManySchema<T, MAX> {
    fn schema() -> RefOr<Schema> {
        let item = || Ref::from_schema_name(T::name());
        OneOfBuilder::new()
            .item(item())
            .item(
                ArrayBuilder::new()
                    .items(item())
                    .min_items(Some(1))
                    .max_items(Some(MAX)),
            )
            .into()
    }
}

impl<T: ToSchema, const MAX: usize> ToSchema for OneOrManySchema<T, MAX> {
    fn name() -> Cow<'static, str> {
        format!("OneOrMany{}", T::name()).into()
    }

    fn schemas(schemas: &mut Vec<(String, RefOr<Schema>)>) {
        schemas.push((T::name().into(), T::schema()));
        T::schemas(schemas);
    }
}

/// A JSON body that is one item or an array of items.
enum OneOrMany<T> {
    One(T),
    Many(Vec<T>),
}

impl<T: DeserializeOwned> OneOrMany<T> {
    /// Decodes with the item type's own error messages (unknown fields named).
    fn decode(value: Value) -> Result<Self, ApiError> {
        let invalid = |e: serde_json::Error| ApiError::unprocessable("invalid_body", e.to_string());
        match value {
            Value::Array(_) => serde_json::from_value(value)
                .map(Self::Many)
                .map_err(invalid),
            Value::Object(_) => serde_json::from_value(value)
                .map(Self::One)
                .map_err(invalid),
            _ => Err(ApiError::unprocessable(
                "invalid_body",
                "expected an object or an array",
            )),
        }
    }

    fn into_vec(self) -> Vec<T> {
        match self {
            Self::One(t) => vec![t],
            Self::Many(v) => v,
        }
    }
}

/// Creates one course (object body, object answer) or many (array body,
/// array answer) in one transaction.
#[utoipa::path(post, path = "/api/v1/admin/courses", request_body = NewCourses,
    security(("admin_token" = ["registrar"])),
    responses((status = 201, body = CreatedCourses, description = "the course, or the courses in order"),
              (status = 409, body = ErrorBody, description = "duplicate_code"),
              (status = 422, body = ErrorBody, description = "invalid_field, invalid_schedule, invalid_body")))]
pub async fn create_courses(
    State(state): State<AppState>,
    _registrar: Registrar,
    ApiJson(body): ApiJson<Value>,
) -> ApiResult<(StatusCode, Json<Value>)> {
    let input = OneOrMany::<NewCourse>::decode(body)?;
    let single = matches!(input, OneOrMany::One(_));
    let created = registrar::create_courses(&state, &input.into_vec()).await?;
    let body = if single {
        serde_json::to_value(&created[0])
    } else {
        serde_json::to_value(&created)
    }
    .map_err(anyhow::Error::from)?;
    Ok((StatusCode::CREATED, Json(body)))
}

/// Changes a course. Lowering the capacity below the seats already taken is
/// refused by the database itself (409 `capacity_below_enrolled`).
#[utoipa::path(patch, path = "/api/v1/admin/courses/{id}", request_body = CoursePatch,
    params(("id" = i64, Path, description = "The course's id")),
    security(("admin_token" = ["registrar"])),
    responses((status = 200, body = Course), (status = 404, body = ErrorBody, description = "course_not_found"),
              (status = 422, body = ErrorBody, description = "invalid_field, invalid_schedule, invalid_body"),
              (status = 409, body = ErrorBody, description = "capacity_below_enrolled, block_below_enrolled, block_in_use, reserved_seats_taken, reserved_over_capacity")))]
pub async fn update_course(
    State(state): State<AppState>,
    Registrar(admin): Registrar,
    client: ClientAddr,
    ApiPath(id): ApiPath<i64>,
    ApiObject(patch): ApiObject<CoursePatch>,
) -> ApiResult<Json<Course>> {
    let by = By::admin(admin.actor.label(), client.0);
    Ok(Json(
        registrar::update_course(&state, id, &patch, by).await?,
    ))
}

#[derive(Serialize, ToSchema)]
pub struct ImportResult {
    pub created: usize,
    pub students: Vec<ImportedStudent>,
}

/// Imports students (one object or an array, at most 5,000 per request),
/// all or nothing; a student number that exists already fails the whole
/// request with 409 `duplicate_student_no`.
#[utoipa::path(post, path = "/api/v1/admin/students", request_body = NewStudents,
    security(("admin_token" = ["registrar"])),
    responses((status = 201, body = ImportResult), (status = 409, body = ErrorBody, description = "duplicate_student_no"),
              (status = 422, body = ErrorBody, description = "invalid_field, weak_password, invalid_body")))]
pub async fn import_students(
    State(state): State<AppState>,
    _registrar: Registrar,
    ApiJson(body): ApiJson<Value>,
) -> ApiResult<(StatusCode, Json<ImportResult>)> {
    let students = OneOrMany::<NewStudent>::decode(body)?.into_vec();
    let rows = registrar::import_students(&state, &students).await?;
    Ok((
        StatusCode::CREATED,
        Json(ImportResult {
            created: rows.len(),
            students: rows,
        }),
    ))
}

/// Changes a student. A new year or department ends the student's
/// sessions: phases and reserved seats select by them, and a session
/// carries them from login.
#[utoipa::path(patch, path = "/api/v1/admin/students/{student_no}", request_body = StudentPatch,
    params(("student_no" = String, Path, description = "The student's number")),
    security(("admin_token" = ["registrar"])),
    responses((status = 200, body = Student), (status = 404, body = ErrorBody, description = "student_not_found"),
              (status = 422, body = ErrorBody, description = "invalid_field, invalid_body")))]
pub async fn update_student(
    State(state): State<AppState>,
    _registrar: Registrar,
    ApiPath(student_no): ApiPath<String>,
    ApiObject(patch): ApiObject<StudentPatch>,
) -> ApiResult<Json<Student>> {
    Ok(Json(
        registrar::update_student(&state, &student_no, &patch).await?,
    ))
}

#[derive(Serialize, ToSchema)]
pub struct Roster {
    pub course: Course,
    pub students: Vec<RosterEntry>,
}

/// Who holds a seat in the course (from the primary: exact, not stale).
#[utoipa::path(get, path = "/api/v1/admin/courses/{id}/roster", security(("admin_token" = [])),
    params(("id" = i64, Path, description = "The course's id")),
    responses((status = 200, body = Roster), (status = 404, body = ErrorBody, description = "course_not_found")))]
pub async fn roster(
    State(state): State<AppState>,
    _admin: Admin,
    ApiPath(id): ApiPath<i64>,
) -> ApiResult<Json<Roster>> {
    let pool = &state.db.primary;
    let course = courses::find(pool, id)
        .await?
        .ok_or_else(course_not_found)?;
    let students = enrollments::roster(pool, id).await?;
    Ok(Json(Roster { course, students }))
}
