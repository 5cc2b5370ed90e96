//! OpenAI Responses.

use bytes::Bytes;
use serde_json::{json, Value};

use super::{sse, Ev, CREATED};
use crate::plan::{content_text, words, Inbound, Part, Plan, Stop, ToolDef};

fn is_output_item(item: &Value) -> bool {
    item.get("type")
        .and_then(Value::as_str)
        .is_some_and(|t| t.ends_with("_output"))
}

pub(super) fn inbound(body: &Value) -> Inbound {
    let mut inbound = Inbound::default();
    let mut count = words(&content_text(body.get("instructions")));
    match body.get("input") {
        Some(Value::String(text)) => {
            count += words(text);
            inbound.last_text = text.clone();
        }
        Some(Value::Array(items)) => {
            for item in items {
                if is_output_item(item) {
                    count += words(&content_text(item.get("output")));
                } else if item.get("role").is_some() {
                    count += words(&content_text(item.get("content")));
                }
            }
            match items.last() {
                Some(last) if is_output_item(last) => {
                    inbound.tool_results_only = true;
                    inbound.last_text = content_text(last.get("output"));
                }
                _ => {
                    if let Some(user) = items
                        .iter()
                        .rev()
                        .find(|i| i.get("role").and_then(Value::as_str) == Some("user"))
                    {
                        inbound.last_text = content_text(user.get("content"));
                    }
                }
            }
        }
        _ => {}
    }
    inbound.words = count;
    inbound.tools = body
        .get("tools")
        .and_then(Value::as_array)
        .map(Vec::as_slice)
        .unwrap_or_default()
        .iter()
        .filter(|t| t.get("type").and_then(Value::as_str) == Some("function"))
        .filter_map(|t| {
            Some(ToolDef {
                name: t.get("name")?.as_str()?.to_owned(),
                schema: t.get("parameters").cloned().unwrap_or_else(|| json!({})),
            })
        })
        .collect();
    inbound
}

fn item_id(plan: &Plan, index: usize, part: &Part) -> String {
    let prefix = match part {
        Part::Reasoning(_) => "rs",
        Part::Text(_) => "msg",
        Part::Tool { .. } => "fc",
    };
    format!("{prefix}_mock_{:04}_{index}", plan.seq)
}

/// The finished output item for `part`.
fn item(plan: &Plan, index: usize, part: &Part) -> Value {
    let id = item_id(plan, index, part);
    match part {
        Part::Reasoning(_) => json!({
            "type": "reasoning", "id": id,
            "summary": [{"type": "summary_text", "text": part.full()}],
        }),
        Part::Text(_) => json!({
            "type": "message", "id": id, "status": "completed", "role": "assistant",
            "content": [{"type": "output_text", "text": part.full(), "annotations": []}],
        }),
        Part::Tool { name, .. } => json!({
            "type": "function_call", "id": id,
            "call_id": format!("call_mock_{:04}_{index}", plan.seq),
            "name": name, "arguments": part.full(), "status": "completed",
        }),
    }
}

/// The response object in `status`, with `output` and `usage`.
fn response(plan: &Plan, body: &Value, status: &str, output: Vec<Value>, usage: Value) -> Value {
    let echo = |key: &str, default: Value| body.get(key).cloned().unwrap_or(default);
    let incomplete = if status == "incomplete" {
        json!({"reason": "max_output_tokens"})
    } else {
        Value::Null
    };
    json!({
        "id": format!("resp_mock_{:04}", plan.seq),
        "object": "response",
        "created_at": CREATED,
        "status": status,
        "error": null,
        "incomplete_details": incomplete,
        "instructions": echo("instructions", Value::Null),
        "max_output_tokens": echo("max_output_tokens", Value::Null),
        "model": plan.model,
        "output": output,
        "parallel_tool_calls": echo("parallel_tool_calls", Value::Bool(true)),
        "previous_response_id": null,
        "reasoning": {"effort": null, "summary": null},
        "store": echo("store", Value::Bool(true)),
        "temperature": null,
        "text": {"format": {"type": "text"}},
        "tool_choice": echo("tool_choice", json!("auto")),
        "tools": echo("tools", json!([])),
        "top_p": null,
        "truncation": "disabled",
        "usage": usage,
        "user": null,
        "metadata": {},
    })
}

fn usage(plan: &Plan) -> Value {
    let reasoning: usize = plan
        .parts
        .iter()
        .filter(|p| matches!(p, Part::Reasoning(_)))
        .map(|p| p.pieces().len())
        .sum();
    json!({
        "input_tokens": plan.input_tokens,
        "input_tokens_details": {"cached_tokens": 0},
        "output_tokens": plan.output_tokens,
        "output_tokens_details": {"reasoning_tokens": 7 * reasoning as u64},
        "total_tokens": plan.input_tokens + plan.output_tokens,
    })
}

fn final_status(plan: &Plan) -> &'static str {
    match plan.stop {
        Stop::End | Stop::Tool => "completed",
        Stop::Length => "incomplete",
    }
}

pub(super) fn json(plan: &Plan, body: &Value) -> Value {
    let output = plan
        .parts
        .iter()
        .enumerate()
        .map(|(i, p)| item(plan, i, p))
        .collect();
    response(plan, body, final_status(plan), output, usage(plan))
}

struct Events(Vec<Ev>);

impl Events {
    fn push(&mut self, kind: &str, fields: Value, content: bool) {
        let mut data = json!({"type": kind, "sequence_number": self.0.len()});
        if let (Some(data), Value::Object(fields)) = (data.as_object_mut(), fields) {
            data.extend(fields);
        }
        self.0.push(Ev {
            bytes: sse(Some(kind), &data),
            content,
        });
    }
}

pub(super) fn events(plan: &Plan, body: &Value) -> Vec<Ev> {
    let mut out = Events(Vec::new());
    let started = response(plan, body, "in_progress", Vec::new(), Value::Null);
    out.push("response.created", json!({"response": started}), false);
    out.push("response.in_progress", json!({"response": started}), false);
    let mut done_items = Vec::new();
    for (i, part) in plan.parts.iter().enumerate() {
        let id = item_id(plan, i, part);
        let done = item(plan, i, part);
        let mut added = done.clone();
        match part {
            Part::Reasoning(pieces) => {
                added["summary"] = json!([]);
                out.push(
                    "response.output_item.added",
                    json!({"output_index": i, "item": added}),
                    false,
                );
                let at = json!({"item_id": id, "output_index": i, "summary_index": 0});
                let mut e = at.clone();
                e["part"] = json!({"type": "summary_text", "text": ""});
                out.push("response.reasoning_summary_part.added", e, false);
                for piece in pieces {
                    let mut e = at.clone();
                    e["delta"] = json!(piece);
                    out.push("response.reasoning_summary_text.delta", e, true);
                }
                let mut e = at.clone();
                e["text"] = json!(part.full());
                out.push("response.reasoning_summary_text.done", e, false);
                let mut e = at;
                e["part"] = json!({"type": "summary_text", "text": part.full()});
                out.push("response.reasoning_summary_part.done", e, false);
            }
            Part::Text(pieces) => {
                added["status"] = json!("in_progress");
                added["content"] = json!([]);
                out.push(
                    "response.output_item.added",
                    json!({"output_index": i, "item": added}),
                    false,
                );
                let at = json!({"item_id": id, "output_index": i, "content_index": 0});
                let mut e = at.clone();
                e["part"] = json!({"type": "output_text", "text": "", "annotations": []});
                out.push("response.content_part.added", e, false);
                for piece in pieces {
                    let mut e = at.clone();
                    e["delta"] = json!(piece);
                    e["logprobs"] = json!([]);
                    out.push("response.output_text.delta", e, true);
                }
                let mut e = at.clone();
                e["text"] = json!(part.full());
                e["logprobs"] = json!([]);
                out.push("response.output_text.done", e, false);
                let mut e = at;
                e["part"] = done["content"][0].clone();
                out.push("response.content_part.done", e, false);
            }
            Part::Tool { fragments, .. } => {
                added["status"] = json!("in_progress");
                added["arguments"] = json!("");
                out.push(
                    "response.output_item.added",
                    json!({"output_index": i, "item": added}),
                    false,
                );
                for fragment in fragments {
                    out.push(
                        "response.function_call_arguments.delta",
                        json!({"item_id": id, "output_index": i, "delta": fragment}),
                        true,
                    );
                }
                out.push(
                    "response.function_call_arguments.done",
                    json!({"item_id": id, "output_index": i, "arguments": part.full()}),
                    false,
                );
            }
        }
        out.push(
            "response.output_item.done",
            json!({"output_index": i, "item": done.clone()}),
            false,
        );
        done_items.push(done);
    }
    let status = final_status(plan);
    let kind = if status == "incomplete" {
        "response.incomplete"
    } else {
        "response.completed"
    };
    out.push(
        kind,
        json!({"response": response(plan, body, status, done_items, usage(plan))}),
        false,
    );
    out.0
}

pub(super) fn midstream_error(plan: &Plan, body: &Value, sent: usize) -> Vec<Bytes> {
    let message = "The server had an error while processing your request.";
    let error = json!({
        "type": "error", "code": "server_error", "message": message, "param": null,
        "sequence_number": sent,
    });
    let mut failed = response(plan, body, "failed", Vec::new(), Value::Null);
    failed["error"] = json!({"code": "server_error", "message": message});
    let failed = json!({
        "type": "response.failed", "sequence_number": sent + 1, "response": failed,
    });
    vec![
        sse(Some("error"), &error),
        sse(Some("response.failed"), &failed),
    ]
}
