//! The textfile collector against node_exporter's own textfile test cases
//! (`textfile/<case>/` with the expected output `<case>.out`, node_exporter
//! 1.12) and against the real node_exporter 1.5 on the same files.

mod common;

use std::path::{Path, PathBuf};
use std::time::{Duration, UNIX_EPOCH};

use common::{differences, fixtures, node_exporter_bin, Agent, Exporter};
use node_agent::collectors::textfile;
use node_agent::metrics::MetricSet;
use node_agent::parse::{parse, Scrape};
use node_agent::Config;

/// Copies `case` to `<root>/fixtures/textfile/<case>` with every file's
/// mtime at 1 s past the epoch, as node_exporter's test does.
fn stage(fx: &Path, case: &str, root: &Path) -> PathBuf {
    let dest = root.join("fixtures/textfile").join(case);
    std::fs::create_dir_all(&dest).unwrap();
    let src = fx.join("textfile").join(case);
    if let Ok(entries) = std::fs::read_dir(&src) {
        for e in entries.flatten() {
            let to = dest.join(e.file_name());
            std::fs::copy(e.path(), &to).unwrap();
            let f = std::fs::File::options().write(true).open(&to).unwrap();
            f.set_modified(UNIX_EPOCH + Duration::from_secs(1)).unwrap();
        }
    } else {
        std::fs::remove_dir(&dest).unwrap(); // the "nonexistent_path" case
    }
    dest
}

fn collect(dir: &Path) -> String {
    let config = Config::parse_from([
        "node-agent".to_string(),
        format!("--collector.textfile.directory={}", dir.display()),
    ])
    .unwrap();
    let c = textfile::build(&config).unwrap();
    let mut out = MetricSet::new();
    c.update(&mut out).unwrap();
    out.render()
}

/// `file` labels and the paths in help texts relative to `root`, like
/// node_exporter's test paths.
fn relative(mut s: Scrape, root: &Path) -> Scrape {
    let prefix = format!("{}/", root.display());
    for help in s.helps.values_mut() {
        *help = help.replace(&prefix, "");
    }
    if let Some(m) = s.samples.remove("node_textfile_mtime_seconds") {
        let m = m
            .into_iter()
            .map(|(mut l, v)| {
                let f = l["file"].trim_start_matches(&prefix).to_string();
                l.insert("file".into(), f);
                (l, v)
            })
            .collect();
        s.samples.insert("node_textfile_mtime_seconds".into(), m);
    }
    s
}

const CASES: &[&str] = &[
    "client_side_timestamp",
    "different_metric_types",
    "histogram",
    "histogram_extra_dimension",
    "inconsistent_metrics",
    "metrics_merge_different_help",
    "metrics_merge_empty_help",
    "metrics_merge_no_help",
    "metrics_merge_same_help",
    "no_metric_files",
    "nonexistent_path",
    "summary",
    "summary_extra_dimension",
    "two_metric_files",
];

#[test]
fn same_samples_as_node_exporter_1_12_expected_outputs() {
    let Some(fx) = fixtures() else { return };
    let mut failures = Vec::new();
    for case in CASES {
        let root = tempfile::tempdir().unwrap();
        let dir = stage(&fx, case, root.path());
        let mine = relative(parse(&collect(&dir)).unwrap(), root.path());
        let out = std::fs::read_to_string(fx.join("textfile").join(format!("{case}.out"))).unwrap();
        let expected = parse(&out).unwrap();
        let mut diffs = differences(&mine, &expected, &[]);
        for name in expected.samples.keys() {
            if !mine.samples.contains_key(name) {
                diffs.push(format!("{name}: only in {case}.out"));
            }
        }
        if !diffs.is_empty() {
            failures.push(format!("{case}:\n  {}", diffs.join("\n  ")));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

/// Known, intended differences from node_exporter 1.5 (node-agent follows
/// 1.12): a family whose help differs between two files. Both keep the first
/// file's samples, but only 1.12 reports it as `node_textfile_scrape_error 1`.
const NEWER_THAN_1_5: &[(&str, &str)] =
    &[("metrics_merge_different_help", "node_textfile_scrape_error")];

#[test]
fn same_samples_as_node_exporter_1_5_on_the_same_files() {
    let Some(fx) = fixtures() else { return };
    let Some(bin) = node_exporter_bin() else {
        return;
    };
    let mut failures = Vec::new();
    for case in CASES {
        let root = tempfile::tempdir().unwrap();
        let dir = stage(&fx, case, root.path());
        let args = vec![
            "--collector.disable-defaults".to_string(),
            "--collector.textfile".to_string(),
            format!("--collector.textfile.directory={}", dir.display()),
            "--web.disable-exporter-metrics".to_string(),
        ];
        let (_, mine) = Agent::start(&args).scrape();
        let (_, theirs) = Exporter::start(bin, &args).scrape();
        let skip: Vec<&str> = NEWER_THAN_1_5
            .iter()
            .filter(|(c, _)| c == case)
            .map(|(_, f)| *f)
            .collect();
        let diffs = differences(&mine, &theirs, &skip);
        if !diffs.is_empty() {
            failures.push(format!("{case}:\n  {}", diffs.join("\n  ")));
        }
        // The listed difference is really there.
        for family in skip {
            assert_ne!(
                mine.samples.get(family),
                theirs.samples.get(family),
                "{case}: {family}"
            );
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}
