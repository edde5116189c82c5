//! Which deployment Redis's data belongs to, and putting back what the
//! database knows after Redis lost its data.
//!
//! Redis holds the deployment's id (from the database) under
//! [`keys::DEPLOYMENT`]. An instance claims it at start and then on every
//! health check: absent means Redis is new or lost its data (restarted
//! empty, or a replica promoted before it had it), which is when its state
//! is rebuilt from the database; another id means the Redis belongs to
//! another database and none of it may be believed.

use crate::redis::conn::RedisConn;

use super::keys::{self, CourseKey};
use crate::ticket::{StoredTicket, TicketId, TicketStatus};

/// What Redis answered to a claim.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Claim {
    /// It held no id: new, or its data was lost. It holds ours now.
    Fresh,
    /// It holds our id.
    Ours,
    /// It holds another deployment's id.
    Foreign(String),
}

/// Claims Redis for deployment `id` (one `SET NX GET`).
pub async fn claim(redis: &mut RedisConn, id: &str) -> redis::RedisResult<Claim> {
    let before: Option<String> = redis::cmd("SET")
        .arg(keys::DEPLOYMENT)
        .arg(id)
        .arg("NX")
        .arg("GET")
        .query_async(redis)
        .await?;
    Ok(match before {
        None => Claim::Fresh,
        Some(b) if b == id => Claim::Ours,
        Some(other) => Claim::Foreign(other),
    })
}

/// Flags these courses full.
pub async fn restore_full(redis: &mut RedisConn, courses: &[i64]) -> redis::RedisResult<()> {
    for chunk in courses.chunks(1000) {
        let mut pipe = redis::pipe();
        for &c in chunk {
            pipe.set(CourseKey::Full.of(c), "1").ignore();
        }
        let _: () = pipe.query_async(redis).await?;
    }
    Ok(())
}

/// A seat the database holds for a ticket: `(ticket, student, decided at
/// in ms)`.
pub type HeldSeat = (TicketId, i64, i64);

/// Puts the tickets that won `seats` back as decided `enrolled`, so a
/// retry is answered "already enrolled" at once and the ticket can be
/// read; never over a ticket Redis has issued since (`HSETNX`).
pub async fn restore_enrolled(redis: &mut RedisConn, seats: &[HeldSeat]) -> redis::RedisResult<()> {
    for chunk in seats.chunks(1000) {
        let mut pipe = redis::pipe();
        for (ticket, student, decided_ms) in chunk {
            let tag = keys::hash_tag(ticket.course_id);
            let record = StoredTicket {
                student: *student,
                status: TicketStatus::Enrolled,
                reason: None,
            }
            .encode();
            pipe.hset_nx(CourseKey::StudentTicket.tagged(&tag), student, ticket.seq)
                .ignore()
                .hset_nx(
                    CourseKey::Tickets.tagged(&tag),
                    ticket.seq,
                    format!("{record}|{decided_ms}"),
                )
                .ignore()
                .zadd(CourseKey::Done.tagged(&tag), ticket.seq, decided_ms)
                .ignore();
        }
        let _: () = pipe.query_async(redis).await?;
    }
    Ok(())
}
