//! The keep-alive connection ([`Conn`]: one `TcpStream` and the bytes read
//! from it) and the [`Client`] that sends each request on it: one write
//! and (usually) one read per exchange, a request on a connection the
//! server had already closed retried once on a fresh one, any other
//! failure dropping the connection.

use std::time::Duration;

use anyhow::{anyhow, bail, Context, Result};
use bytes::{Buf, Bytes, BytesMut};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use super::answer::{Framing, Head, MAX_HEAD, MAX_HEADERS};
use super::request::{Endpoint, Req};

/// How long one request may take before it counts as failed (the same
/// limit the reqwest client of the set-up has).
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);

/// Why an exchange failed.
pub(super) enum Failure {
    /// Nothing of an answer came on a connection used before: the server
    /// had closed it (an idle keep-alive connection); worth one retry.
    Unsent(anyhow::Error),
    /// Anything else; the connection is no longer usable.
    Failed(anyhow::Error),
}

impl Failure {
    pub(super) fn into_error(self) -> anyhow::Error {
        match self {
            Failure::Unsent(e) | Failure::Failed(e) => e,
        }
    }
}

/// One open connection and the bytes read from it and not yet used.
pub(super) struct Conn {
    pub(super) stream: TcpStream,
    pub(super) buf: BytesMut,
    /// Answers read from it so far.
    served: u64,
}

impl Conn {
    pub(super) async fn open(endpoint: &Endpoint) -> Result<Self> {
        let stream = TcpStream::connect(endpoint.addr)
            .await
            .with_context(|| format!("cannot connect to {}", endpoint.addr))?;
        stream.set_nodelay(true)?;
        Ok(Self {
            stream,
            buf: BytesMut::with_capacity(4096),
            served: 0,
        })
    }

    /// Reads what has arrived into the buffer; 0 once the server has closed.
    pub(super) async fn fill(&mut self) -> std::io::Result<usize> {
        if self.buf.capacity() - self.buf.len() < 1024 {
            self.buf.reserve(4096);
        }
        self.stream.read_buf(&mut self.buf).await
    }

    /// Reads the next answer's head (skipping interim 1xx answers).
    pub(super) async fn read_head(&mut self) -> Result<Head, Failure> {
        let mut received = !self.buf.is_empty();
        loop {
            if !self.buf.is_empty() {
                let mut headers = [httparse::EMPTY_HEADER; MAX_HEADERS];
                let mut res = httparse::Response::new(&mut headers);
                match res.parse(&self.buf) {
                    Ok(httparse::Status::Complete(len)) => {
                        let head = Head::of(&res).map_err(Failure::Failed)?;
                        self.buf.advance(len);
                        if (100..200).contains(&head.status) {
                            continue;
                        }
                        return Ok(head);
                    }
                    Ok(httparse::Status::Partial) if self.buf.len() > MAX_HEAD => {
                        return Err(Failure::Failed(anyhow!(
                            "answer head longer than {MAX_HEAD} bytes"
                        )));
                    }
                    Ok(httparse::Status::Partial) => {}
                    Err(e) => {
                        return Err(Failure::Failed(anyhow!("unreadable answer head: {e}")));
                    }
                }
            }
            let reused_and_silent = !received && self.served > 0;
            match self.fill().await {
                Ok(0) if reused_and_silent => {
                    return Err(Failure::Unsent(anyhow!(
                        "the server had closed the connection"
                    )));
                }
                Ok(0) => {
                    return Err(Failure::Failed(anyhow!(
                        "connection closed before the whole answer head"
                    )));
                }
                Ok(_) => received = true,
                Err(e) if reused_and_silent => return Err(Failure::Unsent(e.into())),
                Err(e) => return Err(Failure::Failed(anyhow!(e).context("reading the answer"))),
            }
        }
    }

    /// Reads a whole body framed as `framing`.
    async fn read_body(&mut self, mut framing: Framing) -> Result<Bytes> {
        let mut body = Vec::new();
        while !framing.take(&mut self.buf, &mut body)? {
            if self.fill().await? == 0 {
                if framing == Framing::UntilClose {
                    break;
                }
                bail!("connection closed in the middle of the answer");
            }
        }
        Ok(body.into())
    }

    /// Sends `req` and reads its whole answer: status, body and whether the
    /// connection may be used again.
    async fn exchange(&mut self, req: &Req) -> Result<(u16, Bytes, bool), Failure> {
        if !self.buf.is_empty() {
            return Err(Failure::Failed(anyhow!(
                "the server sent bytes no request asked for"
            )));
        }
        if let Err(e) = self.stream.write_all(req.as_bytes()).await {
            return Err(if self.served > 0 {
                Failure::Unsent(e.into())
            } else {
                Failure::Failed(anyhow!(e).context("sending the request"))
            });
        }
        let head = self.read_head().await?;
        let body = self
            .read_body(head.framing)
            .await
            .map_err(|e| Failure::Failed(e.context("reading the answer")))?;
        self.served += 1;
        Ok((head.status, body, !head.close))
    }
}

/// A client on one keep-alive connection, opened on first use and reopened
/// after a failure.
pub struct Client {
    endpoint: Endpoint,
    conn: Option<Conn>,
}

impl Client {
    pub fn new(endpoint: Endpoint) -> Self {
        Self {
            endpoint,
            conn: None,
        }
    }

    /// Opens the connection now (a failure is left to the first request).
    pub async fn open(&mut self) {
        if self.conn.is_none() {
            self.conn = Conn::open(&self.endpoint).await.ok();
        }
    }

    /// Sends `req`; the answer's status and body. Fails on a connection
    /// error or after [`REQUEST_TIMEOUT`].
    pub async fn send(&mut self, req: &Req) -> Result<(u16, Bytes)> {
        match tokio::time::timeout(REQUEST_TIMEOUT, self.send_retrying(req)).await {
            Ok(answer) => answer,
            Err(_) => {
                // The answer may still come: the connection is out of step.
                self.conn = None;
                Err(anyhow!("no answer within {} s", REQUEST_TIMEOUT.as_secs()))
            }
        }
    }

    async fn send_retrying(&mut self, req: &Req) -> Result<(u16, Bytes)> {
        let mut retried = false;
        loop {
            let conn = match &mut self.conn {
                Some(c) => c,
                slot => slot.insert(Conn::open(&self.endpoint).await?),
            };
            match conn.exchange(req).await {
                Ok((status, body, reusable)) => {
                    if !reusable {
                        self.conn = None;
                    }
                    return Ok((status, body));
                }
                Err(Failure::Unsent(e)) => {
                    self.conn = None;
                    if retried {
                        return Err(e.context("connection closed before the answer"));
                    }
                    retried = true;
                }
                Err(Failure::Failed(e)) => {
                    self.conn = None;
                    return Err(e);
                }
            }
        }
    }
}
