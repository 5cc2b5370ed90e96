//! Typed wire models of Anthropic Messages: requests (`/v1/messages`, `/v1/messages/count_tokens`),
//! complete responses and stream events.
//!
//! Every struct keeps the fields it does not know in `extra`, and every enum tagged by `type` has an
//! `Unknown` variant holding the raw JSON, and optional fields are [`Nullable`] (`cache_control` keeps
//! its `null` as `Some(Value::Null)`), so a request decodes and re-encodes to an equal JSON value,
//! explicit `null`s included.

use serde::de::Error as _;
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use serde_json::{Map, Number, Value};

pub use crate::nullable::Nullable;
use crate::ser_tagged;

/// Deserializes a present field as `Some` even when it is `null`, so an explicit `null` survives a
/// round trip (a missing field stays `None` through `#[serde(default)]`).
fn keep_null<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Value>, D::Error> {
    Value::deserialize(d).map(Some)
}

/// Defines an enum tagged by a `type` field whose variants each wrap a struct, plus an `Unknown`
/// variant for any other `type` (or a value that is not an object), kept verbatim.
macro_rules! tagged_enum {
    (
        $(#[$meta:meta])*
        pub enum $name:ident {
            $( $(#[$vmeta:meta])* $variant:ident($ty:ty) = $tag:literal, )*
        }
    ) => {
        $(#[$meta])*
        #[derive(Debug, Clone, PartialEq)]
        pub enum $name {
            $( $(#[$vmeta])* $variant($ty), )*
            /// A `type` this crate does not know, kept verbatim.
            Unknown(Value),
        }

        impl $name {
            /// The `type` string of this value, if it has one.
            pub fn type_name(&self) -> Option<&str> {
                match self {
                    $( $name::$variant(_) => Some($tag), )*
                    $name::Unknown(v) => v.get("type").and_then(Value::as_str),
                }
            }
        }

        impl Serialize for $name {
            fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                match self {
                    $( $name::$variant(inner) => ser_tagged($tag, inner, s), )*
                    $name::Unknown(v) => v.serialize(s),
                }
            }
        }

        impl Tagged for $name {
            const NAME: &'static str = stringify!($name);

            fn known(tag: &str) -> bool {
                matches!(tag, $( $tag )|*)
            }

            fn variant<'de, D: Deserializer<'de>>(tag: &str, rest: D) -> Result<Self, D::Error> {
                match tag {
                    $( $tag => <$ty>::deserialize(rest).map($name::$variant), )*
                    _ => Err(D::Error::custom(format_args!("`{tag}` is not a {} type", stringify!($name)))),
                }
            }

            fn unknown(value: Value) -> Self {
                $name::Unknown(value)
            }
        }

        impl<'de> Deserialize<'de> for $name {
            fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                d.deserialize_any(TaggedVisitor::<$name>(std::marker::PhantomData))
            }
        }
    };
}

/// An enum tagged by `type` (see `tagged_enum!`), for [`TaggedVisitor`].
trait Tagged: Sized {
    /// The enum's name, for error messages.
    const NAME: &'static str;
    /// Whether `tag` names one of the variants.
    fn known(tag: &str) -> bool;
    /// Decodes the variant `tag` (a known one) from the object's other fields.
    fn variant<'de, D: Deserializer<'de>>(tag: &str, rest: D) -> Result<Self, D::Error>;
    /// The `Unknown` variant.
    fn unknown(value: Value) -> Self;
}

/// A key as the input holds it: borrowed when it has no escapes.
enum KeyText<'de> {
    Borrowed(&'de str),
    Owned(String),
}

impl<'de> Deserialize<'de> for KeyText<'de> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct KeyTextVisitor;
        impl<'de> serde::de::Visitor<'de> for KeyTextVisitor {
            type Value = KeyText<'de>;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("an object key")
            }
            fn visit_borrowed_str<E: serde::de::Error>(
                self,
                v: &'de str,
            ) -> Result<KeyText<'de>, E> {
                Ok(KeyText::Borrowed(v))
            }
            fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<KeyText<'de>, E> {
                Ok(KeyText::Owned(v.to_owned()))
            }
            fn visit_string<E: serde::de::Error>(self, v: String) -> Result<KeyText<'de>, E> {
                Ok(KeyText::Owned(v))
            }
        }
        d.deserialize_str(KeyTextVisitor)
    }
}

impl KeyText<'_> {
    fn as_str(&self) -> &str {
        match self {
            KeyText::Borrowed(key) => key,
            KeyText::Owned(key) => key,
        }
    }

    fn into_owned(self) -> String {
        match self {
            KeyText::Borrowed(key) => key.to_owned(),
            KeyText::Owned(key) => key,
        }
    }
}

/// The rest of a tagged object after its leading `type`, for the variant's struct: a second `type`
/// is an error, as a repeated field of the struct is (the collected path would keep the last one).
struct AfterTag<A>(A);

impl<'de, A: serde::de::MapAccess<'de>> serde::de::MapAccess<'de> for AfterTag<A> {
    type Error = A::Error;

    fn next_key_seed<K: serde::de::DeserializeSeed<'de>>(
        &mut self,
        seed: K,
    ) -> Result<Option<K::Value>, A::Error> {
        use serde::de::value::{BorrowedStrDeserializer, StringDeserializer};
        match self.0.next_key::<KeyText<'de>>()? {
            None => Ok(None),
            Some(key) if key.as_str() == "type" => Err(A::Error::duplicate_field("type")),
            Some(KeyText::Borrowed(key)) => seed
                .deserialize(BorrowedStrDeserializer::<A::Error>::new(key))
                .map(Some),
            Some(KeyText::Owned(key)) => seed
                .deserialize(StringDeserializer::<A::Error>::new(key))
                .map(Some),
        }
    }

    fn next_value_seed<V: serde::de::DeserializeSeed<'de>>(
        &mut self,
        seed: V,
    ) -> Result<V::Value, A::Error> {
        self.0.next_value_seed(seed)
    }

    fn size_hint(&self) -> Option<usize> {
        self.0.size_hint()
    }
}

/// Decodes a tagged enum. An object whose first key is a known `type` (how every client and server
/// writes them) decodes its variant straight from the input, with no `Value` tree in between; any
/// other object is collected, and its variant decoded from that; anything else is `Unknown`.
struct TaggedVisitor<T>(std::marker::PhantomData<T>);

impl<'de, T: Tagged> serde::de::Visitor<'de> for TaggedVisitor<T> {
    type Value = T;

    fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "a {} object", T::NAME)
    }

    fn visit_map<A: serde::de::MapAccess<'de>>(self, mut map: A) -> Result<T, A::Error> {
        let mut object = Map::new();
        match map.next_key::<KeyText<'de>>()? {
            None => return Ok(T::unknown(Value::Object(object))),
            Some(key) if key.as_str() == "type" => {
                let tag: Value = map.next_value()?;
                if let Some(tag) = tag.as_str().filter(|t| T::known(t)) {
                    let rest = AfterTag(map);
                    return T::variant(tag, serde::de::value::MapAccessDeserializer::new(rest));
                }
                object.insert("type".to_owned(), tag);
            }
            Some(key) => {
                let value = map.next_value()?;
                object.insert(key.into_owned(), value);
            }
        }
        while let Some((key, value)) = map.next_entry::<String, Value>()? {
            object.insert(key, value);
        }
        match object.get("type").and_then(Value::as_str) {
            Some(tag) if T::known(tag) => {
                let tag = tag.to_owned();
                object.remove("type");
                T::variant(&tag, Value::Object(object))
                    .map_err(|e| A::Error::custom(format_args!("`{tag}` {}: {e}", T::NAME)))
            }
            _ => Ok(T::unknown(Value::Object(object))),
        }
    }

    fn visit_seq<A: serde::de::SeqAccess<'de>>(self, seq: A) -> Result<T, A::Error> {
        Value::deserialize(serde::de::value::SeqAccessDeserializer::new(seq)).map(T::unknown)
    }

    fn visit_bool<E: serde::de::Error>(self, v: bool) -> Result<T, E> {
        Ok(T::unknown(Value::Bool(v)))
    }

    fn visit_i64<E: serde::de::Error>(self, v: i64) -> Result<T, E> {
        Ok(T::unknown(Value::from(v)))
    }

    fn visit_u64<E: serde::de::Error>(self, v: u64) -> Result<T, E> {
        Ok(T::unknown(Value::from(v)))
    }

    fn visit_f64<E: serde::de::Error>(self, v: f64) -> Result<T, E> {
        Ok(T::unknown(Value::from(v)))
    }

    fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<T, E> {
        Ok(T::unknown(Value::String(v.to_owned())))
    }

    fn visit_string<E: serde::de::Error>(self, v: String) -> Result<T, E> {
        Ok(T::unknown(Value::String(v)))
    }

    fn visit_unit<E: serde::de::Error>(self) -> Result<T, E> {
        Ok(T::unknown(Value::Null))
    }

    fn visit_none<E: serde::de::Error>(self) -> Result<T, E> {
        Ok(T::unknown(Value::Null))
    }
}

// ---------------------------------------------------------------------------------------- request

/// A Messages request (`POST /v1/messages`), also used for `POST /v1/messages/count_tokens`, which
/// has no `max_tokens`. Optional fields are [`Nullable`], so an explicit `null` re-encodes as `null`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Request {
    /// Model name as the client sent it.
    pub model: String,
    /// The conversation.
    pub messages: Vec<Message>,
    /// Output token limit (absent on count_tokens).
    #[serde(default, skip_serializing_if = "Nullable::is_absent")]
    pub max_tokens: Nullable<u64>,
    /// Top-level system prompt.
    #[serde(default, skip_serializing_if = "Nullable::is_absent")]
    pub system: Nullable<System>,
    /// Tools offered to the model (an explicit empty list stays one).
    #[serde(default, skip_serializing_if = "Nullable::is_absent")]
    pub tools: Nullable<Vec<Tool>>,
    /// How the model may use tools.
    #[serde(default, skip_serializing_if = "Nullable::is_absent")]
    pub tool_choice: Nullable<ToolChoice>,
    /// Extended thinking configuration.
    #[serde(default, skip_serializing_if = "Nullable::is_absent")]
    pub thinking: Nullable<ThinkingConfig>,
    /// Effort and structured-output settings.
    #[serde(default, skip_serializing_if = "Nullable::is_absent")]
    pub output_config: Nullable<OutputConfig>,
    /// Request metadata (`user_id`).
    #[serde(default, skip_serializing_if = "Nullable::is_absent")]
    pub metadata: Nullable<Metadata>,
    /// Stop sequences.
    #[serde(default, skip_serializing_if = "Nullable::is_absent")]
    pub stop_sequences: Nullable<Vec<String>>,
    /// Sampling temperature, kept as the client wrote the number (`1` stays `1`, not `1.0`).
    #[serde(default, skip_serializing_if = "Nullable::is_absent")]
    pub temperature: Nullable<Number>,
    /// Nucleus sampling, kept as the client wrote the number.
    #[serde(default, skip_serializing_if = "Nullable::is_absent")]
    pub top_p: Nullable<Number>,
    /// Top-k sampling.
    #[serde(default, skip_serializing_if = "Nullable::is_absent")]
    pub top_k: Nullable<u64>,
    /// Whether to stream the answer.
    #[serde(default, skip_serializing_if = "Nullable::is_absent")]
    pub stream: Nullable<bool>,
    /// Server-side context editing (no canonical counterpart), kept verbatim.
    #[serde(default, skip_serializing_if = "Nullable::is_absent")]
    pub context_management: Nullable<Value>,
    /// Fields this crate does not know (`service_tier`, `container`, `mcp_servers` …).
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// The top-level `system` field: a string or a list of blocks (text with `cache_control`).
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(untagged)]
pub enum System {
    /// `"system": "…"`.
    Text(String),
    /// `"system": [{"type":"text", …}, …]`.
    Blocks(Vec<ContentBlock>),
}

crate::nullable::string_or_seq_impl!(System, Text, Blocks, "a string or an array of text blocks");

/// The author of a message.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    /// The human (and tool results).
    User,
    /// The model.
    Assistant,
    /// A system turn inside `messages` (Claude Code sends these).
    System,
}

/// One turn of the conversation.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Message {
    /// Author.
    pub role: Role,
    /// Content, as a string or blocks.
    pub content: Content,
    /// Unknown fields.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// Message content: a plain string or a list of blocks.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(untagged)]
pub enum Content {
    /// `"content": "…"`.
    Text(String),
    /// `"content": [ … ]`.
    Blocks(Vec<ContentBlock>),
}

crate::nullable::string_or_seq_impl!(
    Content,
    Text,
    Blocks,
    "a string or an array of content blocks"
);

tagged_enum! {
    /// A content block, in requests, responses and stream `content_block_start` events.
    pub enum ContentBlock {
        /// Text.
        Text(TextBlock) = "text",
        /// An image.
        Image(ImageBlock) = "image",
        /// A document (PDF, plain text …).
        Document(DocumentBlock) = "document",
        /// A tool call by the assistant.
        ToolUse(ToolUseBlock) = "tool_use",
        /// A tool result returned by the client.
        ToolResult(ToolResultBlock) = "tool_result",
        /// Extended thinking.
        Thinking(ThinkingBlock) = "thinking",
        /// Encrypted thinking.
        RedactedThinking(RedactedThinkingBlock) = "redacted_thinking",
    }
}

/// A text block. `citations` (often an explicit `null` in responses) stays in `extra`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TextBlock {
    /// The text.
    pub text: String,
    /// Prompt-caching marker.
    #[serde(
        default,
        deserialize_with = "keep_null",
        skip_serializing_if = "Option::is_none"
    )]
    pub cache_control: Option<Value>,
    /// Unknown fields (`citations` …).
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// An image block.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ImageBlock {
    /// Where the bytes are.
    pub source: Source,
    /// Prompt-caching marker.
    #[serde(
        default,
        deserialize_with = "keep_null",
        skip_serializing_if = "Option::is_none"
    )]
    pub cache_control: Option<Value>,
    /// Unknown fields.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// A document block.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DocumentBlock {
    /// Where the document is.
    pub source: Source,
    /// Title.
    #[serde(default, skip_serializing_if = "Nullable::is_absent")]
    pub title: Nullable<String>,
    /// Context about the document (no canonical counterpart).
    #[serde(default, skip_serializing_if = "Nullable::is_absent")]
    pub context: Nullable<String>,
    /// Prompt-caching marker.
    #[serde(
        default,
        deserialize_with = "keep_null",
        skip_serializing_if = "Option::is_none"
    )]
    pub cache_control: Option<Value>,
    /// Unknown fields (`citations` …).
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

tagged_enum! {
    /// The `source` of an image or document block.
    pub enum Source {
        /// Inline base64 data.
        Base64(Base64Source) = "base64",
        /// A URL.
        Url(UrlSource) = "url",
        /// A file uploaded through the Files API.
        File(FileSource) = "file",
        /// Inline plain text (documents only).
        Text(TextSource) = "text",
    }
}

/// Inline base64 media.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Base64Source {
    /// MIME type.
    pub media_type: String,
    /// Base64 payload.
    pub data: String,
    /// Unknown fields.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// Media at a URL.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct UrlSource {
    /// The URL.
    pub url: String,
    /// Unknown fields.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// A Files API file.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FileSource {
    /// File id.
    pub file_id: String,
    /// Unknown fields.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// An inline plain-text document.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TextSource {
    /// MIME type (`text/plain`).
    #[serde(default, skip_serializing_if = "Nullable::is_absent")]
    pub media_type: Nullable<String>,
    /// The text.
    pub data: String,
    /// Unknown fields.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// A tool call.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ToolUseBlock {
    /// Call id (`toolu_…`).
    pub id: String,
    /// Tool name.
    pub name: String,
    /// The arguments object.
    pub input: Value,
    /// Prompt-caching marker.
    #[serde(
        default,
        deserialize_with = "keep_null",
        skip_serializing_if = "Option::is_none"
    )]
    pub cache_control: Option<Value>,
    /// Unknown fields.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// A tool result.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ToolResultBlock {
    /// The call this answers.
    pub tool_use_id: String,
    /// The result (absent, a string, or blocks).
    #[serde(default, skip_serializing_if = "Nullable::is_absent")]
    pub content: Nullable<ToolResultContent>,
    /// Whether the tool failed.
    #[serde(default, skip_serializing_if = "Nullable::is_absent")]
    pub is_error: Nullable<bool>,
    /// Prompt-caching marker.
    #[serde(
        default,
        deserialize_with = "keep_null",
        skip_serializing_if = "Option::is_none"
    )]
    pub cache_control: Option<Value>,
    /// Unknown fields.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// The content of a tool result.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(untagged)]
pub enum ToolResultContent {
    /// A string.
    Text(String),
    /// Text, image or document blocks.
    Blocks(Vec<ContentBlock>),
}

crate::nullable::string_or_seq_impl!(
    ToolResultContent,
    Text,
    Blocks,
    "a string or an array of content blocks"
);

/// A thinking block.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ThinkingBlock {
    /// The reasoning text.
    pub thinking: String,
    /// The signature Anthropic verifies on a later turn.
    #[serde(default, skip_serializing_if = "Nullable::is_absent")]
    pub signature: Nullable<String>,
    /// Unknown fields.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// A redacted thinking block.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RedactedThinkingBlock {
    /// Encrypted data.
    pub data: String,
    /// Unknown fields.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// A tool definition: a custom tool (no `type`, or `"custom"`) or a server / versioned tool
/// (`web_search_20250305`, `bash_20250124` …) kept verbatim.
#[derive(Debug, Clone, PartialEq)]
pub enum Tool {
    /// A client-executed tool with an input schema.
    Custom(Box<CustomTool>),
    /// A tool with another `type`, kept verbatim.
    Server(Value),
}

impl Serialize for Tool {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            Tool::Custom(t) => t.serialize(s),
            Tool::Server(v) => v.serialize(s),
        }
    }
}

impl<'de> Deserialize<'de> for Tool {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let mut value = Value::deserialize(d)?;
        let custom = match value.get("type") {
            None => true,
            Some(t) => t.as_str() == Some("custom"),
        };
        if let (true, Some(schema)) = (custom, value.get_mut("input_schema")) {
            // The schema is most of a tool (Claude Code sends 24 tools, ~60 KB of schemas): it
            // moves over instead of being decoded a second time out of the tree, which rebuilt
            // every one of its maps.
            let schema = schema.take();
            let mut tool: CustomTool = serde_json::from_value(value)
                .map_err(|e| D::Error::custom(format!("custom tool: {e}")))?;
            tool.input_schema = schema;
            Ok(Tool::Custom(Box::new(tool)))
        } else {
            Ok(Tool::Server(value))
        }
    }
}

/// A custom tool.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CustomTool {
    /// `"custom"` when the client wrote it.
    #[serde(rename = "type", default, skip_serializing_if = "Nullable::is_absent")]
    pub kind: Nullable<String>,
    /// Name.
    pub name: String,
    /// Description.
    #[serde(default, skip_serializing_if = "Nullable::is_absent")]
    pub description: Nullable<String>,
    /// JSON schema of the input (kept verbatim, `$schema` included).
    pub input_schema: Value,
    /// Strict schema adherence.
    #[serde(default, skip_serializing_if = "Nullable::is_absent")]
    pub strict: Nullable<bool>,
    /// Prompt-caching marker.
    #[serde(
        default,
        deserialize_with = "keep_null",
        skip_serializing_if = "Option::is_none"
    )]
    pub cache_control: Option<Value>,
    /// Unknown fields.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// `tool_choice`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ToolChoice {
    /// `auto`, `any`, `tool` or `none`.
    #[serde(rename = "type")]
    pub kind: String,
    /// The tool to call (`type: "tool"`).
    #[serde(default, skip_serializing_if = "Nullable::is_absent")]
    pub name: Nullable<String>,
    /// At most one tool call per turn.
    #[serde(default, skip_serializing_if = "Nullable::is_absent")]
    pub disable_parallel_tool_use: Nullable<bool>,
    /// Unknown fields.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// `thinking`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ThinkingConfig {
    /// `enabled`, `adaptive` or `disabled`.
    #[serde(rename = "type")]
    pub kind: String,
    /// Token budget (`enabled`).
    #[serde(default, skip_serializing_if = "Nullable::is_absent")]
    pub budget_tokens: Nullable<u64>,
    /// Unknown fields.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// `output_config`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct OutputConfig {
    /// Effort level (`low`, `medium`, `high`, `max`).
    #[serde(default, skip_serializing_if = "Nullable::is_absent")]
    pub effort: Nullable<String>,
    /// Structured output format.
    #[serde(default, skip_serializing_if = "Nullable::is_absent")]
    pub format: Nullable<OutputFormat>,
    /// Unknown fields.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// `output_config.format`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct OutputFormat {
    /// `json_schema`.
    #[serde(rename = "type")]
    pub kind: String,
    /// The schema.
    #[serde(default, skip_serializing_if = "Nullable::is_absent")]
    pub schema: Nullable<Value>,
    /// Unknown fields.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// `metadata`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Metadata {
    /// An end-user id; Claude Code sends a JSON document *as a string*, kept as that string.
    #[serde(default, skip_serializing_if = "Nullable::is_absent")]
    pub user_id: Nullable<String>,
    /// Unknown fields.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

// --------------------------------------------------------------------------------------- response

/// A complete response (`type: "message"`); also the `message` of a stream's `message_start`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Response {
    /// Message id (`msg_…`).
    pub id: String,
    /// `"message"`.
    #[serde(rename = "type", default = "message_type")]
    pub kind: String,
    /// `"assistant"`.
    #[serde(default = "assistant_role")]
    pub role: String,
    /// Model that answered.
    pub model: String,
    /// Output blocks.
    pub content: Vec<ContentBlock>,
    /// `end_turn`, `max_tokens`, `stop_sequence`, `tool_use`, `pause_turn`, `refusal` … (`null` while
    /// streaming).
    #[serde(default, skip_serializing_if = "Nullable::is_absent")]
    pub stop_reason: Nullable<String>,
    /// The stop sequence that matched.
    #[serde(default, skip_serializing_if = "Nullable::is_absent")]
    pub stop_sequence: Nullable<String>,
    /// Token usage.
    #[serde(default)]
    pub usage: Usage,
    /// Unknown fields (`container`, `context_management` …).
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

fn message_type() -> String {
    "message".to_owned()
}

fn assistant_role() -> String {
    "assistant".to_owned()
}

/// Token usage.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct Usage {
    /// Uncached input tokens.
    #[serde(default)]
    pub input_tokens: u64,
    /// Output tokens.
    #[serde(default)]
    pub output_tokens: u64,
    /// Input tokens written to the cache.
    #[serde(default, skip_serializing_if = "Nullable::is_absent")]
    pub cache_creation_input_tokens: Nullable<u64>,
    /// Input tokens read from the cache.
    #[serde(default, skip_serializing_if = "Nullable::is_absent")]
    pub cache_read_input_tokens: Nullable<u64>,
    /// Unknown fields (`cache_creation`, `server_tool_use`, `service_tier` …).
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

// ----------------------------------------------------------------------------------------- stream

tagged_enum! {
    /// One stream event (the `data` of one SSE event).
    pub enum StreamEvent {
        /// The message begins.
        MessageStart(MessageStart) = "message_start",
        /// A content block opens.
        ContentBlockStart(ContentBlockStart) = "content_block_start",
        /// A piece of the open block.
        ContentBlockDelta(ContentBlockDelta) = "content_block_delta",
        /// The block is complete.
        ContentBlockStop(ContentBlockStop) = "content_block_stop",
        /// Stop reason and final usage.
        MessageDelta(MessageDelta) = "message_delta",
        /// The message is complete.
        MessageStop(Empty) = "message_stop",
        /// Keep-alive.
        Ping(Empty) = "ping",
        /// An error mid-stream.
        Error(ErrorEvent) = "error",
    }
}

/// An event with no fields of its own.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct Empty {
    /// Unknown fields.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// `message_start`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MessageStart {
    /// The message, with empty content.
    pub message: Response,
    /// Unknown fields.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// `content_block_start`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ContentBlockStart {
    /// Block index.
    pub index: usize,
    /// The block, with empty text / input.
    pub content_block: ContentBlock,
    /// Unknown fields.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// `content_block_delta`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ContentBlockDelta {
    /// Block index.
    pub index: usize,
    /// The piece.
    pub delta: BlockDelta,
    /// Unknown fields.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

tagged_enum! {
    /// The `delta` of a `content_block_delta`.
    pub enum BlockDelta {
        /// Text.
        Text(TextDelta) = "text_delta",
        /// A fragment of a tool call's JSON input.
        InputJson(InputJsonDelta) = "input_json_delta",
        /// Thinking text.
        Thinking(ThinkingDelta) = "thinking_delta",
        /// The thinking block's signature.
        Signature(SignatureDelta) = "signature_delta",
    }
}

/// `text_delta`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TextDelta {
    /// Text.
    pub text: String,
    /// Unknown fields.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// `input_json_delta`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct InputJsonDelta {
    /// JSON text fragment.
    pub partial_json: String,
    /// Unknown fields.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// `thinking_delta`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ThinkingDelta {
    /// Thinking text.
    pub thinking: String,
    /// Unknown fields.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// `signature_delta`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SignatureDelta {
    /// Signature.
    pub signature: String,
    /// Unknown fields.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// `content_block_stop`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ContentBlockStop {
    /// Block index.
    pub index: usize,
    /// Unknown fields.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// `message_delta`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MessageDelta {
    /// Stop reason and sequence.
    pub delta: MessageDeltaBody,
    /// Cumulative usage.
    #[serde(default)]
    pub usage: DeltaUsage,
    /// Unknown fields.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// `message_delta.delta`.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct MessageDeltaBody {
    /// Why generation stopped.
    #[serde(default, skip_serializing_if = "Nullable::is_absent")]
    pub stop_reason: Nullable<String>,
    /// The stop sequence that matched.
    #[serde(default, skip_serializing_if = "Nullable::is_absent")]
    pub stop_sequence: Nullable<String>,
    /// Unknown fields.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// `message_delta.usage`: cumulative counts; fields other than `output_tokens` may be absent.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct DeltaUsage {
    /// Output tokens so far.
    #[serde(default, skip_serializing_if = "Nullable::is_absent")]
    pub output_tokens: Nullable<u64>,
    /// Input tokens.
    #[serde(default, skip_serializing_if = "Nullable::is_absent")]
    pub input_tokens: Nullable<u64>,
    /// Cache writes.
    #[serde(default, skip_serializing_if = "Nullable::is_absent")]
    pub cache_creation_input_tokens: Nullable<u64>,
    /// Cache reads.
    #[serde(default, skip_serializing_if = "Nullable::is_absent")]
    pub cache_read_input_tokens: Nullable<u64>,
    /// Unknown fields.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// `error` event.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ErrorEvent {
    /// The error.
    pub error: ErrorBody,
    /// Unknown fields.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// The body of an error.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ErrorBody {
    /// `overloaded_error`, `api_error` …
    #[serde(rename = "type")]
    pub kind: String,
    /// Message.
    #[serde(default)]
    pub message: String,
    /// Unknown fields.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// The answer of `POST /v1/messages/count_tokens`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CountTokensResponse {
    /// Input tokens the request would use.
    pub input_tokens: u64,
    /// Unknown fields (`context_management` …).
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

// ------------------------------------------------------------------------------------ entry points

/// Parses a Messages (or count_tokens) request body.
pub fn parse_request(body: &[u8]) -> Result<Request, serde_json::Error> {
    crate::from_body(body)
}

/// Parses a complete Messages response body.
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

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn values_round_trip() {
        let cases = [
            json!({"model":"m","messages":[{"role":"user","content":"hi"}],"max_tokens":5,"temperature":1,"top_p":0.9}),
            json!({"model":"m","messages":[{"role":"system","content":[{"type":"text","text":"a","cache_control":null}]}],"tools":[]}),
            json!({"model":"m","messages":[{"role":"assistant","content":[{"type":"server_tool_use","id":"s","name":"web_search","input":{}},{"type":"thinking","thinking":"t","signature":"s"}]}],"context_management":null}),
            json!({"model":"m","messages":[],"tools":[{"type":"web_search_20250305","name":"web_search","max_uses":5},{"name":"f","input_schema":{"$schema":"x","type":"object"},"cache_control":{"type":"ephemeral"}},{"type":"custom","name":"g","input_schema":{}}],"service_tier":"auto"}),
            json!({"model":"m","messages":[{"role":"user","content":[{"type":"image","source":{"type":"base64","media_type":"image/png","data":"AA=="}},{"type":"document","source":{"type":"text","media_type":"text/plain","data":"d"},"title":"t"},{"type":"document","source":{"type":"content","content":[]}},{"type":"tool_result","tool_use_id":"x","content":[{"type":"text","text":"r"},{"type":"image","source":{"type":"url","url":"u"}}],"is_error":true}]}]}),
            // explicit nulls on nested optional fields
            json!({"model":"m","messages":[{"role":"user","content":[{"type":"document","source":{"type":"text","media_type":null,"data":"d"},"title":null,"context":null},{"type":"tool_result","tool_use_id":"x","content":null,"is_error":null}]},{"role":"assistant","content":[{"type":"thinking","thinking":"t","signature":null}]}],"tools":[{"name":"f","description":null,"input_schema":{},"strict":null}],"tool_choice":{"type":"tool","name":"f","disable_parallel_tool_use":null},"thinking":{"type":"enabled","budget_tokens":null},"output_config":{"effort":null,"format":{"type":"json_schema","schema":null}},"metadata":{"user_id":null}}),
        ];
        for case in cases {
            let req = parse_request(case.to_string().as_bytes()).unwrap();
            assert_eq!(req.to_json(), case);
        }
    }

    #[test]
    fn tagged_blocks_decode_the_same_whichever_key_comes_first() {
        let from_bytes = |v: &Value| -> ContentBlock {
            serde_json::from_slice(v.to_string().as_bytes()).unwrap()
        };
        let from_value = |v: &Value| -> ContentBlock { serde_json::from_value(v.clone()).unwrap() };
        // `type` first (decoded straight from the input) and last (collected first): one result
        let first: Value = serde_json::from_str(
            r#"{"type":"text","text":"hi","cache_control":null,"citations":[{"a":1}]}"#,
        )
        .unwrap();
        let last: Value = serde_json::from_str(
            r#"{"text":"hi","cache_control":null,"citations":[{"a":1}],"type":"text"}"#,
        )
        .unwrap();
        for v in [&first, &last] {
            for block in [from_bytes(v), from_value(v)] {
                let ContentBlock::Text(text) = &block else {
                    panic!("{block:?}")
                };
                assert_eq!(text.text, "hi");
                assert_eq!(text.cache_control, Some(Value::Null));
                assert_eq!(text.extra["citations"], json!([{"a": 1}]));
            }
        }
        // a block inside a block (tool_result content, image source), `type` first
        let nested = json!({"type":"tool_result","tool_use_id":"t","content":[
            {"type":"image","source":{"type":"base64","media_type":"image/png","data":"AA=="}}]});
        let ContentBlock::ToolResult(result) = from_bytes(&nested) else {
            panic!()
        };
        assert_eq!(
            serde_json::to_value(&result.content).unwrap(),
            nested["content"]
        );
    }

    #[test]
    fn unknown_and_shapeless_blocks_are_kept_verbatim() {
        let cases = [
            json!({"type":"server_tool_use","id":"s","name":"web_search","input":{"q":[1,2.5,null,true]}}),
            json!({"id":"s","type":"mcp_tool_use"}),
            json!({"type":7,"text":"x"}),
            json!({"text":"no type"}),
            json!({}),
            json!("a string"),
            json!([1, {"type": "text"}]),
            json!(3),
            json!(-3),
            json!(2.5),
            json!(false),
            json!(null),
        ];
        for case in cases {
            let block: ContentBlock = serde_json::from_slice(case.to_string().as_bytes()).unwrap();
            assert_eq!(block, ContentBlock::Unknown(case.clone()), "{case}");
            assert_eq!(serde_json::to_value(&block).unwrap(), case);
        }
    }

    #[test]
    fn a_known_block_of_the_wrong_shape_is_an_error_with_a_position() {
        for body in [
            r#"{"type":"text"}"#,
            r#"{"type":"text","text":5}"#,
            r#"{"text":5,"type":"text"}"#,
        ] {
            let err = serde_json::from_str::<ContentBlock>(body).unwrap_err();
            assert!(err.is_data(), "{body}: {err}");
            assert!(err.column() > 0, "{body}: {err}");
            let text = err.to_string();
            assert!(
                text.contains("missing field `text`") || text.contains("invalid type"),
                "{body}: {text}"
            );
        }
        // with `type` first (how blocks are written) a repeated field is an error, as in every
        // typed struct here; so is a repeated `type` (it would otherwise be dropped on re-encoding)
        for body in [
            r#"{"type":"text","text":"a","text":"b"}"#,
            r#"{"type":"text","text":"a","type":"mcp_tool_use"}"#,
        ] {
            let err = serde_json::from_str::<ContentBlock>(body).unwrap_err();
            assert!(err.to_string().contains("duplicate field"), "{body}: {err}");
        }
        // invalid JSON inside a block stays a syntax error
        let err =
            serde_json::from_str::<ContentBlock>(r#"{"type":"text","text":"a",}"#).unwrap_err();
        assert!(err.is_syntax(), "{err}");
    }

    #[test]
    fn response_round_trips_with_nulls() {
        let v = json!({"id":"msg_1","type":"message","role":"assistant","model":"m","content":[{"type":"text","text":"x","citations":null}],"stop_reason":null,"stop_sequence":null,"usage":{"input_tokens":1,"output_tokens":2,"cache_creation":{"ephemeral_5m_input_tokens":0},"service_tier":"standard"}});
        let resp = parse_response(v.to_string().as_bytes()).unwrap();
        assert_eq!(resp.to_json(), v);
        let v = json!({"id":"msg_1","type":"message","role":"assistant","model":"m","content":[],"stop_reason":"end_turn","stop_sequence":null,"usage":{"input_tokens":1,"output_tokens":2,"cache_creation_input_tokens":null,"cache_read_input_tokens":null}});
        let resp = parse_response(v.to_string().as_bytes()).unwrap();
        assert_eq!(resp.to_json(), v);
    }

    #[test]
    fn count_tokens_response() {
        let v =
            json!({"input_tokens": 2095, "context_management": {"original_input_tokens": 2100}});
        let parsed: CountTokensResponse = serde_json::from_value(v.clone()).unwrap();
        assert_eq!(parsed.input_tokens, 2095);
        assert_eq!(serde_json::to_value(&parsed).unwrap(), v);
    }

    #[test]
    fn message_delta_keeps_absent_and_null_apart() {
        for v in [
            json!({"type":"message_delta","delta":{"stop_reason":"end_turn"},"usage":{"output_tokens":1}}),
            json!({"type":"message_delta","delta":{"stop_reason":null,"stop_sequence":null},"usage":{}}),
        ] {
            let ev: StreamEvent = serde_json::from_value(v.clone()).unwrap();
            assert_eq!(serde_json::to_value(&ev).unwrap(), v);
        }
    }

    #[test]
    fn unknown_event_and_delta_are_kept() {
        let cases = [
            (
                json!({"type":"content_block_delta","index":0,"delta":{"type":"citations_delta","citation":{}}}),
                Some("content_block_delta"),
            ),
            (json!({"type":"brand_new","x":1}), Some("brand_new")),
            (json!({"type":"ping"}), Some("ping")),
        ];
        for (v, tag) in cases {
            let ev: StreamEvent = serde_json::from_value(v.clone()).unwrap();
            assert_eq!(ev.type_name(), tag);
            assert_eq!(serde_json::to_value(&ev).unwrap(), v);
        }
    }
}
