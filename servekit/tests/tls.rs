//! servekit::http over TLS, configured by a web config file, against real
//! sockets and a rustls client: requests are served, plain HTTP to the TLS
//! port is not, a stalled handshake blocks nobody, the header deadline and
//! the connection cap still hold, basic auth answers 401 until the right
//! bcrypt-checked password comes (then bcrypt is not rerun), and a client
//! certificate is required where the file says so.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};

use http_body_util::Full;
use hyper::body::Bytes;
use hyper::{Request, Response};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName};
use servekit::http::{ConnStats, Limits};
use servekit::webconfig::WebConfig;
use testkit::webcfg::TestPki;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::oneshot;
use tokio_rustls::TlsConnector;

struct Server {
    addr: SocketAddr,
    stats: Arc<ConnStats>,
    web: WebConfig,
    pki: TestPki,
    _dir: tempfile::TempDir,
    _stop: oneshot::Sender<()>,
}

/// Serves "ok" with the web configuration `yaml(pki)`.
async fn start(limits: Limits, yaml: impl FnOnce(&TestPki) -> String) -> Server {
    let dir = tempfile::tempdir().unwrap();
    let pki = TestPki::create(dir.path()).unwrap();
    let path = pki.write_config("web.yml", &yaml(&pki)).unwrap();
    let web = WebConfig::load(&path).unwrap();
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let stats = Arc::new(ConnStats::default());
    let service = tower::service_fn(|_req: Request<hyper::body::Incoming>| async {
        Ok::<_, Infallible>(Response::new(Full::new(Bytes::from_static(b"ok"))))
    });
    let (stop, stopped) = oneshot::channel::<()>();
    let (w, s) = (web.clone(), stats.clone());
    tokio::spawn(async move {
        w.serve(listener, service, limits, s, async {
            let _ = stopped.await;
        })
        .await
    });
    Server {
        addr,
        stats,
        web,
        pki,
        _dir: dir,
        _stop: stop,
    }
}

fn tls_only(pki: &TestPki) -> String {
    pki.tls_and_users(&[]).unwrap()
}

fn limits(timeout_ms: u64, max_connections: usize) -> Limits {
    Limits {
        header_read_timeout: Duration::from_millis(timeout_ms),
        max_connections,
    }
}

/// A client trusting the test CA, with the test client certificate when
/// `with_cert`.
fn connector(pki: &TestPki, with_cert: bool) -> TlsConnector {
    let mut roots = rustls::RootCertStore::empty();
    roots
        .add(CertificateDer::from_pem_slice(pki.ca_pem.as_bytes()).unwrap())
        .unwrap();
    let builder = rustls::ClientConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .unwrap()
    .with_root_certificates(roots);
    let config = if with_cert {
        let chain = vec![CertificateDer::from_pem_file(pki.dir.join("client.crt")).unwrap()];
        let key = PrivateKeyDer::from_pem_file(pki.dir.join("client.key")).unwrap();
        builder.with_client_auth_cert(chain, key).unwrap()
    } else {
        builder.with_no_client_auth()
    };
    TlsConnector::from(Arc::new(config))
}

async fn tls_connect(
    server: &Server,
    with_cert: bool,
) -> std::io::Result<tokio_rustls::client::TlsStream<TcpStream>> {
    let tcp = TcpStream::connect(server.addr).await?;
    let name = ServerName::try_from("localhost").unwrap();
    connector(&server.pki, with_cert).connect(name, tcp).await
}

/// Everything the peer sends until it closes (or the stream fails), within
/// 20 s.
async fn read_all(s: &mut (impl AsyncRead + Unpin)) -> String {
    let mut buf = Vec::new();
    let mut chunk = [0u8; 4096];
    let read = tokio::time::timeout(Duration::from_secs(20), async {
        while let Ok(n) = s.read(&mut chunk).await {
            if n == 0 {
                break;
            }
            buf.extend_from_slice(&chunk[..n]);
        }
    })
    .await;
    assert!(read.is_ok(), "the server did not close the connection");
    String::from_utf8_lossy(&buf).into_owned()
}

/// One request over TLS, `Connection: close`; the whole answer.
async fn get(server: &Server, authorization: Option<&str>) -> String {
    let mut s = tls_connect(server, false).await.expect("TLS handshake");
    let auth = authorization
        .map(|a| format!("Authorization: {a}\r\n"))
        .unwrap_or_default();
    s.write_all(format!("GET / HTTP/1.1\r\nHost: t\r\n{auth}Connection: close\r\n\r\n").as_bytes())
        .await
        .unwrap();
    read_all(&mut s).await
}

async fn eventually(what: &str, check: impl Fn() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(10);
    while !check() {
        assert!(Instant::now() < deadline, "never: {what}");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

fn basic(user: &str, password: &str) -> String {
    use base64::Engine;
    let b64 = base64::engine::general_purpose::STANDARD.encode(format!("{user}:{password}"));
    format!("Basic {b64}")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tls_clients_are_served_and_plain_http_is_not() {
    let server = start(limits(10_000, 100), tls_only).await;
    let answer = get(&server, None).await;
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
    assert!(answer.ends_with("ok"), "{answer}");

    let mut plain = TcpStream::connect(server.addr).await.unwrap();
    plain
        .write_all(b"GET / HTTP/1.1\r\nHost: t\r\n\r\n")
        .await
        .unwrap();
    let answer = read_all(&mut plain).await;
    assert!(!answer.contains("HTTP/1.1 200"), "{answer}");
    assert!(!answer.contains("ok"), "{answer}");
    eventually("the failed handshake is counted", || {
        server.stats.tls_handshake_failures.load(Ordering::Relaxed) == 1
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stalled_handshake_does_not_hold_up_other_clients() {
    let server = start(limits(30_000, 100), tls_only).await;
    // Connects and sends nothing: its handshake waits for 30 s.
    let _stalled = TcpStream::connect(server.addr).await.unwrap();
    let began = Instant::now();
    let answer = get(&server, None).await;
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
    assert!(began.elapsed() < Duration::from_secs(10), "served late");
    // The stalled connection is still held, the served one is released.
    eventually("one connection held", || {
        server.stats.open.load(Ordering::Relaxed) == 1
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_header_deadline_holds_over_tls() {
    let server = start(limits(300, 100), tls_only).await;
    let mut slow = tls_connect(&server, false).await.unwrap();
    let began = Instant::now();
    slow.write_all(b"GET / HTTP/1.1\r\nHost: t").await.unwrap();
    let got = read_all(&mut slow).await;
    assert!(!got.contains("200"), "{got}");
    assert!(began.elapsed() >= Duration::from_millis(250));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn past_the_cap_a_tls_connection_is_closed_unanswered() {
    let server = start(limits(30_000, 1), tls_only).await;
    let _held = tls_connect(&server, false).await.unwrap();
    // The next one is closed before its handshake.
    let refused = tls_connect(&server, false).await;
    assert!(refused.is_err(), "handshake over the cap succeeded");
    let (_, accepted, refused, _) = server.stats.snapshot();
    assert_eq!((accepted, refused), (1, 1));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn basic_auth_refuses_until_the_right_password_and_remembers_it() {
    let server = start(limits(10_000, 100), |pki| {
        format!(
            "{}http_server_config:\n  headers:\n    X-Frame-Options: deny\n",
            pki.tls_and_users(&[("alice", "s3cret")]).unwrap()
        )
    })
    .await;
    for auth in [
        None,
        Some(basic("alice", "wrong")),
        Some(basic("bob", "s3cret")),
        Some("Bearer x".into()),
    ] {
        let answer = get(&server, auth.as_deref()).await;
        assert!(answer.starts_with("HTTP/1.1 401"), "{auth:?}: {answer}");
        let lower = answer.to_ascii_lowercase();
        assert!(lower.contains("www-authenticate: basic\r\n"), "{answer}");
        assert!(lower.contains("x-frame-options: deny\r\n"), "{answer}");
        assert!(!answer.ends_with("ok"), "{answer}");
    }
    let runs = server.web.bcrypt_runs();
    for _ in 0..3 {
        let answer = get(&server, Some(&basic("alice", "s3cret"))).await;
        assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
        assert!(answer
            .to_ascii_lowercase()
            .contains("x-frame-options: deny\r\n"));
    }
    assert_eq!(
        server.web.bcrypt_runs(),
        runs + 1,
        "bcrypt ran once for three requests"
    );
    assert_eq!(server.web.refusals(), 4);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_certificate_is_required_where_configured() {
    let server = start(limits(10_000, 100), |_| {
        "tls_server_config:\n  cert_file: server.crt\n  key_file: server.key\n  client_auth_type: RequireAndVerifyClientCert\n  client_ca_file: ca.crt\n".into()
    })
    .await;
    let mut with = tls_connect(&server, true).await.unwrap();
    with.write_all(b"GET / HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n")
        .await
        .unwrap();
    assert!(read_all(&mut with).await.starts_with("HTTP/1.1 200"));
    // Without one the handshake fails (with TLS 1.3 the client may learn it
    // only when it reads).
    let answer = match tls_connect(&server, false).await {
        Err(_) => String::new(),
        Ok(mut s) => {
            let _ = s
                .write_all(b"GET / HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n")
                .await;
            read_all(&mut s).await
        }
    };
    assert!(!answer.contains("200"), "{answer}");
}
