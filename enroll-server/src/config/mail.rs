//! [`MailSettings`]: the mail server, its credentials and how mail is paced,
//! resolved from the `smtp_*` and `mail_*` options. No mail server, no mail.

use std::path::Path;
use std::time::Duration;

use anyhow::{bail, Context, Result};
use url::Url;

use super::secret::Secret;
use super::Options;
use crate::fair_use::Rate;

/// How the connection to the mail server is protected.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SmtpTls {
    /// Plain SMTP (a relay on the same host or network).
    None,
    /// STARTTLS, required (`smtp://…?tls=required`).
    StartTls,
    /// STARTTLS when the server offers it (`smtp://…?tls=opportunistic`).
    Opportunistic,
    /// TLS from the first byte (`smtps://`).
    Wrapper,
}

/// Enrollment mail, resolved.
#[derive(Clone)]
pub struct MailSettings {
    pub host: String,
    pub port: u16,
    pub tls: SmtpTls,
    /// Name sent in EHLO (the URL's path), else the machine's host name.
    pub hello_name: Option<String>,
    pub username: Option<String>,
    pub password: Option<Secret>,
    /// A CA certificate (PEM) trusted besides the system's.
    pub ca_pem: Option<Vec<u8>>,
    /// `From:` as given, checked to be a mailbox.
    pub from: String,
    /// The sender's domain: every Message-ID ends with it.
    pub from_domain: String,
    /// The students' page, linked from every mail (ends with `/`).
    pub page_url: String,
    pub digest_window: Duration,
    pub rate: Rate,
    pub max_attempts: u32,
    pub retry_max: Duration,
    pub claim_lease: Duration,
}

impl std::fmt::Debug for MailSettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never the credentials.
        f.debug_struct("MailSettings")
            .field("host", &self.host)
            .field("port", &self.port)
            .field("tls", &self.tls)
            .field("auth", &self.username.is_some())
            .field("digest_window", &self.digest_window)
            .finish_non_exhaustive()
    }
}

/// The mail settings, or `None` when no mail server is configured.
pub(super) fn resolve(o: &Options) -> Result<Option<MailSettings>> {
    let Some(raw) = o.smtp_url.as_deref().filter(|u| !u.trim().is_empty()) else {
        return Ok(None);
    };
    // The URL may hold a password: errors never repeat it.
    let url = Url::parse(raw.trim()).map_err(|e| anyhow::anyhow!("ENROLL_SMTP_URL: {e}"))?;
    let tls_param = url
        .query_pairs()
        .find(|(k, _)| k == "tls")
        .map(|(_, v)| v.to_string());
    let (tls, default_port) = match (url.scheme(), tls_param.as_deref()) {
        ("smtp", None | Some("none")) => (SmtpTls::None, 25),
        ("smtp", Some("required")) => (SmtpTls::StartTls, 587),
        ("smtp", Some("opportunistic")) => (SmtpTls::Opportunistic, 587),
        ("smtps", _) => (SmtpTls::Wrapper, 465),
        (scheme, tls) => bail!(
            "ENROLL_SMTP_URL: scheme `{scheme}` with tls={tls:?} is not one of smtp://, \
             smtp://…?tls=required|opportunistic, smtps://"
        ),
    };
    let host = url
        .host_str()
        .filter(|h| !h.is_empty())
        .context("ENROLL_SMTP_URL has no host")?
        .trim_matches(['[', ']'])
        .to_string();
    let decode = |s: &str| {
        percent_encoding::percent_decode_str(s)
            .decode_utf8()
            .map(|c| c.into_owned())
            .map_err(|_| anyhow::anyhow!("ENROLL_SMTP_URL: credentials are not UTF-8"))
    };
    let mut username = (!url.username().is_empty())
        .then(|| decode(url.username()))
        .transpose()?;
    let mut password = url.password().map(decode).transpose()?.map(Secret::new);
    if let Some(u) = &o.smtp_username {
        username = Some(u.clone());
    }
    if let Some(p) = &o.smtp_password {
        password = Some(Secret::new(p.clone()));
    }
    if let Some(path) = &o.smtp_password_file {
        password = Some(read_secret(path)?);
    }
    if password.is_some() && username.is_none() {
        bail!("an SMTP password needs a user name (ENROLL_SMTP_USERNAME or the URL's user)");
    }
    let ca_pem = o
        .smtp_ca_file
        .as_ref()
        .map(|p| {
            std::fs::read(p).with_context(|| format!("Failed to read SMTP CA file {}", p.display()))
        })
        .transpose()?;
    let from = o
        .mail_from
        .clone()
        .context("mail needs a sender: set ENROLL_MAIL_FROM")?;
    let mailbox: lettre::message::Mailbox = from
        .parse()
        .map_err(|e| anyhow::anyhow!("ENROLL_MAIL_FROM `{from}` is not a mail address: {e}"))?;
    let mut page_url = o
        .mail_page_url
        .clone()
        .context("mail links to the students' page: set ENROLL_MAIL_PAGE_URL")?;
    if !(page_url.starts_with("https://") || page_url.starts_with("http://")) {
        bail!("ENROLL_MAIL_PAGE_URL must be an http(s) URL");
    }
    if !page_url.ends_with('/') {
        page_url.push('/');
    }
    let path = url.path().trim_matches('/');
    Ok(Some(MailSettings {
        port: url.port().unwrap_or(default_port),
        host,
        tls,
        hello_name: (!path.is_empty()).then(|| path.to_string()),
        username,
        password,
        ca_pem,
        from_domain: mailbox.email.domain().to_string(),
        from,
        page_url,
        digest_window: Duration::from_millis(o.mail_digest_window_ms.unwrap_or(10_000)),
        rate: o
            .mail_rate
            .unwrap_or(Rate::new(50, Duration::from_secs(1), 50)),
        max_attempts: o.mail_max_attempts.unwrap_or(20).max(1),
        retry_max: Duration::from_millis(o.mail_retry_max_ms.unwrap_or(600_000).max(1000)),
        claim_lease: Duration::from_millis(o.mail_claim_lease_ms.unwrap_or(60_000).max(1000)),
    }))
}

/// The first line of a secret file.
fn read_secret(path: &Path) -> Result<Secret> {
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("Failed to read the SMTP password file {}", path.display()))?;
    Ok(Secret::new(text.lines().next().unwrap_or("").to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn opts(url: &str) -> Options {
        Options {
            smtp_url: Some(url.into()),
            mail_from: Some("수강신청 <noreply@univ.test>".into()),
            mail_page_url: Some("https://enroll.univ.test".into()),
            ..Options::default()
        }
    }

    #[test]
    fn no_url_no_mail() {
        assert!(resolve(&Options::default()).unwrap().is_none());
    }

    #[test]
    fn schemes_choose_tls_and_default_ports() {
        let m = resolve(&opts("smtp://relay")).unwrap().unwrap();
        assert_eq!((m.tls, m.port), (SmtpTls::None, 25));
        let m = resolve(&opts("smtp://relay?tls=required"))
            .unwrap()
            .unwrap();
        assert_eq!((m.tls, m.port), (SmtpTls::StartTls, 587));
        let m = resolve(&opts("smtps://relay:2465/mx.univ.test"))
            .unwrap()
            .unwrap();
        assert_eq!((m.tls, m.port), (SmtpTls::Wrapper, 2465));
        assert_eq!(m.hello_name.as_deref(), Some("mx.univ.test"));
        assert_eq!(m.from_domain, "univ.test");
        assert_eq!(m.page_url, "https://enroll.univ.test/");
        assert!(resolve(&opts("http://relay")).is_err());
    }

    #[test]
    fn credentials_from_the_url_the_environment_or_a_file_and_never_in_errors_or_debug() {
        let m = resolve(&opts("smtp://mailer:s%40cret@relay"))
            .unwrap()
            .unwrap();
        assert_eq!(m.username.as_deref(), Some("mailer"));
        assert_eq!(m.password.as_ref().unwrap().expose(), "s@cret");
        assert!(!format!("{m:?}").contains("s@cret"));

        let mut file = tempfile::NamedTempFile::new().unwrap();
        std::io::Write::write_all(&mut file, b"from-file\n").unwrap();
        let o = Options {
            smtp_username: Some("ops".into()),
            smtp_password: Some("from-env".into()),
            smtp_password_file: Some(file.path().to_path_buf()),
            ..opts("smtp://relay")
        };
        let m = resolve(&o).unwrap().unwrap();
        assert_eq!(m.password.unwrap().expose(), "from-file");

        let err = resolve(&opts("smtp://:hunter2@relay"))
            .unwrap_err()
            .to_string();
        assert!(!err.contains("hunter2"), "{err}");
        let err = resolve(&opts("smtq://u:hunter2@relay"))
            .unwrap_err()
            .to_string();
        assert!(!err.contains("hunter2"), "{err}");
    }

    #[test]
    fn a_sender_and_a_page_are_required() {
        let mut o = opts("smtp://relay");
        o.mail_from = None;
        assert!(resolve(&o).is_err());
        let mut o = opts("smtp://relay");
        o.mail_from = Some("not an address".into());
        assert!(resolve(&o).is_err());
        let mut o = opts("smtp://relay");
        o.mail_page_url = Some("enroll.univ.test".into());
        assert!(resolve(&o).is_err());
    }
}
