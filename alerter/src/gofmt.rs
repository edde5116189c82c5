//! Go's float formatting (`%v`, `%g`, `%.4g`, `%e`), so templated annotations
//! and API values read exactly as Prometheus writes them.

/// `strconv.FormatFloat(v, 'g', prec, 64)`; `None` is the shortest form
/// (what `{{ $value }}` prints).
pub fn format_g(v: f64, prec: Option<usize>) -> String {
    if let Some(special) = special(v) {
        return special;
    }
    let (digits, dp) = decimal_digits(v, prec);
    let nd = digits.len() as i32;
    let mut eprec = prec.map(|p| p.max(1) as i32).unwrap_or(6);
    if let Some(p) = prec {
        if p as i32 > nd && nd >= dp {
            eprec = nd;
        }
    }
    let exp = dp - 1;
    let sign = if v.is_sign_negative() && v != 0.0 {
        "-"
    } else {
        ""
    };
    if exp < -4 || exp >= eprec {
        format!("{sign}{}", exp_form(&digits, exp))
    } else {
        format!(
            "{sign}{}",
            fixed_form(&digits, dp, (nd - dp).max(0) as usize)
        )
    }
}

/// `strconv.FormatFloat(v, 'e', -1, 64)`, the form of alert values in the API.
pub fn format_e(v: f64) -> String {
    if let Some(special) = special(v) {
        return special;
    }
    let (digits, dp) = decimal_digits(v, None);
    let sign = if v.is_sign_negative() && v != 0.0 {
        "-"
    } else {
        ""
    };
    format!("{sign}{}", exp_form(&digits, dp - 1))
}

fn special(v: f64) -> Option<String> {
    if v.is_nan() {
        Some("NaN".into())
    } else if v == f64::INFINITY {
        Some("+Inf".into())
    } else if v == f64::NEG_INFINITY {
        Some("-Inf".into())
    } else {
        None
    }
}

/// Significant digits (trailing zeros removed) and the decimal point position.
fn decimal_digits(v: f64, prec: Option<usize>) -> (String, i32) {
    let s = match prec {
        Some(p) => format!("{:.*e}", p.max(1) - 1, v.abs()),
        None => format!("{:e}", v.abs()),
    };
    let (mantissa, exp) = s.split_once('e').unwrap_or((&s, "0"));
    let exp: i32 = exp.parse().unwrap_or(0);
    let mut digits: String = mantissa.chars().filter(|c| c.is_ascii_digit()).collect();
    while digits.len() > 1 && digits.ends_with('0') {
        digits.pop();
    }
    if digits == "0" {
        return (digits, 1);
    }
    (digits, exp + 1)
}

fn exp_form(digits: &str, exp: i32) -> String {
    let mut out = digits[..1].to_string();
    if digits.len() > 1 {
        out.push('.');
        out.push_str(&digits[1..]);
    }
    let sign = if exp < 0 { '-' } else { '+' };
    format!("{out}e{sign}{:02}", exp.abs())
}

fn fixed_form(digits: &str, dp: i32, decimals: usize) -> String {
    let digit_at = |i: i32| -> char {
        if i >= 0 && (i as usize) < digits.len() {
            digits.as_bytes()[i as usize] as char
        } else {
            '0'
        }
    };
    let mut out = String::new();
    if dp <= 0 {
        out.push('0');
    } else {
        (0..dp).for_each(|i| out.push(digit_at(i)));
    }
    if decimals > 0 {
        out.push('.');
        (0..decimals as i32).for_each(|i| out.push(digit_at(dp + i)));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn matches_go_formatting() {
        assert_eq!(format_g(1.0, None), "1");
        assert_eq!(format_g(0.5, None), "0.5");
        assert_eq!(format_g(1e6, None), "1e+06");
        assert_eq!(format_g(123456.0, None), "123456");
        assert_eq!(format_g(0.0001, None), "0.0001");
        assert_eq!(format_g(0.00001, None), "1e-05");
        assert_eq!(format_g(-2.5, None), "-2.5");
        assert_eq!(format_g(1234.5, Some(4)), "1234");
        assert_eq!(format_g(1235.5, Some(4)), "1236");
        assert_eq!(format_g(12345.0, Some(4)), "1.234e+04");
        assert_eq!(format_g(1.5, Some(4)), "1.5");
        assert_eq!(format_g(0.0, Some(4)), "0");
        assert_eq!(format_g(f64::INFINITY, None), "+Inf");
        assert_eq!(format_e(1.0), "1e+00");
        assert_eq!(format_e(0.25), "2.5e-01");
    }
}
