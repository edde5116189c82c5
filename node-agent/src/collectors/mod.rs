//! The collectors: one file each, behind one trait, registered in
//! [`COLLECTORS`] — the list that also produces the `--collector.<name>` flags.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result};

use crate::metrics::MetricSet;
use crate::settings::Config;

pub mod arp;
pub mod conntrack;
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
pub mod os;
pub mod pressure;
pub mod sockstat;
pub mod softnet;
pub mod stat;
pub mod textfile;
pub mod time;
pub mod timex;
pub mod udp_queues;
pub mod uname;
pub mod vmstat;

/// One source of metrics. A failing `update` is logged and reported as
/// `node_scrape_collector_success{collector} 0`; the scrape goes on.
pub trait Collector: Send + Sync {
    /// Appends this collector's samples for one scrape.
    fn update(&self, out: &mut MetricSet) -> Result<()>;
}

/// What a collector returns when the host lacks its source (a kernel
/// module not loaded, neither IPv4 nor IPv6): reported with success 0 like
/// any failure, as node_exporter's `ErrNoData`, but logged at debug level
/// only, since nothing is wrong.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct NoData(pub String);

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
    spec("arp", arp::build),
    spec("conntrack", conntrack::build),
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
    spec("os", os::build),
    spec("pressure", pressure::build),
    spec("sockstat", sockstat::build),
    spec("softnet", softnet::build),
    spec("stat", stat::build),
    spec("textfile", textfile::build),
    spec("time", time::build),
    spec("timex", timex::build),
    spec("udp_queues", udp_queues::build),
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
    read_file(path).with_context(|| format!("Failed to read {}", path.display()))
}

/// Reads a procfs/sysfs file to its end. Unlike `fs::read_to_string` it does
/// not fstat the file first to size the buffer: procfs and sysfs report a
/// size of 0 or 4096 anyway, so that is one wasted syscall per file.
pub(crate) fn read_file(path: &Path) -> std::io::Result<String> {
    use std::io::Read;
    let mut file = std::fs::File::open(path)?;
    let mut buf = vec![0u8; 16 * 1024];
    let mut len = 0;
    loop {
        if len == buf.len() {
            buf.resize(buf.len() * 2, 0);
        }
        match file.read(&mut buf[len..]) {
            Ok(0) => break,
            Ok(n) => len += n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    buf.truncate(len);
    String::from_utf8(buf).map_err(|e| std::io::Error::new(std::io::ErrorKind::InvalidData, e))
}

/// Reads a one-value sysfs or `/proc/sys` attribute. The kernel returns such
/// an attribute whole in one read (it is at most a page), so this is one
/// open, one read and one close.
pub(crate) fn read_attr(path: &Path) -> std::io::Result<String> {
    use std::io::Read;
    let mut file = std::fs::File::open(path)?;
    let mut buf = [0u8; 4096];
    let n = file.read(&mut buf)?;
    Ok(String::from_utf8_lossy(&buf[..n]).into_owned())
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

/// A directory of attribute files (a sysfs device), opened once so each
/// attribute is opened relative to it: the kernel then walks one path
/// component instead of the whole (symlinked) sysfs path, which is most of
/// the cost of reading sysfs.
pub(crate) struct AttrDir {
    dir: std::fs::File,
}

impl AttrDir {
    /// Opens `path` as a directory.
    pub(crate) fn open(path: &Path) -> std::io::Result<Self> {
        use std::os::unix::fs::OpenOptionsExt;
        let dir = std::fs::OpenOptions::new()
            .read(true)
            .custom_flags(libc::O_DIRECTORY)
            .open(path)?;
        Ok(Self { dir })
    }

    /// Reads the one-value attribute `name` (see [`read_attr`]).
    pub(crate) fn read(&self, name: &std::ffi::CStr) -> std::io::Result<String> {
        use std::io::Read;
        use std::os::fd::{AsRawFd, FromRawFd};
        // SAFETY: openat with a directory fd we own and a NUL-terminated
        // name; a successful result is a new fd that the File then owns.
        let fd = unsafe {
            libc::openat(
                self.dir.as_raw_fd(),
                name.as_ptr(),
                libc::O_RDONLY | libc::O_CLOEXEC,
            )
        };
        if fd < 0 {
            return Err(std::io::Error::last_os_error());
        }
        let mut file = unsafe { std::fs::File::from_raw_fd(fd) };
        let mut buf = [0u8; 4096];
        let n = file.read(&mut buf)?;
        Ok(String::from_utf8_lossy(&buf[..n]).into_owned())
    }
}
