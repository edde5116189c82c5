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
    "stat",
    "time",
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

fn args(fixtures: &std::path::Path, sys: &std::path::Path) -> Vec<String> {
    let mut a = vec![
        format!("--path.procfs={}", fixtures.join("proc").display()),
        format!("--path.sysfs={}", sys.display()),
        format!("--path.rootfs={}", fixtures.display()),
        "--collector.disable-defaults".to_string(),
        // As node_exporter's e2e run (which produced e2e-output.txt).
        "--collector.netclass.ignored-devices=(dmz|int)".to_string(),
        "--collector.netclass.ignore-invalid-speed".to_string(),
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
    let e2e = parse(&std::fs::read_to_string(fx.join("e2e-output.txt")).unwrap()).unwrap();

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
