//! `time`: the system clock, time zone offset, and clock sources from
//! `/sys/devices/system/clocksource`.

use std::ffi::CStr;
use std::path::PathBuf;
use std::time::{SystemTime, UNIX_EPOCH};

use anyhow::Result;

use super::{read_attr, under, Collector};
use crate::metrics::{MetricSet, MetricType};
use crate::settings::Config;

/// Where the time comes from: injectable so tests need no real clock.
pub type Clock = fn() -> SystemTime;

/// Reports the current time.
pub struct TimeCollector {
    now: Clock,
    clocksource_dir: PathBuf,
}

/// Builds the collector on the real clock.
pub fn build(config: &Config) -> Result<Box<dyn Collector>> {
    Ok(Box::new(TimeCollector::new(config, SystemTime::now)))
}

impl TimeCollector {
    /// A collector reading time from `now`.
    pub fn new(config: &Config, now: Clock) -> Self {
        Self {
            now,
            clocksource_dir: under(&config.sysfs, "devices/system/clocksource"),
        }
    }

    fn clocksources(&self, out: &mut MetricSet) {
        let Ok(entries) = std::fs::read_dir(&self.clocksource_dir) else {
            return;
        };
        for entry in entries.flatten() {
            let name = entry.file_name().to_string_lossy().into_owned();
            let Some(device) = name.strip_prefix("clocksource") else {
                continue;
            };
            let dir = entry.path();
            if let Ok(text) = read_attr(&dir.join("available_clocksource")) {
                for cs in text.split_whitespace() {
                    out.push(
                        "node_time_clocksource_available_info",
                        "Available clocksources read from '/sys/devices/system/clocksource'.",
                        MetricType::Gauge,
                        &[("clocksource", cs), ("device", device)],
                        1.0,
                    );
                }
            }
            if let Ok(text) = read_attr(&dir.join("current_clocksource")) {
                out.push(
                    "node_time_clocksource_current_info",
                    "Current clocksource read from '/sys/devices/system/clocksource'.",
                    MetricType::Gauge,
                    &[("clocksource", text.trim()), ("device", device)],
                    1.0,
                );
            }
        }
    }
}

/// The local zone's name and offset from UTC in seconds at `secs`.
fn zone(secs: i64) -> (String, f64) {
    let t = secs as libc::time_t;
    // SAFETY: localtime_r writes into the tm we own; tm_zone then points to
    // static storage of the C library's zone data.
    unsafe {
        let mut tm: libc::tm = std::mem::zeroed();
        if libc::localtime_r(&t, &mut tm).is_null() {
            return ("UTC".to_string(), 0.0);
        }
        let name = if tm.tm_zone.is_null() {
            String::new()
        } else {
            CStr::from_ptr(tm.tm_zone).to_string_lossy().into_owned()
        };
        (name, tm.tm_gmtoff as f64)
    }
}

impl Collector for TimeCollector {
    fn update(&self, out: &mut MetricSet) -> Result<()> {
        let now = (self.now)().duration_since(UNIX_EPOCH)?;
        out.gauge(
            "node_time_seconds",
            "System time in seconds since epoch (1970).",
            now.as_secs_f64(),
        );
        let (name, offset) = zone(now.as_secs() as i64);
        out.push(
            "node_time_zone_offset_seconds",
            "System time zone offset in seconds.",
            MetricType::Gauge,
            &[("time_zone", &name)],
            offset,
        );
        self.clocksources(out);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn reports_the_injected_clock() {
        let config = Config::default_for_host();
        let c = TimeCollector::new(&config, || UNIX_EPOCH + Duration::from_millis(1_500));
        let mut out = MetricSet::new();
        c.update(&mut out).unwrap();
        let s = crate::parse::parse(&out.render()).unwrap();
        assert_eq!(s.get("node_time_seconds", &[]), Some(1.5));
    }
}
