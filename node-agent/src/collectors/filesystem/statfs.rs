//! statfs(2) behind a trait (so tests inject results and hangs), and a guard
//! that runs it on a worker thread with a timeout.
//!
//! A hung network filesystem makes statfs block forever. The guard waits at
//! most `timeout`; then it reports the mount as stuck, abandons the worker
//! (which exits as soon as its call returns) and starts a fresh one for the
//! other mounts. A stuck mount is not statted again until its call returns,
//! so there is never more than one blocked thread per stuck mount, however
//! many scrapes happen meanwhile.

use std::collections::HashSet;
use std::ffi::CString;
use std::io;
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{self, RecvTimeoutError};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// The statfs fields node_exporter reports.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct FsStat {
    /// Block size the counts below are in (`f_bsize`).
    pub block_size: u64,
    /// Total blocks.
    pub blocks: u64,
    /// Free blocks.
    pub blocks_free: u64,
    /// Blocks available to unprivileged users.
    pub blocks_avail: u64,
    /// Total inodes.
    pub files: u64,
    /// Free inodes.
    pub files_free: u64,
}

/// Something that answers statfs for a path.
pub trait Statfs: Send + Sync + 'static {
    /// statfs(2) of `path`; may block (that is what the guard is for).
    fn statfs(&self, path: &Path) -> io::Result<FsStat>;
}

/// The real statfs(2).
#[derive(Debug, Default, Clone, Copy)]
pub struct SystemStatfs;

impl Statfs for SystemStatfs {
    fn statfs(&self, path: &Path) -> io::Result<FsStat> {
        let c = CString::new(path.as_os_str().as_bytes())
            .map_err(|_| io::Error::new(io::ErrorKind::InvalidInput, "NUL in path"))?;
        // SAFETY: statfs writes into the zeroed struct we own; c is a valid C string.
        let mut buf: libc::statfs = unsafe { std::mem::zeroed() };
        if unsafe { libc::statfs(c.as_ptr(), &mut buf) } != 0 {
            return Err(io::Error::last_os_error());
        }
        Ok(FsStat {
            block_size: buf.f_bsize as u64,
            blocks: buf.f_blocks,
            blocks_free: buf.f_bfree,
            blocks_avail: buf.f_bavail,
            files: buf.f_files,
            files_free: buf.f_ffree,
        })
    }
}

/// What the guard says about one mount.
#[derive(Debug)]
pub enum Outcome {
    /// statfs answered.
    Stat(FsStat),
    /// statfs failed (reported as `device_error`).
    Failed(io::Error),
    /// statfs did not answer in time now or earlier and is still blocked.
    Stuck,
}

struct Job {
    path: PathBuf,
    mount: String,
    done: Arc<AtomicBool>,
    reply: mpsc::SyncSender<io::Result<FsStat>>,
}

/// Runs statfs calls on a worker thread with a timeout (see module docs).
pub struct GuardedStatfs {
    inner: Arc<dyn Statfs>,
    timeout: Duration,
    worker: Mutex<Option<mpsc::Sender<Job>>>,
    /// Mount points whose statfs is still blocked.
    stuck: Arc<Mutex<HashSet<String>>>,
}

impl GuardedStatfs {
    /// Guards `inner` with `timeout`.
    pub fn new(inner: Arc<dyn Statfs>, timeout: Duration) -> Self {
        Self {
            inner,
            timeout,
            worker: Mutex::new(None),
            stuck: Arc::new(Mutex::new(HashSet::new())),
        }
    }

    /// Mount points currently skipped because their statfs has not returned.
    pub fn stuck_mounts(&self) -> Vec<String> {
        let mut v: Vec<String> = lock(&self.stuck).iter().cloned().collect();
        v.sort();
        v
    }

    fn spawn_worker(&self) -> mpsc::Sender<Job> {
        let (tx, rx) = mpsc::channel::<Job>();
        let inner = Arc::clone(&self.inner);
        let stuck = Arc::clone(&self.stuck);
        let spawned = std::thread::Builder::new()
            .name("statfs".into())
            .stack_size(64 * 1024)
            .spawn(move || {
                // Ends when the guard drops or abandons this worker's sender.
                for job in rx {
                    let result = inner.statfs(&job.path);
                    {
                        let mut stuck = lock(&stuck);
                        job.done.store(true, Ordering::SeqCst);
                        stuck.remove(&job.mount);
                    }
                    let _ = job.reply.send(result);
                }
            });
        if let Err(e) = spawned {
            // The send below then fails and the mount reports device_error.
            eprintln!("node-agent: cannot start statfs worker: {e}");
        }
        tx
    }

    /// statfs of `path` (the mount `mount`), bounded by the timeout.
    pub fn stat(&self, mount: &str, path: &Path) -> Outcome {
        if lock(&self.stuck).contains(mount) {
            return Outcome::Stuck;
        }
        let mut worker = lock(&self.worker);
        let tx = worker.get_or_insert_with(|| self.spawn_worker());
        let done = Arc::new(AtomicBool::new(false));
        let (reply, answer) = mpsc::sync_channel(1);
        let job = Job {
            path: path.to_path_buf(),
            mount: mount.to_string(),
            done: Arc::clone(&done),
            reply,
        };
        if tx.send(job).is_err() {
            *worker = None;
            return Outcome::Failed(io::Error::other("statfs worker unavailable"));
        }
        match answer.recv_timeout(self.timeout) {
            Ok(Ok(stat)) => Outcome::Stat(stat),
            Ok(Err(e)) => Outcome::Failed(e),
            Err(RecvTimeoutError::Timeout) => {
                let mut stuck = lock(&self.stuck);
                if done.load(Ordering::SeqCst) {
                    // It answered just now; take the answer.
                    drop(stuck);
                    return match answer.recv() {
                        Ok(Ok(stat)) => Outcome::Stat(stat),
                        Ok(Err(e)) => Outcome::Failed(e),
                        Err(_) => Outcome::Stuck,
                    };
                }
                stuck.insert(mount.to_string());
                // Abandon the blocked worker; the next call starts a new one.
                *worker = None;
                Outcome::Stuck
            }
            Err(RecvTimeoutError::Disconnected) => {
                *worker = None;
                Outcome::Failed(io::Error::other("statfs worker exited"))
            }
        }
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn real_statfs_of_root_has_blocks() {
        let s = SystemStatfs.statfs(Path::new("/")).unwrap();
        assert!(s.blocks > 0 && s.block_size > 0);
        assert!(SystemStatfs.statfs(Path::new("/nonexistent/x")).is_err());
    }
}
