//! The measured rush wave, with the server's admission figures before and
//! after it and (own stack) the CPU each process used meanwhile.

use std::sync::Arc;
use std::time::Instant;

use anyhow::Result;

use super::setup::bar;
use crate::api::Api;
use crate::report::{AdmissionUse, CpuUse};
use crate::stack::{self, OwnStack};
use crate::wave::{run_wave, WaveOptions, WaveOutcome};

/// The rush wave, with the server's admission figures and (own stack) the
/// CPU each process used meanwhile.
pub(super) async fn rush(
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

async fn admission_totals(api: &Api) -> Option<(f64, f64, f64)> {
    let text = api.metrics_text().await.ok()?;
    Some(crate::api::admission_totals(&text))
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
