//! HAProxy in front of the enroll-servers, with the repository's own
//! `deploy/haproxy/haproxy.cfg` (the one compose runs), filled in through
//! the environment variables it reads.

use std::path::{Path, PathBuf};

use crate::services::Spec;

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
