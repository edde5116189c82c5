//! The configuration in force written back as Alertmanager's YAML, for
//! `GET /api/v2/status` (`config.original`): amtool's `config show` prints
//! it, `config routes` parses it with Alertmanager's own loader, and
//! Grafana reads receivers and routes from it.
//!
//! Secrets appear as `<secret>`, as Alertmanager shows them. A bot-token
//! Slack config becomes what Alertmanager needs for `chat.postMessage`: the
//! method's URL as `api_url` and the token as
//! `http_config.authorization.credentials`. Fields of ours that
//! Alertmanager does not know (`*_env`, `api_base_url`) are left out.

use crate::config::DEFAULT_SLACK_API_BASE_URL;
use crate::config::{InhibitRule, NotifyConfig, Receiver, Route, SlackConfig, WebhookConfig};
use crate::duration::PromDuration;
use serde::Serialize;
use std::time::Duration;
use yaml_serde::{Mapping, Value};

/// How Alertmanager prints a secret.
const SECRET: &str = "<secret>";

/// A YAML mapping built in the order fields are set.
#[derive(Default)]
struct Map(Mapping);

impl Map {
    fn set(mut self, key: &str, value: impl Serialize) -> Self {
        match yaml_serde::to_value(value) {
            Ok(v) => {
                self.0.insert(Value::String(key.to_string()), v);
            }
            Err(e) => tracing::error!(key, error = %e, "cannot render configuration field"),
        }
        self
    }

    fn opt(self, key: &str, value: Option<impl Serialize>) -> Self {
        match value {
            Some(v) => self.set(key, v),
            None => self,
        }
    }

    fn nonempty<T: Serialize>(self, key: &str, value: &[T]) -> Self {
        if value.is_empty() {
            self
        } else {
            self.set(key, value)
        }
    }

    fn done(self) -> Value {
        Value::Mapping(self.0)
    }
}

/// The notifier's configuration as Alertmanager YAML; `resolve_timeout`
/// goes into `global`.
pub(crate) fn alertmanager_yaml(config: &NotifyConfig, resolve_timeout: Duration) -> String {
    let root = Map::default()
        .set(
            "global",
            Map::default()
                .set("resolve_timeout", PromDuration(resolve_timeout))
                .done(),
        )
        .set("route", route(&config.route))
        .nonempty(
            "inhibit_rules",
            &config
                .inhibit_rules
                .iter()
                .map(inhibit_rule)
                .collect::<Vec<_>>(),
        )
        .set(
            "receivers",
            config.receivers.iter().map(receiver).collect::<Vec<_>>(),
        )
        .nonempty("time_intervals", &config.time_intervals)
        .nonempty("mute_time_intervals", &config.mute_time_intervals)
        .set("templates", Vec::<String>::new())
        .done();
    yaml_serde::to_string(&root).unwrap_or_default()
}

fn route(r: &Route) -> Value {
    Map::default()
        .opt("receiver", r.receiver.as_ref())
        .opt("group_by", r.group_by.as_ref())
        .nonempty("matchers", &r.matchers)
        .opt("continue", r.continue_matching.then_some(true))
        .opt("group_wait", r.group_wait)
        .opt("group_interval", r.group_interval)
        .opt("repeat_interval", r.repeat_interval)
        .nonempty("mute_time_intervals", &r.mute_time_intervals)
        .nonempty("active_time_intervals", &r.active_time_intervals)
        .nonempty("routes", &r.routes.iter().map(route).collect::<Vec<_>>())
        .done()
}

fn inhibit_rule(rule: &InhibitRule) -> Value {
    Map::default()
        .nonempty("source_matchers", &rule.source_matchers)
        .nonempty("target_matchers", &rule.target_matchers)
        .nonempty("equal", &rule.equal)
        .done()
}

fn receiver(r: &Receiver) -> Value {
    Map::default()
        .set("name", &r.name)
        .nonempty(
            "slack_configs",
            &r.slack_configs.iter().map(slack).collect::<Vec<_>>(),
        )
        .nonempty(
            "webhook_configs",
            &r.webhook_configs.iter().map(webhook).collect::<Vec<_>>(),
        )
        .done()
}

fn slack(c: &SlackConfig) -> Value {
    let mut m = Map::default().set("send_resolved", c.send_resolved);
    let bot = c.token.is_some() || c.token_file.is_some() || c.token_env.is_some();
    if bot {
        let base = c
            .api_base_url
            .as_deref()
            .unwrap_or(DEFAULT_SLACK_API_BASE_URL);
        let authorization = match &c.token_file {
            Some(file) => Map::default().set("credentials_file", file),
            None => Map::default().set("credentials", SECRET),
        };
        m = m
            .set(
                "http_config",
                Map::default()
                    .set("authorization", authorization.done())
                    .done(),
            )
            .set(
                "api_url",
                format!("{}/chat.postMessage", base.trim_end_matches('/')),
            );
    } else if let Some(file) = &c.api_url_file {
        m = m.set("api_url_file", file);
    } else {
        m = m.set("api_url", SECRET);
    }
    m.opt("channel", c.channel.as_ref())
        .opt("title", c.title.as_ref())
        .opt("text", c.text.as_ref())
        .done()
}

fn webhook(c: &WebhookConfig) -> Value {
    let m = Map::default().set("send_resolved", c.send_resolved);
    match &c.url_file {
        Some(file) => m.set("url_file", file),
        None => m.set("url", SECRET),
    }
    .set("max_alerts", c.max_alerts)
    .done()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_are_hidden_and_bot_tokens_become_authorization() {
        let config = NotifyConfig::from_yaml(
            r#"
route:
  receiver: a
  group_by: [alertname]
  routes:
    - matchers: ['severity="critical"']
      receiver: b
      continue: true
      repeat_interval: 1h
receivers:
  - name: a
    slack_configs: [{api_url: 'https://hooks.slack.com/services/T/B/very-secret'}]
  - name: b
    slack_configs: [{token: xoxb-very-secret, channel: '#ops', api_base_url: 'http://127.0.0.1:1/api/'}]
    webhook_configs: [{url: 'http://hook.example/very-secret'}]
inhibit_rules:
  - source_matchers: ['alertname="Down"']
    equal: [instance]
"#,
        )
        .unwrap();
        let yaml = alertmanager_yaml(&config, Duration::from_secs(300));
        assert!(!yaml.contains("very-secret"), "{yaml}");
        let v: Value = yaml_serde::from_str(&yaml).unwrap();
        assert_eq!(v["global"]["resolve_timeout"], "5m");
        assert_eq!(
            v["route"]["routes"][0]["matchers"][0],
            "severity=\"critical\""
        );
        assert_eq!(v["route"]["routes"][0]["continue"], true);
        assert_eq!(v["route"]["routes"][0]["repeat_interval"], "1h");
        let bot = &v["receivers"][1]["slack_configs"][0];
        assert_eq!(bot["api_url"], "http://127.0.0.1:1/api/chat.postMessage");
        assert_eq!(bot["http_config"]["authorization"]["credentials"], SECRET);
        assert_eq!(v["receivers"][1]["webhook_configs"][0]["url"], SECRET);
        assert_eq!(v["inhibit_rules"][0]["equal"][0], "instance");
    }
}
