//! `loadavg`: 1, 5 and 15 minute load averages from `/proc/loadavg`.
//!
//! Parsed by hand: procfs-core's `LoadAverage` stores `f32`, which would turn
//! `0.21` into `0.2099999934…` where node_exporter reports `0.21`.

use std::path::PathBuf;

use anyhow::{anyhow, Result};

use super::{read, under, Collector};
use crate::metrics::MetricSet;
use crate::settings::Config;

/// Reads `/proc/loadavg`.
pub struct LoadavgCollector {
    path: PathBuf,
}

/// Builds the collector.
pub fn build(config: &Config) -> Result<Box<dyn Collector>> {
    Ok(Box::new(LoadavgCollector {
        path: under(&config.procfs, "loadavg"),
    }))
}

impl Collector for LoadavgCollector {
    fn update(&self, out: &mut MetricSet) -> Result<()> {
        let text = read(&self.path)?;
        let mut fields = text.split_whitespace();
        for (name, help) in [
            ("node_load1", "1m load average."),
            ("node_load5", "5m load average."),
            ("node_load15", "15m load average."),
        ] {
            let v: f64 = fields
                .next()
                .and_then(|f| f.parse().ok())
                .ok_or_else(|| anyhow!("malformed {}: {text:?}", self.path.display()))?;
            out.gauge(name, help, v);
        }
        Ok(())
    }
}
