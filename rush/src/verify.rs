//! Reading what the rush left behind — the database rows and every issued
//! ticket — and running the checks of [`crate::check`] over it.

use std::collections::HashMap;

use anyhow::{Context, Result};

use crate::check::{
    self, AuditRow, BlockRow, CourseRow, EnrollmentRow, Facts, IssuedTicket, PoolRow,
};
use crate::wave::WaveOutcome;

/// Reads the database and the issued tickets and runs every check over
/// the `pre`-rush wave and the `rush`; returns the violations and, from
/// Redis, when each ticket was decided (ticket id → Unix ms, as the server
/// stamped it).
pub async fn check_invariants(
    facts: &Facts<'_>,
    pool: &sqlx::PgPool,
    redis_url: Option<&str>,
    pre: &WaveOutcome,
    rush: &WaveOutcome,
) -> Result<(Vec<String>, HashMap<String, i64>)> {
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
        .collect();
    let issued = match redis_url {
        Some(url) => issued_in_redis(url, facts.course_ids).await?,
        None => issued_by_tool(facts, &waves),
    };
    let mut v = check::seat_counts(&courses);
    v.extend(check::student_rules(facts, &rows));
    v.extend(check::all_decided(&told, &issued, &rows));
    v.extend(check::queue_order(facts, &issued, &rows));
    v.extend(check::block_counts(&blocks, &pools));
    v.extend(check::audit_trail(
        &issued,
        &rows,
        &audit,
        redis_url.is_some(),
    ));
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
    Ok((v, decided_ms))
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
