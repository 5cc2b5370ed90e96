//! OpenAI Chat Completions.

use bytes::Bytes;
use serde_json::{json, Map, Value};

use super::{sse, Ev, CREATED};
use crate::plan::{content_text, words, Inbound, Part, Plan, Stop, ToolDef};

pub(super) fn inbound(body: &Value) -> Inbound {
    let mut inbound = Inbound::default();
    let messages = body
        .get("messages")
        .and_then(Value::as_array)
        .map(Vec::as_slice)
        .unwrap_or_default();
    inbound.words = messages
        .iter()
        .map(|m| words(&content_text(m.get("content"))))
        .sum();
    let role = |m: &Value| m.get("role").and_then(Value::as_str).map(str::to_owned);
    match messages.last() {
        Some(last) if role(last).as_deref() == Some("tool") => {
            inbound.tool_results_only = true;
            inbound.last_text = content_text(last.get("content"));
        }
        _ => {
            if let Some(user) = messages
                .iter()
                .rev()
                .find(|m| role(m).as_deref() == Some("user"))
            {
                inbound.last_text = content_text(user.get("content"));
            }
        }
    }
    inbound.tools = body
        .get("tools")
        .and_then(Value::as_array)
        .map(Vec::as_slice)
        .unwrap_or_default()
        .iter()
        .filter(|t| t.get("type").and_then(Value::as_str) == Some("function"))
        .filter_map(|t| {
            let f = t.get("function")?;
            Some(ToolDef {
                name: f.get("name")?.as_str()?.to_owned(),
                schema: f.get("parameters").cloned().unwrap_or_else(|| json!({})),
            })
        })
        .collect();
    inbound
}

fn finish_reason(stop: Stop) -> &'static str {
    match stop {
        Stop::End => "stop",
        Stop::Tool => "tool_calls",
        Stop::Length => "length",
    }
}

fn call_id(plan: &Plan, index: usize) -> String {
    format!("call_mock_{:04}_{index}", plan.seq)
}

fn usage(plan: &Plan) -> Value {
    json!({
        "prompt_tokens": plan.input_tokens,
        "completion_tokens": plan.output_tokens,
        "total_tokens": plan.input_tokens + plan.output_tokens,
    })
}

pub(super) fn json(plan: &Plan) -> Value {
    let mut message = Map::new();
    message.insert("role".into(), json!("assistant"));
    let text = plan.text();
    let has_text = plan.parts.iter().any(|p| matches!(p, Part::Text(_)));
    message.insert(
        "content".into(),
        if has_text { json!(text) } else { Value::Null },
    );
    let mut calls = Vec::new();
    for (i, part) in plan.parts.iter().enumerate() {
        match part {
            Part::Reasoning(_) => {
                message.insert("reasoning_content".into(), json!(part.full()));
            }
            Part::Tool { name, .. } => calls.push(json!({
                "id": call_id(plan, i),
                "type": "function",
                "function": {"name": name, "arguments": part.full()},
            })),
            Part::Text(_) => {}
        }
    }
    if !calls.is_empty() {
        message.insert("tool_calls".into(), Value::Array(calls));
    }
    message.insert("refusal".into(), Value::Null);
    json!({
        "id": format!("chatcmpl-mock-{:04}", plan.seq),
        "object": "chat.completion",
        "created": CREATED,
        "model": plan.model,
        "system_fingerprint": "fp_mock",
        "choices": [{
            "index": 0,
            "message": message,
            "logprobs": null,
            "finish_reason": finish_reason(plan.stop),
        }],
        "usage": usage(plan),
    })
}

pub(super) fn events(plan: &Plan, body: &Value) -> Vec<Ev> {
    let include_usage = body
        .pointer("/stream_options/include_usage")
        .and_then(Value::as_bool)
        .unwrap_or(false);
    let chunk = |delta: Value, finish: Option<&str>| {
        let mut c = json!({
            "id": format!("chatcmpl-mock-{:04}", plan.seq),
            "object": "chat.completion.chunk",
            "created": CREATED,
            "model": plan.model,
            "system_fingerprint": "fp_mock",
            "choices": [{"index": 0, "delta": delta, "logprobs": null, "finish_reason": finish}],
        });
        if include_usage {
            c["usage"] = Value::Null;
        }
        c
    };
    let ev = |data: Value, content: bool| Ev {
        bytes: sse(None, &data),
        content,
    };
    let mut out = vec![ev(
        chunk(json!({"role": "assistant", "content": ""}), None),
        false,
    )];
    let mut tool_index = 0;
    for (i, part) in plan.parts.iter().enumerate() {
        match part {
            Part::Reasoning(pieces) => {
                for piece in pieces {
                    out.push(ev(chunk(json!({"reasoning_content": piece}), None), true));
                }
            }
            Part::Text(pieces) => {
                for piece in pieces {
                    out.push(ev(chunk(json!({"content": piece}), None), true));
                }
            }
            Part::Tool { name, fragments } => {
                out.push(ev(
                    chunk(
                        json!({"tool_calls": [{
                            "index": tool_index,
                            "id": call_id(plan, i),
                            "type": "function",
                            "function": {"name": name, "arguments": ""},
                        }]}),
                        None,
                    ),
                    false,
                ));
                for fragment in fragments {
                    out.push(ev(
                        chunk(
                            json!({"tool_calls": [{
                                "index": tool_index,
                                "function": {"arguments": fragment},
                            }]}),
                            None,
                        ),
                        true,
                    ));
                }
                tool_index += 1;
            }
        }
    }
    out.push(ev(chunk(json!({}), Some(finish_reason(plan.stop))), false));
    if include_usage {
        out.push(ev(
            json!({
                "id": format!("chatcmpl-mock-{:04}", plan.seq),
                "object": "chat.completion.chunk",
                "created": CREATED,
                "model": plan.model,
                "system_fingerprint": "fp_mock",
                "choices": [],
                "usage": usage(plan),
            }),
            false,
        ));
    }
    out.push(Ev {
        bytes: Bytes::from_static(b"data: [DONE]\n\n"),
        content: false,
    });
    out
}

pub(super) fn midstream_error() -> Vec<Bytes> {
    vec![sse(
        None,
        &json!({"error": {
            "message": "The server had an error while processing your request.",
            "type": "server_error",
            "param": null,
            "code": null,
        }}),
    )]
}
