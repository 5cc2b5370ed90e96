//! Typed wire model of the Responses API: request, response object, output items and stream events.
//!
//! Every struct keeps the fields it does not know in `extra`, every tagged enum has an `Other` variant
//! holding the raw JSON of an unknown `type`, and optional fields are [`Nullable`] so that an explicit `null`
//! re-encodes as `null` and an absent key stays absent.

use serde::de::DeserializeOwned;
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use serde_json::{Map, Number, Value};

pub use crate::nullable::Nullable;

use crate::ser_tagged as serialize_tagged;

/// Decodes `T` from `value` by reference, or gives `value` back when it does not fit. (Decoding
/// from a copy cost a second allocation for every map, array and string in it, for every item
/// and tool of a request, and again for every level of nesting.)
fn decode<T: DeserializeOwned>(value: Value) -> Result<T, Value> {
    T::deserialize(&value).map_err(|_| value)
}

/// Decodes a tagged object without its `type` key into `T`, or gives it back as it was (the tag
/// where it stood) when the shape does not fit.
fn untag<T: DeserializeOwned>(mut value: Value) -> Result<T, Value> {
    let Some(map) = value.as_object_mut() else {
        return Err(value);
    };
    let index = map.keys().position(|key| key == "type");
    let tag = map.shift_remove("type");
    decode(value).map_err(|mut value| {
        if let (Some(map), Some(index), Some(tag)) = (value.as_object_mut(), index, tag) {
            map.shift_insert(index, "type".to_owned(), tag);
        }
        value
    })
}

/// Declares an enum tagged by `type` whose unknown (or malformed) members are kept verbatim in `Other`.
macro_rules! tagged_enum {
    ($(#[$meta:meta])* pub enum $name:ident { $( $(#[$vmeta:meta])* $tag:literal => $variant:ident($ty:ty), )* }) => {
        $(#[$meta])*
        #[derive(Debug, Clone, PartialEq)]
        pub enum $name {
            $( $(#[$vmeta])* $variant($ty), )*
            /// A `type` this model does not know (or a known one in a shape it does not know), verbatim.
            Other(Value),
        }

        impl $name {
            /// The `type` tag.
            pub fn type_name(&self) -> Option<&str> {
                match self {
                    $( $name::$variant(_) => Some($tag), )*
                    $name::Other(v) => v.get("type").and_then(Value::as_str),
                }
            }
        }

        impl Serialize for $name {
            fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                match self {
                    $( $name::$variant(inner) => serialize_tagged($tag, inner, s), )*
                    $name::Other(v) => v.serialize(s),
                }
            }
        }

        impl<'de> Deserialize<'de> for $name {
            fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                let value = Value::deserialize(d)?;
                let decoded = match value.get("type").and_then(Value::as_str) {
                    $( Some($tag) => untag(value).map($name::$variant), )*
                    _ => Err(value),
                };
                Ok(decoded.unwrap_or_else($name::Other))
            }
        }
    };
}

// ---------------------------------------------------------------------------------------------------
// Request

/// A `POST /v1/responses` request body.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct Request {
    /// Model name.
    #[serde(default, skip_serializing_if = "Nullable::is_absent")]
    pub model: Nullable<String>,
    /// The conversation: a string or a list of items.
    #[serde(default, skip_serializing_if = "Nullable::is_absent")]
    pub input: Nullable<Input>,
    /// System instructions.
    #[serde(default, skip_serializing_if = "Nullable::is_absent")]
    pub instructions: Nullable<String>,
    /// Tools.
    #[serde(default, skip_serializing_if = "Nullable::is_absent")]
    pub tools: Nullable<Vec<Tool>>,
    /// Tool choice.
    #[serde(default, skip_serializing_if = "Nullable::is_absent")]
    pub tool_choice: Nullable<ToolChoice>,
    /// Whether several function calls may be made in one turn.
    #[serde(default, skip_serializing_if = "Nullable::is_absent")]
    pub parallel_tool_calls: Nullable<bool>,
    /// Reasoning configuration.
    #[serde(default, skip_serializing_if = "Nullable::is_absent")]
    pub reasoning: Nullable<ReasoningConfig>,
    /// Extra output to include (`reasoning.encrypted_content` …).
    #[serde(default, skip_serializing_if = "Nullable::is_absent")]
    pub include: Nullable<Vec<String>>,
    /// Whether OpenAI stores the response.
    #[serde(default, skip_serializing_if = "Nullable::is_absent")]
    pub store: Nullable<bool>,
    /// Whether to stream.
    #[serde(default, skip_serializing_if = "Nullable::is_absent")]
    pub stream: Nullable<bool>,
    /// A stored response this one continues.
    #[serde(default, skip_serializing_if = "Nullable::is_absent")]
    pub previous_response_id: Nullable<String>,
    /// Prompt-cache routing key.
    #[serde(default, skip_serializing_if = "Nullable::is_absent")]
    pub prompt_cache_key: Nullable<String>,
    /// Client metadata (Codex sends turn and session ids here).
    #[serde(default, skip_serializing_if = "Nullable::is_absent")]
    pub client_metadata: Nullable<Map<String, Value>>,
    /// Text output configuration (format, verbosity).
    #[serde(default, skip_serializing_if = "Nullable::is_absent")]
    pub text: Nullable<TextConfig>,
    /// Maximum output tokens.
    #[serde(default, skip_serializing_if = "Nullable::is_absent")]
    pub max_output_tokens: Nullable<u64>,
    /// Sampling temperature, as the number the client wrote.
    #[serde(default, skip_serializing_if = "Nullable::is_absent")]
    pub temperature: Nullable<Number>,
    /// Nucleus sampling, as the number the client wrote.
    #[serde(default, skip_serializing_if = "Nullable::is_absent")]
    pub top_p: Nullable<Number>,
    /// Key/value metadata.
    #[serde(default, skip_serializing_if = "Nullable::is_absent")]
    pub metadata: Nullable<Map<String, Value>>,
    /// Deprecated end-user id.
    #[serde(default, skip_serializing_if = "Nullable::is_absent")]
    pub user: Nullable<String>,
    /// End-user id for abuse detection.
    #[serde(default, skip_serializing_if = "Nullable::is_absent")]
    pub safety_identifier: Nullable<String>,
    /// Fields this model does not know.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// `input`: a plain string (one user message) or a list of items.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum Input {
    /// A user message as a string.
    Text(String),
    /// Items.
    Items(Vec<Item>),
}

/// An input or output item.
#[derive(Debug, Clone, PartialEq)]
pub enum Item {
    /// A message (`type: "message"`, or a type-less `{role, content}`).
    Message(MessageItem),
    /// A function call made by the model.
    FunctionCall(FunctionCallItem),
    /// The output of a function call, returned by the client.
    FunctionCallOutput(FunctionCallOutputItem),
    /// Model reasoning.
    Reasoning(ReasoningItem),
    /// Any other item (`custom_tool_call`, `local_shell_call`, `web_search_call`, `item_reference` …),
    /// verbatim.
    Other(Value),
}

impl Item {
    /// The `type` tag (`message` for a type-less message).
    pub fn type_name(&self) -> Option<&str> {
        match self {
            Item::Message(_) => Some("message"),
            Item::FunctionCall(_) => Some("function_call"),
            Item::FunctionCallOutput(_) => Some("function_call_output"),
            Item::Reasoning(_) => Some("reasoning"),
            Item::Other(v) => v.get("type").and_then(Value::as_str),
        }
    }
}

impl Serialize for Item {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            Item::Message(m) => m.serialize(s),
            Item::FunctionCall(c) => serialize_tagged("function_call", c, s),
            Item::FunctionCallOutput(o) => serialize_tagged("function_call_output", o, s),
            Item::Reasoning(r) => serialize_tagged("reasoning", r, s),
            Item::Other(v) => v.serialize(s),
        }
    }
}

impl<'de> Deserialize<'de> for Item {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let value = Value::deserialize(d)?;
        let decoded = match value.get("type").and_then(Value::as_str) {
            Some("message") => decode(value).map(Item::Message),
            None if value.get("role").is_some() => decode(value).map(Item::Message),
            Some("function_call") => untag(value).map(Item::FunctionCall),
            Some("function_call_output") => untag(value).map(Item::FunctionCallOutput),
            Some("reasoning") => untag(value).map(Item::Reasoning),
            _ => Err(value),
        };
        Ok(decoded.unwrap_or_else(Item::Other))
    }
}

/// A message item.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MessageItem {
    /// `"message"`, or absent for the type-less easy-input form.
    #[serde(rename = "type", default, skip_serializing_if = "Option::is_none")]
    pub kind: Option<String>,
    /// Item id (`msg_…`).
    #[serde(default, skip_serializing_if = "Nullable::is_absent")]
    pub id: Nullable<String>,
    /// `user`, `assistant`, `system` or `developer`.
    pub role: String,
    /// A string or content parts.
    pub content: MessageContent,
    /// Item status (`completed`, `in_progress`, `incomplete`).
    #[serde(default, skip_serializing_if = "Nullable::is_absent")]
    pub status: Nullable<String>,
    /// Fields this model does not know.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// Message content: a string or a list of parts.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum MessageContent {
    /// Plain text.
    Text(String),
    /// Parts.
    Parts(Vec<ContentPart>),
}

tagged_enum! {
    /// A content part of a message or of a function call output.
    pub enum ContentPart {
        /// Input text.
        "input_text" => InputText(TextPart),
        /// Model output text (assistant messages).
        "output_text" => OutputText(OutputTextPart),
        /// An image.
        "input_image" => InputImage(ImagePart),
        /// A file.
        "input_file" => InputFile(FilePart),
        /// A refusal by the model.
        "refusal" => Refusal(RefusalPart),
    }
}

/// A part holding text.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TextPart {
    /// The text.
    pub text: String,
    /// Fields this model does not know.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// An `output_text` part.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct OutputTextPart {
    /// The text.
    pub text: String,
    /// Citations and other annotations, verbatim.
    #[serde(default, skip_serializing_if = "Nullable::is_absent")]
    pub annotations: Nullable<Vec<Value>>,
    /// Fields this model does not know (`logprobs` …).
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// An `input_image` part.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ImagePart {
    /// A URL or a `data:` URL.
    #[serde(default, skip_serializing_if = "Nullable::is_absent")]
    pub image_url: Nullable<String>,
    /// An uploaded file id.
    #[serde(default, skip_serializing_if = "Nullable::is_absent")]
    pub file_id: Nullable<String>,
    /// `auto`, `low` or `high`.
    #[serde(default, skip_serializing_if = "Nullable::is_absent")]
    pub detail: Nullable<String>,
    /// Fields this model does not know.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// An `input_file` part.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FilePart {
    /// An uploaded file id.
    #[serde(default, skip_serializing_if = "Nullable::is_absent")]
    pub file_id: Nullable<String>,
    /// Inline content as a `data:` URL.
    #[serde(default, skip_serializing_if = "Nullable::is_absent")]
    pub file_data: Nullable<String>,
    /// A URL.
    #[serde(default, skip_serializing_if = "Nullable::is_absent")]
    pub file_url: Nullable<String>,
    /// File name.
    #[serde(default, skip_serializing_if = "Nullable::is_absent")]
    pub filename: Nullable<String>,
    /// Fields this model does not know.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// A `refusal` part.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RefusalPart {
    /// The refusal text.
    pub refusal: String,
    /// Fields this model does not know.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// A `function_call` item.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FunctionCallItem {
    /// Item id (`fc_…`).
    #[serde(default, skip_serializing_if = "Nullable::is_absent")]
    pub id: Nullable<String>,
    /// Call id that the output refers to (`call_…`).
    pub call_id: String,
    /// Function name.
    pub name: String,
    /// Arguments as JSON text.
    pub arguments: String,
    /// Item status.
    #[serde(default, skip_serializing_if = "Nullable::is_absent")]
    pub status: Nullable<String>,
    /// Fields this model does not know (`namespace` …).
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// A `function_call_output` item.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FunctionCallOutputItem {
    /// Item id.
    #[serde(default, skip_serializing_if = "Nullable::is_absent")]
    pub id: Nullable<String>,
    /// The call this answers.
    pub call_id: String,
    /// The output.
    pub output: FunctionOutput,
    /// Item status.
    #[serde(default, skip_serializing_if = "Nullable::is_absent")]
    pub status: Nullable<String>,
    /// Fields this model does not know.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// A function call output: a string or content parts.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum FunctionOutput {
    /// Plain text.
    Text(String),
    /// Parts (`input_text`, `input_image`, `input_file`).
    Parts(Vec<ContentPart>),
}

/// A `reasoning` item.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ReasoningItem {
    /// Item id (`rs_…`).
    #[serde(default, skip_serializing_if = "Nullable::is_absent")]
    pub id: Nullable<String>,
    /// Reasoning summary parts.
    #[serde(default, skip_serializing_if = "Nullable::is_absent")]
    pub summary: Nullable<Vec<ReasoningPart>>,
    /// Raw reasoning text parts (open-weight models).
    #[serde(default, skip_serializing_if = "Nullable::is_absent")]
    pub content: Nullable<Vec<ReasoningPart>>,
    /// Encrypted reasoning for stateless multi-turn use.
    #[serde(default, skip_serializing_if = "Nullable::is_absent")]
    pub encrypted_content: Nullable<String>,
    /// Item status.
    #[serde(default, skip_serializing_if = "Nullable::is_absent")]
    pub status: Nullable<String>,
    /// Fields this model does not know.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

tagged_enum! {
    /// A part of a reasoning item.
    pub enum ReasoningPart {
        /// A summary paragraph.
        "summary_text" => SummaryText(TextPart),
        /// Raw reasoning text.
        "reasoning_text" => ReasoningText(TextPart),
    }
}

impl ReasoningPart {
    /// The text of a known part.
    pub fn text(&self) -> Option<&str> {
        match self {
            ReasoningPart::SummaryText(p) | ReasoningPart::ReasoningText(p) => Some(&p.text),
            ReasoningPart::Other(_) => None,
        }
    }
}

tagged_enum! {
    /// A tool definition.
    pub enum Tool {
        /// A function the client executes.
        "function" => Function(FunctionTool),
        /// A named group of functions (Codex `multi_agent_v1`).
        "namespace" => Namespace(NamespaceTool),
    }
}

/// A `function` tool.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FunctionTool {
    /// Name.
    pub name: String,
    /// Description.
    #[serde(default, skip_serializing_if = "Nullable::is_absent")]
    pub description: Nullable<String>,
    /// JSON schema of the arguments.
    #[serde(default, skip_serializing_if = "Nullable::is_absent")]
    pub parameters: Nullable<Value>,
    /// Strict mode.
    #[serde(default, skip_serializing_if = "Nullable::is_absent")]
    pub strict: Nullable<bool>,
    /// Fields this model does not know.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// A `namespace` tool: functions grouped under a name.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NamespaceTool {
    /// Namespace name.
    pub name: String,
    /// Description.
    #[serde(default, skip_serializing_if = "Nullable::is_absent")]
    pub description: Nullable<String>,
    /// The functions.
    pub tools: Vec<Tool>,
    /// Fields this model does not know.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// `tool_choice`: a mode string or an object.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum ToolChoice {
    /// `auto`, `none` or `required`.
    Mode(String),
    /// `{type: "function", name}`, a hosted tool type, `allowed_tools` …
    Object(ToolChoiceObject),
}

/// An object `tool_choice`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ToolChoiceObject {
    /// `function`, `custom`, `allowed_tools`, `web_search` …
    #[serde(rename = "type")]
    pub kind: String,
    /// The function name, for `function` and `custom`.
    #[serde(default, skip_serializing_if = "Nullable::is_absent")]
    pub name: Nullable<String>,
    /// Fields this model does not know.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// `reasoning` configuration.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct ReasoningConfig {
    /// `none`, `minimal`, `low`, `medium`, `high`, `xhigh`.
    #[serde(default, skip_serializing_if = "Nullable::is_absent")]
    pub effort: Nullable<String>,
    /// `auto`, `concise`, `detailed`.
    #[serde(default, skip_serializing_if = "Nullable::is_absent")]
    pub summary: Nullable<String>,
    /// Fields this model does not know.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// `text` configuration.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct TextConfig {
    /// Output format.
    #[serde(default, skip_serializing_if = "Nullable::is_absent")]
    pub format: Nullable<TextFormat>,
    /// `low`, `medium`, `high`.
    #[serde(default, skip_serializing_if = "Nullable::is_absent")]
    pub verbosity: Nullable<String>,
    /// Fields this model does not know.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

tagged_enum! {
    /// `text.format`.
    pub enum TextFormat {
        /// Plain text.
        "text" => Text(Empty),
        /// Any JSON object.
        "json_object" => JsonObject(Empty),
        /// JSON matching a schema.
        "json_schema" => JsonSchema(JsonSchemaFormat),
    }
}

/// An object with no known fields besides its tag.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct Empty {
    /// Fields this model does not know.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// A `json_schema` text format.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct JsonSchemaFormat {
    /// Schema name.
    #[serde(default, skip_serializing_if = "Nullable::is_absent")]
    pub name: Nullable<String>,
    /// The schema.
    pub schema: Value,
    /// Strict mode.
    #[serde(default, skip_serializing_if = "Nullable::is_absent")]
    pub strict: Nullable<bool>,
    /// Fields this model does not know (`description` …).
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

// ---------------------------------------------------------------------------------------------------
// Response

/// A response object (`object: "response"`), complete or as carried by stream events.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct Response {
    /// Response id (`resp_…`).
    #[serde(default)]
    pub id: String,
    /// `"response"`.
    #[serde(default, skip_serializing_if = "Nullable::is_absent")]
    pub object: Nullable<String>,
    /// Unix seconds.
    #[serde(default, skip_serializing_if = "Nullable::is_absent")]
    pub created_at: Nullable<Number>,
    /// `completed`, `incomplete`, `failed`, `in_progress`, `queued`, `cancelled`.
    #[serde(default, skip_serializing_if = "Nullable::is_absent")]
    pub status: Nullable<String>,
    /// Model.
    #[serde(default, skip_serializing_if = "Nullable::is_absent")]
    pub model: Nullable<String>,
    /// Output items.
    #[serde(default, skip_serializing_if = "Nullable::is_absent")]
    pub output: Nullable<Vec<Item>>,
    /// Token usage.
    #[serde(default, skip_serializing_if = "Nullable::is_absent")]
    pub usage: Nullable<ResponseUsage>,
    /// Why the response is incomplete.
    #[serde(default, skip_serializing_if = "Nullable::is_absent")]
    pub incomplete_details: Nullable<IncompleteDetails>,
    /// The error of a failed response.
    #[serde(default, skip_serializing_if = "Nullable::is_absent")]
    pub error: Nullable<ResponseError>,
    /// Fields this model does not know (echoed request settings …).
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// `incomplete_details`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct IncompleteDetails {
    /// `max_output_tokens`, `content_filter`.
    #[serde(default, skip_serializing_if = "Nullable::is_absent")]
    pub reason: Nullable<String>,
    /// Fields this model does not know.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// The `error` of a failed response.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ResponseError {
    /// Error code (`server_error`, `rate_limit_exceeded` …).
    #[serde(default, skip_serializing_if = "Nullable::is_absent")]
    pub code: Nullable<String>,
    /// Message.
    #[serde(default)]
    pub message: String,
    /// Fields this model does not know.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// Token usage of a response.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct ResponseUsage {
    /// Prompt tokens, cached ones included.
    #[serde(default)]
    pub input_tokens: u64,
    /// Details of the prompt tokens.
    #[serde(default, skip_serializing_if = "Nullable::is_absent")]
    pub input_tokens_details: Nullable<InputTokensDetails>,
    /// Output tokens, reasoning included.
    #[serde(default)]
    pub output_tokens: u64,
    /// Details of the output tokens.
    #[serde(default, skip_serializing_if = "Nullable::is_absent")]
    pub output_tokens_details: Nullable<OutputTokensDetails>,
    /// Total.
    #[serde(default, skip_serializing_if = "Nullable::is_absent")]
    pub total_tokens: Nullable<u64>,
    /// Fields this model does not know.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// `input_tokens_details`.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct InputTokensDetails {
    /// Prompt tokens read from cache.
    #[serde(default, skip_serializing_if = "Nullable::is_absent")]
    pub cached_tokens: Nullable<u64>,
    /// Fields this model does not know.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// `output_tokens_details`.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct OutputTokensDetails {
    /// Reasoning tokens.
    #[serde(default, skip_serializing_if = "Nullable::is_absent")]
    pub reasoning_tokens: Nullable<u64>,
    /// Fields this model does not know.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

// ---------------------------------------------------------------------------------------------------
// Stream events

tagged_enum! {
    /// One Responses stream event (the SSE `event:` name equals `type`).
    pub enum Event {
        /// `response.created`.
        "response.created" => Created(ResponseEvent),
        /// `response.queued`.
        "response.queued" => Queued(ResponseEvent),
        /// `response.in_progress`.
        "response.in_progress" => InProgress(ResponseEvent),
        /// `response.completed`.
        "response.completed" => Completed(ResponseEvent),
        /// `response.incomplete`.
        "response.incomplete" => Incomplete(ResponseEvent),
        /// `response.failed`.
        "response.failed" => Failed(ResponseEvent),
        /// `response.output_item.added`.
        "response.output_item.added" => OutputItemAdded(ItemEvent),
        /// `response.output_item.done`.
        "response.output_item.done" => OutputItemDone(ItemEvent),
        /// `response.content_part.added`.
        "response.content_part.added" => ContentPartAdded(PartEvent<ContentPart>),
        /// `response.content_part.done`.
        "response.content_part.done" => ContentPartDone(PartEvent<ContentPart>),
        /// `response.output_text.delta`.
        "response.output_text.delta" => OutputTextDelta(DeltaEvent),
        /// `response.output_text.done`.
        "response.output_text.done" => OutputTextDone(TextDoneEvent),
        /// `response.refusal.delta`.
        "response.refusal.delta" => RefusalDelta(DeltaEvent),
        /// `response.refusal.done`.
        "response.refusal.done" => RefusalDone(RefusalDoneEvent),
        /// `response.function_call_arguments.delta`.
        "response.function_call_arguments.delta" => FunctionCallArgumentsDelta(DeltaEvent),
        /// `response.function_call_arguments.done`.
        "response.function_call_arguments.done" => FunctionCallArgumentsDone(ArgumentsDoneEvent),
        /// `response.reasoning_summary_part.added`.
        "response.reasoning_summary_part.added" => ReasoningSummaryPartAdded(PartEvent<ReasoningPart>),
        /// `response.reasoning_summary_part.done`.
        "response.reasoning_summary_part.done" => ReasoningSummaryPartDone(PartEvent<ReasoningPart>),
        /// `response.reasoning_summary_text.delta`.
        "response.reasoning_summary_text.delta" => ReasoningSummaryTextDelta(DeltaEvent),
        /// `response.reasoning_summary_text.done`.
        "response.reasoning_summary_text.done" => ReasoningSummaryTextDone(TextDoneEvent),
        /// `response.reasoning_text.delta`.
        "response.reasoning_text.delta" => ReasoningTextDelta(DeltaEvent),
        /// `response.reasoning_text.done`.
        "response.reasoning_text.done" => ReasoningTextDone(TextDoneEvent),
        /// `error`.
        "error" => Error(ErrorEvent),
    }
}

/// An event carrying the response object.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ResponseEvent {
    /// Position in the stream.
    #[serde(default, skip_serializing_if = "Nullable::is_absent")]
    pub sequence_number: Nullable<u64>,
    /// The response so far (or final).
    pub response: Response,
    /// Fields this model does not know.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// `response.output_item.added` / `.done`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ItemEvent {
    /// Position in the stream.
    #[serde(default, skip_serializing_if = "Nullable::is_absent")]
    pub sequence_number: Nullable<u64>,
    /// Index of the item in `output`.
    #[serde(default)]
    pub output_index: u64,
    /// The item (empty when added, complete when done).
    pub item: Item,
    /// Fields this model does not know.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// A content-part or summary-part event (`*.part.added` / `*.part.done`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PartEvent<P> {
    /// Position in the stream.
    #[serde(default, skip_serializing_if = "Nullable::is_absent")]
    pub sequence_number: Nullable<u64>,
    /// Item id.
    #[serde(default)]
    pub item_id: String,
    /// Index of the item in `output`.
    #[serde(default)]
    pub output_index: u64,
    /// Index of the part in the message content.
    #[serde(default, skip_serializing_if = "Nullable::is_absent")]
    pub content_index: Nullable<u64>,
    /// Index of the part in the reasoning summary.
    #[serde(default, skip_serializing_if = "Nullable::is_absent")]
    pub summary_index: Nullable<u64>,
    /// The part.
    pub part: P,
    /// Fields this model does not know.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// A text, refusal, reasoning or arguments delta.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DeltaEvent {
    /// Position in the stream.
    #[serde(default, skip_serializing_if = "Nullable::is_absent")]
    pub sequence_number: Nullable<u64>,
    /// Item id.
    #[serde(default)]
    pub item_id: String,
    /// Index of the item in `output`.
    #[serde(default)]
    pub output_index: u64,
    /// Index of the content part.
    #[serde(default, skip_serializing_if = "Nullable::is_absent")]
    pub content_index: Nullable<u64>,
    /// Index of the summary part.
    #[serde(default, skip_serializing_if = "Nullable::is_absent")]
    pub summary_index: Nullable<u64>,
    /// The new text.
    pub delta: String,
    /// Fields this model does not know (`logprobs`, `obfuscation` …).
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// `response.output_text.done` and the reasoning `*.done` events.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TextDoneEvent {
    /// Position in the stream.
    #[serde(default, skip_serializing_if = "Nullable::is_absent")]
    pub sequence_number: Nullable<u64>,
    /// Item id.
    #[serde(default)]
    pub item_id: String,
    /// Index of the item in `output`.
    #[serde(default)]
    pub output_index: u64,
    /// Index of the content part.
    #[serde(default, skip_serializing_if = "Nullable::is_absent")]
    pub content_index: Nullable<u64>,
    /// Index of the summary part.
    #[serde(default, skip_serializing_if = "Nullable::is_absent")]
    pub summary_index: Nullable<u64>,
    /// The full text.
    pub text: String,
    /// Fields this model does not know.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// `response.refusal.done`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RefusalDoneEvent {
    /// Position in the stream.
    #[serde(default, skip_serializing_if = "Nullable::is_absent")]
    pub sequence_number: Nullable<u64>,
    /// Item id.
    #[serde(default)]
    pub item_id: String,
    /// Index of the item in `output`.
    #[serde(default)]
    pub output_index: u64,
    /// Index of the content part.
    #[serde(default, skip_serializing_if = "Nullable::is_absent")]
    pub content_index: Nullable<u64>,
    /// The full refusal.
    pub refusal: String,
    /// Fields this model does not know.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// `response.function_call_arguments.done`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ArgumentsDoneEvent {
    /// Position in the stream.
    #[serde(default, skip_serializing_if = "Nullable::is_absent")]
    pub sequence_number: Nullable<u64>,
    /// Item id.
    #[serde(default)]
    pub item_id: String,
    /// Index of the item in `output`.
    #[serde(default)]
    pub output_index: u64,
    /// The full arguments.
    pub arguments: String,
    /// Fields this model does not know (`name` …).
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// The `error` event.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ErrorEvent {
    /// Position in the stream.
    #[serde(default, skip_serializing_if = "Nullable::is_absent")]
    pub sequence_number: Nullable<u64>,
    /// Error code.
    #[serde(default, skip_serializing_if = "Nullable::is_absent")]
    pub code: Nullable<String>,
    /// Message.
    #[serde(default)]
    pub message: String,
    /// The parameter at fault.
    #[serde(default, skip_serializing_if = "Nullable::is_absent")]
    pub param: Nullable<String>,
    /// Fields this model does not know.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}
