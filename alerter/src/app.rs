//! Startup shared by `main` and the tests: [`Alerter::build`] loads the
//! configuration and binds the listener (port 0 allowed), [`Alerter::port`]
//! tells where, [`Alerter::run_until_stopped`] serves until shutdown.
//! With [`Clock::Manual`] nothing runs on its own: the caller steps time
//! with [`Alerter::tick`].

use std::future::Future;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use tokio::net::TcpListener;

use servekit::webconfig::WebConfig;

use crate::config::Config;
use crate::engine::Engine;
use crate::rules::EvalEnv;
use crate::shared::{wall_ms, Clock, Shared};
use crate::sink::AlertSink;

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
    /// HTTP limits: the request-head deadline (also closing idle
    /// connections) and the connection cap.
    pub http: servekit::http::Limits,
    /// TLS, credentials and the lifecycle API.
    pub web: WebSettings,
}

/// `--web.config.file` and `--web.enable-lifecycle`; the default is plain
/// HTTP without credentials and without the lifecycle API.
#[derive(Debug, Clone, Default)]
pub struct WebSettings {
    /// Prometheus's web configuration file (TLS, basic auth), read once at
    /// startup.
    pub config_file: Option<PathBuf>,
    /// Serve `POST /-/reload` and `POST /-/quit` (403 otherwise).
    pub enable_lifecycle: bool,
}

/// A built, bound alerter.
pub struct Alerter {
    shared: Arc<Shared>,
    listener: TcpListener,
    port: u16,
    extra_routes: Option<axum::Router>,
    http: servekit::http::Limits,
    web: WebConfig,
    lifecycle: bool,
    /// SIGHUP, listened for from before the port is bound (real time only):
    /// one that arrives before then would get the default action and end
    /// the process.
    hup: Option<tokio::signal::unix::Signal>,
}

/// `:port` as every interface's address; anything else as given.
pub fn listen_addr(s: &str) -> String {
    match s.strip_prefix(':') {
        Some(port) => format!("0.0.0.0:{port}"),
        None => s.to_string(),
    }
}

impl Alerter {
    /// Loads the configuration (failing on any bad file) and binds.
    pub async fn build(settings: Settings, sink: Arc<dyn AlertSink>) -> anyhow::Result<Self> {
        let loaded = Config::load(&settings.config_path).map_err(|e| anyhow::anyhow!("{e}"))?;
        let web = match &settings.web.config_file {
            Some(path) => WebConfig::load(path).map_err(|e| anyhow::anyhow!("{e}"))?,
            None => WebConfig::default(),
        };
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
                format!("{}://localhost:{port}", web.scheme())
            } else {
                settings.external_url.clone()
            },
            ..Default::default()
        };
        let config = Arc::new(loaded.config.clone());
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
        let client = crate::config::base_client()
            .build()
            .context("Failed to build the HTTP client")?;
        let shared = Arc::new(Shared::new(
            engine,
            config,
            settings.config_path,
            settings.clock,
            client,
            start,
        ));
        Ok(Self {
            shared,
            listener,
            port,
            extra_routes: None,
            http: settings.http,
            web,
            lifecycle: settings.web.enable_lifecycle,
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

    /// `http` or `https`, as `--web.config.file` says.
    pub fn scheme(&self) -> &'static str {
        self.web.scheme()
    }

    /// The shared state (engine, reload).
    pub fn shared(&self) -> Arc<Shared> {
        Arc::clone(&self.shared)
    }

    /// Steps the alerter to `now` (ms): due scrapes, then due evaluations.
    pub async fn tick(&self, now: i64) {
        self.shared.tick(now).await
    }

    /// Serves HTTP(S) (and, on the wall clock, runs the scrape/evaluation
    /// loop and reloads on SIGHUP) until `shutdown` completes or
    /// `POST /-/quit` is called (with `--web.enable-lifecycle`).
    pub async fn run_until_stopped(
        self,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> anyhow::Result<()> {
        let shared = Arc::clone(&self.shared);
        let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
        if shared.clock() == Clock::Wall {
            tokio::spawn(run_loop(Arc::clone(&shared), stop_rx.clone()));
            if let Some(hup) = self.hup {
                tokio::spawn(reload_on_sighup(Arc::clone(&shared), hup, stop_rx.clone()));
            }
        }
        let connections = Arc::clone(&shared.connections);
        let quit = Arc::new(tokio::sync::Notify::new());
        let options = crate::http::HttpOptions {
            lifecycle: self.lifecycle,
            quit: quit.clone(),
            web: self.web.clone(),
        };
        let mut app = crate::http::router(shared, options);
        if let Some(extra) = self.extra_routes {
            app = app.merge(extra);
        }
        let stopped = async move {
            tokio::select! {
                _ = shutdown => {}
                _ = quit.notified() => {}
            }
            let _ = stop_tx.send(true);
        };
        self.web
            .serve(self.listener, app, self.http, connections, stopped)
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
