//! Integrations that deliver a rendered notification, and how each answer
//! is classified: delivered, rate limited (retry after the given time),
//! transient (retry with backoff) or permanent (dead letter).
//!
//! With a bot token, a group's resolution updates the group's last posted
//! message in place (`chat.update` with its channel and `ts`) instead of
//! posting a new one; if Slack says that message can no longer be edited,
//! a new message is posted.

use crate::config::{
    resolve_secret, ConfigError, SlackConfig, WebhookConfig, DEFAULT_SLACK_API_BASE_URL,
};
use crate::message::{render, MessageTemplates};
use crate::notification::{Content, SlackMessageRef};
use crate::secret::Secret;
use crate::template::Template;
use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper_rustls::HttpsConnector;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use slack_morphism::errors::SlackClientError;
use slack_morphism::prelude::*;
use std::sync::Arc;
use std::time::Duration;

type Connector = HttpsConnector<HttpConnector>;
type Slack = SlackClient<SlackClientHyperConnector<Connector>>;

/// Slack Web API errors worth retrying; every other error code is permanent.
const TRANSIENT_SLACK_ERRORS: &[&str] = &[
    "internal_error",
    "fatal_error",
    "service_unavailable",
    "request_timeout",
    "ratelimited",
];

/// How one delivery attempt ended.
#[derive(Clone, Debug, PartialEq)]
pub(crate) enum Outcome {
    Delivered {
        content_hash: String,
        /// Where `chat.postMessage` put the message (bot tokens only).
        posted: Option<PostedMessage>,
        /// The group's earlier message was updated instead (`chat.update`).
        updated_in_place: bool,
    },
    /// 429: retry after this long (None: no usable Retry-After).
    RateLimited(Option<Duration>),
    /// 5xx, network error, timeout: retry with backoff.
    Transient(String),
    /// Cannot succeed as configured: keep as a dead letter.
    Permanent(String),
}

/// Where Slack put a posted message.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct PostedMessage {
    pub channel: String,
    pub ts: String,
}

/// Slack errors of `chat.update` after which a new message is posted
/// instead: the old message is gone or can no longer be edited.
const UPDATE_FALLBACK_ERRORS: &[&str] = &[
    "message_not_found",
    "cant_update_message",
    "edit_window_closed",
    "channel_not_found",
    "is_archived",
];

enum Target {
    SlackWebhook {
        client: Arc<Slack>,
        url: url::Url,
    },
    SlackChat {
        client: Arc<Slack>,
        token: Box<SlackApiToken>,
        channel: String,
    },
    Webhook {
        client: Box<Client<Connector, Full<Bytes>>>,
        url: Secret,
        max_alerts: usize,
        receiver: String,
    },
}

/// One configured destination.
pub(crate) struct Integration {
    /// `receiver/slack/0`.
    pub key: String,
    target: Target,
    templates: MessageTemplates,
}

fn https_connector() -> Connector {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let builder = match hyper_rustls::HttpsConnectorBuilder::new()
        .with_provider_and_native_roots(provider.clone())
    {
        Ok(b) => b,
        Err(e) => {
            tracing::warn!(error = %e, "no system CA certificates; only plain-http destinations will work");
            let config = rustls::ClientConfig::builder_with_provider(provider)
                .with_safe_default_protocol_versions()
                .expect("ring supports the default protocol versions")
                .with_root_certificates(rustls::RootCertStore::empty())
                .with_no_client_auth();
            hyper_rustls::HttpsConnectorBuilder::new().with_tls_config(config)
        }
    };
    builder
        .https_or_http()
        .enable_http1()
        .enable_http2()
        .build()
}

fn slack_client(base_url: &str) -> Arc<Slack> {
    let connector = SlackClientHyperConnector::with_connector(https_connector())
        .with_slack_api_url(base_url.trim_end_matches('/'));
    Arc::new(SlackClient::new(connector))
}

fn config_error(path: &str, message: String) -> ConfigError {
    ConfigError::Invalid {
        path: path.to_string(),
        message,
    }
}

impl Integration {
    /// Builds a Slack integration, reading its secret (and channel) from
    /// file or environment now. A missing one is a configuration error,
    /// unless the integration is `optional`: then it is left out (`None`).
    pub fn slack(
        receiver: &str,
        index: usize,
        c: &SlackConfig,
        external_url: &str,
    ) -> Result<Option<Self>, ConfigError> {
        let path = format!("receivers.{receiver}.slack_configs[{index}]");
        if c.optional {
            if let Some(missing) = optional_source_missing(c) {
                tracing::info!(
                    integration = %path,
                    "optional Slack integration left out: {missing} is not set"
                );
                return Ok(None);
            }
        }
        let parse = |s: &Option<String>| s.as_deref().map(Template::parse).transpose();
        let templates = MessageTemplates {
            title: parse(&c.title).map_err(|e| config_error(&path, e))?,
            text: parse(&c.text).map_err(|e| config_error(&path, e))?,
            external_url: external_url.to_string(),
        };
        let webhook = resolve_secret(&c.api_url, &c.api_url_file, &c.api_url_env)
            .map_err(|e| config_error(&path, e))?;
        let token = resolve_secret(&c.token, &c.token_file, &c.token_env)
            .map_err(|e| config_error(&path, e))?;
        let base = c
            .api_base_url
            .as_deref()
            .unwrap_or(DEFAULT_SLACK_API_BASE_URL);
        let target = match (webhook, token) {
            (Some(url), _) => Target::SlackWebhook {
                client: slack_client(base),
                url: url::Url::parse(url.expose()).map_err(|_| {
                    config_error(&path, "api_url is not a valid URL (value not shown)".into())
                })?,
            },
            (None, Some(token)) => Target::SlackChat {
                client: slack_client(base),
                token: Box::new(SlackApiToken::new(SlackApiTokenValue(
                    token.expose().to_string(),
                ))),
                channel: match &c.channel_env {
                    Some(var) => std::env::var(var).map_err(|_| {
                        config_error(&path, format!("environment variable {var} is not set"))
                    })?,
                    None => c.channel.clone().unwrap_or_default(),
                },
            },
            (None, None) => return Err(config_error(&path, "no webhook URL or token".into())),
        };
        Ok(Some(Integration {
            key: format!("{receiver}/slack/{index}"),
            target,
            templates,
        }))
    }

    /// Builds a webhook integration.
    pub fn webhook(receiver: &str, index: usize, c: &WebhookConfig) -> Result<Self, ConfigError> {
        let path = format!("receivers.{receiver}.webhook_configs[{index}]");
        let url = resolve_secret(&c.url, &c.url_file, &None)
            .map_err(|e| config_error(&path, e))?
            .ok_or_else(|| config_error(&path, "no url".into()))?;
        Ok(Integration {
            key: format!("{receiver}/webhook/{index}"),
            target: Target::Webhook {
                client: Box::new(Client::builder(TokioExecutor::new()).build(https_connector())),
                url,
                max_alerts: c.max_alerts,
                receiver: receiver.to_string(),
            },
            templates: MessageTemplates::default(),
        })
    }

    /// One delivery attempt. `update` is the group's earlier
    /// `chat.postMessage` message, to update in place (bot tokens only;
    /// other targets ignore it).
    pub async fn send(&self, content: &Content, update: Option<&SlackMessageRef>) -> Outcome {
        match &self.target {
            Target::SlackWebhook { client, url } => {
                let message = render(content, &self.templates);
                let hash = hash_json(&message);
                let request = SlackApiPostWebhookMessageRequest::new(message);
                classify_slack(
                    client
                        .post_webhook_message(url, &request)
                        .await
                        .map(|_| None),
                    hash,
                )
            }
            Target::SlackChat {
                client,
                token,
                channel,
            } => {
                let message = render(content, &self.templates);
                let hash = hash_json(&message);
                let session = client.open_session(token);
                if let Some(old) = update {
                    let request = SlackApiChatUpdateRequest::new(
                        old.channel.clone().into(),
                        message.clone(),
                        old.ts.clone().into(),
                    );
                    match session.chat_update(&request).await {
                        Err(SlackClientError::ApiError(e))
                            if UPDATE_FALLBACK_ERRORS.contains(&e.code.as_str()) =>
                        {
                            tracing::info!(error = %e.code, "cannot update the group's Slack message; posting a new one");
                        }
                        result => {
                            let outcome = classify_slack(result.map(|_| None), hash);
                            return match outcome {
                                Outcome::Delivered { content_hash, .. } => Outcome::Delivered {
                                    content_hash,
                                    posted: None,
                                    updated_in_place: true,
                                },
                                other => other,
                            };
                        }
                    }
                }
                let request = SlackApiChatPostMessageRequest::new(channel.clone().into(), message);
                let posted = session.chat_post_message(&request).await.map(|r| {
                    Some(PostedMessage {
                        channel: r.channel.to_string(),
                        ts: r.ts.to_string(),
                    })
                });
                classify_slack(posted, hash)
            }
            Target::Webhook {
                client,
                url,
                max_alerts,
                receiver,
            } => {
                let body = crate::webhook::payload(
                    content,
                    receiver,
                    *max_alerts,
                    &self.templates.external_url,
                );
                post_json(client, url, body).await
            }
        }
    }
}

fn hash_json<T: serde::Serialize>(value: &T) -> String {
    let bytes = serde_json::to_vec(value).unwrap_or_default();
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for b in bytes {
        hash ^= u64::from(b);
        hash = hash.wrapping_mul(0x0000_0100_0000_01b3);
    }
    format!("{hash:016x}")
}

fn classify_slack(
    result: Result<Option<PostedMessage>, SlackClientError>,
    content_hash: String,
) -> Outcome {
    match result {
        Ok(posted) => Outcome::Delivered {
            content_hash,
            posted,
            updated_in_place: false,
        },
        Err(SlackClientError::RateLimitError(e)) => Outcome::RateLimited(e.retry_after),
        Err(SlackClientError::ApiError(e)) if e.code == "ratelimited" => Outcome::RateLimited(None),
        Err(SlackClientError::ApiError(e)) if TRANSIENT_SLACK_ERRORS.contains(&e.code.as_str()) => {
            Outcome::Transient(format!("slack error {}", e.code))
        }
        Err(SlackClientError::ApiError(e)) => Outcome::Permanent(format!("slack error {}", e.code)),
        Err(SlackClientError::HttpError(e)) => classify_status(
            e.status_code.as_u16(),
            e.http_response_body.as_deref().unwrap_or(""),
        ),
        Err(other) => Outcome::Transient(first_line(&other.to_string())),
    }
}

fn classify_status(status: u16, body: &str) -> Outcome {
    let message = format!("HTTP {status}: {}", first_line(body));
    match status {
        408 | 425 | 500..=599 => Outcome::Transient(message),
        400..=499 => Outcome::Permanent(message),
        _ => Outcome::Transient(message),
    }
}

fn first_line(text: &str) -> String {
    crate::message::truncate(text.lines().next().unwrap_or(""), 200)
}

async fn post_json(
    client: &Client<Connector, Full<Bytes>>,
    url: &Secret,
    body: serde_json::Value,
) -> Outcome {
    let bytes = serde_json::to_vec(&body).unwrap_or_default();
    let hash = hash_json(&body);
    let request = match axum::http::Request::post(url.expose())
        .header("content-type", "application/json")
        .body(Full::new(Bytes::from(bytes)))
    {
        Ok(r) => r,
        Err(_) => return Outcome::Permanent("invalid webhook URL (value not shown)".into()),
    };
    let response = match client.request(request).await {
        Ok(r) => r,
        Err(e) => {
            return Outcome::Transient(format!(
                "webhook request failed: {}",
                first_line(&e.to_string())
            ))
        }
    };
    let status = response.status().as_u16();
    let retry_after = response
        .headers()
        .get("retry-after")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<u64>().ok())
        .map(Duration::from_secs);
    let body = response
        .into_body()
        .collect()
        .await
        .map(|b| b.to_bytes())
        .unwrap_or_default();
    match status {
        200..=299 => Outcome::Delivered {
            content_hash: hash,
            posted: None,
            updated_in_place: false,
        },
        429 => Outcome::RateLimited(retry_after),
        _ => classify_status(status, &String::from_utf8_lossy(&body)),
    }
}

/// For an `optional` Slack integration: the environment variable or file
/// its secret or channel should come from, when that is unset, missing or
/// empty.
fn optional_source_missing(c: &SlackConfig) -> Option<String> {
    let env_empty = |var: &Option<String>| {
        var.as_ref()
            .filter(|v| std::env::var(v).map_or(true, |value| value.trim().is_empty()))
            .map(|v| format!("environment variable {v}"))
    };
    let file_empty = |file: &Option<std::path::PathBuf>| {
        file.as_ref()
            .filter(|f| std::fs::read_to_string(f).map_or(true, |text| text.trim().is_empty()))
            .map(|f| format!("file {}", f.display()))
    };
    env_empty(&c.api_url_env)
        .or_else(|| env_empty(&c.token_env))
        .or_else(|| file_empty(&c.api_url_file))
        .or_else(|| file_empty(&c.token_file))
        .or_else(|| {
            // A token without its channel cannot post anywhere.
            (c.api_url.is_none() && c.api_url_file.is_none() && c.api_url_env.is_none())
                .then(|| env_empty(&c.channel_env))
                .flatten()
        })
}
