//! The client's request body as its top-level members, each value kept as the original bytes.
//!
//! Same-dialect requests go upstream as "the client's own JSON with `model` rewritten": the members
//! are copied byte for byte, `model` is replaced and the `anvil` hints are left out. Nothing is
//! re-encoded, so a 200 KB Claude Code request costs one scan and one copy instead of a tree built
//! from the typed model, a deep copy of it and its serialization.

use std::ops::Range;

use bytes::Bytes;
use serde::de::{Deserialize, Deserializer, MapAccess, Visitor};
use serde_json::value::RawValue;
use serde_json::Value;

use crate::respond::ApiError;

/// The member holding anvil's own hints (OpenAI `extra_body`); it never reaches an upstream.
pub const HINTS: &str = "anvil";

/// The top-level members of a JSON object body, in order; a repeated key keeps its first place
/// and its last value, as a JSON map would. Owns the body (a cheap `Bytes` clone), so it can travel
/// with a request across awaits.
#[derive(Debug, Clone)]
pub struct RawBody {
    bytes: Bytes,
    /// Member names and the byte ranges of their values in `bytes`.
    members: Vec<(String, Range<usize>)>,
}

impl RawBody {
    /// Reads the members of `bytes`, a JSON object (the typed parse has already accepted it).
    pub fn parse(bytes: &Bytes) -> Result<Self, ApiError> {
        let borrowed = serde_json::from_slice::<Members<'_>>(bytes).map_err(|e| {
            ApiError::bad_request(format!("request body must be a JSON object: {e}"))
        })?;
        let base = bytes.as_ptr() as usize;
        let members = borrowed
            .0
            .into_iter()
            .map(|(name, value)| {
                let start = value.get().as_ptr() as usize - base;
                (name, start..start + value.get().len())
            })
            .collect();
        Ok(Self {
            bytes: bytes.clone(),
            members,
        })
    }

    /// The raw text of `key`'s value.
    pub fn get(&self, key: &str) -> Option<&str> {
        self.members
            .iter()
            .find(|(name, _)| name == key)
            .and_then(|(_, range)| std::str::from_utf8(&self.bytes[range.clone()]).ok())
    }

    /// The members named in `keys`, decoded into an object (for readers of a few small members).
    pub fn object_of(&self, keys: &[&str]) -> Value {
        Value::Object(
            keys.iter()
                .filter_map(|key| Some(((*key).to_owned(), self.value(key)?)))
                .collect(),
        )
    }

    /// `key` is there and not `null`.
    pub fn present(&self, key: &str) -> bool {
        self.get(key).is_some_and(|value| value != "null")
    }

    /// `key` is `true`.
    pub fn is_true(&self, key: &str) -> bool {
        self.get(key).is_some_and(|value| value == "true")
    }

    /// `key`'s value when it is a string.
    pub fn string(&self, key: &str) -> Option<String> {
        self.get(key)
            .and_then(|value| serde_json::from_str::<String>(value).ok())
    }

    /// `key`'s value, decoded.
    pub fn value(&self, key: &str) -> Option<Value> {
        self.get(key)
            .and_then(|value| serde_json::from_str::<Value>(value).ok())
    }

    /// The body for an upstream of the client's dialect: every member but [`HINTS`], byte for
    /// byte, with `model` set to `model` (replaced in place, or appended when the client sent
    /// none); `None` keeps the client's.
    pub fn encode(&self, model: Option<&str>) -> Bytes {
        let size: usize = self
            .members
            .iter()
            .map(|(name, range)| name.len() + range.len() + 4)
            .sum();
        let mut out = Vec::with_capacity(size + 2 + model.map_or(0, |m| m.len() + 12));
        out.push(b'{');
        let mut model_written = false;
        for (name, range) in &self.members {
            if name == HINTS {
                continue;
            }
            if out.len() > 1 {
                out.push(b',');
            }
            write_string(&mut out, name);
            out.push(b':');
            match model {
                Some(model) if name == "model" => {
                    write_string(&mut out, model);
                    model_written = true;
                }
                _ => out.extend_from_slice(&self.bytes[range.clone()]),
            }
        }
        if let (Some(model), false) = (model, model_written) {
            if out.len() > 1 {
                out.push(b',');
            }
            write_string(&mut out, "model");
            out.push(b':');
            write_string(&mut out, model);
        }
        out.push(b'}');
        Bytes::from(out)
    }
}

fn write_string(out: &mut Vec<u8>, text: &str) {
    // Writing a string into a Vec cannot fail.
    let _ = serde_json::to_writer(out, text);
}

/// The members as borrowed raw values, while parsing.
struct Members<'a>(Vec<(String, &'a RawValue)>);

impl<'de> Deserialize<'de> for Members<'de> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct Visit;
        impl<'de> Visitor<'de> for Visit {
            type Value = Members<'de>;

            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("a JSON object")
            }

            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
                let mut members: Vec<(String, &'de RawValue)> = Vec::new();
                while let Some(name) = map.next_key::<String>()? {
                    let value: &'de RawValue = map.next_value()?;
                    match members.iter_mut().find(|(known, _)| *known == name) {
                        Some(member) => member.1 = value,
                        None => members.push((name, value)),
                    }
                }
                Ok(Members(members))
            }
        }
        deserializer.deserialize_map(Visit)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn through_value(body: &str, model: Option<&str>) -> Value {
        let mut value: Value = serde_json::from_str(body).unwrap();
        let object = value.as_object_mut().unwrap();
        object.remove(HINTS);
        if let Some(model) = model {
            object.insert("model".into(), Value::String(model.into()));
        }
        value
    }

    #[test]
    fn encode_is_the_client_json_with_the_model_swapped_and_hints_dropped() {
        let cases = [
            r#"{"model":"chat","max_tokens":10,"messages":[{"role":"user","content":"h\u00e9 \"q\""}],"anvil":{"verify":"on"},"stream":true}"#,
            r#"{ "messages" : [ ] , "temperature" : null }"#,
            r#"{"anvil":{"intent":"x"}}"#,
            r#"{}"#,
            r#"{"model":"a","model":"b","x":1}"#,
        ];
        for body in cases {
            let raw = RawBody::parse(&Bytes::from(body)).unwrap();
            for model in [Some("tier-model ☀"), None] {
                let encoded = raw.encode(model);
                let back: Value = serde_json::from_slice(&encoded).unwrap();
                assert_eq!(back, through_value(body, model), "{body} {model:?}");
            }
        }
        // key order is the client's, the model keeps its place
        let raw =
            RawBody::parse(&Bytes::from_static(br#"{"a":1,"model":"m","b":[1, 2]}"#)).unwrap();
        assert_eq!(
            &raw.encode(Some("t"))[..],
            br#"{"a":1,"model":"t","b":[1, 2]}"#
        );
    }

    #[test]
    fn accessors_read_the_members() {
        let raw = RawBody::parse(&Bytes::from_static(
            br#"{"model":"anvil/chat","stream":true,"store":false,"max_tokens":null,"anvil":{"verify":"on"},"metadata":{"user_id":"u"}}"#,
        ))
        .unwrap();
        assert_eq!(raw.string("model").as_deref(), Some("anvil/chat"));
        assert!(raw.is_true("stream") && !raw.is_true("store") && !raw.is_true("nope"));
        assert!(raw.present("store") && !raw.present("max_tokens") && !raw.present("nope"));
        assert_eq!(raw.value(HINTS), Some(json!({"verify": "on"})));
        assert_eq!(raw.string("stream"), None);
        assert_eq!(
            raw.object_of(&["metadata", "nope"]),
            json!({"metadata": {"user_id": "u"}})
        );
    }

    #[test]
    fn a_body_that_is_not_an_object_is_a_bad_request() {
        for body in [&b"[1,2]"[..], b"\"x\"", b"{", b""] {
            let error = RawBody::parse(&Bytes::copy_from_slice(body)).unwrap_err();
            assert_eq!(error.body.status, 400, "{body:?}");
        }
    }
}
