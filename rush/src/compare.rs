//! `--scenario both`: the default and the phased scenario run in turn on
//! the same machine (default, phased, default, phased, ...), then the
//! medians of their main figures side by side with their ratio, and the
//! ratio of final answers per second round by round — each round's two
//! runs a minute apart, so that ratio is the least disturbed by a noisy
//! neighbour.

use std::path::Path;

use anyhow::{Context, Result};
use serde::Serialize;

use crate::repeat::{self, Spread};
use crate::report::Summary;

/// One figure of both scenarios.
#[derive(Debug, Clone, Serialize)]
pub struct Row {
    pub figure: &'static str,
    pub default: Option<Spread>,
    pub phased: Option<Spread>,
    /// Phased median ÷ default median (none when either is missing or the
    /// default's is 0).
    pub ratio: Option<f64>,
}

/// The figures of [`repeat::rows`], for both scenarios.
pub fn rows(default: &[Summary], phased: &[Summary]) -> Vec<Row> {
    side_by_side(repeat::rows(default), repeat::rows(phased))
}

/// Pairs the two scenarios' spreads figure by figure.
fn side_by_side(default: Vec<repeat::Row>, phased: Vec<repeat::Row>) -> Vec<Row> {
    default
        .into_iter()
        .zip(phased)
        .map(|(d, p)| Row {
            figure: d.figure,
            default: d.spread,
            phased: p.spread,
            ratio: ratio(d.spread, p.spread),
        })
        .collect()
}

fn ratio(default: Option<Spread>, phased: Option<Spread>) -> Option<f64> {
    let (d, p) = (default?.median, phased?.median);
    (d != 0.0).then(|| p / d)
}

/// Final answers per second, phased ÷ default, of each round (a round's
/// runs are the `k`-th of each list).
pub fn answers_ratio_by_round(default: &[Summary], phased: &[Summary]) -> Option<Spread> {
    let answers = |runs: &[Summary]| -> Vec<Option<f64>> {
        runs.iter()
            .map(|s| s.stamped.as_ref().map(|r| r.answers_per_sec))
            .collect()
    };
    paired_ratio(&answers(default), &answers(phased))
}

/// `phased[k] ÷ default[k]` over the rounds that have both.
fn paired_ratio(default: &[Option<f64>], phased: &[Option<f64>]) -> Option<Spread> {
    Spread::of(
        default
            .iter()
            .zip(phased)
            .filter_map(|(d, p)| Some(p.as_ref()? / d.as_ref()?)),
    )
}

/// The table printed after the last round.
pub fn table(default: &[Summary], phased: &[Summary]) -> String {
    render(
        &rows(default, phased),
        answers_ratio_by_round(default, phased),
        default.len(),
    )
}

fn render(rows: &[Row], by_round: Option<Spread>, rounds: usize) -> String {
    let title = format!(
        "medians over {rounds} round{} (default, phased, ...)",
        if rounds == 1 { "" } else { "s" }
    );
    let width = rows
        .iter()
        .map(|r| r.figure.chars().count())
        .chain([title.chars().count()])
        .max()
        .unwrap_or(0);
    let mut out = format!(
        "  {title:<width$}  {:>10}  {:>10}  {:>16}\n",
        "default", "phased", "phased ÷ default"
    );
    let cell = |s: Option<Spread>| s.map_or_else(|| "n/a".to_string(), |s| num(s.median));
    // Figures neither scenario measured (pgbench's, with --no-pgbench).
    for r in rows
        .iter()
        .filter(|r| r.default.is_some() || r.phased.is_some())
    {
        out.push_str(&format!(
            "  {:<width$}  {:>10}  {:>10}  {:>16}\n",
            r.figure,
            cell(r.default),
            cell(r.phased),
            r.ratio
                .map_or_else(|| "n/a".to_string(), |x| format!("{x:.2}"))
        ));
    }
    if let Some(s) = by_round {
        out.push_str(&format!(
            "  final answers/s, phased ÷ default, round by round: median {:.2}, min {:.2}, max {:.2}\n",
            s.median, s.min, s.max
        ));
    }
    out
}

/// As in the `--repeat` table: whole numbers from 100 up.
fn num(x: f64) -> String {
    if x.abs() >= 100.0 {
        format!("{x:.0}")
    } else {
        format!("{x:.2}")
    }
}

/// Writes `rush-compare.json` (both scenarios' spreads, the ratios and
/// every run's summary) into `dir`.
pub fn write_json(
    dir: &Path,
    default: &[Summary],
    phased: &[Summary],
) -> Result<std::path::PathBuf> {
    #[derive(Serialize)]
    struct Compare<'a> {
        rounds: usize,
        rows: Vec<Row>,
        answers_ratio_by_round: Option<Spread>,
        default: &'a [Summary],
        phased: &'a [Summary],
    }
    let path = dir.join("rush-compare.json");
    let text = serde_json::to_string_pretty(&Compare {
        rounds: default.len(),
        rows: rows(default, phased),
        answers_ratio_by_round: answers_ratio_by_round(default, phased),
        default,
        phased,
    })?;
    std::fs::write(&path, text).with_context(|| format!("Failed to write {}", path.display()))?;
    Ok(path)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(figure: &'static str, values: &[f64]) -> repeat::Row {
        repeat::Row {
            figure,
            spread: Spread::of(values.iter().copied()),
        }
    }

    #[test]
    fn medians_side_by_side_with_their_ratio() {
        let rows = side_by_side(
            vec![
                row("final answers/s", &[20_000.0, 22_000.0]),
                row("ack latency p99 ms", &[30.0, 34.0]),
                row("violations", &[0.0, 0.0]),
                row("pgbench tps (mean of before and after)", &[]),
            ],
            vec![
                row("final answers/s", &[16_000.0, 17_000.0]),
                row("ack latency p99 ms", &[40.0, 40.0]),
                row("violations", &[0.0, 0.0]),
                row("pgbench tps (mean of before and after)", &[]),
            ],
        );
        assert!((rows[0].ratio.unwrap() - 16_500.0 / 21_000.0).abs() < 1e-12);
        assert!((rows[1].ratio.unwrap() - 1.25).abs() < 1e-12);
        assert_eq!(rows[2].ratio, None, "0 ÷ 0");
        assert_eq!(rows[3].ratio, None, "not measured");
        let by_round = paired_ratio(&[Some(20_000.0), Some(22_000.0)], &[Some(17_000.0), None]);
        let text = render(&rows, by_round, 2);
        let lines: Vec<&str> = text.lines().collect();
        assert!(
            lines[0].contains("medians over 2 rounds") && lines[0].ends_with("phased ÷ default")
        );
        assert!(
            lines[1].contains("final answers/s") && lines[1].contains("21000"),
            "{text}"
        );
        assert!(
            lines[1].contains("16500") && lines[1].ends_with("0.79"),
            "{text}"
        );
        assert!(
            lines[2].ends_with("1.25") && lines[2].contains("32.00"),
            "{text}"
        );
        assert!(
            lines[3].contains("violations") && lines[3].ends_with("n/a"),
            "{text}"
        );
        assert!(!text.contains("pgbench"), "measured by neither: {text}");
        // Only the first round has both runs: 17000 ÷ 20000.
        assert!(
            lines[4].contains("round by round: median 0.85, min 0.85, max 0.85"),
            "{text}"
        );
    }
}
