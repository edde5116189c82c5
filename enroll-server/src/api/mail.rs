//! Parked enrollment mail (admin): the messages the mail server refused for
//! good, or that ran out of attempts, and putting them back in line once
//! the address or the server is fixed. Re-queueing is attributed to who
//! asked (the admin account's username, or `token`): stored on each message
//! and logged.

use axum::extract::State;
use axum::routing::{get, post};
use axum::{Json, Router};
use chrono::Utc;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::caller::{Admin, Registrar};
use super::error::{ApiError, ApiResult, ErrorBody};
use super::extract::{ApiObject, ApiQuery};
use crate::domain::mail::ParkedMail;
use crate::state::AppState;
use crate::store::outbox;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/api/v1/admin/mail/parked", get(parked))
        .route("/api/v1/admin/mail/requeue", post(requeue))
}

/// A page of parked mail.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct ParkedQuery {
    /// Only messages with a greater id (the previous page's `next_after`).
    pub after: Option<i64>,
    /// Messages per page, 1–500 [default: 100].
    #[param(minimum = 1, maximum = 500)]
    pub limit: Option<i64>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ParkedPage {
    pub items: Vec<ParkedMail>,
    /// Pass as `after` for the next page; absent on the last one.
    pub next_after: Option<i64>,
}

/// Parked mail, oldest first (admin).
#[utoipa::path(get, path = "/api/v1/admin/mail/parked", params(ParkedQuery),
    security(("admin_token" = [])),
    responses((status = 200, body = ParkedPage),
              (status = 422, body = ErrorBody, description = "invalid_limit")))]
pub async fn parked(
    State(state): State<AppState>,
    _admin: Admin,
    ApiQuery(q): ApiQuery<ParkedQuery>,
) -> ApiResult<Json<ParkedPage>> {
    let limit = q.limit.unwrap_or(100);
    if !(1..=500).contains(&limit) {
        return Err(ApiError::unprocessable(
            "invalid_limit",
            "`limit` must be 1 to 500",
        ));
    }
    let items = outbox::parked(&state.db.primary, q.after.unwrap_or(0), limit).await?;
    let next_after = (items.len() as i64 == limit)
        .then(|| items.last().map(|m| m.id))
        .flatten();
    Ok(Json(ParkedPage { items, next_after }))
}

/// Which parked mail to put back in line.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RequeueRequest {
    /// Message ids (at most 10,000); leave out to re-queue every parked message.
    #[schema(max_items = 10000)]
    #[serde(default, deserialize_with = "crate::domain::whole::optional_list")]
    pub ids: Option<Vec<i64>>,
    /// A note for the log (an operator's name or ticket), 1–100
    /// characters, not only spaces. The messages record who asked by the
    /// caller's account (`token` for the bootstrap token), not by this.
    #[schema(min_length = 1, max_length = 100, pattern = r"^\s*\S")]
    pub by: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct RequeueResult {
    /// The ids put back in line (ids that were not parked are left out).
    pub requeued: Vec<i64>,
}

/// Puts parked mail back in line with fresh attempts (admin).
#[utoipa::path(post, path = "/api/v1/admin/mail/requeue", request_body = RequeueRequest,
    security(("admin_token" = ["registrar"])),
    responses((status = 200, body = RequeueResult),
              (status = 422, body = ErrorBody, description = "invalid_field")))]
pub async fn requeue(
    State(state): State<AppState>,
    Registrar(admin): Registrar,
    ApiObject(req): ApiObject<RequeueRequest>,
) -> ApiResult<Json<RequeueResult>> {
    let note = req.by.as_deref().map(str::trim);
    if req
        .by
        .as_deref()
        .is_some_and(|by| by.trim().is_empty() || by.chars().count() > 100)
    {
        return Err(ApiError::unprocessable(
            "invalid_field",
            "`by` must be 1 to 100 characters",
        ));
    }
    if req.ids.as_ref().is_some_and(|ids| ids.len() > 10_000) {
        return Err(ApiError::unprocessable(
            "invalid_field",
            "`ids` holds at most 10,000 ids",
        ));
    }
    let by = admin.actor.label();
    let requeued = outbox::requeue(&state.db.primary, req.ids.as_deref(), by, Utc::now()).await?;
    tracing::info!(
        admin = by,
        note,
        count = requeued.len(),
        "parked mail re-queued"
    );
    Ok(Json(RequeueResult { requeued }))
}
