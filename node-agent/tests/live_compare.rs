//! node-agent and the real node_exporter on this machine's own /proc and
//! /sys at the same moment: the families both export have the same label
//! sets, counters agree within the time between the scrapes, and gauges
//! that cannot move are equal.

mod common;

use common::{agent_only, close, node_exporter_bin, Agent, Exporter};
use node_agent::collectors::COLLECTORS;
use node_agent::config::{
    DEFAULT_DISKSTATS_EXCLUDE, DEFAULT_FS_TYPES_EXCLUDE, DEFAULT_MOUNT_POINTS_EXCLUDE,
};

/// In node-agent but not in node_exporter 1.5 (newer node_exporter has them).
const NEWER_THAN_1_5: &[&str] = &[
    "node_pressure_irq_stalled_seconds_total",
    "node_netstat_TcpExt_TCPOFOQueue",
    "node_netstat_TcpExt_TCPRcvQDrop",
    // 1.12's labels (adds `adminstate`).
    "node_network_info",
    // 1.12's labels (adds `rotational`; serial from SCSI_IDENT_SERIAL first).
    "node_disk_info",
    // softnet: the columns 1.12 reads beyond the first three.
    "node_softnet_backlog_len",
    "node_softnet_cpu_collision_total",
    "node_softnet_flow_limit_count_total",
    "node_softnet_received_rps_total",
];

/// node_exporter families (of the same collectors, or of its Go runtime)
/// that node-agent deliberately does not export; see the README.
const NOT_EXPORTED: &[&str] = &[
    "go_",
    "promhttp_",
    "node_exporter_build_info",
    // diskstats (1.12): the device-mapper volume's underlying devices.
    "node_disk_device_mapper_backing_device_info",
];

/// Gauges that do not move between two scrapes a moment apart.
const STILL_GAUGES: &[&str] = &[
    "node_boot_time_seconds",
    "node_memory_MemTotal_bytes",
    "node_memory_SwapTotal_bytes",
    "node_filefd_maximum",
    "node_entropy_pool_size_bits",
    "node_filesystem_size_bytes",
    "node_filesystem_files",
    "node_filesystem_readonly",
    "node_filesystem_device_error",
    "node_uname_info",
    "node_time_zone_offset_seconds",
    "node_time_clocksource_current_info",
    "node_time_clocksource_available_info",
    "node_nf_conntrack_entries_limit",
    "node_timex_status",
    "node_timex_tick_seconds",
    "node_timex_loop_time_constant",
    "node_timex_tai_offset_seconds",
    "node_timex_sync_status",
];

/// Label sets that may legitimately change between the scrapes: the
/// collectors' own durations, and process figures of two different processes.
fn label_sets_may_differ(name: &str) -> bool {
    name.starts_with("process_") || name == "node_scrape_collector_duration_seconds"
}

#[test]
fn same_families_labels_and_counters_as_node_exporter_on_this_host() {
    let Some(bin) = node_exporter_bin() else {
        return;
    };
    // Explicit filters: Debian patches node_exporter's defaults for the
    // first three, and 1.5's diskstats default does not yet exclude zram
    // devices (newer releases do, and so does node-agent).
    let mut args = vec![
        format!("--collector.diskstats.device-exclude={DEFAULT_DISKSTATS_EXCLUDE}"),
        format!("--collector.filesystem.mount-points-exclude={DEFAULT_MOUNT_POINTS_EXCLUDE}"),
        format!("--collector.filesystem.fs-types-exclude={DEFAULT_FS_TYPES_EXCLUDE}"),
        "--collector.netdev.device-exclude=^$".to_string(),
        // Debian's build reads /var/lib/prometheus/node-exporter by default.
        "--collector.textfile.directory=".to_string(),
        "--collector.disable-defaults".to_string(),
    ];
    args.extend(COLLECTORS.iter().map(|c| format!("--collector.{}", c.name)));
    let agent = Agent::start(&args);
    let exporter = Exporter::start(bin, &args);

    // Bracket node_exporter's scrape between two of ours.
    let (_, before) = agent.scrape();
    let (_, theirs) = exporter.scrape();
    let (_, after) = agent.scrape();

    let mut problems = Vec::new();
    let mut compared_counters = 0;
    for (name, samples) in &after.samples {
        if NEWER_THAN_1_5.contains(&name.as_str()) || agent_only(name) {
            continue;
        }
        let Some(other) = theirs.samples.get(name) else {
            problems.push(format!("{name}: not exported by node_exporter"));
            continue;
        };
        if after.types.get(name) != theirs.types.get(name) {
            problems.push(format!("{name}: type differs"));
        }
        if after.helps.get(name) != theirs.helps.get(name) {
            problems.push(format!(
                "{name}: help {:?} vs {:?}",
                after.helps.get(name),
                theirs.helps.get(name)
            ));
        }
        if !label_sets_may_differ(name) {
            let mine_keys: Vec<_> = samples.keys().collect();
            let their_keys: Vec<_> = other.keys().collect();
            if mine_keys != their_keys {
                problems.push(format!(
                    "{name}: label sets {mine_keys:?} vs {their_keys:?}"
                ));
                continue;
            }
        }
        let counter = after.types.get(name).map(String::as_str) == Some("counter");
        for (labels, hi) in samples {
            let (Some(lo), Some(t)) = (
                before.samples.get(name).and_then(|m| m.get(labels)),
                other.get(labels),
            ) else {
                continue;
            };
            if counter && !name.starts_with("process_") {
                compared_counters += 1;
                // Counters move forward between our two scrapes; theirs was
                // taken in between (a little slack for per-CPU idle clamps).
                let slack = 0.02 + 1e-9 * hi.abs();
                if *t < lo - slack || *t > hi + slack {
                    problems.push(format!("{name}{labels:?}: {t} not within [{lo}, {hi}]"));
                }
            } else if STILL_GAUGES.contains(&name.as_str()) && !close(*hi, *t) {
                problems.push(format!("{name}{labels:?}: {hi} vs {t}"));
            }
        }
    }
    for name in theirs.samples.keys() {
        if !after.samples.contains_key(name) && !NOT_EXPORTED.iter().any(|p| name.starts_with(p)) {
            problems.push(format!("{name}: exported by node_exporter only"));
        }
    }
    assert!(
        problems.is_empty(),
        "live differences:\n{}",
        problems.join("\n")
    );
    assert!(
        compared_counters > 20,
        "only {compared_counters} counters compared"
    );
    for family in [
        "node_cpu_seconds_total",
        "node_memory_MemAvailable_bytes",
        "node_uname_info",
        "node_load1",
        "node_timex_offset_seconds",
        "node_softnet_processed_total",
        "node_udp_queues",
        "node_disk_info",
    ] {
        assert!(
            theirs.samples.contains_key(family) && after.samples.contains_key(family),
            "{family}"
        );
    }
}
