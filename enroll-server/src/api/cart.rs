//! The pre-registration cart (장바구니): students fill it during the cart
//! period; the registrar sets the period and watches demand.

use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::{get, post, put};
use axum::{Json, Router};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::caller::{Admin, CurrentStudent, Registrar};
use super::error::{ApiResult, ErrorBody};
use super::extract::{ApiObject, ApiPath};
use crate::domain::cart::{Outcome, Policy};
use crate::domain::course::Course;
use crate::service::cart::{self, CartView};
use crate::state::AppState;
use crate::store::cart::{self as stored, CourseDemand, Period};

/// The students' routes.
pub fn student_router() -> Router<AppState> {
    Router::new()
        .route("/api/v1/cart", get(show))
        .route("/api/v1/cart/{course_id}", post(add).delete(remove))
}

/// The registrar's routes.
pub fn admin_router() -> Router<AppState> {
    Router::new()
        .route("/api/v1/admin/cart-period", put(set_period).get(get_period))
        .route("/api/v1/admin/cart/demand", get(demand))
}

#[derive(Debug, Serialize, ToSchema)]
pub struct CartProblem {
    pub course_id: i64,
    /// `already_enrolled`, `schedule_conflict`, `course_full`,
    /// `over_credit_limit` or `no_phase`.
    pub code: String,
    /// Course codes it clashes with (`schedule_conflict`).
    pub with: Vec<String>,
}

/// What the cart's close did with one of its courses.
#[derive(Debug, Serialize, ToSchema)]
pub struct CartOutcome {
    pub course_id: i64,
    /// `enrolled`; `skipped` (see `reason`); `left_to_rush` (more demand
    /// than seats: enroll when registration opens); `not_drawn` (more
    /// demand than seats, and the lottery did not reach the student).
    pub outcome: Outcome,
    /// Why it was skipped: `already_enrolled`, `credit_limit` or
    /// `schedule_conflict`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Cart {
    /// Whether courses may be put in or taken out now.
    pub open: bool,
    pub opens_at: Option<DateTime<Utc>>,
    pub closes_at: Option<DateTime<Utc>>,
    /// When the close run settled the cart (absent: not yet).
    pub settled_at: Option<DateTime<Utc>>,
    /// The courses, in the order added.
    pub items: Vec<Course>,
    pub cart_credits: i64,
    pub enrolled_credits: i64,
    pub credit_limit: i32,
    /// What would stop a course from being enrolled at close.
    pub problems: Vec<CartProblem>,
    /// Once settled, each course's outcome (empty before).
    pub outcomes: Vec<CartOutcome>,
}

impl From<CartView> for Cart {
    fn from(v: CartView) -> Self {
        Self {
            open: v.open,
            opens_at: v.period.as_ref().map(|p| p.opens_at),
            closes_at: v.period.as_ref().map(|p| p.closes_at),
            settled_at: v.period.as_ref().and_then(|p| p.settled_at),
            items: v.items,
            cart_credits: v.cart_credits,
            enrolled_credits: v.enrolled_credits,
            credit_limit: v.credit_limit,
            problems: v
                .problems
                .into_iter()
                .map(|p| CartProblem {
                    course_id: p.course_id,
                    code: p.code.to_string(),
                    with: p.with,
                })
                .collect(),
            outcomes: v
                .outcomes
                .into_iter()
                .map(|o| CartOutcome {
                    course_id: o.course_id,
                    outcome: o.outcome,
                    reason: o.reason,
                })
                .collect(),
        }
    }
}

/// The student's cart with its validation report.
#[utoipa::path(get, path = "/api/v1/cart", security(("student_session" = [])),
    responses((status = 200, body = Cart), (status = 401, body = ErrorBody)))]
pub async fn show(State(state): State<AppState>, student: CurrentStudent) -> ApiResult<Json<Cart>> {
    Ok(Json(cart::view(&state, &student.session).await?.into()))
}

/// Puts a course in the cart (during the cart period).
#[utoipa::path(post, path = "/api/v1/cart/{course_id}", security(("student_session" = [])),
    params(("course_id" = i64, Path, description = "The course's id")),
    responses((status = 201, body = Cart), (status = 403, body = ErrorBody, description = "cart_closed"),
              (status = 404, body = ErrorBody, description = "course_not_found"),
              (status = 409, body = ErrorBody, description = "already_in_cart, cart_full")))]
pub async fn add(
    State(state): State<AppState>,
    student: CurrentStudent,
    ApiPath(course_id): ApiPath<i64>,
) -> ApiResult<(StatusCode, Json<Cart>)> {
    cart::add(&state, student.session.student_id, course_id).await?;
    let view = cart::view(&state, &student.session).await?;
    Ok((StatusCode::CREATED, Json(view.into())))
}

/// Takes a course out of the cart (during the cart period).
#[utoipa::path(delete, path = "/api/v1/cart/{course_id}", security(("student_session" = [])),
    params(("course_id" = i64, Path, description = "The course's id")),
    responses((status = 204), (status = 403, body = ErrorBody, description = "cart_closed"),
              (status = 404, body = ErrorBody, description = "not_in_cart")))]
pub async fn remove(
    State(state): State<AppState>,
    student: CurrentStudent,
    ApiPath(course_id): ApiPath<i64>,
) -> ApiResult<StatusCode> {
    cart::remove(&state, student.session.student_id, course_id).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PeriodRequest {
    pub opens_at: DateTime<Utc>,
    /// After `opens_at`; the close run settles the cart then.
    pub closes_at: DateTime<Utc>,
    /// Over-demanded courses: `rush` (default) or `lottery`.
    #[serde(default)]
    pub policy: Policy,
    /// The lottery's seed; drawn at random when left out. Published.
    #[serde(default, deserialize_with = "crate::domain::whole::optional")]
    #[schema(minimum = 0)]
    pub seed: Option<i64>,
}

/// Sets the cart period and the policy for over-demanded courses
/// (registrar); refused once the cart was settled.
#[utoipa::path(put, path = "/api/v1/admin/cart-period", request_body = PeriodRequest,
    security(("admin_token" = ["registrar"])),
    responses((status = 200, body = Period), (status = 409, body = ErrorBody, description = "cart_settled"),
              (status = 422, body = ErrorBody, description = "invalid_window, invalid_body")))]
pub async fn set_period(
    State(state): State<AppState>,
    _registrar: Registrar,
    ApiObject(req): ApiObject<PeriodRequest>,
) -> ApiResult<Json<Period>> {
    let p = cart::set_period(&state, req.opens_at, req.closes_at, req.policy, req.seed).await?;
    Ok(Json(p))
}

/// The cart period, its seed and when it was settled.
#[utoipa::path(get, path = "/api/v1/admin/cart-period", security(("admin_token" = [])),
    responses((status = 200, body = Option<Period>)))]
pub async fn get_period(
    State(state): State<AppState>,
    _admin: Admin,
) -> ApiResult<Json<Option<Period>>> {
    Ok(Json(stored::get_period(&state.db.primary).await?))
}

/// Cart demand per course, the most over-demanded first.
#[utoipa::path(get, path = "/api/v1/admin/cart/demand", security(("admin_token" = [])),
    responses((status = 200, body = Vec<CourseDemand>)))]
pub async fn demand(
    State(state): State<AppState>,
    _admin: Admin,
) -> ApiResult<Json<Vec<CourseDemand>>> {
    Ok(Json(stored::demand(&state.db.primary).await?))
}
