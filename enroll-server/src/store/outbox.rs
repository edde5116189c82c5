//! The mail outbox: changes written in the transaction that makes them,
//! grouped into one message per student (a digest), claimed by one sender
//! at a time, then sent, retried, parked or re-queued.
//!
//! Claims use `FOR UPDATE SKIP LOCKED` plus a lease (`claimed_until`): two
//! senders never take the same row, and the rows of a sender that died
//! are taken over once its lease has run out. Times that decide a retry or
//! a lease come from the caller's clock, so they can be driven in tests.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use sqlx::types::Json;
use sqlx::{PgConnection, PgPool};

use crate::domain::mail::{Change, Language, ParkedMail};
use crate::domain::schedule::Meeting;

/// Records `change` of `(students[i], courses[i])` in the outbox, inside
/// the caller's transaction: the hook for every change that is announced
/// by mail (force-add and drop call it with [`Change::Added`] and
/// [`Change::Dropped`]).
pub async fn announce(
    tx: &mut PgConnection,
    students: &[i64],
    courses: &[i64],
    change: Change,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO mail_outbox (student_id, course_id, change) \
         SELECT s, c, $3 FROM UNNEST($1::bigint[], $2::bigint[]) AS u(s, c)",
    )
    .bind(students)
    .bind(courses)
    .bind(change.as_str())
    .execute(tx)
    .await?;
    Ok(())
}

/// Groups the changes that are due into messages: every student who has a
/// change committed at or before `cutoff` (looking at no more than `limit`
/// of them) gets one message holding all their changes not yet in one.
/// Returns how many messages were made. Rows another sender is grouping are
/// skipped.
pub async fn seal_due(
    pool: &PgPool,
    cutoff: DateTime<Utc>,
    now: DateTime<Utc>,
    limit: i64,
) -> Result<u64, sqlx::Error> {
    let mut tx = pool.begin().await?;
    let rows: Vec<(i64, i64, DateTime<Utc>)> = sqlx::query_as(
        "SELECT id, student_id, created_at FROM mail_outbox \
         WHERE message_id IS NULL AND student_id IN ( \
             SELECT student_id FROM mail_outbox \
             WHERE message_id IS NULL AND created_at <= $1 ORDER BY created_at LIMIT $2) \
         ORDER BY id FOR UPDATE SKIP LOCKED",
    )
    .bind(cutoff)
    .bind(limit)
    .fetch_all(&mut *tx)
    .await?;
    if rows.is_empty() {
        return Ok(0);
    }
    // Student → (their oldest change, the changes).
    let mut by_student: BTreeMap<i64, (DateTime<Utc>, Vec<i64>)> = BTreeMap::new();
    for (id, student, at) in rows {
        let entry = by_student.entry(student).or_insert((at, Vec::new()));
        entry.0 = entry.0.min(at);
        entry.1.push(id);
    }
    let students: Vec<i64> = by_student.keys().copied().collect();
    let firsts: Vec<DateTime<Utc>> = by_student.values().map(|v| v.0).collect();
    let messages: Vec<(i64, i64)> = sqlx::query_as(
        "INSERT INTO mail_messages (student_id, first_change_at, next_attempt_at) \
         SELECT s, f, $3 FROM UNNEST($1::bigint[], $2::timestamptz[]) AS u(s, f) \
         RETURNING student_id, id",
    )
    .bind(&students)
    .bind(&firsts)
    .bind(now)
    .fetch_all(&mut *tx)
    .await?;
    let (mut change_ids, mut message_ids) = (Vec::new(), Vec::new());
    for (student, message) in &messages {
        for &change in &by_student[student].1 {
            change_ids.push(change);
            message_ids.push(*message);
        }
    }
    sqlx::query(
        "UPDATE mail_outbox o SET message_id = u.m \
         FROM UNNEST($1::bigint[], $2::bigint[]) AS u(c, m) WHERE o.id = u.c",
    )
    .bind(&change_ids)
    .bind(&message_ids)
    .execute(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok(messages.len() as u64)
}

/// A message claimed for sending, with its recipient.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct Claimed {
    pub id: i64,
    pub created_at: DateTime<Utc>,
    /// Attempts including this one.
    pub attempts: i32,
    pub email: String,
    pub name: String,
    #[sqlx(try_from = "String")]
    pub language: LanguageColumn,
}

/// [`Language`] as read from its column.
#[derive(Debug, Clone, Copy)]
pub struct LanguageColumn(pub Language);

impl From<String> for LanguageColumn {
    fn from(s: String) -> Self {
        Self(Language::parse(&s))
    }
}

/// Claims up to `limit` pending messages that are due at `now` and that no
/// live claim holds, for `me` until `until`; each claim counts an attempt.
pub async fn claim(
    pool: &PgPool,
    me: &str,
    now: DateTime<Utc>,
    until: DateTime<Utc>,
    limit: i64,
) -> Result<Vec<Claimed>, sqlx::Error> {
    sqlx::query_as(
        "WITH claimed AS ( \
             UPDATE mail_messages m SET claimed_by = $1, claimed_until = $3, attempts = attempts + 1 \
             WHERE id IN (SELECT id FROM mail_messages \
                          WHERE state = 'pending' AND next_attempt_at <= $2 \
                            AND (claimed_until IS NULL OR claimed_until <= $2) \
                          ORDER BY next_attempt_at, id LIMIT $4 FOR UPDATE SKIP LOCKED) \
             RETURNING m.id, m.student_id, m.created_at, m.attempts) \
         SELECT c.id, c.created_at, c.attempts, s.email, s.name, s.mail_language AS language \
         FROM claimed c JOIN students s ON s.id = c.student_id ORDER BY c.id",
    )
    .bind(me)
    .bind(now)
    .bind(until)
    .bind(limit)
    .fetch_all(pool)
    .await
}

/// One change as a message tells it.
#[derive(Debug, Clone, PartialEq)]
pub struct ChangeLine {
    pub change: Change,
    pub code: String,
    pub name: String,
    pub schedule: Vec<Meeting>,
}

/// `(message, change, code, name, schedule)`.
type ChangeRow = (i64, String, String, String, Json<Vec<Meeting>>);

/// The changes each message announces, in the order they happened.
pub async fn changes_of(
    pool: &PgPool,
    messages: &[i64],
) -> Result<BTreeMap<i64, Vec<ChangeLine>>, sqlx::Error> {
    let rows: Vec<ChangeRow> = sqlx::query_as(
        "SELECT o.message_id, o.change, c.code, c.name, c.schedule \
         FROM mail_outbox o JOIN courses c ON c.id = o.course_id \
         WHERE o.message_id = ANY($1) ORDER BY o.id",
    )
    .bind(messages)
    .fetch_all(pool)
    .await?;
    let mut out: BTreeMap<i64, Vec<ChangeLine>> = BTreeMap::new();
    for (message, change, code, name, Json(schedule)) in rows {
        let Some(change) = Change::parse(&change) else {
            continue;
        };
        out.entry(message).or_default().push(ChangeLine {
            change,
            code,
            name,
            schedule,
        });
    }
    Ok(out)
}

/// The mail server took these messages.
pub async fn mark_sent(pool: &PgPool, ids: &[i64], now: DateTime<Utc>) -> Result<(), sqlx::Error> {
    sqlx::query(
        "UPDATE mail_messages SET state = 'sent', sent_at = $2, claimed_by = NULL, \
         claimed_until = NULL, last_error = NULL WHERE id = ANY($1)",
    )
    .bind(ids)
    .bind(now)
    .execute(pool)
    .await?;
    Ok(())
}

/// These messages failed for now: each is tried again at `at[i]`.
pub async fn retry_later(
    pool: &PgPool,
    ids: &[i64],
    at: &[DateTime<Utc>],
    errors: &[String],
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "UPDATE mail_messages m SET next_attempt_at = u.at, last_error = u.err, \
         claimed_by = NULL, claimed_until = NULL \
         FROM UNNEST($1::bigint[], $2::timestamptz[], $3::text[]) AS u(id, at, err) \
         WHERE m.id = u.id AND m.state = 'pending'",
    )
    .bind(ids)
    .bind(at)
    .bind(errors)
    .execute(pool)
    .await?;
    Ok(())
}

/// These messages were refused for good (or ran out of attempts): they
/// wait for an operator.
pub async fn park(
    pool: &PgPool,
    ids: &[i64],
    errors: &[String],
    now: DateTime<Utc>,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "UPDATE mail_messages m SET state = 'parked', parked_at = $3, last_error = u.err, \
         claimed_by = NULL, claimed_until = NULL \
         FROM UNNEST($1::bigint[], $2::text[]) AS u(id, err) \
         WHERE m.id = u.id AND m.state = 'pending'",
    )
    .bind(ids)
    .bind(errors)
    .bind(now)
    .execute(pool)
    .await?;
    Ok(())
}

/// Parked messages, oldest first, from id `after` on (for paging).
pub async fn parked(pool: &PgPool, after: i64, limit: i64) -> Result<Vec<ParkedMail>, sqlx::Error> {
    sqlx::query_as(
        "SELECT m.id, m.student_id, s.student_no, s.email, \
                (SELECT count(*) FROM mail_outbox o WHERE o.message_id = m.id) AS changes, \
                m.attempts, m.last_error, m.created_at, m.parked_at, m.requeued_by, m.requeued_at \
         FROM mail_messages m JOIN students s ON s.id = m.student_id \
         WHERE m.state = 'parked' AND m.id > $1 ORDER BY m.id LIMIT $2",
    )
    .bind(after)
    .bind(limit)
    .fetch_all(pool)
    .await
}

/// Puts parked messages back in line with fresh attempts, recording who
/// asked; `None` re-queues every parked message. Returns the ids re-queued.
pub async fn requeue(
    pool: &PgPool,
    ids: Option<&[i64]>,
    by: &str,
    now: DateTime<Utc>,
) -> Result<Vec<i64>, sqlx::Error> {
    sqlx::query_scalar(
        "UPDATE mail_messages SET state = 'pending', attempts = 0, next_attempt_at = $2, \
         parked_at = NULL, requeued_by = $3, requeued_at = $2 \
         WHERE state = 'parked' AND ($1::bigint[] IS NULL OR id = ANY($1)) RETURNING id",
    )
    .bind(ids)
    .bind(now)
    .bind(by)
    .fetch_all(pool)
    .await
}

/// What waits to be sent.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Backlog {
    /// When the oldest change not yet sent (nor parked) was committed.
    pub oldest: Option<DateTime<Utc>>,
    /// Changes not yet in a message.
    pub unsealed: i64,
    /// Messages waiting to be sent (or retried).
    pub pending: i64,
    /// Messages parked for an operator.
    pub parked: i64,
}

/// The backlog, in one round trip.
pub async fn backlog(pool: &PgPool) -> Result<Backlog, sqlx::Error> {
    let (a, b, unsealed, pending, parked): (
        Option<DateTime<Utc>>,
        Option<DateTime<Utc>>,
        i64,
        i64,
        i64,
    ) = sqlx::query_as(
        "SELECT (SELECT min(created_at) FROM mail_outbox WHERE message_id IS NULL), \
                (SELECT min(first_change_at) FROM mail_messages WHERE state = 'pending'), \
                (SELECT count(*) FROM mail_outbox WHERE message_id IS NULL), \
                (SELECT count(*) FROM mail_messages WHERE state = 'pending'), \
                (SELECT count(*) FROM mail_messages WHERE state = 'parked')",
    )
    .fetch_one(pool)
    .await?;
    let oldest = match (a, b) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, b) => a.or(b),
    };
    Ok(Backlog {
        oldest,
        unsealed,
        pending,
        parked,
    })
}
