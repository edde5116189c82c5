//! `vmstat`: selected `/proc/vmstat` fields (`--collector.vmstat.fields`) as
//! untyped `node_vmstat_<field>`, like node_exporter.
//!
//! Parsed by hand: procfs-core's `VmStat` builds a map of all ~180 fields
//! each scrape; filtering while reading keeps only the handful exported.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Mutex;

use anyhow::Result;
use regex::Regex;

use super::{read, regex, under, Collector};
use crate::metrics::{MetricSet, MetricType};
use crate::settings::Config;

/// Reads `/proc/vmstat`.
pub struct VmstatCollector {
    path: PathBuf,
    fields: Regex,
    /// Per field name: its metric name and help if exported. The field set
    /// is fixed for a running kernel, so the regex runs once per field.
    names: Mutex<HashMap<String, Option<(String, String)>>>,
}

/// Builds the collector.
pub fn build(config: &Config) -> Result<Box<dyn Collector>> {
    Ok(Box::new(VmstatCollector {
        path: under(&config.procfs, "vmstat"),
        fields: regex("collector.vmstat.fields", &config.vmstat_fields)?,
        names: Mutex::new(HashMap::new()),
    }))
}

impl Collector for VmstatCollector {
    fn update(&self, out: &mut MetricSet) -> Result<()> {
        let text = read(&self.path)?;
        let mut names = self.names.lock().unwrap_or_else(|e| e.into_inner());
        for line in text.lines() {
            let Some((key, value)) = line.split_once(' ') else {
                continue;
            };
            if !names.contains_key(key) {
                let plan = self.fields.is_match(key).then(|| {
                    (
                        format!("node_vmstat_{key}"),
                        format!("/proc/vmstat information field {key}."),
                    )
                });
                names.insert(key.to_string(), plan);
            }
            let (Some((name, help)), Ok(value)) = (&names[key], value.trim().parse::<f64>()) else {
                continue;
            };
            out.push(name, help, MetricType::Untyped, &[], value);
        }
        Ok(())
    }
}
