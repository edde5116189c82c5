//! `--web.config.file`: Prometheus's web configuration format (the
//! exporter-toolkit's, as node_exporter and Prometheus read it) for TLS and
//! basic authentication of a server's every endpoint.
//!
//! ```yaml
//! tls_server_config:
//!   cert_file: server.crt        # relative to this file
//!   key_file: server.key
//!   client_auth_type: RequireAndVerifyClientCert   # optional, with client_ca_file
//!   client_ca_file: clients.pem
//!   min_version: TLS12           # TLS12 (default) or TLS13
//! http_server_config:
//!   headers: {X-Frame-Options: deny}
//! basic_auth_users:
//!   alice: $2y$10$...            # bcrypt hash (htpasswd -nBC 10 alice)
//! ```
//!
//! [`WebConfig::load`] reads and checks the file and every file it names
//! once, at startup: a bad one is an error naming `file:line:column`, as
//! `promtool check web-config` would refuse it. [`WebConfig::serve`] serves
//! a service over TLS (when configured) behind [`WebLayer`] (credentials,
//! headers).
//!
//! Layout: `error` (the error and key positions), `file` (the YAML and
//! its checks), `tls` (the rustls configuration), `auth` (the layer).

mod auth;
mod error;
mod file;
mod tls;

use std::future::Future;
use std::io;
use std::path::Path;
use std::sync::Arc;

use hyper::header::{HeaderName, HeaderValue};
use tokio::net::TcpListener;
use tower::Layer;

pub use auth::{WebGuard, WebLayer};
pub use error::WebConfigError;

use crate::http::{ConnStats, HttpService, Limits, ResponseBody};

/// A checked web configuration; [`WebConfig::default`] is plain HTTP
/// without credentials (no `--web.config.file`).
#[derive(Clone)]
pub struct WebConfig {
    tls: Option<Arc<rustls::ServerConfig>>,
    policy: Arc<auth::Policy>,
}

impl Default for WebConfig {
    fn default() -> Self {
        Self {
            tls: None,
            policy: Arc::new(auth::Policy::new(Vec::new(), Vec::new())),
        }
    }
}

impl std::fmt::Debug for WebConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WebConfig")
            .field("tls", &self.tls.is_some())
            .field("basic_auth", &self.policy.requires_auth())
            .finish()
    }
}

impl WebConfig {
    /// Reads and checks `path` and the certificate files it names
    /// (relative paths are relative to `path`'s directory).
    pub fn load(path: &Path) -> Result<Self, WebConfigError> {
        let file = path.display().to_string();
        let text = std::fs::read_to_string(path).map_err(|e| WebConfigError {
            file: file.clone(),
            line: 0,
            column: 0,
            message: format!("cannot read the web configuration: {e}"),
        })?;
        let base = path.parent().unwrap_or(Path::new("."));
        Self::parse(&text, &file, base)
    }

    /// Checks `text`; `file` names it in errors, `base` is where relative
    /// paths start.
    pub fn parse(text: &str, file: &str, base: &Path) -> Result<Self, WebConfigError> {
        let at = error::At { file, text };
        let raw = file::parse(&at)?;
        let tls = match &raw.tls_server_config {
            Some(t) => Some(tls::server_config(&at, &file::check_tls(&at, t)?, base)?),
            None => None,
        };
        let headers = raw
            .http_server_config
            .iter()
            .flat_map(|h| &h.headers)
            .map(|(name, value)| {
                let name = HeaderName::from_bytes(name.as_bytes());
                let value = HeaderValue::from_str(value);
                match (name, value) {
                    (Ok(n), Ok(v)) => Ok((n, v)),
                    _ => Err(at.key(&["http_server_config", "headers"], "invalid header")),
                }
            })
            .collect::<Result<Vec<_>, _>>()?;
        let users = raw
            .basic_auth_users
            .into_iter()
            .flatten()
            .map(|(user, hash)| (user, hash.0))
            .collect();
        Ok(Self {
            tls,
            policy: Arc::new(auth::Policy::new(users, headers)),
        })
    }

    /// The TLS configuration, when the server is to speak TLS.
    pub fn tls(&self) -> Option<Arc<rustls::ServerConfig>> {
        self.tls.clone()
    }

    /// `https` or `http`: what clients must use.
    pub fn scheme(&self) -> &'static str {
        if self.tls.is_some() {
            "https"
        } else {
            "http"
        }
    }

    /// Whether every request needs credentials.
    pub fn requires_auth(&self) -> bool {
        self.policy.requires_auth()
    }

    /// How many times bcrypt ran (credentials not remembered yet, wrong
    /// passwords, unknown users).
    pub fn bcrypt_runs(&self) -> u64 {
        self.policy.bcrypt_runs()
    }

    /// Requests answered 401.
    pub fn refusals(&self) -> u64 {
        self.policy.refusals()
    }

    /// The layer that checks credentials and adds the configured headers.
    pub fn layer(&self) -> WebLayer {
        WebLayer {
            policy: self.policy.clone(),
        }
    }

    /// [`crate::http::serve_tls`] of `service` behind [`Self::layer`], over
    /// TLS when configured.
    pub async fn serve<S, B>(
        &self,
        listener: TcpListener,
        service: S,
        limits: Limits,
        stats: Arc<ConnStats>,
        shutdown: impl Future<Output = ()>,
    ) -> io::Result<()>
    where
        S: HttpService<B>,
        B: ResponseBody + hyper::body::Body<Data = bytes::Bytes>,
    {
        let service = self.layer().layer(service);
        crate::http::serve_tls(listener, self.tls(), service, limits, stats, shutdown).await
    }
}
