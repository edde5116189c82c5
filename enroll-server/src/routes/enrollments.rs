//! Enroll, follow a ticket, list and cancel enrollments.

use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::{delete, get, post};
use axum::{Json, Router};
use chrono::Utc;
use serde::{Deserialize, Serialize};
use std::convert::Infallible;
use std::time::{Duration, Instant};

use axum::http::HeaderName;
use axum::response::sse::{Event as SseEvent, KeepAlive, Sse};
use axum::response::IntoResponse;
use futures::StreamExt;
use utoipa::ToSchema;

use crate::auth::CurrentStudent;
use crate::error::{ApiError, ApiResult, ErrorBody};
use crate::extract::{ApiJson, ApiPath, ApiQuery};
use crate::queue::{self, Enqueued, Pace, TicketId};
use crate::routes::courses::course_not_found;
use crate::routes::me::{enrollments_of, Enrollment};
use crate::session;
use crate::state::AppState;
use crate::ticket_events::{Event, OpenError};

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/api/v1/enrollments", post(enroll).get(list))
        .route("/api/v1/enrollments/tickets", get(tickets))
        .route("/api/v1/enrollments/tickets/{ticket}", get(ticket))
        .route("/api/v1/enrollments/events", get(events))
        .route("/api/v1/enrollments/{course_id}", delete(cancel))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct EnrollRequest {
    pub course_id: i64,
}

/// A place in line, or a decision.
#[derive(Serialize, ToSchema)]
pub struct Ticket {
    pub ticket: String,
    pub course_id: i64,
    /// `queued`, `enrolled`, `rejected` or `cancelled`.
    pub status: String,
    /// Why it was rejected (`course_full`, `already_enrolled`, `credit_limit`,
    /// `schedule_conflict`, ...).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// 1-based place in line while queued.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub position: Option<i64>,
    /// Estimated time to a decision, from the course's measured admission
    /// pace (a batch of heads per cycle); absent while admission is paused.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub eta_ms: Option<u64>,
    /// Present (`true`) while an admin has paused admission: the ticket
    /// keeps its place, nothing is decided until admission resumes.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub admission_paused: bool,
}

fn course_full() -> ApiError {
    ApiError::conflict("course_full", "the course is full")
}

/// Time to a decision at `position`, from the course's measured pace; before
/// one is measured, one admission cycle of `DEFAULT_CYCLE_MS` per batch.
fn eta_ms(position: i64, pace: Option<Pace>, batch: usize) -> u64 {
    pace.unwrap_or(Pace {
        cycle_ms: DEFAULT_CYCLE_MS,
        batch: batch.max(1),
    })
    .eta_ms(position)
}

/// An admission cycle's length assumed before a course has a measured pace
/// (a paced transaction every 15 ms, its ~10 ms, and the Redis steps around
/// it: cycles measured during the rush benchmark are 40–50 ms).
const DEFAULT_CYCLE_MS: f64 = 50.0;

/// Joins the course's waiting queue: 202 with a ticket and place, after one
/// Redis round trip. Retrying returns the same ticket and place — until the
/// course is flagged full: from then on this instance refuses every request
/// for it with `course_full` from memory (a queued retry's ticket will be
/// rejected `course_full` too; a student holding a seat sees their seat in
/// their enrollments), until seats are freed anywhere.
#[utoipa::path(post, path = "/api/v1/enrollments", request_body = EnrollRequest,
    responses((status = 202, body = Ticket), (status = 401, body = ErrorBody),
              (status = 403, body = ErrorBody, description = "registration_closed"),
              (status = 404, body = ErrorBody, description = "course_not_found"),
              (status = 409, body = ErrorBody, description = "already_enrolled, course_full")))]
pub async fn enroll(
    State(state): State<AppState>,
    student: CurrentStudent,
    ApiJson(req): ApiJson<EnrollRequest>,
) -> ApiResult<(StatusCode, Json<Ticket>)> {
    let tickets = &state.metrics.tickets;
    if !state.live.window_open(Utc::now()) {
        tickets.with_label_values(&["refused_closed"]).inc();
        return Err(ApiError::forbidden(
            "registration_closed",
            "registration is not open",
        ));
    }
    if !state
        .live
        .course_exists(req.course_id, &state.db.primary)
        .await?
    {
        return Err(course_not_found());
    }
    if state
        .known_full
        .get(&req.course_id, Instant::now())
        .is_some()
    {
        state.metrics.known_full_refusals.inc();
        tickets.with_label_values(&["refused_full"]).inc();
        return Err(course_full());
    }
    let epoch = state.known_full.epoch();
    match state
        .enqueuer
        .enqueue(req.course_id, student.session.student_id)
        .await?
    {
        Enqueued::Queued {
            seq,
            rank,
            retry,
            pace,
        } => {
            tickets
                .with_label_values(&[if retry { "duplicate_retry" } else { "queued" }])
                .inc();
            state.wake_admission.course(req.course_id);
            let paused = state.wake_admission.paused();
            Ok((
                StatusCode::ACCEPTED,
                Json(Ticket {
                    ticket: TicketId {
                        course_id: req.course_id,
                        seq,
                    }
                    .to_string(),
                    course_id: req.course_id,
                    status: "queued".into(),
                    reason: None,
                    position: Some(rank + 1),
                    eta_ms: (!paused)
                        .then(|| eta_ms(rank + 1, pace, state.settings.admission_batch_size)),
                    admission_paused: paused,
                }),
            ))
        }
        Enqueued::AlreadyEnrolled => {
            tickets.with_label_values(&["refused_enrolled"]).inc();
            Err(ApiError::conflict(
                "already_enrolled",
                "you already hold a seat in this course",
            ))
        }
        Enqueued::Full => {
            state
                .known_full
                .put(req.course_id, (), Instant::now(), epoch);
            tickets.with_label_values(&["refused_full"]).inc();
            Err(course_full())
        }
    }
}

/// A ticket's state; only its owner may read it. A ticket the server does
/// not know (never issued, or lost with Redis) is 404 `unknown_ticket`, so a
/// client never polls forever.
#[utoipa::path(get, path = "/api/v1/enrollments/tickets/{ticket}",
    responses((status = 200, body = Ticket), (status = 404, body = ErrorBody, description = "unknown_ticket")))]
pub async fn ticket(
    State(state): State<AppState>,
    student: CurrentStudent,
    ApiPath(id): ApiPath<String>,
) -> ApiResult<Json<Ticket>> {
    let unknown = || ApiError::not_found("unknown_ticket", "no such ticket");
    let id = TicketId::parse(&id).ok_or_else(unknown)?;
    let mut redis = state.redis.clone();
    // Someone else's ticket is answered exactly like a missing one.
    let t = queue::ticket(&mut redis, student.session.student_id, id)
        .await?
        .ok_or_else(unknown)?;
    Ok(Json(ticket_view(id, t, &View::now(&state))))
}

/// What every ticket of one answer is shown against, read once per request.
struct View {
    paused: bool,
    batch: usize,
}

impl View {
    fn now(state: &AppState) -> Self {
        Self {
            paused: state.wake_admission.paused(),
            batch: state.settings.admission_batch_size,
        }
    }
}

/// A ticket as answered; a queued one while admission is paused carries the
/// flag instead of an ETA.
fn ticket_view(id: TicketId, t: queue::TicketState, view: &View) -> Ticket {
    let position = t.rank.map(|r| r + 1);
    let paused = view.paused && position.is_some();
    let batch = view.batch;
    Ticket {
        ticket: id.to_string(),
        course_id: id.course_id,
        status: t.status,
        reason: t.reason,
        position,
        eta_ms: position
            .filter(|_| !paused)
            .map(|p| eta_ms(p, t.pace, batch)),
        admission_paused: paused,
    }
}

/// Most tickets one [`tickets`] request may ask for.
pub const MAX_TICKETS_PER_READ: usize = 32;

#[derive(Deserialize, ToSchema, utoipa::IntoParams)]
pub struct TicketsQuery {
    /// Comma-separated ticket ids, at most 32.
    pub ids: String,
}

/// The caller's tickets among `ids`, and the ids it does not know.
#[derive(Serialize, ToSchema)]
pub struct Tickets {
    pub tickets: Vec<Ticket>,
    /// Ids never issued, lost with Redis, malformed or someone else's — the
    /// same as a 404 `unknown_ticket` from the single-ticket read.
    pub unknown: Vec<String>,
}

/// Several of the student's tickets in one request (one Redis round trip),
/// in the order asked: what a page showing every pending request polls.
#[utoipa::path(get, path = "/api/v1/enrollments/tickets", params(TicketsQuery),
    responses((status = 200, body = Tickets), (status = 401, body = ErrorBody),
              (status = 422, body = ErrorBody, description = "invalid_query, too_many_tickets")))]
pub async fn tickets(
    State(state): State<AppState>,
    student: CurrentStudent,
    ApiQuery(q): ApiQuery<TicketsQuery>,
) -> ApiResult<Json<Tickets>> {
    let asked: Vec<&str> = q
        .ids
        .split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .collect();
    if asked.len() > MAX_TICKETS_PER_READ {
        return Err(ApiError::unprocessable(
            "too_many_tickets",
            format!("at most {MAX_TICKETS_PER_READ} tickets per request"),
        ));
    }
    let parsed: Vec<Option<TicketId>> = asked.iter().map(|s| TicketId::parse(s)).collect();
    let ids: Vec<TicketId> = parsed.iter().flatten().copied().collect();
    let mut redis = state.redis.clone();
    let mut found = queue::tickets(&mut redis, student.session.student_id, &ids)
        .await?
        .into_iter();
    let view = View::now(&state);
    let mut out = Tickets {
        tickets: Vec::with_capacity(ids.len()),
        unknown: Vec::new(),
    };
    for (text, id) in asked.iter().zip(parsed) {
        // Someone else's ticket is answered exactly like a missing one.
        match id.and_then(|id| Some((id, found.next()??))) {
            Some((id, t)) => out.tickets.push(ticket_view(id, t, &view)),
            None => out.unknown.push(text.to_string()),
        }
    }
    Ok(Json(out))
}

/// The student's ticket decisions as they happen: a server-sent event
/// stream (see [`crate::ticket_events`]). Events: `ready` once the stream
/// is registered, `ticket` for each decision (`ticket`, `course_id`,
/// `status`, `reason`), `resync` when decisions may have been missed (read
/// the pending tickets again). Open it before enrolling, or read the
/// pending tickets once after `ready`. It ends when its session is logged
/// out. A comment every 15 s keeps idle
/// proxies from closing it.
#[utoipa::path(get, path = "/api/v1/enrollments/events",
    responses((status = 200, content_type = "text/event-stream", description = "ready, ticket and resync events"),
              (status = 401, body = ErrorBody),
              (status = 429, body = ErrorBody, description = "too_many_streams"),
              (status = 503, body = ErrorBody, description = "shutting_down")))]
pub async fn events(
    State(state): State<AppState>,
    student: CurrentStudent,
) -> ApiResult<impl IntoResponse> {
    let subscription = state
        .events
        .open(student.session.student_id, session::digest(&student.token))
        .map_err(|e| match e {
            OpenError::TooMany => ApiError::too_many_requests(
                "too_many_streams",
                "close another of your event streams first",
            ),
            OpenError::Closed => ApiError::unavailable("shutting_down", "the server is stopping"),
        })?;
    let ready = futures::stream::once(async { SseEvent::default().event("ready").data("{}") });
    let decided = subscription.map(|e| match e {
        Event::Ticket(json) => SseEvent::default().event("ticket").data(&*json),
        Event::Resync => SseEvent::default().event("resync").data("{}"),
    });
    let stream = ready.chain(decided).map(Ok::<_, Infallible>);
    Ok((
        // Tells nginx not to buffer the stream.
        [(HeaderName::from_static("x-accel-buffering"), "no")],
        Sse::new(stream).keep_alive(KeepAlive::new().interval(Duration::from_secs(15))),
    ))
}

/// The student's enrollments, fresh (read from the primary).
#[utoipa::path(get, path = "/api/v1/enrollments",
    responses((status = 200, body = Vec<Enrollment>), (status = 401, body = ErrorBody)))]
pub async fn list(
    State(state): State<AppState>,
    student: CurrentStudent,
) -> ApiResult<Json<Vec<Enrollment>>> {
    Ok(Json(
        enrollments_of(&state.db.primary, student.session.student_id).await?,
    ))
}

/// Gives a seat back; the next student in line can take it.
#[utoipa::path(delete, path = "/api/v1/enrollments/{course_id}",
    responses((status = 204), (status = 403, body = ErrorBody, description = "registration_closed"),
              (status = 404, body = ErrorBody, description = "not_enrolled")))]
pub async fn cancel(
    State(state): State<AppState>,
    student: CurrentStudent,
    ApiPath(course_id): ApiPath<i64>,
) -> ApiResult<StatusCode> {
    if !state.live.window_open(Utc::now()) {
        return Err(ApiError::forbidden(
            "registration_closed",
            "registration is not open",
        ));
    }
    let student_id = student.session.student_id;
    let not_enrolled = || ApiError::not_found("not_enrolled", "you hold no seat in this course");
    // Same lock order as admission: the course row, then the student row.
    let mut tx = state.db.primary.begin().await?;
    let locked: Option<i64> = sqlx::query_scalar("SELECT id FROM courses WHERE id = $1 FOR UPDATE")
        .bind(course_id)
        .fetch_optional(&mut *tx)
        .await?;
    if locked.is_none() {
        return Err(not_enrolled());
    }
    sqlx::query("SELECT id FROM students WHERE id = $1 FOR UPDATE")
        .bind(student_id)
        .execute(&mut *tx)
        .await?;
    let ticket: Option<Option<String>> = sqlx::query_scalar(
        "DELETE FROM enrollments WHERE student_id = $1 AND course_id = $2 RETURNING ticket",
    )
    .bind(student_id)
    .bind(course_id)
    .fetch_optional(&mut *tx)
    .await?;
    let Some(ticket) = ticket else {
        return Err(not_enrolled());
    };
    tx.commit().await?;
    let seq = ticket.as_deref().and_then(TicketId::parse).map(|t| t.seq);
    state
        .seats_freed(course_id, Some((student_id, seq)))
        .await?;
    tracing::info!(course_id, student_id, "enrollment cancelled");
    Ok(StatusCode::NO_CONTENT)
}
