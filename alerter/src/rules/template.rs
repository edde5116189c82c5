//! The Go text/template subset used in alert labels and annotations:
//! `{{ $labels.x }}`, `{{ $value }}`, `{{ .Labels.x }}`, `{{ $externalLabels.x }}`,
//! pipelines (`{{ $value | humanize }}`) and the functions `humanize`,
//! `humanize1024`, `humanizePercentage`, `humanizeDuration`, `printf`,
//! `toUpper`, `toLower`, `title`. Control structures are rejected at load time.

use super::template_funcs::{humanize, humanize_duration, printf, title, TValue};
use crate::gofmt::format_g;
use crate::storage::Labels;

/// A parsed template.
#[derive(Debug, Clone, PartialEq)]
pub struct Template {
    parts: Vec<Part>,
    /// The original text.
    pub source: String,
}

#[derive(Debug, Clone, PartialEq)]
enum Part {
    Text(String),
    Pipeline(Vec<Command>),
}

type Command = Vec<Operand>;

#[derive(Debug, Clone, PartialEq)]
enum Operand {
    Func(String),
    Var(Vec<String>),
    Str(String),
    Num(f64),
}

const FUNCTIONS: &[&str] = &[
    "humanize",
    "humanize1024",
    "humanizePercentage",
    "humanizeDuration",
    "printf",
    "toUpper",
    "toLower",
    "title",
];

/// What a template can refer to.
#[derive(Debug, Clone, Default)]
pub struct TemplateData<'a> {
    /// The alert's labels (`$labels`, `.Labels`).
    pub labels: Option<&'a Labels>,
    /// External labels (`$externalLabels`).
    pub external_labels: Option<&'a Labels>,
    /// External URL (`$externalURL`).
    pub external_url: &'a str,
    /// The sample value (`$value`).
    pub value: f64,
}

impl Template {
    /// Parses `text`; errors name the construct that is not supported.
    pub fn parse(text: &str) -> Result<Self, String> {
        let mut parts = Vec::new();
        let mut rest = text;
        let mut trim_next = false;
        while let Some(open) = rest.find("{{") {
            let mut literal = &rest[..open];
            if trim_next {
                literal = literal.trim_start();
            }
            let after = &rest[open + 2..];
            let close = after.find("}}").ok_or("unclosed action: missing }}")?;
            let mut action = &after[..close];
            if let Some(a) = action.strip_prefix('-') {
                literal = literal.trim_end();
                action = a;
            }
            trim_next = false;
            if let Some(a) = action.strip_suffix('-') {
                trim_next = true;
                action = a;
            }
            if !literal.is_empty() {
                parts.push(Part::Text(literal.to_string()));
            }
            let action = action.trim();
            if !(action.starts_with("/*") && action.ends_with("*/")) {
                parts.push(Part::Pipeline(parse_pipeline(action)?));
            }
            rest = &after[close + 2..];
        }
        let tail = if trim_next { rest.trim_start() } else { rest };
        if !tail.is_empty() {
            parts.push(Part::Text(tail.to_string()));
        }
        Ok(Self {
            parts,
            source: text.to_string(),
        })
    }

    /// Expands the template; on error, Prometheus's error text is returned
    /// in place of the result.
    pub fn expand(&self, data: &TemplateData) -> String {
        let mut out = String::new();
        for part in &self.parts {
            match part {
                Part::Text(t) => out.push_str(t),
                Part::Pipeline(cmds) => match run_pipeline(cmds, data) {
                    Ok(v) => out.push_str(&v.render()),
                    Err(e) => return format!("<error expanding template: {e}>"),
                },
            }
        }
        out
    }
}

fn tokenize(action: &str) -> Result<Vec<String>, String> {
    let mut tokens = Vec::new();
    let mut chars = action.chars().peekable();
    while let Some(&c) = chars.peek() {
        if c.is_whitespace() {
            chars.next();
        } else if c == '"' || c == '`' {
            let mut tok = String::from(c);
            chars.next();
            let mut closed = false;
            while let Some(ch) = chars.next() {
                tok.push(ch);
                if ch == '\\' && c == '"' {
                    if let Some(n) = chars.next() {
                        tok.push(n);
                    }
                } else if ch == c {
                    closed = true;
                    break;
                }
            }
            if !closed {
                return Err("unterminated quoted string".into());
            }
            tokens.push(tok);
        } else if c == '|' || c == '(' || c == ')' {
            tokens.push(c.to_string());
            chars.next();
        } else {
            let mut tok = String::new();
            while let Some(&ch) = chars.peek() {
                if ch.is_whitespace() || ch == '|' || ch == '(' || ch == ')' {
                    break;
                }
                tok.push(ch);
                chars.next();
            }
            tokens.push(tok);
        }
    }
    Ok(tokens)
}

fn parse_pipeline(action: &str) -> Result<Vec<Command>, String> {
    let tokens = tokenize(action)?;
    if tokens.is_empty() {
        return Err("missing value for command".into());
    }
    if let Some(first) = tokens.first() {
        if [
            "if", "else", "end", "range", "with", "define", "template", "block",
        ]
        .contains(&first.as_str())
            || first.contains(":=")
            || tokens.iter().any(|t| t == ":=" || t == "=")
        {
            return Err(format!("template action `{first}` is not supported"));
        }
    }
    if tokens.iter().any(|t| t == "(" || t == ")") {
        return Err("parenthesised template pipelines are not supported".into());
    }
    let mut cmds = Vec::new();
    for cmd in tokens.split(|t| t == "|") {
        if cmd.is_empty() {
            return Err("missing command in pipeline".into());
        }
        let ops = cmd
            .iter()
            .map(|t| parse_operand(t))
            .collect::<Result<Vec<_>, _>>()?;
        cmds.push(ops);
    }
    Ok(cmds)
}

fn parse_operand(tok: &str) -> Result<Operand, String> {
    if let Some(s) = tok.strip_prefix('`') {
        return Ok(Operand::Str(s.trim_end_matches('`').to_string()));
    }
    if tok.starts_with('"') {
        return serde_json::from_str::<String>(tok)
            .map(Operand::Str)
            .map_err(|_| format!("bad string literal {tok}"));
    }
    if tok.starts_with('$') || tok.starts_with('.') {
        let path: Vec<String> = tok.split('.').map(str::to_string).collect();
        let root = path[0].as_str();
        let known = matches!(
            root,
            "$labels" | "$value" | "$externalLabels" | "$externalURL" | ""
        ) && (!root.is_empty()
            || matches!(
                path.get(1).map(String::as_str),
                Some("Labels" | "Value" | "ExternalLabels" | "ExternalURL")
            ));
        if !known {
            return Err(format!("undefined variable or field {tok:?}"));
        }
        return Ok(Operand::Var(path));
    }
    if let Ok(v) = tok.parse::<f64>() {
        return Ok(Operand::Num(v));
    }
    if FUNCTIONS.contains(&tok) {
        return Ok(Operand::Func(tok.to_string()));
    }
    Err(format!("function {tok:?} not defined"))
}

fn resolve(path: &[String], data: &TemplateData) -> TValue {
    let (root, rest) = if path[0].is_empty() {
        let root = match path.get(1).map(String::as_str) {
            Some("Labels") => "$labels",
            Some("Value") => "$value",
            Some("ExternalLabels") => "$externalLabels",
            _ => "$externalURL",
        };
        (root, &path[2.min(path.len())..])
    } else {
        (path[0].as_str(), &path[1..])
    };
    let map = match root {
        "$value" => return TValue::Num(data.value),
        "$externalURL" => return TValue::Str(data.external_url.to_string()),
        "$labels" => data.labels,
        _ => data.external_labels,
    };
    let map = map.cloned().unwrap_or_default();
    match rest.first() {
        Some(key) => TValue::Str(map.get(key).cloned().unwrap_or_default()),
        None => TValue::Map(map),
    }
}

fn run_pipeline(cmds: &[Command], data: &TemplateData) -> Result<TValue, String> {
    let mut piped: Option<TValue> = None;
    for cmd in cmds {
        let mut args: Vec<TValue> = Vec::new();
        let func = match &cmd[0] {
            Operand::Func(f) => Some(f.as_str()),
            _ => None,
        };
        let operands = if func.is_some() { &cmd[1..] } else { &cmd[..] };
        for op in operands {
            args.push(match op {
                Operand::Var(p) => resolve(p, data),
                Operand::Str(s) => TValue::Str(s.clone()),
                Operand::Num(n) => TValue::Num(*n),
                Operand::Func(f) => return Err(format!("{f} used as an argument")),
            });
        }
        if let Some(p) = piped.take() {
            args.push(p);
        }
        piped = Some(match func {
            Some(f) => call(f, args)?,
            None if args.len() == 1 => args.remove(0),
            None => return Err("can't give argument to non-function".into()),
        });
    }
    piped.ok_or_else(|| "empty pipeline".into())
}

fn call(func: &str, args: Vec<TValue>) -> Result<TValue, String> {
    if func == "printf" {
        let (fmt, rest) = args.split_first().ok_or("printf needs a format")?;
        return Ok(TValue::Str(printf(&fmt.render(), rest)));
    }
    let [arg] = args.as_slice() else {
        return Err(format!(
            "wrong number of args for {func}: want 1 got {}",
            args.len()
        ));
    };
    Ok(TValue::Str(match func {
        "toUpper" => arg.render().to_uppercase(),
        "toLower" => arg.render().to_lowercase(),
        "title" => title(&arg.render()),
        "humanize" => humanize(
            arg.as_float()?,
            1000.0,
            &["k", "M", "G", "T", "P", "E", "Z", "Y"],
        ),
        "humanize1024" => humanize(
            arg.as_float()?,
            1024.0,
            &["ki", "Mi", "Gi", "Ti", "Pi", "Ei", "Zi", "Yi"],
        ),
        "humanizePercentage" => format!("{}%", format_g(arg.as_float()? * 100.0, Some(4))),
        _ => humanize_duration(arg.as_float()?),
    }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::storage::labels_from;

    fn expand(text: &str, value: f64) -> String {
        let labels = labels_from([("instance", "host:9100"), ("job", "node")]);
        let data = TemplateData {
            labels: Some(&labels),
            value,
            ..Default::default()
        };
        Template::parse(text).unwrap().expand(&data)
    }

    #[test]
    fn expands_like_prometheus() {
        assert_eq!(
            expand("{{ $labels.instance }} is down", 0.0),
            "host:9100 is down"
        );
        assert_eq!(expand("{{ .Labels.job }}={{ .Value }}", 2.5), "node=2.5");
        assert_eq!(expand("{{ $value | humanize }}", 1234567.0), "1.235M");
        assert_eq!(expand("{{ humanizePercentage $value }}", 0.12345), "12.35%");
        assert_eq!(
            expand("{{ $value | humanizeDuration }}", 3725.0),
            "1h 2m 5s"
        );
        assert_eq!(expand("{{ humanizeDuration 0.25 }}", 0.0), "250ms");
        assert_eq!(expand(r#"{{ printf "%.2f" $value }}"#, 1.23456), "1.23");
        assert_eq!(expand("{{ $labels.missing }}x", 0.0), "x");
        assert_eq!(
            expand("{{ $labels }}", 0.0),
            "map[instance:host:9100 job:node]"
        );
        assert_eq!(expand("{{ humanize 0.001 }}", 0.0), "1m");
        assert_eq!(expand("a {{- $value -}} b", 1.0), "a1b");
        assert_eq!(expand("{{ humanize1024 2048 }}", 0.0), "2ki");
    }

    #[test]
    fn rejects_what_it_cannot_evaluate() {
        assert!(Template::parse("{{ if $value }}x{{ end }}").is_err());
        assert!(Template::parse("{{ query \"up\" }}").is_err());
        assert!(Template::parse("{{ $foo }}").is_err());
        assert!(Template::parse("{{ $value ").is_err());
    }
}
