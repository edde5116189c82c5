//! The wave's own figures: tickets, rates, outcomes and latencies, from
//! what the tool saw and the server's sampled counter.

use std::collections::BTreeMap;

use super::latency::Latency;
use crate::series::{drain_rate, server_rate, Drain};
use crate::wave::WaveOutcome;

/// The wave's own figures (what [`Summary`](super::Summary) holds besides set-up and checks).
pub struct WaveFigures {
    pub tickets: usize,
    pub fire_seconds: f64,
    pub acks_per_sec: f64,
    pub decided: usize,
    pub decide_seconds: f64,
    pub decisions_per_sec: f64,
    pub server_decisions_per_sec: Option<f64>,
    pub admission_drain: Option<Drain>,
    pub outcomes: BTreeMap<String, usize>,
    pub ack_latency: Latency,
    pub time_to_decision: Latency,
}

impl WaveFigures {
    pub fn of(w: &WaveOutcome) -> Self {
        let fire_seconds = (w.fired - w.started).as_secs_f64();
        let decided: Vec<_> = w
            .tickets
            .iter()
            .filter_map(|t| t.decided.as_ref().map(|d| (t, d)))
            .collect();
        let last = decided.iter().map(|(_, d)| d.at).max().unwrap_or(w.started);
        let decide_seconds = (last - w.started).as_secs_f64();
        let mut outcomes = BTreeMap::new();
        for (_, d) in &decided {
            let key = match &d.reason {
                Some(r) => format!("{} {r}", d.status),
                None => d.status.clone(),
            };
            *outcomes.entry(key).or_default() += 1;
        }
        Self {
            tickets: w.tickets.len(),
            fire_seconds,
            acks_per_sec: w.tickets.len() as f64 / fire_seconds.max(1e-9),
            decided: decided.len(),
            decide_seconds,
            decisions_per_sec: decided.len() as f64 / decide_seconds.max(1e-9),
            server_decisions_per_sec: server_rate(&w.samples),
            admission_drain: drain_rate(&w.samples, fire_seconds * 1e3),
            outcomes,
            ack_latency: Latency::of(w.tickets.iter().map(|t| t.acked - t.sent).collect()),
            time_to_decision: Latency::of(decided.iter().map(|(t, d)| d.at - t.sent).collect()),
        }
    }
}
