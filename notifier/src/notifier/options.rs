//! Runtime options of the notifier and its build errors.

use crate::clock::{Clock, SystemClock};
use crate::config::ConfigError;
use crate::state::StateError;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

/// Runtime settings that are not part of `alerter.yml`.
#[derive(Clone)]
pub struct NotifierOptions {
    /// Where state is persisted; `None` keeps it in memory only.
    pub state_file: Option<PathBuf>,
    /// Registry the metrics are registered on (the alerter's `/metrics`).
    pub registry: prometheus::Registry,
    /// Source of time; tests inject a manual or tokio-driven clock.
    pub clock: Arc<dyn Clock>,
    /// How long a firing alert without `ends_at` stays firing unless re-sent
    /// (Alertmanager's `resolve_timeout`, default 5m).
    pub resolve_timeout: Duration,
    /// Queued notifications per integration before the oldest are folded
    /// into a summary (default 100).
    pub queue_bound: usize,
    /// First retry delay after a transient failure (default 1s).
    pub retry_initial: Duration,
    /// Cap of the exponential retry delay (default 5m).
    pub retry_max: Duration,
    /// Timeout of one delivery request (default 30s).
    pub request_timeout: Duration,
    /// Link to the alerter shown in messages (`{{ .ExternalURL }}`).
    pub external_url: String,
    /// Entries kept in the sent log and in the dead-letter list (default 1000).
    pub log_limit: usize,
    /// Version reported by `GET /api/v2/status` (the embedding program's).
    pub version: String,
}

impl Default for NotifierOptions {
    fn default() -> Self {
        NotifierOptions {
            state_file: None,
            registry: prometheus::Registry::new(),
            clock: Arc::new(SystemClock),
            resolve_timeout: Duration::from_secs(300),
            queue_bound: 100,
            retry_initial: Duration::from_secs(1),
            retry_max: Duration::from_secs(300),
            request_timeout: Duration::from_secs(30),
            external_url: String::new(),
            log_limit: 1000,
            version: env!("CARGO_PKG_VERSION").to_string(),
        }
    }
}

/// Why the notifier could not start.
#[derive(Debug, thiserror::Error)]
pub enum BuildError {
    /// Bad `route` / `receivers` / `inhibit_rules`, or a secret that cannot be read.
    #[error("notifier configuration: {0}")]
    Config(#[from] ConfigError),
    /// The state file exists but cannot be used.
    #[error(transparent)]
    State(#[from] StateError),
    /// Metric registration failed (e.g. registered twice on one registry).
    #[error("notifier metrics: {0}")]
    Metrics(#[from] prometheus::Error),
}
