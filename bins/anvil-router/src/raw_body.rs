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
        // The body is valid JSON, so its structure is enough: strings are skipped with `memchr`
        // instead of being decoded and checked again (a third of serde's cost). A member name
        // with an escape, or anything unexpected, takes serde's path.
        if let Some(members) = scan_members(bytes) {
            return Ok(Self {
                bytes: bytes.clone(),
                members,
            });
        }
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

/// The top-level members of a valid JSON object by structure alone, with [`Members`]' rule for a
/// repeated name; `None` for a member name with an escape (it must be decoded) or for input whose
/// top level is not an object (serde then says why). It does not validate values (`{"a":tru}`
/// passes): call it only on a body serde has already accepted, as [`RawBody::parse`]'s callers do.
fn scan_members(bytes: &[u8]) -> Option<Vec<(String, Range<usize>)>> {
    let mut members: Vec<(String, Range<usize>)> = Vec::new();
    let mut at = skip_ws(bytes, 0);
    if bytes.get(at) != Some(&b'{') {
        return None;
    }
    at = skip_ws(bytes, at + 1);
    if bytes.get(at) == Some(&b'}') {
        at += 1;
    } else {
        loop {
            let (name, value) = member_at(bytes, at)?;
            let name = &bytes[name];
            if name.contains(&b'\\') {
                return None;
            }
            let name = std::str::from_utf8(name).ok()?;
            at = skip_ws(bytes, value.end);
            match members.iter_mut().find(|(known, _)| known == name) {
                Some(member) => member.1 = value,
                None => members.push((name.to_owned(), value)),
            }
            match bytes.get(at) {
                Some(b',') => at = skip_ws(bytes, at + 1),
                Some(b'}') => {
                    at += 1;
                    break;
                }
                _ => return None,
            }
        }
    }
    (skip_ws(bytes, at) == bytes.len()).then_some(members)
}

/// The byte range of the value of the top-level member `name` (a name without escapes) of a JSON
/// object: the last one, as a JSON map keeps it. It searches from the end, where answers keep
/// `usage`, and reads the structure only after each candidate, so it costs about the same for a
/// 300-byte answer and a 300 KB one. `None` when the object has no such member. Values are not
/// validated: decode the range with serde, which rejects what the scan let through.
pub fn member(bytes: &[u8], name: &str) -> Option<Range<usize>> {
    let finder = memchr::memmem::FinderRev::new(name.as_bytes());
    let mut before = bytes.len();
    while let Some(at) = finder.rfind(&bytes[..before]) {
        before = at;
        // `"name"`, not part of a longer string, nor after an escaped quote (`"x\"name"`)
        if at == 0 || bytes[at - 1] != b'"' || escaped(bytes, at - 1) {
            continue;
        }
        let Some((found, value)) = member_at(bytes, at - 1) else {
            continue;
        };
        // A string cannot hold an unescaped quote, so the candidate is a member name; it is a
        // top-level one when the members after it close the object that ends the text.
        if found == (at..at + name.len()) && closes_the_text(bytes, value.end) {
            return Some(value);
        }
    }
    None
}

/// Whether what follows a member's value at `at` is more members (`, "name": value`) and then
/// the `}` that ends the text.
fn closes_the_text(bytes: &[u8], mut at: usize) -> bool {
    loop {
        at = skip_ws(bytes, at);
        match bytes.get(at) {
            Some(b'}') => return skip_ws(bytes, at + 1) == bytes.len(),
            Some(b',') => match member_at(bytes, skip_ws(bytes, at + 1)) {
                Some((_, value)) => at = value.end,
                None => return false,
            },
            _ => return false,
        }
    }
}

/// The member whose name's opening quote is at `at` (`"name" : value`): the ranges of the name's
/// text (between its quotes, escapes undecoded) and of the value.
fn member_at(bytes: &[u8], at: usize) -> Option<(Range<usize>, Range<usize>)> {
    if bytes.get(at) != Some(&b'"') {
        return None;
    }
    let name_end = string_end(bytes, at)?;
    let colon = skip_ws(bytes, name_end);
    if bytes.get(colon) != Some(&b':') {
        return None;
    }
    let start = skip_ws(bytes, colon + 1);
    let end = value_end(bytes, start)?;
    Some((at + 1..name_end - 1, start..end))
}

/// Whether the quote at `quote` is escaped: an odd run of backslashes right before it.
fn escaped(bytes: &[u8], quote: usize) -> bool {
    bytes[..quote]
        .iter()
        .rev()
        .take_while(|&&b| b == b'\\')
        .count()
        % 2
        == 1
}

/// The first index at or after `at` that is not JSON whitespace (`bytes.len()` at the end).
pub(crate) fn skip_ws(bytes: &[u8], mut at: usize) -> usize {
    while bytes
        .get(at)
        .is_some_and(|b| matches!(b, b' ' | b'\t' | b'\n' | b'\r'))
    {
        at += 1;
    }
    at
}

/// The end (one past the closing quote) of the string whose opening quote is at `at`: the first
/// quote after an even run of backslashes. Searching for quotes alone, not for backslashes too,
/// takes one search for a string of code with a `\n` on every line instead of one per line.
fn string_end(bytes: &[u8], at: usize) -> Option<usize> {
    let mut from = at + 1;
    loop {
        let quote = from + memchr::memchr(b'"', bytes.get(from..)?)?;
        // the opening quote at `at` ends any run of backslashes
        if !escaped(bytes, quote) {
            return Some(quote + 1);
        }
        from = quote + 1;
    }
}

/// The end of the value starting at `at`: a string, an object or array (nesting followed,
/// strings inside skipped whole), or a number or literal (up to the next delimiter).
fn value_end(bytes: &[u8], at: usize) -> Option<usize> {
    match *bytes.get(at)? {
        b'"' => string_end(bytes, at),
        b'{' | b'[' => {
            let mut depth = 0usize;
            let mut i = at;
            loop {
                match *bytes.get(i)? {
                    b'"' => {
                        i = string_end(bytes, i)?;
                        continue;
                    }
                    b'{' | b'[' => depth += 1,
                    b'}' | b']' => {
                        depth -= 1;
                        if depth == 0 {
                            return Some(i + 1);
                        }
                    }
                    _ => {}
                }
                i += 1;
            }
        }
        b',' | b'}' | b']' | b':' => None,
        _ => {
            let len = bytes[at..]
                .iter()
                .position(|b| matches!(b, b',' | b'}' | b']' | b' ' | b'\t' | b'\n' | b'\r'))
                .unwrap_or(bytes.len() - at);
            Some(at + len)
        }
    }
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
    fn member_finds_the_top_level_value_only() {
        let body = br#"{"content":[{"text":"\"usage\":{\"x\":1}","usage":0}],"usage":{"input_tokens":3},"model":"m"}"#;
        let range = member(body, "usage").unwrap();
        assert_eq!(&body[range], br#"{"input_tokens":3}"#);
        assert_eq!(
            member(body, "text"),
            None,
            "nested members are not top-level"
        );
        assert_eq!(
            member(br#"{"usage":1,"usage":2}"#, "usage").map(|r| r.start),
            Some(19)
        );
        for other in [
            &b""[..],
            b"[]",
            b"{\"usage\":",
            b"{\"usage\":1",
            b"nul",
            br#"{"x\"usage":1}"#,
            br#"{"x\\\"usage":1}"#,
            br#"{"my_usage":1,"usage_total":2,"a":"usage"}"#,
            br#"[{"usage":1}]"#,
            br#"{"a":{"usage":1}}"#,
            br#"{"a":[{"usage":1},{"b":2}],"c":3}"#,
            br#"{"a":{"usage":1,"b":2}}"#,
        ] {
            assert_eq!(
                member(other, "usage"),
                None,
                "{:?}",
                String::from_utf8_lossy(other)
            );
        }
        assert_eq!(
            member(br#"{"x\\":{"usage":0},"usage" : 5 }"#, "usage"),
            Some(29..30),
            "a quote after an escaped backslash ends the string"
        );
    }

    /// Every top-level member of every client capture is found where serde finds it, and a name
    /// that occurs only deeper is not found.
    #[test]
    fn member_agrees_with_serde_on_the_captures() {
        fn names(value: &Value, out: &mut Vec<String>) {
            match value {
                Value::Object(map) => {
                    for (name, inner) in map {
                        out.push(name.clone());
                        names(inner, out);
                    }
                }
                Value::Array(items) => items.iter().for_each(|item| names(item, out)),
                _ => {}
            }
        }
        let mut checked = 0;
        for (path, body) in capture_bodies() {
            let mut every = Vec::new();
            names(&body, &mut every);
            for text in [
                serde_json::to_vec(&body).unwrap(),
                serde_json::to_vec_pretty(&body).unwrap(),
            ] {
                for name in &every {
                    let found = member(&text, name)
                        .map(|range| serde_json::from_slice::<Value>(&text[range]).unwrap());
                    assert_eq!(found.as_ref(), body.get(name), "{} {name}", path.display());
                    checked += 1;
                }
            }
        }
        assert!(checked > 100, "only {checked} names checked");
    }

    /// Every client capture's request body that is a JSON object, with the capture's path.
    fn capture_bodies() -> Vec<(std::path::PathBuf, Value)> {
        let fixtures =
            std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/fixtures/clients");
        let mut bodies = Vec::new();
        for entry in std::fs::read_dir(fixtures).unwrap() {
            let path = entry.unwrap().path();
            if path.extension().is_none_or(|e| e != "json") {
                continue;
            }
            let capture: Value = serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
            if let Some(body) = capture.get("body_json").filter(|b| b.is_object()) {
                bodies.push((path, body.clone()));
            }
        }
        bodies
    }

    /// The members as serde reads them, the reference for [`scan_members`].
    fn serde_members(bytes: &[u8]) -> Vec<(String, Range<usize>)> {
        let base = bytes.as_ptr() as usize;
        serde_json::from_slice::<Members<'_>>(bytes)
            .unwrap()
            .0
            .into_iter()
            .map(|(name, value)| {
                let start = value.get().as_ptr() as usize - base;
                (name, start..start + value.get().len())
            })
            .collect()
    }

    #[test]
    fn the_structural_scan_finds_what_serde_finds() {
        let cases = [
            r#"{}"#,
            " \n{ \t}\r\n",
            r#"{"a":1,"b":-2.5e+3,"c":true,"d":false,"e":null,"f":"x"}"#,
            r#"{ "a" : [ 1 , { "b" : "}]\"{[" } ] , "c" : { "d" : [ [ ] , { } ] } }"#,
            r#"{"s":"\\","t":"\\\"","u":"\u00e9\ud83d\ude00","v":"a\\\\"}"#,
            r#"{"model":"a","x":{"model":"inner"},"model":"b"}"#,
            "{\"ünïcode ✓\":\"värde\",\"n\":0}",
            r#"{"n":1}   "#,
        ];
        for body in cases {
            assert_eq!(
                scan_members(body.as_bytes()),
                Some(serde_members(body.as_bytes())),
                "{body}"
            );
        }
        let mut seen = 0;
        for (path, body) in capture_bodies() {
            for text in [
                serde_json::to_vec(&body).unwrap(),
                serde_json::to_vec_pretty(&body).unwrap(),
            ] {
                assert_eq!(
                    scan_members(&text),
                    Some(serde_members(&text)),
                    "{}",
                    path.display()
                );
            }
            seen += 1;
        }
        assert!(seen >= 15, "only {seen} fixtures with a JSON body");
    }

    #[test]
    fn the_structural_scan_hands_escaped_names_and_non_objects_to_serde() {
        for body in [
            r#"{"mod\u0065l":"x"}"#,
            r#"{"a\"b":1}"#,
            "[1,2]",
            "\"x\"",
            "{",
            "",
            r#"{"a":1 "b":2}"#,
            r#"{"a":1}x"#,
            r#"{"a" 1}"#,
            r#"{"a":,}"#,
            r#"{"a":"unterminated}"#,
            r#"{"a":[1,2}"#,
        ] {
            assert_eq!(scan_members(body.as_bytes()), None, "{body}");
        }
        // an escaped name still reads right, through serde
        let raw = RawBody::parse(&Bytes::from_static(br#"{"mod\u0065l":"x"}"#)).unwrap();
        assert_eq!(raw.string("model").as_deref(), Some("x"));
    }

    fn json_value() -> impl proptest::strategy::Strategy<Value = Value> {
        use proptest::prelude::*;
        let leaf = prop_oneof![
            Just(Value::Null),
            any::<bool>().prop_map(Value::Bool),
            any::<i64>().prop_map(Value::from),
            any::<f64>()
                .prop_filter("finite", |f| f.is_finite())
                .prop_map(Value::from),
            any::<String>().prop_map(Value::String),
            "[\\\\\"{}\\[\\]:, a-z]{0,12}".prop_map(Value::String),
        ];
        leaf.prop_recursive(4, 48, 6, |inner| {
            prop_oneof![
                proptest::collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
                proptest::collection::vec(("[a-z\"\\\\{}]{0,6}", inner), 0..6)
                    .prop_map(|m| Value::Object(m.into_iter().collect())),
            ]
        })
    }

    proptest::proptest! {
        #[test]
        fn the_structural_scan_agrees_with_serde_on_any_object(
            members in proptest::collection::vec(("[a-z_]{1,8}|[^\\\\]{0,6}", json_value()), 0..8),
            pretty in proptest::prelude::any::<bool>(),
        ) {
            let object = Value::Object(members.into_iter().collect());
            let text = if pretty {
                serde_json::to_vec_pretty(&object).unwrap()
            } else {
                serde_json::to_vec(&object).unwrap()
            };
            let scanned = scan_members(&text);
            // a name that needed an escape goes to serde; every other body is read by the scan
            let escaped = object.as_object().unwrap().keys().any(|k| serde_json::to_string(k).unwrap().contains('\\'));
            proptest::prop_assert_eq!(scanned.is_none(), escaped);
            if let Some(scanned) = scanned {
                proptest::prop_assert_eq!(scanned, serde_members(&text));
            }
        }
    }

    #[test]
    fn a_body_that_is_not_an_object_is_a_bad_request() {
        for body in [&b"[1,2]"[..], b"\"x\"", b"{", b""] {
            let error = RawBody::parse(&Bytes::copy_from_slice(body)).unwrap_err();
            assert_eq!(error.body.status, 400, "{body:?}");
        }
    }
}
