//! Golden tests of the OpenAI Chat Completions dialect: captured client requests, conversions through
//! the canonical model, and recorded streams.

// Test helpers outside `#[test]` functions: clippy.toml only relaxes these lints inside tests.
#![allow(clippy::unwrap_used, clippy::panic)]

use std::path::PathBuf;

use anvil_dialects::canonical::{
    self, BlockStart, Delta, MediaSource, Part, StopReason, StreamEvent, ToolResultContent,
};
use anvil_dialects::openai::{self, StreamDecoder, StreamEncoder};
use anvil_dialects::{EncodeContext, LossyNotes, SseEvent, StreamDecode, StreamEncode};
use serde_json::{json, Value};

fn repo_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn chat_fixtures() -> Vec<(String, Value)> {
    let dir = repo_root().join("tests/fixtures/clients");
    let mut out = Vec::new();
    for entry in std::fs::read_dir(&dir).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().and_then(|e| e.to_str()) != Some("json") {
            continue;
        }
        let fixture: Value = serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
        if fixture["path"] == "/v1/chat/completions" {
            out.push((
                path.file_name().unwrap().to_string_lossy().into_owned(),
                fixture["body_json"].clone(),
            ));
        }
    }
    out.sort_by(|a, b| a.0.cmp(&b.0));
    out
}

/// Minimal SSE reader for the fixtures (the crate's SSE decoder is tested on its own).
fn read_sse(text: &str) -> Vec<SseEvent> {
    let mut events = Vec::new();
    for block in text.split("\n\n") {
        let data: Vec<&str> = block
            .lines()
            .filter_map(|line| line.strip_prefix("data:"))
            .map(|d| d.strip_prefix(' ').unwrap_or(d))
            .collect();
        if !data.is_empty() {
            events.push(SseEvent::data(data.join("\n")));
        }
    }
    events
}

fn stream_fixtures() -> Vec<(String, Vec<SseEvent>)> {
    let dir = repo_root().join("crates/anvil-dialects/tests/streams/openai");
    let mut out = Vec::new();
    for entry in std::fs::read_dir(&dir).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().and_then(|e| e.to_str()) == Some("sse") {
            let text = std::fs::read_to_string(&path).unwrap();
            out.push((
                path.file_name().unwrap().to_string_lossy().into_owned(),
                read_sse(&text),
            ));
        }
    }
    out.sort_by(|a, b| a.0.cmp(&b.0));
    out
}

fn stream_fixture(name: &str) -> Vec<SseEvent> {
    stream_fixtures()
        .into_iter()
        .find(|(n, _)| n == name)
        .unwrap()
        .1
}

fn decode_all(events: &[SseEvent]) -> Vec<StreamEvent> {
    let mut decoder = StreamDecoder::new();
    let mut out = Vec::new();
    for event in events {
        decoder.decode(event, &mut out).unwrap();
    }
    decoder.finish(&mut out).unwrap();
    out
}

fn encode_all(events: &[StreamEvent], ctx: EncodeContext) -> Vec<SseEvent> {
    let mut encoder = StreamEncoder::new(ctx);
    let mut out = Vec::new();
    for event in events {
        encoder.encode(event, &mut out);
    }
    out
}

/// Asserts the canonical stream invariant: Start, blocks 0,1,2… one open at a time, Finish, End.
fn assert_valid(events: &[StreamEvent]) {
    assert!(
        matches!(events.first(), Some(StreamEvent::Start { .. })),
        "{events:?}"
    );
    assert_eq!(events.last(), Some(&StreamEvent::End), "{events:?}");
    let mut open: Option<usize> = None;
    let mut next = 0;
    let mut finished = false;
    for event in &events[1..events.len() - 1] {
        match event {
            StreamEvent::BlockStart { index, .. } => {
                assert!(
                    !finished && open.is_none(),
                    "block opened while another is open: {events:?}"
                );
                assert_eq!(*index, next);
                open = Some(*index);
                next += 1;
            }
            StreamEvent::Delta { index, delta } => {
                assert_eq!(open, Some(*index), "delta outside its block: {events:?}");
                if let Delta::Text(s) | Delta::Thinking(s) | Delta::ToolArguments(s) = delta {
                    assert!(!s.is_empty(), "empty delta");
                }
            }
            StreamEvent::BlockStop { index } => {
                assert_eq!(open, Some(*index));
                open = None;
            }
            StreamEvent::Finish { .. } => {
                assert!(open.is_none() && !finished);
                finished = true;
            }
            StreamEvent::Ping => {}
            other => panic!("unexpected {other:?}"),
        }
    }
    assert!(finished, "no Finish: {events:?}");
}

/// The blocks of a canonical stream, with their concatenated deltas.
#[derive(Debug, PartialEq)]
enum Block {
    Text(String),
    Thinking(String),
    Tool {
        id: String,
        name: String,
        arguments: String,
    },
}

fn blocks(events: &[StreamEvent]) -> Vec<Block> {
    let mut out = Vec::new();
    for event in events {
        match event {
            StreamEvent::BlockStart { block, .. } => out.push(match block {
                BlockStart::Text => Block::Text(String::new()),
                BlockStart::Thinking => Block::Thinking(String::new()),
                BlockStart::ToolUse { id, name } => Block::Tool {
                    id: id.clone(),
                    name: name.clone(),
                    arguments: String::new(),
                },
                BlockStart::RedactedThinking { .. } => panic!("redacted thinking"),
            }),
            StreamEvent::Delta { delta, .. } => match (out.last_mut().unwrap(), delta) {
                (Block::Text(t), Delta::Text(s)) | (Block::Thinking(t), Delta::Thinking(s)) => {
                    t.push_str(s)
                }
                (Block::Tool { arguments, .. }, Delta::ToolArguments(s)) => arguments.push_str(s),
                (block, delta) => panic!("{delta:?} in {block:?}"),
            },
            _ => {}
        }
    }
    out
}

fn finish_of(events: &[StreamEvent]) -> (Option<StopReason>, Option<canonical::Usage>) {
    events
        .iter()
        .find_map(|e| match e {
            StreamEvent::Finish {
                stop_reason, usage, ..
            } => Some((stop_reason.clone(), *usage)),
            _ => None,
        })
        .unwrap()
}

// ------------------------------------------------------------------ requests

#[test]
fn captured_chat_requests_round_trip_exactly() {
    let fixtures = chat_fixtures();
    assert!(
        fixtures.len() >= 3,
        "expected the aider and openai-python fixtures, got {}",
        fixtures.len()
    );
    for (name, body) in fixtures {
        let bytes = serde_json::to_vec(&body).unwrap();
        let req = openai::parse_request(&bytes).unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_eq!(req.to_json(), body, "{name}");
    }
}

#[test]
fn captured_chat_requests_survive_canonical_round_trip() {
    for (name, body) in chat_fixtures() {
        let req = openai::parse_request(&serde_json::to_vec(&body).unwrap()).unwrap();
        let mut notes = LossyNotes::new();
        let canon = openai::request_to_canonical(&req, &mut notes);
        assert!(notes.is_empty(), "{name}: {notes:?}");
        let back = openai::request_from_canonical(&canon, &mut notes).to_json();
        assert!(notes.is_empty(), "{name}: {notes:?}");
        // The conversation, model, temperature and stream flag come back exactly; a streamed request
        // gains stream_options.include_usage.
        assert_eq!(back["messages"], body["messages"], "{name}");
        assert_eq!(back["model"], body["model"], "{name}");
        assert_eq!(back.get("temperature"), body.get("temperature"), "{name}");
        assert_eq!(back.get("stream"), body.get("stream"), "{name}");
        if body["stream"] == json!(true) {
            assert_eq!(
                back["stream_options"],
                json!({"include_usage": true}),
                "{name}"
            );
        }
        // And converting again gives the same canonical request.
        let again = openai::request_to_canonical(
            &openai::parse_request(&serde_json::to_vec(&back).unwrap()).unwrap(),
            &mut notes,
        );
        assert_eq!(again, canon, "{name}");
    }
}

fn rich_request() -> Value {
    json!({
        "model": "gpt-4.1",
        "messages": [
            {"role": "system", "content": "You are a coding agent."},
            {"role": "developer", "content": [{"type": "text", "text": "Prefer small diffs."}]},
            {"role": "user", "name": "alice", "content": [
                {"type": "text", "text": "What is in this screenshot and this PDF?"},
                {"type": "image_url", "image_url": {"url": "data:image/png;base64,iVBORw0KGgo=", "detail": "high"}},
                {"type": "image_url", "image_url": {"url": "https://example.com/a.png"}},
                {"type": "file", "file": {"file_data": "data:application/pdf;base64,JVBERi0=", "filename": "spec.pdf"}},
                {"type": "file", "file": {"file_id": "file-abc123"}},
                {"type": "input_audio", "input_audio": {"data": "UklGR", "format": "wav"}}
            ]},
            {"role": "assistant", "content": null, "reasoning_content": "Need to look at the files.",
             "tool_calls": [
                {"id": "call_1", "type": "function", "function": {"name": "Read", "arguments": "{\"file_path\": \"/a.rs\"}"}},
                {"id": "call_2", "type": "function", "function": {"name": "Bash", "arguments": "{\"command\":\"ls\",  \"timeout\": 5}"}}
             ]},
            {"role": "tool", "tool_call_id": "call_1", "content": "fn main() {}"},
            {"role": "tool", "tool_call_id": "call_2", "content": [{"type": "text", "text": "a.rs\nb.rs"}]},
            {"role": "user", "content": "thanks"},
            {"role": "system", "content": "Mid-conversation reminder."},
            {"role": "developer", "content": "Developer note."},
            {"role": "assistant", "content": "Done.", "reasoning": "Short."},
            {"role": "user", "content": "bye"}
        ],
        "tools": [
            {"type": "function", "function": {"name": "Read", "description": "Read a file",
              "parameters": {"$schema": "http://json-schema.org/draft-07/schema#", "type": "object",
                             "properties": {"file_path": {"type": "string"}}, "required": ["file_path"]},
              "strict": true}},
            {"type": "function", "function": {"name": "Bash", "parameters": {"type": "object", "properties": {"command": {"type": "string"}}}}},
            {"type": "custom", "custom": {"name": "apply_patch", "description": "freeform"}}
        ],
        "tool_choice": {"type": "function", "function": {"name": "Read"}},
        "parallel_tool_calls": true,
        "max_tokens": 1000,
        "max_completion_tokens": 2000,
        "temperature": 0.2,
        "top_p": 1,
        "stop": ["</done>", "\n\nUSER:"],
        "stream": true,
        "stream_options": {"include_usage": true},
        "response_format": {"type": "json_schema", "json_schema": {"name": "answer", "schema": {"type": "object"}, "strict": true}},
        "reasoning_effort": "high",
        "user": "user-42",
        "seed": 7,
        "n": 1,
        "logprobs": false,
        "metadata": {"session": "s1"}
    })
}

#[test]
fn rich_request_round_trips_exactly() {
    let body = rich_request();
    let req = openai::parse_request(&serde_json::to_vec(&body).unwrap()).unwrap();
    assert_eq!(req.to_json(), body);
}

#[test]
fn rich_request_to_canonical_keeps_everything_expressible() {
    let req = openai::parse_request(&serde_json::to_vec(&rich_request()).unwrap()).unwrap();
    let mut notes = LossyNotes::new();
    let c = openai::request_to_canonical(&req, &mut notes);

    let system: Vec<&str> = c.system.iter().map(|p| p.text.as_str()).collect();
    assert_eq!(system, ["You are a coding agent.", "Prefer small diffs."]);
    let roles: Vec<canonical::Role> = c.messages.iter().map(|m| m.role).collect();
    use canonical::Role::*;
    assert_eq!(
        roles,
        [User, Assistant, User, User, System, Developer, Assistant, User]
    );

    let user = &c.messages[0].content;
    assert_eq!(user.len(), 5, "audio is dropped, the rest kept: {user:?}");
    assert!(
        matches!(&user[1], Part::Image { source: MediaSource::Base64 { media_type, data }, detail: Some(d), .. }
        if media_type == "image/png" && data == "iVBORw0KGgo=" && d == "high")
    );
    assert!(
        matches!(&user[2], Part::Image { source: MediaSource::Url(u), detail: None, .. } if u == "https://example.com/a.png")
    );
    assert!(
        matches!(&user[3], Part::Document { source: MediaSource::Base64 { media_type, .. }, title: Some(t), .. }
        if media_type == "application/pdf" && t == "spec.pdf")
    );
    assert!(
        matches!(&user[4], Part::Document { source: MediaSource::FileId(id), .. } if id == "file-abc123")
    );

    let assistant = &c.messages[1].content;
    assert!(
        matches!(&assistant[0], Part::Thinking { text, signature: None } if text == "Need to look at the files.")
    );
    assert!(
        matches!(&assistant[2], Part::ToolUse { id, name, arguments, .. }
        if id == "call_2" && name == "Bash" && arguments == "{\"command\":\"ls\",  \"timeout\": 5}")
    );
    let results = &c.messages[2].content;
    assert_eq!(results.len(), 2, "consecutive tool messages merge");
    assert!(
        matches!(&results[0], Part::ToolResult { tool_use_id, content: ToolResultContent::Text(t), .. }
        if tool_use_id == "call_1" && t == "fn main() {}")
    );
    assert!(
        matches!(&results[1], Part::ToolResult { tool_use_id, content: ToolResultContent::Parts(p), .. }
        if tool_use_id == "call_2" && p.len() == 1)
    );
    assert!(matches!(&c.messages[6].content[0], Part::Thinking { text, .. } if text == "Short."));

    assert_eq!(c.tools.len(), 3);
    assert!(matches!(&c.tools[0], canonical::Tool::Function(f)
        if f.name == "Read" && f.strict == Some(true) && f.parameters["$schema"] == "http://json-schema.org/draft-07/schema#"));
    assert!(matches!(
        &c.tools[2],
        canonical::Tool::Native {
            dialect: anvil_dialects::Dialect::OpenAiChat,
            ..
        }
    ));
    assert_eq!(
        c.tool_choice,
        Some(canonical::ToolChoice::Tool("Read".into()))
    );
    assert_eq!(c.parallel_tool_calls, Some(true));
    assert_eq!(c.max_tokens, Some(2000), "max_completion_tokens wins");
    assert_eq!(c.temperature, Some(0.2));
    assert_eq!(c.top_p, Some(1.0));
    assert_eq!(c.stop, ["</done>", "\n\nUSER:"]);
    assert!(c.stream);
    assert_eq!(c.reasoning_effort.as_deref(), Some("high"));
    assert_eq!(c.user.as_deref(), Some("user-42"));
    assert!(
        matches!(&c.response_format, Some(canonical::ResponseFormat::JsonSchema { name: Some(n), strict: Some(true), .. }) if n == "answer")
    );

    let mut paths: Vec<&str> = notes.iter().map(|n| n.path.as_str()).collect();
    paths.sort_unstable();
    assert_eq!(
        paths,
        [
            "logprobs",
            "max_tokens",
            "messages[1].role",
            "messages[2].content[5]",
            "messages[2].name",
            "metadata",
            "n",
            "seed"
        ]
    );
}

#[test]
fn rich_request_survives_canonical_round_trip() {
    let body = rich_request();
    let req = openai::parse_request(&serde_json::to_vec(&body).unwrap()).unwrap();
    let mut notes = LossyNotes::new();
    let c = openai::request_to_canonical(&req, &mut notes);
    let mut back_notes = LossyNotes::new();
    let back = openai::request_from_canonical(&c, &mut back_notes).to_json();
    assert!(back_notes.is_empty(), "{back_notes:?}");

    let messages = back["messages"].as_array().unwrap();
    assert_eq!(
        messages[0],
        json!({"role": "system", "content": [
        {"type": "text", "text": "You are a coding agent."}, {"type": "text", "text": "Prefer small diffs."}]})
    );
    // Everything after the leading instructions comes back in order with the same content.
    let original = body["messages"].as_array().unwrap();
    assert_eq!(messages.len(), original.len() - 1);
    let mut user = original[2].clone();
    user.as_object_mut().unwrap().remove("name");
    user["content"].as_array_mut().unwrap().pop(); // input_audio
    assert_eq!(messages[1], user);
    assert_eq!(messages[2], original[3]);
    assert_eq!(messages[3], original[4]);
    assert_eq!(messages[4], original[5]);
    assert_eq!(messages[5..8], original[6..9]);
    assert_eq!(
        messages[8],
        json!({"role": "assistant", "content": "Done.", "reasoning_content": "Short."})
    );
    assert_eq!(messages[9], original[10]);

    assert_eq!(back["tools"], body["tools"]);
    assert_eq!(back["tool_choice"], body["tool_choice"]);
    assert_eq!(back["max_completion_tokens"], json!(2000));
    assert_eq!(back["top_p"], json!(1));
    assert_eq!(back["stop"], body["stop"]);
    assert_eq!(back["response_format"], body["response_format"]);
    assert_eq!(back["stream_options"], json!({"include_usage": true}));
    assert_eq!(back["reasoning_effort"], "high");
    assert_eq!(back["user"], "user-42");
}

// ------------------------------------------------------------------ responses

#[test]
fn response_round_trips_and_converts() {
    let body = json!({
        "id": "chatcmpl-1", "object": "chat.completion", "created": 1764412800, "model": "gpt-4.1",
        "system_fingerprint": "fp_1",
        "choices": [{"index": 0, "message": {
            "role": "assistant", "content": "Reading it.", "reasoning_content": "Plan.", "refusal": null,
            "annotations": [],
            "tool_calls": [{"id": "call_9", "type": "function", "function": {"name": "Read", "arguments": "{\"file_path\":\"/x\"}"}}]},
            "logprobs": null, "finish_reason": "tool_calls"}],
        "usage": {"prompt_tokens": 120, "completion_tokens": 30, "total_tokens": 150,
                  "prompt_tokens_details": {"cached_tokens": 100, "audio_tokens": 0},
                  "completion_tokens_details": {"reasoning_tokens": 12, "audio_tokens": 0}},
        "service_tier": "default"
    });
    let resp = openai::parse_response(&serde_json::to_vec(&body).unwrap()).unwrap();
    assert_eq!(resp.to_json(), body);

    let mut notes = LossyNotes::new();
    let c = openai::response_to_canonical(&resp, &mut notes);
    assert_eq!(c.stop_reason, Some(StopReason::ToolUse));
    assert_eq!(
        c.usage,
        canonical::Usage {
            input_tokens: 20,
            output_tokens: 30,
            cache_read_input_tokens: Some(100),
            cache_creation_input_tokens: None,
            reasoning_tokens: Some(12),
        }
    );
    assert_eq!(c.content.len(), 3);
    assert!(
        matches!(&c.content[2], Part::ToolUse { arguments, .. } if arguments == "{\"file_path\":\"/x\"}")
    );

    let back = openai::response_from_canonical(&c, &mut notes).to_json();
    assert_eq!(back["choices"][0]["message"]["content"], "Reading it.");
    assert_eq!(back["choices"][0]["message"]["reasoning_content"], "Plan.");
    assert_eq!(
        back["choices"][0]["message"]["tool_calls"],
        body["choices"][0]["message"]["tool_calls"]
    );
    assert_eq!(back["choices"][0]["finish_reason"], "tool_calls");
    assert_eq!(back["usage"]["prompt_tokens"], 120);
    assert_eq!(back["usage"]["total_tokens"], 150);
    assert_eq!(back["usage"]["prompt_tokens_details"]["cached_tokens"], 100);
    assert_eq!(
        back["usage"]["completion_tokens_details"]["reasoning_tokens"],
        12
    );
}

// ------------------------------------------------------------------ streams

#[test]
fn every_stream_fixture_decodes_to_a_valid_canonical_sequence() {
    let fixtures = stream_fixtures();
    assert!(fixtures.len() >= 5);
    for (name, events) in fixtures {
        let decoded = decode_all(&events);
        assert_valid(&decoded);
        assert!(!blocks(&decoded).is_empty(), "{name}");
    }
}

fn tool(id: &str, name: &str, arguments: &str) -> Block {
    Block::Tool {
        id: id.into(),
        name: name.into(),
        arguments: arguments.into(),
    }
}

/// Fixture name, expected blocks, stop reason and usage.
type StreamCase = (
    &'static str,
    Vec<Block>,
    Option<StopReason>,
    Option<canonical::Usage>,
);

#[test]
fn stream_fixtures_decode_to_the_expected_blocks() {
    let cases: Vec<StreamCase> = vec![
        (
            "text.sse",
            vec![Block::Text("Hello! How can I help you today?".into())],
            Some(StopReason::EndTurn),
            None,
        ),
        (
            "text_usage.sse",
            vec![Block::Text(
                "The file `hello.py` prints \"hi\".\n\n```python\nprint(\"hey\")\n```".into(),
            )],
            Some(StopReason::EndTurn),
            Some(canonical::Usage {
                input_tokens: 258,
                output_tokens: 21,
                cache_read_input_tokens: Some(2048),
                cache_creation_input_tokens: None,
                reasoning_tokens: Some(0),
            }),
        ),
        (
            "tool_call_split.sse",
            vec![tool(
                "call_Qm3xT7bV9nLk2PzR5sWy8HcA",
                "Bash",
                r#"{"command":"ls -la src/","description":"List the source directory","timeout":120000}"#,
            )],
            Some(StopReason::ToolUse),
            Some(canonical::Usage {
                input_tokens: 1187,
                output_tokens: 31,
                cache_read_input_tokens: Some(0),
                cache_creation_input_tokens: None,
                reasoning_tokens: Some(0),
            }),
        ),
        (
            "parallel_tool_calls.sse",
            vec![
                Block::Text("I'll read both files.".into()),
                tool(
                    "call_8fJ2kL0pQ4rS6tU1vW3xY5zA",
                    "Read",
                    r#"{"file_path":"/repo/src/main.rs"}"#,
                ),
                tool(
                    "call_3bC5dE7fG9hI1jK3lM5nO7pQ",
                    "Read",
                    r#"{"file_path":"/repo/Cargo.toml"}"#,
                ),
            ],
            Some(StopReason::ToolUse),
            Some(canonical::Usage {
                input_tokens: 122,
                output_tokens: 58,
                cache_read_input_tokens: Some(1280),
                cache_creation_input_tokens: None,
                reasoning_tokens: Some(0),
            }),
        ),
        (
            "interleaved_tool_calls.sse",
            vec![
                tool("call_a1", "Glob", r#"{"pattern":"**/*.rs"}"#),
                tool("call_b2", "Grep", r#"{"pattern":"fn main","path":"src"}"#),
            ],
            Some(StopReason::ToolUse),
            Some(canonical::Usage {
                input_tokens: 512,
                output_tokens: 40,
                ..Default::default()
            }),
        ),
        (
            "reasoning_text.sse",
            vec![
                Block::Thinking("The user wants a casual greeting; \"hey\" fits.".into()),
                Block::Text("hello.py\n```\nprint(\"hey\")\n```".into()),
            ],
            Some(StopReason::EndTurn),
            Some(canonical::Usage {
                input_tokens: 32,
                output_tokens: 44,
                cache_read_input_tokens: Some(64),
                cache_creation_input_tokens: None,
                reasoning_tokens: Some(27),
            }),
        ),
        (
            "reasoning_field.sse",
            vec![
                Block::Thinking("Let me think.".into()),
                Block::Text("Done.".into()),
            ],
            Some(StopReason::EndTurn),
            Some(canonical::Usage {
                input_tokens: 20,
                output_tokens: 9,
                cache_read_input_tokens: Some(0),
                cache_creation_input_tokens: None,
                reasoning_tokens: Some(4),
            }),
        ),
        (
            "llama_server_text_usage.sse",
            vec![Block::Text("Hello! I'm here to help.".into())],
            Some(StopReason::EndTurn),
            Some(canonical::Usage {
                input_tokens: 31,
                output_tokens: 9,
                cache_read_input_tokens: Some(0),
                cache_creation_input_tokens: None,
                reasoning_tokens: None,
            }),
        ),
    ];
    assert_eq!(
        cases.len(),
        stream_fixtures().len(),
        "every fixture has an expectation"
    );
    for (name, expected_blocks, stop, usage) in cases {
        let decoded = decode_all(&stream_fixture(name));
        assert_eq!(blocks(&decoded), expected_blocks, "{name}");
        assert_eq!(finish_of(&decoded), (stop, usage), "{name}");
    }
}

#[test]
fn first_tool_call_streams_live_before_the_stream_ends() {
    let events = stream_fixture("tool_call_split.sse");
    let mut decoder = StreamDecoder::new();
    let mut out = Vec::new();
    // The role chunk with the call's header, then four argument pieces.
    for event in &events[..5] {
        decoder.decode(event, &mut out).unwrap();
    }
    let deltas = out
        .iter()
        .filter(|e| matches!(e, StreamEvent::Delta { .. }))
        .count();
    assert_eq!(deltas, 4, "{out:?}");
}

#[test]
fn encoder_output_decodes_to_the_same_stream() {
    for (name, events) in stream_fixtures() {
        let decoded = decode_all(&events);
        for include_usage in [false, true] {
            let ctx = EncodeContext {
                id: "chatcmpl-ctx".into(),
                model: String::new(),
                created: 1764412800,
                include_usage,
            };
            let encoded = encode_all(&decoded, ctx);
            let redecoded = decode_all(&encoded);
            assert_valid(&redecoded);
            let (
                StreamEvent::Start { id, .. },
                StreamEvent::Start {
                    id: id2,
                    model: model2,
                    ..
                },
            ) = (&decoded[0], &redecoded[0])
            else {
                panic!("no start");
            };
            let expected_id = if id.starts_with("chatcmpl-") {
                id.as_str()
            } else {
                "chatcmpl-ctx"
            };
            assert_eq!(id2, expected_id, "{name}");
            assert!(!model2.is_empty(), "{name}");
            assert_eq!(blocks(&redecoded), blocks(&decoded), "{name}");
            let (stop, usage) = finish_of(&decoded);
            let (stop2, usage2) = finish_of(&redecoded);
            assert_eq!(stop2, stop, "{name}");
            if include_usage {
                // Cache/reasoning details survive when the source had them.
                let usage = usage.unwrap_or_default();
                let usage2 = usage2.unwrap();
                assert_eq!(
                    (usage2.input_tokens, usage2.output_tokens),
                    (usage.input_tokens, usage.output_tokens),
                    "{name}"
                );
                assert_eq!(
                    usage2.cache_read_input_tokens, usage.cache_read_input_tokens,
                    "{name}"
                );
                assert_eq!(usage2.reasoning_tokens, usage.reasoning_tokens, "{name}");
            } else {
                assert_eq!(usage2, None, "{name}");
            }
        }
    }
}

#[test]
fn encoder_emits_the_chunk_shapes_the_sdk_expects() {
    let events = vec![
        StreamEvent::Start {
            id: "msg_01".into(),
            model: "claude-x".into(),
            usage: None,
        },
        StreamEvent::BlockStart {
            index: 0,
            block: BlockStart::Text,
        },
        StreamEvent::Delta {
            index: 0,
            delta: Delta::Text("Hi".into()),
        },
        StreamEvent::BlockStop { index: 0 },
        StreamEvent::BlockStart {
            index: 1,
            block: BlockStart::ToolUse {
                id: "toolu_1".into(),
                name: "Read".into(),
            },
        },
        StreamEvent::Delta {
            index: 1,
            delta: Delta::ToolArguments("{\"a\":".into()),
        },
        StreamEvent::Delta {
            index: 1,
            delta: Delta::ToolArguments("1}".into()),
        },
        StreamEvent::BlockStop { index: 1 },
        StreamEvent::BlockStart {
            index: 2,
            block: BlockStart::ToolUse {
                id: "toolu_2".into(),
                name: "Bash".into(),
            },
        },
        StreamEvent::BlockStop { index: 2 },
        StreamEvent::Finish {
            stop_reason: Some(StopReason::ToolUse),
            stop_sequence: None,
            usage: Some(canonical::Usage {
                input_tokens: 5,
                output_tokens: 7,
                cache_read_input_tokens: Some(10),
                cache_creation_input_tokens: Some(3),
                reasoning_tokens: None,
            }),
        },
        StreamEvent::End,
    ];
    let ctx = EncodeContext {
        id: "chatcmpl-x".into(),
        model: "planning".into(),
        created: 42,
        include_usage: true,
    };
    let out = encode_all(&events, ctx);
    assert_eq!(out.last().unwrap().data, "[DONE]");
    let chunks: Vec<Value> = out[..out.len() - 1]
        .iter()
        .map(|e| serde_json::from_str(&e.data).unwrap())
        .collect();
    let base = |choices: Value, usage: Value| {
        json!({
        "id": "chatcmpl-x", "object": "chat.completion.chunk", "created": 42, "model": "planning",
        "choices": choices, "usage": usage})
    };
    let choice = |delta: Value, finish: Value| json!([{"index": 0, "delta": delta, "logprobs": null, "finish_reason": finish}]);
    let expected = vec![
        base(
            choice(json!({"role": "assistant", "content": ""}), Value::Null),
            Value::Null,
        ),
        base(choice(json!({"content": "Hi"}), Value::Null), Value::Null),
        base(
            choice(
                json!({"tool_calls": [{"index": 0, "id": "toolu_1", "type": "function", "function": {"name": "Read", "arguments": ""}}]}),
                Value::Null,
            ),
            Value::Null,
        ),
        base(
            choice(
                json!({"tool_calls": [{"index": 0, "function": {"arguments": "{\"a\":"}}]}),
                Value::Null,
            ),
            Value::Null,
        ),
        base(
            choice(
                json!({"tool_calls": [{"index": 0, "function": {"arguments": "1}"}}]}),
                Value::Null,
            ),
            Value::Null,
        ),
        base(
            choice(
                json!({"tool_calls": [{"index": 1, "id": "toolu_2", "type": "function", "function": {"name": "Bash", "arguments": ""}}]}),
                Value::Null,
            ),
            Value::Null,
        ),
        base(choice(json!({}), json!("tool_calls")), Value::Null),
        base(
            json!([]),
            json!({"prompt_tokens": 18, "completion_tokens": 7, "total_tokens": 25, "prompt_tokens_details": {"cached_tokens": 10}}),
        ),
    ];
    assert_eq!(chunks, expected);
}

#[test]
fn encoder_without_include_usage_sends_no_usage_key() {
    let events = decode_all(&stream_fixture("text_usage.sse"));
    let ctx = EncodeContext {
        id: "chatcmpl-x".into(),
        model: "m".into(),
        created: 1,
        include_usage: false,
    };
    let out = encode_all(&events, ctx);
    for event in &out[..out.len() - 1] {
        let chunk: Value = serde_json::from_str(&event.data).unwrap();
        assert!(chunk.get("usage").is_none(), "{chunk}");
        assert_eq!(chunk["choices"].as_array().unwrap().len(), 1);
    }
    assert_eq!(out.last().unwrap().data, "[DONE]");
}

mod interleaving {
    use proptest::prelude::*;

    use super::*;

    fn chunk(delta: Value, finish_reason: Value) -> SseEvent {
        SseEvent::data(
            json!({"id": "chatcmpl-p", "object": "chat.completion.chunk", "created": 1, "model": "m",
                   "choices": [{"index": 0, "delta": delta, "logprobs": null, "finish_reason": finish_reason}]})
            .to_string(),
        )
    }

    proptest! {
        /// However the pieces of parallel calls interleave, every call's arguments come out byte for
        /// byte, in order of first appearance, as a valid canonical sequence.
        #[test]
        fn interleaved_tool_calls_keep_their_arguments(
            preamble in proptest::option::of("[a-zA-Z ]{1,12}"),
            calls in proptest::collection::vec(proptest::collection::vec("[a-z0-9{}\":, \\\\é]{0,8}", 1..6), 1..5),
            picks in proptest::collection::vec(any::<u8>(), 0..40),
        ) {
            let mut events = vec![chunk(json!({"role": "assistant", "content": ""}), Value::Null)];
            if let Some(text) = &preamble {
                events.push(chunk(json!({"content": text}), Value::Null));
            }
            let mut next: Vec<usize> = vec![0; calls.len()];
            let mut order: Vec<usize> = Vec::new();
            let mut picks = picks.into_iter();
            loop {
                let open: Vec<usize> = (0..calls.len()).filter(|&c| next[c] < calls[c].len()).collect();
                if open.is_empty() {
                    break;
                }
                let c = open[usize::from(picks.next().unwrap_or(0)) % open.len()];
                let fragment = &calls[c][next[c]];
                let call = if next[c] == 0 {
                    order.push(c);
                    json!({"index": c, "id": format!("call_{c}"), "type": "function",
                           "function": {"name": format!("tool{c}"), "arguments": fragment}})
                } else {
                    json!({"index": c, "function": {"arguments": fragment}})
                };
                events.push(chunk(json!({"tool_calls": [call]}), Value::Null));
                next[c] += 1;
            }
            events.push(chunk(json!({}), json!("tool_calls")));
            events.push(SseEvent::data("[DONE]"));

            let decoded = decode_all(&events);
            assert_valid(&decoded);
            let mut expected: Vec<Block> = preamble.into_iter().map(Block::Text).collect();
            expected.extend(order.iter().map(|&c| tool(&format!("call_{c}"), &format!("tool{c}"), &calls[c].concat())));
            prop_assert_eq!(blocks(&decoded), expected);
        }
    }
}
