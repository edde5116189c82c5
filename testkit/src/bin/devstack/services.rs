//! The project's own binaries (and Debian's Prometheus) as child processes
//! of the local stack: found next to `devstack`, logging to files, stopped by
//! pid.

use std::fs;
use std::net::TcpListener;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use testkit::ChildGuard;

/// How to start a service (kept, so that it can be started again).
#[derive(Debug, Clone)]
pub struct Spec {
    program: PathBuf,
    args: Vec<String>,
    env: Vec<(String, String)>,
}

impl Spec {
    pub fn new(program: impl Into<PathBuf>) -> Self {
        Self {
            program: program.into(),
            args: Vec::new(),
            env: Vec::new(),
        }
    }

    pub fn arg(mut self, arg: impl Into<String>) -> Self {
        self.args.push(arg.into());
        self
    }

    pub fn env(mut self, key: &str, value: impl Into<String>) -> Self {
        self.env.push((key.to_string(), value.into()));
        self
    }

    fn command(&self) -> Command {
        let mut cmd = Command::new(&self.program);
        cmd.args(&self.args)
            .envs(self.env.iter().map(|(k, v)| (k, v)));
        cmd
    }
}

/// One started service.
pub struct Service {
    pub name: String,
    pub port: u16,
    pub log: PathBuf,
    spec: Spec,
    work_dir: PathBuf,
    guard: Option<ChildGuard>,
    exit_reported: bool,
}

impl Service {
    /// Starts `spec` as `name` in `work_dir` (so relative data paths, like
    /// the alerter's default `--storage.path=data`, stay in the stack's
    /// directory), its output appended to `<work_dir>/logs/<name>.log`.
    pub fn spawn(name: &str, port: u16, spec: Spec, work_dir: &Path) -> Result<Self> {
        let mut service = Self {
            name: name.to_string(),
            port,
            log: work_dir.join("logs").join(format!("{name}.log")),
            spec,
            work_dir: work_dir.to_path_buf(),
            guard: None,
            exit_reported: false,
        };
        service.start()?;
        Ok(service)
    }

    /// Starts the process (again).
    ///
    /// The child gets a process group of its own, so a Ctrl-C in the terminal
    /// reaches only `devstack`, which then stops the services in order; and
    /// it receives SIGTERM if `devstack` itself dies without cleaning up.
    pub fn start(&mut self) -> Result<()> {
        if self.is_running() {
            bail!("{} is already running", self.name);
        }
        let file = fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.log)
            .with_context(|| format!("Failed to open {}", self.log.display()))?;
        let mut cmd = self.spec.command();
        cmd.stdin(Stdio::null())
            .stdout(file.try_clone()?)
            .stderr(file)
            .current_dir(&self.work_dir)
            .process_group(0);
        // SAFETY: prctl is async-signal-safe and touches only the child.
        unsafe {
            cmd.pre_exec(|| {
                libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGTERM);
                Ok(())
            });
        }
        self.guard = Some(ChildGuard::spawn(&self.name, &mut cmd)?.with_stop_signal(libc::SIGTERM));
        self.exit_reported = false;
        Ok(())
    }

    /// `http://127.0.0.1:<port>`.
    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// The running process's id.
    pub fn pid(&self) -> Option<u32> {
        self.guard.as_ref().map(ChildGuard::pid)
    }

    fn exited(&mut self) -> Option<std::process::ExitStatus> {
        self.guard.as_mut().and_then(ChildGuard::try_wait)
    }

    /// Whether the process was started and has not exited.
    pub fn is_running(&mut self) -> bool {
        self.guard.is_some() && self.exited().is_none()
    }

    /// Prints a notice (once) when the service has exited on its own.
    pub fn report_exit(&mut self) {
        if self.exit_reported {
            return;
        }
        if let Some(status) = self.exited() {
            self.exit_reported = true;
            eprintln!(
                "devstack: {} exited ({status}); see {}",
                self.name,
                self.log.display()
            );
        }
    }

    /// Stops the service: SIGTERM, SIGKILL after five seconds.
    pub fn stop(&mut self) {
        if let Some(mut guard) = self.guard.take() {
            guard.kill();
        }
        self.exit_reported = true;
    }

    /// Kills the service at once (SIGKILL), as a crash would.
    pub fn kill(&mut self) {
        if let Some(guard) = &self.guard {
            let _ = guard.signal(libc::SIGKILL);
        }
        self.stop();
    }
}

/// A binary of the workspace in `dir`, or `None` with a notice saying how to
/// build it.
pub fn find_binary(dir: &Path, name: &str) -> Option<PathBuf> {
    let path = dir.join(name);
    if path.is_file() {
        return Some(path);
    }
    eprintln!(
        "devstack: NOTICE: {} not found, so {name} is not started \
         (build it with `cargo build --release -p {name}`)",
        path.display()
    );
    None
}

/// `preferred` when it is free on 127.0.0.1, else any free port.
pub fn pick_port(preferred: u16) -> u16 {
    if preferred != 0 && TcpListener::bind(("127.0.0.1", preferred)).is_ok() {
        return preferred;
    }
    let port = testkit::free_port();
    if preferred != 0 {
        eprintln!("devstack: port {preferred} is taken, using {port} instead");
    }
    port
}

/// Waits until `GET <service's url><path>` answers 2xx, failing early if
/// the service exits.
pub async fn wait_healthy(service: &mut Service, path: &str, timeout: Duration) -> Result<()> {
    let url = format!("{}{path}", service.url());
    wait_for_url(service, &url, timeout).await
}

/// Waits until `GET url` answers 2xx (a URL `service` serves, maybe on
/// another of its ports), failing early if the service exits.
pub async fn wait_for_url(service: &mut Service, url: &str, timeout: Duration) -> Result<()> {
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(2))
        .build()?;
    let deadline = Instant::now() + timeout;
    loop {
        if let Ok(r) = client.get(url).send().await {
            if r.status().is_success() {
                return Ok(());
            }
        }
        if let Some(status) = service.exited() {
            service.exit_reported = true;
            bail!(
                "{} exited ({status}) while starting; see {}",
                service.name,
                service.log.display()
            );
        }
        if Instant::now() > deadline {
            bail!(
                "{} did not answer {url} within {timeout:?}; see {}",
                service.name,
                service.log.display()
            );
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// A real SMTP server (aiosmtpd) keeping students' mail in `<dir>/mail`;
/// `None`, with a notice, where python3-aiosmtpd is missing (mail stays off).
pub fn mail_sink(dir: &Path) -> Option<testkit::SmtpSink> {
    let opts = testkit::SinkOptions {
        dir: Some(dir.join("mail")),
        ..testkit::SinkOptions::default()
    };
    match testkit::SmtpSink::start(opts) {
        Ok(sink) => Some(sink),
        Err(e) => {
            eprintln!("devstack: NOTICE: no SMTP sink ({e:#}); mail is off (./scripts/install-deps.sh installs python3-aiosmtpd)");
            None
        }
    }
}
