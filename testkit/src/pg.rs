//! A real PostgreSQL primary and streaming replica on free ports.
//!
//! The primary is made with `initdb`, the replica with `pg_basebackup -R -X
//! stream` from it, exactly as an operator would. When the current user is
//! root, the servers run as the `postgres` system user (PostgreSQL refuses to
//! run as root); the data directories live in one temporary directory owned
//! by that user.

use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};

use crate::process::{free_port, ChildGuard};

/// How the cluster trades durability for speed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Durability {
    /// `fsync=off`: fast, for tests (a crash of the *machine* loses data).
    Fast,
    /// PostgreSQL's defaults (`fsync=on`, `synchronous_commit=on`): for
    /// benchmarks and the local stack.
    Durable,
}

/// Options for [`PgCluster::start`].
#[derive(Debug, Clone)]
pub struct PgOptions {
    pub replicas: usize,
    pub durability: Durability,
    pub max_connections: u32,
    /// Where to create the data directories; a fresh temp dir when `None`.
    pub base_dir: Option<PathBuf>,
}

impl Default for PgOptions {
    fn default() -> Self {
        Self {
            replicas: 1,
            durability: Durability::Fast,
            max_connections: 200,
            base_dir: None,
        }
    }
}

/// One running postgres server.
#[derive(Debug)]
pub struct PgServer {
    pub port: u16,
    pub data_dir: PathBuf,
    child: Option<ChildGuard>,
    run_as: Option<(u32, u32)>,
    bin: PathBuf,
}

impl PgServer {
    /// `postgres://postgres@127.0.0.1:<port>/<db>`.
    pub fn url(&self, db: &str) -> String {
        format!("postgres://postgres@127.0.0.1:{}/{db}", self.port)
    }

    /// The postmaster's pid (0 when stopped).
    pub fn pid(&self) -> u32 {
        self.child.as_ref().map(|c| c.pid()).unwrap_or(0)
    }

    /// Stops the server (immediate shutdown, like a crash). Idempotent.
    pub fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            child.kill();
        }
    }

    /// Starts a stopped server again on the same port and data directory.
    pub fn start(&mut self) -> Result<()> {
        if self.child.is_some() {
            return Ok(());
        }
        self.child = Some(spawn_postgres(&self.bin, &self.data_dir, self.run_as)?);
        wait_ready(
            &self.bin,
            self.port,
            &self.data_dir,
            Duration::from_secs(30),
        )
    }

    /// Runs one SQL statement with `psql` and returns its unaligned output.
    pub fn psql(&self, db: &str, sql: &str) -> Result<String> {
        let out = Command::new(self.bin.join("psql"))
            .args(["-X", "-q", "-A", "-t", "-v", "ON_ERROR_STOP=1"])
            .args(["-h", "127.0.0.1", "-U", "postgres"])
            .arg("-p")
            .arg(self.port.to_string())
            .arg("-d")
            .arg(db)
            .arg("-c")
            .arg(sql)
            .output()
            .context("Failed to run psql")?;
        if !out.status.success() {
            bail!(
                "psql on port {} failed: {}",
                self.port,
                String::from_utf8_lossy(&out.stderr)
            );
        }
        Ok(String::from_utf8_lossy(&out.stdout).trim().to_string())
    }
}

impl Drop for PgServer {
    fn drop(&mut self) {
        self.stop();
    }
}

/// A primary with zero or more streaming replicas; everything is stopped and
/// deleted when it drops.
#[derive(Debug)]
pub struct PgCluster {
    pub primary: PgServer,
    pub replicas: Vec<PgServer>,
    _tmp: Option<tempfile::TempDir>,
}

impl PgCluster {
    /// Starts a primary and `opts.replicas` replicas.
    pub fn start(opts: PgOptions) -> Result<Self> {
        let bin = pg_bin_dir()?;
        let run_as = postgres_user_ids()?;
        let (tmp, base) = match &opts.base_dir {
            Some(dir) => {
                fs::create_dir_all(dir)?;
                (None, dir.clone())
            }
            None => {
                let tmp = tempfile::Builder::new().prefix("enroll-pg-").tempdir()?;
                let path = tmp.path().to_path_buf();
                (Some(tmp), path)
            }
        };
        hand_over(&base, run_as)?;

        let primary_dir = base.join("primary");
        let port = free_port();
        run_as_pg(
            Command::new(bin.join("initdb"))
                .args(["-U", "postgres", "--auth=trust", "-N", "-E", "UTF8"])
                .args(["--locale=C", "-D"])
                .arg(&primary_dir),
            run_as,
            "initdb",
        )?;
        let mut conf = format!(
            "\n# written by testkit\nport = {port}\nlisten_addresses = '127.0.0.1'\n\
             unix_socket_directories = '{sock}'\nmax_connections = {max}\n\
             wal_level = replica\nmax_wal_senders = 10\nhot_standby = on\n\
             shared_buffers = 128MB\nlog_min_messages = warning\n",
            sock = base.display(),
            max = opts.max_connections,
        );
        if opts.durability == Durability::Fast {
            conf.push_str("fsync = off\nfull_page_writes = off\nsynchronous_commit = off\n");
        }
        append(&primary_dir.join("postgresql.conf"), &conf)?;
        append(
            &primary_dir.join("pg_hba.conf"),
            "host all all 127.0.0.1/32 trust\nhost replication all 127.0.0.1/32 trust\n",
        )?;
        let child = spawn_postgres(&bin, &primary_dir, run_as)?;
        let primary = PgServer {
            port,
            data_dir: primary_dir,
            child: Some(child),
            run_as,
            bin: bin.clone(),
        };
        wait_ready(&bin, port, &primary.data_dir, Duration::from_secs(30))?;

        let mut replicas = Vec::new();
        for i in 0..opts.replicas {
            replicas.push(start_replica(&bin, &base, i, port, run_as)?);
        }
        Ok(Self {
            primary,
            replicas,
            _tmp: tmp,
        })
    }

    /// Creates an empty database on the primary and waits until every running
    /// replica has replayed it. Returns `(primary_url, replica_urls)`.
    pub fn create_database(&self, name: &str) -> Result<(String, Vec<String>)> {
        self.primary
            .psql("postgres", &format!("CREATE DATABASE \"{name}\""))?;
        let deadline = Instant::now() + Duration::from_secs(30);
        for replica in &self.replicas {
            while replica.psql(name, "SELECT 1").is_err() {
                if Instant::now() > deadline {
                    bail!("replica on {} never saw database {name}", replica.port);
                }
                std::thread::sleep(Duration::from_millis(20));
            }
        }
        let replica_urls = self.replicas.iter().map(|r| r.url(name)).collect();
        Ok((self.primary.url(name), replica_urls))
    }
}

impl Drop for PgCluster {
    fn drop(&mut self) {
        for r in &mut self.replicas {
            r.stop();
        }
        self.primary.stop();
    }
}

fn start_replica(
    bin: &Path,
    base: &Path,
    index: usize,
    primary_port: u16,
    run_as: Option<(u32, u32)>,
) -> Result<PgServer> {
    let dir = base.join(format!("replica{index}"));
    run_as_pg(
        Command::new(bin.join("pg_basebackup"))
            .args(["-h", "127.0.0.1", "-U", "postgres", "-R", "-X", "stream"])
            .args(["-c", "fast", "-p"])
            .arg(primary_port.to_string())
            .arg("-D")
            .arg(&dir),
        run_as,
        "pg_basebackup",
    )?;
    let port = free_port();
    // postgresql.auto.conf is read last, so these win over the copied primary
    // settings. No hot_standby_feedback, as in deploy/: see
    // deploy/postgres/replica-entrypoint.sh.
    append(
        &dir.join("postgresql.auto.conf"),
        &format!("port = {port}\nhot_standby_feedback = off\n"),
    )?;
    let child = spawn_postgres(bin, &dir, run_as)?;
    wait_ready(bin, port, &dir, Duration::from_secs(30))?;
    Ok(PgServer {
        port,
        data_dir: dir,
        child: Some(child),
        run_as,
        bin: bin.to_path_buf(),
    })
}

/// Debian keeps the server binaries off PATH, under /usr/lib/postgresql/<v>/bin.
pub fn pg_bin_dir() -> Result<PathBuf> {
    if let Ok(dir) = std::env::var("PG_BIN_DIR") {
        return Ok(PathBuf::from(dir));
    }
    let mut versions: Vec<(u32, PathBuf)> = fs::read_dir("/usr/lib/postgresql")
        .context(
            "PostgreSQL is not installed (no /usr/lib/postgresql); run ./scripts/install-deps.sh",
        )?
        .filter_map(|e| e.ok())
        .filter_map(|e| {
            let v = e.file_name().to_string_lossy().parse::<u32>().ok()?;
            let bin = e.path().join("bin");
            bin.join("initdb").exists().then_some((v, bin))
        })
        .collect();
    versions.sort();
    versions
        .pop()
        .map(|(_, p)| p)
        .context("no PostgreSQL server binaries under /usr/lib/postgresql/*/bin")
}

/// `Some((uid, gid))` of the postgres user when we are root, else `None`.
fn postgres_user_ids() -> Result<Option<(u32, u32)>> {
    // SAFETY: geteuid has no preconditions.
    if unsafe { libc::geteuid() } != 0 {
        return Ok(None);
    }
    let passwd = fs::read_to_string("/etc/passwd")?;
    let line = passwd
        .lines()
        .find(|l| l.starts_with("postgres:"))
        .context(
            "running as root but there is no `postgres` user (install the postgresql package)",
        )?;
    let fields: Vec<&str> = line.split(':').collect();
    Ok(Some((fields[2].parse()?, fields[3].parse()?)))
}

fn hand_over(dir: &Path, run_as: Option<(u32, u32)>) -> Result<()> {
    if let Some((uid, gid)) = run_as {
        std::os::unix::fs::chown(dir, Some(uid), Some(gid))?;
    }
    fs::set_permissions(dir, fs::Permissions::from_mode(0o700))?;
    Ok(())
}

fn as_pg(cmd: &mut Command, run_as: Option<(u32, u32)>) -> &mut Command {
    if let Some((uid, gid)) = run_as {
        cmd.uid(uid).gid(gid).env("HOME", "/tmp");
    }
    cmd
}

fn run_as_pg(cmd: &mut Command, run_as: Option<(u32, u32)>, what: &str) -> Result<()> {
    let out = as_pg(cmd, run_as)
        .stdin(Stdio::null())
        .output()
        .with_context(|| format!("Failed to run {what}"))?;
    if !out.status.success() {
        bail!(
            "{what} failed: {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }
    Ok(())
}

fn spawn_postgres(bin: &Path, dir: &Path, run_as: Option<(u32, u32)>) -> Result<ChildGuard> {
    let log = fs::File::create(dir.with_extension("log"))?;
    if let Some((uid, gid)) = run_as {
        std::os::unix::fs::chown(dir.with_extension("log"), Some(uid), Some(gid))?;
    }
    let mut cmd = Command::new(bin.join("postgres"));
    cmd.arg("-D")
        .arg(dir)
        .stdin(Stdio::null())
        .stdout(log.try_clone()?)
        .stderr(log);
    as_pg(&mut cmd, run_as);
    // SIGQUIT is PostgreSQL's immediate shutdown: children go too and shared
    // memory is released, unlike SIGKILL of the postmaster.
    Ok(ChildGuard::spawn("postgres", &mut cmd)?.with_stop_signal(libc::SIGQUIT))
}

/// Waits until PostgreSQL answers on `port`, and checks that the server
/// answering is the one of `dir` (another one already there would make a
/// test talk to someone else's database).
fn wait_ready(bin: &Path, port: u16, dir: &Path, timeout: Duration) -> Result<()> {
    let deadline = Instant::now() + timeout;
    loop {
        let ok = Command::new(bin.join("pg_isready"))
            .args(["-q", "-h", "127.0.0.1", "-p"])
            .arg(port.to_string())
            .status()
            .map(|s| s.success())
            .unwrap_or(false);
        if ok {
            break;
        }
        if Instant::now() > deadline {
            bail!("PostgreSQL on port {port} was not ready within {timeout:?}");
        }
        std::thread::sleep(Duration::from_millis(30));
    }
    let out = Command::new(bin.join("psql"))
        .args(["-X", "-q", "-A", "-t", "-h", "127.0.0.1", "-U", "postgres"])
        .args(["-d", "postgres", "-c", "SHOW data_directory", "-p"])
        .arg(port.to_string())
        .output()
        .context("Failed to run psql")?;
    if !out.status.success() {
        bail!(
            "psql on port {port} failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    let serving = PathBuf::from(String::from_utf8_lossy(&out.stdout).trim());
    let same = |a: &Path, b: &Path| match (a.canonicalize(), b.canonicalize()) {
        (Ok(a), Ok(b)) => a == b,
        _ => a == b,
    };
    if !same(&serving, dir) {
        bail!(
            "port {port} is served by another PostgreSQL ({}), not the one of {}",
            serving.display(),
            dir.display()
        );
    }
    Ok(())
}

fn append(path: &Path, text: &str) -> Result<()> {
    use std::io::Write;
    let mut f = fs::OpenOptions::new()
        .append(true)
        .open(path)
        .with_context(|| format!("Failed to open {}", path.display()))?;
    f.write_all(text.as_bytes())?;
    Ok(())
}
