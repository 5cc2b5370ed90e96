//! Golden answers: for each check, realistic broken answers (each must be caught by that check) and
//! realistic good answers (none may be rejected), asked by requests built from the captured Claude
//! Code, Codex and aider requests in tests/fixtures/clients.

#![allow(clippy::unwrap_used)] // test helpers outside #[test] fns

use std::path::Path;

use anvil_dialects::canonical::{LossyNotes, Part, Request, Response, StopReason, Usage};
use anvil_dialects::translate::AnyRequest;
use anvil_dialects::Dialect;
use anvil_verify::{verify, verify_logprobs, CheckKind, Checks};
use serde_json::{json, Value};

fn capture(name: &str) -> Value {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../tests/fixtures/clients")
        .join(name);
    let v: Value = serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    v["body_json"].clone()
}

fn canonical(dialect: Dialect, body: &Value) -> Request {
    let bytes = serde_json::to_vec(body).unwrap();
    AnyRequest::parse(dialect, &bytes)
        .unwrap()
        .to_canonical(&mut LossyNotes::default())
}

const CONFIG_RS: &str = "use std::path::Path;\n\npub struct Config {\n    pub port: u16,\n    pub name: String,\n}\n\nimpl Config {\n    pub fn load(path: &Path) -> anyhow::Result<Config> {\n        let raw = std::fs::read_to_string(path)?;\n        Ok(toml::from_str(&raw)?)\n    }\n}\n";

/// Claude Code, mid-loop: the captured tool-loop turn plus a `Read` of src/config.rs (numbered the
/// way Claude Code numbers it).
fn claude_code() -> Request {
    let mut body = capture("claude-code-2.1.197_tool-loop_2-with-tool-result.json");
    let numbered: String = CONFIG_RS
        .lines()
        .enumerate()
        .map(|(n, l)| format!("{:>6}→{l}\n", n + 1))
        .collect();
    let messages = body["messages"].as_array_mut().unwrap();
    messages.push(json!({"role": "assistant", "content": [
        {"type": "text", "text": "Let me look at the config loader."},
        {"type": "tool_use", "id": "toolu_read1", "name": "Read",
         "input": {"file_path": "/home/dev/project/src/config.rs"}}
    ]}));
    messages.push(json!({"role": "user", "content": [
        {"type": "tool_result", "tool_use_id": "toolu_read1", "content": numbered}
    ]}));
    canonical(Dialect::Anthropic, &body)
}

/// Claude Code after a Read of only lines 1–4 of src/config.rs, with the system reminder Claude
/// Code appends to Read results.
fn claude_code_partial_read() -> Request {
    let mut body = capture("claude-code-2.1.197_tool-loop_2-with-tool-result.json");
    let shown: String = CONFIG_RS
        .lines()
        .take(4)
        .enumerate()
        .map(|(n, l)| format!("{:>6}→{l}\n", n + 1))
        .collect();
    let messages = body["messages"].as_array_mut().unwrap();
    messages.push(json!({"role": "assistant", "content": [
        {"type": "tool_use", "id": "toolu_read2", "name": "Read",
         "input": {"file_path": "/home/dev/project/src/config.rs", "offset": 1, "limit": 4}}
    ]}));
    messages.push(json!({"role": "user", "content": [
        {"type": "tool_result", "tool_use_id": "toolu_read2",
         "content": format!("{shown}\n<system-reminder>\nWhenever you read a file, consider whether it looks malicious.\n</system-reminder>\n")}
    ]}));
    canonical(Dialect::Anthropic, &body)
}

/// Codex, mid-loop: the captured tool loop plus `cat src/config.rs` through `exec_command`.
fn codex() -> Request {
    let mut body = capture("codex-0.171.0_exec-tool-loop_2-with-function-call-output.json");
    let input = body["input"].as_array_mut().unwrap();
    input.push(json!({"type": "function_call", "name": "exec_command",
        "arguments": "{\"cmd\":\"cat src/config.rs\"}", "call_id": "call_cat1"}));
    input.push(json!({"type": "function_call_output", "call_id": "call_cat1",
        "output": format!("Chunk ID: 1a2b3c\nWall time: 0.0010 seconds\nProcess exited with code 0\nOriginal token count: 90\nOutput:\n{CONFIG_RS}")}));
    canonical(Dialect::Responses, &body)
}

/// aider: the captured main-model turn (hello.py is in the chat).
fn aider() -> Request {
    canonical(
        Dialect::OpenAiChat,
        &capture("aider-0.86.2_main-model-stream.json"),
    )
}

fn text(t: &str) -> Part {
    Part::Text {
        text: t.to_owned(),
        cache_control: None,
    }
}

fn call(name: &str, args: &str) -> Part {
    Part::ToolUse {
        id: format!("call_{name}"),
        name: name.to_owned(),
        arguments: args.to_owned(),
        cache_control: None,
    }
}

fn thinking(t: &str) -> Part {
    Part::Thinking {
        text: t.to_owned(),
        signature: None,
    }
}

fn answer(content: Vec<Part>, stop: StopReason, output_tokens: u64) -> Response {
    Response {
        id: "msg_golden".into(),
        model: "local-model".into(),
        content,
        stop_reason: Some(stop),
        stop_sequence: None,
        usage: Usage {
            input_tokens: 2_000,
            output_tokens,
            ..Usage::default()
        },
    }
}

struct Case {
    name: &'static str,
    request: Request,
    answer: Response,
    /// The check that must catch it; `None` for a good answer.
    caught_by: Option<CheckKind>,
}

fn case(
    name: &'static str,
    request: Request,
    answer: Response,
    caught_by: Option<CheckKind>,
) -> Case {
    Case {
        name,
        request,
        answer,
        caught_by,
    }
}

fn prose(n: usize) -> String {
    (0..n)
        .map(|i| format!("Point {i}: the loader reads file {i} once and returns early on error."))
        .collect::<Vec<_>>()
        .join("\n")
}

fn cases() -> Vec<Case> {
    use CheckKind as K;
    use StopReason::{EndTurn, MaxTokens, ToolUse};
    let edit_ok = json!({"file_path": "/home/dev/project/src/config.rs",
        "old_string": "        let raw = std::fs::read_to_string(path)?;",
        "new_string": "        let raw = std::fs::read_to_string(path).context(\"read config\")?;"})
    .to_string();
    let patch = |old: &str| {
        json!({"cmd": format!("apply_patch <<'EOF'\n*** Begin Patch\n*** Update File: src/config.rs\n@@ impl Config {{\n     pub fn load(path: &Path) -> anyhow::Result<Config> {{\n-{old}\n+        let raw = std::fs::read_to_string(path).context(\"read\")?;\n         Ok(toml::from_str(&raw)?)\n*** End Patch\nEOF")}).to_string()
    };
    let search_replace = |search: &str| {
        format!("To make it say hey:\n\nhello.py\n```python\n<<<<<<< SEARCH\n{search}\n=======\nprint(\"hey\")\n>>>>>>> REPLACE\n```\n")
    };
    vec![
        // empty
        case("cc: nothing at all", claude_code(), answer(vec![], EndTurn, 0), Some(K::Empty)),
        case("codex: whitespace only", codex(), answer(vec![text("\n\n  ")], EndTurn, 2), Some(K::Empty)),
        case("cc: a short text answer", claude_code(), answer(vec![text("Done.")], EndTurn, 3), None),
        case("codex: a tool call and no text", codex(), answer(vec![call("exec_command", r#"{"cmd":"cargo test"}"#)], ToolUse, 20), None),
        // truncated
        case("cc: cut off mid-sentence", claude_code(), answer(vec![text("The loader reads the file and then")], MaxTokens, 4096), Some(K::Truncated)),
        case("aider: cut off listing", aider(), answer(vec![text("hello.py\n```\nprint(\"he")], MaxTokens, 4096), Some(K::Truncated)),
        case("aider: full file listing", aider(), answer(vec![text("hello.py\n```python\nprint(\"hey\")\n```\n")], EndTurn, 20), None),
        case("cc: tool call stop", claude_code(), answer(vec![text("Running the tests."), call("Bash", r#"{"command":"cargo test","description":"Run the tests"}"#)], ToolUse, 40), None),
        // thinking starved
        case("cc: thinking ran to the limit", claude_code(), answer(vec![thinking(&"Let me consider the loader. ".repeat(50))], MaxTokens, 64_000), Some(K::ThinkingStarved)),
        case("codex: reasoning used the whole budget", codex(), Response { usage: Usage { input_tokens: 9_000, output_tokens: 128_000, reasoning_tokens: Some(128_000), ..Usage::default() }, ..answer(vec![thinking("**Planning the fix**")], MaxTokens, 128_000) }, Some(K::ThinkingStarved)),
        case("cc: thinking then text", claude_code(), answer(vec![thinking("The loader is fine."), text("The config loader already handles missing files.")], EndTurn, 300), None),
        case("cc: thinking then a tool call", claude_code(), answer(vec![thinking("Need to read main.rs."), call("Read", r#"{"file_path":"/home/dev/project/src/main.rs"}"#)], ToolUse, 200), None),
        // unknown tool
        case("cc: apply_patch is not a Claude Code tool", claude_code(), answer(vec![call("apply_patch", r#"{"input":"*** Begin Patch\n*** End Patch"}"#)], ToolUse, 30), Some(K::UnknownTool)),
        case("codex: Claude Code's Bash offered to Codex", codex(), answer(vec![call("Bash", r#"{"command":"ls"}"#)], ToolUse, 10), Some(K::UnknownTool)),
        case("cc: Grep-less Bash call", claude_code(), answer(vec![call("Bash", r#"{"command":"grep -rn Config src","description":"Find Config uses"}"#)], ToolUse, 30), None),
        case("codex: exec_command", codex(), answer(vec![call("exec_command", r#"{"cmd":"rg -n Config src"}"#)], ToolUse, 20), None),
        // tool args json
        case("codex: arguments cut off", codex(), answer(vec![call("exec_command", r#"{"cmd": "cargo test --workspace"#)], ToolUse, 12), Some(K::ToolArgsJson)),
        case("cc: python-style dict", claude_code(), answer(vec![call("Read", "{'file_path': '/home/dev/project/src/main.rs'}")], ToolUse, 12), Some(K::ToolArgsJson)),
        case("cc: Read with limit", claude_code(), answer(vec![call("Read", r#"{"file_path":"/home/dev/project/src/main.rs","offset":10,"limit":40}"#)], ToolUse, 20), None),
        case("codex: exec_command with workdir", codex(), answer(vec![call("exec_command", r#"{"cmd":"cargo build","workdir":"/home/dev/project"}"#)], ToolUse, 20), None),
        // tool args schema
        case("cc: Edit without new_string", claude_code(), answer(vec![call("Edit", r#"{"file_path":"/home/dev/project/src/config.rs","old_string":"pub port: u16,"}"#)], ToolUse, 20), Some(K::ToolArgsSchema)),
        case("cc: Read with a numeric path", claude_code(), answer(vec![call("Read", r#"{"file_path":42}"#)], ToolUse, 10), Some(K::ToolArgsSchema)),
        case("codex: cmd as an array", codex(), answer(vec![call("exec_command", r#"{"cmd":["cargo","test"]}"#)], ToolUse, 10), Some(K::ToolArgsSchema)),
        case("cc: a valid Edit", claude_code(), answer(vec![call("Edit", &edit_ok)], ToolUse, 60), None),
        case("cc: a valid Write", claude_code(), answer(vec![call("Write", r#"{"file_path":"/home/dev/project/src/lib.rs","content":"pub mod config;\n"}"#)], ToolUse, 30), None),
        // tool call as text
        case("cc: <tool_call> markup", claude_code(), answer(vec![text("<tool_call>\n{\"name\": \"Read\", \"arguments\": {\"file_path\": \"/home/dev/project/src/main.rs\"}}\n</tool_call>")], EndTurn, 40), Some(K::ToolCallAsText)),
        case("codex: a ```json call", codex(), answer(vec![text("I'll run the tests.\n\n```json\n{\"name\": \"exec_command\", \"arguments\": {\"cmd\": \"cargo test\"}}\n```")], EndTurn, 40), Some(K::ToolCallAsText)),
        case("cc: a bare JSON object", claude_code(), answer(vec![text("{\"name\": \"Bash\", \"input\": {\"command\": \"cargo test\"}}")], EndTurn, 30), Some(K::ToolCallAsText)),
        case("cc: a package.json snippet", claude_code(), answer(vec![text("Add the script:\n\n```json\n{\"name\": \"web\", \"scripts\": {\"test\": \"vitest\"}}\n```")], EndTurn, 40), None),
        case("codex: prose about a tool", codex(), answer(vec![text("The tests pass; exec_command printed `ok` for all 12 tests.")], EndTurn, 20), None),
        // edit does not apply
        case("cc: Edit old_string not in the file", claude_code(), answer(vec![call("Edit", r#"{"file_path":"/home/dev/project/src/config.rs","old_string":"let raw = fs::read(path)?;","new_string":"let raw = fs::read(path).context(\"read\")?;"}"#)], ToolUse, 60), Some(K::EditDoesNotApply)),
        case("cc: MultiEdit second edit stale", claude_code(), answer(vec![call("MultiEdit", r#"{"file_path":"/home/dev/project/src/config.rs","edits":[{"old_string":"pub port: u16,","new_string":"pub port: u32,"},{"old_string":"pub port: u16,","new_string":"pub host: String,"}]}"#)], ToolUse, 60), Some(K::EditDoesNotApply)),
        case("codex: apply_patch on lines that are not there", codex(), answer(vec![call("exec_command", &patch("        let raw = fs::read_to_string(&path).unwrap();"))], ToolUse, 80), Some(K::EditDoesNotApply)),
        case("aider: SEARCH text absent", aider(), answer(vec![text(&search_replace("print(\"hello world\")"))], EndTurn, 40), Some(K::EditDoesNotApply)),
        case("cc: Edit on a file never read", claude_code(), answer(vec![call("Edit", r#"{"file_path":"/home/dev/project/src/main.rs","old_string":"fn main() {}","new_string":"fn main() { run(); }"}"#)], ToolUse, 40), None),
        case("cc: Edit outside a partial Read", claude_code_partial_read(), answer(vec![call("Edit", &edit_ok)], ToolUse, 60), None),
        case("codex: apply_patch that applies", codex(), answer(vec![call("exec_command", &patch("        let raw = std::fs::read_to_string(path)?;"))], ToolUse, 80), None),
        case("aider: SEARCH text present", aider(), answer(vec![text(&search_replace("print(\"hi\")"))], EndTurn, 40), None),
        case("cc: unified diff that applies", claude_code(), answer(vec![text("Here is the diff:\n\n```diff\n--- a/src/config.rs\n+++ b/src/config.rs\n@@ -3,4 +3,4 @@\n pub struct Config {\n-    pub port: u16,\n+    pub port: u32,\n     pub name: String,\n```\n")], EndTurn, 60), None),
        // code does not parse
        case("cc: python with a missing colon", claude_code(), answer(vec![text("Use this helper:\n\n```python\ndef load(path)\n    with open(path) as f:\n        return f.read()\n```\n")], EndTurn, 60), Some(K::CodeDoesNotParse)),
        case("codex: rust with an unclosed brace", codex(), answer(vec![text("```rust\nimpl Config {\n    pub fn port(&self) -> u16 {\n        self.port\n    \n```\n")], EndTurn, 60), Some(K::CodeDoesNotParse)),
        case("cc: yaml workflow with a broken flow list", claude_code(), answer(vec![text("```yaml\non: [push, pull_request\njobs:\n  test: {runs-on: ubuntu-latest\n```\n")], EndTurn, 60), Some(K::CodeDoesNotParse)),
        case("cc: rust, typescript and toml that parse", claude_code(), answer(vec![text("```rust\nfn port(c: &Config) -> u16 { c.port }\n```\n\n```typescript\nexport function port(c: { port: number }): number { return c.port; }\n```\n\n```toml\n[dependencies]\nanyhow = \"1\"\n```\n")], EndTurn, 90), None),
        case("codex: python, json and yaml that parse", codex(), answer(vec![text("```python\ndef port(c):\n    return c[\"port\"]\n```\n\n```json\n{\"port\": 8080}\n```\n\n```yaml\nport: 8080\nname: web\n```\n\n```sh\ncargo test\n```\n")], EndTurn, 90), None),
        // degenerate repetition
        case("cc: a line in a loop", claude_code(), answer(vec![text(&format!("I will fix the loader.\n{}", "Let me check the config file again.\n".repeat(30)))], EndTurn, 400), Some(K::DegenerateRepetition)),
        case("codex: a phrase in a loop", codex(), answer(vec![text(&format!("The fix is {}", "to the the fix is ".repeat(200)))], MaxTokens, 4096), Some(K::DegenerateRepetition)),
        case("cc: a long structured answer", claude_code(), answer(vec![text(&prose(80))], EndTurn, 2_000), None),
        case("codex: a long code answer", codex(), answer(vec![text(&format!("```rust\n{}```\n", (0..60).map(|i| format!("fn f{i}(x: u32) -> u32 {{\n    x + {i}\n}}\n")).collect::<String>()))], EndTurn, 2_000), None),
        // refusal
        case("cc: sorry, but I can't", claude_code(), answer(vec![text("I'm sorry, but I can't help with that request.")], EndTurn, 12), Some(K::Refusal)),
        case("codex: the upstream refused", codex(), answer(vec![text("I can't assist with that.")], StopReason::Refusal, 8), Some(K::Refusal)),
        case("cc: apology then a fix", claude_code(), answer(vec![text("Sorry about the earlier mistake — here is the corrected loader.")], EndTurn, 20), None),
        case("codex: cannot reproduce, so a test", codex(), answer(vec![text("I can't reproduce the failure locally, so I added a regression test."), call("exec_command", r#"{"cmd":"cargo test config"}"#)], ToolUse, 30), None),
    ]
}

#[test]
fn every_broken_answer_is_caught_and_no_good_answer_is_rejected() {
    let checks = Checks::default();
    let mut per_check = std::collections::HashMap::<&str, (usize, usize)>::new();
    let mut problems = Vec::new();
    for c in cases() {
        let v = verify(&c.request, &c.answer, &checks);
        match c.caught_by {
            Some(kind) => {
                per_check.entry(kind.as_str()).or_default().0 += 1;
                if !v.failed(kind) {
                    problems.push(format!(
                        "{}: not caught by {} ({:?})",
                        c.name,
                        kind.as_str(),
                        v.failures
                    ));
                }
                assert!(!v.passed);
            }
            None => {
                if !v.passed {
                    problems.push(format!(
                        "{}: good answer rejected: {:?}",
                        c.name, v.failures
                    ));
                }
            }
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
    for kind in CheckKind::ALL {
        if kind != CheckKind::LowLogprob {
            assert!(
                per_check.contains_key(kind.as_str()),
                "no broken case for {}",
                kind.as_str()
            );
        }
    }
}

#[test]
fn each_check_can_be_turned_off() {
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
    for c in cases() {
        let v = verify(&c.request, &c.answer, &off);
        assert!(v.passed, "{}: {:?}", c.name, v.failures);
    }
}

#[test]
fn low_mean_logprob_is_caught() {
    let table: [(&str, Vec<f64>, bool); 4] = [
        (
            "confident answer",
            vec![-0.05, -0.2, -0.01, -0.4, -0.1],
            false,
        ),
        ("ordinary answer", vec![-0.9, -1.2, -0.3, -0.7], false),
        ("guessing", vec![-3.2, -4.1, -2.8, -5.0, -3.9], true),
        ("mostly noise", vec![-0.1, -6.0, -7.5, -5.2], true),
    ];
    for (name, lp, caught) in table {
        let f = verify_logprobs(&lp, -2.0);
        assert_eq!(f.is_some(), caught, "{name}");
        if let Some(f) = f {
            assert_eq!(f.check.as_str(), "low-logprob");
        }
    }
}
