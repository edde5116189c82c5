//! One scrape: run every enabled collector, time it, and report
//! `node_scrape_collector_duration_seconds` / `node_scrape_collector_success`.

use std::time::Instant;

use anyhow::Result;

use crate::collectors::{Collector, NoData, COLLECTORS};
use crate::metrics::{MetricSet, MetricType};
use crate::process::ProcessMetrics;
use crate::settings::Config;

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
            // A panicking collector (a parser bug on some odd kernel file)
            // counts as a failure like an error: the scrape goes on.
            let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                collector.update(&mut out)
            }))
            .unwrap_or_else(|_| Err(anyhow::anyhow!("collector panicked")));
            let elapsed = start.elapsed().as_secs_f64();
            if let Err(e) = &result {
                let err = format!("{e:#}");
                let duration = format!("{elapsed}");
                let (level, msg) = if e.downcast_ref::<NoData>().is_some() {
                    (crate::log::Level::Debug, "collector returned no data")
                } else {
                    (crate::log::Level::Error, "collector failed")
                };
                crate::log::log(
                    level,
                    msg,
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

#[cfg(test)]
mod tests {
    use super::*;

    struct Broken(bool);

    impl Collector for Broken {
        fn update(&self, out: &mut MetricSet) -> Result<()> {
            if self.0 {
                panic!("bug");
            }
            out.gauge("node_ok", "Fine.", 1.0);
            anyhow::bail!("no data")
        }
    }

    #[test]
    fn failing_and_panicking_collectors_do_not_fail_the_scrape() {
        let s = Scraper::from_collectors(vec![
            ("panics", Box::new(Broken(true))),
            ("fails", Box::new(Broken(false))),
        ]);
        let scrape = crate::parse::parse(&s.scrape()).unwrap();
        for c in ["panics", "fails"] {
            let v = scrape.get("node_scrape_collector_success", &[("collector", c)]);
            assert_eq!(v, Some(0.0), "{c}");
        }
        // What a failing collector wrote before failing is kept, as in node_exporter.
        assert_eq!(scrape.get("node_ok", &[]), Some(1.0));
        assert!(scrape.samples.contains_key("process_cpu_seconds_total"));
    }
}
