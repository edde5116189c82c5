//! Binary operators: arithmetic, comparison (with `bool`), and the set
//! operators, with `on`/`ignoring` and `group_left`/`group_right` matching,
//! following Prometheus's `VectorBinop`.

use std::collections::{HashMap, HashSet};

use promql_parser::label::Labels as LabelList;
use promql_parser::parser::{BinaryExpr, LabelModifier, VectorMatchCardinality};

use super::eval::{check_unique, EvalError, EvalResult, Evaluator};
use super::{Sample, Value};
use crate::storage::{Labels, METRIC_NAME};

/// Evaluates a binary expression.
pub fn eval_binary(ev: &Evaluator, b: &BinaryExpr) -> EvalResult<Value> {
    let op = b.op.to_string();
    let return_bool = b.return_bool();
    if let Some(filtered) = filter_range_function(ev, b, &op, return_bool)? {
        return Ok(Value::Vector(filtered));
    }
    let lhs = ev.eval(&b.lhs)?;
    let rhs = ev.eval(&b.rhs)?;
    match (lhs, rhs) {
        (Value::Scalar(l), Value::Scalar(r)) => {
            let (v, keep) = elem_binop(&op, l, r)?;
            if is_comparison(&op) {
                Ok(Value::Scalar(if keep { 1.0 } else { 0.0 }))
            } else {
                Ok(Value::Scalar(v))
            }
        }
        (Value::Vector(l), Value::Scalar(r)) => {
            vector_scalar(&op, l, r, false, return_bool).map(Value::Vector)
        }
        (Value::Scalar(l), Value::Vector(r)) => {
            vector_scalar(&op, r, l, true, return_bool).map(Value::Vector)
        }
        (Value::Vector(l), Value::Vector(r)) => {
            let (card, matching) = match &b.modifier {
                Some(m) => (m.card.clone(), m.matching.clone()),
                None => (VectorMatchCardinality::OneToOne, None),
            };
            let out = match op.as_str() {
                "and" | "or" | "unless" => set_op(&op, l, r, matching.as_ref()),
                _ => vector_vector(&op, l, r, &card, matching.as_ref(), return_bool)?,
            };
            Ok(Value::Vector(out))
        }
        (l, r) => Err(EvalError(format!(
            "binary operator `{op}` not defined between {} and {}",
            l.type_name(),
            r.type_name()
        ))),
    }
}

/// `rate(m[5m]) > 10` and the like: compares each value first and builds
/// labels only for the elements kept. Same result and order as the general
/// path; `None` when the expression has another shape.
fn filter_range_function(
    ev: &Evaluator,
    b: &BinaryExpr,
    op: &str,
    return_bool: bool,
) -> EvalResult<Option<Vec<Sample>>> {
    use promql_parser::parser::value::ValueType;
    if !is_comparison(op) || return_bool || b.rhs.value_type() != ValueType::Scalar {
        return Ok(None);
    }
    let Some((func, args)) = super::range_functions::fusable_call(&b.lhs) else {
        return Ok(None);
    };
    let threshold = ev.eval_scalar(&b.rhs)?;
    let mut out = Vec::new();
    super::range_functions::for_each_value(ev, func, &args, |labels, value| {
        if matches!(elem_binop(op, value, threshold), Ok((_, true))) {
            let labels = labels
                .iter()
                .filter(|(k, _)| k.as_str() != METRIC_NAME)
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect();
            out.push(Sample { labels, value });
        }
    })?;
    Ok(Some(out))
}

fn is_comparison(op: &str) -> bool {
    matches!(op, "==" | "!=" | "<" | ">" | "<=" | ">=")
}

/// Applies `op` to two floats: the value and, for comparisons, whether the
/// element is kept.
pub fn elem_binop(op: &str, l: f64, r: f64) -> EvalResult<(f64, bool)> {
    Ok(match op {
        "+" => (l + r, true),
        "-" => (l - r, true),
        "*" => (l * r, true),
        "/" => (l / r, true),
        "%" => (l % r, true),
        "^" => (l.powf(r), true),
        "==" => (l, l == r),
        "!=" => (l, l != r),
        "<" => (l, l < r),
        ">" => (l, l > r),
        "<=" => (l, l <= r),
        ">=" => (l, l >= r),
        _ => return Err(EvalError(format!("operator `{op}` is not supported"))),
    })
}

fn vector_scalar(
    op: &str,
    vector: Vec<Sample>,
    scalar: f64,
    scalar_on_left: bool,
    return_bool: bool,
) -> EvalResult<Vec<Sample>> {
    let comparison = is_comparison(op);
    let mut out = Vec::with_capacity(vector.len());
    for mut s in vector {
        let (l, r) = if scalar_on_left {
            (scalar, s.value)
        } else {
            (s.value, scalar)
        };
        let (mut value, keep) = elem_binop(op, l, r)?;
        // The vector element's value is kept even when the scalar is on the left.
        if comparison && scalar_on_left {
            value = r;
        }
        if return_bool {
            value = if keep { 1.0 } else { 0.0 };
        } else if !keep {
            continue;
        }
        if !comparison || return_bool {
            s.labels.remove(METRIC_NAME);
        }
        s.value = value;
        out.push(s);
    }
    if !comparison || return_bool {
        check_unique(&out)?;
    }
    Ok(out)
}

/// The matching signature of a series under `on`/`ignoring`.
fn signature(labels: &Labels, matching: Option<&LabelModifier>) -> String {
    let mut sig = String::new();
    let mut push = |k: &str, v: &str| {
        sig.push_str(k);
        sig.push('\u{ff}');
        sig.push_str(v);
        sig.push('\u{fe}');
    };
    match matching {
        Some(LabelModifier::Include(on)) => {
            let mut names: Vec<&String> = on.labels.iter().collect();
            names.sort();
            names.dedup();
            for n in names {
                if let Some(v) = labels.get(n.as_str()).filter(|v| !v.is_empty()) {
                    push(n, v);
                }
            }
        }
        Some(LabelModifier::Exclude(ignoring)) => {
            for (k, v) in labels {
                if k != METRIC_NAME && !ignoring.labels.contains(k) {
                    push(k, v);
                }
            }
        }
        None => {
            for (k, v) in labels {
                if k != METRIC_NAME {
                    push(k, v);
                }
            }
        }
    }
    sig
}

fn set_op(
    op: &str,
    lhs: Vec<Sample>,
    rhs: Vec<Sample>,
    matching: Option<&LabelModifier>,
) -> Vec<Sample> {
    match op {
        "and" => {
            let right: HashSet<String> =
                rhs.iter().map(|s| signature(&s.labels, matching)).collect();
            lhs.into_iter()
                .filter(|s| right.contains(&signature(&s.labels, matching)))
                .collect()
        }
        "or" => {
            let left: HashSet<String> =
                lhs.iter().map(|s| signature(&s.labels, matching)).collect();
            let mut out = lhs;
            out.extend(
                rhs.into_iter()
                    .filter(|s| !left.contains(&signature(&s.labels, matching))),
            );
            out
        }
        _ => {
            let right: HashSet<String> =
                rhs.iter().map(|s| signature(&s.labels, matching)).collect();
            lhs.into_iter()
                .filter(|s| !right.contains(&signature(&s.labels, matching)))
                .collect()
        }
    }
}

fn vector_vector(
    op: &str,
    lhs: Vec<Sample>,
    rhs: Vec<Sample>,
    card: &VectorMatchCardinality,
    matching: Option<&LabelModifier>,
    return_bool: bool,
) -> EvalResult<Vec<Sample>> {
    if lhs.is_empty() || rhs.is_empty() {
        return Ok(Vec::new());
    }
    let one_to_many = matches!(card, VectorMatchCardinality::OneToMany(_));
    let (many, one) = if one_to_many { (rhs, lhs) } else { (lhs, rhs) };
    let mut one_by_sig: HashMap<String, Sample> = HashMap::with_capacity(one.len());
    for s in one {
        let sig = signature(&s.labels, matching);
        if let Some(dup) = one_by_sig.get(&sig) {
            let side = if one_to_many { "left" } else { "right" };
            return Err(EvalError(format!(
                "found duplicate series for the match group on the {side} hand-side of the operation: [{}, {}];many-to-many matching not allowed: matching labels must be unique on one side",
                crate::storage::format_labels(&s.labels),
                crate::storage::format_labels(&dup.labels)
            )));
        }
        one_by_sig.insert(sig, s);
    }
    let include: Option<&LabelList> = card.labels();
    let mut matched: HashMap<String, HashSet<Labels>> = HashMap::new();
    let mut out = Vec::new();
    for ms in many {
        let sig = signature(&ms.labels, matching);
        let Some(os) = one_by_sig.get(&sig) else {
            continue;
        };
        let (l, r) = if one_to_many {
            (os.value, ms.value)
        } else {
            (ms.value, os.value)
        };
        let (mut value, keep) = elem_binop(op, l, r)?;
        let mut labels = result_labels(op, &ms.labels, &os.labels, card, matching, include);
        if return_bool {
            labels.remove(METRIC_NAME);
        }
        // Matching errors are raised even for elements a comparison drops.
        let seen = matched.entry(sig).or_default();
        if matches!(card, VectorMatchCardinality::OneToOne) {
            if !seen.is_empty() {
                return Err(EvalError(
                    "multiple matches for labels: many-to-one matching must be explicit (group_left/group_right)".into(),
                ));
            }
        } else if seen.contains(&labels) {
            return Err(EvalError(
                "multiple matches for labels: grouping labels must ensure unique matches".into(),
            ));
        }
        if return_bool {
            value = if keep { 1.0 } else { 0.0 };
        } else if !keep {
            seen.insert(labels);
            continue;
        }
        seen.insert(labels.clone());
        out.push(Sample { labels, value });
    }
    Ok(out)
}

fn result_labels(
    op: &str,
    many: &Labels,
    one: &Labels,
    card: &VectorMatchCardinality,
    matching: Option<&LabelModifier>,
    include: Option<&LabelList>,
) -> Labels {
    let mut labels = many.clone();
    if !is_comparison(op) {
        labels.remove(METRIC_NAME);
    }
    if matches!(card, VectorMatchCardinality::OneToOne) {
        match matching {
            Some(LabelModifier::Include(on)) => labels.retain(|k, _| on.labels.contains(k)),
            Some(LabelModifier::Exclude(ignoring)) => {
                labels.retain(|k, _| !ignoring.labels.contains(k))
            }
            None => {}
        }
    }
    if let Some(include) = include {
        for name in &include.labels {
            match one.get(name).filter(|v| !v.is_empty()) {
                Some(v) => {
                    labels.insert(name.clone(), v.clone());
                }
                None => {
                    labels.remove(name);
                }
            }
        }
    }
    labels
}
