//! Building and running the server: one path for `main` and the tests.

use std::future::Future;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use anyhow::{Context, Result};
use axum::Router;
use tokio::net::TcpListener;
use tokio::task::JoinHandle;

use crate::admission::thread::AdmissionThread;
use crate::admission::{PauseFlag, Wake};
use crate::api;
use crate::cache::KnownFull;
use crate::config::Settings;
use crate::db::{Db, LsnHistory};
use crate::events::TicketEvents;
use crate::mail::{Sender, SystemClock};
use crate::metrics::Metrics;
use crate::password::PasswordHasher;
use crate::redis::control::full_flags;
use crate::redis::enqueue::Enqueuer;
use crate::redis::expiry::{self, expire_decided};
use crate::redis::feed::{follow, Followers};
use crate::redis::pipeline::Pipeliner;
use crate::redis::retry::{Warnings, WARN_EVERY};
use crate::redis::session_store::SessionStore;
use crate::service::enrollment::seats_freed;
use crate::service::fair_use::FairUse;
use crate::service::recovery;
use crate::session::{SessionCache, TokenSigner};
use crate::snapshot::CatalogSnapshot;
use crate::state::{AppState, Services};
use crate::store;

/// Embedded migrations (`enroll-server/migrations`).
pub static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations");

/// A built server: connected, migrated and bound, not yet serving.
pub struct Application {
    listener: TcpListener,
    router: Router,
    state: AppState,
    background: Vec<JoinHandle<()>>,
    admission: AdmissionThread,
}

impl Application {
    /// Connects to PostgreSQL and Redis, applies migrations (or, when they
    /// are someone else's job, checks that they were applied), binds the
    /// listener (port 0 picks a free port) and starts the background tasks.
    pub async fn build(settings: Settings) -> Result<Self> {
        let metrics = Metrics::new();
        let db = Db::connect(
            &settings.database_url,
            &settings.replica_urls,
            settings.db_max_connections,
            settings.replica_max_connections,
            metrics.clone(),
        )
        .await?;
        if settings.migrate_on_start {
            MIGRATOR
                .run(&db.primary)
                .await
                .context("Failed to apply database migrations")?;
        } else {
            schema_is_current(&db.primary).await?;
        }
        let redis = settings
            .connect_redis()
            .await
            .context("Failed to connect to Redis")?;
        let deployment = store::sessions::deployment(&db.primary)
            .await
            .context("Failed to read this database's deployment id")?;
        let hasher = PasswordHasher::new(
            settings.argon2_memory_kib,
            settings.argon2_iterations,
            settings.login_queue,
        )?;
        let catalog = CatalogSnapshot::new(metrics.catalog_miss_reloads.clone());
        catalog
            .refresh(&db.primary)
            .await
            .context("Failed to load courses and the registration window")?;
        // Sessions this process may answer from memory: at most one per
        // student logged in through it in the last few seconds.
        let session_cache = Arc::new(SessionCache::new(settings.session_cache, 200_000));
        // Courses this process knows to be full: at most one entry per course.
        let known_full = Arc::new(KnownFull::new(settings.full_cache, 100_000));
        let events = Arc::new(TicketEvents::new(
            settings.event_streams_per_student,
            metrics.ticket_streams.clone(),
            metrics.ticket_events.clone(),
            metrics.ticket_streams_dropped.clone(),
        ));
        // Every Redis call of a request handler (fair-use checks, enqueues)
        // goes through one pipeline, which waits for the replicas' WAIT
        // when asked to. The buckets of reads and streams acknowledge
        // nothing, so they go through one without it: a promoted primary
        // with no replica yet still serves reads. An enroll's check stays
        // with the enqueues (refused unconfirmed, it puts nobody in line).
        let pipeline = Pipeliner::start_waiting(
            redis.clone(),
            metrics.enqueue_batch_size.clone(),
            settings.redis_wait,
        );
        let reads = match settings.redis_wait {
            Some(_) => Pipeliner::start(redis.clone(), metrics.enqueue_batch_size.clone()),
            None => pipeline.clone(),
        };
        let state = AppState::new(Services {
            sessions: SessionStore::new(
                redis.clone(),
                db.primary.clone(),
                TokenSigner::new(&deployment.session_key),
                settings.session_ttl,
                session_cache.clone(),
                &metrics,
            ),
            admin_tokens: TokenSigner::new(&deployment.session_key),
            enqueuer: Enqueuer::new(pipeline.clone()),
            fair_use: FairUse::new(
                settings.fair_use,
                pipeline.clone(),
                reads,
                redis.clone(),
                metrics.fair_use_refusals.clone(),
            ),
            settings: Arc::new(settings),
            db,
            redis,
            hasher,
            metrics,
            catalog,
            wake_admission: Arc::new(Wake::default()),
            admission_paused: Arc::new(PauseFlag::default()),
            known_full: known_full.clone(),
            events: events.clone(),
            draining: Arc::new(AtomicBool::new(false)),
            deployment,
            redis_trusted: Arc::new(AtomicBool::new(true)),
        });
        // A Redis of another deployment is refused; one that lost its data
        // (or is new) is filled from the database before anything is served.
        match recovery::check(&state).await {
            Ok(Some(rebuilt)) => tracing::info!(
                ?rebuilt,
                "Redis had no data of this deployment; rebuilt it from the database"
            ),
            Ok(None) => {}
            Err(e) => return Err(anyhow::Error::new(e).context("Redis cannot be used")),
        }
        let listener = TcpListener::bind(state.settings.listen)
            .await
            .with_context(|| format!("Failed to listen on {}", state.settings.listen))?;
        let mut background = vec![
            tokio::spawn(monitor(state.clone())),
            tokio::spawn(refresh_catalog(state.clone())),
            tokio::spawn(forget_idle_addresses(state.clone())),
            tokio::spawn(expire_decided_tickets(state.clone())),
            tokio::spawn(crate::service::positions::beat(
                state.clone(),
                state.settings.position_interval,
                state.settings.position_budget,
            )),
            tokio::spawn(follow(
                state.redis.clone(),
                Followers {
                    sessions: session_cache,
                    full: known_full,
                    events,
                },
            )),
        ];
        if let Some(mail) = &state.settings.mail {
            let sender = Sender::new(
                state.db.primary.clone(),
                mail.clone(),
                state.metrics.mail.clone(),
                Arc::new(SystemClock),
            )
            .context("Failed to set up the mail sender")?;
            background.push(tokio::spawn(sender.run()));
        }
        let admission = AdmissionThread::start(
            state.settings.clone(),
            state.metrics.clone(),
            state.catalog.clone(),
            state.wake_admission.clone(),
            state.admission_paused.clone(),
        )?;
        Ok(Self {
            listener,
            router: api::router(state.clone()),
            state,
            background,
            admission,
        })
    }

    /// The bound address (the real port when 0 was asked for).
    pub fn local_addr(&self) -> SocketAddr {
        self.listener
            .local_addr()
            .expect("bound listener has an address")
    }

    /// The bound port.
    pub fn port(&self) -> u16 {
        self.local_addr().port()
    }

    /// Shared state (tests inspect metrics and pools through it).
    pub fn state(&self) -> &AppState {
        &self.state
    }

    /// Serves until `shutdown` completes, then drains (still serving, but
    /// answering `/readyz` 503 for `shutdown_drain`), ends the ticket event
    /// streams, finishes in-flight requests, stops the background tasks and
    /// closes the pools.
    pub async fn run_until_stopped(
        self,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> Result<()> {
        tracing::info!(addr = %self.local_addr(), "enroll-server listening");
        let events = self.state.events.clone();
        let draining = self.state.draining.clone();
        let drain = self.state.settings.shutdown_drain;
        let shutdown = async move {
            shutdown.await;
            draining.store(true, Ordering::Relaxed);
            if !drain.is_zero() {
                tracing::info!(?drain, "draining: not ready, still serving");
                tokio::time::sleep(drain).await;
            }
            // A held stream is a request that never finishes by itself.
            events.close_all();
        };
        let served = servekit::http::serve(
            self.listener,
            self.router,
            self.state.settings.http,
            self.state.metrics.connections.clone(),
            shutdown,
        )
        .await;
        for task in &self.background {
            task.abort();
        }
        let mut admission = self.admission;
        let _ = tokio::task::spawn_blocking(move || admission.stop()).await;
        self.state.db.close().await;
        served.context("HTTP server failed")
    }
}

/// Checks the primary, the replicas and Redis every
/// `replica_check_interval`, keeping health flags and gauges current.
async fn monitor(state: AppState) {
    let mut history = LsnHistory::default();
    let mut tick = tokio::time::interval(state.settings.replica_check_interval);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
        state
            .db
            .check(&mut history, state.settings.replica_max_lag)
            .await;
        let mut redis = state.redis.clone();
        let up = tokio::time::timeout(
            std::time::Duration::from_secs(2),
            redis::cmd("PING").query_async::<String>(&mut redis),
        )
        .await
        .is_ok_and(|r| r.is_ok());
        state.metrics.redis_up.set(up as i64);
        if up {
            // Noticing lost data within a health-check interval is what
            // keeps a restarted-empty Redis from answering for long.
            match recovery::check(&state).await {
                Ok(Some(rebuilt)) => tracing::warn!(
                    ?rebuilt,
                    "Redis had lost this deployment's data; rebuilt it from the database"
                ),
                Ok(None) => {}
                Err(e) => {
                    static WARNINGS: Warnings = Warnings::new(WARN_EVERY);
                    if let Some(left_out) = WARNINGS.due() {
                        if matches!(e, recovery::RecoveryError::Foreign(..)) {
                            tracing::error!(error = %e, left_out, "Redis cannot be trusted: the queues answer 503 until it holds this deployment's data");
                        } else {
                            tracing::error!(error = %e, left_out, "could not check or rebuild Redis's data; trying again at the next health check");
                        }
                    }
                }
            }
        }
    }
}

/// Every second: runs what the registrar's rules schedule
/// ([`crate::service::clock`]), reloads the phases and course facts, and
/// clears a `full` flag left on a course that has seats again (e.g. a
/// cancel whose Redis update was lost), so no course stays wrongly closed.
async fn refresh_catalog(state: AppState) {
    let mut tick = tokio::time::interval(std::time::Duration::from_secs(1));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    for round in 0u64.. {
        tick.tick().await;
        crate::service::clock::tick(&state, round).await;
        if let Err(err) = state.catalog.refresh(&state.db.primary).await {
            tracing::warn!(error = %err, "could not refresh courses and phases");
            continue;
        }
        let (_, open) = state.catalog.course_ids();
        let mut redis = state.redis.clone();
        let Ok(flags) = full_flags(&mut redis, &open).await else {
            continue;
        };
        for (&course, flagged) in open.iter().zip(flags) {
            if flagged {
                tracing::info!(course, "clearing a stale full flag");
                let _ = seats_freed(&state, course, None).await;
            }
        }
    }
}

/// Now and then forgets the addresses whose per-address buckets are full
/// again, so that their memory follows the addresses seen lately.
async fn forget_idle_addresses(state: AppState) {
    let mut tick = tokio::time::interval(std::time::Duration::from_secs(60));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
        state.fair_use.forget_idle();
    }
}

/// Every minute, deletes ended sessions' rows (students' and admins') and
/// forgets the tickets decided longer ago than
/// `ENROLL_DECIDED_TICKET_TTL_SECS`, course by course (any instance may do
/// it; all of it is idempotent).
async fn expire_decided_tickets(state: AppState) {
    let mut tick = tokio::time::interval(std::time::Duration::from_secs(60));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
        if let Err(err) = state.sessions.sweep().await {
            tracing::warn!(error = %err, "could not delete ended sessions");
        }
        if let Err(err) = store::admins::sweep_sessions(&state.db.primary).await {
            tracing::warn!(error = %err, "could not delete ended admin sessions");
        }
        let (courses, _) = state.catalog.course_ids();
        let mut redis = state.redis.clone();
        for course in courses {
            let ttl = state.settings.decided_ticket_ttl;
            loop {
                match expire_decided(&mut redis, course, ttl, None).await {
                    Ok(n) if n == expiry::PER_CALL => continue,
                    Ok(_) => break,
                    Err(err) => {
                        static WARNINGS: Warnings = Warnings::new(WARN_EVERY);
                        if let Some(left_out) = WARNINGS.due() {
                            tracing::warn!(course, error = %err, left_out, "could not expire decided tickets");
                        }
                        break;
                    }
                }
            }
        }
    }
}

/// Refuses to serve on a schema older than this binary's migrations (they
/// are applied by `enroll-server migrate` under a role allowed to change
/// the schema).
async fn schema_is_current(primary: &sqlx::PgPool) -> Result<()> {
    let newest = MIGRATOR.iter().map(|m| m.version).max().unwrap_or(0);
    let applied: Option<i64> =
        sqlx::query_scalar("SELECT max(version) FROM _sqlx_migrations WHERE success")
            .fetch_one(primary)
            .await
            .context("Failed to read the applied migrations (run `enroll-server migrate` first)")?;
    if applied.unwrap_or(0) < newest {
        anyhow::bail!(
            "the database schema is at migration {} but this server needs {newest}: \
             run `enroll-server migrate` with the schema owner's URL",
            applied.unwrap_or(0)
        );
    }
    Ok(())
}
