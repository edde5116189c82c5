//! The synchronous core: scrape results in, rule groups evaluated when due,
//! alerts handed to the sink. No clocks inside: every method takes `now`
//! (ms since the epoch), so tests drive it with injected time.
//!
//! Layout: this file holds the state, configuration changes, evaluation and
//! alert dispatch; `ingest.rs` turns scrapes into samples; `schedule.rs`
//! decides when targets and groups are due.

mod ingest;
mod schedule;

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::Arc;

use chrono::{DateTime, TimeZone, Utc};

use crate::config::{Loaded, Target};
use crate::promql::eval::DEFAULT_LOOKBACK_MS;
use crate::promql::lookback_needs;
use crate::rules::{AlertState, EvalEnv, Rule, RuleGroup};
use crate::sink::{AlertSink, PostableAlert};
use crate::storage::{stale_marker, Labels, Retention, SeriesId, Storage, METRIC_NAME};

/// Health of a target as the API reports it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Health {
    /// Not scraped yet.
    Unknown,
    /// Last scrape succeeded.
    Up,
    /// Last scrape failed.
    Down,
}

/// A target and what its last scrape did.
#[derive(Debug, Clone)]
pub struct TargetState {
    /// The target.
    pub target: Target,
    /// Last scrape's health.
    pub health: Health,
    /// Last scrape's error text.
    pub last_error: String,
    /// Last scrape time (ms).
    pub last_scrape: Option<i64>,
    /// Last scrape's duration, seconds.
    pub last_duration: f64,
    /// When the next scrape is due (ms).
    pub next_scrape: i64,
    /// Series from the last successful scrape (to mark stale when gone).
    pub(crate) last_series: HashSet<SeriesId>,
    /// Series text of a line (`name{labels}`) → its series (`None`: not
    /// needed by any rule), so known lines skip label parsing.
    pub(crate) cache: HashMap<String, Option<SeriesId>>,
}

/// A rule group and its schedule.
#[derive(Debug, Clone)]
pub struct ScheduledGroup {
    /// The group.
    pub group: RuleGroup,
    /// When it runs next (ms).
    pub next_eval: i64,
}

/// Counters and figures for `/metrics`.
#[derive(Debug, Clone, Default)]
pub struct Stats {
    /// Scrapes attempted, by job.
    pub scrapes: BTreeMap<String, u64>,
    /// Failed scrapes, by job.
    pub scrape_failures: BTreeMap<String, u64>,
    /// Samples ingested from scrapes.
    pub samples_ingested: u64,
    /// Samples dropped because no rule reads their metric.
    pub samples_not_needed: u64,
    /// Group evaluations, by `file;group`.
    pub group_evals: BTreeMap<String, u64>,
    /// Failed rule evaluations, by `file;group`.
    pub rule_failures: BTreeMap<String, u64>,
    /// Total seconds spent evaluating rules.
    pub eval_seconds_total: f64,
    /// Alerts handed to the sink.
    pub alerts_sent: u64,
}

/// Everything the alerter holds in memory.
pub struct Engine {
    /// Series.
    pub storage: Storage,
    /// Rule groups with their schedule.
    pub groups: Vec<ScheduledGroup>,
    /// Targets by `job` + URL.
    pub targets: Vec<TargetState>,
    /// External labels, URL, window mode.
    pub env: EvalEnv,
    /// `--rules.alert.resend-delay`, ms.
    pub resend_delay_ms: i64,
    /// How far back samples are kept, ms (the longest per-metric window).
    pub retention_ms: i64,
    /// Per-metric windows.
    pub retention: Retention,
    /// Metric names the rules read (`None`: keep every series).
    pub needed_names: Option<HashSet<String>>,
    /// Counters.
    pub stats: Stats,
    /// Real-time schedule: when set, every target is scraped and every group
    /// evaluated on the grid `anchor + k × interval` (ms), so a group's
    /// evaluation falls in the same round as the scrapes that feed it
    /// whenever its interval is a multiple of theirs. `None` (manual
    /// clock): whatever is configured is due at once.
    pub schedule_anchor: Option<i64>,
    /// The configuration in force (the notifier reads `route`, `receivers`
    /// and `inhibit_rules` from it after each reload).
    pub config: crate::config::Config,
    last_truncate: i64,
    sink: Arc<dyn AlertSink>,
}

/// `file;group`, the `rule_group` label Prometheus uses.
pub fn group_key(g: &RuleGroup) -> String {
    format!("{};{}", g.file, g.name)
}

/// Millisecond timestamp as UTC time.
pub fn to_datetime(ms: i64) -> DateTime<Utc> {
    Utc.timestamp_millis_opt(ms).single().unwrap_or_default()
}

impl Engine {
    /// An engine for a loaded configuration, starting at `now`.
    pub fn new(
        loaded: Loaded,
        env: EvalEnv,
        resend_delay_ms: i64,
        sink: Arc<dyn AlertSink>,
        now: i64,
    ) -> Self {
        let mut engine = Self {
            storage: Storage::new(),
            groups: Vec::new(),
            targets: Vec::new(),
            env,
            resend_delay_ms,
            retention_ms: DEFAULT_LOOKBACK_MS,
            retention: Retention::default(),
            needed_names: None,
            stats: Stats::default(),
            schedule_anchor: None,
            config: crate::config::Config::default(),
            last_truncate: now,
            sink,
        };
        engine.apply(loaded, now);
        engine
    }

    /// Swaps in a new configuration: alert state carries over for unchanged
    /// rules, removed targets' series are marked stale.
    pub fn apply(&mut self, loaded: Loaded, now: i64) {
        self.env.external_labels = loaded
            .config
            .global
            .external_labels
            .clone()
            .into_iter()
            .collect();
        self.config = loaded.config.clone();
        let mut old_groups: HashMap<String, RuleGroup> = self
            .groups
            .drain(..)
            .map(|g| (group_key(&g.group), g.group))
            .collect();
        self.groups = loaded
            .groups
            .into_iter()
            .map(|mut g| {
                if let Some(old) = old_groups.remove(&group_key(&g)) {
                    g.copy_state_from(&old);
                }
                ScheduledGroup {
                    next_eval: self.first_slot(now, g.interval_ms, g.last_evaluation),
                    group: g,
                }
            })
            .collect();
        let mut old_targets: HashMap<(String, String), TargetState> = self
            .targets
            .drain(..)
            .map(|t| ((t.target.job.clone(), t.target.url.clone()), t))
            .collect();
        for t in loaded.targets {
            let state = match old_targets.remove(&(t.job.clone(), t.url.clone())) {
                Some(mut old) => {
                    if self.schedule_anchor.is_some() {
                        old.next_scrape = self.first_slot(now, t.interval_ms, old.last_scrape);
                    }
                    old.target = t;
                    old.cache.clear();
                    old
                }
                None => TargetState {
                    next_scrape: self.first_slot(now, t.interval_ms, None),
                    target: t,
                    health: Health::Unknown,
                    last_error: String::new(),
                    last_scrape: None,
                    last_duration: 0.0,
                    last_series: HashSet::new(),
                    cache: HashMap::new(),
                },
            };
            self.targets.push(state);
        }
        for gone in old_targets.into_values() {
            for id in &gone.last_series {
                self.storage.mark_stale(*id, now);
            }
            for s in ingest::report_series(&gone.target).iter() {
                self.storage.append(s, now, stale_marker());
            }
        }
        self.plan_retention();
    }

    /// Computes what the rules can read: per metric, the longest range (plus
    /// offset) of its range selectors; the newest sample of every series is
    /// kept for the 5m lookback; and the metric names themselves (if every
    /// selector names one), so other metrics are not stored at all.
    fn plan_retention(&mut self) {
        let mut per_name: HashMap<String, i64> = HashMap::new();
        let mut longest = DEFAULT_LOOKBACK_MS;
        let mut all = false;
        for g in &self.groups {
            for r in &g.group.rules {
                let (range, offset) = lookback_needs(r.expr());
                longest = longest.max(range).max(offset + DEFAULT_LOOKBACK_MS);
                for (name, window) in crate::promql::selector_windows(r.expr(), DEFAULT_LOOKBACK_MS)
                {
                    match name {
                        Some(n) => {
                            let w = per_name.entry(n).or_default();
                            *w = (*w).max(window);
                        }
                        None => all = true,
                    }
                }
                per_name.entry(r.name().to_string()).or_default();
            }
        }
        for n in ["ALERTS", "ALERTS_FOR_STATE"] {
            per_name.entry(n.to_string()).or_default();
        }
        let max_interval = self
            .groups
            .iter()
            .map(|g| g.group.interval_ms)
            .max()
            .unwrap_or(0);
        // One evaluation interval of slack so a window is full when evaluated late.
        for w in per_name.values_mut() {
            *w += max_interval;
        }
        self.retention_ms = longest + max_interval;
        self.needed_names = (!all).then(|| per_name.keys().cloned().collect());
        self.retention = Retention {
            default_ms: if all { self.retention_ms } else { 0 },
            per_name,
            lookback_ms: DEFAULT_LOOKBACK_MS,
        };
    }

    pub(crate) fn needed(&self, labels: &Labels) -> bool {
        match &self.needed_names {
            None => true,
            Some(n) => labels.get(METRIC_NAME).is_some_and(|name| n.contains(name)),
        }
    }

    /// Runs every group due at `now`, sends alerts, trims old samples.
    pub fn evaluate_due(&mut self, now: i64) {
        for i in 0..self.groups.len() {
            if !self.take_due_group(i, now) {
                continue;
            }
            let key = group_key(&self.groups[i].group);
            let failures = self.groups[i].group.eval(now, &mut self.storage, &self.env);
            *self.stats.group_evals.entry(key.clone()).or_default() += 1;
            *self.stats.rule_failures.entry(key).or_default() += failures as u64;
            self.stats.eval_seconds_total += self.groups[i].group.evaluation_seconds;
            self.send_alerts(i, now);
        }
        if now - self.last_truncate >= 10_000 {
            self.storage.truncate(now, &self.retention);
            self.last_truncate = now;
        }
    }

    /// Replaces the alert sink.
    pub fn set_sink(&mut self, sink: Arc<dyn AlertSink>) {
        self.sink = sink;
    }

    fn send_alerts(&mut self, gi: usize, now: i64) {
        let delta = self.resend_delay_ms.max(self.groups[gi].group.interval_ms);
        let mut batch = Vec::new();
        let external = self.env.external_labels.clone();
        let url = self.env.external_url.clone();
        for rule in self.groups[gi].group.rules.iter_mut() {
            let Rule::Alerting(a) = rule else { continue };
            let generator_url = generator_url(&url, &a.expr_text);
            for alert in a.active.values_mut() {
                if !alert.needs_sending(now, self.resend_delay_ms) {
                    continue;
                }
                alert.last_sent_at = Some(now);
                alert.valid_until = now + 4 * delta;
                let mut labels = alert.labels.clone();
                for (k, v) in &external {
                    labels.entry(k.clone()).or_insert_with(|| v.clone());
                }
                batch.push(PostableAlert {
                    labels,
                    annotations: alert.annotations.clone(),
                    starts_at: to_datetime(alert.fired_at.unwrap_or(alert.active_at)),
                    ends_at: to_datetime(alert.resolved_at.unwrap_or(alert.valid_until)),
                    generator_url: generator_url.clone(),
                });
            }
        }
        if !batch.is_empty() {
            self.stats.alerts_sent += batch.len() as u64;
            self.sink.send(batch);
        }
    }

    /// Pending and firing alerts of every rule, for the API and `/metrics`.
    pub fn active_alerts(&self) -> Vec<(&str, &crate::rules::Alert)> {
        let mut out = Vec::new();
        for g in &self.groups {
            for r in &g.group.rules {
                if let Rule::Alerting(a) = r {
                    out.extend(a.pending_or_firing().map(|x| (a.name.as_str(), x)));
                }
            }
        }
        out
    }

    /// Number of alerts in `state`.
    pub fn count_alerts(&self, state: AlertState) -> usize {
        self.active_alerts()
            .iter()
            .filter(|(_, a)| a.state == state)
            .count()
    }
}

/// Prometheus's link to an expression in its graph page.
pub fn generator_url(base: &str, expr: &str) -> String {
    let encoded: String = url_encode(expr);
    format!(
        "{}/graph?g0.expr={encoded}&g0.tab=1",
        base.trim_end_matches('/')
    )
}

fn url_encode(s: &str) -> String {
    let mut out = String::new();
    for b in s.bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                out.push(b as char)
            }
            b' ' => out.push('+'),
            _ => out.push_str(&format!("%{b:02X}")),
        }
    }
    out
}
