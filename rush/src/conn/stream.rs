//! The event stream: a long-lived answer (the ticket event stream) read as
//! its chunks arrive, on a connection of its own.

use anyhow::{Context, Result};
use tokio::io::AsyncWriteExt;

use super::answer::Framing;
use super::client::{Conn, Failure};
use super::request::Endpoint;

impl Endpoint {
    /// Sends `GET target` on a connection of its own and returns the
    /// answer's status and its body, to be read as it comes (an event
    /// stream).
    pub async fn open_stream(&self, target: &str, cookie: &str) -> Result<(u16, EventStream)> {
        let mut conn = Conn::open(self).await?;
        conn.stream
            .write_all(self.get(target, cookie).as_bytes())
            .await
            .context("sending the stream's request")?;
        let head = conn.read_head().await.map_err(Failure::into_error)?;
        Ok((
            head.status,
            EventStream {
                conn,
                framing: head.framing,
            },
        ))
    }
}

/// A long-lived answer's body, read as it arrives.
pub struct EventStream {
    conn: Conn,
    framing: Framing,
}

impl EventStream {
    /// Waits for more of the body and appends it to `out`; false once the
    /// body has ended or the server closed the connection.
    pub async fn next_data(&mut self, out: &mut Vec<u8>) -> Result<bool> {
        loop {
            let before = out.len();
            let ended = self.framing.take(&mut self.conn.buf, out)?;
            if out.len() > before {
                return Ok(true);
            }
            if ended || self.conn.fill().await? == 0 {
                return Ok(false);
            }
        }
    }
}
