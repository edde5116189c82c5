//! `stat`: boot time, context switches, forks, interrupts and process counts
//! from `/proc/stat`.
//!
//! Parsed by hand: procfs-core's `KernelStats` does not read the `intr` line.

use std::path::PathBuf;

use anyhow::Result;

use super::{read, under, Collector};
use crate::metrics::MetricSet;
use crate::settings::Config;

/// Reads the non-CPU lines of `/proc/stat`.
pub struct StatCollector {
    stat: PathBuf,
}

/// Builds the collector.
pub fn build(config: &Config) -> Result<Box<dyn Collector>> {
    Ok(Box::new(StatCollector {
        stat: under(&config.procfs, "stat"),
    }))
}

fn first_number(line: &str, key: &str) -> Option<f64> {
    let rest = line.strip_prefix(key)?.strip_prefix(' ')?;
    rest.split_whitespace().next()?.parse().ok()
}

impl Collector for StatCollector {
    fn update(&self, out: &mut MetricSet) -> Result<()> {
        let text = read(&self.stat)?;
        for line in text.lines() {
            if let Some(v) = first_number(line, "intr") {
                out.counter("node_intr_total", "Total number of interrupts serviced.", v);
            } else if let Some(v) = first_number(line, "ctxt") {
                out.counter(
                    "node_context_switches_total",
                    "Total number of context switches.",
                    v,
                );
            } else if let Some(v) = first_number(line, "btime") {
                out.gauge("node_boot_time_seconds", "Node boot time, in unixtime.", v);
            } else if let Some(v) = first_number(line, "processes") {
                out.counter("node_forks_total", "Total number of forks.", v);
            } else if let Some(v) = first_number(line, "procs_running") {
                out.gauge(
                    "node_procs_running",
                    "Number of processes in runnable state.",
                    v,
                );
            } else if let Some(v) = first_number(line, "procs_blocked") {
                out.gauge(
                    "node_procs_blocked",
                    "Number of processes blocked waiting for I/O to complete.",
                    v,
                );
            }
        }
        Ok(())
    }
}
