//! `cpu`: seconds each CPU spent in each mode, from `/proc/stat`, and thermal
//! throttle counts per core and package from
//! `/sys/devices/system/cpu/cpu*/thermal_throttle` (physical x86 hosts).
//!
//! Parsed by hand rather than with procfs-core's `KernelStats`, which keeps
//! CPUs in a plain vector and so loses their ids: with an offline CPU the
//! `cpu` labels would shift.

use std::collections::btree_map::Entry;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use anyhow::{bail, Result};

use super::{read, read_attr, under, user_hz, AttrDir, Collector};
use crate::metrics::{MetricSet, MetricType};
use crate::settings::Config;

const MODES: [&str; 8] = [
    "user", "nice", "system", "idle", "iowait", "irq", "softirq", "steal",
];
const IDLE: usize = 3;
const IOWAIT: usize = 4;

/// Reads `/proc/stat` per CPU.
pub struct CpuCollector {
    stat: PathBuf,
    /// `<sysfs>/devices/system/cpu`.
    cpu_dir: PathBuf,
    hz: f64,
    guest: bool,
    /// Last values per CPU: idle and iowait can go backwards on some kernels;
    /// like node_exporter we keep the previous value then, so counters stay
    /// monotonic.
    last: Mutex<Vec<(String, [f64; 10])>>,
}

/// Builds the collector.
pub fn build(config: &Config) -> Result<Box<dyn Collector>> {
    Ok(Box::new(CpuCollector {
        stat: under(&config.procfs, "stat"),
        cpu_dir: under(&config.sysfs, "devices/system/cpu"),
        hz: user_hz() as f64,
        guest: config.cpu_guest,
        last: Mutex::new(Vec::new()),
    }))
}

/// One `cpuN` line: the id and its ten tick counters (missing ones are 0).
pub(crate) fn parse_cpu_lines(text: &str, hz: f64) -> Vec<(String, [f64; 10])> {
    text.lines()
        .filter_map(|line| {
            let rest = line.strip_prefix("cpu")?;
            let (id, fields) = rest.split_once(' ')?;
            if id.is_empty() || !id.bytes().all(|b| b.is_ascii_digit()) {
                return None;
            }
            let mut v = [0.0; 10];
            for (slot, f) in v.iter_mut().zip(fields.split_whitespace()) {
                *slot = f.parse::<u64>().ok()? as f64 / hz;
            }
            Some((id.to_string(), v))
        })
        .collect()
}

fn read_u64(path: &Path) -> Option<u64> {
    read_attr(path).ok()?.trim().parse().ok()
}

impl CpuCollector {
    /// Throttle counters, read once per core and once per package (the
    /// hyperthreads of a core share them), as node_exporter does.
    fn thermal_throttles(&self, out: &mut MetricSet) {
        let Ok(entries) = std::fs::read_dir(&self.cpu_dir) else {
            return;
        };
        let mut packages: BTreeMap<u64, u64> = BTreeMap::new();
        let mut cores: BTreeMap<(u64, u64), u64> = BTreeMap::new();
        for entry in entries.flatten() {
            let name = entry.file_name();
            let name = name.to_string_lossy();
            let is_cpu = name
                .strip_prefix("cpu")
                .is_some_and(|n| n.starts_with(|c: char| c.is_ascii_digit()));
            if !is_cpu {
                continue;
            }
            let dir = entry.path();
            // Virtual machines have no thermal_throttle directory: one failed
            // open per CPU then, instead of reading its topology for nothing.
            let Ok(throttle) = AttrDir::open(&dir.join("thermal_throttle")) else {
                continue;
            };
            let (Some(package), Some(core)) = (
                read_u64(&dir.join("topology/physical_package_id")),
                read_u64(&dir.join("topology/core_id")),
            ) else {
                continue;
            };
            let count =
                |name: &std::ffi::CStr| throttle.read(name).ok()?.trim().parse::<u64>().ok();
            if let Entry::Vacant(e) = cores.entry((package, core)) {
                if let Some(n) = count(c"core_throttle_count") {
                    e.insert(n);
                }
            }
            if let Entry::Vacant(e) = packages.entry(package) {
                if let Some(n) = count(c"package_throttle_count") {
                    e.insert(n);
                }
            }
        }
        for (package, n) in packages {
            out.push(
                "node_cpu_package_throttles_total",
                "Number of times this CPU package has been throttled.",
                MetricType::Counter,
                &[("package", &package.to_string())],
                n as f64,
            );
        }
        for ((package, core), n) in cores {
            out.push(
                "node_cpu_core_throttles_total",
                "Number of times this CPU core has been throttled.",
                MetricType::Counter,
                &[
                    ("core", &core.to_string()),
                    ("package", &package.to_string()),
                ],
                n as f64,
            );
        }
    }
}

impl Collector for CpuCollector {
    fn update(&self, out: &mut MetricSet) -> Result<()> {
        self.thermal_throttles(out);
        let mut cpus = parse_cpu_lines(&read(&self.stat)?, self.hz);
        if cpus.is_empty() {
            bail!("no cpu lines in {}", self.stat.display());
        }
        let mut last = self.last.lock().unwrap_or_else(|e| e.into_inner());
        let same_set = last.len() == cpus.len() && last.iter().zip(&cpus).all(|(a, b)| a.0 == b.0);
        if same_set {
            for ((_, old), (_, new)) in last.iter().zip(cpus.iter_mut()) {
                for i in [IDLE, IOWAIT] {
                    if new[i] < old[i] {
                        new[i] = old[i];
                    }
                }
            }
        }
        *last = cpus.clone();
        drop(last);
        for (id, v) in &cpus {
            for (mode, value) in MODES.iter().zip(v) {
                out.push(
                    "node_cpu_seconds_total",
                    "Seconds the CPUs spent in each mode.",
                    MetricType::Counter,
                    &[("cpu", id), ("mode", mode)],
                    *value,
                );
            }
            if self.guest {
                for (mode, value) in [("user", v[8]), ("nice", v[9])] {
                    out.push(
                        "node_cpu_guest_seconds_total",
                        "Seconds the CPUs spent in guests (VMs) for each mode.",
                        MetricType::Counter,
                        &[("cpu", id), ("mode", mode)],
                        value,
                    );
                }
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_cpu_ids_of_offline_gaps_and_scales_ticks() {
        let text = "cpu  1 2 3 4 5 6 7 8 9 10\ncpu0 100 0 0 0 0 0 0 0 0 0\ncpu2 250 1 2 3 4 5 6 7 8 9\nintr 5\n";
        let cpus = parse_cpu_lines(text, 100.0);
        assert_eq!(cpus.len(), 2);
        assert_eq!(cpus[1].0, "2");
        assert_eq!(cpus[1].1[0], 2.5);
        assert_eq!(cpus[1].1[9], 0.09);
    }

    #[test]
    fn idle_never_goes_backwards() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("stat");
        let c = CpuCollector {
            stat: path.clone(),
            cpu_dir: dir.path().join("none"),
            hz: 100.0,
            guest: false,
            last: Mutex::new(Vec::new()),
        };
        std::fs::write(&path, "cpu0 1 0 0 500 0 0 0 0 0 0\n").unwrap();
        c.update(&mut MetricSet::new()).unwrap();
        std::fs::write(&path, "cpu0 2 0 0 400 0 0 0 0 0 0\n").unwrap();
        let mut out = MetricSet::new();
        c.update(&mut out).unwrap();
        let s = crate::parse::parse(&out.render()).unwrap();
        let get = |m| s.get("node_cpu_seconds_total", &[("cpu", "0"), ("mode", m)]);
        assert_eq!(get("idle"), Some(5.0));
        assert_eq!(get("user"), Some(0.02));
    }
}
