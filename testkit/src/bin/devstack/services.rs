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

/// One started service.
pub struct Service {
    pub name: &'static str,
    pub port: u16,
    pub log: PathBuf,
    guard: ChildGuard,
    exit_reported: bool,
}

impl Service {
    /// Starts `cmd` as `name` in `work_dir` (so relative data paths, like
    /// the alerter's default `--storage.path=data`, stay in the stack's
    /// directory), its output written to `<work_dir>/logs/<name>.log`.
    ///
    /// The child gets a process group of its own, so a Ctrl-C in the terminal
    /// reaches only `devstack`, which then stops the services in order; and
    /// it receives SIGTERM if `devstack` itself dies without cleaning up.
    pub fn spawn(
        name: &'static str,
        port: u16,
        cmd: &mut Command,
        work_dir: &Path,
    ) -> Result<Self> {
        let log = work_dir.join("logs").join(format!("{name}.log"));
        let file = fs::File::create(&log)
            .with_context(|| format!("Failed to create {}", log.display()))?;
        cmd.stdin(Stdio::null())
            .stdout(file.try_clone()?)
            .stderr(file)
            .current_dir(work_dir)
            .process_group(0);
        // SAFETY: prctl is async-signal-safe and touches only the child.
        unsafe {
            cmd.pre_exec(|| {
                libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGTERM);
                Ok(())
            });
        }
        let guard = ChildGuard::spawn(name, cmd)?.with_stop_signal(libc::SIGTERM);
        Ok(Self {
            name,
            port,
            log,
            guard,
            exit_reported: false,
        })
    }

    /// `http://127.0.0.1:<port>`.
    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// Prints a notice (once) when the service has exited on its own.
    pub fn report_exit(&mut self) {
        if self.exit_reported {
            return;
        }
        if let Some(status) = self.guard.try_wait() {
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
        self.guard.kill();
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

/// Waits until `GET url` answers 2xx, failing early if the service exits.
pub async fn wait_healthy(service: &mut Service, path: &str, timeout: Duration) -> Result<()> {
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(2))
        .build()?;
    let url = format!("{}{path}", service.url());
    let deadline = Instant::now() + timeout;
    loop {
        if let Ok(r) = client.get(&url).send().await {
            if r.status().is_success() {
                return Ok(());
            }
        }
        if let Some(status) = service.guard.try_wait() {
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

/// Scrape targets as (job, `host:port`).
pub type Targets<'a> = &'a [(&'a str, String)];

/// `alerter.yml` (also valid as `prometheus.yml`): every target scraped every
/// 5 s, the repository's rule files loaded by absolute path.
pub fn scrape_config(targets: Targets, rules_dir: &Path) -> String {
    let mut out = String::from(
        "# Written by devstack for this run; regenerated on every start.\n\
         global:\n  scrape_interval: 5s\n  scrape_timeout: 4s\n  evaluation_interval: 5s\n\
         scrape_configs:\n",
    );
    for (job, target) in targets {
        out.push_str(&format!(
            "  - job_name: {job}\n    static_configs:\n      - targets: ['{target}']\n"
        ));
    }
    out.push_str(&format!(
        "rule_files:\n  - '{}/*.yml'\n",
        rules_dir.display()
    ));
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scrape_config_lists_every_target_and_the_rules() {
        let targets = [
            ("enroll-server", "127.0.0.1:8080".to_string()),
            ("node", "127.0.0.1:9100".to_string()),
        ];
        let text = scrape_config(&targets, Path::new("/repo/rules"));
        assert!(text.contains("job_name: enroll-server"), "{text}");
        assert!(text.contains("targets: ['127.0.0.1:9100']"), "{text}");
        assert!(text.contains("- '/repo/rules/*.yml'"), "{text}");
    }
}
