//! Independent validators of each dialect's stream wire format, written from the vendors' docs rather
//! than from this crate's encoders, so an encoder bug cannot validate itself.
#![allow(dead_code)]

use std::collections::{BTreeMap, BTreeSet};

use anvil_dialects::sse::SseDecoder;
use anvil_dialects::{Dialect, SseEvent};
use serde_json::Value;

pub fn sse_events(bytes: &[u8]) -> Vec<SseEvent> {
    let mut decoder = SseDecoder::new();
    let mut out = Vec::new();
    decoder.push(bytes, &mut out).unwrap();
    decoder.finish(&mut out);
    out
}

pub fn check_wire(dialect: Dialect, bytes: &[u8]) -> Result<(), String> {
    let events = sse_events(bytes);
    match dialect {
        Dialect::Anthropic => check_anthropic(&events),
        Dialect::OpenAiChat => check_openai(&events),
        Dialect::Responses => check_responses(&events),
    }
}

fn json(ev: &SseEvent) -> Result<Value, String> {
    serde_json::from_str(&ev.data).map_err(|e| format!("data is not JSON ({e}): {}", ev.data))
}

/// Anthropic: every event named like its `type`; message_start first; blocks opened and closed in index
/// order with deltas that fit the block; message_delta then message_stop last.
pub fn check_anthropic(events: &[SseEvent]) -> Result<(), String> {
    let mut seen_start = false;
    let mut next_index = 0u64;
    let mut open: Option<(u64, String)> = None;
    let mut delta_seen = false;
    let mut stopped = false;
    for ev in events {
        let v = json(ev)?;
        let ty = v["type"].as_str().ok_or("event without type")?;
        if ev.event.as_deref() != Some(ty) {
            return Err(format!(
                "event line {:?} does not match type {ty}",
                ev.event
            ));
        }
        if stopped {
            return Err(format!("{ty} after message_stop"));
        }
        match ty {
            "message_start" => {
                if seen_start {
                    return Err("two message_start".into());
                }
                let m = &v["message"];
                if m["type"] != "message" || m["role"] != "assistant" || !m["content"].is_array() {
                    return Err(format!("bad message_start {m}"));
                }
                if !m["usage"]["input_tokens"].is_u64() {
                    return Err("message_start without usage.input_tokens".into());
                }
                seen_start = true;
            }
            "ping" => {}
            "content_block_start" => {
                let i = v["index"].as_u64().ok_or("no index")?;
                if !seen_start || open.is_some() || i != next_index || delta_seen {
                    return Err(format!("bad content_block_start {i}"));
                }
                let block = &v["content_block"];
                let kind = block["type"].as_str().ok_or("no block type")?.to_owned();
                match kind.as_str() {
                    "text" if block["text"].is_string() => {}
                    "thinking" if block["thinking"].is_string() => {}
                    "redacted_thinking" if block["data"].is_string() => {}
                    "tool_use"
                        if block["id"].is_string()
                            && block["name"].is_string()
                            && block["input"].is_object() => {}
                    _ => return Err(format!("bad content_block {block}")),
                }
                open = Some((i, kind));
                next_index += 1;
            }
            "content_block_delta" => {
                let i = v["index"].as_u64().ok_or("no index")?;
                let Some((oi, kind)) = &open else {
                    return Err("delta with no open block".into());
                };
                let dt = v["delta"]["type"].as_str().unwrap_or("");
                let fits = match kind.as_str() {
                    "text" => dt == "text_delta" && v["delta"]["text"].is_string(),
                    "thinking" => {
                        (dt == "thinking_delta" && v["delta"]["thinking"].is_string())
                            || (dt == "signature_delta" && v["delta"]["signature"].is_string())
                    }
                    "tool_use" => {
                        dt == "input_json_delta" && v["delta"]["partial_json"].is_string()
                    }
                    _ => false,
                };
                if *oi != i || !fits {
                    return Err(format!(
                        "delta {} does not fit block {oi} {kind}",
                        v["delta"]
                    ));
                }
            }
            "content_block_stop" => {
                let i = v["index"].as_u64().ok_or("no index")?;
                match &open {
                    Some((oi, _)) if *oi == i => open = None,
                    _ => return Err(format!("content_block_stop {i} not open")),
                }
            }
            "message_delta" => {
                if open.is_some() || delta_seen {
                    return Err("message_delta with open block or twice".into());
                }
                if v["delta"].get("stop_reason").is_none() || !v["usage"]["output_tokens"].is_u64()
                {
                    return Err(format!("bad message_delta {v}"));
                }
                delta_seen = true;
            }
            "message_stop" => {
                if !delta_seen {
                    return Err("message_stop before message_delta".into());
                }
                stopped = true;
            }
            "error" => return Ok(()),
            other => return Err(format!("unknown event {other}")),
        }
    }
    if !stopped {
        return Err("no message_stop".into());
    }
    Ok(())
}

/// OpenAI Chat: chunks of one id, `chat.completion.chunk`; each tool call index introduced with id, type
/// and name; one finish_reason; an optional usage chunk with `choices: []` after it; `[DONE]` last.
pub fn check_openai(events: &[SseEvent]) -> Result<(), String> {
    let mut id: Option<String> = None;
    let mut tool_indices = BTreeSet::new();
    let mut finished = false;
    let mut done = false;
    for ev in events {
        if done {
            return Err("event after [DONE]".into());
        }
        if ev.data == "[DONE]" {
            done = true;
            continue;
        }
        let v = json(ev)?;
        if v["object"] != "chat.completion.chunk" {
            return Err(format!("bad object in {v}"));
        }
        let this_id = v["id"].as_str().ok_or("no id")?.to_owned();
        if id.get_or_insert_with(|| this_id.clone()) != &this_id {
            return Err("chunk ids differ".into());
        }
        if !v["created"].is_u64() || !v["model"].is_string() {
            return Err(format!("chunk without created/model: {v}"));
        }
        let choices = v["choices"].as_array().ok_or("no choices")?;
        if choices.is_empty() {
            if !finished || !v["usage"]["prompt_tokens"].is_u64() {
                return Err(format!("empty choices without usage or before finish: {v}"));
            }
            continue;
        }
        let choice = &choices[0];
        if finished {
            return Err("content after finish_reason".into());
        }
        if let Some(calls) = choice["delta"]["tool_calls"].as_array() {
            for call in calls {
                let i = call["index"].as_u64().ok_or("tool call without index")?;
                if tool_indices.insert(i)
                    && (!call["id"].is_string()
                        || call["type"] != "function"
                        || !call["function"]["name"].is_string())
                {
                    return Err(format!(
                        "first delta of tool call {i} lacks id/type/name: {call}"
                    ));
                }
            }
        }
        if !choice["finish_reason"].is_null() {
            let reason = choice["finish_reason"]
                .as_str()
                .ok_or("finish_reason not a string")?;
            if ![
                "stop",
                "length",
                "tool_calls",
                "content_filter",
                "function_call",
            ]
            .contains(&reason)
            {
                return Err(format!("unknown finish_reason {reason}"));
            }
            finished = true;
        }
    }
    if !finished || !done {
        return Err(format!("finished={finished} done={done}"));
    }
    Ok(())
}

/// OpenAI Responses: event names equal types; sequence numbers increase; created first; items added
/// before their deltas and done after; `.done` texts equal the concatenated deltas; completed last and
/// its output equals the items that were done.
pub fn check_responses(events: &[SseEvent]) -> Result<(), String> {
    let mut last_seq: Option<u64> = None;
    let mut created = false;
    let mut terminal = false;
    let mut items: BTreeMap<u64, (String, Value, bool)> = BTreeMap::new(); // output_index -> (item id, item, done)
    let mut texts: BTreeMap<(String, u64), String> = BTreeMap::new();
    let mut args: BTreeMap<String, String> = BTreeMap::new();
    let mut done_items: Vec<Value> = Vec::new();
    for ev in events {
        let v = json(ev)?;
        let ty = v["type"].as_str().ok_or("event without type")?;
        if ev.event.as_deref() != Some(ty) {
            return Err(format!(
                "event line {:?} does not match type {ty}",
                ev.event
            ));
        }
        if terminal {
            return Err(format!("{ty} after the terminal event"));
        }
        let seq = v["sequence_number"]
            .as_u64()
            .ok_or(format!("{ty} without sequence_number"))?;
        if last_seq.is_some_and(|l| seq <= l) {
            return Err(format!("sequence_number {seq} not increasing"));
        }
        last_seq = Some(seq);
        if ty != "response.created" && !created {
            return Err(format!("{ty} before response.created"));
        }
        match ty {
            "response.created" => {
                if created || v["response"]["object"] != "response" {
                    return Err("bad response.created".into());
                }
                created = true;
            }
            "response.in_progress" => {}
            "response.output_item.added" => {
                let oi = v["output_index"].as_u64().ok_or("no output_index")?;
                let item_id = v["item"]["id"]
                    .as_str()
                    .ok_or("item without id")?
                    .to_owned();
                if items
                    .insert(oi, (item_id, v["item"].clone(), false))
                    .is_some()
                {
                    return Err(format!("output_index {oi} added twice"));
                }
            }
            "response.output_item.done" => {
                let oi = v["output_index"].as_u64().ok_or("no output_index")?;
                let entry = items
                    .get_mut(&oi)
                    .ok_or(format!("done for unknown item {oi}"))?;
                if entry.2 || v["item"]["id"].as_str() != Some(entry.0.as_str()) {
                    return Err(format!("bad output_item.done {oi}"));
                }
                entry.2 = true;
                let item = &v["item"];
                if item["type"] == "function_call" {
                    let streamed = args.get(&entry.0).cloned().unwrap_or_default();
                    if item["arguments"].as_str() != Some(streamed.as_str()) {
                        return Err(format!(
                            "function_call item arguments differ from deltas: {item}"
                        ));
                    }
                }
                done_items.push(item.clone());
            }
            "response.content_part.added" | "response.content_part.done" => {
                check_item_open(&items, &v)?;
            }
            "response.output_text.delta" => {
                let item_id = check_item_open(&items, &v)?;
                let ci = v["content_index"].as_u64().ok_or("no content_index")?;
                texts
                    .entry((item_id, ci))
                    .or_default()
                    .push_str(v["delta"].as_str().ok_or("no delta")?);
            }
            "response.output_text.done" => {
                let item_id = check_item_open(&items, &v)?;
                let ci = v["content_index"].as_u64().ok_or("no content_index")?;
                let streamed = texts.get(&(item_id, ci)).cloned().unwrap_or_default();
                if v["text"].as_str() != Some(streamed.as_str()) {
                    return Err("output_text.done text differs from the deltas".into());
                }
            }
            "response.function_call_arguments.delta" => {
                let item_id = check_item_open(&items, &v)?;
                args.entry(item_id)
                    .or_default()
                    .push_str(v["delta"].as_str().ok_or("no delta")?);
            }
            "response.function_call_arguments.done" => {
                let item_id = check_item_open(&items, &v)?;
                let streamed = args.get(&item_id).cloned().unwrap_or_default();
                if v["arguments"].as_str() != Some(streamed.as_str()) {
                    return Err("function_call_arguments.done differs from the deltas".into());
                }
            }
            t if t.starts_with("response.reasoning") => {
                check_item_open(&items, &v)?;
            }
            "response.completed" | "response.incomplete" | "response.failed" => {
                if items.values().any(|(_, _, done)| !done) {
                    return Err(format!("{ty} with items still open"));
                }
                let output = v["response"]["output"].as_array().ok_or("no output")?;
                if output != &done_items {
                    return Err(format!(
                        "{ty} output differs from the done items:\n{}\nvs\n{}",
                        Value::Array(output.clone()),
                        Value::Array(done_items.clone())
                    ));
                }
                // `usage` is optional in the SDKs' Response model; when present it must be complete.
                let usage = &v["response"]["usage"];
                if !usage.is_null() && !usage["output_tokens"].is_u64() {
                    return Err(format!("{ty} with malformed usage {usage}"));
                }
                terminal = true;
            }
            "error" => return Ok(()),
            other => return Err(format!("unknown event {other}")),
        }
    }
    if !terminal {
        return Err("no terminal event".into());
    }
    Ok(())
}

fn check_item_open(
    items: &BTreeMap<u64, (String, Value, bool)>,
    v: &Value,
) -> Result<String, String> {
    let oi = v["output_index"]
        .as_u64()
        .ok_or(format!("no output_index in {v}"))?;
    let (id, _, done) = items
        .get(&oi)
        .ok_or(format!("event for unknown output_index {oi}"))?;
    if *done {
        return Err(format!("event for finished item {oi}"));
    }
    if let Some(item_id) = v["item_id"].as_str() {
        if item_id != id {
            return Err(format!("item_id {item_id} does not match {id}"));
        }
    }
    Ok(id.clone())
}
