//! A whole run: stack, set-up, logins, the pre-rush wave, the rush, the
//! checks, pgbench, and the written figures.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use futures::StreamExt;
use indicatif::{ProgressBar, ProgressStyle};
use sqlx::postgres::PgPoolOptions;

use crate::api::Api;
use crate::check::Facts;
use crate::churn::ChurnParams;
use crate::cli::Cli;
use crate::mix::{Kind, Mix, MixParams, Scenario};
use crate::pgbench::{self, Baseline, BenchCourses, Budget};
use crate::report::{
    eta_accuracy, server_time_to_decision, stamped_rates, AdmissionUse, CpuUse, Summary,
    WaveFigures,
};
use crate::stack::{self, Endpoints, OwnStack, ServerSettings};
use crate::verify;
use crate::wave::{run_wave, WaveOptions, WaveOutcome};

/// The credit limit the mix is designed around (enroll-server's default).
pub const CREDIT_LIMIT: i32 = 18;

/// Runs everything for one scenario; the caller decides the exit status
/// from [`Summary::violations`].
pub async fn run(cli: &Cli, scenario: Scenario) -> Result<Summary> {
    if cli.fault.is_some() && scenario == Scenario::Waitlist {
        bail!("--fault runs with the default or phased scenario, not with waitlist's cancels");
    }
    std::fs::create_dir_all(&cli.out)
        .with_context(|| format!("Failed to create {}", cli.out.display()))?;
    // One event stream per student besides the measured connections; the
    // own stack's server inherits the limit (it holds as many).
    let streams = if cli.poll_only { 0 } else { cli.students };
    raise_open_files(streams + cli.concurrency + cli.poll_concurrency + 512)?;
    let own = match &cli.target {
        Some(_) => None,
        None => Some(start_own_stack(cli).await?),
    };
    let endpoints = match &own {
        Some(stack) => stack.endpoints.clone(),
        None => target_endpoints(cli)?,
    };
    let api = Api::new(
        &endpoints.base_url,
        &endpoints.admin_token,
        cli.concurrency.max(64),
    )?;
    if scenario == Scenario::Cart {
        crate::cart::refuse_used_cart(&api).await?;
    }
    let prefix = format!(
        "R{:x}",
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)?
            .as_millis()
    );
    let mix = Mix::generate(&mix_params(cli, scenario), &prefix);
    let student_nos: Vec<String> = (0..cli.students)
        .map(|i| format!("{prefix}-{i:06}"))
        .collect();

    let (student_ids, course_ids) = set_up(&api, &mix, &student_nos).await?;
    let pool = PgPoolOptions::new()
        .max_connections(2)
        .connect(&endpoints.database_url)
        .await?;
    // Its WAL is replayed on the replica while everyone logs in.
    let before = baseline(cli, &pool, &endpoints.database_url, &mix, "before").await?;
    let cookies = Arc::new(log_in_all(&api, &student_nos, cli.login_concurrency).await?);
    let opts = wave_options(cli);
    let pre = pre_enroll(&api, &mix, &course_ids, cookies.clone(), &opts).await?;
    let cart = match scenario {
        Scenario::Cart => Some(
            crate::cart::fill_and_settle(
                &api,
                &pool,
                &mix,
                &course_ids,
                &cookies,
                cart_params(cli),
            )
            .await?,
        ),
        _ => None,
    };
    let requests: Vec<(usize, i64)> = mix.rush.iter().map(|&(s, c)| (s, course_ids[c])).collect();
    let (observer, churn) = match scenario {
        Scenario::Waitlist => {
            let (tx, rx) = tokio::sync::mpsc::unbounded_channel();
            let (end, ended) = tokio::sync::oneshot::channel();
            let params = ChurnParams {
                waitlist_share: cli.waitlist_share,
                cancel_share: cli.cancel_share,
                seed: cli.seed,
            };
            let api = api.clone();
            let task = tokio::spawn(crate::churn::run(api, cookies.clone(), params, rx, ended));
            (Some(tx), Some((end, task)))
        }
        _ => (None, None),
    };
    let armed = match cli.fault {
        Some(f) => Some(crate::fault::Armed::new(
            f,
            own.as_ref(),
            &endpoints,
            requests.len(),
        )?),
        None => None,
    };
    let rush_opts = WaveOptions {
        resume_admission: cli.hold_admission,
        observer,
        ride_out: armed.as_ref().map(|a| a.ride_out.clone()),
        ..opts
    };
    let phases_before = open_phases(&api, &mix).await?;
    if cli.hold_admission {
        api.set_admission_paused(true).await?;
        eprintln!("admission paused until the last enroll is answered (--hold-admission)");
        // Every admission runner sees the switch within one idle poll (250 ms).
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
    let fired_at = crate::mail::unix_now();
    let rushed = rush(&api, own.as_ref(), cookies.clone(), &requests, &rush_opts).await;
    let answered_at = crate::mail::unix_now();
    if cli.hold_admission && rushed.is_err() {
        // The wave never got to resume it: do not leave a server paused.
        let _ = api.set_admission_paused(false).await;
    }
    let restored = match &phases_before {
        Some(p) => api.set_phases(p).await.context("restoring the phases"),
        None => Ok(()),
    };
    let churned = match churn {
        Some((end, task)) => {
            // The wave is over: all it told is in the channel already.
            let _ = end.send(());
            Some(task.await?)
        }
        None => None,
    };
    let struck = match armed {
        Some(a) => Some((a.ride_out.clone(), a.struck(rushed.is_ok()).await?)),
        None => None,
    };
    let (wave, admission, cpu) = rushed?;
    restored?;

    let facts = Facts {
        mix: &mix,
        course_ids: &course_ids,
        student_ids: &student_ids,
        credit_limit: CREDIT_LIMIT,
    };
    let mut redis_url = endpoints.redis_url.clone();
    let carts = cart.as_ref().map(|c| c.carts(&student_nos));
    let mut fault = None;
    if let Some((ride_out, struck)) = &struck {
        redis_url = Some(struck.happened.redis_url.clone());
        let waves = [&pre, &wave];
        let base = &endpoints.base_url;
        fault = Some(
            crate::fault::Armed::settle(
                struck,
                ride_out,
                base,
                &cookies,
                &pool,
                &course_ids,
                waves,
            )
            .await?,
        );
    }
    let (mut violations, decided_ms, waitlist) = verify::check_invariants(
        &facts,
        &pool,
        redis_url.as_deref(),
        [&pre, &wave],
        verify::Extras {
            churn: churned.as_ref(),
            carts,
            ledger: fault.as_ref().map(|(ledger, _)| ledger),
        },
    )
    .await?;
    if let Some((ledger, _)) = &fault {
        violations.extend(ledger.violations());
    }
    let after = baseline(cli, &pool, &endpoints.database_url, &mix, "after").await?;
    let pgbench = before.zip(after).map(|(b, a)| Baseline::bracketing(&b, &a));
    let mut summary = summarize(
        cli,
        own.is_some(),
        &wave,
        violations,
        &decided_ms,
        pgbench,
        cpu,
    );
    summary.admission = admission;
    summary.scenario = scenario;
    summary.waitlist = waitlist;
    summary.cart = cart.map(|c| c.figures);
    summary.fault = fault.map(|(_, figures)| figures);
    write_outputs(cli, &summary)?;
    if let Some(sink) = own.as_ref().and_then(|o| o.smtp.as_ref()) {
        let mail = crate::mail::measure(&pool, sink, fired_at, answered_at).await?;
        println!("\n{}", mail.line());
        mail.write_json(&cli.out)?;
    }
    drop(own);
    Ok(summary)
}

fn target_endpoints(cli: &Cli) -> Result<Endpoints> {
    Ok(Endpoints {
        base_url: cli.target.clone().context("--target is required")?,
        admin_token: cli
            .admin_token
            .clone()
            .context("--admin-token is required with --target")?,
        database_url: cli
            .database_url
            .clone()
            .context("--database-url is required with --target")?,
        redis_url: cli.redis_url.clone(),
    })
}

/// The rush wave, with the server's admission figures and (own stack) the
/// CPU each process used meanwhile.
async fn rush(
    api: &Api,
    own: Option<&OwnStack>,
    cookies: Arc<Vec<String>>,
    requests: &[(usize, i64)],
    opts: &WaveOptions,
) -> Result<(WaveOutcome, Option<AdmissionUse>, Option<CpuUse>)> {
    let bar = bar(requests.len(), "rush");
    // Taken once every connection and event stream is open.
    let at_start = async {
        eprintln!(
            "firing {} enroll requests, {} in flight ...",
            requests.len(),
            opts.concurrency
        );
        (own.map(cpu_snapshot), admission_totals(api).await)
    };
    let (wave, (cpu_before, admission_before)) =
        run_wave(api, cookies, requests, opts, &bar, at_start).await?;
    let admission = admission_before
        .zip(admission_totals(api).await)
        .map(|(b, a)| AdmissionUse::between(b, a));
    let cpu = own
        .zip(cpu_before)
        .map(|(s, before)| cpu_use(&before, &cpu_snapshot(s)));
    bar.finish();
    Ok((wave, admission, cpu))
}

/// pgbench on the same database, unless skipped; `when` is "before" or
/// "after" (the rush).
async fn baseline(
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

fn write_outputs(cli: &Cli, summary: &Summary) -> Result<()> {
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

async fn admission_totals(api: &Api) -> Option<(f64, f64, f64)> {
    let text = api.metrics_text().await.ok()?;
    Some(crate::api::admission_totals(&text))
}

async fn start_own_stack(cli: &Cli) -> Result<OwnStack> {
    if cfg!(debug_assertions) {
        eprintln!("warning: rush is a debug build; the figures mean little (use `cargo run --release -p rush`)");
    }
    let settings = ServerSettings {
        binary: match &cli.server_bin {
            Some(p) => p.clone(),
            None => stack::default_server_binary()?,
        },
        batch_size: cli.batch_size,
        db_max_connections: cli.db_max_connections,
        log: std::path::absolute(cli.out.join("enroll-server.log"))?,
        env: Vec::new(),
        smtp: cli.smtp.then_some(match cli.smtp_stress {
            true => stack::MailPacing::Stress,
            false => stack::MailPacing::Shipped,
        }),
        redis_sentinel: cli.fault == Some(crate::fault::Fault::RedisFailover),
    };
    eprintln!(
        "starting PostgreSQL (durable, 1 replica), redis-server and {} ...",
        settings.binary.display()
    );
    eprintln!("bench-only setting: ENROLL_ARGON2_MEMORY_KIB=1024 ENROLL_ARGON2_ITERATIONS=1 (cheap logins; never use in production)");
    tokio::task::spawn_blocking(move || OwnStack::start(&settings)).await?
}

/// With phases in the mix: sets them as the rush starts (the clash and
/// credit groups enrolled before, with the window open to all) and returns
/// the phases they replaced, to put back after the rush.
async fn open_phases(api: &Api, mix: &Mix) -> Result<Option<serde_json::Value>> {
    if mix.phases.is_empty() {
        return Ok(None);
    }
    let before = api.phases().await?;
    let phases = crate::mix::phases_json(&mix.phases, chrono::Utc::now());
    api.set_phases(&phases).await?;
    eprintln!(
        "phases set: {}",
        mix.phases
            .iter()
            .map(|p| format!(
                "{} ({})",
                p.name,
                if p.open { "open" } else { "opens tomorrow" }
            ))
            .collect::<Vec<_>>()
            .join(", ")
    );
    // Every server reloads the phases once a second.
    tokio::time::sleep(Duration::from_millis(1200)).await;
    Ok(Some(before))
}

fn cart_params(cli: &Cli) -> crate::cart::CartParams {
    crate::cart::CartParams {
        share: cli.cart_share,
        lottery: cli.cart_policy == "lottery",
        // The server takes a seed from 0 to i64::MAX.
        seed: (cli.seed & i64::MAX as u64) as i64,
    }
}

fn mix_params(cli: &Cli, scenario: Scenario) -> MixParams {
    MixParams {
        students: cli.students,
        requests: cli.requests as usize,
        hot_per_slot: cli.hot_per_slot,
        hot_capacity: cli.hot_capacity,
        hot_share: cli.hot_share,
        normal_per_slot: cli.normal_per_slot,
        clash_share: cli.clash_share,
        credit_share: cli.credit_share,
        seed: cli.seed,
        scenario,
    }
}

/// Raises this process's open-file limit to `needed` (its soft limit, up to
/// the hard one); an error saying what to do if the hard limit is lower.
fn raise_open_files(needed: usize) -> Result<()> {
    let needed = needed as u64;
    let soft = rlimit::increase_nofile_limit(needed).context("raising RLIMIT_NOFILE")?;
    if soft < needed {
        anyhow::bail!(
            "{needed} open files are needed (one event stream per student, plus the measured \
             connections) but the limit is {soft}: raise the hard limit (ulimit -Hn), or run \
             fewer --students, or --poll-only"
        );
    }
    Ok(())
}

fn wave_options(cli: &Cli) -> WaveOptions {
    WaveOptions {
        concurrency: cli.concurrency.max(1),
        poll_concurrency: cli.poll_concurrency.max(1),
        poll_min: Duration::from_millis(cli.poll_min_ms),
        poll_max: Duration::from_millis(cli.poll_max_ms.max(cli.poll_min_ms)),
        events: !cli.poll_only,
        poll_fallback: Duration::from_millis(cli.poll_fallback_ms),
        timeout: Duration::from_secs(cli.timeout_secs),
        resume_admission: false,
        sample_every: Duration::from_millis(100),
        observer: None,
        ride_out: None,
    }
}

fn bar(len: usize, prefix: &'static str) -> ProgressBar {
    let bar = ProgressBar::new(len as u64).with_prefix(prefix);
    bar.set_style(
        ProgressStyle::with_template(
            "{prefix:>8} [{elapsed_precise}] {wide_bar} {pos}/{len} {msg}",
        )
        .expect("a valid template")
        .progress_chars("=> "),
    );
    bar
}

/// Imports the students, creates the courses (and reserves their blocks),
/// opens the window.
async fn set_up(api: &Api, mix: &Mix, student_nos: &[String]) -> Result<(Vec<i64>, Vec<i64>)> {
    eprintln!(
        "creating {} students and {} courses through the admin API ...",
        student_nos.len(),
        mix.courses.len()
    );
    let students = api
        .import_students(student_nos, mix.cohorts.as_deref())
        .await?;
    let courses = api.create_courses(&mix.courses).await?;
    let blocked: Vec<(i64, &[crate::mix::BlockSpec])> = mix
        .courses
        .iter()
        .zip(&courses)
        .filter(|(c, _)| !c.blocks.is_empty())
        .map(|(c, &id)| (id, &c.blocks[..]))
        .collect();
    if !blocked.is_empty() {
        eprintln!("reserving seats in {} courses ...", blocked.len());
        futures::stream::iter(blocked)
            .map(|(id, blocks)| api.set_reserved(id, blocks))
            .buffer_unordered(8)
            .collect::<Vec<Result<()>>>()
            .await
            .into_iter()
            .collect::<Result<()>>()?;
    }
    if api.ensure_window_open().await? {
        eprintln!("opened the registration window");
    }
    // Every server reloads its course list once a second; admission only
    // drains courses it knows.
    tokio::time::sleep(Duration::from_millis(1200)).await;
    Ok((students, courses))
}

/// Logs every student in; returns their session cookies.
async fn log_in_all(api: &Api, student_nos: &[String], concurrency: usize) -> Result<Vec<String>> {
    let bar = bar(student_nos.len(), "login");
    let cookies: Vec<Result<String>> = futures::stream::iter(student_nos)
        .map(|no| {
            let bar = bar.clone();
            async move {
                let c = api.login(no).await;
                bar.inc(1);
                c
            }
        })
        .buffered(concurrency.max(1))
        .collect()
        .await;
    bar.finish();
    cookies.into_iter().collect()
}

/// Enrolls the clash and credit groups in their seminar / capstone and
/// waits for the decisions: the rush's eligibility rests on them.
async fn pre_enroll(
    api: &Api,
    mix: &Mix,
    course_ids: &[i64],
    cookies: Arc<Vec<String>>,
    opts: &WaveOptions,
) -> Result<WaveOutcome> {
    let requests: Vec<(usize, i64)> = mix.pre.iter().map(|&(s, c)| (s, course_ids[c])).collect();
    let bar = bar(requests.len(), "pre-rush");
    let (wave, ()) = run_wave(api, cookies, &requests, opts, &bar, async {}).await?;
    bar.finish();
    let enrolled = wave
        .tickets
        .iter()
        .filter(|t| t.decided.as_ref().is_some_and(|d| d.status == "enrolled"))
        .count();
    if enrolled != requests.len() {
        bail!("pre-rush set-up failed: {enrolled} of {} seminar/capstone enrollments succeeded (refused: {:?}, errors: {} {:?})",
            requests.len(), wave.refused, wave.errors, wave.error_example);
    }
    Ok(wave)
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

type CpuSnapshot = (Instant, [f64; 5]);

fn cpu_snapshot(s: &OwnStack) -> CpuSnapshot {
    // PostgreSQL's backends are children of its postmaster; everything
    // else is counted alone (the servers are children of this process).
    let tree = |pid| stack::tree_cpu_seconds(pid).unwrap_or(0.0);
    let alone = |pid| stack::process_cpu_seconds(pid).unwrap_or(0.0);
    let cpu = [
        alone(s.server_pid),
        tree(s.postgres_pid),
        tree(s.replica_pid),
        alone(s.redis_pid),
        alone(std::process::id()),
    ];
    (Instant::now(), cpu)
}

fn cpu_use(before: &CpuSnapshot, after: &CpuSnapshot) -> CpuUse {
    let d = |i: usize| after.1[i] - before.1[i];
    CpuUse {
        wall_seconds: (after.0 - before.0).as_secs_f64(),
        enroll_server: d(0),
        postgres_primary: d(1),
        postgres_replica: d(2),
        redis: d(3),
        rush_tool: d(4),
    }
}

fn summarize(
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_open_file_need_above_the_hard_limit_says_what_to_do() {
        assert!(raise_open_files(16).is_ok());
        let err = raise_open_files(usize::MAX / 2).unwrap_err().to_string();
        assert!(
            err.contains("ulimit -Hn") && err.contains("--poll-only"),
            "{err}"
        );
    }
}
