//! `diskstats`: block device I/O counters from `/proc/diskstats`, parsed
//! with procfs-core's `DiskStat`.

use std::io::{BufRead, BufReader};
use std::path::PathBuf;

use anyhow::Result;
use procfs_core::DiskStat;
use regex::Regex;

use super::{open, regex, under, Collector};
use crate::config::Config;
use crate::metrics::{MetricSet, MetricType};

/// Bytes per sector in /proc/diskstats (always 512, whatever the device).
const SECTOR_SIZE: f64 = 512.0;
/// The kernel reports times in milliseconds.
const SECONDS_PER_TICK: f64 = 0.001;

/// Reads `/proc/diskstats`.
pub struct DiskstatsCollector {
    path: PathBuf,
    include: Option<Regex>,
    exclude: Regex,
}

/// Builds the collector.
pub fn build(config: &Config) -> Result<Box<dyn Collector>> {
    Ok(Box::new(DiskstatsCollector {
        path: under(&config.procfs, "diskstats"),
        include: config
            .diskstats_device_include
            .as_deref()
            .map(|p| regex("collector.diskstats.device-include", p))
            .transpose()?,
        exclude: regex(
            "collector.diskstats.device-exclude",
            &config.diskstats_device_exclude,
        )?,
    }))
}

fn counter(out: &mut MetricSet, stat: &str, help: &str, dev: &str, v: f64) {
    out.push(
        &format!("node_disk_{stat}"),
        help,
        MetricType::Counter,
        &[("device", dev)],
        v,
    );
}

fn emit(out: &mut MetricSet, d: &DiskStat) {
    let dev = d.name.as_str();
    let c = |out: &mut MetricSet, stat, help, v| counter(out, stat, help, dev, v);
    c(
        out,
        "reads_completed_total",
        "The total number of reads completed successfully.",
        d.reads as f64,
    );
    c(
        out,
        "reads_merged_total",
        "The total number of reads merged.",
        d.merged as f64,
    );
    c(
        out,
        "read_bytes_total",
        "The total number of bytes read successfully.",
        d.sectors_read as f64 * SECTOR_SIZE,
    );
    c(
        out,
        "read_time_seconds_total",
        "The total number of seconds spent by all reads.",
        d.time_reading as f64 * SECONDS_PER_TICK,
    );
    c(
        out,
        "writes_completed_total",
        "The total number of writes completed successfully.",
        d.writes as f64,
    );
    c(
        out,
        "writes_merged_total",
        "The number of writes merged.",
        d.writes_merged as f64,
    );
    c(
        out,
        "written_bytes_total",
        "The total number of bytes written successfully.",
        d.sectors_written as f64 * SECTOR_SIZE,
    );
    c(
        out,
        "write_time_seconds_total",
        "This is the total number of seconds spent by all writes.",
        d.time_writing as f64 * SECONDS_PER_TICK,
    );
    out.push(
        "node_disk_io_now",
        "The number of I/Os currently in progress.",
        MetricType::Gauge,
        &[("device", dev)],
        d.in_progress as f64,
    );
    c(
        out,
        "io_time_seconds_total",
        "Total seconds spent doing I/Os.",
        d.time_in_progress as f64 * SECONDS_PER_TICK,
    );
    c(
        out,
        "io_time_weighted_seconds_total",
        "The weighted # of seconds spent doing I/Os.",
        d.weighted_time_in_progress as f64 * SECONDS_PER_TICK,
    );
    if let (Some(n), Some(m), Some(s), Some(t)) = (
        d.discards,
        d.discards_merged,
        d.sectors_discarded,
        d.time_discarding,
    ) {
        c(
            out,
            "discards_completed_total",
            "The total number of discards completed successfully.",
            n as f64,
        );
        c(
            out,
            "discards_merged_total",
            "The total number of discards merged.",
            m as f64,
        );
        c(
            out,
            "discarded_sectors_total",
            "The total number of sectors discarded successfully.",
            s as f64,
        );
        c(
            out,
            "discard_time_seconds_total",
            "This is the total number of seconds spent by all discards.",
            t as f64 * SECONDS_PER_TICK,
        );
    }
    if let (Some(n), Some(t)) = (d.flushes, d.time_flushing) {
        c(
            out,
            "flush_requests_total",
            "The total number of flush requests completed successfully",
            n as f64,
        );
        c(
            out,
            "flush_requests_time_seconds_total",
            "This is the total number of seconds spent by all flush requests.",
            t as f64 * SECONDS_PER_TICK,
        );
    }
}

impl Collector for DiskstatsCollector {
    fn update(&self, out: &mut MetricSet) -> Result<()> {
        let reader = BufReader::new(open(&self.path)?);
        for line in reader.lines() {
            let line = line?;
            // Line by line so one odd line (old 4-field partition format)
            // does not lose every other device.
            let Ok(d) = DiskStat::from_line(&line) else {
                continue;
            };
            let wanted = match &self.include {
                Some(inc) => inc.is_match(&d.name),
                None => !self.exclude.is_match(&d.name),
            };
            if wanted {
                emit(out, &d);
            }
        }
        Ok(())
    }
}
