//! The supported PromQL functions, mirroring Prometheus's `functions.go`.

use promql_parser::label::MatchOp;
use promql_parser::parser::{Call, Expr};
use regex::Regex;

use super::eval::{check_unique, EvalError, EvalResult, Evaluator};
use super::{Sample, Value};
use crate::storage::{Labels, METRIC_NAME};

/// Evaluates a function call.
pub fn eval_call(ev: &Evaluator, c: &Call) -> EvalResult<Value> {
    let args: Vec<&Expr> = c.args.args.iter().map(|a| a.as_ref()).collect();
    let name = c.func.name;
    let out = match name {
        "time" => return Ok(Value::Scalar(ev.time as f64 / 1000.0)),
        "vector" => {
            let v = ev.eval_scalar(args[0])?;
            return Ok(Value::Vector(vec![Sample {
                labels: Labels::new(),
                value: v,
            }]));
        }
        "scalar" => {
            let v = ev.eval_vector(args[0])?;
            return Ok(Value::Scalar(if v.len() == 1 {
                v[0].value
            } else {
                f64::NAN
            }));
        }
        "abs" => map_values(ev.eval_vector(args[0])?, f64::abs),
        "ceil" => map_values(ev.eval_vector(args[0])?, f64::ceil),
        "floor" => map_values(ev.eval_vector(args[0])?, f64::floor),
        "round" => {
            let to_nearest = match args.get(1) {
                Some(a) => ev.eval_scalar(a)?,
                None => 1.0,
            };
            let inverse = 1.0 / to_nearest;
            map_values(ev.eval_vector(args[0])?, |v| {
                (v * inverse + 0.5).floor() / inverse
            })
        }
        "clamp" => {
            let v = ev.eval_vector(args[0])?;
            let (lo, hi) = (ev.eval_scalar(args[1])?, ev.eval_scalar(args[2])?);
            if hi < lo {
                Vec::new()
            } else {
                map_values(v, |x| go_max(lo, go_min(hi, x)))
            }
        }
        "clamp_min" => {
            let lo = ev.eval_scalar(args[1])?;
            map_values(ev.eval_vector(args[0])?, |x| go_max(lo, x))
        }
        "clamp_max" => {
            let hi = ev.eval_scalar(args[1])?;
            map_values(ev.eval_vector(args[0])?, |x| go_min(hi, x))
        }
        "label_replace" => label_replace(ev, &args)?,
        "label_join" => label_join(ev, &args)?,
        "histogram_quantile" => {
            histogram_quantile(ev.eval_scalar(args[0])?, ev.eval_vector(args[1])?)
        }
        "absent" => {
            if ev.eval_vector(args[0])?.is_empty() {
                absent_result(args[0])
            } else {
                Vec::new()
            }
        }
        "absent_over_time" => {
            if ev.eval_matrix(args[0])?.is_empty() {
                absent_result(args[0])
            } else {
                Vec::new()
            }
        }
        _ => return super::range_functions::range_function(ev, name, &args),
    };
    check_unique(&out)?;
    Ok(Value::Vector(out))
}

fn go_max(a: f64, b: f64) -> f64 {
    if a.is_nan() || b.is_nan() {
        f64::NAN
    } else {
        a.max(b)
    }
}

fn go_min(a: f64, b: f64) -> f64 {
    if a.is_nan() || b.is_nan() {
        f64::NAN
    } else {
        a.min(b)
    }
}

fn map_values(samples: Vec<Sample>, f: impl Fn(f64) -> f64) -> Vec<Sample> {
    samples
        .into_iter()
        .map(|mut s| {
            s.labels.remove(METRIC_NAME);
            s.value = f(s.value);
            s
        })
        .collect()
}

fn string_arg(ev: &Evaluator, e: &Expr) -> EvalResult<String> {
    match ev.eval(e)? {
        Value::String(s) => Ok(s),
        other => Err(EvalError(format!(
            "expected string, got {}",
            other.type_name()
        ))),
    }
}

fn valid_label_name(name: &str) -> bool {
    let mut chars = name.chars();
    matches!(chars.next(), Some(c) if c == '_' || c.is_ascii_alphabetic())
        && chars.all(|c| c == '_' || c.is_ascii_alphanumeric())
}

fn label_replace(ev: &Evaluator, args: &[&Expr]) -> EvalResult<Vec<Sample>> {
    let samples = ev.eval_vector(args[0])?;
    let dst = string_arg(ev, args[1])?;
    let replacement = string_arg(ev, args[2])?;
    let src = string_arg(ev, args[3])?;
    let pattern = string_arg(ev, args[4])?;
    let re = Regex::new(&format!("^(?s:{pattern})$")).map_err(|e| {
        EvalError(format!(
            "invalid regular expression in label_replace(): {e}"
        ))
    })?;
    if !valid_label_name(&dst) {
        return Err(EvalError(format!(
            "invalid destination label name in label_replace(): {dst}"
        )));
    }
    Ok(samples
        .into_iter()
        .map(|mut s| {
            let value = s.labels.get(&src).cloned().unwrap_or_default();
            if let Some(caps) = re.captures(&value) {
                let mut out = String::new();
                caps.expand(&replacement, &mut out);
                set_or_delete(&mut s.labels, &dst, out);
            }
            s
        })
        .collect())
}

fn label_join(ev: &Evaluator, args: &[&Expr]) -> EvalResult<Vec<Sample>> {
    let samples = ev.eval_vector(args[0])?;
    let dst = string_arg(ev, args[1])?;
    let sep = string_arg(ev, args[2])?;
    let srcs = args[3..]
        .iter()
        .map(|a| string_arg(ev, a))
        .collect::<EvalResult<Vec<String>>>()?;
    if !valid_label_name(&dst) {
        return Err(EvalError(format!(
            "invalid destination label name in label_join(): {dst}"
        )));
    }
    Ok(samples
        .into_iter()
        .map(|mut s| {
            let joined: Vec<String> = srcs
                .iter()
                .map(|l| s.labels.get(l).cloned().unwrap_or_default())
                .collect();
            set_or_delete(&mut s.labels, &dst, joined.join(&sep));
            s
        })
        .collect())
}

fn set_or_delete(labels: &mut Labels, name: &str, value: String) {
    if value.is_empty() {
        labels.remove(name);
    } else {
        labels.insert(name.to_string(), value);
    }
}

/// Labels of `absent(...)`'s result: the selector's equality matchers.
fn absent_result(arg: &Expr) -> Vec<Sample> {
    let mut e = arg;
    while let Expr::Paren(p) = e {
        e = &p.expr;
    }
    let vs = match e {
        Expr::VectorSelector(vs) => Some(vs),
        Expr::MatrixSelector(ms) => Some(&ms.vs),
        _ => None,
    };
    let mut labels = Labels::new();
    if let Some(vs) = vs {
        let mut has = std::collections::HashSet::new();
        for m in &vs.matchers.matchers {
            if m.name == METRIC_NAME {
                continue;
            }
            if matches!(m.op, MatchOp::Equal) && !has.contains(&m.name) {
                labels.insert(m.name.clone(), m.value.clone());
                has.insert(m.name.clone());
            } else {
                labels.remove(&m.name);
            }
        }
    }
    vec![Sample { labels, value: 1.0 }]
}

fn histogram_quantile(q: f64, samples: Vec<Sample>) -> Vec<Sample> {
    let mut groups: Vec<(Labels, Vec<(f64, f64)>)> = Vec::new();
    let mut index: std::collections::HashMap<Labels, usize> = Default::default();
    for s in samples {
        let Some(le) = s.labels.get("le").and_then(|v| parse_go_float(v)) else {
            continue;
        };
        let mut key = s.labels.clone();
        key.remove("le");
        key.remove(METRIC_NAME);
        let i = *index.entry(key.clone()).or_insert_with(|| {
            groups.push((key, Vec::new()));
            groups.len() - 1
        });
        groups[i].1.push((le, s.value));
    }
    groups
        .into_iter()
        .map(|(labels, buckets)| Sample {
            labels,
            value: bucket_quantile(q, buckets),
        })
        .collect()
}

/// Parses a float the way Go's `strconv.ParseFloat` does for `le` values.
pub fn parse_go_float(s: &str) -> Option<f64> {
    match s.trim() {
        "+Inf" | "Inf" | "inf" | "+inf" => Some(f64::INFINITY),
        "-Inf" | "-inf" => Some(f64::NEG_INFINITY),
        "NaN" | "nan" => Some(f64::NAN),
        t => t.parse().ok(),
    }
}

fn bucket_quantile(q: f64, mut buckets: Vec<(f64, f64)>) -> f64 {
    if q.is_nan() {
        return f64::NAN;
    }
    if q < 0.0 {
        return f64::NEG_INFINITY;
    }
    if q > 1.0 {
        return f64::INFINITY;
    }
    buckets.sort_by(|a, b| a.0.partial_cmp(&b.0).unwrap_or(std::cmp::Ordering::Equal));
    if !matches!(buckets.last(), Some(b) if b.0 == f64::INFINITY) {
        return f64::NAN;
    }
    // Coalesce buckets with the same bound.
    let mut merged: Vec<(f64, f64)> = Vec::with_capacity(buckets.len());
    for b in buckets {
        match merged.last_mut() {
            Some(last) if last.0 == b.0 => last.1 += b.1,
            _ => merged.push(b),
        }
    }
    // Force monotonicity, ignoring tiny floating-point differences.
    let mut prev = merged[0].1;
    for b in merged.iter_mut().skip(1) {
        if b.1 == prev {
            continue;
        }
        if almost_equal(prev, b.1, 1e-12) || b.1 < prev {
            b.1 = prev;
            continue;
        }
        prev = b.1;
    }
    if merged.len() < 2 {
        return f64::NAN;
    }
    let observations = merged[merged.len() - 1].1;
    if observations == 0.0 {
        return f64::NAN;
    }
    let mut rank = q * observations;
    let b = merged[..merged.len() - 1]
        .iter()
        .position(|x| x.1 >= rank)
        .unwrap_or(merged.len() - 1);
    if b == merged.len() - 1 {
        return merged[merged.len() - 2].0;
    }
    if b == 0 && merged[0].0 <= 0.0 {
        return merged[0].0;
    }
    let (mut start, end, mut count) = (0.0, merged[b].0, merged[b].1);
    if b > 0 {
        start = merged[b - 1].0;
        count -= merged[b - 1].1;
        rank -= merged[b - 1].1;
    }
    start + (end - start) * (rank / count)
}

/// Prometheus's relative float comparison used by tests and histograms.
pub fn almost_equal(a: f64, b: f64, epsilon: f64) -> bool {
    const MIN_NORMAL: f64 = f64::MIN_POSITIVE;
    if a.is_nan() && b.is_nan() {
        return true;
    }
    if a == b {
        return true;
    }
    let abs_sum = a.abs() + b.abs();
    let diff = (a - b).abs();
    if a == 0.0 || b == 0.0 || abs_sum < MIN_NORMAL {
        return diff < epsilon * MIN_NORMAL;
    }
    diff / abs_sum.min(f64::MAX) < epsilon
}
