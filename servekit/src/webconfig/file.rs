//! The file's YAML: Prometheus's exporter-toolkit web configuration
//! (`tls_server_config`, `http_server_config`, `basic_auth_users`), parsed
//! strictly and checked as promtool's `check web-config` checks it. Keys of
//! that format this server does not implement are refused by name, so a
//! setting is never silently ignored.

use std::collections::BTreeMap;
use std::fmt;

use serde::Deserialize;

use super::error::{At, WebConfigError};

/// The whole file.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, expecting = "a mapping")]
pub(crate) struct RawWebConfig {
    #[serde(default)]
    pub(crate) tls_server_config: Option<RawTls>,
    #[serde(default)]
    pub(crate) http_server_config: Option<RawHttp>,
    #[serde(default)]
    pub(crate) basic_auth_users: Option<BTreeMap<String, PasswordHash>>,
    #[serde(default)]
    rate_limit: Option<yaml_serde::Value>,
}

/// `tls_server_config` as written; [`check_tls`] makes [`TlsSettings`].
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, expecting = "a mapping")]
pub(crate) struct RawTls {
    #[serde(default)]
    cert_file: String,
    #[serde(default)]
    key_file: String,
    #[serde(default)]
    client_auth_type: String,
    #[serde(default)]
    client_ca_file: String,
    #[serde(default)]
    min_version: Option<String>,
    #[serde(default)]
    max_version: Option<String>,
    #[serde(default)]
    prefer_server_cipher_suites: Option<bool>,
    #[serde(default)]
    cipher_suites: Option<yaml_serde::Value>,
    #[serde(default)]
    curve_preferences: Option<yaml_serde::Value>,
    #[serde(default)]
    client_allowed_sans: Option<yaml_serde::Value>,
    #[serde(default)]
    cert: Option<yaml_serde::Value>,
    #[serde(default)]
    key: Option<yaml_serde::Value>,
    #[serde(default)]
    client_ca: Option<yaml_serde::Value>,
}

/// `http_server_config`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, expecting = "a mapping")]
pub(crate) struct RawHttp {
    /// Accepted for compatibility; the servers here speak HTTP/1.1 only.
    #[serde(default)]
    #[allow(dead_code)]
    http2: Option<bool>,
    #[serde(default)]
    pub(crate) headers: BTreeMap<String, String>,
}

/// A bcrypt hash from `basic_auth_users`; never printed.
#[derive(Clone, Deserialize)]
#[serde(transparent)]
pub(crate) struct PasswordHash(pub(crate) String);

impl fmt::Debug for PasswordHash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("<bcrypt hash>")
    }
}

/// `client_auth_type`, Go's `tls.ClientAuthType` names.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) enum ClientAuth {
    #[default]
    NoClientCert,
    VerifyClientCertIfGiven,
    RequireAndVerifyClientCert,
}

/// `min_version` / `max_version`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) enum TlsVersion {
    Tls12,
    Tls13,
}

/// `tls_server_config`, checked.
#[derive(Debug)]
pub(crate) struct TlsSettings {
    pub(crate) cert_file: String,
    pub(crate) key_file: String,
    pub(crate) client_auth: ClientAuth,
    pub(crate) client_ca_file: String,
    pub(crate) min_version: TlsVersion,
    pub(crate) max_version: TlsVersion,
    pub(crate) prefer_server_cipher_suites: bool,
}

const TLS: &str = "tls_server_config";

const SUPPORTED: &str = "supported: cert_file, key_file, client_auth_type, client_ca_file, \
     min_version, max_version, prefer_server_cipher_suites, http_server_config.headers, \
     basic_auth_users";

/// Checks the values serde takes as they come; each error points at its key.
pub(crate) fn check_tls(at: &At<'_>, raw: &RawTls) -> Result<TlsSettings, WebConfigError> {
    let unsupported = [
        ("cipher_suites", raw.cipher_suites.is_some()),
        ("curve_preferences", raw.curve_preferences.is_some()),
        ("client_allowed_sans", raw.client_allowed_sans.is_some()),
        ("cert", raw.cert.is_some()),
        ("key", raw.key.is_some()),
        ("client_ca", raw.client_ca.is_some()),
    ];
    if let Some((key, _)) = unsupported.iter().find(|(_, set)| *set) {
        return Err(at.key(
            &[TLS, key],
            format!("tls_server_config.{key} is not supported by this server ({SUPPORTED})"),
        ));
    }
    let client_auth = match raw.client_auth_type.as_str() {
        "" | "NoClientCert" => ClientAuth::NoClientCert,
        "VerifyClientCertIfGiven" => ClientAuth::VerifyClientCertIfGiven,
        "RequireAndVerifyClientCert" => ClientAuth::RequireAndVerifyClientCert,
        s @ ("RequestClientCert" | "RequireAnyClientCert" | "RequireClientCert") => {
            return Err(at.key(
                &[TLS, "client_auth_type"],
                format!(
                    "client_auth_type {s:?} (a client certificate that is not verified) is not \
                     supported; use VerifyClientCertIfGiven or RequireAndVerifyClientCert with \
                     client_ca_file"
                ),
            ))
        }
        s => {
            return Err(at.key(
                &[TLS, "client_auth_type"],
                format!(
                    "invalid client_auth_type {s:?}: one of NoClientCert, \
                     VerifyClientCertIfGiven, RequireAndVerifyClientCert"
                ),
            ))
        }
    };
    let version = |key: &str, v: &Option<String>, default| match v.as_deref() {
        None => Ok(default),
        Some("TLS12") => Ok(TlsVersion::Tls12),
        Some("TLS13") => Ok(TlsVersion::Tls13),
        Some(s @ ("TLS10" | "TLS11")) => Err(at.key(
            &[TLS, key],
            format!("{key} {s} is not supported (TLS12 and TLS13 are)"),
        )),
        Some(s) => Err(at.key(&[TLS, key], format!("unknown {key} {s:?}: TLS12 or TLS13"))),
    };
    let min_version = version("min_version", &raw.min_version, TlsVersion::Tls12)?;
    let max_version = version("max_version", &raw.max_version, TlsVersion::Tls13)?;
    if min_version > max_version {
        return Err(at.key(&[TLS, "min_version"], "min_version is above max_version"));
    }
    if raw.cert_file.is_empty() {
        return Err(at.key(&[TLS], "tls_server_config: missing cert_file"));
    }
    if raw.key_file.is_empty() {
        return Err(at.key(&[TLS], "tls_server_config: missing key_file"));
    }
    let has_ca = !raw.client_ca_file.is_empty();
    if client_auth == ClientAuth::NoClientCert && has_ca {
        return Err(at.key(
            &[TLS, "client_ca_file"],
            "client_ca_file is set without a client_auth_type that verifies client certificates",
        ));
    }
    if client_auth != ClientAuth::NoClientCert && !has_ca {
        return Err(at.key(
            &[TLS, "client_auth_type"],
            "client_auth_type needs client_ca_file to verify client certificates",
        ));
    }
    Ok(TlsSettings {
        cert_file: raw.cert_file.clone(),
        key_file: raw.key_file.clone(),
        client_auth,
        client_ca_file: raw.client_ca_file.clone(),
        min_version,
        max_version,
        prefer_server_cipher_suites: raw.prefer_server_cipher_suites.unwrap_or(true),
    })
}

/// Headers `http_server_config.headers` may set, with the values allowed
/// where the format fixes them (exporter-toolkit's list).
const HEADERS: &[(&str, &[&str])] = &[
    ("Strict-Transport-Security", &[]),
    ("X-Content-Type-Options", &["nosniff"]),
    ("X-Frame-Options", &["deny", "sameorigin"]),
    ("X-XSS-Protection", &[]),
    ("Content-Security-Policy", &[]),
];

/// Parses and checks `text` (everything but `tls_server_config`, which
/// [`check_tls`] checks, and the files it names, which `tls` reads).
pub(crate) fn parse(at: &At<'_>) -> Result<RawWebConfig, WebConfigError> {
    let raw: RawWebConfig = if at.text.trim().is_empty() {
        RawWebConfig::default()
    } else {
        yaml_serde::from_str::<Option<RawWebConfig>>(at.text)
            .map_err(|e| {
                let pos = e.location().map_or((0, 0), |l| (l.line(), l.column()));
                // The position goes in front, as in every error here.
                at.at(pos, without_position(&e.to_string()))
            })?
            .unwrap_or_default()
    };
    if raw.rate_limit.is_some() {
        return Err(at.key(
            &["rate_limit"],
            format!("rate_limit is not supported by this server ({SUPPORTED})"),
        ));
    }
    if let Some(http) = &raw.http_server_config {
        check_headers(at, &http.headers)?;
    }
    for (user, hash) in raw.basic_auth_users.iter().flatten() {
        if hash.0.parse::<bcrypt::HashParts>().is_err() {
            return Err(at.key(
                &["basic_auth_users", user],
                format!("basic_auth_users: the password of user {user:?} is not a bcrypt hash"),
            ));
        }
    }
    Ok(raw)
}

/// `message` without a trailing ` at line L column C`.
fn without_position(message: &str) -> String {
    if let Some(i) = message.rfind(" at line ") {
        let tail = &message[i + " at line ".len()..];
        let numbers: Vec<&str> = tail.split(" column ").collect();
        if numbers.len() == 2 && numbers.iter().all(|n| n.parse::<usize>().is_ok()) {
            return message[..i].to_string();
        }
    }
    message.to_string()
}

fn check_headers(at: &At<'_>, headers: &BTreeMap<String, String>) -> Result<(), WebConfigError> {
    for (name, value) in headers {
        let path = ["http_server_config", "headers", name.as_str()];
        let Some((_, allowed)) = HEADERS.iter().find(|(h, _)| h == name) else {
            return Err(at.key(&path, format!("HTTP header {name:?} can not be configured")));
        };
        if !allowed.is_empty() && !allowed.contains(&value.as_str()) {
            return Err(at.key(
                &path,
                format!("invalid value for {name}: expected one of {allowed:?}, got {value:?}"),
            ));
        }
        if hyper::header::HeaderValue::from_str(value).is_err() {
            return Err(at.key(&path, format!("invalid value for {name}: {value:?}")));
        }
    }
    Ok(())
}
