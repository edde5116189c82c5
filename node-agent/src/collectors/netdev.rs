//! `netdev`: per-interface traffic counters from `/proc/net/dev`, parsed with
//! procfs-core's `InterfaceDeviceStatus`.
//!
//! node_exporter (netlink mode, its default) reads the same kernel counters
//! and folds them into the same columns as `/proc/net/dev` does; it also has
//! `rx_nohandler`, which `/proc/net/dev` lacks, so that one comes from
//! `<sysfs>/class/net/<dev>/statistics/rx_nohandler`.

use std::path::PathBuf;

use anyhow::{bail, Result};
use procfs_core::net::InterfaceDeviceStatus;
use procfs_core::FromRead;
use regex::Regex;

use super::{open, read_attr, regex, under, Collector};
use crate::metrics::{MetricSet, MetricType};
use crate::settings::Config;

/// Reads `/proc/net/dev`.
pub struct NetdevCollector {
    path: PathBuf,
    class_net: PathBuf,
    include: Option<Regex>,
    exclude: Option<Regex>,
}

/// Builds the collector.
pub fn build(config: &Config) -> Result<Box<dyn Collector>> {
    if config.netdev_device_include.is_some() && config.netdev_device_exclude.is_some() {
        bail!("--collector.netdev.device-include and --collector.netdev.device-exclude are mutually exclusive");
    }
    let compile = |flag, p: &Option<String>| p.as_deref().map(|p| regex(flag, p)).transpose();
    Ok(Box::new(NetdevCollector {
        path: under(&config.procfs, "net/dev"),
        class_net: under(&config.sysfs, "class/net"),
        include: compile(
            "collector.netdev.device-include",
            &config.netdev_device_include,
        )?,
        exclude: compile(
            "collector.netdev.device-exclude",
            &config.netdev_device_exclude,
        )?,
    }))
}

impl NetdevCollector {
    fn wanted(&self, dev: &str) -> bool {
        match (&self.include, &self.exclude) {
            (Some(inc), _) => inc.is_match(dev),
            (None, Some(exc)) => !exc.is_match(dev),
            (None, None) => true,
        }
    }
}

impl Collector for NetdevCollector {
    fn update(&self, out: &mut MetricSet) -> Result<()> {
        let devices = InterfaceDeviceStatus::from_read(open(&self.path)?)?;
        for (name, d) in &devices.0 {
            if !self.wanted(name) {
                continue;
            }
            let rows = [
                ("receive_bytes", d.recv_bytes),
                ("receive_packets", d.recv_packets),
                ("receive_errs", d.recv_errs),
                ("receive_drop", d.recv_drop),
                ("receive_fifo", d.recv_fifo),
                ("receive_frame", d.recv_frame),
                ("receive_compressed", d.recv_compressed),
                ("receive_multicast", d.recv_multicast),
                ("transmit_bytes", d.sent_bytes),
                ("transmit_packets", d.sent_packets),
                ("transmit_errs", d.sent_errs),
                ("transmit_drop", d.sent_drop),
                ("transmit_fifo", d.sent_fifo),
                ("transmit_colls", d.sent_colls),
                ("transmit_carrier", d.sent_carrier),
                ("transmit_compressed", d.sent_compressed),
            ];
            for (stat, value) in rows {
                out.push(
                    &format!("node_network_{stat}_total"),
                    &format!("Network device statistic {stat}."),
                    MetricType::Counter,
                    &[("device", name)],
                    value as f64,
                );
            }
            let nohandler = self.class_net.join(name).join("statistics/rx_nohandler");
            if let Some(v) = read_attr(&nohandler)
                .ok()
                .and_then(|t| t.trim().parse::<u64>().ok())
            {
                out.push(
                    "node_network_receive_nohandler_total",
                    "Network device statistic receive_nohandler.",
                    MetricType::Counter,
                    &[("device", name)],
                    v as f64,
                );
            }
        }
        Ok(())
    }
}
