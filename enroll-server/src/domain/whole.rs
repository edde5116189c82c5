//! Whole numbers as JSON Schema's `integer` counts them: `3` and `3.0`
//! alike. serde refuses `3.0` for an integer field; the document promises
//! an integer, so a client that writes one as `3.0` is answered as if it
//! had written `3`.

use serde::de::Error;
use serde::{Deserialize, Deserializer};

/// `3` or `3.0` into any integer type that holds it.
pub fn number<'de, D, T>(d: D) -> Result<T, D::Error>
where
    D: Deserializer<'de>,
    T: TryFrom<i64>,
{
    let n = serde_json::Number::deserialize(d)?;
    let whole = n.as_i64().or_else(|| {
        n.as_f64()
            .filter(|f| f.fract() == 0.0 && f.abs() < 9.2e18)
            .map(|f| f as i64)
    });
    whole
        .and_then(|i| T::try_from(i).ok())
        .ok_or_else(|| D::Error::custom(format!("`{n}` is not a whole number in range")))
}

/// The same for an optional field (`null` or absent is `None`).
pub fn optional<'de, D, T>(d: D) -> Result<Option<T>, D::Error>
where
    D: Deserializer<'de>,
    T: TryFrom<i64>,
{
    #[derive(Deserialize)]
    struct Wrap<T: TryFrom<i64>>(#[serde(deserialize_with = "number")] T);
    Ok(Option::<Wrap<T>>::deserialize(d)?.map(|w| w.0))
}

/// The same for an optional list (`null` or absent is `None`).
pub fn optional_list<'de, D, T>(d: D) -> Result<Option<Vec<T>>, D::Error>
where
    D: Deserializer<'de>,
    T: TryFrom<i64>,
{
    #[derive(Deserialize)]
    struct Wrap<T: TryFrom<i64>>(#[serde(deserialize_with = "number")] T);
    Ok(Option::<Vec<Wrap<T>>>::deserialize(d)?.map(|v| v.into_iter().map(|w| w.0).collect()))
}

#[cfg(test)]
mod tests {
    use serde::Deserialize;

    #[derive(Deserialize, Debug, PartialEq)]
    struct Body {
        #[serde(deserialize_with = "super::number")]
        a: i16,
        #[serde(default, deserialize_with = "super::optional")]
        b: Option<i32>,
    }

    #[test]
    fn whole_floats_count_as_integers() {
        let b: Body = serde_json::from_str(r#"{"a": 3.0, "b": -7.0}"#).unwrap();
        assert_eq!(b, Body { a: 3, b: Some(-7) });
        let b: Body = serde_json::from_str(r#"{"a": 3}"#).unwrap();
        assert_eq!(b, Body { a: 3, b: None });
        let b: Body = serde_json::from_str(r#"{"a": 3, "b": null}"#).unwrap();
        assert_eq!(b.b, None);
        for bad in [
            r#"{"a": 3.5}"#,
            r#"{"a": 40000}"#,
            r#"{"a": "3"}"#,
            r#"{"a": 1e30}"#,
        ] {
            assert!(serde_json::from_str::<Body>(bad).is_err(), "{bad}");
        }
    }
}
