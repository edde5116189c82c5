//! The alerter's own `/metrics`: scrape, evaluation, storage, reload and
//! process figures, plus `ALERTS` and `ALERTS_FOR_STATE`.

use std::fmt::Write;

use crate::engine::{group_key, Engine};
use crate::rules::AlertState;
use crate::shared::ReloadStats;
use crate::storage::Labels;

fn label_str(labels: &[(&str, &str)]) -> String {
    if labels.is_empty() {
        return String::new();
    }
    let inner: Vec<String> = labels
        .iter()
        .map(|(k, v)| format!("{k}=\"{}\"", escape(v)))
        .collect();
    format!("{{{}}}", inner.join(","))
}

fn escape(v: &str) -> String {
    v.replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

struct Out(String);

impl Out {
    fn family(&mut self, name: &str, kind: &str, help: &str) {
        let _ = writeln!(self.0, "# HELP {name} {help}\n# TYPE {name} {kind}");
    }
    fn sample(&mut self, name: &str, labels: &[(&str, &str)], v: f64) {
        let _ = writeln!(
            self.0,
            "{name}{} {}",
            label_str(labels),
            crate::gofmt::format_g(v, None)
        );
    }
}

/// Reads `/proc/self` for resident memory (bytes) and CPU time (seconds).
pub fn process_figures() -> (f64, f64) {
    let page = 4096.0;
    let rss = std::fs::read_to_string("/proc/self/statm")
        .ok()
        .and_then(|s| {
            s.split_whitespace()
                .nth(1)
                .and_then(|p| p.parse::<f64>().ok())
        })
        .map(|p| p * page)
        .unwrap_or(0.0);
    let cpu = servekit::procstat::read("/proc/self/stat")
        .map(|stat| servekit::procstat::cpu_seconds(&stat))
        .unwrap_or(0.0);
    (rss, cpu)
}

/// Renders the exposition text.
pub fn render(engine: &Engine, reload: &ReloadStats, start_time_s: f64) -> String {
    let mut o = Out(String::new());
    render_scrapes(&mut o, engine);
    render_rules(&mut o, engine);
    render_state(&mut o, engine, reload);
    render_process(&mut o, start_time_s);
    render_alerts(&mut o, engine);
    o.0
}

fn render_scrapes(o: &mut Out, engine: &Engine) {
    o.family(
        "alerter_scrapes_total",
        "counter",
        "Scrapes attempted, by job.",
    );
    for (job, n) in &engine.stats.scrapes {
        o.sample("alerter_scrapes_total", &[("job", job)], *n as f64);
    }
    o.family(
        "alerter_scrape_failures_total",
        "counter",
        "Scrapes that failed (target down, timeout, bad body), by job.",
    );
    for job in engine.stats.scrapes.keys() {
        let n = engine.stats.scrape_failures.get(job).copied().unwrap_or(0);
        o.sample("alerter_scrape_failures_total", &[("job", job)], n as f64);
    }
    o.family(
        "alerter_scrape_samples_ingested_total",
        "counter",
        "Scraped samples stored because a rule reads them.",
    );
    o.sample(
        "alerter_scrape_samples_ingested_total",
        &[],
        engine.stats.samples_ingested as f64,
    );
    o.family(
        "alerter_scrape_samples_skipped_total",
        "counter",
        "Scraped samples not stored because no rule reads their metric.",
    );
    o.sample(
        "alerter_scrape_samples_skipped_total",
        &[],
        engine.stats.samples_not_needed as f64,
    );
    o.family("alerter_targets", "gauge", "Configured targets.");
    o.sample("alerter_targets", &[], engine.targets.len() as f64);
}

fn render_rules(o: &mut Out, engine: &Engine) {
    o.family(
        "alerter_rule_group_evaluations_total",
        "counter",
        "Rule group evaluations, by rule_group (file;group).",
    );
    o.family(
        "alerter_rule_evaluation_failures_total",
        "counter",
        "Rule evaluations that failed, by rule_group.",
    );
    o.family(
        "alerter_rule_group_last_duration_seconds",
        "gauge",
        "Duration of the last evaluation of the group.",
    );
    o.family(
        "alerter_rule_group_interval_seconds",
        "gauge",
        "Evaluation interval of the group.",
    );
    o.family("alerter_rule_group_rules", "gauge", "Rules in the group.");
    for g in &engine.groups {
        let key = group_key(&g.group);
        let l = [("rule_group", key.as_str())];
        let evals = engine.stats.group_evals.get(&key).copied().unwrap_or(0);
        let fails = engine.stats.rule_failures.get(&key).copied().unwrap_or(0);
        o.sample("alerter_rule_group_evaluations_total", &l, evals as f64);
        o.sample("alerter_rule_evaluation_failures_total", &l, fails as f64);
        o.sample(
            "alerter_rule_group_last_duration_seconds",
            &l,
            g.group.evaluation_seconds,
        );
        o.sample(
            "alerter_rule_group_interval_seconds",
            &l,
            g.group.interval_ms as f64 / 1000.0,
        );
        o.sample("alerter_rule_group_rules", &l, g.group.rules.len() as f64);
    }
    o.family(
        "alerter_rule_evaluation_seconds_total",
        "counter",
        "Time spent evaluating rules.",
    );
    o.sample(
        "alerter_rule_evaluation_seconds_total",
        &[],
        engine.stats.eval_seconds_total,
    );
}

fn render_state(o: &mut Out, engine: &Engine, reload: &ReloadStats) {
    o.family("alerter_alerts", "gauge", "Alerts by state.");
    for state in [AlertState::Pending, AlertState::Firing] {
        o.sample(
            "alerter_alerts",
            &[("state", state.as_str())],
            engine.count_alerts(state) as f64,
        );
    }
    o.family(
        "alerter_notifications_sent_total",
        "counter",
        "Alerts handed to the notifier sink (firing, re-sent and resolved).",
    );
    o.sample(
        "alerter_notifications_sent_total",
        &[],
        engine.stats.alerts_sent as f64,
    );
    o.family("alerter_storage_series", "gauge", "Series held in memory.");
    o.sample(
        "alerter_storage_series",
        &[],
        engine.storage.series_count() as f64,
    );
    o.family(
        "alerter_storage_samples",
        "gauge",
        "Samples held in memory.",
    );
    o.sample(
        "alerter_storage_samples",
        &[],
        engine.storage.sample_count() as f64,
    );
    o.family(
        "alerter_storage_retention_seconds",
        "gauge",
        "How far back samples are kept: the rules' longest range plus the 5m lookback.",
    );
    o.sample(
        "alerter_storage_retention_seconds",
        &[],
        engine.retention_ms as f64 / 1000.0,
    );
    o.family(
        "alerter_config_last_reload_successful",
        "gauge",
        "Whether the last configuration reload succeeded.",
    );
    o.sample(
        "alerter_config_last_reload_successful",
        &[],
        if reload.last_ok { 1.0 } else { 0.0 },
    );
    o.family(
        "alerter_config_last_reload_success_timestamp_seconds",
        "gauge",
        "When the configuration was last loaded successfully.",
    );
    o.sample(
        "alerter_config_last_reload_success_timestamp_seconds",
        &[],
        reload.last_success_s,
    );
    o.family(
        "alerter_config_reloads_total",
        "counter",
        "Reload attempts (SIGHUP or POST /-/reload).",
    );
    o.sample("alerter_config_reloads_total", &[], reload.attempts as f64);
    o.family(
        "alerter_config_reload_failures_total",
        "counter",
        "Reloads rejected because the new files were invalid.",
    );
    o.sample(
        "alerter_config_reload_failures_total",
        &[],
        reload.failures as f64,
    );
}

fn render_process(o: &mut Out, start_time_s: f64) {
    let (rss, cpu) = process_figures();
    o.family(
        "process_resident_memory_bytes",
        "gauge",
        "Resident memory size in bytes.",
    );
    o.sample("process_resident_memory_bytes", &[], rss);
    o.family(
        "process_cpu_seconds_total",
        "counter",
        "User and system CPU time spent in seconds.",
    );
    o.sample("process_cpu_seconds_total", &[], cpu);
    o.family(
        "process_start_time_seconds",
        "gauge",
        "Start time of the process since unix epoch in seconds.",
    );
    o.sample("process_start_time_seconds", &[], start_time_s);
}

fn render_alerts(o: &mut Out, engine: &Engine) {
    let alerts = engine.active_alerts();
    o.family(
        "ALERTS",
        "gauge",
        "Pending and firing alerts, as Prometheus writes them.",
    );
    for (_, a) in &alerts {
        let mut l: Labels = a.labels.clone();
        l.insert("alertstate".into(), a.state.as_str().into());
        let pairs: Vec<(&str, &str)> = l.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
        o.sample("ALERTS", &pairs, 1.0);
    }
    o.family(
        "ALERTS_FOR_STATE",
        "gauge",
        "When each pending or firing alert became active (unix seconds).",
    );
    for (_, a) in &alerts {
        let pairs: Vec<(&str, &str)> = a
            .labels
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect();
        o.sample("ALERTS_FOR_STATE", &pairs, (a.active_at / 1000) as f64);
    }
}
