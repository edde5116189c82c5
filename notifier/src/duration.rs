//! Prometheus-style durations (`30s`, `5m`, `4h`, `1h30m`, `500ms`, `1d`, `1w`).

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use std::fmt;
use std::time::Duration;

/// A duration written the way Prometheus and Alertmanager write them.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Default)]
pub struct PromDuration(pub Duration);

impl PromDuration {
    /// Parses `1h30m`, `5m`, `30s`, `250ms`, `2d`, `1w`, `1y` (365 days).
    pub fn parse(text: &str) -> Result<Self, String> {
        let text = text.trim();
        if text.is_empty() {
            return Err("empty duration".into());
        }
        if text == "0" {
            return Ok(PromDuration(Duration::ZERO));
        }
        let mut total_ms: u128 = 0;
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
            let unit_ms: u128 = match &rest[..unit_len] {
                "ms" => 1,
                "s" => 1_000,
                "m" => 60_000,
                "h" => 3_600_000,
                "d" => 86_400_000,
                "w" => 7 * 86_400_000,
                "y" => 365 * 86_400_000,
                other => {
                    return Err(format!(
                    "invalid duration {text:?}: unknown unit {other:?} (use ms, s, m, h, d, w, y)"
                ))
                }
            };
            total_ms += number * unit_ms;
            rest = &rest[unit_len..];
        }
        let ms = u64::try_from(total_ms).map_err(|_| format!("duration {text:?} too large"))?;
        Ok(PromDuration(Duration::from_millis(ms)))
    }

    /// The duration as `chrono::Duration` for wall-clock arithmetic.
    pub fn chrono(self) -> chrono::Duration {
        chrono::Duration::from_std(self.0).unwrap_or(chrono::Duration::MAX)
    }
}

impl fmt::Display for PromDuration {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut ms = self.0.as_millis();
        if ms == 0 {
            return f.write_str("0s");
        }
        for (unit, size) in [("h", 3_600_000), ("m", 60_000), ("s", 1_000), ("ms", 1)] {
            if ms >= size {
                write!(f, "{}{unit}", ms / size)?;
                ms %= size;
            }
        }
        Ok(())
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
}
