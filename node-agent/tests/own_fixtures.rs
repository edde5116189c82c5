//! node-agent's own fixtures (tests/fixtures/, see the README there) for
//! what node_exporter's fixture root lacks, each compared with the real
//! node_exporter on the same root and checked against the alert rules'
//! arithmetic.

mod common;

use std::path::PathBuf;

use common::{differences, node_exporter_bin, Agent, Exporter};
use node_agent::parse::Scrape;

fn root(name: &str) -> PathBuf {
    PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures")).join(name)
}

/// Scrapes node-agent (and node_exporter when installed) on a fixture root
/// with only `collectors`, asserting both agree on every node-agent sample.
fn scrape_and_compare(name: &str, collectors: &[&str]) -> Scrape {
    let sys = tempfile::tempdir().unwrap();
    let mut args = vec![
        format!("--path.procfs={}", root(name).join("proc").display()),
        format!("--path.sysfs={}", sys.path().display()),
        format!("--path.rootfs={}", root(name).display()),
        "--collector.disable-defaults".to_string(),
    ];
    args.extend(collectors.iter().map(|c| format!("--collector.{c}")));
    let agent = Agent::start(&args);
    let (_, mine) = agent.scrape();
    for c in collectors {
        assert_eq!(
            mine.get("node_scrape_collector_success", &[("collector", c)]),
            Some(1.0),
            "{c} on {name}"
        );
    }
    if let Some(bin) = node_exporter_bin() {
        let (_, theirs) = Exporter::start(bin, &args).scrape();
        let diffs = differences(&mine, &theirs, &[]);
        assert!(
            diffs.is_empty(),
            "{name}: differences from node_exporter:\n{}",
            diffs.join("\n")
        );
    }
    mine
}

fn value(s: &Scrape, name: &str) -> f64 {
    s.get(name, &[]).unwrap_or_else(|| panic!("{name} missing"))
}

#[test]
fn meminfo_with_mem_available_exports_every_field() {
    let s = scrape_and_compare("meminfo-available", &["meminfo"]);
    let text = std::fs::read_to_string(root("meminfo-available").join("proc/meminfo")).unwrap();
    let exported = s
        .samples
        .keys()
        .filter(|k| k.starts_with("node_memory_"))
        .count();
    assert_eq!(
        exported,
        text.lines().count(),
        "one family per meminfo line"
    );
    assert_eq!(
        value(&s, "node_memory_MemAvailable_bytes"),
        4718592.0 * 1024.0
    );
    assert_eq!(value(&s, "node_memory_HugePages_Total"), 0.0);
    assert_eq!(s.types["node_memory_MemAvailable_bytes"], "gauge");
}

#[test]
fn nearly_full_memory_trips_the_out_of_memory_alert_arithmetic() {
    let s = scrape_and_compare("meminfo-nearfull", &["meminfo"]);
    // HostOutOfMemory: MemAvailable / MemTotal * 100 < 10
    let pct = value(&s, "node_memory_MemAvailable_bytes") / value(&s, "node_memory_MemTotal_bytes")
        * 100.0;
    assert!(pct < 10.0 && pct > 0.0, "available {pct}%");
    let ok = scrape_and_compare("meminfo-available", &["meminfo"]);
    let pct = value(&ok, "node_memory_MemAvailable_bytes")
        / value(&ok, "node_memory_MemTotal_bytes")
        * 100.0;
    assert!(pct > 50.0, "available {pct}%");
}

#[test]
fn busy_cpu_shows_little_idle_plus_steal_and_guest_time() {
    let s = scrape_and_compare("busy-cpu", &["cpu", "stat", "loadavg"]);
    let cpu = &s.samples["node_cpu_seconds_total"];
    let total: f64 = cpu.values().sum();
    let idle: f64 = cpu
        .iter()
        .filter(|(l, _)| l["mode"] == "idle")
        .map(|(_, v)| v)
        .sum();
    // HostHighCpuLoad: 1 - avg(rate(idle)) > 0.8 — here since boot.
    assert!(
        1.0 - idle / total > 0.9,
        "busy fraction {}",
        1.0 - idle / total
    );
    let hz = 100.0; // USER_HZ on Linux
    assert_eq!(
        s.get("node_cpu_seconds_total", &[("cpu", "1"), ("mode", "steal")]),
        Some(20000.0 / hz)
    );
    assert_eq!(
        s.get(
            "node_cpu_guest_seconds_total",
            &[("cpu", "0"), ("mode", "user")]
        ),
        Some(15000.0 / hz)
    );
    assert_eq!(value(&s, "node_procs_running"), 7.0);
    assert_eq!(value(&s, "node_load1"), 3.95);
}
