//! Following tickets: read one or several, or hold an event stream of
//! their decisions.

use std::convert::Infallible;
use std::time::Duration;

use axum::extract::State;
use axum::http::HeaderName;
use axum::response::sse::{Event as SseEvent, KeepAlive, Sse};
use axum::response::IntoResponse;
use axum::routing::get;
use axum::{Json, Router};
use futures::StreamExt;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::caller::CurrentStudent;
use super::error::{ApiError, ApiResult, ErrorBody};
use super::extract::{ApiPath, ApiQuery};
use crate::events::Event;
use crate::fair_use::StudentLimit;
use crate::service::positions;
use crate::service::tickets::{self, TicketView};
use crate::session;
use crate::state::AppState;
use crate::ticket::{Reason, TicketId, TicketStatus};

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/api/v1/enrollments/tickets", get(read_many))
        .route("/api/v1/enrollments/tickets/{ticket}", get(read_one))
}

/// The event stream: held open for as long as the student's page is, so
/// apart from the request timeout every other route has.
pub fn stream_router() -> Router<AppState> {
    Router::new().route("/api/v1/enrollments/events", get(events))
}

/// A place in line, or a decision.
#[derive(Serialize, ToSchema)]
pub struct Ticket {
    pub ticket: String,
    pub course_id: i64,
    pub status: TicketStatus,
    /// Why it was rejected.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<Reason>,
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

impl From<TicketView> for Ticket {
    fn from(t: TicketView) -> Self {
        Self {
            ticket: t.id.to_string(),
            course_id: t.id.course_id,
            status: t.status,
            reason: t.reason,
            position: t.position,
            eta_ms: t.eta_ms,
            admission_paused: t.admission_paused,
        }
    }
}

fn unknown_ticket() -> ApiError {
    ApiError::not_found("unknown_ticket", "no such ticket")
}

/// A ticket's state; only its owner may read it. A ticket the server does
/// not know (never issued, or lost with Redis) is 404 `unknown_ticket`, so a
/// client never polls forever.
#[utoipa::path(get, path = "/api/v1/enrollments/tickets/{ticket}",
    params(("ticket" = String, Path, description = "The ticket's id, `<course>-<sequence>`")),
    security(("student_session" = [])),
    responses((status = 200, body = Ticket), (status = 404, body = ErrorBody, description = "unknown_ticket"),
              (status = 429, body = ErrorBody, description = "rate_limited")))]
pub async fn read_one(
    State(state): State<AppState>,
    student: CurrentStudent,
    ApiPath(id): ApiPath<String>,
) -> ApiResult<Json<Ticket>> {
    let id = TicketId::parse(&id).ok_or_else(unknown_ticket)?;
    // Someone else's ticket is answered exactly like a missing one.
    let t = tickets::of_student(&state, student.session.student_id, &[id])
        .await?
        .pop()
        .flatten()
        .ok_or_else(unknown_ticket)?;
    Ok(Json(t.into()))
}

/// Most tickets one [`read_many`] request may ask for.
pub const MAX_TICKETS_PER_READ: usize = 32;

#[derive(Deserialize, ToSchema, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
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
    security(("student_session" = [])),
    responses((status = 200, body = Tickets), (status = 401, body = ErrorBody),
              (status = 422, body = ErrorBody, description = "invalid_query, too_many_tickets"),
              (status = 429, body = ErrorBody, description = "rate_limited")))]
pub async fn read_many(
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
    let mut found = tickets::of_student(&state, student.session.student_id, &ids)
        .await?
        .into_iter();
    let mut out = Tickets {
        tickets: Vec::with_capacity(ids.len()),
        unknown: Vec::new(),
    };
    for (text, id) in asked.iter().zip(parsed) {
        // Someone else's ticket is answered exactly like a missing one.
        match id.and_then(|_| found.next()?) {
            Some(t) => out.tickets.push(t.into()),
            None => out.unknown.push(text.to_string()),
        }
    }
    Ok(Json(out))
}

#[derive(Deserialize, ToSchema, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct EventsQuery {
    /// Comma-separated ids of the queued tickets the page shows, at most
    /// 32: the stream sends their places in line (`position` events).
    /// Ids that are malformed, decided or someone else's are ignored.
    pub tickets: Option<String>,
}

/// The student's ticket decisions and places in line as they happen: a
/// server-sent event stream (see [`crate::events`]). Events: `ready` once
/// the stream is registered; `position` (`ticket`, `course_id`, `position`,
/// `eta_ms`; `admission_paused` instead of `eta_ms` while paused) for each
/// queued ticket it follows — those named in `tickets` and those enrolled
/// through this same server while it is open — first when the stream opens
/// or starts following it, then whenever its place moves, at most a few
/// times per second (the latest place wins); `ticket` for each decision
/// (`ticket`, `course_id`, `status`, `reason`), after which that ticket
/// gets no more `position`; `waitlist` when a freed seat moved the student
/// on a waitlist (`course_id`, `status` enrolled | offered | skipped,
/// `reason`, `offer_expires_at`); `cart` once, to every stream, when the
/// cart's close run has settled the cart (`{"settled": true,
/// "settled_at"}`): read the cart and the enrollments again, after a
/// random pause of a few seconds so that not every page reads at once;
/// `resync` when events may have been missed (read the pending tickets
/// again, and the cart while it is due to settle). Open it before
/// enrolling, or read the pending tickets once after `ready`; a queued
/// ticket that gets no `position` is not followed: open the stream again
/// naming it. It ends when its session is logged out. A comment every
/// 15 s keeps idle proxies from closing it.
#[utoipa::path(get, path = "/api/v1/enrollments/events", params(EventsQuery),
    security(("student_session" = [])),
    responses((status = 200, content_type = "text/event-stream", description = "ready, position, ticket, waitlist, cart and resync events"),
              (status = 401, body = ErrorBody),
              (status = 422, body = ErrorBody, description = "invalid_query, too_many_tickets"),
              (status = 429, body = ErrorBody, description = "too_many_streams, rate_limited"),
              (status = 503, body = ErrorBody, description = "shutting_down")))]
pub async fn events(
    State(state): State<AppState>,
    student: CurrentStudent,
    ApiQuery(q): ApiQuery<EventsQuery>,
) -> ApiResult<impl IntoResponse> {
    let named: Vec<&str> = q
        .tickets
        .as_deref()
        .unwrap_or("")
        .split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .collect();
    if named.len() > MAX_TICKETS_PER_READ {
        return Err(ApiError::unprocessable(
            "too_many_tickets",
            format!("at most {MAX_TICKETS_PER_READ} tickets per stream"),
        ));
    }
    let follow: Vec<TicketId> = named.iter().filter_map(|s| TicketId::parse(s)).collect();
    let limit = StudentLimit::EventStreams;
    state
        .fair_use
        .student(student.session.student_id, limit)
        .await?;
    let subscription = state.events.open(
        student.session.student_id,
        session::digest(&student.token),
        &follow,
    )?;
    let ready = futures::stream::once(async { SseEvent::default().event("ready").data("{}") });
    let events = positions::drive(state.clone(), subscription).map(|e| match e {
        Event::Ticket(json) => SseEvent::default().event("ticket").data(&*json),
        Event::Position(json) => SseEvent::default().event("position").data(&*json),
        Event::Waitlist(json) => SseEvent::default().event("waitlist").data(&*json),
        Event::Cart(json) => SseEvent::default().event("cart").data(&*json),
        Event::Resync => SseEvent::default().event("resync").data("{}"),
    });
    let stream = ready.chain(events).map(Ok::<_, Infallible>);
    Ok((
        // Tells nginx not to buffer the stream.
        [(HeaderName::from_static("x-accel-buffering"), "no")],
        Sse::new(stream).keep_alive(KeepAlive::new().interval(Duration::from_secs(15))),
    ))
}
