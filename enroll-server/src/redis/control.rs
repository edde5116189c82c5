//! What admission and the enqueue path read and switch besides the queues:
//! the admin's pause switch, queue lengths, and the courses' full flags.

use chrono::{DateTime, Utc};

use crate::redis::conn::RedisConn;

use super::feed::Channel;
use super::keys::{CourseKey, CourseKeys, ADMISSION_PAUSED};
use crate::events::waitlist::Move;
use crate::ticket::{StoredTicket, TicketStatus};

/// Whether an admin has paused admission.
pub async fn admission_paused(redis: &mut RedisConn) -> redis::RedisResult<bool> {
    redis::cmd("EXISTS")
        .arg(ADMISSION_PAUSED)
        .query_async(redis)
        .await
}

/// Pauses (`true`) or resumes admission on every instance.
pub async fn set_admission_paused(redis: &mut RedisConn, paused: bool) -> redis::RedisResult<()> {
    if paused {
        redis::cmd("SET")
            .arg(ADMISSION_PAUSED)
            .arg("1")
            .query_async(redis)
            .await
    } else {
        redis::cmd("DEL")
            .arg(ADMISSION_PAUSED)
            .query_async::<i64>(redis)
            .await
            .map(drop)
    }
}

/// What the admission runner's poll reads, in one round trip: whether an
/// admin has paused admission, and the queue length of each course.
pub async fn scan_state(
    redis: &mut RedisConn,
    courses: &[i64],
) -> redis::RedisResult<(bool, Vec<i64>)> {
    let mut pipe = redis::pipe();
    pipe.exists(ADMISSION_PAUSED);
    for &c in courses {
        pipe.zcard(CourseKey::Queue.of(c));
    }
    let mut answers: Vec<i64> = pipe.query_async(redis).await?;
    let paused = answers.remove(0) != 0;
    Ok((paused, answers))
}

/// Whether each course is flagged full, in one round trip.
pub async fn full_flags(redis: &mut RedisConn, courses: &[i64]) -> redis::RedisResult<Vec<bool>> {
    if courses.is_empty() {
        return Ok(Vec::new());
    }
    let mut pipe = redis::pipe();
    for &c in courses {
        pipe.exists(CourseKey::Full.of(c));
    }
    pipe.query_async(redis).await
}

/// A seat given back: the student, and the ticket that had won it (`None`
/// for a seat taken before tickets were recorded).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Cancelled {
    pub student: i64,
    pub seq: Option<i64>,
}

/// A seat was given back but is withheld from the queue for a while:
/// records the student's ticket as cancelled (so they may queue again)
/// without telling anyone a seat is free.
pub async fn ticket_cancelled(
    redis: &mut RedisConn,
    course_id: i64,
    cancelled: Cancelled,
) -> redis::RedisResult<()> {
    let k = CourseKeys::new(course_id);
    let Cancelled { student, seq } = cancelled;
    let mut pipe = redis::pipe();
    pipe.atomic().hdel(&k.student_ticket, student).ignore();
    if let Some(seq) = seq {
        let record = StoredTicket {
            student,
            status: TicketStatus::Cancelled,
            reason: None,
        };
        pipe.hset(&k.tickets, seq, record.encode()).ignore();
    }
    pipe.query_async::<()>(redis).await
}

/// Publishes waitlist moves to the students' event streams, wherever
/// they are held.
pub async fn waitlist_moved(redis: &mut RedisConn, moves: &[Move]) -> redis::RedisResult<()> {
    if moves.is_empty() {
        return Ok(());
    }
    let payload = serde_json::to_string(moves).expect("moves serialize");
    redis::cmd("PUBLISH")
        .arg(Channel::Waitlist.name())
        .arg(payload)
        .query_async::<()>(redis)
        .await
}

/// Tells every instance that the cart was settled at `at` (after the close
/// run committed), so each tells every event stream it holds.
pub async fn cart_settled(redis: &mut RedisConn, at: DateTime<Utc>) -> redis::RedisResult<()> {
    redis::cmd("PUBLISH")
        .arg(Channel::Cart.name())
        .arg(at.to_rfc3339())
        .query_async::<()>(redis)
        .await
}

/// Seats were freed (cancel, capacity raised): clear the full flag, bump the
/// generation so an in-flight batch cannot set a stale flag, forget the
/// student's cancelled ticket so they may queue again, and tell every
/// instance to forget the flag too ([`Channel::Freed`]), in one transaction.
pub async fn seats_freed(
    redis: &mut RedisConn,
    course_id: i64,
    cancelled: Option<Cancelled>,
) -> redis::RedisResult<()> {
    let k = CourseKeys::new(course_id);
    let mut pipe = redis::pipe();
    pipe.atomic().incr(&k.gen, 1).ignore().del(&k.full).ignore();
    if let Some(Cancelled { student, seq }) = cancelled {
        pipe.hdel(&k.student_ticket, student).ignore();
        if let Some(seq) = seq {
            let record = StoredTicket {
                student,
                status: TicketStatus::Cancelled,
                reason: None,
            };
            pipe.hset(&k.tickets, seq, record.encode()).ignore();
        }
    }
    pipe.publish(Channel::Freed.name(), course_id).ignore();
    pipe.query_async::<()>(redis).await
}
