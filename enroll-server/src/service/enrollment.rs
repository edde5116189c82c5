//! Enrolling and giving a seat back.

use std::net::IpAddr;
use std::time::Instant;

use rand::Rng;

use chrono::{DateTime, Utc};

use crate::domain::phase::{self, Phase};
use crate::events::waitlist::Move;
use crate::pace::eta_ms;
use crate::redis::control::{self, Cancelled};
use crate::redis::enqueue::Enqueued;
use crate::service::accounts;
use crate::service::fair_use::FairUseError;
use crate::service::recovery;
use crate::session::Session;
use crate::state::Services;
use crate::store::audit::By;
use crate::store::cancel as store_cancel;
use crate::store::waitlist::{Promotion, Rules};
use crate::store::StoreError;
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

/// Why a student may not change their enrollments now.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum GateError {
    /// No phase is open for anyone.
    #[error("registration is not open")]
    Closed { opens_at: Option<DateTime<Utc>> },
    /// Phases are open, but none that includes this student.
    #[error("registration is not open for you yet")]
    NotYourPhase { opens_at: Option<DateTime<Utc>> },
}

impl GateError {
    /// When a phase next opens for the student (`None`: none will).
    pub fn opens_at(&self) -> Option<DateTime<Utc>> {
        match self {
            Self::Closed { opens_at } | Self::NotYourPhase { opens_at } => *opens_at,
        }
    }
}

/// Whether `session`'s student may enroll or cancel at `now`: while a phase
/// that includes them is open (from the snapshot; the student's year and
/// department come with the session). The outer error: the database could
/// not be read.
pub async fn gate(
    s: &Services,
    session: &Session,
    now: DateTime<Utc>,
) -> Result<Result<(), GateError>, StoreError> {
    let phases = s.catalog.phases();
    let cohort = accounts::cohort(s, session).await?;
    Ok(
        match phase::admits(&phases, &session.student_no, &cohort, now) {
            Ok(()) => Ok(()),
            Err(opens_at) if phases.iter().any(|p| p.is_open(now)) => {
                Err(GateError::NotYourPhase { opens_at })
            }
            Err(opens_at) => Err(GateError::Closed { opens_at }),
        },
    )
}

/// Why an enroll request was refused.
#[derive(Debug, thiserror::Error)]
pub enum EnrollError {
    #[error(transparent)]
    Gate(#[from] GateError),
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
pub async fn enroll(
    s: &Services,
    session: &Session,
    course: i64,
    from: IpAddr,
) -> Result<Queued, EnrollError> {
    let tickets = &s.metrics.tickets;
    let student = session.student_id;
    if let Err(e) = gate(s, session, Utc::now()).await? {
        tickets.with_label_values(&["refused_closed"]).inc();
        return Err(e.into());
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
    let answer = s.enqueuer.enqueue(course, student, from).await?;
    if !matches!(answer, Enqueued::Queued { .. }) {
        s.fair_use.release(student, course);
    }
    match answer {
        Enqueued::Queued {
            seq,
            rank,
            retry,
            pace,
            head,
        } => {
            tickets
                .with_label_values(&[if retry { "duplicate_retry" } else { "queued" }])
                .inc();
            s.wake_admission.course(course);
            let ticket = TicketId {
                course_id: course,
                seq,
            };
            // The student's streams held here follow its place from now on,
            // starting from the place the script just read (no read of their
            // own).
            s.events.follow(student, ticket, Some((rank, head, pace)));
            let paused = s.admission_paused.is_paused();
            let position = rank + 1;
            Ok(Queued {
                ticket,
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
    #[error(transparent)]
    Gate(#[from] GateError),
    #[error("the student holds no seat in this course")]
    NotEnrolled,
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Redis(#[from] redis::RedisError),
}

/// What waitlist promotion weighs heads by, now.
pub fn rules<'a>(s: &Services, phases: &'a [Phase]) -> Rules<'a> {
    Rules {
        phases,
        credit_limit: s.settings.credit_limit,
        now: Utc::now(),
        announce: s.settings.mail.is_some(),
    }
}

/// Gives `student`'s seat in `course` back: to the course's waitlist if it
/// has one, else — after a random delay when one is configured — to the
/// next student in line.
pub async fn cancel(
    s: &Services,
    session: &Session,
    course: i64,
    from: IpAddr,
) -> Result<(), CancelError> {
    let student = session.student_id;
    gate(s, session, Utc::now()).await??;
    let by = By::student(from);
    let phases = s.catalog.phases();
    let rules = rules(s, &phases);
    let withhold_until = s.settings.release_delay.map(|(min, max)| {
        let secs = rand::thread_rng().gen_range(min.as_secs_f64()..=max.as_secs_f64());
        rules.now + chrono::Duration::milliseconds((secs * 1000.0) as i64)
    });
    let done = store_cancel::cancel(&s.db.primary, student, course, by, &rules, withhold_until)
        .await?
        .ok_or(CancelError::NotEnrolled)?;
    promoted(s, course, &done.promoted).await;
    let seq = done
        .ticket
        .as_deref()
        .and_then(TicketId::parse)
        .map(|t| t.seq);
    let cancelled = Cancelled { student, seq };
    if done.withheld.is_some() {
        // Not announced: the seat reopens when nobody is watching for it.
        let mut redis = s.redis.clone();
        control::ticket_cancelled(&mut redis, course, cancelled).await?;
    } else {
        seats_freed(s, course, Some(cancelled)).await?;
    }
    tracing::info!(
        course_id = course,
        student_id = student,
        "enrollment cancelled"
    );
    Ok(())
}

/// What a freed seat did for the waitlist, once committed: counted,
/// logged (no student named) and pushed to the students' event streams
/// (a failure to publish is logged: the page reads its waitlist again on
/// `resync`).
pub async fn promoted(s: &Services, course: i64, p: &Promotion) {
    let mut moves: Vec<Move> = p
        .given
        .iter()
        .map(|g| Move {
            student: g.student,
            course_id: course,
            status: if g.offered_until.is_some() {
                "offered"
            } else {
                "enrolled"
            }
            .into(),
            reason: None,
            offer_expires_at: g.offered_until,
        })
        .collect();
    moves.extend(p.skipped.iter().map(|&(student, reason)| Move {
        student,
        course_id: course,
        status: "skipped".into(),
        reason: Some(reason.into()),
        offer_expires_at: None,
    }));
    let mut redis = s.redis.clone();
    if let Err(err) = control::waitlist_moved(&mut redis, &moves).await {
        tracing::warn!(error = %err, course_id = course, "could not publish waitlist moves");
    }
    let moves = &s.metrics.registrar.waitlist_moves;
    for g in &p.given {
        let outcome = if g.offered_until.is_some() {
            "offered"
        } else {
            "enrolled"
        };
        moves.with_label_values(&[outcome]).inc();
    }
    moves
        .with_label_values(&["skipped"])
        .inc_by(p.skipped.len() as u64);
    if !p.given.is_empty() || !p.skipped.is_empty() {
        tracing::info!(
            course_id = course,
            given = p.given.len(),
            skipped = p.skipped.len(),
            "waitlist moved"
        );
    }
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
