//! The rush binary end to end, small: 200 students x 3 requests against a
//! real enroll-server (started in this test process through the same
//! `Application::build` as its `main`) on testkit's PostgreSQL and Redis.
//!
//! Spawning the server in-process keeps the test independent of whether an
//! `enroll-server` binary has been built (and in which profile); the rush
//! binary is driven through `--target`, the mode for a running stack.

use std::process::Output;

use serde_json::Value;
use testkit::RedisServer;

const ADMIN: &str = "rush-smoke-admin-token-0123";

async fn rush(args: &[&str]) -> Output {
    tokio::process::Command::new(env!("CARGO_BIN_EXE_rush"))
        .args(args)
        .output()
        .await
        .expect("the rush binary runs")
}

/// Runs rush, which must succeed; its printed table and written JSON.
async fn rush_ok(args: &[&str], out: &std::path::Path) -> (String, Value) {
    let run = rush(args).await;
    let stdout = String::from_utf8_lossy(&run.stdout).into_owned();
    assert!(
        run.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&run.stderr)
    );
    let json =
        serde_json::from_str(&std::fs::read_to_string(out.join("rush-results.json")).unwrap())
            .unwrap();
    (stdout, json)
}

/// An enroll-server (in this process) on a fresh database and its own Redis.
struct Server {
    base: String,
    db: String,
    redis: RedisServer,
    task: tokio::task::JoinHandle<anyhow::Result<()>>,
}

async fn start_server() -> Server {
    let (db, replicas) = tokio::task::spawn_blocking(|| testkit::shared::database("rush"))
        .await
        .unwrap()
        .unwrap();
    let redis = RedisServer::start().unwrap();
    let settings = enroll_server::Options {
        listen: Some("127.0.0.1:0".parse().unwrap()),
        database_url: Some(db.clone()),
        replica_urls: Some(replicas),
        redis_url: Some(redis.url()),
        admin_token: Some(ADMIN.into()),
        argon2_memory_kib: Some(1024),
        argon2_iterations: Some(1),
        ..Default::default()
    }
    .resolve()
    .unwrap();
    let app = enroll_server::Application::build(settings).await.unwrap();
    let base = format!("http://127.0.0.1:{}", app.port());
    let task = tokio::spawn(app.run_until_stopped(std::future::pending()));
    Server {
        base,
        db,
        redis,
        task,
    }
}

/// The small workload's arguments against `server`, writing into `out`.
fn small_args<'a>(server: &'a Server, redis_url: &'a str, out: &'a str) -> Vec<&'a str> {
    vec![
        "--target",
        &server.base,
        "--admin-token",
        ADMIN,
        "--database-url",
        &server.db,
        "--redis-url",
        redis_url,
        "--students",
        "200",
        "--requests",
        "3",
        "--hot-capacity",
        "5",
        "--normal-per-slot",
        "4",
        "--clash-share",
        "0.1",
        "--credit-share",
        "0.05",
        "--concurrency",
        "32",
        "--out",
        out,
    ]
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn small_rush_keeps_every_invariant_and_writes_its_figures() {
    let server = start_server().await;
    let out = tempfile::tempdir().unwrap();

    let redis_url = server.redis.url();
    let mut args = small_args(&server, &redis_url, out.path().to_str().unwrap());
    args.extend(["--pgbench-clients", "4"]);
    let (stdout, json) = rush_ok(&args, out.path()).await;
    assert!(stdout.contains("violations (must be 0)"), "{stdout}");

    assert_eq!(json["violations"], 0, "{json:#}");
    assert_eq!(json["students"], 200);
    assert_eq!(json["requests"], 600);
    let tickets = json["tickets"].as_u64().unwrap();
    let refused: u64 = json["refused_at_once"]
        .as_object()
        .unwrap()
        .values()
        .map(|v| v.as_u64().unwrap())
        .sum();
    assert!(tickets > 100, "{json:#}");
    assert_eq!(
        tickets + refused,
        600,
        "every request is answered: {json:#}"
    );
    assert_eq!(json["decided"], tickets, "every ticket decided");
    // Each student held one event stream: every decision was pushed.
    assert_eq!(json["events"], tickets, "{json:#}");
    assert!(stdout.contains("on one stream per student"), "{stdout}");
    assert!(json["decisions_per_sec"].as_f64().unwrap() > 0.0);
    assert!(json["ack_latency"]["p99_ms"].as_f64().unwrap() > 0.0);
    // The server stamps each decision; seen that way it comes no later than
    // the event that told it (1 ms for rounding the two clocks' readings).
    let stamped = json["time_to_decision_server"]["max_ms"].as_f64().unwrap();
    let polled = json["time_to_decision"]["max_ms"].as_f64().unwrap();
    assert!(stamped > 0.0 && stamped <= polled + 1.0, "{json:#}");
    assert!(
        stdout.contains("time to decision (server-stamped)"),
        "{stdout}"
    );
    // pgbench ran on both sides of the rush; the rush is compared with the
    // mean of the two.
    let pg = &json["pgbench"];
    let (before, after) = (
        pg["before_tps"].as_f64().unwrap(),
        pg["after_tps"].as_f64().unwrap(),
    );
    assert!(before > 0.0 && after > 0.0, "{json:#}");
    // JSON numbers are read back to within an ulp or so.
    let mean = (before + after) / 2.0;
    assert!(
        (pg["tps"].as_f64().unwrap() - mean).abs() <= 1e-9 * mean,
        "{json:#}"
    );
    assert!(stdout.contains("before and"), "{stdout}");
    // The baseline does the same work: one transaction per rush request.
    assert!(
        json["pgbench"]["transactions"].as_u64().unwrap() >= 600,
        "{json:#}"
    );
    assert!(json["decisions_to_pgbench_ratio"].as_f64().unwrap() > 0.0);
    // The drain figure is always reported: a rate, or null when the backlog
    // after firing was too small to measure (as it may be in a run this small).
    let drain = &json["admission_drain"];
    assert!(drain["seconds"].as_f64().unwrap() >= 0.0, "{json:#}");
    assert!(
        drain["per_sec"].is_null() == json["admission_drain_to_pgbench_ratio"].is_null(),
        "{json:#}"
    );
    assert!(
        stdout.contains("admission drain rate (after firing)"),
        "{stdout}"
    );
    let outcomes = json["outcomes"].as_object().unwrap();
    for key in [
        "enrolled",
        "rejected course_full",
        "rejected credit_limit",
        "rejected schedule_conflict",
    ] {
        assert!(outcomes.contains_key(key), "{key} missing: {outcomes:?}");
    }
    assert!(json["samples"].as_array().unwrap().len() > 1);

    let svg = std::fs::read_to_string(out.path().join("rush-plot.svg")).unwrap();
    assert!(
        svg.starts_with("<svg") && svg.matches("<polyline").count() == 4,
        "{svg}"
    );
    server.task.abort();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn held_admission_queues_every_request_and_decides_them_after_firing() {
    let server = start_server().await;
    let out = tempfile::tempdir().unwrap();
    let redis_url = server.redis.url();
    let mut args = small_args(&server, &redis_url, out.path().to_str().unwrap());
    // Followed by polls alone here, so that path stays covered too.
    args.extend(["--hold-admission", "--no-pgbench", "--poll-only"]);
    let (stdout, json) = rush_ok(&args, out.path()).await;
    assert!(stdout.contains("paused while firing"), "{stdout}");
    assert_eq!(json["violations"], 0, "{json:#}");
    assert_eq!(json["event_streams"], false, "{json:#}");
    assert_eq!(json["events"], 0, "{json:#}");
    assert!(stdout.contains("none (--poll-only)"), "{stdout}");
    assert!(json["polls"].as_u64().unwrap() > 0, "{json:#}");
    assert_eq!(json["hold_admission"], true);
    // Nothing was decided while firing, so no course was known full and
    // every request got a ticket; all of them were decided afterwards.
    assert_eq!(json["tickets"], 600, "{json:#}");
    assert_eq!(json["decided"], 600, "{json:#}");
    assert!(json["refused_at_once"].as_object().unwrap().is_empty());
    // The server's decision counter stood still until firing ended.
    let fire_end_ms = json["fire_seconds"].as_f64().unwrap() * 1e3;
    let counts: Vec<f64> = json["samples"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|s| s["t_ms"].as_f64().unwrap() < fire_end_ms)
        .map(|s| s["decisions_total"].as_f64().unwrap())
        .collect();
    assert!(
        counts.windows(2).all(|w| w[0] == w[1]),
        "decided while paused: {counts:?}"
    );
    server.task.abort();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn repeated_runs_print_medians_and_keep_each_runs_files() {
    let server = start_server().await;
    let out = tempfile::tempdir().unwrap();
    let redis_url = server.redis.url();
    let mut args = small_args(&server, &redis_url, out.path().to_str().unwrap());
    args.extend(["--no-pgbench", "--repeat", "2"]);
    let run = rush(&args).await;
    let stdout = String::from_utf8_lossy(&run.stdout).into_owned();
    assert!(
        run.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&run.stderr)
    );
    assert!(stdout.contains("over 2 runs"), "{stdout}");
    let repeat: Value = serde_json::from_str(
        &std::fs::read_to_string(out.path().join("rush-repeat.json")).unwrap(),
    )
    .unwrap();
    let runs = repeat["runs"].as_array().unwrap();
    assert_eq!(runs.len(), 2);
    // Two separate runs (fresh students each time), each with its own files.
    for k in 1..=2 {
        let dir = out.path().join(format!("run-{k}"));
        assert!(dir.join("rush-results.json").exists(), "run-{k}");
        assert!(dir.join("rush-plot.svg").exists(), "run-{k}");
    }
    let acks: Vec<f64> = runs
        .iter()
        .map(|r| r["ticket_acks_per_sec"].as_f64().unwrap())
        .collect();
    let spread = |name: &str| {
        repeat["spreads"]
            .as_array()
            .unwrap()
            .iter()
            .find(|r| r["figure"] == name)
            .unwrap_or_else(|| panic!("no {name}"))["spread"]
            .clone()
    };
    let a = spread("ticket acks/s");
    // JSON numbers are read back to within an ulp or so.
    let close = |x: f64, y: f64| (x - y).abs() <= 1e-9 * y.abs();
    assert!(
        close(a["median"].as_f64().unwrap(), (acks[0] + acks[1]) / 2.0),
        "{a}"
    );
    assert!(
        close(a["min"].as_f64().unwrap(), acks[0].min(acks[1])),
        "{a}"
    );
    assert_eq!(spread("violations")["max"], 0.0);
    assert!(
        spread("pgbench tps (mean of before and after)").is_null(),
        "pgbench was skipped"
    );
    server.task.abort();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn phased_scenario_keeps_every_invariant_beside_the_default() {
    let server = start_server().await;
    let out = tempfile::tempdir().unwrap();
    let redis_url = server.redis.url();
    let mut args = small_args(&server, &redis_url, out.path().to_str().unwrap());
    args.extend(["--no-pgbench", "--scenario", "both"]);
    let run = rush(&args).await;
    let stdout = String::from_utf8_lossy(&run.stdout).into_owned();
    assert!(
        run.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&run.stderr)
    );
    assert!(stdout.contains("medians over 1 round"), "{stdout}");
    assert!(stdout.contains("phased ÷ default"), "{stdout}");
    assert!(stdout.contains("round by round"), "{stdout}");
    assert!(stdout.contains("phased: years 3-4 and 2"), "{stdout}");
    let compare: Value = serde_json::from_str(
        &std::fs::read_to_string(out.path().join("rush-compare.json")).unwrap(),
    )
    .unwrap();
    assert_eq!(compare["rounds"], 1);
    let (default, phased) = (&compare["default"][0], &compare["phased"][0]);
    assert_eq!(default["scenario"], "default");
    assert_eq!(phased["scenario"], "phased");
    for run in [default, phased] {
        assert_eq!(run["violations"], 0, "{run:#}");
        assert_eq!(run["request_errors"], 0, "{run:#}");
    }
    for k in ["default", "phased"] {
        assert!(out
            .path()
            .join(format!("run-1-{k}/rush-results.json"))
            .exists());
    }
    // Year 1 (a quarter of 200 students, 3 requests each) had no open
    // phase; nobody in the default scenario was refused so.
    assert_eq!(
        phased["refused_at_once"]["403 not_your_phase"], 150,
        "{phased:#}"
    );
    assert!(default["refused_at_once"]["403 not_your_phase"].is_null());
    assert!(
        phased["outcomes"]["enrolled"].as_u64().unwrap() > 0,
        "{phased:#}"
    );
    // Every rush course of the phased run reserved seats for its majors,
    // who took some; the phases the run replaced are back.
    let db = sqlx::PgPool::connect(&server.db).await.unwrap();
    let (blocks, taken): (i64, i64) =
        sqlx::query_as("SELECT count(*), coalesce(sum(enrolled), 0)::bigint FROM course_blocks")
            .fetch_one(&db)
            .await
            .unwrap();
    assert_eq!(blocks, 3 * (2 + 4), "3 slots x (2 hot + 4 normal) courses");
    assert!(taken > 0, "no block seat taken");
    let phases: Vec<(String,)> = sqlx::query_as("SELECT name FROM phases")
        .fetch_all(&db)
        .await
        .unwrap();
    assert_eq!(phases, vec![("registration".to_string(),)]);
    server.task.abort();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn waitlist_scenario_keeps_every_invariant_with_joins_and_cancels() {
    let server = start_server().await;
    let out = tempfile::tempdir().unwrap();
    let redis_url = server.redis.url();
    let mut args = small_args(&server, &redis_url, out.path().to_str().unwrap());
    args.extend([
        "--no-pgbench",
        "--scenario",
        "waitlist",
        "--cancel-share",
        "0.3",
    ]);
    let (stdout, json) = rush_ok(&args, out.path()).await;
    assert_eq!(json["scenario"], "waitlist");
    assert_eq!(json["violations"], 0, "{json:#}");
    assert!(stdout.contains("waitlist joins (201)"), "{stdout}");
    let w = &json["waitlist"];
    assert!(w["joined"].as_u64().unwrap() > 0, "{w:#}");
    assert!(w["cancelled"].as_u64().unwrap() > 0, "{w:#}");
    assert_eq!(w["errors"], 0, "{w:#}");
    // The server's own count of what the scenario did matches the tool's.
    let db = sqlx::PgPool::connect(&server.db).await.unwrap();
    let count = |kind: &'static str| {
        let db = db.clone();
        async move {
            let (n,): (i64,) =
                sqlx::query_as("SELECT count(*) FROM enrollment_events WHERE kind = $1")
                    .bind(kind)
                    .fetch_one(&db)
                    .await
                    .unwrap();
            n as u64
        }
    };
    assert_eq!(count("waitlisted").await, w["joined"].as_u64().unwrap());
    assert_eq!(count("cancelled").await, w["cancelled"].as_u64().unwrap());
    assert_eq!(
        count("waitlist_promoted").await,
        w["promoted"].as_u64().unwrap()
    );
    server.task.abort();
}

#[tokio::test]
async fn target_mode_needs_its_credentials() {
    let run = rush(&["--target", "http://127.0.0.1:9"]).await;
    assert!(!run.status.success());
    let err = String::from_utf8_lossy(&run.stderr);
    assert!(
        err.contains("--admin-token") && err.contains("--database-url"),
        "{err}"
    );
}

#[tokio::test]
async fn own_stack_names_the_missing_server_binary() {
    let out = tempfile::tempdir().unwrap();
    let run = rush(&[
        "--server-bin",
        "/nonexistent/enroll-server",
        "--out",
        out.path().to_str().unwrap(),
    ])
    .await;
    assert!(!run.status.success());
    let err = String::from_utf8_lossy(&run.stderr);
    assert!(
        err.contains("cargo build --release -p enroll-server"),
        "{err}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cart_scenario_settles_carts_by_fit_and_lottery_then_refuses_a_second_close() {
    let server = start_server().await;
    let out = tempfile::tempdir().unwrap();
    let redis_url = server.redis.url();
    let mut args = small_args(&server, &redis_url, out.path().to_str().unwrap());
    args.extend(["--no-pgbench", "--scenario", "cart", "--seed", "7"]);
    let (stdout, json) = rush_ok(&args, out.path()).await;
    assert_eq!(json["scenario"], "cart");
    assert_eq!(json["violations"], 0, "{json:#}");
    assert!(stdout.contains("courses settled at close"), "{stdout}");
    assert!(stdout.contains("settle time"), "{stdout}");
    let c = &json["cart"];
    assert_eq!(c["policy"], "lottery");
    assert_eq!(c["seed"], 7);
    // 3 slots x 2 hot courses of 5 seats, each wanted by ~28 carts: drawn
    // (and maybe a normal course whose carts outgrew its seats).
    let drawn = c["courses_by_lottery"].as_u64().unwrap();
    assert!(drawn >= 6, "{c:#}");
    assert!(c["courses_by_fit"].as_u64().unwrap() > 0, "{c:#}");
    assert!(c["carts"].as_u64().unwrap() > 100, "{c:#}");
    assert!(c["settle_ms"].as_f64().unwrap() > 0.0, "{c:#}");
    // The server's own trail: one lottery row per drawn course, with the
    // seed, and one cart_enrolled row per seat filled at close.
    let db = sqlx::PgPool::connect(&server.db).await.unwrap();
    let seeds: Vec<(Option<i64>,)> = sqlx::query_as(
        "SELECT (detail->>'seed')::bigint FROM enrollment_events WHERE kind = 'lottery_drawn'",
    )
    .fetch_all(&db)
    .await
    .unwrap();
    assert_eq!(seeds, vec![(Some(7),); drawn as usize]);
    let (seated,): (i64,) =
        sqlx::query_as("SELECT count(*) FROM enrollment_events WHERE kind = 'cart_enrolled'")
            .fetch_one(&db)
            .await
            .unwrap();
    assert_eq!(seated as u64, c["seats_filled"].as_u64().unwrap());
    // Cart winners asked for their seats again in the rush: queued, then
    // rejected already_enrolled (or refused at once course_full).
    assert!(
        json["outcomes"]["rejected already_enrolled"]
            .as_u64()
            .unwrap()
            > 0,
        "{json:#}"
    );
    assert!(json["refused_at_once"]["409 already_enrolled"].is_null());

    // The cart settles once per database: a second run is refused.
    let again = tempfile::tempdir().unwrap();
    let mut args = small_args(&server, &redis_url, again.path().to_str().unwrap());
    args.extend(["--no-pgbench", "--scenario", "cart"]);
    let run = rush(&args).await;
    assert!(!run.status.success());
    let err = String::from_utf8_lossy(&run.stderr);
    assert!(
        err.contains("cart period was settled at") && err.contains("fresh one"),
        "{err}"
    );
    server.task.abort();
}
