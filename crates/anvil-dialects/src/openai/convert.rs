//! Conversions between the Chat Completions wire models and the canonical model.
//!
//! Decisions worth knowing:
//! * The leading run of `system` / `developer` messages becomes canonical `system` (one part per
//!   string content, or per text part of an array content). Canonical `system` is emitted back as ONE
//!   `system` message (string content for one part, text parts for several). A leading `developer`
//!   message therefore comes back as `system`; OpenAI treats the two alike for the top-level
//!   instructions (a system message is handled as developer by reasoning models), and the change is
//!   reported as an approximation of `messages[i].role`. Later system/developer messages keep their
//!   role exactly (`Role::System` / `Role::Developer`).
//! * Consecutive `tool` (and legacy `function`) messages merge into one canonical user message of
//!   `ToolResult` parts; back on the wire every `ToolResult` becomes its own `tool` message, in order,
//!   and other parts of the same canonical user message become a `user` message at their position.
//!   Images or documents inside a tool result (Anthropic allows them) move to a `user` message right
//!   after the tool messages, because a `tool` message only takes text.
//! * Legacy `functions` / `function_call` / `function` messages map to tools / tool calls / tool
//!   results whose call id is the function name (noted as approximated).
//! * Assistant reasoning (`reasoning_content`, or `reasoning`) becomes a `Thinking` part placed before
//!   the text; back on the wire it is `reasoning_content`. Empty assistant text next to tool calls is
//!   skipped; an assistant message without text is emitted with `content: null`.
//! * Canonical `max_tokens` is emitted as `max_completion_tokens` (see
//!   [`Request::use_legacy_max_tokens`] for servers that want `max_tokens`).
//! * `stream_options.include_usage` has no canonical slot but is not reported: the router reads it from
//!   the wire request for `EncodeContext::include_usage`. From canonical, `stream: true` always sets
//!   `include_usage: true` so the router gets real usage.

use serde_json::{Map, Number, Value};

use super::nullable::Nullable;
use super::wire::{self, Content, ContentPart, Extra, Request, Response};
use crate::canonical::{self, Lossy, LossyNotes, MediaSource, Part, StopReason, ToolResultContent};
use crate::Dialect;

// ------------------------------------------------------------------ helpers

fn note_extra(extra: &Extra, path: &str, notes: &mut LossyNotes) {
    for key in extra.keys() {
        notes.push(Lossy::dropped(join(path, key)));
    }
}

/// The `cache_control` marker some clients put on content parts (OpenRouter-style prompt caching),
/// kept for canonical; the part's other unknown keys are noted.
fn split_cache(extra: &Extra, path: &str, notes: &mut LossyNotes) -> Option<Value> {
    for key in extra.keys().filter(|k| *k != "cache_control") {
        notes.push(Lossy::dropped(join(path, key)));
    }
    extra.get("cache_control").cloned()
}

fn join(path: &str, key: &str) -> String {
    if path.is_empty() {
        key.to_owned()
    } else {
        format!("{path}.{key}")
    }
}

fn number_to_f64(n: &Number) -> Option<f64> {
    n.as_f64()
}

/// An `f64` as a JSON number, integral values as integers (so `0` stays `0`).
fn f64_to_number(x: f64) -> Option<Number> {
    if x.fract() == 0.0 && x.abs() < 9.0e15 {
        // Exactly integral and well inside i64: the cast is lossless.
        return Some(Number::from(x as i64));
    }
    Number::from_f64(x)
}

/// Splits a `data:` URL into its media type and base64 payload.
pub(crate) fn parse_data_url(url: &str) -> Option<(String, String)> {
    let rest = url.strip_prefix("data:")?;
    let (meta, data) = rest.split_once(',')?;
    let media_type = meta.strip_suffix(";base64")?;
    Some((media_type.to_owned(), data.to_owned()))
}

fn data_url(media_type: &str, data: &str) -> String {
    format!("data:{media_type};base64,{data}")
}

fn media_from_url(url: String) -> MediaSource {
    match parse_data_url(&url) {
        Some((media_type, data)) => MediaSource::Base64 { media_type, data },
        None => MediaSource::Url(url),
    }
}

fn text_part(text: String) -> Part {
    Part::Text {
        text,
        cache_control: None,
    }
}

// ------------------------------------------------------------------ request → canonical

/// Converts a Chat Completions request to canonical form, noting what has no canonical slot.
pub fn request_to_canonical(req: &Request, notes: &mut LossyNotes) -> canonical::Request {
    request_into_canonical(req.clone(), notes)
}

/// [`request_to_canonical`], moving the request's strings and JSON values into the canonical
/// request instead of copying them (an Aider request carries the repository map and whole files).
pub fn request_into_canonical(req: Request, notes: &mut LossyNotes) -> canonical::Request {
    let Request {
        model,
        messages,
        tools,
        tool_choice,
        parallel_tool_calls,
        functions,
        function_call,
        max_tokens,
        max_completion_tokens,
        temperature,
        top_p,
        stop,
        stream,
        stream_options,
        response_format,
        reasoning_effort,
        user,
        extra,
    } = req;
    let mut out = canonical::Request {
        model: model.into_option().unwrap_or_default(),
        ..canonical::Request::default()
    };

    // The leading run of system/developer messages is the system prompt.
    let mut leading = true;
    let mut after_tool = false;
    for (i, msg) in messages.into_iter().enumerate() {
        let path = format!("messages[{i}]");
        let is_instruction = matches!(msg.role, wire::Role::System | wire::Role::Developer);
        leading &= is_instruction;
        let is_tool = matches!(msg.role, wire::Role::Tool | wire::Role::Function);
        if leading {
            if msg.role == wire::Role::Developer {
                notes.push(Lossy::approximated(format!("{path}.role")));
            }
            for (text, cache_control) in instruction_texts(msg, &path, notes) {
                out.system.push(canonical::SystemPart {
                    text,
                    cache_control,
                });
            }
            continue;
        }
        match msg.role {
            wire::Role::System | wire::Role::Developer => {
                let role = if msg.role == wire::Role::System {
                    canonical::Role::System
                } else {
                    canonical::Role::Developer
                };
                let content = instruction_texts(msg, &path, notes)
                    .into_iter()
                    .map(|(text, cache_control)| Part::Text {
                        text,
                        cache_control,
                    })
                    .collect();
                out.messages.push(canonical::Message { role, content });
            }
            wire::Role::User => {
                note_message_fields(&msg, &path, notes, &[]);
                let content = match msg.content {
                    Nullable::Value(content) => {
                        user_parts(content, &format!("{path}.content"), notes)
                    }
                    Nullable::Absent | Nullable::Null => Vec::new(),
                };
                out.messages.push(canonical::Message {
                    role: canonical::Role::User,
                    content,
                });
            }
            wire::Role::Assistant => {
                out.messages.push(assistant_to_canonical(msg, &path, notes));
            }
            wire::Role::Tool | wire::Role::Function => {
                let part = tool_result_to_canonical(msg, &path, notes);
                // Consecutive tool results share one user turn.
                match out.messages.last_mut() {
                    Some(last) if after_tool => last.content.push(part),
                    _ => out.messages.push(canonical::Message {
                        role: canonical::Role::User,
                        content: vec![part],
                    }),
                }
            }
            wire::Role::Other(_) => notes.push(Lossy::dropped(path)),
        }
        after_tool = is_tool;
    }

    if let Nullable::Value(tools) = tools {
        for (t, tool) in tools.into_iter().enumerate() {
            let path = format!("tools[{t}]");
            match tool {
                wire::Tool::Function(f) => {
                    note_extra(&f.extra, &path, notes);
                    out.tools
                        .push(canonical::Tool::Function(function_def_to_canonical(
                            f.function,
                            &format!("{path}.function"),
                            notes,
                        )));
                }
                wire::Tool::Other(raw) => out.tools.push(canonical::Tool::Native {
                    dialect: Dialect::OpenAiChat,
                    raw,
                }),
            }
        }
    }
    if let Nullable::Value(functions) = functions {
        for (f, def) in functions.into_iter().enumerate() {
            let path = format!("functions[{f}]");
            notes.push(Lossy::approximated(path.clone()));
            out.tools
                .push(canonical::Tool::Function(function_def_to_canonical(
                    def, &path, notes,
                )));
        }
    }

    out.tool_choice = match tool_choice {
        Nullable::Value(choice) => tool_choice_to_canonical(choice, notes),
        Nullable::Absent | Nullable::Null => None,
    };
    if let Nullable::Value(legacy) = function_call {
        if out.tool_choice.is_none() {
            notes.push(Lossy::approximated("function_call"));
            out.tool_choice = match legacy {
                Value::String(mode) if mode == "none" => Some(canonical::ToolChoice::None),
                Value::String(mode) if mode == "auto" => Some(canonical::ToolChoice::Auto),
                Value::Object(mut o) => match o.shift_remove("name") {
                    Some(Value::String(name)) => Some(canonical::ToolChoice::Tool(name)),
                    _ => None,
                },
                _ => None,
            };
        } else {
            notes.push(Lossy::dropped("function_call"));
        }
    }
    out.parallel_tool_calls = parallel_tool_calls.into_option();
    if let (Nullable::Value(a), Nullable::Value(b)) = (&max_tokens, &max_completion_tokens) {
        if a != b {
            notes.push(Lossy::approximated("max_tokens"));
        }
    }
    out.max_tokens = max_completion_tokens
        .into_option()
        .or(max_tokens.into_option());
    out.temperature = temperature.as_option().and_then(number_to_f64);
    out.top_p = top_p.as_option().and_then(number_to_f64);
    out.stop = match stop {
        Nullable::Value(wire::Stop::One(s)) => vec![s],
        Nullable::Value(wire::Stop::Many(v)) => v,
        Nullable::Absent | Nullable::Null => Vec::new(),
    };
    out.stream = stream.into_option().unwrap_or(false);
    if let Nullable::Value(options) = &stream_options {
        note_extra(&options.extra, "stream_options", notes);
    }
    out.reasoning_effort = reasoning_effort.into_option();
    // `thinking` is canonical's on/off switch and `reasoning_effort` its level; OpenAI has only the
    // level, and asking for one means asking a reasoning model to reason.
    out.thinking = out.reasoning_effort.as_deref().map(|effort| {
        if effort == "none" {
            canonical::ThinkingConfig::Disabled
        } else {
            canonical::ThinkingConfig::Adaptive
        }
    });
    out.response_format = match response_format {
        Nullable::Value(format) => response_format_to_canonical(format, notes),
        Nullable::Absent | Nullable::Null => None,
    };
    out.user = user.into_option();
    note_extra(&extra, "", notes);
    out
}

/// Texts of a system/developer message (string content, or its text parts) with their cache markers.
fn instruction_texts(
    msg: wire::Message,
    path: &str,
    notes: &mut LossyNotes,
) -> Vec<(String, Option<Value>)> {
    note_message_fields(&msg, path, notes, &[]);
    match msg.content {
        Nullable::Value(Content::Text(text)) => vec![(text, None)],
        Nullable::Value(Content::Parts(parts)) => {
            let mut texts = Vec::new();
            for (p, part) in parts.into_iter().enumerate() {
                let part_path = format!("{path}.content[{p}]");
                match part {
                    ContentPart::Text(t) => {
                        let cache_control = split_cache(&t.extra, &part_path, notes);
                        texts.push((t.text, cache_control));
                    }
                    _ => notes.push(Lossy::dropped(part_path)),
                }
            }
            texts
        }
        Nullable::Absent | Nullable::Null => Vec::new(),
    }
}

/// Notes the fields of a message that have no canonical slot (`name`, `extra`), except those listed.
fn note_message_fields(msg: &wire::Message, path: &str, notes: &mut LossyNotes, keep: &[&str]) {
    if !msg.name.is_absent() && !keep.contains(&"name") {
        notes.push(Lossy::dropped(format!("{path}.name")));
    }
    note_extra(&msg.extra, path, notes);
}

fn user_parts(content: Content, path: &str, notes: &mut LossyNotes) -> Vec<Part> {
    match content {
        Content::Text(text) => vec![text_part(text)],
        Content::Parts(parts) => parts
            .into_iter()
            .enumerate()
            .filter_map(|(p, part)| part_to_canonical(part, &format!("{path}[{p}]"), notes))
            .collect(),
    }
}

fn part_to_canonical(part: ContentPart, path: &str, notes: &mut LossyNotes) -> Option<Part> {
    match part {
        ContentPart::Text(t) => {
            let cache_control = split_cache(&t.extra, path, notes);
            Some(Part::Text {
                text: t.text,
                cache_control,
            })
        }
        ContentPart::ImageUrl(img) => {
            note_extra(&img.image_url.extra, &format!("{path}.image_url"), notes);
            let cache_control = split_cache(&img.extra, path, notes);
            Some(Part::Image {
                source: media_from_url(img.image_url.url),
                detail: img.image_url.detail.into_option(),
                cache_control,
            })
        }
        ContentPart::File(file) => {
            let cache_control = split_cache(&file.extra, path, notes);
            let wire::FileRef {
                file_data,
                file_id,
                filename,
                extra,
            } = file.file;
            note_extra(&extra, &format!("{path}.file"), notes);
            let source = if let Nullable::Value(data) = file_data {
                if !file_id.is_absent() {
                    notes.push(Lossy::dropped(format!("{path}.file.file_id")));
                }
                match parse_data_url(&data) {
                    Some((media_type, data)) => MediaSource::Base64 { media_type, data },
                    // Bare base64 without a data: prefix; OpenAI only takes PDFs here.
                    None => MediaSource::Base64 {
                        media_type: "application/pdf".to_owned(),
                        data,
                    },
                }
            } else if let Nullable::Value(id) = file_id {
                MediaSource::FileId(id)
            } else {
                notes.push(Lossy::dropped(path.to_owned()));
                return None;
            };
            Some(Part::Document {
                source,
                title: filename.into_option(),
                cache_control,
            })
        }
        ContentPart::Refusal(r) => {
            notes.push(Lossy::approximated(path.to_owned()));
            Some(text_part(r.refusal))
        }
        ContentPart::Other(_) => {
            notes.push(Lossy::dropped(path.to_owned()));
            None
        }
    }
}

fn assistant_to_canonical(
    msg: wire::Message,
    path: &str,
    notes: &mut LossyNotes,
) -> canonical::Message {
    note_message_fields(&msg, path, notes, &[]);
    let wire::Message {
        content: wire_content,
        reasoning_content,
        reasoning,
        refusal,
        tool_calls,
        function_call,
        ..
    } = msg;
    let mut content = Vec::new();
    let both_reasonings =
        reasoning_content.as_option().is_some() && reasoning.as_option().is_some();
    let reasoning = reasoning_content.into_option().or(reasoning.into_option());
    if let Some(text) = reasoning {
        if !text.is_empty() {
            content.push(Part::Thinking {
                text,
                signature: None,
            });
        }
    }
    if both_reasonings {
        notes.push(Lossy::dropped(format!("{path}.reasoning")));
    }
    let has_calls = matches!(&tool_calls, Nullable::Value(calls) if !calls.is_empty())
        || !matches!(function_call, Nullable::Absent | Nullable::Null);
    let mut texts = Vec::new();
    match wire_content {
        Nullable::Value(Content::Text(text)) => texts.push(text_part(text)),
        Nullable::Value(Content::Parts(parts)) => {
            for (p, part) in parts.into_iter().enumerate() {
                let part_path = format!("{path}.content[{p}]");
                match part {
                    ContentPart::Text(_) | ContentPart::Refusal(_) => {
                        texts.extend(part_to_canonical(part, &part_path, notes));
                    }
                    _ => notes.push(Lossy::dropped(part_path)),
                }
            }
        }
        Nullable::Absent | Nullable::Null => {}
    }
    if let Nullable::Value(refusal) = refusal {
        notes.push(Lossy::approximated(format!("{path}.refusal")));
        texts.push(text_part(refusal));
    }
    // An empty text next to tool calls carries nothing and is invalid in Anthropic.
    texts.retain(|part| !(has_calls && matches!(part, Part::Text { text, .. } if text.is_empty())));
    content.extend(texts);
    if let Nullable::Value(calls) = tool_calls {
        for (c, call) in calls.into_iter().enumerate() {
            let call_path = format!("{path}.tool_calls[{c}]");
            match call {
                wire::ToolCall::Function(f) => {
                    note_extra(&f.extra, &call_path, notes);
                    note_extra(&f.function.extra, &format!("{call_path}.function"), notes);
                    content.push(Part::ToolUse {
                        id: f.id,
                        name: f.function.name,
                        arguments: f.function.arguments,
                        cache_control: None,
                    });
                }
                wire::ToolCall::Other(_) => notes.push(Lossy::dropped(call_path)),
            }
        }
    }
    if let Nullable::Value(call) = function_call {
        notes.push(Lossy::approximated(format!("{path}.function_call")));
        content.push(Part::ToolUse {
            id: call.name.clone(),
            name: call.name,
            arguments: call.arguments,
            cache_control: None,
        });
    }
    canonical::Message {
        role: canonical::Role::Assistant,
        content,
    }
}

fn tool_result_to_canonical(msg: wire::Message, path: &str, notes: &mut LossyNotes) -> Part {
    note_extra(&msg.extra, path, notes);
    let tool_use_id = if msg.role == wire::Role::Function {
        notes.push(Lossy::approximated(path.to_owned()));
        msg.name.into_option().unwrap_or_default()
    } else {
        if !msg.name.is_absent() {
            notes.push(Lossy::dropped(format!("{path}.name")));
        }
        msg.tool_call_id.into_option().unwrap_or_default()
    };
    let content = match msg.content {
        Nullable::Value(Content::Text(text)) => ToolResultContent::Text(text),
        Nullable::Value(Content::Parts(parts)) => ToolResultContent::Parts(
            parts
                .into_iter()
                .enumerate()
                .filter_map(|(p, part)| {
                    part_to_canonical(part, &format!("{path}.content[{p}]"), notes)
                })
                .collect(),
        ),
        Nullable::Absent | Nullable::Null => ToolResultContent::Text(String::new()),
    };
    Part::ToolResult {
        tool_use_id,
        content,
        is_error: false,
        cache_control: None,
    }
}

fn function_def_to_canonical(
    def: wire::FunctionDef,
    path: &str,
    notes: &mut LossyNotes,
) -> canonical::FunctionTool {
    note_extra(&def.extra, path, notes);
    canonical::FunctionTool {
        name: def.name,
        description: def.description.into_option(),
        // OpenAI: omitting `parameters` declares a function without arguments.
        parameters: def
            .parameters
            .into_option()
            .unwrap_or_else(|| serde_json::json!({"type": "object", "properties": {}})),
        strict: def.strict.into_option(),
        cache_control: None,
    }
}

fn tool_choice_to_canonical(
    choice: wire::ToolChoice,
    notes: &mut LossyNotes,
) -> Option<canonical::ToolChoice> {
    match choice {
        wire::ToolChoice::Mode(mode) => match mode.as_str() {
            "none" => Some(canonical::ToolChoice::None),
            "auto" => Some(canonical::ToolChoice::Auto),
            "required" => Some(canonical::ToolChoice::Required),
            _ => {
                notes.push(Lossy::dropped("tool_choice"));
                None
            }
        },
        wire::ToolChoice::Function(named) => {
            note_extra(&named.extra, "tool_choice", notes);
            note_extra(&named.function.extra, "tool_choice.function", notes);
            Some(canonical::ToolChoice::Tool(named.function.name))
        }
        wire::ToolChoice::Other(_) => {
            notes.push(Lossy::dropped("tool_choice"));
            None
        }
    }
}

fn response_format_to_canonical(
    format: wire::ResponseFormat,
    notes: &mut LossyNotes,
) -> Option<canonical::ResponseFormat> {
    match format {
        wire::ResponseFormat::Text(extra) => {
            note_extra(&extra, "response_format", notes);
            Some(canonical::ResponseFormat::Text)
        }
        wire::ResponseFormat::JsonObject(extra) => {
            note_extra(&extra, "response_format", notes);
            Some(canonical::ResponseFormat::JsonObject)
        }
        wire::ResponseFormat::JsonSchema(f) => {
            note_extra(&f.extra, "response_format", notes);
            let schema = f.json_schema;
            note_extra(&schema.extra, "response_format.json_schema", notes);
            if !schema.description.is_absent() {
                notes.push(Lossy::dropped("response_format.json_schema.description"));
            }
            Some(canonical::ResponseFormat::JsonSchema {
                name: schema.name.into_option(),
                schema: schema.schema.into_option().unwrap_or(Value::Null),
                strict: schema.strict.into_option(),
            })
        }
        wire::ResponseFormat::Other(_) => {
            notes.push(Lossy::dropped("response_format"));
            None
        }
    }
}

// ------------------------------------------------------------------ canonical → request

/// Converts a canonical request to Chat Completions, noting what this dialect cannot express.
pub fn request_from_canonical(req: &canonical::Request, notes: &mut LossyNotes) -> Request {
    let mut out = Request {
        model: Nullable::Value(req.model.clone()),
        ..Request::default()
    };

    if !req.system.is_empty() {
        let parts: Vec<(String, Option<&Value>)> = req
            .system
            .iter()
            .map(|p| (p.text.clone(), p.cache_control.as_ref()))
            .collect();
        for (s, (_, cache)) in parts.iter().enumerate() {
            if cache.is_some() {
                notes.push(Lossy::dropped(format!("system[{s}].cache_control")));
            }
        }
        let mut msg = wire::Message::new(wire::Role::System);
        msg.content = Nullable::Value(texts_content(parts.into_iter().map(|(t, _)| t).collect()));
        out.messages.push(msg);
    }

    for (m, msg) in req.messages.iter().enumerate() {
        let path = format!("messages[{m}]");
        match msg.role {
            canonical::Role::System | canonical::Role::Developer => {
                let role = if msg.role == canonical::Role::System {
                    wire::Role::System
                } else {
                    wire::Role::Developer
                };
                let mut texts = Vec::new();
                for (p, part) in msg.content.iter().enumerate() {
                    let part_path = format!("{path}.content[{p}]");
                    match part {
                        Part::Text {
                            text,
                            cache_control,
                        } => {
                            note_cache(cache_control, &part_path, notes);
                            texts.push(text.clone());
                        }
                        _ => notes.push(Lossy::dropped(part_path)),
                    }
                }
                let mut out_msg = wire::Message::new(role);
                out_msg.content = Nullable::Value(texts_content(texts));
                out.messages.push(out_msg);
            }
            canonical::Role::User => {
                user_from_canonical(&msg.content, &path, &mut out.messages, notes)
            }
            canonical::Role::Assistant => {
                out.messages
                    .push(assistant_from_canonical(&msg.content, &path, notes));
            }
        }
    }

    if !req.tools.is_empty() {
        let mut tools = Vec::new();
        for (t, tool) in req.tools.iter().enumerate() {
            let path = format!("tools[{t}]");
            match tool {
                canonical::Tool::Function(f) => {
                    note_cache(&f.cache_control, &path, notes);
                    tools.push(wire::Tool::Function(wire::FunctionTool {
                        function: wire::FunctionDef {
                            name: f.name.clone(),
                            description: Nullable::from_option(f.description.clone()),
                            parameters: if f.parameters.is_null() {
                                Nullable::Absent
                            } else {
                                Nullable::Value(f.parameters.clone())
                            },
                            strict: Nullable::from_option(f.strict),
                            extra: Extra::new(),
                        },
                        extra: Extra::new(),
                    }));
                }
                canonical::Tool::Native { dialect, raw } if *dialect == Dialect::OpenAiChat => {
                    tools.push(wire::Tool::Other(raw.clone()));
                }
                canonical::Tool::Native { .. } => notes.push(Lossy::dropped(path)),
            }
        }
        if !tools.is_empty() {
            out.tools = Nullable::Value(tools);
        }
    }
    out.tool_choice = Nullable::from_option(req.tool_choice.as_ref().map(|choice| match choice {
        canonical::ToolChoice::Auto => wire::ToolChoice::Mode("auto".to_owned()),
        canonical::ToolChoice::None => wire::ToolChoice::Mode("none".to_owned()),
        canonical::ToolChoice::Required => wire::ToolChoice::Mode("required".to_owned()),
        canonical::ToolChoice::Tool(name) => wire::ToolChoice::Function(wire::NamedFunction {
            function: wire::FunctionName {
                name: name.clone(),
                extra: Extra::new(),
            },
            extra: Extra::new(),
        }),
    }));
    out.parallel_tool_calls = Nullable::from_option(req.parallel_tool_calls);
    // OpenAI rejects `tool_choice` and `parallel_tool_calls` without `tools` (all of them may have been
    // another dialect's native tools).
    if out.tools.is_absent() {
        if !out.tool_choice.is_absent() {
            out.tool_choice = Nullable::Absent;
            notes.push(Lossy::dropped("tool_choice"));
        }
        if !out.parallel_tool_calls.is_absent() {
            out.parallel_tool_calls = Nullable::Absent;
            notes.push(Lossy::dropped("parallel_tool_calls"));
        }
    }
    out.max_completion_tokens = Nullable::from_option(req.max_tokens);
    out.temperature = Nullable::from_option(req.temperature.and_then(f64_to_number));
    out.top_p = Nullable::from_option(req.top_p.and_then(f64_to_number));
    if req.top_k.is_some() {
        notes.push(Lossy::dropped("top_k"));
    }
    if !req.stop.is_empty() {
        out.stop = Nullable::Value(wire::Stop::Many(req.stop.clone()));
    }
    if req.stream {
        out.stream = Nullable::Value(true);
        out.stream_options = Nullable::Value(wire::StreamOptions {
            include_usage: Nullable::Value(true),
            extra: Extra::new(),
        });
    }
    // Thinking is the switch, the effort its level: an effort without thinking (Anthropic's
    // `output_config.effort` also scales plain answers) would make a reasoning model reason.
    let effort = match &req.thinking {
        Some(canonical::ThinkingConfig::Enabled { budget_tokens }) => {
            // OpenAI has no token budget: it becomes (or yields to) an effort level.
            notes.push(Lossy::approximated("thinking"));
            req.reasoning_effort.clone().or_else(|| {
                Some(
                    match budget_tokens {
                        Some(b) if *b <= 4096 => "low",
                        Some(b) if *b <= 16384 => "medium",
                        Some(_) => "high",
                        None => "medium",
                    }
                    .to_owned(),
                )
            })
        }
        // The model decides how much to think; without a level, ask for OpenAI's default.
        Some(canonical::ThinkingConfig::Adaptive) => req.reasoning_effort.clone().or_else(|| {
            notes.push(Lossy::approximated("thinking"));
            Some("medium".to_owned())
        }),
        Some(canonical::ThinkingConfig::Disabled) | None => match req.reasoning_effort.as_deref() {
            Some("none") => Some("none".to_owned()),
            Some(_) => {
                notes.push(Lossy::dropped("reasoning_effort"));
                None
            }
            None => None,
        },
    };
    out.reasoning_effort = Nullable::from_option(effort);
    out.response_format =
        Nullable::from_option(req.response_format.as_ref().map(|format| match format {
            canonical::ResponseFormat::Text => wire::ResponseFormat::Text(Extra::new()),
            canonical::ResponseFormat::JsonObject => wire::ResponseFormat::JsonObject(Extra::new()),
            canonical::ResponseFormat::JsonSchema {
                name,
                schema,
                strict,
            } => {
                if name.is_none() {
                    notes.push(Lossy::approximated("response_format.name"));
                }
                wire::ResponseFormat::JsonSchema(wire::JsonSchemaFormat {
                    json_schema: wire::JsonSchema {
                        // OpenAI requires a name.
                        name: Nullable::Value(
                            name.clone().unwrap_or_else(|| "response".to_owned()),
                        ),
                        description: Nullable::Absent,
                        schema: Nullable::Value(schema.clone()),
                        strict: Nullable::from_option(*strict),
                        extra: Extra::new(),
                    },
                    extra: Extra::new(),
                })
            }
        }));
    out.user = Nullable::from_option(req.user.clone());
    out
}

fn note_cache(cache_control: &Option<Value>, path: &str, notes: &mut LossyNotes) {
    if cache_control.is_some() {
        notes.push(Lossy::dropped(format!("{path}.cache_control")));
    }
}

/// One text as a string, several as text parts.
fn texts_content(mut texts: Vec<String>) -> Content {
    if texts.len() == 1 {
        Content::Text(texts.remove(0))
    } else {
        Content::Parts(
            texts
                .into_iter()
                .map(|text| {
                    ContentPart::Text(wire::TextPart {
                        text,
                        extra: Extra::new(),
                    })
                })
                .collect(),
        )
    }
}

/// A canonical media part as an OpenAI content part (or `None` when it cannot be expressed).
fn media_part_from_canonical(
    part: &Part,
    path: &str,
    notes: &mut LossyNotes,
) -> Option<ContentPart> {
    match part {
        Part::Text {
            text,
            cache_control,
        } => {
            note_cache(cache_control, path, notes);
            Some(ContentPart::Text(wire::TextPart {
                text: text.clone(),
                extra: Extra::new(),
            }))
        }
        Part::Image {
            source,
            detail,
            cache_control,
        } => {
            note_cache(cache_control, path, notes);
            let url = match source {
                MediaSource::Base64 { media_type, data } => data_url(media_type, data),
                MediaSource::Url(url) => url.clone(),
                MediaSource::Text(_) | MediaSource::FileId(_) => {
                    notes.push(Lossy::dropped(path.to_owned()));
                    return None;
                }
            };
            Some(ContentPart::ImageUrl(wire::ImageUrlPart {
                image_url: wire::ImageUrl {
                    url,
                    detail: Nullable::from_option(detail.clone()),
                    extra: Extra::new(),
                },
                extra: Extra::new(),
            }))
        }
        Part::Document {
            source,
            title,
            cache_control,
        } => {
            note_cache(cache_control, path, notes);
            let mut file = wire::FileRef {
                filename: Nullable::from_option(title.clone()),
                ..wire::FileRef::default()
            };
            match source {
                MediaSource::Base64 { media_type, data } => {
                    file.file_data = Nullable::Value(data_url(media_type, data));
                }
                MediaSource::FileId(id) => file.file_id = Nullable::Value(id.clone()),
                MediaSource::Text(text) => {
                    // A plain-text document: the text itself is what the model should read.
                    notes.push(Lossy::approximated(path.to_owned()));
                    return Some(ContentPart::Text(wire::TextPart {
                        text: text.clone(),
                        extra: Extra::new(),
                    }));
                }
                MediaSource::Url(url) => {
                    notes.push(Lossy::approximated(path.to_owned()));
                    return Some(ContentPart::Text(wire::TextPart {
                        text: url.clone(),
                        extra: Extra::new(),
                    }));
                }
            }
            Some(ContentPart::File(wire::FilePart {
                file,
                extra: Extra::new(),
            }))
        }
        _ => {
            notes.push(Lossy::dropped(path.to_owned()));
            None
        }
    }
}

/// User-side content as wire content: one plain text stays a string.
fn user_content(parts: Vec<ContentPart>) -> Content {
    match parts.as_slice() {
        [ContentPart::Text(t)] if t.extra.is_empty() => Content::Text(t.text.clone()),
        _ => Content::Parts(parts),
    }
}

fn user_from_canonical(
    parts_in: &[Part],
    path: &str,
    out: &mut Vec<wire::Message>,
    notes: &mut LossyNotes,
) {
    let mut pending: Vec<ContentPart> = Vec::new();
    // Media found inside tool results, to follow the tool messages in a user message.
    let mut moved: Vec<ContentPart> = Vec::new();
    let flush = |pending: &mut Vec<ContentPart>, out: &mut Vec<wire::Message>| {
        if !pending.is_empty() {
            let mut msg = wire::Message::new(wire::Role::User);
            msg.content = Nullable::Value(user_content(std::mem::take(pending)));
            out.push(msg);
        }
    };
    for (p, part) in parts_in.iter().enumerate() {
        let part_path = format!("{path}.content[{p}]");
        match part {
            Part::ToolResult {
                tool_use_id,
                content,
                is_error,
                cache_control,
            } => {
                flush(&mut pending, out);
                note_cache(cache_control, &part_path, notes);
                if *is_error {
                    notes.push(Lossy::dropped(format!("{part_path}.is_error")));
                }
                let mut msg = wire::Message::new(wire::Role::Tool);
                msg.tool_call_id = Nullable::Value(tool_use_id.clone());
                msg.content = Nullable::Value(match content {
                    ToolResultContent::Text(text) => Content::Text(text.clone()),
                    ToolResultContent::Parts(parts) => {
                        let mut texts = Vec::new();
                        for (q, inner) in parts.iter().enumerate() {
                            let inner_path = format!("{part_path}.content[{q}]");
                            match inner {
                                Part::Text {
                                    text,
                                    cache_control,
                                } => {
                                    note_cache(cache_control, &inner_path, notes);
                                    texts.push(ContentPart::Text(wire::TextPart {
                                        text: text.clone(),
                                        extra: Extra::new(),
                                    }));
                                }
                                Part::Image { .. } | Part::Document { .. } => {
                                    notes.push(Lossy::approximated(inner_path.clone()));
                                    moved.extend(media_part_from_canonical(
                                        inner,
                                        &inner_path,
                                        notes,
                                    ));
                                }
                                _ => notes.push(Lossy::dropped(inner_path)),
                            }
                        }
                        if texts.is_empty() {
                            // Nothing textual left (an image-only result): an empty string, not `[]`.
                            Content::Text(String::new())
                        } else {
                            Content::Parts(texts)
                        }
                    }
                });
                out.push(msg);
                let next_is_result = matches!(parts_in.get(p + 1), Some(Part::ToolResult { .. }));
                if !next_is_result && !moved.is_empty() {
                    let mut msg = wire::Message::new(wire::Role::User);
                    msg.content = Nullable::Value(Content::Parts(std::mem::take(&mut moved)));
                    out.push(msg);
                }
            }
            _ => pending.extend(media_part_from_canonical(part, &part_path, notes)),
        }
    }
    flush(&mut pending, out);
}

fn assistant_from_canonical(content: &[Part], path: &str, notes: &mut LossyNotes) -> wire::Message {
    let mut msg = wire::Message::new(wire::Role::Assistant);
    let mut reasoning = String::new();
    let mut has_reasoning = false;
    let mut texts: Vec<String> = Vec::new();
    let mut calls = Vec::new();
    for (p, part) in content.iter().enumerate() {
        let part_path = format!("{path}.content[{p}]");
        match part {
            Part::Text {
                text,
                cache_control,
            } => {
                note_cache(cache_control, &part_path, notes);
                texts.push(text.clone());
            }
            Part::Thinking { text, signature } => {
                if signature.is_some() {
                    notes.push(Lossy::dropped(format!("{part_path}.signature")));
                }
                has_reasoning = true;
                reasoning.push_str(text);
            }
            Part::RedactedThinking { .. } => notes.push(Lossy::dropped(part_path)),
            Part::ToolUse {
                id,
                name,
                arguments,
                cache_control,
            } => {
                note_cache(cache_control, &part_path, notes);
                calls.push(wire::ToolCall::Function(wire::FunctionToolCall {
                    id: id.clone(),
                    function: wire::FunctionCall {
                        name: name.clone(),
                        arguments: arguments.clone(),
                        extra: Extra::new(),
                    },
                    extra: Extra::new(),
                }));
            }
            _ => notes.push(Lossy::dropped(part_path)),
        }
    }
    msg.content = if texts.is_empty() {
        Nullable::Null
    } else {
        Nullable::Value(Content::Text(texts.concat()))
    };
    if has_reasoning {
        msg.reasoning_content = Nullable::Value(reasoning);
    }
    if !calls.is_empty() {
        msg.tool_calls = Nullable::Value(calls);
    }
    msg
}

// ------------------------------------------------------------------ responses

/// Maps an OpenAI `finish_reason` to a canonical stop reason.
pub(crate) fn stop_reason_from_wire(reason: &str) -> StopReason {
    match reason {
        "stop" => StopReason::EndTurn,
        "length" => StopReason::MaxTokens,
        "tool_calls" | "function_call" => StopReason::ToolUse,
        "content_filter" => StopReason::ContentFilter,
        other => StopReason::Other(other.to_owned()),
    }
}

/// Maps a canonical stop reason to an OpenAI `finish_reason`; the flag says whether it was exact.
pub(crate) fn stop_reason_to_wire(reason: &StopReason) -> (&str, bool) {
    match reason {
        StopReason::EndTurn => ("stop", true),
        StopReason::StopSequence => ("stop", true),
        StopReason::MaxTokens => ("length", true),
        StopReason::ToolUse => ("tool_calls", true),
        StopReason::ContentFilter => ("content_filter", true),
        StopReason::Other(other)
            if matches!(
                other.as_str(),
                "stop" | "length" | "tool_calls" | "content_filter" | "function_call"
            ) =>
        {
            (other.as_str(), true)
        }
        StopReason::PauseTurn | StopReason::Refusal | StopReason::Other(_) => ("stop", false),
    }
}

/// Canonical usage from OpenAI usage: `prompt_tokens` includes cached tokens, canonical input does not.
pub(crate) fn usage_from_wire(usage: &wire::Usage) -> canonical::Usage {
    let prompt = usage.prompt_tokens.as_option().copied().unwrap_or(0);
    let cached = usage
        .prompt_tokens_details
        .as_option()
        .and_then(|d| d.cached_tokens.as_option().copied());
    canonical::Usage {
        input_tokens: prompt.saturating_sub(cached.unwrap_or(0)),
        output_tokens: usage.completion_tokens.as_option().copied().unwrap_or(0),
        cache_read_input_tokens: cached,
        cache_creation_input_tokens: None,
        reasoning_tokens: usage
            .completion_tokens_details
            .as_option()
            .and_then(|d| d.reasoning_tokens.as_option().copied()),
    }
}

/// OpenAI usage from canonical usage: `prompt_tokens = input + cache_read + cache_creation`.
pub(crate) fn usage_to_wire(usage: &canonical::Usage) -> wire::Usage {
    let cache_read = usage.cache_read_input_tokens.unwrap_or(0);
    let prompt = usage.input_tokens + cache_read + usage.cache_creation_input_tokens.unwrap_or(0);
    wire::Usage {
        prompt_tokens: Nullable::Value(prompt),
        completion_tokens: Nullable::Value(usage.output_tokens),
        total_tokens: Nullable::Value(prompt + usage.output_tokens),
        prompt_tokens_details: Nullable::from_option(usage.cache_read_input_tokens.map(|cached| {
            wire::PromptTokensDetails {
                cached_tokens: Nullable::Value(cached),
                extra: Extra::new(),
            }
        })),
        completion_tokens_details: Nullable::from_option(usage.reasoning_tokens.map(|reasoning| {
            wire::CompletionTokensDetails {
                reasoning_tokens: Nullable::Value(reasoning),
                extra: Extra::new(),
            }
        })),
        extra: Extra::new(),
    }
}

/// Converts a complete Chat Completions response to canonical form (first choice only).
pub fn response_to_canonical(resp: &Response, notes: &mut LossyNotes) -> canonical::Response {
    note_extra(&resp.extra, "", notes);
    let mut out = canonical::Response {
        id: resp.id.clone(),
        model: resp.model.clone(),
        ..canonical::Response::default()
    };
    for c in 1..resp.choices.len() {
        notes.push(Lossy::dropped(format!("choices[{c}]")));
    }
    if let Some(choice) = resp.choices.first() {
        note_extra(&choice.extra, "choices[0]", notes);
        if matches!(choice.logprobs, Nullable::Value(ref v) if !v.is_null()) {
            notes.push(Lossy::dropped("choices[0].logprobs"));
        }
        let refusal_only = choice.message.refusal.as_option().is_some()
            && !matches!(&choice.message.content, Nullable::Value(Content::Text(t)) if !t.is_empty());
        out.content =
            assistant_to_canonical(choice.message.clone(), "choices[0].message", notes).content;
        out.stop_reason = match choice.finish_reason.as_option() {
            Some(_) if refusal_only => Some(StopReason::Refusal),
            Some(reason) => Some(stop_reason_from_wire(reason)),
            None => None,
        };
    }
    if let Nullable::Value(usage) = &resp.usage {
        note_extra(&usage.extra, "usage", notes);
        out.usage = usage_from_wire(usage);
    }
    out
}

/// Converts a canonical response to a Chat Completions `chat.completion`. `created` is 0 (the
/// canonical response has no timestamp): callers set it.
pub fn response_from_canonical(resp: &canonical::Response, notes: &mut LossyNotes) -> Response {
    let mut message = assistant_from_canonical(&resp.content, "content", notes);
    message.refusal = Nullable::Null;
    let finish_reason = resp.stop_reason.as_ref().map(|reason| {
        let (wire_reason, exact) = stop_reason_to_wire(reason);
        if !exact {
            notes.push(Lossy::approximated("stop_reason"));
        }
        wire_reason.to_owned()
    });
    if resp.stop_sequence.is_some() {
        notes.push(Lossy::dropped("stop_sequence"));
    }
    if resp
        .usage
        .cache_creation_input_tokens
        .is_some_and(|n| n > 0)
    {
        notes.push(Lossy::approximated("usage.cache_creation_input_tokens"));
    }
    Response {
        id: resp.id.clone(),
        object: Nullable::Value("chat.completion".to_owned()),
        created: Nullable::Value(0),
        model: resp.model.clone(),
        choices: vec![wire::Choice {
            index: 0,
            message,
            logprobs: Nullable::Null,
            finish_reason: Nullable::or_null(finish_reason),
            extra: Extra::new(),
        }],
        usage: Nullable::Value(usage_to_wire(&resp.usage)),
        extra: Map::new(),
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::canonical::{
        FunctionTool, Message, Role, Signature, SystemPart, ThinkingConfig, Usage,
    };

    fn parse(body: Value) -> Request {
        serde_json::from_value(body).unwrap()
    }

    fn paths(notes: &LossyNotes) -> Vec<String> {
        let mut paths: Vec<String> = notes.iter().map(|n| n.path.clone()).collect();
        paths.sort();
        paths
    }

    #[test]
    fn data_urls() {
        let cases = [
            ("data:image/png;base64,AAAA", Some(("image/png", "AAAA"))),
            (
                "data:application/pdf;base64,JVBE,RA==",
                Some(("application/pdf", "JVBE,RA==")),
            ),
            ("data:text/plain,hello", None),
            ("https://example.com/x.png", None),
        ];
        for (url, expected) in cases {
            let got = parse_data_url(url);
            let expected = expected.map(|(m, d)| (m.to_owned(), d.to_owned()));
            assert_eq!(got, expected, "{url}");
        }
    }

    #[test]
    fn stop_reasons() {
        let cases = [
            ("stop", StopReason::EndTurn),
            ("length", StopReason::MaxTokens),
            ("tool_calls", StopReason::ToolUse),
            ("function_call", StopReason::ToolUse),
            ("content_filter", StopReason::ContentFilter),
            ("eos", StopReason::Other("eos".into())),
        ];
        for (wire, canonical) in cases {
            assert_eq!(stop_reason_from_wire(wire), canonical, "{wire}");
        }
        let back = [
            (StopReason::EndTurn, ("stop", true)),
            (StopReason::StopSequence, ("stop", true)),
            (StopReason::MaxTokens, ("length", true)),
            (StopReason::ToolUse, ("tool_calls", true)),
            (StopReason::ContentFilter, ("content_filter", true)),
            (StopReason::Refusal, ("stop", false)),
            (StopReason::PauseTurn, ("stop", false)),
            (StopReason::Other("length".into()), ("length", true)),
            (StopReason::Other("eos".into()), ("stop", false)),
        ];
        for (canonical, expected) in back {
            assert_eq!(stop_reason_to_wire(&canonical), expected, "{canonical:?}");
        }
    }

    #[test]
    fn usage_subtracts_and_restores_cached_tokens() {
        let cases = [
            (
                json!({"prompt_tokens": 100, "completion_tokens": 10, "total_tokens": 110,
                       "prompt_tokens_details": {"cached_tokens": 60},
                       "completion_tokens_details": {"reasoning_tokens": 4}}),
                Usage {
                    input_tokens: 40,
                    output_tokens: 10,
                    cache_read_input_tokens: Some(60),
                    cache_creation_input_tokens: None,
                    reasoning_tokens: Some(4),
                },
            ),
            (
                json!({"prompt_tokens": 7, "completion_tokens": 3, "total_tokens": 10}),
                Usage {
                    input_tokens: 7,
                    output_tokens: 3,
                    ..Usage::default()
                },
            ),
        ];
        for (wire_usage, expected) in cases {
            let parsed: wire::Usage = serde_json::from_value(wire_usage.clone()).unwrap();
            assert_eq!(usage_from_wire(&parsed), expected);
            assert_eq!(
                serde_json::to_value(usage_to_wire(&expected)).unwrap(),
                wire_usage
            );
        }
        let anthropic = Usage {
            input_tokens: 5,
            output_tokens: 2,
            cache_read_input_tokens: Some(100),
            cache_creation_input_tokens: Some(20),
            reasoning_tokens: None,
        };
        let wire_usage = usage_to_wire(&anthropic);
        assert_eq!(wire_usage.prompt_tokens, Nullable::Value(125));
        assert_eq!(wire_usage.total_tokens, Nullable::Value(127));
    }

    #[test]
    fn thinking_config_maps_to_effort() {
        let cases = [
            (
                Some(ThinkingConfig::Enabled {
                    budget_tokens: Some(1024),
                }),
                None,
                Some("low"),
                true,
            ),
            (
                Some(ThinkingConfig::Enabled {
                    budget_tokens: Some(10_000),
                }),
                None,
                Some("medium"),
                true,
            ),
            (
                Some(ThinkingConfig::Enabled {
                    budget_tokens: Some(32_000),
                }),
                None,
                Some("high"),
                true,
            ),
            (
                Some(ThinkingConfig::Enabled {
                    budget_tokens: None,
                }),
                None,
                Some("medium"),
                true,
            ),
            (
                Some(ThinkingConfig::Enabled {
                    budget_tokens: Some(1024),
                }),
                Some("high"),
                Some("high"),
                true,
            ),
            (Some(ThinkingConfig::Adaptive), None, Some("medium"), true),
            (
                Some(ThinkingConfig::Adaptive),
                Some("high"),
                Some("high"),
                false,
            ),
            (Some(ThinkingConfig::Disabled), None, None, false),
            (Some(ThinkingConfig::Disabled), Some("high"), None, false),
            (None, Some("minimal"), None, false),
        ];
        for (thinking, effort, expected, noted) in cases {
            let req = canonical::Request {
                thinking: thinking.clone(),
                reasoning_effort: effort.map(str::to_owned),
                ..canonical::Request::default()
            };
            let mut notes = LossyNotes::new();
            let out = request_from_canonical(&req, &mut notes);
            assert_eq!(
                out.reasoning_effort.as_option().map(String::as_str),
                expected,
                "{thinking:?}"
            );
            assert_eq!(
                notes.iter().any(|n| n.path == "thinking"),
                noted,
                "{thinking:?}"
            );
        }
    }

    #[test]
    fn anthropic_shaped_canonical_request_maps_to_chat() {
        let cache = Some(json!({"type": "ephemeral"}));
        let req = canonical::Request {
            model: "planning".into(),
            system: vec![SystemPart {
                text: "be brief".into(),
                cache_control: cache.clone(),
            }],
            messages: vec![
                Message {
                    role: Role::User,
                    content: vec![text_part("list files".into())],
                },
                Message {
                    role: Role::Assistant,
                    content: vec![
                        Part::Thinking {
                            text: "use ls".into(),
                            signature: Some(Signature {
                                dialect: Dialect::Anthropic,
                                value: "sig".into(),
                            }),
                        },
                        text_part("Listing.".into()),
                        Part::ToolUse {
                            id: "toolu_1".into(),
                            name: "Bash".into(),
                            arguments: r#"{"command":"ls"}"#.into(),
                            cache_control: None,
                        },
                        Part::ToolUse {
                            id: "toolu_2".into(),
                            name: "Read".into(),
                            arguments: r#"{"file_path":"/a.png"}"#.into(),
                            cache_control: None,
                        },
                    ],
                },
                Message {
                    role: Role::User,
                    content: vec![
                        Part::ToolResult {
                            tool_use_id: "toolu_1".into(),
                            content: ToolResultContent::Text("a.png".into()),
                            is_error: true,
                            cache_control: None,
                        },
                        Part::ToolResult {
                            tool_use_id: "toolu_2".into(),
                            content: ToolResultContent::Parts(vec![
                                text_part("the image:".into()),
                                Part::Image {
                                    source: MediaSource::Base64 {
                                        media_type: "image/png".into(),
                                        data: "AAAA".into(),
                                    },
                                    detail: None,
                                    cache_control: None,
                                },
                            ]),
                            is_error: false,
                            cache_control: cache.clone(),
                        },
                        text_part("go on".into()),
                    ],
                },
            ],
            tools: vec![
                canonical::Tool::Function(FunctionTool {
                    name: "Bash".into(),
                    description: Some("run".into()),
                    parameters: json!({"type": "object"}),
                    strict: None,
                    cache_control: cache.clone(),
                }),
                canonical::Tool::Native {
                    dialect: Dialect::Anthropic,
                    raw: json!({"type": "web_search_20250305", "name": "web_search"}),
                },
            ],
            tool_choice: Some(canonical::ToolChoice::Required),
            top_k: Some(40),
            max_tokens: Some(32_000),
            stop: vec!["END".into()],
            ..canonical::Request::default()
        };
        let mut notes = LossyNotes::new();
        let out = request_from_canonical(&req, &mut notes).to_json();
        assert_eq!(
            out,
            json!({
                "model": "planning",
                "messages": [
                    {"role": "system", "content": "be brief"},
                    {"role": "user", "content": "list files"},
                    {"role": "assistant", "content": "Listing.", "reasoning_content": "use ls", "tool_calls": [
                        {"type": "function", "id": "toolu_1", "function": {"name": "Bash", "arguments": "{\"command\":\"ls\"}"}},
                        {"type": "function", "id": "toolu_2", "function": {"name": "Read", "arguments": "{\"file_path\":\"/a.png\"}"}}
                    ]},
                    {"role": "tool", "tool_call_id": "toolu_1", "content": "a.png"},
                    {"role": "tool", "tool_call_id": "toolu_2", "content": [{"type": "text", "text": "the image:"}]},
                    {"role": "user", "content": [{"type": "image_url", "image_url": {"url": "data:image/png;base64,AAAA"}}]},
                    {"role": "user", "content": "go on"}
                ],
                "tools": [{"type": "function", "function": {"name": "Bash", "description": "run", "parameters": {"type": "object"}}}],
                "tool_choice": "required",
                "max_completion_tokens": 32000,
                "stop": ["END"]
            })
        );
        assert_eq!(
            paths(&notes),
            [
                "messages[1].content[0].signature",
                "messages[2].content[0].is_error",
                "messages[2].content[1].cache_control",
                "messages[2].content[1].content[1]",
                "system[0].cache_control",
                "tools[0].cache_control",
                "tools[1]",
                "top_k",
            ]
        );
    }

    #[test]
    fn tool_settings_need_tools() {
        let native = canonical::Tool::Native {
            dialect: Dialect::Anthropic,
            raw: json!({"type": "web_search_20250305", "name": "web_search"}),
        };
        let function = canonical::Tool::Function(FunctionTool {
            name: "f".into(),
            description: None,
            parameters: json!({"type": "object"}),
            strict: None,
            cache_control: None,
        });
        let cases = [
            (
                vec![native.clone()],
                false,
                vec!["parallel_tool_calls", "tool_choice", "tools[0]"],
            ),
            (vec![native, function], true, vec!["tools[0]"]),
        ];
        for (tools, kept, expected_notes) in cases {
            let req = canonical::Request {
                tools,
                tool_choice: Some(canonical::ToolChoice::Auto),
                parallel_tool_calls: Some(false),
                ..canonical::Request::default()
            };
            let mut notes = LossyNotes::new();
            let out = request_from_canonical(&req, &mut notes);
            assert_eq!(!out.tool_choice.is_absent(), kept);
            assert_eq!(!out.parallel_tool_calls.is_absent(), kept);
            assert_eq!(paths(&notes), expected_notes);
        }
    }

    #[test]
    fn legacy_function_calling_maps_to_tools() {
        let req = parse(json!({
            "model": "m",
            "messages": [
                {"role": "user", "content": "weather?"},
                {"role": "assistant", "content": null, "function_call": {"name": "get_weather", "arguments": "{\"city\":\"Oslo\"}"}},
                {"role": "function", "name": "get_weather", "content": "-3C"}
            ],
            "functions": [{"name": "get_weather", "parameters": {"type": "object"}}],
            "function_call": {"name": "get_weather"}
        }));
        let mut notes = LossyNotes::new();
        let c = request_to_canonical(&req, &mut notes);
        assert_eq!(
            c.tool_choice,
            Some(canonical::ToolChoice::Tool("get_weather".into()))
        );
        assert!(matches!(&c.tools[..], [canonical::Tool::Function(f)] if f.name == "get_weather"));
        assert_eq!(
            c.messages[1].content,
            [Part::ToolUse {
                id: "get_weather".into(),
                name: "get_weather".into(),
                arguments: "{\"city\":\"Oslo\"}".into(),
                cache_control: None
            }]
        );
        assert_eq!(
            c.messages[2].content,
            [Part::ToolResult {
                tool_use_id: "get_weather".into(),
                content: ToolResultContent::Text("-3C".into()),
                is_error: false,
                cache_control: None
            }]
        );
        assert_eq!(
            paths(&notes),
            [
                "function_call",
                "functions[0]",
                "messages[1].function_call",
                "messages[2]"
            ]
        );
        let back = request_from_canonical(&c, &mut notes).to_json();
        assert_eq!(
            back["messages"][2],
            json!({"role": "tool", "tool_call_id": "get_weather", "content": "-3C"})
        );
        assert_eq!(
            back["tool_choice"],
            json!({"type": "function", "function": {"name": "get_weather"}})
        );
    }

    #[test]
    fn assistant_content_edge_cases() {
        let cases = [
            // Empty text next to a tool call is dropped, and comes back as null.
            (
                json!({"role": "assistant", "content": "", "tool_calls": [{"id": "c", "type": "function", "function": {"name": "f", "arguments": "{}"}}]}),
                json!({"role": "assistant", "content": null, "tool_calls": [{"id": "c", "type": "function", "function": {"name": "f", "arguments": "{}"}}]}),
            ),
            // Text parts concatenate into a string.
            (
                json!({"role": "assistant", "content": [{"type": "text", "text": "a"}, {"type": "text", "text": "b"}]}),
                json!({"role": "assistant", "content": "ab"}),
            ),
            // Explicit null content without calls stays null.
            (
                json!({"role": "assistant", "content": null}),
                json!({"role": "assistant", "content": null}),
            ),
        ];
        for (input, expected) in cases {
            let req = parse(json!({"model": "m", "messages": [input.clone()]}));
            let mut notes = LossyNotes::new();
            let back = request_from_canonical(&request_to_canonical(&req, &mut notes), &mut notes)
                .to_json();
            assert_eq!(back["messages"][0], expected, "{input}");
        }
    }

    #[test]
    fn part_cache_markers_are_kept_for_canonical() {
        let cache = json!({"type": "ephemeral"});
        let req = parse(json!({"model": "m", "messages": [
            {"role": "system", "content": [{"type": "text", "text": "sys", "cache_control": cache}]},
            {"role": "user", "content": [{"type": "text", "text": "hi", "cache_control": cache, "other": 1}]}
        ]}));
        let mut notes = LossyNotes::new();
        let c = request_to_canonical(&req, &mut notes);
        assert_eq!(c.system[0].cache_control.as_ref(), Some(&cache));
        assert_eq!(
            c.messages[0].content,
            [Part::Text {
                text: "hi".into(),
                cache_control: Some(cache.clone())
            }]
        );
        assert_eq!(paths(&notes), ["messages[1].content[0].other"]);
    }

    #[test]
    fn malformed_content_reports_the_part_error() {
        let cases = [
            (
                json!({"model": "m", "messages": [{"role": "user", "content": [{"type": "text"}]}]}),
                "missing field `text`",
            ),
            (
                json!({"model": "m", "messages": [{"role": "user", "content": 5}]}),
                "string or an array",
            ),
        ];
        for (body, expected) in cases {
            let err = serde_json::from_value::<Request>(body)
                .unwrap_err()
                .to_string();
            assert!(err.contains(expected), "{err}");
        }
        // An unknown part type is kept, not rejected.
        let ok = parse(
            json!({"model": "m", "messages": [{"role": "user", "content": [{"type": "video", "v": 1}]}]}),
        );
        assert_eq!(
            ok.to_json()["messages"][0]["content"][0],
            json!({"type": "video", "v": 1})
        );
    }

    #[test]
    fn response_with_refusal_and_extra_choices() {
        let resp: Response = serde_json::from_value(json!({
            "id": "r", "object": "chat.completion", "created": 1, "model": "m",
            "choices": [
                {"index": 0, "message": {"role": "assistant", "content": null, "refusal": "I can't help with that."},
                 "logprobs": {"content": []}, "finish_reason": "stop"},
                {"index": 1, "message": {"role": "assistant", "content": "other"}, "finish_reason": "stop"}
            ]
        }))
        .unwrap();
        let mut notes = LossyNotes::new();
        let c = response_to_canonical(&resp, &mut notes);
        assert_eq!(c.stop_reason, Some(StopReason::Refusal));
        assert_eq!(c.content, [text_part("I can't help with that.".into())]);
        assert_eq!(
            paths(&notes),
            [
                "choices[0].logprobs",
                "choices[0].message.refusal",
                "choices[1]"
            ]
        );
    }
}
