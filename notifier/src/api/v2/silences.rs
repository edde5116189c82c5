//! `GET|POST /api/v2/silences` and `GET|DELETE /api/v2/silence/{id}`.
//!
//! Listing orders as Alertmanager does: active silences first (soonest
//! end first), then pending (soonest start), then expired (latest end).
//! A `filter` keeps silences that have a matcher equal to each given one.

use super::common::{parse_body, time, AmError};
use super::query::filter;
use crate::matcher::MatchType;
use crate::notifier::Notifier;
use crate::silence::{NewSilence, Silence, SilenceError, SilenceState};
use axum::body::Bytes;
use axum::extract::{Path, RawQuery, State};
use axum::http::StatusCode;
use axum::Json;
use serde_json::{json, Value};

/// Alertmanager's `gettableSilence`.
fn silence_json(s: &Silence, state: SilenceState) -> Value {
    let matchers: Vec<Value> = s
        .matchers
        .iter()
        .map(|m| {
            json!({
                "name": m.name,
                "value": m.value,
                "isRegex": matches!(m.kind, MatchType::Regex | MatchType::NotRegex),
                "isEqual": matches!(m.kind, MatchType::Equal | MatchType::Regex),
            })
        })
        .collect();
    json!({
        "id": s.id,
        "status": {"state": state.as_str()},
        "updatedAt": time(s.updated_at),
        "matchers": matchers,
        "startsAt": time(s.starts_at),
        "endsAt": time(s.ends_at),
        "createdBy": s.created_by,
        "comment": s.comment,
    })
}

fn order(s: &Silence, state: SilenceState) -> (u8, i64) {
    match state {
        SilenceState::Active => (0, s.ends_at.timestamp_millis()),
        SilenceState::Pending => (1, s.starts_at.timestamp_millis()),
        SilenceState::Expired => (2, -s.ends_at.timestamp_millis()),
    }
}

pub(crate) async fn get_silences(
    State(n): State<Notifier>,
    RawQuery(raw): RawQuery,
) -> Result<Json<Vec<Value>>, AmError> {
    let wanted = filter(raw.as_deref())?;
    let mut list: Vec<(Silence, SilenceState)> = n
        .silences()
        .into_iter()
        .filter(|(s, _)| wanted.iter().all(|w| s.matchers.contains(w)))
        .collect();
    list.sort_by_key(|(s, state)| order(s, *state));
    Ok(Json(
        list.iter().map(|(s, st)| silence_json(s, *st)).collect(),
    ))
}

pub(crate) async fn post_silences(
    State(n): State<Notifier>,
    body: Bytes,
) -> Result<Json<Value>, AmError> {
    let request: NewSilence = parse_body(&body, "silence")?;
    match n.upsert_silence(request) {
        Ok(id) => Ok(Json(json!({"silenceID": id}))),
        Err(e @ SilenceError::NotFound) => Err(AmError::NotFound(Some(e.to_string()))),
        Err(SilenceError::Invalid(m)) => Err(AmError::BadRequest(m)),
    }
}

pub(crate) async fn get_silence(
    State(n): State<Notifier>,
    Path(id): Path<String>,
) -> Result<Json<Value>, AmError> {
    let (s, state) = n.silence(&id).ok_or(AmError::NotFound(None))?;
    Ok(Json(silence_json(&s, state)))
}

pub(crate) async fn delete_silence(
    State(n): State<Notifier>,
    Path(id): Path<String>,
) -> Result<StatusCode, AmError> {
    n.expire_silence(&id).map_err(|_| AmError::NotFound(None))?;
    Ok(StatusCode::OK)
}
