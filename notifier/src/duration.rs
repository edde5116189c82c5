//! Prometheus-style durations (`30s`, `5m`, `4h`, `1h30m`, `500ms`, `1d`,
//! `1w`), the one parser and formatter of the workspace: the notifier's
//! configuration and the alerter's (scrape and evaluation intervals, rule
//! `for:`, promtool test files) use them alike.

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use std::fmt;
use std::time::Duration;

/// Units in the order Prometheus requires them, with their size in ms.
const UNITS: [(&str, u128); 7] = [
    ("y", 365 * 86_400_000),
    ("w", 7 * 86_400_000),
    ("d", 86_400_000),
    ("h", 3_600_000),
    ("m", 60_000),
    ("s", 1_000),
    ("ms", 1),
];

/// Parses a duration as Prometheus and Alertmanager do: numbers with units
/// from `y` down to `ms`, each at most once and largest first (`1h30m`,
/// `250ms`, `1y`; a year is 365 days). Zero is allowed (`0`, `0s`), because
/// `for: 0s` is meaningful in rule files; a bare number is not.
pub fn parse_duration(text: &str) -> Result<Duration, String> {
    let text = text.trim();
    if text.is_empty() {
        return Err("invalid duration \"\": empty".into());
    }
    if text == "0" {
        return Ok(Duration::ZERO);
    }
    if text.parse::<f64>().is_ok() {
        return Err(format!(
            "invalid duration {text:?}: a unit is required, e.g. \"{text}s\""
        ));
    }
    let mut total_ms: u128 = 0;
    let mut next_unit = 0;
    let mut rest = text;
    while !rest.is_empty() {
        let digits = rest
            .find(|c: char| !c.is_ascii_digit())
            .unwrap_or(rest.len());
        if digits == 0 {
            return Err(format!("invalid duration {text:?}: expected a number"));
        }
        let number: u128 = rest[..digits]
            .parse()
            .map_err(|_| format!("invalid duration {text:?}"))?;
        rest = &rest[digits..];
        let unit_len = rest
            .find(|c: char| c.is_ascii_digit())
            .unwrap_or(rest.len());
        let unit = &rest[..unit_len];
        let Some(k) = UNITS.iter().position(|(u, _)| *u == unit) else {
            return Err(format!(
                "invalid duration {text:?}: unknown unit {unit:?} (use ms, s, m, h, d, w, y)"
            ));
        };
        if k < next_unit {
            return Err(format!(
                "invalid duration {text:?}: units must go from largest to smallest, each once"
            ));
        }
        next_unit = k + 1;
        total_ms = number
            .checked_mul(UNITS[k].1)
            .and_then(|ms| total_ms.checked_add(ms))
            .ok_or_else(|| format!("duration {text:?} too large"))?;
        rest = &rest[unit_len..];
    }
    let ms = u64::try_from(total_ms).map_err(|_| format!("duration {text:?} too large"))?;
    Ok(Duration::from_millis(ms))
}

/// Formats as Prometheus does (`1h30m`, `5m`, `90d`, `0s`): years and weeks
/// only when they divide the duration exactly.
pub fn format_duration(d: Duration) -> String {
    let mut ms = d.as_millis();
    if ms == 0 {
        return "0s".into();
    }
    let mut out = String::new();
    for (unit, size) in UNITS {
        let exact_only = matches!(unit, "y" | "w");
        if exact_only && !ms.is_multiple_of(size) {
            continue;
        }
        if ms >= size {
            out.push_str(&format!("{}{unit}", ms / size));
            ms %= size;
        }
    }
    out
}

/// A duration written the way Prometheus and Alertmanager write them.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct PromDuration(pub Duration);

impl PromDuration {
    /// Parses `1h30m`, `5m`, `30s`, `250ms`, `2d`, `1w`, `1y` (365 days):
    /// see [`parse_duration`].
    pub fn parse(text: &str) -> Result<Self, String> {
        parse_duration(text).map(PromDuration)
    }

    /// Milliseconds, the unit of every timestamp in the alerter.
    pub fn millis(&self) -> i64 {
        self.0.as_millis() as i64
    }

    /// The duration as `chrono::Duration` for wall-clock arithmetic.
    pub fn chrono(self) -> chrono::Duration {
        chrono::Duration::from_std(self.0).unwrap_or(chrono::Duration::MAX)
    }
}

impl fmt::Display for PromDuration {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&format_duration(self.0))
    }
}

impl Serialize for PromDuration {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for PromDuration {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let text = String::deserialize(d)?;
        PromDuration::parse(&text).map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_prometheus_durations() {
        let secs = |s: &str| PromDuration::parse(s).unwrap().0.as_millis();
        assert_eq!(secs("30s"), 30_000);
        assert_eq!(secs("5m"), 300_000);
        assert_eq!(secs("4h"), 14_400_000);
        assert_eq!(secs("1h30m"), 5_400_000);
        assert_eq!(secs("250ms"), 250);
        assert_eq!(secs("1d"), 86_400_000);
        assert!(PromDuration::parse("5 minutes").is_err());
        assert!(PromDuration::parse("m").is_err());
        assert!(PromDuration::parse("10").is_err());
        assert_eq!(PromDuration::parse("1h30m").unwrap().to_string(), "1h30m");
    }

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

    #[test]
    fn follows_prometheus_on_zero_order_and_large_units() {
        assert_eq!(parse_duration("0").unwrap(), Duration::ZERO);
        assert_eq!(parse_duration("0h0m").unwrap(), Duration::ZERO);
        assert_eq!(
            parse_duration("1y").unwrap(),
            Duration::from_secs(365 * 86_400)
        );
        assert!(parse_duration("30s1m").is_err(), "out of order");
        assert!(parse_duration("1m1m").is_err(), "a unit twice");
        assert!(parse_duration("1.5h").is_err());
        assert!(parse_duration("").is_err());
        assert!(parse_duration("99999999999999999999999y").is_err());
        assert_eq!(format_duration(Duration::from_secs(90 * 86_400)), "90d");
        assert_eq!(format_duration(Duration::from_secs(14 * 86_400)), "2w");
        assert_eq!(
            format_duration(Duration::from_millis(86_400_500)),
            "1d500ms"
        );
    }
}
