//! `tls_server_config` to a rustls [`ServerConfig`]: the certificate chain
//! and key from PEM files (paths relative to the web config file), TLS
//! versions, and client certificates verified against `client_ca_file`.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use rustls::crypto::CryptoProvider;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::server::WebPkiClientVerifier;
use rustls::{RootCertStore, ServerConfig, SupportedProtocolVersion};

use super::error::{At, WebConfigError};
use super::file::{ClientAuth, TlsSettings, TlsVersion};

const TLS: &str = "tls_server_config";

/// Builds the server's TLS configuration; every file is read now, so a bad
/// one stops startup.
pub(crate) fn server_config(
    at: &At<'_>,
    tls: &TlsSettings,
    base: &Path,
) -> Result<Arc<ServerConfig>, WebConfigError> {
    let cert_path = base.join(&tls.cert_file);
    let key_path = base.join(&tls.key_file);
    let chain = certificates(&cert_path)
        .map_err(|e| at.key(&[TLS, "cert_file"], format!("cert_file: {e}")))?;
    let key = PrivateKeyDer::from_pem_file(&key_path).map_err(|e| {
        at.key(
            &[TLS, "key_file"],
            format!("key_file {}: no private key read: {e}", key_path.display()),
        )
    })?;
    let versions = versions(tls);
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let builder = ServerConfig::builder_with_provider(provider.clone())
        .with_protocol_versions(&versions)
        .map_err(|e| at.key(&[TLS], format!("tls_server_config: {e}")))?;
    let builder = match client_verifier(tls, base, provider) {
        Ok(None) => builder.with_no_client_auth(),
        Ok(Some(v)) => builder.with_client_cert_verifier(v),
        Err((key, m)) => return Err(at.key(&[TLS, key], m)),
    };
    let mut config = builder.with_single_cert(chain, key).map_err(|e| {
        at.key(
            &[TLS, "key_file"],
            format!(
                "cert_file {} and key_file {} do not make a usable pair: {e}",
                cert_path.display(),
                key_path.display()
            ),
        )
    })?;
    config.ignore_client_order = tls.prefer_server_cipher_suites;
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(Arc::new(config))
}

/// Every certificate in a PEM file; none is an error.
fn certificates(path: &PathBuf) -> Result<Vec<CertificateDer<'static>>, String> {
    let chain = CertificateDer::pem_file_iter(path)
        .and_then(|it| it.collect::<Result<Vec<_>, _>>())
        .map_err(|e| format!("{}: {e}", path.display()))?;
    if chain.is_empty() {
        return Err(format!("{}: no certificate in it", path.display()));
    }
    Ok(chain)
}

fn versions(tls: &TlsSettings) -> Vec<&'static SupportedProtocolVersion> {
    let (min, max) = (tls.min_version, tls.max_version);
    let mut v = Vec::new();
    if (min..=max).contains(&TlsVersion::Tls13) {
        v.push(&rustls::version::TLS13);
    }
    if (min..=max).contains(&TlsVersion::Tls12) {
        v.push(&rustls::version::TLS12);
    }
    v
}

type Verifier = Arc<dyn rustls::server::danger::ClientCertVerifier>;

/// The client certificate policy; an error names the key it is about.
fn client_verifier(
    tls: &TlsSettings,
    base: &Path,
    provider: Arc<CryptoProvider>,
) -> Result<Option<Verifier>, (&'static str, String)> {
    if tls.client_auth == ClientAuth::NoClientCert {
        return Ok(None);
    }
    let path = base.join(&tls.client_ca_file);
    let mut roots = RootCertStore::empty();
    for cert in
        certificates(&path).map_err(|e| ("client_ca_file", format!("client_ca_file: {e}")))?
    {
        roots.add(cert).map_err(|e| {
            (
                "client_ca_file",
                format!("client_ca_file {}: {e}", path.display()),
            )
        })?;
    }
    let builder = WebPkiClientVerifier::builder_with_provider(Arc::new(roots), provider);
    let builder = if tls.client_auth == ClientAuth::VerifyClientCertIfGiven {
        builder.allow_unauthenticated()
    } else {
        builder
    };
    builder.build().map(Some).map_err(|e| {
        (
            "client_ca_file",
            format!("client_ca_file {}: {e}", path.display()),
        )
    })
}
