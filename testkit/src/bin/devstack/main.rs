//! `devstack`: the whole course-registration stack on this machine, with
//! demo data, for trying the API and the dashboards' queries.
//!
//! Layout:
//! - this file: flags, start-up order, the banner, waiting for Ctrl-C/SIGTERM.
//! - [`services`]: the project's binaries as child processes stopped by pid.
//! - [`seed`]: demo courses, students and an open registration window, sent
//!   through the admin API.
//!
//! Everything lives in one fresh directory (`/tmp/enroll-stack-XXXXXX`,
//! printed at start): PostgreSQL's data directories, logs and the generated
//! `alerter.yml`. It is deleted on exit unless `--keep-data` is given.

mod seed;
mod services;

use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use anyhow::{bail, Context, Result};
use clap::Parser;
use services::{find_binary, pick_port, wait_healthy, Service};
use testkit::{Durability, PgCluster, PgOptions, RedisServer};

/// Starts PostgreSQL (primary + streaming replica), Redis, enroll-server,
/// node-agent, the alerter and (when installed) Prometheus on 127.0.0.1,
/// seeds demo data, prints where everything is, and stops it all on Ctrl-C
/// or SIGTERM.
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
    /// Port of enroll-server (another free port is used when taken).
    #[arg(long, default_value_t = 8080)]
    enroll_port: u16,
    /// Port of node-agent (another free port is used when taken).
    #[arg(long, default_value_t = 9100)]
    node_agent_port: u16,
    /// Port of the alerter (another free port is used when taken).
    #[arg(long, default_value_t = 9099)]
    alerter_port: u16,
    /// Port of Prometheus (another free port is used when taken).
    #[arg(long, default_value_t = 9090)]
    prometheus_port: u16,
}

/// What is running; dropping it stops the services first, then Redis and
/// PostgreSQL.
struct Stack {
    services: Vec<Service>,
    redis: Option<RedisServer>,
    pg: Option<PgCluster>,
    dir: PathBuf,
    keep: bool,
    admin_token: String,
}

impl Drop for Stack {
    fn drop(&mut self) {
        for s in self.services.iter_mut().rev() {
            s.stop();
        }
        self.redis.take();
        self.pg.take();
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
        if let Some(enroll) = stack.services.iter().find(|s| s.name == "enroll-server") {
            let seeded = seed::seed(&enroll.url(), &stack.admin_token).await?;
            print_seeded(&seeded);
        }
    }
    print_banner(&stack);
    while !stop.load(Ordering::Relaxed) {
        for s in &mut stack.services {
            s.report_exit();
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
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
        Some(d) => d.clone(),
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
    let logs = dir.join("logs");
    fs::create_dir_all(&logs)?;
    let mut stack = Stack {
        services: Vec::new(),
        redis: None,
        pg: None,
        dir: dir.clone(),
        keep: cli.keep_data,
        admin_token: random_token()?,
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
    eprintln!("devstack: starting redis-server");
    let redis = RedisServer::start()?;
    let redis_url = redis.url();
    stack.redis = Some(redis);
    check_stop(stop)?;

    if let Some(bin) = find_binary(&bin_dir, "enroll-server") {
        let port = pick_port(cli.enroll_port);
        let mut cmd = Command::new(bin);
        cmd.env("ENROLL_DATABASE_URL", &db_url)
            .env("ENROLL_REPLICA_URLS", replica_urls.join(","))
            .env("ENROLL_REDIS_URL", &redis_url)
            .env("ENROLL_ADMIN_TOKEN", &stack.admin_token)
            .env("ENROLL_LISTEN", format!("127.0.0.1:{port}"))
            // Plain http on this machine: the cookie cannot be `Secure`.
            .env("ENROLL_COOKIE_SECURE", "false");
        let mut s = Service::spawn("enroll-server", port, &mut cmd, &dir)?;
        wait_healthy(&mut s, "/readyz", Duration::from_secs(60)).await?;
        stack.services.push(s);
    }
    check_stop(stop)?;
    if let Some(bin) = find_binary(&bin_dir, "node-agent") {
        let port = pick_port(cli.node_agent_port);
        let mut cmd = Command::new(bin);
        cmd.arg(format!("--web.listen-address=127.0.0.1:{port}"));
        let mut s = Service::spawn("node-agent", port, &mut cmd, &dir)?;
        wait_healthy(&mut s, "/metrics", Duration::from_secs(20)).await?;
        stack.services.push(s);
    }
    check_stop(stop)?;
    start_monitoring(cli, &bin_dir, &mut stack).await?;
    check_stop(stop)?;
    Ok(stack)
}

/// The alerter and Prometheus, both scraping everything started so far and
/// each other, with the repository's rule files.
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
            let job = if s.name == "node-agent" {
                "node"
            } else {
                s.name
            };
            (job, format!("127.0.0.1:{}", s.port))
        })
        .collect();
    if alerter_bin.is_some() {
        targets.push(("alerter", format!("127.0.0.1:{alerter_port}")));
    }
    if run_prometheus {
        targets.push(("prometheus", format!("127.0.0.1:{prometheus_port}")));
    }
    let config = stack.dir.join("alerter.yml");
    fs::write(&config, services::scrape_config(&targets, &rules))?;
    if let Some(bin) = alerter_bin {
        let mut cmd = Command::new(bin);
        cmd.arg("run")
            .arg("--config")
            .arg(&config)
            .arg("--web.listen-address")
            .arg(format!("127.0.0.1:{alerter_port}"));
        let mut s = Service::spawn("alerter", alerter_port, &mut cmd, &stack.dir)?;
        wait_healthy(&mut s, "/-/ready", Duration::from_secs(20)).await?;
        stack.services.push(s);
    }
    if run_prometheus {
        let tsdb = stack.dir.join("prometheus");
        let mut cmd = Command::new(prometheus_bin);
        cmd.arg(format!("--config.file={}", config.display()))
            .arg(format!("--storage.tsdb.path={}", tsdb.display()))
            .arg(format!("--web.listen-address=127.0.0.1:{prometheus_port}"));
        let mut s = Service::spawn("prometheus", prometheus_port, &mut cmd, &stack.dir)?;
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

fn print_seeded(s: &seed::Seeded) {
    eprintln!(
        "devstack: seeded {} courses (hot: {}), {} students, registration window {}",
        s.courses,
        s.hot_courses.join(", "),
        s.students,
        s.window
    );
}

fn print_banner(stack: &Stack) {
    let url = |name: &str| {
        stack
            .services
            .iter()
            .find(|s| s.name == name)
            .map(|s| s.url())
    };
    let mut out =
        String::from("\n=== course-registration stack is up (Ctrl-C stops everything) ===\n");
    if let Some(base) = url("enroll-server") {
        let no = seed::student_no(0);
        let pw = seed::password_of(&no);
        out.push_str(&format!(
            "enroll-server      {base}\n\
             API docs           {base}/api-docs/openapi.json\n\
             readiness          {base}/readyz\n\
             metrics            {base}/metrics\n\
             admin token        {token}   (Authorization: Bearer <token>)\n\
             demo student       student_no {no}, password {pw}   (all demo students: demo-<student_no>)\n\
             try it:\n  \
             curl -s -c /tmp/enroll-cookies -H 'content-type: application/json' \\\n    \
             -d '{{\"student_no\":\"{no}\",\"password\":\"{pw}\"}}' {base}/api/v1/auth/login\n  \
             curl -s -b /tmp/enroll-cookies {base}/api/v1/me\n  \
             curl -s {base}/api/v1/courses\n  \
             curl -sN -b /tmp/enroll-cookies {base}/api/v1/enrollments/events   \
             (your decisions as they happen; enroll from another shell)\n",
            token = stack.admin_token,
        ));
    }
    for (name, label, path) in [
        ("node-agent", "node-agent", "/metrics"),
        ("alerter", "alerter", "/api/v1/alerts"),
        ("prometheus", "prometheus", "/graph"),
    ] {
        if let Some(u) = url(name) {
            out.push_str(&format!("{label:<18} {u}{path}   (metrics: {u}/metrics)\n"));
        }
    }
    if let Some(r) = &stack.redis {
        out.push_str(&format!("redis              {}\n", r.url()));
    }
    if let Some(pg) = &stack.pg {
        out.push_str(&format!(
            "postgres primary   {}\n",
            pg.primary.url("enroll")
        ));
        for r in &pg.replicas {
            out.push_str(&format!("postgres replica   {}\n", r.url("enroll")));
        }
    }
    out.push_str(&format!("data and logs      {}\n", stack.dir.display()));
    println!("{out}");
}
