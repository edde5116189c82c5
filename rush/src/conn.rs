//! The measured requests' HTTP client: one persistent HTTP/1.1 keep-alive
//! connection per [`Client`], on hyper's low-level connection API (no pool,
//! no per-request connection lookup), in the spirit of `wrk`.
//!
//! A [`Client`] drives its connection inside the task that sends on it, so a
//! request costs no hand-over between tasks. A request that the connection
//! gave back unsent (the server closed it in between) is retried once on a
//! fresh connection; any other failure drops the connection and the next
//! request opens a new one.

use std::future::Future;
use std::net::SocketAddr;
use std::pin::Pin;
use std::time::Duration;

use anyhow::{anyhow, bail, Context, Result};
use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::client::conn::http1::SendRequest;
use hyper::header::{HeaderValue, CONTENT_TYPE, COOKIE, HOST};
use hyper::{Method, Request, StatusCode, Uri};
use hyper_util::rt::TokioIo;
use tokio::net::TcpStream;

/// A request as the measured client sends it.
pub type Req = Request<Full<Bytes>>;

/// How long one request may take before it counts as failed (the same
/// limit the reqwest client of the set-up has).
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);

/// Where the measured requests go, with what every request shares.
#[derive(Debug, Clone)]
pub struct Endpoint {
    addr: SocketAddr,
    host: HeaderValue,
    /// Path prefix of the base URL, without a trailing `/`.
    prefix: String,
}

impl Endpoint {
    /// From a base URL like `http://127.0.0.1:8080` (plain HTTP only).
    pub async fn new(base: &str) -> Result<Self> {
        let uri: Uri = base
            .parse()
            .with_context(|| format!("bad base URL {base:?}"))?;
        if uri.scheme_str() != Some("http") {
            bail!("the measured client speaks plain http:// only, not {base:?}");
        }
        let authority = uri.authority().context("base URL without host")?;
        let port = authority.port_u16().unwrap_or(80);
        let addr = tokio::net::lookup_host((authority.host(), port))
            .await
            .with_context(|| format!("cannot resolve {}", authority.host()))?
            .next()
            .with_context(|| format!("{} resolves to no address", authority.host()))?;
        Ok(Self {
            addr,
            host: HeaderValue::from_str(authority.as_str())?,
            prefix: uri.path().trim_end_matches('/').to_string(),
        })
    }

    /// The origin-form URI of `path` (which starts with `/`).
    pub fn uri(&self, path: &str) -> Result<Uri> {
        Uri::try_from(format!("{}{path}", self.prefix))
            .with_context(|| format!("bad path {path:?}"))
    }

    /// `POST uri` with a JSON body and a cookie.
    pub fn post_json(&self, uri: Uri, cookie: &HeaderValue, body: Bytes) -> Req {
        let mut req = self.request(Method::POST, uri, cookie, body);
        req.headers_mut()
            .insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
        req
    }

    /// `GET uri` with a cookie.
    pub fn get(&self, uri: Uri, cookie: &HeaderValue) -> Req {
        self.request(Method::GET, uri, cookie, Bytes::new())
    }

    fn request(&self, method: Method, uri: Uri, cookie: &HeaderValue, body: Bytes) -> Req {
        let mut req = Request::new(Full::new(body));
        *req.method_mut() = method;
        *req.uri_mut() = uri;
        let headers = req.headers_mut();
        headers.reserve(3);
        headers.insert(HOST, self.host.clone());
        headers.insert(COOKIE, cookie.clone());
        req
    }

    /// Opens `GET uri` on a connection of its own and returns the answer's
    /// status and body, to be read as it comes (an event stream). A task of
    /// its own drives the connection; it ends when the body is dropped.
    pub async fn open_stream(
        &self,
        uri: Uri,
        cookie: &HeaderValue,
    ) -> Result<(StatusCode, Incoming)> {
        let stream = TcpStream::connect(self.addr)
            .await
            .with_context(|| format!("cannot connect to {}", self.addr))?;
        stream.set_nodelay(true)?;
        let (mut sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
            .await
            .context("HTTP/1.1 handshake")?;
        tokio::spawn(async move {
            let _ = connection.await;
        });
        let res = sender
            .send_request(self.get(uri, cookie))
            .await
            .context("opening the stream")?;
        Ok((res.status(), res.into_body()))
    }

    async fn connect(&self) -> Result<Conn> {
        let stream = TcpStream::connect(self.addr)
            .await
            .with_context(|| format!("cannot connect to {}", self.addr))?;
        stream.set_nodelay(true)?;
        let (sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
            .await
            .context("HTTP/1.1 handshake")?;
        Ok(Conn {
            sender,
            // The connection is dropped (closing the sender's side) when it ends.
            connection: Some(Box::pin(async move {
                let _ = connection.await;
            })),
        })
    }
}

/// One open connection: the request half and the future that does its I/O.
struct Conn {
    sender: SendRequest<Full<Bytes>>,
    connection: Option<Pin<Box<dyn Future<Output = ()> + Send>>>,
}

/// Why an exchange failed.
enum Failure {
    /// The connection gave the request back before writing it.
    Unsent(Box<Req>, hyper::Error),
    /// Anything else; the connection is no longer usable.
    Failed(anyhow::Error),
}

impl Conn {
    fn is_closed(&self) -> bool {
        self.connection.is_none() || self.sender.is_closed()
    }

    /// Sends `req` and reads the whole answer, driving the connection's I/O
    /// meanwhile.
    async fn exchange(&mut self, req: Req) -> Result<(StatusCode, Bytes), Failure> {
        let sender = &mut self.sender;
        let work = async move {
            if let Err(e) = sender.ready().await {
                return Err(Failure::Unsent(Box::new(req), e));
            }
            let res = match sender.try_send_request(req).await {
                Ok(res) => res,
                Err(mut e) => {
                    return Err(match e.take_message() {
                        Some(req) => Failure::Unsent(Box::new(req), e.into_error()),
                        None => Failure::Failed(e.into_error().into()),
                    })
                }
            };
            let status = res.status();
            let body = res
                .into_body()
                .collect()
                .await
                .map_err(|e| Failure::Failed(anyhow!(e).context("reading the answer")))?;
            Ok((status, body.to_bytes()))
        };
        let mut work = std::pin::pin!(work);
        loop {
            match &mut self.connection {
                Some(connection) => tokio::select! {
                    biased;
                    answer = &mut work => return answer,
                    () = connection => self.connection = None,
                },
                None => return work.await,
            }
        }
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

    /// The endpoint requests are built for.
    pub fn endpoint(&self) -> &Endpoint {
        &self.endpoint
    }

    /// Opens the connection now (a failure is left to the first request).
    pub async fn open(&mut self) {
        if self.conn.is_none() {
            self.conn = self.endpoint.connect().await.ok();
        }
    }

    /// Sends `req`; the answer's status and body. Fails on a connection
    /// error or after [`REQUEST_TIMEOUT`].
    pub async fn send(&mut self, req: Req) -> Result<(StatusCode, Bytes)> {
        match tokio::time::timeout(REQUEST_TIMEOUT, self.send_retrying(req)).await {
            Ok(answer) => answer,
            Err(_) => {
                // The answer may still come: the connection is out of step.
                self.conn = None;
                Err(anyhow!("no answer within {} s", REQUEST_TIMEOUT.as_secs()))
            }
        }
    }

    async fn send_retrying(&mut self, mut req: Req) -> Result<(StatusCode, Bytes)> {
        let mut retried = false;
        loop {
            let conn = match &mut self.conn {
                Some(c) if !c.is_closed() => c,
                slot => slot.insert(self.endpoint.connect().await?),
            };
            match conn.exchange(req).await {
                Ok(answer) => return Ok(answer),
                Err(Failure::Unsent(back, e)) => {
                    self.conn = None;
                    if retried {
                        return Err(anyhow!(e).context("connection closed before the request"));
                    }
                    retried = true;
                    req = *back;
                }
                Err(Failure::Failed(e)) => {
                    self.conn = None;
                    return Err(e);
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
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

    /// A server that answers every request with its own request text and
    /// closes each connection after `per_conn` answers; counts connections.
    async fn echo_server(per_conn: usize) -> (String, tokio::sync::mpsc::UnboundedReceiver<()>) {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        let (accepted, count) = tokio::sync::mpsc::unbounded_channel();
        tokio::spawn(async move {
            loop {
                let (stream, _) = listener.accept().await.unwrap();
                accepted.send(()).unwrap();
                tokio::spawn(async move {
                    let (r, mut w) = stream.into_split();
                    let mut r = BufReader::new(r);
                    for _ in 0..per_conn {
                        let Some(req) = read_request(&mut r).await else {
                            return;
                        };
                        let answer = format!(
                            "HTTP/1.1 200 OK\r\ncontent-length: {}\r\n\r\n{req}",
                            req.len()
                        );
                        w.write_all(answer.as_bytes()).await.unwrap();
                    }
                });
            }
        });
        (base, count)
    }

    #[tokio::test]
    async fn keeps_one_connection_and_sends_prebuilt_headers() {
        let (base, mut accepted) = echo_server(usize::MAX).await;
        let endpoint = Endpoint::new(&base).await.unwrap();
        let cookie = HeaderValue::from_static("session=abc");
        let mut client = Client::new(endpoint.clone());
        for course in 1..=3 {
            let req = endpoint.post_json(
                endpoint.uri("/api/v1/enrollments").unwrap(),
                &cookie,
                Bytes::from(format!("{{\"course_id\":{course}}}")),
            );
            let (status, body) = client.send(req).await.unwrap();
            let text = String::from_utf8(body.to_vec())
                .unwrap()
                .to_ascii_lowercase();
            assert_eq!(status, StatusCode::OK);
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
                text.ends_with(&format!("{{\"course_id\":{course}}}")),
                "{text}"
            );
        }
        let (_, body) = client
            .send(endpoint.get(endpoint.uri("/t/1-2").unwrap(), &cookie))
            .await
            .unwrap();
        assert!(String::from_utf8_lossy(&body).starts_with("GET /t/1-2 HTTP/1.1\r\n"));
        accepted.recv().await.unwrap();
        assert!(
            accepted.try_recv().is_err(),
            "four requests, one connection"
        );
    }

    #[tokio::test]
    async fn reconnects_when_the_server_closes_the_connection() {
        let (base, mut accepted) = echo_server(1).await;
        let endpoint = Endpoint::new(&base).await.unwrap();
        let cookie = HeaderValue::from_static("s=1");
        let mut client = Client::new(endpoint.clone());
        for _ in 0..3 {
            let req = endpoint.get(endpoint.uri("/x").unwrap(), &cookie);
            let (status, _) = client.send(req).await.unwrap();
            assert_eq!(status, StatusCode::OK);
        }
        for _ in 0..3 {
            accepted.recv().await.unwrap();
        }
    }

    #[tokio::test]
    async fn a_refused_connection_is_an_error_and_https_is_refused() {
        let port = testkit::free_port();
        let endpoint = Endpoint::new(&format!("http://127.0.0.1:{port}/"))
            .await
            .unwrap();
        let mut client = Client::new(endpoint.clone());
        let req = endpoint.get(
            endpoint.uri("/x").unwrap(),
            &HeaderValue::from_static("s=1"),
        );
        let err = client.send(req).await.unwrap_err();
        assert!(format!("{err:#}").contains("cannot connect"), "{err:#}");
        assert!(Endpoint::new("https://127.0.0.1:1").await.is_err());
    }

    #[tokio::test]
    async fn keeps_the_base_path_prefix() {
        let (base, _accepted) = echo_server(usize::MAX).await;
        let endpoint = Endpoint::new(&format!("{base}/prefix/")).await.unwrap();
        let mut client = Client::new(endpoint.clone());
        let req = endpoint.get(
            endpoint.uri("/api").unwrap(),
            &HeaderValue::from_static("s=1"),
        );
        let (_, body) = client.send(req).await.unwrap();
        assert!(String::from_utf8_lossy(&body).starts_with("GET /prefix/api HTTP/1.1\r\n"));
    }
}
