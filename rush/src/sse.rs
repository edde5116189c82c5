//! Server-sent events as the ticket event stream sends them
//! (`GET /api/v1/enrollments/events`): blocks of `event:` and `data:` lines
//! ended by a blank line; lines starting with `:` are keep-alive comments.

use serde::Deserialize;

/// One event of the ticket stream.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StreamEvent {
    /// The stream is registered: decisions from now on are pushed.
    Ready,
    /// A ticket was decided.
    Ticket(Decision),
    /// Decisions may have been missed: read the pending tickets again.
    Resync,
    /// An event this tool does not know (kept apart, not an error).
    Other(String),
}

/// A `ticket` event's data.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct Decision {
    pub ticket: String,
    pub status: String,
    #[serde(default)]
    pub reason: Option<String>,
}

/// Splits the bytes of a stream, as they arrive, into events.
#[derive(Debug, Default)]
pub struct Parser {
    buf: Vec<u8>,
}

impl Parser {
    /// Takes the next bytes; returns the events they completed. A `ticket`
    /// event whose data does not parse is an error.
    pub fn push(&mut self, bytes: &[u8]) -> anyhow::Result<Vec<StreamEvent>> {
        self.buf.extend_from_slice(bytes);
        let mut out = Vec::new();
        while let Some(end) = self.buf.windows(2).position(|w| w == b"\n\n") {
            let block: Vec<u8> = self.buf.drain(..end + 2).collect();
            let block = std::str::from_utf8(&block)?;
            let (mut name, mut data) = (None, String::new());
            for line in block.lines() {
                if let Some(v) = line.strip_prefix("event:") {
                    name = Some(v.trim());
                } else if let Some(v) = line.strip_prefix("data:") {
                    data.push_str(v.trim_start());
                }
            }
            let event = match name {
                None if data.is_empty() => continue, // a comment
                Some("ready") => StreamEvent::Ready,
                Some("resync") => StreamEvent::Resync,
                Some("ticket") => StreamEvent::Ticket(serde_json::from_str(&data)?),
                Some(other) => StreamEvent::Other(other.to_string()),
                None => StreamEvent::Other("message".into()),
            };
            out.push(event);
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn events_split_across_reads_and_comments_skipped() {
        let mut p = Parser::default();
        assert_eq!(
            p.push(b"event: ready\ndata: {}\n\n:\n\nevent: tick")
                .unwrap(),
            vec![StreamEvent::Ready]
        );
        let rest = b"et\ndata: {\"ticket\":\"3-7\",\"course_id\":3,\"status\":\"rejected\",\"reason\":\"course_full\"}\n\nevent: resync\ndata: {}\n\n";
        assert_eq!(
            p.push(rest).unwrap(),
            vec![
                StreamEvent::Ticket(Decision {
                    ticket: "3-7".into(),
                    status: "rejected".into(),
                    reason: Some("course_full".into()),
                }),
                StreamEvent::Resync,
            ]
        );
        assert_eq!(
            p.push(b"event: later\ndata: {}\n\n").unwrap(),
            vec![StreamEvent::Other("later".into())]
        );
        assert!(p.push(b"event: ticket\ndata: nope\n\n").is_err());
    }
}
