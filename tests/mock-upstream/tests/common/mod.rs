//! Test helpers: an in-process mock, a small hyper client, SSE parsing and per-dialect
//! stream summaries.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::net::SocketAddr;
use std::time::Duration;

use anvil_mock_upstream::{serve, MockState};
use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::client::conn::http1::{self, SendRequest};
use hyper::header::HeaderMap;
use hyper::{Method, Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use serde_json::{json, Value};
use tokio::net::{TcpListener, TcpStream};

/// Starts the mock on an ephemeral port.
pub async fn start() -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(serve(listener, MockState::new()));
    addr
}

/// A fresh HTTP/1.1 connection.
pub async fn connect(addr: SocketAddr) -> SendRequest<Full<Bytes>> {
    let stream = TcpStream::connect(addr).await.unwrap();
    let (sender, conn) = http1::handshake(TokioIo::new(stream)).await.unwrap();
    tokio::spawn(conn);
    sender
}

pub fn request(method: Method, path: &str, body: Option<&Value>) -> Request<Full<Bytes>> {
    let bytes = body.map(|b| Bytes::from(b.to_string())).unwrap_or_default();
    Request::builder()
        .method(method)
        .uri(path)
        .header("host", "mock.test")
        .header("content-type", "application/json")
        .header("X-Test-Header", "Value One")
        .body(Full::new(bytes))
        .unwrap()
}

/// Sends one request on its own connection.
pub async fn send(
    addr: SocketAddr,
    method: Method,
    path: &str,
    body: Option<&Value>,
) -> Result<Response<Incoming>, hyper::Error> {
    let mut sender = connect(addr).await;
    sender.send_request(request(method, path, body)).await
}

/// Sends one request and reads a JSON answer.
pub async fn call(
    addr: SocketAddr,
    method: Method,
    path: &str,
    body: Option<&Value>,
) -> (StatusCode, HeaderMap, Value) {
    let resp = send(addr, method, path, body).await.unwrap();
    let (parts, body) = resp.into_parts();
    let bytes = body.collect().await.unwrap().to_bytes();
    let value = serde_json::from_slice(&bytes).unwrap();
    (parts.status, parts.headers, value)
}

pub async fn get(addr: SocketAddr, path: &str) -> Value {
    let (status, _, value) = call(addr, Method::GET, path, None).await;
    assert_eq!(status, StatusCode::OK);
    value
}

/// Polls `/_mock/events` until an event of `kind` appears (5 s at most).
pub async fn wait_event(addr: SocketAddr, kind: &str) -> Vec<Value> {
    for _ in 0..250 {
        let events = get(addr, "/_mock/events").await;
        let events = events.as_array().unwrap().clone();
        if events.iter().any(|e| e["kind"] == kind) {
            return events;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    panic!("no {kind} event recorded");
}

/// One SSE event.
#[derive(Debug, Clone)]
pub struct Sse {
    pub event: Option<String>,
    pub data: String,
}

impl Sse {
    pub fn json(&self) -> Value {
        serde_json::from_str(&self.data).unwrap()
    }
}

pub fn parse_sse(text: &str) -> Vec<Sse> {
    let mut out = Vec::new();
    for block in text.split("\n\n").filter(|b| !b.trim().is_empty()) {
        let mut event = None;
        let mut data = Vec::new();
        for line in block.lines() {
            if let Some(v) = line.strip_prefix("event: ") {
                event = Some(v.to_owned());
            } else if let Some(v) = line.strip_prefix("data: ") {
                data.push(v);
            } else {
                panic!("unexpected sse line {line:?}");
            }
        }
        out.push(Sse {
            event,
            data: data.join("\n"),
        });
    }
    out
}

/// A streamed answer read to its end: the frames, and whether the body ended cleanly.
pub struct Streamed {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub frames: Vec<Bytes>,
    pub clean_end: bool,
}

impl Streamed {
    pub fn text(&self) -> String {
        self.frames
            .iter()
            .map(|f| String::from_utf8(f.to_vec()).unwrap())
            .collect()
    }

    pub fn events(&self) -> Vec<Sse> {
        parse_sse(&self.text())
    }
}

pub async fn stream(addr: SocketAddr, path: &str, body: &Value) -> Streamed {
    let resp = send(addr, Method::POST, path, Some(body)).await.unwrap();
    let (parts, mut body) = resp.into_parts();
    let mut frames = Vec::new();
    let clean_end = loop {
        match body.frame().await {
            None => break true,
            Some(Err(_)) => break false,
            Some(Ok(frame)) => {
                if let Ok(data) = frame.into_data() {
                    frames.push(data);
                }
            }
        }
    };
    Streamed {
        status: parts.status,
        headers: parts.headers,
        frames,
        clean_end,
    }
}

pub fn weather_tool() -> (String, Value) {
    (
        "get_weather".into(),
        json!({"type": "object", "properties": {"location": {"type": "string"}},
               "required": ["location"]}),
    )
}

pub fn time_tool() -> (String, Value) {
    (
        "get_time".into(),
        json!({"type": "object", "additionalProperties": false,
               "properties": {"tz": {"type": "string"}, "utc": {"type": "boolean"}},
               "required": ["tz", "utc"]}),
    )
}

/// What a streamed or complete answer said, dialect-independently.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct Summary {
    pub text: String,
    pub reasoning: String,
    /// (name, arguments JSON text, id)
    pub tools: Vec<(String, String, String)>,
    /// Normalised stop: end / tool / length.
    pub stop: String,
    pub input_tokens: u64,
    pub output_tokens: u64,
    /// Content deltas seen (streams only).
    pub deltas: usize,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dialect {
    Anthropic,
    Chat,
    Responses,
}

pub const DIALECTS: [Dialect; 3] = [Dialect::Anthropic, Dialect::Chat, Dialect::Responses];

impl Dialect {
    pub fn path(self) -> &'static str {
        match self {
            Dialect::Anthropic => "/v1/messages",
            Dialect::Chat => "/v1/chat/completions",
            Dialect::Responses => "/v1/responses",
        }
    }

    /// A request whose last user turn says `text`; "Be brief." (2 words) as system text.
    /// Chat streams ask for the usage chunk.
    pub fn body(self, text: &str, stream: bool, tools: &[(String, Value)]) -> Value {
        let mut body = self.body_plain(text, stream, tools);
        if self == Dialect::Chat && stream {
            body["stream_options"] = json!({"include_usage": true});
        }
        body
    }

    fn body_plain(self, text: &str, stream: bool, tools: &[(String, Value)]) -> Value {
        match self {
            Dialect::Anthropic => json!({
                "model": "claude-mock", "max_tokens": 100, "stream": stream,
                "system": "Be brief.",
                "messages": [{"role": "user", "content": [{"type": "text", "text": text}]}],
                "tools": tools.iter().map(|(n, s)| json!({"name": n, "description": "d", "input_schema": s})).collect::<Vec<_>>(),
            }),
            Dialect::Chat => json!({
                "model": "gpt-mock", "stream": stream,
                "messages": [{"role": "system", "content": "Be brief."},
                             {"role": "user", "content": text}],
                "tools": tools.iter().map(|(n, s)| json!({"type": "function", "function": {"name": n, "parameters": s}})).collect::<Vec<_>>(),
            }),
            Dialect::Responses => json!({
                "model": "gpt-resp-mock", "stream": stream, "instructions": "Be brief.",
                "input": [{"type": "message", "role": "user",
                           "content": [{"type": "input_text", "text": text}]}],
                "tools": tools.iter().map(|(n, s)| json!({"type": "function", "name": n, "parameters": s})).collect::<Vec<_>>(),
            }),
        }
    }

    /// A request whose last turn is only a tool result saying `result`.
    pub fn tool_result_body(self, result: &str, stream: bool) -> Value {
        match self {
            Dialect::Anthropic => json!({
                "model": "claude-mock", "max_tokens": 100, "stream": stream,
                "messages": [
                    {"role": "user", "content": "weather?"},
                    {"role": "assistant", "content": [{"type": "tool_use", "id": "toolu_1", "name": "get_weather", "input": {}}]},
                    {"role": "user", "content": [{"type": "tool_result", "tool_use_id": "toolu_1",
                                                  "content": [{"type": "text", "text": result}]}]},
                ],
            }),
            Dialect::Chat => json!({
                "model": "gpt-mock", "stream": stream,
                "stream_options": {"include_usage": true},
                "messages": [
                    {"role": "user", "content": "weather?"},
                    {"role": "assistant", "content": null, "tool_calls": [{"id": "call_1", "type": "function", "function": {"name": "get_weather", "arguments": "{}"}}]},
                    {"role": "tool", "tool_call_id": "call_1", "content": result},
                ],
            }),
            Dialect::Responses => json!({
                "model": "gpt-resp-mock", "stream": stream,
                "input": [
                    {"role": "user", "content": "weather?"},
                    {"type": "function_call", "call_id": "call_1", "name": "get_weather", "arguments": "{}"},
                    {"type": "function_call_output", "call_id": "call_1", "output": result},
                ],
            }),
        }
    }

    /// Summarises a complete JSON answer.
    pub fn summarize_json(self, v: &Value) -> Summary {
        let mut s = Summary::default();
        match self {
            Dialect::Anthropic => {
                assert_eq!(v["type"], "message");
                for block in v["content"].as_array().unwrap() {
                    match block["type"].as_str().unwrap() {
                        "text" => s.text.push_str(block["text"].as_str().unwrap()),
                        "thinking" => {
                            s.reasoning.push_str(block["thinking"].as_str().unwrap());
                            assert!(block["signature"].is_string());
                        }
                        "tool_use" => s.tools.push((
                            block["name"].as_str().unwrap().into(),
                            block["input"].to_string(),
                            block["id"].as_str().unwrap().into(),
                        )),
                        other => panic!("block {other}"),
                    }
                }
                s.stop = match v["stop_reason"].as_str().unwrap() {
                    "end_turn" => "end",
                    "tool_use" => "tool",
                    "max_tokens" => "length",
                    other => panic!("stop {other}"),
                }
                .into();
                s.input_tokens = v["usage"]["input_tokens"].as_u64().unwrap();
                s.output_tokens = v["usage"]["output_tokens"].as_u64().unwrap();
            }
            Dialect::Chat => {
                assert_eq!(v["object"], "chat.completion");
                let choice = &v["choices"][0];
                let m = &choice["message"];
                assert_eq!(m["role"], "assistant");
                s.text = m["content"].as_str().unwrap_or_default().into();
                s.reasoning = m["reasoning_content"].as_str().unwrap_or_default().into();
                for call in m["tool_calls"].as_array().cloned().unwrap_or_default() {
                    assert_eq!(call["type"], "function");
                    s.tools.push((
                        call["function"]["name"].as_str().unwrap().into(),
                        call["function"]["arguments"].as_str().unwrap().into(),
                        call["id"].as_str().unwrap().into(),
                    ));
                }
                s.stop = match choice["finish_reason"].as_str().unwrap() {
                    "stop" => "end",
                    "tool_calls" => "tool",
                    "length" => "length",
                    other => panic!("finish {other}"),
                }
                .into();
                s.input_tokens = v["usage"]["prompt_tokens"].as_u64().unwrap();
                s.output_tokens = v["usage"]["completion_tokens"].as_u64().unwrap();
                assert_eq!(
                    v["usage"]["total_tokens"].as_u64().unwrap(),
                    s.input_tokens + s.output_tokens
                );
            }
            Dialect::Responses => {
                assert_eq!(v["object"], "response");
                summarize_response_output(v, &mut s);
            }
        }
        s
    }

    /// Summarises a complete stream, checking the dialect's framing rules on the way.
    pub fn summarize_stream(self, events: &[Sse]) -> Summary {
        match self {
            Dialect::Anthropic => anthropic_stream(events),
            Dialect::Chat => chat_stream(events),
            Dialect::Responses => responses_stream(events),
        }
    }
}

fn summarize_response_output(v: &Value, s: &mut Summary) {
    for item in v["output"].as_array().unwrap() {
        match item["type"].as_str().unwrap() {
            "message" => {
                for part in item["content"].as_array().unwrap() {
                    assert_eq!(part["type"], "output_text");
                    s.text.push_str(part["text"].as_str().unwrap());
                }
            }
            "reasoning" => {
                for part in item["summary"].as_array().unwrap() {
                    s.reasoning.push_str(part["text"].as_str().unwrap());
                }
            }
            "function_call" => s.tools.push((
                item["name"].as_str().unwrap().into(),
                item["arguments"].as_str().unwrap().into(),
                item["call_id"].as_str().unwrap().into(),
            )),
            other => panic!("item {other}"),
        }
    }
    s.stop = match v["status"].as_str().unwrap() {
        "completed" if !s.tools.is_empty() => "tool",
        "completed" => "end",
        "incomplete" => {
            assert_eq!(v["incomplete_details"]["reason"], "max_output_tokens");
            "length"
        }
        other => panic!("status {other}"),
    }
    .into();
    s.input_tokens = v["usage"]["input_tokens"].as_u64().unwrap();
    s.output_tokens = v["usage"]["output_tokens"].as_u64().unwrap();
}

/// Checks `event:` lines match `type` and returns the types in order.
pub fn anthropic_types(events: &[Sse]) -> Vec<String> {
    events
        .iter()
        .map(|e| {
            let v = e.json();
            let t = v["type"].as_str().unwrap().to_owned();
            assert_eq!(e.event.as_deref(), Some(t.as_str()));
            t
        })
        .collect()
}

fn anthropic_stream(events: &[Sse]) -> Summary {
    let types = anthropic_types(events);
    assert_eq!(types[0], "message_start");
    assert_eq!(types[1], "ping");
    assert_eq!(types.last().unwrap(), "message_stop");
    let mut s = Summary::default();
    let mut blocks: Vec<(String, String, String, String)> = Vec::new(); // type, name, id, acc
    let mut open: Option<usize> = None;
    for e in events {
        let v = e.json();
        match v["type"].as_str().unwrap() {
            "message_start" => {
                assert_eq!(v["message"]["content"], json!([]));
                s.input_tokens = v["message"]["usage"]["input_tokens"].as_u64().unwrap();
            }
            "content_block_start" => {
                assert!(open.is_none(), "block started while another is open");
                let i = v["index"].as_u64().unwrap() as usize;
                assert_eq!(i, blocks.len());
                let b = &v["content_block"];
                blocks.push((
                    b["type"].as_str().unwrap().into(),
                    b["name"].as_str().unwrap_or_default().into(),
                    b["id"].as_str().unwrap_or_default().into(),
                    String::new(),
                ));
                open = Some(i);
            }
            "content_block_delta" => {
                let i = v["index"].as_u64().unwrap() as usize;
                assert_eq!(open, Some(i));
                let d = &v["delta"];
                let piece = match d["type"].as_str().unwrap() {
                    "text_delta" => d["text"].as_str(),
                    "thinking_delta" => d["thinking"].as_str(),
                    "input_json_delta" => d["partial_json"].as_str(),
                    "signature_delta" => {
                        assert!(d["signature"].is_string());
                        None
                    }
                    other => panic!("delta {other}"),
                };
                if let Some(p) = piece {
                    blocks[i].3.push_str(p);
                    s.deltas += 1;
                }
            }
            "content_block_stop" => {
                assert_eq!(open, Some(v["index"].as_u64().unwrap() as usize));
                open = None;
            }
            "message_delta" => {
                s.stop = match v["delta"]["stop_reason"].as_str().unwrap() {
                    "end_turn" => "end",
                    "tool_use" => "tool",
                    "max_tokens" => "length",
                    other => panic!("stop {other}"),
                }
                .into();
                s.output_tokens = v["usage"]["output_tokens"].as_u64().unwrap();
            }
            "ping" | "message_stop" => {}
            other => panic!("event {other}"),
        }
    }
    for (kind, name, id, acc) in blocks {
        match kind.as_str() {
            "text" => s.text.push_str(&acc),
            "thinking" => s.reasoning.push_str(&acc),
            "tool_use" => s.tools.push((name, acc, id)),
            other => panic!("block {other}"),
        }
    }
    s
}

fn chat_stream(events: &[Sse]) -> Summary {
    assert!(events.iter().all(|e| e.event.is_none()));
    assert_eq!(events.last().unwrap().data, "[DONE]");
    let mut s = Summary::default();
    let mut tools: Vec<(String, String, String)> = Vec::new();
    let chunks: Vec<Value> = events[..events.len() - 1].iter().map(Sse::json).collect();
    assert_eq!(chunks[0]["choices"][0]["delta"]["role"], "assistant");
    for c in &chunks {
        assert_eq!(c["object"], "chat.completion.chunk");
        let choices = c["choices"].as_array().unwrap();
        if choices.is_empty() {
            s.input_tokens = c["usage"]["prompt_tokens"].as_u64().unwrap();
            s.output_tokens = c["usage"]["completion_tokens"].as_u64().unwrap();
            continue;
        }
        assert!(s.stop.is_empty(), "chunk after the finish chunk");
        let d = &choices[0]["delta"];
        if let Some(t) = d["content"].as_str() {
            if !t.is_empty() {
                s.text.push_str(t);
                s.deltas += 1;
            }
        }
        if let Some(t) = d["reasoning_content"].as_str() {
            s.reasoning.push_str(t);
            s.deltas += 1;
        }
        for call in d["tool_calls"].as_array().cloned().unwrap_or_default() {
            let i = call["index"].as_u64().unwrap() as usize;
            if let Some(id) = call["id"].as_str() {
                assert_eq!(i, tools.len());
                assert_eq!(call["function"]["arguments"], "");
                tools.push((
                    call["function"]["name"].as_str().unwrap().into(),
                    String::new(),
                    id.into(),
                ));
            } else {
                tools[i]
                    .1
                    .push_str(call["function"]["arguments"].as_str().unwrap());
                s.deltas += 1;
            }
        }
        if let Some(f) = choices[0]["finish_reason"].as_str() {
            s.stop = match f {
                "stop" => "end",
                "tool_calls" => "tool",
                "length" => "length",
                other => panic!("finish {other}"),
            }
            .into();
        }
    }
    s.tools = tools;
    s
}

/// Checks `event:` == `type` and consecutive `sequence_number`s; returns the types.
pub fn responses_types(events: &[Sse]) -> Vec<String> {
    events
        .iter()
        .enumerate()
        .map(|(i, e)| {
            let v = e.json();
            let t = v["type"].as_str().unwrap().to_owned();
            assert_eq!(e.event.as_deref(), Some(t.as_str()));
            assert_eq!(v["sequence_number"].as_u64().unwrap(), i as u64);
            t
        })
        .collect()
}

fn responses_stream(events: &[Sse]) -> Summary {
    let types = responses_types(events);
    assert_eq!(types[0], "response.created");
    assert_eq!(types[1], "response.in_progress");
    let mut s = Summary::default();
    let mut text = String::new();
    let mut reasoning = String::new();
    let mut args: Vec<(String, String)> = Vec::new(); // item id, acc
    for e in events {
        let v = e.json();
        match v["type"].as_str().unwrap() {
            "response.output_text.delta" => {
                text.push_str(v["delta"].as_str().unwrap());
                s.deltas += 1;
            }
            "response.reasoning_summary_text.delta" => {
                reasoning.push_str(v["delta"].as_str().unwrap());
                s.deltas += 1;
            }
            "response.output_item.added" if v["item"]["type"] == "function_call" => {
                assert_eq!(v["item"]["arguments"], "");
                args.push((v["item"]["id"].as_str().unwrap().into(), String::new()));
            }
            "response.function_call_arguments.delta" => {
                let last = args.last_mut().unwrap();
                assert_eq!(v["item_id"].as_str().unwrap(), last.0);
                last.1.push_str(v["delta"].as_str().unwrap());
                s.deltas += 1;
            }
            "response.function_call_arguments.done" => {
                assert_eq!(v["arguments"].as_str().unwrap(), args.last().unwrap().1);
            }
            "response.completed" | "response.incomplete" => {
                summarize_response_output(&v["response"], &mut s);
            }
            _ => {}
        }
    }
    // the final response must agree with what the deltas built
    assert_eq!(s.text, text);
    assert_eq!(s.reasoning, reasoning);
    let streamed: Vec<&String> = args.iter().map(|(_, a)| a).collect();
    let final_args: Vec<&String> = s.tools.iter().map(|(_, a, _)| a).collect();
    assert_eq!(streamed, final_args);
    s
}
