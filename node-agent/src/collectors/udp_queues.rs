//! `udp_queues`: bytes queued in UDP sockets' send and receive buffers,
//! summed over the sockets of `/proc/net/udp` and `/proc/net/udp6`.
//!
//! Parsed by hand: procfs-core's `UdpNetEntries` refuses a socket state
//! other than established or closed (node_exporter's fixture has a
//! listening one) and decodes addresses this collector does not use.
//! As node_exporter: a missing table (no IPv6, say) is skipped; with
//! neither the collector reports no data.

use std::path::{Path, PathBuf};

use anyhow::{anyhow, Context, Result};

use super::{read_file, under, Collector, NoData};
use crate::metrics::{MetricSet, MetricType};
use crate::settings::Config;

/// Reads `/proc/net/udp{,6}`.
pub struct UdpQueuesCollector {
    tables: [(&'static str, PathBuf); 2],
}

/// Builds the collector.
pub fn build(config: &Config) -> Result<Box<dyn Collector>> {
    Ok(Box::new(UdpQueuesCollector {
        tables: [
            ("v4", under(&config.procfs, "net/udp")),
            ("v6", under(&config.procfs, "net/udp6")),
        ],
    }))
}

/// (tx, rx) summed over a table's sockets (after the header line). A row
/// has at least 10 columns, the fifth `tx_queue:rx_queue` in hex.
fn sum_queues(text: &str) -> Result<(u64, u64)> {
    let (mut tx, mut rx) = (0, 0);
    for line in text.lines().skip(1).filter(|l| !l.trim().is_empty()) {
        let fields: Vec<&str> = line.split_whitespace().collect();
        let queues = (fields.len() >= 10)
            .then(|| fields[4].split_once(':'))
            .flatten()
            .ok_or_else(|| anyhow!("bad socket row {line:?}"))?;
        let hex = |s| u64::from_str_radix(s, 16).with_context(|| format!("bad queue in {line:?}"));
        tx += hex(queues.0)?;
        rx += hex(queues.1)?;
    }
    Ok((tx, rx))
}

/// The table's (tx, rx), or `None` when it is absent.
fn queued(path: &Path) -> Result<Option<(u64, u64)>> {
    let text = match read_file(path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(e).with_context(|| format!("Failed to read {}", path.display())),
    };
    sum_queues(&text)
        .map(Some)
        .with_context(|| format!("couldn't get udp queued bytes from {}", path.display()))
}

impl Collector for UdpQueuesCollector {
    fn update(&self, out: &mut MetricSet) -> Result<()> {
        let mut found = false;
        for (ip, path) in &self.tables {
            let Some((tx, rx)) = queued(path)? else {
                continue;
            };
            found = true;
            for (queue, v) in [("tx", tx), ("rx", rx)] {
                out.push(
                    "node_udp_queues",
                    "Number of allocated memory in the kernel for UDP datagrams in bytes.",
                    MetricType::Gauge,
                    &[("ip", ip), ("queue", queue)],
                    v as f64,
                );
            }
        }
        if found {
            Ok(())
        } else {
            Err(NoData("neither /proc/net/udp nor /proc/net/udp6 exists".into()).into())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sums_both_queues_and_skips_a_missing_table() {
        let dir = tempfile::tempdir().unwrap();
        let udp = dir.path().join("udp");
        std::fs::write(
            &udp,
            "   sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode ref pointer drops\n\
             0: 00000000:0016 00000000:0000 0A 00000015:00000000 00:00000000 00000000     0        0 2740 1 ffff88003d3af3c0 100 0 0 10 0\n\
             1: 0100007F:0035 00000000:0000 07 00000001:00000200 00:00000000 00000000   101        0 2741 2 ffff88003d3af3c1 0\n",
        )
        .unwrap();
        assert_eq!(queued(&udp).unwrap(), Some((0x16, 0x200)));
        assert_eq!(queued(&dir.path().join("udp6")).unwrap(), None);
        assert!(sum_queues("header\n 0: 00000000:0016 00000000:0000 07 0015\n").is_err());
    }
}
