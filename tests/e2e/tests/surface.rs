//! The router's HTTP surface: response headers, query strings, client auth (accepted, never
//! forwarded), tier auth (sent in each dialect's way), secrets kept out of logs and bodies,
//! `/v1/models` and `/healthz`.
#![allow(
    clippy::unwrap_used,
    clippy::panic,
    reason = "test helpers outside #[test] fns fail loudly, like the tests"
)]

use std::collections::HashSet;

use anvil_e2e::config::{tier, CLIENT_KEY, TIERS};
use anvil_e2e::dialect::CLIENT_BEARER;
use anvil_e2e::scenario::{exchange, tool_round_trip, upstream_status, MOCK_TEXT};
use anvil_e2e::{http, Dialect, Knobs, Stack};
use serde_json::Value;

#[tokio::test]
async fn responses_carry_request_id_and_tier_headers() {
    let stack = Stack::start().unwrap();
    let mut ids = HashSet::new();
    for (model, want_tier) in [
        ("chat", "oa"),
        ("review", "an"),
        ("rs", "rs"),
        ("tier:an", "an"),
        ("tier:oa", "oa"),
    ] {
        for inbound in Dialect::ALL {
            let reply = exchange(&stack, inbound, &inbound.text_request(model, "hi", false))
                .await
                .unwrap_or_else(|error| panic!("{}", stack.diagnose(&error)));
            assert_eq!(reply.reply.text, MOCK_TEXT);
            assert_eq!(
                reply.header("x-anvil-tier").as_deref(),
                Some(want_tier),
                "{model}"
            );
            let id = reply.header("x-anvil-request-id").unwrap_or_default();
            assert!(!id.is_empty(), "{model} {inbound:?}");
            assert!(ids.insert(id.clone()), "request id {id} reused");
            // A translated request to an Anthropic tier carries the max_tokens it requires, and a
            // Responses tier is told not to store the conversation.
            let requests = stack.mock.requests().await.unwrap();
            let sent = &requests.last().unwrap()["body"];
            match TIERS.iter().find(|t| t.id == want_tier).unwrap().dialect {
                tier if tier == inbound => {}
                // the test requests set no output limit: anvil's default goes up
                Dialect::Anthropic => assert_eq!(sent["max_tokens"], 8192, "{sent}"),
                Dialect::Responses => assert_eq!(sent["store"], false, "{sent}"),
                Dialect::Chat => assert_eq!(sent["model"], "mock-oa-model", "{sent}"),
            }
        }
    }
    // The tier's own model name went upstream, not the preset.
    for request in stack.mock.requests().await.unwrap() {
        let path = request["path"].as_str().unwrap();
        let tier = TIERS.iter().find(|t| t.dialect.path() == path).unwrap();
        assert_eq!(request["body"]["model"], tier.model, "{path}");
    }
}

#[tokio::test]
async fn query_strings_are_ignored() {
    let stack = Stack::start().unwrap();
    for inbound in Dialect::ALL {
        let url = format!("{}?beta=true", stack.url(inbound.path()));
        let mut headers = inbound.client_headers();
        headers.push(("content-type", "application/json"));
        let body = serde_json::to_vec(&inbound.text_request("chat", "hi", false)).unwrap();
        let response = http::request("POST", &url, &headers, body).await.unwrap();
        assert_eq!(response.status, 200, "{inbound:?}: {}", response.text());
        assert_eq!(
            inbound.reply(&response.json().unwrap()).unwrap().text,
            MOCK_TEXT
        );
    }
}

#[tokio::test]
async fn client_keys_are_accepted_either_way_and_never_forwarded_while_tier_keys_are() {
    let stack = Stack::start().unwrap();
    let auths: [&[(&str, &str)]; 2] = [
        &[
            ("x-api-key", CLIENT_KEY),
            ("anthropic-version", "2023-06-01"),
        ],
        &[("authorization", CLIENT_BEARER)],
    ];
    for auth in auths {
        for inbound in Dialect::ALL {
            for tier in TIERS {
                let mut headers = auth.to_vec();
                headers.push(("content-type", "application/json"));
                let body = serde_json::to_vec(&inbound.text_request(tier.id, "hi", false)).unwrap();
                let response = http::request("POST", &stack.url(inbound.path()), &headers, body)
                    .await
                    .unwrap();
                assert_eq!(
                    response.status,
                    200,
                    "{auth:?} {inbound:?} {}: {}",
                    tier.id,
                    response.text()
                );
            }
        }
    }
    let requests = stack.mock.requests().await.unwrap();
    assert_eq!(requests.len(), 18);
    for request in &requests {
        let headers = request["headers"].as_object().unwrap();
        for (name, value) in headers {
            assert!(
                !value.as_str().unwrap_or_default().contains(CLIENT_KEY),
                "client key forwarded in {name}: {request}"
            );
        }
        let header = |name: &str| {
            headers
                .get(name)
                .and_then(Value::as_str)
                .unwrap_or_default()
        };
        let path = request["path"].as_str().unwrap();
        let tier = TIERS.iter().find(|t| t.dialect.path() == path).unwrap();
        match tier.dialect {
            Dialect::Anthropic => {
                assert_eq!(header("x-api-key"), tier.secret, "{request}");
                assert!(!header("anthropic-version").is_empty(), "{request}");
            }
            Dialect::Chat | Dialect::Responses => {
                assert_eq!(
                    header("authorization"),
                    format!("Bearer {}", tier.secret),
                    "{request}"
                );
            }
        }
    }
}

#[tokio::test]
async fn tier_secrets_never_reach_logs_or_response_bodies() {
    let stack = Stack::start_with(&Knobs {
        log_filter: Some("trace".to_owned()),
        ..Knobs::default()
    })
    .unwrap();
    let mut bodies: Vec<String> = Vec::new();
    let mut request_ids: Vec<String> = Vec::new();
    for tier in TIERS {
        tool_round_trip(&stack, Dialect::Chat, tier, true)
            .await
            .unwrap_or_else(|error| panic!("{}", stack.diagnose(&error)));
        for inbound in Dialect::ALL {
            for stream in [false, true] {
                let body = inbound.text_request(tier.id, "hello MOCK:reason", stream);
                let reply = exchange(&stack, inbound, &body).await.unwrap();
                request_ids.extend(reply.header("x-anvil-request-id"));
                bodies.push(reply.text());
                bodies.push(format!("{:?}", reply.headers));
                upstream_status(&stack, inbound, tier, 500, stream)
                    .await
                    .unwrap();
            }
            let body = inbound.text_request(tier.id, "go MOCK:midstream-error", true);
            let streaming = stack.open(inbound, &body).await.unwrap();
            bodies.push(format!("{:?}", streaming.headers));
            bodies.push(String::from_utf8_lossy(&streaming.finish().await.body).into_owned());
            let response = stack
                .post(
                    inbound,
                    &inbound.text_request(tier.id, "MOCK:status=401", false),
                )
                .await
                .unwrap();
            bodies.push(response.text());
        }
    }
    bodies.push(http::get(&stack.url("/v1/models")).await.unwrap().text());
    let logs = stack.router.logs();
    // The logs are real: they mention the requests that were served.
    assert!(
        request_ids.iter().any(|id| logs.contains(id.as_str())),
        "no request id {request_ids:?} in the router's logs:\n{logs}"
    );
    for tier in TIERS {
        assert!(
            !logs.contains(tier.secret),
            "secret of {} in the router's logs",
            tier.id
        );
        for body in &bodies {
            assert!(
                !body.contains(tier.secret),
                "secret of {} in a response: {body}",
                tier.id
            );
        }
    }
}

#[tokio::test]
async fn models_and_healthz_answer() {
    let stack = Stack::start().unwrap();
    let health = http::get(&stack.url("/healthz")).await.unwrap();
    assert_eq!(health.status, 200, "{}", health.text());
    let models = http::get(&stack.url("/v1/models")).await.unwrap();
    assert_eq!(models.status, 200, "{}", models.text());
    let body = models.json().unwrap();
    let ids: Vec<&str> = body["data"]
        .as_array()
        .unwrap_or_else(|| panic!("no data array: {body}"))
        .iter()
        .map(|model| model["id"].as_str().unwrap_or_default())
        .collect();
    assert!(ids.iter().any(|id| id.contains("chat")), "{ids:?}");
    assert!(ids.iter().any(|id| id.contains("planning")), "{ids:?}");
}

#[tokio::test]
async fn count_tokens_answers_for_an_anthropic_tier() {
    let stack = Stack::start().unwrap();
    let body = serde_json::json!({"model": "review",
        "messages": [{"role": "user", "content": "one two three four"}]});
    let response = http::post_json(
        &stack.url("/v1/messages/count_tokens"),
        &body,
        &Dialect::Anthropic.client_headers(),
    )
    .await
    .unwrap();
    assert_eq!(response.status, 200, "{}", response.text());
    assert_eq!(
        response.header("x-anvil-token-count").as_deref(),
        Some("upstream")
    );
    let tokens = response.json().unwrap()["input_tokens"].as_u64();
    assert!(tokens.is_some_and(|n| n > 0), "{}", response.text());
    let upstream = stack
        .mock
        .requests_to("/v1/messages/count_tokens")
        .await
        .unwrap();
    assert!(
        upstream
            .iter()
            .all(|r| r["body"]["model"] == tier("an").unwrap().model),
        "{upstream:?}"
    );
}

/// Issue 4, acceptance 3: with local tiers only, a planning request (declared, or named by the hint
/// header) gets the exhaustion status in the inbound dialect's envelope, and no upstream is called.
#[tokio::test]
async fn planning_without_a_cloud_tier_is_exhausted_without_calling_an_upstream() {
    let stack = Stack::start().unwrap();
    for inbound in Dialect::ALL {
        let response = stack
            .post(inbound, &inbound.text_request("planning", "hi", false))
            .await
            .unwrap();
        assert_eq!(response.status, 503, "{}", response.text());
        let body = response.json().unwrap();
        assert!(
            inbound.error_envelope(&body).is_some(),
            "{inbound:?}: {body}"
        );
        assert_eq!(
            response.header("x-anvil-work-class").as_deref(),
            Some("planning")
        );
    }
    let mut headers = Dialect::Chat.client_headers();
    headers.push(("x-anvil-intent", "planning"));
    let response = http::post_json(
        &stack.url(Dialect::Chat.path()),
        &Dialect::Chat.text_request("some-model", "hi", false),
        &headers,
    )
    .await
    .unwrap();
    assert_eq!(response.status, 503, "{}", response.text());
    assert_eq!(
        stack.mock.requests().await.unwrap(),
        Vec::<serde_json::Value>::new()
    );
}

/// Issue 4, acceptance 5: `/v1/route` decides without calling an upstream.
#[tokio::test]
async fn route_decides_without_calling_an_upstream() {
    let stack = Stack::start().unwrap();
    let body = serde_json::json!({"model": "review",
        "messages": [{"role": "user", "content": "review this diff please"}]});
    let response = http::post_json(&stack.url("/v1/route"), &body, &[])
        .await
        .unwrap();
    assert_eq!(response.status, 200, "{}", response.text());
    let decision = response.json().unwrap();
    for field in [
        "tier",
        "model",
        "provider",
        "work_class",
        "reason",
        "confidence",
        "session_id",
        "candidates",
    ] {
        assert!(decision.get(field).is_some(), "{field} missing: {decision}");
    }
    assert_eq!(decision["tier"], "an");
    assert_eq!(decision["work_class"], "review");
    let exhausted = http::post_json(
        &stack.url("/v1/route"),
        &serde_json::json!({"model": "planning", "messages": [{"role": "user", "content": "plan"}]}),
        &[],
    )
    .await
    .unwrap();
    assert_eq!(exhausted.status, 503, "{}", exhausted.text());
    assert!(exhausted.json().unwrap()["error"]["message"].is_string());
    let malformed = http::post_json(&stack.url("/v1/route"), &serde_json::json!([1, 2]), &[])
        .await
        .unwrap();
    assert_eq!(malformed.status, 400, "{}", malformed.text());
    assert_eq!(
        stack.mock.requests().await.unwrap(),
        Vec::<serde_json::Value>::new()
    );
}
