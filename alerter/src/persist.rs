//! Alert state across restarts: every rule's active alerts (labels, state,
//! `activeAt`, `firedAt`, resolution, last send, `keep_firing_for`
//! bookkeeping) are written to a JSON file (temporary file, fsync, rename,
//! fsync of the directory; 0600 in a 0700 directory) and put back before
//! the first evaluation.
//!
//! After a restart a firing alert is firing again at once with the same
//! `startsAt`, and a pending alert's `for` timer resumes where it stopped:
//! its `activeAt` moves forward by the downtime, as Prometheus's
//! `ALERTS_FOR_STATE` restore does (without its `for-grace-period`).
//! Alerts of rules that no longer exist (same group, name and expression)
//! are dropped.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::engine::{group_key, Engine};
use crate::rules::{Alert, AlertState, Rule};
use crate::shared::Shared;
use crate::storage::Labels;

/// File name of the alert state under `--storage.path`.
pub const ALERT_STATE_FILE: &str = "alerts-state.json";

/// Version written into the file.
const VERSION: u32 = 1;

/// A state file that exists but cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum PersistError {
    /// Reading or writing failed.
    #[error("alert state file {path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The cause.
        source: std::io::Error,
    },
    /// The content is not a state file of this version.
    #[error("alert state file {path}: {message}")]
    Invalid {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        message: String,
    },
}

#[derive(Debug, Serialize, Deserialize)]
struct StateFile {
    version: u32,
    /// Time of the newest evaluation the state reflects (ms).
    saved_at: i64,
    alerts: Vec<SavedAlert>,
}

#[derive(Debug, PartialEq, Serialize, Deserialize)]
struct SavedAlert {
    /// `file;group`.
    group: String,
    rule: String,
    expr: String,
    labels: Labels,
    annotations: Labels,
    /// `pending`, `firing` or `inactive` (resolved, still being reported).
    state: String,
    active_at: i64,
    fired_at: Option<i64>,
    resolved_at: Option<i64>,
    last_sent_at: Option<i64>,
    valid_until: i64,
    keep_firing_since: Option<i64>,
}

fn snapshot(engine: &Engine) -> Option<StateFile> {
    let mut alerts = Vec::new();
    let mut saved_at = i64::MIN;
    for g in &engine.groups {
        saved_at = saved_at.max(g.group.last_evaluation.unwrap_or(i64::MIN));
        let key = group_key(&g.group);
        for rule in &g.group.rules {
            let Rule::Alerting(r) = rule else { continue };
            let expr = r.expr().to_string();
            let mut list: Vec<&Alert> = r.active.values().collect();
            list.sort_by(|a, b| a.labels.cmp(&b.labels));
            alerts.extend(list.into_iter().map(|a| SavedAlert {
                group: key.clone(),
                rule: r.name.clone(),
                expr: expr.clone(),
                labels: a.labels.clone(),
                annotations: a.annotations.clone(),
                state: a.state.as_str().to_string(),
                active_at: a.active_at,
                fired_at: a.fired_at,
                resolved_at: a.resolved_at,
                last_sent_at: a.last_sent_at,
                valid_until: a.valid_until,
                keep_firing_since: a.keep_firing_since,
            }));
        }
    }
    // Before the first evaluation the state is what was restored: nothing
    // new to save, and no evaluation time to measure downtime from.
    (saved_at != i64::MIN).then_some(StateFile {
        version: VERSION,
        saved_at,
        alerts,
    })
}

/// The state file's bytes for the engine's current alerts; `None` before
/// the first evaluation.
pub fn encode(engine: &Engine) -> Option<Vec<u8>> {
    let file = snapshot(engine)?;
    serde_json::to_vec_pretty(&file).ok()
}

/// Writes `bytes` to `path` atomically: a temporary file in the same
/// directory, fsync, rename over `path`, fsync of the directory. The file
/// is 0600 and a missing directory is created 0700: alert labels and
/// annotations are for the operators only.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    servekit::statefile::write_private(path, bytes)
}

/// Saves the alerter's alert state to `path` now (nothing before the first
/// evaluation).
pub fn save(shared: &Shared, path: &Path) -> Result<(), PersistError> {
    let Some(bytes) = encode(&shared.engine()) else {
        return Ok(());
    };
    write_atomic(path, &bytes).map_err(|source| PersistError::Io {
        path: path.to_path_buf(),
        source,
    })
}

fn parse_state(s: &str) -> Option<AlertState> {
    match s {
        "pending" => Some(AlertState::Pending),
        "firing" => Some(AlertState::Firing),
        "inactive" => Some(AlertState::Inactive),
        _ => None,
    }
}

/// Puts the alerts saved in `path` back into the engine's rules, as of
/// `now` (ms). A missing file restores nothing. Returns how many alerts
/// were restored.
pub fn restore(shared: &Shared, path: &Path, now: i64) -> Result<usize, PersistError> {
    let text = match std::fs::read_to_string(path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(0),
        Err(source) => {
            return Err(PersistError::Io {
                path: path.to_path_buf(),
                source,
            })
        }
    };
    let invalid = |message: String| PersistError::Invalid {
        path: path.to_path_buf(),
        message,
    };
    let file: StateFile = serde_json::from_str(&text).map_err(|e| invalid(e.to_string()))?;
    if file.version != VERSION {
        return Err(invalid(format!("unsupported version {}", file.version)));
    }
    let downtime = (now - file.saved_at).max(0);
    let mut engine = shared.engine();
    let mut rules: HashMap<(String, String, String), &mut crate::rules::AlertingRule> =
        HashMap::new();
    for g in engine.groups.iter_mut() {
        let key = group_key(&g.group);
        for rule in g.group.rules.iter_mut() {
            if let Rule::Alerting(r) = rule {
                rules.insert((key.clone(), r.name.clone(), r.expr().to_string()), r);
            }
        }
    }
    let mut restored = 0;
    for s in file.alerts {
        let Some(state) = parse_state(&s.state) else {
            return Err(invalid(format!("unknown alert state {:?}", s.state)));
        };
        let Some(rule) = rules.get_mut(&(s.group, s.rule, s.expr)) else {
            continue;
        };
        let active_at = if state == AlertState::Pending {
            s.active_at + downtime
        } else {
            s.active_at
        };
        let alert = Alert {
            labels: s.labels.clone(),
            annotations: s.annotations,
            state,
            value: f64::NAN,
            active_at,
            fired_at: s.fired_at,
            resolved_at: s.resolved_at,
            last_sent_at: s.last_sent_at,
            valid_until: s.valid_until,
            keep_firing_since: s.keep_firing_since,
        };
        rule.active.insert(s.labels, alert);
        restored += 1;
    }
    Ok(restored)
}

/// How long after a start every target has been scraped once, with a
/// round to spare: the longest scrape interval plus its timeout, in ms
/// (the first round starts at once).
pub fn first_scrapes_ms(shared: &Shared) -> i64 {
    let engine = shared.engine();
    let targets = engine.targets.iter().map(|t| &t.target);
    targets
        .map(|t| t.interval_ms + t.timeout_ms)
        .max()
        .unwrap_or(0)
}

/// Delays every group's first evaluation to `until` (ms) or the first slot
/// of its schedule after it. Series live in memory only, so an evaluation
/// before the first scrapes would see no data and resolve every restored
/// alert; waiting keeps them.
pub fn hold_first_evaluation(shared: &Shared, until: i64) {
    shared.engine().hold_evaluations_until(until);
}

/// Saves the state whenever it changed, checking every `period`, until the
/// task is aborted. A failed write is logged and retried at the next check.
pub fn spawn_saver(
    shared: std::sync::Arc<Shared>,
    path: PathBuf,
    period: std::time::Duration,
) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let mut last: Vec<u8> = Vec::new();
        let mut ticker = tokio::time::interval(period);
        ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            ticker.tick().await;
            let Some(bytes) = encode(&shared.engine()) else {
                continue;
            };
            if bytes == last {
                continue;
            }
            let p = path.clone();
            let b = bytes.clone();
            match tokio::task::spawn_blocking(move || write_atomic(&p, &b)).await {
                Ok(Ok(())) => last = bytes,
                Ok(Err(e)) => {
                    tracing::error!(path = %path.display(), error = %e, "cannot save alert state")
                }
                Err(e) => tracing::error!(error = %e, "alert state writer failed"),
            }
        }
    })
}
