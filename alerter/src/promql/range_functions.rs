//! Functions over range vectors: `rate irate increase delta deriv
//! predict_linear *_over_time quantile_over_time`, as Prometheus computes them.

use promql_parser::parser::{Expr, MatrixSelector};

use super::aggregate::{kahan_inc, quantile};
use super::eval::{check_unique, EvalError, EvalResult, Evaluator, RangeMode};
use super::{Sample, Value};
use crate::storage::{Labels, METRIC_NAME};

fn matrix_selector(e: &Expr) -> EvalResult<&MatrixSelector> {
    match e {
        Expr::Paren(p) => matrix_selector(&p.expr),
        Expr::MatrixSelector(ms) => Ok(ms),
        _ => Err(EvalError("expected a range vector selector".into())),
    }
}

/// Evaluates a function whose argument is a range selector.
pub fn range_function(ev: &Evaluator, name: &str, args: &[&Expr]) -> EvalResult<Value> {
    let mut out = Vec::new();
    for_each_value(ev, name, args, |labels, value| {
        let labels = labels
            .iter()
            .filter(|(k, _)| k.as_str() != METRIC_NAME)
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        out.push(Sample { labels, value });
    })?;
    check_unique(&out)?;
    Ok(Value::Vector(out))
}

/// Calls `f` with each input series' labels (still carrying `__name__`,
/// which the result drops) and the function's value for it, in selection
/// order, without building output samples.
pub fn for_each_value(
    ev: &Evaluator,
    name: &str,
    args: &[&Expr],
    mut f: impl FnMut(&Labels, f64),
) -> EvalResult<()> {
    let (param, matrix_arg) = match name {
        "quantile_over_time" => (Some(ev.eval_scalar(args[0])?), args[1]),
        "predict_linear" => (Some(ev.eval_scalar(args[1])?), args[0]),
        _ => (None, args[0]),
    };
    let ms = matrix_selector(matrix_arg)?;
    let range_end = ev.ref_time(&ms.vs);
    let range_ms = ms.range.as_millis() as i64;
    let mut error = None;
    ev.for_each_range(&ms.vs, range_ms, |labels, pts| {
        let value = match name {
            "rate" | "increase" | "delta" => extrapolated_rate(
                pts,
                range_end - range_ms,
                range_end,
                name != "delta",
                name == "rate",
                ev.mode,
            ),
            "irate" => irate(pts),
            "deriv" => (pts.len() >= 2).then(|| linear_regression(pts, pts[0].0).0),
            "predict_linear" => (pts.len() >= 2).then(|| {
                let (slope, intercept) = linear_regression(pts, ev.time);
                slope * param.unwrap_or(0.0) + intercept
            }),
            _ => match over_time(name, param, pts, ev.mode) {
                Ok(v) => Some(v),
                Err(e) => {
                    error = Some(e);
                    None
                }
            },
        };
        if let Some(value) = value {
            f(labels, value);
        }
    });
    match error {
        Some(e) => Err(e),
        None => Ok(()),
    }
}

/// Whether `e` is a range function over a selector with a fixed metric name
/// (so dropping `__name__` cannot merge two series): such calls can feed an
/// aggregation directly, without building their intermediate vector.
pub fn fusable_call(e: &Expr) -> Option<(&'static str, Vec<&Expr>)> {
    let mut e = e;
    while let Expr::Paren(p) = e {
        e = &p.expr;
    }
    let Expr::Call(c) = e else { return None };
    let name = c.func.name;
    let takes_range = matches!(
        name,
        "rate" | "irate" | "increase" | "delta" | "deriv" | "predict_linear"
    ) || (name.ends_with("_over_time") && name != "absent_over_time");
    if !takes_range {
        return None;
    }
    let args: Vec<&Expr> = c.args.args.iter().map(|a| a.as_ref()).collect();
    let matrix = if name == "quantile_over_time" {
        args.get(1)?
    } else {
        args.first()?
    };
    let ms = matrix_selector(matrix).ok()?;
    let fixed =
        ms.vs.name.is_some()
            || ms.vs.matchers.matchers.iter().any(|m| {
                m.name == METRIC_NAME && matches!(m.op, promql_parser::label::MatchOp::Equal)
            });
    fixed.then_some((name, args))
}

fn extrapolated_rate(
    pts: &[(i64, f64)],
    range_start: i64,
    range_end: i64,
    is_counter: bool,
    is_rate: bool,
    mode: RangeMode,
) -> Option<f64> {
    if pts.len() < 2 {
        return None;
    }
    let (first, last) = (pts[0], pts[pts.len() - 1]);
    let mut result = last.1 - first.1;
    if is_counter {
        let mut prev = first.1;
        for p in &pts[1..] {
            if p.1 < prev {
                result += prev;
            }
            prev = p.1;
        }
    }
    let mut to_start = (first.0 - range_start) as f64 / 1000.0;
    let mut to_end = (range_end - last.0) as f64 / 1000.0;
    let sampled = (last.0 - first.0) as f64 / 1000.0;
    let avg = sampled / (pts.len() - 1) as f64;
    let threshold = avg * 1.1;
    let mut interval = sampled;
    let zero_cap = |to_start: f64| {
        if is_counter && result > 0.0 && first.1 >= 0.0 {
            to_start.min(sampled * (first.1 / result))
        } else {
            to_start
        }
    };
    match mode {
        RangeMode::Prometheus2 => {
            to_start = zero_cap(to_start);
            interval += if to_start < threshold {
                to_start
            } else {
                avg / 2.0
            };
        }
        RangeMode::Prometheus3 => {
            if to_start >= threshold {
                to_start = avg / 2.0;
            }
            interval += zero_cap(to_start);
        }
    }
    if to_end >= threshold {
        to_end = avg / 2.0;
    }
    interval += to_end;
    let mut factor = interval / sampled;
    if is_rate {
        factor /= (range_end - range_start) as f64 / 1000.0;
    }
    Some(result * factor)
}

fn irate(pts: &[(i64, f64)]) -> Option<f64> {
    if pts.len() < 2 {
        return None;
    }
    let (prev, last) = (pts[pts.len() - 2], pts[pts.len() - 1]);
    let mut value = if last.1 < prev.1 {
        last.1
    } else {
        last.1 - prev.1
    };
    let interval = last.0 - prev.0;
    if interval == 0 {
        return None;
    }
    value /= interval as f64 / 1000.0;
    Some(value)
}

/// Least-squares slope and intercept (at `intercept_time`), as Prometheus.
fn linear_regression(pts: &[(i64, f64)], intercept_time: i64) -> (f64, f64) {
    let (mut n, mut sx, mut cx, mut sy, mut cy) = (0.0, 0.0, 0.0, 0.0, 0.0);
    let (mut sxy, mut cxy, mut sx2, mut cx2) = (0.0, 0.0, 0.0, 0.0);
    let init_y = pts[0].1;
    let mut const_y = true;
    for (i, &(t, v)) in pts.iter().enumerate() {
        if const_y && i > 0 && v != init_y {
            const_y = false;
        }
        n += 1.0;
        let x = (t - intercept_time) as f64 / 1e3;
        (sx, cx) = kahan_inc(x, sx, cx);
        (sy, cy) = kahan_inc(v, sy, cy);
        (sxy, cxy) = kahan_inc(x * v, sxy, cxy);
        (sx2, cx2) = kahan_inc(x * x, sx2, cx2);
    }
    if const_y {
        if init_y.is_infinite() {
            return (f64::NAN, f64::NAN);
        }
        return (0.0, init_y);
    }
    let (sx, sy, sxy, sx2) = (sx + cx, sy + cy, sxy + cxy, sx2 + cx2);
    let cov_xy = sxy - sx * sy / n;
    let var_x = sx2 - sx * sx / n;
    let slope = cov_xy / var_x;
    (slope, sy / n - slope * sx / n)
}

fn over_time(
    name: &str,
    param: Option<f64>,
    pts: &[(i64, f64)],
    mode: RangeMode,
) -> EvalResult<f64> {
    let values = pts.iter().map(|p| p.1);
    Ok(match name {
        "count_over_time" => pts.len() as f64,
        "sum_over_time" => {
            let (s, c) = values.fold((0.0, 0.0), |(s, c), v| kahan_inc(v, s, c));
            if s.is_infinite() {
                s
            } else {
                s + c
            }
        }
        "min_over_time" => values.fold(f64::NAN, |m, v| if v < m || m.is_nan() { v } else { m }),
        "max_over_time" => values.fold(f64::NAN, |m, v| if v > m || m.is_nan() { v } else { m }),
        "avg_over_time" => avg_over_time(pts, mode),
        "quantile_over_time" => {
            let mut vals: Vec<f64> = values.collect();
            quantile(param.unwrap_or(f64::NAN), &mut vals)
        }
        _ => return Err(EvalError(format!("function `{name}` is not supported"))),
    })
}

fn avg_over_time(pts: &[(i64, f64)], mode: RangeMode) -> f64 {
    if mode == RangeMode::Prometheus3 {
        let values: Vec<f64> = pts.iter().map(|p| p.1).collect();
        return super::aggregate::average_of(&values, mode);
    }
    let (mut mean, mut count, mut c) = (0.0f64, 0.0, 0.0);
    for &(_, v) in pts {
        count += 1.0;
        if mean.is_infinite()
            && ((v.is_infinite() && (mean > 0.0) == (v > 0.0)) || (!v.is_infinite() && !v.is_nan()))
        {
            continue;
        }
        (mean, c) = kahan_inc(v / count - mean / count, mean, c);
    }
    if mean.is_infinite() {
        mean
    } else {
        mean + c
    }
}
