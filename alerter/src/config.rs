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
//!     scheme: http            # only http
//!     static_configs:
//!       - targets: ['127.0.0.1:9100']
//!         labels: {role: db}
//! rule_files: ['rules/*.yml'] # relative to this file
//! # route / receivers / inhibit_rules: the notifier's (see notifier/README.md)
//! ```

use std::collections::{BTreeMap, HashSet};
use std::path::{Path, PathBuf};

use serde::Deserialize;
use thiserror::Error;

use crate::duration::PromDuration;
use crate::rules::{load_rule_file, RuleGroup};
use crate::storage::Labels;

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
    /// `http` (the only scheme supported).
    #[serde(default = "default_scheme")]
    pub scheme: String,
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
    /// Parses YAML text; `file` names it in errors.
    pub fn parse(text: &str, file: &str) -> Result<Config, ConfigError> {
        let err = |line, column, message| ConfigError {
            file: file.to_string(),
            line,
            column,
            message,
        };
        let config: Config = if text.trim().is_empty() {
            Config::default()
        } else {
            serde_yaml::from_str(text).map_err(|e| {
                let (l, c) = crate::config::yaml_location(&e);
                err(l, c, e.to_string())
            })?
        };
        let g = &config.global;
        if g.scrape_timeout.is_some_and(|t| t > g.scrape_interval) {
            let (l, c) = key_position(text, "scrape_timeout");
            return Err(err(
                l,
                c,
                "global scrape timeout greater than scrape interval".into(),
            ));
        }
        if let Err(e) = config
            .notify_config()
            .as_ref()
            .map_or(Ok(()), |n| n.validate())
        {
            let (l, c) = notify_error_position(text, &e);
            return Err(err(l, c, e.to_string()));
        }
        let positions = job_positions(text);
        let mut jobs = HashSet::new();
        for (i, sc) in config.scrape_configs.iter().enumerate() {
            let (l, c) = positions.get(i).copied().unwrap_or((0, 0));
            if sc.job_name.is_empty() {
                return Err(err(l, c, "job_name is empty".into()));
            }
            if !jobs.insert(sc.job_name.clone()) {
                return Err(err(
                    l,
                    c,
                    format!(
                        "found multiple scrape configs with job name {:?}",
                        sc.job_name
                    ),
                ));
            }
            if sc.scheme != "http" {
                return Err(err(
                    l,
                    c,
                    format!(
                        "job {:?}: scheme {:?} is not supported (only http)",
                        sc.job_name, sc.scheme
                    ),
                ));
            }
            let interval = sc.scrape_interval.unwrap_or(g.scrape_interval);
            let timeout = sc.scrape_timeout.unwrap_or(g.timeout().min(interval));
            if timeout > interval {
                return Err(err(
                    l,
                    c,
                    format!(
                        "job {:?}: scrape timeout greater than scrape interval",
                        sc.job_name
                    ),
                ));
            }
            for t in sc.static_configs.iter().flat_map(|s| &s.targets) {
                if t.contains('/') || !t.contains(':') {
                    return Err(err(
                        l,
                        c,
                        format!("job {:?}: target {t:?} must be host:port", sc.job_name),
                    ));
                }
            }
        }
        Ok(config)
    }

    /// Reads and checks `path`, loads its rule files and resolves targets.
    pub fn load(path: &Path) -> Result<Loaded, ConfigError> {
        let file = path.display().to_string();
        let text = std::fs::read_to_string(path).map_err(|e| ConfigError {
            file: file.clone(),
            line: 0,
            column: 0,
            message: format!("cannot read: {e}"),
        })?;
        let config = Config::parse(&text, &file)?;
        let base = path.parent().unwrap_or(Path::new("."));
        let rule_files =
            resolve_globs(base, &config.rule_files).map_err(|message| ConfigError {
                file: file.clone(),
                line: 0,
                column: 0,
                message,
            })?;
        let mut groups = Vec::new();
        let mut names = HashSet::new();
        for f in &rule_files {
            let loaded =
                load_rule_file(f, config.global.evaluation_interval.millis()).map_err(|e| {
                    ConfigError {
                        file: e.file,
                        line: e.line,
                        column: e.column,
                        message: e.message,
                    }
                })?;
            for g in loaded {
                if !names.insert((g.file.clone(), g.name.clone())) {
                    continue;
                }
                groups.push(g);
            }
        }
        let targets = config.targets();
        Ok(Loaded {
            config,
            groups,
            rule_files,
            targets,
        })
    }

    /// `route` / `receivers` / `inhibit_rules` for the notifier, when a
    /// `route` is configured.
    pub fn notify_config(&self) -> Option<notifier::NotifyConfig> {
        Some(notifier::NotifyConfig {
            route: self.route.clone()?,
            receivers: self.receivers.clone(),
            inhibit_rules: self.inhibit_rules.clone(),
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
                    });
                }
            }
        }
        out
    }
}

/// Line and column of a YAML error, `(0, 0)` when serde_yaml has none.
pub(crate) fn yaml_location(e: &serde_yaml::Error) -> (usize, usize) {
    e.location().map_or((0, 0), |l| (l.line(), l.column()))
}

fn key_position(text: &str, key: &str) -> (usize, usize) {
    text.lines()
        .enumerate()
        .find_map(|(i, line)| line.find(&format!("{key}:")).map(|c| (i + 1, c + 1)))
        .unwrap_or((0, 0))
}

/// Where a notifier validation error points: the top-level key its path
/// starts with (`route`, `receivers`), or else `route`.
fn notify_error_position(text: &str, e: &notifier::config::ConfigError) -> (usize, usize) {
    let top = match e {
        notifier::config::ConfigError::Invalid { path, .. } => {
            path.split(['.', '[']).next().unwrap_or("route").to_string()
        }
        notifier::config::ConfigError::Parse(_) => "route".to_string(),
    };
    text.lines()
        .enumerate()
        .find(|(_, line)| line.starts_with(&format!("{top}:")))
        .map(|(i, _)| (i + 1, 1))
        .unwrap_or((0, 0))
}

fn job_positions(text: &str) -> Vec<(usize, usize)> {
    text.lines()
        .enumerate()
        .filter_map(|(i, line)| {
            let col = line.find("job_name:")?;
            Some((i + 1, col + 1))
        })
        .collect()
}

/// Expands rule-file globs relative to `base`; a plain path that does not
/// exist is kept so loading it reports the missing file.
pub fn resolve_globs(base: &Path, patterns: &[String]) -> Result<Vec<PathBuf>, String> {
    let mut out = Vec::new();
    for p in patterns {
        let full = if Path::new(p).is_absolute() {
            PathBuf::from(p)
        } else {
            base.join(p)
        };
        let mut matches: Vec<PathBuf> = glob::glob(&full.to_string_lossy())
            .map_err(|e| format!("bad rule_files pattern {p:?}: {e}"))?
            .filter_map(Result::ok)
            .collect();
        matches.sort();
        if matches.is_empty() && !p.contains(['*', '?', '[']) {
            out.push(full);
        }
        out.extend(matches);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_prometheus_style_config_and_rejects_unknown_keys() {
        let text = "global:\n  scrape_interval: 15s\nscrape_configs:\n  - job_name: node\n    static_configs:\n      - targets: ['127.0.0.1:9100']\n        labels: {role: db}\nroute:\n  receiver: slack\nreceivers:\n  - name: slack\n    slack_configs:\n      - api_url: http://127.0.0.1:9/hook\n";
        let c = Config::parse(text, "a.yml").unwrap();
        let t = c.targets();
        assert_eq!(t[0].url, "http://127.0.0.1:9100/metrics");
        assert_eq!(t[0].labels.get("role").unwrap(), "db");
        assert_eq!(t[0].interval_ms, 15_000);
        assert_eq!(t[0].timeout_ms, 10_000);
        assert!(c.route.is_some());
        let e = Config::parse("global:\n  scrape_intervall: 15s\n", "a.yml").unwrap_err();
        assert_eq!(e.line, 2, "{e}");
        assert!(e.to_string().starts_with("a.yml:2:"), "{e}");
        let e = Config::parse(
            "scrape_configs:\n  - job_name: a\n    scheme: https\n",
            "a.yml",
        )
        .unwrap_err();
        assert!(e.message.contains("https"), "{e}");
    }
    #[test]
    fn notifier_keys_are_typed_and_errors_name_file_and_line() {
        let ok = "scrape_configs: []\nroute:\n  receiver: slack\n  group_wait: 0s\nreceivers:\n  - name: slack\n    slack_configs:\n      - api_url: http://127.0.0.1:9/hook\ninhibit_rules:\n  - source_matchers: ['alertname=\"InstanceDown\"']\n    equal: [instance]\n";
        let n = Config::parse(ok, "a.yml").unwrap().notify_config().unwrap();
        assert_eq!(n.route.receiver.as_deref(), Some("slack"));
        assert_eq!(n.inhibit_rules[0].equal, vec!["instance".to_string()]);
        assert!(Config::parse("scrape_configs: []\n", "a.yml")
            .unwrap()
            .notify_config()
            .is_none());
        let unknown_key = ok.replace("group_wait: 0s", "group_waitt: 0s");
        let e = Config::parse(&unknown_key, "a.yml").unwrap_err();
        assert_eq!(
            (e.line, e.message.contains("group_waitt")),
            (4, true),
            "{e}"
        );
        let bad_ref = ok.replace("receiver: slack", "receiver: pager");
        let e = Config::parse(&bad_ref, "a.yml").unwrap_err();
        assert_eq!(e.line, 2, "{e}");
        assert!(e.to_string().contains("route.receiver"), "{e}");
        let bad_receiver = ok.replace("api_url: http://127.0.0.1:9/hook", "channel: '#x'");
        let e = Config::parse(&bad_receiver, "a.yml").unwrap_err();
        assert_eq!(e.line, 5, "{e}");
    }
}
