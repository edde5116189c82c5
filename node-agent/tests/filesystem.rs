//! The filesystem collector: mountinfo parsing, exclusions, rootfs prefix,
//! values from an injected statfs, the real node_exporter on the same mounts,
//! and a hung network filesystem (statfs that blocks).

mod common;

use std::collections::HashMap;
use std::io;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant};

use common::{differences, node_exporter_bin, Agent, Exporter};
use node_agent::collectors::filesystem::statfs::{FsStat, Statfs};
use node_agent::collectors::filesystem::FilesystemCollector;
use node_agent::collectors::Collector;
use node_agent::metrics::MetricSet;
use node_agent::parse::{parse, Scrape};
use node_agent::Config;

fn fixture_proc() -> PathBuf {
    PathBuf::from(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/fixtures/filesystem/proc"
    ))
}

/// Excludes `/proc`, `/sys…` (as node_exporter's default) but not `/data`.
const MOUNT_EXCLUDE: &str = "--collector.filesystem.mount-points-exclude=^/(dev|proc|sys)($|/)";

fn config(rootfs: &Path, timeout: &str) -> Config {
    Config::parse_from([
        "node-agent".to_string(),
        format!("--path.procfs={}", fixture_proc().display()),
        format!("--path.rootfs={}", rootfs.display()),
        MOUNT_EXCLUDE.to_string(),
        format!("--collector.filesystem.mount-timeout={timeout}"),
    ])
    .unwrap()
}

/// A statfs answering from a table; `/gone` blocks until released.
#[derive(Default)]
struct FakeStatfs {
    table: HashMap<PathBuf, FsStat>,
    released: Mutex<bool>,
    wake: Condvar,
    calls: Mutex<HashMap<PathBuf, usize>>,
    blocked: AtomicUsize,
}

impl FakeStatfs {
    fn release(&self) {
        *self.released.lock().unwrap() = true;
        self.wake.notify_all();
    }
    fn calls(&self, p: &Path) -> usize {
        self.calls.lock().unwrap().get(p).copied().unwrap_or(0)
    }
}

impl Statfs for FakeStatfs {
    fn statfs(&self, path: &Path) -> io::Result<FsStat> {
        *self
            .calls
            .lock()
            .unwrap()
            .entry(path.to_path_buf())
            .or_default() += 1;
        if path.ends_with("gone") {
            self.blocked.fetch_add(1, Ordering::SeqCst);
            let mut released = self.released.lock().unwrap();
            while !*released {
                released = self.wake.wait(released).unwrap();
            }
            self.blocked.fetch_sub(1, Ordering::SeqCst);
        }
        self.table
            .get(path)
            .copied()
            .ok_or_else(|| io::Error::from(io::ErrorKind::NotFound))
    }
}

fn stat(blocks: u64) -> FsStat {
    FsStat {
        block_size: 4096,
        blocks,
        blocks_free: blocks / 2,
        blocks_avail: blocks / 4,
        files: 1000,
        files_free: 900,
    }
}

fn collect(c: &FilesystemCollector) -> Scrape {
    let mut out = MetricSet::new();
    c.update(&mut out).unwrap();
    parse(&out.render()).unwrap()
}

fn labels<'a>(dev: &'a str, fs: &'a str, mp: &'a str) -> [(&'a str, &'a str); 3] {
    [("device", dev), ("fstype", fs), ("mountpoint", mp)]
}

#[test]
fn injected_statfs_values_labels_exclusions_and_rootfs_prefix() {
    let root = Path::new("/host");
    let mut fake = FakeStatfs::default();
    fake.table.insert(root.join("data"), stat(1000));
    fake.table.insert(root.join("my disk"), stat(10));
    fake.release(); // nothing blocks in this test
    let c = FilesystemCollector::new(&config(root, "1s"), Arc::new(fake)).unwrap();
    let s = collect(&c);

    let data = labels("shmdata", "tmpfs", "/data");
    assert_eq!(
        s.get("node_filesystem_size_bytes", &data),
        Some(4096.0 * 1000.0)
    );
    assert_eq!(
        s.get("node_filesystem_free_bytes", &data),
        Some(4096.0 * 500.0)
    );
    assert_eq!(
        s.get("node_filesystem_avail_bytes", &data),
        Some(4096.0 * 250.0)
    );
    assert_eq!(s.get("node_filesystem_files", &data), Some(1000.0));
    assert_eq!(s.get("node_filesystem_files_free", &data), Some(900.0));
    assert_eq!(s.get("node_filesystem_readonly", &data), Some(0.0));
    assert_eq!(s.get("node_filesystem_device_error", &data), Some(0.0));
    let disk = labels("/dev/sdz1", "ext4", "/my disk");
    assert_eq!(s.get("node_filesystem_readonly", &disk), Some(1.0));
    // statfs fails: only device_error, like node_exporter.
    let gone = labels("server:/export", "nfs4", "/gone");
    assert_eq!(s.get("node_filesystem_device_error", &gone), Some(1.0));
    assert_eq!(s.get("node_filesystem_size_bytes", &gone), None);
    // Excluded by mount point (/proc, /sys/kernel) and type (cgroup2); the
    // duplicate /data line is reported once.
    let mut mounts: Vec<&str> = s.samples["node_filesystem_device_error"]
        .keys()
        .map(|l| l["mountpoint"].as_str())
        .collect();
    mounts.sort();
    assert_eq!(mounts, ["/data", "/gone", "/my disk"]);
    for name in ["node_filesystem_size_bytes", "node_filesystem_readonly"] {
        assert_eq!(s.types[name], "gauge");
    }
}

#[test]
fn hung_statfs_reports_device_error_and_is_skipped_until_it_returns() {
    let root = Path::new("/host");
    let mut fake = FakeStatfs::default();
    fake.table.insert(root.join("data"), stat(1000));
    fake.table.insert(root.join("my disk"), stat(10));
    fake.table.insert(root.join("gone"), stat(77));
    let fake = Arc::new(fake);
    let c = FilesystemCollector::new(&config(root, "500ms"), fake.clone()).unwrap();
    let gone = labels("server:/export", "nfs4", "/gone");
    let data = labels("shmdata", "tmpfs", "/data");

    // (The timeout is generous so that a loaded CI machine never makes the
    // instant fake calls look hung.)
    // First scrape: waits the timeout once, then reports the mount failed;
    // the other mounts are still reported.
    let s = collect(&c);
    assert_eq!(s.get("node_filesystem_device_error", &gone), Some(1.0));
    assert_eq!(s.get("node_filesystem_size_bytes", &gone), None);
    assert_eq!(
        s.get("node_filesystem_size_bytes", &data),
        Some(4096.0 * 1000.0)
    );
    assert_eq!(c.stuck_mounts(), vec!["/gone".to_string()]);

    // Further scrapes skip it: no new statfs call, no new blocked thread.
    for _ in 0..5 {
        let s = collect(&c);
        assert_eq!(s.get("node_filesystem_device_error", &gone), Some(1.0));
        assert_eq!(
            s.get("node_filesystem_size_bytes", &data),
            Some(4096.0 * 1000.0)
        );
    }
    assert_eq!(
        fake.calls(&root.join("gone")),
        1,
        "a stuck mount is never statted twice"
    );
    assert_eq!(
        fake.blocked.load(Ordering::SeqCst),
        1,
        "exactly one blocked thread"
    );
    assert_eq!(fake.calls(&root.join("data")), 6);

    // The server answers again: the mount comes back on the next scrape.
    fake.release();
    let deadline = Instant::now() + Duration::from_secs(10);
    while !c.stuck_mounts().is_empty() {
        assert!(Instant::now() < deadline, "stuck mark never cleared");
        std::thread::yield_now();
    }
    assert_eq!(fake.blocked.load(Ordering::SeqCst), 0);
    let s = collect(&c);
    assert_eq!(s.get("node_filesystem_device_error", &gone), Some(0.0));
    assert_eq!(
        s.get("node_filesystem_size_bytes", &gone),
        Some(4096.0 * 77.0)
    );
    assert_eq!(fake.calls(&root.join("gone")), 2);
}

#[test]
fn same_filesystem_samples_as_node_exporter_on_real_statfs() {
    let Some(bin) = node_exporter_bin() else {
        return;
    };
    // A tmpfs root keeps free space still between the two scrapes.
    let rootfs = if Path::new("/dev/shm").is_dir() {
        tempfile::tempdir_in("/dev/shm").unwrap()
    } else {
        tempfile::tempdir().unwrap()
    };
    std::fs::create_dir_all(rootfs.path().join("data")).unwrap();
    std::fs::create_dir_all(rootfs.path().join("my disk")).unwrap();
    let args = vec![
        format!("--path.procfs={}", fixture_proc().display()),
        format!("--path.rootfs={}", rootfs.path().display()),
        MOUNT_EXCLUDE.to_string(),
        "--collector.disable-defaults".to_string(),
        "--collector.filesystem".to_string(),
    ];
    let agent = Agent::start(&args);
    let exporter = Exporter::start(bin, &args);
    let (_, mine) = agent.scrape();
    let (_, theirs) = exporter.scrape();
    assert_eq!(
        mine.get(
            "node_scrape_collector_success",
            &[("collector", "filesystem")]
        ),
        Some(1.0)
    );
    assert_eq!(mine.samples["node_filesystem_device_error"].len(), 3);
    // Free space and inodes can move between the two scrapes when something
    // else uses the same filesystem (PostgreSQL tests use /dev/shm): those
    // are compared within 5%, everything else exactly.
    const MOVING: [&str; 3] = [
        "node_filesystem_free_bytes",
        "node_filesystem_avail_bytes",
        "node_filesystem_files_free",
    ];
    for family in MOVING {
        let (a, b) = (&mine.samples[family], &theirs.samples[family]);
        assert_eq!(
            a.keys().collect::<Vec<_>>(),
            b.keys().collect::<Vec<_>>(),
            "{family}"
        );
        for (labels, v) in a {
            let w = b[labels];
            assert!(
                (v - w).abs() <= 0.05 * v.max(w),
                "{family}{labels:?}: {v} vs {w}"
            );
        }
    }
    let diffs = differences(&mine, &theirs, &MOVING);
    assert!(
        diffs.is_empty(),
        "differences from node_exporter:\n{}",
        diffs.join("\n")
    );
}

#[test]
fn mounts_after_a_hung_one_in_the_same_scrape_are_still_statted() {
    use node_agent::collectors::filesystem::statfs::{GuardedStatfs, Outcome};
    let mut fake = FakeStatfs::default();
    for p in ["/a", "/c", "/gone"] {
        fake.table.insert(PathBuf::from(p), stat(5));
    }
    let fake = Arc::new(fake);
    let guard = GuardedStatfs::new(fake.clone(), Duration::from_millis(500));
    let mounts: Vec<(String, PathBuf)> = ["/a", "/gone", "/c"]
        .iter()
        .map(|m| (m.to_string(), PathBuf::from(m)))
        .collect();
    let kinds = |v: Vec<Outcome>| -> Vec<&'static str> {
        v.iter()
            .map(|o| match o {
                Outcome::Stat(_) => "stat",
                Outcome::Failed(_) => "failed",
                Outcome::Stuck => "stuck",
            })
            .collect()
    };
    assert_eq!(kinds(guard.stat_all(&mounts)), ["stat", "stuck", "stat"]);
    assert_eq!(kinds(guard.stat_all(&mounts)), ["stat", "stuck", "stat"]);
    assert_eq!(fake.calls(Path::new("/gone")), 1);
    assert_eq!(fake.calls(Path::new("/c")), 2);
    fake.release();
    let deadline = Instant::now() + Duration::from_secs(10);
    while !guard.stuck_mounts().is_empty() {
        assert!(Instant::now() < deadline, "stuck mark never cleared");
        std::thread::yield_now();
    }
    assert_eq!(kinds(guard.stat_all(&mounts)), ["stat", "stat", "stat"]);
}
