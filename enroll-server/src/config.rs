//! Configuration: defaults < YAML file (`--config`) < environment < flags.
//!
//! Every option is one field of [`Options`], so `enroll-server --help` lists
//! them all with their environment variable. The YAML file uses the same
//! names in snake_case (`database_url: ...`); unknown keys are an error that
//! names the file, line and key.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{bail, Context, Result};
use clap::{Args, Parser, Subcommand};
use serde::Deserialize;

/// Command line of the `enroll-server` binary.
#[derive(Debug, Parser)]
#[command(
    name = "enroll-server",
    version,
    about = "Course registration API server"
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Option<Command>,
    #[command(flatten)]
    pub options: Options,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Serve the HTTP API and run the admission workers (the default).
    Serve,
    /// Apply pending database migrations to the primary, then exit.
    Migrate,
}

/// Every setting; `None` means "not given here", so a lower layer applies.
#[derive(Debug, Default, Clone, Args, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Options {
    /// YAML file with any of these settings (snake_case keys).
    #[arg(long, env = "ENROLL_CONFIG")]
    #[serde(skip)]
    pub config: Option<PathBuf>,

    /// Address to listen on [default: 0.0.0.0:8080].
    #[arg(long, env = "ENROLL_LISTEN")]
    pub listen: Option<SocketAddr>,

    /// PostgreSQL primary, e.g. postgres://enroll@db:5432/enroll (required).
    #[arg(long, env = "ENROLL_DATABASE_URL", hide_env_values = true)]
    pub database_url: Option<String>,

    /// Streaming replicas for catalogue reads, comma-separated (optional).
    #[arg(
        long,
        env = "ENROLL_REPLICA_URLS",
        hide_env_values = true,
        value_delimiter = ','
    )]
    pub replica_urls: Option<Vec<String>>,

    /// Redis for sessions and the waiting queue [default: redis://127.0.0.1:6379].
    #[arg(long, env = "ENROLL_REDIS_URL", hide_env_values = true)]
    pub redis_url: Option<String>,

    /// Bearer token for /api/v1/admin/* (required, at least 16 characters).
    #[arg(long, env = "ENROLL_ADMIN_TOKEN", hide_env_values = true)]
    pub admin_token: Option<String>,

    /// Mark the session cookie `Secure` (set when served over HTTPS) [default: false].
    #[arg(long, env = "ENROLL_COOKIE_SECURE")]
    pub cookie_secure: Option<bool>,

    /// Session lifetime in seconds [default: 28800].
    #[arg(long, env = "ENROLL_SESSION_TTL_SECS")]
    pub session_ttl_secs: Option<u64>,

    /// Keep sessions found in Redis in memory this many milliseconds (0 = ask
    /// Redis on every request); logouts are pushed to every instance at once
    /// [default: 10000].
    #[arg(long, env = "ENROLL_SESSION_CACHE_MS")]
    pub session_cache_ms: Option<u64>,

    /// Remember for this many milliseconds that Redis answered a course as
    /// full, refusing its enroll requests without asking again (0 = ask
    /// Redis every time); freed seats are pushed to every instance at once
    /// [default: 1000].
    #[arg(long, env = "ENROLL_FULL_CACHE_MS")]
    pub full_cache_ms: Option<u64>,

    /// Ticket event streams (`GET /api/v1/enrollments/events`) one student
    /// may hold open on one instance; more are refused with 429
    /// `too_many_streams` [default: 4].
    #[arg(long, env = "ENROLL_EVENT_STREAMS_PER_STUDENT")]
    pub event_streams_per_student: Option<usize>,

    /// A request's head must arrive whole within this many milliseconds of
    /// the connection opening or the previous response; it is also how long
    /// a kept-alive connection may sit idle (slow or stalled clients are
    /// closed) [default: 10000].
    #[arg(long, env = "ENROLL_HTTP_HEADER_READ_TIMEOUT_MS")]
    pub http_header_read_timeout_ms: Option<u64>,

    /// Connections held at once; past it a connection is answered 503
    /// `too_many_connections` and closed. Each event stream holds one, so
    /// keep it above the students online [default: 20000].
    #[arg(long, env = "ENROLL_HTTP_MAX_CONNECTIONS")]
    pub http_max_connections: Option<usize>,

    /// A request (other than an event stream) not answered within this many
    /// milliseconds is answered 503 `timeout` [default: 30000].
    #[arg(long, env = "ENROLL_HTTP_REQUEST_TIMEOUT_MS")]
    pub http_request_timeout_ms: Option<u64>,

    /// Proxies (load balancers) whose `X-Forwarded-For` is believed,
    /// comma-separated IP addresses; a client's address is then the last one
    /// in the header that is not a trusted proxy [default: none — the peer's
    /// address is the client's].
    #[arg(long, env = "ENROLL_TRUSTED_PROXIES", value_delimiter = ',')]
    pub trusted_proxies: Option<Vec<std::net::IpAddr>>,

    /// Failed logins for one student number from one address before that
    /// address must wait (2 s, doubling with each further attempt, up to
    /// 15 min); the same student from another address is not affected
    /// [default: 10].
    #[arg(long, env = "ENROLL_LOGIN_FAILURES_PER_CLIENT")]
    pub login_failures_per_client: Option<u32>,

    /// Failed logins from one address (any student numbers) within 15
    /// minutes before it must wait. A coarse ceiling: a campus NAT puts
    /// thousands of students behind one address [default: 500].
    #[arg(long, env = "ENROLL_LOGIN_FAILURES_PER_ADDRESS")]
    pub login_failures_per_address: Option<u32>,

    /// A replica lagging more than this many milliseconds is skipped [default: 5000].
    #[arg(long, env = "ENROLL_REPLICA_MAX_LAG_MS")]
    pub replica_max_lag_ms: Option<u64>,

    /// How often replica health and lag are checked, in milliseconds [default: 1000].
    #[arg(long, env = "ENROLL_REPLICA_CHECK_INTERVAL_MS")]
    pub replica_check_interval_ms: Option<u64>,

    /// Connections in the primary's pool [default: 20].
    #[arg(long, env = "ENROLL_DB_MAX_CONNECTIONS")]
    pub db_max_connections: Option<u32>,

    /// Connections in each replica's pool [default: 10].
    #[arg(long, env = "ENROLL_REPLICA_MAX_CONNECTIONS")]
    pub replica_max_connections: Option<u32>,

    /// argon2id memory cost in KiB for new password hashes [default: 19456, OWASP].
    #[arg(long, env = "ENROLL_ARGON2_MEMORY_KIB")]
    pub argon2_memory_kib: Option<u32>,

    /// argon2id iterations for new password hashes [default: 2, OWASP].
    #[arg(long, env = "ENROLL_ARGON2_ITERATIONS")]
    pub argon2_iterations: Option<u32>,

    /// Maximum credits a student may hold in the term [default: 18].
    #[arg(long, env = "ENROLL_CREDIT_LIMIT")]
    pub credit_limit: Option<i32>,

    /// Queue heads of one course taken per admission batch [default: 256].
    #[arg(long, env = "ENROLL_ADMISSION_BATCH_SIZE")]
    pub admission_batch_size: Option<usize>,

    /// Tickets at most in one admission transaction, which decides the
    /// batches of every course waiting together [default: 2048].
    #[arg(long, env = "ENROLL_ADMISSION_TRANSACTION_TICKETS")]
    pub admission_transaction_tickets: Option<usize>,

    /// Least time between the starts of admission transactions while
    /// batches keep coming, in ms; tickets arriving meanwhile join the next
    /// one (0: start each as soon as the last commits) [default: 15].
    #[arg(long, env = "ENROLL_ADMISSION_TRANSACTION_INTERVAL_MS")]
    pub admission_transaction_interval_ms: Option<u64>,

    /// Connections of admission's own pool = admission transactions in
    /// flight at once per instance [default: 1].
    #[arg(long, env = "ENROLL_ADMISSION_CONNECTIONS")]
    pub admission_connections: Option<u32>,

    /// Lease on a course's queue held by one admission worker, in ms [default: 5000].
    #[arg(long, env = "ENROLL_ADMISSION_LEASE_MS")]
    pub admission_lease_ms: Option<u64>,

    /// Log format: `text` or `json` [default: text].
    #[arg(long, env = "ENROLL_LOG_FORMAT")]
    pub log_format: Option<String>,
}

/// Resolved settings with every default applied.
#[derive(Clone)]
pub struct Settings {
    pub listen: SocketAddr,
    pub database_url: String,
    pub replica_urls: Vec<String>,
    pub redis_url: String,
    pub admin_token: Secret,
    pub cookie_secure: bool,
    pub session_ttl: Duration,
    pub session_cache: Duration,
    pub full_cache: Duration,
    pub event_streams_per_student: usize,
    /// HTTP limits: head deadline (and keep-alive idle time), connections.
    pub http: servekit::http::Limits,
    pub http_request_timeout: Duration,
    pub trusted_proxies: Vec<std::net::IpAddr>,
    pub login_throttle: crate::redis::login_throttle::Limits,
    pub replica_max_lag: Duration,
    pub replica_check_interval: Duration,
    pub db_max_connections: u32,
    pub replica_max_connections: u32,
    pub argon2_memory_kib: u32,
    pub argon2_iterations: u32,
    pub credit_limit: i32,
    pub admission_batch_size: usize,
    pub admission_transaction_tickets: usize,
    pub admission_transaction_interval: Duration,
    pub admission_lease: Duration,
    pub admission_connections: u32,
    pub log_json: bool,
}

impl std::fmt::Debug for Settings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // URLs may carry passwords: print only what is safe to log.
        f.debug_struct("Settings")
            .field("listen", &self.listen)
            .field("replicas", &self.replica_urls.len())
            .field("cookie_secure", &self.cookie_secure)
            .field("replica_max_lag", &self.replica_max_lag)
            .field("credit_limit", &self.credit_limit)
            .field("admission_batch_size", &self.admission_batch_size)
            .finish_non_exhaustive()
    }
}

/// A string that never appears in logs or `Debug` output.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    pub fn new(s: impl Into<String>) -> Self {
        Self(s.into())
    }
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("<secret>")
    }
}

impl Options {
    /// Applies the layers: `self` (flags and environment, via clap) over the
    /// YAML file named by `--config` over the defaults.
    pub fn resolve(self) -> Result<Settings> {
        let file = match &self.config {
            Some(path) => load_yaml(path)?,
            None => Options::default(),
        };
        self.over(file).into_settings()
    }

    /// Field by field: `self` where set, else `lower`.
    fn over(self, lower: Options) -> Options {
        Options {
            config: self.config,
            listen: self.listen.or(lower.listen),
            database_url: self.database_url.or(lower.database_url),
            replica_urls: self.replica_urls.or(lower.replica_urls),
            redis_url: self.redis_url.or(lower.redis_url),
            admin_token: self.admin_token.or(lower.admin_token),
            cookie_secure: self.cookie_secure.or(lower.cookie_secure),
            session_ttl_secs: self.session_ttl_secs.or(lower.session_ttl_secs),
            session_cache_ms: self.session_cache_ms.or(lower.session_cache_ms),
            full_cache_ms: self.full_cache_ms.or(lower.full_cache_ms),
            event_streams_per_student: self
                .event_streams_per_student
                .or(lower.event_streams_per_student),
            http_header_read_timeout_ms: self
                .http_header_read_timeout_ms
                .or(lower.http_header_read_timeout_ms),
            http_max_connections: self.http_max_connections.or(lower.http_max_connections),
            http_request_timeout_ms: self
                .http_request_timeout_ms
                .or(lower.http_request_timeout_ms),
            trusted_proxies: self.trusted_proxies.or(lower.trusted_proxies),
            login_failures_per_client: self
                .login_failures_per_client
                .or(lower.login_failures_per_client),
            login_failures_per_address: self
                .login_failures_per_address
                .or(lower.login_failures_per_address),
            replica_max_lag_ms: self.replica_max_lag_ms.or(lower.replica_max_lag_ms),
            replica_check_interval_ms: self
                .replica_check_interval_ms
                .or(lower.replica_check_interval_ms),
            db_max_connections: self.db_max_connections.or(lower.db_max_connections),
            replica_max_connections: self
                .replica_max_connections
                .or(lower.replica_max_connections),
            argon2_memory_kib: self.argon2_memory_kib.or(lower.argon2_memory_kib),
            argon2_iterations: self.argon2_iterations.or(lower.argon2_iterations),
            credit_limit: self.credit_limit.or(lower.credit_limit),
            admission_batch_size: self.admission_batch_size.or(lower.admission_batch_size),
            admission_transaction_tickets: self
                .admission_transaction_tickets
                .or(lower.admission_transaction_tickets),
            admission_transaction_interval_ms: self
                .admission_transaction_interval_ms
                .or(lower.admission_transaction_interval_ms),
            admission_lease_ms: self.admission_lease_ms.or(lower.admission_lease_ms),
            admission_connections: self.admission_connections.or(lower.admission_connections),
            log_format: self.log_format.or(lower.log_format),
        }
    }

    fn into_settings(self) -> Result<Settings> {
        let database_url = self
            .database_url
            .context("no database URL: set ENROLL_DATABASE_URL, --database-url or database_url in the config file")?;
        let admin_token = self
            .admin_token
            .context("no admin token: set ENROLL_ADMIN_TOKEN (at least 16 characters)")?;
        if admin_token.len() < 16 {
            bail!("the admin token must be at least 16 characters long");
        }
        let log_json = match self.log_format.as_deref() {
            None | Some("text") => false,
            Some("json") => true,
            Some(other) => bail!("log_format must be `text` or `json`, not `{other}`"),
        };
        let batch = self.admission_batch_size.unwrap_or(256);
        if batch == 0 {
            bail!("admission_batch_size must be at least 1");
        }
        Ok(Settings {
            listen: self.listen.unwrap_or(([0, 0, 0, 0], 8080).into()),
            database_url,
            replica_urls: self
                .replica_urls
                .unwrap_or_default()
                .into_iter()
                .map(|u| u.trim().to_string())
                .filter(|u| !u.is_empty())
                .collect(),
            redis_url: self
                .redis_url
                .unwrap_or_else(|| "redis://127.0.0.1:6379".into()),
            admin_token: Secret(admin_token),
            cookie_secure: self.cookie_secure.unwrap_or(false),
            session_ttl: Duration::from_secs(self.session_ttl_secs.unwrap_or(8 * 3600)),
            session_cache: Duration::from_millis(self.session_cache_ms.unwrap_or(10_000)),
            full_cache: Duration::from_millis(self.full_cache_ms.unwrap_or(1_000)),
            event_streams_per_student: self.event_streams_per_student.unwrap_or(4).max(1),
            http: servekit::http::Limits {
                header_read_timeout: Duration::from_millis(
                    self.http_header_read_timeout_ms.unwrap_or(10_000).max(1),
                ),
                max_connections: self.http_max_connections.unwrap_or(20_000).max(1),
            },
            http_request_timeout: Duration::from_millis(
                self.http_request_timeout_ms.unwrap_or(30_000).max(1),
            ),
            trusted_proxies: self.trusted_proxies.unwrap_or_default(),
            login_throttle: crate::redis::login_throttle::Limits {
                per_client: self.login_failures_per_client.unwrap_or(10).max(1),
                per_address: self.login_failures_per_address.unwrap_or(500).max(1),
                ..Default::default()
            },
            replica_max_lag: Duration::from_millis(self.replica_max_lag_ms.unwrap_or(5000)),
            replica_check_interval: Duration::from_millis(
                self.replica_check_interval_ms.unwrap_or(1000).max(50),
            ),
            db_max_connections: self.db_max_connections.unwrap_or(20).max(2),
            replica_max_connections: self.replica_max_connections.unwrap_or(10).max(1),
            argon2_memory_kib: self.argon2_memory_kib.unwrap_or(19 * 1024),
            argon2_iterations: self.argon2_iterations.unwrap_or(2),
            credit_limit: self.credit_limit.unwrap_or(18),
            admission_batch_size: batch,
            admission_transaction_tickets: self
                .admission_transaction_tickets
                .unwrap_or(2048)
                .max(1),
            admission_transaction_interval: Duration::from_millis(
                self.admission_transaction_interval_ms.unwrap_or(15),
            ),
            admission_lease: Duration::from_millis(
                self.admission_lease_ms.unwrap_or(5000).max(200),
            ),
            admission_connections: self.admission_connections.unwrap_or(1).max(1),
            log_json,
        })
    }
}

/// Reads the YAML layer; errors name the file and line.
fn load_yaml(path: &Path) -> Result<Options> {
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("Failed to read config file {}", path.display()))?;
    if text.trim().is_empty() {
        return Ok(Options::default());
    }
    serde_yaml::from_str(&text).map_err(|e| match e.location() {
        Some(loc) => anyhow::anyhow!("{}:{}:{}: {}", path.display(), loc.line(), loc.column(), e),
        None => anyhow::anyhow!("{}: {}", path.display(), e),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write(text: &str) -> tempfile::NamedTempFile {
        let mut f = tempfile::NamedTempFile::new().unwrap();
        std::io::Write::write_all(&mut f, text.as_bytes()).unwrap();
        f
    }

    #[test]
    fn layers_apply_in_order() {
        let f = write(
            "database_url: postgres://file/db\nredis_url: redis://file:1\nadmin_token: file-token-0123456789\ncredit_limit: 21\n",
        );
        let cli = Options {
            config: Some(f.path().to_path_buf()),
            redis_url: Some("redis://env:2".into()),
            ..Options::default()
        };
        let s = cli.resolve().unwrap();
        assert_eq!(s.database_url, "postgres://file/db", "file over default");
        assert_eq!(s.redis_url, "redis://env:2", "env/flag over file");
        assert_eq!(s.credit_limit, 21);
        assert_eq!(s.listen, "0.0.0.0:8080".parse().unwrap(), "default kept");
    }

    #[test]
    fn unknown_key_names_file_and_line() {
        let f = write("database_url: x\nadmin_tokn: y\n");
        let err = Options {
            config: Some(f.path().to_path_buf()),
            ..Options::default()
        }
        .resolve()
        .unwrap_err()
        .to_string();
        assert!(err.contains(&format!("{}:2:", f.path().display())), "{err}");
        assert!(err.contains("admin_tokn"), "{err}");
    }

    #[test]
    fn secrets_stay_out_of_debug() {
        let s = Options {
            database_url: Some("postgres://u:hunter2@db/x".into()),
            admin_token: Some("super-secret-admin-token".into()),
            ..Options::default()
        }
        .resolve()
        .unwrap();
        let shown = format!("{s:?}");
        assert!(
            !shown.contains("hunter2") && !shown.contains("super-secret"),
            "{shown}"
        );
    }

    #[test]
    fn help_documents_every_environment_variable() {
        use clap::CommandFactory;
        let help = Cli::command().render_long_help().to_string();
        let source = include_str!("config.rs");
        let vars: Vec<&str> = source
            .split("env = \"")
            .skip(1)
            .map(|rest| rest.split('"').next().unwrap())
            .collect();
        assert!(vars.len() >= 18, "{vars:?}");
        for var in vars {
            assert!(help.contains(var), "--help lacks {var}");
        }
    }

    #[test]
    fn short_admin_token_is_refused() {
        let err = Options {
            database_url: Some("postgres://x".into()),
            admin_token: Some("short".into()),
            ..Options::default()
        }
        .resolve()
        .unwrap_err();
        assert!(err.to_string().contains("16 characters"));
    }
}
