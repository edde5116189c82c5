//! The measured answers, which [`crate::conn`] receives: an enroll's
//! ([`EnrollReply`]) and a ticket poll's ([`TicketsView`]).

use anyhow::{bail, Context, Result};
use reqwest::StatusCode;
use serde::Deserialize;

/// What `POST /api/v1/enrollments` answered.
#[derive(Debug)]
pub enum EnrollReply {
    /// 202: in line; `eta_ms` as [`TicketView::wait_ms`].
    Ticket { ticket: String, eta_ms: u64 },
    /// Any other status, with the error body's `code`.
    Refused { status: u16, code: String },
}

/// One ticket of a `GET /api/v1/enrollments/tickets?ids=...` answer.
#[derive(Debug, Deserialize)]
pub struct TicketView {
    pub ticket: String,
    pub status: String,
    pub reason: Option<String>,
    pub eta_ms: Option<u64>,
    #[serde(default)]
    pub admission_paused: bool,
}

impl TicketView {
    /// How long the server suggests waiting before looking again.
    pub fn wait_ms(&self) -> u64 {
        wait_ms(self.eta_ms, self.admission_paused)
    }
}

/// The server's ETA, or — while admission is paused, when it gives none —
/// as long as the poll schedule allows.
fn wait_ms(eta_ms: Option<u64>, paused: bool) -> u64 {
    if paused {
        u64::MAX
    } else {
        eta_ms.unwrap_or(0)
    }
}

/// Reads an answer to `POST /api/v1/enrollments` from its status and body.
pub fn enroll_reply(status: u16, body: &[u8]) -> Result<EnrollReply> {
    #[derive(Deserialize)]
    struct Ack {
        ticket: String,
        eta_ms: Option<u64>,
        #[serde(default)]
        admission_paused: bool,
    }
    #[derive(Deserialize)]
    struct ErrorBody {
        error: ErrorCode,
    }
    #[derive(Deserialize)]
    struct ErrorCode {
        code: String,
    }
    if status == StatusCode::ACCEPTED.as_u16() {
        let ack: Ack = serde_json::from_slice(body).context("202 without ticket")?;
        return Ok(EnrollReply::Ticket {
            ticket: ack.ticket,
            eta_ms: wait_ms(ack.eta_ms, ack.admission_paused),
        });
    }
    let code = serde_json::from_slice::<ErrorBody>(body)
        .map_or_else(|_| "unknown".to_string(), |e| e.error.code);
    Ok(EnrollReply::Refused { status, code })
}

/// An answer to `GET /api/v1/enrollments/tickets?ids=...`.
#[derive(Debug, Deserialize)]
pub struct TicketsView {
    pub tickets: Vec<TicketView>,
    pub unknown: Vec<String>,
}

/// Reads an answer to `GET /api/v1/enrollments/tickets?ids=...`.
pub fn tickets_view(status: u16, body: &[u8]) -> Result<TicketsView> {
    if status != StatusCode::OK.as_u16() {
        bail!(
            "tickets answered {status}: {}",
            String::from_utf8_lossy(&body[..body.len().min(200)])
        );
    }
    serde_json::from_slice(body).context("unreadable tickets answer")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_enroll_answers() {
        let ack = br#"{"ticket":"7-12","status":"queued","position":3,"eta_ms":40}"#;
        match enroll_reply(202, ack).unwrap() {
            EnrollReply::Ticket { ticket, eta_ms } => {
                assert_eq!((ticket.as_str(), eta_ms), ("7-12", 40))
            }
            other => panic!("{other:?}"),
        }
        let paused = br#"{"ticket":"7-13","status":"queued","position":4,"admission_paused":true}"#;
        match enroll_reply(202, paused).unwrap() {
            EnrollReply::Ticket { eta_ms, .. } => assert_eq!(eta_ms, u64::MAX),
            other => panic!("{other:?}"),
        }
        let full = br#"{"error":{"code":"course_full","message":"no seats"}}"#;
        match enroll_reply(409, full).unwrap() {
            EnrollReply::Refused { status, code } => {
                assert_eq!((status, code.as_str()), (409, "course_full"))
            }
            other => panic!("{other:?}"),
        }
        match enroll_reply(502, b"<html>bad gateway</html>").unwrap() {
            EnrollReply::Refused { status, code } => {
                assert_eq!((status, code.as_str()), (502, "unknown"))
            }
            other => panic!("{other:?}"),
        }
        assert!(
            enroll_reply(202, b"{}").is_err(),
            "a 202 must carry a ticket"
        );
    }

    #[test]
    fn reads_ticket_answers() {
        let many = tickets_view(
            200,
            br#"{"tickets":[{"ticket":"3-1","course_id":3,"status":"rejected","reason":"course_full"},
                {"ticket":"4-9","course_id":4,"status":"queued","position":2,"eta_ms":40}],
                "unknown":["5-5"]}"#,
        )
        .unwrap();
        assert_eq!(
            many.tickets
                .iter()
                .map(|t| (
                    t.ticket.as_str(),
                    t.status.as_str(),
                    t.reason.as_deref(),
                    t.eta_ms
                ))
                .collect::<Vec<_>>(),
            vec![
                ("3-1", "rejected", Some("course_full"), None),
                ("4-9", "queued", None, Some(40))
            ]
        );
        assert_eq!(many.unknown, vec!["5-5"]);
        assert_eq!(many.tickets[1].wait_ms(), 40);
        let paused = tickets_view(
            200,
            br#"{"tickets":[{"ticket":"4-9","course_id":4,"status":"queued","position":2,"admission_paused":true}],"unknown":[]}"#,
        )
        .unwrap();
        assert_eq!(paused.tickets[0].wait_ms(), u64::MAX);
        let err = tickets_view(401, br#"{"error":{"code":"unauthenticated"}}"#).unwrap_err();
        assert!(err.to_string().contains("401"), "{err}");
    }
}
