//! Anthropic Messages (`POST /v1/messages`, `POST /v1/messages/count_tokens`): typed wire models that
//! keep unknown fields, conversions to and from [`crate::canonical`], and incremental stream
//! decoding and encoding.
//!
//! * [`parse_request`] / [`Request::to_json`], [`parse_response`] / [`Response::to_json`]: decode and
//!   re-encode without loss (a captured request re-encodes to an equal JSON value).
//! * [`request_to_canonical`] (and [`request_into_canonical`], which moves instead of copying),
//!   [`request_from_canonical`], [`response_to_canonical`], [`response_from_canonical`]:
//!   conversions that report what they cannot carry as [`crate::Lossy`] notes.
//! * [`StreamDecoder`], [`StreamEncoder`]: SSE events ⇄ canonical stream events.

mod convert;
mod stream;
pub mod wire;

pub use convert::{
    request_from_canonical, request_into_canonical, request_to_canonical, response_from_canonical,
    response_to_canonical,
};
pub use stream::{StreamDecoder, StreamEncoder};
pub use wire::{parse_request, parse_response, CountTokensResponse, Request, Response};
