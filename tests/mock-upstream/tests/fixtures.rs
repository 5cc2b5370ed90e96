//! Real captured client requests (tests/fixtures/clients) get shape-valid answers.

mod common;

use std::path::PathBuf;

use common::*;
use hyper::{Method, StatusCode};
use serde_json::Value;

/// Captures whose last user turn is only tool results.
const TOOL_RESULT_TURNS: [&str; 3] = [
    "claude-code-2.1.197_after-subagent-tool-result.json",
    "claude-code-2.1.197_tool-loop_2-with-tool-result.json",
    "codex-0.171.0_exec-tool-loop_2-with-function-call-output.json",
];

#[allow(clippy::unwrap_used)]
fn fixtures() -> Vec<(String, Value)> {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../fixtures/clients");
    let mut out: Vec<(String, Value)> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "json"))
        .map(|p| {
            let name = p.file_name().unwrap().to_string_lossy().into_owned();
            (
                name,
                serde_json::from_str(&std::fs::read_to_string(&p).unwrap()).unwrap(),
            )
        })
        .collect();
    out.sort_by(|a, b| a.0.cmp(&b.0));
    out
}

#[tokio::test]
async fn every_captured_model_request_gets_an_answer() {
    let addr = start().await;
    let mut answered = 0;
    for (name, fixture) in fixtures() {
        if fixture["method"] != "POST" {
            continue;
        }
        // Claude Code's sub-agent captures went through a path prefix; the router strips it
        let path = fixture["path"]
            .as_str()
            .unwrap()
            .trim_start_matches("/anthropic");
        let body = &fixture["body_json"];
        let dialect = match path {
            "/v1/messages" => Dialect::Anthropic,
            "/v1/chat/completions" => Dialect::Chat,
            "/v1/responses" => Dialect::Responses,
            "/v1/messages/count_tokens" => {
                let (status, _, v) = call(addr, Method::POST, path, Some(body)).await;
                assert_eq!(status, StatusCode::OK, "{name}");
                assert!(v["input_tokens"].as_u64().unwrap() > 0, "{name}");
                answered += 1;
                continue;
            }
            other => panic!("{name}: unexpected path {other}"),
        };
        let summary = if body["stream"] == true {
            let st = stream(addr, path, body).await;
            assert_eq!(st.status, StatusCode::OK, "{name}");
            assert!(st.clean_end, "{name}");
            dialect.summarize_stream(&st.events())
        } else {
            let (status, _, v) = call(addr, Method::POST, path, Some(body)).await;
            assert_eq!(status, StatusCode::OK, "{name}: {v}");
            dialect.summarize_json(&v)
        };
        assert_eq!(summary.stop, "end", "{name}");
        let usage_streamed = dialect != Dialect::Chat
            || body["stream"] != true
            || body.pointer("/stream_options/include_usage") == Some(&Value::Bool(true));
        if usage_streamed {
            assert!(summary.input_tokens > 1000, "{name}");
        } else {
            assert_eq!(
                summary.input_tokens, 0,
                "{name}: usage chunk without include_usage"
            );
        }
        if TOOL_RESULT_TURNS.contains(&name.as_str()) {
            assert!(
                summary.text.starts_with("Tool said: "),
                "{name}: {}",
                summary.text
            );
            assert!(summary.text.len() > "Tool said: ".len(), "{name}");
        } else {
            assert_eq!(summary.text, "Hello from the mock upstream.", "{name}");
        }
        answered += 1;
    }
    assert!(answered >= 20, "only {answered} fixtures replayed");
}
