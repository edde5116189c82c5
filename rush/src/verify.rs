//! Reading what the rush left behind — the database rows and every issued
//! ticket — and running the checks of [`crate::check`] over it.

use std::collections::HashMap;

use anyhow::{Context, Result};

use crate::check::cart::{self as cart_check, Carts};
use crate::check::waitlist::{self, EventRow, PlaceRow, SeatRow};
use crate::check::{
    self, AuditRow, BlockRow, CourseRow, EnrollmentRow, Facts, IssuedTicket, PoolRow,
};
use crate::churn::ChurnOutcome;
use crate::fault::Ledger;
use crate::report::WaitlistFigures;
use crate::wave::WaveOutcome;

/// What a scenario or a fault adds to the checks.
#[derive(Default)]
pub struct Extras<'a> {
    /// `--scenario waitlist`: the seats given back and the joins.
    pub churn: Option<&'a ChurnOutcome>,
    /// `--scenario cart`: the carts the close settled.
    pub carts: Option<Carts<'a>>,
    /// `--fault`: every acknowledged ticket against the database.
    pub ledger: Option<&'a Ledger>,
}

/// Reads the database and the issued tickets and runs every check over
/// the `pre`-rush wave and the `rush`; returns the violations and, from
/// Redis, when each ticket was decided (ticket id → Unix ms, as the server
/// stamped it). With `churn` (`--scenario waitlist`) invariants 3, 4 and 6
/// allow for the seats given back, and invariant 8 is checked too; with
/// `carts` (`--scenario cart`) invariant 4 counts the seats the cart's close
/// gave, and invariant 9 checks that close. After a fault (`ledger`), the
/// tickets Redis forgot are taken from the database and the tool, and the
/// lost ones are the ledger's to judge.
pub async fn check_invariants(
    facts: &Facts<'_>,
    pool: &sqlx::PgPool,
    redis_url: Option<&str>,
    [pre, rush]: [&WaveOutcome; 2],
    Extras {
        churn,
        carts,
        ledger,
    }: Extras<'_>,
) -> Result<(Vec<String>, HashMap<String, i64>, Option<WaitlistFigures>)> {
    let waves = [pre, rush];
    let courses: Vec<CourseRow> = sqlx::query_as(
        "SELECT id, capacity, enrolled, (SELECT count(*) FROM enrollments e WHERE e.course_id = c.id) FROM courses c WHERE id = ANY($1)",
    )
    .bind(facts.course_ids)
    .fetch_all(pool)
    .await?;
    let rows: Vec<EnrollmentRow> = sqlx::query_as(
        "SELECT student_id, course_id, ticket, block FROM enrollments WHERE course_id = ANY($1)",
    )
    .bind(facts.course_ids)
    .fetch_all(pool)
    .await?;
    let blocks: Vec<BlockRow> = sqlx::query_as(
        "SELECT course_id, name, seats, enrolled, \
                (SELECT count(*) FROM enrollments e WHERE e.course_id = b.course_id AND e.block = b.name) \
         FROM course_blocks b WHERE course_id = ANY($1)",
    )
    .bind(facts.course_ids)
    .fetch_all(pool)
    .await?;
    let pools: Vec<PoolRow> = sqlx::query_as(
        "SELECT id, capacity, reserved, pooled, \
                (SELECT count(*) FROM enrollments e \
                  WHERE e.course_id = c.id AND e.block IS NULL AND NOT e.over_capacity) \
         FROM courses c WHERE id = ANY($1)",
    )
    .bind(facts.course_ids)
    .fetch_all(pool)
    .await?;
    let audit: Vec<AuditRow> = sqlx::query_as(
        "SELECT ticket, kind, student_id, course_id, block FROM enrollment_events \
         WHERE course_id = ANY($1) AND kind IN ('enrolled', 'rejected')",
    )
    .bind(facts.course_ids)
    .fetch_all(pool)
    .await?;
    let told: Vec<(String, Option<String>)> = waves
        .iter()
        .flat_map(|w| w.tickets.iter())
        .map(|t| {
            (
                t.ticket.clone(),
                t.decided.as_ref().map(|d| d.status.clone()),
            )
        })
        .filter(|(id, told)| !ledger.is_some_and(|l| l.accounts_for(id, told.as_deref())))
        .collect();
    let issued = match (redis_url, ledger) {
        (Some(url), None) => issued_in_redis(url, facts.course_ids).await?,
        (None, None) => issued_by_tool(facts, &waves),
        (url, Some(ledger)) => {
            let in_redis = match url {
                Some(url) => issued_in_redis(url, facts.course_ids).await?,
                None => Vec::new(),
            };
            ledger.issued(in_redis, issued_by_tool(facts, &waves))
        }
    };
    // Redis lost tickets that were issued: it no longer tells them all.
    let issued_complete = redis_url.is_some() && ledger.is_none();
    let mut v = check::seat_counts(&courses);
    v.extend(check::student_rules(facts, &rows));
    let mut figures = None;
    match churn {
        None => {
            v.extend(check::all_decided(&told, &issued, &rows));
            match &carts {
                None => v.extend(check::queue_order(facts, &issued, &rows)),
                Some(carts) => {
                    let events = crate::cart::read_events(pool, facts.course_ids).await?;
                    let expected = cart_check::expected(facts, carts);
                    v.extend(cart_check::settlement(carts, &expected, &events, &rows));
                    v.extend(cart_check::rush_after_cart(
                        facts,
                        &issued,
                        &rows,
                        &rush.refused,
                        rush.errors,
                    ));
                }
            }
            v.extend(check::audit_trail(&issued, &rows, &audit, issued_complete));
        }
        Some(churn) => {
            let (found, f) = check_waitlists(facts, pool, churn, &rows).await?;
            let won = waitlist::ticket_rows(&rows, &found.events);
            let issued = waitlist::uncancel(&issued, &found.events);
            v.extend(check::all_decided(&told, &issued, &won));
            v.extend(waitlist::queue_order_with_cancels(
                facts,
                &issued,
                &won,
                &found.events,
            ));
            v.extend(check::audit_trail(&issued, &won, &audit, issued_complete));
            v.extend(found.violations);
            figures = Some(f);
        }
    }
    v.extend(check::block_counts(&blocks, &pools));
    v.extend(check::phase_gate(
        facts,
        &issued,
        &rush.refused,
        rush.errors,
    ));
    let decided_ms = issued
        .iter()
        .filter_map(|t| Some((t.id(), t.decided_ms?)))
        .collect();
    Ok((v, decided_ms, figures))
}

/// What [`check_waitlists`] read and found.
struct Waitlists {
    events: Vec<EventRow>,
    violations: Vec<String>,
}

/// Invariant 8 over the audit trail, the waitlists and the seats left.
async fn check_waitlists(
    facts: &Facts<'_>,
    pool: &sqlx::PgPool,
    churn: &ChurnOutcome,
    rows: &[EnrollmentRow],
) -> Result<(Waitlists, WaitlistFigures)> {
    let events: Vec<EventRow> = sqlx::query_as(
        "SELECT id, kind, student_id, course_id, ticket, block FROM enrollment_events \
         WHERE course_id = ANY($1) AND kind IN ('enrolled', 'cancelled', 'waitlisted', \
               'waitlist_left', 'waitlist_promoted', 'waitlist_skipped') ORDER BY id",
    )
    .bind(facts.course_ids)
    .fetch_all(pool)
    .await?;
    let seats: Vec<SeatRow> =
        sqlx::query_as("SELECT id, capacity, enrolled, withheld FROM courses WHERE id = ANY($1)")
            .bind(facts.course_ids)
            .fetch_all(pool)
            .await?;
    let waiting: Vec<PlaceRow> =
        sqlx::query_as("SELECT course_id, student_id FROM waitlist WHERE course_id = ANY($1)")
            .bind(facts.course_ids)
            .fetch_all(pool)
            .await?;
    let ids = |done: &[(usize, i64)]| -> Vec<(i64, i64)> {
        done.iter()
            .map(|&(s, c)| (facts.student_ids[s], c))
            .collect()
    };
    let mut v = waitlist::promotion_order(&events);
    v.extend(waitlist::idle_seats(facts, &seats, &waiting, rows));
    v.extend(waitlist::churn_audit(
        &ids(&churn.joined),
        &ids(&churn.cancelled),
        &events,
        rows,
        &waiting,
        churn.errors == 0,
    ));
    let kind = |k: &str| events.iter().filter(|e| e.1 == k).count();
    let figures = WaitlistFigures {
        joined: churn.joined.len(),
        cancelled: churn.cancelled.len(),
        refused: churn.refused.clone(),
        errors: churn.errors,
        promoted: kind("waitlist_promoted"),
        skipped: kind("waitlist_skipped"),
        still_waiting: waiting.len(),
    };
    Ok((
        Waitlists {
            events,
            violations: v,
        },
        figures,
    ))
}

/// Every ticket the server issued for these courses (`tk:{c<id>}` hashes).
async fn issued_in_redis(url: &str, course_ids: &[i64]) -> Result<Vec<IssuedTicket>> {
    let mut conn = redis::Client::open(url)?
        .get_multiplexed_async_connection()
        .await?;
    let mut issued = Vec::new();
    for &course in course_ids {
        let entries: Vec<(String, String)> = redis::cmd("HGETALL")
            .arg(format!("tk:{{c{course}}}"))
            .query_async(&mut conn)
            .await?;
        for (seq, value) in entries {
            issued.push(
                check::parse_ticket_entry(course, &seq, &value)
                    .with_context(|| format!("bad ticket entry {seq} = {value}"))?,
            );
        }
    }
    Ok(issued)
}

/// Without Redis: the tickets this tool received, as it last saw them.
fn issued_by_tool(facts: &Facts, waves: &[&WaveOutcome]) -> Vec<IssuedTicket> {
    waves
        .iter()
        .flat_map(|w| w.tickets.iter())
        .filter_map(|t| {
            let (course, seq) = t.ticket.split_once('-')?;
            let d = t.decided.as_ref();
            Some(IssuedTicket {
                course_id: course.parse().ok()?,
                seq: seq.parse().ok()?,
                student_id: facts.student_ids[t.student],
                status: d.map_or("queued".into(), |d| d.status.clone()),
                reason: d.and_then(|d| d.reason.clone()),
                decided_ms: None,
            })
        })
        .collect()
}
