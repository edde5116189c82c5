//! `devstack`: the whole course-registration stack on this machine, with
//! demo data, for trying the API and the dashboards' queries.
//!
//! Layout:
//! - this file: flags, start-up order, the main loop (Ctrl-C/SIGTERM, typed
//!   commands).
//! - [`services`]: the project's binaries as child processes stopped by pid.
//! - [`balancer`]: HAProxy in front of the two enroll-servers.
//! - [`alerting`]: the alerter's and Prometheus's generated configuration.
//! - [`control`]: `stop`/`kill`/`start` typed into the terminal.
//! - [`seed`]: demo courses, students and an open registration window, sent
//!   through the admin API.
//! - [`banner`]: what is printed once everything is up, and `stack.json`.
//!
//! Everything lives in one fresh directory (`/tmp/enroll-stack-XXXXXX`,
//! printed at start): PostgreSQL's data directories, logs, the generated
//! configuration and `stack.json`. It is deleted on exit unless
//! `--keep-data` is given.

mod alerting;
mod balancer;
mod banner;
mod control;
mod seed;
mod services;

use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use alerting::Slack;
use anyhow::{bail, Context, Result};
use clap::Parser;
use services::{find_binary, pick_port, wait_healthy, Service, Spec};
use testkit::{Durability, PgCluster, PgOptions, RedisSentinel, RedisServer, SmtpSink};

/// Starts PostgreSQL (primary + streaming replica), Redis, an SMTP sink
/// for students' mail, two enroll-servers behind HAProxy, node-agent, the
/// alerter with its alert inbox and (when installed) Prometheus on 127.0.0.1, seeds demo data,
/// prints where everything is, and stops it all on Ctrl-C or SIGTERM.
/// While it runs, `stop|kill|start <service>` typed into the terminal stops
/// or starts one service.
#[derive(Debug, Parser)]
#[command(name = "devstack", version)]
struct Cli {
    /// Directory holding the enroll-server, node-agent and alerter binaries
    /// [default: the directory of this executable, e.g. target/release].
    #[arg(long)]
    bin_dir: Option<PathBuf>,
    /// Keep the data directory (databases, logs, generated config) on exit.
    #[arg(long)]
    keep_data: bool,
    /// Do not create demo courses, students and the registration window.
    #[arg(long)]
    no_seed: bool,
    /// Do not start Debian's Prometheus even when /usr/bin/prometheus exists.
    #[arg(long)]
    no_prometheus: bool,
    /// Port students use: the load balancer (another free port is used
    /// when taken).
    #[arg(long, default_value_t = 8080)]
    enroll_port: u16,
    /// Ports of the two enroll-servers behind the balancer.
    #[arg(long, value_delimiter = ',', default_value = "8081,8082")]
    instance_ports: Vec<u16>,
    /// Port of the balancer's stats page and metrics.
    #[arg(long, default_value_t = 8404)]
    balancer_stats_port: u16,
    /// Port of node-agent (another free port is used when taken).
    #[arg(long, default_value_t = 9100)]
    node_agent_port: u16,
    /// Port of the alerter (another free port is used when taken).
    #[arg(long, default_value_t = 9099)]
    alerter_port: u16,
    /// Port of the alert inbox, where alerts go (besides Slack).
    #[arg(long, default_value_t = 9097)]
    inbox_port: u16,
    /// Port of Prometheus (another free port is used when taken).
    #[arg(long, default_value_t = 9090)]
    prometheus_port: u16,
    /// Slack incoming-webhook URL: alerts go to Slack too.
    #[arg(long, env = "SLACK_WEBHOOK_URL", hide_env_values = true)]
    slack_webhook_url: Option<String>,
    /// Slack bot token (chat.postMessage to --slack-channel), instead of a webhook.
    #[arg(long, env = "SLACK_BOT_TOKEN", hide_env_values = true)]
    slack_bot_token: Option<String>,
    /// Channel the bot token posts to.
    #[arg(long, env = "SLACK_CHANNEL", default_value = "#registration-alerts")]
    slack_channel: String,
    /// Slack Web API base URL (a proxy, or a fake Slack in tests).
    #[arg(long, env = "SLACK_API_URL")]
    slack_api_url: Option<String>,
}

/// What is running; dropping it stops the services first, then Redis and
/// PostgreSQL.
pub struct Stack {
    services: Vec<Service>,
    /// Redis: primary, replica, and the sentinel that names the primary.
    redis: Vec<RedisServer>,
    sentinel: Option<RedisSentinel>,
    pg: Option<PgCluster>,
    /// The SMTP sink the enroll-servers send students' mail to.
    smtp: Option<SmtpSink>,
    dir: PathBuf,
    keep: bool,
    admin_token: String,
    slack: Slack,
    /// The balancer's port for students, once it runs.
    students_port: Option<u16>,
}

impl Stack {
    fn url_of(&self, name: &str) -> Option<String> {
        self.services
            .iter()
            .find(|s| s.name == name)
            .map(Service::url)
    }

    /// The balancer's URL, or the first enroll-server's without one.
    fn students_url(&self) -> Option<String> {
        match self.students_port {
            Some(port) => Some(format!("http://127.0.0.1:{port}")),
            None => self.url_of("enroll-server-1"),
        }
    }
}

impl Drop for Stack {
    fn drop(&mut self) {
        for s in self.services.iter_mut().rev() {
            s.stop();
        }
        self.sentinel.take();
        self.redis.clear();
        self.pg.take();
        self.smtp.take();
        if self.keep {
            eprintln!("devstack: data kept in {}", self.dir.display());
        } else {
            let _ = fs::remove_dir_all(&self.dir);
        }
    }
}

#[tokio::main]
async fn main() -> Result<()> {
    let cli = Cli::parse();
    let stop = watch_signals()?;
    let mut stack = start(&cli, &stop).await?;
    if !cli.no_seed {
        if let Some(base) = stack.students_url() {
            let seeded = seed::seed(&base, &stack.admin_token).await?;
            banner::print_seeded(&seeded);
        }
    }
    banner::write_state(&mut stack)?;
    banner::print_banner(&stack);
    let mut typed = control::stdin_lines();
    let mut tick = tokio::time::interval(Duration::from_millis(250));
    while !stop.load(Ordering::Relaxed) {
        tokio::select! {
            _ = tick.tick() => {
                for s in &mut stack.services {
                    s.report_exit();
                }
            }
            Some(line) = typed.recv() => {
                let answer = match control::parse(&line) {
                    Ok(command) => control::apply(command, &mut stack.services),
                    Err(e) => e,
                };
                println!("devstack: {answer}");
                banner::write_state(&mut stack)?;
            }
        }
    }
    eprintln!("devstack: stopping everything it started");
    drop(stack);
    eprintln!("devstack: stopped");
    Ok(())
}

/// A flag set on SIGINT or SIGTERM (handlers installed before anything starts,
/// so an early Ctrl-C still cleans up).
fn watch_signals() -> Result<Arc<AtomicBool>> {
    use tokio::signal::unix::{signal, SignalKind};
    let stop = Arc::new(AtomicBool::new(false));
    let mut int = signal(SignalKind::interrupt())?;
    let mut term = signal(SignalKind::terminate())?;
    let flag = stop.clone();
    tokio::spawn(async move {
        tokio::select! {
            _ = int.recv() => {},
            _ = term.recv() => {},
        }
        flag.store(true, Ordering::Relaxed);
    });
    Ok(stop)
}

fn check_stop(stop: &AtomicBool) -> Result<()> {
    if stop.load(Ordering::Relaxed) {
        bail!("interrupted during start-up");
    }
    Ok(())
}

async fn start(cli: &Cli, stop: &AtomicBool) -> Result<Stack> {
    let bin_dir = match &cli.bin_dir {
        // Services run in the stack's directory: a relative path would miss.
        Some(d) => d
            .canonicalize()
            .with_context(|| format!("--bin-dir {}", d.display()))?,
        None => std::env::current_exe()?
            .parent()
            .context("executable has no directory")?
            .to_path_buf(),
    };
    let dir = tempfile::Builder::new()
        .prefix("enroll-stack-")
        .tempdir()?
        .keep();
    // PostgreSQL runs as the `postgres` user when we are root: it must be
    // able to walk into its data directory below this one.
    fs::set_permissions(&dir, fs::Permissions::from_mode(0o755))?;
    fs::create_dir_all(dir.join("logs"))?;
    let mut stack = Stack {
        services: Vec::new(),
        redis: Vec::new(),
        sentinel: None,
        pg: None,
        smtp: None,
        dir: dir.clone(),
        keep: cli.keep_data,
        admin_token: random_token()?,
        slack: Slack {
            webhook_url: cli.slack_webhook_url.clone().filter(|s| !s.is_empty()),
            bot_token: cli.slack_bot_token.clone().filter(|s| !s.is_empty()),
            channel: cli.slack_channel.clone(),
            api_url: cli.slack_api_url.clone(),
        },
        students_port: None,
    };
    eprintln!("devstack: data and logs in {}", dir.display());

    eprintln!("devstack: starting PostgreSQL primary + streaming replica (durable)");
    let pg = PgCluster::start(PgOptions {
        replicas: 1,
        durability: Durability::Durable,
        base_dir: Some(dir.join("pg")),
        ..PgOptions::default()
    })?;
    let (db_url, replica_urls) = pg.create_database("enroll")?;
    stack.pg = Some(pg);
    check_stop(stop)?;
    eprintln!("devstack: starting redis-server (primary + replica) and a sentinel");
    let redis = RedisServer::start()?;
    let redis_url = redis.url();
    let replica = RedisServer::start_with_args(&[
        "--replicaof".into(),
        "127.0.0.1".into(),
        redis.port.to_string(),
    ])?;
    // Places in line are acknowledged once the replica has them: it must
    // be in sync before the servers take requests.
    redis.wait_for_replica(Duration::from_secs(60))?;
    let sentinel = RedisSentinel::start(redis.port)?;
    let sentinel_address = sentinel.address();
    stack.redis = vec![redis, replica];
    stack.sentinel = Some(sentinel);
    check_stop(stop)?;

    stack.smtp = services::mail_sink(&dir);
    let students_port = pick_port(cli.enroll_port);
    if let Some(bin) = find_binary(&bin_dir, "enroll-server") {
        let mut instances = Vec::new();
        for (i, preferred) in [8081, 8082].into_iter().enumerate() {
            let port = pick_port(cli.instance_ports.get(i).copied().unwrap_or(preferred));
            let spec = Spec::new(&bin)
                .env("ENROLL_DATABASE_URL", &db_url)
                .env("ENROLL_REPLICA_URLS", replica_urls.join(","))
                .env("ENROLL_REDIS_URL", &redis_url)
                // The primary is whichever the sentinel names; a place in
                // line is acknowledged once the replica has it too.
                .env("ENROLL_REDIS_SENTINELS", &sentinel_address)
                .env("ENROLL_REDIS_WAIT_REPLICAS", "1")
                // A shared development machine can be slow to confirm.
                .env("ENROLL_REDIS_WAIT_MS", "1000")
                .env("ENROLL_ADMIN_TOKEN", &stack.admin_token)
                .env("ENROLL_LISTEN", format!("127.0.0.1:{port}"))
                // Plain http on this machine: the cookie cannot be `Secure`.
                .env("ENROLL_COOKIE_SECURE", "false")
                // The balancer checks /readyz every second and takes an
                // instance out after two failures.
                .env("ENROLL_SHUTDOWN_DRAIN_MS", "3000")
                .env("ENROLL_TRUSTED_PROXIES", "127.0.0.1");
            let spec = match &stack.smtp {
                Some(sink) => spec
                    .env("ENROLL_SMTP_URL", sink.url())
                    .env("ENROLL_MAIL_FROM", "수강신청 <noreply@enroll.localhost>")
                    .env(
                        "ENROLL_MAIL_PAGE_URL",
                        format!("http://127.0.0.1:{students_port}/"),
                    )
                    // A newcomer sees the mail two seconds after enrolling.
                    .env("ENROLL_MAIL_DIGEST_WINDOW_MS", "2000"),
                None => spec,
            };
            let name = format!("enroll-server-{}", i + 1);
            let mut s = Service::spawn(&name, port, spec, &dir)?;
            // The first migrates the schema; the second starts after it.
            wait_healthy(&mut s, "/readyz", Duration::from_secs(60)).await?;
            instances.push(format!("127.0.0.1:{port}"));
            stack.services.push(s);
        }
        check_stop(stop)?;
        let stats_port = pick_port(cli.balancer_stats_port);
        let servers = [instances[0].as_str(), instances[1].as_str()];
        stack.students_port = balancer::start(
            (students_port, stats_port),
            &mut stack.services,
            &stack.dir,
            servers,
        )
        .await?;
    }
    check_stop(stop)?;
    if let Some(bin) = find_binary(&bin_dir, "node-agent") {
        let port = pick_port(cli.node_agent_port);
        let spec = Spec::new(bin).arg(format!("--web.listen-address=127.0.0.1:{port}"));
        let mut s = Service::spawn("node-agent", port, spec, &dir)?;
        wait_healthy(&mut s, "/metrics", Duration::from_secs(20)).await?;
        stack.services.push(s);
    }
    check_stop(stop)?;
    start_monitoring(cli, &bin_dir, &mut stack).await?;
    check_stop(stop)?;
    Ok(stack)
}

/// The alert inbox, the alerter and Prometheus, scraping everything
/// started so far and each other, with the repository's rule files; both
/// evaluators send alerts to the alerter's notifier.
async fn start_monitoring(cli: &Cli, bin_dir: &Path, stack: &mut Stack) -> Result<()> {
    let rules = Path::new(env!("CARGO_MANIFEST_DIR")).join("../rules");
    let rules = rules.canonicalize().unwrap_or(rules);
    let alerter_bin = find_binary(bin_dir, "alerter");
    let prometheus_bin = Path::new("/usr/bin/prometheus");
    let run_prometheus = !cli.no_prometheus && prometheus_bin.is_file();
    if !cli.no_prometheus && !run_prometheus {
        eprintln!("devstack: NOTICE: /usr/bin/prometheus not found (./scripts/install-deps.sh installs it); not started");
    }
    let alerter_port = pick_port(cli.alerter_port);
    let prometheus_port = pick_port(cli.prometheus_port);
    let mut targets: Vec<(&str, String)> = stack
        .services
        .iter()
        .map(|s| {
            let job = match s.name.as_str() {
                "node-agent" => "node",
                n if n.starts_with("enroll-server") => "enroll-server",
                _ => "haproxy",
            };
            (job, format!("127.0.0.1:{}", s.port))
        })
        .collect();
    let Some(alerter_bin) = alerter_bin else {
        return Ok(());
    };
    targets.push(("alerter", format!("127.0.0.1:{alerter_port}")));
    if run_prometheus {
        targets.push(("prometheus", format!("127.0.0.1:{prometheus_port}")));
    }

    let inbox_port = pick_port(cli.inbox_port);
    let spec = Spec::new(&alerter_bin)
        .arg("inbox")
        .arg(format!("--web.listen-address=127.0.0.1:{inbox_port}"))
        .arg(format!(
            "--file={}",
            stack.dir.join("logs/alerts.jsonl").display()
        ));
    let mut inbox = Service::spawn("alert-inbox", inbox_port, spec, &stack.dir)?;
    wait_healthy(&mut inbox, "/-/healthy", Duration::from_secs(20)).await?;
    let inbox_url = inbox.url();
    stack.services.push(inbox);

    let config = stack.dir.join("alerter.yml");
    fs::write(
        &config,
        alerting::alerter_config(&targets, &rules, Some(&inbox_url), &stack.slack),
    )?;
    let mut spec = Spec::new(&alerter_bin)
        .arg("run")
        .arg(format!("--config={}", config.display()))
        .arg(format!("--web.listen-address=127.0.0.1:{alerter_port}"))
        .arg(format!(
            "--web.external-url=http://127.0.0.1:{alerter_port}"
        ));
    for (key, value) in stack.slack.env() {
        spec = spec.env(key, value);
    }
    let mut s = Service::spawn("alerter", alerter_port, spec, &stack.dir)?;
    wait_healthy(&mut s, "/-/ready", Duration::from_secs(20)).await?;
    stack.services.push(s);

    if run_prometheus {
        let config = stack.dir.join("prometheus.yml");
        let alerter = format!("127.0.0.1:{alerter_port}");
        fs::write(
            &config,
            alerting::prometheus_config(&targets, &rules, Some(&alerter)),
        )?;
        let tsdb = stack.dir.join("prometheus");
        let spec = Spec::new(prometheus_bin)
            .arg(format!("--config.file={}", config.display()))
            .arg(format!("--storage.tsdb.path={}", tsdb.display()))
            .arg(format!("--web.listen-address=127.0.0.1:{prometheus_port}"));
        let mut s = Service::spawn("prometheus", prometheus_port, spec, &stack.dir)?;
        wait_healthy(&mut s, "/-/ready", Duration::from_secs(30)).await?;
        stack.services.push(s);
    }
    Ok(())
}

/// 32 hex characters from the kernel's CSPRNG.
fn random_token() -> Result<String> {
    use std::io::Read;
    let mut bytes = [0u8; 16];
    fs::File::open("/dev/urandom")?.read_exact(&mut bytes)?;
    Ok(bytes.iter().map(|b| format!("{b:02x}")).collect())
}
