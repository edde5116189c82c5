//! Aggregation operators: `sum avg min max count topk bottomk quantile`, with
//! `by` / `without`.

use std::collections::HashMap;

use promql_parser::parser::{AggregateExpr, LabelModifier};

use super::eval::{EvalError, EvalResult, Evaluator, RangeMode};
use super::{Sample, Value};
use crate::storage::{Labels, METRIC_NAME};

/// Neumaier-compensated summation step, as Prometheus's `kahanSumInc`.
pub fn kahan_inc(inc: f64, sum: f64, c: f64) -> (f64, f64) {
    let t = sum + inc;
    let c = if t.is_infinite() {
        0.0
    } else if sum.abs() >= inc.abs() {
        c + ((sum - t) + inc)
    } else {
        c + ((inc - t) + sum)
    };
    (t, c)
}

/// Prometheus's `quantile`: NaNs sort first, linear interpolation.
pub fn quantile(q: f64, values: &mut [f64]) -> f64 {
    if values.is_empty() || q.is_nan() {
        return f64::NAN;
    }
    if q < 0.0 {
        return f64::NEG_INFINITY;
    }
    if q > 1.0 {
        return f64::INFINITY;
    }
    values.sort_by(|a, b| match (a.is_nan(), b.is_nan()) {
        (true, true) => std::cmp::Ordering::Equal,
        (true, false) => std::cmp::Ordering::Less,
        (false, true) => std::cmp::Ordering::Greater,
        _ => a.partial_cmp(b).unwrap_or(std::cmp::Ordering::Equal),
    });
    let n = values.len() as f64;
    let rank = q * (n - 1.0);
    let lower = rank.floor().max(0.0);
    let upper = (n - 1.0).min(lower + 1.0);
    let weight = rank - rank.floor();
    values[lower as usize] * (1.0 - weight) + values[upper as usize] * weight
}

fn group_labels(labels: &Labels, modifier: Option<&LabelModifier>) -> Labels {
    match modifier {
        Some(LabelModifier::Include(by)) => labels
            .iter()
            .filter(|(k, _)| by.labels.contains(k))
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect(),
        Some(LabelModifier::Exclude(without)) => labels
            .iter()
            .filter(|(k, _)| k.as_str() != METRIC_NAME && !without.labels.contains(k))
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect(),
        None => Labels::new(),
    }
}

/// Evaluates an aggregation expression.
pub fn eval_aggregate(ev: &Evaluator, a: &AggregateExpr) -> EvalResult<Value> {
    let op = a.op.to_string();
    let param = match &a.param {
        Some(p) => Some(ev.eval_scalar(p)?),
        None => None,
    };
    if matches!(op.as_str(), "topk" | "bottomk") {
        let k = param.ok_or_else(|| EvalError(format!("{op} needs a parameter")))?;
        if k.is_nan() || k.abs() > 9.2e18 {
            return Err(EvalError(format!("scalar value {k} overflows int64")));
        }
    }
    let modifier = a.modifier.as_ref();
    if !matches!(op.as_str(), "topk" | "bottomk") {
        if let Some((func, args)) = super::range_functions::fusable_call(&a.expr) {
            return aggregate_range_function(ev, &op, param, modifier, func, &args);
        }
    }
    let input = ev.eval_vector(&a.expr)?;
    // Group by borrowed label pairs; a group's labels are built once.
    let mut groups: Vec<Vec<usize>> = Vec::new();
    let mut index: HashMap<Vec<(&str, &str)>, usize> = HashMap::new();
    for (i, s) in input.iter().enumerate() {
        let key = group_key(&s.labels, modifier);
        let next = groups.len();
        let g = *index.entry(key).or_insert(next);
        if g == next {
            groups.push(Vec::new());
        }
        groups[g].push(i);
    }
    let mut out = Vec::new();
    for members in groups {
        match op.as_str() {
            "topk" | "bottomk" => {
                let k = param.ok_or_else(|| EvalError(format!("{op} needs a parameter")))?;
                let picked: Vec<Sample> = members.iter().map(|&i| input[i].clone()).collect();
                out.extend(select_k(picked, k, op == "topk")?);
            }
            _ => {
                let labels = group_labels(&input[members[0]].labels, modifier);
                let value = reduce(&op, param, members.iter().map(|&i| input[i].value), ev.mode)?;
                out.push(Sample { labels, value });
            }
        }
    }
    Ok(Value::Vector(out))
}

/// `sum by (x) (rate(m[5m]))` and the like, computed without building the
/// function's intermediate vector: only the group labels are allocated.
/// Groups and their members keep the unfused order, so results are identical.
fn aggregate_range_function(
    ev: &Evaluator,
    op: &str,
    param: Option<f64>,
    modifier: Option<&LabelModifier>,
    func: &str,
    args: &[&promql_parser::parser::Expr],
) -> EvalResult<Value> {
    let mut groups: Vec<(Labels, Vec<f64>)> = Vec::new();
    let mut index: HashMap<Labels, usize> = HashMap::new();
    super::range_functions::for_each_value(ev, func, args, |labels, value| {
        // The function's output has no metric name.
        let key: Labels = group_key(labels, modifier)
            .into_iter()
            .filter(|(k, _)| *k != METRIC_NAME)
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        match index.get(&key) {
            Some(&i) => groups[i].1.push(value),
            None => {
                index.insert(key.clone(), groups.len());
                groups.push((key, vec![value]));
            }
        }
    })?;
    let mut out = Vec::with_capacity(groups.len());
    for (labels, values) in groups {
        let value = reduce(op, param, values.into_iter(), ev.mode)?;
        out.push(Sample { labels, value });
    }
    Ok(Value::Vector(out))
}

fn group_key<'a>(labels: &'a Labels, modifier: Option<&LabelModifier>) -> Vec<(&'a str, &'a str)> {
    let keep = |k: &String| match modifier {
        Some(LabelModifier::Include(by)) => by.labels.contains(k),
        Some(LabelModifier::Exclude(without)) => {
            k.as_str() != METRIC_NAME && !without.labels.contains(k)
        }
        None => false,
    };
    labels
        .iter()
        .filter(|(k, _)| keep(k))
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect()
}

fn select_k(mut members: Vec<Sample>, k: f64, top: bool) -> EvalResult<Vec<Sample>> {
    let k = k as i64;
    if k < 1 {
        return Ok(Vec::new());
    }
    members.sort_by(|a, b| {
        let (x, y) = (a.value, b.value);
        match (x.is_nan(), y.is_nan()) {
            (true, true) => std::cmp::Ordering::Equal,
            (true, false) => std::cmp::Ordering::Greater,
            (false, true) => std::cmp::Ordering::Less,
            _ if top => y.partial_cmp(&x).unwrap_or(std::cmp::Ordering::Equal),
            _ => x.partial_cmp(&y).unwrap_or(std::cmp::Ordering::Equal),
        }
    });
    members.truncate(k.min(members.len() as i64) as usize);
    Ok(members)
}

fn reduce(
    op: &str,
    param: Option<f64>,
    values: impl Iterator<Item = f64>,
    mode: RangeMode,
) -> EvalResult<f64> {
    Ok(match op {
        "sum" => match mode {
            RangeMode::Prometheus2 => values.sum(),
            RangeMode::Prometheus3 => {
                let (s, c) = values.fold((0.0, 0.0), |(s, c), v| kahan_inc(v, s, c));
                s + c
            }
        },
        "avg" => average_of(&values.collect::<Vec<f64>>(), mode),
        "min" => values.fold(
            f64::NAN,
            |acc, v| if acc > v || acc.is_nan() { v } else { acc },
        ),
        "max" => values.fold(
            f64::NAN,
            |acc, v| if acc < v || acc.is_nan() { v } else { acc },
        ),
        "count" => values.count() as f64,
        "quantile" => {
            let q = param.ok_or_else(|| EvalError("quantile needs a parameter".into()))?;
            let mut vals: Vec<f64> = values.collect();
            quantile(q, &mut vals)
        }
        _ => return Err(EvalError(format!("aggregation `{op}` is not supported"))),
    })
}

/// Mean of the values, computed as Prometheus does in `mode`.
pub fn average_of(values: &[f64], mode: RangeMode) -> f64 {
    let mut iter = values.iter().copied();
    let Some(first) = iter.next() else {
        return f64::NAN;
    };
    let mut count = 1.0;
    match mode {
        RangeMode::Prometheus2 => {
            let mut mean = first;
            for v in iter {
                count += 1.0;
                if mean.is_infinite() {
                    if v.is_infinite() && (mean > 0.0) == (v > 0.0) {
                        continue;
                    }
                    if !v.is_infinite() && !v.is_nan() {
                        continue;
                    }
                }
                mean += v / count - mean / count;
            }
            mean
        }
        RangeMode::Prometheus3 => {
            let (mut sum, mut c) = (first, 0.0);
            let mut mean: Option<f64> = None;
            for v in iter {
                count += 1.0;
                if mean.is_none() {
                    let (ns, nc) = kahan_inc(v, sum, c);
                    if !ns.is_infinite() {
                        sum = ns;
                        c = nc;
                        continue;
                    }
                    // The sum would overflow: continue with an incremental mean.
                    mean = Some(sum / (count - 1.0));
                    c /= count - 1.0;
                }
                let m = mean.unwrap_or_default();
                if m.is_infinite()
                    && ((v.is_infinite() && (m > 0.0) == (v > 0.0))
                        || (!v.is_infinite() && !v.is_nan()))
                {
                    continue;
                }
                let current = m + c;
                let (nm, nc) = kahan_inc(v / count - current / count, m, c);
                mean = Some(nm);
                c = nc;
            }
            match mean {
                Some(m) => m + c,
                None => (sum + c) / count,
            }
        }
    }
}
