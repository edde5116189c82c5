//! The mail server: a pooled lettre SMTP transport built from
//! [`MailSettings`], the message it is handed, and how a failure is told
//! apart — a 5xx reply is permanent, anything else (4xx, network, TLS,
//! timeouts) is worth another try.

use std::time::Duration;

use anyhow::{Context, Result};
use lettre::message::{Mailbox, MultiPart};
use lettre::transport::smtp::authentication::Credentials;
use lettre::transport::smtp::client::{Certificate, Tls, TlsParameters};
use lettre::transport::smtp::extension::ClientId;
use lettre::transport::smtp::PoolConfig;
use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};

use super::template::Composed;
use crate::config::{MailSettings, SmtpTls};

/// How long one SMTP exchange may take before it counts as a network error.
const SMTP_TIMEOUT: Duration = Duration::from_secs(20);

/// Why a message did not go.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SendFailure {
    /// A 5xx reply (or an address that cannot be written): trying again
    /// will not help.
    pub permanent: bool,
    /// The reply code, when the server answered.
    pub code: Option<u16>,
    /// The error as the server or the network put it. May contain the
    /// address: stored for the operator, never logged.
    pub detail: String,
}

impl SendFailure {
    /// What may be logged and counted: the reply code or the kind.
    pub fn kind(&self) -> String {
        match self.code {
            Some(code) => code.to_string(),
            None if self.permanent => "invalid_message".into(),
            None => "network".into(),
        }
    }
}

/// A mail server to send through.
pub struct Smtp {
    transport: AsyncSmtpTransport<Tokio1Executor>,
    from: Mailbox,
    domain: String,
}

impl Smtp {
    /// Builds the transport (no connection yet) holding up to `connections`
    /// connections open.
    pub fn new(s: &MailSettings, connections: u32) -> Result<Self> {
        let mut builder =
            AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(s.host.as_str()).port(s.port);
        if s.tls != SmtpTls::None {
            let mut params = TlsParameters::builder(s.host.clone());
            if let Some(pem) = &s.ca_pem {
                let ca = Certificate::from_pem(pem).context("the SMTP CA file is not PEM")?;
                params = params.add_root_certificate(ca);
            }
            let params = params.build_rustls().context("SMTP TLS settings")?;
            builder = builder.tls(match s.tls {
                SmtpTls::StartTls => Tls::Required(params),
                SmtpTls::Opportunistic => Tls::Opportunistic(params),
                _ => Tls::Wrapper(params),
            });
        }
        if let (Some(user), Some(password)) = (&s.username, &s.password) {
            builder = builder.credentials(Credentials::new(
                user.clone(),
                password.expose().to_string(),
            ));
        }
        if let Some(name) = &s.hello_name {
            builder = builder.hello_name(ClientId::Domain(name.clone()));
        }
        let transport = builder
            .timeout(Some(SMTP_TIMEOUT))
            .pool_config(PoolConfig::new().max_size(connections.max(1)))
            .build();
        let from = s
            .from
            .parse()
            .context("ENROLL_MAIL_FROM is not a mail address")?;
        Ok(Self {
            transport,
            from,
            domain: s.from_domain.clone(),
        })
    }

    /// The Message-ID of outbox message `id` made at `created_micros`: the
    /// same on every attempt, and distinct across databases that reuse ids.
    pub fn message_id(&self, id: i64, created_micros: i64) -> String {
        format!("<enroll.{id}.{created_micros}@{}>", self.domain)
    }

    /// Writes the message to `name <email>`.
    pub fn message(
        &self,
        name: &str,
        email: &str,
        message_id: String,
        body: &Composed,
    ) -> Result<Message, SendFailure> {
        let invalid = |e: String| SendFailure {
            permanent: true,
            code: None,
            detail: e,
        };
        let address = email
            .parse()
            .map_err(|e| invalid(format!("invalid address: {e}")))?;
        Message::builder()
            .from(self.from.clone())
            .to(Mailbox::new(Some(name.to_string()), address))
            .subject(body.subject.clone())
            .message_id(Some(message_id))
            .date_now()
            .multipart(MultiPart::alternative_plain_html(
                body.text.clone(),
                body.html.clone(),
            ))
            .map_err(|e| invalid(format!("cannot write the message: {e}")))
    }

    /// Hands `message` to the mail server.
    pub async fn send(&self, message: Message) -> Result<(), SendFailure> {
        match self.transport.send(message).await {
            Ok(_) => Ok(()),
            Err(e) => Err(SendFailure {
                permanent: e.is_permanent(),
                code: e.status().and_then(|c| c.to_string().parse().ok()),
                detail: e.to_string(),
            }),
        }
    }
}
