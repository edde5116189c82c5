//! `softnet`: per-CPU packet processing statistics from
//! `/proc/net/softnet_stat`, one row of hex numbers per online CPU
//! (procfs-core has no type for it).
//!
//! As node_exporter 1.12 (and procfs): the `cpu` label is the CPU id the
//! kernel prints in column 13 (Linux 5.14+), else the row number; the
//! columns a kernel lacks are reported as 0. 1.5 exports only the first
//! three families and labels rows by number.

use std::path::PathBuf;

use anyhow::{bail, Context, Result};

use super::{read, under, Collector};
use crate::metrics::{MetricSet, MetricType};
use crate::settings::Config;

/// Reads `/proc/net/softnet_stat`.
pub struct SoftnetCollector {
    path: PathBuf,
}

/// Builds the collector.
pub fn build(config: &Config) -> Result<Box<dyn Collector>> {
    Ok(Box::new(SoftnetCollector {
        path: under(&config.procfs, "net/softnet_stat"),
    }))
}

/// One CPU's row.
#[derive(Debug, Default, PartialEq)]
struct CpuRow {
    cpu: u32,
    processed: u32,
    dropped: u32,
    time_squeezed: u32,
    cpu_collision: u32,
    received_rps: u32,
    flow_limit_count: u32,
    backlog_len: u32,
}

/// Parses the file; a row with fewer than 9 columns (older than Linux
/// 2.6.23) is an error, as in procfs.
fn parse(text: &str) -> Result<Vec<CpuRow>> {
    let mut rows = Vec::new();
    for (index, line) in text.lines().enumerate() {
        let cols = line
            .split_whitespace()
            .map(|c| u32::from_str_radix(c, 16))
            .collect::<Result<Vec<_>, _>>()
            .with_context(|| format!("bad softnet_stat row {line:?}"))?;
        if cols.len() < 9 {
            bail!(
                "softnet_stat row has {} columns, at least 9 expected",
                cols.len()
            );
        }
        let col = |i: usize| cols.get(i).copied().unwrap_or(0);
        rows.push(CpuRow {
            cpu: if cols.len() >= 13 {
                col(12)
            } else {
                index as u32
            },
            processed: col(0),
            dropped: col(1),
            time_squeezed: col(2),
            cpu_collision: col(8),
            received_rps: col(9),
            flow_limit_count: col(10),
            backlog_len: col(11),
        });
    }
    Ok(rows)
}

impl Collector for SoftnetCollector {
    fn update(&self, out: &mut MetricSet) -> Result<()> {
        let rows = parse(&read(&self.path)?)
            .with_context(|| format!("could not parse {}", self.path.display()))?;
        for r in rows {
            let cpu = r.cpu.to_string();
            let families = [
                (
                    "processed_total",
                    "Number of processed packets",
                    r.processed,
                ),
                ("dropped_total", "Number of dropped packets", r.dropped),
                (
                    "times_squeezed_total",
                    "Number of times processing packets ran out of quota",
                    r.time_squeezed,
                ),
                (
                    "cpu_collision_total",
                    "Number of collision occur while obtaining device lock while transmitting",
                    r.cpu_collision,
                ),
                (
                    "received_rps_total",
                    "Number of times cpu woken up received_rps",
                    r.received_rps,
                ),
                (
                    "flow_limit_count_total",
                    "Number of times flow limit has been reached",
                    r.flow_limit_count,
                ),
            ];
            for (name, help, v) in families {
                out.push(
                    &format!("node_softnet_{name}"),
                    help,
                    MetricType::Counter,
                    &[("cpu", &cpu)],
                    f64::from(v),
                );
            }
            out.push(
                "node_softnet_backlog_len",
                "Softnet backlog status",
                MetricType::Gauge,
                &[("cpu", &cpu)],
                f64::from(r.backlog_len),
            );
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn takes_the_cpu_id_column_where_the_kernel_prints_it() {
        // Linux 6.x: 15 columns, CPU 1 offline so the second row is CPU 2.
        let text = "\
016d608e 00000000 00000002 00000000 00000000 00000000 00000000 00000000 00000003 00000004 00000005 00000006 00000000 00000000 00000000
0147dc67 00000001 00000000 00000000 00000000 00000000 00000000 00000000 00000000 00000000 00000000 00000000 00000002 00000000 00000000
";
        let rows = parse(text).unwrap();
        assert_eq!(
            rows[0],
            CpuRow {
                cpu: 0,
                processed: 0x016d608e,
                dropped: 0,
                time_squeezed: 2,
                cpu_collision: 3,
                received_rps: 4,
                flow_limit_count: 5,
                backlog_len: 6,
            }
        );
        assert_eq!((rows[1].cpu, rows[1].dropped), (2, 1));
    }

    #[test]
    fn numbers_rows_of_older_kernels_and_refuses_short_rows() {
        // Linux 4.18–5.13: 11 columns, no CPU id.
        let text = "1 0 0 0 0 0 0 0 0 0 0\n2 0 0 0 0 0 0 0 0 0 0\n";
        let rows = parse(text).unwrap();
        assert_eq!(
            (rows[1].cpu, rows[1].processed, rows[1].backlog_len),
            (1, 2, 0)
        );
        assert!(parse("1 2 3\n").is_err());
    }
}
