//! Golden tests of the Responses dialect: captured client requests, conversions through the
//! canonical model, and recorded-shape streams through the decoder and encoder.

// clippy.toml allows these inside #[test] functions; the helpers here are test code too.
#![allow(clippy::unwrap_used, clippy::panic)]

use std::path::PathBuf;

use anvil_dialects::canonical::{self, BlockStart, Delta, Part, Role, StopReason, Tool};
use anvil_dialects::responses::{self, wire};
use anvil_dialects::{Dialect, EncodeContext, SseEvent, StreamDecode, StreamEncode, StreamEvent};
use serde_json::{json, Value};

fn clients_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../tests/fixtures/clients")
}

fn streams_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/streams/responses")
}

/// Every captured `POST /v1/responses` body, by file name.
fn responses_fixtures() -> Vec<(String, Value)> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(clients_dir()).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().and_then(|e| e.to_str()) != Some("json") {
            continue;
        }
        let capture: Value = serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
        let is_responses = capture["method"] == "POST"
            && capture["path"]
                .as_str()
                .is_some_and(|p| p.starts_with("/v1/responses"));
        if is_responses && capture["body_json"].is_object() {
            let name = path.file_name().unwrap().to_string_lossy().into_owned();
            out.push((name, capture["body_json"].clone()));
        }
    }
    out.sort_by(|a, b| a.0.cmp(&b.0));
    out
}

fn parse(body: &Value) -> wire::Request {
    responses::parse_request(&serde_json::to_vec(body).unwrap()).unwrap()
}

#[test]
fn every_captured_request_re_encodes_equal() {
    let fixtures = responses_fixtures();
    let names: Vec<&str> = fixtures.iter().map(|(n, _)| n.as_str()).collect();
    assert_eq!(
        names,
        [
            "codex-0.171.0_exec-hello_custom-provider-responses.json",
            "codex-0.171.0_exec-tool-loop_1-first-turn.json",
            "codex-0.171.0_exec-tool-loop_2-with-function-call-output.json",
            "litellm-1.110.2_responses.json",
            "openai-python-3.57.0_responses-stream.json",
        ]
    );
    for (name, body) in &fixtures {
        let req = parse(body);
        assert_eq!(&req.to_json(), body, "{name}");
        // Known shapes are typed, not kept as raw fallbacks.
        if let Some(wire::Input::Items(items)) = req.input.as_option() {
            for item in items {
                assert!(!matches!(item, wire::Item::Other(_)), "{name}: {item:?}");
            }
        }
        for tool in req.tools.as_option().map(Vec::as_slice).unwrap_or(&[]) {
            let typed = !matches!(tool, wire::Tool::Other(_));
            assert_eq!(typed, tool.type_name() != Some("web_search"), "{name}");
        }
    }
}

#[test]
fn explicit_nulls_and_odd_shapes_survive_re_encoding() {
    let cases = [
        json!({"model": "m", "input": "hi", "instructions": null, "temperature": 1, "top_p": 0.5,
            "max_output_tokens": null, "text": {"format": {"type": "json_schema", "name": "x",
            "schema": {"type": "object"}, "strict": true}, "verbosity": "low"}}),
        json!({"model": "m", "input": [
            {"role": "assistant", "content": [{"type": "output_text", "text": "t",
                "annotations": [{"type": "url_citation", "url": "https://x"}], "logprobs": []},
                {"type": "refusal", "refusal": "no"}]},
            {"type": "message", "role": "user", "content": [
                {"type": "input_image", "image_url": "data:image/png;base64,AAAA", "detail": "high"},
                {"type": "input_image", "file_id": "file_1", "detail": null},
                {"type": "input_file", "filename": "a.pdf", "file_data": "data:application/pdf;base64,JVBE"},
                {"type": "input_audio", "input_audio": {"data": "x", "format": "wav"}}]},
            {"type": "reasoning", "id": "rs_1", "summary": [{"type": "summary_text", "text": "s"}],
                "content": null, "encrypted_content": "enc"},
            {"type": "function_call", "id": "fc_1", "call_id": "c", "name": "f", "arguments": "{}",
                "status": "completed", "namespace": "multi_agent_v1"},
            {"type": "function_call_output", "call_id": "c", "output": [{"type": "input_text", "text": "r"}]},
            {"type": "custom_tool_call", "call_id": "d", "name": "apply_patch", "input": "*** Begin"},
            {"type": "item_reference", "id": "msg_9"}
        ], "tools": [{"type": "custom", "name": "apply_patch", "format": {"type": "grammar"}},
            {"type": "function", "name": "g", "parameters": null}],
        "tool_choice": {"type": "function", "name": "g"}, "user": "u", "safety_identifier": "s"}),
    ];
    for body in cases {
        assert_eq!(parse(&body).to_json(), body);
    }
}

fn to_canonical(body: &Value) -> (canonical::Request, Vec<canonical::Lossy>) {
    let mut notes = Vec::new();
    let req = responses::request_to_canonical(&parse(body), &mut notes);
    (req, notes)
}

#[test]
fn captured_requests_survive_canonical_and_back() {
    for (name, body) in responses_fixtures() {
        let (first, _) = to_canonical(&body);
        let mut notes = Vec::new();
        let back = responses::request_from_canonical(&first, &mut notes);
        assert!(notes.is_empty(), "{name}: {notes:?}");
        let (second, _) = to_canonical(&back.to_json());
        assert_eq!(first, second, "{name}");
        // Settings a Responses upstream needs come back as the client sent them.
        for key in [
            "model",
            "tools",
            "tool_choice",
            "parallel_tool_calls",
            "reasoning",
            "stream",
            "max_output_tokens",
        ] {
            assert_eq!(back.to_json().get(key), body.get(key), "{name}: {key}");
        }
    }
}

#[test]
fn codex_tool_loop_maps_to_canonical_turns() {
    let body = responses_fixtures()
        .into_iter()
        .find(|(n, _)| n.contains("tool-loop_2"))
        .unwrap()
        .1;
    let (req, notes) = to_canonical(&body);
    assert_eq!(req.model, "planning");
    assert!(req.stream);
    // Two leading developer messages (1 + 2 parts) are the system prompt.
    assert_eq!(req.system.len(), 3);
    assert_eq!(
        req.system[0].text,
        body["input"][0]["content"][0]["text"].as_str().unwrap()
    );
    let roles: Vec<Role> = req.messages.iter().map(|m| m.role).collect();
    assert_eq!(roles, [Role::User, Role::User, Role::Assistant, Role::User]);
    assert_eq!(
        req.messages[2].content,
        [Part::ToolUse {
            id: "call_6b9743e78021493292002b44".into(),
            name: "exec_command".into(),
            arguments: "{\"cmd\": \"echo fake-tool-ran\"}".into(),
            cache_control: None,
        }]
    );
    match &req.messages[3].content[..] {
        [Part::ToolResult {
            tool_use_id,
            content: canonical::ToolResultContent::Text(text),
            is_error: false,
            ..
        }] => {
            assert_eq!(tool_use_id, "call_6b9743e78021493292002b44");
            assert!(text.ends_with("fake-tool-ran\n"));
        }
        other => panic!("unexpected tool result {other:?}"),
    }
    let functions = req
        .tools
        .iter()
        .filter(|t| matches!(t, Tool::Function(_)))
        .count();
    let natives: Vec<&Value> = req
        .tools
        .iter()
        .filter_map(|t| match t {
            Tool::Native {
                dialect: Dialect::Responses,
                raw,
            } => Some(raw),
            _ => None,
        })
        .collect();
    assert_eq!(functions, 7);
    assert_eq!(natives.len(), 2);
    assert_eq!(natives[0]["type"], "namespace");
    assert_eq!(natives[0]["tools"].as_array().unwrap().len(), 5);
    assert_eq!(
        natives[1],
        &json!({"type": "web_search", "external_web_access": true})
    );
    assert_eq!(req.tool_choice, Some(canonical::ToolChoice::Auto));
    assert_eq!(req.parallel_tool_calls, Some(true));
    assert_eq!(req.thinking, Some(canonical::ThinkingConfig::Adaptive));
    let paths: Vec<&str> = notes.iter().map(|n| n.path.as_str()).collect();
    for expected in [
        "prompt_cache_key",
        "client_metadata",
        "input[4].id",
        "input[4].status",
        "input[5].id",
    ] {
        assert!(
            paths.contains(&expected),
            "{expected} missing from {paths:?}"
        );
    }
    for reproduced in ["include[0]", "store", "reasoning.summary"] {
        assert!(
            !paths.contains(&reproduced),
            "{reproduced} noted: {paths:?}"
        );
    }
}

#[test]
fn conversions_keep_images_files_reasoning_and_results() {
    let body = json!({"model": "m", "instructions": "be brief", "input": [
        {"role": "user", "content": [{"type": "input_text", "text": "look"},
            {"type": "input_image", "image_url": "data:image/png;base64,AAAA", "detail": "high"},
            {"type": "input_file", "filename": "a.pdf", "file_data": "data:application/pdf;base64,JVBE"}]},
        {"type": "reasoning", "id": "rs_1", "summary": [{"type": "summary_text", "text": "one"},
            {"type": "summary_text", "text": "two"}], "encrypted_content": "enc"},
        {"type": "message", "role": "assistant", "content": [{"type": "output_text", "text": "ok", "annotations": []}]},
        {"type": "function_call", "call_id": "c1", "name": "f", "arguments": "{\"a\": 1}"},
        {"type": "function_call_output", "call_id": "c1", "output": [{"type": "input_text", "text": "r"},
            {"type": "input_image", "file_id": "file_9"}]},
        {"role": "user", "content": "thanks"}
    ], "text": {"format": {"type": "json_schema", "name": "out", "schema": {"type": "object"}, "strict": true}},
       "max_output_tokens": 300, "temperature": 0.2, "tool_choice": {"type": "function", "name": "f"},
       "safety_identifier": "user-1", "reasoning": {"effort": "low", "summary": "auto"}});
    let (req, _) = to_canonical(&body);
    assert_eq!(req.system[0].text, "be brief");
    assert_eq!(req.max_tokens, Some(300));
    assert_eq!(req.temperature, Some(0.2));
    assert_eq!(req.reasoning_effort.as_deref(), Some("low"));
    assert_eq!(req.user.as_deref(), Some("user-1"));
    assert_eq!(
        req.tool_choice,
        Some(canonical::ToolChoice::Tool("f".into()))
    );
    assert!(matches!(
        req.response_format,
        Some(canonical::ResponseFormat::JsonSchema { .. })
    ));
    assert_eq!(req.messages.len(), 3);
    assert!(matches!(
        &req.messages[0].content[1],
        Part::Image { source: canonical::MediaSource::Base64 { media_type, data }, detail: Some(d), .. }
            if media_type == "image/png" && data == "AAAA" && d == "high"
    ));
    assert!(matches!(&req.messages[1].content[0],
        Part::Thinking { text, signature: Some(sig) } if text == "one\n\ntwo" && sig.value == "enc"
            && sig.dialect == Dialect::Responses));
    assert_eq!(
        req.messages[2].content.len(),
        2,
        "tool result and the next user text share a turn"
    );

    let mut notes = Vec::new();
    let back = responses::request_from_canonical(&req, &mut notes).to_json();
    assert!(notes.is_empty(), "{notes:?}");
    let types: Vec<&str> = back["input"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["type"].as_str().unwrap())
        .collect();
    assert_eq!(
        types,
        [
            "message",
            "message",
            "reasoning",
            "message",
            "function_call",
            "function_call_output",
            "message"
        ]
    );
    assert_eq!(back["input"][0]["role"], "developer");
    assert_eq!(
        back["input"][1]["content"][1]["image_url"],
        "data:image/png;base64,AAAA"
    );
    assert_eq!(
        back["input"][1]["content"][2]["file_data"],
        "data:application/pdf;base64,JVBE"
    );
    assert_eq!(back["input"][2]["encrypted_content"], "enc");
    assert_eq!(back["input"][4]["arguments"], "{\"a\": 1}");
    assert_eq!(
        back["input"][5]["output"][1],
        json!({"type": "input_image", "file_id": "file_9"})
    );
    assert_eq!(back["text"], body["text"]);
    assert_eq!(back["store"], false);
    assert_eq!(back["include"], json!(["reasoning.encrypted_content"]));
    let (again, _) = to_canonical(&back);
    assert_eq!(again.messages, req.messages);
}

#[test]
fn foreign_canonical_values_are_reported() {
    let req = canonical::Request {
        model: "m".into(),
        system: vec![canonical::SystemPart {
            text: "s".into(),
            cache_control: Some(json!({"type": "ephemeral"})),
        }],
        tools: vec![
            Tool::Native {
                dialect: Dialect::Anthropic,
                raw: json!({"type": "web_search_20250305"}),
            },
            Tool::Function(canonical::FunctionTool {
                name: "now".into(),
                description: None,
                parameters: Value::Null,
                strict: None,
                cache_control: None,
            }),
        ],
        top_k: Some(5),
        stop: vec!["END".into()],
        thinking: Some(canonical::ThinkingConfig::Enabled {
            budget_tokens: Some(20_000),
        }),
        ..canonical::Request::default()
    };
    let mut notes = Vec::new();
    let out = responses::request_from_canonical(&req, &mut notes).to_json();
    let paths: Vec<&str> = notes.iter().map(|n| n.path.as_str()).collect();
    assert_eq!(
        paths,
        [
            "system[0].cache_control",
            "tools[0]",
            "thinking.budget_tokens",
            "top_k",
            "stop"
        ]
    );
    assert_eq!(
        out["reasoning"],
        json!({"effort": "high", "summary": "auto"})
    );
    // Non-strict unless asked (Responses would otherwise force strict schemas), schema required.
    assert_eq!(
        out["tools"],
        json!([{"type": "function", "name": "now",
            "parameters": {"type": "object", "properties": {}}, "strict": false}])
    );
}

fn sample_response() -> Value {
    json!({"id": "resp_abc", "object": "response", "created_at": 1796036400, "status": "completed",
        "error": null, "incomplete_details": null, "model": "gpt-5.1", "output": [
            {"type": "reasoning", "id": "rs_abc", "summary": [{"type": "summary_text", "text": "plan"}],
                "encrypted_content": "enc"},
            {"type": "message", "id": "msg_abc", "status": "completed", "role": "assistant",
                "content": [{"type": "output_text", "text": "Running it.", "annotations": []}]},
            {"type": "function_call", "id": "fc_abc", "call_id": "call_1", "name": "exec_command",
                "arguments": "{\"cmd\":\"ls\"}", "status": "completed"},
            {"type": "web_search_call", "id": "ws_1", "status": "completed"}
        ], "parallel_tool_calls": true, "tool_choice": "auto", "tools": [], "text": {"format": {"type": "text"}},
        "usage": {"input_tokens": 100, "input_tokens_details": {"cached_tokens": 60}, "output_tokens": 20,
            "output_tokens_details": {"reasoning_tokens": 8}, "total_tokens": 120}})
}

#[test]
fn responses_convert_both_ways() {
    let body = sample_response();
    let resp = responses::parse_response(&serde_json::to_vec(&body).unwrap()).unwrap();
    assert_eq!(resp.to_json(), body);
    let mut notes = Vec::new();
    let canonical = responses::response_to_canonical(&resp, &mut notes);
    assert_eq!(notes, [canonical::Lossy::dropped("output[3]")]);
    assert_eq!(canonical.stop_reason, Some(StopReason::ToolUse));
    assert_eq!(canonical.usage.input_tokens, 40);
    assert_eq!(canonical.usage.cache_read_input_tokens, Some(60));
    assert_eq!(canonical.content.len(), 3);

    let mut notes = Vec::new();
    let back = responses::response_from_canonical(&canonical, &mut notes).to_json();
    assert!(notes.is_empty(), "{notes:?}");
    assert_eq!(back["usage"], body["usage"]);
    assert_eq!(back["status"], "completed");
    assert_eq!(back["output"][0]["encrypted_content"], "enc");
    assert_eq!(back["output"][1]["content"][0]["text"], "Running it.");
    assert_eq!(back["output"][2]["call_id"], "call_1");
    assert_eq!(back["output"][2]["id"], "fc_abc_2");
    let again = responses::response_to_canonical(
        &responses::parse_response(&serde_json::to_vec(&back).unwrap()).unwrap(),
        &mut Vec::new(),
    );
    assert_eq!(again, canonical);

    let truncated = canonical::Response {
        stop_reason: Some(StopReason::MaxTokens),
        ..canonical
    };
    let back = responses::response_from_canonical(&truncated, &mut Vec::new()).to_json();
    assert_eq!(back["status"], "incomplete");
    assert_eq!(back["id"], "resp_abc");

    // Another vendor's id gets the Responses prefix; item ids follow it.
    let foreign = canonical::Response {
        id: "msg_01".into(),
        content: vec![Part::Text {
            text: "hi".into(),
            cache_control: None,
        }],
        ..truncated
    };
    let back = responses::response_from_canonical(&foreign, &mut Vec::new()).to_json();
    assert_eq!(back["id"], "resp_msg_01");
    assert_eq!(back["output"][0]["id"], "msg_msg_01_0");
    assert_eq!(
        back["incomplete_details"],
        json!({"reason": "max_output_tokens"})
    );
}

// ---------------------------------------------------------------------------------------------------
// Streams

/// A minimal SSE reader for the fixtures (the crate's own decoder is tested on its own).
fn read_sse(text: &str) -> Vec<SseEvent> {
    text.split("\n\n")
        .filter(|block| !block.trim().is_empty())
        .map(|block| {
            let mut event = SseEvent::default();
            let mut data = Vec::new();
            for line in block.lines() {
                if let Some(v) = line.strip_prefix("event: ") {
                    event.event = Some(v.to_owned());
                } else if let Some(v) = line.strip_prefix("data: ") {
                    data.push(v);
                }
            }
            event.data = data.join("\n");
            event
        })
        .collect()
}

fn stream_fixtures() -> Vec<(String, Vec<SseEvent>)> {
    let mut out: Vec<(String, Vec<SseEvent>)> = std::fs::read_dir(streams_dir())
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().and_then(|e| e.to_str()) == Some("sse"))
        .map(|p| {
            let name = p.file_name().unwrap().to_string_lossy().into_owned();
            (name, read_sse(&std::fs::read_to_string(&p).unwrap()))
        })
        .collect();
    out.sort_by(|a, b| a.0.cmp(&b.0));
    out
}

fn decode(events: &[SseEvent]) -> Vec<StreamEvent> {
    let mut decoder = responses::StreamDecoder::new();
    let mut out = Vec::new();
    for event in events {
        decoder.decode(event, &mut out).unwrap();
    }
    decoder.finish(&mut out).unwrap();
    out
}

/// Checks the canonical stream invariant: Start, blocks 0.. one open at a time, Finish, End.
fn assert_valid_canonical(events: &[StreamEvent]) {
    assert!(
        matches!(events.first(), Some(StreamEvent::Start { .. })),
        "{events:?}"
    );
    assert!(
        matches!(events.last(), Some(StreamEvent::End)),
        "{events:?}"
    );
    assert!(matches!(
        events[events.len() - 2],
        StreamEvent::Finish { .. }
    ));
    let mut open: Option<usize> = None;
    let mut next = 0;
    for event in &events[1..events.len() - 2] {
        match event {
            StreamEvent::BlockStart { index, .. } => {
                assert_eq!(open, None, "two blocks open");
                assert_eq!(*index, next);
                open = Some(*index);
                next += 1;
            }
            StreamEvent::Delta { index, .. } => assert_eq!(open, Some(*index)),
            StreamEvent::BlockStop { index } => {
                assert_eq!(open, Some(*index));
                open = None;
            }
            StreamEvent::Ping => {}
            other => panic!("unexpected {other:?}"),
        }
    }
    assert_eq!(open, None);
}

/// Blocks as (kind, concatenated content) pairs.
fn blocks(events: &[StreamEvent]) -> Vec<(String, String)> {
    let mut out: Vec<(String, String)> = Vec::new();
    for event in events {
        match event {
            StreamEvent::BlockStart { block, .. } => out.push((
                match block {
                    BlockStart::Text => "text".into(),
                    BlockStart::Thinking => "thinking".into(),
                    BlockStart::ToolUse { id, name } => format!("tool:{id}:{name}"),
                    BlockStart::RedactedThinking { .. } => "redacted".into(),
                },
                String::new(),
            )),
            StreamEvent::Delta { delta, .. } => {
                let last = out.last_mut().unwrap();
                match delta {
                    Delta::Text(t) | Delta::Thinking(t) | Delta::ToolArguments(t) => {
                        last.1.push_str(t)
                    }
                    Delta::Signature(s) => last.0.push_str(&format!("+sig{}", s.value.len())),
                }
            }
            _ => {}
        }
    }
    out
}

/// The final `response` object of a Responses SSE stream.
fn final_response(events: &[SseEvent]) -> Value {
    let last: Value = serde_json::from_str(&events.last().unwrap().data).unwrap();
    last["response"].clone()
}

#[test]
fn stream_fixtures_decode_to_valid_canonical_streams() {
    let fixtures = stream_fixtures();
    let names: Vec<&str> = fixtures.iter().map(|(n, _)| n.as_str()).collect();
    assert_eq!(
        names,
        [
            "incomplete_usage.sse",
            "parallel_tools.sse",
            "reasoning_text.sse",
            "text.sse",
            "tool_call.sse"
        ]
    );
    let expected: [(&str, &[&str], StopReason); 5] = [
        ("incomplete_usage.sse", &["text"], StopReason::MaxTokens),
        (
            "parallel_tools.sse",
            &["text", "tool", "tool"],
            StopReason::ToolUse,
        ),
        (
            "reasoning_text.sse",
            &["thinking", "text"],
            StopReason::EndTurn,
        ),
        ("text.sse", &["text"], StopReason::EndTurn),
        ("tool_call.sse", &["thinking", "tool"], StopReason::ToolUse),
    ];
    for ((name, sse), (want_name, kinds, stop)) in fixtures.iter().zip(expected) {
        assert_eq!(name, want_name);
        let events = decode(sse);
        assert_valid_canonical(&events);
        let got = blocks(&events);
        let got_kinds: Vec<&str> = got
            .iter()
            .map(|(k, _)| k.split([':', '+']).next().unwrap())
            .collect();
        assert_eq!(got_kinds, kinds, "{name}");

        // Content equals what the final response object holds, byte for byte.
        let response = final_response(sse);
        let mut from_output = Vec::new();
        for item in response["output"].as_array().unwrap() {
            match item["type"].as_str().unwrap() {
                "message" => {
                    from_output.push(item["content"][0]["text"].as_str().unwrap().to_owned())
                }
                "function_call" => from_output.push(item["arguments"].as_str().unwrap().to_owned()),
                "reasoning" => from_output.push(
                    item["summary"]
                        .as_array()
                        .unwrap()
                        .iter()
                        .map(|p| p["text"].as_str().unwrap())
                        .collect::<Vec<_>>()
                        .join("\n\n"),
                ),
                other => panic!("{other}"),
            }
        }
        let contents: Vec<String> = got.iter().map(|(_, c)| c.clone()).collect();
        assert_eq!(contents, from_output, "{name}");
        for (kind, _) in &got {
            if kind.starts_with("thinking") {
                assert!(kind.ends_with(&format!(
                    "+sig{}",
                    response["output"][0]["encrypted_content"]
                        .as_str()
                        .unwrap()
                        .len()
                )));
            }
        }

        let StreamEvent::Finish {
            stop_reason,
            usage: Some(usage),
            ..
        } = &events[events.len() - 2]
        else {
            panic!("{name}: no usage");
        };
        assert_eq!(stop_reason.as_ref(), Some(&stop), "{name}");
        let wire_usage = &response["usage"];
        let cached = wire_usage["input_tokens_details"]["cached_tokens"]
            .as_u64()
            .unwrap();
        assert_eq!(
            usage.input_tokens + cached,
            wire_usage["input_tokens"].as_u64().unwrap()
        );
        assert_eq!(
            usage.output_tokens,
            wire_usage["output_tokens"].as_u64().unwrap()
        );
    }
}

fn encode(events: &[StreamEvent]) -> Vec<SseEvent> {
    let mut encoder = responses::StreamEncoder::new(EncodeContext {
        id: "resp_ctx".into(),
        model: String::new(),
        created: 1_796_036_400,
        include_usage: false,
    });
    let mut out = Vec::new();
    for event in events {
        encoder.encode(event, &mut out);
    }
    out
}

/// What the openai-python `ResponseStreamState` requires, plus the API's own guarantees.
fn assert_sdk_accepts(events: &[SseEvent]) {
    let mut items: Vec<Value> = Vec::new();
    let mut done_items: Vec<Value> = Vec::new();
    for (n, event) in events.iter().enumerate() {
        let data: Value = serde_json::from_str(&event.data).unwrap();
        let kind = data["type"].as_str().unwrap();
        assert_eq!(event.event.as_deref(), Some(kind));
        assert_eq!(data["sequence_number"], json!(n));
        if n == 0 {
            assert_eq!(kind, "response.created");
        }
        let oi = data["output_index"].as_u64().map(|i| i as usize);
        match kind {
            "response.output_item.added" => {
                assert_eq!(oi, Some(items.len()));
                items.push(data["item"].clone());
            }
            "response.content_part.added" => {
                let item = &mut items[oi.unwrap()];
                assert_eq!(item["type"], "message");
                assert_eq!(data["item_id"], item["id"]);
                item["content"]
                    .as_array_mut()
                    .unwrap()
                    .push(data["part"].clone());
            }
            "response.output_text.delta" => {
                let item = &mut items[oi.unwrap()];
                let part = &mut item["content"][data["content_index"].as_u64().unwrap() as usize];
                let text = format!(
                    "{}{}",
                    part["text"].as_str().unwrap(),
                    data["delta"].as_str().unwrap()
                );
                part["text"] = json!(text);
            }
            "response.output_text.done" => {
                let item = &items[oi.unwrap()];
                assert_eq!(item["content"][0]["text"], data["text"]);
            }
            "response.function_call_arguments.delta" => {
                let item = &mut items[oi.unwrap()];
                assert_eq!(item["type"], "function_call");
                let args = format!(
                    "{}{}",
                    item["arguments"].as_str().unwrap(),
                    data["delta"].as_str().unwrap()
                );
                item["arguments"] = json!(args);
            }
            "response.function_call_arguments.done" => {
                assert_eq!(items[oi.unwrap()]["arguments"], data["arguments"]);
            }
            "response.reasoning_summary_text.delta" => {
                let item = &mut items[oi.unwrap()];
                assert_eq!(item["type"], "reasoning");
                let key = format!("acc{}", data["summary_index"]);
                let acc = format!(
                    "{}{}",
                    item[&key].as_str().unwrap_or(""),
                    data["delta"].as_str().unwrap()
                );
                item[&key] = json!(acc);
            }
            "response.reasoning_summary_text.done" => {
                let item = &items[oi.unwrap()];
                assert_eq!(item[&format!("acc{}", data["summary_index"])], data["text"]);
            }
            "response.output_item.done" => {
                assert_eq!(data["item"]["id"], items[oi.unwrap()]["id"]);
                done_items.push(data["item"].clone());
            }
            "response.completed" | "response.incomplete" => {
                assert_eq!(n, events.len() - 1, "terminal event is last");
                assert_eq!(data["response"]["output"], json!(done_items));
                assert!(data["response"]["usage"]["total_tokens"].is_u64());
            }
            _ => {}
        }
    }
}

#[test]
fn encoder_output_is_accepted_and_decodes_back_equal() {
    for (name, sse) in stream_fixtures() {
        let canonical = decode(&sse);
        let encoded = encode(&canonical);
        assert_sdk_accepts(&encoded);
        assert_eq!(decode(&encoded), canonical, "{name}");

        // Item ids are deterministic and the usage matches the upstream's.
        let original = final_response(&sse);
        let ours = final_response(&encoded);
        assert_eq!(ours["id"], original["id"], "{name}");
        assert_eq!(ours["usage"], original["usage"], "{name}");
        assert_eq!(ours["status"], original["status"], "{name}");
        assert_eq!(
            ours["incomplete_details"], original["incomplete_details"],
            "{name}"
        );
        let prefixes: Vec<String> = ours["output"]
            .as_array()
            .unwrap()
            .iter()
            .enumerate()
            .map(|(i, item)| {
                item["id"]
                    .as_str()
                    .unwrap()
                    .strip_suffix(&format!("_{i}"))
                    .unwrap()
                    .to_owned()
            })
            .collect();
        for prefix in prefixes {
            assert!(
                prefix.ends_with(original["id"].as_str().unwrap().trim_start_matches("resp_")),
                "{prefix}"
            );
        }
        assert_eq!(encode(&canonical), encoded, "{name}: not deterministic");
    }
}

#[test]
fn encoder_handles_foreign_streams() {
    // An Anthropic-shaped canonical stream: signature of another vendor, no resp_ id.
    let events = vec![
        StreamEvent::Start {
            id: "msg_01".into(),
            model: "claude".into(),
            usage: None,
        },
        StreamEvent::Ping,
        StreamEvent::BlockStart {
            index: 0,
            block: BlockStart::Thinking,
        },
        StreamEvent::Delta {
            index: 0,
            delta: Delta::Thinking("hmm".into()),
        },
        StreamEvent::Delta {
            index: 0,
            delta: Delta::Signature(canonical::Signature {
                dialect: Dialect::Anthropic,
                value: "sig".into(),
            }),
        },
        StreamEvent::BlockStop { index: 0 },
        StreamEvent::BlockStart {
            index: 1,
            block: BlockStart::RedactedThinking {
                data: "x".into(),
                dialect: Dialect::Anthropic,
            },
        },
        StreamEvent::BlockStop { index: 1 },
        StreamEvent::BlockStart {
            index: 2,
            block: BlockStart::ToolUse {
                id: "toolu_1".into(),
                name: "Bash".into(),
            },
        },
        StreamEvent::Delta {
            index: 2,
            delta: Delta::ToolArguments("{\"command\":".into()),
        },
        StreamEvent::Delta {
            index: 2,
            delta: Delta::ToolArguments("\"ls\"}".into()),
        },
        StreamEvent::BlockStop { index: 2 },
        StreamEvent::Finish {
            stop_reason: Some(StopReason::ToolUse),
            stop_sequence: None,
            usage: Some(canonical::Usage {
                input_tokens: 10,
                output_tokens: 5,
                ..Default::default()
            }),
        },
        StreamEvent::End,
    ];
    let encoded = encode(&events);
    assert_sdk_accepts(&encoded);
    let last = final_response(&encoded);
    assert_eq!(last["id"], "resp_ctx");
    assert_eq!(last["model"], "claude");
    assert_eq!(last["output"].as_array().unwrap().len(), 2);
    assert!(last["output"][0].get("encrypted_content").is_none());
    assert_eq!(last["output"][1]["arguments"], "{\"command\":\"ls\"}");
    assert_eq!(last["output"][1]["id"], "fc_ctx_1");
    let back = decode(&encoded);
    assert_valid_canonical(&back);
    assert_eq!(
        blocks(&back),
        [
            ("thinking".to_owned(), "hmm".to_owned()),
            (
                "tool:toolu_1:Bash".to_owned(),
                "{\"command\":\"ls\"}".to_owned()
            )
        ]
    );
}

/// One generated block: kind (0 text, 1 thinking, 2 tool call), its pieces, a signature for thinking.
type GenBlock = (u8, Vec<String>, Option<String>);

fn canonical_stream(blocks: &[GenBlock], cached: u64) -> Vec<StreamEvent> {
    let mut events = vec![StreamEvent::Start {
        id: "resp_prop".into(),
        model: "m".into(),
        usage: None,
    }];
    let mut called = false;
    for (index, (kind, pieces, signature)) in blocks.iter().enumerate() {
        let block = match kind {
            0 => BlockStart::Text,
            1 => BlockStart::Thinking,
            _ => {
                called = true;
                BlockStart::ToolUse {
                    id: format!("call_{index}"),
                    name: "exec_command".into(),
                }
            }
        };
        events.push(StreamEvent::BlockStart { index, block });
        for piece in pieces {
            let delta = match kind {
                0 => Delta::Text(piece.clone()),
                1 => Delta::Thinking(piece.clone()),
                _ => Delta::ToolArguments(piece.clone()),
            };
            events.push(StreamEvent::Delta { index, delta });
        }
        if let (1, Some(value)) = (kind, signature) {
            events.push(StreamEvent::Delta {
                index,
                delta: Delta::Signature(canonical::Signature {
                    dialect: Dialect::Responses,
                    value: value.clone(),
                }),
            });
        }
        events.push(StreamEvent::BlockStop { index });
    }
    events.push(StreamEvent::Finish {
        stop_reason: Some(if called {
            StopReason::ToolUse
        } else {
            StopReason::EndTurn
        }),
        stop_sequence: None,
        usage: Some(canonical::Usage {
            input_tokens: 7,
            output_tokens: 11,
            cache_read_input_tokens: Some(cached),
            cache_creation_input_tokens: None,
            reasoning_tokens: Some(3),
        }),
    });
    events.push(StreamEvent::End);
    events
}

proptest::proptest! {
    #[test]
    fn any_canonical_stream_survives_encode_then_decode(
        blocks in proptest::collection::vec(
            (0u8..3, proptest::collection::vec("\\PC{0,12}", 0..6), proptest::option::of("[A-Za-z0-9+/=]{1,40}")),
            0..6,
        ),
        cached in 0u64..1000,
    ) {
        let events = canonical_stream(&blocks, cached);
        let encoded = encode(&events);
        assert_sdk_accepts(&encoded);
        proptest::prop_assert_eq!(decode(&encoded), events);
    }
}

#[test]
fn a_known_type_in_a_shape_the_model_does_not_know_is_kept_as_it_came() {
    // `type` in the middle, and a field of the wrong type: each falls back to `Other`, its keys in
    // their order (the tag was taken out to decode the rest, and put back where it stood).
    let items = [
        r#"{"call_id":5,"type":"function_call","name":"f","arguments":"{}"}"#,
        r#"{"id":"fco_1","call_id":"c","output":7,"type":"function_call_output"}"#,
        r#"{"summary":"not a list","type":"reasoning"}"#,
        r#"{"type":"message","role":"user","content":42}"#,
    ];
    for text in items {
        let item: wire::Item = serde_json::from_str(text).unwrap();
        assert!(matches!(item, wire::Item::Other(_)), "{text}: {item:?}");
        assert_eq!(serde_json::to_string(&item).unwrap(), text);
    }
    let tool: wire::Tool =
        serde_json::from_str(r#"{"name":"f","type":"function","parameters":{},"strict":"yes"}"#)
            .unwrap();
    assert!(matches!(tool, wire::Tool::Other(_)), "{tool:?}");
    assert_eq!(
        serde_json::to_string(&tool).unwrap(),
        r#"{"name":"f","type":"function","parameters":{},"strict":"yes"}"#
    );
    // the same shapes, well formed, decode typed
    let item: wire::Item = serde_json::from_str(
        r#"{"call_id":"c","type":"function_call","name":"f","arguments":"{}"}"#,
    )
    .unwrap();
    assert!(matches!(item, wire::Item::FunctionCall(_)), "{item:?}");
}
