//! The serde glue for "tagged by `type`, with a raw fallback" enums; the three-state optional field
//! lives in [`crate::nullable`].

use serde::de::Error as _;
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use serde_json::{Map, Value};

pub use crate::nullable::Nullable;

/// Splits a JSON object tagged by `type` for the known-variant parsers: returns the tag and the
/// object without it, or `None` when the value is not an object with a string `type`.
pub(crate) fn split_tag(value: &Value) -> Option<(&str, Map<String, Value>)> {
    let object = value.as_object()?;
    let tag = object.get("type")?.as_str()?;
    let mut rest = object.clone();
    rest.shift_remove("type");
    Some((tag, rest))
}

/// Deserializes a `type`-tagged value: `parse(tag, rest)` returns `None` for an unknown tag, which
/// then falls back to `other(raw)`.
pub(crate) fn deserialize_tagged<'de, D, T>(
    deserializer: D,
    parse: impl FnOnce(&str, Value) -> Option<Result<T, serde_json::Error>>,
    other: impl FnOnce(Value) -> T,
) -> Result<T, D::Error>
where
    D: Deserializer<'de>,
{
    let raw = Value::deserialize(deserializer)?;
    let parsed = match split_tag(&raw) {
        Some((tag, rest)) => parse(tag, Value::Object(rest)),
        None => None,
    };
    match parsed {
        Some(result) => result.map_err(D::Error::custom),
        None => Ok(other(raw)),
    }
}

/// Serializes a known variant as `{"type": tag, ...fields of inner}` ([`crate::ser_tagged`]:
/// `split_tag` takes the tag out of what a variant decodes, so its fields never hold a `type`).
pub(crate) fn serialize_tagged<S: Serializer, T: Serialize>(
    serializer: S,
    tag: &str,
    inner: &T,
) -> Result<S::Ok, S::Error> {
    crate::ser_tagged(tag, inner, serializer)
}

/// Implements `Serialize` / `Deserialize` for an enum whose known variants are newtypes over structs
/// (without the `type` key) and whose `Other(Value)` variant keeps any unknown `type` verbatim.
macro_rules! tagged_enum_serde {
    ($name:ident { $($tag:literal => $variant:ident),* $(,)? }) => {
        impl serde::Serialize for $name {
            fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
                match self {
                    $($name::$variant(inner) => {
                        $crate::openai::nullable::serialize_tagged(serializer, $tag, inner)
                    })*
                    $name::Other(raw) => raw.serialize(serializer),
                }
            }
        }

        impl<'de> serde::Deserialize<'de> for $name {
            fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
                $crate::openai::nullable::deserialize_tagged(
                    deserializer,
                    |tag, rest| match tag {
                        $($tag => Some(serde_json::from_value(rest).map($name::$variant)),)*
                        _ => None,
                    },
                    $name::Other,
                )
            }
        }
    };
}

pub(crate) use tagged_enum_serde;

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, Serialize, Deserialize, PartialEq)]
    struct Holder {
        #[serde(default, skip_serializing_if = "Nullable::is_absent")]
        field: Nullable<u64>,
    }

    #[test]
    fn nullable_round_trips_three_states() {
        let cases = [
            (serde_json::json!({}), Nullable::Absent),
            (serde_json::json!({"field": null}), Nullable::Null),
            (serde_json::json!({"field": 3}), Nullable::Value(3)),
        ];
        for (json, expected) in cases {
            let holder: Holder = serde_json::from_value(json.clone()).unwrap();
            assert_eq!(holder.field, expected, "{json}");
            assert_eq!(serde_json::to_value(&holder).unwrap(), json);
        }
    }
}
