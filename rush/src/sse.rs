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
    /// Bytes at the start of `buf` known not to hold a blank line.
    scanned: usize,
}

/// One event block's text (its lines, without the blank line ending it).
fn parse_block(block: &[u8]) -> anyhow::Result<Option<StreamEvent>> {
    let block = std::str::from_utf8(block)?;
    let (mut name, mut data) = (None, String::new());
    for line in block.lines() {
        if let Some(v) = line.strip_prefix("event:") {
            name = Some(v.trim());
        } else if let Some(v) = line.strip_prefix("data:") {
            data.push_str(v.trim_start());
        }
    }
    Ok(Some(match name {
        None if data.is_empty() => return Ok(None), // a comment
        Some("ready") => StreamEvent::Ready,
        Some("resync") => StreamEvent::Resync,
        Some("ticket") => StreamEvent::Ticket(serde_json::from_str(&data)?),
        Some(other) => StreamEvent::Other(other.to_string()),
        None => StreamEvent::Other("message".into()),
    }))
}

impl Parser {
    /// Takes the next bytes; returns the events they completed. A `ticket`
    /// event whose data does not parse is an error.
    pub fn push(&mut self, bytes: &[u8]) -> anyhow::Result<Vec<StreamEvent>> {
        self.buf.extend_from_slice(bytes);
        self.events()
    }

    /// Where the next bytes go, for a reader that appends them itself
    /// (then call [`Parser::events`]).
    pub fn buffer(&mut self) -> &mut Vec<u8> {
        &mut self.buf
    }

    /// The events the bytes taken so far complete (each is returned once).
    /// A `ticket` event whose data does not parse is an error; it and the
    /// events before it in the same bytes are dropped, what follows is kept.
    pub fn events(&mut self) -> anyhow::Result<Vec<StreamEvent>> {
        let mut out = Vec::new();
        let mut start = 0;
        // A blank line may straddle what was scanned and what came since.
        let mut from = self.scanned.saturating_sub(1);
        let mut result = Ok(());
        while let Some(i) = self.buf[from..].windows(2).position(|w| w == b"\n\n") {
            let end = from + i + 2;
            match parse_block(&self.buf[start..end - 1]) {
                Ok(event) => out.extend(event),
                Err(e) => result = Err(e),
            }
            start = end;
            from = end;
            if result.is_err() {
                break;
            }
        }
        self.buf.drain(..start);
        self.scanned = if result.is_err() { 0 } else { self.buf.len() };
        result.map(|()| out)
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
        assert!(p
            .push(b"event: ticket\ndata: nope\n\nevent: resync\ndata: {}\n\n")
            .is_err());
        // What followed the bad event is still there, and nothing twice.
        assert_eq!(p.events().unwrap(), vec![StreamEvent::Resync]);
        assert_eq!(p.events().unwrap(), vec![]);
    }

    #[test]
    fn a_blank_line_split_between_reads_still_ends_the_event() {
        let mut p = Parser::default();
        assert_eq!(p.push(b"event: resync\ndata: {}\n").unwrap(), vec![]);
        p.buffer().extend_from_slice(b"\nevent: ready\n");
        assert_eq!(p.events().unwrap(), vec![StreamEvent::Resync]);
        p.buffer().extend_from_slice(b"\n");
        assert_eq!(p.events().unwrap(), vec![StreamEvent::Ready]);
    }
}
