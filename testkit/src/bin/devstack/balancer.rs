//! HAProxy in front of the enroll-servers, with the repository's own
//! `deploy/haproxy/haproxy.cfg` (the one compose runs), filled in through
//! the environment variables it reads.

use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::Result;

use crate::services::{wait_for_url, wait_healthy, Service, Spec};

/// Debian's HAProxy (`/usr/sbin/haproxy`), or `haproxy` on PATH.
pub fn haproxy_bin() -> Option<PathBuf> {
    let debian = Path::new("/usr/sbin/haproxy");
    if debian.is_file() {
        return Some(debian.to_path_buf());
    }
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|d| d.join("haproxy"))
        .find(|p| p.is_file())
}

/// The repository's HAProxy configuration.
pub fn config_file() -> PathBuf {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../deploy/haproxy/haproxy.cfg");
    path.canonicalize().unwrap_or(path)
}

/// HAProxy in the foreground, students on `port`, its stats page and
/// metrics on `stats_port`, its runtime API on `socket`, balancing over
/// `servers` (`host:port`, two of them).
pub fn spec(bin: &Path, port: u16, stats_port: u16, socket: &Path, servers: [&str; 2]) -> Spec {
    Spec::new(bin)
        .arg("-db")
        .arg("-f")
        .arg(config_file().display().to_string())
        .env("HAPROXY_BIND", format!("127.0.0.1:{port}"))
        .env("HAPROXY_STATS_BIND", format!("127.0.0.1:{stats_port}"))
        .env("HAPROXY_RUNTIME_SOCKET", socket.display().to_string())
        .env("ENROLL_SERVER_1", servers[0])
        .env("ENROLL_SERVER_2", servers[1])
}

/// Starts HAProxy when Debian's is installed, students on `ports.0`, stats
/// on `ports.1`, its runtime API in `dir`; waits until its health checks
/// found a ready enroll-server. The students' port, or `None` without
/// HAProxy (students then use the first enroll-server directly).
pub async fn start(
    ports: (u16, u16),
    services: &mut Vec<Service>,
    dir: &Path,
    servers: [&str; 2],
) -> Result<Option<u16>> {
    let Some(bin) = haproxy_bin() else {
        eprintln!("devstack: NOTICE: haproxy not found (./scripts/install-deps.sh installs it); students use enroll-server-1 directly");
        return Ok(None);
    };
    let (port, stats_port) = ports;
    let spec = spec(&bin, port, stats_port, &dir.join("haproxy.sock"), servers);
    let mut s = Service::spawn("haproxy", stats_port, spec, dir)?;
    wait_healthy(&mut s, "/", Duration::from_secs(20)).await?;
    // Ready for students once its health checks have found an instance.
    let ready = format!("http://127.0.0.1:{port}/readyz");
    wait_for_url(&mut s, &ready, Duration::from_secs(20)).await?;
    services.push(s);
    Ok(Some(port))
}
