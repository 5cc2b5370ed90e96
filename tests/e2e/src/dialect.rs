//! The three wire dialects, written and read independently of the router's own code: requests
//! (plain text, with a tool, with a tool result), replies and streams folded into one [`Reply`],
//! error envelopes, and what an upstream body recorded by the mock carries (tools, tool results).

use anyhow::{bail, Context, Result};
use serde_json::{json, Value};

use crate::config::CLIENT_KEY;
use crate::sse::SseEvent;

/// A wire dialect (inbound, or a tier's upstream).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Dialect {
    /// Anthropic Messages (`/v1/messages`).
    Anthropic,
    /// OpenAI Chat Completions (`/v1/chat/completions`).
    Chat,
    /// OpenAI Responses (`/v1/responses`).
    Responses,
}

/// `Authorization` value carrying [`CLIENT_KEY`].
pub const CLIENT_BEARER: &str = "Bearer sk-client-e2e-never-forwarded-5Rb7Lw3M";

/// The tool every tool scenario offers.
pub const TOOL_NAME: &str = "get_weather";

/// The tool result every round trip sends back (non-ASCII on purpose).
pub const TOOL_RESULT: &str = "sunny, 21 °C";

/// A tool call as the client received it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ToolCall {
    /// Call id (`tool_use.id` / `tool_calls[].id` / `call_id`).
    pub id: String,
    /// Tool name.
    pub name: String,
    /// The arguments as JSON text: the exact bytes the client got when the wire carries a string
    /// (OpenAI `arguments`, Anthropic `partial_json` concatenated), else the object re-encoded.
    pub arguments: String,
    /// Whether [`ToolCall::arguments`] are the exact wire bytes (false when re-encoded).
    pub exact: bool,
}

impl ToolCall {
    /// The arguments parsed.
    pub fn arguments_json(&self) -> Result<Value> {
        serde_json::from_str(&self.arguments)
            .with_context(|| format!("tool arguments are not JSON: {:?}", self.arguments))
    }
}

/// A reply (whole or streamed) in dialect-neutral form.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Reply {
    /// All answer text, concatenated.
    pub text: String,
    /// All reasoning / thinking text, concatenated.
    pub reasoning: String,
    /// Tool calls, in order.
    pub tool_calls: Vec<ToolCall>,
    /// Stop reason as the dialect spells it (`end_turn`, `tool_calls`, `completed`, …).
    pub stop: Option<String>,
    /// Usage object as received.
    pub usage: Option<Value>,
    /// An error carried inside the reply or stream.
    pub error: Option<Value>,
    /// Whether the stream reached its terminal event (`message_stop`, `[DONE]`,
    /// `response.completed`/`incomplete`/`failed`); always true for whole replies.
    pub completed: bool,
    /// Number of content events (text / argument deltas) in a stream.
    pub content_events: usize,
}

fn text_of(value: &Value) -> String {
    match value {
        Value::String(text) => text.clone(),
        Value::Array(parts) => parts
            .iter()
            .filter_map(|part| part["text"].as_str().or_else(|| part.as_str()))
            .collect(),
        _ => String::new(),
    }
}

fn str_of(value: &Value) -> String {
    value.as_str().unwrap_or_default().to_owned()
}

impl Dialect {
    /// Every dialect.
    pub const ALL: [Dialect; 3] = [Dialect::Anthropic, Dialect::Chat, Dialect::Responses];

    /// Short name for messages.
    pub fn name(self) -> &'static str {
        match self {
            Dialect::Anthropic => "anthropic",
            Dialect::Chat => "chat",
            Dialect::Responses => "responses",
        }
    }

    /// The endpoint path.
    pub fn path(self) -> &'static str {
        match self {
            Dialect::Anthropic => "/v1/messages",
            Dialect::Chat => "/v1/chat/completions",
            Dialect::Responses => "/v1/responses",
        }
    }

    /// The headers a client of this dialect sends (auth with [`CLIENT_KEY`]).
    pub fn client_headers(self) -> Vec<(&'static str, &'static str)> {
        match self {
            Dialect::Anthropic => vec![
                ("x-api-key", CLIENT_KEY),
                ("anthropic-version", "2023-06-01"),
            ],
            Dialect::Chat | Dialect::Responses => vec![("authorization", CLIENT_BEARER)],
        }
    }

    fn tool_def(self) -> Value {
        let schema = json!({
            "type": "object",
            "properties": {"location": {"type": "string", "description": "city name"}},
            "required": ["location"]
        });
        let description = "Get the current weather for a place";
        match self {
            Dialect::Anthropic => {
                json!({"name": TOOL_NAME, "description": description, "input_schema": schema})
            }
            Dialect::Chat => json!({"type": "function", "function": {
                "name": TOOL_NAME, "description": description, "parameters": schema}}),
            Dialect::Responses => json!({"type": "function", "name": TOOL_NAME,
                "description": description, "parameters": schema}),
        }
    }

    fn user_turn(self, prompt: &str) -> Value {
        match self {
            Dialect::Anthropic | Dialect::Chat => json!({"role": "user", "content": prompt}),
            Dialect::Responses => json!({"type": "message", "role": "user", "content": prompt}),
        }
    }

    fn envelope(self, model: &str, turns: Vec<Value>, tools: bool, stream: bool) -> Value {
        let mut body = match self {
            Dialect::Anthropic => json!({"model": model, "max_tokens": 256, "messages": turns}),
            Dialect::Chat => json!({"model": model, "messages": turns}),
            Dialect::Responses => json!({"model": model, "input": turns}),
        };
        if tools {
            body["tools"] = json!([self.tool_def()]);
        }
        if stream {
            body["stream"] = json!(true);
            if self == Dialect::Chat {
                body["stream_options"] = json!({"include_usage": true});
            }
        }
        body
    }

    /// A one-turn text request.
    pub fn text_request(self, model: &str, prompt: &str, stream: bool) -> Value {
        self.envelope(model, vec![self.user_turn(prompt)], false, stream)
    }

    /// A one-turn request offering [`TOOL_NAME`].
    pub fn tool_request(self, model: &str, prompt: &str, stream: bool) -> Value {
        self.envelope(model, vec![self.user_turn(prompt)], true, stream)
    }

    /// The second turn of a round trip: the prompt, the assistant's `call`, and its result.
    pub fn tool_result_request(
        self,
        model: &str,
        prompt: &str,
        call: &ToolCall,
        result: &str,
        stream: bool,
    ) -> Result<Value> {
        let user = self.user_turn(prompt);
        let turns = match self {
            Dialect::Anthropic => vec![
                user,
                json!({"role": "assistant", "content": [{"type": "tool_use", "id": call.id,
                    "name": call.name, "input": call.arguments_json()?}]}),
                json!({"role": "user", "content": [{"type": "tool_result",
                    "tool_use_id": call.id, "content": result}]}),
            ],
            Dialect::Chat => vec![
                user,
                json!({"role": "assistant", "content": null, "tool_calls": [{"id": call.id,
                    "type": "function", "function": {"name": call.name,
                    "arguments": call.arguments}}]}),
                json!({"role": "tool", "tool_call_id": call.id, "content": result}),
            ],
            Dialect::Responses => vec![
                user,
                json!({"type": "function_call", "call_id": call.id, "name": call.name,
                    "arguments": call.arguments}),
                json!({"type": "function_call_output", "call_id": call.id, "output": result}),
            ],
        };
        Ok(self.envelope(model, turns, true, stream))
    }

    /// Reads a whole (non-streamed) reply body.
    pub fn reply(self, body: &Value) -> Result<Reply> {
        let mut reply = Reply {
            completed: true,
            usage: body.get("usage").cloned(),
            ..Reply::default()
        };
        match self {
            Dialect::Anthropic => {
                if body["type"] != "message" {
                    bail!("not an anthropic message: {body}");
                }
                for block in body["content"].as_array().into_iter().flatten() {
                    match block["type"].as_str() {
                        Some("text") => reply.text.push_str(&str_of(&block["text"])),
                        Some("thinking") => reply.reasoning.push_str(&str_of(&block["thinking"])),
                        Some("tool_use") => reply.tool_calls.push(ToolCall {
                            id: str_of(&block["id"]),
                            name: str_of(&block["name"]),
                            arguments: serde_json::to_string(&block["input"])?,
                            exact: false,
                        }),
                        _ => {}
                    }
                }
                reply.stop = body["stop_reason"].as_str().map(str::to_owned);
            }
            Dialect::Chat => {
                let choice = &body["choices"][0];
                if !choice.is_object() {
                    bail!("no choices[0] in chat completion: {body}");
                }
                let message = &choice["message"];
                reply.text = text_of(&message["content"]);
                reply.reasoning = str_of(&message["reasoning_content"]);
                for call in message["tool_calls"].as_array().into_iter().flatten() {
                    reply.tool_calls.push(ToolCall {
                        id: str_of(&call["id"]),
                        name: str_of(&call["function"]["name"]),
                        arguments: str_of(&call["function"]["arguments"]),
                        exact: true,
                    });
                }
                reply.stop = choice["finish_reason"].as_str().map(str::to_owned);
            }
            Dialect::Responses => {
                if body["object"] != "response" {
                    bail!("not a responses object: {body}");
                }
                for item in body["output"].as_array().into_iter().flatten() {
                    match item["type"].as_str() {
                        Some("message") => {
                            for part in item["content"].as_array().into_iter().flatten() {
                                if part["type"] == "output_text" {
                                    reply.text.push_str(&str_of(&part["text"]));
                                }
                            }
                        }
                        Some("reasoning") => {
                            reply.reasoning.push_str(&text_of(&item["summary"]));
                            reply.reasoning.push_str(&text_of(&item["content"]));
                        }
                        Some("function_call") => reply.tool_calls.push(ToolCall {
                            id: str_of(&item["call_id"]),
                            name: str_of(&item["name"]),
                            arguments: str_of(&item["arguments"]),
                            exact: true,
                        }),
                        _ => {}
                    }
                }
                reply.stop = body["status"].as_str().map(str::to_owned);
                if !body["error"].is_null() && body.get("error").is_some() {
                    reply.error = Some(body["error"].clone());
                }
            }
        }
        Ok(reply)
    }

    /// Folds a streamed reply's events.
    pub fn stream_reply(self, events: &[SseEvent]) -> Reply {
        let mut reply = Reply::default();
        // (stream index, call) so deltas find their call.
        let mut calls: Vec<(u64, ToolCall)> = Vec::new();
        let call_at = |calls: &mut Vec<(u64, ToolCall)>, index: u64| -> usize {
            match calls.iter().position(|(i, _)| *i == index) {
                Some(position) => position,
                None => {
                    calls.push((
                        index,
                        ToolCall {
                            id: String::new(),
                            name: String::new(),
                            arguments: String::new(),
                            exact: true,
                        },
                    ));
                    calls.len() - 1
                }
            }
        };
        for event in events {
            if self == Dialect::Chat && event.data.trim() == "[DONE]" {
                reply.completed = true;
                continue;
            }
            let Some(data) = event.json() else { continue };
            match self {
                Dialect::Anthropic => {
                    let kind = data["type"].as_str().or(event.event.as_deref());
                    match kind {
                        Some("message_start") => {
                            reply.usage = data["message"].get("usage").cloned();
                        }
                        Some("content_block_start")
                            if data["content_block"]["type"] == "tool_use" =>
                        {
                            let at = call_at(&mut calls, data["index"].as_u64().unwrap_or(0));
                            calls[at].1.id = str_of(&data["content_block"]["id"]);
                            calls[at].1.name = str_of(&data["content_block"]["name"]);
                        }
                        Some("content_block_delta") => {
                            let delta = &data["delta"];
                            match delta["type"].as_str() {
                                Some("text_delta") => {
                                    reply.text.push_str(&str_of(&delta["text"]));
                                    reply.content_events += 1;
                                }
                                Some("thinking_delta") => {
                                    reply.reasoning.push_str(&str_of(&delta["thinking"]));
                                }
                                Some("input_json_delta") => {
                                    let at =
                                        call_at(&mut calls, data["index"].as_u64().unwrap_or(0));
                                    calls[at]
                                        .1
                                        .arguments
                                        .push_str(&str_of(&delta["partial_json"]));
                                    reply.content_events += 1;
                                }
                                _ => {}
                            }
                        }
                        Some("message_delta") => {
                            if let Some(stop) = data["delta"]["stop_reason"].as_str() {
                                reply.stop = Some(stop.to_owned());
                            }
                            if let Some(usage) = data.get("usage") {
                                reply.usage = Some(usage.clone());
                            }
                        }
                        Some("message_stop") => reply.completed = true,
                        Some("error") => reply.error = Some(data["error"].clone()),
                        _ => {}
                    }
                }
                Dialect::Chat => {
                    if let Some(error) = data.get("error") {
                        reply.error = Some(error.clone());
                        continue;
                    }
                    if data.get("usage").is_some_and(|usage| !usage.is_null()) {
                        reply.usage = data.get("usage").cloned();
                    }
                    let Some(choice) = data["choices"].get(0) else {
                        continue;
                    };
                    let delta = &choice["delta"];
                    if let Some(text) = delta["content"].as_str() {
                        if !text.is_empty() {
                            reply.text.push_str(text);
                            reply.content_events += 1;
                        }
                    }
                    if let Some(text) = delta["reasoning_content"].as_str() {
                        reply.reasoning.push_str(text);
                    }
                    for call in delta["tool_calls"].as_array().into_iter().flatten() {
                        let at = call_at(&mut calls, call["index"].as_u64().unwrap_or(0));
                        if let Some(id) = call["id"].as_str() {
                            calls[at].1.id = id.to_owned();
                        }
                        if let Some(name) = call["function"]["name"].as_str() {
                            calls[at].1.name.push_str(name);
                        }
                        if let Some(arguments) = call["function"]["arguments"].as_str() {
                            if !arguments.is_empty() {
                                calls[at].1.arguments.push_str(arguments);
                                reply.content_events += 1;
                            }
                        }
                    }
                    if let Some(stop) = choice["finish_reason"].as_str() {
                        reply.stop = Some(stop.to_owned());
                    }
                }
                Dialect::Responses => {
                    let kind = data["type"]
                        .as_str()
                        .or(event.event.as_deref())
                        .unwrap_or("");
                    let index = data["output_index"].as_u64().unwrap_or(0);
                    match kind {
                        "response.output_text.delta" => {
                            reply.text.push_str(&str_of(&data["delta"]));
                            reply.content_events += 1;
                        }
                        "response.reasoning_summary_text.delta"
                        | "response.reasoning_text.delta" => {
                            reply.reasoning.push_str(&str_of(&data["delta"]));
                        }
                        "response.output_item.added" if data["item"]["type"] == "function_call" => {
                            let at = call_at(&mut calls, index);
                            calls[at].1.id = str_of(&data["item"]["call_id"]);
                            calls[at].1.name = str_of(&data["item"]["name"]);
                            calls[at].1.arguments = str_of(&data["item"]["arguments"]);
                        }
                        "response.function_call_arguments.delta" => {
                            let at = call_at(&mut calls, index);
                            calls[at].1.arguments.push_str(&str_of(&data["delta"]));
                            reply.content_events += 1;
                        }
                        "response.function_call_arguments.done" => {
                            let at = call_at(&mut calls, index);
                            if calls[at].1.arguments.is_empty() {
                                calls[at].1.arguments = str_of(&data["arguments"]);
                            }
                        }
                        "response.completed" | "response.incomplete" => {
                            reply.completed = true;
                            reply.stop = data["response"]["status"].as_str().map(str::to_owned);
                            reply.usage = data["response"].get("usage").cloned();
                        }
                        "response.failed" => {
                            reply.completed = true;
                            reply.stop = Some("failed".to_owned());
                            reply.error = Some(data["response"]["error"].clone());
                        }
                        "error" => reply.error = Some(data.clone()),
                        _ => {}
                    }
                }
            }
        }
        reply.tool_calls = calls.into_iter().map(|(_, call)| call).collect();
        reply
    }

    /// Whether `event` carries answer content (a text or tool-argument delta).
    pub fn is_content_event(self, event: &SseEvent) -> bool {
        let Some(data) = event.json() else {
            return false;
        };
        match self {
            Dialect::Anthropic => {
                data["type"] == "content_block_delta"
                    && matches!(
                        data["delta"]["type"].as_str(),
                        Some("text_delta" | "input_json_delta")
                    )
            }
            Dialect::Chat => data["choices"].get(0).is_some_and(|choice| {
                let delta = &choice["delta"];
                delta["content"]
                    .as_str()
                    .is_some_and(|text| !text.is_empty())
                    || delta["tool_calls"].as_array().is_some_and(|calls| {
                        calls.iter().any(|call| {
                            call["function"]["arguments"]
                                .as_str()
                                .is_some_and(|arguments| !arguments.is_empty())
                        })
                    })
            }),
            Dialect::Responses => matches!(
                data["type"].as_str(),
                Some("response.output_text.delta" | "response.function_call_arguments.delta")
            ),
        }
    }

    /// The stop reason of a normal text answer.
    pub fn end_stop(self) -> &'static str {
        match self {
            Dialect::Anthropic => "end_turn",
            Dialect::Chat => "stop",
            Dialect::Responses => "completed",
        }
    }

    /// The stop reason this dialect uses for "the model called a tool".
    pub fn tool_stop(self) -> &'static str {
        match self {
            Dialect::Anthropic => "tool_use",
            Dialect::Chat => "tool_calls",
            Dialect::Responses => "completed",
        }
    }

    /// `(type, message)` when `body` is this dialect's error envelope: Anthropic
    /// `{"type":"error","error":{"type","message"}}`, OpenAI `{"error":{"message","type",…}}`.
    pub fn error_envelope(self, body: &Value) -> Option<(String, String)> {
        let error = &body["error"];
        let message = error["message"].as_str()?.to_owned();
        match self {
            Dialect::Anthropic => (body["type"] == "error")
                .then(|| {
                    error["type"]
                        .as_str()
                        .map(|kind| (kind.to_owned(), message))
                })
                .flatten(),
            Dialect::Chat | Dialect::Responses => error
                .get("type")
                .map(|kind| (kind.as_str().unwrap_or_default().to_owned(), message)),
        }
    }

    /// Tool names offered in an upstream request body of this dialect.
    pub fn offered_tools(self, body: &Value) -> Vec<String> {
        body["tools"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|tool| match self {
                Dialect::Chat => tool["function"]["name"].as_str(),
                Dialect::Anthropic | Dialect::Responses => tool["name"].as_str(),
            })
            .map(str::to_owned)
            .collect()
    }

    /// `(call id, result text)` of every tool result in an upstream request body.
    pub fn tool_results(self, body: &Value) -> Vec<(String, String)> {
        let mut out = Vec::new();
        match self {
            Dialect::Anthropic => {
                for message in body["messages"].as_array().into_iter().flatten() {
                    for block in message["content"].as_array().into_iter().flatten() {
                        if block["type"] == "tool_result" {
                            out.push((str_of(&block["tool_use_id"]), text_of(&block["content"])));
                        }
                    }
                }
            }
            Dialect::Chat => {
                for message in body["messages"].as_array().into_iter().flatten() {
                    if message["role"] == "tool" {
                        out.push((
                            str_of(&message["tool_call_id"]),
                            text_of(&message["content"]),
                        ));
                    }
                }
            }
            Dialect::Responses => {
                for item in body["input"].as_array().into_iter().flatten() {
                    if item["type"] == "function_call_output" {
                        out.push((str_of(&item["call_id"]), text_of(&item["output"])));
                    }
                }
            }
        }
        out
    }

    /// Ids of the assistant's tool calls in the history of an upstream request body.
    pub fn history_call_ids(self, body: &Value) -> Vec<String> {
        let mut out = Vec::new();
        match self {
            Dialect::Anthropic => {
                for message in body["messages"].as_array().into_iter().flatten() {
                    for block in message["content"].as_array().into_iter().flatten() {
                        if block["type"] == "tool_use" {
                            out.push(str_of(&block["id"]));
                        }
                    }
                }
            }
            Dialect::Chat => {
                for message in body["messages"].as_array().into_iter().flatten() {
                    for call in message["tool_calls"].as_array().into_iter().flatten() {
                        out.push(str_of(&call["id"]));
                    }
                }
            }
            Dialect::Responses => {
                for item in body["input"].as_array().into_iter().flatten() {
                    if item["type"] == "function_call" {
                        out.push(str_of(&item["call_id"]));
                    }
                }
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sse::parse_all;

    fn call() -> ToolCall {
        ToolCall {
            id: "call_1".into(),
            name: TOOL_NAME.into(),
            arguments: r#"{"location":"Paris ☀"}"#.into(),
            exact: true,
        }
    }

    #[test]
    fn tool_result_requests_carry_the_call_and_the_result_where_upstream_inspection_finds_them() {
        for dialect in Dialect::ALL {
            let body = dialect
                .tool_result_request("m", "hi", &call(), TOOL_RESULT, true)
                .unwrap();
            assert_eq!(dialect.offered_tools(&body), vec![TOOL_NAME], "{dialect:?}");
            assert_eq!(
                dialect.tool_results(&body),
                vec![("call_1".to_owned(), TOOL_RESULT.to_owned())],
                "{dialect:?}"
            );
            assert_eq!(
                dialect.history_call_ids(&body),
                vec!["call_1"],
                "{dialect:?}"
            );
            assert_eq!(body["stream"], json!(true));
        }
    }

    #[test]
    fn whole_replies_are_read_per_dialect() {
        let cases = [
            (
                Dialect::Anthropic,
                json!({"type": "message", "content": [{"type": "text", "text": "Hi"},
                    {"type": "tool_use", "id": "toolu_1", "name": "get_weather",
                     "input": {"location": "Paris ☀"}}], "stop_reason": "tool_use"}),
            ),
            (
                Dialect::Chat,
                json!({"choices": [{"message": {"content": "Hi", "tool_calls": [{"id": "toolu_1",
                    "type": "function", "function": {"name": "get_weather",
                    "arguments": "{\"location\":\"Paris ☀\"}"}}]}, "finish_reason": "tool_use"}]}),
            ),
            (
                Dialect::Responses,
                json!({"object": "response", "status": "tool_use", "output": [
                    {"type": "message", "content": [{"type": "output_text", "text": "Hi"}]},
                    {"type": "function_call", "call_id": "toolu_1", "name": "get_weather",
                     "arguments": "{\"location\":\"Paris ☀\"}"}]}),
            ),
        ];
        for (dialect, body) in cases {
            let reply = dialect.reply(&body).unwrap();
            assert_eq!(reply.text, "Hi", "{dialect:?}");
            assert_eq!(reply.stop.as_deref(), Some("tool_use"), "{dialect:?}");
            assert_eq!(reply.tool_calls.len(), 1, "{dialect:?}");
            let call = &reply.tool_calls[0];
            assert_eq!(
                (call.id.as_str(), call.name.as_str()),
                ("toolu_1", "get_weather")
            );
            assert_eq!(call.arguments, r#"{"location":"Paris ☀"}"#, "{dialect:?}");
        }
        assert!(Dialect::Chat.reply(&json!({"error": {}})).is_err());
    }

    #[test]
    fn streams_are_folded_per_dialect() {
        let anthropic = "event: message_start\ndata: {\"type\":\"message_start\",\"message\":{\"usage\":{\"input_tokens\":3}}}\n\n\
            event: content_block_start\ndata: {\"type\":\"content_block_start\",\"index\":0,\"content_block\":{\"type\":\"text\",\"text\":\"\"}}\n\n\
            event: content_block_delta\ndata: {\"type\":\"content_block_delta\",\"index\":0,\"delta\":{\"type\":\"text_delta\",\"text\":\"Hi\"}}\n\n\
            event: content_block_start\ndata: {\"type\":\"content_block_start\",\"index\":1,\"content_block\":{\"type\":\"tool_use\",\"id\":\"t1\",\"name\":\"get_weather\",\"input\":{}}}\n\n\
            event: content_block_delta\ndata: {\"type\":\"content_block_delta\",\"index\":1,\"delta\":{\"type\":\"input_json_delta\",\"partial_json\":\"{\\\"a\\\":\"}}\n\n\
            event: content_block_delta\ndata: {\"type\":\"content_block_delta\",\"index\":1,\"delta\":{\"type\":\"input_json_delta\",\"partial_json\":\"1}\"}}\n\n\
            event: message_delta\ndata: {\"type\":\"message_delta\",\"delta\":{\"stop_reason\":\"tool_use\"},\"usage\":{\"output_tokens\":5}}\n\n\
            event: message_stop\ndata: {\"type\":\"message_stop\"}\n\n";
        let chat = "data: {\"choices\":[{\"index\":0,\"delta\":{\"role\":\"assistant\",\"content\":\"Hi\"}}]}\n\n\
            data: {\"choices\":[{\"index\":0,\"delta\":{\"tool_calls\":[{\"index\":0,\"id\":\"t1\",\"type\":\"function\",\"function\":{\"name\":\"get_weather\",\"arguments\":\"\"}}]}}]}\n\n\
            data: {\"choices\":[{\"index\":0,\"delta\":{\"tool_calls\":[{\"index\":0,\"function\":{\"arguments\":\"{\\\"a\\\":\"}}]}}]}\n\n\
            data: {\"choices\":[{\"index\":0,\"delta\":{\"tool_calls\":[{\"index\":0,\"function\":{\"arguments\":\"1}\"}}]}}]}\n\n\
            data: {\"choices\":[{\"index\":0,\"delta\":{},\"finish_reason\":\"tool_use\"}]}\n\n\
            data: [DONE]\n\n";
        let responses = "event: response.output_text.delta\ndata: {\"type\":\"response.output_text.delta\",\"output_index\":0,\"delta\":\"Hi\"}\n\n\
            event: response.output_item.added\ndata: {\"type\":\"response.output_item.added\",\"output_index\":1,\"item\":{\"type\":\"function_call\",\"call_id\":\"t1\",\"name\":\"get_weather\",\"arguments\":\"\"}}\n\n\
            event: response.function_call_arguments.delta\ndata: {\"type\":\"response.function_call_arguments.delta\",\"output_index\":1,\"delta\":\"{\\\"a\\\":\"}\n\n\
            event: response.function_call_arguments.delta\ndata: {\"type\":\"response.function_call_arguments.delta\",\"output_index\":1,\"delta\":\"1}\"}\n\n\
            event: response.completed\ndata: {\"type\":\"response.completed\",\"response\":{\"status\":\"tool_use\",\"usage\":{\"input_tokens\":3}}}\n\n";
        for (dialect, body) in [
            (Dialect::Anthropic, anthropic),
            (Dialect::Chat, chat),
            (Dialect::Responses, responses),
        ] {
            let reply = dialect.stream_reply(&parse_all(body.as_bytes()));
            let events = parse_all(body.as_bytes());
            let content = events
                .iter()
                .filter(|e| dialect.is_content_event(e))
                .count();
            assert_eq!(content, 3, "{dialect:?}");
            assert!(reply.completed, "{dialect:?}");
            assert_eq!(reply.text, "Hi", "{dialect:?}");
            assert_eq!(reply.content_events, 3, "{dialect:?}");
            assert_eq!(reply.stop.as_deref(), Some("tool_use"), "{dialect:?}");
            assert_eq!(
                reply.tool_calls,
                vec![ToolCall {
                    id: "t1".into(),
                    name: "get_weather".into(),
                    arguments: r#"{"a":1}"#.into(),
                    exact: true
                }],
                "{dialect:?}"
            );
        }
        let truncated = Dialect::Chat.stream_reply(&parse_all(
            b"data: {\"error\":{\"message\":\"overloaded\",\"type\":\"server_error\"}}\n\n",
        ));
        assert!(!truncated.completed);
        assert_eq!(truncated.error.unwrap()["message"], "overloaded");
    }

    #[test]
    fn error_envelopes_are_recognised_only_in_their_dialect() {
        let anthropic =
            json!({"type": "error", "error": {"type": "rate_limit_error", "message": "slow down"}});
        let openai = json!({"error": {"message": "slow down", "type": "rate_limit_error", "param": null, "code": null}});
        let want = Some(("rate_limit_error".to_owned(), "slow down".to_owned()));
        assert_eq!(Dialect::Anthropic.error_envelope(&anthropic), want);
        assert_eq!(Dialect::Anthropic.error_envelope(&openai), None);
        assert_eq!(Dialect::Chat.error_envelope(&openai), want);
        assert_eq!(Dialect::Responses.error_envelope(&openai), want);
        assert_eq!(Dialect::Chat.error_envelope(&json!({"message": "x"})), None);
    }

    #[test]
    fn client_bearer_carries_the_client_key() {
        assert_eq!(CLIENT_BEARER, format!("Bearer {CLIENT_KEY}"));
    }
}
