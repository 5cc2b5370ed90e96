//! Chat Completions streams: `chat.completion.chunk` events ↔ canonical [`StreamEvent`]s.
//!
//! # Decoder strategy
//!
//! Canonical streams have one open block at a time, while Chat Completions chunks may carry several
//! tool calls whose pieces interleave by `index`. The decoder streams live for as long as that is
//! safe and buffers only what it must:
//!
//! * Reasoning (`reasoning_content`, or `reasoning`) and text (`content`, `refusal`) stream live; a
//!   change of kind closes the open block and opens the next one.
//! * The first tool call streams live (its header opens a `ToolUse` block, argument pieces become
//!   deltas). A tool block is never closed before the end of the choice, because OpenAI does not
//!   promise that a call is complete when another index starts. While it is open, pieces of other
//!   tool calls (and any text after tool calls) are buffered, each call in its own buffer keyed by
//!   `index`, in order of first appearance.
//! * When the choice ends (`finish_reason`, then the usage chunk, `[DONE]` or EOF) the open block is
//!   closed and every buffered item is emitted as a complete block (start, one delta, stop). So the
//!   arguments of every call are the concatenation of its pieces byte for byte, whatever the
//!   interleaving, and the canonical sequence stays valid.
//! * A call whose first piece has no name waits in the buffer until the name arrives. A piece without
//!   `index` continues the last call, or starts a new one when it brings a new id. A legacy
//!   `delta.function_call` is a tool call whose id is the function name.
//! * `Finish` is held until the usage chunk (`choices: []`), `[DONE]` or EOF, so that it carries the
//!   usage. EOF after a `finish_reason` completes the stream; EOF before one is an error. A data event
//!   `{"error": …}` becomes a canonical `Error` and ends the stream. Only choice 0 is decoded.
//! * What has no canonical counterpart is reported by [`StreamDecode::notes`], each path once: other
//!   choices (`choices[1]`), `choices[0].logprobs`, unknown chunk, choice, delta and usage fields by
//!   name (`system_fingerprint`, `choices[0].native_finish_reason`), and a refusal, carried as text,
//!   as approximated (`choices[0].delta.refusal`).
//!
//! # Encoder
//!
//! Role chunk first, then content / `reasoning_content` / tool-call chunks (a header with id, type,
//! name and `arguments: ""`, then argument pieces), a finish chunk with `finish_reason`, a usage chunk
//! with `choices: []` when [`EncodeContext::include_usage`], and the literal `[DONE]`. The chunk `id`
//! is the `Start` event's id when it is a `chatcmpl-` id, otherwise [`EncodeContext::id`] (or the
//! `Start` id when the context has none); the `model` is [`EncodeContext::model`] (or the `Start`
//! event's model when the context has none).

use serde_json::{json, Value};

use super::convert::{stop_reason_from_wire, stop_reason_to_wire, usage_from_wire, usage_to_wire};
use super::nullable::Nullable;
use super::wire::{Chunk, ChunkChoice, ChunkDelta, Extra, FunctionDelta, ToolCallDelta};
use crate::canonical::{self, BlockStart, Delta, NoteSet, StopReason, StreamEvent};
use crate::{DecodeError, EncodeContext, SseEvent, StreamDecode, StreamEncode};

const DIALECT: &str = "openai";

fn protocol(message: impl Into<String>) -> DecodeError {
    DecodeError::Protocol {
        dialect: DIALECT,
        message: message.into(),
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Text,
    Thinking,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Live {
    None,
    Kind(Kind, usize),
    Tool(u64, usize),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum ToolState {
    /// Not emitted yet (waiting for its name, or buffered behind the live block).
    Waiting,
    /// Its block is open.
    Live,
    /// Its block is closed.
    Emitted,
}

#[derive(Debug)]
struct ToolBuf {
    index: u64,
    id: Option<String>,
    name: Option<String>,
    args: String,
    state: ToolState,
    in_tail: bool,
}

#[derive(Debug)]
enum Segment {
    Kind(Kind, String),
    Tool(u64),
}

/// Decodes a Chat Completions SSE stream into canonical events. See the module docs for the strategy.
#[derive(Debug)]
pub struct StreamDecoder {
    notes: NoteSet,
    started: bool,
    id: String,
    next_index: usize,
    live: Live,
    tools: Vec<ToolBuf>,
    tail: Vec<Segment>,
    saw_finish: bool,
    stop_reason: Option<StopReason>,
    usage: Option<canonical::Usage>,
    finished: bool,
    ended: bool,
}

impl Default for StreamDecoder {
    fn default() -> Self {
        Self::new()
    }
}

impl StreamDecoder {
    /// A decoder at the start of a stream.
    pub fn new() -> Self {
        Self {
            notes: NoteSet::default(),
            started: false,
            id: String::new(),
            next_index: 0,
            live: Live::None,
            tools: Vec::new(),
            tail: Vec::new(),
            saw_finish: false,
            stop_reason: None,
            usage: None,
            finished: false,
            ended: false,
        }
    }

    fn open(&mut self, block: BlockStart, out: &mut Vec<StreamEvent>) -> usize {
        let index = self.next_index;
        self.next_index += 1;
        out.push(StreamEvent::BlockStart { index, block });
        index
    }

    fn close_live(&mut self, out: &mut Vec<StreamEvent>) {
        match self.live {
            Live::None => {}
            Live::Kind(_, index) => out.push(StreamEvent::BlockStop { index }),
            Live::Tool(tool, index) => {
                if let Some(buf) = self.tools.iter_mut().find(|t| t.index == tool) {
                    buf.state = ToolState::Emitted;
                }
                out.push(StreamEvent::BlockStop { index });
            }
        }
        self.live = Live::None;
    }

    fn kind_delta(kind: Kind, text: String) -> Delta {
        match kind {
            Kind::Text => Delta::Text(text),
            Kind::Thinking => Delta::Thinking(text),
        }
    }

    fn push_kind(&mut self, kind: Kind, text: &str, out: &mut Vec<StreamEvent>) {
        if text.is_empty() {
            return;
        }
        if matches!(self.live, Live::Tool(..)) || !self.tail.is_empty() {
            match self.tail.last_mut() {
                Some(Segment::Kind(k, buffered)) if *k == kind => buffered.push_str(text),
                _ => self.tail.push(Segment::Kind(kind, text.to_owned())),
            }
            return;
        }
        let index = match self.live {
            Live::Kind(k, index) if k == kind => index,
            _ => {
                self.close_live(out);
                let block = match kind {
                    Kind::Text => BlockStart::Text,
                    Kind::Thinking => BlockStart::Thinking,
                };
                let index = self.open(block, out);
                self.live = Live::Kind(kind, index);
                index
            }
        };
        out.push(StreamEvent::Delta {
            index,
            delta: Self::kind_delta(kind, text.to_owned()),
        });
    }

    fn call_id(&self, buf: &ToolBuf) -> String {
        match &buf.id {
            Some(id) if !id.is_empty() => id.clone(),
            // Some compatible servers omit the id; make one that is unique within the response.
            _ if self.id.is_empty() => format!("call_{}", buf.index),
            _ => format!("call_{}_{}", self.id, buf.index),
        }
    }

    fn push_tool(
        &mut self,
        delta: &ToolCallDelta,
        out: &mut Vec<StreamEvent>,
    ) -> Result<(), DecodeError> {
        let id = delta.id.as_option().filter(|id| !id.is_empty());
        let tool = match delta.index.as_option() {
            Some(index) => *index,
            // No index (some compatible servers): a new id is a new call, otherwise the last call.
            None => match id {
                Some(id)
                    if !self
                        .tools
                        .iter()
                        .any(|t| t.id.as_deref() == Some(id.as_str())) =>
                {
                    self.tools
                        .iter()
                        .filter(|t| t.index != LEGACY_FUNCTION_INDEX)
                        .map(|t| t.index.saturating_add(1))
                        .max()
                        .unwrap_or(0)
                }
                _ => self.tools.last().map_or(0, |t| t.index),
            },
        };
        let position = match self.tools.iter().position(|t| t.index == tool) {
            Some(position) => position,
            None => {
                self.tools.push(ToolBuf {
                    index: tool,
                    id: None,
                    name: None,
                    args: String::new(),
                    state: ToolState::Waiting,
                    in_tail: false,
                });
                self.tools.len() - 1
            }
        };
        let function = delta.function.as_option();
        if tool != LEGACY_FUNCTION_INDEX {
            let path = format!("choices[0].delta.tool_calls[{tool}]");
            self.notes.dropped_extra(&path, &delta.extra);
            if let Some(f) = function {
                self.notes
                    .dropped_extra(&format!("{path}.function"), &f.extra);
            }
            if delta.r#type.as_option().is_some_and(|t| t != "function") {
                self.notes.approximated(format!("{path}.type"));
            }
        }
        let name = function
            .and_then(|f| f.name.as_option())
            .filter(|n| !n.is_empty());
        let args = function
            .and_then(|f| f.arguments.as_option())
            .map_or("", String::as_str);
        let buf = &mut self.tools[position];
        if buf.id.is_none() {
            buf.id = id.cloned();
        }
        if buf.name.is_none() {
            buf.name = name.cloned();
        }
        match buf.state {
            ToolState::Emitted => {
                return Err(protocol(format!(
                    "tool call {tool} continued after its block was closed"
                )));
            }
            ToolState::Live => {
                if let Live::Tool(_, index) = self.live {
                    if !args.is_empty() {
                        out.push(StreamEvent::Delta {
                            index,
                            delta: Delta::ToolArguments(args.to_owned()),
                        });
                    }
                }
                return Ok(());
            }
            ToolState::Waiting => buf.args.push_str(args),
        }
        let named = buf.name.is_some();
        let in_tail = buf.in_tail;
        let live_is_tool = matches!(self.live, Live::Tool(..));
        let at_front = matches!(self.tail.first(), Some(Segment::Tool(t)) if *t == tool);
        let can_go_live =
            named && !live_is_tool && ((!in_tail && self.tail.is_empty()) || (in_tail && at_front));
        if can_go_live {
            if in_tail {
                self.tail.remove(0);
            }
            self.close_live(out);
            let index = self.open_tool(position, ToolState::Live, out);
            self.live = Live::Tool(tool, index);
        } else if !in_tail {
            self.tools[position].in_tail = true;
            self.tail.push(Segment::Tool(tool));
        }
        Ok(())
    }

    /// Opens the block of the tool call at `position`, emits the arguments buffered so far, and
    /// moves the call to `state`; returns the block index.
    fn open_tool(
        &mut self,
        position: usize,
        state: ToolState,
        out: &mut Vec<StreamEvent>,
    ) -> usize {
        let buf = &self.tools[position];
        let block = BlockStart::ToolUse {
            id: self.call_id(buf),
            name: buf.name.clone().unwrap_or_default(),
        };
        let index = self.open(block, out);
        let buf = &mut self.tools[position];
        buf.state = state;
        buf.in_tail = false;
        let buffered = std::mem::take(&mut buf.args);
        if !buffered.is_empty() {
            out.push(StreamEvent::Delta {
                index,
                delta: Delta::ToolArguments(buffered),
            });
        }
        index
    }

    /// Closes the open block and emits everything buffered as complete blocks.
    fn flush_blocks(&mut self, out: &mut Vec<StreamEvent>) {
        self.close_live(out);
        for segment in std::mem::take(&mut self.tail) {
            match segment {
                Segment::Kind(kind, text) => {
                    let block = match kind {
                        Kind::Text => BlockStart::Text,
                        Kind::Thinking => BlockStart::Thinking,
                    };
                    let index = self.open(block, out);
                    out.push(StreamEvent::Delta {
                        index,
                        delta: Self::kind_delta(kind, text),
                    });
                    out.push(StreamEvent::BlockStop { index });
                }
                Segment::Tool(tool) => {
                    let Some(position) = self.tools.iter().position(|t| t.index == tool) else {
                        continue;
                    };
                    let index = self.open_tool(position, ToolState::Emitted, out);
                    out.push(StreamEvent::BlockStop { index });
                }
            }
        }
    }

    fn emit_finish(&mut self, out: &mut Vec<StreamEvent>) {
        if self.finished {
            return;
        }
        self.flush_blocks(out);
        out.push(StreamEvent::Finish {
            stop_reason: self.stop_reason.clone(),
            stop_sequence: None,
            usage: self.usage,
        });
        self.finished = true;
    }

    fn end(&mut self, out: &mut Vec<StreamEvent>) {
        self.emit_finish(out);
        out.push(StreamEvent::End);
        self.ended = true;
    }

    fn chunk(&mut self, chunk: &Chunk, out: &mut Vec<StreamEvent>) -> Result<(), DecodeError> {
        if !self.started {
            self.started = true;
            self.id = chunk.id.clone();
            out.push(StreamEvent::Start {
                id: chunk.id.clone(),
                model: chunk.model.as_option().cloned().unwrap_or_default(),
                usage: None,
            });
        }
        self.notes.dropped_extra("", &chunk.extra);
        for choice in &chunk.choices {
            if choice.index != 0 {
                self.notes.dropped(format!("choices[{}]", choice.index));
            }
        }
        for choice in chunk.choices.iter().filter(|c| c.index == 0) {
            let delta = &choice.delta;
            if matches!(&choice.logprobs, Nullable::Value(v) if crate::canonical::carries(v)) {
                self.notes.dropped("choices[0].logprobs");
            }
            self.notes.dropped_extra("choices[0]", &choice.extra);
            for (key, value) in &delta.extra {
                if key != "function_call" && crate::canonical::carries(value) {
                    self.notes.dropped(format!("choices[0].delta.{key}"));
                }
            }
            let reasoning = delta
                .reasoning_content
                .as_option()
                .filter(|r| !r.is_empty())
                .or(delta.reasoning.as_option());
            let tool_calls = delta.tool_calls.as_option().map_or(&[][..], Vec::as_slice);
            let has_content = reasoning.is_some_and(|r| !r.is_empty())
                || delta.content.as_option().is_some_and(|c| !c.is_empty())
                || delta.refusal.as_option().is_some_and(|c| !c.is_empty())
                || !tool_calls.is_empty()
                || legacy_function_call(delta).is_some();
            if self.finished && has_content {
                return Err(protocol("content after the end of the choice"));
            }
            if let Some(reasoning) = reasoning {
                self.push_kind(Kind::Thinking, reasoning, out);
            }
            if let Some(content) = delta.content.as_option() {
                self.push_kind(Kind::Text, content, out);
            }
            if let Some(refusal) = delta.refusal.as_option().filter(|r| !r.is_empty()) {
                // A refusal has no canonical block of its own: it is carried as text.
                self.notes.approximated("choices[0].delta.refusal");
                self.push_kind(Kind::Text, refusal, out);
            }
            for call in tool_calls {
                self.push_tool(call, out)?;
            }
            if let Some(legacy) = legacy_function_call(delta) {
                self.push_tool(&legacy, out)?;
            }
            if let Some(reason) = choice.finish_reason.as_option() {
                self.saw_finish = true;
                self.stop_reason = Some(stop_reason_from_wire(reason));
            }
        }
        if let Nullable::Value(usage) = &chunk.usage {
            self.notes.dropped_extra("usage", &usage.extra);
            self.usage = Some(usage_from_wire(usage));
            if chunk.choices.is_empty() && self.saw_finish {
                self.emit_finish(out);
            }
        }
        Ok(())
    }
}

/// The tool-call index a legacy streamed `function_call` gets (it cannot clash with `tool_calls`).
const LEGACY_FUNCTION_INDEX: u64 = u64::MAX;

/// A legacy `delta.function_call` piece as a tool-call piece; the function name doubles as the call
/// id, as in the request conversion.
fn legacy_function_call(delta: &ChunkDelta) -> Option<ToolCallDelta> {
    let call = delta.extra.get("function_call")?.as_object()?;
    let text = |key: &str| call.get(key).and_then(Value::as_str).map(str::to_owned);
    Some(ToolCallDelta {
        index: Nullable::Value(LEGACY_FUNCTION_INDEX),
        id: Nullable::from_option(text("name")),
        r#type: Nullable::Absent,
        function: Nullable::Value(FunctionDelta {
            name: Nullable::from_option(text("name")),
            arguments: Nullable::from_option(text("arguments")),
            extra: Extra::new(),
        }),
        extra: Extra::new(),
    })
}

impl StreamDecode for StreamDecoder {
    fn decode(&mut self, event: &SseEvent, out: &mut Vec<StreamEvent>) -> Result<(), DecodeError> {
        let data = event.data.trim();
        if self.ended {
            // Whatever follows `[DONE]` or an error event is ignored, but not silently.
            if !data.is_empty() && data != "[DONE]" {
                self.notes.dropped("event.after_end");
            }
            return Ok(());
        }
        if data.is_empty() {
            return Ok(());
        }
        if data == "[DONE]" {
            if !self.started {
                return Err(protocol("[DONE] before any chunk"));
            }
            self.end(out);
            return Ok(());
        }
        let value: Value = serde_json::from_str(data).map_err(|source| DecodeError::Json {
            dialect: DIALECT,
            source,
        })?;
        if let Some(error) = value
            .get("error")
            .filter(|_| value.get("choices").is_none())
        {
            let text = |key: &str| error.get(key).and_then(Value::as_str).map(str::to_owned);
            out.push(StreamEvent::Error {
                kind: text("type")
                    .or_else(|| text("code"))
                    .unwrap_or_else(|| "api_error".to_owned()),
                message: text("message").unwrap_or_else(|| error.to_string()),
            });
            self.ended = true;
            return Ok(());
        }
        let chunk: Chunk = serde_json::from_value(value).map_err(|source| DecodeError::Json {
            dialect: DIALECT,
            source,
        })?;
        self.chunk(&chunk, out)
    }

    fn finish(&mut self, out: &mut Vec<StreamEvent>) -> Result<(), DecodeError> {
        if self.ended {
            return Ok(());
        }
        if !self.saw_finish {
            return Err(protocol("stream ended before a finish_reason"));
        }
        self.end(out);
        Ok(())
    }

    fn notes(&self) -> &[crate::Lossy] {
        self.notes.as_slice()
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum EncBlock {
    None,
    Text,
    Thinking,
    Tool(u64),
    Other,
}

/// Encodes canonical events as Chat Completions `chat.completion.chunk` SSE events.
///
/// What Chat Completions cannot carry is reported by [`StreamEncode::notes`] under canonical paths:
/// encrypted reasoning (`content[1]`), signatures (`content[0].signature`), a stop reason without an
/// exact `finish_reason` (`stop_reason`), the stop sequence, cache writes folded into prompt tokens.
#[derive(Debug)]
pub struct StreamEncoder {
    notes: NoteSet,
    ctx: EncodeContext,
    id: String,
    model: String,
    started: bool,
    block: EncBlock,
    next_tool: u64,
    start_usage: Option<canonical::Usage>,
    finished: bool,
    done: bool,
}

impl StreamEncoder {
    /// An encoder presenting the stream with the context's id, model and `created`.
    pub fn new(ctx: EncodeContext) -> Self {
        Self {
            id: ctx.id.clone(),
            model: ctx.model.clone(),
            notes: NoteSet::default(),
            ctx,
            started: false,
            block: EncBlock::None,
            next_tool: 0,
            start_usage: None,
            finished: false,
            done: false,
        }
    }

    fn chunk(&self, choices: Vec<ChunkChoice>, usage: Nullable<super::wire::Usage>) -> SseEvent {
        let chunk = Chunk {
            id: self.id.clone(),
            object: Nullable::Value("chat.completion.chunk".to_owned()),
            created: Nullable::Value(self.ctx.created),
            model: Nullable::Value(self.model.clone()),
            choices,
            usage,
            extra: Extra::new(),
        };
        SseEvent::data(chunk.to_json().to_string())
    }

    fn delta_chunk(&self, delta: ChunkDelta, finish_reason: Option<String>) -> SseEvent {
        let usage = if self.ctx.include_usage {
            Nullable::Null
        } else {
            Nullable::Absent
        };
        let choice = ChunkChoice {
            index: 0,
            delta,
            logprobs: Nullable::Null,
            finish_reason: Nullable::or_null(finish_reason),
            extra: Extra::new(),
        };
        self.chunk(vec![choice], usage)
    }

    fn ensure_started(&mut self, out: &mut Vec<SseEvent>) {
        if self.started {
            return;
        }
        self.started = true;
        let delta = ChunkDelta {
            role: Nullable::Value("assistant".to_owned()),
            content: Nullable::Value(String::new()),
            ..ChunkDelta::default()
        };
        out.push(self.delta_chunk(delta, None));
    }

    fn tool_delta(
        &self,
        tool: u64,
        id: Option<&str>,
        name: Option<&str>,
        arguments: &str,
    ) -> ChunkDelta {
        let call = ToolCallDelta {
            index: Nullable::Value(tool),
            id: Nullable::from_option(id.map(str::to_owned)),
            r#type: Nullable::from_option(id.map(|_| "function".to_owned())),
            function: Nullable::Value(FunctionDelta {
                name: Nullable::from_option(name.map(str::to_owned)),
                arguments: Nullable::Value(arguments.to_owned()),
                extra: Extra::new(),
            }),
            extra: Extra::new(),
        };
        ChunkDelta {
            tool_calls: Nullable::Value(vec![call]),
            ..ChunkDelta::default()
        }
    }

    fn finish(
        &mut self,
        stop_reason: Option<&StopReason>,
        usage: Option<canonical::Usage>,
        out: &mut Vec<SseEvent>,
    ) {
        if self.finished {
            return;
        }
        self.finished = true;
        let reason = match stop_reason {
            Some(reason) => {
                let (wire, exact) = stop_reason_to_wire(reason);
                if !exact {
                    self.notes.approximated("stop_reason");
                }
                wire
            }
            None => "stop",
        }
        .to_owned();
        out.push(self.delta_chunk(ChunkDelta::default(), Some(reason)));
        if self.ctx.include_usage {
            let usage = usage.or(self.start_usage).unwrap_or_default();
            if usage.cache_creation_input_tokens.is_some_and(|n| n > 0) {
                self.notes.approximated("usage.cache_creation_input_tokens");
            }
            out.push(self.chunk(Vec::new(), Nullable::Value(usage_to_wire(&usage))));
        }
    }
}

impl StreamEncode for StreamEncoder {
    fn encode(&mut self, event: &StreamEvent, out: &mut Vec<SseEvent>) {
        if self.done {
            return;
        }
        match event {
            StreamEvent::Start { id, model, usage } => {
                if !self.started {
                    // A Chat Completions id from the source is kept; another dialect's id (msg_…,
                    // resp_…) gives way to the context's id when there is one.
                    if id.starts_with("chatcmpl-") || (self.ctx.id.is_empty() && !id.is_empty()) {
                        self.id = id.clone();
                    }
                    if self.ctx.model.is_empty() {
                        self.model = model.clone();
                    }
                    self.start_usage = *usage;
                }
                self.ensure_started(out);
            }
            StreamEvent::BlockStart { index, block } => {
                self.ensure_started(out);
                self.block = match block {
                    BlockStart::Text => EncBlock::Text,
                    BlockStart::Thinking => EncBlock::Thinking,
                    BlockStart::RedactedThinking { .. } => {
                        self.notes.dropped(format!("content[{index}]"));
                        EncBlock::Other
                    }
                    BlockStart::ToolUse { id, name } => {
                        let tool = self.next_tool;
                        out.push(
                            self.delta_chunk(self.tool_delta(tool, Some(id), Some(name), ""), None),
                        );
                        EncBlock::Tool(tool)
                    }
                };
            }
            StreamEvent::Delta { index, delta } => {
                self.ensure_started(out);
                let chunk_delta = match (delta, self.block) {
                    (Delta::Signature(_), _) => {
                        self.notes.dropped(format!("content[{index}].signature"));
                        return;
                    }
                    (Delta::Text(text), _) if !text.is_empty() => ChunkDelta {
                        content: Nullable::Value(text.clone()),
                        ..ChunkDelta::default()
                    },
                    (Delta::Thinking(text), _) if !text.is_empty() => ChunkDelta {
                        reasoning_content: Nullable::Value(text.clone()),
                        ..ChunkDelta::default()
                    },
                    (Delta::ToolArguments(args), EncBlock::Tool(tool)) if !args.is_empty() => {
                        self.tool_delta(tool, None, None, args)
                    }
                    _ => return,
                };
                out.push(self.delta_chunk(chunk_delta, None));
            }
            StreamEvent::BlockStop { .. } => {
                if let EncBlock::Tool(tool) = self.block {
                    self.next_tool = tool + 1;
                }
                self.block = EncBlock::None;
            }
            StreamEvent::Finish {
                stop_reason,
                stop_sequence,
                usage,
            } => {
                self.ensure_started(out);
                if stop_sequence.is_some() {
                    self.notes.dropped("stop_sequence");
                }
                self.finish(stop_reason.as_ref(), *usage, out);
            }
            StreamEvent::End => {
                self.ensure_started(out);
                self.finish(None, None, out);
                out.push(SseEvent::data("[DONE]"));
                self.done = true;
            }
            // Keep-alives are the transport's business (an SSE comment line).
            StreamEvent::Ping => {}
            StreamEvent::Error { kind, message } => {
                let body = json!({"error": {"message": message, "type": kind, "param": null, "code": null}});
                out.push(SseEvent::data(body.to_string()));
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
    use serde_json::json;

    use super::*;

    fn sse(value: Value) -> SseEvent {
        SseEvent::data(value.to_string())
    }

    fn chunk(delta: Value, finish_reason: Value) -> SseEvent {
        sse(
            json!({"id": "c1", "object": "chat.completion.chunk", "created": 1, "model": "m",
                   "choices": [{"index": 0, "delta": delta, "finish_reason": finish_reason}]}),
        )
    }

    fn run(events: &[SseEvent]) -> (Vec<StreamEvent>, Result<(), DecodeError>) {
        let mut decoder = StreamDecoder::new();
        let mut out = Vec::new();
        for event in events {
            if let Err(e) = decoder.decode(event, &mut out) {
                return (out, Err(e));
            }
        }
        let result = decoder.finish(&mut out);
        (out, result)
    }

    fn start() -> StreamEvent {
        StreamEvent::Start {
            id: "c1".into(),
            model: "m".into(),
            usage: None,
        }
    }

    fn finish(stop_reason: Option<StopReason>) -> StreamEvent {
        StreamEvent::Finish {
            stop_reason,
            stop_sequence: None,
            usage: None,
        }
    }

    fn tool_start(index: usize, id: &str, name: &str) -> StreamEvent {
        StreamEvent::BlockStart {
            index,
            block: BlockStart::ToolUse {
                id: id.into(),
                name: name.into(),
            },
        }
    }

    fn args(index: usize, text: &str) -> StreamEvent {
        StreamEvent::Delta {
            index,
            delta: Delta::ToolArguments(text.into()),
        }
    }

    fn text(index: usize, text: &str) -> StreamEvent {
        StreamEvent::Delta {
            index,
            delta: Delta::Text(text.into()),
        }
    }

    #[test]
    fn decoder_end_of_stream_rules() {
        // EOF after a finish_reason completes the stream.
        let (out, result) = run(&[chunk(json!({"content": "hi"}), json!("length"))]);
        assert!(result.is_ok());
        assert_eq!(
            out,
            [
                start(),
                StreamEvent::BlockStart {
                    index: 0,
                    block: BlockStart::Text
                },
                text(0, "hi"),
                StreamEvent::BlockStop { index: 0 },
                finish(Some(StopReason::MaxTokens)),
                StreamEvent::End,
            ]
        );
        // EOF before any finish_reason is an error.
        let (_, result) = run(&[chunk(json!({"content": "hi"}), Value::Null)]);
        assert!(matches!(result, Err(DecodeError::Protocol { .. })));
        // [DONE] before any chunk is an error; invalid JSON is a JSON error.
        let (_, result) = run(&[SseEvent::data("[DONE]")]);
        assert!(matches!(result, Err(DecodeError::Protocol { .. })));
        let (_, result) = run(&[SseEvent::data("{not json")]);
        assert!(matches!(result, Err(DecodeError::Json { .. })));
    }

    #[test]
    fn decoder_reports_mid_stream_errors() {
        let (out, result) = run(&[
            chunk(json!({"role": "assistant", "content": ""}), Value::Null),
            sse(json!({"error": {"message": "overloaded", "type": "server_error", "code": null}})),
        ]);
        assert!(result.is_ok());
        assert_eq!(
            out,
            [
                start(),
                StreamEvent::Error {
                    kind: "server_error".into(),
                    message: "overloaded".into()
                }
            ]
        );
    }

    #[test]
    fn decoder_buffers_what_follows_a_live_tool_call() {
        let (out, result) = run(&[
            chunk(
                json!({"tool_calls": [{"index": 0, "id": "a", "type": "function", "function": {"name": "f", "arguments": "{"}}]}),
                Value::Null,
            ),
            chunk(json!({"content": "note"}), Value::Null),
            chunk(
                json!({"tool_calls": [{"index": 0, "function": {"arguments": "}"}}]}),
                Value::Null,
            ),
            chunk(json!({}), json!("tool_calls")),
            SseEvent::data("[DONE]"),
        ]);
        assert!(result.is_ok());
        assert_eq!(
            out,
            [
                start(),
                tool_start(0, "a", "f"),
                args(0, "{"),
                args(0, "}"),
                StreamEvent::BlockStop { index: 0 },
                StreamEvent::BlockStart {
                    index: 1,
                    block: BlockStart::Text
                },
                text(1, "note"),
                StreamEvent::BlockStop { index: 1 },
                finish(Some(StopReason::ToolUse)),
                StreamEvent::End,
            ]
        );
    }

    #[test]
    fn decoder_waits_for_a_name_and_fills_missing_ids() {
        let (out, result) = run(&[
            chunk(json!({"content": "x"}), Value::Null),
            // No name yet: waits.
            chunk(
                json!({"tool_calls": [{"index": 0, "function": {"arguments": "{\"a\""}}]}),
                Value::Null,
            ),
            chunk(
                json!({"tool_calls": [{"index": 0, "function": {"name": "f", "arguments": ":1"}}]}),
                Value::Null,
            ),
            // No index at all: a call in one piece with a new id.
            chunk(
                json!({"tool_calls": [{"id": "z", "type": "function", "function": {"name": "g", "arguments": "{}"}}]}),
                Value::Null,
            ),
            chunk(
                json!({"tool_calls": [{"index": 0, "function": {"arguments": "}"}}]}),
                json!("tool_calls"),
            ),
        ]);
        assert!(result.is_ok());
        assert_eq!(
            out,
            [
                start(),
                StreamEvent::BlockStart {
                    index: 0,
                    block: BlockStart::Text
                },
                text(0, "x"),
                StreamEvent::BlockStop { index: 0 },
                tool_start(1, "call_c1_0", "f"),
                args(1, "{\"a\":1"),
                args(1, "}"),
                StreamEvent::BlockStop { index: 1 },
                tool_start(2, "z", "g"),
                args(2, "{}"),
                StreamEvent::BlockStop { index: 2 },
                finish(Some(StopReason::ToolUse)),
                StreamEvent::End,
            ]
        );
    }

    #[test]
    fn decoder_maps_legacy_function_call_deltas() {
        let (out, result) = run(&[
            chunk(
                json!({"role": "assistant", "content": null, "function_call": {"name": "get_weather", "arguments": ""}}),
                Value::Null,
            ),
            chunk(
                json!({"function_call": {"arguments": "{\"city\":"}}),
                Value::Null,
            ),
            chunk(
                json!({"function_call": {"arguments": "\"Oslo\"}"}}),
                Value::Null,
            ),
            chunk(json!({}), json!("function_call")),
        ]);
        assert!(result.is_ok());
        assert_eq!(
            out,
            [
                start(),
                tool_start(0, "get_weather", "get_weather"),
                args(0, "{\"city\":"),
                args(0, "\"Oslo\"}"),
                StreamEvent::BlockStop { index: 0 },
                finish(Some(StopReason::ToolUse)),
                StreamEvent::End,
            ]
        );
    }

    #[test]
    fn decoder_holds_finish_for_the_usage_chunk() {
        let mut decoder = StreamDecoder::new();
        let mut out = Vec::new();
        decoder
            .decode(&chunk(json!({"content": "a"}), json!("stop")), &mut out)
            .unwrap();
        assert!(!out.iter().any(|e| matches!(e, StreamEvent::Finish { .. })));
        decoder
            .decode(
                &sse(json!({"id": "c1", "choices": [], "usage": {"prompt_tokens": 3, "completion_tokens": 1, "total_tokens": 4}})),
                &mut out,
            )
            .unwrap();
        let usage = canonical::Usage {
            input_tokens: 3,
            output_tokens: 1,
            ..canonical::Usage::default()
        };
        assert_eq!(
            out.last(),
            Some(&StreamEvent::Finish {
                stop_reason: Some(StopReason::EndTurn),
                stop_sequence: None,
                usage: Some(usage)
            })
        );
        decoder.decode(&SseEvent::data("[DONE]"), &mut out).unwrap();
        assert_eq!(out.last(), Some(&StreamEvent::End));
        decoder.finish(&mut out).unwrap();
        assert_eq!(out.iter().filter(|e| **e == StreamEvent::End).count(), 1);
    }

    #[test]
    fn encoder_edge_events() {
        let ctx = EncodeContext {
            id: "chatcmpl-ctx".into(),
            model: String::new(),
            created: 9,
            include_usage: false,
        };
        let mut encoder = StreamEncoder::new(ctx);
        let mut out = Vec::new();
        encoder.encode(
            &StreamEvent::Start {
                id: String::new(),
                model: "upstream-model".into(),
                usage: None,
            },
            &mut out,
        );
        encoder.encode(&StreamEvent::Ping, &mut out);
        encoder.encode(
            &StreamEvent::Error {
                kind: "overloaded_error".into(),
                message: "busy".into(),
            },
            &mut out,
        );
        encoder.encode(&StreamEvent::End, &mut out);
        let values: Vec<Value> = out
            .iter()
            .map(|e| serde_json::from_str(&e.data).unwrap())
            .collect();
        assert_eq!(
            values,
            [
                json!({"id": "chatcmpl-ctx", "object": "chat.completion.chunk", "created": 9, "model": "upstream-model",
                       "choices": [{"index": 0, "delta": {"role": "assistant", "content": ""}, "logprobs": null, "finish_reason": null}]}),
                json!({"error": {"message": "busy", "type": "overloaded_error", "param": null, "code": null}}),
            ]
        );
    }

    /// Decodes `chunks` followed by a finish chunk and `[DONE]`; returns the decoder's notes.
    fn decoder_notes(chunks: &[Value]) -> Vec<crate::Lossy> {
        let mut decoder = StreamDecoder::new();
        let mut out = Vec::new();
        let closing = [
            sse(
                json!({"id": "c1", "choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}]}),
            ),
            SseEvent::data("[DONE]"),
        ];
        for event in chunks.iter().cloned().map(sse).chain(closing) {
            decoder.decode(&event, &mut out).unwrap();
        }
        decoder.finish(&mut out).unwrap();
        decoder.notes().to_vec()
    }

    #[test]
    fn decoder_notes_what_it_drops() {
        use crate::Lossy;
        let choice = |choice: Value| json!({"id": "c1", "model": "m", "choices": [choice]});
        let cases: Vec<(&str, Vec<Value>, Vec<Lossy>)> = vec![
            (
                "plain text with null extras drops nothing",
                vec![
                    json!({"id": "c1", "model": "m", "system_fingerprint": null, "usage": null,
                        "choices": [{"index": 0, "delta": {"role": "assistant", "content": "hi", "refusal": null}, "logprobs": null, "finish_reason": null}]}),
                ],
                vec![],
            ),
            (
                "refusal carried as text",
                vec![
                    choice(json!({"index": 0, "delta": {"refusal": "I can't"}})),
                    choice(json!({"index": 0, "delta": {"refusal": " help"}})),
                ],
                vec![Lossy::approximated("choices[0].delta.refusal")],
            ),
            (
                "logprobs",
                vec![choice(
                    json!({"index": 0, "delta": {"content": "a"}, "logprobs": {"content": [{"token": "a", "logprob": -0.1}]}}),
                )],
                vec![Lossy::dropped("choices[0].logprobs")],
            ),
            (
                "other choices",
                vec![
                    json!({"id": "c1", "choices": [{"index": 0, "delta": {"content": "a"}}, {"index": 1, "delta": {"content": "b"}}]}),
                    json!({"id": "c1", "choices": [{"index": 1, "delta": {"content": "c"}}]}),
                ],
                vec![Lossy::dropped("choices[1]")],
            ),
            (
                "unknown chunk, choice and delta fields",
                vec![
                    json!({"id": "c1", "system_fingerprint": "fp_1", "provider": "x",
                        "choices": [{"index": 0, "native_finish_reason": "eos", "delta": {"content": "a", "audio": {"id": "au"}}}]}),
                ],
                vec![
                    Lossy::dropped("system_fingerprint"),
                    Lossy::dropped("provider"),
                    Lossy::dropped("choices[0].native_finish_reason"),
                    Lossy::dropped("choices[0].delta.audio"),
                ],
            ),
            (
                "unknown usage fields",
                vec![
                    json!({"id": "c1", "choices": [{"index": 0, "delta": {"content": "a"}}],
                        "usage": {"prompt_tokens": 1, "completion_tokens": 1, "total_tokens": 2, "cost": 0.1}}),
                ],
                vec![Lossy::dropped("usage.cost")],
            ),
            (
                "unknown tool call fields and types",
                vec![choice(json!({"index": 0, "delta": {"tool_calls": [
                    {"index": 0, "id": "call_1", "type": "custom", "x_meta": 1,
                        "function": {"name": "f", "arguments": "{}", "x_hint": "h"}},
                    {"index": 0, "function": {"arguments": ""}},
                ]}}))],
                vec![
                    Lossy::dropped("choices[0].delta.tool_calls[0].x_meta"),
                    Lossy::dropped("choices[0].delta.tool_calls[0].function.x_hint"),
                    Lossy::approximated("choices[0].delta.tool_calls[0].type"),
                ],
            ),
        ];
        for (name, chunks, want) in cases {
            assert_eq!(decoder_notes(&chunks), want, "{name}");
        }
    }

    #[test]
    fn decoder_notes_events_after_the_end() {
        let mut decoder = StreamDecoder::new();
        let mut out = Vec::new();
        for data in [
            json!({"id": "c1", "choices": [{"index": 0, "delta": {"content": "a"}, "finish_reason": "stop"}]}).to_string(),
            "[DONE]".to_owned(),
            "[DONE]".to_owned(),
        ] {
            decoder.decode(&SseEvent::data(data), &mut out).unwrap();
        }
        assert_eq!(decoder.notes(), []);
        let late = json!({"id": "c1", "choices": [{"index": 0, "delta": {"content": "late"}}]});
        decoder.decode(&sse(late), &mut out).unwrap();
        assert_eq!(decoder.notes(), [crate::Lossy::dropped("event.after_end")]);
    }

    #[test]
    fn encoder_notes_what_it_drops() {
        use crate::canonical::Signature;
        use crate::{Dialect, Lossy};
        let thinking = vec![
            StreamEvent::BlockStart {
                index: 0,
                block: BlockStart::Thinking,
            },
            StreamEvent::Delta {
                index: 0,
                delta: Delta::Thinking("t".into()),
            },
            StreamEvent::Delta {
                index: 0,
                delta: Delta::Signature(Signature {
                    dialect: Dialect::Anthropic,
                    value: "sig".into(),
                }),
            },
            StreamEvent::BlockStop { index: 0 },
        ];
        let redacted = vec![
            StreamEvent::BlockStart {
                index: 1,
                block: BlockStart::RedactedThinking {
                    data: "d".into(),
                    dialect: Dialect::Anthropic,
                },
            },
            StreamEvent::BlockStop { index: 1 },
        ];
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
        let cache_writes = canonical::Usage {
            cache_creation_input_tokens: Some(7),
            ..Default::default()
        };
        let cases: Vec<(&str, Vec<StreamEvent>, Vec<Lossy>)> = vec![
            (
                "plain end turn",
                finish(StopReason::EndTurn, None, None),
                vec![],
            ),
            (
                "signature and redacted thinking",
                [thinking, redacted, finish(StopReason::EndTurn, None, None)].concat(),
                vec![
                    Lossy::dropped("content[0].signature"),
                    Lossy::dropped("content[1]"),
                ],
            ),
            (
                "pause turn and stop sequence",
                finish(StopReason::PauseTurn, Some("END"), None),
                vec![
                    Lossy::dropped("stop_sequence"),
                    Lossy::approximated("stop_reason"),
                ],
            ),
            (
                "cache writes",
                finish(StopReason::EndTurn, None, Some(cache_writes)),
                vec![Lossy::approximated("usage.cache_creation_input_tokens")],
            ),
        ];
        for (name, events, want) in cases {
            let mut enc = StreamEncoder::new(EncodeContext {
                include_usage: true,
                ..Default::default()
            });
            let mut out = Vec::new();
            for e in std::iter::once(&start()).chain(&events) {
                enc.encode(e, &mut out);
            }
            assert_eq!(enc.notes(), want, "{name}");
        }
    }
}
