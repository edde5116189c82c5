//! The dashboard's panel queries, and Grafana's variables in them replaced
//! with the values for one agent.

use std::collections::BTreeMap;

use serde_json::Value;

/// One query of one panel.
#[derive(Debug, Clone)]
pub struct Query {
    /// The panel's title.
    pub panel: String,
    /// The PromQL, with Grafana's variables.
    pub expr: String,
}

/// Every target `expr` of every panel, rows' nested panels included, in
/// dashboard order (duplicates kept: each one is a query Grafana runs).
pub fn panel_queries(dashboard: &Value) -> Vec<Query> {
    fn walk(panels: &Value, out: &mut Vec<Query>) {
        for p in panels.as_array().into_iter().flatten() {
            let title = p["title"].as_str().unwrap_or("").to_string();
            for t in p["targets"].as_array().into_iter().flatten() {
                if let Some(expr) = t["expr"].as_str().filter(|e| !e.trim().is_empty()) {
                    out.push(Query {
                        panel: title.clone(),
                        expr: expr.to_string(),
                    });
                }
            }
            walk(&p["panels"], out);
        }
    }
    let mut out = Vec::new();
    walk(&dashboard["panels"], &mut out);
    out
}

/// Values of the dashboard's own fixed variables (`custom`, `constant`,
/// `textbox`: e.g. a disk-device regex), from their current value or query.
pub fn fixed_variables(dashboard: &Value) -> BTreeMap<String, String> {
    let mut vars = BTreeMap::new();
    for v in dashboard["templating"]["list"]
        .as_array()
        .into_iter()
        .flatten()
    {
        let kind = v["type"].as_str().unwrap_or("");
        if !matches!(kind, "custom" | "constant" | "textbox") {
            continue;
        }
        let current = v["current"]["value"].as_str().filter(|s| !s.is_empty());
        let value = current.or_else(|| v["query"].as_str()).unwrap_or("");
        if let Some(name) = v["name"].as_str() {
            vars.insert(name.to_string(), value.to_string());
        }
    }
    vars
}

/// `expr` with `$name`, `${name}`, `${name:format}` and `[[name]]` replaced
/// from `vars`, and Grafana's interval variables with `interval` (the
/// dashboard's panels use `$__rate_interval`). An unknown variable is
/// replaced with `.*` and reported in `unknown`.
pub fn concrete(
    expr: &str,
    vars: &BTreeMap<String, String>,
    interval: &str,
    unknown: &mut Vec<String>,
) -> String {
    let mut out = String::with_capacity(expr.len());
    let mut rest = expr;
    while let Some(at) = rest.find(['$', '[']) {
        out.push_str(&rest[..at]);
        let tail = &rest[at..];
        let (name, len) = if let Some(inner) = tail.strip_prefix("${") {
            match inner.find('}') {
                Some(end) => (inner[..end].split(':').next().unwrap_or(""), end + 3),
                None => ("", 0),
            }
        } else if let Some(inner) = tail.strip_prefix("[[") {
            match inner.find("]]") {
                Some(end) => (&inner[..end], end + 4),
                None => ("", 0),
            }
        } else if let Some(inner) = tail.strip_prefix('$') {
            let end = inner
                .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
                .unwrap_or(inner.len());
            (&inner[..end], end + 1)
        } else {
            ("", 0)
        };
        if name.is_empty() {
            out.push_str(&tail[..1]);
            rest = &tail[1..];
            continue;
        }
        let value = match name {
            "__rate_interval" | "__interval" | "__range" => interval.to_string(),
            _ => vars.get(name).cloned().unwrap_or_else(|| {
                unknown.push(name.to_string());
                ".*".to_string()
            }),
        };
        out.push_str(&value);
        rest = &tail[len..];
    }
    out.push_str(rest);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn replaces_each_variable_by_its_whole_name() {
        let vars: BTreeMap<String, String> = [
            ("node", "127.0.0.1:9100"),
            ("nodename", "host-a"),
            ("job", "node"),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
        let mut unknown = Vec::new();
        let e = r#"rate(x{instance="$node",job="${job}",nodename="$nodename",d=~"[[dev]]"}[$__rate_interval])[5m:]"#;
        assert_eq!(
            concrete(e, &vars, "1m", &mut unknown),
            r#"rate(x{instance="127.0.0.1:9100",job="node",nodename="host-a",d=~".*"}[1m])[5m:]"#
        );
        assert_eq!(unknown, ["dev"]);
    }
}
