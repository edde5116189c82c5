//! `--repeat N`: the whole benchmark N times, a fresh stack each time, and
//! the median, min and max of the main figures.
//!
//! On a shared two-core machine one run's figures move by a third from one
//! minute to the next; a median over several runs, each compared with
//! pgbench measured in that same run, is what a figure should be quoted as.

use std::path::Path;

use anyhow::{Context, Result};
use serde::Serialize;

use crate::report::{micros_per_request, Summary};

/// Median, min and max of one figure over the runs that measured it.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Spread {
    pub median: f64,
    pub min: f64,
    pub max: f64,
    /// Runs that had the figure.
    pub runs: usize,
}

impl Spread {
    /// `None` for no values. The median of an even count is the mean of the
    /// two middle values.
    pub fn of(values: impl IntoIterator<Item = f64>) -> Option<Self> {
        let mut v: Vec<f64> = values.into_iter().filter(|x| x.is_finite()).collect();
        if v.is_empty() {
            return None;
        }
        v.sort_by(f64::total_cmp);
        let n = v.len();
        let median = if n % 2 == 1 {
            v[n / 2]
        } else {
            (v[n / 2 - 1] + v[n / 2]) / 2.0
        };
        Some(Self {
            median,
            min: v[0],
            max: v[n - 1],
            runs: n,
        })
    }
}

/// One figure's name, unit and spread.
#[derive(Debug, Clone, Serialize)]
pub struct Row {
    pub figure: &'static str,
    pub spread: Option<Spread>,
}

/// The figures compared across runs.
pub fn rows(runs: &[Summary]) -> Vec<Row> {
    type Get = fn(&Summary) -> Option<f64>;
    let figures: [(&'static str, Get); 16] = [
        ("ticket acks/s", |s| Some(s.ticket_acks_per_sec)),
        ("ack latency p99 ms", |s| Some(s.ack_latency.p99_ms)),
        ("decisions/s (as the client learnt them)", |s| {
            Some(s.decisions_per_sec)
        }),
        ("decisions/s (server-stamped)", |s| {
            s.stamped.as_ref().map(|r| r.decisions_per_sec)
        }),
        ("final answers/s", |s| {
            s.stamped.as_ref().map(|r| r.answers_per_sec)
        }),
        ("time to decision p50 ms (stamped)", |s| {
            s.time_to_decision_server.as_ref().map(|l| l.p50_ms)
        }),
        ("time to decision p99 ms (stamped)", |s| {
            s.time_to_decision_server.as_ref().map(|l| l.p99_ms)
        }),
        ("pgbench tps (mean of before and after)", |s| {
            s.pgbench.as_ref().map(|p| p.tps)
        }),
        ("pgbench tps before the rush", |s| {
            s.pgbench.as_ref().map(|p| p.before_tps)
        }),
        ("pgbench tps after the rush", |s| {
            s.pgbench.as_ref().map(|p| p.after_tps)
        }),
        ("decisions/s (stamped) ÷ pgbench", |s| {
            Some(s.stamped.as_ref()?.decisions_per_sec / s.pgbench.as_ref()?.tps)
        }),
        ("final answers/s ÷ pgbench", |s| {
            Some(s.stamped.as_ref()?.answers_per_sec / s.pgbench.as_ref()?.tps)
        }),
        ("admission drain rate (after firing)", |s| {
            s.admission_drain.as_ref()?.per_sec
        }),
        ("admission drain rate ÷ pgbench", |s| {
            s.admission_drain_to_pgbench_ratio
        }),
        ("CPU µs per request (all processes)", |s| {
            Some(micros_per_request(s.cpu.as_ref()?.total(), s.requests))
        }),
        ("violations", |s| Some(s.violations as f64)),
    ];
    figures
        .into_iter()
        .map(|(figure, get)| Row {
            figure,
            spread: Spread::of(runs.iter().filter_map(get)),
        })
        .collect()
}

/// The table printed after the last run.
pub fn table(runs: &[Summary]) -> String {
    let rows = rows(runs);
    let width = rows
        .iter()
        .map(|r| r.figure.chars().count())
        .max()
        .unwrap_or(0);
    let mut out = format!(
        "  {:<width$}  {:>10}  {:>10}  {:>10}\n",
        format!("over {} runs", runs.len()),
        "median",
        "min",
        "max"
    );
    let num = |x: f64| {
        if x.abs() >= 100.0 {
            format!("{x:.0}")
        } else {
            format!("{x:.2}")
        }
    };
    for r in rows {
        match r.spread {
            Some(s) => out.push_str(&format!(
                "  {:<width$}  {:>10}  {:>10}  {:>10}{}\n",
                r.figure,
                num(s.median),
                num(s.min),
                num(s.max),
                if s.runs < runs.len() {
                    format!("  ({} runs)", s.runs)
                } else {
                    String::new()
                }
            )),
            None => out.push_str(&format!("  {:<width$}  {:>10}\n", r.figure, "n/a")),
        }
    }
    out
}

/// Writes `rush-repeat.json` (every run's summary and the spreads) into `dir`.
pub fn write_json(dir: &Path, runs: &[Summary]) -> Result<std::path::PathBuf> {
    #[derive(Serialize)]
    struct Repeat<'a> {
        spreads: Vec<Row>,
        runs: &'a [Summary],
    }
    let path = dir.join("rush-repeat.json");
    let text = serde_json::to_string_pretty(&Repeat {
        spreads: rows(runs),
        runs,
    })?;
    std::fs::write(&path, text).with_context(|| format!("Failed to write {}", path.display()))?;
    Ok(path)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn median_min_max_of_odd_and_even_counts() {
        let s = Spread::of([3.0, 1.0, 2.0]).unwrap();
        assert_eq!((s.median, s.min, s.max, s.runs), (2.0, 1.0, 3.0, 3));
        let s = Spread::of([4.0, 1.0, 3.0, 2.0]).unwrap();
        assert_eq!((s.median, s.min, s.max), (2.5, 1.0, 4.0));
        assert_eq!(Spread::of([]), None);
        assert_eq!(Spread::of([f64::NAN, 5.0]).unwrap().runs, 1);
    }
}
