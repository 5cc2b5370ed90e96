//! Responses requests and responses to and from the canonical model (see the module docs of
//! [`crate::responses`] for the mapping decisions).

use serde_json::{json, Map, Number, Value};

use super::wire::{
    ContentPart, FilePart, FunctionCallItem, FunctionCallOutputItem, FunctionOutput, FunctionTool,
    ImagePart, IncompleteDetails, InputTokensDetails, Item, JsonSchemaFormat, MessageContent,
    MessageItem, Nullable, OutputTextPart, OutputTokensDetails, ReasoningConfig, ReasoningItem,
    ReasoningPart, Request, Response, ResponseUsage, TextConfig, TextFormat, TextPart, Tool,
    ToolChoice, ToolChoiceObject,
};
use crate::canonical::{
    self as c, Lossy, LossyNotes, MediaSource, Part, Role, Signature, StopReason, SystemPart,
    ThinkingConfig, ToolResultContent,
};
use crate::Dialect;

/// The include entry that asks for replayable reasoning.
const ENCRYPTED_REASONING: &str = "reasoning.encrypted_content";

// ---------------------------------------------------------------------------------------------------
// Request → canonical

/// Converts a Responses request into the canonical model, noting every field without a canonical
/// slot. The canonical request is made of a copy of the request's text, schemas and values; when
/// the typed request is no longer needed, [`request_into_canonical`] moves them instead.
pub fn request_to_canonical(req: &Request, notes: &mut LossyNotes) -> c::Request {
    request_into_canonical(req.clone(), notes)
}

/// [`request_to_canonical`], moving the request's strings and JSON values into the canonical
/// request instead of copying them (a Codex request carries its instructions, a dozen tool
/// schemas and the session's items).
pub fn request_into_canonical(req: Request, notes: &mut LossyNotes) -> c::Request {
    let mut out = c::Request {
        model: req.model.into_option().unwrap_or_default(),
        ..c::Request::default()
    };
    if let Some(instructions) = req.instructions.into_option() {
        out.system.push(SystemPart {
            text: instructions,
            cache_control: None,
        });
    }
    match req.input.into_option() {
        Some(super::wire::Input::Text(text)) => out.messages.push(c::Message {
            role: Role::User,
            content: vec![text_part(text)],
        }),
        Some(super::wire::Input::Items(items)) => items_to_canonical(items, &mut out, notes),
        None => {}
    }

    if let Some(tools) = req.tools.into_option() {
        out.tools.reserve_exact(tools.len());
        for (i, tool) in tools.into_iter().enumerate() {
            out.tools.push(tool_to_canonical(tool, i, notes));
        }
    }
    out.tool_choice = req
        .tool_choice
        .as_option()
        .and_then(|choice| tool_choice_to_canonical(choice, notes));
    out.parallel_tool_calls = req.parallel_tool_calls.as_option().copied();
    out.max_tokens = req.max_output_tokens.as_option().copied();
    out.temperature = req.temperature.as_option().and_then(Number::as_f64);
    out.top_p = req.top_p.as_option().and_then(Number::as_f64);
    out.stream = req.stream.as_option().copied().unwrap_or(false);

    if let Some(reasoning) = req.reasoning.into_option() {
        reasoning_to_canonical(reasoning, &mut out, notes);
    }
    let thinking_on = thinking_on(out.thinking.as_ref());
    if let Some(include) = req.include.as_option() {
        for (i, entry) in include.iter().enumerate() {
            if !(thinking_on && entry == ENCRYPTED_REASONING) {
                notes.push(Lossy::dropped(format!("include[{i}]")));
            }
        }
    }
    if let Some(store) = req.store.as_option() {
        // `store: false` is what the way back writes when reasoning is on.
        if *store || !thinking_on {
            notes.push(Lossy::dropped("store"));
        }
    }
    if let Some(text) = req.text.into_option() {
        text_to_canonical(text, &mut out, notes);
    }
    out.user = match (req.safety_identifier.into_option(), req.user.into_option()) {
        (Some(id), Some(_)) => {
            notes.push(Lossy::dropped("user"));
            Some(id)
        }
        (Some(id), None) | (None, Some(id)) => Some(id),
        (None, None) => None,
    };
    for (key, present) in [
        (
            "previous_response_id",
            req.previous_response_id.as_option().is_some(),
        ),
        (
            "prompt_cache_key",
            req.prompt_cache_key.as_option().is_some(),
        ),
        ("client_metadata", req.client_metadata.as_option().is_some()),
        ("metadata", req.metadata.as_option().is_some()),
    ] {
        if present {
            notes.push(Lossy::dropped(key));
        }
    }
    note_extra(&req.extra, "", notes);
    out
}

fn thinking_on(thinking: Option<&ThinkingConfig>) -> bool {
    matches!(
        thinking,
        Some(ThinkingConfig::Adaptive | ThinkingConfig::Enabled { .. })
    )
}

fn text_part(text: String) -> Part {
    Part::Text {
        text,
        cache_control: None,
    }
}

/// Notes every unknown key of `extra` as dropped, under `prefix`.
fn note_extra(extra: &Map<String, Value>, prefix: &str, notes: &mut LossyNotes) {
    for key in extra.keys() {
        notes.push(Lossy::dropped(join_path(prefix, key)));
    }
}

fn join_path(prefix: &str, key: &str) -> String {
    if prefix.is_empty() {
        key.to_owned()
    } else {
        format!("{prefix}.{key}")
    }
}

/// Notes `field` as dropped when it has a value; its path is written out only then.
fn note_present<T>(field: &Nullable<T>, path: impl FnOnce() -> String, notes: &mut LossyNotes) {
    if field.as_option().is_some() {
        notes.push(Lossy::dropped(path()));
    }
}

fn reasoning_to_canonical(r: ReasoningConfig, out: &mut c::Request, notes: &mut LossyNotes) {
    out.reasoning_effort = r.effort.into_option();
    out.thinking = Some(if out.reasoning_effort.as_deref() == Some("none") {
        ThinkingConfig::Disabled
    } else {
        ThinkingConfig::Adaptive
    });
    // The way back asks for `summary: "auto"` whenever thinking is on.
    if let Some(summary) = r.summary.as_option() {
        if summary != "auto" || !thinking_on(out.thinking.as_ref()) {
            notes.push(Lossy::approximated("reasoning.summary"));
        }
    }
    note_extra(&r.extra, "reasoning", notes);
}

fn text_to_canonical(text: TextConfig, out: &mut c::Request, notes: &mut LossyNotes) {
    out.response_format = match text.format.into_option() {
        Some(TextFormat::Text(e)) => {
            note_extra(&e.extra, "text.format", notes);
            Some(c::ResponseFormat::Text)
        }
        Some(TextFormat::JsonObject(e)) => {
            note_extra(&e.extra, "text.format", notes);
            Some(c::ResponseFormat::JsonObject)
        }
        Some(TextFormat::JsonSchema(f)) => {
            note_extra(&f.extra, "text.format", notes);
            Some(c::ResponseFormat::JsonSchema {
                name: f.name.into_option(),
                schema: f.schema,
                strict: f.strict.as_option().copied(),
            })
        }
        Some(TextFormat::Other(_)) => {
            notes.push(Lossy::dropped("text.format"));
            None
        }
        None => None,
    };
    note_present(&text.verbosity, || "text.verbosity".into(), notes);
    note_extra(&text.extra, "text", notes);
}

fn tool_to_canonical(tool: Tool, index: usize, notes: &mut LossyNotes) -> c::Tool {
    match tool {
        Tool::Function(f) => {
            if !f.extra.is_empty() {
                note_extra(&f.extra, &format!("tools[{index}]"), notes);
            }
            c::Tool::Function(c::FunctionTool {
                name: f.name,
                description: f.description.into_option(),
                parameters: f.parameters.into_option().unwrap_or(Value::Null),
                strict: f.strict.as_option().copied(),
                cache_control: None,
            })
        }
        Tool::Namespace(_) | Tool::Other(_) => c::Tool::Native {
            dialect: Dialect::Responses,
            raw: serde_json::to_value(&tool).unwrap_or(Value::Null),
        },
    }
}

fn tool_choice_to_canonical(choice: &ToolChoice, notes: &mut LossyNotes) -> Option<c::ToolChoice> {
    let mapped = match choice {
        ToolChoice::Mode(mode) => match mode.as_str() {
            "auto" => Some(c::ToolChoice::Auto),
            "none" => Some(c::ToolChoice::None),
            "required" => Some(c::ToolChoice::Required),
            _ => None,
        },
        ToolChoice::Object(obj) if obj.kind == "function" && obj.extra.is_empty() => obj
            .name
            .as_option()
            .map(|name| c::ToolChoice::Tool(name.clone())),
        ToolChoice::Object(_) => None,
    };
    if mapped.is_none() {
        notes.push(Lossy::dropped("tool_choice"));
    }
    mapped
}

/// Which side of the conversation an item belongs to, for grouping items into canonical turns.
fn last_is(messages: &[c::Message], role: Role) -> bool {
    messages.last().is_some_and(|m| m.role == role)
}

fn only_tool_results(message: &c::Message) -> bool {
    message
        .content
        .iter()
        .all(|p| matches!(p, Part::ToolResult { .. }))
}

/// Appends `parts` to the last turn when `merge` says so, else opens a new turn.
fn push_parts(messages: &mut Vec<c::Message>, role: Role, parts: Vec<Part>, merge: bool) {
    match messages.last_mut() {
        Some(last) if merge => last.content.extend(parts),
        _ => messages.push(c::Message {
            role,
            content: parts,
        }),
    }
}

fn items_to_canonical(items: Vec<Item>, out: &mut c::Request, notes: &mut LossyNotes) {
    let mut leading = true;
    for (i, item) in items.into_iter().enumerate() {
        let path = format!("input[{i}]");
        match item {
            Item::Message(m) => {
                note_present(&m.id, || format!("{path}.id"), notes);
                note_present(&m.status, || format!("{path}.status"), notes);
                note_extra(&m.extra, &path, notes);
                let role = match m.role.as_str() {
                    "assistant" => Role::Assistant,
                    "system" => Role::System,
                    "developer" => Role::Developer,
                    "user" => Role::User,
                    _ => {
                        notes.push(Lossy::approximated(format!("{path}.role")));
                        Role::User
                    }
                };
                let content = if leading && matches!(role, Role::System | Role::Developer) {
                    match plain_texts(m.content) {
                        Ok(texts) => {
                            out.system.extend(texts.into_iter().map(|text| SystemPart {
                                text,
                                cache_control: None,
                            }));
                            continue;
                        }
                        Err(content) => content,
                    }
                } else {
                    m.content
                };
                leading = false;
                let parts = content_to_canonical(content, &format!("{path}.content"), notes);
                let merge = match role {
                    Role::Assistant => last_is(&out.messages, Role::Assistant),
                    Role::User => {
                        last_is(&out.messages, Role::User)
                            && out.messages.last().is_some_and(only_tool_results)
                    }
                    Role::System | Role::Developer => false,
                };
                push_parts(&mut out.messages, role, parts, merge);
            }
            Item::FunctionCall(fc) => {
                leading = false;
                note_present(&fc.id, || format!("{path}.id"), notes);
                note_present(&fc.status, || format!("{path}.status"), notes);
                note_extra(&fc.extra, &path, notes);
                let part = Part::ToolUse {
                    id: fc.call_id,
                    name: fc.name,
                    arguments: fc.arguments,
                    cache_control: None,
                };
                let merge = last_is(&out.messages, Role::Assistant);
                push_parts(&mut out.messages, Role::Assistant, vec![part], merge);
            }
            Item::FunctionCallOutput(o) => {
                leading = false;
                note_present(&o.id, || format!("{path}.id"), notes);
                note_present(&o.status, || format!("{path}.status"), notes);
                note_extra(&o.extra, &path, notes);
                let content =
                    match o.output {
                        FunctionOutput::Text(text) => ToolResultContent::Text(text),
                        FunctionOutput::Parts(parts) => ToolResultContent::Parts(
                            parts_to_canonical(parts, &format!("{path}.output"), notes),
                        ),
                    };
                let part = Part::ToolResult {
                    tool_use_id: o.call_id,
                    content,
                    is_error: false,
                    cache_control: None,
                };
                let merge = last_is(&out.messages, Role::User)
                    && out.messages.last().is_some_and(only_tool_results);
                push_parts(&mut out.messages, Role::User, vec![part], merge);
            }
            Item::Reasoning(r) => {
                leading = false;
                let part = reasoning_to_thinking(r, &path, notes);
                let merge = last_is(&out.messages, Role::Assistant);
                push_parts(&mut out.messages, Role::Assistant, vec![part], merge);
            }
            Item::Other(_) => {
                leading = false;
                notes.push(Lossy::dropped(path));
            }
        }
    }
}

/// The texts of a message that is nothing but plain text, or the content back.
fn plain_texts(content: MessageContent) -> Result<Vec<String>, MessageContent> {
    match content {
        MessageContent::Text(text) => Ok(vec![text]),
        MessageContent::Parts(parts)
            if parts
                .iter()
                .all(|p| matches!(p, ContentPart::InputText(t) if t.extra.is_empty())) =>
        {
            Ok(parts
                .into_iter()
                .filter_map(|p| match p {
                    ContentPart::InputText(t) => Some(t.text),
                    _ => None,
                })
                .collect())
        }
        other => Err(other),
    }
}

fn content_to_canonical(content: MessageContent, path: &str, notes: &mut LossyNotes) -> Vec<Part> {
    match content {
        MessageContent::Text(text) => vec![text_part(text)],
        MessageContent::Parts(parts) => parts_to_canonical(parts, path, notes),
    }
}

fn parts_to_canonical(parts: Vec<ContentPart>, path: &str, notes: &mut LossyNotes) -> Vec<Part> {
    let mut out = Vec::with_capacity(parts.len());
    for (j, part) in parts.into_iter().enumerate() {
        let path = format!("{path}[{j}]");
        match part {
            ContentPart::InputText(t) => {
                note_extra(&t.extra, &path, notes);
                out.push(text_part(t.text));
            }
            ContentPart::OutputText(t) => {
                if t.annotations.as_option().is_some_and(|a| !a.is_empty()) {
                    notes.push(Lossy::dropped(format!("{path}.annotations")));
                }
                note_extra(&t.extra, &path, notes);
                out.push(text_part(t.text));
            }
            ContentPart::Refusal(r) => {
                notes.push(Lossy::approximated(path.clone()));
                note_extra(&r.extra, &path, notes);
                out.push(text_part(r.refusal));
            }
            ContentPart::InputImage(img) => {
                note_extra(&img.extra, &path, notes);
                let source = match (img.image_url.as_option(), img.file_id.into_option()) {
                    (Some(url), _) => media_from_url(url),
                    (None, Some(id)) => MediaSource::FileId(id),
                    (None, None) => {
                        notes.push(Lossy::dropped(path));
                        continue;
                    }
                };
                out.push(Part::Image {
                    source,
                    detail: img.detail.into_option(),
                    cache_control: None,
                });
            }
            ContentPart::InputFile(f) => {
                note_extra(&f.extra, &path, notes);
                let source = if let Some(id) = f.file_id.into_option() {
                    MediaSource::FileId(id)
                } else if let Some(data) = f.file_data.as_option() {
                    media_from_url(data)
                } else if let Some(url) = f.file_url.into_option() {
                    MediaSource::Url(url)
                } else {
                    notes.push(Lossy::dropped(path));
                    continue;
                };
                out.push(Part::Document {
                    source,
                    title: f.filename.into_option(),
                    cache_control: None,
                });
            }
            ContentPart::Other(_) => notes.push(Lossy::dropped(path)),
        }
    }
    out
}

/// A `data:<type>;base64,<data>` URL as inline base64, anything else as a URL.
fn media_from_url(url: &str) -> MediaSource {
    if let Some(rest) = url.strip_prefix("data:") {
        if let Some((media_type, data)) = rest.split_once(";base64,") {
            return MediaSource::Base64 {
                media_type: media_type.to_owned(),
                data: data.to_owned(),
            };
        }
    }
    MediaSource::Url(url.to_owned())
}

fn data_url(media_type: &str, data: &str) -> String {
    format!("data:{media_type};base64,{data}")
}

fn reasoning_to_thinking(r: ReasoningItem, path: &str, notes: &mut LossyNotes) -> Part {
    note_present(&r.id, || format!("{path}.id"), notes);
    note_present(&r.status, || format!("{path}.status"), notes);
    note_extra(&r.extra, path, notes);
    let texts = |parts: &Nullable<Vec<ReasoningPart>>, field: &str, notes: &mut LossyNotes| {
        let mut texts = Vec::new();
        for (k, part) in parts
            .as_option()
            .map(Vec::as_slice)
            .unwrap_or(&[])
            .iter()
            .enumerate()
        {
            match part.text() {
                Some(text) => texts.push(text.to_owned()),
                None => notes.push(Lossy::dropped(format!("{path}.{field}[{k}]"))),
            }
        }
        texts
    };
    let summary = texts(&r.summary, "summary", notes);
    let content = texts(&r.content, "content", notes);
    if summary.len() > 1 {
        notes.push(Lossy::approximated(format!("{path}.summary")));
    }
    let text = if !summary.is_empty() {
        if !content.is_empty() {
            notes.push(Lossy::dropped(format!("{path}.content")));
        }
        summary.join("\n\n")
    } else {
        content.join("\n\n")
    };
    Part::Thinking {
        text,
        signature: r.encrypted_content.into_option().map(|value| Signature {
            dialect: Dialect::Responses,
            value,
        }),
    }
}

// ---------------------------------------------------------------------------------------------------
// Canonical → request

/// Converts a canonical request into a Responses request, noting what Responses cannot express.
pub fn request_from_canonical(req: &c::Request, notes: &mut LossyNotes) -> Request {
    let mut items = Vec::new();
    if !req.system.is_empty() {
        let mut parts = Vec::with_capacity(req.system.len());
        for (i, part) in req.system.iter().enumerate() {
            if part.cache_control.is_some() {
                notes.push(Lossy::dropped(format!("system[{i}].cache_control")));
            }
            parts.push(ContentPart::InputText(TextPart {
                text: part.text.clone(),
                extra: Map::new(),
            }));
        }
        items.push(Item::Message(MessageItem {
            kind: Some("message".into()),
            id: Nullable::Absent,
            role: "developer".into(),
            content: MessageContent::Parts(parts),
            status: Nullable::Absent,
            extra: Map::new(),
        }));
    }
    for (i, message) in req.messages.iter().enumerate() {
        message_to_items(message, &format!("messages[{i}]"), &mut items, notes);
    }

    let mut tools = Vec::with_capacity(req.tools.len());
    for (i, tool) in req.tools.iter().enumerate() {
        match tool {
            c::Tool::Function(f) => {
                if f.cache_control.is_some() {
                    notes.push(Lossy::dropped(format!("tools[{i}].cache_control")));
                }
                tools.push(Tool::Function(FunctionTool {
                    name: f.name.clone(),
                    description: Nullable::from_option(f.description.clone()),
                    // The API requires a schema; an argument-less function has an empty one.
                    parameters: Nullable::Value(if f.parameters.is_null() {
                        json!({"type": "object", "properties": {}})
                    } else {
                        f.parameters.clone()
                    }),
                    // Responses makes schemas strict when `strict` is omitted (Chat Completions
                    // and Anthropic do not), which rejects or rewrites ordinary schemas.
                    strict: Nullable::Value(f.strict.unwrap_or(false)),
                    extra: Map::new(),
                }));
            }
            c::Tool::Native {
                dialect: Dialect::Responses,
                raw,
            } => tools.push(
                serde_json::from_value(raw.clone()).unwrap_or_else(|_| Tool::Other(raw.clone())),
            ),
            c::Tool::Native { .. } => notes.push(Lossy::dropped(format!("tools[{i}]"))),
        }
    }

    let thinking_on = thinking_on(req.thinking.as_ref());
    let mut effort = req.reasoning_effort.clone();
    if let Some(ThinkingConfig::Enabled {
        budget_tokens: Some(budget),
    }) = req.thinking
    {
        if effort.is_none() {
            effort = Some(effort_for_budget(budget).into());
            notes.push(Lossy::approximated("thinking.budget_tokens"));
        }
    }
    if req.thinking == Some(ThinkingConfig::Disabled) && effort.is_none() {
        notes.push(Lossy::approximated("thinking"));
    }
    // A reasoning effort without thinking (Anthropic's `output_config.effort` also scales plain
    // answers) would switch reasoning on here: it is dropped, and the model does not reason.
    if !thinking_on && effort.as_deref().is_some_and(|e| e != "none") {
        effort = None;
        notes.push(Lossy::dropped("reasoning_effort"));
    }
    let reasoning = if thinking_on || effort.is_some() {
        Nullable::Value(ReasoningConfig {
            effort: Nullable::from_option(effort),
            summary: if thinking_on {
                Nullable::Value("auto".into())
            } else {
                Nullable::Absent
            },
            extra: Map::new(),
        })
    } else {
        Nullable::Absent
    };

    if req.top_k.is_some() {
        notes.push(Lossy::dropped("top_k"));
    }
    if !req.stop.is_empty() {
        notes.push(Lossy::dropped("stop"));
    }

    Request {
        model: Nullable::Value(req.model.clone()),
        input: Nullable::Value(super::wire::Input::Items(items)),
        tools: if tools.is_empty() {
            Nullable::Absent
        } else {
            Nullable::Value(tools)
        },
        tool_choice: Nullable::from_option(req.tool_choice.as_ref().map(|choice| match choice {
            c::ToolChoice::Auto => ToolChoice::Mode("auto".into()),
            c::ToolChoice::None => ToolChoice::Mode("none".into()),
            c::ToolChoice::Required => ToolChoice::Mode("required".into()),
            c::ToolChoice::Tool(name) => ToolChoice::Object(ToolChoiceObject {
                kind: "function".into(),
                name: Nullable::Value(name.clone()),
                extra: Map::new(),
            }),
        })),
        parallel_tool_calls: Nullable::from_option(req.parallel_tool_calls),
        reasoning,
        include: if thinking_on {
            Nullable::Value(vec![ENCRYPTED_REASONING.into()])
        } else {
            Nullable::Absent
        },
        store: if thinking_on {
            Nullable::Value(false)
        } else {
            Nullable::Absent
        },
        stream: if req.stream {
            Nullable::Value(true)
        } else {
            Nullable::Absent
        },
        text: Nullable::from_option(req.response_format.as_ref().map(|format| TextConfig {
            format: Nullable::Value(text_format_from_canonical(format, notes)),
            verbosity: Nullable::Absent,
            extra: Map::new(),
        })),
        max_output_tokens: Nullable::from_option(req.max_tokens),
        temperature: Nullable::from_option(req.temperature.and_then(Number::from_f64)),
        top_p: Nullable::from_option(req.top_p.and_then(Number::from_f64)),
        safety_identifier: Nullable::from_option(req.user.clone()),
        ..Request::default()
    }
}

/// An effort level for an Anthropic-style thinking budget.
fn effort_for_budget(budget: u64) -> &'static str {
    match budget {
        0..=4096 => "low",
        4097..=16384 => "medium",
        _ => "high",
    }
}

fn text_format_from_canonical(format: &c::ResponseFormat, notes: &mut LossyNotes) -> TextFormat {
    match format {
        c::ResponseFormat::Text => TextFormat::Text(Default::default()),
        c::ResponseFormat::JsonObject => TextFormat::JsonObject(Default::default()),
        c::ResponseFormat::JsonSchema {
            name,
            schema,
            strict,
        } => TextFormat::JsonSchema(JsonSchemaFormat {
            name: Nullable::Value(name.clone().unwrap_or_else(|| {
                notes.push(Lossy::approximated("response_format.name"));
                "response".into()
            })),
            schema: schema.clone(),
            strict: Nullable::from_option(*strict),
            extra: Map::new(),
        }),
    }
}

fn role_str(role: Role) -> &'static str {
    match role {
        Role::System => "system",
        Role::Developer => "developer",
        Role::User => "user",
        Role::Assistant => "assistant",
    }
}

/// Splits one canonical turn into Responses items, in order.
fn message_to_items(
    message: &c::Message,
    path: &str,
    items: &mut Vec<Item>,
    notes: &mut LossyNotes,
) {
    let assistant = message.role == Role::Assistant;
    let mut pending: Vec<ContentPart> = Vec::new();
    let flush = |pending: &mut Vec<ContentPart>, items: &mut Vec<Item>| {
        if !pending.is_empty() {
            items.push(Item::Message(MessageItem {
                kind: Some("message".into()),
                id: Nullable::Absent,
                role: role_str(message.role).into(),
                content: MessageContent::Parts(std::mem::take(pending)),
                status: Nullable::Absent,
                extra: Map::new(),
            }));
        }
    };
    for (j, part) in message.content.iter().enumerate() {
        let path = format!("{path}.content[{j}]");
        match part {
            Part::Text { .. } | Part::Image { .. } | Part::Document { .. } => {
                if let Some(converted) = content_part_from_canonical(part, assistant, &path, notes)
                {
                    pending.push(converted);
                }
            }
            Part::ToolUse {
                id,
                name,
                arguments,
                cache_control,
            } => {
                flush(&mut pending, items);
                if cache_control.is_some() {
                    notes.push(Lossy::dropped(format!("{path}.cache_control")));
                }
                items.push(Item::FunctionCall(FunctionCallItem {
                    id: Nullable::Absent,
                    call_id: id.clone(),
                    name: name.clone(),
                    arguments: arguments.clone(),
                    status: Nullable::Absent,
                    extra: Map::new(),
                }));
            }
            Part::ToolResult {
                tool_use_id,
                content,
                is_error,
                cache_control,
            } => {
                flush(&mut pending, items);
                if cache_control.is_some() {
                    notes.push(Lossy::dropped(format!("{path}.cache_control")));
                }
                if *is_error {
                    notes.push(Lossy::dropped(format!("{path}.is_error")));
                }
                let output = match content {
                    ToolResultContent::Text(text) => FunctionOutput::Text(text.clone()),
                    ToolResultContent::Parts(parts) => FunctionOutput::Parts(
                        parts
                            .iter()
                            .enumerate()
                            .filter_map(|(k, p)| {
                                content_part_from_canonical(
                                    p,
                                    false,
                                    &format!("{path}.content[{k}]"),
                                    notes,
                                )
                            })
                            .collect(),
                    ),
                };
                items.push(Item::FunctionCallOutput(FunctionCallOutputItem {
                    id: Nullable::Absent,
                    call_id: tool_use_id.clone(),
                    output,
                    status: Nullable::Absent,
                    extra: Map::new(),
                }));
            }
            Part::Thinking {
                text,
                signature:
                    Some(Signature {
                        dialect: Dialect::Responses,
                        value,
                    }),
            } => {
                flush(&mut pending, items);
                items.push(Item::Reasoning(reasoning_item(
                    Nullable::Absent,
                    text,
                    Some(value.clone()),
                )));
            }
            Part::RedactedThinking {
                data,
                dialect: Dialect::Responses,
            } => {
                flush(&mut pending, items);
                items.push(Item::Reasoning(reasoning_item(
                    Nullable::Absent,
                    "",
                    Some(data.clone()),
                )));
            }
            Part::Thinking { .. } | Part::RedactedThinking { .. } => {
                // OpenAI only accepts reasoning it produced and encrypted itself.
                notes.push(Lossy::dropped(path));
            }
        }
    }
    flush(&mut pending, items);
}

/// A reasoning item with the text as one summary part (none when empty).
fn reasoning_item(id: Nullable<String>, text: &str, encrypted: Option<String>) -> ReasoningItem {
    let summary = if text.is_empty() {
        Vec::new()
    } else {
        vec![ReasoningPart::SummaryText(TextPart {
            text: text.to_owned(),
            extra: Map::new(),
        })]
    };
    ReasoningItem {
        id,
        summary: Nullable::Value(summary),
        content: Nullable::Absent,
        encrypted_content: Nullable::from_option(encrypted),
        status: Nullable::Absent,
        extra: Map::new(),
    }
}

/// A canonical text, image or document part as a Responses content part.
fn content_part_from_canonical(
    part: &Part,
    assistant: bool,
    path: &str,
    notes: &mut LossyNotes,
) -> Option<ContentPart> {
    let cache_control = match part {
        Part::Text { cache_control, .. }
        | Part::Image { cache_control, .. }
        | Part::Document { cache_control, .. } => cache_control.as_ref(),
        _ => None,
    };
    if cache_control.is_some() {
        notes.push(Lossy::dropped(format!("{path}.cache_control")));
    }
    match part {
        Part::Text { text, .. } if assistant => Some(ContentPart::OutputText(OutputTextPart {
            text: text.clone(),
            annotations: Nullable::Value(Vec::new()),
            extra: Map::new(),
        })),
        Part::Text { text, .. } => Some(ContentPart::InputText(TextPart {
            text: text.clone(),
            extra: Map::new(),
        })),
        Part::Image { .. } | Part::Document { .. } if assistant => {
            notes.push(Lossy::dropped(path.to_owned()));
            None
        }
        Part::Image { source, detail, .. } => {
            let mut img = ImagePart {
                image_url: Nullable::Absent,
                file_id: Nullable::Absent,
                detail: Nullable::from_option(detail.clone()),
                extra: Map::new(),
            };
            match source {
                MediaSource::Base64 { media_type, data } => {
                    img.image_url = Nullable::Value(data_url(media_type, data));
                }
                MediaSource::Url(url) => img.image_url = Nullable::Value(url.clone()),
                MediaSource::FileId(id) => img.file_id = Nullable::Value(id.clone()),
                MediaSource::Text(_) => {
                    notes.push(Lossy::dropped(path.to_owned()));
                    return None;
                }
            }
            Some(ContentPart::InputImage(img))
        }
        Part::Document { source, title, .. } => {
            let mut file = FilePart {
                file_id: Nullable::Absent,
                file_data: Nullable::Absent,
                file_url: Nullable::Absent,
                filename: Nullable::from_option(title.clone()),
                extra: Map::new(),
            };
            match source {
                MediaSource::Base64 { media_type, data } => {
                    file.file_data = Nullable::Value(data_url(media_type, data));
                }
                MediaSource::Url(url) => file.file_url = Nullable::Value(url.clone()),
                MediaSource::FileId(id) => file.file_id = Nullable::Value(id.clone()),
                MediaSource::Text(text) => {
                    notes.push(Lossy::approximated(path.to_owned()));
                    return Some(ContentPart::InputText(TextPart {
                        text: text.clone(),
                        extra: Map::new(),
                    }));
                }
            }
            Some(ContentPart::InputFile(file))
        }
        _ => None,
    }
}

// ---------------------------------------------------------------------------------------------------
// Responses

/// Converts a Responses response object into the canonical model.
pub fn response_to_canonical(resp: &Response, notes: &mut LossyNotes) -> c::Response {
    let mut content = Vec::new();
    let mut refused = false;
    let mut called = false;
    for (i, item) in resp
        .output
        .as_option()
        .map(Vec::as_slice)
        .unwrap_or(&[])
        .iter()
        .enumerate()
    {
        let path = format!("output[{i}]");
        match item {
            Item::Message(m) => {
                if let MessageContent::Parts(parts) = &m.content {
                    refused |= parts.iter().any(|p| matches!(p, ContentPart::Refusal(_)));
                }
                note_extra(&m.extra, &path, notes);
                content.extend(content_to_canonical(
                    m.content.clone(),
                    &format!("{path}.content"),
                    notes,
                ));
            }
            Item::FunctionCall(fc) => {
                called = true;
                note_extra(&fc.extra, &path, notes);
                content.push(Part::ToolUse {
                    id: fc.call_id.clone(),
                    name: fc.name.clone(),
                    arguments: fc.arguments.clone(),
                    cache_control: None,
                });
            }
            Item::Reasoning(r) => {
                // Output item ids are the response's own bookkeeping, not content.
                let mut item_notes = Vec::new();
                content.push(reasoning_to_thinking(r.clone(), &path, &mut item_notes));
                notes.extend(
                    item_notes
                        .into_iter()
                        .filter(|n| !n.path.ends_with(".id") && !n.path.ends_with(".status")),
                );
            }
            Item::FunctionCallOutput(_) | Item::Other(_) => notes.push(Lossy::dropped(path)),
        }
    }
    let stop_reason = stop_reason_to_canonical(resp, called, refused);
    c::Response {
        id: resp.id.clone(),
        model: resp.model.as_option().cloned().unwrap_or_default(),
        content,
        stop_reason,
        stop_sequence: None,
        usage: resp
            .usage
            .as_option()
            .map(usage_to_canonical)
            .unwrap_or_default(),
    }
}

/// The canonical stop reason of a response object.
pub(crate) fn stop_reason_to_canonical(
    resp: &Response,
    called: bool,
    refused: bool,
) -> Option<StopReason> {
    match resp.status.as_option().map(String::as_str) {
        Some("completed") if called => Some(StopReason::ToolUse),
        Some("completed") if refused => Some(StopReason::Refusal),
        Some("completed") => Some(StopReason::EndTurn),
        Some("incomplete") => Some(
            match resp
                .incomplete_details
                .as_option()
                .and_then(|d| d.reason.as_option())
                .map(String::as_str)
            {
                Some("max_output_tokens") => StopReason::MaxTokens,
                Some("content_filter") => StopReason::ContentFilter,
                Some(other) => StopReason::Other(other.to_owned()),
                None => StopReason::Other("incomplete".into()),
            },
        ),
        Some(other @ ("failed" | "cancelled")) => Some(StopReason::Other(other.to_owned())),
        _ => None,
    }
}

/// Canonical usage from Responses usage (`input_tokens` there includes cached tokens).
pub(crate) fn usage_to_canonical(usage: &ResponseUsage) -> c::Usage {
    let cached = usage
        .input_tokens_details
        .as_option()
        .and_then(|d| d.cached_tokens.as_option().copied());
    c::Usage {
        input_tokens: usage.input_tokens.saturating_sub(cached.unwrap_or(0)),
        output_tokens: usage.output_tokens,
        cache_read_input_tokens: cached,
        cache_creation_input_tokens: None,
        reasoning_tokens: usage
            .output_tokens_details
            .as_option()
            .and_then(|d| d.reasoning_tokens.as_option().copied()),
    }
}

/// Responses usage from canonical usage (cache reads and writes count as input tokens).
pub(crate) fn usage_from_canonical(usage: &c::Usage) -> ResponseUsage {
    let cached = usage.cache_read_input_tokens.unwrap_or(0);
    let input = usage.input_tokens + cached + usage.cache_creation_input_tokens.unwrap_or(0);
    ResponseUsage {
        input_tokens: input,
        input_tokens_details: Nullable::Value(InputTokensDetails {
            cached_tokens: Nullable::Value(cached),
            extra: Map::new(),
        }),
        output_tokens: usage.output_tokens,
        output_tokens_details: Nullable::Value(OutputTokensDetails {
            reasoning_tokens: Nullable::Value(usage.reasoning_tokens.unwrap_or(0)),
            extra: Map::new(),
        }),
        total_tokens: Nullable::Value(input + usage.output_tokens),
        extra: Map::new(),
    }
}

/// The part of a response id that output item ids are derived from.
pub(crate) fn id_base(id: &str) -> &str {
    id.strip_prefix("resp_").unwrap_or(id)
}

/// A deterministic output item id: `<prefix>_<base>_<output index>`.
pub(crate) fn item_id(prefix: &str, response_id: &str, index: usize) -> String {
    format!("{prefix}_{}_{index}", id_base(response_id))
}

/// `status` and `incomplete_details` for a canonical stop reason.
pub(crate) fn status_for(stop: Option<&StopReason>) -> (&'static str, Nullable<IncompleteDetails>) {
    let incomplete = |reason: &str| {
        Nullable::Value(IncompleteDetails {
            reason: Nullable::Value(reason.into()),
            extra: Map::new(),
        })
    };
    match stop {
        Some(StopReason::MaxTokens) => ("incomplete", incomplete("max_output_tokens")),
        Some(StopReason::ContentFilter) => ("incomplete", incomplete("content_filter")),
        _ => ("completed", Nullable::Null),
    }
}

/// A completed assistant message item holding `text` as one `output_text` part.
pub(crate) fn message_output(id: String, text: &str, status: &str) -> MessageItem {
    MessageItem {
        kind: Some("message".into()),
        id: Nullable::Value(id),
        role: "assistant".into(),
        content: MessageContent::Parts(vec![ContentPart::OutputText(OutputTextPart {
            text: text.to_owned(),
            annotations: Nullable::Value(Vec::new()),
            extra: Map::new(),
        })]),
        status: Nullable::Value(status.into()),
        extra: Map::new(),
    }
}

/// Converts a canonical response into a Responses response object. Item ids are derived from the
/// response id and the output index; `created_at` is 0 because the canonical response carries no time.
pub fn response_from_canonical(resp: &c::Response, notes: &mut LossyNotes) -> Response {
    // Another dialect's id (`msg_…`, `chatcmpl-…`) gets the Responses prefix.
    let resp_id = if resp.id.starts_with("resp_") {
        resp.id.clone()
    } else {
        format!("resp_{}", resp.id)
    };
    let mut output: Vec<Item> = Vec::new();
    let mut open_message: Option<usize> = None;
    for (j, part) in resp.content.iter().enumerate() {
        let path = format!("content[{j}]");
        match part {
            Part::Text {
                text,
                cache_control,
            } => {
                if cache_control.is_some() {
                    notes.push(Lossy::dropped(format!("{path}.cache_control")));
                }
                // Consecutive texts share one message item.
                if let Some(Item::Message(m)) = open_message.and_then(|k| output.get_mut(k)) {
                    if let MessageContent::Parts(parts) = &mut m.content {
                        parts.push(ContentPart::OutputText(OutputTextPart {
                            text: text.clone(),
                            annotations: Nullable::Value(Vec::new()),
                            extra: Map::new(),
                        }));
                    }
                    continue;
                }
                open_message = Some(output.len());
                output.push(Item::Message(message_output(
                    item_id("msg", &resp_id, output.len()),
                    text,
                    "completed",
                )));
                continue;
            }
            Part::ToolUse {
                id,
                name,
                arguments,
                ..
            } => output.push(Item::FunctionCall(FunctionCallItem {
                id: Nullable::Value(item_id("fc", &resp_id, output.len())),
                call_id: id.clone(),
                name: name.clone(),
                arguments: arguments.clone(),
                status: Nullable::Value("completed".into()),
                extra: Map::new(),
            })),
            Part::Thinking { text, signature } => {
                let encrypted = match signature {
                    Some(Signature {
                        dialect: Dialect::Responses,
                        value,
                    }) => Some(value.clone()),
                    Some(_) => {
                        notes.push(Lossy::dropped(format!("{path}.signature")));
                        None
                    }
                    None => None,
                };
                let id = Nullable::Value(item_id("rs", &resp_id, output.len()));
                output.push(Item::Reasoning(reasoning_item(id, text, encrypted)));
            }
            Part::RedactedThinking {
                data,
                dialect: Dialect::Responses,
            } => {
                let id = Nullable::Value(item_id("rs", &resp_id, output.len()));
                output.push(Item::Reasoning(reasoning_item(id, "", Some(data.clone()))));
            }
            Part::RedactedThinking { .. }
            | Part::Image { .. }
            | Part::Document { .. }
            | Part::ToolResult { .. } => notes.push(Lossy::dropped(path)),
        }
        open_message = None;
    }
    if resp.stop_sequence.is_some() {
        notes.push(Lossy::dropped("stop_sequence"));
    }
    let (status, incomplete_details) = status_for(resp.stop_reason.as_ref());
    Response {
        id: resp_id,
        object: Nullable::Value("response".into()),
        created_at: Nullable::Value(Number::from(0u64)),
        status: Nullable::Value(status.into()),
        model: Nullable::Value(resp.model.clone()),
        output: Nullable::Value(output),
        usage: Nullable::Value(usage_from_canonical(&resp.usage)),
        incomplete_details,
        error: Nullable::Null,
        extra: Map::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn req(v: Value) -> c::Request {
        let parsed: Request = serde_json::from_value(v).unwrap();
        request_to_canonical(&parsed, &mut Vec::new())
    }

    #[test]
    fn input_shapes_map_to_turns() {
        type Case = (Value, Vec<(Role, usize)>, usize);
        let cases: Vec<Case> = vec![
            // (input, [(role, part count)], system part count)
            (json!("hi"), vec![(Role::User, 1)], 0),
            (
                json!([{"role": "user", "content": "hi"}]),
                vec![(Role::User, 1)],
                0,
            ),
            (
                json!([
                    {"type": "message", "role": "developer", "content": [{"type": "input_text", "text": "a"}, {"type": "input_text", "text": "b"}]},
                    {"role": "system", "content": "c"},
                    {"role": "user", "content": "q"},
                    {"role": "developer", "content": "late"}
                ]),
                vec![(Role::User, 1), (Role::Developer, 1)],
                3,
            ),
            (
                json!([
                    {"role": "user", "content": "q"},
                    {"type": "reasoning", "summary": [], "encrypted_content": "e"},
                    {"type": "message", "role": "assistant", "content": [{"type": "output_text", "text": "t", "annotations": []}]},
                    {"type": "function_call", "call_id": "c1", "name": "f", "arguments": "{}"},
                    {"type": "function_call", "call_id": "c2", "name": "f", "arguments": "{}"},
                    {"type": "function_call_output", "call_id": "c1", "output": "r1"},
                    {"type": "function_call_output", "call_id": "c2", "output": [{"type": "input_text", "text": "r2"}]},
                    {"role": "user", "content": "next"},
                    {"role": "user", "content": "again"}
                ]),
                vec![
                    (Role::User, 1),
                    (Role::Assistant, 4),
                    (Role::User, 3),
                    (Role::User, 1),
                ],
                0,
            ),
        ];
        for (input, shape, system) in cases {
            let out = req(json!({"model": "m", "instructions": null, "input": input.clone()}));
            let got: Vec<(Role, usize)> = out
                .messages
                .iter()
                .map(|m| (m.role, m.content.len()))
                .collect();
            assert_eq!(got, shape, "{input}");
            assert_eq!(out.system.len(), system, "{input}");
        }
    }

    #[test]
    fn settings_map_both_ways() {
        let cases = vec![
            (
                json!({"reasoning": {"effort": "high", "summary": "auto"}}),
                Some("high"),
                Some(ThinkingConfig::Adaptive),
            ),
            (
                json!({"reasoning": {"effort": "none"}}),
                Some("none"),
                Some(ThinkingConfig::Disabled),
            ),
            (
                json!({"reasoning": {"summary": "auto"}}),
                None,
                Some(ThinkingConfig::Adaptive),
            ),
            (json!({}), None, None),
        ];
        for (body, effort, thinking) in cases {
            let out = req(body.clone());
            assert_eq!(out.reasoning_effort.as_deref(), effort, "{body}");
            assert_eq!(out.thinking, thinking, "{body}");
            let back = request_from_canonical(&out, &mut Vec::new()).to_json();
            assert_eq!(back.get("reasoning"), body.get("reasoning"), "{body}");
        }
    }

    #[test]
    fn effort_for_budget_levels() {
        for (budget, effort) in [
            (1024, "low"),
            (4096, "low"),
            (10_000, "medium"),
            (32_000, "high"),
        ] {
            assert_eq!(effort_for_budget(budget), effort);
        }
    }

    #[test]
    fn media_urls() {
        assert_eq!(
            media_from_url("data:image/png;base64,AAA"),
            MediaSource::Base64 {
                media_type: "image/png".into(),
                data: "AAA".into()
            }
        );
        assert_eq!(
            media_from_url("https://x/y.png"),
            MediaSource::Url("https://x/y.png".into())
        );
    }

    #[test]
    fn stop_reasons() {
        let cases = vec![
            (
                json!({"status": "completed"}),
                false,
                Some(StopReason::EndTurn),
            ),
            (
                json!({"status": "completed"}),
                true,
                Some(StopReason::ToolUse),
            ),
            (
                json!({"status": "incomplete", "incomplete_details": {"reason": "max_output_tokens"}}),
                false,
                Some(StopReason::MaxTokens),
            ),
            (
                json!({"status": "incomplete", "incomplete_details": {"reason": "content_filter"}}),
                false,
                Some(StopReason::ContentFilter),
            ),
            (
                json!({"status": "failed"}),
                false,
                Some(StopReason::Other("failed".into())),
            ),
            (json!({"status": "in_progress"}), false, None),
        ];
        for (body, called, want) in cases {
            let resp: Response = serde_json::from_value(body.clone()).unwrap();
            assert_eq!(
                stop_reason_to_canonical(&resp, called, false),
                want,
                "{body}"
            );
        }
    }

    #[test]
    fn usage_round_trip() {
        let wire = json!({"input_tokens": 100, "input_tokens_details": {"cached_tokens": 40},
            "output_tokens": 30, "output_tokens_details": {"reasoning_tokens": 10}, "total_tokens": 130});
        let usage: ResponseUsage = serde_json::from_value(wire.clone()).unwrap();
        let canonical = usage_to_canonical(&usage);
        assert_eq!(canonical.input_tokens, 60);
        assert_eq!(canonical.cache_read_input_tokens, Some(40));
        assert_eq!(canonical.reasoning_tokens, Some(10));
        assert_eq!(
            serde_json::to_value(usage_from_canonical(&canonical)).unwrap(),
            wire
        );
    }

    #[test]
    fn foreign_thinking_is_dropped_with_a_note() {
        let canonical = c::Request {
            messages: vec![c::Message {
                role: Role::Assistant,
                content: vec![Part::Thinking {
                    text: "hmm".into(),
                    signature: Some(Signature {
                        dialect: Dialect::Anthropic,
                        value: "sig".into(),
                    }),
                }],
            }],
            ..c::Request::default()
        };
        let mut notes = Vec::new();
        let out = request_from_canonical(&canonical, &mut notes).to_json();
        assert_eq!(out["input"], json!([]));
        assert_eq!(notes, vec![Lossy::dropped("messages[0].content[0]")]);
    }
}
