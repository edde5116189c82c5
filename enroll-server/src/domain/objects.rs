//! Nested objects that must be JSON objects: serde also reads a struct from
//! an array (its fields in order, `[null, null]` as two absent options),
//! which no client means and no schema allows.

use serde::de::{DeserializeOwned, Error};
use serde::{Deserialize, Deserializer};
use serde_json::Value;

fn from_object<T: DeserializeOwned, E: Error>(v: Value) -> Result<T, E> {
    if !v.is_object() {
        return Err(E::custom("expected a JSON object"));
    }
    serde_json::from_value(v).map_err(E::custom)
}

/// An optional object (`null` or absent is `None`).
pub fn optional_object<'de, D, T>(d: D) -> Result<Option<T>, D::Error>
where
    D: Deserializer<'de>,
    T: DeserializeOwned,
{
    Option::<Value>::deserialize(d)?
        .map(from_object)
        .transpose()
}

/// An optional list of objects.
pub fn optional_objects<'de, D, T>(d: D) -> Result<Option<Vec<T>>, D::Error>
where
    D: Deserializer<'de>,
    T: DeserializeOwned,
{
    Option::<Vec<Value>>::deserialize(d)?
        .map(|items| items.into_iter().map(from_object).collect())
        .transpose()
}

/// A list of objects, checked item by item.
pub fn objects<T: DeserializeOwned>(items: Vec<Value>) -> Result<Vec<T>, serde_json::Error> {
    items.into_iter().map(from_object).collect()
}

#[cfg(test)]
mod tests {
    use serde::Deserialize;

    #[derive(Deserialize, Debug, PartialEq)]
    struct Inner {
        a: Option<i32>,
        b: Option<i32>,
    }

    #[derive(Deserialize, Debug)]
    struct Outer {
        #[serde(default, deserialize_with = "super::optional_object")]
        one: Option<Inner>,
        #[serde(default, deserialize_with = "super::optional_objects")]
        many: Option<Vec<Inner>>,
    }

    #[test]
    fn arrays_are_not_objects() {
        let ok: Outer = serde_json::from_str(r#"{"one": {"a": 1}, "many": [{"b": 2}]}"#).unwrap();
        assert_eq!(
            ok.one,
            Some(Inner {
                a: Some(1),
                b: None
            })
        );
        assert!(serde_json::from_str::<Outer>(r#"{"one": [null, null]}"#).is_err());
        assert!(serde_json::from_str::<Outer>(r#"{"many": [[1, 2]]}"#).is_err());
        let none: Outer = serde_json::from_str(r#"{"one": null}"#).unwrap();
        assert!(none.one.is_none() && none.many.is_none());
    }
}
