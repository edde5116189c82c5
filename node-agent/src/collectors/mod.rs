//! The collectors: one file each, behind one trait, registered in
//! [`COLLECTORS`] — the list that also produces the `--collector.<name>` flags.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result};

use crate::config::Config;
use crate::metrics::MetricSet;

pub mod cpu;
pub mod diskstats;
pub mod entropy;
pub mod filefd;
pub mod filesystem;
pub mod loadavg;
pub mod meminfo;
pub mod netclass;
pub mod netdev;
pub mod netstat;
pub mod pressure;
pub mod sockstat;
pub mod stat;
pub mod time;
pub mod uname;
pub mod vmstat;

/// One source of metrics. A failing `update` is logged and reported as
/// `node_scrape_collector_success{collector} 0`; the scrape goes on.
pub trait Collector: Send + Sync {
    /// Appends this collector's samples for one scrape.
    fn update(&self, out: &mut MetricSet) -> Result<()>;
}

/// Constructor of a collector from the configuration.
pub type BuildFn = fn(&Config) -> Result<Box<dyn Collector>>;

/// A registered collector.
pub struct CollectorSpec {
    /// The name in `--collector.<name>` and in the `collector` label.
    pub name: &'static str,
    /// Enabled unless `--no-collector.<name>` or `--collector.disable-defaults`.
    pub default_enabled: bool,
    /// Builds it.
    pub build: BuildFn,
}

/// Every collector node-agent has, in the order they run.
pub const COLLECTORS: &[CollectorSpec] = &[
    spec("cpu", cpu::build),
    spec("diskstats", diskstats::build),
    spec("entropy", entropy::build),
    spec("filefd", filefd::build),
    spec("filesystem", filesystem::build),
    spec("loadavg", loadavg::build),
    spec("meminfo", meminfo::build),
    spec("netclass", netclass::build),
    spec("netdev", netdev::build),
    spec("netstat", netstat::build),
    spec("pressure", pressure::build),
    spec("sockstat", sockstat::build),
    spec("stat", stat::build),
    spec("time", time::build),
    spec("uname", uname::build),
    spec("vmstat", vmstat::build),
];

const fn spec(name: &'static str, build: BuildFn) -> CollectorSpec {
    CollectorSpec {
        name,
        default_enabled: true,
        build,
    }
}

/// Reads a whole (small) file, naming it in the error.
pub(crate) fn read(path: &Path) -> Result<String> {
    std::fs::read_to_string(path).with_context(|| format!("Failed to read {}", path.display()))
}

/// Opens a file for procfs-core's `FromRead` parsers, naming it in the error.
pub(crate) fn open(path: &Path) -> Result<std::fs::File> {
    std::fs::File::open(path).with_context(|| format!("Failed to open {}", path.display()))
}

/// `<root>/<rel>`.
pub(crate) fn under(root: &Path, rel: &str) -> PathBuf {
    root.join(rel)
}

/// Compiles a flag's regex, naming the flag in the error.
pub(crate) fn regex(flag: &str, pattern: &str) -> Result<regex::Regex> {
    regex::Regex::new(pattern).with_context(|| format!("Invalid regex for --{flag}: {pattern:?}"))
}

/// The kernel's USER_HZ (clock ticks per second in /proc/stat).
pub(crate) fn user_hz() -> u64 {
    // SAFETY: sysconf has no preconditions.
    let hz = unsafe { libc::sysconf(libc::_SC_CLK_TCK) };
    if hz > 0 {
        hz as u64
    } else {
        100
    }
}

/// The memory page size in bytes.
pub(crate) fn page_size() -> u64 {
    // SAFETY: sysconf has no preconditions.
    let ps = unsafe { libc::sysconf(libc::_SC_PAGESIZE) };
    if ps > 0 {
        ps as u64
    } else {
        4096
    }
}
