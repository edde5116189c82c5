//! `alerter` binary: parses the command line; `alerter run` is assembled
//! here (alert state restored and saved, the notifier attached) around the
//! library's one startup path, [`Alerter::build`] and
//! [`Alerter::run_until_stopped`], which the tests use too.

use std::path::Path;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use alerter::app::Alerter;
use alerter::cli::{Cli, Command, InboxArgs, RunArgs};
use alerter::inbox::Inbox;
use alerter::notify::{attach, NotifyOptions, NOTIFIER_STATE_FILE};
use alerter::persist::{self, ALERT_STATE_FILE};
use alerter::shared::wall_ms;
use alerter::sink::LogSink;
use anyhow::Context;
use clap::Parser;

fn main() -> ExitCode {
    match Cli::parse().command {
        Command::Check(check) => alerter::cli::check(check),
        Command::Test(test) => alerter::cli::test(test),
        Command::Run(args) => run(args),
        Command::Inbox(args) => inbox(args),
    }
}

/// `alerter inbox`: serves until SIGINT/SIGTERM.
fn inbox(args: InboxArgs) -> ExitCode {
    init_tracing();
    let result = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("cannot start the runtime")
        .and_then(|runtime| {
            runtime.block_on(async {
                let inbox = Inbox::new(args.keep, args.file.clone())?;
                let limits = servekit::http::Limits {
                    header_read_timeout: args.read_timeout.0,
                    max_connections: args.max_connections,
                };
                alerter::inbox::run(&args.listen_address, inbox, limits).await
            })
        });
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

fn init_tracing() {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into()),
        )
        .init();
}

/// `alerter run`: serves until SIGINT/SIGTERM.
fn run(args: RunArgs) -> ExitCode {
    init_tracing();
    // One thread: scraping is I/O and evaluation is short, and a single
    // thread keeps one malloc arena, which keeps resident memory low.
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(r) => r,
        Err(e) => {
            eprintln!("error: cannot start the runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    let result = runtime.block_on(async {
        let alerter = Alerter::build(args.settings(), Arc::new(LogSink)).await?;
        let alerter = with_state_and_notifier(alerter, &args.storage_path).await?;
        tracing::info!(
            port = alerter.port(),
            scheme = alerter.scheme(),
            "alerter listening"
        );
        alerter.run_until_stopped(servekit::shutdown_signal()).await
    });
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

/// Restores alert state from `data_dir`, keeps saving it, and attaches the
/// notifier when `route` is configured.
///
/// After a restore, the first evaluation waits until every target has been
/// scraped once, and the notifier's dispatcher starts after it, so restored
/// firing alerts are re-sent (extending their `endsAt`) before the notifier
/// could take them for resolved.
async fn with_state_and_notifier(alerter: Alerter, data_dir: &Path) -> anyhow::Result<Alerter> {
    // The state files are 0600; their directory is the operators' only.
    let narrowed = servekit::statefile::ensure_private_dir(data_dir)
        .with_context(|| format!("cannot prepare the data directory {}", data_dir.display()))?;
    if narrowed {
        tracing::warn!(dir = %data_dir.display(), "data directory was open to other users; narrowed to 0700");
    }
    let shared = alerter.shared();
    let alerts_file = data_dir.join(ALERT_STATE_FILE);
    let now = wall_ms();
    let restored = persist::restore(&shared, &alerts_file, now)?;
    let hold_ms = if restored > 0 {
        persist::first_scrapes_ms(&shared)
    } else {
        0
    };
    persist::hold_first_evaluation(&shared, now + hold_ms);
    tracing::info!(file = %alerts_file.display(), restored, "alert state restored");
    persist::spawn_saver(shared, alerts_file, Duration::from_secs(1));
    let options = NotifyOptions {
        state_file: Some(data_dir.join(NOTIFIER_STATE_FILE)),
        spawn_dispatcher: hold_ms == 0,
        ..Default::default()
    };
    let (alerter, notifications) = attach(alerter, options).await?;
    match notifications {
        None => tracing::info!("no route configured: alerts are logged"),
        Some(n) if hold_ms > 0 => {
            tokio::spawn(async move {
                let wait = hold_ms as u64 + 1000;
                tokio::time::sleep(Duration::from_millis(wait)).await;
                n.settled().await;
                n.notifier.spawn();
            });
        }
        Some(_) => {}
    }
    Ok(alerter)
}
