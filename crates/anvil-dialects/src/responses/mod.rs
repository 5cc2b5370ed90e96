//! The OpenAI Responses API (`POST /v1/responses`), the only wire current Codex speaks.
//!
//! * [`wire`]: typed request, response and stream-event models that keep every unknown field and
//!   item/part/tool/event `type`, so a request re-encodes to an equal JSON value.
//! * [`convert`]: requests and responses to and from [`crate::canonical`], with lossy notes.
//! * [`stream`]: [`StreamDecoder`] (Responses SSE events → canonical stream events) and
//!   [`StreamEncoder`] (canonical → Responses SSE events the openai SDKs and Codex accept).
//!
//! # Mapping decisions
//!
//! * **System prompt.** `instructions` and the run of `developer`/`system` message items at the start
//!   of `input` whose content is plain text become canonical `system` parts (instructions first, then
//!   one part per text part). Back from canonical, the system parts become one leading `developer`
//!   message with one `input_text` part per system part — the form Codex sends; every text and its
//!   order survive, the grouping of the original leading messages does not. Developer/system items
//!   after the first non-system item stay in `messages` with [`crate::canonical::Role::Developer`] /
//!   `System`.
//! * **Items to turns.** `function_call` and `reasoning` items join the preceding assistant turn (or
//!   open one); `function_call_output` items become `ToolResult` parts of a user turn, and a user
//!   message right after tool outputs joins that turn (the Anthropic shape). Back from canonical,
//!   each turn is split again into message, `function_call`, `function_call_output` and `reasoning`
//!   items in order.
//! * **Item ids and statuses** of input items (`msg_…`, `fc_…`, `rs_…`, `status`) have no canonical
//!   slot: they are dropped with a lossy note each. The API accepts input items without them (Codex
//!   itself sends `store: false` history); the canonical `ToolUse.id` is the `call_id`.
//! * **Reasoning.** A reasoning item becomes one `Thinking` part whose text is the summary parts
//!   joined by a blank line (or the raw `content` text when there is no summary) and whose signature
//!   is `Signature { dialect: Responses, value: encrypted_content }`. Back from canonical, only
//!   thinking signed by the Responses dialect becomes a reasoning item; other thinking cannot be
//!   replayed to OpenAI and is dropped with a note.
//! * **Reasoning config.** `reasoning.effort` is the canonical `reasoning_effort`; a `reasoning`
//!   object sets `thinking` to `Adaptive` (or `Disabled` for effort `none`). Back from canonical,
//!   enabled thinking yields `reasoning.summary: "auto"`, `store: false` and
//!   `include: ["reasoning.encrypted_content"]` so that reasoning can be streamed and replayed, and a
//!   budget without an effort is approximated to an effort level.
//! * **Tools.** `function` tools are canonical functions. `namespace` tools (whose functions are
//!   callable by the model), `web_search`, `file_search`, `custom` and every other type become
//!   [`crate::canonical::Tool::Native`] with the definition verbatim: a Responses upstream receives
//!   them exactly, any other target reports them as lossy. Canonical functions go out with an explicit
//!   `strict: false` unless strict was asked for, because Responses otherwise forces strict schemas.
//! * **Not translated.** `custom_tool_call` / `local_shell_call` / `web_search_call` / `item_reference`
//!   items survive re-encoding but have no canonical form (dropped with a note); their stream events
//!   produce no canonical block.

pub mod convert;
pub mod stream;
pub mod wire;

pub use convert::{
    request_from_canonical, request_into_canonical, request_to_canonical, response_from_canonical,
    response_to_canonical,
};
pub use stream::{StreamDecoder, StreamEncoder};
pub use wire::{Request, Response};

use serde_json::Value;

/// Parses a request body.
pub fn parse_request(body: &[u8]) -> Result<Request, serde_json::Error> {
    crate::from_body(body)
}

/// Parses a complete (non-streamed) response body.
pub fn parse_response(body: &[u8]) -> Result<Response, serde_json::Error> {
    crate::from_body(body)
}

impl Request {
    /// The request as JSON.
    pub fn to_json(&self) -> Value {
        serde_json::to_value(self).unwrap_or(Value::Null)
    }
}

impl Response {
    /// The response as JSON.
    pub fn to_json(&self) -> Value {
        serde_json::to_value(self).unwrap_or(Value::Null)
    }
}
