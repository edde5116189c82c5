//! Before the rush: the stack (own or `--target`), the open-file limit,
//! the options taken from the command line, the students and courses, the
//! logins, the pre-rush enrollments and the phases; the progress bars.

use std::sync::Arc;
use std::time::Duration;

use anyhow::{bail, Context, Result};
use futures::StreamExt;
use indicatif::{ProgressBar, ProgressStyle};

use crate::api::Api;
use crate::cli::Cli;
use crate::mix::{Mix, MixParams, Scenario};
use crate::stack::{self, Endpoints, OwnStack, ServerSettings};
use crate::wave::{run_wave, WaveOptions, WaveOutcome};

pub(super) fn target_endpoints(cli: &Cli) -> Result<Endpoints> {
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

pub(super) async fn start_own_stack(cli: &Cli) -> Result<OwnStack> {
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
pub(super) async fn open_phases(api: &Api, mix: &Mix) -> Result<Option<serde_json::Value>> {
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

pub(super) fn cart_params(cli: &Cli) -> crate::cart::CartParams {
    crate::cart::CartParams {
        share: cli.cart_share,
        lottery: cli.cart_policy == "lottery",
        // The server takes a seed from 0 to i64::MAX.
        seed: (cli.seed & i64::MAX as u64) as i64,
    }
}

pub(super) fn mix_params(cli: &Cli, scenario: Scenario) -> MixParams {
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
pub(super) fn raise_open_files(needed: usize) -> Result<()> {
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

pub(super) fn wave_options(cli: &Cli) -> WaveOptions {
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

pub(super) fn bar(len: usize, prefix: &'static str) -> ProgressBar {
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
pub(super) async fn set_up(
    api: &Api,
    mix: &Mix,
    student_nos: &[String],
) -> Result<(Vec<i64>, Vec<i64>)> {
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
pub(super) async fn log_in_all(
    api: &Api,
    student_nos: &[String],
    concurrency: usize,
) -> Result<Vec<String>> {
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
pub(super) async fn pre_enroll(
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
