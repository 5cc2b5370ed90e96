//! `cargo bench -p anvil-dialects --bench stream`: the per-chunk cost of a stream on its way through
//! the router, one upstream event per chunk, every push timed on its own (p50 / p99 / max):
//!
//! * translation, OpenAI Chat upstream → Anthropic client and Anthropic upstream → OpenAI Chat
//!   client ([`StreamTranslator::push`]): 200 text deltas, then a tool call in 5-character
//!   argument fragments, then the finish and usage events;
//! * the pass-through tap (an Anthropic stream to an Anthropic client): SSE decoding and the
//!   dialect's stream decoder, which the router runs on the side for the usage numbers.
//!
//! Issue 6's target: added per-chunk latency p99 ≤ 100 µs end to end.

#![allow(missing_docs, clippy::unwrap_used, clippy::print_stdout)] // a benchmark binary

use std::hint::black_box;
use std::time::Instant;

use anvil_dialects::sse::SseDecoder;
use anvil_dialects::translate::{stream_decoder, StreamTranslator};
use anvil_dialects::{Dialect, EncodeContext};
use serde_json::json;

const TEXT_DELTAS: usize = 200;
const STREAMS: usize = 400;

fn chat_stream() -> Vec<Vec<u8>> {
    let chunk = |delta: serde_json::Value, finish: serde_json::Value| {
        let event = json!({"id": "chatcmpl-bench", "object": "chat.completion.chunk", "created": 1,
            "model": "mock-oa-model", "choices": [{"index": 0, "delta": delta, "finish_reason": finish}]});
        format!("data: {event}\n\n").into_bytes()
    };
    let mut out = vec![chunk(
        json!({"role": "assistant", "content": ""}),
        json!(null),
    )];
    for i in 1..=TEXT_DELTAS {
        out.push(chunk(json!({"content": format!("tick{i} ")}), json!(null)));
    }
    out.push(chunk(
        json!({"tool_calls": [{"index": 0, "id": "call_1", "type": "function",
            "function": {"name": "Read", "arguments": ""}}]}),
        json!(null),
    ));
    let args = r#"{"file_path":"/home/dev/project/src/main.rs","limit":200}"#;
    for piece in args.as_bytes().chunks(5) {
        let piece = std::str::from_utf8(piece).unwrap();
        out.push(chunk(
            json!({"tool_calls": [{"index": 0, "function": {"arguments": piece}}]}),
            json!(null),
        ));
    }
    out.push(chunk(json!({}), json!("tool_calls")));
    let usage = json!({"id": "chatcmpl-bench", "object": "chat.completion.chunk", "created": 1,
        "model": "mock-oa-model", "choices": [],
        "usage": {"prompt_tokens": 1200, "completion_tokens": 240, "total_tokens": 1440}});
    out.push(format!("data: {usage}\n\n").into_bytes());
    out.push(b"data: [DONE]\n\n".to_vec());
    out
}

fn anthropic_stream() -> Vec<Vec<u8>> {
    let event = |name: &str, data: serde_json::Value| {
        format!("event: {name}\ndata: {data}\n\n").into_bytes()
    };
    let mut out = vec![event(
        "message_start",
        json!({"type": "message_start", "message": {"id": "msg_bench", "type": "message",
            "role": "assistant", "model": "mock-an-model", "content": [], "stop_reason": null,
            "stop_sequence": null, "usage": {"input_tokens": 1200, "output_tokens": 1}}}),
    )];
    out.push(event(
        "content_block_start",
        json!({"type": "content_block_start", "index": 0, "content_block": {"type": "text", "text": ""}}),
    ));
    for i in 1..=TEXT_DELTAS {
        out.push(event(
            "content_block_delta",
            json!({"type": "content_block_delta", "index": 0,
                "delta": {"type": "text_delta", "text": format!("tick{i} ")}}),
        ));
    }
    out.push(event(
        "content_block_stop",
        json!({"type": "content_block_stop", "index": 0}),
    ));
    out.push(event(
        "content_block_start",
        json!({"type": "content_block_start", "index": 1, "content_block": {"type": "tool_use",
            "id": "toolu_1", "name": "Read", "input": {}}}),
    ));
    let args = r#"{"file_path":"/home/dev/project/src/main.rs","limit":200}"#;
    for piece in args.as_bytes().chunks(5) {
        out.push(event(
            "content_block_delta",
            json!({"type": "content_block_delta", "index": 1,
                "delta": {"type": "input_json_delta", "partial_json": std::str::from_utf8(piece).unwrap()}}),
        ));
    }
    out.push(event(
        "content_block_stop",
        json!({"type": "content_block_stop", "index": 1}),
    ));
    out.push(event(
        "message_delta",
        json!({"type": "message_delta", "delta": {"stop_reason": "tool_use", "stop_sequence": null},
            "usage": {"output_tokens": 240}}),
    ));
    out.push(event("message_stop", json!({"type": "message_stop"})));
    out
}

fn report(name: &str, mut times: Vec<u64>, chunks: usize) {
    times.sort_unstable();
    let pct =
        |p: f64| times[((times.len() as f64 * p) as usize).min(times.len() - 1)] as f64 / 1000.0;
    println!(
        "{name}: {chunks} chunks per stream, {} pushes: p50 {:.2} µs, p99 {:.2} µs, max {:.1} µs",
        times.len(),
        pct(0.50),
        pct(0.99),
        pct(1.0),
    );
}

fn translate(name: &str, from: Dialect, to: Dialect, chunks: &[Vec<u8>]) {
    let ctx = || EncodeContext {
        id: "anvil_bench".to_owned(),
        model: String::new(),
        created: 1,
        include_usage: true,
    };
    // the stream must translate cleanly, and say something
    let mut out = Vec::new();
    let mut translator = StreamTranslator::new(from, to, ctx());
    for chunk in chunks {
        translator.push(chunk, &mut out).unwrap();
    }
    translator.finish(&mut out).unwrap();
    assert!(String::from_utf8_lossy(&out).contains("tick200"), "{name}");

    let mut times = Vec::with_capacity(STREAMS * chunks.len());
    for round in 0..STREAMS + 20 {
        let mut translator = StreamTranslator::new(from, to, ctx());
        let mut out = Vec::with_capacity(64 * 1024);
        for chunk in chunks {
            let t = Instant::now();
            black_box(translator.push(black_box(chunk), &mut out).unwrap());
            if round >= 20 {
                times.push(t.elapsed().as_nanos() as u64);
            }
        }
        black_box(translator.finish(&mut out).unwrap());
    }
    report(name, times, chunks.len());
}

fn tap(name: &str, dialect: Dialect, chunks: &[Vec<u8>]) {
    let mut times = Vec::with_capacity(STREAMS * chunks.len());
    let mut found = 0usize;
    for round in 0..STREAMS + 20 {
        let mut sse = SseDecoder::new();
        let mut decoder = stream_decoder(dialect);
        let mut events = Vec::new();
        let mut canonical = Vec::new();
        for chunk in chunks {
            let t = Instant::now();
            events.clear();
            sse.push(black_box(chunk), &mut events).unwrap();
            canonical.clear();
            for event in &events {
                decoder.decode(event, &mut canonical).unwrap();
            }
            found += black_box(canonical.len());
            if round >= 20 {
                times.push(t.elapsed().as_nanos() as u64);
            }
        }
    }
    assert!(found > 0);
    report(name, times, chunks.len());
}

fn main() {
    let chat = chat_stream();
    let anthropic = anthropic_stream();
    translate(
        "translate openai-chat -> anthropic, per chunk",
        Dialect::OpenAiChat,
        Dialect::Anthropic,
        &chat,
    );
    translate(
        "translate anthropic -> openai-chat, per chunk",
        Dialect::Anthropic,
        Dialect::OpenAiChat,
        &anthropic,
    );
    tap(
        "pass-through usage tap (anthropic), per chunk",
        Dialect::Anthropic,
        &anthropic,
    );
}
