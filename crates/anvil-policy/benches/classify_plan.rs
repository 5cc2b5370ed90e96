//! `cargo bench -p anvil-policy`: what the router spends deciding a route for a Claude Code
//! request of about 200 KB (the interactive main turn grown into a mid-session request with Read
//! results and a run of edits): Tier-0 classification, the prompt-token estimate, intent resolution
//! and the plan, over the shipped cloud example config and the seed profile; then the same with the
//! body's decoding (typed model + canonical request) included. Reports p50 / p99 / max.
//! Issue 4's target: ≤ 50 µs p99.

#![allow(clippy::unwrap_used, clippy::print_stdout)] // a benchmark binary

use std::hint::black_box;
use std::path::Path;
use std::time::Instant;

use anvil_classify::{classify, estimate_prompt_tokens};
use anvil_dialects::canonical::LossyNotes;
use anvil_dialects::translate::AnyRequest;
use anvil_dialects::Dialect;
use anvil_policy::{plan, resolve_intent, Hints, Needs, PlanInput, ProfileSnapshot};
use serde_json::{json, Value};

fn repo(path: &str) -> std::path::PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .join(path)
}

fn mid_session(mut body: Value) -> Value {
    let messages = body["messages"].as_array_mut().unwrap();
    messages[0]["content"][1]["text"] = json!(
        "rename the `Config` struct to `Settings` across the codebase and update all callers"
    );
    let source = "    let settings = Settings::load(&path)?; // keep callers in sync\n".repeat(120);
    for i in 0..12 {
        let path = format!("/home/dev/project/src/module_{i}.rs");
        messages.push(json!({"role": "assistant", "content": [
            {"type": "tool_use", "id": format!("toolu_r{i}"), "name": "Read", "input": {"file_path": path}},
            {"type": "tool_use", "id": format!("toolu_e{i}"), "name": "Edit",
             "input": {"file_path": path, "old_string": "Config::load", "new_string": "Settings::load"}}
        ]}));
        messages.push(json!({"role": "user", "content": [
            {"type": "tool_result", "tool_use_id": format!("toolu_r{i}"), "content": source},
            {"type": "tool_result", "tool_use_id": format!("toolu_e{i}"), "content": "updated"}
        ]}));
    }
    body
}

fn main() {
    let capture: Value = serde_json::from_str(
        &std::fs::read_to_string(repo(
            "tests/fixtures/clients/claude-code-2.1.197_interactive_main-turn.json",
        ))
        .unwrap(),
    )
    .unwrap();
    let body = mid_session(capture["body_json"].clone());
    let bytes = serde_json::to_vec(&body).unwrap();
    let request = AnyRequest::parse(Dialect::Anthropic, &bytes)
        .unwrap()
        .into_canonical(&mut LossyNotes::default());
    let config = anvil_config::parse(
        &std::fs::read_to_string(repo("configs/example-with-cloud.toml")).unwrap(),
    )
    .unwrap()
    .router;
    let profile = ProfileSnapshot::new();
    let hints = Hints::default();
    let bound = vec![true; config.tiers.len()];
    let decide_on = |request: &anvil_dialects::canonical::Request| {
        let verdict = classify(request);
        let intent = resolve_intent(&config, &request.model, &hints);
        plan(&PlanInput {
            config: &config,
            intent: &intent,
            hints: &hints,
            work_class: verdict.work_class,
            confidence: verdict.confidence,
            needs: Needs {
                prompt_tokens: estimate_prompt_tokens(request),
                max_output_tokens: request.max_tokens.unwrap_or(4096),
                tools: !request.tools.is_empty(),
                images: false,
            },
            profile: &profile,
            open_breakers: &[],
            cold: &[],
            resident: None,
            bound: &bound,
            session_budget: None,
        })
    };
    let decide = || decide_on(&request);
    // What the router does per request before the plan: decode the body into the typed model and
    // the canonical request, then classify and plan.
    let decode_and_decide = || {
        let request = AnyRequest::parse(Dialect::Anthropic, &bytes)
            .unwrap()
            .into_canonical(&mut LossyNotes::default());
        decide_on(&request)
    };
    let first = decide();
    for _ in 0..2_000 {
        black_box(decide());
    }
    let mut times: Vec<u128> = (0..20_000)
        .map(|_| {
            let t = Instant::now();
            black_box(decide());
            t.elapsed().as_nanos()
        })
        .collect();
    times.sort_unstable();
    let pct =
        |p: f64| times[((times.len() as f64 * p) as usize).min(times.len() - 1)] as f64 / 1000.0;
    for _ in 0..50 {
        black_box(decode_and_decide());
    }
    let mut decode_times: Vec<u128> = (0..2_000)
        .map(|_| {
            let t = Instant::now();
            black_box(decode_and_decide());
            t.elapsed().as_nanos()
        })
        .collect();
    decode_times.sort_unstable();
    let decode_pct = |p: f64| {
        decode_times[((decode_times.len() as f64 * p) as usize).min(decode_times.len() - 1)] as f64
            / 1000.0
    };
    println!(
        "classify + estimate + intent + plan, {} KB Claude Code request -> {} ({} candidate(s), first {:?}): p50 {:.1} µs, p99 {:.1} µs, max {:.1} µs",
        bytes.len() / 1024,
        first.work_class.as_str(),
        first.candidates.len(),
        first.candidates.first().map(|c| c.tier.as_str()),
        pct(0.50),
        pct(0.99),
        pct(1.0),
    );
    println!(
        "decode (typed + canonical) + classify + estimate + intent + plan, same request: p50 {:.1} µs, p99 {:.1} µs, max {:.1} µs",
        decode_pct(0.50),
        decode_pct(0.99),
        decode_pct(1.0),
    );
}
