//! Serving HTTP/1.1 with the limits a public server needs against cheap
//! attacks: a deadline for every request head, a cap on connections held,
//! and an accept loop that backs off when the process runs out of file
//! descriptors instead of spinning.
//!
//! hyper arms its header-read timer when a connection opens and again when
//! a response is done, so [`Limits::header_read_timeout`] bounds both a
//! head sent slowly (slowloris) and the idle wait for the next request on a
//! kept-alive connection. Past [`Limits::max_connections`] a connection is
//! answered `503` with `Retry-After` and closed, and [`ConnStats::refused`]
//! counts it.
//!
//! HTTP/1.1 only: the servers here sit behind a load balancer or are
//! scraped, and HTTP/1.1 keeps the attack surface small.
//!
//! [`serve_tls`] speaks TLS (rustls) instead. The handshake runs in the
//! connection's own task, never in the accept loop, and must finish within
//! [`Limits::header_read_timeout`] (after which hyper's header deadline
//! starts); a connection that fails or stalls it is closed and counted in
//! [`ConnStats::tls_handshake_failures`]. Past the connection cap a TLS
//! connection is closed without an answer: a 503 would need a handshake,
//! which is the work the cap is there to refuse.

use std::convert::Infallible;
use std::future::Future;
use std::io;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper::{Request, Response};
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::server::graceful::GracefulShutdown;
use hyper_util::service::TowerToHyperService;
use tokio::io::{AsyncRead, AsyncWrite, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::Semaphore;
use tokio_rustls::TlsAcceptor;
use tower::ServiceExt;

pub use crate::tls_accept::handshake;

/// What [`serve`] serves: a tower service answering hyper's requests with
/// `Response<B>`, never failing (errors are responses), cloned per
/// connection.
pub trait HttpService<B>:
    tower::Service<
        Request<Incoming>,
        Response = Response<B>,
        Error = Infallible,
        Future: Send + 'static,
    > + Clone
    + Send
    + 'static
{
}

impl<S, B> HttpService<B> for S where
    S: tower::Service<
            Request<Incoming>,
            Response = Response<B>,
            Error = Infallible,
            Future: Send + 'static,
        > + Clone
        + Send
        + 'static
{
}

/// A response body hyper can write from any task.
pub trait ResponseBody:
    hyper::body::Body<Data: Send, Error: Into<Box<dyn std::error::Error + Send + Sync>>>
    + Send
    + 'static
{
}

impl<B> ResponseBody for B where
    B: hyper::body::Body<Data: Send, Error: Into<Box<dyn std::error::Error + Send + Sync>>>
        + Send
        + 'static
{
}

/// The peer's address, put in every request's extensions: what a server
/// that counts per client starts from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PeerAddr(pub std::net::SocketAddr);

/// Limits on what one client may hold.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// A request head must arrive whole within this, counted from the
    /// connection's start or from the end of the previous response: it is
    /// also how long a kept-alive connection may sit idle.
    pub header_read_timeout: Duration,
    /// Connections held at once.
    pub max_connections: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            header_read_timeout: Duration::from_secs(10),
            max_connections: 20_000,
        }
    }
}

/// What the accept loop saw, for each server's `/metrics`.
#[derive(Debug, Default)]
pub struct ConnStats {
    /// Connections held now.
    pub open: AtomicU64,
    /// Connections accepted and served.
    pub accepted: AtomicU64,
    /// Connections answered 503 because `max_connections` were held.
    pub refused: AtomicU64,
    /// Failed accepts (out of file descriptors, ...).
    pub accept_errors: AtomicU64,
    /// TLS handshakes that failed or did not finish in time.
    pub tls_handshake_failures: AtomicU64,
}

impl ConnStats {
    fn get(v: &AtomicU64) -> u64 {
        v.load(Ordering::Relaxed)
    }

    /// `(open, accepted, refused, accept_errors)` now.
    pub fn snapshot(&self) -> (u64, u64, u64, u64) {
        (
            Self::get(&self.open),
            Self::get(&self.accepted),
            Self::get(&self.refused),
            Self::get(&self.accept_errors),
        )
    }
}

impl ConnStats {
    /// The three figures operators watch, in Prometheus's text format, as
    /// `<prefix>_http_connections`, `<prefix>_http_connections_refused_total`
    /// and `<prefix>_http_accept_errors_total` (for servers that write their
    /// own exposition).
    pub fn render_text(&self, prefix: &str) -> String {
        let (open, _, refused, errors) = self.snapshot();
        format!(
            "# HELP {prefix}_http_connections HTTP connections held now.\n\
             # TYPE {prefix}_http_connections gauge\n\
             {prefix}_http_connections {open}\n\
             # HELP {prefix}_http_connections_refused_total Connections answered 503 because the connection cap was reached.\n\
             # TYPE {prefix}_http_connections_refused_total counter\n\
             {prefix}_http_connections_refused_total {refused}\n\
             # HELP {prefix}_http_accept_errors_total Failed accepts (e.g. out of file descriptors).\n\
             # TYPE {prefix}_http_accept_errors_total counter\n\
             {prefix}_http_accept_errors_total {errors}\n"
        )
    }

    /// `<prefix>_http_tls_handshake_failures_total`, for servers that speak
    /// TLS.
    pub fn render_tls_text(&self, prefix: &str) -> String {
        let failures = Self::get(&self.tls_handshake_failures);
        format!(
            "# HELP {prefix}_http_tls_handshake_failures_total TLS handshakes that failed or did not finish within the header read timeout.\n\
             # TYPE {prefix}_http_tls_handshake_failures_total counter\n\
             {prefix}_http_tls_handshake_failures_total {failures}\n"
        )
    }
}

/// The answer to a connection over the cap.
const OVERLOADED: &[u8] = b"HTTP/1.1 503 Service Unavailable\r\n\
Content-Type: application/json\r\nRetry-After: 1\r\nConnection: close\r\nContent-Length: 80\r\n\r\n\
{\"error\":{\"code\":\"too_many_connections\",\"message\":\"server busy; retry shortly\"}}";

/// Serves `service` on `listener` within `limits` until `shutdown`
/// completes, then stops accepting and waits for the connections to finish
/// their requests (idle ones close at once).
pub async fn serve<S, B>(
    listener: TcpListener,
    service: S,
    limits: Limits,
    stats: Arc<ConnStats>,
    shutdown: impl Future<Output = ()>,
) -> io::Result<()>
where
    S: HttpService<B>,
    B: ResponseBody,
{
    serve_tls(listener, None, service, limits, stats, shutdown).await
}

/// [`serve`], over TLS with `tls` when it is given.
pub async fn serve_tls<S, B>(
    listener: TcpListener,
    tls: Option<Arc<rustls::ServerConfig>>,
    service: S,
    limits: Limits,
    stats: Arc<ConnStats>,
    shutdown: impl Future<Output = ()>,
) -> io::Result<()>
where
    S: HttpService<B>,
    B: ResponseBody,
{
    let acceptor = tls.map(TlsAcceptor::from);
    let permits = Arc::new(Semaphore::new(limits.max_connections.max(1)));
    let graceful = GracefulShutdown::new();
    let mut backoff = AcceptBackoff::default();
    tokio::pin!(shutdown);
    loop {
        let (stream, peer) = tokio::select! {
            _ = &mut shutdown => break,
            accepted = listener.accept() => match accepted {
                Ok((stream, peer)) => {
                    backoff.reset();
                    (stream, peer)
                }
                Err(err) => {
                    stats.accept_errors.fetch_add(1, Ordering::Relaxed);
                    if let Some(pause) = backoff.after(&err) {
                        tracing::warn!(error = %err, ?pause, "accept failed; backing off");
                        tokio::time::sleep(pause).await;
                    }
                    continue;
                }
            },
        };
        let Ok(permit) = permits.clone().try_acquire_owned() else {
            stats.refused.fetch_add(1, Ordering::Relaxed);
            if acceptor.is_none() {
                tokio::spawn(refuse(stream));
            }
            continue;
        };
        let _ = stream.set_nodelay(true);
        stats.accepted.fetch_add(1, Ordering::Relaxed);
        stats.open.fetch_add(1, Ordering::Relaxed);
        let service = service
            .clone()
            .map_request(move |mut req: Request<Incoming>| {
                req.extensions_mut().insert(PeerAddr(peer));
                req
            });
        // Taken now, so a shutdown that begins during the handshake still
        // reaches the connection once it is served.
        let watcher = graceful.watcher();
        let acceptor = acceptor.clone();
        let stats = stats.clone();
        tokio::spawn(async move {
            match acceptor {
                None => {
                    let _ = watcher.watch(connection(stream, service, limits)).await;
                }
                Some(acceptor) => {
                    match handshake(&acceptor, stream, limits.header_read_timeout).await {
                        Ok(tls) => {
                            let _ = watcher.watch(connection(tls, service, limits)).await;
                        }
                        Err(err) => {
                            stats.tls_handshake_failures.fetch_add(1, Ordering::Relaxed);
                            tracing::debug!(%peer, error = %err, "TLS handshake failed");
                        }
                    }
                }
            }
            stats.open.fetch_sub(1, Ordering::Relaxed);
            drop(permit);
        });
    }
    drop(listener);
    graceful.shutdown().await;
    Ok(())
}

/// One HTTP/1.1 connection on `io` with the header-read deadline.
fn connection<I, S, B>(
    io: I,
    service: S,
    limits: Limits,
) -> http1::Connection<TokioIo<I>, TowerToHyperService<S>>
where
    I: AsyncRead + AsyncWrite + Unpin + Send + 'static,
    S: HttpService<B>,
    B: ResponseBody,
{
    http1::Builder::new()
        .timer(TokioTimer::new())
        .header_read_timeout(limits.header_read_timeout)
        .serve_connection(TokioIo::new(io), TowerToHyperService::new(service))
}

/// Answers a connection over the cap and closes it; a client that does not
/// read is given a second, not more.
async fn refuse(mut stream: TcpStream) {
    let _ = tokio::time::timeout(Duration::from_secs(1), async {
        stream.write_all(OVERLOADED).await?;
        stream.shutdown().await
    })
    .await;
}

/// How long to wait after a failed accept: nothing for errors of one
/// connection (it was reset before we took it), growing pauses while the
/// process is out of descriptors or memory, so the loop does not spin.
#[derive(Debug, Default)]
struct AcceptBackoff {
    failures: u32,
}

impl AcceptBackoff {
    const FIRST: Duration = Duration::from_millis(10);
    const MAX: Duration = Duration::from_secs(1);

    fn after(&mut self, err: &io::Error) -> Option<Duration> {
        use io::ErrorKind::*;
        if matches!(
            err.kind(),
            ConnectionAborted | ConnectionReset | Interrupted | WouldBlock
        ) {
            return None;
        }
        let pause = (Self::FIRST * 2u32.saturating_pow(self.failures)).min(Self::MAX);
        self.failures = self.failures.saturating_add(1);
        Some(pause)
    }

    fn reset(&mut self) {
        self.failures = 0;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accept_failures_back_off_up_to_a_second_and_reset() {
        let mut b = AcceptBackoff::default();
        let emfile = io::Error::from_raw_os_error(24);
        let ms = |d: Option<Duration>| d.map(|d| d.as_millis());
        assert_eq!(ms(b.after(&emfile)), Some(10));
        assert_eq!(ms(b.after(&emfile)), Some(20));
        assert_eq!(ms(b.after(&emfile)), Some(40));
        for _ in 0..20 {
            b.after(&emfile);
        }
        assert_eq!(ms(b.after(&emfile)), Some(1000));
        // One connection's own trouble is no reason to wait.
        let reset = io::Error::from(io::ErrorKind::ConnectionAborted);
        assert_eq!(b.after(&reset), None);
        b.reset();
        assert_eq!(ms(b.after(&emfile)), Some(10));
    }

    #[test]
    fn stats_render_as_exposition_text() {
        let stats = ConnStats::default();
        stats.open.store(3, Ordering::Relaxed);
        stats.refused.store(2, Ordering::Relaxed);
        let text = stats.render_text("demo");
        assert!(text.contains("\ndemo_http_connections 3\n"), "{text}");
        assert!(
            text.contains("\ndemo_http_connections_refused_total 2\n"),
            "{text}"
        );
        assert!(
            text.contains("\ndemo_http_accept_errors_total 0\n"),
            "{text}"
        );
        assert_eq!(text.matches("# TYPE ").count(), 3);
    }

    #[test]
    fn the_overload_answer_is_well_formed() {
        let text = std::str::from_utf8(OVERLOADED).unwrap();
        let (head, body) = text.split_once("\r\n\r\n").unwrap();
        let length: usize = head
            .lines()
            .find_map(|l| l.strip_prefix("Content-Length: "))
            .unwrap()
            .parse()
            .unwrap();
        assert_eq!(body.len(), length);
        let json: serde_json::Value = serde_json::from_str(body).unwrap();
        assert_eq!(json["error"]["code"], "too_many_connections");
    }
}
