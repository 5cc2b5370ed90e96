//! `cargo bench -p anvil-verify`: the time of one `verify` call (every check on) over a 64 KB
//! answer with tool calls (Edits against files the conversation read, a Write, prose and fenced
//! Rust/Python/JSON blocks), answering a mid-session Claude Code request; p50 / p99 / max. Two
//! shapes: 24 KB of text full of fenced code (tree-sitter parsing dominates) and a tool-heavy turn
//! (2 KB of text, the rest in Edit/Write arguments), each with a per-check breakdown.

#![allow(missing_docs, clippy::unwrap_used, clippy::print_stdout)] // a benchmark binary

use std::hint::black_box;
use std::path::Path;
use std::time::Instant;

use anvil_dialects::canonical::{LossyNotes, Part, Response, StopReason, Usage};
use anvil_dialects::translate::AnyRequest;
use anvil_dialects::Dialect;
use anvil_verify::{verify, Checks};
use serde_json::{json, Value};

fn capture(name: &str) -> Value {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../tests/fixtures/clients")
        .join(name);
    let v: Value = serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    v["body_json"].clone()
}

fn source(i: usize) -> String {
    (0..150)
        .map(|l| format!("    let value_{l} = settings.load_{i}_{l}(&path)?; // line {l}\n"))
        .collect()
}

fn numbered(s: &str) -> String {
    s.lines()
        .enumerate()
        .map(|(n, l)| format!("{:>6}→{l}\n", n + 1))
        .collect()
}

fn main() {
    let mut body = capture("claude-code-2.1.197_tool-loop_2-with-tool-result.json");
    let messages = body["messages"].as_array_mut().unwrap();
    for i in 0..8 {
        let path = format!("/home/dev/project/src/module_{i}.rs");
        messages.push(json!({"role": "assistant", "content": [
            {"type": "tool_use", "id": format!("toolu_r{i}"), "name": "Read", "input": {"file_path": path}}
        ]}));
        messages.push(json!({"role": "user", "content": [
            {"type": "tool_result", "tool_use_id": format!("toolu_r{i}"), "content": numbered(&source(i))}
        ]}));
    }
    let bytes = serde_json::to_vec(&body).unwrap();
    let request = AnyRequest::parse(Dialect::Anthropic, &bytes)
        .unwrap()
        .into_canonical(&mut LossyNotes::default());

    let code_heavy = build_answer(24 * 1024, 5);
    let tool_heavy = build_answer(2 * 1024, 7);
    for (label, answer) in [
        ("code-heavy text", &code_heavy),
        ("tool-heavy", &tool_heavy),
    ] {
        run(label, &request, answer, bytes.len());
    }
}

/// An answer of `text_bytes` of prose with fenced Rust/Python/JSON blocks, eight Edits and a
/// Write of `written_files` files.
fn build_answer(text_bytes: usize, written_files: usize) -> Response {
    let mut text = String::new();
    let mut k = 0;
    while text.len() < text_bytes {
        text.push_str(&format!(
            "Step {k}: the loader in module {k} reads the settings twice; the change below keeps one read and passes the value on.\n\n```rust\nfn load_{k}(path: &Path) -> Result<Settings, Error> {{\n    let raw = std::fs::read_to_string(path)?;\n    let settings: Settings = toml::from_str(&raw)?;\n    Ok(settings)\n}}\n```\n\n```python\ndef load_{k}(path):\n    with open(path) as f:\n        return tomllib.loads(f.read())\n```\n\n```json\n{{\"step\": {k}, \"files\": [\"src/module_{k}.rs\"], \"ok\": true}}\n```\n\n"
        ));
        k += 1;
    }
    let mut content = vec![Part::Text {
        text,
        cache_control: None,
    }];
    for i in 0..8 {
        let args = json!({
            "file_path": format!("/home/dev/project/src/module_{i}.rs"),
            "old_string": format!("    let value_7 = settings.load_{i}_7(&path)?; // line 7"),
            "new_string": format!("    let value_7 = settings.load_{i}_7(&path).context(\"load\")?; // line 7"),
        });
        content.push(Part::ToolUse {
            id: format!("toolu_e{i}"),
            name: "Edit".into(),
            arguments: args.to_string(),
            cache_control: None,
        });
    }
    let written: String = (0..written_files).map(source).collect();
    content.push(Part::ToolUse {
        id: "toolu_w".into(),
        name: "Write".into(),
        arguments: json!({"file_path": "/home/dev/project/src/all.rs", "content": written})
            .to_string(),
        cache_control: None,
    });
    Response {
        id: "msg_bench".into(),
        model: "local".into(),
        content,
        stop_reason: Some(StopReason::ToolUse),
        stop_sequence: None,
        usage: Usage {
            input_tokens: 30_000,
            output_tokens: 16_000,
            ..Usage::default()
        },
    }
}

fn run(
    label: &str,
    request: &anvil_dialects::canonical::Request,
    answer: &Response,
    request_len: usize,
) {
    let size: usize = answer
        .content
        .iter()
        .map(|p| match p {
            Part::Text { text, .. } => text.len(),
            Part::ToolUse { arguments, .. } => arguments.len(),
            _ => 0,
        })
        .sum();
    let v = verify(request, answer, &Checks::default());
    assert!(v.passed, "{:?}", v.failures);
    let all = Checks::default();
    let off = Checks {
        empty: false,
        truncated: false,
        thinking_starved: false,
        unknown_tool: false,
        tool_args_json: false,
        tool_args_schema: false,
        tool_call_as_text: false,
        edit_applies: false,
        code_parses: false,
        degenerate_repetition: false,
        refusal: false,
        logprob_floor: None,
    };
    println!("{label}:");
    measure("  all checks", request, answer, &all, size, request_len);
    let only: [(&str, Checks); 5] = [
        (
            "  tool calls + schemas only",
            Checks {
                unknown_tool: true,
                tool_args_json: true,
                tool_args_schema: true,
                ..off.clone()
            },
        ),
        (
            "  edits only",
            Checks {
                edit_applies: true,
                ..off.clone()
            },
        ),
        (
            "  code blocks only",
            Checks {
                code_parses: true,
                ..off.clone()
            },
        ),
        (
            "  repetition only",
            Checks {
                degenerate_repetition: true,
                ..off.clone()
            },
        ),
        (
            "  tool call as text only",
            Checks {
                tool_call_as_text: true,
                ..off.clone()
            },
        ),
    ];
    for (name, checks) in &only {
        measure(name, request, answer, checks, size, request_len);
    }
}

fn measure(
    name: &str,
    request: &anvil_dialects::canonical::Request,
    answer: &Response,
    checks: &Checks,
    size: usize,
    request_len: usize,
) {
    for _ in 0..200 {
        black_box(verify(black_box(request), black_box(answer), checks));
    }
    let mut times: Vec<u128> = (0..3_000)
        .map(|_| {
            let t = Instant::now();
            black_box(verify(black_box(request), black_box(answer), checks));
            t.elapsed().as_nanos()
        })
        .collect();
    times.sort_unstable();
    let pct =
        |p: f64| times[((times.len() as f64 * p) as usize).min(times.len() - 1)] as f64 / 1000.0;
    println!(
        "{name}: {} KB answer, {} tool calls, {} KB request; p50 {:.1} µs, p99 {:.1} µs, max {:.1} µs",
        size / 1024,
        answer.content.len() - 1,
        request_len / 1024,
        pct(0.50),
        pct(0.99),
        pct(1.0),
    );
}
