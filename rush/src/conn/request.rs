//! The measured requests themselves: where they go ([`Endpoint`]: address,
//! `Host` header, path prefix) and their bytes on the wire ([`Req`]),
//! serialized once into one buffer.

use std::net::SocketAddr;

use anyhow::{bail, Context, Result};
use bytes::Bytes;

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
    pub(super) addr: SocketAddr,
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
}
