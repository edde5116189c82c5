//! `alerter test rules`: promtool's unit-test format, evaluated the way
//! `promtool test rules` (Prometheus 2.x) does, so the same files pass or
//! fail under both.

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};

use serde::Deserialize;

use crate::notation::{expand_values, parse_series};
use crate::promql::{parse_supported, Evaluator, Value};
use crate::rules::{load_rule_file, AlertState, EvalEnv, Rule, RuleGroup};
use crate::storage::{format_labels, Labels, Storage};
use notifier::duration::PromDuration;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct TestFile {
    #[serde(default)]
    rule_files: Vec<String>,
    #[serde(default)]
    evaluation_interval: Option<PromDuration>,
    #[serde(default)]
    group_eval_order: Vec<String>,
    #[serde(default)]
    tests: Vec<TestGroup>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct TestGroup {
    #[serde(default)]
    interval: Option<PromDuration>,
    #[serde(default)]
    input_series: Vec<InputSeries>,
    #[serde(default)]
    alert_rule_test: Vec<AlertTest>,
    #[serde(default)]
    promql_expr_test: Vec<ExprTest>,
    #[serde(default)]
    external_labels: BTreeMap<String, String>,
    #[serde(default)]
    external_url: String,
    #[serde(default)]
    name: String,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct InputSeries {
    series: String,
    #[serde(deserialize_with = "yaml_scalar")]
    values: String,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct AlertTest {
    eval_time: PromDuration,
    #[serde(default)]
    alertname: String,
    #[serde(default)]
    exp_alerts: Vec<ExpAlert>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ExpAlert {
    #[serde(default)]
    exp_labels: BTreeMap<String, String>,
    #[serde(default)]
    exp_annotations: BTreeMap<String, String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ExprTest {
    expr: String,
    eval_time: PromDuration,
    #[serde(default)]
    exp_samples: Vec<ExpSample>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ExpSample {
    #[serde(default)]
    labels: String,
    value: f64,
}

fn yaml_scalar<'de, D: serde::Deserializer<'de>>(d: D) -> Result<String, D::Error> {
    match yaml_serde::Value::deserialize(d)? {
        yaml_serde::Value::String(s) => Ok(s),
        yaml_serde::Value::Number(n) => Ok(n.to_string()),
        _ => Err(serde::de::Error::custom("expected a string of values")),
    }
}

/// Runs every test file; prints promtool-style output to stdout. Returns
/// whether all passed.
pub fn run_test_files(paths: &[PathBuf]) -> bool {
    let mut ok = true;
    for path in paths {
        println!("Unit Testing:  {}", path.display());
        match run_test_file(path) {
            Ok(()) => println!("  SUCCESS\n"),
            Err(errors) => {
                ok = false;
                println!("  FAILED:");
                for e in errors {
                    println!("{e}");
                }
                println!();
            }
        }
    }
    ok
}

/// Runs one test file; the errors are promtool-style failure texts.
pub fn run_test_file(path: &Path) -> Result<(), Vec<String>> {
    let text =
        std::fs::read_to_string(path).map_err(|e| vec![format!("    {}: {e}", path.display())])?;
    let file: TestFile = yaml_serde::from_str(&text).map_err(|e| {
        let at = e
            .location()
            .map(|l| format!("{}:{}:", l.line(), l.column()))
            .unwrap_or_default();
        vec![format!("    {}:{at} {e}", path.display())]
    })?;
    let mut seen = std::collections::HashSet::new();
    if let Some(dup) = file
        .group_eval_order
        .iter()
        .find(|g| !seen.insert(g.as_str()))
    {
        return Err(vec![format!(
            "group name repeated in evaluation order: {dup}"
        )]);
    }
    let base = path.parent().unwrap_or(Path::new("."));
    let rule_files = crate::config::resolve_globs(base, &file.rule_files)
        .map_err(|e| vec![format!("    {e}")])?;
    let eval_interval = file
        .evaluation_interval
        .map(|d| d.millis())
        .filter(|&d| d > 0)
        .unwrap_or(60_000);
    let mut errors = Vec::new();
    for group in &file.tests {
        if let Err(mut e) = run_group(group, &rule_files, eval_interval, &file.group_eval_order) {
            errors.append(&mut e);
        }
    }
    if errors.is_empty() {
        Ok(())
    } else {
        Err(errors)
    }
}

type AlertSet = Vec<(Labels, Labels)>;

fn run_group(
    tg: &TestGroup,
    rule_files: &[PathBuf],
    eval_interval: i64,
    order: &[String],
) -> Result<(), Vec<String>> {
    let prefix = if tg.name.is_empty() {
        String::new()
    } else {
        format!("    name: {},\n", tg.name)
    };
    let fail = |msg: String| vec![format!("{prefix}    {msg}")];
    let series_interval = tg
        .interval
        .map(|d| d.millis())
        .filter(|&d| d > 0)
        .unwrap_or(eval_interval);
    let mut storage = load_input_series(tg, series_interval).map_err(fail)?;
    let mut groups: Vec<RuleGroup> = Vec::new();
    for f in rule_files {
        groups.extend(load_rule_file(f, series_interval).map_err(|e| fail(e.to_string()))?);
    }
    let rank = |g: &RuleGroup| order.iter().position(|n| *n == g.name).unwrap_or(0);
    groups.sort_by_key(rank);
    let prefixed = |v: Vec<String>| {
        v.into_iter()
            .map(|e| format!("{prefix}{e}"))
            .collect::<Vec<_>>()
    };
    let mut errors = match evaluate_and_check_alerts(tg, &mut groups, &mut storage, eval_interval) {
        Ok(alert_errors) => prefixed(alert_errors),
        Err(eval_errors) => return Err(prefixed(eval_errors)),
    };
    for test in &tg.promql_expr_test {
        if let Err(e) = check_expr(test, &storage) {
            errors.push(format!("{prefix}{e}"));
        }
    }
    if errors.is_empty() {
        Ok(())
    } else {
        Err(errors)
    }
}

/// Loads `input_series` at `interval` steps from time 0.
fn load_input_series(tg: &TestGroup, interval: i64) -> Result<Storage, String> {
    let mut storage = Storage::new();
    for s in &tg.input_series {
        let labels = parse_series(&s.series)?;
        let values = expand_values(&s.values).map_err(|e| format!("series {:?}: {e}", s.series))?;
        for (i, v) in values.into_iter().enumerate() {
            if let Some(v) = v {
                storage.append(&labels, i as i64 * interval, v);
            }
        }
    }
    Ok(storage)
}

/// Evaluates every group at each step from 0 to the last `eval_time`, and
/// checks alert tests at the step where `ts <= eval_time < ts + interval`,
/// as promtool does. Returns the failed alert checks; an evaluation error
/// stops the run (`Err`, with the alert failures found before it).
fn evaluate_and_check_alerts(
    tg: &TestGroup,
    groups: &mut [RuleGroup],
    storage: &mut Storage,
    eval_interval: i64,
) -> Result<Vec<String>, Vec<String>> {
    let env = EvalEnv {
        external_labels: tg.external_labels.clone().into_iter().collect(),
        external_url: tg.external_url.clone(),
        ..Default::default()
    };
    let mut alert_times: Vec<i64> = tg
        .alert_rule_test
        .iter()
        .map(|t| t.eval_time.millis())
        .collect();
    alert_times.sort();
    alert_times.dedup();
    let max_t = tg
        .alert_rule_test
        .iter()
        .map(|t| t.eval_time.millis())
        .chain(tg.promql_expr_test.iter().map(|t| t.eval_time.millis()))
        .max()
        .unwrap_or(0);
    let mut errors = Vec::new();
    let mut next = 0;
    let mut ts = 0;
    while ts <= max_t {
        let mut eval_errors = Vec::new();
        for g in groups.iter_mut() {
            g.eval(ts, storage, &env);
            for r in &g.rules {
                if let Some(e) = &r.health().last_error {
                    eval_errors.push(format!(
                        "    rule: {}, time: {}, err: {e}",
                        r.name(),
                        fmt_ms(ts)
                    ));
                }
            }
        }
        if !eval_errors.is_empty() {
            errors.extend(eval_errors);
            return Err(errors);
        }
        while next < alert_times.len() && alert_times[next] < ts + eval_interval {
            let t = alert_times[next];
            for test in tg
                .alert_rule_test
                .iter()
                .filter(|a| a.eval_time.millis() == t)
            {
                if let Err(e) = check_alerts(test, groups) {
                    errors.push(e);
                }
            }
            next += 1;
        }
        ts += eval_interval;
    }
    Ok(errors)
}

fn check_alerts(test: &AlertTest, groups: &[RuleGroup]) -> Result<(), String> {
    let mut got: AlertSet = Vec::new();
    for g in groups {
        for r in &g.rules {
            if let Rule::Alerting(a) = r {
                if a.name == test.alertname {
                    got.extend(
                        a.active
                            .values()
                            .filter(|x| x.state == AlertState::Firing)
                            .map(|x| (x.labels.clone(), x.annotations.clone())),
                    );
                }
            }
        }
    }
    let mut exp: AlertSet = test
        .exp_alerts
        .iter()
        .map(|a| {
            let mut labels: Labels = a.exp_labels.clone().into_iter().collect();
            labels.insert("alertname".into(), test.alertname.clone());
            (labels, a.exp_annotations.clone().into_iter().collect())
        })
        .collect();
    got.sort();
    exp.sort();
    if got == exp {
        return Ok(());
    }
    Err(format!(
        "    alertname: {}, time: {}, \n        exp:{},\n        got:{}",
        test.alertname,
        test.eval_time,
        fmt_alerts(&exp),
        fmt_alerts(&got)
    ))
}

fn fmt_alerts(alerts: &AlertSet) -> String {
    if alerts.is_empty() {
        return "[]".into();
    }
    let items: Vec<String> = alerts
        .iter()
        .enumerate()
        .map(|(i, (l, a))| {
            format!(
                "            {i}:\n              Labels:{}\n              Annotations:{}",
                fmt_map(l),
                fmt_map(a)
            )
        })
        .collect();
    format!("[\n{}\n            ]", items.join("\n"))
}

fn fmt_map(m: &Labels) -> String {
    let inner: Vec<String> = m.iter().map(|(k, v)| format!("{k}={v:?}")).collect();
    format!("{{{}}}", inner.join(", "))
}

fn check_expr(test: &ExprTest, storage: &Storage) -> Result<(), String> {
    let at = test.eval_time.millis();
    let head = format!("    expr: {:?}, time: {}", test.expr, test.eval_time);
    let expr = parse_supported(&test.expr).map_err(|e| format!("{head}, err: {e}"))?;
    let mut got: Vec<(Labels, f64)> = match Evaluator::new(storage, at).eval(&expr) {
        Ok(Value::Vector(v)) => v.into_iter().map(|s| (s.labels, s.value)).collect(),
        Ok(Value::Scalar(v)) => vec![(Labels::new(), v)],
        Ok(_) => {
            return Err(format!(
                "{head}, err: rule result is not a vector or scalar"
            ))
        }
        Err(e) => return Err(format!("{head}, err: {e}")),
    };
    let mut exp = Vec::new();
    for s in &test.exp_samples {
        let labels = parse_series(&s.labels).map_err(|e| format!("{head}, err: {e}"))?;
        exp.push((labels, s.value));
    }
    let key = |x: &(Labels, f64), y: &(Labels, f64)| x.0.cmp(&y.0);
    got.sort_by(key);
    exp.sort_by(key);
    // Exact equality, as promtool 2.x compares (NaN never equals NaN).
    let equal =
        got.len() == exp.len() && got.iter().zip(&exp).all(|(g, e)| g.0 == e.0 && g.1 == e.1);
    if equal {
        return Ok(());
    }
    let show = |v: &[(Labels, f64)]| -> String {
        let parts: Vec<String> = v
            .iter()
            .map(|(l, x)| format!("{} {}", format_labels(l), crate::gofmt::format_e(*x)))
            .collect();
        parts.join(", ")
    };
    Err(format!(
        "{head},\n        exp: {}\n        got: {}",
        show(&exp),
        show(&got)
    ))
}

fn fmt_ms(ms: i64) -> String {
    notifier::duration::format_duration(std::time::Duration::from_millis(ms.max(0) as u64))
}

/// Counts alert tests and expression tests in a file (for summaries).
pub fn count_tests(path: &Path) -> Option<HashMap<&'static str, usize>> {
    let text = std::fs::read_to_string(path).ok()?;
    let file: TestFile = yaml_serde::from_str(&text).ok()?;
    let mut m = HashMap::new();
    m.insert(
        "alert_rule_test",
        file.tests.iter().map(|t| t.alert_rule_test.len()).sum(),
    );
    m.insert(
        "promql_expr_test",
        file.tests.iter().map(|t| t.promql_expr_test.len()).sum(),
    );
    Some(m)
}
