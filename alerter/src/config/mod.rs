//! `alerter.yml`: the same field names as `prometheus.yml` where they mean the
//! same thing. Unknown keys are rejected with `file:line:column`.
//!
//! ```yaml
//! global:
//!   scrape_interval: 15s      # default 1m
//!   scrape_timeout: 10s       # default min(10s, scrape_interval)
//!   evaluation_interval: 15s  # default 1m
//!   external_labels: {cluster: prod}
//! scrape_configs:
//!   - job_name: node
//!     metrics_path: /metrics  # default
//!     scheme: https           # default http
//!     basic_auth: {username: prometheus, password_file: scrape.pw}
//!     tls_config: {ca_file: ca.crt}   # paths relative to this file
//!     static_configs:
//!       - targets: ['127.0.0.1:9100']
//!         labels: {role: db}
//! rule_files: ['rules/*.yml'] # relative to this file
//! # route / receivers / inhibit_rules: the notifier's (see notifier/README.md)
//! ```
//!
//! Here the file's shape; [`validate`]: [`Config::parse`], the checks serde
//! cannot make, with the line and column they point at; [`load`]:
//! [`Config::load`], the file with its rule files and targets.

mod client;
mod load;
mod validate;

pub use client::{base_client, BasicAuth, TlsConfig};

pub use load::resolve_globs;

use std::collections::BTreeMap;
use std::path::PathBuf;

use serde::Deserialize;
use thiserror::Error;

use crate::rules::RuleGroup;
use crate::storage::Labels;
use notifier::duration::PromDuration;

/// A configuration file that could not be used.
#[derive(Debug, Error, Clone, PartialEq)]
#[error("{file}:{line}:{column}: {message}")]
pub struct ConfigError {
    /// The file.
    pub file: String,
    /// 1-based line (0 when unknown).
    pub line: usize,
    /// 1-based column (0 when unknown).
    pub column: usize,
    /// The reason.
    pub message: String,
}

/// The whole `alerter.yml`.
#[derive(Debug, Clone, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// Defaults for every job and rule group.
    #[serde(default)]
    pub global: GlobalConfig,
    /// What to scrape.
    #[serde(default)]
    pub scrape_configs: Vec<ScrapeConfig>,
    /// Rule file globs, relative to the configuration file.
    #[serde(default)]
    pub rule_files: Vec<String>,
    /// Alertmanager-style routing tree; when present, alerts go to the
    /// embedded notifier (Slack) instead of the log.
    #[serde(default)]
    pub route: Option<notifier::config::Route>,
    /// Notification receivers the routes name.
    #[serde(default)]
    pub receivers: Vec<notifier::config::Receiver>,
    /// Inhibition rules.
    #[serde(default)]
    pub inhibit_rules: Vec<notifier::config::InhibitRule>,
    /// Named time intervals for routes' `mute_time_intervals` and
    /// `active_time_intervals`.
    #[serde(default)]
    pub time_intervals: Vec<notifier::timeinterval::NamedTimeInterval>,
    /// The older name of `time_intervals`.
    #[serde(default)]
    pub mute_time_intervals: Vec<notifier::timeinterval::NamedTimeInterval>,
}

fn one_minute() -> PromDuration {
    PromDuration(std::time::Duration::from_secs(60))
}

fn ten_seconds() -> PromDuration {
    PromDuration(std::time::Duration::from_secs(10))
}

/// `global:`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GlobalConfig {
    /// How often to scrape (default 1m).
    #[serde(default = "one_minute")]
    pub scrape_interval: PromDuration,
    /// Per-scrape timeout (default 10s, at most the interval).
    /// Per-scrape timeout (default 10s, or the interval if that is shorter).
    #[serde(default)]
    pub scrape_timeout: Option<PromDuration>,
    /// How often rule groups run unless they set `interval` (default 1m).
    #[serde(default = "one_minute")]
    pub evaluation_interval: PromDuration,
    /// Labels added to alerts sent out.
    #[serde(default)]
    pub external_labels: BTreeMap<String, String>,
}

impl GlobalConfig {
    /// The effective global timeout: as set, else 10s capped by the interval.
    pub fn timeout(&self) -> PromDuration {
        self.scrape_timeout
            .unwrap_or(ten_seconds().min(self.scrape_interval))
    }
}

impl Default for GlobalConfig {
    fn default() -> Self {
        Self {
            scrape_interval: one_minute(),
            scrape_timeout: None,
            evaluation_interval: one_minute(),
            external_labels: BTreeMap::new(),
        }
    }
}

fn default_metrics_path() -> String {
    "/metrics".into()
}

fn default_scheme() -> String {
    "http".into()
}

/// One `scrape_configs` entry.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ScrapeConfig {
    /// The `job` label.
    pub job_name: String,
    /// Overrides `global.scrape_interval`.
    #[serde(default)]
    pub scrape_interval: Option<PromDuration>,
    /// Overrides `global.scrape_timeout`.
    #[serde(default)]
    pub scrape_timeout: Option<PromDuration>,
    /// Path to scrape (default `/metrics`).
    #[serde(default = "default_metrics_path")]
    pub metrics_path: String,
    /// `http` or `https`.
    #[serde(default = "default_scheme")]
    pub scheme: String,
    /// Credentials sent with every scrape.
    #[serde(default)]
    pub basic_auth: Option<BasicAuth>,
    /// How `https` targets are verified; a client certificate.
    #[serde(default)]
    pub tls_config: Option<TlsConfig>,
    /// Keep the target's own `job`/`instance` labels on conflict.
    #[serde(default)]
    pub honor_labels: bool,
    /// Static target lists.
    #[serde(default)]
    pub static_configs: Vec<StaticConfig>,
}

/// `static_configs` entry.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StaticConfig {
    /// `host:port` addresses.
    #[serde(default)]
    pub targets: Vec<String>,
    /// Labels added to every series from these targets.
    #[serde(default)]
    pub labels: BTreeMap<String, String>,
}

/// A target to scrape, fully resolved.
#[derive(Debug, Clone, PartialEq)]
pub struct Target {
    /// Job name (scrape pool).
    pub job: String,
    /// `http://host:port/path`.
    pub url: String,
    /// Labels added to every scraped series (`job`, `instance`, static labels).
    pub labels: Labels,
    /// Scrape interval, ms.
    pub interval_ms: i64,
    /// Scrape timeout, ms.
    pub timeout_ms: i64,
    /// Whether scraped `job`/`instance` labels win.
    pub honor_labels: bool,
    /// Sent with every scrape.
    pub basic_auth: Option<BasicAuth>,
    /// Paths made absolute; `None`: the default client.
    pub tls: Option<TlsConfig>,
}

/// A configuration with its rule files loaded and targets resolved.
#[derive(Debug, Clone)]
pub struct Loaded {
    /// The parsed file.
    pub config: Config,
    /// Rule groups from every rule file.
    pub groups: Vec<RuleGroup>,
    /// Rule files that were loaded.
    pub rule_files: Vec<PathBuf>,
    /// Every target.
    pub targets: Vec<Target>,
}

impl Config {
    /// `route` / `receivers` / `inhibit_rules` / time intervals for the notifier, when a
    /// `route` is configured.
    pub fn notify_config(&self) -> Option<notifier::NotifyConfig> {
        Some(notifier::NotifyConfig {
            route: self.route.clone()?,
            receivers: self.receivers.clone(),
            inhibit_rules: self.inhibit_rules.clone(),
            time_intervals: self.time_intervals.clone(),
            mute_time_intervals: self.mute_time_intervals.clone(),
        })
    }

    /// Every target of every job.
    pub fn targets(&self) -> Vec<Target> {
        let g = &self.global;
        let mut out = Vec::new();
        for sc in &self.scrape_configs {
            let interval = sc.scrape_interval.unwrap_or(g.scrape_interval);
            let timeout = sc.scrape_timeout.unwrap_or(g.timeout().min(interval));
            for st in &sc.static_configs {
                for t in &st.targets {
                    let mut labels: Labels = st.labels.clone().into_iter().collect();
                    labels.insert("job".into(), sc.job_name.clone());
                    labels.insert("instance".into(), t.clone());
                    out.push(Target {
                        job: sc.job_name.clone(),
                        url: format!("{}://{t}{}", sc.scheme, sc.metrics_path),
                        labels,
                        interval_ms: interval.millis(),
                        timeout_ms: timeout.millis(),
                        honor_labels: sc.honor_labels,
                        basic_auth: sc.basic_auth.clone(),
                        tls: sc.tls_config.clone(),
                    });
                }
            }
        }
        out
    }
}
