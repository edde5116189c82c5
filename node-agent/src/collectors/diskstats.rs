//! `diskstats`: block device I/O counters from `/proc/diskstats`, parsed
//! with procfs-core's `DiskStat`, and `node_disk_info` with the device's
//! udev properties (`--path.udev.data`) and, as node_exporter 1.12,
//! `rotational` from `<sysfs>/block/<dev>/queue/rotational`.

use std::io::{BufRead, BufReader};
use std::path::PathBuf;

use anyhow::Result;
use procfs_core::DiskStat;
use regex::Regex;

use super::{open, regex, under, Collector};
use crate::metrics::{MetricSet, MetricType};
use crate::settings::Config;

/// Bytes per sector in /proc/diskstats (always 512, whatever the device).
const SECTOR_SIZE: f64 = 512.0;
/// The kernel reports times in milliseconds.
const SECONDS_PER_TICK: f64 = 0.001;

/// Reads `/proc/diskstats`.
pub struct DiskstatsCollector {
    path: PathBuf,
    udev_data: PathBuf,
    sys_block: PathBuf,
    include: Option<Regex>,
    exclude: Regex,
}

/// Builds the collector.
pub fn build(config: &Config) -> Result<Box<dyn Collector>> {
    Ok(Box::new(DiskstatsCollector {
        path: under(&config.procfs, "diskstats"),
        udev_data: config.udev_data.clone(),
        sys_block: under(&config.sysfs, "block"),
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

impl DiskstatsCollector {
    /// `node_disk_info`: udev's `E:KEY=value` properties of `b<major>:<minor>`
    /// (all empty when udev has no record, as in node_exporter).
    fn info(&self, out: &mut MetricSet, d: &DiskStat) {
        let record = self.udev_data.join(format!("b{}:{}", d.major, d.minor));
        let text = super::read_file(&record).unwrap_or_default();
        // The last `E:KEY=` line wins, as in node_exporter.
        let prop = |key: &str| {
            text.lines()
                .rev()
                .filter_map(|l| l.strip_prefix("E:")?.split_once('='))
                .find(|(k, _)| *k == key)
                .map(|(_, v)| v.to_string())
                .unwrap_or_default()
        };
        // The serial on the disk label first, then udev's short serial,
        // then its full one (virtio), as node_exporter 1.12 (1.5 only used
        // ID_SERIAL_SHORT).
        let serial = ["SCSI_IDENT_SERIAL", "ID_SERIAL_SHORT", "ID_SERIAL"]
            .iter()
            .map(|k| prop(k))
            .find(|v| !v.is_empty())
            .unwrap_or_default();
        let rotational = super::read_attr(&self.sys_block.join(&d.name).join("queue/rotational"))
            .ok()
            .and_then(|t| t.trim().parse::<u64>().ok())
            .unwrap_or(0);
        out.push_owned(
            "node_disk_info",
            "Info of /sys/block/<block_device>.",
            MetricType::Gauge,
            vec![
                ("device", d.name.clone()),
                ("major", d.major.to_string()),
                ("minor", d.minor.to_string()),
                ("model", prop("ID_MODEL")),
                ("path", prop("ID_PATH")),
                ("revision", prop("ID_REVISION")),
                ("rotational", format!("{rotational:b}")),
                ("serial", serial),
                ("wwn", prop("ID_WWN")),
            ],
            1.0,
        );
        udev_families(out, &d.name, &prop);
    }
}

/// `node_disk_filesystem_info`, `node_disk_device_mapper_info` and the ATA
/// gauges, when udev knows the device's filesystem, LVM volume or ATA
/// properties.
fn udev_families(out: &mut MetricSet, dev: &str, prop: &dyn Fn(&str) -> String) {
    let info = |out: &mut MetricSet, name: &str, help: &str, labels: &[(&'static str, &str)]| {
        let mut all = vec![("device", dev.to_string())];
        all.extend(labels.iter().map(|(k, key)| (*k, prop(key))));
        out.push_owned(name, help, MetricType::Gauge, all, 1.0);
    };
    if !prop("ID_FS_TYPE").is_empty() {
        let labels = [
            ("type", "ID_FS_TYPE"),
            ("usage", "ID_FS_USAGE"),
            ("uuid", "ID_FS_UUID"),
            ("version", "ID_FS_VERSION"),
        ];
        info(
            out,
            "node_disk_filesystem_info",
            "Info about disk filesystem.",
            &labels,
        );
    }
    if !prop("DM_NAME").is_empty() {
        let labels = [
            ("name", "DM_NAME"),
            ("uuid", "DM_UUID"),
            ("vg_name", "DM_VG_NAME"),
            ("lv_name", "DM_LV_NAME"),
            ("lv_layer", "DM_LV_LAYER"),
        ];
        info(
            out,
            "node_disk_device_mapper_info",
            "Info about disk device mapper.",
            &labels,
        );
    }
    if !prop("ID_ATA").is_empty() {
        const ATA: [(&str, &str, &str); 3] = [
            (
                "ID_ATA_WRITE_CACHE",
                "node_disk_ata_write_cache",
                "ATA disk has a write cache.",
            ),
            (
                "ID_ATA_WRITE_CACHE_ENABLED",
                "node_disk_ata_write_cache_enabled",
                "ATA disk has its write cache enabled.",
            ),
            (
                "ID_ATA_ROTATION_RATE_RPM",
                "node_disk_ata_rotation_rate_rpm",
                "ATA disk rotation rate in RPMs (0 for SSDs).",
            ),
        ];
        for (key, name, help) in ATA {
            if let Ok(v) = prop(key).parse::<f64>() {
                out.push(name, help, MetricType::Gauge, &[("device", dev)], v);
            }
        }
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
                self.info(out, &d);
            }
        }
        Ok(())
    }
}
