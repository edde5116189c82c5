//! Prometheus rule files: loading and validation ([`mod@file`]), groups and
//! recording rules ([`group`]), alerting rules and the alert state machine
//! ([`alerting`]), and annotation templates ([`template`]).

pub mod alerting;
pub mod file;
pub mod group;
pub mod template;
pub mod template_funcs;

pub use alerting::{Alert, AlertState, AlertingRule};
pub use file::{load_rule_file, parse_rule_text, RuleFileError};
pub use group::{RecordingRule, Rule, RuleGroup};

use crate::promql::RangeMode;
use crate::storage::Labels;

/// What every rule evaluation may need besides the store.
#[derive(Debug, Clone, Default)]
pub struct EvalEnv {
    /// `global.external_labels`.
    pub external_labels: Labels,
    /// The URL the alerter is reachable at (for `$externalURL`, generator URLs).
    pub external_url: String,
    /// Window semantics.
    pub mode: RangeMode,
}

/// Outcome of a rule's last evaluation.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct RuleHealth {
    /// Error text of the last evaluation, if it failed.
    pub last_error: Option<String>,
    /// When it last ran (ms), if ever.
    pub last_evaluation: Option<i64>,
    /// How long it took, seconds.
    pub evaluation_seconds: f64,
}

impl RuleHealth {
    /// `ok`, `err` or `unknown`, as in the API.
    pub fn status(&self) -> &'static str {
        match (&self.last_error, self.last_evaluation) {
            (Some(_), _) => "err",
            (None, Some(_)) => "ok",
            (None, None) => "unknown",
        }
    }
}

/// Evaluates a rule's expression into samples: a vector as is, a scalar as
/// one sample without labels; anything else is a rule error.
pub(crate) fn eval_vector(
    ev: &crate::promql::Evaluator,
    expr: &promql_parser::parser::Expr,
) -> Result<Vec<crate::promql::Sample>, String> {
    use crate::promql::{Sample, Value};
    match ev.eval(expr).map_err(|e| e.to_string())? {
        Value::Vector(v) => Ok(v),
        Value::Scalar(v) => Ok(vec![Sample {
            labels: crate::storage::Labels::new(),
            value: v,
        }]),
        other => Err(format!(
            "rule result is a {}, not a vector",
            other.type_name()
        )),
    }
}
