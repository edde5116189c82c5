//! `pressure`: pressure stall information totals from `/proc/pressure/*`.
//!
//! Parsed by hand: procfs-core has types for cpu, io and memory but not irq,
//! and one parser for the shared `some|full … total=<µs>` format covers all.

use std::path::PathBuf;

use anyhow::{anyhow, Result};

use super::{read, under, Collector};
use crate::metrics::MetricSet;
use crate::settings::Config;

/// Reads `/proc/pressure/{cpu,io,memory,irq}`.
pub struct PressureCollector {
    dir: PathBuf,
}

/// Builds the collector.
pub fn build(config: &Config) -> Result<Box<dyn Collector>> {
    Ok(Box::new(PressureCollector {
        dir: under(&config.procfs, "pressure"),
    }))
}

/// The `total=` of the `some` or `full` line, in seconds.
fn total_seconds(text: &str, kind: &str) -> Option<f64> {
    let line = text.lines().find(|l| l.starts_with(kind))?;
    let total = line
        .split_whitespace()
        .find_map(|f| f.strip_prefix("total="))?;
    Some(total.parse::<u64>().ok()? as f64 / 1000.0 / 1000.0)
}

impl Collector for PressureCollector {
    fn update(&self, out: &mut MetricSet) -> Result<()> {
        // (resource, line, metric, help); irq only has a `full` line and only
        // exists on kernels built with CONFIG_IRQ_TIME_ACCOUNTING.
        const ROWS: [(&str, &str, &str, &str); 6] = [
            (
                "cpu",
                "some",
                "node_pressure_cpu_waiting_seconds_total",
                "Total time in seconds that processes have waited for CPU time",
            ),
            (
                "io",
                "some",
                "node_pressure_io_waiting_seconds_total",
                "Total time in seconds that processes have waited due to IO congestion",
            ),
            (
                "io",
                "full",
                "node_pressure_io_stalled_seconds_total",
                "Total time in seconds no process could make progress due to IO congestion",
            ),
            (
                "memory",
                "some",
                "node_pressure_memory_waiting_seconds_total",
                "Total time in seconds that processes have waited for memory",
            ),
            (
                "memory",
                "full",
                "node_pressure_memory_stalled_seconds_total",
                "Total time in seconds no process could make progress due to memory congestion",
            ),
            (
                "irq",
                "full",
                "node_pressure_irq_stalled_seconds_total",
                "Total time in seconds no process could make progress due to IRQ congestion",
            ),
        ];
        let mut texts = Vec::with_capacity(4);
        for res in ["cpu", "io", "memory", "irq"] {
            let path = self.dir.join(res);
            let text = if res == "irq" {
                // PSI irq is optional (CONFIG_IRQ_TIME_ACCOUNTING): its
                // absence is normal, so no error value is even built.
                super::read_file(&path).ok()
            } else {
                Some(read(&path)?)
            };
            texts.push((res, text));
        }
        for (res, kind, name, help) in ROWS {
            let Some((_, Some(text))) = texts.iter().find(|(r, _)| *r == res) else {
                continue;
            };
            let v = total_seconds(text, kind)
                .ok_or_else(|| anyhow!("no {kind} total in pressure/{res}"))?;
            out.counter(name, help, v);
        }
        Ok(())
    }
}
