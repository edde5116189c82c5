//! With `--smtp`: what the SMTP sink received. Waits until the outbox is
//! empty, then reads the sink's record of every mail (when it was accepted,
//! its Message-ID) for mails per second and how many went out while the
//! rush's requests were being answered.

use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use anyhow::{bail, Result};
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
    /// Mails the sink accepted.
    pub mails: usize,
    /// Mails with a Message-ID seen before (resends).
    pub duplicates: usize,
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
            "mail: {} changes in {} mails ({} resent), {:.0} mails/s over {:.1} s; \
             {} ({:.0}/s) while the rush ran; last mail {:.1} s after the first request",
            self.changes,
            self.mails,
            self.duplicates,
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

/// Waits (up to five minutes) for every change to be mailed, then counts.
pub async fn measure(
    pool: &PgPool,
    sink: &SmtpSink,
    fired_at: f64,
    answered_at: f64,
) -> Result<MailFigures> {
    let deadline = Instant::now() + Duration::from_secs(300);
    loop {
        let waiting: i64 = sqlx::query_scalar(
            "SELECT (SELECT count(*) FROM mail_outbox WHERE message_id IS NULL) \
                  + (SELECT count(*) FROM mail_messages WHERE state = 'pending')",
        )
        .fetch_one(pool)
        .await?;
        if waiting == 0 {
            break;
        }
        if Instant::now() > deadline {
            bail!("{waiting} changes or mails still unsent after five minutes");
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let changes: i64 = sqlx::query_scalar("SELECT count(*) FROM mail_outbox")
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
        mails: mails.len(),
        duplicates,
        span_secs: span,
        mails_per_sec: mails.len().saturating_sub(1) as f64 / span,
        during_rush: during,
        during_rush_per_sec: during as f64 / (answered_at - fired_at).max(1e-3),
        last_mail_after_secs: last - fired_at,
    })
}
