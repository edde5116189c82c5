//! Rule files in Prometheus's format, validated as `promtool check rules`
//! does, with `file:line:column` in every error.

use std::collections::{BTreeMap, HashSet};
use std::path::Path;

use serde::{Deserialize, Deserializer};
use thiserror::Error;

use super::alerting::AlertingRule;
use super::group::{RecordingRule, Rule, RuleGroup};
use super::template::Template;
use crate::promql::parse_supported;
use notifier::duration::PromDuration;

/// A rule file that could not be loaded, with where and why.
#[derive(Debug, Error, Clone, PartialEq)]
#[error("{file}:{line}:{column}: {message}")]
pub struct RuleFileError {
    /// The file's path as given.
    pub file: String,
    /// 1-based line (0 when unknown).
    pub line: usize,
    /// 1-based column (0 when unknown).
    pub column: usize,
    /// The reason.
    pub message: String,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct FileYaml {
    #[serde(default)]
    groups: Vec<GroupYaml>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct GroupYaml {
    #[serde(default)]
    name: String,
    #[serde(default)]
    interval: Option<PromDuration>,
    #[serde(default)]
    limit: Option<usize>,
    #[serde(default)]
    rules: Vec<RuleYaml>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RuleYaml {
    #[serde(default)]
    record: Option<String>,
    #[serde(default)]
    alert: Option<String>,
    #[serde(default, deserialize_with = "scalar_string")]
    expr: String,
    #[serde(default, rename = "for")]
    for_: Option<PromDuration>,
    #[serde(default)]
    keep_firing_for: Option<PromDuration>,
    #[serde(default)]
    labels: Option<BTreeMap<String, ScalarString>>,
    #[serde(default)]
    annotations: Option<BTreeMap<String, ScalarString>>,
}

/// A YAML scalar read as a string (`severity: 1` is allowed).
#[derive(Debug, Clone)]
struct ScalarString(String);

impl<'de> Deserialize<'de> for ScalarString {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        scalar_string(d).map(ScalarString)
    }
}

fn scalar_string<'de, D: Deserializer<'de>>(d: D) -> Result<String, D::Error> {
    match yaml_serde::Value::deserialize(d)? {
        yaml_serde::Value::String(s) => Ok(s),
        yaml_serde::Value::Number(n) => Ok(n.to_string()),
        yaml_serde::Value::Bool(b) => Ok(b.to_string()),
        yaml_serde::Value::Null => Ok(String::new()),
        _ => Err(serde::de::Error::custom("expected a string")),
    }
}

/// Whether `name` is a valid metric name.
pub fn valid_metric_name(name: &str) -> bool {
    let mut chars = name.chars();
    matches!(chars.next(), Some(c) if c == '_' || c == ':' || c.is_ascii_alphabetic())
        && chars.all(|c| c == '_' || c == ':' || c.is_ascii_alphanumeric())
}

/// Whether `name` is a valid label name.
pub fn valid_label_name(name: &str) -> bool {
    let mut chars = name.chars();
    matches!(chars.next(), Some(c) if c == '_' || c.is_ascii_alphabetic())
        && chars.all(|c| c == '_' || c.is_ascii_alphanumeric())
}

/// Line and column of a YAML error, `(0, 0)` when yaml_serde has none.
pub(crate) fn yaml_location(e: &yaml_serde::Error) -> (usize, usize) {
    e.location().map_or((0, 0), |l| (l.line(), l.column()))
}

/// Positions (line, column of the value) of every `key:` in block style, in
/// document order: rule N's `expr` is the N-th `expr:` key of the file.
fn key_positions(text: &str, key: &str) -> Vec<(usize, usize)> {
    let mut out = Vec::new();
    for (i, line) in text.lines().enumerate() {
        let trimmed = line.trim_start();
        let body = trimmed
            .strip_prefix("- ")
            .map(str::trim_start)
            .unwrap_or(trimmed);
        if let Some(rest) = body.strip_prefix(key).and_then(|r| r.strip_prefix(':')) {
            let value_offset = line.len() - rest.trim_start().len();
            out.push((i + 1, value_offset + 1));
        }
    }
    out
}

/// Loads and validates one rule file; `default_interval` applies to groups
/// without their own `interval`.
pub fn load_rule_file(
    path: &Path,
    default_interval_ms: i64,
) -> Result<Vec<RuleGroup>, RuleFileError> {
    let file = path.display().to_string();
    let err = |line: usize, column: usize, message: String| RuleFileError {
        file: file.clone(),
        line,
        column,
        message,
    };
    let text = std::fs::read_to_string(path).map_err(|e| err(0, 0, format!("cannot read: {e}")))?;
    parse_rule_text(&text, &file, default_interval_ms)
}

/// Parses rule-file text (`file` is used in errors and the API).
pub fn parse_rule_text(
    text: &str,
    file: &str,
    default_interval_ms: i64,
) -> Result<Vec<RuleGroup>, RuleFileError> {
    let err = |line: usize, column: usize, message: String| RuleFileError {
        file: file.to_string(),
        line,
        column,
        message,
    };
    let parsed: FileYaml = if text.trim().is_empty() {
        FileYaml { groups: Vec::new() }
    } else {
        yaml_serde::from_str(text).map_err(|e| {
            let (l, c) = yaml_location(&e);
            err(l, c, e.to_string())
        })?
    };
    let exprs = key_positions(text, "expr");
    let names = key_positions(text, "name");
    let mut rule_index = 0usize;
    let mut seen = HashSet::new();
    let mut groups = Vec::new();
    for (gi, g) in parsed.groups.into_iter().enumerate() {
        let (gl, gc) = names.get(gi).copied().unwrap_or((0, 0));
        if g.name.is_empty() {
            return Err(err(gl, gc, "Groupname must not be empty".into()));
        }
        if !seen.insert(g.name.clone()) {
            return Err(err(
                gl,
                gc,
                format!("groupname: {:?} is repeated in the same file", g.name),
            ));
        }
        let mut rules = Vec::new();
        for (ri, r) in g.rules.into_iter().enumerate() {
            let (l, c) = exprs.get(rule_index).copied().unwrap_or((gl, gc));
            rule_index += 1;
            let what = format!("group {:?}, rule {}", g.name, ri + 1);
            let rule = build_rule(r).map_err(|m| err(l, c, format!("{what}: {m}")))?;
            rules.push(rule);
        }
        let interval = g
            .interval
            .map(|d| d.millis())
            .filter(|&d| d > 0)
            .unwrap_or(default_interval_ms);
        groups.push(RuleGroup::new(
            g.name,
            file.to_string(),
            interval,
            g.limit.unwrap_or(0),
            rules,
        ));
    }
    Ok(groups)
}

fn templates(
    map: Option<BTreeMap<String, ScalarString>>,
    what: &str,
) -> Result<Vec<(String, Template)>, String> {
    map.unwrap_or_default()
        .into_iter()
        .map(|(k, v)| {
            if !valid_label_name(&k) {
                return Err(format!("invalid {what} name: {k}"));
            }
            let t = Template::parse(&v.0).map_err(|e| format!("{what} {k:?}: template: {e}"))?;
            Ok((k, t))
        })
        .collect()
}

fn build_rule(r: RuleYaml) -> Result<Rule, String> {
    let name_for = |n: &Option<String>| n.clone().filter(|s| !s.is_empty());
    let (record, alert) = (name_for(&r.record), name_for(&r.alert));
    if record.is_some() && alert.is_some() {
        return Err("only one of 'record' and 'alert' must be set".into());
    }
    if r.expr.trim().is_empty() {
        return Err("field 'expr' must be set in rule".into());
    }
    let expr = parse_supported(&r.expr).map_err(|e| e.to_string())?;
    use promql_parser::parser::value::ValueType;
    if matches!(expr.value_type(), ValueType::String | ValueType::Matrix) {
        return Err(format!(
            "expression must be an instant vector or scalar, not a {}",
            expr.value_type()
        ));
    }
    match (record, alert) {
        (Some(name), None) => {
            if r.annotations.is_some() {
                return Err("invalid field 'annotations' in recording rule".into());
            }
            if r.for_.is_some() {
                return Err("invalid field 'for' in recording rule".into());
            }
            if r.keep_firing_for.is_some() {
                return Err("invalid field 'keep_firing_for' in recording rule".into());
            }
            if !valid_metric_name(&name) {
                return Err(format!("invalid recording rule name: {name}"));
            }
            let labels = templates(r.labels, "label")?
                .into_iter()
                .map(|(k, t)| (k, t.source))
                .collect();
            Ok(Rule::Recording(RecordingRule::new(
                name, r.expr, expr, labels,
            )))
        }
        (None, Some(name)) => Ok(Rule::Alerting(AlertingRule::new(
            name,
            r.expr,
            expr,
            r.for_.map(|d| d.millis()).unwrap_or(0),
            r.keep_firing_for.map(|d| d.millis()).unwrap_or(0),
            templates(r.labels, "label")?,
            templates(r.annotations, "annotation")?,
        ))),
        _ => Err("one of 'record' or 'alert' must be set".into()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reports_line_and_column_of_bad_rules() {
        let text = "groups:\n  - name: g\n    rules:\n      - alert: A\n        expr: up == 0\n      - alert: B\n        expr: stddev(up)\n";
        let e = parse_rule_text(text, "r.yml", 60_000).unwrap_err();
        assert_eq!((e.line, e.column), (7, 15), "{e}");
        assert!(
            e.to_string().starts_with("r.yml:7:15: group \"g\", rule 2"),
            "{e}"
        );
        let e =
            parse_rule_text("groups:\n  - name: g\n    rulez: []\n", "r.yml", 60_000).unwrap_err();
        assert_eq!(e.line, 3, "{e}");
        assert!(e.message.contains("rulez"), "{e}");
        let ok = parse_rule_text(
            "groups:\n  - name: g\n    interval: 30s\n    rules:\n      - record: job:up:sum\n        expr: sum by (job) (up)\n",
            "r.yml",
            60_000,
        )
        .unwrap();
        assert_eq!(ok[0].interval_ms, 30_000);
    }
}
