//! Wire formats of the three dialects anvil speaks — Anthropic Messages, OpenAI Chat Completions and
//! the OpenAI Responses API — a canonical model between them, and translation in every direction for
//! requests, complete responses and streams.
//!
//! This crate is pure: no async runtime, no HTTP, no database, no clock. Time and ids are arguments.
//!
//! * [`anthropic`], [`openai`], [`responses`]: typed wire models that keep every field they do not know,
//!   so a request re-encodes without loss; conversions to and from [`canonical`]; incremental stream
//!   decoders and encoders.
//! * [`sse`]: a push-based Server-Sent Events decoder and an encoder.
//! * [`errors`]: each dialect's error envelope with the vendor's type names.
//! * [`nullable`]: the three-state optional field (absent, `null`, value) the wire models share.
//! * [`translate`]: any dialect to any other, for requests, responses and streams.

pub mod anthropic;
pub mod canonical;
pub mod errors;
pub mod nullable;
pub mod openai;
pub mod responses;
pub mod sse;
pub mod translate;

use serde::Serialize;

pub use canonical::{Lossy, LossyNotes, StreamEvent};
pub use sse::SseEvent;

/// Decodes a whole JSON body. A body that is valid UTF-8 (nearly all) is checked once up front,
/// with the standard library's word-at-a-time check, and decoded as text, so serde skips its
/// per-string check (the 2 KB bench request's parse: 23,000 → 22,000 instructions); any other body
/// is decoded as bytes, which gives the error and its position.
pub(crate) fn from_body<T: serde::de::DeserializeOwned>(body: &[u8]) -> serde_json::Result<T> {
    match std::str::from_utf8(body) {
        Ok(text) => serde_json::from_str(text),
        Err(_) => serde_json::from_slice(body),
    }
}

/// Serializes `inner` (a struct) as a JSON object with `"type": tag` first and `inner`'s fields
/// streamed after it, in one pass. (Through a `Value` of `inner` and then a second map, it copied
/// every schema of a tool once per level of nesting.) The tag is the object's only `type`: no
/// variant struct has a field of that name, and decoding never leaves one in an `extra` map.
pub(crate) fn ser_tagged<S: serde::Serializer, T: Serialize>(
    tag: &str,
    inner: &T,
    s: S,
) -> Result<S::Ok, S::Error> {
    #[derive(Serialize)]
    struct Tagged<'a, T> {
        #[serde(rename = "type")]
        tag: &'a str,
        #[serde(flatten)]
        inner: &'a T,
    }
    Tagged { tag, inner }.serialize(s)
}

/// One of the three wire formats.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Dialect {
    /// Anthropic Messages (`/v1/messages`).
    Anthropic,
    /// OpenAI Chat Completions (`/v1/chat/completions`).
    OpenAiChat,
    /// OpenAI Responses (`/v1/responses`).
    Responses,
}

impl Dialect {
    /// All dialects.
    pub const ALL: [Dialect; 3] = [Dialect::Anthropic, Dialect::OpenAiChat, Dialect::Responses];

    /// A short lowercase name (`anthropic`, `openai`, `responses`).
    pub fn as_str(self) -> &'static str {
        match self {
            Dialect::Anthropic => "anthropic",
            Dialect::OpenAiChat => "openai",
            Dialect::Responses => "responses",
        }
    }
}

/// A stream that could not be decoded.
#[derive(Debug, thiserror::Error)]
pub enum DecodeError {
    /// An event's data was not the JSON the dialect defines.
    #[error("invalid {dialect} stream event: {source}")]
    Json {
        /// Dialect of the stream.
        dialect: &'static str,
        /// The JSON error.
        #[source]
        source: serde_json::Error,
    },
    /// The events were well-formed but out of order or inconsistent.
    #[error("invalid {dialect} stream: {message}")]
    Protocol {
        /// Dialect of the stream.
        dialect: &'static str,
        /// What was wrong.
        message: String,
    },
}

/// What a stream encoder needs to know that the canonical events do not carry.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct EncodeContext {
    /// The response id to present to the client when the source stream has none.
    pub id: String,
    /// The model name to present to the client.
    pub model: String,
    /// Unix seconds, for the `created` / `created_at` fields.
    pub created: u64,
    /// OpenAI Chat: whether the client asked for a final usage chunk (`stream_options.include_usage`).
    pub include_usage: bool,
}

/// Turns one dialect's stream events into canonical [`StreamEvent`]s, incrementally.
pub trait StreamDecode {
    /// Feeds one SSE event received from the upstream and appends the canonical events it completes.
    fn decode(&mut self, event: &SseEvent, out: &mut Vec<StreamEvent>) -> Result<(), DecodeError>;
    /// The upstream body ended; appends whatever the dialect leaves implicit (closing an open block,
    /// `Finish`, `End`). Returns an error when the stream ended before it was complete.
    fn finish(&mut self, out: &mut Vec<StreamEvent>) -> Result<(), DecodeError>;
    /// What this decoder has dropped (or approximated) so far, each kind once: upstream fields, events
    /// and blocks that have no canonical counterpart.
    fn notes(&self) -> &[crate::Lossy] {
        &[]
    }
}

/// Turns canonical [`StreamEvent`]s into one dialect's SSE events, incrementally.
pub trait StreamEncode {
    /// Appends the SSE events for one canonical event (possibly none, possibly several).
    fn encode(&mut self, event: &StreamEvent, out: &mut Vec<SseEvent>);
    /// What this encoder has dropped (or approximated) so far, each kind once: canonical content the
    /// dialect cannot express.
    fn notes(&self) -> &[crate::Lossy] {
        &[]
    }
}

#[cfg(test)]
mod tests {
    use serde_json::Value;

    #[test]
    fn from_body_decodes_as_serde_does_and_reports_bad_bytes_where_they_are() {
        for body in [
            &br#"{"text":"h\u00e9 \"q\"\n","n":[1,2.5,null]}"#[..],
            "{\"ünï\":\"cödé ✓\"}".as_bytes(),
        ] {
            assert_eq!(
                super::from_body::<Value>(body).unwrap(),
                serde_json::from_slice::<Value>(body).unwrap()
            );
        }
        for body in [
            &b"{\"text\":\"ok \xff\"}"[..],
            b"{\"text\":\"cut \xe2\x9c\"}",
            b"{\"a\":1,}",
        ] {
            assert_eq!(
                super::from_body::<Value>(body).unwrap_err().to_string(),
                serde_json::from_slice::<Value>(body)
                    .unwrap_err()
                    .to_string()
            );
        }
    }
}
