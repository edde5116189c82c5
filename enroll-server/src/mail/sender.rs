//! The sender: one step ([`Sender::tick`]) groups due changes into
//! digests, claims a handful of messages, sends them at the configured
//! rate and records each outcome; [`Sender::run`] repeats it.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use anyhow::Result;
use chrono::{DateTime, Utc};
use futures::StreamExt;
use sqlx::PgPool;

use super::pace::{retry_delay, Clock, RatePacer};
use super::smtp::{SendFailure, Smtp};
use super::template::compose;
use crate::config::MailSettings;
use crate::metrics::MailMetrics;
use crate::store::outbox::{self, Backlog, ChangeLine, Claimed};

/// Mails in flight at once per instance (and SMTP connections held).
pub const CONCURRENCY: usize = 4;
/// Changes looked at per grouping step.
const SEAL_LIMIT: i64 = 2000;
/// Messages claimed at most per step.
const CLAIM_LIMIT: i64 = 64;
/// Mails sent between two writes of their outcomes.
const RECORD_EVERY: usize = 16;
/// How often an idle sender looks for work.
const IDLE_POLL: Duration = Duration::from_millis(500);
/// How often the backlog gauges are read from the database.
const BACKLOG_EVERY: Duration = Duration::from_secs(5);

/// What one step did.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Tick {
    /// Messages made from changes.
    pub sealed: u64,
    pub claimed: usize,
    pub sent: usize,
    pub retried: usize,
    pub parked: usize,
}

/// How one claimed message fared.
enum Fate {
    Sent,
    Failed(SendFailure),
    /// Not tried: the server was unreachable for an earlier one of the step.
    Untried,
}

/// Sends the outbox's mail; any number of instances may run one.
pub struct Sender {
    pool: PgPool,
    settings: MailSettings,
    smtp: Smtp,
    clock: Arc<dyn Clock>,
    pacer: RatePacer,
    metrics: MailMetrics,
    /// This sender's name in claims.
    me: String,
}

impl Sender {
    pub fn new(
        pool: PgPool,
        settings: MailSettings,
        metrics: MailMetrics,
        clock: Arc<dyn Clock>,
    ) -> Result<Self> {
        let smtp = Smtp::new(&settings, CONCURRENCY as u32)?;
        let me = format!("{}-{:08x}", std::process::id(), rand::random::<u32>());
        Ok(Self {
            pool,
            pacer: RatePacer::new(settings.rate),
            settings,
            smtp,
            clock,
            metrics,
            me,
        })
    }

    /// Messages claimed per step: what the rate lets go within a quarter
    /// of the claim's lease, so a claim never outlives its sends.
    fn claim_size(&self) -> i64 {
        let rate = self.settings.rate;
        if rate.is_off() {
            return CLAIM_LIMIT;
        }
        let quarter = self.settings.claim_lease / 4;
        let fits = quarter.as_secs_f64() / rate.interval.as_secs_f64().max(1e-9);
        (fits as i64 + rate.burst as i64).clamp(1, CLAIM_LIMIT)
    }

    /// One step: digests, one claim, its sends, their outcomes.
    pub async fn tick(&self) -> Result<Tick, sqlx::Error> {
        let now = self.clock.now();
        let window = chrono::Duration::from_std(self.settings.digest_window).unwrap_or_default();
        let sealed = outbox::seal_due(&self.pool, now - window, now, SEAL_LIMIT).await?;
        self.metrics.queued.inc_by(sealed);
        let until = now + chrono::Duration::from_std(self.settings.claim_lease).unwrap_or_default();
        let claimed = outbox::claim(&self.pool, &self.me, now, until, self.claim_size()).await?;
        let mut tick = Tick {
            sealed,
            claimed: claimed.len(),
            ..Tick::default()
        };
        if claimed.is_empty() {
            return Ok(tick);
        }
        let ids: Vec<i64> = claimed.iter().map(|c| c.id).collect();
        let mut changes = outbox::changes_of(&self.pool, &ids).await?;
        let unreachable = AtomicBool::new(false);
        // Outcomes are written every few mails: a crash resends at most
        // the mails of one group (with their Message-IDs).
        let mut claimed = claimed.into_iter().peekable();
        while claimed.peek().is_some() {
            let group: Vec<Claimed> = claimed.by_ref().take(RECORD_EVERY).collect();
            let fates: Vec<(Claimed, Fate)> = futures::stream::iter(group)
                .map(|c| {
                    let lines = changes.remove(&c.id).unwrap_or_default();
                    let unreachable = &unreachable;
                    async move {
                        let fate = self.deliver(&c, &lines, unreachable).await;
                        (c, fate)
                    }
                })
                .buffer_unordered(CONCURRENCY)
                .collect()
                .await;
            self.record(fates, &mut tick).await?;
        }
        Ok(tick)
    }

    /// Sends one message, in its turn under the rate limit.
    async fn deliver(&self, c: &Claimed, lines: &[ChangeLine], unreachable: &AtomicBool) -> Fate {
        if lines.is_empty() {
            // Nothing left to tell (cannot happen while courses are kept).
            return Fate::Sent;
        }
        let body = compose(c.language.0, &c.name, lines, &self.settings.page_url);
        let id = self.smtp.message_id(c.id, c.created_at.timestamp_micros());
        let message = match self.smtp.message(&c.name, &c.email, id, &body) {
            Ok(m) => m,
            Err(failure) => return Fate::Failed(failure),
        };
        self.pacer.turn().await;
        if unreachable.load(Ordering::Relaxed) {
            return Fate::Untried;
        }
        match self.smtp.send(message).await {
            Ok(()) => Fate::Sent,
            Err(f) => {
                if f.code.is_none() && !f.permanent {
                    unreachable.store(true, Ordering::Relaxed);
                }
                Fate::Failed(f)
            }
        }
    }

    /// Writes the outcomes of one step: sent, retried later, parked.
    async fn record(
        &self,
        fates: Vec<(Claimed, Fate)>,
        tick: &mut Tick,
    ) -> Result<(), sqlx::Error> {
        let now = self.clock.now();
        let (mut sent, mut retry, mut park) = (Vec::new(), Retry::default(), Retry::default());
        for (c, fate) in fates {
            match fate {
                Fate::Sent => sent.push(c.id),
                Fate::Untried => {
                    let delay = retry_delay(c.attempts, self.settings.retry_max, c.id);
                    retry.push(
                        c.id,
                        at(now, delay),
                        "not tried: the mail server was unreachable",
                    );
                    self.metrics.retried.with_label_values(&["network"]).inc();
                }
                Fate::Failed(f)
                    if f.permanent || c.attempts >= self.settings.max_attempts as i32 =>
                {
                    tracing::warn!(
                        mail = c.id,
                        attempts = c.attempts,
                        reply = %f.kind(),
                        "mail parked for an operator (GET /api/v1/admin/mail/parked)"
                    );
                    park.push(c.id, now, &f.detail);
                    self.metrics.parked.inc();
                }
                Fate::Failed(f) => {
                    let delay = retry_delay(c.attempts, self.settings.retry_max, c.id);
                    tracing::info!(mail = c.id, attempts = c.attempts, reply = %f.kind(), ?delay, "mail will be tried again");
                    let reason = if f.code.is_some() {
                        "transient"
                    } else {
                        "network"
                    };
                    self.metrics.retried.with_label_values(&[reason]).inc();
                    retry.push(c.id, at(now, delay), &f.detail);
                }
            }
        }
        if !sent.is_empty() {
            outbox::mark_sent(&self.pool, &sent, now).await?;
            self.metrics.sent.inc_by(sent.len() as u64);
        }
        if !retry.ids.is_empty() {
            outbox::retry_later(&self.pool, &retry.ids, &retry.at, &retry.errors).await?;
        }
        if !park.ids.is_empty() {
            outbox::park(&self.pool, &park.ids, &park.errors, now).await?;
        }
        tick.sent += sent.len();
        tick.retried += retry.ids.len();
        tick.parked += park.ids.len();
        Ok(())
    }

    /// Reads the backlog and sets the gauges.
    pub async fn refresh_backlog(&self) -> Result<Backlog, sqlx::Error> {
        let b = outbox::backlog(&self.pool).await?;
        let age = b.oldest.map_or(0.0, |t| {
            (self.clock.now() - t).num_milliseconds().max(0) as f64 / 1000.0
        });
        let m = &self.metrics;
        m.oldest_unsent_age.set(age);
        m.backlog.with_label_values(&["changes"]).set(b.unsealed);
        m.backlog.with_label_values(&["pending"]).set(b.pending);
        m.backlog.with_label_values(&["parked"]).set(b.parked);
        Ok(b)
    }

    /// Sends for as long as the process lives: a step after another while
    /// there is work, one every half second when there is none; the
    /// backlog gauges every five seconds.
    pub async fn run(self) {
        tracing::info!(
            host = %self.settings.host,
            port = self.settings.port,
            tls = ?self.settings.tls,
            "enrollment mail on"
        );
        let mut backlog_due = tokio::time::Instant::now();
        loop {
            if tokio::time::Instant::now() >= backlog_due {
                if let Err(err) = self.refresh_backlog().await {
                    tracing::warn!(error = %err, "could not read the mail backlog");
                }
                backlog_due = tokio::time::Instant::now() + BACKLOG_EVERY;
            }
            match self.tick().await {
                Ok(t) if t.claimed > 0 || t.sealed > 0 => {}
                Ok(_) => tokio::time::sleep(IDLE_POLL).await,
                Err(err) => {
                    tracing::warn!(error = %err, "mail step failed; will retry");
                    tokio::time::sleep(IDLE_POLL).await;
                }
            }
        }
    }
}

/// Messages to retry or park, as the store wants them.
#[derive(Default)]
struct Retry {
    ids: Vec<i64>,
    at: Vec<DateTime<Utc>>,
    errors: Vec<String>,
}

impl Retry {
    fn push(&mut self, id: i64, at: DateTime<Utc>, error: &str) {
        self.ids.push(id);
        self.at.push(at);
        // The reply as the server gave it, bounded.
        self.errors.push(error.chars().take(500).collect());
    }
}

fn at(now: DateTime<Utc>, delay: Duration) -> DateTime<Utc> {
    now + chrono::Duration::from_std(delay).unwrap_or_default()
}
