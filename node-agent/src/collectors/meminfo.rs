//! `meminfo`: every field of `/proc/meminfo` as `node_memory_<Field>[_bytes]`.
//!
//! Parsed by hand: procfs-core's `Meminfo` is a fixed struct, while
//! node_exporter exports every field the running kernel has (and only those).

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Mutex;

use anyhow::{bail, Result};

use super::{read, under, Collector};
use crate::metrics::MetricSet;
use crate::settings::Config;

/// Reads `/proc/meminfo`.
pub struct MeminfoCollector {
    path: PathBuf,
    /// Help text per metric name, built once (the field set is fixed for a
    /// running kernel).
    help: Mutex<HashMap<String, String>>,
}

/// Builds the collector.
pub fn build(config: &Config) -> Result<Box<dyn Collector>> {
    Ok(Box::new(MeminfoCollector {
        path: under(&config.procfs, "meminfo"),
        help: Mutex::new(HashMap::new()),
    }))
}

/// `(metric name, value)` for each line: `Active(anon):  12 kB` becomes
/// `node_memory_Active_anon_bytes 12288`; unit-less lines keep their name.
pub(crate) fn parse_meminfo(text: &str) -> Vec<(String, f64)> {
    text.lines()
        .filter_map(|line| {
            let (key, rest) = line.split_once(':')?;
            let mut parts = rest.split_whitespace();
            let mut value: f64 = parts.next()?.parse().ok()?;
            let key = key.replace('(', "_").replace(')', "");
            let name = match parts.next() {
                Some("kB") => {
                    value *= 1024.0;
                    format!("node_memory_{key}_bytes")
                }
                _ => format!("node_memory_{key}"),
            };
            Some((name, value))
        })
        .collect()
}

impl Collector for MeminfoCollector {
    fn update(&self, out: &mut MetricSet) -> Result<()> {
        let fields = parse_meminfo(&read(&self.path)?);
        if fields.is_empty() {
            bail!("no fields in {}", self.path.display());
        }
        let mut help = self.help.lock().unwrap_or_else(|e| e.into_inner());
        for (name, value) in fields {
            let text = help.entry(name.clone()).or_insert_with(|| {
                let field = name.trim_start_matches("node_memory_");
                format!("Memory information field {field}.")
            });
            out.gauge(&name, text, value);
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn converts_kb_and_parentheses() {
        let f = parse_meminfo("MemTotal: 2 kB\nActive(anon): 1 kB\nHugePages_Total: 3\nbogus\n");
        assert_eq!(
            f,
            vec![
                ("node_memory_MemTotal_bytes".to_string(), 2048.0),
                ("node_memory_Active_anon_bytes".to_string(), 1024.0),
                ("node_memory_HugePages_Total".to_string(), 3.0),
            ]
        );
    }
}
