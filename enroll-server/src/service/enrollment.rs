//! Enrolling and giving a seat back.

use std::time::Instant;

use chrono::Utc;

use crate::pace::eta_ms;
use crate::redis::control::{self, Cancelled};
use crate::redis::enqueue::Enqueued;
use crate::service::fair_use::FairUseError;
use crate::service::recovery;
use crate::state::Services;
use crate::store::{enrollments, StoreError};
use crate::ticket::TicketId;

/// A place in line.
#[derive(Debug, Clone, PartialEq)]
pub struct Queued {
    pub ticket: TicketId,
    /// 1-based.
    pub position: i64,
    /// Estimated time to a decision; `None` while admission is paused.
    pub eta_ms: Option<u64>,
    pub admission_paused: bool,
}

/// Why an enroll request was refused.
#[derive(Debug, thiserror::Error)]
pub enum EnrollError {
    #[error("registration is not open")]
    Closed,
    #[error("no such course")]
    CourseNotFound,
    #[error("the course is full")]
    Full,
    #[error("the student already holds a seat in this course")]
    AlreadyEnrolled,
    #[error(transparent)]
    FairUse(#[from] FairUseError),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Redis(#[from] redis::RedisError),
}

/// Puts `student` in line for `course`: a ticket and place after two Redis
/// round trips (the student's fair-use gate, the course's queue). Retrying returns the same ticket and place — until the course
/// is flagged full: from then on this instance refuses every request for it
/// from memory (a queued retry's ticket will be rejected `course_full` too;
/// a student holding a seat sees it in their enrollments), until seats are
/// freed anywhere.
pub async fn enroll(s: &Services, student: i64, course: i64) -> Result<Queued, EnrollError> {
    let tickets = &s.metrics.tickets;
    if !s.catalog.window_open(Utc::now()) {
        tickets.with_label_values(&["refused_closed"]).inc();
        return Err(EnrollError::Closed);
    }
    if !s
        .catalog
        .course_exists(course, &s.db.primary)
        .await
        .map_err(StoreError::from)?
    {
        return Err(EnrollError::CourseNotFound);
    }
    if s.known_full.get(&course, Instant::now()).is_some() {
        s.metrics.known_full_refusals.inc();
        tickets.with_label_values(&["refused_full"]).inc();
        return Err(EnrollError::Full);
    }
    recovery::ensure_trusted(s)?;
    s.fair_use.enroll(student, course).await?;
    let epoch = s.known_full.epoch();
    let answer = s.enqueuer.enqueue(course, student).await?;
    if !matches!(answer, Enqueued::Queued { .. }) {
        s.fair_use.release(student, course);
    }
    match answer {
        Enqueued::Queued {
            seq,
            rank,
            retry,
            pace,
        } => {
            tickets
                .with_label_values(&[if retry { "duplicate_retry" } else { "queued" }])
                .inc();
            s.wake_admission.course(course);
            let paused = s.admission_paused.is_paused();
            let position = rank + 1;
            Ok(Queued {
                ticket: TicketId {
                    course_id: course,
                    seq,
                },
                position,
                eta_ms: (!paused).then(|| eta_ms(position, pace, s.settings.admission_batch_size)),
                admission_paused: paused,
            })
        }
        Enqueued::AlreadyEnrolled => {
            tickets.with_label_values(&["refused_enrolled"]).inc();
            Err(EnrollError::AlreadyEnrolled)
        }
        Enqueued::Full => {
            s.known_full.put(course, (), Instant::now(), epoch);
            tickets.with_label_values(&["refused_full"]).inc();
            Err(EnrollError::Full)
        }
    }
}

/// Why a cancel was refused.
#[derive(Debug, thiserror::Error)]
pub enum CancelError {
    #[error("registration is not open")]
    Closed,
    #[error("the student holds no seat in this course")]
    NotEnrolled,
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Redis(#[from] redis::RedisError),
}

/// Gives `student`'s seat in `course` back; the next student in line can
/// take it.
pub async fn cancel(s: &Services, student: i64, course: i64) -> Result<(), CancelError> {
    if !s.catalog.window_open(Utc::now()) {
        return Err(CancelError::Closed);
    }
    let announce = s.settings.mail.is_some();
    let ticket = enrollments::cancel(&s.db.primary, student, course, announce)
        .await?
        .ok_or(CancelError::NotEnrolled)?;
    let seq = ticket.as_deref().and_then(TicketId::parse).map(|t| t.seq);
    seats_freed(s, course, Some(Cancelled { student, seq })).await?;
    tracing::info!(
        course_id = course,
        student_id = student,
        "enrollment cancelled"
    );
    Ok(())
}

/// Seats of `course` were freed (a cancel, a capacity raised, a stale flag):
/// clears the full flag in Redis and tells every instance (see
/// [`control::seats_freed`]), forgets the flag here at once, and wakes this
/// instance's admission for the course.
pub async fn seats_freed(
    s: &Services,
    course: i64,
    cancelled: Option<Cancelled>,
) -> redis::RedisResult<()> {
    let mut redis = s.redis.clone();
    control::seats_freed(&mut redis, course, cancelled).await?;
    s.known_full.evict(&course);
    s.wake_admission.course(course);
    Ok(())
}
