//! A small parser for the text exposition format, so scrapes of node-agent
//! and node_exporter can be compared family by family (type, help) and
//! sample by sample (name, labels, value) rather than as text. Used by the integration tests and the benchmark.

use std::collections::BTreeMap;

/// Labels of one sample, sorted by name.
pub type Labels = BTreeMap<String, String>;

/// A parsed scrape.
#[derive(Debug, Default, Clone)]
pub struct Scrape {
    /// `# TYPE` of each family.
    pub types: BTreeMap<String, String>,
    /// `# HELP` of each family, as written (escapes kept).
    pub helps: BTreeMap<String, String>,
    /// Samples keyed by metric name, then by label set.
    pub samples: BTreeMap<String, BTreeMap<Labels, f64>>,
}

impl Scrape {
    /// Total number of samples (series).
    pub fn series(&self) -> usize {
        self.samples.values().map(|m| m.len()).sum()
    }

    /// The value of `name{labels}` if present.
    pub fn get(&self, name: &str, labels: &[(&str, &str)]) -> Option<f64> {
        let key: Labels = labels
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        self.samples.get(name)?.get(&key).copied()
    }
}

/// A line that is not valid exposition format.
#[derive(Debug, thiserror::Error)]
#[error("line {line}: {reason}: {text:?}")]
pub struct ParseError {
    /// 1-based line number.
    pub line: usize,
    /// What is wrong.
    pub reason: &'static str,
    /// The offending line.
    pub text: String,
}

/// Parses a whole scrape.
pub fn parse(text: &str) -> Result<Scrape, ParseError> {
    let mut scrape = Scrape::default();
    for (i, line) in text.lines().enumerate() {
        let err = |reason| ParseError {
            line: i + 1,
            reason,
            text: line.to_string(),
        };
        if line.trim().is_empty() {
            continue;
        }
        if let Some(rest) = line.strip_prefix("# TYPE ") {
            let mut it = rest.split_whitespace();
            let (Some(name), Some(kind)) = (it.next(), it.next()) else {
                return Err(err("bad TYPE line"));
            };
            scrape.types.insert(name.to_string(), kind.to_string());
            continue;
        }
        if let Some(rest) = line.strip_prefix("# HELP ") {
            let (name, help) = rest.split_once(' ').unwrap_or((rest, ""));
            scrape.helps.insert(name.to_string(), help.to_string());
            continue;
        }
        if line.starts_with('#') {
            continue;
        }
        let (name, labels, rest) = split_sample(line).ok_or_else(|| err("bad sample"))?;
        let value_text = rest
            .split_whitespace()
            .next()
            .ok_or_else(|| err("no value"))?;
        let value = parse_value(value_text).ok_or_else(|| err("bad value"))?;
        scrape
            .samples
            .entry(name)
            .or_default()
            .insert(labels, value);
    }
    Ok(scrape)
}

pub(crate) fn parse_value(s: &str) -> Option<f64> {
    match s {
        "+Inf" | "Inf" => Some(f64::INFINITY),
        "-Inf" => Some(f64::NEG_INFINITY),
        "NaN" => Some(f64::NAN),
        _ => s.parse().ok(),
    }
}

pub(crate) fn split_sample(line: &str) -> Option<(String, Labels, &str)> {
    let name_end = line.find(['{', ' '])?;
    let name = line[..name_end].to_string();
    let mut labels = Labels::new();
    if line.as_bytes()[name_end] == b' ' {
        return Some((name, labels, &line[name_end + 1..]));
    }
    let mut chars = line[name_end + 1..].char_indices().peekable();
    let base = name_end + 1;
    loop {
        // Skip separators, detect the end of the label set.
        while let Some(&(_, c)) = chars.peek() {
            if c == ',' || c == ' ' {
                chars.next();
            } else {
                break;
            }
        }
        let &(start, c) = chars.peek()?;
        if c == '}' {
            return Some((name, labels, &line[base + start + 1..]));
        }
        let mut key = String::new();
        for (_, c) in chars.by_ref() {
            if c == '=' {
                break;
            }
            key.push(c);
        }
        if chars.next()?.1 != '"' {
            return None;
        }
        let mut value = String::new();
        loop {
            let (_, c) = chars.next()?;
            match c {
                '"' => break,
                '\\' => match chars.next()?.1 {
                    'n' => value.push('\n'),
                    other => value.push(other),
                },
                c => value.push(c),
            }
        }
        labels.insert(key.trim().to_string(), value);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_labels_escapes_and_types() {
        let text = "# HELP a x y\n# TYPE a gauge\na{b=\"1\",c=\"q\\\"\\\\\"} 2.5\nplain 3e+09\n";
        let s = parse(text).unwrap();
        assert_eq!(s.types["a"], "gauge");
        assert_eq!(s.helps["a"], "x y");
        assert_eq!(s.get("a", &[("b", "1"), ("c", "q\"\\")]), Some(2.5));
        assert_eq!(s.get("plain", &[]), Some(3e9));
        assert_eq!(s.series(), 2);
    }

    #[test]
    fn rejects_garbage_with_line_number() {
        let e = parse("ok 1\nbroken{a=\"x\" 1\n").unwrap_err();
        assert_eq!(e.line, 2);
    }
}
