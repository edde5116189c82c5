//! Template values and the functions on them, with Prometheus's exact
//! output: `humanize*`, `printf`, `title`.

use crate::gofmt::format_g;
use crate::storage::Labels;

/// A value inside a template: a string, a number or a label map.
#[derive(Debug, Clone)]
pub(crate) enum TValue {
    Str(String),
    Num(f64),
    Map(Labels),
}

impl TValue {
    pub(crate) fn render(&self) -> String {
        match self {
            TValue::Str(s) => s.clone(),
            TValue::Num(v) => format_g(*v, None),
            TValue::Map(m) => {
                let inner: Vec<String> = m.iter().map(|(k, v)| format!("{k}:{v}")).collect();
                format!("map[{}]", inner.join(" "))
            }
        }
    }

    pub(crate) fn as_float(&self) -> Result<f64, String> {
        match self {
            TValue::Num(v) => Ok(*v),
            TValue::Str(s) => crate::promql::functions::parse_go_float(s)
                .ok_or_else(|| format!("strconv.ParseFloat: parsing {s:?}: invalid syntax")),
            TValue::Map(_) => Err("can't convert a map to a float".into()),
        }
    }
}

/// Go's `strings.Title`.
pub fn title(s: &str) -> String {
    let mut out = String::new();
    let mut start = true;
    for c in s.chars() {
        out.extend(if start {
            c.to_uppercase().collect::<Vec<_>>()
        } else {
            vec![c]
        });
        start = !c.is_alphanumeric();
    }
    out
}

/// Prometheus's `humanize` / `humanize1024`.
pub fn humanize(mut v: f64, base: f64, big: &[&str]) -> String {
    if v == 0.0 || v.is_nan() || v.is_infinite() {
        return format_g(v, Some(4));
    }
    if v.abs() >= 1.0 || base == 1024.0 {
        let mut prefix = "";
        for p in big {
            if v.abs() < base {
                break;
            }
            prefix = p;
            v /= base;
        }
        return format!("{}{prefix}", format_g(v, Some(4)));
    }
    let mut prefix = "";
    for p in ["m", "u", "n", "p", "f", "a", "z", "y"] {
        if v.abs() >= 1.0 {
            break;
        }
        prefix = p;
        v *= 1000.0;
    }
    format!("{}{prefix}", format_g(v, Some(4)))
}

/// Prometheus's `humanizeDuration`.
pub fn humanize_duration(mut v: f64) -> String {
    if v.is_nan() || v.is_infinite() {
        return format_g(v, Some(4));
    }
    if v == 0.0 {
        return format!("{}s", format_g(v, Some(4)));
    }
    if v.abs() >= 1.0 {
        let sign = if v < 0.0 { "-" } else { "" };
        v = v.abs();
        let d = v as i64;
        let (s, m, h, days) = (d % 60, (d / 60) % 60, (d / 3600) % 24, d / 86400);
        return if days != 0 {
            format!("{sign}{days}d {h}h {m}m {s}s")
        } else if h != 0 {
            format!("{sign}{h}h {m}m {s}s")
        } else if m != 0 {
            format!("{sign}{m}m {s}s")
        } else {
            format!("{sign}{}s", format_g(v, Some(4)))
        };
    }
    let mut prefix = "";
    for p in ["m", "u", "n", "p", "f", "a", "z", "y"] {
        if v.abs() >= 1.0 {
            break;
        }
        prefix = p;
        v *= 1000.0;
    }
    format!("{}{prefix}s", format_g(v, Some(4)))
}

/// A subset of Go's `fmt.Sprintf`: `%s %v %d %f %g %e %q %%` with precision.
pub(crate) fn printf(fmt: &str, args: &[TValue]) -> String {
    let mut out = String::new();
    let mut args = args.iter();
    let mut chars = fmt.chars().peekable();
    while let Some(c) = chars.next() {
        if c != '%' {
            out.push(c);
            continue;
        }
        let mut spec = String::new();
        while let Some(&n) = chars.peek() {
            if n.is_ascii_digit() || n == '.' || n == '-' || n == '+' {
                spec.push(n);
                chars.next();
            } else {
                break;
            }
        }
        let Some(verb) = chars.next() else {
            out.push_str("%!(NOVERB)");
            break;
        };
        if verb == '%' {
            out.push('%');
            continue;
        }
        let prec: Option<usize> = spec.split_once('.').and_then(|(_, p)| p.parse().ok());
        let Some(arg) = args.next() else {
            out.push_str(&format!("%!{verb}(MISSING)"));
            continue;
        };
        let num = arg.as_float().ok();
        out.push_str(&match (verb, num) {
            ('f' | 'F', Some(v)) => format!("{v:.*}", prec.unwrap_or(6)),
            ('g', Some(v)) => format_g(v, prec),
            ('e', Some(v)) => {
                let s = format!("{v:.*e}", prec.unwrap_or(6));
                let (m, e) = s.split_once('e').unwrap_or((&s, "0"));
                let e: i32 = e.parse().unwrap_or(0);
                format!("{m}e{}{:02}", if e < 0 { '-' } else { '+' }, e.abs())
            }
            ('d', Some(v)) if v.fract() == 0.0 && matches!(arg, TValue::Num(_)) => {
                format!("{}", v as i64)
            }
            ('q', _) => format!("{:?}", arg.render()),
            ('s' | 'v', _) => arg.render(),
            _ => format!("%!{verb}({})", arg.render()),
        });
    }
    out
}
