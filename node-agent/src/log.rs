//! Minimal structured logging with node_exporter's `--log.level` and
//! `--log.format` (logfmt or json) on stderr. Collector failures are logged
//! at `error`, like node_exporter's "collector failed" line.

use std::fmt::Write as _;
use std::sync::atomic::{AtomicBool, AtomicU8, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

/// Severity, lowest first.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Level {
    /// Details.
    Debug = 0,
    /// Start-up and shutdown.
    Info = 1,
    /// Something odd, handled.
    Warn = 2,
    /// A collector or the server failed.
    Error = 3,
}

impl Level {
    fn as_str(self) -> &'static str {
        match self {
            Level::Debug => "debug",
            Level::Info => "info",
            Level::Warn => "warn",
            Level::Error => "error",
        }
    }

    /// Parses `debug|info|warn|error`.
    pub fn parse(s: &str) -> Option<Level> {
        [Level::Debug, Level::Info, Level::Warn, Level::Error]
            .into_iter()
            .find(|l| l.as_str() == s)
    }
}

static MIN_LEVEL: AtomicU8 = AtomicU8::new(Level::Info as u8);
static JSON: AtomicBool = AtomicBool::new(false);

/// Sets the minimum level and the output format (`json` or `logfmt`).
pub fn init(level: Level, json: bool) {
    MIN_LEVEL.store(level as u8, Ordering::Relaxed);
    JSON.store(json, Ordering::Relaxed);
}

/// Formats one line (without writing it); `None` when below the level.
pub fn format(level: Level, msg: &str, fields: &[(&str, &str)]) -> Option<String> {
    if (level as u8) < MIN_LEVEL.load(Ordering::Relaxed) {
        return None;
    }
    let ts = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| rfc3339(d.as_millis() as i64))
        .unwrap_or_default();
    let mut pairs = vec![("ts", ts.as_str()), ("level", level.as_str()), ("msg", msg)];
    pairs.extend_from_slice(fields);
    let mut line = String::new();
    if JSON.load(Ordering::Relaxed) {
        line.push('{');
        for (i, (k, v)) in pairs.iter().enumerate() {
            let sep = if i > 0 { "," } else { "" };
            let _ = write!(line, "{sep}\"{k}\":\"{}\"", v.escape_default());
        }
        line.push('}');
    } else {
        for (i, (k, v)) in pairs.iter().enumerate() {
            let sep = if i > 0 { " " } else { "" };
            if v.is_empty() || v.contains([' ', '"', '=']) {
                let _ = write!(line, "{sep}{k}=\"{}\"", v.escape_default());
            } else {
                let _ = write!(line, "{sep}{k}={v}");
            }
        }
    }
    Some(line)
}

/// `2026-11-25T11:11:15.211Z` for milliseconds since the epoch (UTC), as
/// node_exporter's `ts=`.
fn rfc3339(ms: i64) -> String {
    let (secs, millis) = (ms.div_euclid(1000), ms.rem_euclid(1000));
    let (days, rem) = (secs.div_euclid(86_400), secs.rem_euclid(86_400));
    // Civil date from days since 1970-01-01 (Howard Hinnant's algorithm).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}.{millis:03}Z",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

/// Logs one line to stderr.
pub fn log(level: Level, msg: &str, fields: &[(&str, &str)]) {
    if let Some(line) = format(level, msg, fields) {
        eprintln!("{line}");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timestamps_are_rfc3339_utc() {
        assert_eq!(rfc3339(0), "1970-01-01T00:00:00.000Z");
        assert_eq!(rfc3339(1_795_606_083_466), "2026-11-25T11:28:03.466Z");
        assert_eq!(rfc3339(951_782_400_000), "2000-02-29T00:00:00.000Z");
    }

    #[test]
    fn filters_by_level_and_formats_logfmt_and_json() {
        init(Level::Warn, false);
        assert!(format(Level::Info, "x", &[]).is_none());
        let l = format(Level::Error, "collector failed", &[("name", "cpu")]).unwrap();
        assert!(
            l.contains("level=error msg=\"collector failed\" name=cpu"),
            "{l}"
        );
        init(Level::Debug, true);
        let j = format(Level::Debug, "hi", &[("err", "a \"b\"")]).unwrap();
        assert!(
            j.ends_with("\"level\":\"debug\",\"msg\":\"hi\",\"err\":\"a \\\"b\\\"\"}"),
            "{j}"
        );
        init(Level::Info, false);
    }
}
