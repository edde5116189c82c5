//! A throwaway redis-server on a free port.

use std::process::{Command, Stdio};
use std::time::Duration;

use anyhow::Result;

use crate::process::{free_port, stable_port, wait_for_port, ChildGuard};

/// A running redis-server, killed (by pid) when dropped. No persistence: it
/// exists for one test or one local-stack run.
#[derive(Debug)]
pub struct RedisServer {
    pub port: u16,
    child: ChildGuard,
    _dir: tempfile::TempDir,
}

impl RedisServer {
    /// Starts redis-server on 127.0.0.1 and a free port.
    pub fn start() -> Result<Self> {
        Self::start_on(stable_port())
    }

    /// Starts redis-server on 127.0.0.1:`port` (e.g. the port of one that
    /// was stopped, to see clients reconnect), empty.
    pub fn start_on(port: u16) -> Result<Self> {
        Self::start_with(port, &[])
    }

    /// Starts redis-server on 127.0.0.1:`port` with `extra` arguments (e.g.
    /// a primary killed and brought back as its successor's replica).
    pub fn start_on_with_args(port: u16, extra: &[String]) -> Result<Self> {
        Self::start_with(port, extra)
    }

    /// Starts redis-server on a free port with `extra` arguments after the
    /// throwaway defaults (e.g. a deployment's ACL users and memory policy).
    pub fn start_with_args(extra: &[String]) -> Result<Self> {
        Self::start_with(stable_port(), extra)
    }

    fn start_with(port: u16, extra: &[String]) -> Result<Self> {
        let dir = tempfile::Builder::new().prefix("enroll-redis-").tempdir()?;
        let mut cmd = Command::new("redis-server");
        cmd.arg("--port")
            .arg(port.to_string())
            .args(["--bind", "127.0.0.1", "--save", "", "--appendonly", "no"])
            .args(["--protected-mode", "no", "--loglevel", "warning"])
            .arg("--dir")
            .arg(dir.path())
            .args(extra)
            .stdin(Stdio::null())
            .stdout(Stdio::null());
        let child = ChildGuard::spawn("redis-server", &mut cmd)?.with_stop_signal(libc::SIGTERM);
        wait_for_port(port, Duration::from_secs(10))?;
        Ok(Self {
            port,
            child,
            _dir: dir,
        })
    }

    /// `redis://127.0.0.1:<port>`.
    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}", self.port)
    }

    /// Waits until a replica has synchronised with this server (see
    /// [`wait_for_replica`]).
    pub fn wait_for_replica(&self, timeout: Duration) -> Result<()> {
        wait_for_replica(self.port, timeout)
    }

    /// The server's pid.
    pub fn pid(&self) -> u32 {
        self.child.pid()
    }
}

/// A Redis Sentinel (redis-server `--sentinel`) watching one primary as
/// `mymaster`, deciding alone (quorum 1) and quickly: a primary silent for
/// a second is failed over. Killed (by pid) when dropped.
#[derive(Debug)]
pub struct RedisSentinel {
    pub port: u16,
    child: ChildGuard,
    _dir: tempfile::TempDir,
}

impl RedisSentinel {
    /// The name the sentinel knows the primary by.
    pub const PRIMARY_NAME: &'static str = "mymaster";

    /// Starts a sentinel on a free port watching 127.0.0.1:`primary_port`.
    pub fn start(primary_port: u16) -> Result<Self> {
        let port = free_port();
        let dir = tempfile::Builder::new()
            .prefix("enroll-sentinel-")
            .tempdir()?;
        let conf = dir.path().join("sentinel.conf");
        // The sentinel rewrites its file as it learns the topology.
        std::fs::write(
            &conf,
            format!(
                "port {port}\nbind 127.0.0.1\nprotected-mode no\ndir {dir}\nloglevel warning\n\
                 sentinel monitor {name} 127.0.0.1 {primary_port} 1\n\
                 sentinel down-after-milliseconds {name} 1000\n\
                 sentinel failover-timeout {name} 10000\n",
                dir = dir.path().display(),
                name = Self::PRIMARY_NAME,
            ),
        )?;
        let mut cmd = Command::new("redis-server");
        cmd.arg(&conf)
            .arg("--sentinel")
            .stdin(Stdio::null())
            .stdout(Stdio::null());
        let child = ChildGuard::spawn("redis-sentinel", &mut cmd)?.with_stop_signal(libc::SIGTERM);
        wait_for_port(port, Duration::from_secs(10))?;
        Ok(Self {
            port,
            child,
            _dir: dir,
        })
    }

    /// `127.0.0.1:<port>`.
    pub fn address(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    /// The sentinel's pid.
    pub fn pid(&self) -> u32 {
        self.child.pid()
    }
}

/// Waits until a replica has synchronised with the redis-server on
/// 127.0.0.1:`port` (it reports one `state=online`), so that `WAIT 1` can be
/// answered.
pub fn wait_for_replica(port: u16, timeout: Duration) -> Result<()> {
    use std::io::{Read, Write};
    let deadline = std::time::Instant::now() + timeout;
    loop {
        let mut info = String::new();
        if let Ok(mut conn) = std::net::TcpStream::connect(("127.0.0.1", port)) {
            conn.set_read_timeout(Some(Duration::from_secs(2)))?;
            conn.write_all(b"*2\r\n$4\r\nINFO\r\n$11\r\nreplication\r\n")?;
            let mut buf = [0u8; 4096];
            let n = conn.read(&mut buf).unwrap_or(0);
            info = String::from_utf8_lossy(&buf[..n]).into_owned();
        }
        if info.contains("state=online") {
            return Ok(());
        }
        if std::time::Instant::now() > deadline {
            anyhow::bail!("no replica of redis-server :{port} came online within {timeout:?}");
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}
