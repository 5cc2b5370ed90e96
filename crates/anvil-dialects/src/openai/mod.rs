//! OpenAI Chat Completions (`POST /v1/chat/completions`): typed wire models that keep every field
//! they do not know, conversions to and from [`crate::canonical`], and stream decoding and encoding.
//!
//! * [`wire`]: request, response and `chat.completion.chunk` models; [`parse_request`] /
//!   [`parse_response`] decode bodies, `to_json` re-encodes them to an equal JSON value.
//! * [`request_to_canonical`] (and [`request_into_canonical`], which moves instead of copying) /
//!   [`request_from_canonical`] and the response pair: see the
//!   `convert` module docs (re-stated below) for how system/developer, tool messages and legacy
//!   function calling map.
//! * [`StreamDecoder`] / [`StreamEncoder`]: see the `stream` module docs for how interleaved
//!   parallel tool calls are buffered.
//!
//! Round-trip choices: the leading run of `system`/`developer` messages becomes canonical `system`
//! and comes back as one `system` message (a leading `developer` role is reported as approximated);
//! later system/developer messages keep their role. Consecutive `tool` messages merge into one
//! canonical user turn and split back into separate `tool` messages in order.

mod convert;
mod nullable;
mod stream;
pub mod wire;

pub use convert::{
    request_from_canonical, request_into_canonical, request_to_canonical, response_from_canonical,
    response_to_canonical,
};
pub use nullable::Nullable;
pub use stream::{StreamDecoder, StreamEncoder};
pub use wire::{Chunk, Request, Response};

/// Parses a Chat Completions request body.
pub fn parse_request(body: &[u8]) -> Result<Request, serde_json::Error> {
    crate::from_body(body)
}

/// Parses a complete Chat Completions response body.
pub fn parse_response(body: &[u8]) -> Result<Response, serde_json::Error> {
    crate::from_body(body)
}

/// Parses one stream chunk (the data of an SSE event other than `[DONE]`).
pub fn parse_chunk(data: &str) -> Result<Chunk, serde_json::Error> {
    serde_json::from_str(data)
}
