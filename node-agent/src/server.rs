//! The HTTP side: `build(config)` binds the listener (port 0 allowed) and
//! builds the collectors; `run_until_stopped` serves until the future given
//! resolves. `main` and the tests start the agent through this same path.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use anyhow::{Context, Result};
use bytes::Bytes;
use http_body_util::Full;
use hyper::body::Incoming;
use hyper::header::{HeaderValue, CONTENT_TYPE};
use hyper::{Method, Request, Response, StatusCode};
use servekit::webconfig::WebConfig;
use tokio::net::TcpListener;

use crate::scrape::Scraper;
use crate::settings::Config;

/// Content type of the text exposition format 0.0.4.
pub const TEXT_FORMAT: &str = "text/plain; version=0.0.4; charset=utf-8";

/// A bound, ready-to-run agent.
pub struct App {
    listener: TcpListener,
    limits: servekit::http::Limits,
    web: WebConfig,
    state: Arc<State>,
}

struct State {
    scraper: Scraper,
    telemetry_path: String,
    max_requests: usize,
    in_flight: AtomicUsize,
    /// What the accept loop saw; exported with the agent's own metrics
    /// (`node_agent_http_*`) unless those are disabled.
    connections: Arc<servekit::http::ConnStats>,
    exporter_metrics: bool,
    /// Export the TLS handshake failure counter (TLS is on).
    tls: bool,
}

/// Binds `address`; node_exporter's `:9100` means every interface, IPv6
/// (dual-stack) where the kernel has it, else IPv4.
async fn bind(address: &str) -> Result<TcpListener> {
    if address.starts_with(':') {
        if let Ok(l) = TcpListener::bind(format!("[::]{address}")).await {
            return Ok(l);
        }
        let addr = format!("0.0.0.0{address}");
        return TcpListener::bind(&addr)
            .await
            .with_context(|| format!("Failed to listen on {addr}"));
    }
    TcpListener::bind(address)
        .await
        .with_context(|| format!("Failed to listen on {address}"))
}

/// Reads `--web.config.file`, builds the collectors and binds
/// `--web.listen-address`. A bad web configuration is an error naming
/// `file:line:column`.
pub async fn build(config: &Config) -> Result<App> {
    let web = match &config.web_config_file {
        Some(path) => WebConfig::load(path).map_err(|e| anyhow::anyhow!("{e}"))?,
        None => WebConfig::default(),
    };
    let scraper = Scraper::new(config)?;
    let listener = bind(&config.listen_address).await?;
    Ok(App {
        listener,
        limits: config.http,
        web: web.clone(),
        state: Arc::new(State {
            scraper,
            telemetry_path: config.telemetry_path.clone(),
            max_requests: config.max_requests,
            in_flight: AtomicUsize::new(0),
            connections: Arc::default(),
            exporter_metrics: !config.disable_exporter_metrics,
            tls: web.tls().is_some(),
        }),
    })
}

impl App {
    /// The bound address (tells tests which port 0 became).
    pub fn local_addr(&self) -> SocketAddr {
        self.listener
            .local_addr()
            .expect("a bound listener has an address")
    }

    /// The bound port.
    pub fn port(&self) -> u16 {
        self.local_addr().port()
    }

    /// `https` when `--web.config.file` turns TLS on, else `http`.
    pub fn scheme(&self) -> &'static str {
        self.web.scheme()
    }

    /// Serves HTTP(S) within the configured limits, behind the web
    /// configuration's credentials, until `shutdown` resolves.
    pub async fn run_until_stopped(self, shutdown: impl std::future::Future<Output = ()>) {
        let state = Arc::clone(&self.state);
        let service = tower::service_fn(move |req| {
            let state = Arc::clone(&state);
            async move { Ok::<_, Infallible>(respond(&state, req).await) }
        });
        let stats = Arc::clone(&self.state.connections);
        let served = self
            .web
            .serve(self.listener, service, self.limits, stats, shutdown)
            .await;
        if let Err(err) = served {
            let err = err.to_string();
            crate::log::log(
                crate::log::Level::Error,
                "HTTP server failed",
                &[("err", &err)],
            );
        }
    }
}

fn text(status: StatusCode, content_type: &'static str, body: String) -> Response<Full<Bytes>> {
    let mut resp = Response::new(Full::new(Bytes::from(body)));
    *resp.status_mut() = status;
    resp.headers_mut()
        .insert(CONTENT_TYPE, HeaderValue::from_static(content_type));
    resp
}

/// Counts a scrape in flight until dropped.
struct InFlight<'a>(&'a State);

impl Drop for InFlight<'_> {
    fn drop(&mut self) {
        self.0.in_flight.fetch_sub(1, Ordering::SeqCst);
    }
}

async fn respond(state: &Arc<State>, req: Request<Incoming>) -> Response<Full<Bytes>> {
    if req.method() != Method::GET && req.method() != Method::HEAD {
        return text(
            StatusCode::METHOD_NOT_ALLOWED,
            "text/plain",
            "method not allowed\n".into(),
        );
    }
    let path = req.uri().path();
    if path == state.telemetry_path {
        let running = state.in_flight.fetch_add(1, Ordering::SeqCst);
        let _release = InFlight(state);
        if state.max_requests > 0 && running >= state.max_requests {
            let msg = format!(
                "Limit of concurrent requests reached ({}), try again later.\n",
                state.max_requests
            );
            return text(StatusCode::SERVICE_UNAVAILABLE, "text/plain", msg);
        }
        // Collectors do blocking file I/O (and a bounded statfs wait): keep
        // it off the async thread so other connections are still served.
        let st = Arc::clone(state);
        return match tokio::task::spawn_blocking(move || st.scraper.scrape()).await {
            Ok(mut body) => {
                if state.exporter_metrics {
                    body.push_str(&state.connections.render_text("node_agent"));
                    if state.tls {
                        body.push_str(&state.connections.render_tls_text("node_agent"));
                    }
                }
                text(StatusCode::OK, TEXT_FORMAT, body)
            }
            Err(e) => text(
                StatusCode::INTERNAL_SERVER_ERROR,
                "text/plain",
                format!("scrape failed: {e}\n"),
            ),
        };
    }
    if path == "/" {
        let body = format!(
            "<html><head><title>Node Agent</title></head><body><h1>Node Agent</h1>\
             <p><a href=\"{0}\">Metrics</a></p></body></html>\n",
            state.telemetry_path
        );
        return text(StatusCode::OK, "text/html; charset=utf-8", body);
    }
    text(StatusCode::NOT_FOUND, "text/plain", "not found\n".into())
}
