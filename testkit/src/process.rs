//! Child processes owned by a guard, and free TCP ports.

use std::collections::BTreeSet;
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::process::{Child, Command};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};

/// Ports this process has handed out: tests running in parallel threads
/// start services at the same time, and the kernel may offer a port again
/// once the probe released it — two servers would then be told the same
/// port, and the second test would talk to the first one's server.
static HANDED_OUT: Mutex<BTreeSet<u16>> = Mutex::new(BTreeSet::new());

/// A free TCP port on 127.0.0.1 below the kernel's ephemeral range, not
/// handed out before: for a server that is killed and started again on the
/// same port. A port from the ephemeral range may meanwhile be taken by an
/// outgoing connection, even by a client reconnecting to that very port
/// (a TCP self-connect on loopback), and the restarted server then cannot
/// bind it.
pub fn stable_port() -> u16 {
    let low = std::fs::read_to_string("/proc/sys/net/ipv4/ip_local_port_range")
        .ok()
        .and_then(|r| r.split_whitespace().next()?.parse::<u16>().ok())
        .unwrap_or(32768);
    let (first, span) = (low.saturating_sub(12_000).max(1024), 10_000u32);
    // Processes running tests at once start their search at different points.
    let seed = std::process::id().wrapping_mul(2_654_435_761)
        ^ std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.subsec_nanos());
    for i in 0..span {
        let port = first + ((seed.wrapping_add(i)) % span) as u16;
        if port >= low || TcpListener::bind(("127.0.0.1", port)).is_err() {
            continue;
        }
        if HANDED_OUT
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(port)
        {
            return port;
        }
    }
    free_port()
}

/// Asks the kernel for a free TCP port on 127.0.0.1 that this process has
/// not handed out before.
///
/// The port is released before returning, so another process could take it in
/// between; the services check that what answers there is theirs
/// ([`crate::pg`] compares the data directory).
pub fn free_port() -> u16 {
    loop {
        let port = TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .map(|a| a.port())
            .expect("binding 127.0.0.1:0 must work on a test machine");
        let mut handed_out = HANDED_OUT.lock().unwrap_or_else(|p| p.into_inner());
        if handed_out.insert(port) {
            return port;
        }
    }
}

/// Waits until something accepts TCP connections on `127.0.0.1:port`.
pub fn wait_for_port(port: u16, timeout: Duration) -> Result<()> {
    let addr = SocketAddr::from(([127, 0, 0, 1], port));
    let deadline = Instant::now() + timeout;
    while Instant::now() < deadline {
        if TcpStream::connect_timeout(&addr, Duration::from_millis(200)).is_ok() {
            return Ok(());
        }
        std::thread::sleep(Duration::from_millis(25));
    }
    bail!("nothing listened on 127.0.0.1:{port} within {timeout:?}")
}

/// A spawned child that is killed (SIGKILL, by pid) and reaped when dropped.
#[derive(Debug)]
pub struct ChildGuard {
    child: Option<Child>,
    name: String,
    /// Signal sent first on drop; SIGKILL follows if the child has not exited
    /// within five seconds. `None` means SIGKILL straight away.
    stop_signal: Option<i32>,
}

impl ChildGuard {
    /// Spawns `cmd`; `name` is used in error messages only.
    pub fn spawn(name: &str, cmd: &mut Command) -> Result<Self> {
        // Program and arguments only: the environment may hold secrets.
        let child = cmd.spawn().with_context(|| {
            let args: Vec<_> = cmd.get_args().map(|a| a.to_string_lossy()).collect();
            format!(
                "Failed to start {name} ({} {})",
                cmd.get_program().to_string_lossy(),
                args.join(" ")
            )
        })?;
        Ok(Self {
            child: Some(child),
            name: name.to_string(),
            stop_signal: None,
        })
    }

    /// Stops the child with `signal` (then SIGKILL after 5 s) instead of SIGKILL.
    pub fn with_stop_signal(mut self, signal: i32) -> Self {
        self.stop_signal = Some(signal);
        self
    }

    /// The child's pid (for /proc/<pid>/stat readings and signals).
    pub fn pid(&self) -> u32 {
        self.child.as_ref().map(|c| c.id()).unwrap_or(0)
    }

    /// Sends `signal` (e.g. `libc::SIGTERM`) to the child.
    pub fn signal(&self, signal: i32) -> Result<()> {
        let pid = self.pid() as libc::pid_t;
        // SAFETY: kill(2) with a pid we spawned and still own (not yet reaped).
        let rc = unsafe { libc::kill(pid, signal) };
        if rc != 0 {
            bail!("kill({pid}, {signal}) for {} failed", self.name);
        }
        Ok(())
    }

    /// Stops the child now (its stop signal, else SIGKILL) and waits for it.
    /// Idempotent.
    pub fn kill(&mut self) {
        let Some(mut child) = self.child.take() else {
            return;
        };
        if let Some(signal) = self.stop_signal {
            // SAFETY: kill(2) on our own, not yet reaped, child.
            unsafe { libc::kill(child.id() as libc::pid_t, signal) };
            let deadline = Instant::now() + Duration::from_secs(5);
            while Instant::now() < deadline {
                if let Ok(Some(_)) = child.try_wait() {
                    return;
                }
                std::thread::sleep(Duration::from_millis(10));
            }
        }
        let _ = child.kill();
        let _ = child.wait();
    }

    /// Returns `Some(status)` if the child has already exited.
    pub fn try_wait(&mut self) -> Option<std::process::ExitStatus> {
        self.child
            .as_mut()
            .and_then(|c| c.try_wait().ok().flatten())
    }
}

impl Drop for ChildGuard {
    fn drop(&mut self) {
        self.kill();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Thousands of probes in a row: the kernel offers released ports again
    /// (a few thousand draws from the ephemeral range all but surely repeat
    /// one), but this process never hands the same one out twice.
    #[test]
    fn free_port_never_hands_out_a_port_twice() {
        let mut seen = BTreeSet::new();
        for _ in 0..3000 {
            let port = free_port();
            assert!(seen.insert(port), "port {port} handed out twice");
        }
    }
}
