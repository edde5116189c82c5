//! [`Settings`]: every option resolved, with its default applied.

use std::net::SocketAddr;
use std::time::Duration;

use anyhow::{bail, Context, Result};

use super::secret::Secret;
use super::Options;

/// The longest `ENROLL_POSITION_INTERVAL_MS` taken: a moved place is sent
/// within it, and what moved it is kept only a while
/// ([`crate::events`]'s decided numbers).
pub const MAX_POSITION_INTERVAL: Duration = Duration::from_secs(10);

/// Resolved settings with every default applied.
#[derive(Clone)]
pub struct Settings {
    pub listen: SocketAddr,
    pub database_url: String,
    pub replica_urls: Vec<String>,
    pub migrate_on_start: bool,
    pub redis_url: String,
    /// Sentinels naming the primary (instead of `redis_url`'s address).
    pub redis_sentinels: Option<crate::redis::conn::Sentinels>,
    /// Replicas that must confirm each pipeline of enqueues (see
    /// [`crate::redis::pipeline::WaitForReplicas`]).
    pub redis_wait: Option<crate::redis::pipeline::WaitForReplicas>,
    pub admin_token: Secret,
    pub cookie_secure: bool,
    pub session_ttl: Duration,
    /// Lifetime of an admin account's session.
    pub admin_session_ttl: Duration,
    pub session_cache: Duration,
    pub full_cache: Duration,
    pub event_streams_per_student: usize,
    /// How often moved places in line are pushed.
    pub position_interval: Duration,
    /// Streams per second moved places are pushed to, at most.
    pub position_budget: u32,
    /// HTTP limits: head deadline (and keep-alive idle time), connections.
    pub http: servekit::http::Limits,
    pub http_request_timeout: Duration,
    /// How long a stopping instance keeps serving while it reports itself
    /// not ready.
    pub shutdown_drain: Duration,
    pub trusted_proxies: Vec<std::net::IpAddr>,
    pub login_throttle: crate::redis::login_throttle::Limits,
    pub fair_use: crate::fair_use::Limits,
    pub decided_ticket_ttl: Duration,
    pub replica_max_lag: Duration,
    pub replica_check_interval: Duration,
    pub db_max_connections: u32,
    pub replica_max_connections: u32,
    pub argon2_memory_kib: u32,
    pub argon2_iterations: u32,
    pub login_queue: usize,
    pub credit_limit: i32,
    /// How long a seat given back is withheld: a uniform draw in this
    /// range (`None`: reopened at once).
    pub release_delay: Option<(Duration, Duration)>,
    pub admission_batch_size: usize,
    pub admission_transaction_tickets: usize,
    pub admission_transaction_interval: Duration,
    pub admission_lease: Duration,
    pub admission_connections: u32,
    pub log_json: bool,
    /// Enrollment mail; `None` when no mail server is configured.
    pub mail: Option<super::MailSettings>,
}

impl Settings {
    /// How long a Redis reply may take: a `WAIT` for replicas that runs
    /// out must still be answered, not time out in the client (which would
    /// count as a sign of failover).
    pub fn redis_reply_timeout(&self) -> Duration {
        let wait = self.redis_wait.as_ref().map_or(0, |w| w.timeout_ms);
        crate::redis::primary::REPLY_TIMEOUT + Duration::from_millis(wait)
    }

    /// A connection to the Redis primary (through the sentinels, when
    /// given) with this server's reply timeout.
    pub async fn connect_redis(&self) -> redis::RedisResult<crate::redis::conn::RedisConn> {
        crate::redis::conn::RedisConn::connect_with(
            &self.redis_url,
            self.redis_sentinels.as_ref(),
            self.redis_reply_timeout(),
        )
        .await
    }
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
            .field("mail", &self.mail.is_some())
            .finish_non_exhaustive()
    }
}

impl Options {
    /// Applies the defaults and checks what the layers left.
    pub(super) fn into_settings(self) -> Result<Settings> {
        let mail = super::mail::resolve(&self)?;
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
        let delay_min = self.release_delay_min_secs.unwrap_or(0);
        let delay_max = self.release_delay_max_secs.unwrap_or(delay_min);
        if delay_max < delay_min {
            bail!("release_delay_max_secs ({delay_max}) is below release_delay_min_secs ({delay_min})");
        }
        let release_delay = (delay_max > 0).then(|| {
            (
                Duration::from_secs(delay_min),
                Duration::from_secs(delay_max),
            )
        });
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
            migrate_on_start: self.migrate_on_start.unwrap_or(true),
            redis_sentinels: self
                .redis_sentinels
                .filter(|a| !a.is_empty())
                .map(|addresses| crate::redis::conn::Sentinels {
                    addresses,
                    primary_name: self
                        .redis_sentinel_primary
                        .unwrap_or_else(|| "mymaster".into()),
                }),
            redis_wait: self.redis_wait_replicas.filter(|&n| n > 0).map(|replicas| {
                crate::redis::pipeline::WaitForReplicas {
                    replicas,
                    timeout_ms: self.redis_wait_ms.unwrap_or(200).max(1),
                }
            }),
            redis_url: self
                .redis_url
                .unwrap_or_else(|| "redis://127.0.0.1:6379".into()),
            admin_token: Secret::new(admin_token),
            cookie_secure: self.cookie_secure.unwrap_or(true),
            session_ttl: Duration::from_secs(self.session_ttl_secs.unwrap_or(8 * 3600)),
            admin_session_ttl: Duration::from_secs(
                self.admin_session_ttl_secs.unwrap_or(8 * 3600).max(1),
            ),
            session_cache: Duration::from_millis(self.session_cache_ms.unwrap_or(10_000)),
            full_cache: Duration::from_millis(self.full_cache_ms.unwrap_or(1_000)),
            event_streams_per_student: self.event_streams_per_student.unwrap_or(4).max(1),
            position_interval: Duration::from_millis(self.position_interval_ms.unwrap_or(500))
                .clamp(Duration::from_millis(10), MAX_POSITION_INTERVAL),
            position_budget: self.position_budget.unwrap_or(10_000).max(1),
            http: servekit::http::Limits {
                header_read_timeout: Duration::from_millis(
                    self.http_header_read_timeout_ms.unwrap_or(10_000).max(1),
                ),
                max_connections: self.http_max_connections.unwrap_or(20_000).max(1),
            },
            http_request_timeout: Duration::from_millis(
                self.http_request_timeout_ms.unwrap_or(30_000).max(1),
            ),
            shutdown_drain: Duration::from_millis(self.shutdown_drain_ms.unwrap_or(0)),
            trusted_proxies: self.trusted_proxies.unwrap_or_default(),
            login_throttle: crate::redis::login_throttle::Limits {
                per_client: self.login_failures_per_client.unwrap_or(10).max(1),
                per_address: self.login_failures_per_address.unwrap_or(500).max(1),
                ..Default::default()
            },
            fair_use: {
                let d = crate::fair_use::Limits::default();
                crate::fair_use::Limits {
                    enroll: self.rate_enroll.unwrap_or(d.enroll),
                    ticket_reads: self.rate_ticket_reads.unwrap_or(d.ticket_reads),
                    event_streams: self.rate_event_streams.unwrap_or(d.event_streams),
                    open_tickets: self.open_tickets_per_student.unwrap_or(d.open_tickets),
                    logins_per_address: self
                        .rate_logins_per_address
                        .unwrap_or(d.logins_per_address),
                    requests_per_address: self
                        .rate_requests_per_address
                        .unwrap_or(d.requests_per_address),
                }
            },
            decided_ticket_ttl: Duration::from_secs(
                self.decided_ticket_ttl_secs.unwrap_or(86_400).max(1),
            ),
            replica_max_lag: Duration::from_millis(self.replica_max_lag_ms.unwrap_or(5000)),
            replica_check_interval: Duration::from_millis(
                self.replica_check_interval_ms.unwrap_or(1000).max(50),
            ),
            db_max_connections: self.db_max_connections.unwrap_or(20).max(2),
            replica_max_connections: self.replica_max_connections.unwrap_or(10).max(1),
            argon2_memory_kib: self.argon2_memory_kib.unwrap_or(19 * 1024),
            argon2_iterations: self.argon2_iterations.unwrap_or(2),
            login_queue: self.login_queue.unwrap_or(256),
            credit_limit: self.credit_limit.unwrap_or(18),
            release_delay,
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
            mail,
        })
    }
}
