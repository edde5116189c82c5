//! The primary and its streaming replicas: where each query goes.
//!
//! Writes and a student's own data go to the primary. Catalogue reads go to
//! the replicas, round-robin over the healthy ones. A replica is healthy when
//! it answers, is still in recovery, and its replay lag is within the bound.
//!
//! Lag is measured without trusting clocks: every check samples the primary's
//! WAL position with the time it was seen; a replica's lag is the age of the
//! oldest sample it has not replayed yet. (`now() - pg_last_xact_replay_timestamp()`
//! is the usual shortcut, but after an idle period it reports the idle time
//! as lag and would flap replicas out of service.)

use std::collections::VecDeque;
use std::future::Future;
use std::str::FromStr;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use serde::Serialize;
use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use sqlx::PgPool;
use utoipa::ToSchema;

use crate::metrics::Metrics;

/// Whether the error means "could not reach the database" (vs. a bad
/// query): I/O, an exhausted or closed pool, a server shutting down
/// (`57P*`) or a connection exception (`08*`).
pub fn is_unavailable(err: &sqlx::Error) -> bool {
    matches!(
        err,
        sqlx::Error::Io(_) | sqlx::Error::PoolTimedOut | sqlx::Error::PoolClosed
    ) || err
        .as_database_error()
        .and_then(|d| d.code())
        .is_some_and(|c| c.starts_with("57P") || c.starts_with("08"))
}

/// Connection pools and replica health.
#[derive(Clone)]
pub struct Db {
    pub primary: PgPool,
    replicas: Arc<Vec<Replica>>,
    next: Arc<AtomicUsize>,
    metrics: Metrics,
}

struct Replica {
    name: String,
    pool: PgPool,
    healthy: AtomicBool,
    lag_micros: AtomicU64,
    last_error: Mutex<Option<String>>,
}

/// A replica's state as `/readyz` reports it.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ReplicaStatus {
    /// host:port/database of the replica.
    pub name: String,
    /// Whether it currently serves reads.
    pub healthy: bool,
    /// Replay lag behind the primary at the last check.
    pub lag_seconds: f64,
    /// Why it is unhealthy, when it is, in the server's own words
    /// (`unreachable`, `not in recovery (promoted?)`, `lag ... exceeds the
    /// bound`); the driver's error is logged, never shown.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

impl Db {
    /// Connects to the primary (it must answer) and creates replica pools
    /// lazily (a replica that is down at start-up must not stop the service).
    pub async fn connect(
        primary_url: &str,
        replica_urls: &[String],
        primary_max: u32,
        replica_max: u32,
        metrics: Metrics,
    ) -> Result<Self> {
        let primary = PgPoolOptions::new()
            .max_connections(primary_max)
            .acquire_timeout(Duration::from_secs(5))
            .connect_with(PgConnectOptions::from_str(primary_url).context("invalid database URL")?)
            .await
            .context("Failed to connect to the primary database")?;
        let mut replicas = Vec::new();
        for url in replica_urls {
            let opts = PgConnectOptions::from_str(url).context("invalid replica URL")?;
            let name = format!(
                "{}:{}/{}",
                opts.get_host(),
                opts.get_port(),
                opts.get_database().unwrap_or("")
            );
            let pool = PgPoolOptions::new()
                .max_connections(replica_max)
                // A dead replica must fail fast so the read falls back quickly.
                .acquire_timeout(Duration::from_secs(1))
                .connect_lazy_with(opts);
            metrics.replica_healthy.with_label_values(&[&name]).set(0);
            replicas.push(Replica {
                name,
                pool,
                // Unknown until the first check; reads go to the primary meanwhile.
                healthy: AtomicBool::new(false),
                lag_micros: AtomicU64::new(0),
                last_error: Mutex::new(Some("not checked yet".into())),
            });
        }
        Ok(Self {
            primary,
            replicas: Arc::new(replicas),
            next: Arc::new(AtomicUsize::new(0)),
            metrics,
        })
    }

    /// Whether the primary answers a trivial query.
    pub async fn ping_primary(&self) -> Result<(), sqlx::Error> {
        sqlx::query("SELECT 1")
            .execute(&self.primary)
            .await
            .map(drop)
    }

    /// Runs a read that may be slightly stale: on a healthy replica when there
    /// is one, else (and on a replica connection failure) on the primary.
    pub async fn read_stale<T, F, Fut>(&self, query: F) -> Result<T, sqlx::Error>
    where
        F: Fn(PgPool) -> Fut,
        Fut: Future<Output = Result<T, sqlx::Error>>,
    {
        if self.replicas.is_empty() {
            return query(self.primary.clone()).await;
        }
        let Some(replica) = self.pick_replica() else {
            self.count_fallback("no_healthy_replica");
            return query(self.primary.clone()).await;
        };
        match query(replica.pool.clone()).await {
            Ok(v) => Ok(v),
            // Any replica failure is retried on the primary, the source of
            // truth: a replica may be unreachable, or not yet have replayed a
            // migration. Only connection failures take it out of rotation;
            // the monitor puts it back once it answers again.
            Err(err) => {
                tracing::warn!(replica = %replica.name, error = %err, "replica read failed; reading from the primary");
                if is_unavailable(&err) {
                    tracing::warn!(replica = %replica.name, error = %err, "replica query failed");
                    self.mark_unhealthy(replica, "unreachable".into());
                }
                self.count_fallback("replica_error");
                query(self.primary.clone()).await
            }
        }
    }

    fn pick_replica(&self) -> Option<&Replica> {
        let n = self.replicas.len();
        let start = self.next.fetch_add(1, Ordering::Relaxed);
        (0..n)
            .map(|i| &self.replicas[(start + i) % n])
            .find(|r| r.healthy.load(Ordering::Relaxed))
    }

    fn count_fallback(&self, reason: &str) {
        self.metrics
            .replica_fallbacks
            .with_label_values(&[reason])
            .inc();
    }

    fn mark_unhealthy(&self, replica: &Replica, why: String) {
        replica.healthy.store(false, Ordering::Relaxed);
        *replica.last_error.lock().unwrap() = Some(why);
        self.metrics
            .replica_healthy
            .with_label_values(&[&replica.name])
            .set(0);
    }

    /// Current state of every replica.
    pub fn replica_status(&self) -> Vec<ReplicaStatus> {
        self.replicas
            .iter()
            .map(|r| ReplicaStatus {
                name: r.name.clone(),
                healthy: r.healthy.load(Ordering::Relaxed),
                lag_seconds: r.lag_micros.load(Ordering::Relaxed) as f64 / 1e6,
                error: r.last_error.lock().unwrap().clone(),
            })
            .collect()
    }

    /// Checks the primary and every replica once; `history` carries the
    /// primary's WAL samples between calls. Returns whether the primary answered.
    pub async fn check(&self, history: &mut LsnHistory, max_lag: Duration) -> bool {
        let now = Instant::now();
        let primary_lsn: Result<String, _> =
            sqlx::query_scalar("SELECT pg_current_wal_lsn()::text")
                .fetch_one(&self.primary)
                .await;
        let primary_up = match primary_lsn.as_deref().ok().and_then(parse_lsn) {
            Some(lsn) => {
                history.record(now, lsn);
                true
            }
            None => false,
        };
        self.metrics.db_up.set(primary_up as i64);
        self.update_pool_gauges();
        for replica in self.replicas.iter() {
            self.check_replica(replica, history, now, max_lag).await;
        }
        primary_up
    }

    async fn check_replica(
        &self,
        r: &Replica,
        history: &LsnHistory,
        now: Instant,
        max_lag: Duration,
    ) {
        let row: Result<(bool, Option<String>), _> = tokio::time::timeout(
            Duration::from_secs(2),
            sqlx::query_as("SELECT pg_is_in_recovery(), pg_last_wal_replay_lsn()::text")
                .fetch_one(&r.pool),
        )
        .await
        .unwrap_or_else(|_| Err(sqlx::Error::PoolTimedOut));
        let verdict = match row {
            // The driver's text (host names, server messages) goes to the
            // log, not to the unauthenticated /readyz body.
            Err(err) => {
                tracing::debug!(replica = %r.name, error = %err, "replica check failed");
                Err("unreachable".to_string())
            }
            Ok((false, _)) => Err("not in recovery (promoted?)".to_string()),
            Ok((true, replay)) => {
                let replayed = replay.as_deref().and_then(parse_lsn).unwrap_or(0);
                let lag = history.lag(now, replayed);
                r.lag_micros
                    .store(lag.as_micros() as u64, Ordering::Relaxed);
                self.metrics
                    .replica_lag
                    .with_label_values(&[&r.name])
                    .set(lag.as_secs_f64());
                if lag > max_lag {
                    Err(format!("lag {:.3}s exceeds the bound", lag.as_secs_f64()))
                } else {
                    Ok(())
                }
            }
        };
        match verdict {
            Ok(()) => {
                r.healthy.store(true, Ordering::Relaxed);
                *r.last_error.lock().unwrap() = None;
                self.metrics
                    .replica_healthy
                    .with_label_values(&[&r.name])
                    .set(1);
            }
            Err(why) => {
                if r.healthy.load(Ordering::Relaxed) {
                    tracing::warn!(replica = %r.name, reason = %why, "replica taken out of rotation");
                }
                self.mark_unhealthy(r, why);
            }
        }
    }

    /// Sets `enroll_db_pool_connections` from every pool's current size.
    pub fn update_pool_gauges(&self) {
        let g = &self.metrics.db_pool_connections;
        let set = |name: &str, pool: &PgPool| {
            let idle = pool.num_idle() as i64;
            g.with_label_values(&[name, "idle"]).set(idle);
            g.with_label_values(&[name, "busy"])
                .set(pool.size() as i64 - idle);
        };
        set("primary", &self.primary);
        for r in self.replicas.iter() {
            set(&r.name, &r.pool);
        }
    }

    /// Closes every pool (graceful shutdown).
    pub async fn close(&self) {
        self.primary.close().await;
        for r in self.replicas.iter() {
            r.pool.close().await;
        }
    }
}

/// Recent samples of the primary's WAL position, oldest first.
#[derive(Debug, Default)]
pub struct LsnHistory {
    samples: VecDeque<(Instant, u64)>,
}

impl LsnHistory {
    /// Samples kept: enough to measure lags far beyond any sensible bound.
    const MAX: usize = 4096;

    pub fn record(&mut self, at: Instant, lsn: u64) {
        if self.samples.back().is_some_and(|&(_, last)| last == lsn) {
            return; // no new WAL: the older sample already dates this position
        }
        if self.samples.len() == Self::MAX {
            self.samples.pop_front();
        }
        self.samples.push_back((at, lsn));
    }

    /// Age of the oldest sampled position beyond `replayed` (zero when the
    /// replica has replayed everything sampled).
    pub fn lag(&self, now: Instant, replayed: u64) -> Duration {
        self.samples
            .iter()
            .find(|&&(_, lsn)| lsn > replayed)
            .map_or(Duration::ZERO, |&(at, _)| now.saturating_duration_since(at))
    }
}

/// Parses PostgreSQL's `X/Y` LSN text.
pub fn parse_lsn(text: &str) -> Option<u64> {
    let (hi, lo) = text.split_once('/')?;
    Some((u64::from_str_radix(hi, 16).ok()? << 32) | u64::from_str_radix(lo, 16).ok()?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lsn_parsing() {
        assert_eq!(parse_lsn("0/16B3748"), Some(0x16B3748));
        assert_eq!(parse_lsn("1/0"), Some(1 << 32));
        assert_eq!(parse_lsn("bogus"), None);
    }

    #[test]
    fn lag_is_age_of_oldest_unreplayed_sample() {
        let t0 = Instant::now();
        let mut h = LsnHistory::default();
        h.record(t0, 100);
        h.record(t0 + Duration::from_secs(1), 100); // idle: keeps the t0 sample
        h.record(t0 + Duration::from_secs(2), 200);
        h.record(t0 + Duration::from_secs(3), 300);
        let now = t0 + Duration::from_secs(5);
        assert_eq!(h.lag(now, 300), Duration::ZERO, "caught up");
        assert_eq!(
            h.lag(now, 100),
            Duration::from_secs(3),
            "missing the t0+2 write"
        );
        assert_eq!(h.lag(now, 0), Duration::from_secs(5));
    }
}
