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
pub use group::{EvalEnv, RecordingRule, Rule, RuleGroup};

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
