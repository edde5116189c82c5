//! What node-agent runs with, once the command line is parsed
//! ([`crate::config`]). Collectors read it; it depends on nothing of theirs.

use std::path::PathBuf;
use std::time::Duration;

/// Everything node-agent is configured with.
#[derive(Debug, Clone)]
pub struct Config {
    /// Address to listen on, node_exporter style (`:9100` means all interfaces).
    pub listen_address: String,
    /// Path under which metrics are served.
    pub telemetry_path: String,
    /// procfs mount point (`--path.procfs`).
    pub procfs: PathBuf,
    /// sysfs mount point (`--path.sysfs`).
    pub sysfs: PathBuf,
    /// udev's device database (`--path.udev.data`), for `node_disk_info`.
    pub udev_data: PathBuf,
    /// Root of the host filesystem (`--path.rootfs`), stripped from mount points.
    pub rootfs: PathBuf,
    /// Names of the enabled collectors, in registration order.
    pub collectors: Vec<&'static str>,
    /// Mount points the filesystem collector ignores (regex).
    pub mount_points_exclude: String,
    /// Filesystem types the filesystem collector ignores (regex).
    pub fs_types_exclude: String,
    /// How long a statfs may take before its mount is reported as failed and
    /// skipped until the call returns.
    pub mount_timeout: Duration,
    /// Block devices the diskstats collector ignores (regex).
    pub diskstats_device_exclude: String,
    /// If set, the only block devices diskstats reports (regex).
    pub diskstats_device_include: Option<String>,
    /// Network devices netclass ignores (regex).
    pub netclass_ignored_devices: String,
    /// Drop `node_network_speed_bytes` for devices reporting speed -1.
    pub netclass_ignore_invalid_speed: bool,
    /// If set, the only network devices netdev reports (regex).
    pub netdev_device_include: Option<String>,
    /// Network devices netdev ignores (regex).
    pub netdev_device_exclude: Option<String>,
    /// If set, the only devices whose ARP entries are counted (regex).
    pub arp_device_include: Option<String>,
    /// Devices whose ARP entries are not counted (regex).
    pub arp_device_exclude: Option<String>,
    /// /proc/vmstat fields exported (regex).
    pub vmstat_fields: String,
    /// netstat/snmp fields exported (regex).
    pub netstat_fields: String,
    /// Export `node_cpu_guest_seconds_total`.
    pub cpu_guest: bool,
    /// Directory of `*.prom` files for the textfile collector ("" = none).
    pub textfile_directory: PathBuf,
    /// Most scrapes served at once (0: no limit); more get 503.
    pub max_requests: usize,
    /// HTTP limits: the request-head deadline (which also closes idle
    /// connections) and the connection cap (past it: 503).
    pub http: servekit::http::Limits,
    /// Prometheus's web configuration file (`--web.config.file`): TLS and
    /// basic auth; `None` serves plain HTTP to anyone.
    pub web_config_file: Option<PathBuf>,
    /// Leave out the agent's own `process_*` metrics.
    pub disable_exporter_metrics: bool,
    /// Minimum level logged.
    pub log_level: crate::log::Level,
    /// Log JSON instead of logfmt.
    pub log_json: bool,
}
