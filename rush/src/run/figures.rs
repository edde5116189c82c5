//! After the rush: pgbench on the same database (before and after), the
//! run's [`Summary`] from the wave and the checks, and the files written.

use std::collections::HashMap;

use anyhow::{Context, Result};

use crate::cli::Cli;
use crate::mix::{Kind, Mix, Scenario};
use crate::pgbench::{self, Baseline, BenchCourses, Budget};
use crate::report::{
    eta_accuracy, server_time_to_decision, stamped_rates, CpuUse, Summary, WaveFigures,
};
use crate::wave::WaveOutcome;

/// pgbench on the same database, unless skipped; `when` is "before" or
/// "after" (the rush).
pub(super) async fn baseline(
    cli: &Cli,
    pool: &sqlx::PgPool,
    database_url: &str,
    mix: &Mix,
    when: &str,
) -> Result<Option<pgbench::PgbenchResult>> {
    if cli.no_pgbench {
        return Ok(None);
    }
    let budget = match cli.pgbench_seconds {
        Some(s) => Budget::Seconds(s),
        None => Budget::Transactions(mix.rush.len() as u64),
    };
    eprintln!(
        "pgbench {when} the rush: {} clients, {budget:?}, on the same database ...",
        cli.pgbench_clients
    );
    let courses = bench_courses(mix, cli.hot_share);
    let result = pgbench::run(pool, database_url, &courses, cli.pgbench_clients, budget).await?;
    Ok(Some(result))
}

pub(super) fn write_outputs(cli: &Cli, summary: &Summary) -> Result<()> {
    let title = format!(
        "rush{}: {} students x {} requests, {} in flight",
        match summary.scenario {
            Scenario::Default => "",
            Scenario::Phased => " (phased)",
            Scenario::Waitlist => " (waitlist)",
            Scenario::Cart => " (cart)",
        },
        cli.students,
        cli.requests,
        cli.concurrency
    );
    let svg = crate::plot::render(&summary.samples, &title);
    let path = cli.out.join("rush-plot.svg");
    std::fs::write(&path, svg).with_context(|| format!("Failed to write {}", path.display()))?;
    summary.write_json(&cli.out)?;
    Ok(())
}

fn bench_courses(mix: &Mix, hot_share: f64) -> BenchCourses {
    let of = |hot: bool| {
        mix.courses
            .iter()
            .filter(|c| match c.kind {
                Kind::Hot { .. } => hot,
                Kind::Normal { .. } => !hot,
                _ => false,
            })
            .map(|c| c.capacity)
            .collect()
    };
    BenchCourses {
        hot: of(true),
        normal: of(false),
        hot_share,
    }
}

pub(super) fn summarize(
    cli: &Cli,
    own: bool,
    wave: &WaveOutcome,
    violations: Vec<String>,
    decided_ms: &HashMap<String, i64>,
    pgbench: Option<Baseline>,
    cpu: Option<CpuUse>,
) -> Summary {
    let f = WaveFigures::of(wave);
    Summary {
        mode: if own {
            "own stack (testkit PostgreSQL durable + 1 replica, redis-server, enroll-server release)".into()
        } else {
            format!("target {}", cli.target.as_deref().unwrap_or(""))
        },
        note: if own {
            "bench-only argon2 parameters (1024 KiB, 1 iteration)".into()
        } else {
            String::new()
        },
        students: cli.students,
        requests_per_student: cli.requests as usize,
        requests: cli.students * cli.requests as usize,
        concurrency: cli.concurrency,
        hold_admission: cli.hold_admission,
        batch_size: own.then_some(cli.batch_size),
        tickets: f.tickets,
        refused_at_once: wave.refused.clone(),
        request_errors: wave.errors,
        fire_seconds: f.fire_seconds,
        ticket_acks_per_sec: f.acks_per_sec,
        decided: f.decided,
        decide_seconds: f.decide_seconds,
        decisions_per_sec: f.decisions_per_sec,
        server_decisions_per_sec: f.server_decisions_per_sec,
        admission_drain_to_pgbench_ratio: f
            .admission_drain
            .as_ref()
            .and_then(|d| d.per_sec)
            .zip(pgbench.as_ref())
            .map(|(r, p)| r / p.tps),
        admission_drain: f.admission_drain,
        outcomes: f.outcomes,
        ack_latency: f.ack_latency,
        time_to_decision: f.time_to_decision,
        time_to_decision_server: server_time_to_decision(wave, decided_ms),
        eta: eta_accuracy(wave, decided_ms),
        stamped: stamped_rates(wave, decided_ms),
        polls: wave.polls,
        event_streams: !cli.poll_only,
        events: wave.events,
        poll_errors: wave.poll_errors,
        violations: violations.len(),
        violation_examples: violations.into_iter().take(20).collect(),
        decisions_to_pgbench_ratio: pgbench.as_ref().map(|p| f.decisions_per_sec / p.tps),
        pgbench,
        cpu,
        admission: None,
        scenario: Scenario::Default,
        waitlist: None,
        cart: None,
        fault: None,
        samples: wave.samples.clone(),
    }
}
