//! Instant evaluation of a parsed expression at one timestamp.

use std::collections::HashSet;

use promql_parser::parser::{Expr, Offset, VectorSelector};
use thiserror::Error;

use super::{aggregate, binary, functions, RangeSeries, Sample, Value};
use crate::storage::{is_stale_marker, Labels, Storage, METRIC_NAME};

/// Default lookback for instant selectors: 5 minutes, as in Prometheus.
pub const DEFAULT_LOOKBACK_MS: i64 = 5 * 60 * 1000;

/// Which edge of a window is inclusive.
///
/// Prometheus 2 (the version `promtool` on this system ships) selects samples
/// in `[t - range, t]`; Prometheus 3 made the left edge open, `(t - range, t]`,
/// for range selectors and the lookback alike. Both are implemented so the
/// alerter can agree with `promtool` and still run Prometheus 3's own
/// conformance cases.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum RangeMode {
    /// Left-closed windows (Prometheus 2.x, the default).
    #[default]
    Prometheus2,
    /// Left-open windows (Prometheus 3.x).
    Prometheus3,
}

/// An error while evaluating (as opposed to an unsupported construct).
#[derive(Debug, Error, Clone, PartialEq)]
#[error("{0}")]
pub struct EvalError(pub String);

/// Shorthand for evaluation results.
pub type EvalResult<T> = Result<T, EvalError>;

/// Evaluates expressions against a store at one instant.
#[derive(Debug, Clone, Copy)]
pub struct Evaluator<'a> {
    /// Where samples come from.
    pub storage: &'a Storage,
    /// Evaluation time, ms since the epoch.
    pub time: i64,
    /// How far back an instant selector looks for the latest sample, ms.
    pub lookback: i64,
    /// Window edge semantics.
    pub mode: RangeMode,
}

impl<'a> Evaluator<'a> {
    /// An evaluator with the default 5m lookback and Prometheus 2 windows.
    pub fn new(storage: &'a Storage, time: i64) -> Self {
        Self {
            storage,
            time,
            lookback: DEFAULT_LOOKBACK_MS,
            mode: RangeMode::default(),
        }
    }

    /// Evaluates `expr` at `self.time`.
    pub fn eval(&self, expr: &Expr) -> EvalResult<Value> {
        match expr {
            Expr::NumberLiteral(n) => Ok(Value::Scalar(n.val)),
            Expr::StringLiteral(s) => Ok(Value::String(s.val.clone())),
            Expr::Paren(p) => self.eval(&p.expr),
            Expr::Unary(u) => match self.eval(&u.expr)? {
                Value::Scalar(v) => Ok(Value::Scalar(-v)),
                Value::Vector(samples) => {
                    let out: Vec<Sample> = samples
                        .into_iter()
                        .map(|mut s| {
                            s.labels.remove(METRIC_NAME);
                            s.value = -s.value;
                            s
                        })
                        .collect();
                    check_unique(&out)?;
                    Ok(Value::Vector(out))
                }
                other => Err(EvalError(format!("cannot negate {}", other.type_name()))),
            },
            Expr::VectorSelector(vs) => Ok(Value::Vector(self.select_instant(vs))),
            Expr::MatrixSelector(ms) => Ok(Value::Matrix(
                self.select_range(&ms.vs, ms.range.as_millis() as i64),
            )),
            Expr::Binary(b) => binary::eval_binary(self, b),
            Expr::Aggregate(a) => aggregate::eval_aggregate(self, a),
            Expr::Call(c) => functions::eval_call(self, c),
            Expr::Subquery(_) | Expr::Extension(_) => {
                Err(EvalError("unsupported expression".into()))
            }
        }
    }

    /// Evaluates an expression that must yield an instant vector.
    pub fn eval_vector(&self, expr: &Expr) -> EvalResult<Vec<Sample>> {
        match self.eval(expr)? {
            Value::Vector(v) => Ok(v),
            other => Err(EvalError(format!(
                "expected instant vector, got {}",
                other.type_name()
            ))),
        }
    }

    /// Evaluates an expression that must yield a scalar.
    pub fn eval_scalar(&self, expr: &Expr) -> EvalResult<f64> {
        match self.eval(expr)? {
            Value::Scalar(v) => Ok(v),
            other => Err(EvalError(format!(
                "expected scalar, got {}",
                other.type_name()
            ))),
        }
    }

    /// Evaluates an expression that must yield a range vector.
    pub fn eval_matrix(&self, expr: &Expr) -> EvalResult<Vec<RangeSeries>> {
        match self.eval(expr)? {
            Value::Matrix(m) => Ok(m),
            other => Err(EvalError(format!(
                "expected range vector, got {}",
                other.type_name()
            ))),
        }
    }

    /// Reference time of a selector: evaluation time minus its offset.
    pub fn ref_time(&self, vs: &VectorSelector) -> i64 {
        match &vs.offset {
            Some(Offset::Pos(d)) => self.time - d.as_millis() as i64,
            Some(Offset::Neg(d)) => self.time + d.as_millis() as i64,
            None => self.time,
        }
    }

    fn in_window(&self, t: i64, start: i64) -> bool {
        match self.mode {
            RangeMode::Prometheus2 => t >= start,
            RangeMode::Prometheus3 => t > start,
        }
    }

    /// The latest sample of each matching series within the lookback.
    pub fn select_instant(&self, vs: &VectorSelector) -> Vec<Sample> {
        let ref_time = self.ref_time(vs);
        let start = ref_time - self.lookback;
        self.storage
            .select(vs.name.as_deref(), &vs.matchers.matchers)
            .filter_map(|(labels, points)| {
                let idx = points.partition_point(|p| p.0 <= ref_time);
                let &(t, v) = points.get(idx.checked_sub(1)?)?;
                (self.in_window(t, start) && !is_stale_marker(v)).then(|| Sample {
                    labels: labels.clone(),
                    value: v,
                })
            })
            .collect()
    }

    /// The points of each matching series inside `range` ms before the
    /// reference time; series with no points are left out.
    pub fn select_range(&self, vs: &VectorSelector, range: i64) -> Vec<RangeSeries> {
        let mut out = Vec::new();
        self.for_each_range(vs, range, |labels, points| {
            out.push(RangeSeries {
                labels: labels.clone(),
                points: points.to_vec(),
            })
        });
        out
    }

    /// Calls `f` with each matching series' labels and its points inside the
    /// window (staleness markers removed), without copying when possible.
    pub fn for_each_range(
        &self,
        vs: &VectorSelector,
        range: i64,
        mut f: impl FnMut(&Labels, &[(i64, f64)]),
    ) {
        let ref_time = self.ref_time(vs);
        let start = ref_time - range;
        let mut scratch = Vec::new();
        for (labels, points) in self
            .storage
            .select(vs.name.as_deref(), &vs.matchers.matchers)
        {
            let from = points.partition_point(|p| !self.in_window(p.0, start));
            let to = points.partition_point(|p| p.0 <= ref_time).max(from);
            let window = &points[from..to];
            if window.iter().any(|p| is_stale_marker(p.1)) {
                scratch.clear();
                scratch.extend(window.iter().copied().filter(|p| !is_stale_marker(p.1)));
                if !scratch.is_empty() {
                    f(labels, &scratch);
                }
            } else if !window.is_empty() {
                f(labels, window);
            }
        }
    }
}

/// Prometheus refuses vectors in which two elements share a label set (which
/// happens when dropping `__name__` merges series).
pub fn check_unique(samples: &[Sample]) -> EvalResult<()> {
    if samples.len() < 2 {
        return Ok(());
    }
    let mut seen: HashSet<&Labels> = HashSet::with_capacity(samples.len());
    for s in samples {
        if !seen.insert(&s.labels) {
            return Err(EvalError(
                "vector cannot contain metrics with the same labelset".into(),
            ));
        }
    }
    Ok(())
}
