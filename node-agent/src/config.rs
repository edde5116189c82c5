//! Command-line configuration, with node_exporter's flag names and defaults.
//!
//! The `--collector.<name>` / `--no-collector.<name>` pairs are generated from
//! the collector list in [`crate::collectors::COLLECTORS`], so adding a
//! collector there is all it takes to get its flags.

use std::path::PathBuf;
use std::time::Duration;

use clap::{Arg, ArgAction, ArgMatches, Command};

use crate::collectors::COLLECTORS;
pub use crate::settings::Config;

/// node_exporter's (upstream) default for `--collector.filesystem.mount-points-exclude`.
pub const DEFAULT_MOUNT_POINTS_EXCLUDE: &str =
    "^/(dev|proc|run/credentials/.+|sys|var/lib/docker/.+|var/lib/containers/storage/.+)($|/)";
/// node_exporter's default for `--collector.filesystem.fs-types-exclude`.
pub const DEFAULT_FS_TYPES_EXCLUDE: &str = "^(autofs|binfmt_misc|bpf|cgroup2?|configfs|debugfs|devpts|devtmpfs|fusectl|hugetlbfs|iso9660|mqueue|nsfs|overlay|proc|procfs|pstore|rpc_pipefs|securityfs|selinuxfs|squashfs|sysfs|tracefs)$";
/// node_exporter's default for `--collector.diskstats.device-exclude`.
pub const DEFAULT_DISKSTATS_EXCLUDE: &str = "^(z?ram|loop|fd|(h|s|v|xv)d[a-z]|nvme\\d+n\\d+p)\\d+$";
/// node_exporter's default for `--collector.vmstat.fields`.
pub const DEFAULT_VMSTAT_FIELDS: &str = "^(oom_kill|pgpg|pswp|pg.*fault).*";
/// node_exporter's (1.12) default for `--collector.netstat.fields`.
pub const DEFAULT_NETSTAT_FIELDS: &str = "^(.*_(InErrors|InErrs)|Ip_Forwarding|Ip(6|Ext)_(InOctets|OutOctets)|Icmp6?_(InMsgs|OutMsgs)|TcpExt_(Listen.*|Syncookies.*|TCPSynRetrans|TCPTimeouts|TCPOFOQueue|TCPRcvQDrop)|Tcp_(ActiveOpens|InSegs|OutSegs|OutRsts|PassiveOpens|RetransSegs|CurrEstab)|Udp6?_(InDatagrams|OutDatagrams|NoPorts|RcvbufErrors|SndbufErrors))$";

impl Config {
    /// The defaults node_exporter uses, reading the real /proc, /sys and /.
    pub fn default_for_host() -> Self {
        Self::parse_from(["node-agent"]).expect("defaults parse")
    }

    /// Parses command-line arguments (the first item is the program name).
    pub fn parse_from<I, T>(args: I) -> Result<Self, clap::Error>
    where
        I: IntoIterator<Item = T>,
        T: Into<std::ffi::OsString> + Clone,
    {
        let m = command().try_get_matches_from(args)?;
        Ok(Self::from_matches(&m))
    }

    fn from_matches(m: &ArgMatches) -> Self {
        let s = |id: &str| m.get_one::<String>(id).cloned().unwrap_or_default();
        let opt = |id: &str| m.get_one::<String>(id).cloned().filter(|v| !v.is_empty());
        let disable_defaults = m.get_flag("collector.disable-defaults");
        let collectors = COLLECTORS
            .iter()
            .filter(|c| {
                let on = m.get_flag(&format!("collector.{}", c.name));
                let off = m.get_flag(&format!("no-collector.{}", c.name));
                // An explicit flag wins; otherwise the default, unless all
                // defaults are disabled.
                on || (!off && c.default_enabled && !disable_defaults)
            })
            .map(|c| c.name)
            .collect();
        let timeout = m
            .get_one::<humantime_like::Secs>("collector.filesystem.mount-timeout")
            .map(|s| s.0)
            .unwrap_or(Duration::from_secs(5));
        Config {
            listen_address: s("web.listen-address"),
            telemetry_path: s("web.telemetry-path"),
            procfs: s("path.procfs").into(),
            sysfs: s("path.sysfs").into(),
            rootfs: s("path.rootfs").into(),
            udev_data: s("path.udev.data").into(),
            collectors,
            mount_points_exclude: s("collector.filesystem.mount-points-exclude"),
            fs_types_exclude: s("collector.filesystem.fs-types-exclude"),
            mount_timeout: timeout,
            diskstats_device_exclude: s("collector.diskstats.device-exclude"),
            diskstats_device_include: opt("collector.diskstats.device-include"),
            netclass_ignored_devices: s("collector.netclass.ignored-devices"),
            netclass_ignore_invalid_speed: m.get_flag("collector.netclass.ignore-invalid-speed"),
            netdev_device_include: opt("collector.netdev.device-include"),
            netdev_device_exclude: opt("collector.netdev.device-exclude"),
            arp_device_include: opt("collector.arp.device-include"),
            arp_device_exclude: opt("collector.arp.device-exclude"),
            vmstat_fields: s("collector.vmstat.fields"),
            netstat_fields: s("collector.netstat.fields"),
            cpu_guest: !m.get_flag("no-collector.cpu.guest"),
            textfile_directory: s("collector.textfile.directory").into(),
            max_requests: m
                .get_one::<usize>("web.max-requests")
                .copied()
                .unwrap_or(40),
            http: servekit::http::Limits {
                header_read_timeout: m
                    .get_one::<humantime_like::Secs>("web.read-timeout")
                    .map_or(Duration::from_secs(30), |s| s.0),
                max_connections: m
                    .get_one::<usize>("web.max-connections")
                    .copied()
                    .unwrap_or(512),
            },
            web_config_file: opt("web.config.file").map(PathBuf::from),
            disable_exporter_metrics: m.get_flag("web.disable-exporter-metrics"),
            log_level: crate::log::Level::parse(&s("log.level")).unwrap_or(crate::log::Level::Info),
            log_json: s("log.format") == "json",
        }
    }
}

fn value(name: &'static str, default: &'static str, help: &'static str) -> Arg {
    Arg::new(name).long(name).default_value(default).help(help)
}

fn optional(name: &'static str, help: &'static str) -> Arg {
    Arg::new(name).long(name).help(help)
}

fn flag(name: String, help: String) -> Arg {
    Arg::new(name.clone())
        .long(name)
        .action(ArgAction::SetTrue)
        .help(help)
}

/// The clap command: every option is documented in `--help`.
pub fn command() -> Command {
    let mut cmd = Command::new("node-agent")
        .version(env!("CARGO_PKG_VERSION"))
        .about("A node_exporter-compatible host metrics agent (flags, metric names and labels follow node_exporter).")
        .arg(value("web.listen-address", ":9100", "Address on which to expose metrics and web interface."))
        .arg(value("web.telemetry-path", "/metrics", "Path under which to expose metrics."))
        .arg(Arg::new("web.max-requests").long("web.max-requests").default_value("40")
            .value_parser(clap::value_parser!(usize))
            .help("Maximum number of parallel scrape requests. Use 0 to disable."))
        .arg(Arg::new("web.read-timeout").long("web.read-timeout").default_value("30s")
            .value_parser(clap::value_parser!(humantime_like::Secs))
            .help("How long a request head may take to arrive, from the connection opening or the previous response; idle connections are closed then too (not in node_exporter)."))
        .arg(Arg::new("web.max-connections").long("web.max-connections").default_value("512")
            .value_parser(clap::value_parser!(usize))
            .help("Connections held at once; past it a connection is answered 503 (not in node_exporter)."))
        .arg(value("web.config.file", "", "Path to configuration file that can enable TLS or authentication (Prometheus's web configuration format; read at startup)."))
        .arg(flag("web.disable-exporter-metrics".into(), "Exclude metrics about the exporter itself (process_*).".into()))
        .arg(value("log.level", "info", "Only log messages with the given severity or above. One of: [debug, info, warn, error]")
            .value_parser(["debug", "info", "warn", "error"]))
        .arg(value("log.format", "logfmt", "Output format of log messages. One of: [logfmt, json]")
            .value_parser(["logfmt", "json"]))
        .arg(value("path.procfs", "/proc", "procfs mountpoint."))
        .arg(value("path.sysfs", "/sys", "sysfs mountpoint."))
        .arg(value("path.rootfs", "/", "rootfs mountpoint."))
        .arg(value("path.udev.data", "/run/udev/data", "udev data path."))
        .arg(flag("collector.disable-defaults".into(), "Set all collectors to disabled by default.".into()))
        .arg(value("collector.filesystem.mount-points-exclude", DEFAULT_MOUNT_POINTS_EXCLUDE, "Regexp of mount points to exclude for filesystem collector."))
        .arg(value("collector.filesystem.fs-types-exclude", DEFAULT_FS_TYPES_EXCLUDE, "Regexp of filesystem types to exclude for filesystem collector."))
        .arg(Arg::new("collector.filesystem.mount-timeout").long("collector.filesystem.mount-timeout")
            .default_value("5s")
            .value_parser(clap::value_parser!(humantime_like::Secs))
            .help("How long to wait for a statfs before marking the mount as failed (device_error) and skipping it until the call returns."))
        .arg(value("collector.diskstats.device-exclude", DEFAULT_DISKSTATS_EXCLUDE, "Regexp of diskstats devices to exclude."))
        .arg(optional("collector.diskstats.device-include", "Regexp of diskstats devices to include (instead of the exclude list)."))
        .arg(value("collector.netclass.ignored-devices", "^$", "Regexp of net devices to ignore for netclass collector."))
        .arg(flag("collector.netclass.ignore-invalid-speed".into(), "Ignore devices where the speed is invalid.".into()))
        .arg(optional("collector.netdev.device-include", "Regexp of net devices to include (mutually exclusive to device-exclude)."))
        .arg(optional("collector.netdev.device-exclude", "Regexp of net devices to exclude (mutually exclusive to device-include)."))
        .arg(optional("collector.arp.device-include", "Regexp of arp devices to include (mutually exclusive to device-exclude)."))
        .arg(optional("collector.arp.device-exclude", "Regexp of arp devices to exclude (mutually exclusive to device-include)."))
        .arg(flag("collector.arp.netlink".into(), "Accepted for node_exporter 1.12's flag: /proc/net/arp is read either way (it lists the same entries).".into()))
        .arg(flag("no-collector.arp.netlink".into(), "Accepted for node_exporter 1.12's flag (no effect).".into()))
        .arg(value("collector.textfile.directory", "", "Directory to read text files with metrics from."))
        .arg(value("collector.vmstat.fields", DEFAULT_VMSTAT_FIELDS, "Regexp of fields to return for vmstat collector."))
        .arg(value("collector.netstat.fields", DEFAULT_NETSTAT_FIELDS, "Regexp of fields to return for netstat collector."))
        .arg(flag("collector.cpu.guest".into(), "Enables metric node_cpu_guest_seconds_total (default: enabled).".into()))
        .arg(flag("no-collector.cpu.guest".into(), "Disables metric node_cpu_guest_seconds_total.".into()));
    for c in COLLECTORS {
        let state = if c.default_enabled {
            "enabled"
        } else {
            "disabled"
        };
        cmd = cmd
            .arg(flag(
                format!("collector.{}", c.name),
                format!("Enable the {} collector (default: {state}).", c.name),
            ))
            .arg(flag(
                format!("no-collector.{}", c.name),
                format!("Disable the {} collector.", c.name),
            ));
    }
    cmd
}

/// Go-style durations as node_exporter takes them (`5s`, `500ms`, `1m`).
pub mod humantime_like {
    use std::str::FromStr;
    use std::time::Duration;

    /// A parsed duration.
    #[derive(Debug, Clone, Copy)]
    pub struct Secs(pub Duration);

    impl FromStr for Secs {
        type Err = String;
        fn from_str(s: &str) -> Result<Self, String> {
            let split = s
                .find(|c: char| !(c.is_ascii_digit() || c == '.'))
                .unwrap_or(s.len());
            let (num, unit) = s.split_at(split);
            let n: f64 = num.parse().map_err(|_| format!("bad duration {s:?}"))?;
            let secs = match unit {
                "ms" => n / 1000.0,
                "s" | "" => n,
                "m" => n * 60.0,
                _ => return Err(format!("bad duration unit in {s:?} (use ms, s or m)")),
            };
            Ok(Secs(Duration::from_secs_f64(secs)))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_match_node_exporter() {
        let c = Config::default_for_host();
        assert_eq!(c.listen_address, ":9100");
        assert_eq!(c.telemetry_path, "/metrics");
        assert_eq!(c.procfs, PathBuf::from("/proc"));
        assert!(c.collectors.contains(&"cpu") && c.collectors.contains(&"filesystem"));
        assert_eq!(c.mount_timeout, Duration::from_secs(5));
        assert!(c.cpu_guest);
        assert_eq!(c.max_requests, 40);
        assert_eq!(c.http.header_read_timeout, Duration::from_secs(30));
        assert_eq!(c.http.max_connections, 512);
        assert_eq!(c.log_level, crate::log::Level::Info);
        assert!(!c.log_json && !c.disable_exporter_metrics);
        assert_eq!(c.web_config_file, None);
        let c = Config::parse_from(["x", "--web.config.file=/etc/web.yml"]).unwrap();
        assert_eq!(c.web_config_file, Some(PathBuf::from("/etc/web.yml")));
    }

    #[test]
    fn log_flags_are_checked() {
        let c = Config::parse_from(["x", "--log.level=warn", "--log.format=json"]).unwrap();
        assert_eq!(c.log_level, crate::log::Level::Warn);
        assert!(c.log_json);
        assert!(Config::parse_from(["x", "--log.level=loud"]).is_err());
    }

    #[test]
    fn disable_defaults_then_enable_one() {
        let c = Config::parse_from([
            "x",
            "--collector.disable-defaults",
            "--collector.loadavg",
            "--collector.filesystem.mount-timeout=250ms",
        ])
        .unwrap();
        assert_eq!(c.collectors, vec!["loadavg"]);
        assert_eq!(c.mount_timeout, Duration::from_millis(250));
        let c = Config::parse_from(["x", "--no-collector.cpu"]).unwrap();
        assert!(!c.collectors.contains(&"cpu"));
    }

    #[test]
    fn arp_filters_and_1_12s_netlink_flag_are_taken() {
        let c = Config::parse_from([
            "x",
            "--collector.arp.device-exclude=nope",
            "--no-collector.arp.netlink",
        ])
        .unwrap();
        assert_eq!(c.arp_device_exclude.as_deref(), Some("nope"));
        assert_eq!(c.arp_device_include, None);
        for new in ["arp", "conntrack", "softnet", "timex", "udp_queues"] {
            assert!(
                Config::default_for_host().collectors.contains(&new),
                "{new}"
            );
        }
    }

    #[test]
    fn unknown_flag_is_an_error() {
        assert!(Config::parse_from(["x", "--collector.nonsense"]).is_err());
    }
}
