//! Configuration: defaults < YAML file (`--config`) < environment < flags.
//!
//! Every option is one field of [`Options`], so `enroll-server --help` lists
//! them all with their environment variable. The YAML file uses the same
//! names in snake_case (`database_url: ...`); unknown keys are an error that
//! names the file, line and key.

mod mail;
mod secret;
mod settings;

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use clap::{Args, Parser, Subcommand};
use serde::Deserialize;

use crate::fair_use::Rate;

pub use mail::{MailSettings, SmtpTls};
pub use secret::Secret;
pub use settings::{Settings, MAX_POSITION_INTERVAL};

/// `upper` where set, else `lower`, for every listed field; a field left
/// out of the list is a compile error (the struct literal needs them all).
macro_rules! over {
    ($upper:ident, $lower:ident; $($field:ident),* $(,)?) => {
        Options {
            config: $upper.config,
            $($field: $upper.$field.or($lower.$field)),*
        }
    };
}

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

    /// Apply pending migrations at start-up. `false` when the server's
    /// database role may only read and write rows: then `enroll-server
    /// migrate` runs first under the schema owner, and the server refuses
    /// to start on an older schema [default: true].
    #[arg(long, env = "ENROLL_MIGRATE_ON_START")]
    pub migrate_on_start: Option<bool>,

    /// Redis for sessions and the waiting queue [default: redis://127.0.0.1:6379].
    #[arg(long, env = "ENROLL_REDIS_URL", hide_env_values = true)]
    pub redis_url: Option<String>,

    /// Redis Sentinel addresses (`host:port`, comma-separated): the primary
    /// is the one they name `ENROLL_REDIS_SENTINEL_PRIMARY`, followed
    /// through a failover; `ENROLL_REDIS_URL` then gives only the user,
    /// password and database [default: none — `ENROLL_REDIS_URL` itself].
    #[arg(long, env = "ENROLL_REDIS_SENTINELS", value_delimiter = ',')]
    pub redis_sentinels: Option<Vec<String>>,

    /// The name the sentinels know the primary by [default: mymaster].
    #[arg(long, env = "ENROLL_REDIS_SENTINEL_PRIMARY")]
    pub redis_sentinel_primary: Option<String>,

    /// Acknowledge a place in line only once this many Redis replicas have
    /// it (`WAIT`), so a failover to a replica loses no acknowledged ticket;
    /// when fewer confirm within `ENROLL_REDIS_WAIT_MS` the request is
    /// answered 503 (a retry gets the same ticket) [default: 0 — off].
    #[arg(long, env = "ENROLL_REDIS_WAIT_REPLICAS")]
    pub redis_wait_replicas: Option<u32>,

    /// How long to wait for `ENROLL_REDIS_WAIT_REPLICAS` [default: 200].
    #[arg(long, env = "ENROLL_REDIS_WAIT_MS")]
    pub redis_wait_ms: Option<u64>,

    /// Bearer token for /api/v1/admin/* (required, at least 16 characters).
    #[arg(long, env = "ENROLL_ADMIN_TOKEN", hide_env_values = true)]
    pub admin_token: Option<String>,

    /// Session cookie `__Host-enroll_session` with `Secure`, as served over
    /// HTTPS; `false` only for plain http on a developer's machine (then
    /// `enroll_session`, not `Secure`) [default: true].
    #[arg(long, env = "ENROLL_COOKIE_SECURE")]
    pub cookie_secure: Option<bool>,

    /// Session lifetime in seconds [default: 28800].
    #[arg(long, env = "ENROLL_SESSION_TTL_SECS")]
    pub session_ttl_secs: Option<u64>,

    /// Lifetime of an admin account's session (`POST
    /// /api/v1/admin/auth/login`) in seconds; it is not renewed by use
    /// [default: 28800].
    #[arg(long, env = "ENROLL_ADMIN_SESSION_TTL_SECS")]
    pub admin_session_ttl_secs: Option<u64>,

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

    /// Places in line that moved are pushed to the event streams every
    /// this many milliseconds, the latest of each ticket (10 to 10000)
    /// [default: 500].
    #[arg(long, env = "ENROLL_POSITION_INTERVAL_MS")]
    pub position_interval_ms: Option<u64>,

    /// Streams per second this instance sends moved places to, at most
    /// (a ticket's first place is always sent): when more are waiting,
    /// each is sent less often, longest waiting first, so places never
    /// crowd out decisions [default: 10000].
    #[arg(long, env = "ENROLL_POSITION_BUDGET")]
    pub position_budget: Option<u32>,

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

    /// On SIGTERM, keep serving this many milliseconds while `/readyz`
    /// answers 503 `draining`, so a load balancer's health check takes the
    /// instance out before it stops accepting; set it above the balancer's
    /// check interval × fall count [default: 0 — stop at once].
    #[arg(long, env = "ENROLL_SHUTDOWN_DRAIN_MS")]
    pub shutdown_drain_ms: Option<u64>,

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

    /// Enroll requests one student may send, counted over every instance:
    /// `<n>/s`, `<n>/min` or `<n>/h`, optionally followed by `burst <m>`, or
    /// `off`. Past it: 429 `rate_limited` with `Retry-After`
    /// [default: 2/s burst 20].
    #[arg(long, env = "ENROLL_RATE_ENROLL")]
    pub rate_enroll: Option<Rate>,

    /// Ticket reads (one or many tickets per request) one student may send,
    /// counted over every instance [default: 10/s burst 40].
    #[arg(long, env = "ENROLL_RATE_TICKET_READS")]
    pub rate_ticket_reads: Option<Rate>,

    /// Event streams one student may open, counted over every instance
    /// [default: 1/s burst 10].
    #[arg(long, env = "ENROLL_RATE_EVENT_STREAMS")]
    pub rate_event_streams: Option<Rate>,

    /// Tickets one student may hold in line at once, over all courses; one
    /// more is refused 409 `too_many_open_tickets` (0 = no cap) [default: 12].
    #[arg(long, env = "ENROLL_OPEN_TICKETS_PER_STUDENT")]
    pub open_tickets_per_student: Option<u32>,

    /// Seconds a decided ticket stays readable; then it is forgotten in Redis
    /// (its outcome stays in the student's enrollments) and reads answer 404
    /// `unknown_ticket` [default: 86400].
    #[arg(long, env = "ENROLL_DECIDED_TICKET_TTL_SECS")]
    pub decided_ticket_ttl_secs: Option<u64>,

    /// Login attempts from one address, on this instance. A coarse ceiling:
    /// a campus NAT puts a whole student body behind one address
    /// [default: 200/s burst 20000].
    #[arg(long, env = "ENROLL_RATE_LOGINS_PER_ADDRESS")]
    pub rate_logins_per_address: Option<Rate>,

    /// Requests of any kind from one address, on this instance (probes and
    /// metrics excepted). A coarse ceiling, for the same reason
    /// [default: 5000/s burst 100000].
    #[arg(long, env = "ENROLL_RATE_REQUESTS_PER_ADDRESS")]
    pub rate_requests_per_address: Option<Rate>,

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

    /// Logins that may wait for a password check at once on this instance
    /// (besides one running per CPU); more are answered 503 `busy` with
    /// `Retry-After` instead of joining the queue [default: 256].
    #[arg(long, env = "ENROLL_LOGIN_QUEUE")]
    pub login_queue: Option<usize>,

    /// Maximum credits a student may hold in the term [default: 18].
    #[arg(long, env = "ENROLL_CREDIT_LIMIT")]
    pub credit_limit: Option<i32>,

    /// A seat a student gives back, with no waitlist to take it, reopens to
    /// the queue after a delay drawn uniformly between this many seconds
    /// and `release_delay_max_secs`, per seat [default: 0, at once].
    #[arg(long, env = "ENROLL_RELEASE_DELAY_MIN_SECS")]
    pub release_delay_min_secs: Option<u64>,

    /// Upper end of that delay [default: release_delay_min_secs].
    #[arg(long, env = "ENROLL_RELEASE_DELAY_MAX_SECS")]
    pub release_delay_max_secs: Option<u64>,

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

    /// Mail server for enrollment mail: `smtp://host:25` (plain),
    /// `smtp://host:587?tls=required` (STARTTLS), `smtps://host:465` (TLS);
    /// `user:password@` may be given here or below. Unset: no mail is
    /// written or sent [default: off].
    #[arg(long, env = "ENROLL_SMTP_URL", hide_env_values = true)]
    pub smtp_url: Option<String>,

    /// SMTP user name (overrides one in the URL).
    #[arg(long, env = "ENROLL_SMTP_USERNAME", hide_env_values = true)]
    pub smtp_username: Option<String>,

    /// SMTP password (overrides one in the URL); prefer the file.
    #[arg(long, env = "ENROLL_SMTP_PASSWORD", hide_env_values = true)]
    pub smtp_password: Option<String>,

    /// File holding the SMTP password (one line; read at start-up).
    #[arg(long, env = "ENROLL_SMTP_PASSWORD_FILE")]
    pub smtp_password_file: Option<PathBuf>,

    /// PEM file of the CA that signed the mail server's certificate, trusted
    /// besides the system's [default: the system's CAs only].
    #[arg(long, env = "ENROLL_SMTP_CA_FILE")]
    pub smtp_ca_file: Option<PathBuf>,

    /// Sender of enrollment mail, e.g. `수강신청 <noreply@univ.ac.kr>`
    /// (required with a mail server); its domain ends every Message-ID.
    #[arg(long, env = "ENROLL_MAIL_FROM")]
    pub mail_from: Option<String>,

    /// The students' page, linked from every mail, e.g.
    /// `https://enroll.univ.ac.kr/` (required with a mail server).
    #[arg(long, env = "ENROLL_MAIL_PAGE_URL")]
    pub mail_page_url: Option<String>,

    /// Changes of one student within this many ms of their first unsent
    /// one go out as one mail (a digest); 0 sends what is there at once
    /// [default: 10000].
    #[arg(long, env = "ENROLL_MAIL_DIGEST_WINDOW_MS")]
    pub mail_digest_window_ms: Option<u64>,

    /// Mails this instance may send, e.g. `50/s burst 50`, or `off`
    /// [default: 50/s burst 50].
    #[arg(long, env = "ENROLL_MAIL_RATE")]
    pub mail_rate: Option<Rate>,

    /// Attempts at one mail before it is parked for an operator; 4xx replies
    /// and network errors are retried after 1 s, doubling [default: 20].
    #[arg(long, env = "ENROLL_MAIL_MAX_ATTEMPTS")]
    pub mail_max_attempts: Option<u32>,

    /// Longest wait between two attempts at one mail, in ms [default: 600000].
    #[arg(long, env = "ENROLL_MAIL_RETRY_MAX_MS")]
    pub mail_retry_max_ms: Option<u64>,

    /// How long an instance's claim on the mails it is sending holds; an
    /// instance that died is taken over after this many ms [default: 60000].
    #[arg(long, env = "ENROLL_MAIL_CLAIM_LEASE_MS")]
    pub mail_claim_lease_ms: Option<u64>,
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
        over!(self, lower; listen, database_url, replica_urls, migrate_on_start, redis_url, redis_sentinels, redis_sentinel_primary, redis_wait_replicas, redis_wait_ms, admin_token, cookie_secure, session_ttl_secs, admin_session_ttl_secs, session_cache_ms, full_cache_ms, event_streams_per_student, position_interval_ms, position_budget, http_header_read_timeout_ms, http_max_connections, http_request_timeout_ms, shutdown_drain_ms, trusted_proxies, login_failures_per_client, login_failures_per_address, rate_enroll, rate_ticket_reads, rate_event_streams, open_tickets_per_student, decided_ticket_ttl_secs, rate_logins_per_address, rate_requests_per_address, replica_max_lag_ms, replica_check_interval_ms, db_max_connections, replica_max_connections, argon2_memory_kib, argon2_iterations, login_queue, credit_limit, release_delay_min_secs, release_delay_max_secs, admission_batch_size, admission_transaction_tickets, admission_transaction_interval_ms, admission_connections, admission_lease_ms, log_format, smtp_url, smtp_username, smtp_password, smtp_password_file, smtp_ca_file, mail_from, mail_page_url, mail_digest_window_ms, mail_rate, mail_max_attempts, mail_retry_max_ms, mail_claim_lease_ms)
    }
}

/// Reads the YAML layer; errors name the file and line.
fn load_yaml(path: &Path) -> Result<Options> {
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("Failed to read config file {}", path.display()))?;
    if text.trim().is_empty() {
        return Ok(Options::default());
    }
    yaml_serde::from_str(&text).map_err(|e| match e.location() {
        Some(loc) => anyhow::anyhow!("{}:{}:{}: {}", path.display(), loc.line(), loc.column(), e),
        None => anyhow::anyhow!("{}: {}", path.display(), e),
    })
}

#[cfg(test)]
mod tests;
