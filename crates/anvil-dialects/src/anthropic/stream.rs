//! Anthropic Messages SSE streams ⇄ canonical stream events.

use serde_json::{json, Map, Value};

use super::convert::{
    stop_reason_from_canonical, stop_reason_to_canonical, usage_from_canonical, usage_to_canonical,
};
use super::wire::{BlockDelta, ContentBlock, StreamEvent as Wire};
use crate::canonical::{self, BlockStart, Delta, NoteSet, Signature, StopReason, StreamEvent};
use crate::{DecodeError, Dialect, EncodeContext, SseEvent, StreamDecode, StreamEncode};

const DIALECT: &str = "anthropic";

fn protocol(message: impl Into<String>) -> DecodeError {
    DecodeError::Protocol {
        dialect: DIALECT,
        message: message.into(),
    }
}

/// The block currently open upstream.
#[derive(Debug, Clone, Copy)]
struct Open {
    /// Anthropic's index.
    upstream: usize,
    /// The canonical index, or `None` for a block with no canonical counterpart (server tool blocks),
    /// whose events are skipped.
    canonical: Option<usize>,
}

/// Decodes an Anthropic SSE stream into canonical events, one upstream event at a time.
///
/// Blocks that have no canonical counterpart (`server_tool_use`, `web_search_tool_result` …) are
/// skipped and the following blocks renumbered, so canonical indices stay 0, 1, 2 …. Everything skipped
/// is reported by [`StreamDecode::notes`]: a block as `content_block[2].server_tool_use`, a delta kind
/// as `delta.citations_delta`, an event as `event.<type>`, unknown message and usage fields by name.
#[derive(Debug, Default)]
pub struct StreamDecoder {
    notes: NoteSet,
    started: bool,
    done: bool,
    next_index: usize,
    open: Option<Open>,
    start_usage: Option<canonical::Usage>,
    final_usage: Option<canonical::Usage>,
    stop_reason: Option<StopReason>,
    stop_sequence: Option<String>,
    saw_message_delta: bool,
}

impl StreamDecoder {
    /// A decoder at the start of a stream.
    pub fn new() -> Self {
        Self::default()
    }

    fn close_open(&mut self, out: &mut Vec<StreamEvent>) {
        if let Some(Open {
            canonical: Some(index),
            ..
        }) = self.open.take()
        {
            out.push(StreamEvent::BlockStop { index });
        }
    }

    fn finish_message(&mut self, out: &mut Vec<StreamEvent>) {
        self.close_open(out);
        out.push(StreamEvent::Finish {
            stop_reason: self.stop_reason.take(),
            stop_sequence: self.stop_sequence.take(),
            usage: self.final_usage.or(self.start_usage),
        });
        out.push(StreamEvent::End);
        self.done = true;
    }

    /// Notes the fields of a `message_start` message that have no canonical counterpart.
    fn note_message(&mut self, message: &super::wire::Response) {
        self.notes.dropped_extra("", &message.extra);
        self.notes.dropped_extra("usage", &message.usage.extra);
        for (i, block) in message.content.iter().enumerate() {
            let kind = block.type_name().unwrap_or("unknown");
            self.notes.dropped(format!("content[{i}].{kind}"));
        }
    }

    fn open_index(&self, upstream: usize) -> Result<Option<usize>, DecodeError> {
        match self.open {
            Some(open) if open.upstream == upstream => Ok(open.canonical),
            _ => Err(protocol(format!(
                "event for block {upstream}, which is not open"
            ))),
        }
    }
}

impl StreamDecode for StreamDecoder {
    fn decode(&mut self, event: &SseEvent, out: &mut Vec<StreamEvent>) -> Result<(), DecodeError> {
        if event.data.trim().is_empty() {
            return Ok(());
        }
        if self.done {
            return Err(protocol("event after the end of the stream"));
        }
        let wire: Wire = serde_json::from_str(&event.data).map_err(|source| DecodeError::Json {
            dialect: DIALECT,
            source,
        })?;
        if !self.started && !matches!(wire, Wire::MessageStart(_) | Wire::Ping(_) | Wire::Error(_))
        {
            return Err(protocol("stream did not begin with message_start"));
        }
        match wire {
            Wire::MessageStart(start) => {
                if self.started {
                    return Err(protocol("second message_start"));
                }
                self.started = true;
                self.note_message(&start.message);
                let usage = usage_to_canonical(&start.message.usage);
                self.start_usage = Some(usage);
                out.push(StreamEvent::Start {
                    id: start.message.id,
                    model: start.message.model,
                    usage: Some(usage),
                });
            }
            Wire::ContentBlockStart(start) => {
                self.close_open(out);
                let path = format!("content_block[{}]", start.index);
                let (block, initial) = match start.content_block {
                    ContentBlock::Text(t) => {
                        self.notes.dropped_extra(&path, &t.extra);
                        (Some(BlockStart::Text), nonempty(t.text).map(Delta::Text))
                    }
                    ContentBlock::Thinking(t) => {
                        self.notes.dropped_extra(&path, &t.extra);
                        (
                            Some(BlockStart::Thinking),
                            nonempty(t.thinking).map(Delta::Thinking),
                        )
                    }
                    ContentBlock::RedactedThinking(r) => (
                        Some(BlockStart::RedactedThinking {
                            data: r.data,
                            dialect: Dialect::Anthropic,
                        }),
                        None,
                    ),
                    ContentBlock::ToolUse(t) => {
                        self.notes.dropped_extra(&path, &t.extra);
                        let initial = match &t.input {
                            Value::Object(m) if m.is_empty() => None,
                            Value::Null => None,
                            input => Some(Delta::ToolArguments(
                                serde_json::to_string(input).unwrap_or_default(),
                            )),
                        };
                        (
                            Some(BlockStart::ToolUse {
                                id: t.id,
                                name: t.name,
                            }),
                            initial,
                        )
                    }
                    other => {
                        // Server tool blocks and results: the block and all its deltas are dropped.
                        let kind = other.type_name().unwrap_or("unknown");
                        self.notes.dropped(format!("{path}.{kind}"));
                        (None, None)
                    }
                };
                let canonical = block.map(|block| {
                    let index = self.next_index;
                    self.next_index += 1;
                    out.push(StreamEvent::BlockStart { index, block });
                    if let Some(delta) = initial {
                        out.push(StreamEvent::Delta { index, delta });
                    }
                    index
                });
                self.open = Some(Open {
                    upstream: start.index,
                    canonical,
                });
            }
            Wire::ContentBlockDelta(d) => {
                let Some(index) = self.open_index(d.index)? else {
                    return Ok(());
                };
                let delta = match d.delta {
                    BlockDelta::Text(t) => Delta::Text(t.text),
                    BlockDelta::Thinking(t) => Delta::Thinking(t.thinking),
                    BlockDelta::Signature(s) => Delta::Signature(Signature {
                        dialect: Dialect::Anthropic,
                        value: s.signature,
                    }),
                    BlockDelta::InputJson(j) if j.partial_json.is_empty() => return Ok(()),
                    BlockDelta::InputJson(j) => Delta::ToolArguments(j.partial_json),
                    // citations_delta and newer kinds have no canonical counterpart
                    unknown @ BlockDelta::Unknown(_) => {
                        let kind = unknown.type_name().unwrap_or("unknown");
                        self.notes.dropped(format!("delta.{kind}"));
                        return Ok(());
                    }
                };
                out.push(StreamEvent::Delta { index, delta });
            }
            Wire::ContentBlockStop(stop) => {
                self.open_index(stop.index)?;
                self.close_open(out);
            }
            Wire::MessageDelta(d) => {
                self.saw_message_delta = true;
                self.notes.dropped_extra("", &d.extra);
                self.notes.dropped_extra("", &d.delta.extra);
                self.notes.dropped_extra("usage", &d.usage.extra);
                self.stop_reason = d
                    .delta
                    .stop_reason
                    .as_option()
                    .map(|r| stop_reason_to_canonical(r));
                self.stop_sequence = d.delta.stop_sequence.as_option().cloned();
                let mut usage = self.start_usage.unwrap_or_default();
                let u = &d.usage;
                if let Some(n) = u.output_tokens.as_option() {
                    usage.output_tokens = *n;
                }
                if let Some(n) = u.input_tokens.as_option() {
                    usage.input_tokens = *n;
                }
                if let Some(n) = u.cache_creation_input_tokens.as_option() {
                    usage.cache_creation_input_tokens = Some(*n);
                }
                if let Some(n) = u.cache_read_input_tokens.as_option() {
                    usage.cache_read_input_tokens = Some(*n);
                }
                self.final_usage = Some(usage);
            }
            Wire::MessageStop(_) => self.finish_message(out),
            Wire::Ping(_) => out.push(StreamEvent::Ping),
            Wire::Error(e) => {
                self.done = true;
                out.push(StreamEvent::Error {
                    kind: e.error.kind,
                    message: e.error.message,
                });
            }
            unknown @ Wire::Unknown(_) => {
                let kind = unknown.type_name().unwrap_or("unknown");
                self.notes.dropped(format!("event.{kind}"));
            }
        }
        Ok(())
    }

    fn notes(&self) -> &[crate::Lossy] {
        self.notes.as_slice()
    }

    fn finish(&mut self, out: &mut Vec<StreamEvent>) -> Result<(), DecodeError> {
        if self.done {
            return Ok(());
        }
        if !self.started {
            return Err(protocol("stream ended before message_start"));
        }
        if !self.saw_message_delta {
            return Err(protocol("stream ended before message_delta"));
        }
        // message_delta arrived but message_stop did not: the answer is complete.
        self.finish_message(out);
        Ok(())
    }
}

fn nonempty(s: String) -> Option<String> {
    (!s.is_empty()).then_some(s)
}

/// Encodes canonical events as an Anthropic SSE stream the official SDKs accept: every event has an
/// `event:` line equal to its `type`.
///
/// What an Anthropic client cannot receive (another vendor's encrypted reasoning or signature, reasoning
/// token counts) is reported by [`StreamEncode::notes`] under canonical paths (`content[1]`,
/// `content[0].signature`, `usage.reasoning_tokens`).
#[derive(Debug)]
pub struct StreamEncoder {
    notes: NoteSet,
    ctx: EncodeContext,
    started: bool,
    finished: bool,
    ended: bool,
    next_index: usize,
    /// The open block's Anthropic index, or `None` inside a block that cannot be expressed.
    open: Option<Option<usize>>,
    start_usage: canonical::Usage,
}

impl StreamEncoder {
    /// An encoder presenting `ctx.id` (when the source has no id) and `ctx.model` to the client.
    pub fn new(ctx: EncodeContext) -> Self {
        Self {
            notes: NoteSet::default(),
            ctx,
            started: false,
            finished: false,
            ended: false,
            next_index: 0,
            open: None,
            start_usage: canonical::Usage::default(),
        }
    }

    fn emit(out: &mut Vec<SseEvent>, data: &Value) {
        let kind = data.get("type").and_then(Value::as_str).unwrap_or("error");
        out.push(SseEvent::named(kind, data.to_string()));
    }

    fn start(
        &mut self,
        id: &str,
        model: &str,
        usage: Option<canonical::Usage>,
        out: &mut Vec<SseEvent>,
    ) {
        if self.started {
            return;
        }
        self.started = true;
        let usage = usage.unwrap_or_default();
        self.start_usage = usage;
        let id = if id.is_empty() {
            self.ctx.id.as_str()
        } else {
            id
        };
        let model = if self.ctx.model.is_empty() {
            model
        } else {
            self.ctx.model.as_str()
        };
        let usage =
            serde_json::to_value(usage_from_canonical(&usage)).unwrap_or_else(|_| json!({}));
        Self::emit(
            out,
            &json!({"type": "message_start", "message": {
                "id": id, "type": "message", "role": "assistant", "model": model,
                "content": [], "stop_reason": null, "stop_sequence": null, "usage": usage,
            }}),
        );
    }

    fn close(&mut self, out: &mut Vec<SseEvent>) {
        if let Some(Some(index)) = self.open.take() {
            Self::emit(out, &json!({"type": "content_block_stop", "index": index}));
        }
    }

    fn finish(
        &mut self,
        stop_reason: Option<&StopReason>,
        stop_sequence: Option<&str>,
        usage: Option<&canonical::Usage>,
        out: &mut Vec<SseEvent>,
    ) {
        if self.finished {
            return;
        }
        self.close(out);
        self.finished = true;
        if stop_reason == Some(&StopReason::ContentFilter) {
            self.notes.approximated("stop_reason");
        }
        let mut u = Map::new();
        let usage = usage.copied().unwrap_or(self.start_usage);
        if usage.reasoning_tokens.is_some_and(|n| n > 0) {
            self.notes.dropped("usage.reasoning_tokens");
        }
        u.insert("output_tokens".into(), usage.output_tokens.into());
        u.insert("input_tokens".into(), usage.input_tokens.into());
        if let Some(n) = usage.cache_creation_input_tokens {
            u.insert("cache_creation_input_tokens".into(), n.into());
        }
        if let Some(n) = usage.cache_read_input_tokens {
            u.insert("cache_read_input_tokens".into(), n.into());
        }
        Self::emit(
            out,
            &json!({"type": "message_delta",
                "delta": {"stop_reason": stop_reason.map(stop_reason_from_canonical), "stop_sequence": stop_sequence},
                "usage": u}),
        );
    }
}

impl StreamEncode for StreamEncoder {
    fn encode(&mut self, event: &StreamEvent, out: &mut Vec<SseEvent>) {
        if self.ended {
            return;
        }
        match event {
            StreamEvent::Start { id, model, usage } => self.start(id, model, *usage, out),
            StreamEvent::BlockStart { index, block } => {
                self.start("", "", None, out);
                self.close(out);
                let content_block = match block {
                    BlockStart::Text => Some(json!({"type": "text", "text": ""})),
                    BlockStart::Thinking => {
                        Some(json!({"type": "thinking", "thinking": "", "signature": ""}))
                    }
                    BlockStart::RedactedThinking {
                        data,
                        dialect: Dialect::Anthropic,
                    } => Some(json!({"type": "redacted_thinking", "data": data})),
                    BlockStart::RedactedThinking { .. } => {
                        self.notes.dropped(format!("content[{index}]"));
                        None
                    }
                    BlockStart::ToolUse { id, name } => {
                        Some(json!({"type": "tool_use", "id": id, "name": name, "input": {}}))
                    }
                };
                self.open = Some(content_block.map(|content_block| {
                    let index = self.next_index;
                    self.next_index += 1;
                    Self::emit(
                        out,
                        &json!({"type": "content_block_start", "index": index, "content_block": content_block}),
                    );
                    index
                }));
            }
            StreamEvent::Delta {
                index: canonical_index,
                delta,
            } => {
                let Some(Some(index)) = self.open else {
                    return;
                };
                let delta = match delta {
                    Delta::Text(text) => json!({"type": "text_delta", "text": text}),
                    Delta::Thinking(text) => json!({"type": "thinking_delta", "thinking": text}),
                    Delta::Signature(Signature {
                        dialect: Dialect::Anthropic,
                        value,
                    }) => json!({"type": "signature_delta", "signature": value}),
                    // another vendor's signature means nothing to an Anthropic client
                    Delta::Signature(_) => {
                        self.notes
                            .dropped(format!("content[{canonical_index}].signature"));
                        return;
                    }
                    Delta::ToolArguments(args) => {
                        json!({"type": "input_json_delta", "partial_json": args})
                    }
                };
                Self::emit(
                    out,
                    &json!({"type": "content_block_delta", "index": index, "delta": delta}),
                );
            }
            StreamEvent::BlockStop { .. } => self.close(out),
            StreamEvent::Finish {
                stop_reason,
                stop_sequence,
                usage,
            } => {
                self.start("", "", None, out);
                self.finish(
                    stop_reason.as_ref(),
                    stop_sequence.as_deref(),
                    usage.as_ref(),
                    out,
                );
            }
            StreamEvent::End => {
                self.start("", "", None, out);
                self.finish(None, None, None, out);
                self.ended = true;
                Self::emit(out, &json!({"type": "message_stop"}));
            }
            StreamEvent::Ping => Self::emit(out, &json!({"type": "ping"})),
            StreamEvent::Error { kind, message } => {
                self.ended = true;
                Self::emit(
                    out,
                    &json!({"type": "error", "error": {"type": error_type(kind), "message": message}}),
                );
            }
        }
    }

    fn notes(&self) -> &[crate::Lossy] {
        self.notes.as_slice()
    }
}

/// An Anthropic error type for an error kind of any dialect.
fn error_type(kind: &str) -> &str {
    match kind {
        "invalid_request_error"
        | "authentication_error"
        | "permission_error"
        | "not_found_error"
        | "request_too_large"
        | "rate_limit_error"
        | "api_error"
        | "overloaded_error"
        | "billing_error"
        | "timeout_error" => kind,
        "rate_limit_exceeded" | "insufficient_quota" => "rate_limit_error",
        "invalid_request" => "invalid_request_error",
        _ => "api_error",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Lossy;

    fn ev(data: Value) -> SseEvent {
        let kind = data["type"].as_str().unwrap_or_default().to_owned();
        SseEvent::named(kind, data.to_string())
    }

    fn decode_all(events: &[Value]) -> Result<Vec<StreamEvent>, DecodeError> {
        let mut d = StreamDecoder::new();
        let mut out = Vec::new();
        for e in events {
            d.decode(&ev(e.clone()), &mut out)?;
        }
        d.finish(&mut out)?;
        Ok(out)
    }

    fn start() -> Value {
        json!({"type":"message_start","message":{"id":"msg_1","type":"message","role":"assistant","model":"m","content":[],"stop_reason":null,"stop_sequence":null,"usage":{"input_tokens":9,"output_tokens":1,"cache_read_input_tokens":4}}})
    }

    #[test]
    fn server_tool_blocks_are_skipped_and_renumbered() {
        let out = decode_all(&[
            start(),
            json!({"type":"content_block_start","index":0,"content_block":{"type":"server_tool_use","id":"s","name":"web_search","input":{}}}),
            json!({"type":"content_block_delta","index":0,"delta":{"type":"input_json_delta","partial_json":"{\"q\":1}"}}),
            json!({"type":"content_block_stop","index":0}),
            json!({"type":"content_block_start","index":1,"content_block":{"type":"text","text":""}}),
            json!({"type":"content_block_delta","index":1,"delta":{"type":"text_delta","text":"hi"}}),
            json!({"type":"content_block_stop","index":1}),
            json!({"type":"message_delta","delta":{"stop_reason":"end_turn","stop_sequence":null},"usage":{"output_tokens":5}}),
            json!({"type":"message_stop"}),
        ])
        .unwrap();
        let usage = canonical::Usage {
            input_tokens: 9,
            output_tokens: 5,
            cache_read_input_tokens: Some(4),
            ..Default::default()
        };
        assert_eq!(
            out,
            vec![
                StreamEvent::Start {
                    id: "msg_1".into(),
                    model: "m".into(),
                    usage: Some(canonical::Usage {
                        output_tokens: 1,
                        ..usage
                    })
                },
                StreamEvent::BlockStart {
                    index: 0,
                    block: BlockStart::Text
                },
                StreamEvent::Delta {
                    index: 0,
                    delta: Delta::Text("hi".into())
                },
                StreamEvent::BlockStop { index: 0 },
                StreamEvent::Finish {
                    stop_reason: Some(StopReason::EndTurn),
                    stop_sequence: None,
                    usage: Some(usage)
                },
                StreamEvent::End,
            ]
        );
    }

    #[test]
    fn invalid_streams_are_errors() {
        let cases: Vec<Vec<Value>> = vec![
            vec![],
            vec![
                json!({"type":"content_block_start","index":0,"content_block":{"type":"text","text":""}}),
            ],
            vec![start()],
            vec![
                start(),
                json!({"type":"content_block_delta","index":3,"delta":{"type":"text_delta","text":"x"}}),
            ],
        ];
        for events in cases {
            assert!(decode_all(&events).is_err(), "{events:?}");
        }
        let mut d = StreamDecoder::new();
        let bad = SseEvent::named("message_start", "{not json");
        assert!(matches!(
            d.decode(&bad, &mut Vec::new()),
            Err(DecodeError::Json { .. })
        ));
    }

    #[test]
    fn error_event_ends_stream() {
        let out = decode_all(&[
            start(),
            json!({"type":"error","error":{"type":"overloaded_error","message":"Overloaded"}}),
        ])
        .unwrap();
        assert_eq!(
            out.last(),
            Some(&StreamEvent::Error {
                kind: "overloaded_error".into(),
                message: "Overloaded".into()
            })
        );
    }

    #[test]
    fn encoder_shapes() {
        let mut enc = StreamEncoder::new(EncodeContext {
            id: "msg_ctx".into(),
            model: "shown".into(),
            ..Default::default()
        });
        let mut out = Vec::new();
        for e in [
            StreamEvent::Start {
                id: String::new(),
                model: "up".into(),
                usage: None,
            },
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
                    dialect: Dialect::Responses,
                    value: "x".into(),
                }),
            },
            StreamEvent::BlockStop { index: 0 },
            StreamEvent::BlockStart {
                index: 1,
                block: BlockStart::RedactedThinking {
                    data: "d".into(),
                    dialect: Dialect::Responses,
                },
            },
            StreamEvent::BlockStop { index: 1 },
            StreamEvent::BlockStart {
                index: 2,
                block: BlockStart::ToolUse {
                    id: "call_1".into(),
                    name: "f".into(),
                },
            },
            StreamEvent::Delta {
                index: 2,
                delta: Delta::ToolArguments("{}".into()),
            },
            StreamEvent::BlockStop { index: 2 },
            StreamEvent::Finish {
                stop_reason: Some(StopReason::ToolUse),
                stop_sequence: None,
                usage: None,
            },
            StreamEvent::End,
        ] {
            enc.encode(&e, &mut out);
        }
        let datas: Vec<Value> = out
            .iter()
            .map(|e| serde_json::from_str(&e.data).unwrap())
            .collect();
        for (e, d) in out.iter().zip(&datas) {
            assert_eq!(e.event.as_deref(), d["type"].as_str());
        }
        assert_eq!(
            datas[0]["message"],
            json!({"id":"msg_ctx","type":"message","role":"assistant","model":"shown","content":[],"stop_reason":null,"stop_sequence":null,"usage":{"input_tokens":0,"output_tokens":0}})
        );
        assert_eq!(
            datas[4]["content_block"],
            json!({"type":"tool_use","id":"call_1","name":"f","input":{}})
        );
        assert_eq!(datas[4]["index"], json!(1));
        let types: Vec<&str> = datas.iter().map(|d| d["type"].as_str().unwrap()).collect();
        assert_eq!(
            types,
            vec![
                "message_start",
                "content_block_start",
                "content_block_delta",
                "content_block_stop",
                "content_block_start",
                "content_block_delta",
                "content_block_stop",
                "message_delta",
                "message_stop"
            ]
        );
        assert_eq!(datas[7]["delta"]["stop_reason"], json!("tool_use"));
    }

    /// Decodes `start`, `events`, then a closing `message_delta` / `message_stop`; returns the notes.
    fn decoder_notes(events: &[Value], closing_usage: Value) -> Vec<Lossy> {
        let mut d = StreamDecoder::new();
        let mut out = Vec::new();
        let closing = [
            json!({"type":"message_delta","delta":{"stop_reason":"end_turn","stop_sequence":null},"usage":closing_usage}),
            json!({"type":"message_stop"}),
        ];
        for e in std::iter::once(&start()).chain(events).chain(&closing) {
            d.decode(&ev(e.clone()), &mut out).unwrap();
        }
        d.finish(&mut out).unwrap();
        d.notes().to_vec()
    }

    #[test]
    fn decoder_notes_what_it_drops() {
        let text_block = |i: usize| json!({"type":"content_block_start","index":i,"content_block":{"type":"text","text":""}});
        let citation = json!({"type":"content_block_delta","index":0,"delta":{"type":"citations_delta","citation":{"type":"web_search_result_location","cited_text":"x"}}});
        let cases: Vec<(&str, Vec<Value>, Value, Vec<Lossy>)> = vec![
            (
                "plain text drops nothing",
                vec![
                    text_block(0),
                    json!({"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":"hi"}}),
                    json!({"type":"content_block_stop","index":0}),
                ],
                json!({"output_tokens":3}),
                vec![],
            ),
            (
                "server tool blocks",
                vec![
                    json!({"type":"content_block_start","index":0,"content_block":{"type":"server_tool_use","id":"s","name":"web_search","input":{}}}),
                    json!({"type":"content_block_delta","index":0,"delta":{"type":"input_json_delta","partial_json":"{}"}}),
                    json!({"type":"content_block_stop","index":0}),
                    json!({"type":"content_block_start","index":1,"content_block":{"type":"web_search_tool_result","tool_use_id":"s","content":[]}}),
                    json!({"type":"content_block_stop","index":1}),
                ],
                json!({"output_tokens":3}),
                vec![
                    Lossy::dropped("content_block[0].server_tool_use"),
                    Lossy::dropped("content_block[1].web_search_tool_result"),
                ],
            ),
            (
                "citation deltas, once however many",
                vec![
                    text_block(0),
                    citation.clone(),
                    json!({"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":"hi"}}),
                    citation,
                    json!({"type":"content_block_stop","index":0}),
                ],
                json!({"output_tokens":3}),
                vec![Lossy::dropped("delta.citations_delta")],
            ),
            (
                "citations on a text block start",
                vec![
                    json!({"type":"content_block_start","index":0,"content_block":{"type":"text","text":"","citations":[{"type":"char_location"}]}}),
                    json!({"type":"content_block_stop","index":0}),
                ],
                json!({"output_tokens":3}),
                vec![Lossy::dropped("content_block[0].citations")],
            ),
            (
                "unknown event",
                vec![json!({"type":"brand_new","x":1})],
                json!({"output_tokens":3}),
                vec![Lossy::dropped("event.brand_new")],
            ),
            (
                "usage and message_delta fields without a counterpart",
                vec![],
                json!({"output_tokens":3,"server_tool_use":{"web_search_requests":1},"service_tier":null}),
                vec![Lossy::dropped("usage.server_tool_use")],
            ),
        ];
        for (name, events, usage, want) in cases {
            assert_eq!(decoder_notes(&events, usage), want, "{name}");
        }
    }

    #[test]
    fn decoder_notes_message_start_fields() {
        let mut d = StreamDecoder::new();
        let event = json!({"type":"message_start","message":{"id":"m","type":"message","role":"assistant","model":"m","content":[],"stop_reason":null,"stop_sequence":null,"container":{"id":"c"},"usage":{"input_tokens":1,"output_tokens":1,"service_tier":"standard"}}});
        d.decode(&ev(event), &mut Vec::new()).unwrap();
        assert_eq!(
            d.notes(),
            [
                Lossy::dropped("container"),
                Lossy::dropped("usage.service_tier")
            ]
        );
    }

    #[test]
    fn encoder_notes_what_it_drops() {
        let start = StreamEvent::Start {
            id: "x".into(),
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
                    delta: Delta::Signature(Signature {
                        dialect,
                        value: "sig".into(),
                    }),
                },
                StreamEvent::BlockStop { index },
            ]
        };
        let finish = |stop_reason: StopReason, usage: Option<canonical::Usage>| {
            vec![
                StreamEvent::Finish {
                    stop_reason: Some(stop_reason),
                    stop_sequence: None,
                    usage,
                },
                StreamEvent::End,
            ]
        };
        let end_turn = finish(StopReason::EndTurn, None);
        let cases: Vec<(&str, Vec<StreamEvent>, Vec<Lossy>)> = vec![
            (
                "own signature",
                [thinking(0, Dialect::Anthropic), end_turn.clone()].concat(),
                vec![],
            ),
            (
                "foreign signature, twice",
                [
                    thinking(0, Dialect::Responses),
                    thinking(1, Dialect::Responses),
                    end_turn.clone(),
                ]
                .concat(),
                vec![
                    Lossy::dropped("content[0].signature"),
                    Lossy::dropped("content[1].signature"),
                ],
            ),
            (
                "foreign redacted thinking",
                [
                    vec![
                        StreamEvent::BlockStart {
                            index: 0,
                            block: BlockStart::RedactedThinking {
                                data: "d".into(),
                                dialect: Dialect::Responses,
                            },
                        },
                        StreamEvent::BlockStop { index: 0 },
                    ],
                    end_turn,
                ]
                .concat(),
                vec![Lossy::dropped("content[0]")],
            ),
            (
                "content filter",
                finish(StopReason::ContentFilter, None),
                vec![Lossy::approximated("stop_reason")],
            ),
            (
                "reasoning tokens",
                finish(
                    StopReason::EndTurn,
                    Some(canonical::Usage {
                        reasoning_tokens: Some(4),
                        ..Default::default()
                    }),
                ),
                vec![Lossy::dropped("usage.reasoning_tokens")],
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

    #[test]
    fn error_kinds_map() {
        for (kind, want) in [
            ("overloaded_error", "overloaded_error"),
            ("server_error", "api_error"),
            ("rate_limit_exceeded", "rate_limit_error"),
        ] {
            assert_eq!(error_type(kind), want);
        }
    }
}
