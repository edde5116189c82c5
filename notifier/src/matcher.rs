//! Alertmanager label matchers: `name="value"`, `name!=value`,
//! `name=~"regex"`, `name!~"regex"`. Regexes are anchored at both ends.

use regex::Regex;
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use std::collections::BTreeMap;
use std::fmt;

/// How a matcher compares a label value.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MatchType {
    /// `=`
    Equal,
    /// `!=`
    NotEqual,
    /// `=~`
    Regex,
    /// `!~`
    NotRegex,
}

impl MatchType {
    fn operator(self) -> &'static str {
        match self {
            MatchType::Equal => "=",
            MatchType::NotEqual => "!=",
            MatchType::Regex => "=~",
            MatchType::NotRegex => "!~",
        }
    }
}

/// One label matcher. A missing label matches as the empty string, as in
/// Alertmanager (so `team=""` matches alerts without a `team` label).
#[derive(Clone, Debug)]
pub struct Matcher {
    /// Label name.
    pub name: String,
    /// Comparison.
    pub kind: MatchType,
    /// Value or regex source, unquoted.
    pub value: String,
    regex: Option<Regex>,
}

impl PartialEq for Matcher {
    fn eq(&self, other: &Self) -> bool {
        self.name == other.name && self.kind == other.kind && self.value == other.value
    }
}

impl Matcher {
    /// Builds a matcher; fails only on an invalid regex or empty name.
    pub fn new(name: &str, kind: MatchType, value: &str) -> Result<Self, String> {
        if name.is_empty() || !name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
            return Err(format!("invalid label name {name:?} in matcher"));
        }
        let regex = match kind {
            MatchType::Regex | MatchType::NotRegex => Some(
                Regex::new(&format!("^(?:{value})$"))
                    .map_err(|e| format!("invalid regex {value:?} in matcher: {e}"))?,
            ),
            _ => None,
        };
        Ok(Matcher {
            name: name.to_string(),
            kind,
            value: value.to_string(),
            regex,
        })
    }

    /// Parses `severity=~"critical|warning"` (quotes optional).
    pub fn parse(text: &str) -> Result<Self, String> {
        let text = text.trim();
        let pos = text
            .find(['=', '!'])
            .ok_or_else(|| format!("invalid matcher {text:?}: expected name=value, name!=value, name=~regex or name!~regex"))?;
        let name = text[..pos].trim();
        let rest = &text[pos..];
        let (kind, value) = if let Some(v) = rest.strip_prefix("=~") {
            (MatchType::Regex, v)
        } else if let Some(v) = rest.strip_prefix("!~") {
            (MatchType::NotRegex, v)
        } else if let Some(v) = rest.strip_prefix("!=") {
            (MatchType::NotEqual, v)
        } else if let Some(v) = rest.strip_prefix('=') {
            (MatchType::Equal, v)
        } else {
            return Err(format!("invalid matcher {text:?}: unknown operator"));
        };
        let value = unquote(value.trim()).map_err(|e| format!("invalid matcher {text:?}: {e}"))?;
        Matcher::new(name, kind, &value).map_err(|e| format!("{e} ({text:?})"))
    }

    /// Whether the label set satisfies this matcher.
    pub fn matches(&self, labels: &BTreeMap<String, String>) -> bool {
        let value = labels.get(&self.name).map(String::as_str).unwrap_or("");
        match self.kind {
            MatchType::Equal => value == self.value,
            MatchType::NotEqual => value != self.value,
            MatchType::Regex => self.regex.as_ref().is_some_and(|r| r.is_match(value)),
            MatchType::NotRegex => !self.regex.as_ref().is_some_and(|r| r.is_match(value)),
        }
    }
}

/// True when every matcher matches (an empty list matches everything).
pub fn all_match(matchers: &[Matcher], labels: &BTreeMap<String, String>) -> bool {
    matchers.iter().all(|m| m.matches(labels))
}

fn unquote(value: &str) -> Result<String, String> {
    let Some(inner) = value.strip_prefix('"') else {
        return Ok(value.to_string());
    };
    let inner = inner
        .strip_suffix('"')
        .ok_or_else(|| "unterminated quoted value".to_string())?;
    let mut out = String::with_capacity(inner.len());
    let mut chars = inner.chars();
    while let Some(c) = chars.next() {
        if c == '\\' {
            match chars.next() {
                Some('n') => out.push('\n'),
                Some(other) => out.push(other),
                None => return Err("dangling backslash".into()),
            }
        } else {
            out.push(c);
        }
    }
    Ok(out)
}

impl fmt::Display for Matcher {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let escaped = self.value.replace('\\', "\\\\").replace('"', "\\\"");
        write!(f, "{}{}\"{}\"", self.name, self.kind.operator(), escaped)
    }
}

impl Serialize for Matcher {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

/// Accepts the string form (`team="db"`) and Alertmanager API v2's object
/// form (`{"name":"team","value":"db","isRegex":false,"isEqual":true}`).
#[derive(Deserialize)]
#[serde(untagged)]
enum MatcherRepr {
    Text(String),
    Object {
        name: String,
        value: String,
        #[serde(default, rename = "isRegex")]
        is_regex: bool,
        #[serde(default = "default_true", rename = "isEqual")]
        is_equal: bool,
    },
}

fn default_true() -> bool {
    true
}

impl<'de> Deserialize<'de> for Matcher {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let parsed = match MatcherRepr::deserialize(d)? {
            MatcherRepr::Text(text) => Matcher::parse(&text),
            MatcherRepr::Object {
                name,
                value,
                is_regex,
                is_equal,
            } => {
                let kind = match (is_regex, is_equal) {
                    (false, true) => MatchType::Equal,
                    (false, false) => MatchType::NotEqual,
                    (true, true) => MatchType::Regex,
                    (true, false) => MatchType::NotRegex,
                };
                Matcher::new(&name, kind, &value)
            }
        };
        parsed.map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn labels(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn parses_every_operator_and_anchors_regexes() {
        let l = labels(&[("severity", "critical"), ("team", "db")]);
        assert!(Matcher::parse(r#"severity=~"critical|warning""#)
            .unwrap()
            .matches(&l));
        assert!(!Matcher::parse(r#"severity=~"crit""#).unwrap().matches(&l));
        assert!(Matcher::parse("team=db").unwrap().matches(&l));
        assert!(Matcher::parse(r#"team!="web""#).unwrap().matches(&l));
        assert!(!Matcher::parse(r#"team!~"d.*""#).unwrap().matches(&l));
        assert!(Matcher::parse(r#"owner="""#).unwrap().matches(&l));
        assert!(Matcher::parse("severity").is_err());
        assert!(Matcher::parse(r#"a=~"(""#).is_err());
        assert_eq!(
            Matcher::parse(r#"severity =~ "a|b""#).unwrap().to_string(),
            r#"severity=~"a|b""#
        );
    }

    #[test]
    fn deserializes_object_form() {
        let m: Matcher =
            serde_json::from_str(r#"{"name":"job","value":"n.*","isRegex":true,"isEqual":false}"#)
                .unwrap();
        assert_eq!(m.kind, MatchType::NotRegex);
        assert!(!m.matches(&labels(&[("job", "node")])));
    }
}
