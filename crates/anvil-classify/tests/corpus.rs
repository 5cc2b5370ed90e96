//! The labeled corpus (tests/corpus/corpus.json, written by tests/corpus/generate.py): real client
//! captures and variations of them, each with the work class a human gives it. Every request goes
//! through its dialect's parser and `to_canonical`, then `classify`; the test prints the confusion
//! matrix and holds the classifier to ≥ 90% agreement and to never calling planning or refactoring
//! light work with confidence.

#![allow(clippy::unwrap_used, clippy::panic)] // test helpers outside #[test] fns

use std::path::{Path, PathBuf};

use anvil_classify::classify;
use anvil_config::WorkClass;
use anvil_dialects::canonical::LossyNotes;
use anvil_dialects::translate::AnyRequest;
use anvil_dialects::Dialect;
use serde_json::Value;

fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn dialect_of(path: &str) -> Dialect {
    if path.contains("/chat/completions") {
        Dialect::OpenAiChat
    } else if path.contains("/responses") {
        Dialect::Responses
    } else if path.contains("/messages") {
        Dialect::Anthropic
    } else {
        panic!("no dialect for {path}")
    }
}

/// Expands `{"$repeat": s, "times": n}` and `{"$concat": [...]}` into strings, recursively.
fn expand(v: &Value) -> Value {
    match v {
        Value::Object(o) if o.contains_key("$repeat") => {
            let s = o["$repeat"].as_str().unwrap();
            let n = o["times"].as_u64().unwrap() as usize;
            Value::String(s.repeat(n))
        }
        Value::Object(o) if o.contains_key("$concat") => {
            let mut out = String::new();
            for part in o["$concat"].as_array().unwrap() {
                match expand(part) {
                    Value::String(s) => out.push_str(&s),
                    other => panic!("$concat of a non-string: {other}"),
                }
            }
            Value::String(out)
        }
        Value::Object(o) => Value::Object(o.iter().map(|(k, x)| (k.clone(), expand(x))).collect()),
        Value::Array(a) => Value::Array(a.iter().map(expand).collect()),
        other => other.clone(),
    }
}

/// Splits a JSON pointer into (parent pointer, last token).
fn split(pointer: &str) -> (&str, &str) {
    let at = pointer.rfind('/').unwrap();
    (&pointer[..at], &pointer[at + 1..])
}

fn apply(body: &mut Value, op: &Value, id: &str) {
    if let Some(ptr) = op.get("set").and_then(Value::as_str) {
        let value = expand(&op["value"]);
        let (parent, key) = split(ptr);
        let parent = body
            .pointer_mut(parent)
            .unwrap_or_else(|| panic!("{id}: no {parent}"));
        match parent {
            Value::Object(o) => {
                o.insert(key.to_owned(), value);
            }
            Value::Array(a) => {
                let i: usize = key.parse().unwrap();
                assert!(i < a.len(), "{id}: {ptr} out of range");
                a[i] = value;
            }
            _ => panic!("{id}: {ptr} is not in a container"),
        }
    } else if let Some(ptr) = op.get("truncate").and_then(Value::as_str) {
        let len = op["len"].as_u64().unwrap() as usize;
        let a = body
            .pointer_mut(ptr)
            .and_then(Value::as_array_mut)
            .unwrap_or_else(|| panic!("{id}: {ptr} is not an array"));
        assert!(
            len <= a.len(),
            "{id}: truncate {ptr} to {len} > {}",
            a.len()
        );
        a.truncate(len);
    } else if let Some(ptr) = op.get("append").and_then(Value::as_str) {
        let items = expand(&op["items"]);
        let a = body
            .pointer_mut(ptr)
            .and_then(Value::as_array_mut)
            .unwrap_or_else(|| panic!("{id}: {ptr} is not an array"));
        a.extend(items.as_array().unwrap().iter().cloned());
    } else {
        panic!("{id}: unknown op {op}");
    }
}

struct Sample {
    id: String,
    label: WorkClass,
    request: anvil_dialects::canonical::Request,
}

fn load() -> Vec<Sample> {
    let root = repo_root();
    let text = std::fs::read_to_string(root.join("crates/anvil-classify/tests/corpus/corpus.json"))
        .unwrap();
    let corpus: Value = serde_json::from_str(&text).unwrap();
    let mut out = Vec::new();
    for c in corpus["cases"].as_array().unwrap() {
        let id = c["id"].as_str().unwrap().to_owned();
        let base = c["base"].as_str().unwrap();
        let capture: Value = serde_json::from_str(
            &std::fs::read_to_string(root.join("tests/fixtures/clients").join(base)).unwrap(),
        )
        .unwrap();
        let dialect = dialect_of(capture["path"].as_str().unwrap());
        let mut body = capture["body_json"].clone();
        for op in c["ops"].as_array().unwrap() {
            apply(&mut body, op, &id);
        }
        let bytes = serde_json::to_vec(&body).unwrap();
        let parsed = AnyRequest::parse(dialect, &bytes)
            .unwrap_or_else(|e| panic!("{id}: {base} no longer parses: {e}"));
        let mut notes = LossyNotes::default();
        let request = parsed.to_canonical(&mut notes);
        let label = WorkClass::from_name(c["label"].as_str().unwrap())
            .unwrap_or_else(|| panic!("{id}: bad label"));
        out.push(Sample { id, label, request });
    }
    out
}

fn index(w: WorkClass) -> usize {
    WorkClass::ALL.iter().position(|x| *x == w).unwrap()
}

#[test]
fn corpus_accuracy_and_confusion_matrix() {
    let samples = load();
    assert!(samples.len() >= 200, "only {} samples", samples.len());
    for w in WorkClass::ALL {
        let n = samples.iter().filter(|s| s.label == w).count();
        assert!(n >= 25, "{} has only {n} samples", w.as_str());
    }

    let mut matrix = [[0u32; 6]; 6];
    let mut correct = 0usize;
    let (mut held_out, mut held_out_correct) = (0usize, 0usize);
    let mut dangerous = Vec::new();
    let mut misses = Vec::new();
    for s in &samples {
        let c = classify(&s.request);
        matrix[index(s.label)][index(c.work_class)] += 1;
        let held = s.id.contains("-heldout-");
        held_out += usize::from(held);
        if c.work_class == s.label {
            correct += 1;
            held_out_correct += usize::from(held);
        } else {
            misses.push(format!(
                "  {} labeled {} got {} ({:.2}) intent={:?} signals={}",
                s.id,
                s.label.as_str(),
                c.work_class.as_str(),
                c.confidence,
                c.signals.intent,
                serde_json::to_string(&c.signals).unwrap()
            ));
        }
        if matches!(s.label, WorkClass::Planning | WorkClass::MultiFileRefactor)
            && matches!(c.work_class, WorkClass::Chat | WorkClass::BoundedEdit)
            && c.confidence >= 0.7
        {
            dangerous.push(format!("{} ({:.2})", s.id, c.confidence));
        }
    }
    let accuracy = correct as f64 / samples.len() as f64;

    let short = ["chat", "edit", "refac", "plan", "review", "long"];
    println!("\nconfusion matrix (rows: label, columns: classified)");
    print!("{:>8}", "");
    for s in short {
        print!("{s:>8}");
    }
    println!("{:>8}", "n");
    for (i, row) in matrix.iter().enumerate() {
        print!("{:>8}", short[i]);
        for n in row {
            print!("{n:>8}");
        }
        println!("{:>8}", row.iter().sum::<u32>());
    }
    println!(
        "accuracy: {correct}/{} = {:.1}%",
        samples.len(),
        accuracy * 100.0
    );
    println!(
        "held-out subset (texts written after the cue table was frozen): {held_out_correct}/{held_out}"
    );
    if !misses.is_empty() {
        println!("misclassified:\n{}", misses.join("\n"));
    }

    assert!(accuracy >= 0.90, "accuracy {accuracy:.3} < 0.90");
    assert!(
        dangerous.is_empty(),
        "planning/refactor classified as chat/bounded-edit with confidence >= 0.7: {dangerous:?}"
    );
}

#[test]
fn real_captures_fingerprint() {
    use anvil_classify::{AiderEditFormat, Harness, Utility};
    let root = repo_root();
    let cases = [
        (
            "claude-code-2.1.197_interactive_main-turn.json",
            Harness::ClaudeCodeMain,
        ),
        (
            "claude-code-2.1.197_p-hello_api-key.json",
            Harness::ClaudeCodeMain,
        ),
        (
            "claude-code-2.1.197_tool-loop_2-with-tool-result.json",
            Harness::ClaudeCodeMain,
        ),
        (
            "claude-code-2.1.197_after-subagent-tool-result.json",
            Harness::ClaudeCodeMain,
        ),
        (
            "claude-code-2.1.197_subagent_sub-model.json",
            Harness::ClaudeCodeSubagent,
        ),
        (
            "claude-code-2.1.197_interactive_title-generation.json",
            Harness::ClaudeCodeUtility {
                utility: Utility::Title,
            },
        ),
        (
            "codex-0.171.0_exec-hello_custom-provider-responses.json",
            Harness::Codex,
        ),
        (
            "codex-0.171.0_exec-tool-loop_2-with-function-call-output.json",
            Harness::Codex,
        ),
        (
            "aider-0.86.2_main-model-stream.json",
            Harness::Aider {
                edit_format: AiderEditFormat::Whole,
            },
        ),
        (
            "aider-0.86.2_weak-model-commit-message.json",
            Harness::AiderUtility {
                utility: Utility::CommitMessage,
            },
        ),
        ("anthropic-python-2.14.0_messages-create.json", Harness::Sdk),
        ("openai-python-3.57.0_responses-stream.json", Harness::Sdk),
        ("litellm-1.110.2_anthropic-provider.json", Harness::Sdk),
    ];
    for (file, want) in cases {
        let capture: Value = serde_json::from_str(
            &std::fs::read_to_string(root.join("tests/fixtures/clients").join(file)).unwrap(),
        )
        .unwrap();
        let dialect = dialect_of(capture["path"].as_str().unwrap());
        let bytes = serde_json::to_vec(&capture["body_json"]).unwrap();
        let parsed = AnyRequest::parse(dialect, &bytes).unwrap();
        let request = parsed.to_canonical(&mut LossyNotes::default());
        let c = classify(&request);
        assert_eq!(c.signals.harness, want, "{file}");
    }
}

#[test]
fn real_captures_read_the_conversation() {
    let root = repo_root();
    // (capture, work class, human text bytes, tool calls since the human text)
    let cases = [
        (
            "claude-code-2.1.197_interactive_main-turn.json",
            WorkClass::Chat,
            29,
            0,
        ),
        (
            "claude-code-2.1.197_tool-loop_2-with-tool-result.json",
            WorkClass::Chat,
            25,
            1,
        ),
        (
            "codex-0.171.0_exec-tool-loop_2-with-function-call-output.json",
            WorkClass::Chat,
            17,
            1,
        ),
        (
            "aider-0.86.2_main-model-stream.json",
            WorkClass::BoundedEdit,
            15,
            0,
        ),
        (
            "aider-0.86.2_weak-model-commit-message.json",
            WorkClass::Chat,
            206,
            0,
        ),
    ];
    for (file, class, human_bytes, calls) in cases {
        let capture: Value = serde_json::from_str(
            &std::fs::read_to_string(root.join("tests/fixtures/clients").join(file)).unwrap(),
        )
        .unwrap();
        let dialect = dialect_of(capture["path"].as_str().unwrap());
        let bytes = serde_json::to_vec(&capture["body_json"]).unwrap();
        let request = AnyRequest::parse(dialect, &bytes)
            .unwrap()
            .to_canonical(&mut LossyNotes::default());
        let c = classify(&request);
        assert_eq!(c.work_class, class, "{file}: {:?}", c.signals);
        assert_eq!(c.signals.human_text_bytes, human_bytes, "{file}");
        assert_eq!(c.signals.tool_calls_since_human, calls, "{file}");
        // Claude Code's harness overhead alone is tens of thousands of tokens
        if file.starts_with("claude-code") {
            assert!(
                c.signals.prompt_tokens > 15_000,
                "{file}: {}",
                c.signals.prompt_tokens
            );
        }
    }
}
