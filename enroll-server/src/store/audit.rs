//! The audit trail (`enrollment_events`): every enrollment change, written
//! in the transaction that makes it, and read back by registrars and by
//! each student for their own history.

use std::collections::HashMap;

use std::net::IpAddr;

use chrono::{DateTime, Utc};
use serde::Serialize;
use sqlx::{PgConnection, PgPool};
use utoipa::ToSchema;

use crate::ticket::Reason;

/// The decisions of one admission transaction, column by column.
#[derive(Debug, Default)]
pub struct Decided {
    kinds: Vec<&'static str>,
    students: Vec<i64>,
    courses: Vec<i64>,
    tickets: Vec<String>,
    reasons: Vec<Option<&'static str>>,
    blocks: Vec<Option<String>>,
    addrs: Vec<Option<String>>,
}

/// One admission decision's audit row.
#[derive(Debug, Clone)]
pub struct DecisionRow {
    /// `enrolled` or `rejected`.
    pub kind: &'static str,
    pub student: i64,
    pub course: i64,
    pub ticket: String,
    pub reason: Option<&'static str>,
    pub block: Option<String>,
    /// Where the ticket was asked from.
    pub addr: Option<IpAddr>,
}

impl Decided {
    pub fn push(&mut self, row: DecisionRow) {
        self.kinds.push(row.kind);
        self.students.push(row.student);
        self.courses.push(row.course);
        self.tickets.push(row.ticket);
        self.reasons.push(row.reason);
        self.blocks.push(row.block);
        self.addrs.push(row.addr.map(|a| a.to_string()));
    }
}

/// Writes the decisions; a ticket decided before (a retried batch) keeps
/// its first row.
pub async fn decisions(tx: &mut PgConnection, d: &Decided) -> Result<(), sqlx::Error> {
    if d.kinds.is_empty() {
        return Ok(());
    }
    sqlx::query(
        "INSERT INTO enrollment_events \
         (kind, student_id, course_id, ticket, reason, block, source_addr, actor_kind) \
         SELECT k, s, c, t, r, b, a::inet, 'student' \
         FROM UNNEST($1::text[], $2::bigint[], $3::bigint[], $4::text[], $5::text[], $6::text[], $7::text[]) \
              AS u(k, s, c, t, r, b, a) \
         ON CONFLICT (ticket) WHERE kind IN ('enrolled', 'rejected') DO NOTHING",
    )
    .bind(&d.kinds)
    .bind(&d.students)
    .bind(&d.courses)
    .bind(&d.tickets)
    .bind(&d.reasons)
    .bind(&d.blocks)
    .bind(&d.addrs)
    .execute(tx)
    .await?;
    Ok(())
}

/// Which of `tickets` were rejected for good, and why.
pub async fn rejections(
    tx: &mut PgConnection,
    tickets: &[String],
) -> Result<HashMap<String, Reason>, sqlx::Error> {
    let rows: Vec<(String, Option<String>)> = sqlx::query_as(
        "SELECT ticket, reason FROM enrollment_events \
         WHERE ticket = ANY($1) AND kind = 'rejected'",
    )
    .bind(tickets)
    .fetch_all(tx)
    .await?;
    Ok(rows
        .into_iter()
        .filter_map(|(t, r)| Some((t, Reason::parse(r.as_deref()?)?)))
        .collect())
}

/// Who made a change, as the audit trail records it.
#[derive(Debug, Clone, Copy)]
pub struct By<'a> {
    /// `student`, `admin` or `system`.
    pub kind: &'static str,
    /// An admin's username (`token` for the bootstrap token).
    pub name: Option<&'a str>,
    /// Where the request came from.
    pub addr: Option<IpAddr>,
}

impl<'a> By<'a> {
    pub const SYSTEM: By<'static> = By {
        kind: "system",
        name: None,
        addr: None,
    };

    pub fn student(addr: IpAddr) -> Self {
        Self {
            kind: "student",
            name: None,
            addr: Some(addr),
        }
    }

    pub fn admin(name: &'a str, addr: IpAddr) -> Self {
        Self {
            kind: "admin",
            name: Some(name),
            addr: Some(addr),
        }
    }
}

/// One change made by a request (not admission's decisions).
#[derive(Debug, Clone, Default)]
pub struct Change {
    /// `cancelled`, `force_added`, `force_dropped`, `course_changed`.
    pub kind: &'static str,
    pub student_id: Option<i64>,
    pub course_id: Option<i64>,
    pub reason: Option<String>,
    pub block: Option<String>,
    pub detail: Option<serde_json::Value>,
}

/// Writes one change, in the caller's transaction.
pub async fn write(tx: &mut PgConnection, change: &Change, by: By<'_>) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO enrollment_events \
         (kind, student_id, course_id, reason, block, detail, actor_kind, actor, source_addr) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9::inet)",
    )
    .bind(change.kind)
    .bind(change.student_id)
    .bind(change.course_id)
    .bind(&change.reason)
    .bind(&change.block)
    .bind(&change.detail)
    .bind(by.kind)
    .bind(by.name)
    .bind(by.addr.map(|a| a.to_string()))
    .execute(tx)
    .await?;
    Ok(())
}

/// Writes many changes of one kind of author at once, in the caller's
/// transaction (the cart's close writes thousands).
pub async fn write_all(
    tx: &mut PgConnection,
    changes: &[Change],
    by: By<'_>,
) -> Result<(), sqlx::Error> {
    if changes.is_empty() {
        return Ok(());
    }
    let col = |f: fn(&Change) -> Option<String>| changes.iter().map(f).collect::<Vec<_>>();
    sqlx::query(
        "INSERT INTO enrollment_events \
         (kind, student_id, course_id, reason, block, detail, actor_kind, actor, source_addr) \
         SELECT k, s, c, r, b, d, $7, $8, $9::inet \
         FROM UNNEST($1::text[], $2::bigint[], $3::bigint[], $4::text[], $5::text[], $6::jsonb[]) \
              AS u(k, s, c, r, b, d)",
    )
    .bind(changes.iter().map(|c| c.kind).collect::<Vec<_>>())
    .bind(changes.iter().map(|c| c.student_id).collect::<Vec<_>>())
    .bind(changes.iter().map(|c| c.course_id).collect::<Vec<_>>())
    .bind(col(|c| c.reason.clone()))
    .bind(col(|c| c.block.clone()))
    .bind(changes.iter().map(|c| c.detail.clone()).collect::<Vec<_>>())
    .bind(by.kind)
    .bind(by.name)
    .bind(by.addr.map(|a| a.to_string()))
    .execute(tx)
    .await?;
    Ok(())
}

/// One row of the audit trail, as registrars read it.
#[derive(Debug, Clone, Serialize, ToSchema, sqlx::FromRow)]
pub struct Event {
    /// Its place in the trail (pages go by it).
    pub id: i64,
    pub at: DateTime<Utc>,
    /// `enrolled`, `rejected`, `cancelled`, `force_added`,
    /// `force_dropped`, `course_changed` or `block_released`.
    pub kind: String,
    pub student_no: Option<String>,
    pub course_id: Option<i64>,
    pub course_code: Option<String>,
    pub ticket: Option<String>,
    /// The rejection's code, or the admin's words.
    pub reason: Option<String>,
    /// `student`, `admin` or `system`.
    pub actor_kind: String,
    /// The admin's username (`token`: the bootstrap token).
    pub actor: Option<String>,
    pub source_addr: Option<String>,
    pub block: Option<String>,
    #[schema(value_type = Option<Object>)]
    pub detail: Option<serde_json::Value>,
}

/// What to page through.
#[derive(Debug, Clone, Default)]
pub struct Filter {
    pub student_id: Option<i64>,
    pub course_id: Option<i64>,
    pub since: Option<DateTime<Utc>>,
    /// Rows after this id.
    pub after: i64,
    pub limit: i64,
}

/// A page of the trail, oldest first.
pub async fn list(pool: &PgPool, f: &Filter) -> Result<Vec<Event>, sqlx::Error> {
    sqlx::query_as(
        "SELECT v.id, v.at, v.kind, s.student_no, v.course_id, c.code AS course_code, v.ticket, \
                v.reason, v.actor_kind, v.actor, host(v.source_addr) AS source_addr, v.block, v.detail \
         FROM enrollment_events v \
         LEFT JOIN students s ON s.id = v.student_id LEFT JOIN courses c ON c.id = v.course_id \
         WHERE v.id > $1 AND ($2::bigint IS NULL OR v.student_id = $2) \
           AND ($3::bigint IS NULL OR v.course_id = $3) AND ($4::timestamptz IS NULL OR v.at >= $4) \
         ORDER BY v.id LIMIT $5",
    )
    .bind(f.after)
    .bind(f.student_id)
    .bind(f.course_id)
    .bind(f.since)
    .bind(f.limit)
    .fetch_all(pool)
    .await
}

/// `student`'s tickets among `tickets` that were decided, with the
/// decision: `(ticket, enrolled?, rejection reason)`.
pub async fn decided_tickets(
    pool: &PgPool,
    student: i64,
    tickets: &[String],
) -> Result<Vec<(String, bool, Option<String>)>, sqlx::Error> {
    sqlx::query_as(
        "SELECT ticket, kind = 'enrolled', reason FROM enrollment_events \
         WHERE ticket = ANY($2) AND kind IN ('enrolled', 'rejected') AND student_id = $1",
    )
    .bind(student)
    .bind(tickets)
    .fetch_all(pool)
    .await
}
