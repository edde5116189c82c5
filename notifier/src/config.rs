//! Configuration: `route`, `receivers` and `inhibit_rules` with Alertmanager's
//! field names, as they appear at the top level of `alerter.yml`.
//!
//! Differences from Alertmanager are deliberate and documented in the README:
//! `send_resolved` defaults to `true`, secrets may come from `*_env`
//! variables, and `api_base_url` points `chat.postMessage` at another host.

use crate::duration::PromDuration;
use crate::matcher::Matcher;
use crate::secret::Secret;
use crate::template::Template;
use crate::timeinterval::NamedTimeInterval;
use serde::Deserialize;
use std::collections::HashSet;
use std::path::PathBuf;

/// Default `group_wait` (Alertmanager's).
pub const DEFAULT_GROUP_WAIT: &str = "30s";
/// Default `group_interval` (Alertmanager's).
pub const DEFAULT_GROUP_INTERVAL: &str = "5m";
/// Default `repeat_interval` (Alertmanager's).
pub const DEFAULT_REPEAT_INTERVAL: &str = "4h";
/// Default Slack Web API base URL used by `chat.postMessage`.
pub const DEFAULT_SLACK_API_BASE_URL: &str = "https://slack.com/api";

/// Everything the notifier needs from `alerter.yml`.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NotifyConfig {
    /// The routing tree's root.
    pub route: Route,
    /// Named receivers the routes point at.
    pub receivers: Vec<Receiver>,
    /// Rules muting target alerts while a matching source alert fires.
    #[serde(default)]
    pub inhibit_rules: Vec<InhibitRule>,
    /// Named time intervals routes mute or activate by.
    #[serde(default)]
    pub time_intervals: Vec<NamedTimeInterval>,
    /// The older name of `time_intervals` (same shape), still accepted.
    #[serde(default)]
    pub mute_time_intervals: Vec<NamedTimeInterval>,
}

/// A node of the routing tree. Unset fields inherit from the parent.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Route {
    /// Receiver name; required on the root.
    pub receiver: Option<String>,
    /// Labels to group by; `['...']` groups by all labels (no aggregation).
    pub group_by: Option<Vec<String>>,
    /// Wait before the first notification of a new group.
    pub group_wait: Option<PromDuration>,
    /// Wait between notifications about changes to a group.
    pub group_interval: Option<PromDuration>,
    /// Wait before re-sending an unchanged, still-firing group.
    pub repeat_interval: Option<PromDuration>,
    /// Matchers an alert must satisfy to enter this route (not on the root).
    #[serde(default)]
    pub matchers: Vec<Matcher>,
    /// Keep matching later siblings after this route matched.
    #[serde(default, rename = "continue")]
    pub continue_matching: bool,
    /// Child routes, tried in order.
    #[serde(default)]
    pub routes: Vec<Route>,
    /// No notifications from this route while one of these named time
    /// intervals contains the current time (not inherited; not on the root).
    #[serde(default)]
    pub mute_time_intervals: Vec<String>,
    /// Notifications from this route only while one of these contains the
    /// current time (none: always; not inherited; not on the root).
    #[serde(default)]
    pub active_time_intervals: Vec<String>,
}

/// A named set of integrations.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Receiver {
    /// Name used by routes.
    pub name: String,
    /// Slack integrations.
    #[serde(default)]
    pub slack_configs: Vec<SlackConfig>,
    /// Generic webhook integrations (Alertmanager's webhook JSON, version 4).
    #[serde(default)]
    pub webhook_configs: Vec<WebhookConfig>,
}

/// One Slack destination: an incoming webhook (`api_url*`) or
/// `chat.postMessage` with a bot token (`token*` + `channel`).
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SlackConfig {
    /// Notify when a group resolves (default true, unlike Alertmanager).
    #[serde(default = "default_true")]
    pub send_resolved: bool,
    /// Incoming-webhook URL.
    pub api_url: Option<Secret>,
    /// File holding the incoming-webhook URL.
    pub api_url_file: Option<PathBuf>,
    /// Environment variable holding the incoming-webhook URL.
    pub api_url_env: Option<String>,
    /// Bot token (`xoxb-…`) for `chat.postMessage`.
    pub token: Option<Secret>,
    /// File holding the bot token.
    pub token_file: Option<PathBuf>,
    /// Environment variable holding the bot token.
    pub token_env: Option<String>,
    /// Channel for `chat.postMessage` (`#alerts` or a channel id).
    pub channel: Option<String>,
    /// Environment variable holding the channel (instead of `channel`).
    pub channel_env: Option<String>,
    /// Leave this integration out, with a notice at load, when its secret
    /// (or channel) is to come from an environment variable or file that is
    /// unset, missing or empty, instead of refusing the configuration: for a
    /// shipped configuration whose Slack part is switched on by setting a
    /// variable. Not Alertmanager's.
    #[serde(default)]
    pub optional: bool,
    /// Web API base URL (default `https://slack.com/api`).
    pub api_base_url: Option<String>,
    /// Title template (default `[FIRING:2] alertname (labels)`).
    pub title: Option<String>,
    /// Extra text template shown under the title.
    pub text: Option<String>,
}

/// Alertmanager-compatible webhook.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WebhookConfig {
    /// Notify when a group resolves (default true).
    #[serde(default = "default_true")]
    pub send_resolved: bool,
    /// Target URL.
    pub url: Option<Secret>,
    /// File holding the target URL.
    pub url_file: Option<PathBuf>,
    /// Cap on alerts per payload (0 = no cap); the rest count in `truncatedAlerts`.
    #[serde(default)]
    pub max_alerts: usize,
}

/// Mutes alerts matching `target_matchers` while an alert matching
/// `source_matchers` fires with the same values of the `equal` labels.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct InhibitRule {
    /// Matchers selecting the inhibiting (source) alerts.
    #[serde(default)]
    pub source_matchers: Vec<Matcher>,
    /// Matchers selecting the muted (target) alerts.
    #[serde(default)]
    pub target_matchers: Vec<Matcher>,
    /// Labels that must be equal on source and target.
    #[serde(default)]
    pub equal: Vec<String>,
}

fn default_true() -> bool {
    true
}

/// A configuration problem, naming the field at fault.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The YAML did not parse or had unknown / mistyped fields.
    #[error("{0}")]
    Parse(String),
    /// A semantic problem at a path such as `route.routes[1].receiver`.
    #[error("{path}: {message}")]
    Invalid {
        /// Where in the configuration.
        path: String,
        /// What is wrong.
        message: String,
    },
}

fn invalid(path: impl Into<String>, message: impl Into<String>) -> ConfigError {
    ConfigError::Invalid {
        path: path.into(),
        message: message.into(),
    }
}

impl NotifyConfig {
    /// Parses a YAML document holding `route`, `receivers`, `inhibit_rules`
    /// and validates it. Errors carry yaml_serde's line and column.
    pub fn from_yaml(text: &str) -> Result<Self, ConfigError> {
        let config: NotifyConfig =
            yaml_serde::from_str(text).map_err(|e| ConfigError::Parse(e.to_string()))?;
        config.validate()?;
        Ok(config)
    }

    /// Checks references and required fields; returns the first problem.
    pub fn validate(&self) -> Result<(), ConfigError> {
        let mut names = HashSet::new();
        for (i, r) in self.receivers.iter().enumerate() {
            if !names.insert(r.name.as_str()) {
                return Err(invalid(
                    format!("receivers[{i}].name"),
                    format!("duplicate receiver name {:?}", r.name),
                ));
            }
            r.validate(&format!("receivers[{i}]"))?;
        }
        if self.route.receiver.is_none() {
            return Err(invalid("route.receiver", "the root route needs a receiver"));
        }
        if !self.route.matchers.is_empty() {
            return Err(invalid(
                "route.matchers",
                "the root route must not have matchers",
            ));
        }
        for (field, list) in [
            ("mute_time_intervals", &self.route.mute_time_intervals),
            ("active_time_intervals", &self.route.active_time_intervals),
        ] {
            if !list.is_empty() {
                return Err(invalid(
                    format!("route.{field}"),
                    format!("the root route must not have {field}"),
                ));
            }
        }
        let mut intervals = HashSet::new();
        let named = [
            ("mute_time_intervals", &self.mute_time_intervals),
            ("time_intervals", &self.time_intervals),
        ];
        for (key, list) in named {
            for (i, t) in list.iter().enumerate() {
                if !intervals.insert(t.name.as_str()) {
                    return Err(invalid(
                        format!("{key}[{i}].name"),
                        format!("time interval {:?} is not unique", t.name),
                    ));
                }
            }
        }
        let known = Known {
            receivers: &names,
            intervals: &intervals,
        };
        validate_route(&self.route, "route", &known)?;
        Ok(())
    }

    /// Every named time interval, from `time_intervals` and
    /// `mute_time_intervals`.
    pub fn named_intervals(&self) -> impl Iterator<Item = &NamedTimeInterval> {
        self.time_intervals.iter().chain(&self.mute_time_intervals)
    }
}

/// Names routes may refer to.
struct Known<'a> {
    receivers: &'a HashSet<&'a str>,
    intervals: &'a HashSet<&'a str>,
}

fn validate_route(route: &Route, path: &str, known: &Known<'_>) -> Result<(), ConfigError> {
    for (field, list) in [
        ("mute_time_intervals", &route.mute_time_intervals),
        ("active_time_intervals", &route.active_time_intervals),
    ] {
        if let Some(name) = list.iter().find(|n| !known.intervals.contains(n.as_str())) {
            return Err(invalid(
                format!("{path}.{field}"),
                format!("undefined time interval {name:?} used in route"),
            ));
        }
    }
    let names = known.receivers;
    if let Some(name) = &route.receiver {
        if !names.contains(name.as_str()) {
            return Err(invalid(
                format!("{path}.receiver"),
                format!("unknown receiver {name:?} (not in receivers)"),
            ));
        }
    }
    if let Some(group_by) = &route.group_by {
        if group_by.iter().any(|l| l == "...") && group_by.len() > 1 {
            return Err(invalid(
                format!("{path}.group_by"),
                "'...' must be the only entry when present",
            ));
        }
    }
    if route.group_interval.is_some_and(|d| d.0.is_zero()) {
        return Err(invalid(
            format!("{path}.group_interval"),
            "must be greater than 0",
        ));
    }
    if route.repeat_interval.is_some_and(|d| d.0.is_zero()) {
        return Err(invalid(
            format!("{path}.repeat_interval"),
            "must be greater than 0",
        ));
    }
    for (i, child) in route.routes.iter().enumerate() {
        validate_route(child, &format!("{path}.routes[{i}]"), known)?;
    }
    Ok(())
}

impl Receiver {
    fn validate(&self, path: &str) -> Result<(), ConfigError> {
        for (i, s) in self.slack_configs.iter().enumerate() {
            s.validate(&format!("{path}.slack_configs[{i}]"))?;
        }
        for (i, w) in self.webhook_configs.iter().enumerate() {
            let p = format!("{path}.webhook_configs[{i}]");
            if w.url.is_some() == w.url_file.is_some() {
                return Err(invalid(p, "set exactly one of url, url_file"));
            }
        }
        Ok(())
    }
}

impl SlackConfig {
    fn validate(&self, path: &str) -> Result<(), ConfigError> {
        let webhook = [
            self.api_url.is_some(),
            self.api_url_file.is_some(),
            self.api_url_env.is_some(),
        ];
        let token = [
            self.token.is_some(),
            self.token_file.is_some(),
            self.token_env.is_some(),
        ];
        let count = |v: [bool; 3]| v.iter().filter(|b| **b).count();
        match (count(webhook), count(token)) {
            (1, 0) => {}
            (0, 1) => {
                if self.channel.as_deref().unwrap_or("").is_empty() && self.channel_env.is_none() {
                    return Err(invalid(
                        format!("{path}.channel"),
                        "chat.postMessage (token) needs a channel (or channel_env)",
                    ));
                }
            }
            (0, 0) => {
                return Err(invalid(
                    path,
                    "set one of api_url, api_url_file, api_url_env (incoming webhook) or one of token, token_file, token_env with channel (chat.postMessage)",
                ))
            }
            _ => {
                return Err(invalid(
                    path,
                    "set exactly one secret source: api_url, api_url_file, api_url_env, token, token_file or token_env",
                ))
            }
        }
        for (field, source) in [("title", &self.title), ("text", &self.text)] {
            if let Some(source) = source {
                Template::parse(source).map_err(|e| invalid(format!("{path}.{field}"), e))?;
            }
        }
        Ok(())
    }
}

/// Reads a secret from the inline value, a file (trailing newline trimmed)
/// or an environment variable, whichever is set.
pub(crate) fn resolve_secret(
    inline: &Option<Secret>,
    file: &Option<PathBuf>,
    env: &Option<String>,
) -> Result<Option<Secret>, String> {
    if let Some(s) = inline {
        return Ok(Some(s.clone()));
    }
    if let Some(path) = file {
        let text = std::fs::read_to_string(path)
            .map_err(|e| format!("cannot read secret file {}: {e}", path.display()))?;
        return Ok(Some(Secret::new(text.trim_end_matches(['\n', '\r']))));
    }
    if let Some(var) = env {
        let value =
            std::env::var(var).map_err(|_| format!("environment variable {var} is not set"))?;
        return Ok(Some(Secret::new(value)));
    }
    Ok(None)
}
