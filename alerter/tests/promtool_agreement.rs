//! The same files through `promtool` (Debian's, Prometheus 2.x) and through
//! the alerter binary: rule unit tests must pass or fail identically, and
//! rule files must be accepted or rejected identically.

use std::path::{Path, PathBuf};
use std::process::Command;

const PROMTOOL: &str = "/usr/bin/promtool";

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap()
        .to_path_buf()
}

fn yml_files(dir: &Path) -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "yml"))
        .collect();
    v.sort();
    v
}

fn passes(program: &str, args: &[&str], file: &Path) -> (bool, String) {
    let out = Command::new(program)
        .args(args)
        .arg(file)
        .output()
        .unwrap_or_else(|e| panic!("running {program}: {e}"));
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.success(), text)
}

fn have_promtool() -> bool {
    if Path::new(PROMTOOL).exists() {
        return true;
    }
    println!("NOTICE: {PROMTOOL} not installed; comparison skipped");
    false
}

#[test]
fn project_rule_tests_pass_under_alerter_and_promtool() {
    let files = yml_files(&repo().join("rules/tests"));
    assert!(files.len() >= 2, "expected rules/tests/*.yml");
    for f in &files {
        let (ok, out) = passes(env!("CARGO_BIN_EXE_alerter"), &["test", "rules"], f);
        assert!(ok, "alerter test rules {}:\n{out}", f.display());
        if have_promtool() {
            let (ok, out) = passes(PROMTOOL, &["test", "rules"], f);
            assert!(ok, "promtool test rules {}:\n{out}", f.display());
        }
    }
}

#[test]
fn corner_case_tests_get_the_same_verdict_as_promtool() {
    let dir = repo().join("alerter/tests/data/promtool");
    let tests: Vec<PathBuf> = yml_files(&dir)
        .into_iter()
        .filter(|p| {
            let n = p.file_name().unwrap().to_string_lossy();
            n.starts_with("pass_") || n.starts_with("fail_")
        })
        .collect();
    let mut failing = 0;
    for f in &tests {
        let name = f.file_name().unwrap().to_string_lossy().to_string();
        let (ours, out) = passes(env!("CARGO_BIN_EXE_alerter"), &["test", "rules"], f);
        assert_eq!(ours, name.starts_with("pass_"), "alerter on {name}:\n{out}");
        if !ours {
            failing += 1;
            assert!(out.contains("FAILED"), "{name}: {out}");
        }
        if have_promtool() {
            let (theirs, pout) = passes(PROMTOOL, &["test", "rules"], f);
            assert_eq!(
                ours, theirs,
                "verdicts differ on {name}\nalerter:\n{out}\npromtool:\n{pout}"
            );
        }
    }
    assert!(failing >= 8, "the deliberately failing files must fail");
}

#[test]
fn project_rule_files_are_clean_under_both_checkers() {
    let files = yml_files(&repo().join("rules"));
    assert!(files.len() >= 2);
    for f in &files {
        let (ok, out) = passes(env!("CARGO_BIN_EXE_alerter"), &["check", "rules"], f);
        assert!(ok, "alerter check rules {}:\n{out}", f.display());
        if have_promtool() {
            let (ok, out) = passes(PROMTOOL, &["check", "rules"], f);
            assert!(ok, "promtool check rules {}:\n{out}", f.display());
            assert!(!out.contains("WARNING"), "{out}");
        }
    }
}

#[test]
fn bad_rule_files_are_rejected_by_both_with_a_location() {
    for f in yml_files(&repo().join("alerter/tests/data/bad_rules")) {
        let (ok, out) = passes(env!("CARGO_BIN_EXE_alerter"), &["check", "rules"], &f);
        assert!(!ok, "alerter accepted {}", f.display());
        let name = f.file_name().unwrap().to_string_lossy().to_string();
        let located = out
            .split(&format!("{name}:"))
            .nth(1)
            .and_then(|rest| rest.split(':').next())
            .is_some_and(|line| line.parse::<usize>().is_ok_and(|l| l > 0));
        assert!(located, "no file:line in {out}");
        if have_promtool() {
            let (theirs, _) = passes(PROMTOOL, &["check", "rules"], &f);
            assert!(!theirs, "promtool accepted {}", f.display());
        }
    }
}

#[test]
fn unsupported_promql_is_rejected_at_load_time_with_its_name() {
    let dir = tempfile::tempdir().unwrap();
    let f = dir.path().join("r.yml");
    std::fs::write(&f, "groups:\n  - name: g\n    rules:\n      - alert: A\n        expr: stddev_over_time(x[5m]) > 1\n").unwrap();
    let (ok, out) = passes(env!("CARGO_BIN_EXE_alerter"), &["check", "rules"], &f);
    assert!(!ok);
    assert!(
        out.contains("r.yml:5:15") && out.contains("stddev_over_time"),
        "{out}"
    );
}
