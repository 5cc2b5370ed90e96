//! Errors reach the client in its own dialect's envelope with the right status.
#![allow(
    clippy::unwrap_used,
    clippy::panic,
    reason = "test helpers outside #[test] fns fail loudly, like the tests"
)]

use std::time::{Duration, Instant};

use anvil_e2e::config::{CLIENT_KEY, TIERS};
use anvil_e2e::scenario::upstream_status;
use anvil_e2e::{http, Dialect, Stack};
use serde_json::json;

async fn statuses_for(inbound: Dialect) {
    let stack = Stack::start().unwrap();
    for tier in TIERS {
        for code in [429, 500, 503] {
            for stream in [false, true] {
                if let Err(error) = upstream_status(&stack, inbound, tier, code, stream).await {
                    panic!("{}", stack.diagnose(&error));
                }
            }
        }
    }
}

#[tokio::test]
async fn upstream_errors_reach_anthropic_clients_with_their_status() {
    statuses_for(Dialect::Anthropic).await;
}

#[tokio::test]
async fn upstream_errors_reach_chat_clients_with_their_status() {
    statuses_for(Dialect::Chat).await;
}

#[tokio::test]
async fn upstream_errors_reach_responses_clients_with_their_status() {
    statuses_for(Dialect::Responses).await;
}

#[tokio::test]
async fn malformed_json_is_a_400_in_the_inbound_envelope() {
    let stack = Stack::start().unwrap();
    for inbound in Dialect::ALL {
        let mut headers = inbound.client_headers();
        headers.push(("content-type", "application/json"));
        let response = http::request(
            "POST",
            &stack.url(inbound.path()),
            &headers,
            "{\"model\": \"chat\", \"messages\": [",
        )
        .await
        .unwrap();
        assert_eq!(response.status, 400, "{inbound:?}: {}", response.text());
        let body = response.json().unwrap();
        assert!(
            inbound.error_envelope(&body).is_some(),
            "{inbound:?}: {body}"
        );
    }
    assert_eq!(
        stack.mock.requests().await.unwrap(),
        Vec::<serde_json::Value>::new()
    );
}

#[tokio::test]
async fn anthropic_requests_without_max_tokens_are_invalid() {
    let stack = Stack::start().unwrap();
    for model in ["review", "oa", "rs"] {
        let response = stack
            .post(
                Dialect::Anthropic,
                &json!({"model": model, "messages": [{"role": "user", "content": "hi"}]}),
            )
            .await
            .unwrap();
        assert_eq!(response.status, 400, "{model}: {}", response.text());
        let body = response.json().unwrap();
        let (kind, _) = Dialect::Anthropic.error_envelope(&body).unwrap();
        assert_eq!(kind, "invalid_request_error", "{model}: {body}");
    }
}

#[tokio::test]
async fn unknown_paths_are_404_and_wrong_methods_405_with_allow() {
    let stack = Stack::start().unwrap();
    for path in ["/v1/nope", "/v2/messages", "/", "/v1/messages/extra"] {
        let response = http::request("POST", &stack.url(path), &[("x-api-key", CLIENT_KEY)], "{}")
            .await
            .unwrap();
        assert_eq!(response.status, 404, "{path}: {}", response.text());
    }
    for (method, path, allowed) in [
        ("GET", "/v1/messages", "POST"),
        ("DELETE", "/v1/chat/completions", "POST"),
        ("GET", "/v1/responses", "POST"),
        ("PUT", "/v1/messages/count_tokens", "POST"),
        ("POST", "/v1/models", "GET"),
        ("POST", "/healthz", "GET"),
    ] {
        let response = http::request(method, &stack.url(path), &[], "")
            .await
            .unwrap();
        assert_eq!(response.status, 405, "{method} {path}: {}", response.text());
        let allow = response.header("allow").unwrap_or_default();
        assert!(
            allow.split(',').any(|m| m.trim() == allowed),
            "{method} {path}: Allow {allow:?}"
        );
    }
}

#[tokio::test]
async fn a_40_mb_body_is_refused_with_413_before_it_is_read() {
    let stack = Stack::start().unwrap();
    let declared: u64 = 40 * 1024 * 1024;
    let head = format!(
        "POST /v1/messages HTTP/1.1\r\nHost: {}\r\nContent-Type: application/json\r\n\
         x-api-key: {CLIENT_KEY}\r\nanthropic-version: 2023-06-01\r\nContent-Length: {declared}\r\n\r\n",
        stack.router.authority()
    );
    let mut prefix =
        br#"{"model":"planning","max_tokens":10,"messages":[{"role":"user","content":""#.to_vec();
    prefix.resize(8 * 1024, b'a');
    let started = Instant::now();
    let (status, response_head) = http::raw_head(
        stack.router.authority(),
        &head,
        &prefix,
        Duration::from_secs(5),
    )
    .await
    .unwrap_or_else(|error| panic!("{}", stack.diagnose(&error)));
    assert_eq!(status, 413, "{response_head}");
    // Only 8 KB of the declared 40 MB were ever sent: the answer cannot have waited for the body.
    assert!(started.elapsed() < Duration::from_secs(5));
    assert_eq!(
        stack.mock.requests().await.unwrap(),
        Vec::<serde_json::Value>::new()
    );
    // The router is still serving.
    let health = http::get(&stack.url("/healthz")).await.unwrap();
    assert_eq!(health.status, 200);
}
