//! Golden tests of the Anthropic Messages dialect: captured client requests, recorded streams.

// Test helpers outside `#[test]` functions are test code too.
#![allow(clippy::unwrap_used, clippy::panic)]

use std::path::{Path, PathBuf};

use anvil_dialects::anthropic::{
    self, parse_request, request_from_canonical, request_to_canonical, StreamDecoder, StreamEncoder,
};
use anvil_dialects::canonical::{self, BlockStart, Delta, Part, StopReason, StreamEvent, Usage};
use anvil_dialects::nullable::Nullable;
use anvil_dialects::{Dialect, EncodeContext, SseEvent, StreamDecode, StreamEncode};
use serde_json::{json, Value};

fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// Captured requests to `/v1/messages` and `/v1/messages/count_tokens`: (file name, body).
fn anthropic_fixtures() -> Vec<(String, Value)> {
    let dir = repo_root().join("tests/fixtures/clients");
    let mut out = Vec::new();
    for entry in std::fs::read_dir(&dir).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().and_then(|e| e.to_str()) != Some("json") {
            continue;
        }
        let file: Value = serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
        let route = file["path"].as_str().unwrap_or_default();
        if route.ends_with("/v1/messages") || route.ends_with("/v1/messages/count_tokens") {
            let name = path.file_name().unwrap().to_string_lossy().into_owned();
            out.push((name, file["body_json"].clone()));
        }
    }
    out.sort_by(|a, b| a.0.cmp(&b.0));
    out
}

fn fixture(name: &str) -> Value {
    anthropic_fixtures()
        .into_iter()
        .find(|(n, _)| n == name)
        .map(|(_, body)| body)
        .unwrap()
}

#[test]
fn every_captured_request_round_trips() {
    let fixtures = anthropic_fixtures();
    assert_eq!(fixtures.len(), 13, "anthropic fixtures found");
    for (name, body) in fixtures {
        let bytes = serde_json::to_vec(&body).unwrap();
        let req = parse_request(&bytes).unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_eq!(req.to_json(), body, "{name}");
    }
}

#[test]
fn canonical_round_trip_keeps_everything() {
    for (name, body) in anthropic_fixtures() {
        let req = parse_request(&serde_json::to_vec(&body).unwrap()).unwrap();
        let mut notes = Vec::new();
        let first = request_to_canonical(&req, &mut notes);
        let expect_context = body.get("context_management").is_some();
        let paths: Vec<&str> = notes.iter().map(|n| n.path.as_str()).collect();
        assert_eq!(
            paths,
            if expect_context {
                vec!["context_management"]
            } else {
                vec![]
            },
            "{name}"
        );

        let mut back_notes = Vec::new();
        let back = request_from_canonical(&first, &mut back_notes);
        assert!(back_notes.is_empty(), "{name}: {back_notes:?}");
        let second = request_to_canonical(&back, &mut Vec::new());
        assert_eq!(first, second, "{name}");

        // counts of what must never be dropped
        let count = |v: &Value, ty: &str| -> usize {
            v["messages"]
                .as_array()
                .unwrap()
                .iter()
                .map(|m| match &m["content"] {
                    Value::String(_) => usize::from(ty == "text"),
                    Value::Array(blocks) => blocks.iter().filter(|b| b["type"] == ty).count(),
                    _ => 0,
                })
                .sum()
        };
        let back_json = back.to_json();
        for ty in ["text", "tool_use", "tool_result", "thinking", "image"] {
            assert_eq!(count(&back_json, ty), count(&body, ty), "{name}: {ty}");
        }
        // canonical has no "empty list" vs "absent": `tools: []` comes back absent
        let tools = |v: &Value| v.get("tools").cloned().unwrap_or(json!([]));
        assert_eq!(tools(&back_json), tools(&body), "{name}: tools");
        assert_eq!(back_json["metadata"], body["metadata"], "{name}: metadata");
        assert_eq!(back_json["thinking"], body["thinking"], "{name}: thinking");
        assert_eq!(
            back_json["output_config"], body["output_config"],
            "{name}: output_config"
        );
        assert_eq!(back_json["max_tokens"], body["max_tokens"], "{name}");
    }
}

#[test]
fn claude_code_specifics_map_to_canonical() {
    let body = fixture("claude-code-2.1.197_tool-loop_2-with-tool-result.json");
    let req = parse_request(&serde_json::to_vec(&body).unwrap()).unwrap();
    let c = request_to_canonical(&req, &mut Vec::new());

    assert!(c.messages.iter().any(|m| m.role == canonical::Role::System));
    assert_eq!(c.user.as_deref(), body["metadata"]["user_id"].as_str());
    assert_eq!(c.thinking, Some(canonical::ThinkingConfig::Adaptive));
    assert_eq!(c.reasoning_effort.as_deref(), Some("high"));
    assert!(c.stream);
    assert!(c.system.iter().any(|p| p.cache_control.is_some()));

    let parts: Vec<&Part> = c.messages.iter().flat_map(|m| &m.content).collect();
    let thinking = parts
        .iter()
        .find_map(|p| match p {
            Part::Thinking { signature, .. } => signature.clone(),
            _ => None,
        })
        .unwrap();
    assert_eq!(thinking.dialect, Dialect::Anthropic);
    assert_eq!(thinking.value, "ZmFrZS1zaWduYXR1cmU=");

    let (call_id, args) = parts
        .iter()
        .find_map(|p| match p {
            Part::ToolUse { id, arguments, .. } => Some((id.clone(), arguments.clone())),
            _ => None,
        })
        .unwrap();
    let raw_input = body["messages"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|m| m["content"].as_array())
        .flatten()
        .find(|b| b["type"] == "tool_use")
        .unwrap()["input"]
        .clone();
    assert_eq!(args, serde_json::to_string(&raw_input).unwrap());
    assert!(parts.iter().any(|p| matches!(p,
        Part::ToolResult { tool_use_id, content: canonical::ToolResultContent::Text(t), is_error: false, cache_control: Some(_) }
            if *tool_use_id == call_id && t == "fake-tool-ran")));

    let schema_tool = c
        .tools
        .iter()
        .find_map(|t| match t {
            canonical::Tool::Function(f) if f.parameters.get("$schema").is_some() => Some(f),
            _ => None,
        })
        .unwrap();
    assert!(schema_tool.parameters["$schema"].is_string());

    let title = fixture("claude-code-2.1.197_interactive_title-generation.json");
    let c = request_to_canonical(
        &parse_request(&serde_json::to_vec(&title).unwrap()).unwrap(),
        &mut Vec::new(),
    );
    assert_eq!(c.thinking, Some(canonical::ThinkingConfig::Disabled));
    assert_eq!(
        c.response_format,
        Some(canonical::ResponseFormat::JsonSchema {
            name: None,
            schema: title["output_config"]["format"]["schema"].clone(),
            strict: None,
        })
    );

    let count = fixture("claude-code-2.1.197_count-tokens_with-tools.json");
    let req = parse_request(&serde_json::to_vec(&count).unwrap()).unwrap();
    assert_eq!(req.max_tokens, Nullable::Absent);
    assert!(!request_to_canonical(&req, &mut Vec::new()).tools.is_empty());
}

/// Explicit `null`s on every optional top-level field of a request and a response survive a
/// decode / re-encode, and read as "no value" in canonical form.
#[test]
fn explicit_nulls_reencode_as_null() {
    let request = json!({
        "model": "claude-sonnet-4-5", "messages": [{"role": "user", "content": "hi"}],
        "max_tokens": null, "system": null, "tools": null, "tool_choice": null, "thinking": null,
        "output_config": null, "metadata": null, "stop_sequences": null, "temperature": null,
        "top_p": null, "top_k": null, "stream": null, "context_management": null,
    });
    let parsed = parse_request(&serde_json::to_vec(&request).unwrap()).unwrap();
    assert_eq!(parsed.to_json(), request);
    assert_eq!(parsed.temperature, Nullable::Null);
    assert_eq!(parsed.system, Nullable::Null);
    let canonical = request_to_canonical(&parsed, &mut Vec::new());
    assert_eq!(canonical.temperature, None);
    assert_eq!(canonical.max_tokens, None);
    assert!(canonical.system.is_empty() && canonical.tools.is_empty());
    assert!(!canonical.stream);

    let response = json!({
        "id": "msg_1", "type": "message", "role": "assistant", "model": "claude-sonnet-4-5",
        "content": [{"type": "text", "text": "hi"}], "stop_reason": null, "stop_sequence": null,
        "usage": {"input_tokens": 1, "output_tokens": 1},
    });
    let parsed = anthropic::parse_response(&serde_json::to_vec(&response).unwrap()).unwrap();
    assert_eq!(parsed.to_json(), response);
    assert_eq!(parsed.stop_reason, Nullable::Null);

    // Absent stays absent: the same bodies without the optional keys re-encode without them.
    let bare_request = json!({"model": "m", "messages": []});
    let parsed = parse_request(&serde_json::to_vec(&bare_request).unwrap()).unwrap();
    assert_eq!(parsed.to_json(), bare_request);
    let mut bare_response = response.clone();
    let fields = bare_response.as_object_mut().unwrap();
    fields.remove("stop_reason");
    fields.remove("stop_sequence");
    let parsed = anthropic::parse_response(&serde_json::to_vec(&bare_response).unwrap()).unwrap();
    assert_eq!(parsed.to_json(), bare_response);
    assert_eq!(parsed.stop_sequence, Nullable::Absent);
}

// ------------------------------------------------------------------------------------------ streams

/// A minimal SSE parser for the fixtures (the crate's own lives in `sse.rs`).
fn parse_sse(text: &str) -> Vec<SseEvent> {
    let mut events = Vec::new();
    for chunk in text.split("\n\n") {
        let mut event = None;
        let mut data: Vec<&str> = Vec::new();
        for line in chunk.lines() {
            if let Some(v) = line.strip_prefix("event:") {
                event = Some(v.trim_start().to_owned());
            } else if let Some(v) = line.strip_prefix("data:") {
                data.push(v.strip_prefix(' ').unwrap_or(v));
            }
        }
        if event.is_some() || !data.is_empty() {
            events.push(SseEvent {
                event,
                data: data.join("\n"),
                id: None,
                retry: None,
            });
        }
    }
    events
}

fn stream_fixtures() -> Vec<(String, Vec<SseEvent>)> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/streams/anthropic");
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().and_then(|e| e.to_str()) == Some("sse") {
            let text = std::fs::read_to_string(&path).unwrap();
            let name = path.file_name().unwrap().to_string_lossy().into_owned();
            out.push((name, parse_sse(&text)));
        }
    }
    out.sort_by(|a, b| a.0.cmp(&b.0));
    out
}

fn stream(name: &str) -> Vec<SseEvent> {
    stream_fixtures()
        .into_iter()
        .find(|(n, _)| n == name)
        .map(|(_, e)| e)
        .unwrap()
}

fn decode(events: &[SseEvent]) -> Vec<StreamEvent> {
    let mut decoder = StreamDecoder::new();
    let mut out = Vec::new();
    for event in events {
        decoder.decode(event, &mut out).unwrap();
    }
    decoder.finish(&mut out).unwrap();
    out
}

fn encode(events: &[StreamEvent]) -> Vec<SseEvent> {
    let mut encoder = StreamEncoder::new(EncodeContext {
        id: "msg_ctx".into(),
        model: String::new(),
        created: 0,
        include_usage: false,
    });
    let mut out = Vec::new();
    for event in events {
        encoder.encode(event, &mut out);
    }
    out
}

/// Checks the canonical stream invariant.
fn assert_valid(name: &str, events: &[StreamEvent]) {
    let mut iter = events.iter().filter(|e| !matches!(e, StreamEvent::Ping));
    assert!(
        matches!(iter.next(), Some(StreamEvent::Start { .. })),
        "{name}: start"
    );
    let mut next = 0;
    let mut open: Option<usize> = None;
    let mut finished = false;
    let mut ended = false;
    for event in iter {
        assert!(!ended, "{name}: event after end");
        match event {
            StreamEvent::BlockStart { index, .. } => {
                assert!(open.is_none() && !finished, "{name}: block start");
                assert_eq!(*index, next, "{name}: index");
                open = Some(next);
                next += 1;
            }
            StreamEvent::Delta { index, .. } => assert_eq!(open, Some(*index), "{name}: delta"),
            StreamEvent::BlockStop { index } => {
                assert_eq!(open.take(), Some(*index), "{name}: stop")
            }
            StreamEvent::Finish { .. } => {
                assert!(open.is_none() && !finished, "{name}: finish");
                finished = true;
            }
            StreamEvent::End => {
                assert!(finished, "{name}: end before finish");
                ended = true;
            }
            other => panic!("{name}: unexpected {other:?}"),
        }
    }
    assert!(ended, "{name}: no end");
}

/// Per canonical block: its start and the concatenation of its deltas.
fn blocks(events: &[StreamEvent]) -> Vec<(BlockStart, String)> {
    let mut out: Vec<(BlockStart, String)> = Vec::new();
    for event in events {
        match event {
            StreamEvent::BlockStart { block, .. } => out.push((block.clone(), String::new())),
            StreamEvent::Delta { delta, .. } => {
                let text = match delta {
                    Delta::Text(t) | Delta::Thinking(t) | Delta::ToolArguments(t) => t.as_str(),
                    Delta::Signature(_) => "",
                };
                out.last_mut().unwrap().1.push_str(text);
            }
            _ => {}
        }
    }
    out
}

fn data(event: &SseEvent) -> Value {
    serde_json::from_str(&event.data).unwrap()
}

#[test]
fn fixtures_decode_to_valid_canonical_streams() {
    let fixtures = stream_fixtures();
    assert!(fixtures.len() >= 5);
    for (name, events) in fixtures {
        for event in &events {
            assert_eq!(
                event.event.as_deref(),
                data(event)["type"].as_str(),
                "{name}"
            );
        }
        let canonical = decode(&events);
        assert_valid(&name, &canonical);

        // The text and tool arguments of each upstream block arrive unchanged, byte for byte.
        let mut raw: Vec<(String, String)> = Vec::new();
        for event in &events {
            let d = data(event);
            match d["type"].as_str().unwrap() {
                "content_block_start" => raw.push((
                    d["content_block"]["type"].as_str().unwrap().to_owned(),
                    String::new(),
                )),
                "content_block_delta" => {
                    let delta = &d["delta"];
                    let piece = ["text", "thinking", "partial_json"]
                        .iter()
                        .find_map(|k| delta[*k].as_str())
                        .unwrap_or_default();
                    raw.last_mut().unwrap().1.push_str(piece);
                }
                _ => {}
            }
        }
        let kept: Vec<(String, String)> = raw
            .into_iter()
            .filter(|(ty, _)| ["text", "thinking", "tool_use"].contains(&ty.as_str()))
            .collect();
        let decoded = blocks(&canonical);
        assert_eq!(decoded.len(), kept.len(), "{name}");
        for ((block, text), (ty, raw_text)) in decoded.iter().zip(&kept) {
            let decoded_ty = match block {
                BlockStart::Text => "text",
                BlockStart::Thinking => "thinking",
                BlockStart::ToolUse { .. } => "tool_use",
                BlockStart::RedactedThinking { .. } => "redacted_thinking",
            };
            assert_eq!(decoded_ty, ty, "{name}");
            assert_eq!(text, raw_text, "{name}");
        }
    }
}

#[test]
fn decoder_is_incremental() {
    let events = stream("text.sse");
    let mut decoder = StreamDecoder::new();
    for event in &events {
        let mut out = Vec::new();
        decoder.decode(event, &mut out).unwrap();
        let d = data(event);
        if d["type"] == "content_block_delta" {
            assert_eq!(
                out,
                vec![StreamEvent::Delta {
                    index: 0,
                    delta: Delta::Text(d["delta"]["text"].as_str().unwrap().to_owned())
                }]
            );
        }
    }
}

#[test]
fn specific_streams() {
    let tool = decode(&stream("tool_call_split.sse"));
    let b = blocks(&tool);
    assert_eq!(
        b[0].0,
        BlockStart::ToolUse {
            id: "toolu_01A09q90qw90lq917835lq9".into(),
            name: "Bash".into()
        }
    );
    let args: Value = serde_json::from_str(&b[0].1).unwrap();
    assert_eq!(args["timeout"], json!(120000));
    assert!(
        tool.iter()
            .filter(|e| matches!(e, StreamEvent::Delta { .. }))
            .count()
            > 10
    );
    assert!(matches!(
        tool.iter().rev().nth(1),
        Some(StreamEvent::Finish {
            stop_reason: Some(StopReason::ToolUse),
            ..
        })
    ));

    let parallel = blocks(&decode(&stream("parallel_tools.sse")));
    assert_eq!(parallel.len(), 3);
    assert_eq!(parallel[0].0, BlockStart::Text);
    assert!(matches!(&parallel[1].0, BlockStart::ToolUse { name, .. } if name == "Read"));
    assert!(matches!(&parallel[2].0, BlockStart::ToolUse { name, .. } if name == "Grep"));
    assert_eq!(
        parallel[2].1,
        r#"{"pattern":"fn main","path":"/work/src","output_mode":"content"}"#
    );

    let thinking = decode(&stream("thinking_text.sse"));
    assert!(thinking.iter().any(|e| matches!(e,
        StreamEvent::Delta { index: 0, delta: Delta::Signature(s) } if s.dialect == Dialect::Anthropic && !s.value.is_empty())));

    let usage = decode(&stream("usage.sse"));
    assert!(usage.contains(&StreamEvent::Finish {
        stop_reason: Some(StopReason::EndTurn),
        stop_sequence: None,
        usage: Some(Usage {
            input_tokens: 7,
            output_tokens: 9,
            cache_read_input_tokens: Some(14250),
            cache_creation_input_tokens: Some(1830),
            reasoning_tokens: None,
        }),
    }));

    let max = decode(&stream("max_tokens.sse"));
    assert!(max.iter().any(|e| matches!(
        e,
        StreamEvent::Finish {
            stop_reason: Some(StopReason::MaxTokens),
            usage: Some(Usage {
                input_tokens: 20,
                output_tokens: 4,
                ..
            }),
            ..
        }
    )));

    let web = blocks(&decode(&stream("web_search.sse")));
    assert_eq!(
        web,
        vec![(
            BlockStart::Text,
            "Rust 1.90.0 was released on September 18, 2025.".to_owned()
        )]
    );
}

#[test]
fn encoder_of_decoder_is_equivalent() {
    for (name, events) in stream_fixtures() {
        let canonical = decode(&events);
        let encoded = encode(&canonical);
        for event in &encoded {
            assert_eq!(
                event.event.as_deref(),
                data(event)["type"].as_str(),
                "{name}"
            );
        }
        let start = data(&encoded[0]);
        assert_eq!(start["type"], "message_start");
        assert_eq!(start["message"]["content"], json!([]));
        assert_eq!(start["message"]["stop_reason"], Value::Null);
        assert!(start["message"]["usage"]["input_tokens"].is_u64());
        assert_eq!(
            start["message"]["id"],
            data(&events[0])["message"]["id"],
            "{name}"
        );

        assert_eq!(decode(&encoded), canonical, "{name}");

        if name == "web_search.sse" {
            continue; // server tool blocks have no canonical counterpart
        }
        // Same dialect in and out: the same events, block for block (an empty first
        // `input_json_delta` carries nothing and is not forwarded).
        let events: Vec<&SseEvent> = events
            .iter()
            .filter(|e| data(e)["delta"]["partial_json"] != "")
            .collect();
        assert_eq!(encoded.len(), events.len(), "{name}");
        for (got, want) in encoded.iter().zip(events) {
            let (got, want) = (data(got), data(want));
            assert_eq!(got["type"], want["type"], "{name}");
            for key in ["index", "content_block", "delta"] {
                if want["type"] != "message_delta" {
                    assert_eq!(got[key], want[key], "{name}: {key}");
                }
            }
            if want["type"] == "message_delta" {
                assert_eq!(got["delta"], want["delta"], "{name}");
                assert_eq!(
                    got["usage"]["output_tokens"], want["usage"]["output_tokens"],
                    "{name}"
                );
            }
        }
    }
}

#[test]
fn response_fixture_from_fake_server_round_trips() {
    let body = json!({"id":"msg_abc","type":"message","role":"assistant","model":"claude-sonnet-4-5",
        "content":[{"type":"thinking","thinking":"Fake reasoning.","signature":"ZmFrZS1zaWduYXR1cmU="},
                   {"type":"text","text":"Calling a tool."},
                   {"type":"tool_use","id":"toolu_1","name":"Bash","input":{"command":"echo hi"}}],
        "stop_reason":"tool_use","stop_sequence":null,
        "usage":{"input_tokens":100,"output_tokens":12,"cache_creation_input_tokens":0,"cache_read_input_tokens":0}});
    let resp = anthropic::parse_response(&serde_json::to_vec(&body).unwrap()).unwrap();
    assert_eq!(resp.to_json(), body);
    let mut notes = Vec::new();
    let c = anthropic::response_to_canonical(&resp, &mut notes);
    let back = anthropic::response_from_canonical(&c, &mut notes);
    assert!(notes.is_empty());
    assert_eq!(back.to_json(), body);
}

fn wire(data: Value) -> SseEvent {
    let kind = data["type"].as_str().unwrap().to_owned();
    SseEvent::named(kind, data.to_string())
}

/// An upstream stream: thinking, text, then one tool call per argument split.
fn synthetic(thinking: &[String], text: &[String], calls: &[Vec<String>]) -> Vec<SseEvent> {
    let mut events = vec![wire(
        json!({"type":"message_start","message":{"id":"msg_p","type":"message",
        "role":"assistant","model":"m","content":[],"stop_reason":null,"stop_sequence":null,
        "usage":{"input_tokens":3,"output_tokens":1}}}),
    )];
    let mut index = 0;
    let mut block = |events: &mut Vec<SseEvent>, start: Value, deltas: Vec<Value>| {
        events.push(wire(
            json!({"type":"content_block_start","index":index,"content_block":start}),
        ));
        for delta in deltas {
            events.push(wire(
                json!({"type":"content_block_delta","index":index,"delta":delta}),
            ));
        }
        events.push(wire(json!({"type":"content_block_stop","index":index})));
        index += 1;
    };
    if !thinking.is_empty() {
        let mut deltas: Vec<Value> = thinking
            .iter()
            .map(|t| json!({"type":"thinking_delta","thinking":t}))
            .collect();
        deltas.push(json!({"type":"signature_delta","signature":"c2ln"}));
        block(
            &mut events,
            json!({"type":"thinking","thinking":"","signature":""}),
            deltas,
        );
    }
    if !text.is_empty() {
        let deltas = text
            .iter()
            .map(|t| json!({"type":"text_delta","text":t}))
            .collect();
        block(&mut events, json!({"type":"text","text":""}), deltas);
    }
    for (i, pieces) in calls.iter().enumerate() {
        let deltas = pieces
            .iter()
            .map(|p| json!({"type":"input_json_delta","partial_json":p}))
            .collect();
        block(
            &mut events,
            json!({"type":"tool_use","id":format!("toolu_{i}"),"name":"f","input":{}}),
            deltas,
        );
    }
    let stop = if calls.is_empty() {
        "end_turn"
    } else {
        "tool_use"
    };
    events.push(wire(
        json!({"type":"message_delta","delta":{"stop_reason":stop,"stop_sequence":null},
        "usage":{"output_tokens":42}}),
    ));
    events.push(wire(json!({"type":"message_stop"})));
    events
}

proptest::proptest! {
    #[test]
    fn any_chunking_survives_decode_and_encode(
        thinking in proptest::collection::vec("[a-z \\n]{0,8}", 0..4),
        text in proptest::collection::vec("\\PC{0,6}", 0..6),
        calls in proptest::collection::vec(proptest::collection::vec("[{}\":,a-z0-9 ]{0,5}", 0..6), 0..3),
    ) {
        let events = synthetic(&thinking, &text, &calls);
        let canonical = decode(&events);
        assert_valid("synthetic", &canonical);
        let got = blocks(&canonical);
        let mut want = Vec::new();
        if !thinking.is_empty() {
            want.push((BlockStart::Thinking, thinking.concat()));
        }
        if !text.is_empty() {
            want.push((BlockStart::Text, text.concat()));
        }
        for (i, pieces) in calls.iter().enumerate() {
            want.push((BlockStart::ToolUse { id: format!("toolu_{i}"), name: "f".into() }, pieces.concat()));
        }
        proptest::prop_assert_eq!(&got, &want);
        proptest::prop_assert_eq!(decode(&encode(&canonical)), canonical);
    }
}
