//! Everything a run reports ([`Summary`], written as `rush-results.json`);
//! the table is printed by `table.rs`.

use std::collections::BTreeMap;
use std::path::Path;

use anyhow::{Context, Result};
use serde::Serialize;

use super::cost::{AdmissionUse, CpuUse};
use super::latency::Latency;
use super::stamped::{EtaAccuracy, StampedRates};
use super::waitlist::WaitlistFigures;
use crate::cart::CartFigures;
use crate::mix::Scenario;
use crate::pgbench::Baseline;
use crate::series::Drain;
use crate::wave::Sample;

/// Everything the run reports (`rush-results.json`).
#[derive(Debug, Clone, Serialize)]
pub struct Summary {
    pub mode: String,
    pub note: String,
    pub students: usize,
    pub requests_per_student: usize,
    pub requests: usize,
    pub concurrency: usize,
    /// Admission was paused while the rush fired (`--hold-admission`).
    pub hold_admission: bool,
    pub batch_size: Option<usize>,
    pub tickets: usize,
    pub refused_at_once: BTreeMap<String, usize>,
    pub request_errors: usize,
    pub fire_seconds: f64,
    pub ticket_acks_per_sec: f64,
    pub decided: usize,
    pub decide_seconds: f64,
    pub decisions_per_sec: f64,
    pub server_decisions_per_sec: Option<f64>,
    /// The server's decisions from the end of firing to the last decision
    /// (see [`crate::series::drain_rate`]).
    pub admission_drain: Option<Drain>,
    pub outcomes: BTreeMap<String, usize>,
    pub ack_latency: Latency,
    /// Send → when the tool learnt the decision: its event's arrival, or the
    /// first poll that saw it decided (an upper bound: polls wait their
    /// turn).
    pub time_to_decision: Latency,
    /// Send → the decision time the server stored with the ticket (same
    /// host's clock; needs the ticket hashes in Redis).
    pub time_to_decision_server: Option<Latency>,
    /// Rates by the server's decision stamps instead of the polls.
    pub stamped: Option<StampedRates>,
    /// How the ETAs the 202s announced compare with the stamped waits.
    pub eta: Option<EtaAccuracy>,
    pub polls: usize,
    pub poll_errors: usize,
    /// Tickets were followed on one event stream per student (off:
    /// `--poll-only`).
    pub event_streams: bool,
    /// Ticket decisions pushed on those streams.
    pub events: usize,
    pub violations: usize,
    pub violation_examples: Vec<String>,
    pub pgbench: Option<Baseline>,
    pub decisions_to_pgbench_ratio: Option<f64>,
    /// Admission drain rate ÷ pgbench tps (when both were measured).
    pub admission_drain_to_pgbench_ratio: Option<f64>,
    pub cpu: Option<CpuUse>,
    /// Admission transactions during the rush, from the server's histograms.
    pub admission: Option<AdmissionUse>,
    /// The workload (`--scenario`).
    pub scenario: Scenario,
    /// `--scenario waitlist`: the joins, cancels and promotions.
    pub waitlist: Option<WaitlistFigures>,
    /// `--scenario cart`: the carts and their close.
    pub cart: Option<CartFigures>,
    /// `--fault`: what it did, and the tickets lost or misreported.
    pub fault: Option<crate::fault::FaultFigures>,
    pub samples: Vec<Sample>,
}

impl Summary {
    /// Writes `rush-results.json` into `dir`.
    pub fn write_json(&self, dir: &Path) -> Result<std::path::PathBuf> {
        let path = dir.join("rush-results.json");
        let text = serde_json::to_string_pretty(self)?;
        std::fs::write(&path, text)
            .with_context(|| format!("Failed to write {}", path.display()))?;
        Ok(path)
    }
}
