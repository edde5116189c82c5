//! Runs Prometheus's own PromQL test files (`load` / `eval instant at`) from
//! `../shared/fixtures/promqltest` against the evaluator, skipping cases that
//! use features outside the supported subset, and fails on any failure among
//! the supported ones.
//!
//! The fixture files come from Prometheus 3, so the evaluator runs in its
//! Prometheus 3 window mode (left-open ranges) here.

use std::collections::{BTreeMap, HashSet};
use std::path::Path;

use alerter::notation::{expand_values, parse_series, split_series_line};
use alerter::promql::functions::almost_equal;
use alerter::promql::{parse_supported, Evaluator, RangeMode, Unsupported, Value};
use alerter::storage::{format_labels, Labels, Storage};

#[derive(Default)]
struct Counts {
    ran: usize,
    passed: usize,
    skipped: usize,
    failures: Vec<String>,
}

struct EvalCase {
    line_no: usize,
    time_ms: i64,
    expr: String,
    expect_fail: bool,
    ordered: bool,
    expected: Vec<(Labels, f64)>,
    expected_scalar: Option<f64>,
    expected_string: Option<String>,
    unsupported: Option<String>,
}

fn parse_time(text: &str) -> Option<i64> {
    alerter::duration::parse_duration(text)
        .ok()
        .map(|d| d.as_millis() as i64)
}

fn parse_eval(header: &str, line_no: usize, body: &[&str]) -> EvalCase {
    let (cmd, rest) = header.split_once(' ').unwrap_or((header, ""));
    let rest = rest.trim_start();
    let mut case = EvalCase {
        line_no,
        time_ms: 0,
        expr: String::new(),
        expect_fail: cmd == "eval_fail",
        ordered: cmd == "eval_ordered",
        expected: Vec::new(),
        expected_scalar: None,
        expected_string: None,
        unsupported: None,
    };
    let Some(after) = rest.strip_prefix("instant at ") else {
        case.unsupported = Some("range queries".into());
        return case;
    };
    let (time, expr) = after.split_once(' ').unwrap_or((after, ""));
    match parse_time(time) {
        Some(t) => case.time_ms = t,
        None => case.unsupported = Some(format!("eval time {time}")),
    }
    case.expr = expr.trim().to_string();
    for line in body {
        let line = line.trim();
        if let Some(exp) = line.strip_prefix("expect ") {
            let exp = exp.trim();
            if exp.starts_with("fail") {
                case.expect_fail = true;
            } else if exp.starts_with("ordered") {
                case.ordered = true;
            } else if let Some(s) = exp.strip_prefix("string ") {
                case.expected_string = Some(s.trim().trim_matches(['"', '`']).to_string());
            }
            // `expect info/warn/no_info/no_warn` are about annotations, which
            // the alerter does not produce; they do not change the result.
            continue;
        }
        if line.contains("{{") {
            case.unsupported = Some("native histograms".into());
            continue;
        }
        if let Ok(vals) = expand_values(line) {
            if let [Some(v)] = vals.as_slice() {
                case.expected_scalar = Some(*v);
                continue;
            }
        }
        let parsed = split_series_line(line).and_then(|(d, v)| {
            let labels = parse_series(d).ok()?;
            let vals = expand_values(v).ok()?;
            match vals.as_slice() {
                [Some(v)] => Some((labels, *v)),
                _ => None,
            }
        });
        match parsed {
            Some(p) => case.expected.push(p),
            None => case.unsupported = Some(format!("expectation line {line:?}")),
        }
    }
    case
}

fn check_case(case: &EvalCase, storage: &Storage) -> Result<(), String> {
    let expr = match parse_supported(&case.expr) {
        Ok(e) => e,
        Err(e) => {
            return if case.expect_fail {
                Ok(())
            } else {
                Err(e.to_string())
            }
        }
    };
    let mut ev = Evaluator::new(storage, case.time_ms);
    ev.mode = RangeMode::Prometheus3;
    let result = ev.eval(&expr);
    let value = match (result, case.expect_fail) {
        (Err(_), true) => return Ok(()),
        (Ok(v), true) => return Err(format!("expected an error, got {v:?}")),
        (Err(e), false) => return Err(format!("unexpected error: {e}")),
        (Ok(v), false) => v,
    };
    match value {
        Value::Scalar(v) => match case.expected_scalar {
            Some(exp) if almost_equal(exp, v, 1e-6) => Ok(()),
            exp => Err(format!("expected scalar {exp:?}, got {v}")),
        },
        Value::String(s) => match &case.expected_string {
            Some(exp) if *exp == s => Ok(()),
            exp => Err(format!("expected string {exp:?}, got {s:?}")),
        },
        Value::Vector(samples) => {
            if case.expected_scalar.is_some() {
                return Err(format!("expected a scalar, got a vector {samples:?}"));
            }
            let expected: BTreeMap<&Labels, (usize, f64)> = case
                .expected
                .iter()
                .enumerate()
                .map(|(i, (l, v))| (l, (i, *v)))
                .collect();
            for (pos, s) in samples.iter().enumerate() {
                let Some(&(exp_pos, exp)) = expected.get(&s.labels) else {
                    return Err(format!(
                        "unexpected {} {}",
                        format_labels(&s.labels),
                        s.value
                    ));
                };
                if case.ordered && exp_pos != pos {
                    return Err(format!(
                        "{} at position {pos}, expected {exp_pos}",
                        format_labels(&s.labels)
                    ));
                }
                if !almost_equal(exp, s.value, 1e-6) {
                    return Err(format!(
                        "{}: expected {exp}, got {}",
                        format_labels(&s.labels),
                        s.value
                    ));
                }
            }
            if samples.len() != expected.len() {
                return Err(format!(
                    "expected {} samples, got {}",
                    expected.len(),
                    samples.len()
                ));
            }
            Ok(())
        }
        Value::Matrix(_) => Err("range vector result".into()),
    }
}

fn load(
    storage: &mut Storage,
    step: &str,
    body: &[&str],
    hist: &mut HashSet<String>,
) -> Result<(), String> {
    let step = parse_time(step).ok_or_else(|| format!("bad load step {step}"))?;
    for line in body {
        let (desc, vals) =
            split_series_line(line).ok_or_else(|| format!("bad load line {line:?}"))?;
        let labels = parse_series(desc)?;
        match expand_values(vals) {
            Ok(values) => {
                for (i, v) in values.iter().enumerate() {
                    if let Some(v) = v {
                        storage.append(&labels, i as i64 * step, *v);
                    }
                }
            }
            Err(_) => {
                hist.insert(labels.get("__name__").cloned().unwrap_or_default());
            }
        }
    }
    Ok(())
}

fn run_file(path: &Path, counts: &mut Counts) {
    let text = std::fs::read_to_string(path).expect("readable fixture");
    let lines: Vec<&str> = text.lines().collect();
    let name = path.file_name().unwrap().to_string_lossy().to_string();
    let mut storage = Storage::new();
    let mut hist: HashSet<String> = HashSet::new();
    let mut broken_load = false;
    let mut i = 0;
    while i < lines.len() {
        let header = lines[i].trim_end();
        let start = i;
        i += 1;
        let mut body = Vec::new();
        while i < lines.len() && lines[i].starts_with([' ', '\t']) && !lines[i].trim().is_empty() {
            if !lines[i].trim_start().starts_with('#') {
                body.push(lines[i]);
            }
            i += 1;
        }
        if header.is_empty() || header.starts_with('#') {
            continue;
        }
        if header == "clear" {
            storage.clear();
            hist.clear();
            broken_load = false;
        } else if let Some(step) = header.strip_prefix("load ") {
            if let Err(e) = load(&mut storage, step.trim(), &body, &mut hist) {
                println!("{name}:{}: load skipped: {e}", start + 1);
                broken_load = true;
            }
        } else if header.starts_with("load_with_nhcb") {
            broken_load = true;
        } else if header.starts_with("eval") {
            let case = parse_eval(header, start + 1, &body);
            let uses_hist = !hist.is_empty()
                && (case.expr.contains("__name__")
                    || hist
                        .iter()
                        .any(|h| !h.is_empty() && case.expr.contains(h.as_str())));
            let unsupported = case.unsupported.clone().or_else(|| {
                if broken_load || uses_hist {
                    return Some("native histograms".into());
                }
                match parse_supported(&case.expr) {
                    Err(Unsupported::Feature(f)) => Some(f),
                    Err(Unsupported::Parse(_)) if !case.expect_fail => Some("parser".into()),
                    _ => None,
                }
            });
            if unsupported.is_some() {
                counts.skipped += 1;
                continue;
            }
            counts.ran += 1;
            match check_case(&case, &storage) {
                Ok(()) => counts.passed += 1,
                Err(e) => counts
                    .failures
                    .push(format!("{name}:{}: {}: {e}", case.line_no, case.expr)),
            }
        }
    }
}

#[test]
fn prometheus_promql_test_files_pass_for_supported_features() {
    let dir = Path::new(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../shared/fixtures/promqltest"
    ));
    if !dir.is_dir() {
        println!(
            "NOTICE: {} not found; PromQL conformance cases skipped",
            dir.display()
        );
        return;
    }
    let mut files: Vec<_> = std::fs::read_dir(dir)
        .unwrap()
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "test"))
        .collect();
    files.sort();
    let mut counts = Counts::default();
    for f in &files {
        run_file(f, &mut counts);
    }
    for f in &counts.failures {
        println!("FAIL {f}");
    }
    println!(
        "PromQL conformance: {} files, ran {}, passed {}, failed {}, skipped as unsupported {}",
        files.len(),
        counts.ran,
        counts.passed,
        counts.failures.len(),
        counts.skipped
    );
    assert!(counts.ran > 100, "too few cases ran: {}", counts.ran);
    assert!(
        counts.failures.is_empty(),
        "{} supported cases failed",
        counts.failures.len()
    );
}
