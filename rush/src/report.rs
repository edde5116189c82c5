//! The figures of a run: computed from the wave, printed as a table and
//! written as JSON.

use std::collections::BTreeMap;
use std::path::Path;
use std::time::Duration;

use anyhow::{Context, Result};
use serde::Serialize;

use crate::cart::CartFigures;
use crate::mix::Scenario;
use crate::pgbench::Baseline;
use crate::series::{drain_rate, server_rate, Drain};
use crate::wave::{Sample, WaveOutcome};

/// p50 / p99 / max of a latency, in milliseconds.
#[derive(Debug, Clone, Copy, Default, Serialize)]
pub struct Latency {
    pub p50_ms: f64,
    pub p99_ms: f64,
    pub max_ms: f64,
}

/// The nearest-rank `q` quantile of `sorted` (not empty).
fn nearest_rank<T: Copy>(sorted: &[T], q: f64) -> T {
    let rank = ((q * sorted.len() as f64).ceil() as usize).clamp(1, sorted.len());
    sorted[rank - 1]
}

impl Latency {
    /// Nearest-rank percentiles.
    pub fn of(mut v: Vec<Duration>) -> Self {
        if v.is_empty() {
            return Self::default();
        }
        v.sort_unstable();
        let at = |q: f64| nearest_rank(&v, q).as_secs_f64() * 1e3;
        Self {
            p50_ms: at(0.50),
            p99_ms: at(0.99),
            max_ms: at(1.0),
        }
    }
}

/// CPU seconds each side used during the rush wave.
#[derive(Debug, Clone, Serialize)]
pub struct CpuUse {
    pub wall_seconds: f64,
    pub enroll_server: f64,
    pub postgres_primary: f64,
    pub postgres_replica: f64,
    pub redis: f64,
    pub rush_tool: f64,
}

impl CpuUse {
    /// CPU seconds of every process of the stack and the tool together.
    pub fn total(&self) -> f64 {
        self.enroll_server
            + self.postgres_primary
            + self.postgres_replica
            + self.redis
            + self.rush_tool
    }

    /// What one request's final answer cost the machine, all told and by
    /// process, in CPU µs.
    pub fn per_request_text(&self, requests: usize) -> String {
        let us = |s: f64| micros_per_request(s, requests);
        format!(
            "{:.0}: server {:.0} · postgres {:.0} (+replica {:.0}) · redis {:.0} · rush {:.0}",
            us(self.total()),
            us(self.enroll_server),
            us(self.postgres_primary),
            us(self.postgres_replica),
            us(self.redis),
            us(self.rush_tool)
        )
    }
}

/// `cpu_seconds` spread over `requests`, in µs per request.
pub fn micros_per_request(cpu_seconds: f64, requests: usize) -> f64 {
    cpu_seconds * 1e6 / requests.max(1) as f64
}

/// Admission batches during the rush (server histograms, after - before).
#[derive(Debug, Clone, Serialize)]
pub struct AdmissionUse {
    pub batches: f64,
    pub mean_batch_size: f64,
    pub mean_transaction_ms: f64,
}

impl AdmissionUse {
    /// From `(batches, tickets, seconds)` totals before and after.
    pub fn between(before: (f64, f64, f64), after: (f64, f64, f64)) -> Self {
        let batches = after.0 - before.0;
        Self {
            batches,
            mean_batch_size: (after.1 - before.1) / batches.max(1.0),
            mean_transaction_ms: (after.2 - before.2) * 1e3 / batches.max(1.0),
        }
    }
}

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

/// What the waitlist scenario's students did during the rush and what the
/// server made of it (from the audit trail and the lists at the end).
#[derive(Debug, Clone, Default, Serialize)]
pub struct WaitlistFigures {
    /// Waitlist joins answered 201.
    pub joined: usize,
    /// Cancels answered 204.
    pub cancelled: usize,
    /// Other answers to joins and cancels, by `"join|cancel <status> <code>"`.
    pub refused: BTreeMap<String, usize>,
    /// Joins and cancels that got no answer.
    pub errors: usize,
    /// `waitlist_promoted` and `waitlist_skipped` audit rows.
    pub promoted: usize,
    pub skipped: usize,
    /// Places left on the courses' waitlists at the end.
    pub still_waiting: usize,
}

impl WaitlistFigures {
    /// The summary table's rows.
    pub fn rows(&self) -> Vec<(String, String)> {
        let mut rows = vec![
            (
                "waitlist joins (201)".into(),
                format!(
                    "{}  ({} promoted, {} skipped, {} still waiting)",
                    self.joined, self.promoted, self.skipped, self.still_waiting
                ),
            ),
            ("cancels (204)".into(), self.cancelled.to_string()),
        ];
        for (what, n) in &self.refused {
            rows.push((format!("answered: {what}"), n.to_string()));
        }
        if self.errors > 0 {
            rows.push(("join/cancel errors".into(), self.errors.to_string()));
        }
        rows
    }
}

/// The wave's own figures (what [`Summary`] holds besides set-up and checks).
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

impl Summary {
    /// The table printed at the end of a run.
    pub fn table(&self) -> String {
        let mut rows: Vec<(String, String)> = vec![
            ("mode".into(), self.mode.clone()),
            ("students".into(), self.students.to_string()),
            (
                "requests".into(),
                format!(
                    "{} ({} per student, {} in flight)",
                    self.requests, self.requests_per_student, self.concurrency
                ),
            ),
            ("tickets (202)".into(), self.tickets.to_string()),
        ];
        if self.hold_admission {
            rows.insert(
                3,
                (
                    "admission".into(),
                    "paused while firing (--hold-admission)".into(),
                ),
            );
        }
        if self.scenario == Scenario::Phased {
            rows.insert(
                1,
                (
                    "scenario".into(),
                    "phased: years 3-4 and 2 in two open phases, year 1's not yet (403 not_your_phase); \
                     30 % of every rush course's seats reserved for its department"
                        .into(),
                ),
            );
        }
        if self.scenario == Scenario::Waitlist {
            rows.insert(
                1,
                (
                    "scenario".into(),
                    "waitlist: students told course_full join its waitlist, enrolled ones cancel \
                     a course, during the rush"
                        .into(),
                ),
            );
        }
        if let Some(w) = &self.waitlist {
            rows.extend(w.rows());
        }
        if let Some(c) = &self.cart {
            rows.insert(
                1,
                (
                    "scenario".into(),
                    format!(
                        "cart: carts settled at close ({}), then the rush, cart seats asked for again",
                        c.policy
                    ),
                ),
            );
            rows.extend(c.rows());
        }
        for (code, n) in &self.refused_at_once {
            rows.push((format!("refused at once: {code}"), n.to_string()));
        }
        rows.push(("request errors".into(), self.request_errors.to_string()));
        rows.push((
            "ticket acks/s".into(),
            format!(
                "{:.0}  ({} in {:.2} s)",
                self.ticket_acks_per_sec, self.tickets, self.fire_seconds
            ),
        ));
        rows.push((
            "decisions/s".into(),
            format!(
                "{:.0}  ({} in {:.2} s)",
                self.decisions_per_sec, self.decided, self.decide_seconds
            ),
        ));
        if let Some(r) = self.server_decisions_per_sec {
            rows.push(("decisions/s (server counter)".into(), format!("{r:.0}")));
        }
        if let Some(r) = &self.stamped {
            rows.push((
                "decisions/s (server-stamped)".into(),
                format!(
                    "{:.0}  ({} in {:.2} s to the last decision's server time)",
                    r.decisions_per_sec, r.decided, r.seconds
                ),
            ));
            rows.push((
                "final answers/s (every request)".into(),
                format!(
                    "{:.0}  ({} decided or refused at once in {:.2} s)",
                    r.answers_per_sec, r.answers, r.answer_seconds
                ),
            ));
        }
        if let Some(d) = &self.admission_drain {
            rows.push(("admission drain rate (after firing)".into(), drain_text(d)));
        }
        let lat = |l: &Latency| {
            format!(
                "p50 {:.1} ms · p99 {:.1} ms · max {:.1} ms",
                l.p50_ms, l.p99_ms, l.max_ms
            )
        };
        rows.push(("ack latency".into(), lat(&self.ack_latency)));
        rows.push(("time to decision".into(), lat(&self.time_to_decision)));
        if let Some(l) = &self.time_to_decision_server {
            rows.push(("time to decision (server-stamped)".into(), lat(l)));
        }
        if let Some(e) = &self.eta {
            rows.push((
                "ETA in the 202 vs the wait".into(),
                format!(
                    "ETA p50 {:.0} ms · wait ÷ ETA p50 {:.2} · p90 {:.2} · {:.0} % decided within their ETA",
                    e.eta_p50_ms,
                    e.ratio_p50,
                    e.ratio_p90,
                    e.within_share * 100.0
                ),
            ));
        }
        for (outcome, n) in &self.outcomes {
            rows.push((format!("decided: {outcome}"), n.to_string()));
        }
        rows.push((
            "ticket events (pushed)".into(),
            if self.event_streams {
                format!("{} on one stream per student", self.events)
            } else {
                "none (--poll-only)".into()
            },
        ));
        rows.push((
            "ticket polls".into(),
            format!("{} ({} failed)", self.polls, self.poll_errors),
        ));
        if let Some(f) = &self.fault {
            rows.extend(f.rows());
        }
        rows.push(("violations (must be 0)".into(), self.violations.to_string()));
        match &self.pgbench {
            Some(p) => {
                rows.push((
                    "pgbench single-statement tps".into(),
                    format!(
                        "{:.0}  (mean of {:.0} before and {:.0} after the rush; {} clients, {} transactions each, {} seats taken)",
                        p.tps, p.before_tps, p.after_tps, p.clients, p.transactions, p.seats_taken
                    ),
                ));
                rows.push((
                    "decisions/s ÷ pgbench tps".into(),
                    format!("{:.2}", self.decisions_to_pgbench_ratio.unwrap_or(0.0)),
                ));
                if let Some(r) = &self.stamped {
                    rows.push((
                        "decisions/s (server-stamped) ÷ pgbench".into(),
                        format!("{:.2}", r.decisions_per_sec / p.tps),
                    ));
                    rows.push((
                        "final answers/s ÷ pgbench tps".into(),
                        format!("{:.2}", r.answers_per_sec / p.tps),
                    ));
                }
                if let Some(d) = &self.admission_drain {
                    rows.push((
                        "admission drain rate ÷ pgbench tps".into(),
                        match self.admission_drain_to_pgbench_ratio {
                            Some(r) => format!("{r:.2}"),
                            None => drain_text(d),
                        },
                    ));
                }
            }
            None => rows.push(("pgbench".into(), "skipped".into())),
        }
        if let Some(a) = &self.admission {
            rows.push((
                "admission transactions".into(),
                format!(
                    "{:.0} · mean batch {:.1} tickets · mean BEGIN..COMMIT {:.1} ms",
                    a.batches, a.mean_batch_size, a.mean_transaction_ms
                ),
            ));
        }
        if let Some(c) = &self.cpu {
            rows.push(("CPU s during rush (wall s)".into(), format!(
                "server {:.1} · postgres {:.1} (+replica {:.1}) · redis {:.1} · rush {:.1}  ({:.1} wall, 2 cores = {:.1} CPU s)",
                c.enroll_server, c.postgres_primary, c.postgres_replica, c.redis, c.rush_tool, c.wall_seconds, 2.0 * c.wall_seconds
            )));
            rows.push((
                "CPU µs per request".into(),
                c.per_request_text(self.requests),
            ));
        }
        let width = rows.iter().map(|r| r.0.chars().count()).max().unwrap_or(0);
        let mut out = String::new();
        for (k, v) in rows {
            out.push_str(&format!("  {k:<width$}  {v}\n"));
        }
        out
    }

    /// Writes `rush-results.json` into `dir`.
    pub fn write_json(&self, dir: &Path) -> Result<std::path::PathBuf> {
        let path = dir.join("rush-results.json");
        let text = serde_json::to_string_pretty(self)?;
        std::fs::write(&path, text)
            .with_context(|| format!("Failed to write {}", path.display()))?;
        Ok(path)
    }
}

/// The drain row: the rate and what it was measured over, or why not.
fn drain_text(d: &Drain) -> String {
    match d.per_sec {
        Some(r) => format!(
            "{r:.0}  ({:.0} decisions in {:.2} s from the end of firing to the last decision; server counter)",
            d.decisions, d.seconds
        ),
        None => format!(
            "n/a (backlog too small to measure: {:.0} decisions in {:.2} s)",
            d.decisions, d.seconds
        ),
    }
}

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

    #[test]
    fn cpu_per_request_adds_every_process() {
        let c = CpuUse {
            wall_seconds: 2.5,
            enroll_server: 2.0,
            postgres_primary: 0.7,
            postgres_replica: 0.1,
            redis: 0.75,
            rush_tool: 1.2,
        };
        assert!((c.total() - 4.75).abs() < 1e-9);
        assert_eq!(
            c.per_request_text(50_000),
            "95: server 40 · postgres 14 (+replica 2) · redis 15 · rush 24"
        );
    }

    #[test]
    fn nearest_rank_percentiles() {
        let v: Vec<Duration> = (1..=100).map(Duration::from_millis).collect();
        let l = Latency::of(v);
        assert_eq!((l.p50_ms, l.p99_ms, l.max_ms), (50.0, 99.0, 100.0));
        assert_eq!(Latency::of(vec![]).p99_ms, 0.0);
    }

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
