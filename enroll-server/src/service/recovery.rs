//! Surviving the loss of Redis's data: the database answers for what it
//! knows, and Redis is rebuilt from it.
//!
//! Every health check claims Redis for this deployment
//! ([`crate::redis::deployment::claim`]). When Redis turns out to have lost
//! its data, the instance that notices puts back, from the database:
//! every live session (nobody is logged out), the full flags (requests for
//! full courses are answered at once again), and the tickets that won
//! seats (a retry is answered "already enrolled", the ticket can be read).
//! Queued tickets that were never decided are gone with Redis; their
//! students enroll again. A Redis that holds another deployment's data is
//! not used at all: enrolls and ticket reads answer 503 until it is
//! pointed at the right one.

use std::sync::atomic::Ordering;

use crate::redis::deployment::{self, Claim, HeldSeat};
use crate::state::Services;
use crate::store::{courses, enrollments};
use crate::ticket::TicketId;

/// What a rebuild put back.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Rebuilt {
    pub sessions: usize,
    pub full_courses: usize,
    pub enrolled_tickets: usize,
}

/// Why Redis could not be trusted or rebuilt.
#[derive(Debug, thiserror::Error)]
pub enum RecoveryError {
    #[error("Redis holds the data of another deployment ({0}); this database is {1}")]
    Foreign(String, String),
    #[error(transparent)]
    Redis(#[from] redis::RedisError),
    #[error(transparent)]
    Db(#[from] sqlx::Error),
    #[error(transparent)]
    Session(#[from] crate::redis::session_store::SessionError),
}

/// `Ok` unless Redis holds another deployment's data: then the error every
/// request that would read or write the queues answers with (503
/// `redis_unavailable`).
pub fn ensure_trusted(s: &Services) -> redis::RedisResult<()> {
    if s.redis_trusted.load(Ordering::Relaxed) {
        Ok(())
    } else {
        // As an I/O failure: the Redis at hand is as good as unreachable.
        Err(redis::RedisError::from(std::io::Error::other(
            "Redis holds another deployment's data",
        )))
    }
}

/// Claims Redis for this deployment and rebuilds it when it lost its data;
/// returns what was rebuilt (`None` when nothing needed to be). Marks
/// Redis untrusted while it holds another deployment's data.
pub async fn check(s: &Services) -> Result<Option<Rebuilt>, RecoveryError> {
    let mut redis = s.redis.clone();
    match deployment::claim(&mut redis, &s.deployment.id).await? {
        Claim::Ours => {
            s.redis_trusted.store(true, Ordering::Relaxed);
            Ok(None)
        }
        Claim::Foreign(other) => {
            s.redis_trusted.store(false, Ordering::Relaxed);
            Err(RecoveryError::Foreign(other, s.deployment.id.clone()))
        }
        Claim::Fresh => {
            s.redis_trusted.store(true, Ordering::Relaxed);
            let rebuilt = rebuild(s).await?;
            s.metrics.redis_rebuilds.inc();
            Ok(Some(rebuilt))
        }
    }
}

/// Puts back what the database knows: sessions, full flags, won tickets.
pub async fn rebuild(s: &Services) -> Result<Rebuilt, RecoveryError> {
    let mut redis = s.redis.clone();
    let sessions = s.sessions.restore_all().await?;
    let full = courses::full_ids(&s.db.primary).await?;
    deployment::restore_full(&mut redis, &full).await?;
    let seats: Vec<HeldSeat> = enrollments::won_by_tickets(&s.db.primary)
        .await?
        .into_iter()
        .filter_map(|(ticket, student, at)| {
            Some((TicketId::parse(&ticket)?, student, at.timestamp_millis()))
        })
        .collect();
    deployment::restore_enrolled(&mut redis, &seats).await?;
    Ok(Rebuilt {
        sessions,
        full_courses: full.len(),
        enrolled_tickets: seats.len(),
    })
}
