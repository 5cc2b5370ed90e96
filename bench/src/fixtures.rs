//! The request bodies of the scenarios: a 2 KB Anthropic request, and a 200 KB Claude Code request
//! grown from the largest capture in `tests/fixtures/clients/` (the interactive main turn) into a
//! mid-session request with Read results, the way a real session grows.

use std::path::Path;

use anyhow::{Context, Result};
use bytes::Bytes;
use http::header::{HeaderName, HeaderValue};
use serde_json::{json, Value};

/// The capture the 200 KB request grows from.
pub const CAPTURE: &str = "tests/fixtures/clients/claude-code-2.1.197_interactive_main-turn.json";

/// The size the large request grows to (at least).
pub const LARGE_BYTES: usize = 200 * 1024;

/// The headers Claude Code 2.1.197 sends with its Messages requests (from the capture), the key
/// replaced by a bench key.
pub fn anthropic_headers() -> Vec<(HeaderName, HeaderValue)> {
    [
        ("anthropic-version", "2023-06-01"),
        (
            "anthropic-beta",
            "claude-code-20250219,interleaved-thinking-2025-05-14,context-management-2025-06-27",
        ),
        ("x-api-key", "sk-ant-bench-client-key"),
        ("user-agent", "claude-cli/2.1.197 (external, cli)"),
        ("accept", "application/json"),
    ]
    .into_iter()
    .map(|(name, value)| {
        (
            HeaderName::from_static(name),
            HeaderValue::from_static(value),
        )
    })
    .collect()
}

/// A 2 KB Anthropic Messages request for `model` whose last user turn ends with `directive`.
pub fn small(model: &str, directive: &str, stream: bool) -> Bytes {
    let code = "fn parse_config(path: &Path) -> Result<Config> {\n    let text = std::fs::read_to_string(path)?;\n    toml::from_str(&text).map_err(Into::into)\n}\n";
    let mut text = String::from("Here is the function I am working on:\n\n```rust\n");
    while text.len() < 1500 {
        text.push_str(code);
    }
    text.push_str("```\n\nAdd a doc comment and make the error name the path. ");
    text.push_str(directive);
    let body = json!({
        "model": model,
        "max_tokens": 1024,
        "stream": stream,
        "system": "You are a careful Rust engineer. Answer with a short explanation and the changed code only. Keep the existing style, do not rename public items, and mention any behaviour change.",
        "messages": [{"role": "user", "content": [{"type": "text", "text": text}]}],
    });
    Bytes::from(body.to_string())
}

/// The capture grown to [`LARGE_BYTES`]: tool loops (a `Read` call and its numbered file content)
/// appended to the conversation, then a user text turn ending with `directive`.
pub fn large(root: &Path, model: &str, directive: &str, stream: bool) -> Result<Bytes> {
    let path = root.join(CAPTURE);
    let capture: Value = serde_json::from_slice(
        &std::fs::read(&path).with_context(|| format!("cannot read {}", path.display()))?,
    )
    .with_context(|| format!("{} is not JSON", path.display()))?;
    let mut body = capture
        .get("body_json")
        .cloned()
        .with_context(|| format!("{} has no body_json", path.display()))?;
    let object = body
        .as_object_mut()
        .with_context(|| format!("{}: body_json is not an object", path.display()))?;
    object.insert("model".into(), json!(model));
    object.insert("stream".into(), json!(stream));
    let messages = object
        .get_mut("messages")
        .and_then(Value::as_array_mut)
        .with_context(|| format!("{}: body_json has no messages", path.display()))?;
    let mut size = capture["body_json"].to_string().len();
    let mut i = 0;
    while size < LARGE_BYTES {
        let file = format!("/home/dev/project/src/module_{i}.rs");
        let content: String = (1..=60)
            .map(|n| {
                format!(
                    "{n:>6}\tpub fn handler_{i}_{n}(request: &Request) -> Result<Response> {{ validate(request)?; Ok(Response::ok()) }}\n"
                )
            })
            .collect();
        let turn = [
            json!({"role": "assistant", "content": [
                {"type": "text", "text": format!("Let me read {file}.")},
                {"type": "tool_use", "id": format!("toolu_bench_{i:03}"), "name": "Read",
                 "input": {"file_path": file}},
            ]}),
            json!({"role": "user", "content": [
                {"type": "tool_result", "tool_use_id": format!("toolu_bench_{i:03}"),
                 "content": content},
            ]}),
        ];
        size += turn.iter().map(|t| t.to_string().len() + 1).sum::<usize>();
        messages.extend(turn);
        i += 1;
    }
    messages.push(json!({"role": "assistant", "content": [
        {"type": "text", "text": "I have read every module."}]}));
    messages.push(json!({"role": "user", "content": [
        {"type": "text", "text": format!("Now summarise what the handlers do. {directive}")}]}));
    Ok(Bytes::from(body.to_string()))
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn root() -> std::path::PathBuf {
        Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
    }

    #[test]
    fn the_small_request_is_about_2_kb_and_carries_the_directive() {
        let body = small("an", "MOCK:slow=0:200", true);
        assert!((1800..2600).contains(&body.len()), "{}", body.len());
        let value: Value = serde_json::from_slice(&body).unwrap();
        assert_eq!(value["model"], "an");
        assert_eq!(value["stream"], true);
        let text = value["messages"][0]["content"][0]["text"].as_str().unwrap();
        assert!(text.ends_with("MOCK:slow=0:200"));
    }

    #[test]
    fn the_large_request_is_a_200_kb_claude_code_session() {
        let body = large(&root(), "an", "", false).unwrap();
        assert!(
            (LARGE_BYTES..LARGE_BYTES + 8 * 1024).contains(&body.len()),
            "{}",
            body.len()
        );
        let value: Value = serde_json::from_slice(&body).unwrap();
        assert_eq!(value["model"], "an");
        assert_eq!(value["stream"], false);
        assert!(value["tools"].as_array().unwrap().len() >= 20);
        let messages = value["messages"].as_array().unwrap();
        assert_eq!(messages.last().unwrap()["role"], "user");
        assert!(messages
            .iter()
            .any(|m| m["content"][0]["type"] == "tool_result"));
    }
}
