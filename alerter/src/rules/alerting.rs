//! Alerting rules and the alert state machine, step for step as Prometheus's
//! `AlertingRule.Eval`: inactive → pending → firing (after `for`), held by
//! `keep_firing_for`, resolved and kept 15 minutes so the resolution is sent.

use std::collections::HashMap;

use promql_parser::parser::Expr;
use serde::Serialize;

use super::template::{Template, TemplateData};
use super::{EvalEnv, RuleHealth};
use crate::promql::{Evaluator, Sample};
use crate::storage::{Labels, METRIC_NAME};

/// How long a resolved alert is kept (and re-sent) after it resolved.
pub const RESOLVED_RETENTION_MS: i64 = 15 * 60 * 1000;

/// The state of one alert.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum AlertState {
    /// Resolved (kept for a while so the resolution is delivered).
    Inactive,
    /// Active, waiting for `for` to pass.
    Pending,
    /// Active for at least `for`.
    Firing,
}

impl AlertState {
    /// The `alertstate` label value and API string.
    pub fn as_str(&self) -> &'static str {
        match self {
            AlertState::Inactive => "inactive",
            AlertState::Pending => "pending",
            AlertState::Firing => "firing",
        }
    }
}

/// One alert: a label set produced by a rule's expression.
#[derive(Debug, Clone, PartialEq)]
pub struct Alert {
    /// Sample labels (without `__name__`) + rule labels + `alertname`.
    pub labels: Labels,
    /// Templated annotations.
    pub annotations: Labels,
    /// Current state.
    pub state: AlertState,
    /// The expression's value at the last evaluation that returned it.
    pub value: f64,
    /// When it became active (ms).
    pub active_at: i64,
    /// When it started firing (ms).
    pub fired_at: Option<i64>,
    /// When it resolved (ms).
    pub resolved_at: Option<i64>,
    /// When it was last handed to the sink (ms).
    pub last_sent_at: Option<i64>,
    /// `endsAt` for a firing alert: how long the last send stays valid (ms).
    pub valid_until: i64,
    /// When the expression stopped returning it while `keep_firing_for` holds it.
    pub keep_firing_since: Option<i64>,
}

impl Alert {
    /// Prometheus's `needsSending`.
    pub fn needs_sending(&self, ts: i64, resend_delay_ms: i64) -> bool {
        if self.state == AlertState::Pending {
            return false;
        }
        if let Some(resolved) = self.resolved_at {
            if self.last_sent_at.is_none_or(|sent| resolved > sent) {
                return true;
            }
        }
        match self.last_sent_at {
            None => true,
            Some(sent) => sent + resend_delay_ms < ts,
        }
    }
}

/// An alerting rule and its active alerts.
#[derive(Debug, Clone)]
pub struct AlertingRule {
    /// `alert:` name.
    pub name: String,
    /// The expression as written.
    pub expr_text: String,
    expr: Expr,
    /// `for`, ms.
    pub hold_ms: i64,
    /// `keep_firing_for`, ms.
    pub keep_firing_for_ms: i64,
    /// Rule labels (templated).
    pub labels: Vec<(String, Template)>,
    /// Annotations (templated).
    pub annotations: Vec<(String, Template)>,
    /// Alerts by label set.
    pub active: HashMap<Labels, Alert>,
    /// Health of the last evaluation.
    pub health: RuleHealth,
}

impl AlertingRule {
    /// A rule with no active alerts.
    pub fn new(
        name: String,
        expr_text: String,
        expr: Expr,
        hold_ms: i64,
        keep_firing_for_ms: i64,
        labels: Vec<(String, Template)>,
        annotations: Vec<(String, Template)>,
    ) -> Self {
        Self {
            name,
            expr_text,
            expr,
            hold_ms,
            keep_firing_for_ms,
            labels,
            annotations,
            active: HashMap::new(),
            health: RuleHealth::default(),
        }
    }

    /// The parsed expression.
    pub fn expr(&self) -> &Expr {
        &self.expr
    }

    /// Evaluates at `ts`, advances every alert's state, and returns the
    /// `ALERTS` / `ALERTS_FOR_STATE` samples to store.
    pub fn eval(
        &mut self,
        ev: &Evaluator,
        env: &EvalEnv,
        limit: usize,
    ) -> Result<Vec<Sample>, String> {
        let ts = ev.time;
        let samples = super::eval_vector(ev, &self.expr)?;
        let current = self.alerts_from(samples, env, ts)?;
        let active_count = self.advance(&current, ts);
        if limit > 0 && active_count > limit {
            self.active.clear();
            return Err(format!(
                "exceeded limit of {limit} with {active_count} alerts"
            ));
        }
        Ok(self.state_samples())
    }

    /// One pending alert per sample: labels and annotations templated.
    fn alerts_from(
        &self,
        samples: Vec<Sample>,
        env: &EvalEnv,
        ts: i64,
    ) -> Result<HashMap<Labels, Alert>, String> {
        let mut current: HashMap<Labels, Alert> = HashMap::with_capacity(samples.len());
        for s in samples {
            let data = TemplateData {
                labels: Some(&s.labels),
                external_labels: Some(&env.external_labels),
                external_url: &env.external_url,
                value: s.value,
            };
            let mut labels = s.labels.clone();
            labels.remove(METRIC_NAME);
            for (k, t) in &self.labels {
                let v = t.expand(&data);
                if v.is_empty() {
                    labels.remove(k);
                } else {
                    labels.insert(k.clone(), v);
                }
            }
            labels.insert("alertname".into(), self.name.clone());
            let annotations = self
                .annotations
                .iter()
                .map(|(k, t)| (k.clone(), t.expand(&data)))
                .collect();
            if current.contains_key(&labels) {
                return Err(
                    "vector contains metrics with the same labelset after applying alert labels"
                        .into(),
                );
            }
            current.insert(
                labels.clone(),
                Alert {
                    labels,
                    annotations,
                    state: AlertState::Pending,
                    value: s.value,
                    active_at: ts,
                    fired_at: None,
                    resolved_at: None,
                    last_sent_at: None,
                    valid_until: 0,
                    keep_firing_since: None,
                },
            );
        }
        Ok(current)
    }

    /// Advances every alert's state given what the expression returned at
    /// `ts`; returns how many alerts are pending or firing.
    fn advance(&mut self, current: &HashMap<Labels, Alert>, ts: i64) -> usize {
        for (key, new) in current.iter() {
            match self.active.get_mut(key) {
                Some(a) if a.state != AlertState::Inactive => {
                    a.value = new.value;
                    a.annotations = new.annotations.clone();
                }
                _ => {
                    self.active.insert(key.clone(), new.clone());
                }
            }
        }
        let mut active_count = 0;
        let keep_for = self.keep_firing_for_ms;
        let hold = self.hold_ms;
        self.active.retain(|key, a| {
            if !current.contains_key(key) {
                let mut keep_firing = false;
                if a.state == AlertState::Firing && keep_for > 0 {
                    let since = *a.keep_firing_since.get_or_insert(ts);
                    keep_firing = ts - since < keep_for;
                }
                if a.state == AlertState::Pending
                    || a.resolved_at
                        .is_some_and(|r| ts - r > RESOLVED_RETENTION_MS)
                {
                    return false;
                }
                if a.state != AlertState::Inactive && !keep_firing {
                    a.state = AlertState::Inactive;
                    a.resolved_at = Some(ts);
                }
                if !keep_firing {
                    return true;
                }
            } else {
                a.keep_firing_since = None;
            }
            active_count += 1;
            if a.state == AlertState::Pending && ts - a.active_at >= hold {
                a.state = AlertState::Firing;
                a.fired_at = Some(ts);
            }
            true
        });
        active_count
    }

    /// `ALERTS` and `ALERTS_FOR_STATE` for every pending or firing alert.
    fn state_samples(&self) -> Vec<Sample> {
        let mut out = Vec::new();
        for a in self.pending_or_firing() {
            out.push(alert_sample(a, "ALERTS", 1.0));
            out.push(alert_sample(
                a,
                "ALERTS_FOR_STATE",
                (a.active_at / 1000) as f64,
            ));
        }
        out
    }

    /// Alerts that are pending or firing (not resolved ones).
    pub fn pending_or_firing(&self) -> impl Iterator<Item = &Alert> {
        self.active
            .values()
            .filter(|a| a.state != AlertState::Inactive)
    }

    /// The rule's overall state: the most severe of its alerts.
    pub fn state(&self) -> AlertState {
        let mut state = AlertState::Inactive;
        for a in self.active.values() {
            if a.state == AlertState::Firing {
                return AlertState::Firing;
            }
            if a.state == AlertState::Pending {
                state = AlertState::Pending;
            }
        }
        state
    }
}

fn alert_sample(a: &Alert, name: &str, value: f64) -> Sample {
    let mut labels = a.labels.clone();
    labels.insert(METRIC_NAME.into(), name.into());
    if name == "ALERTS" {
        labels.insert("alertstate".into(), a.state.as_str().into());
    }
    Sample { labels, value }
}
