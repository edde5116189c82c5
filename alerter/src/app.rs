//! Startup shared by `main` and the tests: [`Alerter::build`] loads the
//! configuration and binds the listener (port 0 allowed), [`Alerter::port`]
//! tells where, [`Alerter::run_until_stopped`] serves until shutdown.
//! With [`Clock::Manual`] nothing runs on its own: the caller steps time
//! with [`Alerter::tick`].

use std::future::Future;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use anyhow::Context;
use tokio::net::TcpListener;

use crate::cli::RunArgs;
use crate::config::Config;
use crate::engine::Engine;
use crate::rules::EvalEnv;
use crate::sink::{AlertSink, LogSink};

/// Who moves time forward.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Clock {
    /// Real time: scrape and evaluation loops run on their own.
    Wall,
    /// Only [`Alerter::tick`] advances anything (tests).
    Manual,
}

/// Everything `build` needs.
#[derive(Debug, Clone)]
pub struct Settings {
    /// `alerter.yml`.
    pub config_path: PathBuf,
    /// `host:port` or `:port` (`127.0.0.1:0` in tests).
    pub listen_address: String,
    /// Base of alert generator URLs.
    pub external_url: String,
    /// Minimum interval between re-sending an unchanged alert.
    pub resend_delay: Duration,
    /// Wall clock or manual stepping.
    pub clock: Clock,
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

/// State shared by the loops and the HTTP handlers.
pub struct Shared {
    engine: Mutex<Engine>,
    reload: Mutex<ReloadStats>,
    settings: Settings,
    client: reqwest::Client,
    last_now: AtomicI64,
    config_tx: tokio::sync::watch::Sender<Arc<Config>>,
    extra_metrics: Mutex<Option<MetricsHook>>,
    /// Unix seconds at start.
    pub start_time_s: f64,
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
        match self.settings.clock {
            Clock::Wall => wall_ms(),
            Clock::Manual => self.last_now.load(Ordering::SeqCst),
        }
    }

    /// Re-reads the configuration and rule files; a bad file is rejected,
    /// logged and counted, and the running rules stay as they were.
    pub fn reload(&self) -> Result<(), String> {
        let result = Config::load(&self.settings.config_path);
        let mut stats = self.reload.lock().unwrap_or_else(|p| p.into_inner());
        stats.attempts += 1;
        match result {
            Ok(loaded) => {
                let now = self.now();
                let config = Arc::new(loaded.config.clone());
                self.engine().apply(loaded, now);
                self.config_tx.send_replace(config);
                stats.last_ok = true;
                stats.last_success_s = wall_ms() as f64 / 1000.0;
                tracing::info!(config = %self.settings.config_path.display(), "configuration reloaded");
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
                let outcome = crate::scrape::scrape(&shared.client, &target).await;
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
pub fn scrape_wait(due: &[crate::config::Target], eval_interval_ms: i64) -> Duration {
    let timeout = due.iter().map(|t| t.timeout_ms).max().unwrap_or(0);
    let cap = eval_interval_ms / SCRAPE_WAIT_DIVISOR;
    Duration::from_millis(timeout.min(cap).max(0) as u64)
}

/// A built, bound alerter.
pub struct Alerter {
    shared: Arc<Shared>,
    listener: TcpListener,
    port: u16,
    extra_routes: Option<axum::Router>,
    /// SIGHUP, listened for from before the port is bound (real time only):
    /// one that arrives before then would get the default action and end
    /// the process.
    hup: Option<tokio::signal::unix::Signal>,
}

fn listen_addr(s: &str) -> String {
    match s.strip_prefix(':') {
        Some(port) => format!("0.0.0.0:{port}"),
        None => s.to_string(),
    }
}

impl Alerter {
    /// Loads the configuration (failing on any bad file) and binds.
    pub async fn build(settings: Settings, sink: Arc<dyn AlertSink>) -> anyhow::Result<Self> {
        let loaded = Config::load(&settings.config_path).map_err(|e| anyhow::anyhow!("{e}"))?;
        let hup = match settings.clock {
            Clock::Wall => {
                let hup = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::hangup());
                if hup.is_err() {
                    tracing::warn!("cannot listen for SIGHUP; use POST /-/reload");
                }
                hup.ok()
            }
            Clock::Manual => None,
        };
        let addr = listen_addr(&settings.listen_address);
        let listener = TcpListener::bind(&addr)
            .await
            .with_context(|| format!("Failed to bind {addr}"))?;
        let port = listener.local_addr()?.port();
        let start = match settings.clock {
            Clock::Wall => wall_ms(),
            Clock::Manual => 0,
        };
        let env = EvalEnv {
            external_url: if settings.external_url.is_empty() {
                format!("http://localhost:{port}")
            } else {
                settings.external_url.clone()
            },
            ..Default::default()
        };
        let (config_tx, _) = tokio::sync::watch::channel(Arc::new(loaded.config.clone()));
        let mut engine = Engine::new(
            loaded,
            env,
            settings.resend_delay.as_millis() as i64,
            sink,
            start,
        );
        if settings.clock == Clock::Wall {
            engine.align_schedule(start);
        }
        let client = reqwest::Client::builder()
            .user_agent(concat!("alerter/", env!("CARGO_PKG_VERSION")))
            .build()
            .context("Failed to build the HTTP client")?;
        let shared = Arc::new(Shared {
            engine: Mutex::new(engine),
            reload: Mutex::new(ReloadStats {
                last_ok: true,
                last_success_s: wall_ms() as f64 / 1000.0,
                ..Default::default()
            }),
            settings,
            client,
            last_now: AtomicI64::new(start),
            config_tx,
            extra_metrics: Mutex::new(None),
            start_time_s: wall_ms() as f64 / 1000.0,
        });
        Ok(Self {
            shared,
            listener,
            port,
            extra_routes: None,
            hup,
        })
    }

    /// Serves `router`'s routes (e.g. the notifier's silences API) next to
    /// the alerter's own.
    pub fn with_routes(mut self, router: axum::Router) -> Self {
        self.extra_routes = Some(match self.extra_routes.take() {
            Some(r) => r.merge(router),
            None => router,
        });
        self
    }

    /// The bound port.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// The shared state (engine, reload).
    pub fn shared(&self) -> Arc<Shared> {
        Arc::clone(&self.shared)
    }

    /// Steps the alerter to `now` (ms): due scrapes, then due evaluations.
    pub async fn tick(&self, now: i64) {
        self.shared.tick(now).await
    }

    /// Serves HTTP (and, on the wall clock, runs the scrape/evaluation loop
    /// and reloads on SIGHUP) until `shutdown` completes.
    pub async fn run_until_stopped(
        self,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> anyhow::Result<()> {
        let shared = Arc::clone(&self.shared);
        let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
        if shared.settings.clock == Clock::Wall {
            tokio::spawn(run_loop(Arc::clone(&shared), stop_rx.clone()));
            if let Some(hup) = self.hup {
                tokio::spawn(reload_on_sighup(Arc::clone(&shared), hup, stop_rx.clone()));
            }
        }
        let mut app = crate::http::router(shared);
        if let Some(extra) = self.extra_routes {
            app = app.merge(extra);
        }
        axum::serve(self.listener, app)
            .with_graceful_shutdown(async move {
                shutdown.await;
                let _ = stop_tx.send(true);
            })
            .await
            .context("HTTP server failed")
    }
}

async fn run_loop(shared: Arc<Shared>, mut stop: tokio::sync::watch::Receiver<bool>) {
    loop {
        let now = wall_ms();
        shared.step(now).await;
        let next = shared.engine().next_due().unwrap_or(now + 1000);
        let wait = (next - wall_ms()).clamp(1, 1000) as u64;
        tokio::select! {
            _ = tokio::time::sleep(Duration::from_millis(wait)) => {}
            _ = stop.changed() => return,
        }
    }
}

async fn reload_on_sighup(
    shared: Arc<Shared>,
    mut hup: tokio::signal::unix::Signal,
    mut stop: tokio::sync::watch::Receiver<bool>,
) {
    loop {
        tokio::select! {
            _ = hup.recv() => { let _ = shared.reload(); }
            _ = stop.changed() => return,
        }
    }
}

async fn shutdown_signal() {
    use tokio::signal::unix::{signal, SignalKind};
    let mut term = signal(SignalKind::terminate()).ok();
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        _ = async { match term.as_mut() { Some(t) => { t.recv().await; } None => std::future::pending().await } } => {}
    }
}

/// Runs the alerter from parsed command-line options, logging alerts.
pub fn run_from_cli(args: RunArgs) -> ExitCode {
    run_from_cli_with(args, |alerter| async move { Ok(alerter) })
}

/// Runs the alerter from parsed command-line options; `setup` gets the built
/// alerter (alerts go to the log) and may set a sink, add routes and metrics
/// hooks, or spawn tasks, before serving starts.
pub fn run_from_cli_with<F, Fut>(args: RunArgs, setup: F) -> ExitCode
where
    F: FnOnce(Alerter) -> Fut,
    Fut: Future<Output = anyhow::Result<Alerter>>,
{
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into()),
        )
        .init();
    let settings = Settings {
        config_path: args.config,
        listen_address: args.listen_address,
        external_url: args.external_url,
        resend_delay: args.resend_delay.0,
        clock: Clock::Wall,
    };
    // One thread: scraping is I/O and evaluation is short, and a single
    // thread keeps one malloc arena, which keeps resident memory low.
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(r) => r,
        Err(e) => {
            eprintln!("error: cannot start the runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    let result = runtime.block_on(async {
        let alerter = Alerter::build(settings, Arc::new(LogSink)).await?;
        let alerter = setup(alerter).await?;
        tracing::info!(port = alerter.port(), "alerter listening");
        alerter.run_until_stopped(shutdown_signal()).await
    });
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}
