//! A scrape job's `basic_auth` and `tls_config`, with Prometheus's field
//! names, and the HTTP client a `tls_config` makes: what the alerter needs
//! to scrape targets served behind a `--web.config.file`.

use std::fmt;
use std::path::{Path, PathBuf};

use serde::Deserialize;

/// Credentials sent with every scrape of a job.
#[derive(Clone, PartialEq, Eq, Hash, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BasicAuth {
    pub username: String,
    /// The password itself, or
    #[serde(default)]
    pub password: Option<String>,
    /// a file holding it, read at every scrape (so it can be rotated).
    #[serde(default)]
    pub password_file: Option<PathBuf>,
}

impl fmt::Debug for BasicAuth {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("BasicAuth")
            .field("username", &self.username)
            .field("password", &"<secret>")
            .finish()
    }
}

impl BasicAuth {
    /// The password: as written, or the file's first line.
    pub fn password(&self) -> Result<String, String> {
        match (&self.password, &self.password_file) {
            (Some(p), None) => Ok(p.clone()),
            (None, Some(file)) => std::fs::read_to_string(file)
                .map(|s| s.trim_end_matches(['\r', '\n']).to_string())
                .map_err(|e| format!("basic_auth password_file {}: {e}", file.display())),
            (None, None) => Ok(String::new()),
            (Some(_), Some(_)) => {
                Err("basic_auth: at most one of password and password_file".into())
            }
        }
    }
}

/// How a job's `https` targets are verified, and the client certificate
/// it presents.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TlsConfig {
    /// CA certificates (PEM) the targets' certificates must chain to;
    /// without it, the system's.
    #[serde(default)]
    pub ca_file: Option<PathBuf>,
    /// Client certificate and key (PEM), for targets that require one.
    #[serde(default)]
    pub cert_file: Option<PathBuf>,
    #[serde(default)]
    pub key_file: Option<PathBuf>,
    /// Accept any certificate (testing only).
    #[serde(default)]
    pub insecure_skip_verify: bool,
}

impl TlsConfig {
    /// The same, with relative paths taken from `base` (the config file's
    /// directory, as Prometheus does).
    pub fn relative_to(&self, base: &Path) -> Self {
        let abs = |p: &Option<PathBuf>| p.as_ref().map(|p| base.join(p));
        Self {
            ca_file: abs(&self.ca_file),
            cert_file: abs(&self.cert_file),
            key_file: abs(&self.key_file),
            insecure_skip_verify: self.insecure_skip_verify,
        }
    }

    /// An HTTP client that verifies and authenticates as configured.
    pub fn client(&self) -> Result<reqwest::Client, String> {
        let read = |what: &str, p: &Path| {
            std::fs::read(p).map_err(|e| format!("tls_config {what} {}: {e}", p.display()))
        };
        let mut b = base_client().use_rustls_tls();
        if let Some(ca) = &self.ca_file {
            let certs = reqwest::Certificate::from_pem_bundle(&read("ca_file", ca)?)
                .map_err(|e| format!("tls_config ca_file {}: {e}", ca.display()))?;
            if certs.is_empty() {
                return Err(format!(
                    "tls_config ca_file {}: no certificate",
                    ca.display()
                ));
            }
            b = b.tls_built_in_root_certs(false);
            for c in certs {
                b = b.add_root_certificate(c);
            }
        }
        match (&self.cert_file, &self.key_file) {
            (Some(cert), Some(key)) => {
                let mut pem = read("cert_file", cert)?;
                pem.push(b'\n');
                pem.extend(read("key_file", key)?);
                let id = reqwest::Identity::from_pem(&pem)
                    .map_err(|e| format!("tls_config cert_file/key_file: {e}"))?;
                b = b.identity(id);
            }
            (None, None) => {}
            _ => return Err("tls_config: cert_file and key_file go together".into()),
        }
        if self.insecure_skip_verify {
            b = b.danger_accept_invalid_certs(true);
        }
        b.build().map_err(|e| format!("tls_config: {e}"))
    }
}

/// The scrape client's common settings.
pub fn base_client() -> reqwest::ClientBuilder {
    reqwest::Client::builder().user_agent(concat!("alerter/", env!("CARGO_PKG_VERSION")))
}
