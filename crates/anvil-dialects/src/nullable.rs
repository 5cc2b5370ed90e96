//! A three-state optional field (absent, explicit `null`, value), shared by the wire models of every
//! dialect so a decoded body re-encodes to the same JSON.

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// An optional wire field that remembers whether the key was absent or an explicit `null`, so a
/// decoded body re-encodes to the same JSON.
///
/// Use on struct fields with `#[serde(default, skip_serializing_if = "Nullable::is_absent")]`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum Nullable<T> {
    /// The key was not present.
    #[default]
    Absent,
    /// The key was present with the value `null`.
    Null,
    /// The key was present with a value.
    Value(T),
}

impl<T> Nullable<T> {
    /// Whether the key was absent (used by `skip_serializing_if`).
    pub fn is_absent(&self) -> bool {
        matches!(self, Nullable::Absent)
    }

    /// The value, if there is one.
    pub fn as_option(&self) -> Option<&T> {
        match self {
            Nullable::Value(v) => Some(v),
            Nullable::Absent | Nullable::Null => None,
        }
    }

    /// The value, if there is one, moved out.
    pub fn into_option(self) -> Option<T> {
        match self {
            Nullable::Value(v) => Some(v),
            Nullable::Absent | Nullable::Null => None,
        }
    }

    /// `Value` for `Some`, `Absent` for `None`.
    pub fn from_option(value: Option<T>) -> Self {
        match value {
            Some(v) => Nullable::Value(v),
            None => Nullable::Absent,
        }
    }

    /// `Value` for `Some`, `Null` for `None`.
    pub fn or_null(value: Option<T>) -> Self {
        match value {
            Some(v) => Nullable::Value(v),
            None => Nullable::Null,
        }
    }
}

impl<T: Serialize> Serialize for Nullable<T> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match self {
            Nullable::Value(v) => v.serialize(serializer),
            Nullable::Absent | Nullable::Null => serializer.serialize_none(),
        }
    }
}

impl<'de, T: Deserialize<'de>> Deserialize<'de> for Nullable<T> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        Ok(Nullable::or_null(Option::<T>::deserialize(deserializer)?))
    }
}

/// Deserializes a field that is either a string or an array, straight from the input: `"…"`
/// becomes `text(…)` and `[…]` becomes `seq(…)`. `#[serde(untagged)]` would first copy the whole
/// value into a buffer and then try each variant in turn, on every message of every request; a
/// malformed element also reports its own error here rather than "did not match any variant".
pub(crate) fn string_or_seq<'de, D, T, R>(
    deserializer: D,
    expecting: &'static str,
    text: fn(String) -> R,
    seq: fn(Vec<T>) -> R,
) -> Result<R, D::Error>
where
    D: Deserializer<'de>,
    T: Deserialize<'de>,
{
    struct Visit<T, R> {
        expecting: &'static str,
        text: fn(String) -> R,
        seq: fn(Vec<T>) -> R,
    }
    impl<'de, T: Deserialize<'de>, R> serde::de::Visitor<'de> for Visit<T, R> {
        type Value = R;
        fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            f.write_str(self.expecting)
        }
        fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<R, E> {
            Ok((self.text)(v.to_owned()))
        }
        fn visit_string<E: serde::de::Error>(self, v: String) -> Result<R, E> {
            Ok((self.text)(v))
        }
        fn visit_seq<A: serde::de::SeqAccess<'de>>(self, mut items: A) -> Result<R, A::Error> {
            let mut out = Vec::with_capacity(items.size_hint().unwrap_or(0).min(4096));
            while let Some(item) = items.next_element()? {
                out.push(item);
            }
            Ok((self.seq)(out))
        }
    }
    deserializer.deserialize_any(Visit {
        expecting,
        text,
        seq,
    })
}

/// Implements `Deserialize` for an enum of a `String` variant and a `Vec` variant through
/// [`string_or_seq`]: `string_or_seq_impl!(Content, Text, Blocks, "what the error expects")`.
macro_rules! string_or_seq_impl {
    ($name:ident, $text:ident, $seq:ident, $expecting:literal) => {
        impl<'de> serde::Deserialize<'de> for $name {
            fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
                $crate::nullable::string_or_seq(deserializer, $expecting, $name::$text, $name::$seq)
            }
        }
    };
}
pub(crate) use string_or_seq_impl;
