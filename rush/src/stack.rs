//! Where the rush goes: a stack of its own (PostgreSQL primary + streaming
//! replica with durable settings, redis-server, the enroll-server release
//! binary), or an already running one.

use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::Duration;

use anyhow::{bail, Context, Result};
use testkit::{ChildGuard, Durability, PgCluster, PgOptions, RedisSentinel, RedisServer, SmtpSink};

/// How to reach a stack.
#[derive(Debug, Clone)]
pub struct Endpoints {
    pub base_url: String,
    pub admin_token: String,
    pub database_url: String,
    /// For reading every issued ticket; without it the tool's own tickets
    /// are checked.
    pub redis_url: Option<String>,
}

/// Settings of an own stack's enroll-server.
#[derive(Debug, Clone)]
pub struct ServerSettings {
    pub binary: PathBuf,
    pub batch_size: usize,
    pub db_max_connections: u32,
    /// Where the server's log goes.
    pub log: PathBuf,
    /// More environment for the server (`ENROLL_*` settings).
    pub env: Vec<(String, String)>,
    /// Start an SMTP sink and send students' mail to it, paced so.
    pub smtp: Option<MailPacing>,
    /// Run Redis with one replica under a Sentinel, the server following
    /// the Sentinel and waiting for the replica (`WAIT`) before it
    /// acknowledges a place in line (`--fault redis-failover`).
    pub redis_sentinel: bool,
}

/// A stack this process started; everything stops (by pid) when it drops.
pub struct OwnStack {
    pub endpoints: Endpoints,
    pub server_pid: u32,
    pub redis_pid: u32,
    pub postgres_pid: u32,
    pub replica_pid: u32,
    /// The Redis primary's port (its pid is `redis_pid`).
    pub redis_port: u16,
    /// With [`ServerSettings::redis_sentinel`]: the Sentinel's `host:port`.
    pub sentinel: Option<String>,
    /// The SMTP sink students' mail goes to (`--smtp`).
    pub smtp: Option<SmtpSink>,
    // Dropped in declaration order: the server before its databases.
    _server: ChildGuard,
    _sentinel: Option<RedisSentinel>,
    _redis_replica: Option<RedisServer>,
    _redis: RedisServer,
    _pg: PgCluster,
}

/// `enroll-server` next to the running binary (`target/release/` for
/// `cargo run --release -p rush`).
pub fn default_server_binary() -> Result<PathBuf> {
    let exe = std::env::current_exe().context("cannot locate the rush binary")?;
    let dir = exe.parent().context("the rush binary has no directory")?;
    Ok(dir.join("enroll-server"))
}

impl OwnStack {
    /// Starts PostgreSQL (durable, one replica), Redis and enroll-server
    /// with bench-only cheap argon2 parameters. Blocking.
    pub fn start(server: &ServerSettings) -> Result<Self> {
        if !server.binary.exists() {
            bail!(
                "{} not found: build it first with `cargo build --release -p enroll-server` \
                 (same target directory), or pass --server-bin",
                server.binary.display()
            );
        }
        let pg = PgCluster::start(PgOptions {
            replicas: 1,
            durability: Durability::Durable,
            ..PgOptions::default()
        })
        .context("Failed to start PostgreSQL")?;
        let (database_url, replicas) = pg.create_database("enroll")?;
        let redis = RedisServer::start().context("Failed to start redis-server")?;
        let (replica, sentinel) = match server.redis_sentinel {
            true => {
                let (replica, sentinel) = redis_replica_and_sentinel(&redis)?;
                (Some(replica), Some(sentinel))
            }
            false => (None, None),
        };
        let admin_token = format!("rush-admin-{:016x}", rand::random::<u64>());
        let port = testkit::free_port();
        let log = std::fs::File::create(&server.log)
            .with_context(|| format!("Failed to create {}", server.log.display()))?;
        let mut cmd = Command::new(&server.binary);
        cmd.env("ENROLL_LISTEN", format!("127.0.0.1:{port}"))
            .env("ENROLL_DATABASE_URL", &database_url)
            .env("ENROLL_REPLICA_URLS", replicas.join(","))
            .env("ENROLL_REDIS_URL", redis.url())
            .env("ENROLL_ADMIN_TOKEN", &admin_token)
            // Bench-only: login cost is not what this benchmark measures.
            .env("ENROLL_ARGON2_MEMORY_KIB", "1024")
            .env("ENROLL_ARGON2_ITERATIONS", "1")
            .env("ENROLL_ADMISSION_BATCH_SIZE", server.batch_size.to_string())
            .env(
                "ENROLL_DB_MAX_CONNECTIONS",
                server.db_max_connections.to_string(),
            )
            .env("RUST_LOG", "warn")
            .envs(sentinel.iter().flat_map(|s| {
                [
                    ("ENROLL_REDIS_SENTINELS", s.address()),
                    ("ENROLL_REDIS_WAIT_REPLICAS", "1".into()),
                    ("ENROLL_REDIS_WAIT_MS", "1000".into()),
                ]
            }))
            .envs(server.env.iter().map(|(k, v)| (k, v)))
            .stdin(Stdio::null())
            .stdout(log.try_clone()?)
            .stderr(log);
        let smtp = match server.smtp {
            Some(pacing) => Some(mail_sink(&mut cmd, port, pacing)?),
            None => None,
        };
        let server_guard =
            ChildGuard::spawn("enroll-server", &mut cmd)?.with_stop_signal(libc::SIGTERM);
        testkit::wait_for_port(port, Duration::from_secs(60)).with_context(|| {
            format!("enroll-server did not start; see {}", server.log.display())
        })?;
        Ok(Self {
            endpoints: Endpoints {
                base_url: format!("http://127.0.0.1:{port}"),
                admin_token,
                database_url,
                redis_url: Some(redis.url()),
            },
            server_pid: server_guard.pid(),
            redis_pid: redis.pid(),
            postgres_pid: pg.primary.pid(),
            replica_pid: pg.replicas.first().map_or(0, |r| r.pid()),
            redis_port: redis.port,
            sentinel: sentinel.as_ref().map(RedisSentinel::address),
            smtp,
            _server: server_guard,
            _sentinel: sentinel,
            _redis_replica: replica,
            _redis: redis,
            _pg: pg,
        })
    }
}

/// A replica of `primary` (in sync) and a Sentinel watching it, which
/// promotes the replica a second after the primary stops answering.
fn redis_replica_and_sentinel(primary: &RedisServer) -> Result<(RedisServer, RedisSentinel)> {
    let replica = RedisServer::start_with_args(&[
        "--replicaof".into(),
        "127.0.0.1".into(),
        primary.port.to_string(),
    ])
    .context("Failed to start the Redis replica")?;
    primary.wait_for_replica(Duration::from_secs(30))?;
    let sentinel = RedisSentinel::start(primary.port).context("Failed to start redis-sentinel")?;
    Ok((replica, sentinel))
}

/// How the server paces students' mail to the sink.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MailPacing {
    /// The server's defaults: what an operator gets without setting
    /// anything (a digest window of 10 s, 50 mails/s per instance).
    Shipped,
    /// No digest window and no rate limit: the sender groups, claims and
    /// sends while the rush's requests are still being answered.
    Stress,
}

/// Starts an SMTP sink and points the server's mail at it, paced by
/// `pacing`; `ENROLL_MAIL_DIGEST_WINDOW_MS` and `ENROLL_MAIL_RATE` in the
/// environment (which the server inherits) win over either.
fn mail_sink(cmd: &mut Command, port: u16, pacing: MailPacing) -> Result<SmtpSink> {
    let sink = SmtpSink::start(testkit::SinkOptions::default())
        .context("--smtp needs python3 with aiosmtpd (./scripts/install-deps.sh)")?;
    cmd.env("ENROLL_SMTP_URL", sink.url())
        .env("ENROLL_MAIL_FROM", "noreply@rush.localhost")
        .env("ENROLL_MAIL_PAGE_URL", format!("http://127.0.0.1:{port}/"));
    if pacing == MailPacing::Stress {
        for (key, value) in [
            ("ENROLL_MAIL_DIGEST_WINDOW_MS", "0"),
            ("ENROLL_MAIL_RATE", "off"),
        ] {
            if std::env::var_os(key).is_none() {
                cmd.env(key, value);
            }
        }
    }
    Ok(sink)
}

/// CPU seconds (user + system) used so far by a process and its live
/// children (PostgreSQL's backends are children of the postmaster), from
/// `/proc`. `None` when the process is gone.
pub fn tree_cpu_seconds(pid: u32) -> Option<f64> {
    let mut total = None;
    for entry in std::fs::read_dir("/proc").ok()?.flatten() {
        let Some((this, parent, secs)) = parse_stat(&entry.path().join("stat")) else {
            continue;
        };
        if this == pid || parent == pid {
            *total.get_or_insert(0.0) += secs;
        }
    }
    total
}

/// CPU seconds (user + system) used so far by one process (threads
/// included, children not). `None` when it is gone.
pub fn process_cpu_seconds(pid: u32) -> Option<f64> {
    servekit::procstat::of_pid(pid).map(|stat| servekit::procstat::cpu_seconds(&stat))
}

/// `(pid, parent pid, utime + stime in seconds)` of a `/proc/<pid>/stat` file.
fn parse_stat(path: &std::path::Path) -> Option<(u32, u32, f64)> {
    let stat = servekit::procstat::read(path)?;
    let pid = u32::try_from(stat.pid).ok()?;
    let parent = u32::try_from(stat.ppid).ok()?;
    Some((pid, parent, servekit::procstat::cpu_seconds(&stat)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_proc_stat_with_spaces_in_the_name() {
        let line = "4242 (my (odd) name) S 1 4242 4242 0 -1 4194560 100 0 0 0 250 50 3 4 20 0 1 0 \
                    100 1000 10 18446744073709551615 1 1 0 0 0 0 0 0 0 0 0 0 17 0 0 0 0 0 0";
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("stat");
        std::fs::write(&path, line).unwrap();
        assert_eq!(parse_stat(&path), Some((4242, 1, 3.0)));
    }

    #[test]
    fn own_process_uses_cpu() {
        let me = std::process::id();
        assert!(tree_cpu_seconds(me).is_some());
        assert!(process_cpu_seconds(me).is_some());
        assert_eq!(tree_cpu_seconds(u32::MAX), None);
    }
}
