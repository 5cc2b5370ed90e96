//! `cargo bench -p anvil-classify`: the time of one `classify` call on Claude Code requests as
//! they arrive (the 117 KB interactive main turn, and a ~200 KB mid-session variant with Read
//! results and a run of edits), reported as p50 / p99 / max over many calls.

#![allow(clippy::unwrap_used, clippy::print_stdout)] // a benchmark binary

use std::hint::black_box;
use std::path::Path;
use std::time::Instant;

use anvil_classify::{classify, estimate_prompt_tokens};
use anvil_dialects::canonical::LossyNotes;
use anvil_dialects::translate::AnyRequest;
use anvil_dialects::Dialect;
use serde_json::{json, Value};

fn capture(name: &str) -> Value {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../tests/fixtures/clients")
        .join(name);
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

/// The main turn grown into a mid-session request: the task, then Read results and Edits.
fn mid_session(mut body: Value) -> Value {
    let messages = body["messages"].as_array_mut().unwrap();
    messages[0]["content"][1]["text"] = json!(
        "rename the `Config` struct to `Settings` across the codebase and update all callers"
    );
    let source = "    let settings = Settings::load(&path)?; // keep callers in sync\n".repeat(120);
    for i in 0..12 {
        let path = format!("/home/dev/project/src/module_{i}.rs");
        messages.push(json!({"role": "assistant", "content": [
            {"type": "text", "text": "Reading the next module."},
            {"type": "tool_use", "id": format!("toolu_r{i}"), "name": "Read", "input": {"file_path": path}},
            {"type": "tool_use", "id": format!("toolu_e{i}"), "name": "Edit",
             "input": {"file_path": path, "old_string": "Config::load", "new_string": "Settings::load"}}
        ]}));
        messages.push(json!({"role": "user", "content": [
            {"type": "tool_result", "tool_use_id": format!("toolu_r{i}"), "content": source},
            {"type": "tool_result", "tool_use_id": format!("toolu_e{i}"), "content": format!("The file {path} has been updated.")}
        ]}));
    }
    body
}

fn measure(name: &str, body: &Value) {
    let bytes = serde_json::to_vec(body).unwrap();
    let request = AnyRequest::parse(Dialect::Anthropic, &bytes)
        .unwrap()
        .into_canonical(&mut LossyNotes::default());
    let c = classify(&request);
    for _ in 0..2_000 {
        black_box(classify(black_box(&request)));
    }
    let mut times: Vec<u128> = (0..20_000)
        .map(|_| {
            let t = Instant::now();
            black_box(classify(black_box(&request)));
            t.elapsed().as_nanos()
        })
        .collect();
    times.sort_unstable();
    let pct =
        |p: f64| times[((times.len() as f64 * p) as usize).min(times.len() - 1)] as f64 / 1000.0;
    let t = Instant::now();
    black_box(estimate_prompt_tokens(black_box(&request)));
    let estimate = t.elapsed().as_nanos() as f64 / 1000.0;
    println!(
        "{name}: {} KB, {} messages, {} tools -> {} ({:.2}); classify p50 {:.1} µs, p99 {:.1} µs, max {:.1} µs; estimate_prompt_tokens {:.1} µs",
        bytes.len() / 1024,
        request.messages.len(),
        request.tools.len(),
        c.work_class.as_str(),
        c.confidence,
        pct(0.50),
        pct(0.99),
        pct(1.0),
        estimate,
    );
}

fn main() {
    let main_turn = capture("claude-code-2.1.197_interactive_main-turn.json")["body_json"].clone();
    measure("claude-code main turn", &main_turn);
    measure("claude-code mid-session", &mid_session(main_turn.clone()));
    // Worst case for the cue scan: a long human text of prose (no code fence to skip).
    let mut pasted = main_turn;
    pasted["messages"][0]["content"][1]["text"] = json!(
        "We discussed the rollout in the meeting; these are the notes, please turn them into tasks. "
            .repeat(400)
    );
    measure("claude-code 36 KB pasted prose", &pasted);
}
