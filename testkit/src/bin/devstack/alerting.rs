//! The monitoring configuration devstack writes for each run: what the
//! alerter and Prometheus scrape, the rule files they load, and where
//! alerts go (the local inbox always; Slack when it is configured).
//!
//! Secrets never enter these files: the alerter reads the Slack webhook
//! URL or bot token from its environment (`api_url_env` / `token_env`).

use std::path::Path;

/// Scrape targets as (job, `host:port`).
pub type Targets<'a> = &'a [(&'a str, String)];

/// Where notifications go besides the inbox.
#[derive(Debug, Clone, Default)]
pub struct Slack {
    /// An incoming-webhook URL (passed to the alerter as `SLACK_WEBHOOK_URL`).
    pub webhook_url: Option<String>,
    /// A bot token for `chat.postMessage` (passed as `SLACK_BOT_TOKEN`).
    pub bot_token: Option<String>,
    /// The channel the bot posts to.
    pub channel: String,
    /// Slack's Web API base URL, when not Slack's own.
    pub api_url: Option<String>,
}

impl Slack {
    /// Environment for the alerter process: the secret it reads.
    pub fn env(&self) -> Vec<(&'static str, String)> {
        let mut env = Vec::new();
        if let Some(url) = &self.webhook_url {
            env.push(("SLACK_WEBHOOK_URL", url.clone()));
        } else if let Some(token) = &self.bot_token {
            env.push(("SLACK_BOT_TOKEN", token.clone()));
        }
        env
    }

    /// A line for the banner: where alerts go besides the inbox.
    pub fn describe(&self) -> String {
        if self.webhook_url.is_some() {
            "Slack incoming webhook (SLACK_WEBHOOK_URL)".into()
        } else if self.bot_token.is_some() {
            format!("Slack channel {} (SLACK_BOT_TOKEN)", self.channel)
        } else {
            "not configured (set SLACK_WEBHOOK_URL, or SLACK_BOT_TOKEN and SLACK_CHANNEL)".into()
        }
    }

    fn receiver_yaml(&self) -> String {
        let base = self
            .api_url
            .as_deref()
            .map(|u| format!("\n        api_base_url: '{u}'"))
            .unwrap_or_default();
        if self.webhook_url.is_some() {
            format!("    slack_configs:\n      - api_url_env: SLACK_WEBHOOK_URL\n        send_resolved: true{base}\n")
        } else if self.bot_token.is_some() {
            format!(
                "    slack_configs:\n      - token_env: SLACK_BOT_TOKEN\n        channel: '{}'\n        send_resolved: true{base}\n",
                self.channel
            )
        } else {
            String::new()
        }
    }
}

fn scrape_section(targets: Targets, rules_dir: &Path, interval: &str) -> String {
    let mut out = format!(
        "# Written by devstack for this run; regenerated on every start.\n\
         global:\n  scrape_interval: {interval}\n  scrape_timeout: 4s\n  evaluation_interval: {interval}\n\
         scrape_configs:\n"
    );
    // One job per name, its targets in order of appearance.
    let mut jobs: Vec<(&str, Vec<&str>)> = Vec::new();
    for (job, target) in targets {
        match jobs.iter_mut().find(|(j, _)| j == job) {
            Some((_, list)) => list.push(target),
            None => jobs.push((job, vec![target])),
        }
    }
    for (job, list) in jobs {
        out.push_str(&format!(
            "  - job_name: {job}\n    static_configs:\n      - targets: ['{}']\n",
            list.join("', '")
        ));
    }
    out.push_str(&format!(
        "rule_files:\n  - '{}/*.yml'\n",
        rules_dir.display()
    ));
    out
}

/// `alerter.yml`: every target scraped every 5 s, the repository's rule
/// files, and one route: everything to `oncall` (the inbox at `inbox_url`,
/// and Slack when configured), except the Watchdog, which goes to the
/// `deadmans-switch` receiver (empty here: see docs/operations.md).
/// `EnrollServerDown` mutes the generic `InstanceDown` of the same target.
pub fn alerter_config(
    targets: Targets,
    rules_dir: &Path,
    inbox_url: Option<&str>,
    slack: &Slack,
) -> String {
    let mut out = scrape_section(targets, rules_dir, "5s");
    out.push_str(
        "route:\n  receiver: oncall\n  group_by: [alertname, job]\n  group_wait: 10s\n  \
         group_interval: 30s\n  repeat_interval: 4h\n  routes:\n    \
         - matchers: ['alertname=\"Watchdog\"']\n      receiver: deadmans-switch\n      \
         repeat_interval: 1m\n\
         receivers:\n  - name: oncall\n",
    );
    if let Some(url) = inbox_url {
        out.push_str(&format!(
            "    webhook_configs:\n      - url: '{url}/'\n        send_resolved: true\n"
        ));
    }
    out.push_str(&slack.receiver_yaml());
    out.push_str("  - name: deadmans-switch\n");
    // A dead enroll-server is also a dead scrape target: say it once.
    out.push_str(
        "inhibit_rules:\n  - source_matchers: ['alertname=\"EnrollServerDown\"']\n    \
         target_matchers: ['alertname=\"InstanceDown\"']\n    equal: [job, instance]\n",
    );
    out
}

/// `prometheus.yml`: the same targets and rules, every 5 s; alerts sent to
/// the alerter's Alertmanager API at `alerter` (`host:port`), where they
/// meet the alerter's own and are notified once.
pub fn prometheus_config(targets: Targets, rules_dir: &Path, alerter: Option<&str>) -> String {
    let mut out = scrape_section(targets, rules_dir, "5s");
    if let Some(target) = alerter {
        out.push_str(&format!(
            "alerting:\n  alertmanagers:\n    - static_configs:\n        - targets: ['{target}']\n"
        ));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn targets() -> Vec<(&'static str, String)> {
        vec![
            ("enroll-server", "127.0.0.1:8081".to_string()),
            ("node", "127.0.0.1:9100".to_string()),
            ("enroll-server", "127.0.0.1:8082".to_string()),
        ]
    }

    #[test]
    fn alerter_config_routes_to_the_inbox_and_slack_without_secrets() {
        let slack = Slack {
            webhook_url: Some("https://hooks.slack.test/T/B/secret".into()),
            ..Slack::default()
        };
        let text = alerter_config(
            &targets(),
            Path::new("/repo/rules"),
            Some("http://127.0.0.1:9097"),
            &slack,
        );
        assert_eq!(text.matches("job_name: enroll-server").count(), 1, "{text}");
        assert!(
            text.contains("targets: ['127.0.0.1:8081', '127.0.0.1:8082']"),
            "{text}"
        );
        assert!(text.contains("targets: ['127.0.0.1:9100']"), "{text}");
        assert!(text.contains("- '/repo/rules/*.yml'"), "{text}");
        assert!(text.contains("url: 'http://127.0.0.1:9097/'"), "{text}");
        assert!(text.contains("api_url_env: SLACK_WEBHOOK_URL"), "{text}");
        assert!(
            !text.contains("secret"),
            "the URL stays in the environment: {text}"
        );
        assert_eq!(slack.env()[0].0, "SLACK_WEBHOOK_URL");
    }

    #[test]
    fn without_slack_only_the_inbox_receives() {
        let text = alerter_config(
            &targets(),
            Path::new("/r"),
            Some("http://127.0.0.1:1"),
            &Slack::default(),
        );
        assert!(!text.contains("slack_configs"), "{text}");
        assert!(Slack::default().env().is_empty());
    }

    #[test]
    fn prometheus_sends_alerts_to_the_alerter() {
        let text = prometheus_config(&targets(), Path::new("/r"), Some("127.0.0.1:9099"));
        assert!(text.contains("alertmanagers:"), "{text}");
        assert!(text.contains("targets: ['127.0.0.1:9099']"), "{text}");
        assert!(!text.contains("route:"), "{text}");
    }
}
