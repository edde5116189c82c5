//! One PostgreSQL cluster per test process, a fresh database per test.
//!
//! Starting a primary and a replica costs a couple of seconds, so the tests of
//! one test binary share them; isolation comes from a database per test. A
//! `static` is never dropped, so a small watchdog process stops the servers
//! (by pid) and deletes their directory once the test process has exited,
//! however it exits.

use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::OnceLock;

use anyhow::Result;

use crate::pg::{PgCluster, PgOptions};

static CLUSTER: OnceLock<PgCluster> = OnceLock::new();
static NEXT_DB: AtomicU32 = AtomicU32::new(0);

/// The process-wide cluster (primary + one replica), started on first use.
pub fn cluster() -> &'static PgCluster {
    CLUSTER.get_or_init(|| {
        let tmp = tempfile::Builder::new()
            .prefix("enroll-pg-shared-")
            .tempdir()
            .expect("temp dir for the shared cluster");
        let base = tmp.keep();
        let cluster = PgCluster::start(PgOptions {
            base_dir: Some(base.clone()),
            ..PgOptions::default()
        })
        .expect("start the shared PostgreSQL cluster");
        spawn_watchdog(&cluster, &base);
        cluster
    })
}

/// A fresh, empty database on the shared cluster, visible on its replica.
/// Returns `(primary_url, replica_urls)`.
pub fn database(prefix: &str) -> Result<(String, Vec<String>)> {
    let n = NEXT_DB.fetch_add(1, Ordering::Relaxed);
    let name = format!("{prefix}_{}_{n}", std::process::id());
    cluster().create_database(&name)
}

fn spawn_watchdog(cluster: &PgCluster, base: &std::path::Path) {
    let mut pids: Vec<String> = cluster
        .replicas
        .iter()
        .chain(std::iter::once(&cluster.primary))
        .map(|s| s.pid().to_string())
        .collect();
    pids.retain(|p| p != "0");
    let script = format!(
        "while kill -0 {me} 2>/dev/null; do sleep 0.5; done; \
         kill -QUIT {pids} 2>/dev/null; sleep 3; kill -KILL {pids} 2>/dev/null; rm -rf '{dir}'",
        me = std::process::id(),
        pids = pids.join(" "),
        dir = base.display()
    );
    // setsid: a Ctrl-C to the test's process group must not kill the watchdog
    // before it has cleaned up.
    let _ = Command::new("setsid")
        .args(["sh", "-c", &script])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn();
}
