//! The supported PromQL subset. Expressions outside it are rejected when a
//! rule file loads, with a message naming the construct, so nothing is ever
//! silently misevaluated.

use promql_parser::parser::{self, Expr};
use thiserror::Error;

/// Functions the evaluator implements.
pub const SUPPORTED_FUNCTIONS: &[&str] = &[
    "rate",
    "irate",
    "increase",
    "delta",
    "deriv",
    "avg_over_time",
    "min_over_time",
    "max_over_time",
    "sum_over_time",
    "count_over_time",
    "quantile_over_time",
    "predict_linear",
    "absent",
    "absent_over_time",
    "time",
    "vector",
    "scalar",
    "clamp",
    "clamp_min",
    "clamp_max",
    "abs",
    "ceil",
    "floor",
    "round",
    "label_replace",
    "label_join",
    "histogram_quantile",
];

/// Aggregation operators the evaluator implements.
pub const SUPPORTED_AGGREGATIONS: &[&str] = &[
    "sum", "avg", "min", "max", "count", "topk", "bottomk", "quantile",
];

/// Binary operators the evaluator implements.
pub const SUPPORTED_OPERATORS: &[&str] = &[
    "+", "-", "*", "/", "%", "^", "==", "!=", "<", ">", "<=", ">=", "and", "or", "unless",
];

/// Why an expression cannot be used.
#[derive(Debug, Error, Clone, PartialEq)]
pub enum Unsupported {
    /// The text is not valid PromQL.
    #[error("could not parse expression: {0}")]
    Parse(String),
    /// Valid PromQL, but outside what the alerter evaluates.
    #[error("unsupported PromQL: {0}")]
    Feature(String),
}

/// Parses `text` and checks that every construct in it is supported.
pub fn parse_supported(text: &str) -> Result<Expr, Unsupported> {
    let expr = parser::parse(text).map_err(Unsupported::Parse)?;
    check_supported(&expr).map_err(Unsupported::Feature)?;
    Ok(expr)
}

/// Walks the expression and names the first unsupported construct.
pub fn check_supported(expr: &Expr) -> Result<(), String> {
    match expr {
        Expr::Aggregate(a) => {
            let op = a.op.to_string();
            if !SUPPORTED_AGGREGATIONS.contains(&op.as_str()) {
                return Err(format!("aggregation `{op}` is not supported"));
            }
            if let Some(p) = &a.param {
                check_supported(p)?;
            }
            check_supported(&a.expr)
        }
        Expr::Unary(u) => check_supported(&u.expr),
        Expr::Binary(b) => {
            let op = b.op.to_string();
            if !SUPPORTED_OPERATORS.contains(&op.as_str()) {
                return Err(format!("operator `{op}` is not supported"));
            }
            if let Some(m) = &b.modifier {
                if m.fill_values.lhs.is_some() || m.fill_values.rhs.is_some() {
                    return Err("`fill` modifiers are not supported".into());
                }
            }
            check_supported(&b.lhs)?;
            check_supported(&b.rhs)
        }
        Expr::Paren(p) => check_supported(&p.expr),
        Expr::Subquery(_) => Err("subqueries are not supported".into()),
        Expr::NumberLiteral(_) | Expr::StringLiteral(_) => Ok(()),
        Expr::VectorSelector(vs) => check_selector(vs),
        Expr::MatrixSelector(ms) => check_selector(&ms.vs),
        Expr::Call(c) => {
            if !SUPPORTED_FUNCTIONS.contains(&c.func.name) {
                return Err(format!("function `{}` is not supported", c.func.name));
            }
            c.args.args.iter().try_for_each(|a| check_supported(a))
        }
        Expr::Extension(_) => Err("extension expressions are not supported".into()),
    }
}

fn check_selector(vs: &parser::VectorSelector) -> Result<(), String> {
    if vs.at.is_some() {
        return Err("the `@` modifier is not supported".into());
    }
    if !vs.matchers.or_matchers.is_empty() {
        return Err("`or` inside label matchers is not supported".into());
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_the_subset_and_names_what_it_rejects() {
        assert!(parse_supported("sum by (job) (rate(x[5m])) > 0").is_ok());
        assert!(parse_supported("histogram_quantile(0.9, sum by (le) (rate(h[5m])))").is_ok());
        let err = parse_supported("stddev(x)").unwrap_err().to_string();
        assert!(err.contains("stddev"), "{err}");
        let err = parse_supported("max_over_time(rate(x[1m])[5m:1m])").unwrap_err();
        assert!(err.to_string().contains("subqueries"), "{err}");
        let err = parse_supported("resets(x[5m])").unwrap_err();
        assert!(err.to_string().contains("resets"), "{err}");
        assert!(matches!(parse_supported("up{"), Err(Unsupported::Parse(_))));
    }
}
