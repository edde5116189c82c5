//! Rule groups: rules evaluated in order at one timestamp, each seeing the
//! previous rules' output, with staleness markers for series a rule stopped
//! producing (as Prometheus's `Group.Eval`).

use std::collections::HashSet;
use std::time::Instant;

use promql_parser::parser::Expr;

use super::alerting::AlertingRule;
use super::{EvalEnv, RuleHealth};
use crate::promql::{Evaluator, Sample};
use crate::storage::{stale_marker, Labels, Storage, METRIC_NAME};

/// A recording rule.
#[derive(Debug, Clone)]
pub struct RecordingRule {
    /// `record:` name.
    pub name: String,
    /// The expression as written.
    pub expr_text: String,
    expr: Expr,
    /// Labels added to every output series.
    pub labels: Labels,
    /// Health of the last evaluation.
    pub health: RuleHealth,
}

impl RecordingRule {
    /// A recording rule.
    pub fn new(name: String, expr_text: String, expr: Expr, labels: Labels) -> Self {
        Self {
            name,
            expr_text,
            expr,
            labels,
            health: RuleHealth::default(),
        }
    }

    fn eval(&self, ev: &Evaluator) -> Result<Vec<Sample>, String> {
        let samples = super::eval_vector(ev, &self.expr)?;
        let mut seen = HashSet::with_capacity(samples.len());
        let mut out = Vec::with_capacity(samples.len());
        for mut s in samples {
            s.labels.insert(METRIC_NAME.into(), self.name.clone());
            for (k, v) in &self.labels {
                if v.is_empty() {
                    s.labels.remove(k);
                } else {
                    s.labels.insert(k.clone(), v.clone());
                }
            }
            if !seen.insert(s.labels.clone()) {
                return Err(
                    "vector contains metrics with the same labelset after applying rule labels"
                        .into(),
                );
            }
            out.push(s);
        }
        Ok(out)
    }
}

/// A recording or alerting rule.
#[derive(Debug, Clone)]
pub enum Rule {
    /// `record:`
    Recording(RecordingRule),
    /// `alert:`
    Alerting(AlertingRule),
}

impl Rule {
    /// The rule's name.
    pub fn name(&self) -> &str {
        match self {
            Rule::Recording(r) => &r.name,
            Rule::Alerting(a) => &a.name,
        }
    }

    /// The parsed expression.
    pub fn expr(&self) -> &Expr {
        match self {
            Rule::Recording(r) => &r.expr,
            Rule::Alerting(a) => a.expr(),
        }
    }

    /// Health of the last evaluation.
    pub fn health(&self) -> &RuleHealth {
        match self {
            Rule::Recording(r) => &r.health,
            Rule::Alerting(a) => &a.health,
        }
    }
}

/// A rule group.
#[derive(Debug, Clone)]
pub struct RuleGroup {
    /// Group name.
    pub name: String,
    /// File it came from.
    pub file: String,
    /// Evaluation interval, ms.
    pub interval_ms: i64,
    /// Maximum alerts per rule (0 = unlimited).
    pub limit: usize,
    /// The rules, in file order.
    pub rules: Vec<Rule>,
    /// Series each rule produced at the previous evaluation.
    previous: Vec<HashSet<Labels>>,
    /// When the group last ran (ms).
    pub last_evaluation: Option<i64>,
    /// How long the last run took, seconds.
    pub evaluation_seconds: f64,
}

impl RuleGroup {
    /// A group that has not run yet.
    pub fn new(
        name: String,
        file: String,
        interval_ms: i64,
        limit: usize,
        rules: Vec<Rule>,
    ) -> Self {
        let previous = vec![HashSet::new(); rules.len()];
        Self {
            name,
            file,
            interval_ms,
            limit,
            rules,
            previous,
            last_evaluation: None,
            evaluation_seconds: 0.0,
        }
    }

    /// Evaluates every rule at `ts` (ms), appending their output to `storage`.
    /// Returns the number of rules that failed.
    pub fn eval(&mut self, ts: i64, storage: &mut Storage, env: &EvalEnv) -> usize {
        let started = Instant::now();
        let mut failures = 0;
        for (i, rule) in self.rules.iter_mut().enumerate() {
            let rule_started = Instant::now();
            let mut ev = Evaluator::new(storage, ts);
            ev.mode = env.mode;
            let result = match rule {
                Rule::Recording(r) => r.eval(&ev),
                Rule::Alerting(a) => a.eval(&ev, env, self.limit),
            };
            let health = match rule {
                Rule::Recording(r) => &mut r.health,
                Rule::Alerting(a) => &mut a.health,
            };
            health.last_evaluation = Some(ts);
            health.evaluation_seconds = rule_started.elapsed().as_secs_f64();
            match result {
                Ok(samples) => {
                    health.last_error = None;
                    let mut now_seen = HashSet::with_capacity(samples.len());
                    for s in samples {
                        storage.append(&s.labels, ts, s.value);
                        now_seen.insert(s.labels);
                    }
                    for gone in self.previous[i].difference(&now_seen) {
                        storage.append(gone, ts, stale_marker());
                    }
                    self.previous[i] = now_seen;
                }
                Err(e) => {
                    health.last_error = Some(e);
                    failures += 1;
                }
            }
        }
        self.last_evaluation = Some(ts);
        self.evaluation_seconds = started.elapsed().as_secs_f64();
        failures
    }

    /// Carries alert state and health over from the same group before a
    /// reload, matching rules by name and expression as Prometheus does.
    pub fn copy_state_from(&mut self, old: &RuleGroup) {
        self.last_evaluation = old.last_evaluation;
        for (i, rule) in self.rules.iter_mut().enumerate() {
            let Some(j) = old.rules.iter().position(|o| {
                o.name() == rule.name() && o.expr().to_string() == rule.expr().to_string()
            }) else {
                continue;
            };
            self.previous[i] = old.previous[j].clone();
            match (rule, &old.rules[j]) {
                (Rule::Alerting(new), Rule::Alerting(o)) => {
                    new.active = o.active.clone();
                    new.health = o.health.clone();
                }
                (Rule::Recording(new), Rule::Recording(o)) => new.health = o.health.clone(),
                _ => {}
            }
        }
    }
}
