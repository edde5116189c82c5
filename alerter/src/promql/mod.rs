//! PromQL: parsing (with the `promql-parser` crate), a check that an
//! expression stays within the supported subset, and an evaluator.
//!
//! Layout:
//! - [`check`]: the supported subset; anything else is rejected at load time.
//! - [`eval`]: instant evaluation against [`Storage`](crate::storage::Storage).
//! - [`binary`], [`aggregate`], [`functions`], [`range_functions`]:
//!   operators, aggregations and functions, each mirroring Prometheus's engine.

pub mod aggregate;
pub mod binary;
pub mod check;
pub mod eval;
pub mod functions;
pub mod range_functions;

use promql_parser::parser::Expr;

use crate::storage::Labels;

pub use check::{parse_supported, Unsupported};
pub use eval::{EvalError, Evaluator, RangeMode};

/// One element of an instant vector.
#[derive(Debug, Clone, PartialEq)]
pub struct Sample {
    /// The series' labels (`__name__` included when kept).
    pub labels: Labels,
    /// Its value at the evaluation time.
    pub value: f64,
}

/// One series of a range vector: the points inside the selector's window.
#[derive(Debug, Clone, PartialEq)]
pub struct RangeSeries {
    /// The series' labels.
    pub labels: Labels,
    /// `(timestamp ms, value)` in time order, staleness markers removed.
    pub points: Vec<(i64, f64)>,
}

/// The result of evaluating an expression.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    /// A single number.
    Scalar(f64),
    /// A string literal.
    String(String),
    /// An instant vector.
    Vector(Vec<Sample>),
    /// A range vector.
    Matrix(Vec<RangeSeries>),
}

impl Value {
    /// The PromQL type name, for error messages.
    pub fn type_name(&self) -> &'static str {
        match self {
            Value::Scalar(_) => "scalar",
            Value::String(_) => "string",
            Value::Vector(_) => "instant vector",
            Value::Matrix(_) => "range vector",
        }
    }
}

/// Calls `visit` on every node of `expr` (depth first, children after
/// their parent); the one AST walk the analyses below share.
fn for_each_node<'a>(expr: &'a Expr, mut visit: impl FnMut(&'a Expr)) {
    let mut stack = vec![expr];
    while let Some(e) = stack.pop() {
        visit(e);
        match e {
            Expr::Aggregate(a) => {
                stack.push(&a.expr);
                if let Some(p) = &a.param {
                    stack.push(p);
                }
            }
            Expr::Unary(u) => stack.push(&u.expr),
            Expr::Binary(b) => {
                stack.push(&b.lhs);
                stack.push(&b.rhs);
            }
            Expr::Paren(p) => stack.push(&p.expr),
            Expr::Subquery(s) => stack.push(&s.expr),
            Expr::Call(c) => stack.extend(c.args.args.iter().map(|a| a.as_ref())),
            _ => {}
        }
    }
}

/// Largest `range + offset` and largest `offset` in an expression, in ms:
/// how far back in time evaluating it can read.
pub fn lookback_needs(expr: &Expr) -> (i64, i64) {
    fn offset_ms(o: &Option<promql_parser::parser::Offset>) -> i64 {
        match o {
            Some(promql_parser::parser::Offset::Pos(d)) => d.as_millis() as i64,
            _ => 0,
        }
    }
    let mut max_range = 0i64;
    let mut max_offset = 0i64;
    for_each_node(expr, |e| match e {
        Expr::VectorSelector(vs) => max_offset = max_offset.max(offset_ms(&vs.offset)),
        Expr::MatrixSelector(ms) => {
            let off = offset_ms(&ms.vs.offset);
            max_range = max_range.max(ms.range.as_millis() as i64 + off);
            max_offset = max_offset.max(off);
        }
        _ => {}
    });
    (max_range, max_offset)
}

/// Every selector in `expr` with the metric name it fixes (`None` if it
/// fixes none) and how far back it reads (ms): `range + offset` for range
/// selectors, `offset + lookback` for instant selectors with an offset, 0
/// for plain instant selectors (they only need the newest sample).
pub fn selector_windows(expr: &Expr, lookback_ms: i64) -> Vec<(Option<String>, i64)> {
    use promql_parser::label::MatchOp;
    use promql_parser::parser::{Offset, VectorSelector};
    fn name_of(vs: &VectorSelector) -> Option<String> {
        vs.name.clone().or_else(|| {
            vs.matchers
                .matchers
                .iter()
                .find(|m| m.name == crate::storage::METRIC_NAME && matches!(m.op, MatchOp::Equal))
                .map(|m| m.value.clone())
        })
    }
    fn offset_ms(vs: &VectorSelector) -> i64 {
        match &vs.offset {
            Some(Offset::Pos(d)) => d.as_millis() as i64,
            _ => 0,
        }
    }
    let mut out = Vec::new();
    for_each_node(expr, |e| match e {
        Expr::VectorSelector(vs) => {
            let off = offset_ms(vs);
            out.push((name_of(vs), if off > 0 { off + lookback_ms } else { 0 }));
        }
        Expr::MatrixSelector(ms) => {
            out.push((
                name_of(&ms.vs),
                ms.range.as_millis() as i64 + offset_ms(&ms.vs),
            ));
        }
        _ => {}
    });
    out
}
