//! `filefd`: allocated and maximum file handles from `/proc/sys/fs/file-nr`
//! (a three-number file procfs-core has no type for).

use std::path::PathBuf;

use anyhow::{anyhow, Result};

use super::{read, under, Collector};
use crate::metrics::MetricSet;
use crate::settings::Config;

/// Reads `/proc/sys/fs/file-nr`.
pub struct FilefdCollector {
    path: PathBuf,
}

/// Builds the collector.
pub fn build(config: &Config) -> Result<Box<dyn Collector>> {
    Ok(Box::new(FilefdCollector {
        path: under(&config.procfs, "sys/fs/file-nr"),
    }))
}

impl Collector for FilefdCollector {
    fn update(&self, out: &mut MetricSet) -> Result<()> {
        let text = read(&self.path)?;
        let v: Vec<f64> = text
            .split_whitespace()
            .map(|f| f.parse())
            .collect::<Result<_, _>>()?;
        let [allocated, _, maximum] = v[..] else {
            return Err(anyhow!("malformed {}: {text:?}", self.path.display()));
        };
        out.gauge(
            "node_filefd_allocated",
            "File descriptor statistics: allocated.",
            allocated,
        );
        out.gauge(
            "node_filefd_maximum",
            "File descriptor statistics: maximum.",
            maximum,
        );
        Ok(())
    }
}
