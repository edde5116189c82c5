//! `entropy`: available entropy and pool size from
//! `/proc/sys/kernel/random/` (single-number files procfs-core has no type for).

use std::path::PathBuf;

use anyhow::{Context, Result};

use super::{read_attr, under, Collector};
use crate::metrics::MetricSet;
use crate::settings::Config;

/// Reads the kernel's random pool figures.
pub struct EntropyCollector {
    dir: PathBuf,
}

/// Builds the collector.
pub fn build(config: &Config) -> Result<Box<dyn Collector>> {
    Ok(Box::new(EntropyCollector {
        dir: under(&config.procfs, "sys/kernel/random"),
    }))
}

impl EntropyCollector {
    fn number(&self, file: &str) -> Result<f64> {
        let path = self.dir.join(file);
        let text =
            read_attr(&path).with_context(|| format!("Failed to read {}", path.display()))?;
        text.trim()
            .parse()
            .with_context(|| format!("malformed {}: {text:?}", path.display()))
    }
}

impl Collector for EntropyCollector {
    fn update(&self, out: &mut MetricSet) -> Result<()> {
        out.gauge(
            "node_entropy_available_bits",
            "Bits of available entropy.",
            self.number("entropy_avail")?,
        );
        out.gauge(
            "node_entropy_pool_size_bits",
            "Bits of entropy pool.",
            self.number("poolsize")?,
        );
        Ok(())
    }
}
