//! Anthropic Messages ⇄ canonical, for requests and complete responses.

use std::fmt;

use serde_json::{Map, Number, Value};

use super::wire::{
    Base64Source, Content, ContentBlock, CustomTool, DocumentBlock, FileSource, ImageBlock,
    Message, Metadata, Nullable, OutputConfig, OutputFormat, RedactedThinkingBlock, Request,
    Response, Role, Source, System, TextBlock, TextSource, ThinkingBlock, ThinkingConfig, Tool,
    ToolChoice, ToolResultBlock, ToolResultContent, ToolUseBlock, UrlSource, Usage,
};
use crate::canonical::{self, Lossy, LossyNotes, MediaSource, Part, Signature};
use crate::Dialect;

/// Reports every key of `extra` as dropped under `path`.
fn note_extra(extra: &Map<String, Value>, path: At<'_>, notes: &mut LossyNotes) {
    for key in extra.keys() {
        notes.push(Lossy::dropped(At::Key(&path, key).to_string()));
    }
}

/// Where a block sits in a request or answer (`messages[3].content[0]`), written out only when a
/// note names it. Formatting the path of every message and block up front cost a `format!` each
/// on every request (three of the five on a 2 KB request's path; hundreds on a Claude Code
/// session's), for notes that are almost never taken.
#[derive(Clone, Copy)]
enum At<'a> {
    /// A top-level field (`""`: the request or answer itself).
    Root(&'static str),
    /// `parent[index]`.
    Index(&'a At<'a>, usize),
    /// `parent.key` (`key` alone under `Root("")`).
    Key(&'a At<'a>, &'a str),
}

impl fmt::Display for At<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            At::Root(name) => f.write_str(name),
            At::Index(parent, index) => write!(f, "{parent}[{index}]"),
            At::Key(At::Root(""), key) => f.write_str(key),
            At::Key(parent, key) => write!(f, "{parent}.{key}"),
        }
    }
}

/// A present, non-null `cache_control`.
fn cache(value: Option<Value>) -> Option<Value> {
    value.filter(|v| !v.is_null())
}

// ---------------------------------------------------------------------------------------- request

/// Converts a Messages request to canonical form, noting what has no canonical slot. The
/// canonical request is made of a copy of the request's text, schemas and values; when the typed
/// request is no longer needed, [`request_into_canonical`] moves them instead.
pub fn request_to_canonical(req: &Request, notes: &mut LossyNotes) -> canonical::Request {
    request_into_canonical(req.clone(), notes)
}

/// [`request_to_canonical`], moving the request's strings and JSON values into the canonical
/// request instead of copying them: on a 200 KB Claude Code request (24 tool schemas, a session's
/// Read results) the copies were most of the conversion's time.
pub fn request_into_canonical(req: Request, notes: &mut LossyNotes) -> canonical::Request {
    let mut out = canonical::Request {
        model: req.model,
        max_tokens: req.max_tokens.as_option().copied(),
        temperature: req.temperature.as_option().and_then(Number::as_f64),
        top_p: req.top_p.as_option().and_then(Number::as_f64),
        top_k: req.top_k.as_option().copied(),
        stop: req.stop_sequences.into_option().unwrap_or_default(),
        stream: req.stream.as_option().copied().unwrap_or(false),
        ..canonical::Request::default()
    };

    match req.system.into_option() {
        None => {}
        Some(System::Text(text)) => out.system.push(canonical::SystemPart {
            text,
            cache_control: None,
        }),
        Some(System::Blocks(blocks)) => {
            for (i, block) in blocks.into_iter().enumerate() {
                let path = At::Index(&At::Root("system"), i);
                match block {
                    ContentBlock::Text(t) => {
                        note_extra(&t.extra, path, notes);
                        out.system.push(canonical::SystemPart {
                            text: t.text,
                            cache_control: cache(t.cache_control),
                        });
                    }
                    _ => notes.push(Lossy::dropped(path.to_string())),
                }
            }
        }
    }

    out.messages.reserve_exact(req.messages.len());
    for (i, msg) in req.messages.into_iter().enumerate() {
        let path = At::Index(&At::Root("messages"), i);
        note_extra(&msg.extra, path, notes);
        let role = match msg.role {
            Role::User => canonical::Role::User,
            Role::Assistant => canonical::Role::Assistant,
            Role::System => canonical::Role::System,
        };
        let content = match msg.content {
            Content::Text(text) => vec![Part::Text {
                text,
                cache_control: None,
            }],
            Content::Blocks(blocks) => blocks_to_parts(blocks, At::Key(&path, "content"), notes),
        };
        out.messages.push(canonical::Message { role, content });
    }

    if let Some(tools) = req.tools.into_option() {
        out.tools.reserve_exact(tools.len());
        for (i, tool) in tools.into_iter().enumerate() {
            match tool {
                Tool::Custom(t) => {
                    note_extra(&t.extra, At::Index(&At::Root("tools"), i), notes);
                    out.tools
                        .push(canonical::Tool::Function(canonical::FunctionTool {
                            name: t.name,
                            description: t.description.into_option(),
                            parameters: t.input_schema,
                            strict: t.strict.as_option().copied(),
                            cache_control: cache(t.cache_control),
                        }));
                }
                Tool::Server(raw) => out.tools.push(canonical::Tool::Native {
                    dialect: Dialect::Anthropic,
                    raw,
                }),
            }
        }
    }

    if let Some(choice) = req.tool_choice.into_option() {
        note_extra(&choice.extra, At::Root("tool_choice"), notes);
        out.tool_choice = match choice.kind.as_str() {
            "auto" => Some(canonical::ToolChoice::Auto),
            "any" => Some(canonical::ToolChoice::Required),
            "none" => Some(canonical::ToolChoice::None),
            "tool" => match choice.name.into_option() {
                Some(name) => Some(canonical::ToolChoice::Tool(name)),
                None => {
                    notes.push(Lossy::dropped("tool_choice"));
                    None
                }
            },
            _ => {
                notes.push(Lossy::dropped("tool_choice"));
                None
            }
        };
        out.parallel_tool_calls = choice.disable_parallel_tool_use.as_option().map(|d| !d);
    }

    if let Some(thinking) = req.thinking.as_option() {
        note_extra(&thinking.extra, At::Root("thinking"), notes);
        out.thinking = match thinking.kind.as_str() {
            "enabled" => Some(canonical::ThinkingConfig::Enabled {
                budget_tokens: thinking.budget_tokens.as_option().copied(),
            }),
            "adaptive" => Some(canonical::ThinkingConfig::Adaptive),
            "disabled" => Some(canonical::ThinkingConfig::Disabled),
            _ => {
                notes.push(Lossy::dropped("thinking"));
                None
            }
        };
    }

    if let Some(config) = req.output_config.into_option() {
        note_extra(&config.extra, At::Root("output_config"), notes);
        out.reasoning_effort = config.effort.into_option();
        if let Some(format) = config.format.into_option() {
            note_extra(
                &format.extra,
                At::Key(&At::Root("output_config"), "format"),
                notes,
            );
            match (format.kind.as_str(), format.schema.into_option()) {
                ("json_schema", Some(schema)) => {
                    out.response_format = Some(canonical::ResponseFormat::JsonSchema {
                        name: None,
                        schema,
                        strict: None,
                    });
                }
                _ => notes.push(Lossy::dropped("output_config.format")),
            }
        }
    }

    if let Some(metadata) = req.metadata.into_option() {
        note_extra(&metadata.extra, At::Root("metadata"), notes);
        out.user = metadata.user_id.into_option();
    }

    if !req.context_management.is_absent() {
        notes.push(Lossy::dropped("context_management"));
    }
    note_extra(&req.extra, At::Root(""), notes);
    out
}

/// Converts content blocks to canonical parts; blocks with no canonical counterpart (server tool
/// blocks, search results …) are noted as dropped.
fn blocks_to_parts(blocks: Vec<ContentBlock>, path: At<'_>, notes: &mut LossyNotes) -> Vec<Part> {
    let mut parts = Vec::with_capacity(blocks.len());
    for (j, block) in blocks.into_iter().enumerate() {
        if let Some(part) = block_to_part(block, At::Index(&path, j), notes) {
            parts.push(part);
        }
    }
    parts
}

fn source_to_canonical(
    source: Source,
    path: At<'_>,
    notes: &mut LossyNotes,
) -> Option<MediaSource> {
    let path = At::Key(&path, "source");
    match source {
        Source::Base64(s) => {
            note_extra(&s.extra, path, notes);
            Some(MediaSource::Base64 {
                media_type: s.media_type,
                data: s.data,
            })
        }
        Source::Url(s) => {
            note_extra(&s.extra, path, notes);
            Some(MediaSource::Url(s.url))
        }
        Source::File(s) => {
            note_extra(&s.extra, path, notes);
            Some(MediaSource::FileId(s.file_id))
        }
        Source::Text(s) => {
            note_extra(&s.extra, path, notes);
            Some(MediaSource::Text(s.data))
        }
        // the caller notes the whole block as dropped
        Source::Unknown(_) => None,
    }
}

fn block_to_part(block: ContentBlock, path: At<'_>, notes: &mut LossyNotes) -> Option<Part> {
    match block {
        ContentBlock::Text(t) => {
            note_extra(&t.extra, path, notes);
            Some(Part::Text {
                text: t.text,
                cache_control: cache(t.cache_control),
            })
        }
        ContentBlock::Image(b) => {
            note_extra(&b.extra, path, notes);
            let source = match source_to_canonical(b.source, path, notes) {
                Some(source) => source,
                None => {
                    notes.push(Lossy::dropped(path.to_string()));
                    return None;
                }
            };
            Some(Part::Image {
                source,
                detail: None,
                cache_control: cache(b.cache_control),
            })
        }
        ContentBlock::Document(b) => {
            note_extra(&b.extra, path, notes);
            if b.context.as_option().is_some() {
                notes.push(Lossy::dropped(At::Key(&path, "context").to_string()));
            }
            let source = match source_to_canonical(b.source, path, notes) {
                Some(source) => source,
                None => {
                    notes.push(Lossy::dropped(path.to_string()));
                    return None;
                }
            };
            Some(Part::Document {
                source,
                title: b.title.into_option(),
                cache_control: cache(b.cache_control),
            })
        }
        ContentBlock::ToolUse(b) => {
            note_extra(&b.extra, path, notes);
            Some(Part::ToolUse {
                id: b.id,
                name: b.name,
                arguments: compact(&b.input),
                cache_control: cache(b.cache_control),
            })
        }
        ContentBlock::ToolResult(b) => {
            note_extra(&b.extra, path, notes);
            let content = match b.content.into_option() {
                None => canonical::ToolResultContent::Parts(Vec::new()),
                Some(ToolResultContent::Text(s)) => canonical::ToolResultContent::Text(s),
                Some(ToolResultContent::Blocks(blocks)) => canonical::ToolResultContent::Parts(
                    blocks_to_parts(blocks, At::Key(&path, "content"), notes),
                ),
            };
            Some(Part::ToolResult {
                tool_use_id: b.tool_use_id,
                content,
                is_error: b.is_error.as_option().copied().unwrap_or(false),
                cache_control: cache(b.cache_control),
            })
        }
        ContentBlock::Thinking(b) => {
            note_extra(&b.extra, path, notes);
            Some(Part::Thinking {
                text: b.thinking,
                signature: b
                    .signature
                    .into_option()
                    .filter(|s| !s.is_empty())
                    .map(|value| Signature {
                        dialect: Dialect::Anthropic,
                        value,
                    }),
            })
        }
        ContentBlock::RedactedThinking(b) => {
            note_extra(&b.extra, path, notes);
            Some(Part::RedactedThinking {
                data: b.data,
                dialect: Dialect::Anthropic,
            })
        }
        ContentBlock::Unknown(_) => {
            notes.push(Lossy::dropped(path.to_string()));
            None
        }
    }
}

/// Compact JSON text of a tool `input` object.
fn compact(value: &Value) -> String {
    serde_json::to_string(value).unwrap_or_else(|_| "{}".to_owned())
}

/// Converts a canonical request to a Messages request, noting what Anthropic cannot express.
///
/// `max_tokens` stays absent when the canonical request has none (count_tokens needs none; a caller
/// sending to `/v1/messages` must supply a default).
pub fn request_from_canonical(req: &canonical::Request, notes: &mut LossyNotes) -> Request {
    let system = if req.system.is_empty() {
        None
    } else if req.system.len() == 1 && req.system[0].cache_control.is_none() {
        Some(System::Text(req.system[0].text.clone()))
    } else {
        Some(System::Blocks(
            req.system
                .iter()
                .map(|p| {
                    ContentBlock::Text(TextBlock {
                        text: p.text.clone(),
                        cache_control: p.cache_control.clone(),
                        extra: Map::new(),
                    })
                })
                .collect(),
        ))
    };

    let mut messages = Vec::with_capacity(req.messages.len());
    for (i, msg) in req.messages.iter().enumerate() {
        let path = At::Index(&At::Root("messages"), i);
        let role = match msg.role {
            canonical::Role::User => Role::User,
            canonical::Role::Assistant => Role::Assistant,
            canonical::Role::System => Role::System,
            canonical::Role::Developer => {
                notes.push(Lossy::approximated(At::Key(&path, "role").to_string()));
                Role::System
            }
        };
        let blocks = parts_to_blocks(&msg.content, At::Key(&path, "content"), true, notes);
        messages.push(Message {
            role,
            content: Content::Blocks(blocks),
            extra: Map::new(),
        });
    }

    let mut tools = Vec::with_capacity(req.tools.len());
    for (i, tool) in req.tools.iter().enumerate() {
        match tool {
            canonical::Tool::Function(f) => tools.push(Tool::Custom(Box::new(CustomTool {
                kind: Nullable::Absent,
                name: f.name.clone(),
                description: Nullable::from_option(f.description.clone()),
                input_schema: f.parameters.clone(),
                strict: Nullable::from_option(f.strict),
                cache_control: f.cache_control.clone(),
                extra: Map::new(),
            }))),
            canonical::Tool::Native {
                dialect: Dialect::Anthropic,
                raw,
            } => tools.push(
                serde_json::from_value(raw.clone()).unwrap_or_else(|_| Tool::Server(raw.clone())),
            ),
            canonical::Tool::Native { .. } => notes.push(Lossy::dropped(format!("tools[{i}]"))),
        }
    }

    let disable_parallel = req.parallel_tool_calls.map(|p| !p);
    let tool_choice = match (&req.tool_choice, disable_parallel) {
        // a bare `disable_parallel_tool_use` needs a choice to ride on, and a choice needs tools
        (None, None) | (None, Some(false)) => None,
        (None, Some(true)) if tools.is_empty() => None,
        (choice, disable) => {
            let (kind, name) = match choice {
                None | Some(canonical::ToolChoice::Auto) => ("auto", None),
                Some(canonical::ToolChoice::None) => ("none", None),
                Some(canonical::ToolChoice::Required) => ("any", None),
                Some(canonical::ToolChoice::Tool(n)) => ("tool", Some(n.clone())),
            };
            Some(ToolChoice {
                kind: kind.to_owned(),
                name: Nullable::from_option(name),
                // `none` does not take the flag.
                disable_parallel_tool_use: Nullable::from_option(if kind == "none" {
                    None
                } else {
                    disable
                }),
                extra: Map::new(),
            })
        }
    };

    let thinking = req.thinking.as_ref().map(|t| match t {
        canonical::ThinkingConfig::Enabled {
            budget_tokens: Some(budget),
        } => thinking_config("enabled", Some(*budget)),
        canonical::ThinkingConfig::Enabled {
            budget_tokens: None,
        } => {
            notes.push(Lossy::approximated("thinking"));
            thinking_config("adaptive", None)
        }
        canonical::ThinkingConfig::Adaptive => thinking_config("adaptive", None),
        canonical::ThinkingConfig::Disabled => thinking_config("disabled", None),
    });

    let effort = req.reasoning_effort.as_deref().and_then(|e| match e {
        "low" | "medium" | "high" | "max" => Some(e.to_owned()),
        "minimal" => {
            notes.push(Lossy::approximated("reasoning_effort"));
            Some("low".to_owned())
        }
        "xhigh" => {
            notes.push(Lossy::approximated("reasoning_effort"));
            Some("max".to_owned())
        }
        _ => {
            notes.push(Lossy::dropped("reasoning_effort"));
            None
        }
    });
    let format = match &req.response_format {
        None | Some(canonical::ResponseFormat::Text) => None,
        Some(canonical::ResponseFormat::JsonObject) => {
            notes.push(Lossy::approximated("response_format"));
            Some(OutputFormat {
                kind: "json_schema".to_owned(),
                schema: Nullable::Value(serde_json::json!({"type": "object"})),
                extra: Map::new(),
            })
        }
        Some(canonical::ResponseFormat::JsonSchema {
            name,
            schema,
            strict,
        }) => {
            if name.is_some() {
                notes.push(Lossy::dropped("response_format.name"));
            }
            if strict.is_some() {
                notes.push(Lossy::dropped("response_format.strict"));
            }
            Some(OutputFormat {
                kind: "json_schema".to_owned(),
                schema: Nullable::Value(schema.clone()),
                extra: Map::new(),
            })
        }
    };
    let output_config = (effort.is_some() || format.is_some()).then(|| OutputConfig {
        effort: Nullable::from_option(effort),
        format: Nullable::from_option(format),
        extra: Map::new(),
    });

    Request {
        model: req.model.clone(),
        messages,
        max_tokens: Nullable::from_option(req.max_tokens),
        system: Nullable::from_option(system),
        tools: Nullable::from_option((!tools.is_empty()).then_some(tools)),
        tool_choice: Nullable::from_option(tool_choice),
        thinking: Nullable::from_option(thinking),
        output_config: Nullable::from_option(output_config),
        metadata: Nullable::from_option(req.user.as_ref().map(|u| Metadata {
            user_id: Nullable::Value(u.clone()),
            extra: Map::new(),
        })),
        stop_sequences: Nullable::from_option((!req.stop.is_empty()).then(|| req.stop.clone())),
        temperature: Nullable::from_option(req.temperature.and_then(Number::from_f64)),
        top_p: Nullable::from_option(req.top_p.and_then(Number::from_f64)),
        top_k: Nullable::from_option(req.top_k),
        stream: Nullable::from_option(req.stream.then_some(true)),
        context_management: Nullable::Absent,
        extra: Map::new(),
    }
}

fn thinking_config(kind: &str, budget_tokens: Option<u64>) -> ThinkingConfig {
    ThinkingConfig {
        kind: kind.to_owned(),
        budget_tokens: Nullable::from_option(budget_tokens),
        extra: Map::new(),
    }
}

fn source_from_canonical(source: &MediaSource, image: bool) -> Option<Source> {
    Some(match source {
        MediaSource::Base64 { media_type, data } => Source::Base64(Base64Source {
            media_type: media_type.clone(),
            data: data.clone(),
            extra: Map::new(),
        }),
        MediaSource::Url(url) => Source::Url(UrlSource {
            url: url.clone(),
            extra: Map::new(),
        }),
        MediaSource::FileId(file_id) => Source::File(FileSource {
            file_id: file_id.clone(),
            extra: Map::new(),
        }),
        MediaSource::Text(_) if image => return None,
        MediaSource::Text(data) => Source::Text(TextSource {
            media_type: Nullable::Value("text/plain".to_owned()),
            data: data.clone(),
            extra: Map::new(),
        }),
    })
}

/// Converts canonical parts to content blocks. `request` selects request rules: a thinking block
/// without an Anthropic signature cannot be sent back to Anthropic and is dropped (noted); in a
/// response it is kept with an empty signature.
fn parts_to_blocks(
    parts: &[Part],
    parent: At<'_>,
    request: bool,
    notes: &mut LossyNotes,
) -> Vec<ContentBlock> {
    let mut blocks = Vec::with_capacity(parts.len());
    for (j, part) in parts.iter().enumerate() {
        let path = At::Index(&parent, j);
        match part {
            Part::Text {
                text,
                cache_control,
            } => blocks.push(ContentBlock::Text(TextBlock {
                text: text.clone(),
                cache_control: cache_control.clone(),
                extra: Map::new(),
            })),
            Part::Image {
                source,
                detail,
                cache_control,
            } => {
                if detail.is_some() {
                    notes.push(Lossy::dropped(At::Key(&path, "detail").to_string()));
                }
                match source_from_canonical(source, true) {
                    Some(source) => blocks.push(ContentBlock::Image(ImageBlock {
                        source,
                        cache_control: cache_control.clone(),
                        extra: Map::new(),
                    })),
                    None => notes.push(Lossy::dropped(path.to_string())),
                }
            }
            Part::Document {
                source,
                title,
                cache_control,
            } => match source_from_canonical(source, false) {
                Some(source) => blocks.push(ContentBlock::Document(DocumentBlock {
                    source,
                    title: Nullable::from_option(title.clone()),
                    context: Nullable::Absent,
                    cache_control: cache_control.clone(),
                    extra: Map::new(),
                })),
                None => notes.push(Lossy::dropped(path.to_string())),
            },
            Part::ToolUse {
                id,
                name,
                arguments,
                cache_control,
            } => {
                let input = if arguments.trim().is_empty() {
                    Value::Object(Map::new())
                } else {
                    match serde_json::from_str::<Value>(arguments) {
                        Ok(v @ Value::Object(_)) => v,
                        _ => {
                            notes
                                .push(Lossy::approximated(At::Key(&path, "arguments").to_string()));
                            Value::Object(Map::new())
                        }
                    }
                };
                blocks.push(ContentBlock::ToolUse(ToolUseBlock {
                    id: id.clone(),
                    name: name.clone(),
                    input,
                    cache_control: cache_control.clone(),
                    extra: Map::new(),
                }));
            }
            Part::ToolResult {
                tool_use_id,
                content,
                is_error,
                cache_control,
            } => {
                let content = match content {
                    canonical::ToolResultContent::Text(s) => {
                        Some(ToolResultContent::Text(s.clone()))
                    }
                    canonical::ToolResultContent::Parts(parts) if parts.is_empty() => None,
                    canonical::ToolResultContent::Parts(parts) => Some(ToolResultContent::Blocks(
                        parts_to_blocks(parts, At::Key(&path, "content"), request, notes),
                    )),
                };
                blocks.push(ContentBlock::ToolResult(ToolResultBlock {
                    tool_use_id: tool_use_id.clone(),
                    content: Nullable::from_option(content),
                    is_error: Nullable::from_option(is_error.then_some(true)),
                    cache_control: cache_control.clone(),
                    extra: Map::new(),
                }));
            }
            Part::Thinking { text, signature } => {
                let signature = match signature {
                    Some(Signature {
                        dialect: Dialect::Anthropic,
                        value,
                    }) => Some(value.clone()),
                    Some(_) => {
                        notes.push(Lossy::dropped(At::Key(&path, "signature").to_string()));
                        None
                    }
                    None => None,
                };
                match signature {
                    Some(sig) => blocks.push(thinking_block(text, sig)),
                    // Anthropic rejects an unsigned thinking block in a request.
                    None if request => notes.push(Lossy::dropped(path.to_string())),
                    None => blocks.push(thinking_block(text, String::new())),
                }
            }
            Part::RedactedThinking {
                data,
                dialect: Dialect::Anthropic,
            } => blocks.push(ContentBlock::RedactedThinking(RedactedThinkingBlock {
                data: data.clone(),
                extra: Map::new(),
            })),
            Part::RedactedThinking { .. } => notes.push(Lossy::dropped(path.to_string())),
        }
    }
    blocks
}

fn thinking_block(text: &str, signature: String) -> ContentBlock {
    ContentBlock::Thinking(ThinkingBlock {
        thinking: text.to_owned(),
        signature: Nullable::Value(signature),
        extra: Map::new(),
    })
}

// --------------------------------------------------------------------------------------- response

/// Maps an Anthropic `stop_reason` to canonical.
pub(crate) fn stop_reason_to_canonical(reason: &str) -> canonical::StopReason {
    match reason {
        "end_turn" => canonical::StopReason::EndTurn,
        "max_tokens" => canonical::StopReason::MaxTokens,
        "stop_sequence" => canonical::StopReason::StopSequence,
        "tool_use" => canonical::StopReason::ToolUse,
        "pause_turn" => canonical::StopReason::PauseTurn,
        "refusal" => canonical::StopReason::Refusal,
        other => canonical::StopReason::Other(other.to_owned()),
    }
}

/// Maps a canonical stop reason to Anthropic's vocabulary (a content filter becomes `refusal`).
pub(crate) fn stop_reason_from_canonical(reason: &canonical::StopReason) -> String {
    match reason {
        canonical::StopReason::EndTurn => "end_turn",
        canonical::StopReason::MaxTokens => "max_tokens",
        canonical::StopReason::StopSequence => "stop_sequence",
        canonical::StopReason::ToolUse => "tool_use",
        canonical::StopReason::PauseTurn => "pause_turn",
        canonical::StopReason::Refusal | canonical::StopReason::ContentFilter => "refusal",
        canonical::StopReason::Other(s) => s,
    }
    .to_owned()
}

/// Canonical usage from Anthropic usage.
pub(crate) fn usage_to_canonical(usage: &Usage) -> canonical::Usage {
    canonical::Usage {
        input_tokens: usage.input_tokens,
        output_tokens: usage.output_tokens,
        cache_read_input_tokens: usage.cache_read_input_tokens.as_option().copied(),
        cache_creation_input_tokens: usage.cache_creation_input_tokens.as_option().copied(),
        reasoning_tokens: None,
    }
}

/// Anthropic usage from canonical usage (reasoning tokens are part of output tokens already).
pub(crate) fn usage_from_canonical(usage: &canonical::Usage) -> Usage {
    Usage {
        input_tokens: usage.input_tokens,
        output_tokens: usage.output_tokens,
        cache_creation_input_tokens: Nullable::from_option(usage.cache_creation_input_tokens),
        cache_read_input_tokens: Nullable::from_option(usage.cache_read_input_tokens),
        extra: Map::new(),
    }
}

/// Converts a Messages response to canonical form.
pub fn response_to_canonical(resp: &Response, notes: &mut LossyNotes) -> canonical::Response {
    note_extra(&resp.extra, At::Root(""), notes);
    note_extra(&resp.usage.extra, At::Root("usage"), notes);
    canonical::Response {
        id: resp.id.clone(),
        model: resp.model.clone(),
        content: blocks_to_parts(resp.content.clone(), At::Root("content"), notes),
        stop_reason: resp
            .stop_reason
            .as_option()
            .map(|r| stop_reason_to_canonical(r)),
        stop_sequence: resp.stop_sequence.as_option().cloned(),
        usage: usage_to_canonical(&resp.usage),
    }
}

/// Converts a canonical response to a Messages response.
pub fn response_from_canonical(resp: &canonical::Response, notes: &mut LossyNotes) -> Response {
    if resp.usage.reasoning_tokens.is_some() {
        notes.push(Lossy::dropped("usage.reasoning_tokens"));
    }
    if resp.stop_reason == Some(canonical::StopReason::ContentFilter) {
        notes.push(Lossy::approximated("stop_reason"));
    }
    Response {
        id: resp.id.clone(),
        kind: "message".to_owned(),
        role: "assistant".to_owned(),
        model: resp.model.clone(),
        content: parts_to_blocks(&resp.content, At::Root("content"), false, notes),
        stop_reason: Nullable::or_null(resp.stop_reason.as_ref().map(stop_reason_from_canonical)),
        stop_sequence: Nullable::or_null(resp.stop_sequence.clone()),
        usage: usage_from_canonical(&resp.usage),
        extra: Map::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::anthropic::{parse_request, parse_response};
    use serde_json::json;

    fn paths(notes: &LossyNotes) -> Vec<&str> {
        notes.iter().map(|n| n.path.as_str()).collect()
    }

    #[test]
    fn a_path_is_written_out_as_the_notes_always_named_it() {
        let messages = At::Root("messages");
        let message = At::Index(&messages, 2);
        let content = At::Key(&message, "content");
        let block = At::Index(&content, 0);
        let inner = At::Key(&block, "content");
        assert_eq!(
            At::Index(&inner, 1).to_string(),
            "messages[2].content[0].content[1]"
        );
        assert_eq!(
            At::Key(&At::Index(&inner, 1), "source").to_string(),
            "messages[2].content[0].content[1].source"
        );
        // an answer's blocks, and a key of the request itself
        assert_eq!(At::Index(&At::Root("content"), 3).to_string(), "content[3]");
        assert_eq!(
            At::Key(&At::Root(""), "service_tier").to_string(),
            "service_tier"
        );
        // a nested tool result's unknown field, end to end
        let request = json!({
            "model": "m", "max_tokens": 5,
            "messages": [{"role": "user", "content": [{
                "type": "tool_result", "tool_use_id": "t1",
                "content": [{"type": "text", "text": "ok", "citations": []}]
            }]}]
        });
        let mut notes = LossyNotes::new();
        let parsed = parse_request(&serde_json::to_vec(&request).unwrap()).unwrap();
        let _ = request_to_canonical(&parsed, &mut notes);
        assert_eq!(
            paths(&notes),
            vec!["messages[0].content[0].content[0].citations"]
        );
    }

    #[test]
    fn request_lossy_paths() {
        let cases = [
            (
                json!({"model":"m","messages":[],"context_management":{"edits":[]},"service_tier":"auto"}),
                vec!["context_management", "service_tier"],
            ),
            (
                json!({"model":"m","messages":[{"role":"assistant","content":[{"type":"text","text":"a"},{"type":"server_tool_use","id":"x","name":"web_search","input":{}}]}]}),
                vec!["messages[0].content[1]"],
            ),
            (
                json!({"model":"m","messages":[{"role":"user","content":[{"type":"document","source":{"type":"text","media_type":"text/plain","data":"d"},"context":"c","citations":{"enabled":true}}]}]}),
                vec![
                    "messages[0].content[0].citations",
                    "messages[0].content[0].context",
                ],
            ),
            (
                json!({"model":"m","messages":[],"metadata":{"user_id":"u","other":1},"tools":[{"name":"f","input_schema":{},"defer_loading":true}]}),
                vec!["tools[0].defer_loading", "metadata.other"],
            ),
            (
                json!({"model":"m","messages":[],"system":"s","temperature":0.5}),
                vec![],
            ),
            (
                json!({"model":"m","messages":[{"role":"user","content":[{"type":"document","source":{"type":"content","content":[]}}]}]}),
                vec!["messages[0].content[0]"],
            ),
        ];
        for (body, expected) in cases {
            let req = parse_request(body.to_string().as_bytes()).unwrap();
            let mut notes = Vec::new();
            request_to_canonical(&req, &mut notes);
            assert_eq!(paths(&notes), expected, "{body}");
        }
    }

    #[test]
    fn request_fields_map() {
        let body = json!({
            "model":"m","max_tokens":10,"temperature":1,"top_p":0.5,"top_k":3,"stop_sequences":["x"],"stream":true,
            "system":[{"type":"text","text":"a"},{"type":"text","text":"b","cache_control":{"type":"ephemeral"}}],
            "messages":[{"role":"system","content":"sys"},{"role":"user","content":"hi"}],
            "tools":[{"name":"f","input_schema":{"$schema":"http://json-schema.org/draft-07/schema#","type":"object"}},{"type":"bash_20250124","name":"bash"}],
            "tool_choice":{"type":"any","disable_parallel_tool_use":true},
            "thinking":{"type":"enabled","budget_tokens":1024},
            "output_config":{"effort":"high","format":{"type":"json_schema","schema":{"type":"object"}}},
            "metadata":{"user_id":"{\"device_id\":\"d\"}"}
        });
        let req = parse_request(body.to_string().as_bytes()).unwrap();
        let mut notes = Vec::new();
        let c = request_to_canonical(&req, &mut notes);
        assert!(notes.is_empty(), "{notes:?}");
        assert_eq!(c.max_tokens, Some(10));
        assert_eq!(c.temperature, Some(1.0));
        assert_eq!(c.top_k, Some(3));
        assert_eq!(c.stop, vec!["x".to_owned()]);
        assert!(c.stream);
        assert_eq!(c.system.len(), 2);
        assert_eq!(c.system[1].cache_control, Some(json!({"type":"ephemeral"})));
        assert_eq!(c.messages[0].role, canonical::Role::System);
        assert_eq!(c.tool_choice, Some(canonical::ToolChoice::Required));
        assert_eq!(c.parallel_tool_calls, Some(false));
        assert_eq!(
            c.thinking,
            Some(canonical::ThinkingConfig::Enabled {
                budget_tokens: Some(1024)
            })
        );
        assert_eq!(c.reasoning_effort.as_deref(), Some("high"));
        assert_eq!(c.user.as_deref(), Some("{\"device_id\":\"d\"}"));
        assert!(
            matches!(&c.tools[1], canonical::Tool::Native { dialect: Dialect::Anthropic, raw } if raw["type"] == "bash_20250124")
        );
        assert!(
            matches!(&c.response_format, Some(canonical::ResponseFormat::JsonSchema { schema, .. }) if schema == &json!({"type":"object"}))
        );

        let mut back_notes = Vec::new();
        let back = request_from_canonical(&c, &mut back_notes).to_json();
        assert!(back_notes.is_empty(), "{back_notes:?}");
        for key in [
            "system",
            "tools",
            "tool_choice",
            "thinking",
            "output_config",
            "metadata",
            "stop_sequences",
            "top_k",
            "max_tokens",
        ] {
            assert_eq!(back[key], body[key], "{key}");
        }
        assert_eq!(back["temperature"], json!(1.0));
    }

    #[test]
    fn from_canonical_lossy() {
        let c = canonical::Request {
            model: "m".into(),
            messages: vec![
                canonical::Message {
                    role: canonical::Role::Developer,
                    content: vec![Part::Text {
                        text: "d".into(),
                        cache_control: None,
                    }],
                },
                canonical::Message {
                    role: canonical::Role::Assistant,
                    content: vec![
                        Part::Thinking {
                            text: "r".into(),
                            signature: Some(Signature {
                                dialect: Dialect::Responses,
                                value: "enc".into(),
                            }),
                        },
                        Part::RedactedThinking {
                            data: "x".into(),
                            dialect: Dialect::Responses,
                        },
                        Part::ToolUse {
                            id: "c1".into(),
                            name: "f".into(),
                            arguments: String::new(),
                            cache_control: None,
                        },
                    ],
                },
            ],
            tools: vec![canonical::Tool::Native {
                dialect: Dialect::Responses,
                raw: json!({"type":"web_search"}),
            }],
            reasoning_effort: Some("minimal".into()),
            ..canonical::Request::default()
        };
        let mut notes = Vec::new();
        let req = request_from_canonical(&c, &mut notes);
        assert_eq!(
            paths(&notes),
            vec![
                "messages[0].role",
                "messages[1].content[0].signature",
                "messages[1].content[0]",
                "messages[1].content[1]",
                "tools[0]",
                "reasoning_effort"
            ]
        );
        let json = req.to_json();
        assert_eq!(
            json["messages"][1]["content"],
            json!([{"type":"tool_use","id":"c1","name":"f","input":{}}])
        );
        assert_eq!(json["output_config"], json!({"effort":"low"}));
    }

    #[test]
    fn media_survive_canonical_and_back() {
        let content = json!([
            {"type":"image","source":{"type":"base64","media_type":"image/png","data":"iVBORw0KGgo="},"cache_control":{"type":"ephemeral"}},
            {"type":"image","source":{"type":"url","url":"https://example.com/a.png"}},
            {"type":"image","source":{"type":"file","file_id":"file_011"}},
            {"type":"document","source":{"type":"base64","media_type":"application/pdf","data":"JVBERi0x"},"title":"spec.pdf"},
            {"type":"document","source":{"type":"text","media_type":"text/plain","data":"plain words"}},
            {"type":"document","source":{"type":"url","url":"https://example.com/a.pdf"}},
            {"type":"document","source":{"type":"file","file_id":"file_012"}},
            {"type":"tool_result","tool_use_id":"toolu_1","content":[{"type":"text","text":"shot"},{"type":"image","source":{"type":"base64","media_type":"image/jpeg","data":"/9j/"}}],"is_error":true},
            {"type":"tool_result","tool_use_id":"toolu_2"},
            {"type":"redacted_thinking","data":"EmwKAhgB"}
        ]);
        let body = json!({"model":"m","messages":[{"role":"user","content":content}]});
        let req = parse_request(body.to_string().as_bytes()).unwrap();
        let mut notes = Vec::new();
        let c = request_to_canonical(&req, &mut notes);
        assert!(notes.is_empty(), "{notes:?}");
        assert_eq!(c.messages[0].content.len(), 10);
        let back = request_from_canonical(&c, &mut notes).to_json();
        assert!(notes.is_empty(), "{notes:?}");
        assert_eq!(back["messages"][0]["content"], content);
    }

    #[test]
    fn parallel_flag_placement() {
        let tool = canonical::Tool::Function(canonical::FunctionTool {
            name: "f".into(),
            description: None,
            parameters: json!({"type":"object"}),
            strict: None,
            cache_control: None,
        });
        let cases = [
            (vec![], None, Some(false), Value::Null),
            (
                vec![tool.clone()],
                None,
                Some(false),
                json!({"type":"auto","disable_parallel_tool_use":true}),
            ),
            (vec![tool.clone()], None, Some(true), Value::Null),
            (
                vec![tool.clone()],
                Some(canonical::ToolChoice::Tool("f".into())),
                Some(true),
                json!({"type":"tool","name":"f","disable_parallel_tool_use":false}),
            ),
            (
                vec![tool],
                Some(canonical::ToolChoice::None),
                Some(false),
                json!({"type":"none"}),
            ),
        ];
        for (tools, tool_choice, parallel, want) in cases {
            let c = canonical::Request {
                tools,
                tool_choice,
                parallel_tool_calls: parallel,
                ..canonical::Request::default()
            };
            let got = request_from_canonical(&c, &mut Vec::new()).to_json();
            assert_eq!(got.get("tool_choice").cloned().unwrap_or(Value::Null), want);
        }
    }

    #[test]
    fn response_round_trip() {
        let body = json!({"id":"msg_1","type":"message","role":"assistant","model":"m",
            "content":[{"type":"thinking","thinking":"t","signature":"sig"},{"type":"text","text":"a"},{"type":"tool_use","id":"toolu_1","name":"Bash","input":{"command":"ls","n":1}}],
            "stop_reason":"tool_use","stop_sequence":null,
            "usage":{"input_tokens":5,"output_tokens":7,"cache_creation_input_tokens":1,"cache_read_input_tokens":2}});
        let resp = parse_response(body.to_string().as_bytes()).unwrap();
        let mut notes = Vec::new();
        let c = response_to_canonical(&resp, &mut notes);
        assert!(notes.is_empty());
        assert_eq!(c.stop_reason, Some(canonical::StopReason::ToolUse));
        assert!(
            matches!(&c.content[2], Part::ToolUse { arguments, .. } if arguments == r#"{"command":"ls","n":1}"#)
        );
        assert_eq!(c.usage.cache_read_input_tokens, Some(2));
        let back = response_from_canonical(&c, &mut notes);
        assert!(notes.is_empty());
        assert_eq!(back.to_json(), body);
    }

    #[test]
    fn stop_reasons() {
        for s in [
            "end_turn",
            "max_tokens",
            "stop_sequence",
            "tool_use",
            "pause_turn",
            "refusal",
            "model_context_window_exceeded",
        ] {
            assert_eq!(stop_reason_from_canonical(&stop_reason_to_canonical(s)), s);
        }
        assert_eq!(
            stop_reason_from_canonical(&canonical::StopReason::ContentFilter),
            "refusal"
        );
    }
}
