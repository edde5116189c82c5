//! Rates from the server's own decision counter
//! (`enroll_admission_decisions_total`), sampled every 100 ms during a wave.

use serde::Serialize;

use crate::wave::Sample;

/// A drain shorter than this gives no rate (a few samples).
pub const DRAIN_MIN_SECONDS: f64 = 0.5;
/// A drain with fewer decisions than this gives no rate.
pub const DRAIN_MIN_DECISIONS: f64 = 1_000.0;

/// The admission drain: what the server decided from the end of firing
/// (the last enroll answered) until the last ticket was decided, when the
/// HTTP intake no longer competes with admission for CPU.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Drain {
    /// Start of the interval: the first sample at or after the end of
    /// firing, in seconds since the wave started.
    pub from_s: f64,
    /// Length of the interval, up to the first sample showing the final count.
    pub seconds: f64,
    /// Decisions counted by the server in the interval.
    pub decisions: f64,
    /// `decisions / seconds`; `None` when the backlog was too small to
    /// measure (under [`DRAIN_MIN_SECONDS`] or [`DRAIN_MIN_DECISIONS`]).
    pub per_sec: Option<f64>,
}

/// The samples whose counter could be read.
fn readable(samples: &[Sample]) -> Vec<&Sample> {
    samples
        .iter()
        .filter(|s| s.decisions_total.is_finite())
        .collect()
}

/// The first sample showing the counter's final value.
fn final_count<'a>(ok: &[&'a Sample]) -> Option<&'a Sample> {
    let last = ok.last()?;
    ok.iter()
        .copied()
        .find(|s| s.decisions_total >= last.decisions_total)
}

/// Decisions per second by the server's counter: from the first sample to
/// the first sample showing the final count.
pub fn server_rate(samples: &[Sample]) -> Option<f64> {
    let ok = readable(samples);
    let (first, done) = (ok.first()?, final_count(&ok)?);
    let secs = (done.t_ms - first.t_ms) / 1e3;
    (secs > 0.0).then(|| (done.decisions_total - first.decisions_total) / secs)
}

/// The admission drain after firing ended `fire_end_ms` after the wave
/// started. The interval ends at the first sample showing the final count,
/// so the rate is a lower bound, off by at most one sample interval.
/// `None` when no sample was taken after firing.
pub fn drain_rate(samples: &[Sample], fire_end_ms: f64) -> Option<Drain> {
    let ok = readable(samples);
    let done = final_count(&ok)?;
    let from = ok.iter().find(|s| s.t_ms >= fire_end_ms)?;
    let seconds = ((done.t_ms - from.t_ms) / 1e3).max(0.0);
    let decisions = (done.decisions_total - from.decisions_total).max(0.0);
    let measurable = seconds >= DRAIN_MIN_SECONDS && decisions >= DRAIN_MIN_DECISIONS;
    Some(Drain {
        from_s: from.t_ms / 1e3,
        seconds,
        decisions,
        per_sec: measurable.then(|| decisions / seconds),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(t_ms: f64, decisions_total: f64) -> Sample {
        Sample {
            t_ms,
            queue_length: 0.0,
            decisions_total,
            acked: 0,
            decided: 0,
        }
    }

    /// 100 ms samples: 500 decisions/s while firing (0..3 s), then 8,000/s
    /// until the backlog is gone at 4.5 s, then flat.
    fn rush_series() -> Vec<Sample> {
        (0..=60)
            .map(|i| {
                let t = f64::from(i) * 100.0;
                let firing = t.min(3_000.0) * 0.5;
                let drain = (t.clamp(3_000.0, 4_500.0) - 3_000.0) * 8.0;
                s(t, 100.0 + firing + drain)
            })
            .collect()
    }

    #[test]
    fn server_rate_stops_at_the_final_count() {
        let samples = [
            s(0.0, 10.0),
            s(500.0, 510.0),
            s(1000.0, 1010.0),
            s(1500.0, 1010.0),
        ];
        assert_eq!(server_rate(&samples), Some(1000.0));
    }

    #[test]
    fn drain_rate_counts_from_the_end_of_firing_to_the_final_count() {
        let samples = rush_series();
        // The whole run averages the slow firing phase in ...
        let whole = server_rate(&samples).unwrap();
        assert!((whole - 13_500.0 / 4.5).abs() < 1e-6, "{whole}");
        // ... the drain does not: firing ended at 2,950 ms, the first
        // sample after it is 3,000 ms, the final count shows at 4,500 ms.
        let d = drain_rate(&samples, 2_950.0).unwrap();
        assert_eq!((d.from_s, d.seconds, d.decisions), (3.0, 1.5, 12_000.0));
        assert_eq!(d.per_sec, Some(8_000.0));
    }

    #[test]
    fn unreadable_samples_are_skipped() {
        let mut samples = rush_series();
        samples[30].decisions_total = f64::NAN; // the 3,000 ms sample
        let d = drain_rate(&samples, 2_950.0).unwrap();
        assert_eq!((d.from_s, d.decisions), (3.1, 11_200.0));
        assert!((d.per_sec.unwrap() - 11_200.0 / 1.4).abs() < 1e-6);
    }

    #[test]
    fn a_small_backlog_gives_no_drain_rate() {
        // Decided within 0.3 s of the end of firing: too short.
        let d = drain_rate(&rush_series(), 4_200.0).unwrap();
        assert_eq!((d.seconds, d.decisions), (0.3, 2_400.0));
        assert_eq!(d.per_sec, None);
        // Long enough, but only 600 decisions: too few.
        let slow: Vec<Sample> = (0..=20)
            .map(|i| s(f64::from(i) * 100.0, f64::from(i.min(12)) * 50.0))
            .collect();
        let d = drain_rate(&slow, 0.0).unwrap();
        assert_eq!((d.seconds, d.decisions, d.per_sec), (1.2, 600.0, None));
        // Everything decided before firing ended: an empty interval.
        let d = drain_rate(&rush_series(), 5_000.0).unwrap();
        assert_eq!((d.seconds, d.decisions, d.per_sec), (0.0, 0.0, None));
        // No sample after firing at all.
        assert_eq!(drain_rate(&rush_series(), 9_000.0), None);
    }
}
