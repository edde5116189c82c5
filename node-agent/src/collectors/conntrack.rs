//! `conntrack`: the netfilter connection tracking table's size and limit
//! (`/proc/sys/net/netfilter/nf_conntrack_{count,max}`) and its per-CPU
//! statistics summed over CPUs (`/proc/net/stat/nf_conntrack`, a table of
//! hex numbers procfs-core has no type for).
//!
//! As node_exporter: without the conntrack module the files are absent and
//! the collector reports no data; the count and limit are kept when only
//! the statistics fail.

use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};

use super::{read_attr, read_file, under, Collector, NoData};
use crate::metrics::MetricSet;
use crate::settings::Config;

/// Reads the conntrack files.
pub struct ConntrackCollector {
    count: PathBuf,
    max: PathBuf,
    stat: PathBuf,
}

/// Builds the collector.
pub fn build(config: &Config) -> Result<Box<dyn Collector>> {
    Ok(Box::new(ConntrackCollector {
        count: under(&config.procfs, "sys/net/netfilter/nf_conntrack_count"),
        max: under(&config.procfs, "sys/net/netfilter/nf_conntrack_max"),
        stat: under(&config.procfs, "net/stat/nf_conntrack"),
    }))
}

/// The statistics node_exporter exports: (column, name, help). Columns as
/// in the kernel's `ct_cpu_seq_show`; newer kernels renamed some of the
/// others (`searched` became `clashres`), which are not exported.
const STATS: [(usize, &str, &str); 8] = [
    (2, "found", "Number of searched entries which were successful."),
    (4, "invalid", "Number of packets seen which can not be tracked."),
    (5, "ignore", "Number of packets seen which are already connected to a conntrack entry."),
    (8, "insert", "Number of entries inserted into the list."),
    (9, "insert_failed", "Number of entries for which list insertion was attempted but failed."),
    (10, "drop", "Number of packets dropped due to conntrack failure."),
    (11, "early_drop", "Number of dropped conntrack entries to make room for new ones, if maximum table size was reached."),
    (16, "search_restart", "Number of conntrack table lookups which had to be restarted due to hashtable resizes."),
];

/// Sums each column of `/proc/net/stat/nf_conntrack` over the CPU rows
/// (after the header). A row has 17 columns, or 16 before Linux 2.6.35
/// (no `search_restart`, counted as 0), as procfs reads it.
fn sum_stats(text: &str) -> Result<[u64; 17]> {
    let mut sums = [0u64; 17];
    for line in text.lines().skip(1) {
        let fields = line
            .split_whitespace()
            .map(|f| u64::from_str_radix(f, 16))
            .collect::<Result<Vec<_>, _>>()
            .with_context(|| format!("bad conntrack statistics row {line:?}"))?;
        if !(16..=17).contains(&fields.len()) {
            bail!(
                "conntrack statistics row has {} fields, not 16 or 17: {line:?}",
                fields.len()
            );
        }
        for (sum, v) in sums.iter_mut().zip(fields) {
            *sum += v;
        }
    }
    Ok(sums)
}

/// A one-number file; an absent one means conntrack is not loaded.
fn read_uint(path: &Path) -> Result<f64> {
    match read_attr(path) {
        Ok(text) => Ok(text
            .trim()
            .parse::<u64>()
            .with_context(|| format!("bad number in {}: {text:?}", path.display()))?
            as f64),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Err(NoData(format!(
            "{} is absent: conntrack probably not loaded",
            path.display()
        ))
        .into()),
        Err(e) => Err(e).with_context(|| format!("Failed to read {}", path.display())),
    }
}

impl Collector for ConntrackCollector {
    fn update(&self, out: &mut MetricSet) -> Result<()> {
        out.gauge(
            "node_nf_conntrack_entries",
            "Number of currently allocated flow entries for connection tracking.",
            read_uint(&self.count)?,
        );
        out.gauge(
            "node_nf_conntrack_entries_limit",
            "Maximum size of connection tracking table.",
            read_uint(&self.max)?,
        );
        let text = match read_file(&self.stat) {
            Ok(text) => text,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                return Err(NoData(format!("{} is absent", self.stat.display())).into())
            }
            Err(e) => {
                return Err(e).with_context(|| format!("Failed to read {}", self.stat.display()))
            }
        };
        let sums = sum_stats(&text)?;
        for (column, name, help) in STATS {
            out.gauge(
                &format!("node_nf_conntrack_stat_{name}"),
                help,
                sums[column] as f64,
            );
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sums_columns_over_cpus_and_takes_old_kernels_without_search_restart() {
        let text = "entries searched found new invalid ignore delete delete_list insert insert_failed drop early_drop icmp_error expect_new expect_create expect_delete search_restart
00000021 00000000 00000001 00000000 00000003 0000588a 00000000 00000000 00000000 00000000 00000000 00000000 00000000 00000000 00000000 00000000 00000000
00000021 00000000 00000002 00000000 00000002 000056a4 00000000 00000000 00000000 00000000 00000000 00000010 00000000 00000000 00000000 00000000 00000002
";
        let s = sum_stats(text).unwrap();
        assert_eq!(
            (s[2], s[4], s[5], s[11], s[16]),
            (3, 5, 0x588a + 0x56a4, 16, 2)
        );
        let old = "header\n0 0 7 0 0 0 0 0 0 0 0 0 0 0 0 0\n";
        assert_eq!(sum_stats(old).unwrap()[2], 7);
        assert!(sum_stats("header\n1 2 3\n").is_err());
        assert!(sum_stats("header\nzz 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0\n").is_err());
    }
}
