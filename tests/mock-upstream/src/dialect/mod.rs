//! The three wire dialects: request reading, JSON answers, SSE event sequences, error bodies.

mod anthropic;
mod chat;
mod responses;

use bytes::Bytes;
use serde_json::Value;

use crate::plan::{Inbound, Plan};

/// A fixed creation timestamp (2026-01-01T00:00:00Z): the mock is deterministic.
pub(crate) const CREATED: u64 = 1_767_225_600;
/// The signature of every mock thinking block.
pub(crate) const SIGNATURE: &str = "bW9jay1zaWduYXR1cmU=";

/// One SSE event ready to be written as its own body frame.
#[derive(Debug, Clone)]
pub(crate) struct Ev {
    pub bytes: Bytes,
    /// Carries answer content (a text, reasoning or tool-argument delta).
    pub content: bool,
}

/// Formats one SSE event, with an `event:` line when `event` is given.
pub(crate) fn sse(event: Option<&str>, data: &Value) -> Bytes {
    let mut s = String::new();
    if let Some(event) = event {
        s.push_str("event: ");
        s.push_str(event);
        s.push('\n');
    }
    s.push_str("data: ");
    s.push_str(&data.to_string());
    s.push_str("\n\n");
    Bytes::from(s)
}

/// A wire dialect served by the mock.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Dialect {
    Anthropic,
    Chat,
    Responses,
}

impl Dialect {
    /// Reads what the mock needs from a request body.
    pub(crate) fn inbound(self, body: &Value) -> Inbound {
        let mut inbound = match self {
            Dialect::Anthropic => anthropic::inbound(body),
            Dialect::Chat => chat::inbound(body),
            Dialect::Responses => responses::inbound(body),
        };
        inbound.model = body
            .get("model")
            .and_then(Value::as_str)
            .unwrap_or("mock-model")
            .to_owned();
        inbound.stream = body.get("stream").and_then(Value::as_bool).unwrap_or(false);
        inbound
    }

    /// The complete (non-streamed) answer.
    pub(crate) fn json(self, plan: &Plan, body: &Value) -> Value {
        match self {
            Dialect::Anthropic => anthropic::json(plan),
            Dialect::Chat => chat::json(plan),
            Dialect::Responses => responses::json(plan, body),
        }
    }

    /// Every event of the streamed answer, in order.
    pub(crate) fn events(self, plan: &Plan, body: &Value) -> Vec<Ev> {
        match self {
            Dialect::Anthropic => anthropic::events(plan),
            Dialect::Chat => chat::events(plan, body),
            Dialect::Responses => responses::events(plan, body),
        }
    }

    /// The in-stream error that ends a `MOCK:midstream-error` stream; `sent` events were sent
    /// before it.
    pub(crate) fn midstream_error(self, plan: &Plan, body: &Value, sent: usize) -> Vec<Bytes> {
        match self {
            Dialect::Anthropic => anthropic::midstream_error(),
            Dialect::Chat => chat::midstream_error(),
            Dialect::Responses => responses::midstream_error(plan, body, sent),
        }
    }

    /// The error body for an HTTP error `status`.
    pub(crate) fn error_body(self, status: u16, message: &str, seq: u64) -> Value {
        match self {
            Dialect::Anthropic => anthropic::error_body(status, message, seq),
            Dialect::Chat | Dialect::Responses => openai_error_body(status, message),
        }
    }
}

/// The OpenAI error envelope (Chat Completions and Responses share it).
pub(crate) fn openai_error_body(status: u16, message: &str) -> Value {
    let (kind, code) = match status {
        400 => ("invalid_request_error", Value::Null),
        401 => ("invalid_request_error", Value::from("invalid_api_key")),
        403 => ("permission_denied", Value::Null),
        404 => ("invalid_request_error", Value::from("model_not_found")),
        429 => ("requests", Value::from("rate_limit_exceeded")),
        500..=599 => ("server_error", Value::Null),
        _ => ("invalid_request_error", Value::Null),
    };
    serde_json::json!({
        "error": {"message": message, "type": kind, "param": Value::Null, "code": code}
    })
}
