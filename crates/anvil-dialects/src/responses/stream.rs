//! Responses streams to and from canonical stream events.
//!
//! The decoder maps output items to canonical blocks: a `message` item's `output_text` (or `refusal`)
//! parts become text blocks, a `reasoning` item one thinking block (summary parts joined by a blank
//! line, `encrypted_content` as the signature at the end), a `function_call` item one tool-use block.
//! Items of other types (`web_search_call` …) carry no block. `response.completed` /
//! `response.incomplete` give `Finish` (stop reason, usage) and `End`; `response.failed` and `error`
//! give `Error`. What has no canonical counterpart is reported by [`StreamDecode::notes`], each path
//! once: items (`output[3].web_search_call`), content parts and annotations
//! (`output[0].content[0].annotations`), unknown events (`event.response.web_search_call.searching`),
//! and refusals, carried as text, as approximated (`output[0].content[0]`).
//!
//! The encoder emits the sequence the official SDKs accept: `response.created`,
//! `response.in_progress`, then per block `output_item.added` (+ `content_part.added` /
//! `reasoning_summary_part.added`), deltas, the `*.done` events carrying the full accumulated text or
//! arguments, `output_item.done` with the complete item, and finally `response.completed` (or
//! `response.incomplete`) with the full output and usage. Sequence numbers count from 0; item ids are
//! `msg_/rs_/fc_<response id>_<output index>`, so the output depends only on the input.

use serde_json::{json, Map, Number, Value};

use super::convert::{item_id, message_output, status_for, stop_reason_to_canonical};
use super::convert::{usage_from_canonical, usage_to_canonical};
use super::wire::{
    ContentPart, Event, FunctionCallItem, Item, MessageContent, Nullable, ReasoningItem,
    ReasoningPart, Response, ResponseError, TextPart,
};
use crate::canonical::{
    carries, BlockStart, Delta, NoteSet, Signature, StopReason, StreamEvent, Usage,
};
use crate::{DecodeError, Dialect, EncodeContext, SseEvent, StreamDecode, StreamEncode};

const DIALECT: &str = "responses";

fn protocol(message: impl Into<String>) -> DecodeError {
    DecodeError::Protocol {
        dialect: DIALECT,
        message: message.into(),
    }
}

// ---------------------------------------------------------------------------------------------------
// Decoder

/// What kind of block is open, and which part of the Responses output it came from.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Source {
    Text {
        output_index: u64,
        content_index: u64,
    },
    Thinking {
        output_index: u64,
    },
    ToolUse {
        output_index: u64,
    },
}

#[derive(Debug)]
struct Open {
    index: usize,
    source: Source,
    /// Whether any content was emitted for the block.
    streamed: bool,
    /// Reasoning summary parts seen so far.
    summary_parts: usize,
    /// Whether the current summary part received a delta.
    part_streamed: bool,
}

/// Decodes Responses SSE events into canonical stream events, incrementally.
#[derive(Debug, Default)]
pub struct StreamDecoder {
    notes: NoteSet,
    started: bool,
    finished: bool,
    next_index: usize,
    open: Option<Open>,
    /// Output indices of message items that produced a text block.
    texted: Vec<u64>,
    called: bool,
    refused: bool,
}

impl StreamDecoder {
    /// A decoder at the start of a stream.
    pub fn new() -> Self {
        Self::default()
    }

    fn close(&mut self, out: &mut Vec<StreamEvent>) {
        if let Some(open) = self.open.take() {
            out.push(StreamEvent::BlockStop { index: open.index });
        }
    }

    fn start_block(&mut self, source: Source, block: BlockStart, out: &mut Vec<StreamEvent>) {
        self.close(out);
        let index = self.next_index;
        self.next_index += 1;
        if let Source::Text { output_index, .. } = source {
            self.texted.push(output_index);
        }
        out.push(StreamEvent::BlockStart { index, block });
        self.open = Some(Open {
            index,
            source,
            streamed: false,
            summary_parts: 0,
            part_streamed: false,
        });
    }

    /// The open block if it came from `source`.
    fn open_for(&mut self, source: Source) -> Option<&mut Open> {
        self.open.as_mut().filter(|o| o.source == source)
    }

    /// Makes sure a block for `source` is open (opening one if the upstream skipped the announcement).
    fn ensure(&mut self, source: Source, out: &mut Vec<StreamEvent>) -> usize {
        if let Some(open) = self.open_for(source) {
            return open.index;
        }
        let block = match source {
            Source::Text { .. } => BlockStart::Text,
            Source::Thinking { .. } => BlockStart::Thinking,
            Source::ToolUse { .. } => BlockStart::ToolUse {
                id: String::new(),
                name: String::new(),
            },
        };
        self.start_block(source, block, out);
        self.next_index - 1
    }

    fn delta(&mut self, source: Source, delta: Delta, out: &mut Vec<StreamEvent>) {
        let index = self.ensure(source, out);
        if let Some(open) = self.open.as_mut() {
            open.streamed = true;
            open.part_streamed = true;
        }
        out.push(StreamEvent::Delta { index, delta });
    }

    /// Notes what an event carries that the canonical stream cannot.
    fn note_event(&mut self, event: &Event) {
        match event {
            Event::OutputItemAdded(e) | Event::OutputItemDone(e) => {
                self.note_item(e.output_index, &e.item);
            }
            Event::ContentPartAdded(e) | Event::ContentPartDone(e) => {
                let content_index = e.content_index.as_option().copied().unwrap_or(0);
                self.note_part(e.output_index, content_index, &e.part);
            }
            Event::OutputTextDelta(e) if e.extra.get("logprobs").is_some_and(carries) => {
                let path = part_path(e.output_index, e.content_index.as_option().copied());
                self.notes.dropped(format!("{path}.logprobs"));
            }
            Event::RefusalDelta(e) => {
                let path = part_path(e.output_index, e.content_index.as_option().copied());
                self.notes.approximated(path);
            }
            Event::RefusalDone(e) => {
                let path = part_path(e.output_index, e.content_index.as_option().copied());
                self.notes.approximated(path);
            }
            Event::Completed(e) | Event::Incomplete(e) => {
                if let Some(usage) = e.response.usage.as_option() {
                    self.notes.dropped_extra("usage", &usage.extra);
                }
            }
            Event::Other(_) => {
                let kind = event.type_name().unwrap_or("unknown");
                self.notes.dropped(format!("event.{kind}"));
            }
            _ => {}
        }
    }

    fn note_item(&mut self, output_index: u64, item: &Item) {
        match item {
            Item::Message(m) => {
                if let MessageContent::Parts(parts) = &m.content {
                    for (k, part) in parts.iter().enumerate() {
                        self.note_part(output_index, k as u64, part);
                    }
                }
            }
            Item::FunctionCall(_) | Item::Reasoning(_) => {}
            Item::FunctionCallOutput(_) | Item::Other(_) => {
                let kind = item.type_name().unwrap_or("unknown");
                self.notes.dropped(format!("output[{output_index}].{kind}"));
            }
        }
    }

    fn note_part(&mut self, output_index: u64, content_index: u64, part: &ContentPart) {
        let path = part_path(output_index, Some(content_index));
        match part {
            ContentPart::OutputText(t) => {
                if t.annotations.as_option().is_some_and(|a| !a.is_empty()) {
                    self.notes.dropped(format!("{path}.annotations"));
                }
                if t.extra.get("logprobs").is_some_and(carries) {
                    self.notes.dropped(format!("{path}.logprobs"));
                }
            }
            ContentPart::Refusal(_) => self.notes.approximated(path),
            other => {
                let kind = other.type_name().unwrap_or("unknown");
                self.notes.dropped(format!("{path}.{kind}"));
            }
        }
    }

    fn handle(&mut self, event: Event, out: &mut Vec<StreamEvent>) -> Result<(), DecodeError> {
        if self.finished {
            // Whatever follows the end of the response is ignored, but not silently.
            self.notes.dropped("event.after_end");
            return Ok(());
        }
        self.note_event(&event);
        let is_start = matches!(
            event,
            Event::Created(_) | Event::Queued(_) | Event::InProgress(_) | Event::Error(_)
        );
        if !self.started && !is_start {
            return Err(protocol(format!(
                "expected response.created before {}",
                event.type_name().unwrap_or("an untyped event")
            )));
        }
        match event {
            Event::Created(e) | Event::Queued(e) | Event::InProgress(e) => {
                if !self.started {
                    self.started = true;
                    out.push(StreamEvent::Start {
                        id: e.response.id.clone(),
                        model: e.response.model.as_option().cloned().unwrap_or_default(),
                        usage: None,
                    });
                }
            }
            Event::OutputItemAdded(e) => match e.item {
                Item::FunctionCall(fc) => {
                    self.called = true;
                    let source = Source::ToolUse {
                        output_index: e.output_index,
                    };
                    let block = BlockStart::ToolUse {
                        id: fc.call_id,
                        name: fc.name,
                    };
                    self.start_block(source, block, out);
                    if !fc.arguments.is_empty() {
                        self.delta(source, Delta::ToolArguments(fc.arguments), out);
                    }
                }
                Item::Reasoning(r) => {
                    let source = Source::Thinking {
                        output_index: e.output_index,
                    };
                    self.start_block(source, BlockStart::Thinking, out);
                    let text = reasoning_text(&r);
                    if !text.is_empty() {
                        self.delta(source, Delta::Thinking(text), out);
                    }
                }
                Item::Message(_) => self.close(out),
                Item::FunctionCallOutput(_) | Item::Other(_) => {}
            },
            Event::ContentPartAdded(e) => {
                let text = match e.part {
                    ContentPart::OutputText(t) => Some(t.text),
                    ContentPart::Refusal(r) => {
                        self.refused = true;
                        Some(r.refusal)
                    }
                    _ => None,
                };
                if let Some(text) = text {
                    let source = Source::Text {
                        output_index: e.output_index,
                        content_index: e.content_index.as_option().copied().unwrap_or(0),
                    };
                    self.start_block(source, BlockStart::Text, out);
                    if !text.is_empty() {
                        self.delta(source, Delta::Text(text), out);
                    }
                }
            }
            Event::OutputTextDelta(e) | Event::RefusalDelta(e) => {
                let source = Source::Text {
                    output_index: e.output_index,
                    content_index: e.content_index.as_option().copied().unwrap_or(0),
                };
                self.delta(source, Delta::Text(e.delta), out);
            }
            Event::OutputTextDone(e) => {
                let source = Source::Text {
                    output_index: e.output_index,
                    content_index: e.content_index.as_option().copied().unwrap_or(0),
                };
                self.fill(source, e.text, Delta::Text, out);
            }
            Event::RefusalDone(e) => {
                let source = Source::Text {
                    output_index: e.output_index,
                    content_index: e.content_index.as_option().copied().unwrap_or(0),
                };
                self.fill(source, e.refusal, Delta::Text, out);
            }
            Event::ContentPartDone(e) => {
                let source = Source::Text {
                    output_index: e.output_index,
                    content_index: e.content_index.as_option().copied().unwrap_or(0),
                };
                let text = match e.part {
                    ContentPart::OutputText(t) => t.text,
                    ContentPart::Refusal(r) => r.refusal,
                    _ => String::new(),
                };
                if self.open_for(source).is_some() {
                    self.fill(source, text, Delta::Text, out);
                    self.close(out);
                }
            }
            Event::FunctionCallArgumentsDelta(e) => {
                let source = Source::ToolUse {
                    output_index: e.output_index,
                };
                if self.open_for(source).is_some() {
                    self.delta(source, Delta::ToolArguments(e.delta), out);
                }
            }
            Event::FunctionCallArgumentsDone(e) => {
                let source = Source::ToolUse {
                    output_index: e.output_index,
                };
                self.fill(source, e.arguments, Delta::ToolArguments, out);
            }
            Event::ReasoningSummaryPartAdded(e) => {
                let source = Source::Thinking {
                    output_index: e.output_index,
                };
                self.ensure(source, out);
                let needs_break = self
                    .open
                    .as_ref()
                    .is_some_and(|o| o.summary_parts > 0 && o.streamed);
                if needs_break {
                    self.delta(source, Delta::Thinking("\n\n".into()), out);
                }
                if let Some(open) = self.open.as_mut() {
                    open.summary_parts += 1;
                    open.part_streamed = false;
                }
            }
            Event::ReasoningSummaryTextDelta(e) | Event::ReasoningTextDelta(e) => {
                let source = Source::Thinking {
                    output_index: e.output_index,
                };
                self.delta(source, Delta::Thinking(e.delta), out);
            }
            Event::ReasoningSummaryTextDone(e) | Event::ReasoningTextDone(e) => {
                let source = Source::Thinking {
                    output_index: e.output_index,
                };
                let streamed = self.open_for(source).is_some_and(|o| o.part_streamed);
                if !streamed && !e.text.is_empty() {
                    self.delta(source, Delta::Thinking(e.text), out);
                }
            }
            Event::ReasoningSummaryPartDone(_) => {}
            Event::OutputItemDone(e) => self.item_done(e.output_index, e.item, out),
            Event::Completed(e) | Event::Incomplete(e) => {
                self.close(out);
                let called = self.called
                    || e.response.output.as_option().is_some_and(|items| {
                        items.iter().any(|i| matches!(i, Item::FunctionCall(_)))
                    });
                out.push(StreamEvent::Finish {
                    stop_reason: stop_reason_to_canonical(&e.response, called, self.refused),
                    stop_sequence: None,
                    usage: e.response.usage.as_option().map(usage_to_canonical),
                });
                out.push(StreamEvent::End);
                self.finished = true;
            }
            // An error ends the stream with the open block left open, as Anthropic streams do:
            // a client that sees a block closed before the error takes the partial block as final
            // (Claude Code then gives up instead of retrying).
            Event::Failed(e) => {
                let (kind, message) = match e.response.error.as_option() {
                    Some(err) => (
                        err.code
                            .as_option()
                            .cloned()
                            .unwrap_or_else(|| "server_error".into()),
                        err.message.clone(),
                    ),
                    None => ("server_error".into(), "response failed".into()),
                };
                out.push(StreamEvent::Error { kind, message });
                self.finished = true;
            }
            Event::Error(e) => {
                // Some gateways nest the details: `{"type": "error", "error": {"code", "message"}}`.
                let nested = e.extra.get("error");
                let nested_str = |key: &str| {
                    nested
                        .and_then(|n| n.get(key))
                        .and_then(Value::as_str)
                        .map(str::to_owned)
                };
                let kind = e
                    .code
                    .as_option()
                    .cloned()
                    .or_else(|| nested_str("code"))
                    .or_else(|| nested_str("type"))
                    .unwrap_or_else(|| "error".into());
                let message = if e.message.is_empty() {
                    nested_str("message").unwrap_or_default()
                } else {
                    e.message
                };
                out.push(StreamEvent::Error { kind, message });
                self.finished = true;
            }
            Event::Other(_) => {}
        }
        Ok(())
    }

    /// Emits `full` for `source` when nothing was streamed for it (upstreams that skip deltas).
    fn fill(
        &mut self,
        source: Source,
        full: String,
        make: fn(String) -> Delta,
        out: &mut Vec<StreamEvent>,
    ) {
        let streamed = self.open_for(source).is_some_and(|o| o.streamed);
        if !streamed && !full.is_empty() && self.open_for(source).is_some() {
            self.delta(source, make(full), out);
        }
    }

    fn item_done(&mut self, output_index: u64, item: Item, out: &mut Vec<StreamEvent>) {
        match item {
            Item::FunctionCall(fc) => {
                self.called = true;
                let source = Source::ToolUse { output_index };
                if self.open_for(source).is_none() {
                    let block = BlockStart::ToolUse {
                        id: fc.call_id,
                        name: fc.name,
                    };
                    self.start_block(source, block, out);
                }
                self.fill(source, fc.arguments, Delta::ToolArguments, out);
                self.close(out);
            }
            Item::Reasoning(r) => {
                let source = Source::Thinking { output_index };
                let text = reasoning_text(&r);
                let encrypted = r.encrypted_content.as_option().cloned();
                if self.open_for(source).is_none() {
                    if text.is_empty() && encrypted.is_none() {
                        return;
                    }
                    self.start_block(source, BlockStart::Thinking, out);
                }
                self.fill(source, text, Delta::Thinking, out);
                if let Some(value) = encrypted {
                    self.delta(
                        source,
                        Delta::Signature(Signature {
                            dialect: Dialect::Responses,
                            value,
                        }),
                        out,
                    );
                }
                self.close(out);
            }
            Item::Message(m) => {
                let open_here = matches!(
                    self.open.as_ref().map(|o| o.source),
                    Some(Source::Text { output_index: oi, .. }) if oi == output_index
                );
                if open_here {
                    self.close(out);
                }
                if self.texted.contains(&output_index) {
                    return;
                }
                // The upstream sent the message whole: one text block per part.
                if let MessageContent::Parts(parts) = m.content {
                    for (k, part) in parts.into_iter().enumerate() {
                        let text = match part {
                            ContentPart::OutputText(t) => t.text,
                            ContentPart::Refusal(r) => {
                                self.refused = true;
                                r.refusal
                            }
                            _ => continue,
                        };
                        let source = Source::Text {
                            output_index,
                            content_index: k as u64,
                        };
                        self.start_block(source, BlockStart::Text, out);
                        if !text.is_empty() {
                            self.delta(source, Delta::Text(text), out);
                        }
                        self.close(out);
                    }
                }
            }
            Item::FunctionCallOutput(_) | Item::Other(_) => {}
        }
    }
}

/// The path of a message content part: `output[0].content[1]`.
fn part_path(output_index: u64, content_index: Option<u64>) -> String {
    format!(
        "output[{output_index}].content[{}]",
        content_index.unwrap_or(0)
    )
}

/// The text a reasoning item carries: summary parts joined by a blank line, else its raw content.
fn reasoning_text(r: &ReasoningItem) -> String {
    let join = |parts: &Nullable<Vec<ReasoningPart>>| {
        parts
            .as_option()
            .map(|ps| {
                ps.iter()
                    .filter_map(ReasoningPart::text)
                    .collect::<Vec<_>>()
                    .join("\n\n")
            })
            .unwrap_or_default()
    };
    let summary = join(&r.summary);
    if summary.is_empty() {
        join(&r.content)
    } else {
        summary
    }
}

impl StreamDecode for StreamDecoder {
    fn decode(&mut self, event: &SseEvent, out: &mut Vec<StreamEvent>) -> Result<(), DecodeError> {
        let data = event.data.trim();
        if data.is_empty() || data == "[DONE]" {
            return Ok(());
        }
        let mut value: Value = serde_json::from_str(data).map_err(|source| DecodeError::Json {
            dialect: DIALECT,
            source,
        })?;
        // Some proxies put the type only on the SSE `event:` line.
        if let (Some(map), Some(name)) = (value.as_object_mut(), event.event.as_ref()) {
            map.entry("type")
                .or_insert_with(|| Value::String(name.clone()));
        }
        let parsed: Event = serde_json::from_value(value).map_err(|source| DecodeError::Json {
            dialect: DIALECT,
            source,
        })?;
        self.handle(parsed, out)
    }

    fn finish(&mut self, _out: &mut Vec<StreamEvent>) -> Result<(), DecodeError> {
        if self.finished {
            Ok(())
        } else if !self.started {
            Err(protocol("stream ended before response.created"))
        } else {
            Err(protocol("stream ended before response.completed"))
        }
    }

    fn notes(&self) -> &[crate::Lossy] {
        self.notes.as_slice()
    }
}

// ---------------------------------------------------------------------------------------------------
// Encoder

#[derive(Debug)]
enum Building {
    Text {
        item_id: String,
        output_index: usize,
        text: String,
    },
    Thinking {
        item_id: String,
        output_index: usize,
        text: String,
        part_open: bool,
        encrypted: Option<String>,
    },
    Tool {
        item_id: String,
        output_index: usize,
        call_id: String,
        name: String,
        arguments: String,
    },
    /// A block this dialect cannot express (reasoning encrypted by another vendor).
    Skipped,
}

/// Encodes canonical stream events as Responses SSE events.
///
/// What the Responses wire cannot carry is reported by [`StreamEncode::notes`] under canonical paths:
/// another vendor's encrypted reasoning (`content[1]`) or signature (`content[0].signature`), the
/// stop sequence, a stop reason without an exact status (`stop_reason`), cache writes folded into
/// input tokens.
#[derive(Debug)]
pub struct StreamEncoder {
    notes: NoteSet,
    ctx: EncodeContext,
    seq: u64,
    id: String,
    model: String,
    output: Vec<Item>,
    open: Option<Building>,
    started: bool,
    done: bool,
}

impl StreamEncoder {
    /// An encoder presenting `ctx.id`, `ctx.model` and `ctx.created` to the client.
    pub fn new(ctx: EncodeContext) -> Self {
        Self {
            id: ctx.id.clone(),
            model: ctx.model.clone(),
            notes: NoteSet::default(),
            ctx,
            seq: 0,
            output: Vec::new(),
            open: None,
            started: false,
            done: false,
        }
    }

    fn emit(&mut self, kind: &str, fields: Value, out: &mut Vec<SseEvent>) {
        let mut map = Map::new();
        map.insert("type".into(), Value::String(kind.into()));
        map.insert("sequence_number".into(), Value::from(self.seq));
        if let Value::Object(fields) = fields {
            map.extend(fields);
        }
        self.seq += 1;
        out.push(SseEvent::named(kind, Value::Object(map).to_string()));
    }

    fn response(&self, status: &str) -> Response {
        Response {
            id: self.id.clone(),
            object: Nullable::Value("response".into()),
            created_at: Nullable::Value(Number::from(self.ctx.created)),
            status: Nullable::Value(status.into()),
            model: Nullable::Value(self.model.clone()),
            output: Nullable::Value(self.output.clone()),
            usage: Nullable::Null,
            incomplete_details: Nullable::Null,
            error: Nullable::Null,
            extra: Map::new(),
        }
    }

    fn start(&mut self, id: &str, model: &str, out: &mut Vec<SseEvent>) {
        if self.started {
            return;
        }
        self.started = true;
        self.id = if id.starts_with("resp_") {
            id.to_owned()
        } else if !self.ctx.id.is_empty() {
            self.ctx.id.clone()
        } else {
            format!("resp_{id}")
        };
        if self.model.is_empty() {
            self.model = model.to_owned();
        }
        let response = to_value(&self.response("in_progress"));
        self.emit("response.created", json!({ "response": response }), out);
        self.emit("response.in_progress", json!({ "response": response }), out);
    }

    fn ensure_started(&mut self, out: &mut Vec<SseEvent>) {
        if !self.started {
            let (id, model) = (self.ctx.id.clone(), self.ctx.model.clone());
            self.start(&id, &model, out);
        }
    }

    fn block_start(&mut self, index: usize, block: &BlockStart, out: &mut Vec<SseEvent>) {
        self.close(out);
        let output_index = self.output.len();
        let building = match block {
            BlockStart::Text => {
                let item_id = item_id("msg", &self.id, output_index);
                let item = json!({"type": "message", "id": item_id, "status": "in_progress",
                    "role": "assistant", "content": []});
                self.emit(
                    "response.output_item.added",
                    json!({"output_index": output_index, "item": item}),
                    out,
                );
                self.emit(
                    "response.content_part.added",
                    json!({"item_id": item_id, "output_index": output_index, "content_index": 0,
                        "part": {"type": "output_text", "annotations": [], "text": ""}}),
                    out,
                );
                Building::Text {
                    item_id,
                    output_index,
                    text: String::new(),
                }
            }
            BlockStart::Thinking => {
                let item_id = item_id("rs", &self.id, output_index);
                self.emit(
                    "response.output_item.added",
                    json!({"output_index": output_index,
                        "item": {"type": "reasoning", "id": item_id, "summary": []}}),
                    out,
                );
                Building::Thinking {
                    item_id,
                    output_index,
                    text: String::new(),
                    part_open: false,
                    encrypted: None,
                }
            }
            BlockStart::RedactedThinking {
                data,
                dialect: Dialect::Responses,
            } => {
                let item_id = item_id("rs", &self.id, output_index);
                self.emit(
                    "response.output_item.added",
                    json!({"output_index": output_index,
                        "item": {"type": "reasoning", "id": item_id, "summary": []}}),
                    out,
                );
                Building::Thinking {
                    item_id,
                    output_index,
                    text: String::new(),
                    part_open: false,
                    encrypted: Some(data.clone()),
                }
            }
            BlockStart::RedactedThinking { .. } => {
                self.notes.dropped(format!("content[{index}]"));
                Building::Skipped
            }
            BlockStart::ToolUse { id, name } => {
                let item_id = item_id("fc", &self.id, output_index);
                self.emit(
                    "response.output_item.added",
                    json!({"output_index": output_index, "item": {"type": "function_call",
                        "id": item_id, "call_id": id, "name": name, "arguments": "",
                        "status": "in_progress"}}),
                    out,
                );
                Building::Tool {
                    item_id,
                    output_index,
                    call_id: id.clone(),
                    name: name.clone(),
                    arguments: String::new(),
                }
            }
        };
        self.open = Some(building);
    }

    fn delta(&mut self, index: usize, delta: &Delta, out: &mut Vec<SseEvent>) {
        let mut open = self.open.take();
        match (&mut open, delta) {
            (
                Some(Building::Text {
                    item_id,
                    output_index,
                    text,
                }),
                Delta::Text(piece),
            ) => {
                text.push_str(piece);
                self.emit(
                    "response.output_text.delta",
                    json!({"item_id": item_id, "output_index": output_index, "content_index": 0,
                        "delta": piece, "logprobs": []}),
                    out,
                );
            }
            (
                Some(Building::Thinking {
                    item_id,
                    output_index,
                    text,
                    part_open,
                    ..
                }),
                Delta::Thinking(piece),
            ) => {
                if !*part_open {
                    *part_open = true;
                    self.emit(
                        "response.reasoning_summary_part.added",
                        json!({"item_id": item_id, "output_index": output_index, "summary_index": 0,
                            "part": {"type": "summary_text", "text": ""}}),
                        out,
                    );
                }
                text.push_str(piece);
                self.emit(
                    "response.reasoning_summary_text.delta",
                    json!({"item_id": item_id, "output_index": output_index, "summary_index": 0,
                        "delta": piece}),
                    out,
                );
            }
            (
                Some(Building::Thinking { encrypted, .. }),
                Delta::Signature(Signature {
                    dialect: Dialect::Responses,
                    value,
                }),
            ) => *encrypted = Some(value.clone()),
            (
                Some(Building::Tool {
                    item_id,
                    output_index,
                    arguments,
                    ..
                }),
                Delta::ToolArguments(piece),
            ) => {
                arguments.push_str(piece);
                self.emit(
                    "response.function_call_arguments.delta",
                    json!({"item_id": item_id, "output_index": output_index, "delta": piece}),
                    out,
                );
            }
            // A signature of another vendor, or a delta that does not fit the open block.
            (_, Delta::Signature(_)) => {
                self.notes.dropped(format!("content[{index}].signature"));
            }
            _ => {}
        }
        self.open = open;
    }

    fn close(&mut self, out: &mut Vec<SseEvent>) {
        let Some(open) = self.open.take() else {
            return;
        };
        let item = match open {
            Building::Text {
                item_id,
                output_index,
                text,
            } => {
                self.emit(
                    "response.output_text.done",
                    json!({"item_id": item_id, "output_index": output_index, "content_index": 0,
                        "text": text, "logprobs": []}),
                    out,
                );
                self.emit(
                    "response.content_part.done",
                    json!({"item_id": item_id, "output_index": output_index, "content_index": 0,
                        "part": {"type": "output_text", "annotations": [], "text": text}}),
                    out,
                );
                Item::Message(message_output(item_id, &text, "completed"))
            }
            Building::Thinking {
                item_id,
                output_index,
                text,
                part_open,
                encrypted,
            } => {
                if part_open {
                    self.emit(
                        "response.reasoning_summary_text.done",
                        json!({"item_id": item_id, "output_index": output_index,
                            "summary_index": 0, "text": text}),
                        out,
                    );
                    self.emit(
                        "response.reasoning_summary_part.done",
                        json!({"item_id": item_id, "output_index": output_index,
                            "summary_index": 0, "part": {"type": "summary_text", "text": text}}),
                        out,
                    );
                }
                let summary = if part_open {
                    vec![ReasoningPart::SummaryText(TextPart {
                        text,
                        extra: Map::new(),
                    })]
                } else {
                    Vec::new()
                };
                Item::Reasoning(ReasoningItem {
                    id: Nullable::Value(item_id),
                    summary: Nullable::Value(summary),
                    content: Nullable::Absent,
                    encrypted_content: Nullable::from_option(encrypted),
                    status: Nullable::Absent,
                    extra: Map::new(),
                })
            }
            Building::Tool {
                item_id,
                output_index,
                call_id,
                name,
                arguments,
            } => {
                self.emit(
                    "response.function_call_arguments.done",
                    json!({"item_id": item_id, "output_index": output_index,
                        "arguments": arguments}),
                    out,
                );
                Item::FunctionCall(FunctionCallItem {
                    id: Nullable::Value(item_id),
                    call_id,
                    name,
                    arguments,
                    status: Nullable::Value("completed".into()),
                    extra: Map::new(),
                })
            }
            Building::Skipped => return,
        };
        let output_index = self.output.len();
        self.emit(
            "response.output_item.done",
            json!({"output_index": output_index, "item": to_value(&item)}),
            out,
        );
        self.output.push(item);
    }

    fn finish(
        &mut self,
        stop: Option<&StopReason>,
        usage: Option<&Usage>,
        out: &mut Vec<SseEvent>,
    ) {
        self.ensure_started(out);
        self.close(out);
        if matches!(
            stop,
            Some(StopReason::PauseTurn | StopReason::Refusal | StopReason::Other(_))
        ) {
            self.notes.approximated("stop_reason");
        }
        if usage.is_some_and(|u| u.cache_creation_input_tokens.is_some_and(|n| n > 0)) {
            self.notes.approximated("usage.cache_creation_input_tokens");
        }
        let (status, incomplete_details) = status_for(stop);
        let mut response = self.response(status);
        response.incomplete_details = incomplete_details;
        response.usage = match usage {
            Some(usage) => Nullable::Value(usage_from_canonical(usage)),
            None => Nullable::Null,
        };
        let kind = if status == "incomplete" {
            "response.incomplete"
        } else {
            "response.completed"
        };
        self.emit(kind, json!({ "response": to_value(&response) }), out);
        self.done = true;
    }
}

fn to_value<T: serde::Serialize>(value: &T) -> Value {
    serde_json::to_value(value).unwrap_or(Value::Null)
}

impl StreamEncode for StreamEncoder {
    fn encode(&mut self, event: &StreamEvent, out: &mut Vec<SseEvent>) {
        if self.done {
            return;
        }
        match event {
            StreamEvent::Start { id, model, .. } => self.start(id, model, out),
            StreamEvent::BlockStart { index, block } => {
                self.ensure_started(out);
                self.block_start(*index, block, out);
            }
            StreamEvent::Delta { index, delta } => self.delta(*index, delta, out),
            StreamEvent::BlockStop { .. } => self.close(out),
            StreamEvent::Finish {
                stop_reason,
                stop_sequence,
                usage,
            } => {
                if stop_sequence.is_some() {
                    self.notes.dropped("stop_sequence");
                }
                self.finish(stop_reason.as_ref(), usage.as_ref(), out);
            }
            StreamEvent::End => self.finish(None, None, out),
            StreamEvent::Ping => {}
            StreamEvent::Error { kind, message } => {
                if self.started {
                    self.close(out);
                    let mut response = self.response("failed");
                    response.error = Nullable::Value(ResponseError {
                        code: Nullable::Value(kind.clone()),
                        message: message.clone(),
                        extra: Map::new(),
                    });
                    self.emit(
                        "response.failed",
                        json!({ "response": to_value(&response) }),
                        out,
                    );
                } else {
                    self.emit(
                        "error",
                        json!({"code": kind, "message": message, "param": null}),
                        out,
                    );
                }
                self.done = true;
            }
        }
    }

    fn notes(&self) -> &[crate::Lossy] {
        self.notes.as_slice()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sse(v: Value) -> SseEvent {
        let kind = v["type"].as_str().unwrap().to_owned();
        SseEvent::named(kind, v.to_string())
    }

    fn decode_all(events: Vec<Value>) -> Result<Vec<StreamEvent>, DecodeError> {
        let mut dec = StreamDecoder::new();
        let mut out = Vec::new();
        for e in events {
            dec.decode(&sse(e), &mut out)?;
        }
        dec.finish(&mut out)?;
        Ok(out)
    }

    fn created() -> Value {
        json!({"type": "response.created", "sequence_number": 0,
            "response": {"id": "resp_1", "object": "response", "status": "in_progress", "model": "m", "output": []}})
    }

    #[test]
    fn whole_items_without_deltas_still_yield_blocks() {
        let out = decode_all(vec![
            created(),
            json!({"type": "response.output_item.done", "output_index": 0, "item": {"type": "message",
                "id": "msg_1", "role": "assistant", "status": "completed",
                "content": [{"type": "output_text", "text": "hello", "annotations": []}]}}),
            json!({"type": "response.output_item.done", "output_index": 1, "item": {"type": "function_call",
                "id": "fc_1", "call_id": "call_1", "name": "f", "arguments": "{\"a\":1}"}}),
            json!({"type": "response.completed", "response": {"id": "resp_1", "status": "completed",
                "usage": {"input_tokens": 5, "output_tokens": 2}}}),
        ])
        .unwrap();
        assert_eq!(
            out,
            vec![
                StreamEvent::Start {
                    id: "resp_1".into(),
                    model: "m".into(),
                    usage: None
                },
                StreamEvent::BlockStart {
                    index: 0,
                    block: BlockStart::Text
                },
                StreamEvent::Delta {
                    index: 0,
                    delta: Delta::Text("hello".into())
                },
                StreamEvent::BlockStop { index: 0 },
                StreamEvent::BlockStart {
                    index: 1,
                    block: BlockStart::ToolUse {
                        id: "call_1".into(),
                        name: "f".into()
                    }
                },
                StreamEvent::Delta {
                    index: 1,
                    delta: Delta::ToolArguments("{\"a\":1}".into())
                },
                StreamEvent::BlockStop { index: 1 },
                StreamEvent::Finish {
                    stop_reason: Some(StopReason::ToolUse),
                    stop_sequence: None,
                    usage: Some(Usage {
                        input_tokens: 5,
                        output_tokens: 2,
                        ..Usage::default()
                    }),
                },
                StreamEvent::End,
            ]
        );
    }

    #[test]
    fn raw_reasoning_and_refusals() {
        let completed = json!({"type": "response.completed", "response": {"id": "resp_1",
            "status": "completed"}});
        let out = decode_all(vec![
            created(),
            json!({"type": "response.output_item.added", "output_index": 0,
                "item": {"type": "reasoning", "id": "rs_1", "summary": []}}),
            json!({"type": "response.content_part.added", "item_id": "rs_1", "output_index": 0,
                "content_index": 0, "part": {"type": "reasoning_text", "text": ""}}),
            json!({"type": "response.reasoning_text.delta", "item_id": "rs_1", "output_index": 0,
                "content_index": 0, "delta": "think"}),
            json!({"type": "response.content_part.done", "item_id": "rs_1", "output_index": 0,
                "content_index": 0, "part": {"type": "reasoning_text", "text": "think"}}),
            json!({"type": "response.output_item.done", "output_index": 0,
                "item": {"type": "reasoning", "id": "rs_1", "summary": [],
                    "content": [{"type": "reasoning_text", "text": "think"}]}}),
            json!({"type": "response.output_item.added", "output_index": 1,
                "item": {"type": "message", "id": "msg_1", "role": "assistant", "content": []}}),
            json!({"type": "response.content_part.added", "item_id": "msg_1", "output_index": 1,
                "content_index": 0, "part": {"type": "refusal", "refusal": ""}}),
            json!({"type": "response.refusal.delta", "item_id": "msg_1", "output_index": 1,
                "content_index": 0, "delta": "no"}),
            json!({"type": "response.refusal.done", "item_id": "msg_1", "output_index": 1,
                "content_index": 0, "refusal": "no"}),
            completed,
        ])
        .unwrap();
        assert_eq!(
            out[1..],
            [
                StreamEvent::BlockStart {
                    index: 0,
                    block: BlockStart::Thinking
                },
                StreamEvent::Delta {
                    index: 0,
                    delta: Delta::Thinking("think".into())
                },
                StreamEvent::BlockStop { index: 0 },
                StreamEvent::BlockStart {
                    index: 1,
                    block: BlockStart::Text
                },
                StreamEvent::Delta {
                    index: 1,
                    delta: Delta::Text("no".into())
                },
                StreamEvent::BlockStop { index: 1 },
                StreamEvent::Finish {
                    stop_reason: Some(StopReason::Refusal),
                    stop_sequence: None,
                    usage: None
                },
                StreamEvent::End,
            ]
        );
    }

    #[test]
    fn protocol_errors() {
        let cases: Vec<(Vec<Value>, &str)> = vec![
            (vec![], "before response.created"),
            (vec![created()], "before response.completed"),
            (
                vec![
                    json!({"type": "response.output_text.delta", "item_id": "x", "output_index": 0,
                    "content_index": 0, "delta": "a"}),
                ],
                "expected response.created",
            ),
        ];
        for (events, want) in cases {
            let err = decode_all(events).unwrap_err().to_string();
            assert!(err.contains(want), "{err}");
        }
    }

    #[test]
    fn failures_become_error_events() {
        let cases = vec![
            (
                json!({"type": "response.failed", "response": {"id": "resp_1", "status": "failed",
                    "error": {"code": "server_error", "message": "boom"}}}),
                ("server_error", "boom"),
            ),
            (
                json!({"type": "error", "code": "rate_limit_exceeded", "message": "slow down", "param": null}),
                ("rate_limit_exceeded", "slow down"),
            ),
            (
                json!({"type": "error", "error": {"type": "overloaded", "message": "busy"}}),
                ("overloaded", "busy"),
            ),
        ];
        for (event, (kind, message)) in cases {
            let out = decode_all(vec![created(), event]).unwrap();
            assert_eq!(
                out.last(),
                Some(&StreamEvent::Error {
                    kind: kind.into(),
                    message: message.into()
                })
            );
        }
    }

    #[test]
    fn encoder_numbers_events_and_reports_errors() {
        let mut enc = StreamEncoder::new(EncodeContext {
            id: "resp_ctx".into(),
            model: "gpt".into(),
            created: 7,
            include_usage: false,
        });
        let mut out = Vec::new();
        for ev in [
            StreamEvent::Start {
                id: "msg_x".into(),
                model: "claude".into(),
                usage: None,
            },
            StreamEvent::BlockStart {
                index: 0,
                block: BlockStart::Text,
            },
            StreamEvent::Delta {
                index: 0,
                delta: Delta::Text("a".into()),
            },
            StreamEvent::Error {
                kind: "overloaded_error".into(),
                message: "busy".into(),
            },
            StreamEvent::End,
        ] {
            enc.encode(&ev, &mut out);
        }
        let kinds: Vec<_> = out.iter().map(|e| e.event.clone().unwrap()).collect();
        assert_eq!(
            kinds,
            [
                "response.created",
                "response.in_progress",
                "response.output_item.added",
                "response.content_part.added",
                "response.output_text.delta",
                "response.output_text.done",
                "response.content_part.done",
                "response.output_item.done",
                "response.failed"
            ]
        );
        for (n, e) in out.iter().enumerate() {
            let v: Value = serde_json::from_str(&e.data).unwrap();
            assert_eq!(v["sequence_number"], json!(n));
        }
        let last: Value = serde_json::from_str(&out[8].data).unwrap();
        assert_eq!(last["response"]["id"], json!("resp_ctx"));
        assert_eq!(last["response"]["model"], json!("gpt"));
        assert_eq!(last["response"]["error"]["code"], json!("overloaded_error"));
        assert_eq!(last["response"]["output"][0]["id"], json!("msg_ctx_0"));
    }

    /// Decodes `created`, `events`, then `response.completed` with `usage`; returns the notes.
    fn decoder_notes(events: Vec<Value>, usage: Value) -> Vec<crate::Lossy> {
        let mut dec = StreamDecoder::new();
        let mut out = Vec::new();
        let completed = json!({"type": "response.completed", "response": {"id": "resp_1",
            "status": "completed", "usage": usage}});
        for e in std::iter::once(created()).chain(events).chain([completed]) {
            dec.decode(&sse(e), &mut out).unwrap();
        }
        dec.finish(&mut out).unwrap();
        dec.notes().to_vec()
    }

    #[test]
    fn decoder_notes_what_it_drops() {
        use crate::Lossy;
        let usage = json!({"input_tokens": 1, "output_tokens": 1});
        let text_part = |annotations: Value| {
            json!({"type": "response.content_part.done", "item_id": "msg_1", "output_index": 1,
                "content_index": 0, "part": {"type": "output_text", "text": "x", "annotations": annotations}})
        };
        let cases: Vec<(&str, Vec<Value>, Value, Vec<Lossy>)> = vec![
            (
                "text with empty annotations drops nothing",
                vec![
                    json!({"type": "response.output_text.delta", "item_id": "msg_1", "output_index": 0,
                        "content_index": 0, "delta": "hi", "logprobs": []}),
                    text_part(json!([])),
                ],
                usage.clone(),
                vec![],
            ),
            (
                "web search call item and its events",
                vec![
                    json!({"type": "response.output_item.added", "output_index": 3,
                        "item": {"type": "web_search_call", "id": "ws_1", "status": "in_progress"}}),
                    json!({"type": "response.web_search_call.searching", "output_index": 3, "item_id": "ws_1"}),
                    json!({"type": "response.output_item.done", "output_index": 3,
                        "item": {"type": "web_search_call", "id": "ws_1", "status": "completed"}}),
                ],
                usage.clone(),
                vec![
                    Lossy::dropped("output[3].web_search_call"),
                    Lossy::dropped("event.response.web_search_call.searching"),
                ],
            ),
            (
                "annotations",
                vec![
                    json!({"type": "response.output_text.annotation.added", "output_index": 1,
                        "content_index": 0, "annotation": {"type": "url_citation"}}),
                    text_part(json!([{"type": "url_citation", "url": "u"}])),
                ],
                usage.clone(),
                vec![
                    Lossy::dropped("event.response.output_text.annotation.added"),
                    Lossy::dropped("output[1].content[0].annotations"),
                ],
            ),
            (
                "refusal carried as text",
                vec![
                    json!({"type": "response.content_part.added", "item_id": "msg_1", "output_index": 0,
                        "content_index": 0, "part": {"type": "refusal", "refusal": ""}}),
                    json!({"type": "response.refusal.delta", "item_id": "msg_1", "output_index": 0,
                        "content_index": 0, "delta": "no"}),
                    json!({"type": "response.refusal.done", "item_id": "msg_1", "output_index": 0,
                        "content_index": 0, "refusal": "no"}),
                ],
                usage.clone(),
                vec![Lossy::approximated("output[0].content[0]")],
            ),
            (
                "logprobs",
                vec![
                    json!({"type": "response.output_text.delta", "item_id": "msg_1", "output_index": 0,
                    "content_index": 0, "delta": "hi", "logprobs": [{"token": "hi", "logprob": -1.0}]}),
                ],
                usage.clone(),
                vec![Lossy::dropped("output[0].content[0].logprobs")],
            ),
            (
                "function call output item",
                vec![
                    json!({"type": "response.output_item.done", "output_index": 0,
                    "item": {"type": "function_call_output", "call_id": "c", "output": "x"}}),
                ],
                usage,
                vec![Lossy::dropped("output[0].function_call_output")],
            ),
            (
                "unknown usage fields",
                vec![],
                json!({"input_tokens": 1, "output_tokens": 1, "cost": 0.2}),
                vec![Lossy::dropped("usage.cost")],
            ),
        ];
        for (name, events, usage, want) in cases {
            assert_eq!(decoder_notes(events, usage), want, "{name}");
        }
    }

    #[test]
    fn decoder_notes_events_after_the_end() {
        let mut dec = StreamDecoder::new();
        let mut out = Vec::new();
        let completed = json!({"type": "response.completed", "response": {"id": "resp_1", "status": "completed"}});
        for e in [created(), completed] {
            dec.decode(&sse(e), &mut out).unwrap();
        }
        dec.decode(&SseEvent::data("[DONE]"), &mut out).unwrap();
        assert_eq!(dec.notes(), []);
        let late = json!({"type": "response.output_text.delta", "item_id": "m", "output_index": 0, "delta": "x"});
        dec.decode(&sse(late), &mut out).unwrap();
        assert_eq!(dec.notes(), [crate::Lossy::dropped("event.after_end")]);
    }

    #[test]
    fn encoder_notes_what_it_drops() {
        use crate::Lossy;
        let start = StreamEvent::Start {
            id: "resp_1".into(),
            model: "m".into(),
            usage: None,
        };
        let thinking = |index: usize, dialect: Dialect| {
            vec![
                StreamEvent::BlockStart {
                    index,
                    block: BlockStart::Thinking,
                },
                StreamEvent::Delta {
                    index,
                    delta: Delta::Thinking("t".into()),
                },
                StreamEvent::Delta {
                    index,
                    delta: Delta::Signature(Signature {
                        dialect,
                        value: "sig".into(),
                    }),
                },
                StreamEvent::BlockStop { index },
            ]
        };
        let redacted = |index: usize, dialect: Dialect| {
            vec![
                StreamEvent::BlockStart {
                    index,
                    block: BlockStart::RedactedThinking {
                        data: "d".into(),
                        dialect,
                    },
                },
                StreamEvent::BlockStop { index },
            ]
        };
        let finish = |stop_reason: StopReason, stop_sequence: Option<&str>, usage| {
            vec![
                StreamEvent::Finish {
                    stop_reason: Some(stop_reason),
                    stop_sequence: stop_sequence.map(str::to_owned),
                    usage,
                },
                StreamEvent::End,
            ]
        };
        let end_turn = finish(StopReason::EndTurn, None, None);
        let cases: Vec<(&str, Vec<StreamEvent>, Vec<Lossy>)> = vec![
            (
                "own reasoning",
                [
                    thinking(0, Dialect::Responses),
                    redacted(1, Dialect::Responses),
                    end_turn.clone(),
                ]
                .concat(),
                vec![],
            ),
            (
                "another vendor's reasoning",
                [
                    thinking(0, Dialect::Anthropic),
                    redacted(1, Dialect::Anthropic),
                    end_turn,
                ]
                .concat(),
                vec![
                    Lossy::dropped("content[0].signature"),
                    Lossy::dropped("content[1]"),
                ],
            ),
            (
                "stop sequence and pause turn",
                finish(StopReason::PauseTurn, Some("END"), None),
                vec![
                    Lossy::dropped("stop_sequence"),
                    Lossy::approximated("stop_reason"),
                ],
            ),
            (
                "cache writes",
                finish(
                    StopReason::EndTurn,
                    None,
                    Some(Usage {
                        cache_creation_input_tokens: Some(3),
                        ..Default::default()
                    }),
                ),
                vec![Lossy::approximated("usage.cache_creation_input_tokens")],
            ),
        ];
        for (name, events, want) in cases {
            let mut enc = StreamEncoder::new(EncodeContext::default());
            let mut out = Vec::new();
            for e in std::iter::once(&start).chain(&events) {
                enc.encode(e, &mut out);
            }
            assert_eq!(enc.notes(), want, "{name}");
        }
    }
}
