//! The measured requests' HTTP client: one persistent HTTP/1.1 keep-alive
//! connection per [`Client`], written straight onto a `TcpStream` (requests
//! serialized once into one buffer, answers parsed with `httparse`), in the
//! spirit of `wrk`: the load generator shares the machine with the system
//! under test, so every microsecond it spends per request is taken from the
//! server. No task hand-over per request, no header map, one write and
//! (usually) one read per exchange.
//!
//! A request on a reused connection that the server had already closed
//! (nothing of an answer came back) is retried once on a fresh connection;
//! any other failure drops the connection and the next request opens a new
//! one. The requests this tool repeats this way are idempotent on the server
//! (an enroll retried returns the same ticket).
//!
//! [`EventStream`] reads a long-lived answer (the ticket event stream) as
//! its chunks arrive, on a connection of its own.

use std::net::SocketAddr;
use std::time::Duration;

use anyhow::{anyhow, bail, Context, Result};
use bytes::{Buf, Bytes, BytesMut};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// How long one request may take before it counts as failed (the same
/// limit the reqwest client of the set-up has).
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);

/// Answer heads larger than this are refused.
const MAX_HEAD: usize = 64 * 1024;

/// Headers an answer may have.
const MAX_HEADERS: usize = 32;

/// A request as the measured client sends it: its bytes on the wire.
#[derive(Debug, Clone)]
pub struct Req(Bytes);

impl Req {
    /// The request's bytes.
    pub fn as_bytes(&self) -> &[u8] {
        &self.0
    }
}

/// Where the measured requests go, with what every request shares.
#[derive(Debug, Clone)]
pub struct Endpoint {
    addr: SocketAddr,
    /// The `Host` header's value.
    host: String,
    /// Path prefix of the base URL, without a trailing `/`.
    prefix: String,
}

/// Refuses what would break the request line or a header (CR, LF, other
/// control characters), as a header-map type would.
pub fn check_header_text(what: &str, s: &str) -> Result<()> {
    if s.bytes().any(|b| b.is_ascii_control() && b != b'\t') {
        bail!("{what} {s:?} has control characters");
    }
    Ok(())
}

impl Endpoint {
    /// From a base URL like `http://127.0.0.1:8080` (plain HTTP only).
    pub async fn new(base: &str) -> Result<Self> {
        let uri: http::Uri = base
            .parse()
            .with_context(|| format!("bad base URL {base:?}"))?;
        if uri.scheme_str() != Some("http") {
            bail!("the measured client speaks plain http:// only, not {base:?}");
        }
        let authority = uri.authority().context("base URL without host")?;
        let port = authority.port_u16().unwrap_or(80);
        let host = authority
            .host()
            .trim_start_matches('[')
            .trim_end_matches(']');
        let addr = tokio::net::lookup_host((host, port))
            .await
            .with_context(|| format!("cannot resolve {host}"))?
            .next()
            .with_context(|| format!("{host} resolves to no address"))?;
        Ok(Self {
            addr,
            host: authority.as_str().to_string(),
            prefix: uri.path().trim_end_matches('/').to_string(),
        })
    }

    /// The request target of `path` (which starts with `/`): the base URL's
    /// path prefix and `path`.
    pub fn target(&self, path: &str) -> Result<String> {
        check_header_text("path", path)?;
        if !path.starts_with('/') || path.contains(' ') {
            bail!("bad path {path:?}");
        }
        Ok(format!("{}{path}", self.prefix))
    }

    /// `POST target` with a JSON body and a cookie.
    pub fn post_json(&self, target: &str, cookie: &str, body: &[u8]) -> Req {
        self.request("POST", target, cookie, Some(body))
    }

    /// `GET target` with a cookie.
    pub fn get(&self, target: &str, cookie: &str) -> Req {
        self.request("GET", target, cookie, None)
    }

    fn request(&self, method: &str, target: &str, cookie: &str, body: Option<&[u8]>) -> Req {
        use std::io::Write;
        let mut out = Vec::with_capacity(160 + cookie.len() + body.map_or(0, <[u8]>::len));
        // Writing to a Vec cannot fail.
        let _ = write!(
            out,
            "{method} {target} HTTP/1.1\r\nhost: {}\r\ncookie: {cookie}\r\n",
            self.host
        );
        if let Some(body) = body {
            let _ = write!(
                out,
                "content-type: application/json\r\ncontent-length: {}\r\n\r\n",
                body.len()
            );
            out.extend_from_slice(body);
        } else {
            out.extend_from_slice(b"\r\n");
        }
        Req(out.into())
    }

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

/// How an answer's body is delimited.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Framing {
    Length(usize),
    Chunked(Chunked),
    /// Until the server closes the connection.
    UntilClose,
}

impl Framing {
    /// Moves the body's bytes that `buf` holds to `out`; true once the body
    /// is complete (never for [`Framing::UntilClose`]: the server's close
    /// ends it).
    fn take(&mut self, buf: &mut BytesMut, out: &mut Vec<u8>) -> Result<bool> {
        match self {
            Framing::Length(left) => {
                let n = (*left).min(buf.len());
                out.extend_from_slice(&buf[..n]);
                buf.advance(n);
                *left -= n;
                Ok(*left == 0)
            }
            Framing::Chunked(chunked) => chunked.decode(buf, out),
            Framing::UntilClose => {
                out.extend_from_slice(buf);
                buf.clear();
                Ok(false)
            }
        }
    }
}

/// An answer's head, as far as this client needs it.
#[derive(Debug)]
struct Head {
    status: u16,
    framing: Framing,
    /// The connection cannot be used again after this answer.
    close: bool,
}

impl Head {
    fn of(res: &httparse::Response<'_, '_>) -> Result<Self> {
        let status = res.code.context("answer without a status")?;
        let mut framing = None;
        let mut close = res.version == Some(0);
        for h in res.headers.iter() {
            let value = std::str::from_utf8(h.value).unwrap_or_default();
            if h.name.eq_ignore_ascii_case("transfer-encoding") {
                if value.to_ascii_lowercase().contains("chunked") {
                    framing = Some(Framing::Chunked(Chunked::default()));
                }
            } else if h.name.eq_ignore_ascii_case("content-length") {
                if framing.is_none() {
                    let n = value
                        .trim()
                        .parse()
                        .with_context(|| format!("bad content-length {value:?}"))?;
                    framing = Some(Framing::Length(n));
                }
            } else if h.name.eq_ignore_ascii_case("connection") {
                let value = value.to_ascii_lowercase();
                if value.contains("close") {
                    close = true;
                } else if value.contains("keep-alive") {
                    close = false;
                }
            }
        }
        let framing = match framing {
            Some(f) => f,
            None if status == 204 || status == 304 => Framing::Length(0),
            None => {
                close = true;
                Framing::UntilClose
            }
        };
        Ok(Self {
            status,
            framing,
            close,
        })
    }
}

/// Where a chunked body's decoding stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
enum Chunked {
    /// Before a chunk-size line.
    #[default]
    Size,
    /// Inside a chunk, this many bytes to go.
    Data(usize),
    /// Before the CRLF that ends a chunk's data.
    DataEnd,
    /// After the last chunk, in the trailer.
    Trailer,
    Done,
}

/// Longest chunk-size or trailer line accepted.
const MAX_CHUNK_LINE: usize = 4096;

fn find_crlf(buf: &[u8]) -> Option<usize> {
    buf.windows(2).position(|w| w == b"\r\n")
}

impl Chunked {
    /// Moves the body's bytes that `buf` completes to `out`, consuming the
    /// framing; true once the last chunk and the trailer have been read.
    fn decode(&mut self, buf: &mut BytesMut, out: &mut Vec<u8>) -> Result<bool> {
        loop {
            match *self {
                Chunked::Size | Chunked::Trailer => {
                    let Some(end) = find_crlf(buf) else {
                        if buf.len() > MAX_CHUNK_LINE {
                            bail!("chunk line longer than {MAX_CHUNK_LINE} bytes");
                        }
                        return Ok(false);
                    };
                    if *self == Chunked::Trailer {
                        buf.advance(end + 2);
                        if end == 0 {
                            *self = Chunked::Done;
                        }
                        continue;
                    }
                    let line = std::str::from_utf8(&buf[..end]).context("chunk size")?;
                    let hex = line.split(';').next().unwrap_or_default().trim();
                    let size = usize::from_str_radix(hex, 16)
                        .with_context(|| format!("bad chunk size {hex:?}"))?;
                    buf.advance(end + 2);
                    *self = if size == 0 {
                        Chunked::Trailer
                    } else {
                        Chunked::Data(size)
                    };
                }
                Chunked::Data(left) => {
                    if buf.is_empty() {
                        return Ok(false);
                    }
                    let n = left.min(buf.len());
                    out.extend_from_slice(&buf[..n]);
                    buf.advance(n);
                    *self = if n == left {
                        Chunked::DataEnd
                    } else {
                        Chunked::Data(left - n)
                    };
                }
                Chunked::DataEnd => {
                    if buf.len() < 2 {
                        return Ok(false);
                    }
                    if &buf[..2] != b"\r\n" {
                        bail!("chunk data not followed by CRLF");
                    }
                    buf.advance(2);
                    *self = Chunked::Size;
                }
                Chunked::Done => return Ok(true),
            }
        }
    }
}

/// Why an exchange failed.
enum Failure {
    /// Nothing of an answer came on a connection used before: the server
    /// had closed it (an idle keep-alive connection); worth one retry.
    Unsent(anyhow::Error),
    /// Anything else; the connection is no longer usable.
    Failed(anyhow::Error),
}

impl Failure {
    fn into_error(self) -> anyhow::Error {
        match self {
            Failure::Unsent(e) | Failure::Failed(e) => e,
        }
    }
}

/// One open connection and the bytes read from it and not yet used.
struct Conn {
    stream: TcpStream,
    buf: BytesMut,
    /// Answers read from it so far.
    served: u64,
}

impl Conn {
    async fn open(endpoint: &Endpoint) -> Result<Self> {
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
    async fn fill(&mut self) -> std::io::Result<usize> {
        if self.buf.capacity() - self.buf.len() < 1024 {
            self.buf.reserve(4096);
        }
        self.stream.read_buf(&mut self.buf).await
    }

    /// Reads the next answer's head (skipping interim 1xx answers).
    async fn read_head(&mut self) -> Result<Head, Failure> {
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

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::{AsyncBufReadExt, BufReader};
    use tokio::net::TcpListener;

    /// Reads one request head (and a body of its Content-Length); returns
    /// the head, or `None` at end of stream.
    async fn read_request(r: &mut BufReader<tokio::net::tcp::OwnedReadHalf>) -> Option<String> {
        let mut head = String::new();
        loop {
            let mut line = String::new();
            if r.read_line(&mut line).await.ok()? == 0 {
                return None;
            }
            head.push_str(&line);
            if line == "\r\n" {
                break;
            }
        }
        let len = head
            .lines()
            .find_map(|l| {
                l.to_ascii_lowercase()
                    .strip_prefix("content-length: ")
                    .map(str::to_string)
            })
            .map_or(0, |v| v.trim().parse::<usize>().unwrap());
        let mut body = vec![0; len];
        r.read_exact(&mut body).await.ok()?;
        head.push_str(&String::from_utf8(body).unwrap());
        Some(head)
    }

    /// A server that answers every request by `answer(request text)`, one
    /// piece after another (each written on its own), and closes each
    /// connection after `per_conn` answers; counts connections.
    async fn server<F>(
        per_conn: usize,
        answer: F,
    ) -> (String, tokio::sync::mpsc::UnboundedReceiver<()>)
    where
        F: Fn(&str) -> Vec<String> + Send + Sync + 'static,
    {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        let (accepted, count) = tokio::sync::mpsc::unbounded_channel();
        let answer = std::sync::Arc::new(answer);
        tokio::spawn(async move {
            loop {
                let (stream, _) = listener.accept().await.unwrap();
                accepted.send(()).unwrap();
                let answer = answer.clone();
                tokio::spawn(async move {
                    let (r, mut w) = stream.into_split();
                    let mut r = BufReader::new(r);
                    for _ in 0..per_conn {
                        let Some(req) = read_request(&mut r).await else {
                            return;
                        };
                        for piece in answer(&req) {
                            w.write_all(piece.as_bytes()).await.unwrap();
                            w.flush().await.unwrap();
                            tokio::task::yield_now().await;
                        }
                    }
                });
            }
        });
        (base, count)
    }

    /// Answers with the request's own text, as one write.
    fn echo(req: &str) -> Vec<String> {
        vec![format!(
            "HTTP/1.1 200 OK\r\ncontent-length: {}\r\n\r\n{req}",
            req.len()
        )]
    }

    fn text(body: &Bytes) -> String {
        String::from_utf8(body.to_vec()).unwrap()
    }

    #[tokio::test]
    async fn keeps_one_connection_and_sends_the_headers() {
        let (base, mut accepted) = server(usize::MAX, echo).await;
        let endpoint = Endpoint::new(&base).await.unwrap();
        let mut client = Client::new(endpoint.clone());
        let target = endpoint.target("/api/v1/enrollments").unwrap();
        for course in 1..=3 {
            let body = format!("{{\"course_id\":{course}}}");
            let req = endpoint.post_json(&target, "session=abc", body.as_bytes());
            let (status, body) = client.send(&req).await.unwrap();
            let text = text(&body).to_ascii_lowercase();
            assert_eq!(status, 200);
            assert!(
                text.starts_with("post /api/v1/enrollments http/1.1\r\n"),
                "{text}"
            );
            for h in [
                "host: 127.0.0.1:",
                "cookie: session=abc",
                "content-type: application/json",
                "content-length: 15",
            ] {
                assert!(text.contains(h), "{h} missing: {text}");
            }
            assert!(
                text.ends_with(&format!("\r\n\r\n{{\"course_id\":{course}}}")),
                "{text}"
            );
        }
        let get = endpoint.get(&endpoint.target("/t/1-2").unwrap(), "s=1");
        let (_, body) = client.send(&get).await.unwrap();
        assert!(text(&body).starts_with("GET /t/1-2 HTTP/1.1\r\n"));
        assert!(!text(&body).contains("content-length"), "a GET has no body");
        accepted.recv().await.unwrap();
        assert!(
            accepted.try_recv().is_err(),
            "four requests, one connection"
        );
    }

    #[tokio::test]
    async fn reconnects_when_the_server_closes_the_connection() {
        let (base, mut accepted) = server(1, echo).await;
        let endpoint = Endpoint::new(&base).await.unwrap();
        let mut client = Client::new(endpoint.clone());
        let req = endpoint.get(&endpoint.target("/x").unwrap(), "s=1");
        for _ in 0..3 {
            let (status, body) = client.send(&req).await.unwrap();
            assert_eq!(status, 200);
            assert!(text(&body).starts_with("GET /x "));
        }
        for _ in 0..3 {
            accepted.recv().await.unwrap();
        }
    }

    #[tokio::test]
    async fn an_answer_in_pieces_chunked_or_closing_is_read_whole() {
        let (base, mut accepted) = server(usize::MAX, |req: &str| {
            if req.starts_with("GET /chunked ") {
                [
                    "HTTP/1.1 201 Created\r\nTransfer-Encoding: chunked\r\n",
                    "\r\n5\r\nhel",
                    "lo\r\n7;ext=1\r\n, world\r\n0\r\nx-trailer: 1\r\n",
                    "\r\n",
                ]
                .map(String::from)
                .to_vec()
            } else if req.starts_with("GET /close ") {
                vec![
                    "HTTP/1.1 409 Conflict\r\nConnection: close\r\ncontent-length: 2\r\n\r\nno"
                        .into(),
                ]
            } else {
                vec![
                    "HTTP/1.1 202 Accepted\r\ncontent-le".into(),
                    "ngth: 4\r\n\r\nab".into(),
                    "cd".into(),
                ]
            }
        })
        .await;
        let endpoint = Endpoint::new(&base).await.unwrap();
        let mut client = Client::new(endpoint.clone());
        let get = |path: &str| endpoint.get(&endpoint.target(path).unwrap(), "s=1");
        let (status, body) = client.send(&get("/pieces")).await.unwrap();
        assert_eq!((status, text(&body).as_str()), (202, "abcd"));
        let (status, body) = client.send(&get("/chunked")).await.unwrap();
        assert_eq!((status, text(&body).as_str()), (201, "hello, world"));
        let (status, body) = client.send(&get("/close")).await.unwrap();
        assert_eq!((status, text(&body).as_str()), (409, "no"));
        // `Connection: close` is honoured: the next request opens a new
        // connection (and is not an error).
        let (status, _) = client.send(&get("/pieces")).await.unwrap();
        assert_eq!(status, 202);
        accepted.recv().await.unwrap();
        accepted.recv().await.unwrap();
        assert!(accepted.try_recv().is_err(), "two connections");
    }

    #[tokio::test]
    async fn a_body_without_a_length_ends_where_the_server_closes() {
        // One answer per connection, then the server closes it.
        let (base, mut accepted) = server(1, |_: &str| {
            vec![
                "HTTP/1.1 200 OK\r\ncontent-type: text/plain\r\n\r\nuntil ".into(),
                "the close".into(),
            ]
        })
        .await;
        let endpoint = Endpoint::new(&base).await.unwrap();
        let mut client = Client::new(endpoint.clone());
        let get = endpoint.get(&endpoint.target("/eof").unwrap(), "s=1");
        for _ in 0..2 {
            let (status, body) = client.send(&get).await.unwrap();
            assert_eq!((status, text(&body).as_str()), (200, "until the close"));
        }
        accepted.recv().await.unwrap();
        accepted.recv().await.unwrap();
    }

    #[tokio::test]
    async fn a_garbled_answer_is_an_error_and_the_connection_is_dropped() {
        let (base, mut accepted) = server(usize::MAX, |req: &str| {
            if req.starts_with("GET /bad ") {
                vec!["HTTP/1.1 200 OK\r\ncontent-length: nope\r\n\r\n".into()]
            } else {
                echo(req)
            }
        })
        .await;
        let endpoint = Endpoint::new(&base).await.unwrap();
        let mut client = Client::new(endpoint.clone());
        let bad = endpoint.get(&endpoint.target("/bad").unwrap(), "s=1");
        let err = client.send(&bad).await.unwrap_err();
        assert!(format!("{err:#}").contains("content-length"), "{err:#}");
        let ok = endpoint.get(&endpoint.target("/ok").unwrap(), "s=1");
        assert_eq!(client.send(&ok).await.unwrap().0, 200);
        accepted.recv().await.unwrap();
        accepted.recv().await.unwrap();
    }

    #[test]
    fn chunked_bodies_decode_whatever_the_reads_split() {
        let wire = b"4\r\nWiki\r\n6;name=v\r\npedia \r\nE\r\nin \r\n\r\nchunks.\r\n0\r\nExpires: never\r\n\r\n";
        for step in 1..=wire.len() {
            let mut chunked = Chunked::default();
            let (mut buf, mut out, mut done) = (BytesMut::new(), Vec::new(), false);
            for piece in wire.chunks(step) {
                assert!(!done, "done before the end (step {step})");
                buf.extend_from_slice(piece);
                done = chunked.decode(&mut buf, &mut out).unwrap();
            }
            assert!(done, "step {step}");
            assert_eq!(out, b"Wikipedia in \r\n\r\nchunks.", "step {step}");
            assert!(buf.is_empty());
        }
        let mut chunked = Chunked::default();
        let mut buf = BytesMut::from(&b"zz\r\n"[..]);
        assert!(chunked.decode(&mut buf, &mut Vec::new()).is_err());
        let mut chunked = Chunked::default();
        let mut buf = BytesMut::from(&b"2\r\nabXY"[..]);
        assert!(chunked.decode(&mut buf, &mut Vec::new()).is_err());
    }

    #[tokio::test]
    async fn an_event_stream_gives_each_chunk_as_it_comes() {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        let (go, mut next) = tokio::sync::mpsc::unbounded_channel::<&'static str>();
        tokio::spawn(async move {
            let (stream, _) = listener.accept().await.unwrap();
            let (r, mut w) = stream.into_split();
            let req = read_request(&mut BufReader::new(r)).await.unwrap();
            assert!(req.starts_with("GET /events HTTP/1.1\r\n"), "{req}");
            assert!(req.contains("cookie: s=9\r\n"), "{req}");
            w.write_all(b"HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\ntransfer-encoding: chunked\r\n\r\n")
                .await
                .unwrap();
            while let Some(piece) = next.recv().await {
                w.write_all(piece.as_bytes()).await.unwrap();
            }
        });
        let endpoint = Endpoint::new(&base).await.unwrap();
        let (status, mut stream) = endpoint
            .open_stream(&endpoint.target("/events").unwrap(), "s=9")
            .await
            .unwrap();
        assert_eq!(status, 200);
        let mut out = Vec::new();
        go.send("d\r\nevent: ready\n\r\n").unwrap();
        assert!(stream.next_data(&mut out).await.unwrap());
        assert_eq!(out, b"event: ready\n");
        go.send("2\r\n\n\n\r\n").unwrap();
        assert!(stream.next_data(&mut out).await.unwrap());
        assert_eq!(out, b"event: ready\n\n\n");
        go.send("0\r\n\r\n").unwrap();
        assert!(!stream.next_data(&mut out).await.unwrap(), "the body ended");
    }

    #[tokio::test]
    async fn a_refused_connection_is_an_error_and_https_is_refused() {
        let port = testkit::free_port();
        let endpoint = Endpoint::new(&format!("http://127.0.0.1:{port}/"))
            .await
            .unwrap();
        let mut client = Client::new(endpoint.clone());
        let req = endpoint.get(&endpoint.target("/x").unwrap(), "s=1");
        let err = client.send(&req).await.unwrap_err();
        assert!(format!("{err:#}").contains("cannot connect"), "{err:#}");
        assert!(Endpoint::new("https://127.0.0.1:1").await.is_err());
    }

    #[tokio::test]
    async fn keeps_the_base_path_prefix_and_refuses_what_would_break_a_line() {
        let (base, _accepted) = server(usize::MAX, echo).await;
        let endpoint = Endpoint::new(&format!("{base}/prefix/")).await.unwrap();
        let mut client = Client::new(endpoint.clone());
        let req = endpoint.get(&endpoint.target("/api").unwrap(), "s=1");
        let (_, body) = client.send(&req).await.unwrap();
        assert!(text(&body).starts_with("GET /prefix/api HTTP/1.1\r\n"));
        assert!(endpoint.target("/a\r\nx: y").is_err());
        assert!(endpoint.target("/a b").is_err());
        assert!(endpoint.target("a").is_err());
        assert!(check_header_text("cookie", "s=1\r\nx: y").is_err());
        assert!(check_header_text("cookie", "s=1; t=2").is_ok());
    }
}
