//! `timex`: the kernel clock discipline's state from adjtimex(2) (read-only:
//! `modes` 0), through libc: offset, frequency, error bounds, PLL and PPS
//! figures, and whether the clock is synchronised.
//!
//! Conversions as node_exporter's: offset and PPS jitter are in µs or ns
//! as `STA_NANO` says, frequencies are scaled ppm (2^-16 ppm), error bounds
//! and the tick are in µs.

use anyhow::Result;

use super::{Collector, NoData};
use crate::metrics::{MetricSet, MetricType};
use crate::settings::Config;

/// Calls adjtimex(2).
pub struct TimexCollector;

/// Builds the collector.
pub fn build(_config: &Config) -> Result<Box<dyn Collector>> {
    Ok(Box::new(TimexCollector))
}

/// What adjtimex(2) returned: the clock state and the `struct timex`
/// fields node_exporter exports.
#[derive(Debug, Default, Clone, Copy)]
struct Reading {
    state: i32,
    offset: i64,
    freq: i64,
    maxerror: i64,
    esterror: i64,
    status: i32,
    constant: i64,
    tick: i64,
    ppsfreq: i64,
    jitter: i64,
    shift: i32,
    stabil: i64,
    jitcnt: i64,
    calcnt: i64,
    errcnt: i64,
    stbcnt: i64,
    tai: i32,
}

/// `freq`, `ppsfreq` and `stabil` are ppm with a 16-bit fraction.
const PPM16FRAC: f64 = 1_000_000.0 * 65536.0;
const MICROS: f64 = 1e6;
const NANOS: f64 = 1e9;

/// Reads the clock state without changing it.
fn read() -> Result<Reading> {
    // SAFETY: an all-zero `timex` is valid (modes 0 asks for no change), and
    // adjtimex only writes into the struct we pass.
    let mut t: libc::timex = unsafe { std::mem::zeroed() };
    let state = unsafe { libc::adjtimex(&mut t) };
    if state < 0 {
        let err = std::io::Error::last_os_error();
        if err.kind() == std::io::ErrorKind::PermissionDenied {
            return Err(NoData(format!("adjtimex not permitted: {err}")).into());
        }
        return Err(anyhow::Error::new(err).context("failed to retrieve adjtimex stats"));
    }
    Ok(Reading {
        state,
        offset: t.offset as i64,
        freq: t.freq as i64,
        maxerror: t.maxerror as i64,
        esterror: t.esterror as i64,
        status: t.status,
        constant: t.constant as i64,
        tick: t.tick as i64,
        ppsfreq: t.ppsfreq as i64,
        jitter: t.jitter as i64,
        shift: t.shift,
        stabil: t.stabil as i64,
        jitcnt: t.jitcnt as i64,
        calcnt: t.calcnt as i64,
        errcnt: t.errcnt as i64,
        stbcnt: t.stbcnt as i64,
        tai: t.tai,
    })
}

/// The `node_timex_*` families of one reading.
fn emit(out: &mut MetricSet, r: &Reading) {
    let fine = if r.status & libc::STA_NANO != 0 {
        NANOS
    } else {
        MICROS
    };
    let synced = if r.state == libc::TIME_ERROR {
        0.0
    } else {
        1.0
    };
    let gauges: [(&str, &str, f64); 13] = [
        (
            "sync_status",
            "Is clock synchronized to a reliable server (1 = yes, 0 = no).",
            synced,
        ),
        (
            "offset_seconds",
            "Time offset in between local system and reference clock.",
            r.offset as f64 / fine,
        ),
        (
            "frequency_adjustment_ratio",
            "Local clock frequency adjustment.",
            1.0 + r.freq as f64 / PPM16FRAC,
        ),
        (
            "maxerror_seconds",
            "Maximum error in seconds.",
            r.maxerror as f64 / MICROS,
        ),
        (
            "estimated_error_seconds",
            "Estimated error in seconds.",
            r.esterror as f64 / MICROS,
        ),
        (
            "status",
            "Value of the status array bits.",
            f64::from(r.status),
        ),
        (
            "loop_time_constant",
            "Phase-locked loop time constant.",
            r.constant as f64,
        ),
        (
            "tick_seconds",
            "Seconds between clock ticks.",
            r.tick as f64 / MICROS,
        ),
        (
            "pps_frequency_hertz",
            "Pulse per second frequency.",
            r.ppsfreq as f64 / PPM16FRAC,
        ),
        (
            "pps_jitter_seconds",
            "Pulse per second jitter.",
            r.jitter as f64 / fine,
        ),
        (
            "pps_shift_seconds",
            "Pulse per second interval duration.",
            f64::from(r.shift),
        ),
        (
            "pps_stability_hertz",
            "Pulse per second stability, average of recent frequency changes.",
            r.stabil as f64 / PPM16FRAC,
        ),
        (
            "tai_offset_seconds",
            "International Atomic Time (TAI) offset.",
            f64::from(r.tai),
        ),
    ];
    for (name, help, v) in gauges {
        out.gauge(&format!("node_timex_{name}"), help, v);
    }
    let counters: [(&str, &str, i64); 4] = [
        (
            "pps_jitter_total",
            "Pulse per second count of jitter limit exceeded events.",
            r.jitcnt,
        ),
        (
            "pps_calibration_total",
            "Pulse per second count of calibration intervals.",
            r.calcnt,
        ),
        (
            "pps_error_total",
            "Pulse per second count of calibration errors.",
            r.errcnt,
        ),
        (
            "pps_stability_exceeded_total",
            "Pulse per second count of stability limit exceeded events.",
            r.stbcnt,
        ),
    ];
    for (name, help, v) in counters {
        out.push(
            &format!("node_timex_{name}"),
            help,
            MetricType::Counter,
            &[],
            v as f64,
        );
    }
}

impl Collector for TimexCollector {
    fn update(&self, out: &mut MetricSet) -> Result<()> {
        emit(out, &read()?);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scrape(r: &Reading) -> crate::parse::Scrape {
        let mut out = MetricSet::new();
        emit(&mut out, r);
        crate::parse::parse(&out.render()).unwrap()
    }

    #[test]
    fn converts_units_as_node_exporter_in_micro_and_nanosecond_mode() {
        let r = Reading {
            state: libc::TIME_OK,
            offset: -1500,
            freq: 65536 * 12, // +12 ppm
            maxerror: 16_000_000,
            esterror: 250,
            status: 0x0001, // STA_PLL
            constant: 2,
            tick: 10_000,
            jitter: 20,
            jitcnt: 3,
            tai: 37,
            ..Reading::default()
        };
        let s = scrape(&r);
        let v = |n: &str| s.get(&format!("node_timex_{n}"), &[]).unwrap();
        let near = |n: &str, want: f64| {
            let got = v(n);
            assert!(
                (got - want).abs() <= 1e-12 * want.abs(),
                "{n}: {got} vs {want}"
            );
        };
        assert_eq!(v("sync_status"), 1.0);
        near("offset_seconds", -0.0015);
        near("frequency_adjustment_ratio", 1.000012);
        assert_eq!(v("maxerror_seconds"), 16.0);
        near("estimated_error_seconds", 0.00025);
        near("tick_seconds", 0.01);
        near("pps_jitter_seconds", 0.00002);
        assert_eq!(v("pps_jitter_total"), 3.0);
        assert_eq!(v("tai_offset_seconds"), 37.0);
        assert_eq!(s.types["node_timex_pps_jitter_total"], "counter");
        assert_eq!(s.samples.len(), 17);

        let nano = scrape(&Reading {
            state: libc::TIME_ERROR,
            status: libc::STA_NANO,
            offset: -1500,
            ..r
        });
        assert_eq!(nano.get("node_timex_sync_status", &[]), Some(0.0));
        let offset = nano.get("node_timex_offset_seconds", &[]).unwrap();
        assert!((offset + 0.0000015).abs() < 1e-18, "{offset}");
    }

    #[test]
    fn reads_this_machines_clock_without_privileges() {
        let r = read().expect("adjtimex with modes 0");
        assert!(r.tick > 0, "{r:?}");
    }
}
