//! Waitlists as students use them: join a full course's list, see their
//! place, leave; accept or decline a seat offered to them. Offers past
//! their deadline are withdrawn every second (on whichever instance gets
//! there first) and their seats go to the next head.

use chrono::Utc;

use super::accounts;
use super::enrollment::{gate, promoted, rules, seats_freed, GateError};
use crate::session::Session;
use crate::state::Services;
use crate::store::offers::{self, Accepted};
use crate::store::waitlist::{self, Joined, Place};
use crate::store::withheld;
use crate::store::StoreError;

/// Why a waitlist request was refused.
#[derive(Debug, thiserror::Error)]
pub enum WaitlistError {
    #[error(transparent)]
    Gate(#[from] GateError),
    #[error("no such course")]
    CourseNotFound,
    #[error("this course keeps no waitlist")]
    Off,
    #[error("you already hold a seat in this course")]
    AlreadyEnrolled,
    #[error("you are on this course's waitlist already")]
    AlreadyWaiting,
    #[error("a seat is left for you: enroll instead")]
    SeatsLeft,
    #[error("the waitlist is full")]
    Full,
    #[error("you are not on this course's waitlist")]
    NotWaiting,
    #[error("no seat is offered to you in this course")]
    NoOffer,
    #[error("the offer has expired")]
    Expired,
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Redis(#[from] redis::RedisError),
}

impl From<sqlx::Error> for WaitlistError {
    fn from(e: sqlx::Error) -> Self {
        Self::Store(e.into())
    }
}

/// Puts the student on a full course's waitlist (while a phase of theirs
/// is open); their 1-based place.
pub async fn join(s: &Services, session: &Session, course: i64) -> Result<i64, WaitlistError> {
    gate(s, session, Utc::now()).await??;
    let cohort = accounts::cohort(s, session).await?;
    match waitlist::join(&s.db.primary, session.student_id, course, &cohort).await? {
        Joined::At(position) => Ok(position),
        Joined::NoCourse => Err(WaitlistError::CourseNotFound),
        Joined::Off => Err(WaitlistError::Off),
        Joined::AlreadyEnrolled => Err(WaitlistError::AlreadyEnrolled),
        Joined::AlreadyWaiting => Err(WaitlistError::AlreadyWaiting),
        Joined::SeatsLeft => Err(WaitlistError::SeatsLeft),
        Joined::Full => Err(WaitlistError::Full),
    }
}

pub async fn leave(s: &Services, student: i64, course: i64) -> Result<(), WaitlistError> {
    if !waitlist::leave(&s.db.primary, student, course).await? {
        return Err(WaitlistError::NotWaiting);
    }
    Ok(())
}

pub async fn mine(s: &Services, student: i64) -> Result<Vec<Place>, WaitlistError> {
    Ok(waitlist::mine(&s.db.primary, student).await?)
}

/// Takes the seat offered, before its deadline.
pub async fn accept(s: &Services, student: i64, course: i64) -> Result<(), WaitlistError> {
    let announce = s.settings.mail.is_some();
    match offers::accept(&s.db.primary, student, course, Utc::now(), announce).await? {
        Accepted::Enrolled => Ok(()),
        Accepted::NoOffer => Err(WaitlistError::NoOffer),
        Accepted::Expired => Err(WaitlistError::Expired),
    }
}

/// Declines the seat offered; the next head gets it, else the queue.
pub async fn decline(s: &Services, student: i64, course: i64) -> Result<(), WaitlistError> {
    let phases = s.catalog.phases();
    let moved = offers::decline(&s.db.primary, student, course, &rules(s, &phases))
        .await?
        .ok_or(WaitlistError::NoOffer)?;
    promoted(s, course, &moved).await;
    if moved.left > 0 {
        seats_freed(s, course, None).await?;
    }
    Ok(())
}

/// Withdraws the offers past their deadline now; the next heads get the
/// seats, else the queue.
pub async fn expire_due(s: &Services) -> Result<(), WaitlistError> {
    let phases = s.catalog.phases();
    for (course, moved) in offers::expire_due(&s.db.primary, &rules(s, &phases)).await? {
        promoted(s, course, &moved).await;
        if moved.left > 0 {
            seats_freed(s, course, None).await?;
        }
    }
    Ok(())
}

/// Reopens the seats whose withholding delay has passed: the waitlist
/// first, else the queue.
pub async fn release_withheld(s: &Services) -> Result<(), WaitlistError> {
    let phases = s.catalog.phases();
    for (course, moved) in withheld::release_due(&s.db.primary, &rules(s, &phases)).await? {
        tracing::info!(course_id = course, "withheld seat reopened");
        promoted(s, course, &moved).await;
        if moved.left > 0 {
            seats_freed(s, course, None).await?;
        }
    }
    Ok(())
}
