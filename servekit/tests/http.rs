//! servekit::http against real sockets: slow heads and idle keep-alive
//! connections are closed at the header-read deadline, a connection over
//! the cap is answered 503 and the server recovers once one closes,
//! shutdown waits for nothing idle.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use http_body_util::Full;
use hyper::body::Bytes;
use hyper::{Request, Response};
use servekit::http::{serve, ConnStats, Limits};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

struct Server {
    addr: SocketAddr,
    stats: Arc<ConnStats>,
    stop: Option<oneshot::Sender<()>>,
    task: JoinHandle<std::io::Result<()>>,
}

async fn start(limits: Limits) -> Server {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let stats = Arc::new(ConnStats::default());
    let service = tower::service_fn(|_req: Request<hyper::body::Incoming>| async {
        Ok::<_, Infallible>(Response::new(Full::new(Bytes::from_static(b"ok"))))
    });
    let (stop, stopped) = oneshot::channel::<()>();
    let task = tokio::spawn(serve(listener, service, limits, stats.clone(), async {
        let _ = stopped.await;
    }));
    Server {
        addr,
        stats,
        stop: Some(stop),
        task,
    }
}

const GET: &[u8] = b"GET / HTTP/1.1\r\nHost: test\r\n\r\n";

/// Reads until the peer closes (bounded, so a server that never closes
/// fails the test instead of hanging it); returns what came.
async fn read_to_close(s: &mut TcpStream) -> String {
    let mut buf = Vec::new();
    let read = tokio::time::timeout(Duration::from_secs(20), s.read_to_end(&mut buf)).await;
    assert!(read.is_ok(), "the server did not close the connection");
    String::from_utf8_lossy(&buf).into_owned()
}

/// Reads one whole response to `GET` (its body is `ok`).
async fn read_response(s: &mut TcpStream) -> String {
    let mut buf = Vec::new();
    let mut chunk = [0u8; 1024];
    while !String::from_utf8_lossy(&buf).ends_with("ok") {
        let n = tokio::time::timeout(Duration::from_secs(10), s.read(&mut chunk))
            .await
            .expect("a response")
            .unwrap();
        assert!(n > 0, "closed early: {}", String::from_utf8_lossy(&buf));
        buf.extend_from_slice(&chunk[..n]);
    }
    String::from_utf8_lossy(&buf).into_owned()
}

async fn eventually(what: &str, check: impl Fn() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(10);
    while !check() {
        assert!(Instant::now() < deadline, "never: {what}");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

fn short(timeout_ms: u64, max_connections: usize) -> Limits {
    Limits {
        header_read_timeout: Duration::from_millis(timeout_ms),
        max_connections,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_half_sent_head_is_closed_at_the_deadline_and_a_whole_one_is_served() {
    let server = start(short(300, 100)).await;
    let mut slow = TcpStream::connect(server.addr).await.unwrap();
    let began = Instant::now();
    slow.write_all(b"GET / HTTP/1.1\r\nHost: te").await.unwrap();
    let got = read_to_close(&mut slow).await;
    assert!(!got.contains("200 OK"), "{got}");
    assert!(
        began.elapsed() >= Duration::from_millis(250),
        "closed before the deadline"
    );
    // A client that sends its head in time is served.
    let mut fine = TcpStream::connect(server.addr).await.unwrap();
    fine.write_all(GET).await.unwrap();
    assert!(read_response(&mut fine).await.starts_with("HTTP/1.1 200"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_idle_kept_alive_connection_is_closed_at_the_deadline() {
    let server = start(short(300, 100)).await;
    let mut c = TcpStream::connect(server.addr).await.unwrap();
    c.write_all(GET).await.unwrap();
    assert!(read_response(&mut c).await.starts_with("HTTP/1.1 200"));
    // Kept alive: a second request right away is served on it.
    c.write_all(GET).await.unwrap();
    assert!(read_response(&mut c).await.starts_with("HTTP/1.1 200"));
    // Then it sits idle and is closed.
    let idle_from = Instant::now();
    assert_eq!(read_to_close(&mut c).await, "");
    assert!(idle_from.elapsed() >= Duration::from_millis(250));
    eventually("the connection is released", || {
        server.stats.open.load(std::sync::atomic::Ordering::Relaxed) == 0
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn past_the_cap_connections_get_503_and_the_server_recovers() {
    let server = start(short(30_000, 2)).await;
    let open = |s: &Server| s.stats.open.load(std::sync::atomic::Ordering::Relaxed);
    let c1 = TcpStream::connect(server.addr).await.unwrap();
    let _c2 = TcpStream::connect(server.addr).await.unwrap();
    eventually("two connections held", || open(&server) == 2).await;
    let mut c3 = TcpStream::connect(server.addr).await.unwrap();
    let answer = read_to_close(&mut c3).await;
    assert!(answer.starts_with("HTTP/1.1 503"), "{answer}");
    assert!(answer.contains("Retry-After: 1"), "{answer}");
    assert!(answer.contains("too_many_connections"), "{answer}");
    let (_, accepted, refused, _) = server.stats.snapshot();
    assert_eq!((accepted, refused), (2, 1));
    // One of the two goes away: a new client is served again.
    drop(c1);
    eventually("the closed connection is released", || open(&server) == 1).await;
    let mut c4 = TcpStream::connect(server.addr).await.unwrap();
    c4.write_all(GET).await.unwrap();
    assert!(read_response(&mut c4).await.starts_with("HTTP/1.1 200"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shutdown_stops_accepting_and_does_not_wait_for_idle_connections() {
    let mut server = start(short(30_000, 100)).await;
    let mut idle = TcpStream::connect(server.addr).await.unwrap();
    idle.write_all(GET).await.unwrap();
    read_response(&mut idle).await;
    server.stop.take().unwrap().send(()).unwrap();
    let stopped = tokio::time::timeout(Duration::from_secs(10), &mut server.task).await;
    assert!(
        stopped.is_ok(),
        "serve waited for an idle keep-alive connection"
    );
    stopped.unwrap().unwrap().unwrap();
    assert_eq!(read_to_close(&mut idle).await, "");
    assert!(TcpStream::connect(server.addr).await.is_err());
}
