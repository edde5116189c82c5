//! How fast a course's queue moves, and the wait it implies for a place in
//! line.

/// How fast a course's queue moves, as the admission worker deciding it last
/// measured: a batch of up to `batch` heads is decided every `cycle_ms`
/// (claim, the shared transaction — including its pacing wait — and COMMIT).
/// Stored as `<cycle_ms>|<batch>` in `pace:{c<id>}`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Pace {
    pub cycle_ms: f64,
    pub batch: usize,
}

/// An admission cycle's length assumed before a course has a measured pace:
/// a paced transaction, its own time, and the Redis steps around it.
pub const DEFAULT_CYCLE_MS: f64 = 50.0;

impl Pace {
    /// Reads the stored form; `None` for anything else (nothing measured
    /// yet, or a value this version does not know).
    pub fn parse(s: &str) -> Option<Self> {
        let (cycle, batch) = s.split_once('|')?;
        let cycle_ms: f64 = cycle.parse().ok()?;
        let batch: usize = batch.parse().ok()?;
        (cycle_ms.is_finite() && cycle_ms >= 0.0 && batch > 0).then_some(Self { cycle_ms, batch })
    }

    /// The stored form.
    pub fn encode(&self) -> String {
        format!("{:.1}|{}", self.cycle_ms, self.batch)
    }

    /// Expected time until the ticket at 1-based `position` is decided: the
    /// heads are decided `batch` at a time, one cycle each, so place 1 waits
    /// a whole cycle (not `1 / rate`) and place `batch + 1` two — plus, on
    /// average, half a cycle for the batch being decided when the ticket
    /// came (it was taken before the ticket joined).
    pub fn eta_ms(&self, position: i64) -> u64 {
        let cycles = (position.max(1) as u64).div_ceil(self.batch as u64);
        ((cycles as f64 + 0.5) * self.cycle_ms).ceil().max(1.0) as u64
    }
}

/// Time to a decision at `position`, from the course's measured pace; before
/// one is measured, one cycle of [`DEFAULT_CYCLE_MS`] per `batch`.
pub fn eta_ms(position: i64, pace: Option<Pace>, batch: usize) -> u64 {
    pace.unwrap_or(Pace {
        cycle_ms: DEFAULT_CYCLE_MS,
        batch: batch.max(1),
    })
    .eta_ms(position)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pace_round_trips_and_rejects_other_values() {
        let p = Pace {
            cycle_ms: 42.5,
            batch: 256,
        };
        assert_eq!(p.encode(), "42.5|256");
        assert_eq!(Pace::parse(&p.encode()), Some(p));
        // The previous format (a bare rate), garbage and nonsense are unknown.
        for bad in ["1234.500", "", "x|1", "10|0", "-1|5", "NaN|5", "10|-2"] {
            assert_eq!(Pace::parse(bad), None, "{bad}");
        }
    }

    #[test]
    fn eta_counts_whole_cycles_of_a_batch() {
        let p = Pace {
            cycle_ms: 40.0,
            batch: 100,
        };
        // The head waits one whole cycle, like everyone in the first batch,
        // after half a cycle for the batch already being decided.
        assert_eq!(p.eta_ms(1), 60);
        assert_eq!(p.eta_ms(100), 60);
        assert_eq!(p.eta_ms(101), 100);
        assert_eq!(p.eta_ms(1000), 420);
        // Never zero: a decision always takes some time.
        let instant = Pace {
            cycle_ms: 0.0,
            batch: 5,
        };
        assert_eq!(instant.eta_ms(1), 1);
    }

    #[test]
    fn without_a_measured_pace_a_cycle_per_batch_is_assumed() {
        assert_eq!(eta_ms(1, None, 100), 75);
        assert_eq!(eta_ms(101, None, 100), 125);
        assert_eq!(eta_ms(1, None, 0), eta_ms(1, None, 1));
    }
}
