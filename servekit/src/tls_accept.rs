//! The server side of a TLS handshake, bounded in time: what
//! [`crate::http::serve_tls`] runs in each connection's task before HTTP.

use std::io;
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncWrite};
use tokio_rustls::server::TlsStream;
use tokio_rustls::TlsAcceptor;

/// The server side of a TLS handshake on `io`, given up after `deadline`
/// (a client that stalls it holds a connection slot no longer than that).
pub async fn handshake<I>(
    acceptor: &TlsAcceptor,
    io: I,
    deadline: Duration,
) -> io::Result<TlsStream<I>>
where
    I: AsyncRead + AsyncWrite + Unpin,
{
    match tokio::time::timeout(deadline, acceptor.accept(io)).await {
        Ok(done) => done,
        Err(_) => Err(io::Error::new(
            io::ErrorKind::TimedOut,
            "TLS handshake not finished within the header read timeout",
        )),
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use rustls::pki_types::pem::PemObject;
    use rustls::pki_types::{CertificateDer, PrivateKeyDer};
    use tokio::io::AsyncWriteExt;

    use super::*;

    /// An acceptor with a throwaway certificate.
    fn acceptor() -> TlsAcceptor {
        let dir = tempfile::tempdir().unwrap();
        testkit::webcfg::TestPki::create(dir.path()).unwrap();
        let chain = vec![CertificateDer::from_pem_file(dir.path().join("server.crt")).unwrap()];
        let key = PrivateKeyDer::from_pem_file(dir.path().join("server.key")).unwrap();
        let config = rustls::ServerConfig::builder_with_provider(Arc::new(
            rustls::crypto::ring::default_provider(),
        ))
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_no_client_auth()
        .with_single_cert(chain, key)
        .unwrap();
        TlsAcceptor::from(Arc::new(config))
    }

    /// On the paused clock: a client that never sends its hello is given up
    /// exactly at the deadline, not before.
    #[tokio::test(start_paused = true)]
    async fn a_stalled_handshake_is_given_up_at_the_deadline() {
        let (_client, server) = tokio::io::duplex(4096);
        let began = tokio::time::Instant::now();
        let err = handshake(&acceptor(), server, Duration::from_secs(10))
            .await
            .map(|_| ())
            .unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::TimedOut);
        assert_eq!(began.elapsed(), Duration::from_secs(10));
    }

    /// A client that is not speaking TLS fails at once, with no waiting.
    #[tokio::test(start_paused = true)]
    async fn a_plain_http_client_fails_the_handshake_at_once() {
        let (mut client, server) = tokio::io::duplex(4096);
        client
            .write_all(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
            .await
            .unwrap();
        let began = tokio::time::Instant::now();
        let err = handshake(&acceptor(), server, Duration::from_secs(10))
            .await
            .map(|_| ())
            .unwrap_err();
        assert_ne!(err.kind(), io::ErrorKind::TimedOut, "{err}");
        assert_eq!(began.elapsed(), Duration::ZERO);
    }
}
