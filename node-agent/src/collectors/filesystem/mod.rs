//! `filesystem`: size, free and available bytes, inodes, read-only flag and
//! `device_error` per mounted filesystem, from `<procfs>/1/mountinfo` and
//! statfs(2) of `<rootfs>/<mount point>` (the rootfs prefix is stripped from
//! the `mountpoint` label).
//!
//! mountinfo is parsed by hand: procfs-core's `MountInfo` turns the device
//! `none` into `None` (node_exporter reports `device="none"`), does not undo
//! the `\040` escapes in mount points, and builds two option maps per mount.

pub mod statfs;

use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::{anyhow, Result};
use regex::Regex;

use self::statfs::{GuardedStatfs, Outcome, Statfs, SystemStatfs};
use super::{read, regex, Collector};
use crate::metrics::{MetricSet, MetricType};
use crate::settings::Config;

/// One line of mountinfo, as labels.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mount {
    /// Mount source (`/dev/sda1`, `server:/export`, `tmpfs`).
    pub device: String,
    /// Mount point as seen from the host root (prefix already stripped).
    pub mount_point: String,
    /// Filesystem type.
    pub fs_type: String,
    /// Whether the per-mount options contain `ro`.
    pub read_only: bool,
}

/// Reports every mounted filesystem not excluded by the flags.
pub struct FilesystemCollector {
    procfs: PathBuf,
    rootfs: PathBuf,
    mount_points_exclude: Regex,
    fs_types_exclude: Regex,
    statfs: GuardedStatfs,
}

/// Builds the collector on the real statfs.
pub fn build(config: &Config) -> Result<Box<dyn Collector>> {
    Ok(Box::new(FilesystemCollector::new(
        config,
        Arc::new(SystemStatfs),
    )?))
}

/// Undoes mountinfo's octal escapes (`\040` space, `\011` tab, `\134` backslash).
fn unescape(s: &str) -> String {
    if !s.contains('\\') {
        return s.to_string();
    }
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'\\'
            && i + 3 < b.len()
            && b[i + 1..i + 4].iter().all(|c| (b'0'..=b'7').contains(c))
        {
            let v = (b[i + 1] - b'0') * 64 + (b[i + 2] - b'0') * 8 + (b[i + 3] - b'0');
            out.push(v);
            i += 4;
        } else {
            out.push(b[i]);
            i += 1;
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// `path` without the rootfs prefix, as node_exporter's `rootfsStripPrefix`.
fn strip_rootfs(rootfs: &Path, path: &str) -> String {
    let root = rootfs.to_string_lossy();
    if root == "/" {
        return path.to_string();
    }
    match path.strip_prefix(root.trim_end_matches('/')) {
        Some("") => "/".to_string(),
        Some(rest) => rest.to_string(),
        None => path.to_string(),
    }
}

/// Parses mountinfo text.
pub fn parse_mountinfo(text: &str, rootfs: &Path) -> Result<Vec<Mount>> {
    let mut mounts = Vec::new();
    for (i, line) in text.lines().enumerate() {
        let parts: Vec<&str> = line.split_whitespace().collect();
        let sep = parts.iter().position(|p| *p == "-");
        let (Some(sep), true) = (sep, parts.len() >= 10) else {
            return Err(anyhow!("malformed mountinfo line {}: {line:?}", i + 1));
        };
        let (Some(fs_type), Some(device)) = (parts.get(sep + 1), parts.get(sep + 2)) else {
            return Err(anyhow!("malformed mountinfo line {}: {line:?}", i + 1));
        };
        mounts.push(Mount {
            device: unescape(device),
            mount_point: strip_rootfs(rootfs, &unescape(parts[4])),
            fs_type: fs_type.to_string(),
            read_only: parts[5].split(',').any(|o| o == "ro"),
        });
    }
    Ok(mounts)
}

impl FilesystemCollector {
    /// A collector asking `statfs` (guarded by `--collector.filesystem.mount-timeout`).
    pub fn new(config: &Config, statfs: Arc<dyn Statfs>) -> Result<Self> {
        Ok(Self {
            procfs: config.procfs.clone(),
            rootfs: config.rootfs.clone(),
            mount_points_exclude: regex(
                "collector.filesystem.mount-points-exclude",
                &config.mount_points_exclude,
            )?,
            fs_types_exclude: regex(
                "collector.filesystem.fs-types-exclude",
                &config.fs_types_exclude,
            )?,
            statfs: GuardedStatfs::new(statfs, config.mount_timeout),
        })
    }

    /// Mount points currently skipped because their statfs is still blocked.
    pub fn stuck_mounts(&self) -> Vec<String> {
        self.statfs.stuck_mounts()
    }

    fn mounts(&self) -> Result<Vec<Mount>> {
        let text = read(&self.procfs.join("1/mountinfo"))
            .or_else(|_| read(&self.procfs.join("self/mountinfo")))?;
        parse_mountinfo(&text, &self.rootfs)
    }
}

fn gauge(out: &mut MetricSet, name: &str, help: &str, m: &Mount, v: f64) {
    out.push(
        name,
        help,
        MetricType::Gauge,
        &[
            ("device", &m.device),
            ("fstype", &m.fs_type),
            ("mountpoint", &m.mount_point),
        ],
        v,
    );
}

fn emit(out: &mut MetricSet, m: &Mount, outcome: Outcome) {
    let stat = match outcome {
        Outcome::Stat(s) => Some(s),
        Outcome::Failed(_) | Outcome::Stuck => None,
    };
    let error = if stat.is_some() { 0.0 } else { 1.0 };
    gauge(
        out,
        "node_filesystem_device_error",
        "Whether an error occurred while getting statistics for the given device.",
        m,
        error,
    );
    let Some(s) = stat else { return };
    let bs = s.block_size as f64;
    gauge(
        out,
        "node_filesystem_size_bytes",
        "Filesystem size in bytes.",
        m,
        s.blocks as f64 * bs,
    );
    gauge(
        out,
        "node_filesystem_free_bytes",
        "Filesystem free space in bytes.",
        m,
        s.blocks_free as f64 * bs,
    );
    gauge(
        out,
        "node_filesystem_avail_bytes",
        "Filesystem space available to non-root users in bytes.",
        m,
        s.blocks_avail as f64 * bs,
    );
    gauge(
        out,
        "node_filesystem_files",
        "Filesystem total file nodes.",
        m,
        s.files as f64,
    );
    gauge(
        out,
        "node_filesystem_files_free",
        "Filesystem total free file nodes.",
        m,
        s.files_free as f64,
    );
    gauge(
        out,
        "node_filesystem_readonly",
        "Filesystem read-only status.",
        m,
        if m.read_only { 1.0 } else { 0.0 },
    );
}

impl Collector for FilesystemCollector {
    fn update(&self, out: &mut MetricSet) -> Result<()> {
        let mut seen = HashSet::new();
        let mut wanted = Vec::new();
        for m in self.mounts()? {
            if self.mount_points_exclude.is_match(&m.mount_point)
                || self.fs_types_exclude.is_match(&m.fs_type)
            {
                continue;
            }
            // The same filesystem mounted twice at one place is reported once.
            if seen.insert((m.device.clone(), m.mount_point.clone(), m.fs_type.clone())) {
                wanted.push(m);
            }
        }
        let paths: Vec<(String, PathBuf)> = wanted
            .iter()
            .map(|m| {
                let path = self.rootfs.join(m.mount_point.trim_start_matches('/'));
                (m.mount_point.clone(), path)
            })
            .collect();
        let outcomes = self.statfs.stat_all(&paths);
        for (m, outcome) in wanted.iter().zip(outcomes) {
            emit(out, m, outcome);
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_mountinfo_with_escapes_rootfs_and_optional_fields() {
        let text =
            "36 35 98:0 / /host/mnt/my\\040disk rw,noatime master:1 shared:2 - ext3 /dev/root rw\n\
                    37 35 0:5 / /host ro,relatime - xfs none rw\n";
        let m = parse_mountinfo(text, Path::new("/host")).unwrap();
        assert_eq!(m[0].mount_point, "/mnt/my disk");
        assert_eq!(m[0].fs_type, "ext3");
        assert_eq!(m[0].device, "/dev/root");
        assert!(!m[0].read_only);
        assert_eq!(m[1].mount_point, "/");
        assert_eq!(m[1].device, "none");
        assert!(m[1].read_only);
        assert!(parse_mountinfo("1 2 3\n", Path::new("/")).is_err());
    }
}
