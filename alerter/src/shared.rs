//! State shared by the alerter's parts: the engine behind a lock, reload
//! bookkeeping, the scrape client and the clock. The real-time loop and the
//! manual clock step it ([`Shared::step`], [`Shared::tick`]); the HTTP
//! handlers, persistence and the notifier hook read and reload it.
//!
//! A leaf among the wiring modules: it knows the engine, configuration and
//! scraper, and nothing that serves, persists or notifies.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use crate::config::{Config, Target, TlsConfig};
use crate::engine::Engine;
use crate::scrape::{scrape, ScrapeOutcome};
use crate::sink::AlertSink;

/// Who moves time forward.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Clock {
    /// Real time: scrape and evaluation loops run on their own.
    Wall,
    /// Only [`Shared::tick`] (or `Alerter::tick`) advances anything (tests).
    Manual,
}

/// Reload bookkeeping for `/metrics`.
#[derive(Debug, Clone, Default)]
pub struct ReloadStats {
    /// Reload attempts.
    pub attempts: u64,
    /// Rejected reloads.
    pub failures: u64,
    /// Whether the last attempt succeeded.
    pub last_ok: bool,
    /// Unix seconds of the last successful load.
    pub last_success_s: f64,
}

/// State shared by the loops, the HTTP handlers, persistence and the
/// notifier hook.
pub struct Shared {
    engine: Mutex<Engine>,
    reload: Mutex<ReloadStats>,
    config_path: PathBuf,
    clock: Clock,
    client: reqwest::Client,
    /// Clients of the jobs with a `tls_config`, made on first use; dropped
    /// at a reload, so renewed certificate files are read again.
    tls_clients: Mutex<HashMap<TlsConfig, reqwest::Client>>,
    last_now: AtomicI64,
    config_tx: tokio::sync::watch::Sender<Arc<Config>>,
    extra_metrics: Mutex<Option<MetricsHook>>,
    /// Unix seconds at start.
    pub start_time_s: f64,
    /// What the HTTP accept loop saw (for `/metrics`).
    pub connections: Arc<servekit::http::ConnStats>,
}

/// Renders extra exposition text appended to `/metrics` (the notifier's own
/// counters).
pub type MetricsHook = Arc<dyn Fn() -> String + Send + Sync>;

/// Milliseconds since the epoch, now.
pub fn wall_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}

impl Shared {
    /// State around `engine`, loaded from `config_path` (the file reloads
    /// re-read) at `start` (ms), just loaded: the reload counters start at
    /// one success.
    pub(crate) fn new(
        engine: Engine,
        config: Arc<Config>,
        config_path: PathBuf,
        clock: Clock,
        client: reqwest::Client,
        start: i64,
    ) -> Self {
        let (config_tx, _) = tokio::sync::watch::channel(config);
        Self {
            engine: Mutex::new(engine),
            reload: Mutex::new(ReloadStats {
                last_ok: true,
                last_success_s: wall_ms() as f64 / 1000.0,
                ..Default::default()
            }),
            config_path,
            clock,
            client,
            tls_clients: Mutex::default(),
            last_now: AtomicI64::new(start),
            config_tx,
            extra_metrics: Mutex::new(None),
            start_time_s: wall_ms() as f64 / 1000.0,
            connections: Arc::default(),
        }
    }

    /// Who moves time forward.
    pub fn clock(&self) -> Clock {
        self.clock
    }

    /// Locks the engine.
    pub fn engine(&self) -> MutexGuard<'_, Engine> {
        self.engine.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// A copy of the reload counters.
    pub fn reload_stats(&self) -> ReloadStats {
        self.reload
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    fn now(&self) -> i64 {
        match self.clock {
            Clock::Wall => wall_ms(),
            Clock::Manual => self.last_now.load(Ordering::SeqCst),
        }
    }

    /// Re-reads the configuration and rule files; a bad file is rejected,
    /// logged and counted, and the running rules stay as they were.
    pub fn reload(&self) -> Result<(), String> {
        let result = Config::load(&self.config_path);
        let mut stats = self.reload.lock().unwrap_or_else(|p| p.into_inner());
        stats.attempts += 1;
        match result {
            Ok(loaded) => {
                let now = self.now();
                let config = Arc::new(loaded.config.clone());
                self.engine().apply(loaded, now);
                self.tls_clients.lock().unwrap().clear();
                self.config_tx.send_replace(config);
                stats.last_ok = true;
                stats.last_success_s = wall_ms() as f64 / 1000.0;
                tracing::info!(config = %self.config_path.display(), "configuration reloaded");
                Ok(())
            }
            Err(e) => {
                stats.failures += 1;
                stats.last_ok = false;
                tracing::error!(error = %e, "reload rejected; keeping the previous configuration and rules");
                Err(e.to_string())
            }
        }
    }

    /// The configuration in force, updated after every successful reload:
    /// the notifier reads `route`, `receivers` and `inhibit_rules` from it.
    pub fn config_updates(&self) -> tokio::sync::watch::Receiver<Arc<Config>> {
        self.config_tx.subscribe()
    }

    /// Replaces where alerts go (e.g. the notifier, instead of the log).
    pub fn set_sink(&self, sink: Arc<dyn AlertSink>) {
        self.engine().set_sink(sink);
    }

    /// Appends `hook`'s output to every `/metrics` response.
    pub fn set_extra_metrics(&self, hook: MetricsHook) {
        *self.extra_metrics.lock().unwrap_or_else(|p| p.into_inner()) = Some(hook);
    }

    /// The extra `/metrics` text, if a hook is set.
    pub fn extra_metrics(&self) -> String {
        let hook = self
            .extra_metrics
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone();
        hook.map(|h| h()).unwrap_or_default()
    }

    /// Scrapes every target due at `now` (concurrently, waiting for all) and
    /// evaluates the groups due at `now` (the manual clock's step).
    /// The client that scrapes `target`: the shared one, or its job's TLS
    /// client.
    fn client_for(&self, target: &Target) -> Result<reqwest::Client, String> {
        let Some(tls) = &target.tls else {
            return Ok(self.client.clone());
        };
        let mut clients = self.tls_clients.lock().unwrap();
        if let Some(c) = clients.get(tls) {
            return Ok(c.clone());
        }
        let c = tls.client()?;
        clients.insert(tls.clone(), c.clone());
        Ok(c)
    }

    pub async fn tick(self: &Arc<Self>, now: i64) {
        self.round(now, false).await;
    }

    /// One round of the real-time loop at `now` (ms): the targets due are
    /// scraped concurrently; when a group is due too, its evaluation waits
    /// for those scrapes, at most [`scrape_wait`], so it sees what they
    /// found. Samples are stored at `now` and the evaluation runs at `now`,
    /// as with [`Shared::tick`]; a scrape still running at the deadline is
    /// stored when it ends and read by the next evaluation.
    pub async fn step(self: &Arc<Self>, now: i64) {
        self.round(now, true).await;
    }

    async fn round(self: &Arc<Self>, now: i64, bounded: bool) {
        self.last_now.store(now, Ordering::SeqCst);
        let (due, eval_interval) = {
            let mut engine = self.engine();
            (engine.due_targets(now), engine.due_group_interval(now))
        };
        let wait = eval_interval.map(|i| scrape_wait(&due, i));
        let mut scrapes = tokio::task::JoinSet::new();
        for target in due {
            let shared = Arc::clone(self);
            scrapes.spawn(async move {
                let outcome = match shared.client_for(&target) {
                    Ok(client) => scrape(&client, &target).await,
                    Err(e) => ScrapeOutcome {
                        result: Err(e),
                        duration: Duration::ZERO,
                    },
                };
                shared.engine().ingest(&target, now, outcome);
            });
        }
        {
            let all = async { while scrapes.join_next().await.is_some() {} };
            match (bounded, wait) {
                (false, _) => all.await,
                (true, Some(wait)) => {
                    let _ = tokio::time::timeout(wait, all).await;
                }
                (true, None) => {}
            }
        }
        // Scrapes past the deadline finish on their own.
        scrapes.detach_all();
        self.engine().evaluate_due(now);
    }
}

/// Evaluations wait for their round's scrapes at most this fraction of the
/// evaluation interval.
pub const SCRAPE_WAIT_DIVISOR: i64 = 10;

/// How long an evaluation every `eval_interval_ms` waits for the scrapes of
/// `due` started in its round: the longest of their timeouts, but at most a
/// tenth of the interval, so a slow or unreachable target delays the other
/// targets' alerts by little (its own failure is stored when its timeout
/// ends, as in Prometheus).
pub fn scrape_wait(due: &[Target], eval_interval_ms: i64) -> Duration {
    let timeout = due.iter().map(|t| t.timeout_ms).max().unwrap_or(0);
    let cap = eval_interval_ms / SCRAPE_WAIT_DIVISOR;
    Duration::from_millis(timeout.min(cap).max(0) as u64)
}
