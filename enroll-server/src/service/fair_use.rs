//! Fair use, as the API applies it: per-student buckets and the cap on
//! tickets in line (shared through Redis), per-address ceilings (this
//! process's memory). See [`crate::fair_use`].

use std::net::IpAddr;
use std::time::Duration;

use crate::redis::conn::RedisConn;
use prometheus::IntCounterVec;

use crate::fair_use::address::AddressLimiter;
use crate::fair_use::{Limits, Rate, StudentLimit};
use crate::redis::fair_use::{self as gate, Gate, OpenTicket};
use crate::redis::pipeline::Pipeliner;
use crate::redis::retry::{Warnings, WARN_EVERY};

/// Why a request was turned away.
#[derive(Debug, thiserror::Error)]
pub enum FairUseError {
    #[error("too many requests; slow down and retry after the time given")]
    RateLimited {
        limit: &'static str,
        retry_after: Duration,
    },
    #[error("you already hold {cap} tickets in line; wait for their decisions")]
    TooManyOpenTickets { cap: u32 },
    #[error(transparent)]
    Redis(#[from] redis::RedisError),
}

/// The limits and the state they are counted in.
pub struct FairUse {
    limits: Limits,
    gate: Pipeliner,
    reads: Pipeliner,
    redis: RedisConn,
    requests: AddressLimiter,
    logins: AddressLimiter,
    refusals: IntCounterVec,
}

impl FairUse {
    /// `gate` is the pipeline an enroll's check goes through (shared with
    /// the enqueues, and confirmed by replicas as they are), `reads` the one
    /// for the buckets of reads and streams, which acknowledge nothing and
    /// so need no replica; `refusals` counts turned-away requests by limit.
    pub fn new(
        limits: Limits,
        gate: Pipeliner,
        reads: Pipeliner,
        redis: RedisConn,
        refusals: IntCounterVec,
    ) -> Self {
        Self {
            reads,
            requests: AddressLimiter::new(limits.requests_per_address),
            logins: AddressLimiter::new(limits.logins_per_address),
            limits,
            gate,
            redis,
            refusals,
        }
    }

    fn refused(&self, limit: &'static str, retry_after: Duration) -> FairUseError {
        self.refusals.with_label_values(&[limit]).inc();
        FairUseError::RateLimited { limit, retry_after }
    }

    /// A token from `student`'s `limit` bucket.
    pub async fn student(&self, student: i64, limit: StudentLimit) -> Result<(), FairUseError> {
        let rate = self.limits.student(limit);
        match gate::check(&self.reads, student, limit, rate, None).await? {
            Gate::Wait(wait) => Err(self.refused(limit.name(), wait)),
            _ => Ok(()),
        }
    }

    /// A token from `student`'s enroll bucket and a place among their
    /// tickets in line for `course` (kept when they retry the same course).
    /// At the cap, places whose tickets were decided meanwhile are given
    /// back first.
    pub async fn enroll(&self, student: i64, course: i64) -> Result<(), FairUseError> {
        let mut rate = self.limits.enroll;
        let open = (self.limits.open_tickets > 0).then_some(OpenTicket {
            course,
            cap: self.limits.open_tickets,
        });
        let mut pruned = false;
        loop {
            let answer = gate::check(&self.gate, student, StudentLimit::Enroll, rate, open).await?;
            match answer {
                Gate::Go => return Ok(()),
                Gate::Wait(wait) => return Err(self.refused("enroll", wait)),
                Gate::AtCap(cap) if pruned => {
                    self.refusals.with_label_values(&["open_tickets"]).inc();
                    return Err(FairUseError::TooManyOpenTickets { cap });
                }
                Gate::AtCap(cap) => {
                    if gate::prune_decided(&mut self.redis.clone(), student).await? == 0 {
                        self.refusals.with_label_values(&["open_tickets"]).inc();
                        return Err(FairUseError::TooManyOpenTickets { cap });
                    }
                    pruned = true;
                    // The request was counted already; only the place is asked again.
                    rate = Rate::OFF;
                }
            }
        }
    }

    /// Gives back the place [`Self::enroll`] reserved: the enqueue issued no
    /// ticket (the course was full, or the student holds a seat). In the
    /// background: the answer does not wait for it.
    pub fn release(&self, student: i64, course: i64) {
        if self.limits.open_tickets == 0 {
            return;
        }
        let pipeline = self.gate.clone();
        tokio::spawn(async move {
            if let Err(e) = pipeline.call(gate::release_call(student, course)).await {
                static WARNINGS: Warnings = Warnings::new(WARN_EVERY);
                if let Some(left_out) = WARNINGS.due() {
                    tracing::warn!(error = %e, student, course, left_out, "could not give back an open-ticket place");
                }
            }
        });
    }

    /// A request from `addr` under the per-address ceiling.
    pub fn address(&self, addr: IpAddr) -> Result<(), FairUseError> {
        self.requests
            .check(addr)
            .map_err(|wait| self.refused("requests_per_address", wait))
    }

    /// A login attempt from `addr` under the per-address login limit.
    pub fn login(&self, addr: IpAddr) -> Result<(), FairUseError> {
        self.logins
            .check(addr)
            .map_err(|wait| self.refused("logins_per_address", wait))
    }

    /// Forgets addresses that have not asked lately (memory follows the
    /// addresses seen recently).
    pub fn forget_idle(&self) {
        self.requests.forget_idle();
        self.logins.forget_idle();
    }
}
