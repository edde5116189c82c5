//! With `--smtp`: what the SMTP sink received. Waits until the outbox is
//! empty (or nothing has gone out for a minute), then reads the sink's record of every mail (when it was accepted,
//! its Message-ID) for mails per second and how many went out while the
//! rush's requests were being answered.

use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use anyhow::Result;
use serde::Serialize;
use sqlx::PgPool;
use testkit::SmtpSink;

/// Seconds since the Unix epoch, as the sink stamps mails.
pub fn unix_now() -> f64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0.0, |d| d.as_secs_f64())
}

/// The mail figures of one run.
#[derive(Debug, Clone, Serialize)]
pub struct MailFigures {
    /// Enrollment changes written to the outbox.
    pub changes: i64,
    /// Messages (digests) the changes were grouped into.
    pub messages: i64,
    /// Mails the sink accepted.
    pub mails: usize,
    /// Mails with a Message-ID seen before (resends).
    pub duplicates: usize,
    /// Messages marked sent that the sink never got.
    pub lost: i64,
    /// Changes or messages still waiting when rush stopped waiting.
    pub unsent: i64,
    /// Messages parked (refused for good).
    pub parked: i64,
    /// From the first mail to the last, seconds.
    pub span_secs: f64,
    /// Mails per second over that span.
    pub mails_per_sec: f64,
    /// Mails accepted while the rush's requests were being answered.
    pub during_rush: usize,
    /// Mails per second during the rush.
    pub during_rush_per_sec: f64,
    /// From the rush's first request to the last mail, seconds.
    pub last_mail_after_secs: f64,
}

impl MailFigures {
    pub fn line(&self) -> String {
        format!(
            "mail: {} changes in {} messages; {} mails ({} resent, {} lost, {} parked, {} unsent), \
             {:.0} mails/s over {:.1} s; \
             {} ({:.0}/s) while the rush ran; last mail {:.1} s after the first request",
            self.changes,
            self.messages,
            self.mails,
            self.duplicates,
            self.lost,
            self.parked,
            self.unsent,
            self.mails_per_sec,
            self.span_secs,
            self.during_rush,
            self.during_rush_per_sec,
            self.last_mail_after_secs
        )
    }

    pub fn write_json(&self, out: &Path) -> Result<PathBuf> {
        let path = out.join("rush-mail.json");
        std::fs::write(&path, serde_json::to_vec_pretty(self)?)?;
        Ok(path)
    }
}

/// Give up waiting once nothing has gone out for this long (a mail
/// server that stopped answering, mail parked or backing off).
const STALL: Duration = Duration::from_secs(60);
/// Give up waiting after this long in any case.
const MOST: Duration = Duration::from_secs(30 * 60);

/// Changes not yet in a message plus messages not yet sent (nor parked).
async fn waiting(pool: &PgPool) -> Result<i64> {
    Ok(sqlx::query_scalar(
        "SELECT (SELECT count(*) FROM mail_outbox WHERE message_id IS NULL) \
              + (SELECT count(*) FROM mail_messages WHERE state = 'pending')",
    )
    .fetch_one(pool)
    .await?)
}

/// Waits for every change to be mailed — for as long as mail keeps going
/// out (at 50 mails/s, 10,000 students take over three minutes) — then
/// counts. What is still waiting when it gives up is reported, not an error.
pub async fn measure(
    pool: &PgPool,
    sink: &SmtpSink,
    fired_at: f64,
    answered_at: f64,
) -> Result<MailFigures> {
    let started = Instant::now();
    let (mut last, mut moved, mut told) = (i64::MAX, started, started);
    let unsent = loop {
        let now = Instant::now();
        let waiting = waiting(pool).await?;
        if waiting == 0 {
            break 0;
        }
        if waiting < last {
            (last, moved) = (waiting, now);
        }
        if now - moved > STALL || now - started > MOST {
            eprintln!(
                "mail: giving up after {:.0} s with {waiting} changes or mails unsent",
                (now - started).as_secs_f64()
            );
            break waiting;
        }
        if now - told >= Duration::from_secs(15) {
            eprintln!("mail: {waiting} changes or mails still to send");
            told = now;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    let (changes, messages, sent, parked): (i64, i64, i64, i64) = sqlx::query_as(
        "SELECT (SELECT count(*) FROM mail_outbox), (SELECT count(*) FROM mail_messages), \
                (SELECT count(*) FROM mail_messages WHERE state = 'sent'), \
                (SELECT count(*) FROM mail_messages WHERE state = 'parked')",
    )
    .fetch_one(pool)
    .await?;
    let mails = sink.received();
    let mut seen = HashSet::new();
    let duplicates = mails
        .iter()
        .filter(|m| !seen.insert(m.message_id.clone()))
        .count();
    let first = mails.iter().map(|m| m.received_at).fold(f64::MAX, f64::min);
    let last = mails.iter().map(|m| m.received_at).fold(0.0, f64::max);
    let span = (last - first).max(1e-3);
    let during = mails
        .iter()
        .filter(|m| m.received_at >= fired_at && m.received_at <= answered_at)
        .count();
    Ok(MailFigures {
        changes,
        messages,
        mails: mails.len(),
        duplicates,
        lost: (sent - seen.len() as i64).max(0),
        unsent,
        parked,
        span_secs: span,
        mails_per_sec: mails.len().saturating_sub(1) as f64 / span,
        during_rush: during,
        during_rush_per_sec: during as f64 / (answered_at - fired_at).max(1e-3),
        last_mail_after_secs: last - fired_at,
    })
}
