//! A whole run: stack, set-up, logins, the pre-rush wave, the rush, the
//! checks, pgbench, and the written figures.
//!
//! The run's order is here; `setup.rs` holds the stack, the set-up and the
//! logins before the rush, `rush.rs` the measured rush wave and what the
//! stack's processes used meanwhile, `figures.rs` pgbench and the summary
//! and files the run ends with.

use std::sync::Arc;
use std::time::Duration;

use anyhow::{bail, Context, Result};
use sqlx::postgres::PgPoolOptions;

use crate::api::Api;
use crate::check::Facts;
use crate::churn::ChurnParams;
use crate::cli::Cli;
use crate::mix::{Mix, Scenario};
use crate::pgbench::Baseline;
use crate::report::Summary;
use crate::verify;
use crate::wave::WaveOptions;

mod figures;
mod rush;
mod setup;

use figures::{baseline, summarize, write_outputs};
use rush::rush;
use setup::{
    cart_params, log_in_all, mix_params, open_phases, pre_enroll, raise_open_files, set_up,
    start_own_stack, target_endpoints, wave_options,
};

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
