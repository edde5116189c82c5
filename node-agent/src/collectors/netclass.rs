//! `netclass`: per-interface link properties from `/sys/class/net/<iface>/`
//! (`node_network_up`, `carrier`, `mtu_bytes`, `speed_bytes`, …), which the
//! Node Exporter Full dashboard's network panels query. procfs-core does not
//! read sysfs, so the one-number attribute files are read by hand.
//!
//! `node_network_info` has node_exporter 1.12's labels (1.5 lacks
//! `adminstate`).

use std::ffi::CStr;
use std::path::PathBuf;

use anyhow::Result;
use regex::Regex;

use super::{regex, under, AttrDir, Collector};
use crate::metrics::{MetricSet, MetricType};
use crate::settings::Config;

/// (attribute file, metric suffix, type) exported when the file is readable.
const PROPERTIES: [(&CStr, &str, MetricType); 16] = [
    (
        c"addr_assign_type",
        "address_assign_type",
        MetricType::Gauge,
    ),
    (c"carrier", "carrier", MetricType::Gauge),
    (
        c"carrier_changes",
        "carrier_changes_total",
        MetricType::Counter,
    ),
    (
        c"carrier_up_count",
        "carrier_up_changes_total",
        MetricType::Counter,
    ),
    (
        c"carrier_down_count",
        "carrier_down_changes_total",
        MetricType::Counter,
    ),
    (c"dev_id", "device_id", MetricType::Gauge),
    (c"dormant", "dormant", MetricType::Gauge),
    (c"flags", "flags", MetricType::Gauge),
    (c"ifindex", "iface_id", MetricType::Gauge),
    (c"iflink", "iface_link", MetricType::Gauge),
    (c"link_mode", "iface_link_mode", MetricType::Gauge),
    (c"mtu", "mtu_bytes", MetricType::Gauge),
    (c"name_assign_type", "name_assign_type", MetricType::Gauge),
    (c"netdev_group", "net_dev_group", MetricType::Gauge),
    (c"tx_queue_len", "transmit_queue_length", MetricType::Gauge),
    (c"type", "protocol_type", MetricType::Gauge),
];

/// Reads `/sys/class/net`.
pub struct NetclassCollector {
    dir: PathBuf,
    ignored: Regex,
    ignore_invalid_speed: bool,
}

/// Builds the collector.
pub fn build(config: &Config) -> Result<Box<dyn Collector>> {
    Ok(Box::new(NetclassCollector {
        dir: under(&config.sysfs, "class/net"),
        ignored: regex(
            "collector.netclass.ignored-devices",
            &config.netclass_ignored_devices,
        )?,
        ignore_invalid_speed: config.netclass_ignore_invalid_speed,
    }))
}

/// An integer attribute: decimal, or hex with `0x` (as `flags`, `dev_id`).
/// Unreadable (e.g. `carrier` of a down link gives EINVAL) means absent.
fn read_int(dir: &AttrDir, name: &CStr) -> Option<i64> {
    let text = dir.read(name).ok()?;
    let t = text.trim();
    match t.strip_prefix("0x") {
        Some(hex) => i64::from_str_radix(hex, 16).ok(),
        None => t.parse().ok(),
    }
}

impl NetclassCollector {
    fn device(&self, name: &str, dir: &AttrDir, out: &mut MetricSet) {
        let operstate = dir.read(c"operstate").unwrap_or_default();
        out.push(
            "node_network_up",
            "Value is 1 if operstate is 'up', 0 otherwise.",
            MetricType::Gauge,
            &[("device", name)],
            if operstate.trim() == "up" { 1.0 } else { 0.0 },
        );
        let text = |name: &CStr| {
            dir.read(name)
                .map(|t| t.trim_end_matches('\n').to_string())
                .unwrap_or_default()
        };
        let flags = read_int(dir, c"flags");
        let adminstate = match flags {
            None => "unknown",
            Some(f) if f & libc::IFF_UP as i64 != 0 => "up",
            Some(_) => "down",
        };
        out.push_owned(
            "node_network_info",
            "Non-numeric data from /sys/class/net/<iface>, value is always 1.",
            MetricType::Gauge,
            vec![
                ("address", text(c"address")),
                ("adminstate", adminstate.to_string()),
                ("broadcast", text(c"broadcast")),
                ("device", name.to_string()),
                ("duplex", text(c"duplex")),
                ("ifalias", text(c"ifalias")),
                ("operstate", operstate.trim().to_string()),
            ],
            1.0,
        );
        for (file, suffix, kind) in PROPERTIES {
            if let Some(v) = read_int(dir, file) {
                let metric = format!("node_network_{suffix}");
                let help = format!("Network device property: {suffix}");
                out.push(&metric, &help, kind, &[("device", name)], v as f64);
            }
        }
        if let Some(mbit) = read_int(dir, c"speed") {
            // Virtual devices report -1; node_exporter keeps it unless told
            // to ignore invalid speeds.
            if mbit >= 0 || !self.ignore_invalid_speed {
                out.push(
                    "node_network_speed_bytes",
                    "Network device property: speed_bytes",
                    MetricType::Gauge,
                    &[("device", name)],
                    (mbit * 1000 * 1000 / 8) as f64,
                );
            }
        }
    }
}

impl Collector for NetclassCollector {
    fn update(&self, out: &mut MetricSet) -> Result<()> {
        let entries = std::fs::read_dir(&self.dir)
            .map_err(|e| anyhow::anyhow!("Failed to list {}: {e}", self.dir.display()))?;
        for entry in entries.flatten() {
            // Interfaces are symlinks (or directories); `bonding_masters` is a file.
            if entry.file_type().map(|t| t.is_file()).unwrap_or(true) {
                continue;
            }
            let name = entry.file_name().to_string_lossy().into_owned();
            if self.ignored.is_match(&name) {
                continue;
            }
            // A device that vanished since the listing is simply skipped.
            if let Ok(dir) = AttrDir::open(&entry.path()) {
                self.device(&name, &dir, out);
            }
        }
        Ok(())
    }
}
