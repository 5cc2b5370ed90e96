//! The canonical model: one request, response and stream-event vocabulary that every dialect
//! translates into and out of.
//!
//! Translation between two dialects is always `source → canonical → target`. The canonical model is
//! deliberately close to Anthropic Messages (content blocks, tool results inside user turns, one open
//! block at a time in streams) because that is the richest of the three wires; OpenAI shapes map onto
//! it without loss for everything coding harnesses use.
//!
//! Whatever a source field cannot express in the canonical model, or the canonical model cannot express
//! in the target, is reported as a [`Lossy`] note by the conversion that drops it — never silently.

use serde::Serialize;
use serde_json::Value;

use crate::Dialect;

/// A request in canonical form.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Request {
    /// The `model` string as the client sent it.
    pub model: String,
    /// Top-level system prompt parts (Anthropic `system`, OpenAI leading system/developer messages,
    /// Responses `instructions`).
    pub system: Vec<SystemPart>,
    /// The conversation, in order. System or developer turns in the middle of the conversation stay here
    /// with [`Role::System`] / [`Role::Developer`].
    pub messages: Vec<Message>,
    /// Tools offered to the model.
    pub tools: Vec<Tool>,
    /// How the model may use the tools.
    pub tool_choice: Option<ToolChoice>,
    /// Whether several tool calls may be made in one turn (`parallel_tool_calls`, or the negation of
    /// Anthropic's `tool_choice.disable_parallel_tool_use`).
    pub parallel_tool_calls: Option<bool>,
    /// Maximum output tokens (`max_tokens`, `max_completion_tokens`, `max_output_tokens`).
    pub max_tokens: Option<u64>,
    /// Sampling temperature.
    pub temperature: Option<f64>,
    /// Nucleus sampling.
    pub top_p: Option<f64>,
    /// Top-k sampling (Anthropic only).
    pub top_k: Option<u64>,
    /// Stop sequences.
    pub stop: Vec<String>,
    /// Whether the client asked for a stream.
    pub stream: bool,
    /// Extended thinking / reasoning configuration.
    pub thinking: Option<ThinkingConfig>,
    /// Reasoning effort (`output_config.effort`, `reasoning_effort`, `reasoning.effort`).
    pub reasoning_effort: Option<String>,
    /// Structured output request.
    pub response_format: Option<ResponseFormat>,
    /// An end-user identifier (`metadata.user_id`, `user`, `safety_identifier`).
    pub user: Option<String>,
}

/// A part of the top-level system prompt.
#[derive(Debug, Clone, PartialEq)]
pub struct SystemPart {
    /// The text.
    pub text: String,
    /// Anthropic prompt-caching marker, kept verbatim.
    pub cache_control: Option<Value>,
}

/// Who wrote a message.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    /// A system turn inside the conversation.
    System,
    /// An OpenAI developer turn inside the conversation.
    Developer,
    /// The human, or tool results returned to the model.
    User,
    /// The model.
    Assistant,
}

/// One turn of the conversation.
#[derive(Debug, Clone, PartialEq)]
pub struct Message {
    /// Author.
    pub role: Role,
    /// Content parts, in order.
    pub content: Vec<Part>,
}

/// A content part.
#[derive(Debug, Clone, PartialEq)]
pub enum Part {
    /// Plain text.
    Text {
        /// The text.
        text: String,
        /// Anthropic prompt-caching marker, kept verbatim.
        cache_control: Option<Value>,
    },
    /// An image.
    Image {
        /// Where the image bytes are.
        source: MediaSource,
        /// OpenAI `detail` (`auto`, `low`, `high`).
        detail: Option<String>,
        /// Anthropic prompt-caching marker, kept verbatim.
        cache_control: Option<Value>,
    },
    /// A document (PDF, plain text) or file.
    Document {
        /// Where the document is.
        source: MediaSource,
        /// A file name or title.
        title: Option<String>,
        /// Anthropic prompt-caching marker, kept verbatim.
        cache_control: Option<Value>,
    },
    /// A tool call made by the assistant.
    ToolUse {
        /// The call id (`toolu_…`, `call_…`).
        id: String,
        /// Tool name.
        name: String,
        /// The arguments as JSON text, byte for byte as the model produced them (OpenAI sends a string;
        /// an Anthropic `input` object is serialized compactly).
        arguments: String,
        /// Anthropic prompt-caching marker, kept verbatim.
        cache_control: Option<Value>,
    },
    /// The result of a tool call, returned by the client.
    ToolResult {
        /// The id of the call this answers.
        tool_use_id: String,
        /// The result.
        content: ToolResultContent,
        /// Whether the tool failed.
        is_error: bool,
        /// Anthropic prompt-caching marker, kept verbatim.
        cache_control: Option<Value>,
    },
    /// Model reasoning.
    Thinking {
        /// Reasoning text (or summary).
        text: String,
        /// Opaque provider signature that lets the provider verify the reasoning on a later turn.
        signature: Option<Signature>,
    },
    /// Reasoning the provider returned encrypted.
    RedactedThinking {
        /// Opaque data.
        data: String,
        /// The dialect that produced the data (only that dialect can use it).
        dialect: Dialect,
    },
}

/// An opaque provider-specific blob, tagged with the dialect that produced it: a signature is only
/// ever sent back to an upstream of the same dialect.
#[derive(Debug, Clone, PartialEq)]
pub struct Signature {
    /// Producer.
    pub dialect: Dialect,
    /// The blob (Anthropic thinking `signature`, Responses reasoning `encrypted_content`).
    pub value: String,
}

/// The content of a tool result.
#[derive(Debug, Clone, PartialEq)]
pub enum ToolResultContent {
    /// A plain string.
    Text(String),
    /// Blocks (text, images, documents).
    Parts(Vec<Part>),
}

/// Where media bytes come from.
#[derive(Debug, Clone, PartialEq)]
pub enum MediaSource {
    /// Inline base64 data.
    Base64 {
        /// MIME type (`image/png`, `application/pdf`).
        media_type: String,
        /// Base64 payload, without a `data:` prefix.
        data: String,
    },
    /// A URL.
    Url(String),
    /// Inline plain text (Anthropic text documents).
    Text(String),
    /// A provider file id.
    FileId(String),
}

/// A tool offered to the model.
#[derive(Debug, Clone, PartialEq)]
pub enum Tool {
    /// A function the client executes.
    Function(FunctionTool),
    /// A tool the provider executes or that only one dialect knows (web search, namespaces, computer
    /// use …), kept verbatim; only an upstream of the same dialect can receive it.
    Native {
        /// The dialect of `raw`.
        dialect: Dialect,
        /// The tool definition exactly as received.
        raw: Value,
    },
}

/// A function tool.
#[derive(Debug, Clone, PartialEq)]
pub struct FunctionTool {
    /// Name.
    pub name: String,
    /// Description.
    pub description: Option<String>,
    /// JSON schema of the arguments (kept verbatim, `$schema` included).
    pub parameters: Value,
    /// OpenAI strict mode.
    pub strict: Option<bool>,
    /// Anthropic prompt-caching marker, kept verbatim.
    pub cache_control: Option<Value>,
}

/// How the model may use tools.
#[derive(Debug, Clone, PartialEq)]
pub enum ToolChoice {
    /// The model decides.
    Auto,
    /// No tool calls.
    None,
    /// At least one tool call (`any` / `required`).
    Required,
    /// This tool must be called.
    Tool(String),
}

/// Extended thinking configuration.
#[derive(Debug, Clone, PartialEq)]
pub enum ThinkingConfig {
    /// Thinking on, with a token budget.
    Enabled {
        /// Budget in tokens.
        budget_tokens: Option<u64>,
    },
    /// The model decides how much to think.
    Adaptive,
    /// Thinking off.
    Disabled,
}

/// Structured-output request.
#[derive(Debug, Clone, PartialEq)]
pub enum ResponseFormat {
    /// Plain text.
    Text,
    /// Any JSON object.
    JsonObject,
    /// JSON matching a schema.
    JsonSchema {
        /// Schema name (OpenAI requires one).
        name: Option<String>,
        /// The schema.
        schema: Value,
        /// OpenAI strict mode.
        strict: Option<bool>,
    },
}

/// A complete (non-streamed) response.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Response {
    /// Response id as the upstream gave it.
    pub id: String,
    /// Model that answered.
    pub model: String,
    /// Output parts: text, thinking and tool calls, in order.
    pub content: Vec<Part>,
    /// Why generation stopped.
    pub stop_reason: Option<StopReason>,
    /// The stop sequence that matched, if any.
    pub stop_sequence: Option<String>,
    /// Token usage as the upstream reported it.
    pub usage: Usage,
}

/// Why generation stopped.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum StopReason {
    /// Natural end (`end_turn`, `stop`).
    EndTurn,
    /// Output token limit (`max_tokens`, `length`, Responses `incomplete`/`max_output_tokens`).
    MaxTokens,
    /// A stop sequence matched.
    StopSequence,
    /// The model called tools (`tool_use`, `tool_calls`).
    ToolUse,
    /// The provider paused a long turn.
    PauseTurn,
    /// The model refused.
    Refusal,
    /// Content filter.
    ContentFilter,
    /// Anything else, verbatim.
    Other(String),
}

/// Token usage. Numbers are the upstream's own, never estimates.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize)]
pub struct Usage {
    /// Prompt tokens, excluding cache reads/writes when the provider separates them (Anthropic does;
    /// OpenAI `prompt_tokens` includes cached tokens, which the OpenAI decoders subtract).
    pub input_tokens: u64,
    /// Completion tokens (including reasoning tokens).
    pub output_tokens: u64,
    /// Prompt tokens read from cache.
    pub cache_read_input_tokens: Option<u64>,
    /// Prompt tokens written to cache.
    pub cache_creation_input_tokens: Option<u64>,
    /// Reasoning tokens within `output_tokens`.
    pub reasoning_tokens: Option<u64>,
}

/// One event of a canonical response stream.
///
/// A valid stream is: `Start`, then any number of blocks (each `BlockStart`, `Delta`*, `BlockStop`, with
/// indices 0, 1, 2 … and **at most one block open at a time**), then `Finish`, then `End`. `Ping` may
/// appear anywhere; `Error` ends the stream.
#[derive(Debug, Clone, PartialEq)]
pub enum StreamEvent {
    /// The response begins.
    Start {
        /// Response id.
        id: String,
        /// Model.
        model: String,
        /// Usage known at the start (Anthropic reports input tokens here).
        usage: Option<Usage>,
    },
    /// A content block opens.
    BlockStart {
        /// Block index, from 0, in order.
        index: usize,
        /// What kind of block.
        block: BlockStart,
    },
    /// A piece of the open block.
    Delta {
        /// Index of the open block.
        index: usize,
        /// The piece.
        delta: Delta,
    },
    /// The open block is complete.
    BlockStop {
        /// Its index.
        index: usize,
    },
    /// Generation finished.
    Finish {
        /// Why.
        stop_reason: Option<StopReason>,
        /// The stop sequence that matched.
        stop_sequence: Option<String>,
        /// Final usage (merged: input tokens from the start, output tokens from the end).
        usage: Option<Usage>,
    },
    /// The stream is complete.
    End,
    /// A keep-alive with no content.
    Ping,
    /// The upstream reported an error mid-stream.
    Error {
        /// Error type in the source dialect's vocabulary (`overloaded_error`, `server_error` …).
        kind: String,
        /// Message.
        message: String,
    },
}

/// The kind of a block opening in a stream.
#[derive(Debug, Clone, PartialEq)]
pub enum BlockStart {
    /// Text.
    Text,
    /// Reasoning.
    Thinking,
    /// Encrypted reasoning, complete in the start event.
    RedactedThinking {
        /// Opaque data.
        data: String,
        /// Producer.
        dialect: Dialect,
    },
    /// A tool call; its arguments follow as [`Delta::ToolArguments`].
    ToolUse {
        /// Call id.
        id: String,
        /// Tool name.
        name: String,
    },
}

/// A piece of a streamed block.
#[derive(Debug, Clone, PartialEq)]
pub enum Delta {
    /// Text.
    Text(String),
    /// Reasoning text.
    Thinking(String),
    /// The reasoning block's signature (arrives once, at the end of the block).
    Signature(Signature),
    /// A fragment of a tool call's JSON arguments; the concatenation of all fragments is the arguments
    /// text byte for byte.
    ToolArguments(String),
}

/// A note that something could not be carried across a translation.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Lossy {
    /// Dotted path of the field in the side that had it (`context_management`,
    /// `messages[3].content[0].cache_control`, `tools[9]`).
    pub path: String,
    /// What happened to it.
    pub kind: LossKind,
}

/// What happened to a field that did not survive a translation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum LossKind {
    /// The target has no counterpart; the field was dropped.
    Dropped,
    /// The target has a near counterpart; the value was approximated (for example a `$schema` key, a
    /// thinking budget mapped to an effort level, a signature from another vendor).
    Approximated,
}

impl Lossy {
    /// A dropped field.
    pub fn dropped(path: impl Into<String>) -> Self {
        Self {
            path: path.into(),
            kind: LossKind::Dropped,
        }
    }

    /// An approximated field.
    pub fn approximated(path: impl Into<String>) -> Self {
        Self {
            path: path.into(),
            kind: LossKind::Approximated,
        }
    }
}

/// Collects lossy notes during a conversion.
pub type LossyNotes = Vec<Lossy>;

/// Lossy notes collected over the life of a stream decoder or encoder: each distinct path once, in
/// the order first seen, so a long stream of the same dropped delta gives one note.
#[derive(Debug, Clone, Default, PartialEq)]
pub(crate) struct NoteSet {
    notes: Vec<Lossy>,
}

impl NoteSet {
    /// Records `note` unless a note with the same path is already recorded.
    pub(crate) fn push(&mut self, note: Lossy) {
        if !self.notes.iter().any(|n| n.path == note.path) {
            self.notes.push(note);
        }
    }

    /// Records a dropped field.
    pub(crate) fn dropped(&mut self, path: impl Into<String>) {
        self.push(Lossy::dropped(path));
    }

    /// Records an approximated field.
    pub(crate) fn approximated(&mut self, path: impl Into<String>) {
        self.push(Lossy::approximated(path));
    }

    /// Records every key of `extra` whose value carries something (not `null`, `[]` or `{}`) as
    /// dropped, under `prefix` (`""` for top-level keys).
    pub(crate) fn dropped_extra(&mut self, prefix: &str, extra: &serde_json::Map<String, Value>) {
        for (key, value) in extra {
            if carries(value) {
                self.dropped(if prefix.is_empty() {
                    key.clone()
                } else {
                    format!("{prefix}.{key}")
                });
            }
        }
    }

    /// The notes so far.
    pub(crate) fn as_slice(&self) -> &[Lossy] {
        &self.notes
    }
}

/// Whether a JSON value carries information (it is not `null`, `[]` or `{}`).
pub(crate) fn carries(value: &Value) -> bool {
    match value {
        Value::Null => false,
        Value::Array(a) => !a.is_empty(),
        Value::Object(m) => !m.is_empty(),
        _ => true,
    }
}

#[cfg(test)]
mod note_set_tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn each_path_once_in_first_seen_order() {
        let mut set = NoteSet::default();
        set.dropped("delta.citations_delta");
        set.approximated("stop_reason");
        set.dropped("delta.citations_delta");
        set.approximated("delta.citations_delta");
        let extra = json!({"a": null, "b": [], "c": {}, "d": 0, "e": [1]});
        let extra = extra.as_object().unwrap();
        set.dropped_extra("usage", extra);
        set.dropped_extra("", extra);
        assert_eq!(
            set.as_slice(),
            [
                Lossy::dropped("delta.citations_delta"),
                Lossy::approximated("stop_reason"),
                Lossy::dropped("usage.d"),
                Lossy::dropped("usage.e"),
                Lossy::dropped("d"),
                Lossy::dropped("e"),
            ]
        );
    }
}

/// Builds the complete [`Response`] a canonical stream describes, event by event: what a verifier
/// needs from an answer that is still streaming.
///
/// ```
/// use anvil_dialects::canonical::{BlockStart, Delta, Part, ResponseAccumulator, StopReason};
/// use anvil_dialects::StreamEvent;
///
/// let mut acc = ResponseAccumulator::default();
/// for event in [
///     StreamEvent::Start { id: "msg_1".into(), model: "m".into(), usage: None },
///     StreamEvent::BlockStart { index: 0, block: BlockStart::Text },
///     StreamEvent::Delta { index: 0, delta: Delta::Text("Hel".into()) },
///     StreamEvent::Delta { index: 0, delta: Delta::Text("lo".into()) },
///     StreamEvent::BlockStop { index: 0 },
///     StreamEvent::Finish { stop_reason: Some(StopReason::EndTurn), stop_sequence: None, usage: None },
///     StreamEvent::End,
/// ] {
///     acc.push(&event);
/// }
/// assert!(acc.is_complete());
/// let response = acc.finish();
/// assert_eq!(response.content, vec![Part::Text { text: "Hello".into(), cache_control: None }]);
/// assert_eq!(response.stop_reason, Some(StopReason::EndTurn));
/// ```
#[derive(Debug, Clone, Default)]
pub struct ResponseAccumulator {
    response: Response,
    finished: bool,
    error: Option<(String, String)>,
}

impl ResponseAccumulator {
    /// Folds one event into the response.
    pub fn push(&mut self, event: &StreamEvent) {
        let r = &mut self.response;
        match event {
            StreamEvent::Start { id, model, usage } => {
                r.id.clone_from(id);
                r.model.clone_from(model);
                if let Some(u) = usage {
                    r.usage = *u;
                }
            }
            StreamEvent::BlockStart { block, .. } => r.content.push(match block {
                BlockStart::Text => Part::Text {
                    text: String::new(),
                    cache_control: None,
                },
                BlockStart::Thinking => Part::Thinking {
                    text: String::new(),
                    signature: None,
                },
                BlockStart::RedactedThinking { data, dialect } => Part::RedactedThinking {
                    data: data.clone(),
                    dialect: *dialect,
                },
                BlockStart::ToolUse { id, name } => Part::ToolUse {
                    id: id.clone(),
                    name: name.clone(),
                    arguments: String::new(),
                    cache_control: None,
                },
            }),
            StreamEvent::Delta { delta, .. } => match (r.content.last_mut(), delta) {
                (Some(Part::Text { text, .. }), Delta::Text(piece))
                | (Some(Part::Thinking { text, .. }), Delta::Thinking(piece))
                | (
                    Some(Part::ToolUse {
                        arguments: text, ..
                    }),
                    Delta::ToolArguments(piece),
                ) => text.push_str(piece),
                (Some(Part::Thinking { signature, .. }), Delta::Signature(s)) => {
                    *signature = Some(s.clone());
                }
                // A delta that does not match the open block (a malformed stream): kept as
                // text so a verifier still sees it.
                (_, Delta::Text(piece)) => r.content.push(Part::Text {
                    text: piece.clone(),
                    cache_control: None,
                }),
                _ => {}
            },
            StreamEvent::Finish {
                stop_reason,
                stop_sequence,
                usage,
            } => {
                r.stop_reason.clone_from(stop_reason);
                r.stop_sequence.clone_from(stop_sequence);
                if let Some(u) = usage {
                    r.usage = *u;
                }
                self.finished = true;
            }
            StreamEvent::End => self.finished = true,
            StreamEvent::Error { kind, message } => {
                self.error = Some((kind.clone(), message.clone()));
            }
            StreamEvent::BlockStop { .. } | StreamEvent::Ping => {}
        }
    }

    /// Whether the stream finished normally (a `Finish` or `End` event, and no error).
    pub fn is_complete(&self) -> bool {
        self.finished && self.error.is_none()
    }

    /// The error the stream reported, as (kind, message).
    pub fn error(&self) -> Option<(&str, &str)> {
        self.error.as_ref().map(|(k, m)| (k.as_str(), m.as_str()))
    }

    /// The response so far.
    pub fn response(&self) -> &Response {
        &self.response
    }

    /// The response.
    pub fn finish(self) -> Response {
        self.response
    }
}
