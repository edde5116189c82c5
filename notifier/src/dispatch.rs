//! Aggregation groups with Alertmanager's timing and de-duplication.
//!
//! - A new group waits `group_wait` before its first flush (at once if its
//!   alert started more than `group_wait` ago); later flushes come every
//!   `group_interval`.
//! - A flush notifies an integration when the set of firing alerts grew,
//!   when everything it last heard about has resolved, when (with
//!   `send_resolved`) new alerts resolved, or when `repeat_interval` passed
//!   since the last notification — the `DedupStage` rules of Alertmanager.
//! - Silenced and inhibited alerts are left out of a flush; resolved alerts
//!   leave the group after the flush that reported them.
//! - A route muted by its `mute_time_intervals` / `active_time_intervals`
//!   flushes as usual but notifies nothing (as Alertmanager's time stages).

use crate::alert::{Alert, Fingerprint, StoredAlert};
use crate::config::{InhibitRule, NotifyConfig};
use crate::inhibit::Inhibitor;
use crate::notification::{Notification, NotifiedAlert};
use crate::route::RouteNode;
use crate::silence::silenced;
use crate::state::{Group, NflogEntry, State};
use crate::timeinterval::NamedTimeInterval;
use chrono::{DateTime, Duration, Utc};
use std::collections::{BTreeSet, HashMap};

/// How long notification-log entries of vanished groups are kept.
const NFLOG_RETENTION_HOURS: i64 = 120;
/// How long a resolved alert outside any group is remembered (absorbs
/// re-sent resolved copies).
const RESOLVED_RETENTION_MINUTES: i64 = 60;

/// One integration as the dispatcher sees it.
#[derive(Clone, Debug)]
pub(crate) struct IntegrationMeta {
    pub key: String,
    pub send_resolved: bool,
}

#[derive(Clone, Debug)]
struct RouteTimers {
    group_interval: Duration,
    repeat_interval: Duration,
    mute_time_intervals: Vec<String>,
    active_time_intervals: Vec<String>,
}

/// The routing tree and everything a flush needs from the configuration.
pub(crate) struct Dispatch {
    root: RouteNode,
    timers: HashMap<String, RouteTimers>,
    inhibit_rules: Vec<InhibitRule>,
    time_intervals: HashMap<String, NamedTimeInterval>,
    integrations: HashMap<String, Vec<IntegrationMeta>>,
    resolve_timeout: Duration,
}

/// A notification ready to queue for one integration.
pub(crate) struct Outgoing {
    pub integration: String,
    pub notification: Notification,
}

impl Dispatch {
    pub fn new(
        config: &NotifyConfig,
        integrations: HashMap<String, Vec<IntegrationMeta>>,
        resolve_timeout: Duration,
    ) -> Self {
        let root = RouteNode::compile(&config.route);
        let timers = root
            .all()
            .into_iter()
            .map(|r| {
                let t = RouteTimers {
                    group_interval: r.group_interval,
                    repeat_interval: r.repeat_interval,
                    mute_time_intervals: r.mute_time_intervals.clone(),
                    active_time_intervals: r.active_time_intervals.clone(),
                };
                (r.id.clone(), t)
            })
            .collect();
        Dispatch {
            root,
            timers,
            inhibit_rules: config.inhibit_rules.clone(),
            time_intervals: config
                .named_intervals()
                .map(|t| (t.name.clone(), t.clone()))
                .collect(),
            integrations,
            resolve_timeout,
        }
    }

    /// Takes one received alert: merges it into the store and puts it into
    /// the groups of every route it matches.
    pub fn insert(&self, state: &mut State, alert: Alert, now: DateTime<Utc>) {
        let fp = alert.fingerprint();
        let incoming = StoredAlert::from_received(alert, now, self.resolve_timeout);
        let resolved = incoming.resolved_at(now);
        let known_firing = state.alerts.get(&fp).is_some_and(|a| !a.resolved_at(now));
        match state.alerts.get_mut(&fp) {
            Some(held) => held.merge(incoming, now),
            None => {
                state.alerts.insert(fp, incoming);
            }
        }
        // A resolved copy of an alert nobody heard firing changes nothing.
        if resolved && !known_firing && !state.groups.values().any(|g| g.alerts.contains(&fp)) {
            return;
        }
        self.route(state, fp, now, None);
    }

    fn route(
        &self,
        state: &mut State,
        fp: Fingerprint,
        now: DateTime<Utc>,
        previous: Option<&std::collections::BTreeMap<String, Group>>,
    ) {
        let Some(stored) = state.alerts.get(&fp) else {
            return;
        };
        let labels = stored.alert.labels.clone();
        let started = stored.alert.starts_at.unwrap_or(now);
        for route in self.root.matching(&labels) {
            let group_labels = route.group_labels(&labels);
            let key = route.group_key(&group_labels);
            let group = state.groups.entry(key.clone()).or_insert_with(|| {
                let old = previous.and_then(|p| p.get(&key));
                Group {
                    route_id: route.id.clone(),
                    receiver: route.receiver.clone(),
                    labels: group_labels,
                    alerts: BTreeSet::new(),
                    next_flush: old.map_or(now + route.group_wait, |o| o.next_flush),
                    has_flushed: old.is_some_and(|o| o.has_flushed),
                }
            });
            group.alerts.insert(fp);
            if !group.has_flushed && started + route.group_wait <= now {
                group.next_flush = group.next_flush.min(now);
            }
        }
    }

    /// After loading a state file (possibly under a changed configuration):
    /// re-route every alert that still matters, keeping each surviving
    /// group's timers.
    pub fn rebuild_groups(&self, state: &mut State, now: DateTime<Utc>) {
        let previous = std::mem::take(&mut state.groups);
        let pending: BTreeSet<Fingerprint> = previous
            .values()
            .flat_map(|g| g.alerts.iter().copied())
            .collect();
        let keep: Vec<Fingerprint> = state
            .alerts
            .iter()
            .filter(|(fp, a)| !a.resolved_at(now) || pending.contains(fp))
            .map(|(fp, _)| *fp)
            .collect();
        for fp in keep {
            self.route(state, fp, now, Some(&previous));
        }
    }

    /// Receivers of the routes an alert with these labels takes, in
    /// routing order (a receiver reached by two routes is listed twice, as
    /// in Alertmanager).
    pub fn receivers_for(&self, labels: &crate::alert::LabelSet) -> Vec<String> {
        self.root
            .matching(labels)
            .into_iter()
            .map(|r| r.receiver.clone())
            .collect()
    }

    /// The inhibition rules applied to the alerts held at `now`.
    pub fn inhibitor(&self, state: &State, now: DateTime<Utc>) -> Inhibitor<'_> {
        Inhibitor::new(&self.inhibit_rules, &state.alerts, now)
    }

    /// Earliest time a group wants flushing.
    pub fn next_flush(&self, state: &State) -> Option<DateTime<Utc>> {
        state.groups.values().map(|g| g.next_flush).min()
    }

    /// Flushes every group that is due and returns what to queue.
    pub fn flush_due(&self, state: &mut State, now: DateTime<Utc>) -> Vec<Outgoing> {
        let due: Vec<String> = state
            .groups
            .iter()
            .filter(|(_, g)| g.next_flush <= now)
            .map(|(k, _)| k.clone())
            .collect();
        let inhibitor = self.inhibitor(state, now);
        let mut out = Vec::new();
        for key in due {
            out.extend(self.flush_group(state, &key, &inhibitor, now));
        }
        self.collect_garbage(state, now);
        out
    }

    fn flush_group(
        &self,
        state: &mut State,
        key: &str,
        inhibitor: &Inhibitor<'_>,
        now: DateTime<Utc>,
    ) -> Vec<Outgoing> {
        let Some(group) = state.groups.get(key).cloned() else {
            return Vec::new();
        };
        let Some(timers) = self.timers.get(&group.route_id).cloned() else {
            state.groups.remove(key);
            return Vec::new();
        };
        let muted = self.time_muted(&timers, now);
        let (firing, resolved) = unmuted_alerts(state, &group, inhibitor, now);
        let firing_set: BTreeSet<Fingerprint> = firing.iter().map(|a| a.fingerprint).collect();
        let resolved_set: BTreeSet<Fingerprint> = resolved.iter().map(|a| a.fingerprint).collect();
        let mut out = Vec::new();
        // A route muted by its time intervals notifies nothing and logs
        // nothing, so the first flush after the mute ends notifies.
        let integrations = self.integrations.get(&group.receiver).filter(|_| !muted);
        for integration in integrations.into_iter().flatten() {
            let log_key = format!("{key}|{}", integration.key);
            let entry = state.nflog.get(&log_key);
            if !needs_update(
                entry,
                &firing_set,
                &resolved_set,
                integration.send_resolved,
                timers.repeat_interval,
                now,
            ) {
                continue;
            }
            let mut alerts = firing.clone();
            if integration.send_resolved {
                alerts.extend(resolved.iter().cloned());
            }
            if !alerts.is_empty() {
                out.push(Outgoing {
                    integration: integration.key.clone(),
                    notification: Notification {
                        receiver: group.receiver.clone(),
                        group_key: key.to_string(),
                        group_labels: group.labels.clone(),
                        alerts,
                    },
                });
            }
            let entry = NflogEntry {
                firing: firing_set.clone(),
                resolved: resolved_set.clone(),
                timestamp: now,
            };
            state.nflog.insert(log_key, entry);
        }
        let alerts = &state.alerts;
        if let Some(g) = state.groups.get_mut(key) {
            g.alerts
                .retain(|fp| alerts.get(fp).is_some_and(|a| !a.resolved_at(now)));
            g.has_flushed = true;
            g.next_flush = now + timers.group_interval;
            if g.alerts.is_empty() {
                state.groups.remove(key);
            }
        }
        out
    }

    /// Whether the route's time intervals mute it at `now`: inside one of
    /// its `mute_time_intervals`, or outside all of its
    /// `active_time_intervals` (Alertmanager's `TimeMuteStage` and
    /// `TimeActiveStage`).
    fn time_muted(&self, timers: &RouteTimers, now: DateTime<Utc>) -> bool {
        let within = |names: &[String]| {
            names
                .iter()
                .filter_map(|n| self.time_intervals.get(n))
                .any(|t| t.contains(now))
        };
        within(&timers.mute_time_intervals)
            || (!timers.active_time_intervals.is_empty() && !within(&timers.active_time_intervals))
    }

    fn collect_garbage(&self, state: &mut State, now: DateTime<Utc>) {
        let referenced: BTreeSet<Fingerprint> = state
            .groups
            .values()
            .flat_map(|g| g.alerts.iter().copied())
            .collect();
        let horizon = now - Duration::minutes(RESOLVED_RETENTION_MINUTES);
        state.alerts.retain(|fp, a| {
            referenced.contains(fp) || a.alert.ends_at.is_none_or(|end| end > horizon)
        });
        let nflog_horizon = now - Duration::hours(NFLOG_RETENTION_HOURS);
        state
            .slack_messages
            .retain(|_, m| m.posted_at > nflog_horizon);
        let live_groups: BTreeSet<&String> = state.groups.keys().collect();
        state.nflog.retain(|k, e| {
            e.timestamp > nflog_horizon || live_groups.iter().any(|g| k.starts_with(g.as_str()))
        });
    }
}

/// The group's alerts that are neither silenced nor inhibited, split into
/// firing and resolved.
fn unmuted_alerts(
    state: &State,
    group: &Group,
    inhibitor: &Inhibitor<'_>,
    now: DateTime<Utc>,
) -> (Vec<NotifiedAlert>, Vec<NotifiedAlert>) {
    let mut firing = Vec::new();
    let mut resolved = Vec::new();
    for fp in &group.alerts {
        let Some(stored) = state.alerts.get(fp) else {
            continue;
        };
        let labels = &stored.alert.labels;
        if silenced(&state.silences, labels, now) || inhibitor.inhibits(*fp, labels) {
            continue;
        }
        let is_resolved = stored.resolved_at(now);
        let notified = NotifiedAlert {
            alert: stored.alert.clone(),
            fingerprint: *fp,
            resolved: is_resolved,
        };
        if is_resolved {
            resolved.push(notified);
        } else {
            firing.push(notified);
        }
    }
    (firing, resolved)
}

/// Alertmanager's `DedupStage.needsUpdate`, with `repeat_interval` counted
/// inclusively so a repeat is due exactly `repeat_interval` after the last
/// notification (rounded up to the next group_interval flush).
fn needs_update(
    entry: Option<&NflogEntry>,
    firing: &BTreeSet<Fingerprint>,
    resolved: &BTreeSet<Fingerprint>,
    send_resolved: bool,
    repeat: Duration,
    now: DateTime<Utc>,
) -> bool {
    let Some(entry) = entry else {
        return !firing.is_empty();
    };
    if !firing.is_subset(&entry.firing) {
        return true;
    }
    if firing.is_empty() {
        return !entry.firing.is_empty();
    }
    if send_resolved && !resolved.is_subset(&entry.resolved) {
        return true;
    }
    entry.timestamp + repeat <= now
}
