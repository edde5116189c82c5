//! Prometheus-style durations (`30s`, `1m30s`, `1h`, `7d`) for configuration
//! and rule files, with serde support.

use std::fmt;
use std::time::Duration;

use serde::{Deserialize, Deserializer};

/// Parses a Prometheus duration; unlike PromQL durations, zero (`0s`, `0`) is
/// allowed because `for: 0s` is meaningful in rule files.
pub fn parse_duration(text: &str) -> Result<Duration, String> {
    let trimmed = text.trim();
    if !trimmed.is_empty() && trimmed.chars().all(|c| c == '0' || c.is_ascii_alphabetic()) {
        let digits: String = trimmed.chars().filter(|c| c.is_ascii_digit()).collect();
        if !digits.is_empty() && digits.chars().all(|c| c == '0') {
            return Ok(Duration::ZERO);
        }
    }
    if trimmed.parse::<f64>().is_ok() {
        return Err(format!(
            "not a valid duration string: {trimmed:?} (a unit is required, e.g. \"{trimmed}s\")"
        ));
    }
    promql_parser::util::parse_duration(trimmed).map_err(|e| format!("{e}: {trimmed:?}"))
}

/// Formats like Prometheus (`1h30m`, `5m`, `0s`).
pub fn format_duration(d: Duration) -> String {
    promql_parser::util::display_duration(&d)
}

/// A duration field in YAML, written the Prometheus way.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct PromDuration(pub Duration);

impl PromDuration {
    /// Milliseconds, the unit of every timestamp in the alerter.
    pub fn millis(&self) -> i64 {
        self.0.as_millis() as i64
    }
}

impl fmt::Display for PromDuration {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&format_duration(self.0))
    }
}

impl<'de> Deserialize<'de> for PromDuration {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        parse_duration(&text)
            .map(PromDuration)
            .map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_and_formats_prometheus_durations() {
        assert_eq!(parse_duration("1m30s").unwrap(), Duration::from_secs(90));
        assert_eq!(parse_duration("0s").unwrap(), Duration::ZERO);
        assert_eq!(parse_duration("2h").unwrap(), Duration::from_secs(7200));
        assert!(parse_duration("10").is_err());
        assert!(parse_duration("ten minutes").is_err());
        assert_eq!(format_duration(Duration::from_secs(5400)), "1h30m");
        assert_eq!(format_duration(Duration::ZERO), "0s");
    }
}
