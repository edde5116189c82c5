//! node-agent against the real node_exporter on node_exporter's own fixture
//! root, and against the fixture's expected scrape (`e2e-output.txt`, from
//! node_exporter 1.12). Every sample of every family node-agent exports is
//! compared (name, type, labels, value) after parsing both scrapes.

mod common;

use common::{differences, fixtures, node_exporter_bin, ttar, Agent, Exporter};
use node_agent::parse::parse;

/// Collectors compared on the fixture root. `filesystem` has its own
/// fixture (tests/filesystem.rs); `netdev` cannot be: the fixture has no
/// `proc/net/dev` (1.12 reads interfaces over netlink instead).
const COLLECTORS: &[&str] = &[
    "arp",
    "conntrack",
    "cpu",
    "diskstats",
    "entropy",
    "filefd",
    "loadavg",
    "meminfo",
    "netclass",
    "netstat",
    "os",
    "pressure",
    "sockstat",
    "softnet",
    "stat",
    "time",
    "udp_queues",
    "uname",
    "vmstat",
];

/// Known, intended differences from node_exporter 1.5 (the Debian oracle):
/// node-agent follows the newer 1.12 behaviour for these.
const NEWER_THAN_1_5: &[&str] = &[
    // PSI for IRQs was added after 1.5.
    "node_pressure_irq_stalled_seconds_total",
    // 1.12's default --collector.netstat.fields adds these two.
    "node_netstat_TcpExt_TCPOFOQueue",
    "node_netstat_TcpExt_TCPRcvQDrop",
    // 1.12 adds the `adminstate` label.
    "node_network_info",
    // 1.12 reads these softnet_stat columns too.
    "node_softnet_backlog_len",
    "node_softnet_cpu_collision_total",
    "node_softnet_flow_limit_count_total",
    "node_softnet_received_rps_total",
];

/// diskstats families made only of udev properties.
const UDEV_ONLY: &[&str] = &[
    "node_disk_filesystem_info",
    "node_disk_device_mapper_info",
    "node_disk_ata_write_cache",
    "node_disk_ata_write_cache_enabled",
    "node_disk_ata_rotation_rate_rpm",
];

/// Families absent from e2e-output.txt for reasons unrelated to node-agent.
const NOT_IN_E2E: &[&str] = &[
    // node_exporter's e2e test drops host-dependent families.
    "node_uname_info",
    "node_time_seconds",
    "node_time_zone_offset_seconds",
    "node_scrape_collector_duration_seconds",
    // The e2e run gets process_* from the Go client; values are per-process.
    "process_cpu_seconds_total",
    "process_max_fds",
    "process_open_fds",
    "process_resident_memory_bytes",
    "process_start_time_seconds",
    "process_virtual_memory_bytes",
    "process_virtual_memory_max_bytes",
];

/// Our own udev records (node_exporter's e2e run used udev data that is not
/// among the shared fixtures).
fn udev_fixture() -> std::path::PathBuf {
    std::path::PathBuf::from(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/fixtures/udev/data"
    ))
}

/// Removes `labels` from every sample of `family`.
fn drop_labels(s: &mut node_agent::parse::Scrape, family: &str, labels: &[&str]) {
    if let Some(samples) = s.samples.remove(family) {
        let stripped = samples
            .into_iter()
            .map(|(mut l, v)| {
                l.retain(|k, _| !labels.contains(&k.as_str()));
                (l, v)
            })
            .collect();
        s.samples.insert(family.to_string(), stripped);
    }
}

/// A label of `device`'s `node_disk_info` sample.
fn disk_label(s: &node_agent::parse::Scrape, device: &str, label: &str) -> String {
    s.samples["node_disk_info"]
        .keys()
        .find(|l| l["device"] == device)
        .map(|l| l[label].clone())
        .expect("device in node_disk_info")
}

/// Removes `label` from `device`'s sample of `family`.
fn drop_label_of(s: &mut node_agent::parse::Scrape, family: &str, device: &str, label: &str) {
    if let Some(samples) = s.samples.remove(family) {
        let changed = samples
            .into_iter()
            .map(|(mut l, v)| {
                if l["device"] == device {
                    l.remove(label);
                }
                (l, v)
            })
            .collect();
        s.samples.insert(family.to_string(), changed);
    }
}

fn args(fixtures: &std::path::Path, sys: &std::path::Path) -> Vec<String> {
    let mut a = vec![
        format!("--path.procfs={}", fixtures.join("proc").display()),
        format!("--path.sysfs={}", sys.display()),
        format!("--path.rootfs={}", fixtures.display()),
        "--collector.disable-defaults".to_string(),
        // As node_exporter's e2e run (which produced e2e-output.txt).
        "--collector.netclass.ignored-devices=(dmz|int)".to_string(),
        "--collector.netclass.ignore-invalid-speed".to_string(),
        "--collector.arp.device-exclude=nope".to_string(),
        format!("--path.udev.data={}", udev_fixture().display()),
    ];
    a.extend(COLLECTORS.iter().map(|c| format!("--collector.{c}")));
    a
}

#[test]
fn same_samples_as_node_exporter_on_the_fixture_root() {
    let Some(fx) = fixtures() else { return };
    let Some(bin) = node_exporter_bin() else {
        return;
    };
    let tmp = tempfile::tempdir().unwrap();
    ttar::unpack(&fx.join("sys.ttar"), tmp.path()).unwrap();
    let args = args(&fx, &tmp.path().join("sys"));

    let agent = Agent::start(&args);
    let exporter = Exporter::start(bin, &args);
    let (_, mine) = agent.scrape();
    let (_, theirs) = exporter.scrape();

    for c in COLLECTORS {
        assert_eq!(
            mine.get("node_scrape_collector_success", &[("collector", c)]),
            Some(1.0),
            "collector {c} failed on the fixture"
        );
    }
    // Not a vacuous comparison: the fixture's figures are really there.
    assert!(
        mine.samples.len() > 100,
        "only {} families",
        mine.samples.len()
    );
    let core = [("core", "1"), ("package", "1")];
    assert_eq!(mine.get("node_cpu_core_throttles_total", &core), Some(9.0));
    let os = [("id", "ubuntu"), ("id_like", "debian"), ("name", "Ubuntu")];
    assert_eq!(mine.get("node_os_version", &os), Some(20.04));
    assert_eq!(
        mine.get("node_network_up", &[("device", "eth0")]),
        Some(1.0)
    );
    assert_eq!(
        mine.get("node_network_speed_bytes", &[("device", "bond0")]),
        None
    );
    assert_eq!(
        mine.get("node_cpu_seconds_total", &[("cpu", "0"), ("mode", "user")]),
        Some(444.9)
    );
    // The network collectors' fixture files (proc/net/{arp,softnet_stat,
    // udp,stat/nf_conntrack}, proc/sys/net/netfilter).
    assert_eq!(
        mine.get("node_arp_entries", &[("device", "eth1")]),
        Some(3.0)
    );
    assert_eq!(mine.get("node_arp_entries", &[("device", "nope")]), None);
    assert_eq!(
        mine.get("node_nf_conntrack_entries_limit", &[]),
        Some(65536.0)
    );
    // Summed over the four CPU rows.
    assert_eq!(
        mine.get("node_nf_conntrack_stat_ignore", &[]),
        Some(89738.0)
    );
    assert_eq!(
        mine.get("node_nf_conntrack_stat_search_restart", &[]),
        Some(7.0)
    );
    let cpu2 = [("cpu", "2")];
    assert_eq!(
        mine.get("node_softnet_processed_total", &cpu2),
        Some(5577791.0)
    );
    assert_eq!(
        mine.get("node_softnet_times_squeezed_total", &cpu2),
        Some(85.0)
    );
    let v4_tx = [("ip", "v4"), ("queue", "tx")];
    assert_eq!(mine.get("node_udp_queues", &v4_tx), Some(21.0));
    // node_disk_info: 1.12 adds the `rotational` label; 1.5 has the rest.
    let sda = mine.samples["node_disk_info"]
        .keys()
        .find(|l| l["device"] == "sda")
        .cloned()
        .expect("sda in node_disk_info");
    assert_eq!(
        (
            sda["model"].as_str(),
            sda["serial"].as_str(),
            sda["rotational"].as_str()
        ),
        ("EXAMPLE_SSD", "1234", "1")
    );
    let mut mine = mine;
    let mut theirs = theirs;
    drop_labels(&mut mine, "node_disk_info", &["rotational"]);
    // sdb's serial is only in SCSI_IDENT_SERIAL, which 1.12 reads and 1.5
    // does not: check that, then compare the rest.
    assert_eq!(disk_label(&mine, "sdb", "serial"), "SCSI-5678");
    for family in UDEV_ONLY {
        assert!(
            mine.samples.contains_key(*family),
            "{family} from our udev records"
        );
    }
    assert_eq!(disk_label(&theirs, "sdb", "serial"), "");
    for s in [&mut mine, &mut theirs] {
        drop_label_of(s, "node_disk_info", "sdb", "serial");
    }
    let diffs = differences(&mine, &theirs, NEWER_THAN_1_5);
    assert!(
        diffs.is_empty(),
        "differences from node_exporter 1.5:\n{}",
        diffs.join("\n")
    );
    // The documented version differences are really there (and only there).
    for name in NEWER_THAN_1_5 {
        assert!(
            mine.samples.contains_key(*name),
            "{name} expected in node-agent"
        );
        assert_ne!(
            mine.samples.get(*name),
            theirs.samples.get(*name),
            "{name} is the same in 1.5 after all"
        );
    }
}

#[test]
fn same_samples_as_the_node_exporter_1_12_expected_output() {
    let Some(fx) = fixtures() else { return };
    let tmp = tempfile::tempdir().unwrap();
    ttar::unpack(&fx.join("sys.ttar"), tmp.path()).unwrap();
    let agent = Agent::start(&args(&fx, &tmp.path().join("sys")));
    let (_, mut mine) = agent.scrape();
    // The e2e run disables the host-dependent uname collector.
    for family in mine.samples.values_mut() {
        family.retain(|labels, _| labels.get("collector").map(String::as_str) != Some("uname"));
    }
    let mut e2e = parse(&std::fs::read_to_string(fx.join("e2e-output.txt")).unwrap()).unwrap();
    // The e2e run's udev records are not among the shared fixtures: compare
    // node_disk_info on device, numbers and `rotational` only (the udev
    // labels are checked against node_exporter 1.5 with our own records).
    let udev_labels = ["model", "path", "revision", "serial", "wwn"];
    drop_labels(&mut mine, "node_disk_info", &udev_labels);
    drop_labels(&mut e2e, "node_disk_info", &udev_labels);
    // Families made only of udev properties: checked against 1.5 instead.
    for family in UDEV_ONLY {
        mine.samples.remove(*family);
    }

    let diffs = differences(&mine, &e2e, NOT_IN_E2E);
    assert!(
        diffs.is_empty(),
        "differences from e2e-output.txt:\n{}",
        diffs.join("\n")
    );
    for name in NOT_IN_E2E {
        assert!(
            !e2e.samples.contains_key(*name)
                || name.starts_with("process_")
                || name.starts_with("node_scrape"),
            "{name} is in e2e-output.txt after all: compare it"
        );
    }
}
