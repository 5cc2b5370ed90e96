//! Anthropic Messages.

use bytes::Bytes;
use serde_json::{json, Value};

use super::{sse, Ev, SIGNATURE};
use crate::plan::{content_text, words, Inbound, Part, Plan, Stop, ToolDef};

pub(super) fn inbound(body: &Value) -> Inbound {
    let mut inbound = Inbound::default();
    let mut count = words(&content_text(body.get("system")));
    let messages = body
        .get("messages")
        .and_then(Value::as_array)
        .map(Vec::as_slice)
        .unwrap_or_default();
    for message in messages {
        count += match message.get("content") {
            Some(Value::Array(blocks)) => blocks.iter().map(|b| words(&block_text(b))).sum(),
            other => words(&content_text(other)),
        };
    }
    inbound.words = count;
    if let Some(last) = messages
        .iter()
        .rev()
        .find(|m| m.get("role").and_then(Value::as_str) == Some("user"))
    {
        match last.get("content") {
            Some(Value::Array(blocks)) => {
                let texts: Vec<&str> = blocks
                    .iter()
                    .filter(|b| b.get("type").and_then(Value::as_str) == Some("text"))
                    .filter_map(|b| b.get("text").and_then(Value::as_str))
                    .collect();
                let last_result = blocks
                    .iter()
                    .rev()
                    .find(|b| b.get("type").and_then(Value::as_str) == Some("tool_result"));
                match (texts.is_empty(), last_result) {
                    (true, Some(result)) => {
                        inbound.tool_results_only = true;
                        inbound.last_text = content_text(result.get("content"));
                    }
                    _ => inbound.last_text = texts.join("\n"),
                }
            }
            other => inbound.last_text = content_text(other),
        }
    }
    inbound.tools = body
        .get("tools")
        .and_then(Value::as_array)
        .map(Vec::as_slice)
        .unwrap_or_default()
        .iter()
        .filter_map(|t| {
            Some(ToolDef {
                name: t.get("name")?.as_str()?.to_owned(),
                schema: t.get("input_schema")?.clone(),
            })
        })
        .collect();
    inbound
}

/// The text of one content block: text blocks and tool results count, the rest does not.
fn block_text(block: &Value) -> String {
    match block.get("type").and_then(Value::as_str) {
        Some("text") => content_text(block.get("text")),
        Some("tool_result") => content_text(block.get("content")),
        _ => String::new(),
    }
}

fn stop_reason(stop: Stop) -> &'static str {
    match stop {
        Stop::End => "end_turn",
        Stop::Tool => "tool_use",
        Stop::Length => "max_tokens",
    }
}

fn tool_id(plan: &Plan, index: usize) -> String {
    format!("toolu_mock_{:04}_{index}", plan.seq)
}

fn message(plan: &Plan, content: Vec<Value>, stop: Option<&str>, output_tokens: u64) -> Value {
    json!({
        "id": format!("msg_mock_{:04}", plan.seq),
        "type": "message",
        "role": "assistant",
        "model": plan.model,
        "content": content,
        "stop_reason": stop,
        "stop_sequence": null,
        "usage": {
            "input_tokens": plan.input_tokens,
            "cache_creation_input_tokens": 0,
            "cache_read_input_tokens": 0,
            "output_tokens": output_tokens,
        },
    })
}

pub(super) fn json(plan: &Plan) -> Value {
    let content = plan
        .parts
        .iter()
        .enumerate()
        .map(|(i, part)| match part {
            Part::Reasoning(_) => {
                json!({"type": "thinking", "thinking": part.full(), "signature": SIGNATURE})
            }
            Part::Text(_) => json!({"type": "text", "text": part.full()}),
            Part::Tool { name, .. } => {
                let input: Value = serde_json::from_str(&part.full()).unwrap_or(Value::Null);
                json!({"type": "tool_use", "id": tool_id(plan, i), "name": name, "input": input})
            }
        })
        .collect();
    message(
        plan,
        content,
        Some(stop_reason(plan.stop)),
        plan.output_tokens,
    )
}

fn ev(data: Value, content: bool) -> Ev {
    let kind = data
        .get("type")
        .and_then(Value::as_str)
        .unwrap_or("unknown")
        .to_owned();
    Ev {
        bytes: sse(Some(&kind), &data),
        content,
    }
}

pub(super) fn events(plan: &Plan) -> Vec<Ev> {
    let mut out = vec![
        ev(
            json!({"type": "message_start", "message": message(plan, Vec::new(), None, 1)}),
            false,
        ),
        ev(json!({"type": "ping"}), false),
    ];
    for (i, part) in plan.parts.iter().enumerate() {
        let (start, delta_kind, field) = match part {
            Part::Reasoning(_) => (
                json!({"type": "thinking", "thinking": "", "signature": ""}),
                "thinking_delta",
                "thinking",
            ),
            Part::Text(_) => (json!({"type": "text", "text": ""}), "text_delta", "text"),
            Part::Tool { name, .. } => (
                json!({"type": "tool_use", "id": tool_id(plan, i), "name": name, "input": {}}),
                "input_json_delta",
                "partial_json",
            ),
        };
        out.push(ev(
            json!({"type": "content_block_start", "index": i, "content_block": start}),
            false,
        ));
        for piece in part.pieces() {
            out.push(ev(
                json!({"type": "content_block_delta", "index": i,
                       "delta": {"type": delta_kind, field: piece}}),
                true,
            ));
        }
        if matches!(part, Part::Reasoning(_)) {
            out.push(ev(
                json!({"type": "content_block_delta", "index": i,
                       "delta": {"type": "signature_delta", "signature": SIGNATURE}}),
                false,
            ));
        }
        out.push(ev(json!({"type": "content_block_stop", "index": i}), false));
    }
    out.push(ev(
        json!({
            "type": "message_delta",
            "delta": {"stop_reason": stop_reason(plan.stop), "stop_sequence": null},
            "usage": {"output_tokens": plan.output_tokens},
        }),
        false,
    ));
    out.push(ev(json!({"type": "message_stop"}), false));
    out
}

pub(super) fn midstream_error() -> Vec<Bytes> {
    vec![sse(
        Some("error"),
        &json!({"type": "error", "error": {"type": "overloaded_error", "message": "Overloaded"}}),
    )]
}

pub(super) fn error_body(status: u16, message: &str, seq: u64) -> Value {
    let kind = match status {
        400 => "invalid_request_error",
        401 => "authentication_error",
        402 => "billing_error",
        403 => "permission_error",
        404 => "not_found_error",
        413 => "request_too_large",
        429 => "rate_limit_error",
        504 => "timeout_error",
        529 => "overloaded_error",
        500..=599 => "api_error",
        _ => "invalid_request_error",
    };
    json!({
        "type": "error",
        "error": {"type": kind, "message": message},
        "request_id": format!("req_mock_{seq:04}"),
    })
}
