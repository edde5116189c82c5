//! The baseline: PostgreSQL's own single-statement enroll rate on the same
//! database, measured with `pgbench`.
//!
//! Tables of its own (`bench_courses`, `bench_enrollments`, no triggers),
//! the same courses and capacities as the rush (hot ones first), and one
//! statement per transaction: a guarded `UPDATE ... WHERE enrolled <
//! capacity` feeding an `INSERT`. Hot and normal courses are picked with the
//! rush's share of hot requests (two weighted scripts).

use std::path::Path;
use std::time::Duration;

use anyhow::{bail, Context, Result};
use sqlx::PgPool;

/// The guarded single-statement enroll.
const STATEMENT: &str = "WITH u AS (UPDATE bench_courses SET enrolled = enrolled + 1 \
     WHERE id = :c AND enrolled < capacity RETURNING id) \
     INSERT INTO bench_enrollments SELECT :s, id FROM u ON CONFLICT DO NOTHING;";

/// How long pgbench runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Budget {
    /// `-T`: a fixed time.
    Seconds(u32),
    /// `-t`: this many transactions in all (the rush's request count by
    /// default: the same work over the same capacities).
    Transactions(u64),
}

/// What pgbench measured.
#[derive(Debug, Clone)]
pub struct PgbenchResult {
    /// Transactions per second, without connection time.
    pub tps: f64,
    pub clients: u32,
    /// Transactions it ran.
    pub transactions: u64,
    /// Seats the run actually took (after it, `count(*)` of the enrollments).
    pub seats_taken: i64,
}

/// The baseline of a run: pgbench once before the rush and once after it,
/// compared through their mean. The machine is shared and its speed drifts
/// within a minute (pgbench alone ran 11,000–15,600 tps within one series of
/// five runs), so a rate measured only on one side of the rush leaves the
/// drift in the ratio; one on each side weighs it on both.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Baseline {
    /// The mean of the two runs' tps: what the rush is compared with.
    pub tps: f64,
    pub clients: u32,
    /// Transactions of each run.
    pub transactions: u64,
    /// Seats the run after the rush took.
    pub seats_taken: i64,
    pub before_tps: f64,
    pub after_tps: f64,
}

impl Baseline {
    pub fn bracketing(before: &PgbenchResult, after: &PgbenchResult) -> Self {
        Self {
            tps: (before.tps + after.tps) / 2.0,
            clients: after.clients,
            transactions: after.transactions,
            seats_taken: after.seats_taken,
            before_tps: before.tps,
            after_tps: after.tps,
        }
    }
}

/// Course capacities in id order: the first `hot` are the hot ones.
pub struct BenchCourses {
    pub hot: Vec<i32>,
    pub normal: Vec<i32>,
    pub hot_share: f64,
}

/// Creates (or resets) the tables, runs pgbench for `budget` and empties
/// the tables again.
pub async fn run(
    pool: &PgPool,
    database_url: &str,
    courses: &BenchCourses,
    clients: u32,
    budget: Budget,
) -> Result<PgbenchResult> {
    prepare_tables(pool, courses).await?;
    let dir = tempfile::tempdir()?;
    let n_hot = courses.hot.len();
    let n_all = n_hot + courses.normal.len();
    let mut scripts = Vec::new();
    let hot_weight = (courses.hot_share * 100.0).round() as u32;
    if n_hot > 0 && hot_weight > 0 {
        scripts.push(("hot", 1, n_hot, hot_weight));
    }
    if n_all > n_hot && hot_weight < 100 {
        scripts.push(("normal", n_hot + 1, n_all, 100 - hot_weight));
    }
    let bin = testkit::pg::pg_bin_dir()?.join("pgbench");
    let mut cmd = tokio::process::Command::new(&bin);
    cmd.args(["-n", "-M", "prepared", "-j", "2"])
        .arg("-c")
        .arg(clients.to_string());
    match budget {
        Budget::Seconds(s) => cmd.arg("-T").arg(s.to_string()),
        Budget::Transactions(t) => cmd.arg("-t").arg(t.div_ceil(clients as u64).to_string()),
    };
    for (name, lo, hi, weight) in scripts {
        let path = dir.path().join(format!("{name}.sql"));
        write_script(&path, lo, hi)?;
        cmd.arg("-f").arg(format!("{}@{weight}", path.display()));
    }
    cmd.arg(database_url);
    let out = tokio::time::timeout(Duration::from_secs(1800), cmd.output())
        .await
        .context("pgbench did not finish within 30 minutes")?
        .with_context(|| format!("Failed to run {}", bin.display()))?;
    let stdout = String::from_utf8_lossy(&out.stdout);
    if !out.status.success() {
        bail!(
            "pgbench failed: {stdout}{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    let tps = parse_tps(&stdout).with_context(|| format!("no tps in pgbench output: {stdout}"))?;
    let transactions = parse_transactions(&stdout).unwrap_or(0);
    let seats_taken = sqlx::query_scalar("SELECT count(*) FROM bench_enrollments")
        .fetch_one(pool)
        .await?;
    // Nothing left behind for autovacuum to take up during the rush.
    sqlx::query("TRUNCATE bench_courses, bench_enrollments")
        .execute(pool)
        .await?;
    Ok(PgbenchResult {
        tps,
        clients,
        transactions,
        seats_taken,
    })
}

async fn prepare_tables(pool: &PgPool, courses: &BenchCourses) -> Result<()> {
    for sql in [
        "CREATE TABLE IF NOT EXISTS bench_courses (id INTEGER PRIMARY KEY, capacity INTEGER NOT NULL, enrolled INTEGER NOT NULL)",
        "CREATE TABLE IF NOT EXISTS bench_enrollments (student_id BIGINT NOT NULL, course_id INTEGER NOT NULL, PRIMARY KEY (student_id, course_id))",
        "TRUNCATE bench_courses, bench_enrollments",
    ] {
        sqlx::query(sql).execute(pool).await?;
    }
    let capacities: Vec<i32> = courses.hot.iter().chain(&courses.normal).copied().collect();
    sqlx::query(
        "INSERT INTO bench_courses (id, capacity, enrolled) \
         SELECT ord::int, cap, 0 FROM UNNEST($1::int[]) WITH ORDINALITY AS u(cap, ord)",
    )
    .bind(&capacities)
    .execute(pool)
    .await?;
    sqlx::query("VACUUM ANALYZE bench_courses")
        .execute(pool)
        .await?;
    Ok(())
}

fn write_script(path: &Path, lo: usize, hi: usize) -> Result<()> {
    let text = format!("\\set c random({lo}, {hi})\n\\set s random(1, 1000000000)\n{STATEMENT}\n");
    std::fs::write(path, text).with_context(|| format!("Failed to write {}", path.display()))
}

/// The `tps = N (without initial connection time)` figure.
pub fn parse_tps(output: &str) -> Option<f64> {
    output
        .lines()
        .find(|l| l.starts_with("tps = ") && l.contains("without initial connection time"))
        .and_then(|l| l["tps = ".len()..].split_whitespace().next())
        .and_then(|v| v.parse().ok())
}

/// The `number of transactions actually processed: N` figure.
pub fn parse_transactions(output: &str) -> Option<u64> {
    output
        .lines()
        .find_map(|l| l.strip_prefix("number of transactions actually processed: "))
        .and_then(|v| v.split(['/', ' ']).next())
        .and_then(|v| v.parse().ok())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_baseline_is_the_mean_of_both_sides() {
        let run = |tps, seats_taken| PgbenchResult {
            tps,
            clients: 32,
            transactions: 50_016,
            seats_taken,
        };
        let b = Baseline::bracketing(&run(11_000.0, 27_000), &run(15_000.0, 28_000));
        assert_eq!(b.tps, 13_000.0);
        assert_eq!((b.before_tps, b.after_tps), (11_000.0, 15_000.0));
        assert_eq!(b.seats_taken, 28_000, "the run after the rush");
    }

    #[test]
    fn parses_pgbench_15_output() {
        let out = "transaction type: multiple scripts\nscaling factor: 1\n\
                   number of transactions actually processed: 43210\n\
                   latency average = 7.404 ms\ninitial connection time = 12.345 ms\n\
                   tps = 4321.012345 (without initial connection time)\n";
        assert_eq!(parse_tps(out), Some(4321.012345));
        assert_eq!(parse_transactions(out), Some(43210));
        assert_eq!(
            parse_transactions("number of transactions actually processed: 50016/50016\n"),
            Some(50016)
        );
        assert_eq!(
            parse_tps("tps = 12 (including connections establishing)\n"),
            None
        );
    }
}
