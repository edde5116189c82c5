//! A process's `/proc/<pid>/stat`, parsed by `procfs-core` (the one parser
//! of that file in the workspace; node-agent's own `process_*` metrics use
//! the same type).

use std::path::Path;

pub use procfs_core::process::Stat;
use procfs_core::FromRead;

/// Clock ticks per second of the CPU times in `/proc` (`USER_HZ`, which
/// Linux fixes at 100 for user space whatever the kernel's own tick rate).
pub const USER_HZ: f64 = 100.0;

/// The stat file at `path` (`/proc/<pid>/stat`, `/proc/self/stat`), or
/// `None` when it cannot be read or parsed (the process is gone).
pub fn read(path: impl AsRef<Path>) -> Option<Stat> {
    let file = std::fs::File::open(path).ok()?;
    Stat::from_read(file).ok()
}

/// `/proc/<pid>/stat`.
pub fn of_pid(pid: u32) -> Option<Stat> {
    read(format!("/proc/{pid}/stat"))
}

/// CPU seconds (user + system) the process used so far, threads included,
/// children not.
pub fn cpu_seconds(stat: &Stat) -> f64 {
    (stat.utime + stat.stime) as f64 / USER_HZ
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_this_process() {
        let stat = read("/proc/self/stat").expect("own stat");
        assert_eq!(stat.pid as u32, std::process::id());
        assert!(cpu_seconds(&stat) >= 0.0);
        assert!(of_pid(u32::MAX).is_none());
    }

    #[test]
    fn names_with_spaces_and_parentheses() {
        let line = "4242 (my (odd) name) S 1 4242 4242 0 -1 4194560 100 0 0 0 250 50 3 4 20 0 1 0 \
                    100 1000 10 18446744073709551615 1 1 0 0 0 0 0 0 0 0 0 0 17 0 0 0 0 0 0";
        let stat = Stat::from_read(line.as_bytes()).unwrap();
        assert_eq!(
            (stat.pid, stat.ppid, stat.comm.as_str()),
            (4242, 1, "my (odd) name")
        );
        assert_eq!(cpu_seconds(&stat), 3.0);
    }
}
