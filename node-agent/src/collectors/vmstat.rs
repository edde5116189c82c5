//! `vmstat`: selected `/proc/vmstat` fields (`--collector.vmstat.fields`) as
//! untyped `node_vmstat_<field>`, like node_exporter.
//!
//! Parsed by hand: procfs-core's `VmStat` builds a map of all ~180 fields
//! each scrape; filtering while reading keeps only the handful exported.

use std::path::PathBuf;

use anyhow::Result;
use regex::Regex;

use super::{read, regex, under, Collector};
use crate::config::Config;
use crate::metrics::{MetricSet, MetricType};

/// Reads `/proc/vmstat`.
pub struct VmstatCollector {
    path: PathBuf,
    fields: Regex,
}

/// Builds the collector.
pub fn build(config: &Config) -> Result<Box<dyn Collector>> {
    Ok(Box::new(VmstatCollector {
        path: under(&config.procfs, "vmstat"),
        fields: regex("collector.vmstat.fields", &config.vmstat_fields)?,
    }))
}

impl Collector for VmstatCollector {
    fn update(&self, out: &mut MetricSet) -> Result<()> {
        let text = read(&self.path)?;
        for line in text.lines() {
            let Some((key, value)) = line.split_once(' ') else {
                continue;
            };
            if !self.fields.is_match(key) {
                continue;
            }
            let Ok(value) = value.trim().parse::<f64>() else {
                continue;
            };
            out.push(
                &format!("node_vmstat_{key}"),
                &format!("/proc/vmstat information field {key}."),
                MetricType::Untyped,
                &[],
                value,
            );
        }
        Ok(())
    }
}
