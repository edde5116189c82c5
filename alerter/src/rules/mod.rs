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
