//! Issue 4, acceptance 3: the shipped configurations' routing, with every tier on the mock upstream.
#![allow(clippy::unwrap_used, reason = "test helpers fail loudly by design")]

use anvil_e2e::config::TIERS;
use anvil_e2e::stack::{Mock, Router, TempDir};
use anvil_e2e::{http, Dialect, Knobs};

/// `configs/example.toml` (keyless) or `configs/example-with-cloud.toml`, with the mock behind every
/// tier: two local OpenAI-dialect tiers, and (keyed) a metered Anthropic-dialect cloud tier for
/// `planning`.
fn shipped_shape(mock: &str, with_cloud: bool) -> String {
    let mut out = String::from("[router]\nmapping_version = \"e2e\"\n");
    if with_cloud {
        out.push_str("metered_cloud = [\"planning\"]\n");
    }
    for (id, model) in [("fast-local", "fast-model"), ("heavy-local", "heavy-model")] {
        out.push_str(&format!(
            "[[router.tiers]]\nid = \"{id}\"\nbase_url = \"{mock}/v1\"\ndialect = \"openai\"\n\
             model = \"{model}\"\ncontext_limit = 131072\nprivacy = \"local\"\ntool_support = true\n"
        ));
    }
    let anthropic = TIERS
        .iter()
        .find(|t| t.dialect == Dialect::Anthropic)
        .unwrap();
    if with_cloud {
        out.push_str(&format!(
            "[[router.tiers]]\nid = \"cloud\"\nbase_url = \"{mock}\"\ndialect = \"anthropic\"\n\
             model = \"cloud-model\"\ncontext_limit = 200000\nprivacy = \"cloud\"\ntool_support = true\n\
             auth_env = \"{}\"\ncost_input_per_mtok = 3.0\ncost_output_per_mtok = 15.0\n",
            anthropic.auth_env
        ));
        out.push_str(
            "[router.presets]\nchat = [\"fast-local\", \"cloud\"]\nquick-edit = [\"fast-local\", \"heavy-local\", \"cloud\"]\n\
             review = [\"heavy-local\", \"cloud\"]\nplanning = [\"cloud\"]\nlong-context = [\"heavy-local\", \"cloud\"]\n",
        );
    } else {
        out.push_str(
            "[router.presets]\nchat = [\"fast-local\", \"heavy-local\"]\nquick-edit = [\"fast-local\", \"heavy-local\"]\n\
             review = [\"heavy-local\"]\nplanning = [\"heavy-local\"]\nlong-context = [\"heavy-local\"]\n",
        );
    }
    out
}

async fn ask(router: &Router, model: &str, text: &str) -> http::Response {
    let body = Dialect::Chat.text_request(model, text, false);
    http::post_json(
        &format!("{}{}", router.url(), Dialect::Chat.path()),
        &body,
        &Dialect::Chat.client_headers(),
    )
    .await
    .unwrap()
}

#[tokio::test]
async fn keyless_planning_is_exhausted_and_ambiguous_requests_stay_local() {
    let mock = Mock::start().unwrap();
    let dir = TempDir::new("anvil-e2e-policy").unwrap();
    let config = dir.path().join("router.toml");
    std::fs::write(&config, shipped_shape(mock.url(), false)).unwrap();
    let router = Router::start(&config, &Knobs::default()).unwrap();

    let planning = ask(&router, "planning", "hi").await;
    assert_eq!(planning.status, 503, "{}", planning.text());
    assert!(planning.json().unwrap()["error"]["message"]
        .as_str()
        .is_some_and(|m| m.contains("planning")));
    assert!(
        mock.requests().await.unwrap().is_empty(),
        "an upstream was called"
    );

    // An unknown model and a vague text: ambiguous, served by a local tier.
    let ambiguous = ask(&router, "gpt-4", "hmm").await;
    assert_eq!(ambiguous.status, 200, "{}", ambiguous.text());
    let tier = ambiguous.header("x-anvil-tier").unwrap_or_default();
    assert!(tier.ends_with("-local"), "{tier}");
}

#[tokio::test]
async fn metered_cloud_serves_planning_and_nothing_unmetered() {
    let mock = Mock::start().unwrap();
    let dir = TempDir::new("anvil-e2e-policy").unwrap();
    let config = dir.path().join("router.toml");
    std::fs::write(&config, shipped_shape(mock.url(), true)).unwrap();
    let router = Router::start(&config, &Knobs::default()).unwrap();

    let planning = ask(&router, "anvil/planning", "hi").await;
    assert_eq!(planning.status, 200, "{}", planning.text());
    assert_eq!(planning.header("x-anvil-tier").as_deref(), Some("cloud"));
    assert_eq!(
        planning.header("x-anvil-work-class").as_deref(),
        Some("planning")
    );
    let upstream = mock.requests_to("/v1/messages").await.unwrap();
    assert_eq!(upstream.len(), 1);
    assert_eq!(upstream[0]["body"]["model"], "cloud-model");

    // chat is not metered: the cloud tier in its preset is dropped, fast-local serves it.
    let chat = ask(&router, "chat", "hi").await;
    assert_eq!(chat.status, 200, "{}", chat.text());
    assert_eq!(chat.header("x-anvil-tier").as_deref(), Some("fast-local"));
    // A pin to the cloud tier for an unmetered work class is refused, not served.
    let pinned = ask(&router, "tier:cloud", "hi").await;
    assert_eq!(pinned.status, 503, "{}", pinned.text());
    assert_eq!(mock.requests_to("/v1/messages").await.unwrap().len(), 1);
}

/// Issue 4, acceptance 1: the body hint (OpenAI `extra_body`) routes like the header and never
/// reaches the upstream; a malformed hint is a 400 naming it.
#[tokio::test]
async fn body_and_header_hints_route_and_are_validated() {
    let stack = anvil_e2e::Stack::start().unwrap();
    let mut body = Dialect::Chat.text_request("some-model", "hi", false);
    body["anvil"] = serde_json::json!({"intent": "review", "session": "s-1"});
    let hinted = stack.post(Dialect::Chat, &body).await.unwrap();
    assert_eq!(hinted.status, 200, "{}", hinted.text());
    assert_eq!(hinted.header("x-anvil-tier").as_deref(), Some("an"));
    assert_eq!(
        hinted.header("x-anvil-work-class").as_deref(),
        Some("review")
    );
    let upstream = stack.mock.requests().await.unwrap();
    assert_eq!(upstream.len(), 1);
    assert!(
        upstream[0]["body"].get("anvil").is_none(),
        "{}",
        upstream[0]
    );

    let mut headers = Dialect::Chat.client_headers();
    headers.push(("x-anvil-verify", "maybe"));
    let bad = http::post_json(
        &stack.url(Dialect::Chat.path()),
        &Dialect::Chat.text_request("chat", "hi", false),
        &headers,
    )
    .await
    .unwrap();
    assert_eq!(bad.status, 400, "{}", bad.text());
    assert!(bad.text().contains("x-anvil-verify"), "{}", bad.text());
}

/// Issue 5 groundwork: a tier that keeps failing is skipped by later requests (its circuit breaker
/// opens after five consecutive failures) instead of being called again.
#[tokio::test]
async fn tiers_that_keep_failing_are_skipped_by_later_requests() {
    let mock = Mock::start().unwrap();
    let dir = TempDir::new("anvil-e2e-breakers").unwrap();
    let config = dir.path().join("router.toml");
    let text = anvil_e2e::config::router_config(mock.url(), &Knobs::default())
        .replace("chat = [\"oa\"]", "chat = [\"oa\", \"an\"]")
        .replace(
            "[router.breakers]\nenabled = false",
            "[router.breakers]\nconsecutive_failures = 5",
        );
    std::fs::write(&config, text).unwrap();
    let router = Router::start(&config, &Knobs::default()).unwrap();
    for _ in 0..5 {
        let failing = ask(&router, "chat", "MOCK:status=500").await;
        // Both tiers failed: the exhaustion status, not one upstream's.
        assert_eq!(failing.status, 503, "{}", failing.text());
        assert_eq!(
            failing.header("x-anvil-attempts").as_deref(),
            Some("oa:upstream-5xx,an:upstream-5xx")
        );
    }
    let calls = mock.requests().await.unwrap().len();
    assert_eq!(calls, 10);
    let skipped = ask(&router, "chat", "hi").await;
    assert_eq!(skipped.status, 503, "{}", skipped.text());
    // Open breakers: retry once they may half-open (the default 30 s cooldown).
    assert_eq!(skipped.header("retry-after").as_deref(), Some("30"));
    assert_eq!(
        mock.requests().await.unwrap().len(),
        calls,
        "a tier with an open breaker was called"
    );
}
