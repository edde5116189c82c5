//! Scraping: the Prometheus text exposition parser and the HTTP fetch.

use std::time::{Duration, Instant};

use crate::config::Target;
use crate::promql::functions::parse_go_float;
use crate::storage::{Labels, METRIC_NAME};

/// One scraped sample (timestamps in the exposition are ignored: the scrape
/// time is used, as Prometheus does for current data).
pub type Scraped = (Labels, f64);

/// Larger bodies fail the scrape instead of exhausting memory.
pub const MAX_BODY_BYTES: usize = 64 << 20;

/// What one scrape produced.
#[derive(Debug, Clone)]
pub struct ScrapeOutcome {
    /// The exposition text, or why the scrape failed.
    pub result: Result<String, String>,
    /// Wall time the scrape took.
    pub duration: Duration,
}

/// Parses the text exposition format (version 0.0.4).
pub fn parse_text(body: &str) -> Result<Vec<Scraped>, String> {
    let mut out = Vec::new();
    for (n, line) in body.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        out.push(parse_line(line).map_err(|e| format!("line {}: {e}: {line:?}", n + 1))?);
    }
    Ok(out)
}

/// Splits a sample line into its series text (`name{labels}`) and value
/// text, without parsing the labels.
pub fn split_line(line: &str) -> Option<(&str, &str)> {
    let bytes = line.as_bytes();
    let mut end = 0;
    while end < bytes.len() && !bytes[end].is_ascii_whitespace() && bytes[end] != b'{' {
        end += 1;
    }
    if end < bytes.len() && bytes[end] == b'{' {
        let mut in_quote = false;
        let mut escaped = false;
        end += 1;
        while end < bytes.len() {
            let c = bytes[end];
            end += 1;
            if in_quote {
                if escaped {
                    escaped = false;
                } else if c == b'\\' {
                    escaped = true;
                } else if c == b'"' {
                    in_quote = false;
                }
            } else if c == b'"' {
                in_quote = true;
            } else if c == b'}' {
                break;
            }
        }
    }
    let value = line[end..].split_whitespace().next()?;
    Some((&line[..end], value))
}

/// Parses one sample line into labels and value.
pub fn parse_line(line: &str) -> Result<Scraped, String> {
    let bytes = line.as_bytes();
    let mut i = 0;
    while i < bytes.len()
        && (bytes[i].is_ascii_alphanumeric() || bytes[i] == b'_' || bytes[i] == b':')
    {
        i += 1;
    }
    if i == 0 || bytes[0].is_ascii_digit() {
        return Err("invalid metric name".into());
    }
    let mut labels = Labels::new();
    labels.insert(METRIC_NAME.to_string(), line[..i].to_string());
    let mut rest = &line[i..];
    if rest.starts_with('{') {
        rest = parse_labels(&rest[1..], &mut labels)?;
    }
    let mut fields = rest.split_whitespace();
    let value = fields.next().ok_or("missing value")?;
    let value = parse_go_float(value).ok_or("invalid value")?;
    Ok((labels, value))
}

/// Parses `a="b",c="d"}` and returns what follows the closing brace.
fn parse_labels<'a>(mut s: &'a str, labels: &mut Labels) -> Result<&'a str, String> {
    loop {
        s = s.trim_start();
        if let Some(rest) = s.strip_prefix('}') {
            return Ok(rest);
        }
        let eq = s.find('=').ok_or("label without value")?;
        let name = s[..eq].trim();
        if name.is_empty() || !name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
            return Err(format!("invalid label name {name:?}"));
        }
        s = s[eq + 1..].trim_start();
        let body = s.strip_prefix('"').ok_or("label value must be quoted")?;
        let mut value = String::new();
        let mut chars = body.char_indices();
        let end = loop {
            match chars.next() {
                Some((_, '\\')) => match chars.next() {
                    Some((_, 'n')) => value.push('\n'),
                    Some((_, c)) => value.push(c),
                    None => return Err("unterminated escape".into()),
                },
                Some((idx, '"')) => break idx,
                Some((_, c)) => value.push(c),
                None => return Err("unterminated label value".into()),
            }
        };
        if !value.is_empty() {
            labels.insert(name.to_string(), value);
        }
        s = body[end + 1..].trim_start();
        if let Some(rest) = s.strip_prefix(',') {
            s = rest;
        }
    }
}

/// Fetches and parses one target.
pub async fn scrape(client: &reqwest::Client, target: &Target) -> ScrapeOutcome {
    let started = Instant::now();
    let timeout = Duration::from_millis(target.timeout_ms.max(1) as u64);
    let result = async {
        let mut req = client
            .get(&target.url)
            .header("Accept", "text/plain;version=0.0.4;q=1,*/*;q=0.1")
            .timeout(timeout);
        if let Some(auth) = &target.basic_auth {
            req = req.basic_auth(&auth.username, Some(auth.password()?));
        }
        let resp = req.send().await.map_err(|e| describe(&e))?;
        if !resp.status().is_success() {
            return Err(format!("server returned HTTP status {}", resp.status()));
        }
        let mut resp = resp;
        let mut body = Vec::new();
        while let Some(chunk) = resp.chunk().await.map_err(|e| describe(&e))? {
            if body.len() + chunk.len() > MAX_BODY_BYTES {
                return Err(format!("body larger than {MAX_BODY_BYTES} bytes"));
            }
            body.extend_from_slice(&chunk);
        }
        String::from_utf8(body).map_err(|_| "body is not UTF-8".to_string())
    }
    .await;
    ScrapeOutcome {
        result,
        duration: started.elapsed(),
    }
}

fn describe(e: &reqwest::Error) -> String {
    let mut msg = e.to_string();
    let mut src = std::error::Error::source(e);
    while let Some(s) = src {
        msg.push_str(": ");
        msg.push_str(&s.to_string());
        src = s.source();
    }
    msg
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_exposition_text() {
        let body = "# HELP x help\n# TYPE x counter\nx_total{a=\"b\",c=\"q\\\"uote\"} 12.5\nup 1 1700000000000\nnan_metric NaN\ninf{le=\"+Inf\",} +Inf\nempty{a=\"\"} 3\n";
        let s = parse_text(body).unwrap();
        assert_eq!(s.len(), 5);
        assert_eq!(s[0].0.get("c").unwrap(), "q\"uote");
        assert_eq!(s[0].1, 12.5);
        assert_eq!(s[1].0.get("__name__").unwrap(), "up");
        assert!(s[2].1.is_nan());
        assert_eq!(s[3].1, f64::INFINITY);
        assert!(!s[4].0.contains_key("a"));
        assert!(parse_text("bad{a=b} 1").is_err());
        assert!(parse_text("x{a=\"b\"}").is_err());
        assert_eq!(split_line("a{b=\"} x\"} 1 2"), Some(("a{b=\"} x\"}", "1")));
        assert_eq!(split_line("up 0"), Some(("up", "0")));
        assert_eq!(split_line("up"), None);
    }
}
