//! The agent's own `process_*` metrics, as client_golang's process collector
//! exports them for node_exporter. Always from the real `/proc/self` (not
//! `--path.procfs`): they describe this process, not the monitored host root.

use std::path::Path;

use anyhow::{Context, Result};
use procfs_core::process::Stat;
use procfs_core::FromRead;

use crate::collectors::{page_size, user_hz};
use crate::metrics::MetricSet;

/// Reads this process's figures.
pub struct ProcessMetrics {
    boot_time: f64,
    hz: f64,
    page_size: f64,
}

impl ProcessMetrics {
    /// Reads the boot time once (it never changes while we run).
    pub fn new() -> Self {
        let boot_time = std::fs::read_to_string("/proc/stat")
            .ok()
            .and_then(|t| {
                t.lines()
                    .find_map(|l| l.strip_prefix("btime ")?.trim().parse().ok())
            })
            .unwrap_or(0.0);
        Self {
            boot_time,
            hz: user_hz() as f64,
            page_size: page_size() as f64,
        }
    }

    /// Appends the `process_*` families.
    pub fn collect(&self, out: &mut MetricSet) -> Result<()> {
        let file = std::fs::File::open("/proc/self/stat").context("open /proc/self/stat")?;
        let stat = Stat::from_read(file)?;
        out.counter(
            "process_cpu_seconds_total",
            "Total user and system CPU time spent in seconds.",
            (stat.utime + stat.stime) as f64 / self.hz,
        );
        out.gauge(
            "process_resident_memory_bytes",
            "Resident memory size in bytes.",
            stat.rss as f64 * self.page_size,
        );
        out.gauge(
            "process_virtual_memory_bytes",
            "Virtual memory size in bytes.",
            stat.vsize as f64,
        );
        out.gauge(
            "process_start_time_seconds",
            "Start time of the process since unix epoch in seconds.",
            self.boot_time + stat.starttime as f64 / self.hz,
        );
        let open = std::fs::read_dir(Path::new("/proc/self/fd"))
            .map(|d| d.count())
            .unwrap_or(0);
        out.gauge(
            "process_open_fds",
            "Number of open file descriptors.",
            open as f64,
        );
        out.gauge(
            "process_max_fds",
            "Maximum number of open file descriptors.",
            soft_limit(libc::RLIMIT_NOFILE),
        );
        out.gauge(
            "process_virtual_memory_max_bytes",
            "Maximum amount of virtual memory available in bytes.",
            soft_limit(libc::RLIMIT_AS),
        );
        Ok(())
    }
}

impl Default for ProcessMetrics {
    fn default() -> Self {
        Self::new()
    }
}

fn soft_limit(resource: libc::__rlimit_resource_t) -> f64 {
    // SAFETY: getrlimit writes into the struct we own.
    let mut r: libc::rlimit = unsafe { std::mem::zeroed() };
    if unsafe { libc::getrlimit(resource, &mut r) } != 0 {
        return f64::NAN;
    }
    r.rlim_cur as f64
}
