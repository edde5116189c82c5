//! Figures from the decision times the server stamped on each ticket:
//! rates ([`StampedRates`]), the announced ETAs against the waits
//! ([`EtaAccuracy`]) and the server-side time to decision.

use std::time::Duration;

use super::latency::{nearest_rank, Latency};
use crate::wave::WaveOutcome;

/// Rates measured with the decision times the server stored with each
/// ticket, so they do not depend on how soon a poll happened to look.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct StampedRates {
    /// Tickets with a stamp.
    pub decided: usize,
    /// Start of firing → the last stamped decision.
    pub seconds: f64,
    pub decisions_per_sec: f64,
    /// Every request's final answer: stamped decisions plus the requests
    /// refused at once (409s, answered before firing ended) — what pgbench's
    /// tps counts too, whose transactions that find no seat left count as
    /// well.
    pub answers: usize,
    /// Start of firing → the last final answer.
    pub answer_seconds: f64,
    pub answers_per_sec: f64,
}

/// [`StampedRates`] of a wave; `None` when no ticket has a stamp.
pub fn stamped_rates(
    w: &WaveOutcome,
    decided_ms: &std::collections::HashMap<String, i64>,
) -> Option<StampedRates> {
    let stamps: Vec<f64> = w
        .tickets
        .iter()
        .filter_map(|t| decided_ms.get(&t.ticket).map(|&ms| ms as f64))
        .collect();
    if stamps.is_empty() {
        return None;
    }
    let last = stamps.iter().copied().fold(f64::MIN, f64::max);
    let seconds = ((last - w.started_unix_ms) / 1e3).max(1e-9);
    let refused: usize = w.refused.values().sum();
    let answers = stamps.len() + refused;
    let answer_seconds = seconds.max((w.fired - w.started).as_secs_f64());
    Some(StampedRates {
        decided: stamps.len(),
        seconds,
        decisions_per_sec: stamps.len() as f64 / seconds,
        answers,
        answer_seconds,
        answers_per_sec: answers as f64 / answer_seconds,
    })
}

/// The ETAs announced in the 202s against the waits that followed (ack →
/// the server's decision stamp), over the tickets with both.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct EtaAccuracy {
    pub tickets: usize,
    pub eta_p50_ms: f64,
    /// Wait ÷ ETA, nearest-rank percentiles (1 = on time, 2 = twice as long).
    pub ratio_p50: f64,
    pub ratio_p90: f64,
    /// Share of tickets decided no later than their ETA.
    pub within_share: f64,
}

/// [`EtaAccuracy`] of a wave; `None` without a ticket that has both a stamp
/// and an ETA (admission paused: none announced).
pub fn eta_accuracy(
    w: &WaveOutcome,
    decided_ms: &std::collections::HashMap<String, i64>,
) -> Option<EtaAccuracy> {
    let mut pairs: Vec<(f64, f64)> = w
        .tickets
        .iter()
        .filter(|t| t.eta_ms != u64::MAX)
        .filter_map(|t| {
            let decided = *decided_ms.get(&t.ticket)? as f64;
            let acked = w.wall_ms(t.acked);
            Some(((decided - acked).max(0.0), t.eta_ms.max(1) as f64))
        })
        .collect();
    if pairs.is_empty() {
        return None;
    }
    let n = pairs.len();
    let within = pairs.iter().filter(|(wait, eta)| wait <= eta).count();
    let mut ratios: Vec<f64> = pairs.iter().map(|(wait, eta)| wait / eta).collect();
    ratios.sort_by(f64::total_cmp);
    pairs.sort_by(|a, b| a.1.total_cmp(&b.1));
    Some(EtaAccuracy {
        tickets: n,
        eta_p50_ms: nearest_rank(&pairs, 0.5).1,
        ratio_p50: nearest_rank(&ratios, 0.5),
        ratio_p90: nearest_rank(&ratios, 0.9),
        within_share: within as f64 / n as f64,
    })
}

/// Send → decision as the server stamped it (`decided_ms`: ticket id →
/// Unix ms), for the tickets that have a stamp; `None` without any. The
/// send times are placed on the wall clock through the wave's start.
pub fn server_time_to_decision(
    w: &WaveOutcome,
    decided_ms: &std::collections::HashMap<String, i64>,
) -> Option<Latency> {
    let v: Vec<Duration> = w
        .tickets
        .iter()
        .filter_map(|t| {
            let decided = *decided_ms.get(&t.ticket)? as f64;
            let sent = w.wall_ms(t.sent);
            Some(Duration::from_secs_f64((decided - sent).max(0.0) / 1e3))
        })
        .collect();
    (!v.is_empty()).then(|| Latency::of(v))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeMap;

    #[test]
    fn server_stamped_time_to_decision_uses_the_wall_clock_start() {
        use crate::wave::TicketRecord;
        let started = std::time::Instant::now();
        let record = |ticket: &str, sent_ms: u64| TicketRecord {
            request: 0,
            student: 0,
            ticket: ticket.into(),
            sent: started + Duration::from_millis(sent_ms),
            acked: started + Duration::from_millis(sent_ms + 5),
            eta_ms: 50,
            decided: None,
        };
        let w = WaveOutcome {
            started,
            started_unix_ms: 1_000_000.0,
            fired: started,
            tickets: vec![record("1-1", 0), record("1-2", 100), record("1-3", 200)],
            refused: BTreeMap::new(),
            errors: 0,
            error_example: None,
            polls: 0,
            events: 0,
            poll_errors: 0,
            samples: vec![],
        };
        // Decided 30 ms and 300 ms after sending; "1-3" has no stamp.
        let stamps = std::collections::HashMap::from([
            ("1-1".to_string(), 1_000_030),
            ("1-2".to_string(), 1_000_400),
        ]);
        let l = server_time_to_decision(&w, &stamps).unwrap();
        assert_eq!((l.p50_ms.round(), l.max_ms.round()), (30.0, 300.0));
        assert!(server_time_to_decision(&w, &Default::default()).is_none());

        // Two stamped decisions by 400 ms; with four refusals, six answers.
        let mut w = w;
        w.refused.insert("409 course_full".into(), 4);
        let r = stamped_rates(&w, &stamps).unwrap();
        assert_eq!((r.decided, r.answers), (2, 6));
        assert!((r.seconds - 0.4).abs() < 1e-9);
        assert!((r.decisions_per_sec - 5.0).abs() < 1e-6);
        assert!((r.answers_per_sec - 15.0).abs() < 1e-6);
        // Firing that ended after the last decision bounds the answers.
        w.fired = started + Duration::from_secs(2);
        assert!((stamped_rates(&w, &stamps).unwrap().answers_per_sec - 3.0).abs() < 1e-6);
        assert!(stamped_rates(&w, &Default::default()).is_none());

        // Acked 5 ms after sending with an ETA of 50 ms: "1-1" waited 25 ms
        // (0.5 of it), "1-2" 295 ms (5.9); one of two within its ETA.
        let e = eta_accuracy(&w, &stamps).unwrap();
        assert_eq!((e.tickets, e.eta_p50_ms), (2, 50.0));
        assert!(
            (e.ratio_p50 - 0.5).abs() < 1e-6 && (e.ratio_p90 - 5.9).abs() < 1e-6,
            "{e:?}"
        );
        assert_eq!(e.within_share, 0.5);
        // No ETA announced (admission paused): nothing to compare.
        for t in &mut w.tickets {
            t.eta_ms = u64::MAX;
        }
        assert!(eta_accuracy(&w, &stamps).is_none());
    }
}
