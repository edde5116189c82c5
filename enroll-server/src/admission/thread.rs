//! The admission runner's own thread and runtime.
//!
//! A batch makes about ten round trips one after another. On the HTTP
//! runtime, during a rush, each of them would wait behind hundreds of queued
//! request handlers, and admission would crawl exactly while the queues are
//! longest. On its own thread the OS schedules it like any other thread and
//! its round trips resume at once.

use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, Result};
use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use tokio::sync::oneshot;

use super::{Admission, AdmissionCtx, PauseFlag, Wake};
use crate::config::Settings;
use crate::metrics::Metrics;
use crate::redis::retry::{Backoff, Warnings, WARN_EVERY};
use crate::snapshot::CatalogSnapshot;

/// A running admission thread; stops when [`AdmissionThread::stop`] is called.
pub struct AdmissionThread {
    stop: Option<oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl AdmissionThread {
    /// Starts the thread: connects its own pool (`ENROLL_ADMISSION_CONNECTIONS`)
    /// and Redis connection, then runs the admission loop until stopped.
    pub fn start(
        settings: Arc<Settings>,
        metrics: Metrics,
        catalog: CatalogSnapshot,
        wake: Arc<Wake>,
        paused: Arc<PauseFlag>,
    ) -> Result<Self> {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .context("Failed to build the admission runtime")?;
        let (stop_tx, stop_rx) = oneshot::channel::<()>();
        let thread = std::thread::Builder::new()
            .name("admission".into())
            .spawn(move || {
                runtime.block_on(async move {
                    tokio::select! {
                        _ = run(settings, metrics, catalog, wake, paused) => {}
                        _ = stop_rx => {}
                    }
                });
            })
            .context("Failed to start the admission thread")?;
        Ok(Self {
            stop: Some(stop_tx),
            thread: Some(thread),
        })
    }

    /// Stops the loop and waits for the thread to end.
    pub fn stop(&mut self) {
        if let Some(tx) = self.stop.take() {
            let _ = tx.send(());
        }
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

impl Drop for AdmissionThread {
    fn drop(&mut self) {
        if let Some(tx) = self.stop.take() {
            let _ = tx.send(());
        }
    }
}

async fn run(
    settings: Arc<Settings>,
    metrics: Metrics,
    catalog: CatalogSnapshot,
    wake: Arc<Wake>,
    paused: Arc<PauseFlag>,
) {
    let mut backoff = Backoff::new(Duration::from_secs(1), Duration::from_secs(10));
    let warnings = Warnings::new(WARN_EVERY);
    let ctx = loop {
        match connect(&settings, &metrics, &catalog).await {
            Ok(ctx) => break ctx,
            Err(err) => {
                if let Some(left_out) = warnings.due() {
                    tracing::warn!(error = %format!("{err:#}"), left_out, "admission cannot connect yet; retrying");
                }
                tokio::time::sleep(backoff.next_wait()).await;
            }
        }
    };
    Admission::new(ctx, wake, paused).run().await;
}

/// How admission connects to the primary: like everyone else, except that
/// its statements never plan a sequential scan.
///
/// Every admission statement looks rows up by key, and `courses`, small in
/// live rows, gets a new version of every course row in every admission
/// transaction (the trigger counting seats), so during a rush it is mostly
/// dead versions between vacuums; the planner, which sees a small table,
/// scans it whole, through every dead version, in every transaction. With
/// sequential scans off the lookups stay on the primary keys: PostgreSQL
/// spends a fraction of the CPU and transactions are several times shorter,
/// which the time to a decision follows. Pruning alone does not keep the
/// table small enough.
pub fn connect_options(database_url: &str) -> Result<PgConnectOptions> {
    Ok(PgConnectOptions::from_str(database_url)
        .context("invalid database URL")?
        .options([("enable_seqscan", "off")]))
}

async fn connect(
    settings: &Arc<Settings>,
    metrics: &Metrics,
    catalog: &CatalogSnapshot,
) -> Result<AdmissionCtx> {
    let pool = PgPoolOptions::new()
        .max_connections(settings.admission_connections)
        .acquire_timeout(Duration::from_secs(5))
        .connect_with(connect_options(&settings.database_url)?)
        .await
        .context("admission: connecting to the primary")?;
    let redis = settings
        .connect_redis()
        .await
        .context("admission: connecting to Redis")?;
    Ok(AdmissionCtx {
        settings: settings.clone(),
        metrics: metrics.clone(),
        catalog: catalog.clone(),
        pool,
        redis,
    })
}
