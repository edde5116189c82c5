//! `arp`: neighbour table entries per device from `/proc/net/arp`, parsed
//! with procfs-core's `ArpEntries`.
//!
//! node_exporter 1.5 reads the same file; 1.12 asks netlink by default
//! (`--collector.arp.netlink`) for the IPv4 neighbours that are not NOARP,
//! which are the entries the kernel lists in `/proc/net/arp`, so the counts
//! agree and node-agent takes the file either way.

use std::collections::BTreeMap;
use std::path::PathBuf;

use anyhow::Result;
use procfs_core::net::ArpEntries;
use procfs_core::FromRead;
use regex::Regex;

use super::{open, regex, under, Collector};
use crate::metrics::{MetricSet, MetricType};
use crate::settings::Config;

/// Reads `/proc/net/arp`.
pub struct ArpCollector {
    path: PathBuf,
    filter: DeviceFilter,
}

/// Builds the collector.
pub fn build(config: &Config) -> Result<Box<dyn Collector>> {
    Ok(Box::new(ArpCollector {
        path: under(&config.procfs, "net/arp"),
        filter: DeviceFilter::new(
            "collector.arp",
            config.arp_device_include.as_deref(),
            config.arp_device_exclude.as_deref(),
        )?,
    }))
}

/// node_exporter's `deviceFilter`: a device is left out when the exclude
/// pattern matches it, or when an include pattern is given and does not.
pub(crate) struct DeviceFilter {
    include: Option<Regex>,
    exclude: Option<Regex>,
}

impl DeviceFilter {
    /// Compiles `--<prefix>.device-include` / `--<prefix>.device-exclude`.
    pub(crate) fn new(prefix: &str, include: Option<&str>, exclude: Option<&str>) -> Result<Self> {
        let compile = |which: &str, p: Option<&str>| {
            p.map(|p| regex(&format!("{prefix}.device-{which}"), p))
                .transpose()
        };
        Ok(Self {
            include: compile("include", include)?,
            exclude: compile("exclude", exclude)?,
        })
    }

    /// Whether `device` is reported.
    pub(crate) fn wanted(&self, device: &str) -> bool {
        !self.exclude.as_ref().is_some_and(|r| r.is_match(device))
            && self.include.as_ref().is_none_or(|r| r.is_match(device))
    }
}

/// Entries per device.
fn count_by_device(entries: &ArpEntries) -> BTreeMap<&str, u32> {
    let mut counts = BTreeMap::new();
    for e in &entries.0 {
        *counts.entry(e.device.as_str()).or_insert(0) += 1;
    }
    counts
}

impl Collector for ArpCollector {
    fn update(&self, out: &mut MetricSet) -> Result<()> {
        let entries = ArpEntries::from_read(open(&self.path)?)?;
        for (device, n) in count_by_device(&entries) {
            if self.filter.wanted(device) {
                out.push(
                    "node_arp_entries",
                    "ARP entries by device",
                    MetricType::Gauge,
                    &[("device", device)],
                    f64::from(n),
                );
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const TABLE: &str = "\
IP address       HW type     Flags       HW address            Mask     Device
192.168.1.1      0x1         0x2         cc:aa:dd:ee:aa:bb     *        eth0
192.168.1.2      0x1         0x0         00:00:00:00:00:00     *        eth0
10.0.0.1         0x1         0x2         de:ad:be:ef:00:00     *        eth1
";

    #[test]
    fn counts_entries_per_device_incomplete_ones_included() {
        let entries = ArpEntries::from_read(TABLE.as_bytes()).unwrap();
        let counts = count_by_device(&entries);
        assert_eq!(counts.get("eth0"), Some(&2));
        assert_eq!(counts.get("eth1"), Some(&1));
        assert_eq!(counts.len(), 2);
    }

    #[test]
    fn device_filter_excludes_then_requires_the_include_pattern() {
        let f = DeviceFilter::new("collector.arp", None, Some("^eth1$")).unwrap();
        assert!(f.wanted("eth0") && !f.wanted("eth1"));
        let f = DeviceFilter::new("collector.arp", Some("^eth"), None).unwrap();
        assert!(f.wanted("eth1") && !f.wanted("lo"));
        let f = DeviceFilter::new("collector.arp", None, None).unwrap();
        assert!(f.wanted("anything"));
        let err = DeviceFilter::new("collector.arp", Some("("), None)
            .err()
            .unwrap();
        assert!(format!("{err:#}").contains("collector.arp.device-include"));
    }
}
