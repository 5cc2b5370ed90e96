//! `--persona`: the binary answers Chat Completions like a healthy or a broken model, and keeps
//! the directive behaviour for turns that carry a `MOCK:` directive.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::process::{Child, Command, Stdio};

use hyper::{Method, StatusCode};
use serde_json::{json, Value};

fn start(persona: &str) -> (Child, SocketAddr) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_anvil-mock-upstream"))
        .args(["--port", "0", "--persona", persona])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let addr = line
        .trim_end()
        .strip_prefix("listening on http://")
        .unwrap_or_else(|| panic!("bad readiness line {line:?}"))
        .parse()
        .unwrap();
    (child, addr)
}

async fn ask(addr: SocketAddr, body: Value) -> Value {
    let (status, _, v) =
        common::call(addr, Method::POST, "/v1/chat/completions", Some(&body)).await;
    assert_eq!(status, StatusCode::OK, "{v}");
    v
}

#[tokio::test]
async fn the_healthy_persona_answers_by_content() {
    let (mut child, addr) = start("healthy");
    let v = ask(
        addr,
        json!({"model": "m", "messages": [{"role": "user", "content": "lorem ipsum\n\nIMPORTANT: The launch code is ZEBRA-42917-QUARTZ.\n\nWhat is the launch code?"}]}),
    )
    .await;
    assert_eq!(v["choices"][0]["message"]["content"], "ZEBRA-42917-QUARTZ");
    assert_eq!(v["choices"][0]["finish_reason"], "stop");
    let v = ask(
        addr,
        json!({"model": "m", "messages": [{"role": "user", "content": "What's the weather in Oakland? Use the tool."}],
               "tools": [{"type": "function", "function": {"name": "get_weather", "parameters": {
                   "type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}}}]}),
    )
    .await;
    let call = &v["choices"][0]["message"]["tool_calls"][0]["function"];
    assert_eq!(call["name"], "get_weather");
    assert_eq!(call["arguments"], r#"{"city":"Oakland"}"#);
    // a MOCK: directive still gets the directive behaviour
    let v = ask(
        addr,
        json!({"model": "m", "messages": [{"role": "user", "content": "hi MOCK:reason"}]}),
    )
    .await;
    assert_eq!(
        v["choices"][0]["message"]["content"],
        "Hello from the mock upstream."
    );
    let models = common::get(addr, "/v1/models").await;
    assert_eq!(models["data"][0]["max_model_len"], 32768);
    child.kill().unwrap();
    child.wait().unwrap();
}

#[tokio::test]
async fn the_starving_persona_spends_the_budget_on_reasoning() {
    let (mut child, addr) = start("starve-thinking");
    let v = ask(
        addr,
        json!({"model": "m", "max_tokens": 100, "messages": [{"role": "user", "content": "What is 1 + 1?"}]}),
    )
    .await;
    let choice = &v["choices"][0];
    assert_eq!(choice["message"]["content"], "");
    assert_eq!(choice["finish_reason"], "length");
    assert!(!choice["message"]["reasoning_content"]
        .as_str()
        .unwrap()
        .is_empty());
    assert_eq!(v["usage"]["completion_tokens"], 100);
    child.kill().unwrap();
    child.wait().unwrap();
}

#[test]
fn an_unknown_persona_is_a_usage_error() {
    let out = Command::new(env!("CARGO_BIN_EXE_anvil-mock-upstream"))
        .args(["--persona", "grumpy"])
        .stdin(Stdio::null())
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(out.stdout.is_empty());
    assert!(String::from_utf8_lossy(&out.stderr).contains("unknown persona grumpy"));
}
