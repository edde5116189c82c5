//! The table printed at the end of a run: one row per figure of the
//! [`Summary`], in the order they are read.

use super::latency::Latency;
use super::summary::Summary;
use crate::mix::Scenario;
use crate::series::Drain;

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
