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
    /// `eval range from S to E step D`: (start, end, step) in ms.
    range: Option<(i64, i64, i64)>,
    expected_range: Vec<(Labels, Vec<Option<f64>>)>,
    unsupported: Option<String>,
}

fn parse_time(text: &str) -> Option<i64> {
    notifier::duration::parse_duration(text)
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
        range: None,
        expected_range: Vec::new(),
        unsupported: None,
    };
    if let Some(after) = rest.strip_prefix("range from ") {
        let parts: Vec<&str> = after.splitn(6, ' ').collect();
        let times = match parts.as_slice() {
            [s, "to", e, "step", d, _] => parse_time(s).zip(parse_time(e)).zip(parse_time(d)),
            _ => None,
        };
        match times {
            Some(((s, e), d)) if d > 0 => case.range = Some((s, e, d)),
            _ => case.unsupported = Some(format!("range header {after:?}")),
        }
        case.expr = parts
            .get(5)
            .map(|e| e.trim().to_string())
            .unwrap_or_default();
    } else if let Some(after) = rest.strip_prefix("instant at ") {
        let (time, expr) = after.split_once(' ').unwrap_or((after, ""));
        match parse_time(time) {
            Some(t) => case.time_ms = t,
            None => case.unsupported = Some(format!("eval time {time}")),
        }
        case.expr = expr.trim().to_string();
    } else {
        case.unsupported = Some(format!("eval form {rest:?}"));
        return case;
    }
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
        if case.range.is_some() {
            let parsed = split_series_line(line)
                .and_then(|(d, v)| Some((parse_series(d).ok()?, expand_values(v).ok()?)));
            match parsed {
                Some(p) => case.expected_range.push(p),
                None => case.unsupported = Some(format!("expectation line {line:?}")),
            }
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
    if let Some(range) = case.range {
        return check_range(case, &expr, range, storage);
    }
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

/// A range query is an instant query at every step; series with no point
/// at all are absent from the result.
fn check_range(
    case: &EvalCase,
    expr: &promql_parser::parser::Expr,
    (start, end, step): (i64, i64, i64),
    storage: &Storage,
) -> Result<(), String> {
    let steps = ((end - start) / step + 1) as usize;
    let mut got: BTreeMap<Labels, Vec<Option<f64>>> = BTreeMap::new();
    for i in 0..steps {
        let mut ev = Evaluator::new(storage, start + i as i64 * step);
        ev.mode = RangeMode::Prometheus3;
        let samples = match ev.eval(expr) {
            Err(_) if case.expect_fail => return Ok(()),
            Err(e) => return Err(format!("unexpected error at step {i}: {e}")),
            Ok(Value::Scalar(v)) => vec![(Labels::new(), v)],
            Ok(Value::Vector(v)) => v.into_iter().map(|s| (s.labels, s.value)).collect(),
            Ok(other) => return Err(format!("unexpected result {other:?}")),
        };
        for (labels, v) in samples {
            got.entry(labels).or_insert_with(|| vec![None; steps])[i] = Some(v);
        }
    }
    if case.expect_fail {
        return Err("expected an error".into());
    }
    let mut expected: BTreeMap<&Labels, Vec<Option<f64>>> = BTreeMap::new();
    for (labels, vals) in &case.expected_range {
        let mut v = vals.clone();
        v.resize(steps, None);
        if v.iter().any(Option::is_some) {
            expected.insert(labels, v);
        }
    }
    if got.len() != expected.len() {
        return Err(format!(
            "expected {} series, got {}: {got:?}",
            expected.len(),
            got.len()
        ));
    }
    for (labels, vals) in &got {
        let exp = expected
            .get(labels)
            .ok_or_else(|| format!("unexpected series {}", format_labels(labels)))?;
        let same = vals.iter().zip(exp).all(|(g, e)| match (g, e) {
            (Some(g), Some(e)) => almost_equal(*e, *g, 1e-6),
            (None, None) => true,
            _ => false,
        });
        if !same {
            return Err(format!(
                "{}: expected {exp:?}, got {vals:?}",
                format_labels(labels)
            ));
        }
    }
    Ok(())
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
