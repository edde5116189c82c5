//! `--fault` end to end, small: 300 students x 3 requests on rush's own
//! stack, Redis failing halfway — restarted empty (`redis-flush`), or its
//! primary killed and the replica promoted by the Sentinel
//! (`redis-failover`). No acknowledged ticket may be misreported, none lost
//! through the failover, every invariant holds, nobody is logged out, and
//! the fault really happened.
//!
//! The own stack starts an enroll-server binary; this test binary is that
//! server too: started with `RUSH_FAULT_TEST_SERVE` set it serves (through
//! enroll-server's library, as its `main` does) instead of running the
//! tests, so the test needs no separately built enroll-server. Hence
//! `harness = false`: `main` runs the tests (a filter argument picks them).

use std::path::Path;
use std::process::ExitCode;

use clap::Parser;
use serde_json::Value;

const SERVE: &str = "RUSH_FAULT_TEST_SERVE";

fn main() -> ExitCode {
    if std::env::var_os(SERVE).is_some() {
        return serve();
    }
    let filter = std::env::args().skip(1).find(|a| !a.starts_with('-'));
    let tests: [(&str, fn()); 2] = [
        (
            "redis_restarted_empty_mid_rush_misreports_nothing",
            redis_restarted_empty_mid_rush_misreports_nothing,
        ),
        (
            "redis_failover_mid_rush_loses_no_acknowledged_ticket",
            redis_failover_mid_rush_loses_no_acknowledged_ticket,
        ),
    ];
    let mut failed = 0;
    for (name, test) in tests {
        if filter.as_deref().is_some_and(|f| !name.contains(f)) {
            continue;
        }
        eprintln!("test {name} ...");
        match std::panic::catch_unwind(test) {
            Ok(()) => eprintln!("test {name} ... ok"),
            Err(_) => {
                eprintln!("test {name} ... FAILED");
                failed += 1;
            }
        }
    }
    if failed > 0 {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    }
}

/// As enroll-server's `main`: settings from the environment rush sets.
fn serve() -> ExitCode {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("a runtime");
    let served = rt.block_on(async {
        let cli = enroll_server::config::Cli::parse_from(["enroll-server"]);
        let app = enroll_server::startup::Application::build(cli.options.resolve()?).await?;
        app.run_until_stopped(servekit::shutdown_signal()).await
    });
    match served {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("enroll-server: {e:#}");
            ExitCode::FAILURE
        }
    }
}

/// Runs rush on its own stack with `fault`; asserts it exits 0 and returns
/// its printed table and the fault's figures.
fn rush_with(fault: &str, out: &Path) -> (String, Value) {
    let me = std::env::current_exe().unwrap();
    let run = std::process::Command::new(env!("CARGO_BIN_EXE_rush"))
        .args(["--fault", fault, "--server-bin"])
        .arg(&me)
        .args([
            "--students",
            "300",
            "--requests",
            "3",
            "--hot-capacity",
            "5",
        ])
        .args([
            "--normal-per-slot",
            "4",
            "--concurrency",
            "32",
            "--no-pgbench",
            // A fault that could not be made shows as undecided tickets:
            // fail within a minute rather than wait out the default.
            "--timeout-secs",
            "60",
        ])
        .arg("--out")
        .arg(out)
        .env(SERVE, "1")
        .output()
        .expect("the rush binary runs");
    let stdout = String::from_utf8_lossy(&run.stdout).into_owned();
    assert!(
        run.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&run.stderr)
    );
    let json: Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("rush-results.json")).unwrap())
            .unwrap();
    assert_eq!(json["violations"], 0, "{stdout}");
    let f = json["fault"].clone();
    assert!(f.is_object(), "{json:#}");
    assert_eq!(f["misreported"], 0, "{stdout}");
    assert_eq!(f["logged_out"], 0, "nobody is logged out: {stdout}");
    // It struck halfway: once half of the 900 requests were answered.
    let at = f["happened"]["at_answers"].as_u64().unwrap();
    assert!((450..900).contains(&at), "{f:#}");
    let acked = f["acknowledged"].as_u64().unwrap();
    assert!(acked > 100, "{f:#}");
    let finals: u64 = f["final_answers"]
        .as_object()
        .unwrap()
        .values()
        .map(|v| v.as_u64().unwrap())
        .sum();
    assert_eq!(finals, acked, "every ticket read at the end: {f:#}");
    assert!(stdout.contains("misreported (must be 0)"), "{stdout}");
    (stdout, f)
}

fn redis_restarted_empty_mid_rush_misreports_nothing() {
    let out = tempfile::tempdir().unwrap();
    let (_, f) = rush_with("redis-flush", out.path());
    let h = &f["happened"];
    assert_eq!(h["fault"], "redis-flush");
    // Another redis-server, on the same address, without the data.
    assert_ne!(h["before"]["run_id"], h["after"]["run_id"], "{h:#}");
    assert_eq!(h["before"]["address"], h["after"]["address"], "{h:#}");
    assert!(
        h["after"]["keys"].as_u64() < h["before"]["keys"].as_u64(),
        "{h:#}"
    );
    // Only tickets never decided may end unknown: the lost ones are all of
    // them (a decided one read unknown would count as misreported).
    assert_eq!(f["lost_allowed"], true);
    let unknown = f["final_answers"]["unknown"].as_u64().unwrap_or(0);
    assert_eq!(f["lost"].as_u64().unwrap(), unknown, "{f:#}");
}

fn redis_failover_mid_rush_loses_no_acknowledged_ticket() {
    let out = tempfile::tempdir().unwrap();
    let (_, f) = rush_with("redis-failover", out.path());
    let h = &f["happened"];
    assert_eq!(h["fault"], "redis-failover");
    // The replica, elsewhere, became the primary.
    assert_ne!(h["before"]["address"], h["after"]["address"], "{h:#}");
    assert_ne!(h["before"]["run_id"], h["after"]["run_id"], "{h:#}");
    assert_eq!(h["after"]["role"], "master", "{h:#}");
    assert_eq!(f["lost"], 0, "{f:#}");
    assert_eq!(f["final_answers"].get("unknown"), None, "{f:#}");
}
