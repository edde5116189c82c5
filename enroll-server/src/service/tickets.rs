//! A student's tickets as they are shown: place in line and ETA while
//! queued, the decision once made.

use crate::fair_use::StudentLimit;
use crate::pace::eta_ms;
use crate::redis::tickets::{self, TicketState};
use crate::service::fair_use::FairUseError;
use crate::service::recovery;
use crate::state::Services;
use crate::store::{audit, enrollments, StoreError};
use crate::ticket::{Reason, TicketId, TicketStatus};

/// A ticket as answered.
#[derive(Debug, Clone, PartialEq)]
pub struct TicketView {
    pub id: TicketId,
    pub status: TicketStatus,
    pub reason: Option<Reason>,
    /// 1-based place in line while queued.
    pub position: Option<i64>,
    /// Estimated time to a decision while queued and admission runs.
    pub eta_ms: Option<u64>,
    /// Queued while an admin has paused admission: no ETA.
    pub admission_paused: bool,
}

/// Why tickets could not be read.
#[derive(Debug, thiserror::Error)]
pub enum TicketReadError {
    #[error(transparent)]
    FairUse(#[from] FairUseError),
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl From<redis::RedisError> for TicketReadError {
    fn from(e: redis::RedisError) -> Self {
        Self::FairUse(e.into())
    }
}

/// `student`'s tickets among `ids`, in order, in one Redis round trip
/// after the read is counted against the student's allowance; `None` for a
/// ticket that is missing or someone else's (answered alike). A ticket
/// Redis does not know (forgotten a day after its decision, or lost with
/// Redis's data) is answered from the database: its decision in the audit
/// trail, or a seat it won. Only a ticket never decided stays unknown.
pub async fn of_student(
    s: &Services,
    student: i64,
    ids: &[TicketId],
) -> Result<Vec<Option<TicketView>>, TicketReadError> {
    recovery::ensure_trusted(s)?;
    s.fair_use
        .student(student, StudentLimit::TicketReads)
        .await?;
    let mut redis = s.redis.clone();
    let found = tickets::tickets(&mut redis, student, ids).await?;
    // Read once for every ticket of the answer.
    let paused = s.admission_paused.is_paused();
    let batch = s.settings.admission_batch_size;
    let mut views: Vec<Option<TicketView>> = ids
        .iter()
        .zip(found)
        .map(|(&id, t)| t.map(|t| view(id, t, paused, batch)))
        .collect();
    let unknown: Vec<TicketId> = ids
        .iter()
        .zip(&views)
        .filter(|(_, v)| v.is_none())
        .map(|(&id, _)| id)
        .collect();
    if !unknown.is_empty() {
        from_database(s, student, &unknown, ids, &mut views).await?;
    }
    Ok(views)
}

/// Fills in the views of `unknown` tickets the database knows decided.
async fn from_database(
    s: &Services,
    student: i64,
    unknown: &[TicketId],
    ids: &[TicketId],
    views: &mut [Option<TicketView>],
) -> Result<(), StoreError> {
    let names: Vec<String> = unknown.iter().map(ToString::to_string).collect();
    let decided = audit::decided_tickets(&s.db.primary, student, &names).await?;
    // Seats won before decisions were recorded have only their row.
    let won = enrollments::won_tickets_of(&s.db.primary, student, unknown).await?;
    for (id, v) in ids.iter().zip(views.iter_mut()) {
        if v.is_some() {
            continue;
        }
        let name = id.to_string();
        let answer = match decided.iter().find(|d| d.0 == name) {
            Some((_, true, _)) => Some((TicketStatus::Enrolled, None)),
            Some((_, false, reason)) => Some((
                TicketStatus::Rejected,
                reason.as_deref().and_then(Reason::parse),
            )),
            None if won.contains(id) => Some((TicketStatus::Enrolled, None)),
            None => None,
        };
        *v = answer.map(|(status, reason)| TicketView {
            id: *id,
            status,
            reason,
            position: None,
            eta_ms: None,
            admission_paused: false,
        });
    }
    Ok(())
}

/// A ticket as answered; a queued one while admission is paused carries the
/// flag instead of an ETA.
fn view(id: TicketId, t: TicketState, paused: bool, batch: usize) -> TicketView {
    let position = t.rank.map(|r| r + 1);
    let paused = paused && position.is_some();
    TicketView {
        id,
        status: t.status,
        reason: t.reason,
        position,
        eta_ms: position
            .filter(|_| !paused)
            .map(|p| eta_ms(p, t.pace, batch)),
        admission_paused: paused,
    }
}
