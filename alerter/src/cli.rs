//! The command line: `check config`, `check rules`, `test rules`, `run`.
//! Parsing, and the commands that need no server; `alerter run` is wired in
//! the binary's `main` from [`RunArgs::settings`].

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Args, Parser, Subcommand};

use crate::app::{Settings, WebSettings};
use crate::config::Config;
use crate::rules::{load_rule_file, Rule};
use crate::shared::Clock;
use notifier::duration::PromDuration;

/// Scrapes targets, evaluates Prometheus rule files and tracks alerts.
#[derive(Debug, Parser)]
#[command(name = "alerter", version, about)]
pub struct Cli {
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// Top-level commands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Validate a configuration or rule files (exit 1 with file:line:column on error).
    #[command(subcommand)]
    Check(CheckCommand),
    /// Run unit tests written in promtool's format.
    #[command(subcommand)]
    Test(TestCommand),
    /// Scrape, evaluate and serve the HTTP API until SIGINT/SIGTERM (SIGHUP reloads; so does POST /-/reload with --web.enable-lifecycle).
    Run(RunArgs),
    /// Receive webhook notifications (Alertmanager's format) and show them on a page that refreshes itself: where alerts go on a stack without Slack.
    Inbox(InboxArgs),
}

/// `alerter check ...`
#[derive(Debug, Subcommand)]
pub enum CheckCommand {
    /// Check alerter.yml and every rule file it names.
    Config {
        /// The configuration file.
        file: PathBuf,
    },
    /// Check rule files.
    Rules {
        /// Rule files.
        #[arg(required = true)]
        files: Vec<PathBuf>,
    },
}

/// `alerter test ...`
#[derive(Debug, Subcommand)]
pub enum TestCommand {
    /// Run rule unit tests (promtool's `test rules` format).
    Rules {
        /// Test files.
        #[arg(required = true)]
        files: Vec<PathBuf>,
    },
}

/// `alerter run` options.
#[derive(Debug, Clone, Args)]
pub struct RunArgs {
    /// The configuration file.
    #[arg(long = "config", alias = "config.file", default_value = "alerter.yml")]
    pub config: PathBuf,
    /// Address for the HTTP API and /metrics (`:9099` means all interfaces).
    #[arg(long = "web.listen-address", default_value = ":9099")]
    pub listen_address: String,
    /// URL the alerter is reachable at, for alert generator links.
    #[arg(long = "web.external-url", default_value = "")]
    pub external_url: String,
    /// Minimum time between re-sending an unchanged alert to the notifier.
    #[arg(long = "rules.alert.resend-delay", default_value = "1m", value_parser = parse_prom_duration)]
    pub resend_delay: PromDuration,
    /// Data directory: alert state (`alerts-state.json`) and the notifier's
    /// state (`notifier-state.json`: groups, notification log, silences,
    /// queue), so a restart neither re-sends nor forgets alerts.
    #[arg(long = "storage.path", default_value = "data")]
    pub storage_path: PathBuf,
    /// How long a request head may take to arrive, counted from the
    /// connection opening or the previous response (idle connections close
    /// then too).
    #[arg(long = "web.read-timeout", default_value = "30s", value_parser = parse_prom_duration)]
    pub read_timeout: PromDuration,
    /// Connections held at once; past it a connection is answered 503.
    #[arg(long = "web.max-connections", default_value = "512")]
    pub max_connections: usize,
    /// Prometheus's web configuration file: TLS (`tls_server_config`) and
    /// basic auth (`basic_auth_users`, bcrypt hashes) for every endpoint.
    /// Read once at startup; a bad file stops it.
    #[arg(long = "web.config.file")]
    pub web_config_file: Option<PathBuf>,
    /// Serve the lifecycle API (`POST /-/reload`, `POST /-/quit`); without
    /// it they answer 403. SIGHUP reloads either way.
    #[arg(long = "web.enable-lifecycle")]
    pub enable_lifecycle: bool,
}

/// `alerter inbox` options.
#[derive(Debug, Clone, Args)]
pub struct InboxArgs {
    /// Address for the page (`GET /`) and the webhook (`POST /`).
    #[arg(long = "web.listen-address", default_value = ":9097")]
    pub listen_address: String,
    /// Also append every notification to this file, one JSON line each.
    #[arg(long = "file")]
    pub file: Option<PathBuf>,
    /// Notifications kept for the page (the newest).
    #[arg(long = "keep", default_value = "200")]
    pub keep: usize,
    /// How long a request head may take to arrive (idle connections close then too).
    #[arg(long = "web.read-timeout", default_value = "30s", value_parser = parse_prom_duration)]
    pub read_timeout: PromDuration,
    /// Connections held at once; past it a connection is answered 503.
    #[arg(long = "web.max-connections", default_value = "64")]
    pub max_connections: usize,
}

fn parse_prom_duration(s: &str) -> Result<PromDuration, String> {
    PromDuration::parse(s)
}

impl RunArgs {
    /// What [`crate::app::Alerter::build`] needs, on the wall clock.
    pub fn settings(&self) -> Settings {
        Settings {
            config_path: self.config.clone(),
            listen_address: self.listen_address.clone(),
            external_url: self.external_url.clone(),
            resend_delay: self.resend_delay.0,
            clock: Clock::Wall,
            http: servekit::http::Limits {
                header_read_timeout: self.read_timeout.0,
                max_connections: self.max_connections,
            },
            web: WebSettings {
                config_file: self.web_config_file.clone(),
                enable_lifecycle: self.enable_lifecycle,
            },
        }
    }
}

/// Runs `alerter check ...`.
pub fn check(command: CheckCommand) -> ExitCode {
    match command {
        CheckCommand::Config { file } => check_config(&file),
        CheckCommand::Rules { files } => check_rules(&files),
    }
}

/// Runs `alerter test ...`.
pub fn test(command: TestCommand) -> ExitCode {
    match command {
        TestCommand::Rules { files } => {
            if crate::unittest::run_test_files(&files) {
                ExitCode::SUCCESS
            } else {
                ExitCode::FAILURE
            }
        }
    }
}

fn check_config(file: &std::path::Path) -> ExitCode {
    println!("Checking {}", file.display());
    match Config::load(file) {
        Ok(loaded) => {
            println!(
                "  SUCCESS: {} jobs, {} targets, {} rule files, {} rule groups",
                loaded.config.scrape_configs.len(),
                loaded.targets.len(),
                loaded.rule_files.len(),
                loaded.groups.len()
            );
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("  FAILED: {e}");
            ExitCode::FAILURE
        }
    }
}

fn check_rules(files: &[PathBuf]) -> ExitCode {
    let mut failed = false;
    for f in files {
        println!("Checking {}", f.display());
        match load_rule_file(f, 60_000) {
            Ok(groups) => {
                let n: usize = groups.iter().map(|g| g.rules.len()).sum();
                let alerts = groups
                    .iter()
                    .flat_map(|g| &g.rules)
                    .filter(|r| matches!(r, Rule::Alerting(_)))
                    .count();
                println!("  SUCCESS: {n} rules found ({alerts} alerting)");
            }
            Err(e) => {
                failed = true;
                eprintln!("  FAILED: {e}");
            }
        }
    }
    if failed {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    }
}
