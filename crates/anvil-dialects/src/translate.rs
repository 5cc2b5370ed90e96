//! Translation between any two dialects, for requests, complete responses and streams.
//!
//! Every translation goes through the [`canonical`](crate::canonical) model and reports what did not
//! survive as [`Lossy`](crate::Lossy) notes. Same-dialect traffic should not come through here at all:
//! the router forwards it nearly untouched.

use serde_json::Value;

use crate::canonical::{self, LossyNotes, StreamEvent};
use crate::sse::{SseDecoder, SseError};
use crate::{
    anthropic, openai, responses, DecodeError, Dialect, EncodeContext, SseEvent, StreamDecode,
    StreamEncode,
};

/// A parsed request of any dialect.
#[derive(Debug, Clone, PartialEq)]
pub enum AnyRequest {
    /// Anthropic Messages.
    Anthropic(anthropic::Request),
    /// OpenAI Chat Completions.
    OpenAiChat(openai::Request),
    /// OpenAI Responses.
    Responses(responses::Request),
}

impl AnyRequest {
    /// Parses a request body of the given dialect.
    pub fn parse(dialect: Dialect, body: &[u8]) -> Result<Self, serde_json::Error> {
        Ok(match dialect {
            Dialect::Anthropic => Self::Anthropic(anthropic::parse_request(body)?),
            Dialect::OpenAiChat => Self::OpenAiChat(openai::parse_request(body)?),
            Dialect::Responses => Self::Responses(responses::parse_request(body)?),
        })
    }

    /// The dialect of this request.
    pub fn dialect(&self) -> Dialect {
        match self {
            Self::Anthropic(_) => Dialect::Anthropic,
            Self::OpenAiChat(_) => Dialect::OpenAiChat,
            Self::Responses(_) => Dialect::Responses,
        }
    }

    /// The request as JSON, in its own dialect.
    pub fn to_json(&self) -> Value {
        match self {
            Self::Anthropic(r) => r.to_json(),
            Self::OpenAiChat(r) => r.to_json(),
            Self::Responses(r) => r.to_json(),
        }
    }

    /// The request's JSON text, in its own dialect, written straight from the typed model: the
    /// same JSON as [`Self::to_json`] without the tree, and an error where that gives `null`.
    pub fn to_vec(&self) -> serde_json::Result<Vec<u8>> {
        match self {
            Self::Anthropic(r) => serde_json::to_vec(r),
            Self::OpenAiChat(r) => serde_json::to_vec(r),
            Self::Responses(r) => serde_json::to_vec(r),
        }
    }

    /// The request in canonical form.
    pub fn to_canonical(&self, notes: &mut LossyNotes) -> canonical::Request {
        match self {
            Self::Anthropic(r) => anthropic::request_to_canonical(r, notes),
            Self::OpenAiChat(r) => openai::request_to_canonical(r, notes),
            Self::Responses(r) => responses::request_to_canonical(r, notes),
        }
    }

    /// [`AnyRequest::to_canonical`] for a request that is no longer needed: its text, schemas and
    /// values move into the canonical request instead of being copied.
    pub fn into_canonical(self, notes: &mut LossyNotes) -> canonical::Request {
        match self {
            Self::Anthropic(r) => anthropic::request_into_canonical(r, notes),
            Self::OpenAiChat(r) => openai::request_into_canonical(r, notes),
            Self::Responses(r) => responses::request_into_canonical(r, notes),
        }
    }

    /// A canonical request expressed in `dialect`.
    pub fn from_canonical(
        dialect: Dialect,
        req: &canonical::Request,
        notes: &mut LossyNotes,
    ) -> Self {
        match dialect {
            Dialect::Anthropic => Self::Anthropic(anthropic::request_from_canonical(req, notes)),
            Dialect::OpenAiChat => Self::OpenAiChat(openai::request_from_canonical(req, notes)),
            Dialect::Responses => Self::Responses(responses::request_from_canonical(req, notes)),
        }
    }

    /// This request expressed in `to`, with what did not survive.
    pub fn translate(&self, to: Dialect, notes: &mut LossyNotes) -> Self {
        let canonical = self.to_canonical(notes);
        Self::from_canonical(to, &canonical, notes)
    }
}

/// A parsed complete (non-streamed) response of any dialect.
#[derive(Debug, Clone, PartialEq)]
#[allow(
    clippy::large_enum_variant,
    reason = "one per response, built once and consumed in place; boxing would only add an allocation"
)]
pub enum AnyResponse {
    /// Anthropic Messages.
    Anthropic(anthropic::Response),
    /// OpenAI Chat Completions.
    OpenAiChat(openai::Response),
    /// OpenAI Responses.
    Responses(responses::Response),
}

impl AnyResponse {
    /// Parses a response body of the given dialect.
    pub fn parse(dialect: Dialect, body: &[u8]) -> Result<Self, serde_json::Error> {
        Ok(match dialect {
            Dialect::Anthropic => Self::Anthropic(anthropic::parse_response(body)?),
            Dialect::OpenAiChat => Self::OpenAiChat(openai::parse_response(body)?),
            Dialect::Responses => Self::Responses(responses::parse_response(body)?),
        })
    }

    /// The response as JSON, in its own dialect.
    pub fn to_json(&self) -> Value {
        match self {
            Self::Anthropic(r) => r.to_json(),
            Self::OpenAiChat(r) => r.to_json(),
            Self::Responses(r) => r.to_json(),
        }
    }

    /// The response's JSON text, in its own dialect, written straight from the typed model: the
    /// same JSON as [`Self::to_json`] without the tree, and an error where that gives `null`.
    pub fn to_vec(&self) -> serde_json::Result<Vec<u8>> {
        match self {
            Self::Anthropic(r) => serde_json::to_vec(r),
            Self::OpenAiChat(r) => serde_json::to_vec(r),
            Self::Responses(r) => serde_json::to_vec(r),
        }
    }

    /// The response in canonical form.
    pub fn to_canonical(&self, notes: &mut LossyNotes) -> canonical::Response {
        match self {
            Self::Anthropic(r) => anthropic::response_to_canonical(r, notes),
            Self::OpenAiChat(r) => openai::response_to_canonical(r, notes),
            Self::Responses(r) => responses::response_to_canonical(r, notes),
        }
    }

    /// A canonical response expressed in `dialect`.
    pub fn from_canonical(
        dialect: Dialect,
        resp: &canonical::Response,
        notes: &mut LossyNotes,
    ) -> Self {
        match dialect {
            Dialect::Anthropic => Self::Anthropic(anthropic::response_from_canonical(resp, notes)),
            Dialect::OpenAiChat => Self::OpenAiChat(openai::response_from_canonical(resp, notes)),
            Dialect::Responses => Self::Responses(responses::response_from_canonical(resp, notes)),
        }
    }

    /// This response expressed in `to`, with what did not survive.
    pub fn translate(&self, to: Dialect, notes: &mut LossyNotes) -> Self {
        let canonical = self.to_canonical(notes);
        Self::from_canonical(to, &canonical, notes)
    }
}

/// A stream decoder for `dialect`.
pub fn stream_decoder(dialect: Dialect) -> Box<dyn StreamDecode + Send> {
    match dialect {
        Dialect::Anthropic => Box::new(anthropic::StreamDecoder::new()),
        Dialect::OpenAiChat => Box::new(openai::StreamDecoder::new()),
        Dialect::Responses => Box::new(responses::StreamDecoder::new()),
    }
}

/// A stream encoder for `dialect`.
pub fn stream_encoder(dialect: Dialect, ctx: EncodeContext) -> Box<dyn StreamEncode + Send> {
    match dialect {
        Dialect::Anthropic => Box::new(anthropic::StreamEncoder::new(ctx)),
        Dialect::OpenAiChat => Box::new(openai::StreamEncoder::new(ctx)),
        Dialect::Responses => Box::new(responses::StreamEncoder::new(ctx)),
    }
}

/// Why a stream could not be translated.
#[derive(Debug, thiserror::Error)]
pub enum StreamError {
    /// The bytes were not valid SSE.
    #[error(transparent)]
    Sse(#[from] SseError),
    /// The events were not a valid stream of the source dialect.
    #[error(transparent)]
    Decode(#[from] DecodeError),
}

/// Incremental stream translation: upstream bytes of one dialect in, client bytes of another out.
///
/// Each [`push`](Self::push) emits every event the bytes complete, so nothing waits for the end of the
/// answer. The canonical events are also handed back, for the caller's own bookkeeping (usage, stop
/// reason, verification).
pub struct StreamTranslator {
    sse: SseDecoder,
    decoder: Box<dyn StreamDecode + Send>,
    encoder: Box<dyn StreamEncode + Send>,
    sse_events: Vec<SseEvent>,
    canonical: Vec<StreamEvent>,
    out_events: Vec<SseEvent>,
}

impl StreamTranslator {
    /// A translator from the `from` dialect's stream to the `to` dialect's.
    pub fn new(from: Dialect, to: Dialect, ctx: EncodeContext) -> Self {
        Self {
            sse: SseDecoder::new(),
            decoder: stream_decoder(from),
            encoder: stream_encoder(to, ctx),
            sse_events: Vec::new(),
            canonical: Vec::new(),
            out_events: Vec::new(),
        }
    }

    /// Feeds upstream bytes; appends the translated bytes to `out` and returns the canonical events
    /// these bytes completed.
    pub fn push(&mut self, bytes: &[u8], out: &mut Vec<u8>) -> Result<&[StreamEvent], StreamError> {
        self.sse_events.clear();
        self.sse.push(bytes, &mut self.sse_events)?;
        self.run(out)
    }

    /// The upstream body ended; appends the final translated bytes.
    pub fn finish(&mut self, out: &mut Vec<u8>) -> Result<&[StreamEvent], StreamError> {
        self.sse_events.clear();
        self.sse.finish(&mut self.sse_events);
        self.canonical.clear();
        for event in &self.sse_events {
            self.decoder.decode(event, &mut self.canonical)?;
        }
        self.decoder.finish(&mut self.canonical)?;
        self.encode(out);
        Ok(&self.canonical)
    }

    /// The upstream failed mid-stream: appends the client dialect's in-stream error (after closing
    /// whatever the encoder has open), so the client sees a failure rather than a truncated answer.
    pub fn fail(&mut self, kind: &str, message: &str, out: &mut Vec<u8>) {
        self.canonical.clear();
        self.canonical.push(StreamEvent::Error {
            kind: kind.to_owned(),
            message: message.to_owned(),
        });
        self.encode(out);
    }

    /// What the translation has dropped or approximated so far: the decoder's notes (paths in the
    /// source dialect), then the encoder's (paths in the canonical content, `content[2].signature`).
    pub fn notes(&self) -> LossyNotes {
        let mut notes = self.decoder.notes().to_vec();
        notes.extend_from_slice(self.encoder.notes());
        notes
    }

    fn run(&mut self, out: &mut Vec<u8>) -> Result<&[StreamEvent], StreamError> {
        self.canonical.clear();
        for event in &self.sse_events {
            self.decoder.decode(event, &mut self.canonical)?;
        }
        self.encode(out);
        Ok(&self.canonical)
    }

    fn encode(&mut self, out: &mut Vec<u8>) {
        self.out_events.clear();
        for event in &self.canonical {
            self.encoder.encode(event, &mut self.out_events);
        }
        for event in &self.out_events {
            crate::sse::encode_event(event, out);
        }
    }
}
