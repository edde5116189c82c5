//! After a fault: every acknowledged ticket read once more by its student,
//! and what they were told held against the database.
//!
//! The database decides: a ticket holds a seat when an enrollment row
//! names it, and was decided when the audit trail has its `enrolled` or
//! `rejected` row. Against that, each acknowledged ticket is
//! - **lost** when it finally reads `unknown_ticket` and was never decided
//!   (allowed after a flush — it was still queued when the data went —
//!   never through a failover with `WAIT`);
//! - **misreported** when what its student was told during the rush, or
//!   reads at the end, contradicts the database: `enrolled` without the
//!   seat, anything else with it, `rejected` without a rejection, unknown
//!   although decided.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::time::Duration;

use anyhow::{Context, Result};
use futures::StreamExt;
use serde::{Deserialize, Serialize};

use super::{Fault, Happened};
use crate::check::IssuedTicket;

/// An acknowledged ticket: its student (index), id and what the student
/// was told during the rush (`None`: never decided).
pub type Acked = (usize, String, Option<String>);

/// One ticket's final answer.
#[derive(Debug, Clone, PartialEq)]
struct Final {
    status: String,
    reason: Option<String>,
}

/// A decision in the audit trail: `(student id, course id, kind, reason)`.
type Decision = (i64, i64, String, Option<String>);

/// The acknowledged tickets, their final answers and the database's view.
pub struct Ledger {
    fault: Fault,
    acked: Vec<Acked>,
    finals: HashMap<String, Final>,
    seats: HashSet<String>,
    decided: HashMap<String, Decision>,
    /// Final reads answered 401.
    unauthenticated: usize,
    /// Acknowledged tickets that finally read unknown and were never decided.
    lost: HashSet<String>,
}

/// The fault's lines of the report.
#[derive(Debug, Clone, Serialize)]
pub struct FaultFigures {
    pub happened: Happened,
    pub acknowledged: usize,
    /// Final answers by status (`enrolled`, `rejected`, `unknown`, ...).
    pub final_answers: BTreeMap<String, usize>,
    pub lost: usize,
    /// Whether lost tickets are allowed (a flush), or violations.
    pub lost_allowed: bool,
    pub misreported: usize,
    /// Answers 401 during the rush and in the final read.
    pub logged_out: usize,
    /// Enrolls sent again after 503 / 429 / no answer.
    pub retries: usize,
}

impl FaultFigures {
    /// The summary table's rows.
    pub fn rows(&self) -> Vec<(String, String)> {
        let h = &self.happened;
        let finals: Vec<String> = self
            .final_answers
            .iter()
            .map(|(k, n)| format!("{k} {n}"))
            .collect();
        vec![
            (
                "fault".into(),
                format!(
                    "{} after {} answers: {} ({} keys, run {}) -> {} ({} keys, run {}, {}) in {:.0} ms",
                    h.fault.name(),
                    h.at_answers,
                    h.before.address,
                    h.before.keys,
                    super::short(&h.before.run_id),
                    h.after.address,
                    h.after.keys,
                    super::short(&h.after.run_id),
                    h.after.role,
                    h.outage_ms
                ),
            ),
            (
                "acknowledged tickets".into(),
                format!("{}  (final answers: {})", self.acknowledged, finals.join(", ")),
            ),
            (
                "lost (never decided, unknown_ticket)".into(),
                if self.lost_allowed {
                    format!(
                        "{}  (allowed: queued when the data went; their students enroll again)",
                        self.lost
                    )
                } else {
                    format!("{}  (must be 0)", self.lost)
                },
            ),
            (
                "misreported (must be 0)".into(),
                self.misreported.to_string(),
            ),
            ("students logged out (401s)".into(), self.logged_out.to_string()),
            (
                "enroll retries (503/429/no answer)".into(),
                self.retries.to_string(),
            ),
        ]
    }
}

impl Ledger {
    /// Reads every acknowledged ticket once more (by its student, in
    /// groups of 32) and the decisions of `course_ids` in the database.
    pub async fn settle(
        fault: Fault,
        base_url: &str,
        cookies: &[String],
        pool: &sqlx::PgPool,
        course_ids: &[i64],
        acked: Vec<Acked>,
    ) -> Result<Self> {
        let mut by_student: BTreeMap<usize, Vec<&str>> = BTreeMap::new();
        for (s, id, _) in &acked {
            by_student.entry(*s).or_default().push(id);
        }
        let client = reqwest::Client::builder()
            .timeout(Duration::from_secs(30))
            .build()?;
        let groups: Vec<(usize, String)> = by_student
            .iter()
            .flat_map(|(&s, ids)| ids.chunks(32).map(move |c| (s, c.join(","))))
            .collect();
        let reads: Vec<Result<Read>> = futures::stream::iter(groups)
            .map(|(s, ids)| read_tickets(&client, base_url, &cookies[s], ids))
            .buffer_unordered(32)
            .collect()
            .await;
        let mut finals = HashMap::new();
        let mut unauthenticated = 0;
        for read in reads {
            match read? {
                Read::Answer(view) => {
                    for t in view.tickets {
                        let f = Final {
                            status: t.status,
                            reason: t.reason,
                        };
                        finals.insert(t.ticket, f);
                    }
                    for id in view.unknown {
                        finals.insert(id, unknown());
                    }
                }
                Read::Unauthenticated => unauthenticated += 1,
            }
        }
        let seats: Vec<Option<String>> =
            sqlx::query_scalar("SELECT ticket FROM enrollments WHERE course_id = ANY($1)")
                .bind(course_ids)
                .fetch_all(pool)
                .await?;
        let decided: Vec<(String, i64, i64, String, Option<String>)> = sqlx::query_as(
            "SELECT ticket, student_id, course_id, kind, reason FROM enrollment_events \
             WHERE course_id = ANY($1) AND kind IN ('enrolled', 'rejected') AND ticket IS NOT NULL",
        )
        .bind(course_ids)
        .fetch_all(pool)
        .await?;
        let mut ledger = Self {
            fault,
            acked,
            finals,
            seats: seats.into_iter().flatten().collect(),
            decided: decided
                .into_iter()
                .map(|(t, s, c, k, r)| (t, (s, c, k, r)))
                .collect(),
            unauthenticated,
            lost: HashSet::new(),
        };
        ledger.lost = ledger.find_lost();
        Ok(ledger)
    }

    /// Whether `id` was decided, by the database.
    fn decision(&self, id: &str) -> Option<&str> {
        self.decided.get(id).map(|d| d.2.as_str())
    }

    /// What is wrong with `status` as an answer about ticket `id`, if
    /// anything.
    fn contradiction(&self, id: &str, status: &str) -> Option<&'static str> {
        let seat = self.seats.contains(id);
        match status {
            "enrolled" if !seat => Some("enrolled without a seat"),
            "enrolled" => None,
            _ if seat => Some("not enrolled while holding a seat"),
            "rejected" if self.decision(id) != Some("rejected") => {
                Some("rejected without a rejection")
            }
            "unknown" if self.decision(id).is_some() => Some("unknown although decided"),
            "rejected" | "unknown" | "cancelled" => None,
            _ => Some("never settled"),
        }
    }

    /// Acknowledged tickets that finally read unknown and were never decided.
    fn find_lost(&self) -> HashSet<String> {
        self.acked
            .iter()
            .map(|a| &a.1)
            .filter(|id| {
                self.finals.get(*id).is_some_and(|f| f.status == "unknown")
                    && self.decision(id).is_none()
                    && !self.seats.contains(*id)
            })
            .cloned()
            .collect()
    }

    /// The violations: misreported tickets, tickets never read at the end,
    /// and lost ones unless the fault allows them.
    pub fn violations(&self) -> Vec<String> {
        let mut v = Vec::new();
        for (_, id, told) in &self.acked {
            if let Some(why) = told.as_deref().and_then(|t| self.contradiction(id, t)) {
                v.push(format!("fault: ticket {id} was told {told:?}: {why}"));
            }
            match self.finals.get(id) {
                Some(f) => {
                    if let Some(why) = self.contradiction(id, &f.status) {
                        v.push(format!(
                            "fault: ticket {id} reads {} at the end: {why}",
                            f.status
                        ));
                    }
                }
                None => v.push(format!("fault: ticket {id} could not be read at the end")),
            }
        }
        if !self.fault.may_lose_queued() {
            for id in &self.lost {
                v.push(format!("fault: acknowledged ticket {id} was lost"));
            }
        }
        v
    }

    /// The report's figures.
    pub fn figures(
        &self,
        happened: Happened,
        unauthenticated: usize,
        retries: usize,
    ) -> FaultFigures {
        let mut final_answers = BTreeMap::new();
        for (_, id, _) in &self.acked {
            let status = self.finals.get(id).map_or("unread", |f| f.status.as_str());
            *final_answers.entry(status.to_string()).or_default() += 1;
        }
        let misreported = self
            .acked
            .iter()
            .filter(|(_, id, told)| {
                told.as_deref()
                    .and_then(|t| self.contradiction(id, t))
                    .is_some()
                    || self
                        .finals
                        .get(id)
                        .is_some_and(|f| self.contradiction(id, &f.status).is_some())
            })
            .count();
        FaultFigures {
            happened,
            acknowledged: self.acked.len(),
            final_answers,
            lost: self.lost.len(),
            lost_allowed: self.fault.may_lose_queued(),
            misreported,
            logged_out: unauthenticated + self.unauthenticated,
            retries,
        }
    }

    /// Whether the ledger, not invariant 3, answers for what the student
    /// was told about `id`: a ticket lost, or told unknown.
    pub fn accounts_for(&self, id: &str, told: Option<&str>) -> bool {
        told == Some("unknown") || self.lost.contains(id)
    }

    /// The tickets to check invariants 3-7 over, Redis having forgotten
    /// some: Redis's own; for what it no longer knows (or still calls
    /// queued) the database's decisions, then the final answers and the
    /// tool's view; lost tickets left out (they took no part in the
    /// queue's decisions).
    pub fn issued(
        &self,
        in_redis: Vec<IssuedTicket>,
        by_tool: Vec<IssuedTicket>,
    ) -> Vec<IssuedTicket> {
        let mut all: BTreeMap<String, IssuedTicket> = BTreeMap::new();
        for t in in_redis {
            all.insert(t.id(), t);
        }
        let forgotten = |all: &BTreeMap<String, IssuedTicket>, id: &str| {
            all.get(id).is_none_or(|t| t.status == "queued")
        };
        for (id, (student_id, course_id, kind, reason)) in &self.decided {
            let Some(seq) = id.split_once('-').and_then(|(_, s)| s.parse().ok()) else {
                continue;
            };
            if forgotten(&all, id) {
                let t = IssuedTicket {
                    course_id: *course_id,
                    seq,
                    student_id: *student_id,
                    status: kind.clone(),
                    reason: reason.clone(),
                    decided_ms: None,
                };
                all.insert(id.clone(), t);
            }
        }
        for mut t in by_tool {
            let id = t.id();
            if !forgotten(&all, &id) {
                continue;
            }
            if let Some(f) = self.finals.get(&id) {
                t.status = f.status.clone();
                t.reason = f.reason.clone();
            }
            all.insert(id, t);
        }
        all.into_iter()
            .filter(|(id, _)| !self.lost.contains(id))
            .map(|(_, t)| t)
            .collect()
    }
}

fn unknown() -> Final {
    Final {
        status: "unknown".into(),
        reason: None,
    }
}

#[derive(Deserialize)]
struct View {
    tickets: Vec<TicketState>,
    unknown: Vec<String>,
}

#[derive(Deserialize)]
struct TicketState {
    ticket: String,
    status: String,
    reason: Option<String>,
}

enum Read {
    Answer(View),
    Unauthenticated,
}

/// `GET /api/v1/enrollments/tickets?ids=…` as the student, past 429s and
/// 503s (for up to a minute).
async fn read_tickets(
    client: &reqwest::Client,
    base: &str,
    cookie: &str,
    ids: String,
) -> Result<Read> {
    let url = format!(
        "{}/api/v1/enrollments/tickets?ids={ids}",
        base.trim_end_matches('/')
    );
    for _ in 0..120 {
        let res = client.get(&url).header("cookie", cookie).send().await;
        match res.as_ref().map(reqwest::Response::status) {
            Ok(s) if s.is_success() => {
                let view = res?.json().await.context("unreadable tickets answer")?;
                return Ok(Read::Answer(view));
            }
            Ok(s) if s.as_u16() == 401 => return Ok(Read::Unauthenticated),
            Ok(s) if !matches!(s.as_u16(), 429 | 502 | 503 | 504) => {
                anyhow::bail!("reading tickets {ids}: {s}")
            }
            _ => tokio::time::sleep(Duration::from_millis(500)).await,
        }
    }
    anyhow::bail!("reading tickets {ids}: no answer within a minute")
}
