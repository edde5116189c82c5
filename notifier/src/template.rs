//! A small subset of Alertmanager's Go templates for Slack `title` / `text`:
//! `{{ .Status }}`, `{{ .Receiver }}`, `{{ .GroupLabels.x }}`,
//! `{{ .CommonLabels.x }}`, `{{ .CommonAnnotations.x }}`, `{{ .ExternalURL }}`,
//! `{{ .Alerts | len }}` / `{{ len .Alerts }}` (also `.Alerts.Firing`,
//! `.Alerts.Resolved`), and `| toUpper`. Anything else is rejected when the
//! configuration loads, never rendered wrong.

use std::collections::BTreeMap;

/// The values a template can read.
#[derive(Clone, Debug, Default)]
pub struct TemplateData {
    /// `firing` or `resolved`.
    pub status: String,
    /// Receiver name.
    pub receiver: String,
    /// Labels the group is keyed by.
    pub group_labels: BTreeMap<String, String>,
    /// Labels shared by every alert of the notification.
    pub common_labels: BTreeMap<String, String>,
    /// Annotations shared by every alert of the notification.
    pub common_annotations: BTreeMap<String, String>,
    /// Number of firing alerts.
    pub firing: usize,
    /// Number of resolved alerts.
    pub resolved: usize,
    /// Link back to the alerter.
    pub external_url: String,
}

#[derive(Clone, Debug, PartialEq)]
enum Value {
    Status,
    Receiver,
    ExternalUrl,
    GroupLabel(String),
    CommonLabel(String),
    CommonAnnotation(String),
    Count(Which),
}

#[derive(Clone, Copy, Debug, PartialEq)]
enum Which {
    All,
    Firing,
    Resolved,
}

#[derive(Clone, Debug, PartialEq)]
enum Part {
    Literal(String),
    Expr { value: Value, upper: bool },
}

/// A parsed template.
#[derive(Clone, Debug, PartialEq)]
pub struct Template(Vec<Part>);

impl Template {
    /// Parses a template, rejecting anything outside the supported subset.
    pub fn parse(source: &str) -> Result<Self, String> {
        let mut parts = Vec::new();
        let mut rest = source;
        while let Some(start) = rest.find("{{") {
            if start > 0 {
                parts.push(Part::Literal(rest[..start].to_string()));
            }
            let after = &rest[start + 2..];
            let end = after
                .find("}}")
                .ok_or_else(|| format!("unclosed {{{{ in template {source:?}"))?;
            parts.push(parse_expr(
                after[..end].trim_matches(|c: char| c == '-' || c.is_whitespace()),
            )?);
            rest = &after[end + 2..];
        }
        if !rest.is_empty() {
            parts.push(Part::Literal(rest.to_string()));
        }
        Ok(Template(parts))
    }

    /// Renders with the given data; missing labels render as empty strings.
    pub fn render(&self, data: &TemplateData) -> String {
        let mut out = String::new();
        for part in &self.0 {
            match part {
                Part::Literal(s) => out.push_str(s),
                Part::Expr { value, upper } => {
                    let text = lookup(value, data);
                    out.push_str(&if *upper { text.to_uppercase() } else { text });
                }
            }
        }
        out
    }
}

fn lookup(value: &Value, d: &TemplateData) -> String {
    let get = |m: &BTreeMap<String, String>, k: &str| m.get(k).cloned().unwrap_or_default();
    match value {
        Value::Status => d.status.clone(),
        Value::Receiver => d.receiver.clone(),
        Value::ExternalUrl => d.external_url.clone(),
        Value::GroupLabel(k) => get(&d.group_labels, k),
        Value::CommonLabel(k) => get(&d.common_labels, k),
        Value::CommonAnnotation(k) => get(&d.common_annotations, k),
        Value::Count(Which::All) => (d.firing + d.resolved).to_string(),
        Value::Count(Which::Firing) => d.firing.to_string(),
        Value::Count(Which::Resolved) => d.resolved.to_string(),
    }
}

fn parse_expr(expr: &str) -> Result<Part, String> {
    let mut pipes: Vec<&str> = expr.split('|').map(str::trim).collect();
    let mut upper = false;
    let mut count = false;
    while pipes.len() > 1 {
        match pipes.pop() {
            Some("toUpper") => upper = true,
            Some("len") => count = true,
            Some(other) => return Err(format!("unsupported template function {other:?}")),
            None => unreachable!("pipes has more than one element"),
        }
    }
    let mut head = pipes[0];
    if let Some(arg) = head.strip_prefix("len ") {
        count = true;
        head = arg.trim();
    }
    let value = parse_field(head)?;
    let value = match (count, value) {
        (true, Value::Count(w)) => Value::Count(w),
        (false, Value::Count(_)) => return Err(format!("{head} must be counted with len")),
        (true, _) => return Err(format!("len applies only to .Alerts, not {head}")),
        (false, v) => v,
    };
    Ok(Part::Expr { value, upper })
}

fn parse_field(field: &str) -> Result<Value, String> {
    let unsupported = || format!("unsupported template expression {{{{ {field} }}}}");
    let path: Vec<&str> = field
        .strip_prefix('.')
        .ok_or_else(unsupported)?
        .split('.')
        .collect();
    Ok(match path.as_slice() {
        ["Status"] => Value::Status,
        ["Receiver"] => Value::Receiver,
        ["ExternalURL"] => Value::ExternalUrl,
        ["GroupLabels", k] => Value::GroupLabel(k.to_string()),
        ["CommonLabels", k] => Value::CommonLabel(k.to_string()),
        ["CommonAnnotations", k] => Value::CommonAnnotation(k.to_string()),
        ["Alerts"] => Value::Count(Which::All),
        ["Alerts", "Firing"] => Value::Count(Which::Firing),
        ["Alerts", "Resolved"] => Value::Count(Which::Resolved),
        _ => return Err(unsupported()),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_the_supported_subset() {
        let t = Template::parse(
            "[{{ .Status | toUpper }}:{{ .Alerts.Firing | len }}] {{ .CommonLabels.alertname }} ({{ len .Alerts }})",
        )
        .unwrap();
        let mut d = TemplateData {
            status: "firing".into(),
            firing: 2,
            resolved: 1,
            ..Default::default()
        };
        d.common_labels
            .insert("alertname".into(), "HostDown".into());
        assert_eq!(t.render(&d), "[FIRING:2] HostDown (3)");
    }

    #[test]
    fn rejects_what_it_cannot_render() {
        assert!(Template::parse("{{ range .Alerts }}x{{ end }}").is_err());
        assert!(Template::parse("{{ .Status | title }}").is_err());
        assert!(Template::parse("{{ .Alerts }}").is_err());
        assert!(Template::parse("{{ .Status").is_err());
    }
}
