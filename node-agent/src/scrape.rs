//! One scrape: run every enabled collector, time it, and report
//! `node_scrape_collector_duration_seconds` / `node_scrape_collector_success`.

use std::time::Instant;

use anyhow::Result;

use crate::collectors::{Collector, COLLECTORS};
use crate::config::Config;
use crate::metrics::{MetricSet, MetricType};
use crate::process::ProcessMetrics;

/// The enabled collectors, built once at start-up.
pub struct Scraper {
    collectors: Vec<(&'static str, Box<dyn Collector>)>,
    /// `None` with `--web.disable-exporter-metrics`.
    process: Option<ProcessMetrics>,
}

impl Scraper {
    /// Builds every collector enabled in `config`; a bad flag (e.g. an
    /// invalid regex) is an error naming the flag.
    pub fn new(config: &Config) -> Result<Self> {
        let mut collectors = Vec::new();
        for spec in COLLECTORS {
            if config.collectors.contains(&spec.name) {
                collectors.push((spec.name, (spec.build)(config)?));
            }
        }
        let mut scraper = Self::from_collectors(collectors);
        if config.disable_exporter_metrics {
            scraper.process = None;
        }
        Ok(scraper)
    }

    /// A scraper over explicitly built collectors (tests inject their own).
    pub fn from_collectors(collectors: Vec<(&'static str, Box<dyn Collector>)>) -> Self {
        Self {
            collectors,
            process: Some(ProcessMetrics::new()),
        }
    }

    /// Runs all collectors; a failing one is logged and reported with
    /// success 0, the rest of the scrape goes on.
    pub fn collect(&self) -> MetricSet {
        let mut out = MetricSet::new();
        for (name, collector) in &self.collectors {
            let start = Instant::now();
            let result = collector.update(&mut out);
            let elapsed = start.elapsed().as_secs_f64();
            if let Err(e) = &result {
                let err = format!("{e:#}");
                let duration = format!("{elapsed}");
                crate::log::log(
                    crate::log::Level::Error,
                    "collector failed",
                    &[
                        ("name", name),
                        ("duration_seconds", &duration),
                        ("err", &err),
                    ],
                );
            }
            out.push(
                "node_scrape_collector_duration_seconds",
                "node_exporter: Duration of a collector scrape.",
                MetricType::Gauge,
                &[("collector", name)],
                elapsed,
            );
            out.push(
                "node_scrape_collector_success",
                "node_exporter: Whether a collector succeeded.",
                MetricType::Gauge,
                &[("collector", name)],
                if result.is_ok() { 1.0 } else { 0.0 },
            );
        }
        let process = self.process.as_ref().map(|p| p.collect(&mut out));
        if let Some(Err(e)) = process {
            let err = format!("{e:#}");
            crate::log::log(
                crate::log::Level::Error,
                "process metrics failed",
                &[("err", &err)],
            );
        }
        out
    }

    /// One scrape in the text exposition format.
    pub fn scrape(&self) -> String {
        self.collect().render()
    }
}
