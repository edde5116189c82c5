//! The alerter wired to the embedded notifier (`notifier` crate): when
//! `alerter.yml` has a `route`, alerts go to routing, grouping, inhibition,
//! silences and Slack instead of the log.
//!
//! [`attach`] builds the notifier from the configuration in force, swaps the
//! alerter's sink for a [`NotifierSink`] (alerts are handed to a task, so
//! evaluation never waits for the notifier), serves the notifier's API
//! (Alertmanager's API v2 and `/api/v1/silences`, …) on the alerter's port,
//! appends the notifier's metrics to `/metrics`, and re-applies `route` /
//! `receivers` / `inhibit_rules` after every successful reload.

use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use anyhow::Context;
use notifier::clock::Clock;
use notifier::{Notifier, NotifierOptions};
use prometheus::{IntCounterVec, Opts, Registry};
use tokio::sync::mpsc;

use crate::app::Alerter;
use crate::shared::Shared;
use crate::sink::{AlertSink, PostableAlert};

/// How [`attach`] runs the notifier.
#[derive(Clone)]
pub struct NotifyOptions {
    /// The notifier's state file (groups, notification log, silences,
    /// queue); `None` keeps it in memory.
    pub state_file: Option<PathBuf>,
    /// The notifier's time source (the system clock in production).
    pub clock: Arc<dyn Clock>,
    /// Run the dispatcher task (production). Tests step it with
    /// [`Notifier::tick`] instead.
    pub spawn_dispatcher: bool,
}

impl Default for NotifyOptions {
    fn default() -> Self {
        Self {
            state_file: None,
            clock: Arc::new(notifier::clock::SystemClock),
            spawn_dispatcher: true,
        }
    }
}

/// The running notifier and its hand-off queue.
#[derive(Clone)]
pub struct Notifications {
    /// The notifier (for tests and embedding).
    pub notifier: Notifier,
    in_transit: Arc<AtomicUsize>,
}

impl Notifications {
    /// Waits until every batch handed to the sink so far is in the notifier.
    pub async fn settled(&self) {
        while self.in_transit.load(Ordering::SeqCst) > 0 {
            tokio::task::yield_now().await;
            tokio::time::sleep(std::time::Duration::from_millis(1)).await;
        }
    }
}

/// Hands alerts to the forwarding task, which converts them and calls
/// [`Notifier::receive`].
pub struct NotifierSink {
    tx: mpsc::UnboundedSender<Vec<PostableAlert>>,
    in_transit: Arc<AtomicUsize>,
}

impl AlertSink for NotifierSink {
    fn send(&self, alerts: Vec<PostableAlert>) {
        self.in_transit.fetch_add(1, Ordering::SeqCst);
        if self.tx.send(alerts).is_err() {
            self.in_transit.fetch_sub(1, Ordering::SeqCst);
            tracing::warn!("notifier task is gone; alerts dropped");
        }
    }
}

/// Converts an alert from the alerter's evaluation to the notifier's type.
pub fn to_notifier_alert(a: PostableAlert) -> notifier::Alert {
    notifier::Alert {
        labels: a.labels,
        annotations: a.annotations,
        starts_at: Some(a.starts_at),
        ends_at: Some(a.ends_at),
        generator_url: Some(a.generator_url).filter(|u| !u.is_empty()),
    }
}

/// When the configuration has a `route`: builds the notifier, plugs it in
/// (sink, routes, metrics, reloads) and returns it with the alerter.
/// Without a `route` the alerter is returned unchanged (alerts are logged).
pub async fn attach(
    alerter: Alerter,
    options: NotifyOptions,
) -> anyhow::Result<(Alerter, Option<Notifications>)> {
    let shared = alerter.shared();
    let config = shared.config_updates().borrow().clone();
    let Some(notify) = config.notify_config() else {
        return Ok((alerter, None));
    };
    let registry = Registry::new();
    let notifier = Notifier::build(
        &notify,
        NotifierOptions {
            state_file: options.state_file.clone(),
            registry: registry.clone(),
            clock: options.clock.clone(),
            external_url: shared.engine().env.external_url.clone(),
            version: env!("CARGO_PKG_VERSION").to_string(),
            ..Default::default()
        },
    )
    .context("Failed to start the notifier")?;
    let reloads = IntCounterVec::new(
        Opts::new(
            "alerter_notifier_config_reloads_total",
            "Notifier configuration reloads by result (success, failure).",
        ),
        &["result"],
    )?;
    registry.register(Box::new(reloads.clone()))?;
    shared.set_extra_metrics(Arc::new(move || render(&registry)));

    let in_transit = Arc::new(AtomicUsize::new(0));
    let (tx, rx) = mpsc::unbounded_channel();
    tokio::spawn(forward(rx, notifier.clone(), in_transit.clone()));
    shared.set_sink(Arc::new(NotifierSink {
        tx,
        in_transit: in_transit.clone(),
    }));
    tokio::spawn(follow_reloads(shared.clone(), notifier.clone(), reloads));
    if options.spawn_dispatcher {
        notifier.spawn();
    }
    let alerter = alerter.with_routes(notifier::api::router(notifier.clone()));
    Ok((
        alerter,
        Some(Notifications {
            notifier,
            in_transit,
        }),
    ))
}

fn render(registry: &Registry) -> String {
    use prometheus::Encoder;
    let mut buf = Vec::new();
    if let Err(e) = prometheus::TextEncoder::new().encode(&registry.gather(), &mut buf) {
        tracing::error!(error = %e, "cannot render notifier metrics");
    }
    String::from_utf8(buf).unwrap_or_default()
}

async fn forward(
    mut rx: mpsc::UnboundedReceiver<Vec<PostableAlert>>,
    notifier: Notifier,
    in_transit: Arc<AtomicUsize>,
) {
    while let Some(batch) = rx.recv().await {
        let alerts = batch.into_iter().map(to_notifier_alert).collect();
        notifier.receive(alerts).await;
        in_transit.fetch_sub(1, Ordering::SeqCst);
    }
}

/// Applies `route` / `receivers` / `inhibit_rules` after each successful
/// reload of `alerter.yml`. The file was validated already; what can still
/// fail here (a secret file or variable that cannot be read) keeps the
/// notifier's previous configuration, logged and counted.
async fn follow_reloads(shared: Arc<Shared>, notifier: Notifier, reloads: IntCounterVec) {
    let mut updates = shared.config_updates();
    while updates.changed().await.is_ok() {
        let config = updates.borrow_and_update().clone();
        let Some(notify) = config.notify_config() else {
            reloads.with_label_values(&["failure"]).inc();
            tracing::error!("route removed from the configuration; the notifier keeps its previous configuration until restarted");
            continue;
        };
        match notifier.reload(&notify) {
            Ok(()) => {
                reloads.with_label_values(&["success"]).inc();
                tracing::info!("notifier configuration reloaded");
            }
            Err(e) => {
                reloads.with_label_values(&["failure"]).inc();
                tracing::error!(error = %e, "notifier configuration rejected; keeping the previous one");
            }
        }
    }
}

/// File name of the notifier's state under `--storage.path`.
pub const NOTIFIER_STATE_FILE: &str = "notifier-state.json";
