//! What Alertmanager's API shows about alerts: each alert held with the
//! receivers its routes reach and its status (which silences mute it,
//! which alert inhibits it), and the aggregation groups. Computed under
//! the state lock when asked, so an alert is never "unprocessed".

use super::{lock, Notifier};
use crate::alert::{Alert, Fingerprint, LabelSet, StoredAlert};
use crate::inhibit::Inhibitor;
use crate::silence::{silenced_by, Silence};
use chrono::{DateTime, Utc};

/// Alertmanager's alert states.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AlertState {
    /// Neither silenced nor inhibited.
    Active,
    /// Silenced or inhibited.
    Suppressed,
}

impl AlertState {
    /// `active` or `suppressed`.
    pub fn as_str(self) -> &'static str {
        match self {
            AlertState::Active => "active",
            AlertState::Suppressed => "suppressed",
        }
    }
}

/// Why an alert is (not) notified.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AlertStatus {
    /// Active unless muted.
    pub state: AlertState,
    /// Ids of the silences muting it.
    pub silenced_by: Vec<String>,
    /// Fingerprints (hex) of a firing alert inhibiting it.
    pub inhibited_by: Vec<String>,
}

/// One alert as the API lists it.
#[derive(Clone, Debug)]
pub struct AlertView {
    /// Labels, annotations, times as held.
    pub alert: Alert,
    /// Identity of the label set.
    pub fingerprint: Fingerprint,
    /// When it was last received.
    pub updated_at: DateTime<Utc>,
    /// Receivers of the routes it takes.
    pub receivers: Vec<String>,
    /// Silenced / inhibited.
    pub status: AlertStatus,
}

/// One aggregation group with its unresolved alerts.
#[derive(Clone, Debug)]
pub struct GroupView {
    /// The group's labels (its `group_by` values).
    pub labels: LabelSet,
    /// The receiver of its route.
    pub receiver: String,
    /// Its alerts, ordered by fingerprint.
    pub alerts: Vec<AlertView>,
}

struct Viewer<'a> {
    silences: &'a [Silence],
    inhibitor: Inhibitor<'a>,
    now: DateTime<Utc>,
}

impl Viewer<'_> {
    fn view(&self, fp: Fingerprint, stored: &StoredAlert, receivers: Vec<String>) -> AlertView {
        let labels = &stored.alert.labels;
        let silenced_by = silenced_by(self.silences, labels, self.now);
        let inhibited_by: Vec<String> = self
            .inhibitor
            .inhibited_by(fp, labels)
            .map(|by| format!("{by:016x}"))
            .into_iter()
            .collect();
        let state = if silenced_by.is_empty() && inhibited_by.is_empty() {
            AlertState::Active
        } else {
            AlertState::Suppressed
        };
        AlertView {
            alert: stored.alert.clone(),
            fingerprint: fp,
            updated_at: stored.updated_at,
            receivers,
            status: AlertStatus {
                state,
                silenced_by,
                inhibited_by,
            },
        }
    }
}

/// Alertmanager's API views.
impl Notifier {
    /// Every alert not resolved now (Alertmanager lists only those),
    /// ordered by fingerprint.
    pub fn alert_views(&self) -> Vec<AlertView> {
        let now = self.now();
        let plan = self.plan();
        let state = lock(&self.inner.state);
        let viewer = Viewer {
            silences: &state.silences,
            inhibitor: plan.dispatch.inhibitor(&state, now),
            now,
        };
        state
            .alerts
            .iter()
            .filter(|(_, a)| !a.resolved_at(now))
            .map(|(fp, a)| {
                let receivers = plan.dispatch.receivers_for(&a.alert.labels);
                viewer.view(*fp, a, receivers)
            })
            .collect()
    }

    /// Every aggregation group with its unresolved alerts, ordered by
    /// labels then receiver; groups with none are left out.
    pub fn group_views(&self) -> Vec<GroupView> {
        let now = self.now();
        let plan = self.plan();
        let state = lock(&self.inner.state);
        let viewer = Viewer {
            silences: &state.silences,
            inhibitor: plan.dispatch.inhibitor(&state, now),
            now,
        };
        let mut groups: Vec<GroupView> = state
            .groups
            .values()
            .map(|g| GroupView {
                labels: g.labels.clone(),
                receiver: g.receiver.clone(),
                alerts: g
                    .alerts
                    .iter()
                    .filter_map(|fp| Some((*fp, state.alerts.get(fp)?)))
                    .filter(|(_, a)| !a.resolved_at(now))
                    .map(|(fp, a)| {
                        let receivers = plan.dispatch.receivers_for(&a.alert.labels);
                        viewer.view(fp, a, receivers)
                    })
                    .collect(),
            })
            .filter(|g| !g.alerts.is_empty())
            .collect();
        groups.sort_by(|a, b| (&a.labels, &a.receiver).cmp(&(&b.labels, &b.receiver)));
        groups
    }

    /// Receiver names, in configuration order.
    pub fn receivers(&self) -> Vec<String> {
        self.plan().receivers.clone()
    }

    /// The configuration in force as Alertmanager's YAML (secrets shown as
    /// `<secret>`), for `GET /api/v2/status`.
    pub fn config_original(&self) -> String {
        self.plan().original.clone()
    }

    /// When the notifier was built.
    pub fn started_at(&self) -> DateTime<Utc> {
        self.inner.started_at
    }

    /// The version given in [`crate::NotifierOptions::version`].
    pub fn version(&self) -> &str {
        &self.inner.options.version
    }
}
