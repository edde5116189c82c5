//! The series notation shared by promtool's unit tests and Prometheus's
//! PromQL test files: `metric{a="b"}` descriptors and expanding values such
//! as `1+2x3`, `_`, `_x4`, `stale`.

use promql_parser::label::MatchOp;
use promql_parser::parser::Expr;

use crate::storage::{stale_marker, Labels, METRIC_NAME};

/// Parses a series descriptor such as `up{job="x"}` or `{a="b"}` into labels.
pub fn parse_series(text: &str) -> Result<Labels, String> {
    let text = text.trim();
    if text.replace(' ', "") == "{}" {
        return Ok(Labels::new());
    }
    let expr =
        promql_parser::parser::parse(text).map_err(|e| format!("invalid series {text:?}: {e}"))?;
    let Expr::VectorSelector(vs) = expr else {
        return Err(format!("invalid series {text:?}: not a metric with labels"));
    };
    if vs.offset.is_some() || vs.at.is_some() {
        return Err(format!("invalid series {text:?}"));
    }
    let mut labels = Labels::new();
    if let Some(name) = vs.name {
        labels.insert(METRIC_NAME.to_string(), name);
    }
    for m in vs.matchers.matchers {
        if !matches!(m.op, MatchOp::Equal) {
            return Err(format!("invalid series {text:?}: only `=` may be used"));
        }
        if !m.value.is_empty() {
            labels.insert(m.name, m.value);
        }
    }
    Ok(labels)
}

/// Splits a `load` line into its descriptor and its values text.
pub fn split_series_line(line: &str) -> Option<(&str, &str)> {
    let line = line.trim();
    let mut depth = 0i32;
    let mut in_quote: Option<char> = None;
    let mut escaped = false;
    for (i, c) in line.char_indices() {
        if let Some(q) = in_quote {
            if escaped {
                escaped = false;
            } else if c == '\\' {
                escaped = true;
            } else if c == q {
                in_quote = None;
            }
            continue;
        }
        match c {
            '"' | '\'' | '`' => in_quote = Some(c),
            '{' => depth += 1,
            '}' => {
                depth -= 1;
                if depth == 0 {
                    return Some((&line[..=i], line[i + 1..].trim()));
                }
            }
            c if c.is_whitespace() && depth == 0 => {
                return Some((&line[..i], line[i..].trim()));
            }
            _ => {}
        }
    }
    None
}

/// Expands a values text into one entry per step: `None` is a missing
/// sample (`_`), staleness markers are [`stale_marker`] values.
pub fn expand_values(text: &str) -> Result<Vec<Option<f64>>, String> {
    let mut out = Vec::new();
    for token in text.split_whitespace() {
        if token.starts_with("{{") {
            return Err("native histogram samples are not supported".into());
        }
        if token == "_" {
            out.push(None);
            continue;
        }
        if let Some(n) = token.strip_prefix("_x") {
            let n: usize = n.parse().map_err(|_| format!("invalid value {token:?}"))?;
            out.extend(std::iter::repeat_n(None, n));
            continue;
        }
        if token == "stale" {
            out.push(Some(stale_marker()));
            continue;
        }
        let (start, rest) = take_number(token).ok_or_else(|| format!("invalid value {token:?}"))?;
        if rest.is_empty() {
            out.push(Some(start));
            continue;
        }
        let (step, rest) = match rest.chars().next() {
            Some('+') | Some('-') => {
                let (b, r) =
                    take_number(&rest[1..]).ok_or_else(|| format!("invalid value {token:?}"))?;
                (if rest.starts_with('-') { -b } else { b }, r)
            }
            _ => (0.0, rest),
        };
        let n: u64 = rest
            .strip_prefix('x')
            .and_then(|n| n.parse().ok())
            .ok_or_else(|| format!("invalid value {token:?}"))?;
        let mut v = start;
        for _ in 0..=n {
            out.push(Some(v));
            v += step;
        }
    }
    Ok(out)
}

/// Takes a leading number (`1`, `-2.5e3`, `Inf`, `NaN`) off `s`.
fn take_number(s: &str) -> Option<(f64, &str)> {
    let (sign, body) = match s.chars().next()? {
        '-' => (-1.0, &s[1..]),
        '+' => (1.0, &s[1..]),
        _ => (1.0, s),
    };
    for (word, v) in [
        ("Inf", f64::INFINITY),
        ("inf", f64::INFINITY),
        ("NaN", f64::NAN),
    ] {
        if let Some(rest) = body.strip_prefix(word) {
            return Some((sign * v, rest));
        }
    }
    let bytes = body.as_bytes();
    let mut end = 0;
    while end < bytes.len() && (bytes[end].is_ascii_digit() || bytes[end] == b'.') {
        end += 1;
    }
    if end == 0 {
        return None;
    }
    if end < bytes.len() && (bytes[end] == b'e' || bytes[end] == b'E') {
        let mut e = end + 1;
        if e < bytes.len() && (bytes[e] == b'+' || bytes[e] == b'-') {
            e += 1;
        }
        let digits_start = e;
        while e < bytes.len() && bytes[e].is_ascii_digit() {
            e += 1;
        }
        if e > digits_start {
            end = e;
        }
    }
    let v: f64 = body[..end].parse().ok()?;
    Some((sign * v, &body[end..]))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::storage::is_stale_marker;

    #[test]
    fn expands_promtool_value_notation() {
        let v = expand_values("1+2x3 _ _x2 stale -1-1x1 5x2 1e3").unwrap();
        let nums: Vec<Option<f64>> = v
            .iter()
            .map(|x| x.filter(|f| !is_stale_marker(*f)))
            .collect();
        assert_eq!(
            nums,
            vec![
                Some(1.0),
                Some(3.0),
                Some(5.0),
                Some(7.0),
                None,
                None,
                None,
                None,
                Some(-1.0),
                Some(-2.0),
                Some(5.0),
                Some(5.0),
                Some(5.0),
                Some(1000.0)
            ]
        );
        assert!(is_stale_marker(v[7].unwrap()));
        assert!(expand_values("1+x").is_err());
    }

    #[test]
    fn parses_descriptors_and_lines() {
        let l = parse_series(r#"up{job="a", instance="b:1"}"#).unwrap();
        assert_eq!(l.get("__name__").unwrap(), "up");
        assert_eq!(l.get("instance").unwrap(), "b:1");
        assert!(parse_series("{}").unwrap().is_empty());
        let (d, v) = split_series_line(r#"  x{a="} "} 1 2"#).unwrap();
        assert_eq!(d, r#"x{a="} "}"#);
        assert_eq!(v, "1 2");
        assert_eq!(split_series_line("x 1 2").unwrap(), ("x", "1 2"));
    }
}
