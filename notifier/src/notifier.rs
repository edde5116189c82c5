//! [`Notifier`]: takes alerts, runs the dispatcher, delivers, persists.

use crate::alert::Alert;
use crate::config::{ConfigError, NotifyConfig};
use crate::delivery::{Integration, Outcome};
use crate::dispatch::{Dispatch, IntegrationMeta};
use crate::metrics::Metrics;
use crate::notification::{Content, Queued, SlackMessageRef};
use crate::queue::{self, Backoff, LogLimits};
use crate::state::{write_atomic, State};
use chrono::{DateTime, Utc};
use std::collections::{HashMap, HashSet};
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use std::time::Duration;
use tokio::sync::Notify;

mod operations;
mod options;
mod views;

pub use options::{BuildError, NotifierOptions};
pub use views::{AlertState, AlertStatus, AlertView, GroupView};

/// A silence not found by id.
#[derive(Debug, thiserror::Error)]
#[error("no silence with id {0}")]
pub struct SilenceNotFound(pub String);

/// Configuration turned into runnable parts; swapped whole on reload.
struct Plan {
    dispatch: Dispatch,
    integrations: HashMap<String, Arc<Integration>>,
    /// Receiver names, in configuration order.
    receivers: Vec<String>,
    /// The configuration in Alertmanager's YAML, secrets hidden.
    original: String,
}

/// A serialised state, numbered in the order the snapshots were taken.
struct Snapshot {
    path: PathBuf,
    seq: u64,
    bytes: Vec<u8>,
}

struct Inner {
    state: Mutex<State>,
    plan: RwLock<Arc<Plan>>,
    in_flight: Mutex<HashSet<u64>>,
    /// Sequence number of the last snapshot taken (taken under the state lock).
    snapshot_seq: AtomicU64,
    /// Sequence number of the snapshot on disk; also serialises writers.
    written_seq: Mutex<u64>,
    metrics: Metrics,
    options: NotifierOptions,
    wake: Notify,
    /// When the notifier was built (Alertmanager's `uptime`).
    started_at: DateTime<Utc>,
}

impl Inner {
    /// Writes a snapshot unless a newer one is already on disk, so
    /// concurrent writers never leave an older state behind.
    fn write_snapshot(&self, snapshot: Snapshot) {
        let mut written = lock(&self.written_seq);
        if *written >= snapshot.seq {
            return;
        }
        match write_atomic(&snapshot.path, &snapshot.bytes) {
            Ok(()) => *written = snapshot.seq,
            Err(e) => {
                self.metrics.state_write_failures.inc();
                tracing::error!(error = %e, "cannot persist notifier state");
            }
        }
    }
}

/// The embedded notifier. Cheap to clone; all clones share one state.
#[derive(Clone)]
pub struct Notifier {
    inner: Arc<Inner>,
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

fn build_plan(config: &NotifyConfig, options: &NotifierOptions) -> Result<Plan, ConfigError> {
    config.validate()?;
    let mut integrations = HashMap::new();
    let mut metas: HashMap<String, Vec<IntegrationMeta>> = HashMap::new();
    for r in &config.receivers {
        let mut add = |i: Integration, send_resolved: bool| {
            metas
                .entry(r.name.clone())
                .or_default()
                .push(IntegrationMeta {
                    key: i.key.clone(),
                    send_resolved,
                });
            integrations.insert(i.key.clone(), Arc::new(i));
        };
        for (idx, c) in r.slack_configs.iter().enumerate() {
            if let Some(slack) = Integration::slack(&r.name, idx, c, &options.external_url)? {
                add(slack, c.send_resolved);
            }
        }
        for (idx, c) in r.webhook_configs.iter().enumerate() {
            add(Integration::webhook(&r.name, idx, c)?, c.send_resolved);
        }
    }
    let timeout =
        chrono::Duration::from_std(options.resolve_timeout).unwrap_or(chrono::Duration::minutes(5));
    Ok(Plan {
        dispatch: Dispatch::new(config, metas, timeout),
        integrations,
        receivers: config.receivers.iter().map(|r| r.name.clone()).collect(),
        original: crate::amconfig::alertmanager_yaml(config, options.resolve_timeout),
    })
}

impl Notifier {
    /// Validates the configuration, reads secrets, loads the state file (if
    /// any) and registers metrics. Call [`Notifier::run`] (or
    /// [`Notifier::spawn`]) to start dispatching.
    pub fn build(config: &NotifyConfig, options: NotifierOptions) -> Result<Notifier, BuildError> {
        let plan = build_plan(config, &options)?;
        let mut state = match &options.state_file {
            Some(path) => State::load(path)?,
            None => State {
                version: crate::state::STATE_VERSION,
                ..State::default()
            },
        };
        plan.dispatch
            .rebuild_groups(&mut state, options.clock.now());
        let metrics = Metrics::register(&options.registry)?;
        let started_at = options.clock.now();
        let notifier = Notifier {
            inner: Arc::new(Inner {
                state: Mutex::new(state),
                plan: RwLock::new(Arc::new(plan)),
                in_flight: Mutex::new(HashSet::new()),
                snapshot_seq: AtomicU64::new(0),
                written_seq: Mutex::new(0),
                metrics,
                options,
                wake: Notify::new(),
                started_at,
            }),
        };
        notifier.update_gauges();
        Ok(notifier)
    }

    /// Applies a new configuration (SIGHUP / reload). On error the running
    /// configuration stays in force. Groups are re-formed under the new
    /// routes; the notification log keeps already-sent alerts from repeating.
    pub fn reload(&self, config: &NotifyConfig) -> Result<(), ConfigError> {
        let plan = Arc::new(build_plan(config, &self.inner.options)?);
        {
            let mut state = lock(&self.inner.state);
            plan.dispatch.rebuild_groups(&mut state, self.now());
            *self.inner.plan.write().unwrap_or_else(|e| e.into_inner()) = plan;
        }
        self.persist();
        self.inner.wake.notify_one();
        Ok(())
    }

    fn plan(&self) -> Arc<Plan> {
        self.inner
            .plan
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    fn now(&self) -> DateTime<Utc> {
        self.inner.options.clock.now()
    }

    /// Takes firing and resolved alerts (from the alerter's evaluation or
    /// from `POST /api/v2/alerts`). Firing alerts should be re-sent
    /// periodically, as Prometheus does; one not re-sent resolves after its
    /// `ends_at` (or the resolve timeout when unset).
    pub async fn receive(&self, alerts: Vec<Alert>) {
        if alerts.is_empty() {
            return;
        }
        let now = self.now();
        let plan = self.plan();
        {
            let mut state = lock(&self.inner.state);
            for alert in alerts {
                let status = if alert.resolved_at(now) {
                    "resolved"
                } else {
                    "firing"
                };
                self.inner
                    .metrics
                    .alerts_received
                    .with_label_values(&[status])
                    .inc();
                plan.dispatch.insert(&mut state, alert, now);
            }
        }
        // Wake the dispatcher first: delivery need not wait for the fsync.
        self.inner.wake.notify_one();
        self.persist_async().await;
        self.update_gauges();
    }

    /// One dispatcher step at the clock's current time: flushes the groups
    /// that are due, queues their notifications and delivers every queue
    /// entry whose time has come. Returns the number of messages delivered.
    pub async fn tick(&self) -> usize {
        let now = self.now();
        let plan = self.plan();
        {
            let mut state = lock(&self.inner.state);
            let outgoing = plan.dispatch.flush_due(&mut state, now);
            let in_flight = lock(&self.inner.in_flight).clone();
            for o in outgoing {
                let id = state.take_id();
                let entry = Queued {
                    id,
                    integration: o.integration,
                    receiver: o.notification.receiver.clone(),
                    content: Content::Group(o.notification),
                    queued_at: now,
                    attempts: 0,
                    not_before: now,
                    last_error: None,
                };
                let (receiver, kind) =
                    (entry.receiver.clone(), integration_kind(&entry.integration));
                let folded = queue::enqueue(
                    &mut state,
                    entry,
                    self.inner.options.queue_bound,
                    &in_flight,
                );
                if folded > 0 {
                    self.count(&receiver, kind, "summarised", folded as u64);
                }
            }
        }
        let delivered = self.deliver_due(&plan).await;
        self.persist_async().await;
        self.update_gauges();
        delivered
    }

    async fn deliver_due(&self, plan: &Plan) -> usize {
        let mut delivered = 0;
        for _round in 0..1000 {
            let heads = {
                let state = lock(&self.inner.state);
                let mut in_flight = lock(&self.inner.in_flight);
                let heads = queue::due_heads(&state, self.now(), &in_flight);
                in_flight.extend(heads.iter().map(|q| q.id));
                heads
            };
            if heads.is_empty() {
                break;
            }
            let sends = heads.iter().map(|q| self.send_one(plan, q));
            let outcomes = futures_util::future::join_all(sends).await;
            let now = self.now();
            let mut state = lock(&self.inner.state);
            let mut in_flight = lock(&self.inner.in_flight);
            let mut progressed = false;
            for (q, outcome) in heads.iter().zip(outcomes) {
                in_flight.remove(&q.id);
                progressed |= matches!(outcome, Outcome::Delivered { .. });
                delivered += usize::from(matches!(outcome, Outcome::Delivered { .. }));
                let limits = LogLimits {
                    sent: self.inner.options.log_limit,
                    dead: self.inner.options.log_limit,
                };
                queue::apply_outcome(&mut state, q.id, &outcome, now, self.backoff(), limits);
            }
            if !progressed {
                break;
            }
        }
        delivered
    }

    async fn send_one(&self, plan: &Plan, q: &Queued) -> Outcome {
        let kind = integration_kind(&q.integration);
        let Some(integration) = plan.integrations.get(&q.integration) else {
            let outcome = Outcome::Permanent(format!(
                "integration {} no longer configured",
                q.integration
            ));
            self.count(&q.receiver, kind, "failed", 1);
            return outcome;
        };
        let update = self.slack_message_to_update(q);
        let started = tokio::time::Instant::now();
        let outcome = match tokio::time::timeout(
            self.inner.options.request_timeout,
            integration.send(&q.content, update.as_ref()),
        )
        .await
        {
            Ok(outcome) => outcome,
            Err(_) => Outcome::Transient("request timed out".into()),
        };
        let m = &self.inner.metrics;
        m.latency
            .with_label_values(&[&q.receiver, kind])
            .observe(started.elapsed().as_secs_f64());
        let label = match &outcome {
            Outcome::Delivered { .. } => "success",
            Outcome::RateLimited(_) => "rate_limited",
            Outcome::Transient(e) => {
                tracing::warn!(integration = %q.integration, attempt = q.attempts + 1, error = %e, "notification failed, will retry");
                "retry"
            }
            Outcome::Permanent(e) => {
                tracing::error!(integration = %q.integration, error = %e, "notification cannot be delivered; kept as a dead letter");
                "failed"
            }
        };
        self.count(&q.receiver, kind, label, 1);
        outcome
    }

    /// For a resolved group notification: the group's last posted Slack
    /// message, to update in place.
    fn slack_message_to_update(&self, q: &Queued) -> Option<SlackMessageRef> {
        if q.content.status() != "resolved" {
            return None;
        }
        let key = queue::slack_message_key(q)?;
        lock(&self.inner.state).slack_messages.get(&key).cloned()
    }

    fn count(&self, receiver: &str, kind: &str, outcome: &str, n: u64) {
        self.inner
            .metrics
            .notifications
            .with_label_values(&[receiver, kind, outcome])
            .inc_by(n);
    }

    fn backoff(&self) -> Backoff {
        Backoff {
            initial: self.inner.options.retry_initial,
            max: self.inner.options.retry_max,
        }
    }

    /// When the dispatcher next has something to do (a group flush or a
    /// queued retry), if anything.
    pub fn next_wakeup(&self) -> Option<DateTime<Utc>> {
        let state = lock(&self.inner.state);
        let flush = self.plan().dispatch.next_flush(&state);
        [flush, queue::next_due(&state)].into_iter().flatten().min()
    }

    /// Runs the dispatcher until `shutdown` completes: ticks, then sleeps
    /// (tokio time) until the next wakeup or until new alerts arrive.
    pub async fn run(&self, shutdown: impl std::future::Future<Output = ()>) {
        tokio::pin!(shutdown);
        loop {
            self.tick().await;
            let wait = self
                .next_wakeup()
                .map(|t| (t - self.now()).to_std().unwrap_or(Duration::ZERO))
                .unwrap_or(Duration::from_secs(3600))
                .min(Duration::from_secs(3600));
            tokio::select! {
                _ = &mut shutdown => break,
                _ = self.inner.wake.notified() => {}
                _ = tokio::time::sleep(wait) => {}
            }
        }
        self.persist_async().await;
    }

    /// Spawns [`Notifier::run`] on the current runtime, running until the
    /// task is aborted.
    pub fn spawn(&self) -> tokio::task::JoinHandle<()> {
        let me = self.clone();
        tokio::spawn(async move { me.run(std::future::pending()).await })
    }

    /// Writes the state file now (also done after every change). Blocks
    /// the calling thread for the write and fsync; async paths use
    /// [`Notifier::persist_async`].
    pub fn persist(&self) {
        if let Some(snapshot) = self.snapshot() {
            self.inner.write_snapshot(snapshot);
        }
    }

    /// Writes the state file on tokio's blocking pool, so the fsync does
    /// not stall the runtime; returns once the state is on disk.
    pub async fn persist_async(&self) {
        if let Some(snapshot) = self.snapshot() {
            let inner = self.inner.clone();
            let written = tokio::task::spawn_blocking(move || inner.write_snapshot(snapshot)).await;
            if written.is_err() {
                tracing::error!("state file writer task failed");
            }
        }
    }

    fn snapshot(&self) -> Option<Snapshot> {
        let path = self.inner.options.state_file.clone()?;
        let state = lock(&self.inner.state);
        let seq = self.inner.snapshot_seq.fetch_add(1, Ordering::SeqCst) + 1;
        Some(Snapshot {
            path,
            seq,
            bytes: state.to_bytes(),
        })
    }

    fn update_gauges(&self) {
        let state = lock(&self.inner.state);
        let m = &self.inner.metrics;
        m.queue_length.set(state.queue.len() as i64);
        m.dead_letters.set(state.dead_letters.len() as i64);
        m.groups.set(state.groups.len() as i64);
    }
}

fn integration_kind(key: &str) -> &'static str {
    if key.contains("/webhook/") {
        "webhook"
    } else {
        "slack"
    }
}
