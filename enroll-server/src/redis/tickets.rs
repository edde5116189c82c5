//! Reading a student's tickets.

use crate::redis::conn::RedisConn;

use super::keys::{hash_tag, CourseKey};
use crate::pace::Pace;
use crate::position::Standing;
use crate::ticket::{Reason, StoredTicket, TicketId, TicketStatus};

/// One of the caller's tickets as stored.
#[derive(Debug, Clone, PartialEq)]
pub struct TicketState {
    pub status: TicketStatus,
    pub reason: Option<Reason>,
    /// 0-based rank while queued.
    pub rank: Option<i64>,
    /// How fast the course's queue moves, once admission has measured it.
    pub pace: Option<Pace>,
}

/// Reads one of `student`'s tickets (`None`: missing or someone else's).
/// One round trip.
pub async fn ticket(
    redis: &mut RedisConn,
    student: i64,
    id: TicketId,
) -> redis::RedisResult<Option<TicketState>> {
    Ok(tickets(redis, student, &[id]).await?.pop().flatten())
}

/// Reads tickets (of any courses) that `student` asks for, in one pipelined
/// round trip of plain commands — per ticket `MULTI`, the ticket, the
/// student's place in that course's queue, the course's pace, `EXEC` — so
/// each ticket is read atomically and within its own course's slot. `None`
/// for a ticket that is missing or someone else's (the two are answered
/// alike, so ids reveal nothing); the place looked up is the caller's, so it
/// is only kept for their own ticket. Plain commands, not a script: this
/// runs for every ticket of every poll, and Redis runs a `MULTI` of three
/// reads for a fraction of a script call's cost.
pub async fn tickets(
    redis: &mut RedisConn,
    student: i64,
    ids: &[TicketId],
) -> redis::RedisResult<Vec<Option<TicketState>>> {
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    let mut pipe = redis::pipe();
    for id in ids {
        // Only the three keys read, not every key of the course: this runs
        // for every ticket of every poll.
        let tag = hash_tag(id.course_id);
        pipe.cmd("MULTI")
            .ignore()
            .hget(CourseKey::Tickets.tagged(&tag), id.seq)
            .ignore()
            .zrank(CourseKey::Queue.tagged(&tag), student)
            .ignore()
            .get(CourseKey::Pace.tagged(&tag))
            .ignore()
            .cmd("EXEC");
    }
    let found: Vec<(Option<String>, Option<i64>, Option<String>)> = pipe.query_async(redis).await?;
    Ok(found
        .into_iter()
        .map(|(t, rank, pace)| {
            let t = StoredTicket::decode(&t?).filter(|t| t.student == student)?;
            Some(TicketState {
                status: t.status,
                reason: t.reason,
                rank: rank.filter(|_| t.status == TicketStatus::Queued),
                pace: pace.as_deref().and_then(Pace::parse),
            })
        })
        .collect())
}

/// Where each of `student`'s tickets `ids` stands while queued, for the
/// places an event stream keeps ([`crate::position`]): one pipelined round
/// trip, per ticket a `MULTI` of the ticket, the student's rank, the head
/// of the queue and the course's pace, so rank and head are of one moment.
/// `None` for a ticket that is not queued, or not the student's.
pub async fn standings(
    redis: &mut RedisConn,
    student: i64,
    ids: &[TicketId],
) -> redis::RedisResult<Vec<Option<Standing>>> {
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    let mut pipe = redis::pipe();
    for id in ids {
        let tag = hash_tag(id.course_id);
        let queue = CourseKey::Queue.tagged(&tag);
        pipe.cmd("MULTI")
            .ignore()
            .hget(CourseKey::Tickets.tagged(&tag), id.seq)
            .ignore()
            .zrank(&queue, student)
            .ignore()
            .cmd("ZRANGE")
            .arg(&queue)
            .arg(0)
            .arg(0)
            .arg("WITHSCORES")
            .ignore()
            .get(CourseKey::Pace.tagged(&tag))
            .ignore()
            .cmd("EXEC");
    }
    type Found = (Option<String>, Option<i64>, Vec<String>, Option<String>);
    let found: Vec<Found> = pipe.query_async(redis).await?;
    Ok(found
        .into_iter()
        .map(|(t, rank, head, pace)| {
            let t = StoredTicket::decode(&t?).filter(|t| t.student == student)?;
            if t.status != TicketStatus::Queued {
                return None;
            }
            // A score is a double; sequence numbers are whole and below 2^53.
            let head = head.get(1)?.parse::<f64>().ok()? as i64;
            Some(Standing {
                rank: rank?,
                head,
                pace: pace.as_deref().and_then(Pace::parse),
            })
        })
        .collect())
}
