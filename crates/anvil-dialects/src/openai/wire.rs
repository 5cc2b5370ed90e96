//! Typed wire models of OpenAI Chat Completions: the request, the complete response and the stream
//! chunk. Every struct keeps the keys it does not know in `extra`, every `type`-tagged enum keeps an
//! unknown `type` verbatim in `Other`, and [`Nullable`] keeps absent keys and explicit `null`s apart,
//! so a decoded body re-encodes to an equal JSON value.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Number, Value};

use super::nullable::{tagged_enum_serde, Nullable};

/// Unknown keys of a wire object.
pub type Extra = Map<String, Value>;

/// A `POST /v1/chat/completions` request body.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct Request {
    /// Model name.
    #[serde(default, skip_serializing_if = "Nullable::is_absent")]
    pub model: Nullable<String>,
    /// The conversation.
    pub messages: Vec<Message>,
    /// Tools offered to the model.
    #[serde(default, skip_serializing_if = "Nullable::is_absent")]
    pub tools: Nullable<Vec<Tool>>,
    /// How the model may use the tools.
    #[serde(default, skip_serializing_if = "Nullable::is_absent")]
    pub tool_choice: Nullable<ToolChoice>,
    /// Whether several tool calls may be made in one turn.
    #[serde(default, skip_serializing_if = "Nullable::is_absent")]
    pub parallel_tool_calls: Nullable<bool>,
    /// Legacy function definitions (before `tools`).
    #[serde(default, skip_serializing_if = "Nullable::is_absent")]
    pub functions: Nullable<Vec<FunctionDef>>,
    /// Legacy function choice: `"none"`, `"auto"` or `{"name": …}`.
    #[serde(default, skip_serializing_if = "Nullable::is_absent")]
    pub function_call: Nullable<Value>,
    /// Maximum output tokens (older name, still accepted by most compatible servers).
    #[serde(default, skip_serializing_if = "Nullable::is_absent")]
    pub max_tokens: Nullable<u64>,
    /// Maximum output tokens including reasoning (current name, required by reasoning models).
    #[serde(default, skip_serializing_if = "Nullable::is_absent")]
    pub max_completion_tokens: Nullable<u64>,
    /// Sampling temperature, as the number the client wrote (`0` stays an integer).
    #[serde(default, skip_serializing_if = "Nullable::is_absent")]
    pub temperature: Nullable<Number>,
    /// Nucleus sampling.
    #[serde(default, skip_serializing_if = "Nullable::is_absent")]
    pub top_p: Nullable<Number>,
    /// Stop sequences.
    #[serde(default, skip_serializing_if = "Nullable::is_absent")]
    pub stop: Nullable<Stop>,
    /// Whether to stream.
    #[serde(default, skip_serializing_if = "Nullable::is_absent")]
    pub stream: Nullable<bool>,
    /// Stream options.
    #[serde(default, skip_serializing_if = "Nullable::is_absent")]
    pub stream_options: Nullable<StreamOptions>,
    /// Structured output.
    #[serde(default, skip_serializing_if = "Nullable::is_absent")]
    pub response_format: Nullable<ResponseFormat>,
    /// Reasoning effort (`minimal`, `low`, `medium`, `high` …).
    #[serde(default, skip_serializing_if = "Nullable::is_absent")]
    pub reasoning_effort: Nullable<String>,
    /// End-user identifier.
    #[serde(default, skip_serializing_if = "Nullable::is_absent")]
    pub user: Nullable<String>,
    /// Everything else (`seed`, `n`, `logprobs`, `metadata`, `store` …).
    #[serde(flatten)]
    pub extra: Extra,
}

impl Request {
    /// The request as JSON.
    pub fn to_json(&self) -> Value {
        serde_json::to_value(self).unwrap_or(Value::Null)
    }

    /// Moves `max_completion_tokens` to the older `max_tokens` key, for compatible servers that only
    /// know that one (the conversion from canonical emits `max_completion_tokens`).
    pub fn use_legacy_max_tokens(&mut self) {
        if let Nullable::Value(limit) = std::mem::take(&mut self.max_completion_tokens) {
            self.max_tokens = Nullable::Value(limit);
        }
    }
}

/// `stop`: one string or several.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum Stop {
    /// One stop sequence.
    One(String),
    /// Several stop sequences.
    Many(Vec<String>),
}

/// `stream_options`.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct StreamOptions {
    /// Whether a final chunk with usage (and `choices: []`) is sent.
    #[serde(default, skip_serializing_if = "Nullable::is_absent")]
    pub include_usage: Nullable<bool>,
    /// Unknown keys.
    #[serde(flatten)]
    pub extra: Extra,
}

/// The role of a message. Unknown roles are kept verbatim.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Role {
    /// `system`.
    System,
    /// `developer`.
    Developer,
    /// `user`.
    User,
    /// `assistant`.
    Assistant,
    /// `tool`.
    Tool,
    /// Legacy `function` result.
    Function,
    /// Anything else.
    Other(String),
}

impl Role {
    /// The wire string.
    pub fn as_str(&self) -> &str {
        match self {
            Role::System => "system",
            Role::Developer => "developer",
            Role::User => "user",
            Role::Assistant => "assistant",
            Role::Tool => "tool",
            Role::Function => "function",
            Role::Other(other) => other,
        }
    }

    fn parse(s: String) -> Self {
        match s.as_str() {
            "system" => Role::System,
            "developer" => Role::Developer,
            "user" => Role::User,
            "assistant" => Role::Assistant,
            "tool" => Role::Tool,
            "function" => Role::Function,
            _ => Role::Other(s),
        }
    }
}

impl Serialize for Role {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.as_str())
    }
}

impl<'de> Deserialize<'de> for Role {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        Ok(Role::parse(String::deserialize(deserializer)?))
    }
}

/// One message of any role (request history, or the assistant message of a response).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Message {
    /// Author.
    pub role: Role,
    /// Text or parts; `null` on an assistant message that only calls tools.
    #[serde(default, skip_serializing_if = "Nullable::is_absent")]
    pub content: Nullable<Content>,
    /// Participant name (system/user/assistant), or the function name of a legacy `function` message.
    #[serde(default, skip_serializing_if = "Nullable::is_absent")]
    pub name: Nullable<String>,
    /// Reasoning text of an assistant message (DeepSeek, vLLM, llama.cpp and most compatible servers).
    #[serde(default, skip_serializing_if = "Nullable::is_absent")]
    pub reasoning_content: Nullable<String>,
    /// Reasoning text under the other common name (OpenRouter, Ollama, newer vLLM).
    #[serde(default, skip_serializing_if = "Nullable::is_absent")]
    pub reasoning: Nullable<String>,
    /// A refusal by the model.
    #[serde(default, skip_serializing_if = "Nullable::is_absent")]
    pub refusal: Nullable<String>,
    /// Tool calls made by the assistant.
    #[serde(default, skip_serializing_if = "Nullable::is_absent")]
    pub tool_calls: Nullable<Vec<ToolCall>>,
    /// Legacy function call made by the assistant.
    #[serde(default, skip_serializing_if = "Nullable::is_absent")]
    pub function_call: Nullable<FunctionCall>,
    /// The call a `tool` message answers.
    #[serde(default, skip_serializing_if = "Nullable::is_absent")]
    pub tool_call_id: Nullable<String>,
    /// Unknown keys (`audio`, `annotations`, `cache_control` …).
    #[serde(flatten)]
    pub extra: Extra,
}

impl Message {
    /// A message with only a role.
    pub fn new(role: Role) -> Self {
        Self {
            role,
            content: Nullable::Absent,
            name: Nullable::Absent,
            reasoning_content: Nullable::Absent,
            reasoning: Nullable::Absent,
            refusal: Nullable::Absent,
            tool_calls: Nullable::Absent,
            function_call: Nullable::Absent,
            tool_call_id: Nullable::Absent,
            extra: Extra::new(),
        }
    }
}

/// Message content: a string or an array of parts.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(untagged)]
pub enum Content {
    /// Plain text.
    Text(String),
    /// Parts.
    Parts(Vec<ContentPart>),
}

// Not `untagged`: a malformed part should report its own error, not "did not match any variant".
crate::nullable::string_or_seq_impl!(
    Content,
    Text,
    Parts,
    "content as a string or an array of parts"
);

/// A content part, tagged by `type`.
#[derive(Debug, Clone, PartialEq)]
pub enum ContentPart {
    /// `{"type": "text", "text": …}`.
    Text(TextPart),
    /// `{"type": "image_url", "image_url": {"url", "detail"}}`.
    ImageUrl(ImageUrlPart),
    /// `{"type": "file", "file": {"file_data", "file_id", "filename"}}`.
    File(FilePart),
    /// `{"type": "refusal", "refusal": …}` (assistant content).
    Refusal(RefusalPart),
    /// Any other part (`input_audio`, newer types), verbatim.
    Other(Value),
}

tagged_enum_serde!(ContentPart {
    "text" => Text,
    "image_url" => ImageUrl,
    "file" => File,
    "refusal" => Refusal,
});

/// A text part.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TextPart {
    /// The text.
    pub text: String,
    /// Unknown keys (`cache_control` from Anthropic-flavoured clients …).
    #[serde(flatten)]
    pub extra: Extra,
}

/// An image part.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ImageUrlPart {
    /// The image.
    pub image_url: ImageUrl,
    /// Unknown keys.
    #[serde(flatten)]
    pub extra: Extra,
}

/// `image_url` of an image part.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ImageUrl {
    /// An `https:` or `data:` URL.
    pub url: String,
    /// `auto`, `low` or `high`.
    #[serde(default, skip_serializing_if = "Nullable::is_absent")]
    pub detail: Nullable<String>,
    /// Unknown keys.
    #[serde(flatten)]
    pub extra: Extra,
}

/// A file part.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FilePart {
    /// The file.
    pub file: FileRef,
    /// Unknown keys.
    #[serde(flatten)]
    pub extra: Extra,
}

/// `file` of a file part.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct FileRef {
    /// Inline data as a `data:` URL.
    #[serde(default, skip_serializing_if = "Nullable::is_absent")]
    pub file_data: Nullable<String>,
    /// An uploaded file id.
    #[serde(default, skip_serializing_if = "Nullable::is_absent")]
    pub file_id: Nullable<String>,
    /// File name.
    #[serde(default, skip_serializing_if = "Nullable::is_absent")]
    pub filename: Nullable<String>,
    /// Unknown keys.
    #[serde(flatten)]
    pub extra: Extra,
}

/// A refusal part.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RefusalPart {
    /// The refusal text.
    pub refusal: String,
    /// Unknown keys.
    #[serde(flatten)]
    pub extra: Extra,
}

/// A tool call made by the assistant, tagged by `type`.
#[derive(Debug, Clone, PartialEq)]
pub enum ToolCall {
    /// `{"id", "type": "function", "function": {"name", "arguments"}}`.
    Function(FunctionToolCall),
    /// Any other call type (`custom` …), verbatim.
    Other(Value),
}

tagged_enum_serde!(ToolCall {
    "function" => Function,
});

/// A function tool call.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FunctionToolCall {
    /// Call id.
    pub id: String,
    /// The function and its arguments.
    pub function: FunctionCall,
    /// Unknown keys.
    #[serde(flatten)]
    pub extra: Extra,
}

/// A function name with its JSON arguments text.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FunctionCall {
    /// Function name.
    pub name: String,
    /// Arguments as JSON text, byte for byte.
    pub arguments: String,
    /// Unknown keys.
    #[serde(flatten)]
    pub extra: Extra,
}

/// A tool definition, tagged by `type`.
#[derive(Debug, Clone, PartialEq)]
pub enum Tool {
    /// `{"type": "function", "function": {…}}`.
    Function(FunctionTool),
    /// Any other tool type (`custom`, provider tools …), verbatim.
    Other(Value),
}

tagged_enum_serde!(Tool {
    "function" => Function,
});

/// A function tool.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FunctionTool {
    /// The function.
    pub function: FunctionDef,
    /// Unknown keys.
    #[serde(flatten)]
    pub extra: Extra,
}

/// A function definition.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FunctionDef {
    /// Name.
    pub name: String,
    /// Description.
    #[serde(default, skip_serializing_if = "Nullable::is_absent")]
    pub description: Nullable<String>,
    /// JSON schema of the arguments.
    #[serde(default, skip_serializing_if = "Nullable::is_absent")]
    pub parameters: Nullable<Value>,
    /// Strict schema adherence.
    #[serde(default, skip_serializing_if = "Nullable::is_absent")]
    pub strict: Nullable<bool>,
    /// Unknown keys.
    #[serde(flatten)]
    pub extra: Extra,
}

/// `tool_choice`: a mode string, a named function, or another object kept verbatim.
#[derive(Debug, Clone, PartialEq)]
pub enum ToolChoice {
    /// `"none"`, `"auto"`, `"required"` (or a newer mode string).
    Mode(String),
    /// `{"type": "function", "function": {"name"}}`.
    Function(NamedFunction),
    /// Any other object (`allowed_tools`, `custom` …), verbatim.
    Other(Value),
}

/// `{"type": "function", "function": {"name"}}` without the `type`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NamedFunction {
    /// The function.
    pub function: FunctionName,
    /// Unknown keys.
    #[serde(flatten)]
    pub extra: Extra,
}

/// `{"name"}`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FunctionName {
    /// Function name.
    pub name: String,
    /// Unknown keys.
    #[serde(flatten)]
    pub extra: Extra,
}

impl Serialize for ToolChoice {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match self {
            ToolChoice::Mode(mode) => serializer.serialize_str(mode),
            ToolChoice::Function(named) => {
                super::nullable::serialize_tagged(serializer, "function", named)
            }
            ToolChoice::Other(raw) => raw.serialize(serializer),
        }
    }
}

impl<'de> Deserialize<'de> for ToolChoice {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        super::nullable::deserialize_tagged(
            deserializer,
            |tag, rest| match tag {
                "function" => Some(serde_json::from_value(rest).map(ToolChoice::Function)),
                _ => None,
            },
            |raw| match raw {
                Value::String(mode) => ToolChoice::Mode(mode),
                other => ToolChoice::Other(other),
            },
        )
    }
}

/// `response_format`, tagged by `type`.
#[derive(Debug, Clone, PartialEq)]
pub enum ResponseFormat {
    /// `{"type": "text"}`.
    Text(Extra),
    /// `{"type": "json_object"}`.
    JsonObject(Extra),
    /// `{"type": "json_schema", "json_schema": {…}}`.
    JsonSchema(JsonSchemaFormat),
    /// Any other format, verbatim.
    Other(Value),
}

tagged_enum_serde!(ResponseFormat {
    "text" => Text,
    "json_object" => JsonObject,
    "json_schema" => JsonSchema,
});

/// A `json_schema` response format.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct JsonSchemaFormat {
    /// The schema and its name.
    pub json_schema: JsonSchema,
    /// Unknown keys.
    #[serde(flatten)]
    pub extra: Extra,
}

/// `json_schema` of a response format.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct JsonSchema {
    /// Schema name.
    #[serde(default, skip_serializing_if = "Nullable::is_absent")]
    pub name: Nullable<String>,
    /// Description.
    #[serde(default, skip_serializing_if = "Nullable::is_absent")]
    pub description: Nullable<String>,
    /// The schema.
    #[serde(default, skip_serializing_if = "Nullable::is_absent")]
    pub schema: Nullable<Value>,
    /// Strict adherence.
    #[serde(default, skip_serializing_if = "Nullable::is_absent")]
    pub strict: Nullable<bool>,
    /// Unknown keys.
    #[serde(flatten)]
    pub extra: Extra,
}

/// A complete `chat.completion` response.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Response {
    /// Response id (`chatcmpl-…`).
    pub id: String,
    /// `chat.completion`.
    #[serde(default, skip_serializing_if = "Nullable::is_absent")]
    pub object: Nullable<String>,
    /// Unix seconds.
    #[serde(default, skip_serializing_if = "Nullable::is_absent")]
    pub created: Nullable<u64>,
    /// Model that answered.
    #[serde(default)]
    pub model: String,
    /// The choices (anvil uses the first).
    pub choices: Vec<Choice>,
    /// Token usage.
    #[serde(default, skip_serializing_if = "Nullable::is_absent")]
    pub usage: Nullable<Usage>,
    /// Unknown keys (`system_fingerprint`, `service_tier` …).
    #[serde(flatten)]
    pub extra: Extra,
}

impl Response {
    /// The response as JSON.
    pub fn to_json(&self) -> Value {
        serde_json::to_value(self).unwrap_or(Value::Null)
    }
}

/// One choice of a complete response.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Choice {
    /// Choice index.
    #[serde(default)]
    pub index: u64,
    /// The assistant message.
    pub message: Message,
    /// Log probabilities.
    #[serde(default, skip_serializing_if = "Nullable::is_absent")]
    pub logprobs: Nullable<Value>,
    /// `stop`, `length`, `tool_calls`, `content_filter`, `function_call`.
    #[serde(default, skip_serializing_if = "Nullable::is_absent")]
    pub finish_reason: Nullable<String>,
    /// Unknown keys.
    #[serde(flatten)]
    pub extra: Extra,
}

/// Token usage.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct Usage {
    /// Prompt tokens, cached ones included.
    #[serde(default, skip_serializing_if = "Nullable::is_absent")]
    pub prompt_tokens: Nullable<u64>,
    /// Completion tokens, reasoning included.
    #[serde(default, skip_serializing_if = "Nullable::is_absent")]
    pub completion_tokens: Nullable<u64>,
    /// Sum.
    #[serde(default, skip_serializing_if = "Nullable::is_absent")]
    pub total_tokens: Nullable<u64>,
    /// Prompt breakdown.
    #[serde(default, skip_serializing_if = "Nullable::is_absent")]
    pub prompt_tokens_details: Nullable<PromptTokensDetails>,
    /// Completion breakdown.
    #[serde(default, skip_serializing_if = "Nullable::is_absent")]
    pub completion_tokens_details: Nullable<CompletionTokensDetails>,
    /// Unknown keys.
    #[serde(flatten)]
    pub extra: Extra,
}

/// `usage.prompt_tokens_details`.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct PromptTokensDetails {
    /// Prompt tokens read from cache.
    #[serde(default, skip_serializing_if = "Nullable::is_absent")]
    pub cached_tokens: Nullable<u64>,
    /// Unknown keys (`audio_tokens` …).
    #[serde(flatten)]
    pub extra: Extra,
}

/// `usage.completion_tokens_details`.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct CompletionTokensDetails {
    /// Reasoning tokens.
    #[serde(default, skip_serializing_if = "Nullable::is_absent")]
    pub reasoning_tokens: Nullable<u64>,
    /// Unknown keys (`audio_tokens`, prediction tokens …).
    #[serde(flatten)]
    pub extra: Extra,
}

/// A `chat.completion.chunk` stream event.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Chunk {
    /// Response id, the same on every chunk.
    #[serde(default)]
    pub id: String,
    /// `chat.completion.chunk`.
    #[serde(default, skip_serializing_if = "Nullable::is_absent")]
    pub object: Nullable<String>,
    /// Unix seconds.
    #[serde(default, skip_serializing_if = "Nullable::is_absent")]
    pub created: Nullable<u64>,
    /// Model.
    #[serde(default, skip_serializing_if = "Nullable::is_absent")]
    pub model: Nullable<String>,
    /// Choice deltas; empty on the final usage chunk.
    #[serde(default)]
    pub choices: Vec<ChunkChoice>,
    /// Usage (`null` on every chunk but the last when `include_usage`).
    #[serde(default, skip_serializing_if = "Nullable::is_absent")]
    pub usage: Nullable<Usage>,
    /// Unknown keys (`system_fingerprint`, `service_tier`, `obfuscation` …).
    #[serde(flatten)]
    pub extra: Extra,
}

impl Chunk {
    /// The chunk as JSON.
    pub fn to_json(&self) -> Value {
        serde_json::to_value(self).unwrap_or(Value::Null)
    }
}

/// One choice of a chunk.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ChunkChoice {
    /// Choice index.
    #[serde(default)]
    pub index: u64,
    /// What is new.
    #[serde(default)]
    pub delta: ChunkDelta,
    /// Log probabilities.
    #[serde(default, skip_serializing_if = "Nullable::is_absent")]
    pub logprobs: Nullable<Value>,
    /// Set on the chunk that ends the choice.
    #[serde(default, skip_serializing_if = "Nullable::is_absent")]
    pub finish_reason: Nullable<String>,
    /// Unknown keys.
    #[serde(flatten)]
    pub extra: Extra,
}

/// The `delta` of a chunk choice.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct ChunkDelta {
    /// `assistant`, on the first chunk.
    #[serde(default, skip_serializing_if = "Nullable::is_absent")]
    pub role: Nullable<String>,
    /// A piece of text.
    #[serde(default, skip_serializing_if = "Nullable::is_absent")]
    pub content: Nullable<String>,
    /// A piece of reasoning.
    #[serde(default, skip_serializing_if = "Nullable::is_absent")]
    pub reasoning_content: Nullable<String>,
    /// A piece of reasoning under the other common name.
    #[serde(default, skip_serializing_if = "Nullable::is_absent")]
    pub reasoning: Nullable<String>,
    /// A piece of a refusal.
    #[serde(default, skip_serializing_if = "Nullable::is_absent")]
    pub refusal: Nullable<String>,
    /// Pieces of tool calls.
    #[serde(default, skip_serializing_if = "Nullable::is_absent")]
    pub tool_calls: Nullable<Vec<ToolCallDelta>>,
    /// Unknown keys (legacy `function_call`, `audio` …).
    #[serde(flatten)]
    pub extra: Extra,
}

/// A piece of one tool call in a chunk.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct ToolCallDelta {
    /// Which call (several may be in flight).
    #[serde(default, skip_serializing_if = "Nullable::is_absent")]
    pub index: Nullable<u64>,
    /// Call id, on the call's first piece.
    #[serde(default, skip_serializing_if = "Nullable::is_absent")]
    pub id: Nullable<String>,
    /// `function`, on the call's first piece.
    #[serde(default, skip_serializing_if = "Nullable::is_absent")]
    pub r#type: Nullable<String>,
    /// Name and a fragment of the arguments.
    #[serde(default, skip_serializing_if = "Nullable::is_absent")]
    pub function: Nullable<FunctionDelta>,
    /// Unknown keys.
    #[serde(flatten)]
    pub extra: Extra,
}

/// `function` of a tool-call piece.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct FunctionDelta {
    /// Function name, on the call's first piece.
    #[serde(default, skip_serializing_if = "Nullable::is_absent")]
    pub name: Nullable<String>,
    /// A fragment of the arguments JSON text.
    #[serde(default, skip_serializing_if = "Nullable::is_absent")]
    pub arguments: Nullable<String>,
    /// Unknown keys.
    #[serde(flatten)]
    pub extra: Extra,
}
