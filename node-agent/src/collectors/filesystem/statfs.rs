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
    index: usize,
    path: PathBuf,
    mount: String,
    /// Set by the worker (under the `stuck` lock) once statfs returned.
    done: Arc<AtomicBool>,
    /// Set when the batch was given up: the worker skips its remaining jobs.
    cancelled: Arc<AtomicBool>,
    reply: mpsc::Sender<(usize, io::Result<FsStat>)>,
}

/// Runs statfs calls on a worker thread with a timeout (see module docs).
///
/// A scrape hands all its mounts to the worker at once and collects the
/// answers in order, so a scrape costs two thread hand-offs, not two per
/// mount.
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
                    if job.cancelled.load(Ordering::SeqCst) {
                        continue;
                    }
                    let result = inner.statfs(&job.path);
                    {
                        let mut stuck = lock(&stuck);
                        job.done.store(true, Ordering::SeqCst);
                        stuck.remove(&job.mount);
                    }
                    let _ = job.reply.send((job.index, result));
                }
            });
        if let Err(e) = spawned {
            // The sends then fail and the mounts report device_error.
            let err = e.to_string();
            crate::log::log(
                crate::log::Level::Error,
                "cannot start statfs worker",
                &[("err", &err)],
            );
        }
        tx
    }

    /// statfs of one `path` (the mount `mount`), bounded by the timeout.
    pub fn stat(&self, mount: &str, path: &Path) -> Outcome {
        let mut v = self.stat_all(&[(mount.to_string(), path.to_path_buf())]);
        v.pop().unwrap_or(Outcome::Stuck)
    }

    /// statfs of each `(mount point, path)`, each bounded by the timeout.
    /// Stuck mounts are answered at once without a call.
    pub fn stat_all(&self, mounts: &[(String, PathBuf)]) -> Vec<Outcome> {
        let mut results: Vec<Option<Outcome>> = mounts.iter().map(|_| None).collect();
        let mut pending: Vec<usize> = {
            let stuck = lock(&self.stuck);
            (0..mounts.len())
                .filter(|&i| {
                    let is_stuck = stuck.contains(&mounts[i].0);
                    if is_stuck {
                        results[i] = Some(Outcome::Stuck);
                    }
                    !is_stuck
                })
                .collect()
        };
        let mut worker = lock(&self.worker);
        while !pending.is_empty() {
            pending = self.run_batch(&mut worker, mounts, &pending, &mut results);
        }
        results
            .into_iter()
            .map(|r| r.unwrap_or(Outcome::Stuck))
            .collect()
    }

    /// Sends `pending` to the worker and collects answers until one times
    /// out; returns the indexes still to do (after the stuck one).
    fn run_batch(
        &self,
        worker: &mut Option<mpsc::Sender<Job>>,
        mounts: &[(String, PathBuf)],
        pending: &[usize],
        results: &mut [Option<Outcome>],
    ) -> Vec<usize> {
        let tx = worker.get_or_insert_with(|| self.spawn_worker());
        let cancelled = Arc::new(AtomicBool::new(false));
        let (reply, answers) = mpsc::channel();
        let mut done_flags = Vec::with_capacity(pending.len());
        for &i in pending {
            let done = Arc::new(AtomicBool::new(false));
            done_flags.push(Arc::clone(&done));
            let job = Job {
                index: i,
                path: mounts[i].1.clone(),
                mount: mounts[i].0.clone(),
                done,
                cancelled: Arc::clone(&cancelled),
                reply: reply.clone(),
            };
            if tx.send(job).is_err() {
                *worker = None;
                for &j in pending {
                    results[j] = Some(Outcome::Failed(io::Error::other(
                        "statfs worker unavailable",
                    )));
                }
                return Vec::new();
            }
        }
        drop(reply);
        for (k, &i) in pending.iter().enumerate() {
            let answer = match answers.recv_timeout(self.timeout) {
                Ok(a) => Some(a),
                Err(RecvTimeoutError::Timeout) => {
                    let mut stuck = lock(&self.stuck);
                    if done_flags[k].load(Ordering::SeqCst) {
                        // It answered just now; take the answer.
                        drop(stuck);
                        answers.recv().ok()
                    } else {
                        stuck.insert(mounts[i].0.clone());
                        results[i] = Some(Outcome::Stuck);
                        // Abandon the blocked worker (it skips the rest of
                        // this batch); a fresh one takes the remaining mounts.
                        cancelled.store(true, Ordering::SeqCst);
                        *worker = None;
                        return pending[k + 1..].to_vec();
                    }
                }
                Err(RecvTimeoutError::Disconnected) => None,
            };
            results[i] = Some(match answer {
                Some((_, Ok(stat))) => Outcome::Stat(stat),
                Some((_, Err(e))) => Outcome::Failed(e),
                None => {
                    *worker = None;
                    Outcome::Failed(io::Error::other("statfs worker exited"))
                }
            });
        }
        Vec::new()
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
