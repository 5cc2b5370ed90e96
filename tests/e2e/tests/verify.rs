//! Issue 5: a broken local answer never reaches the client. The fast tier (OpenAI dialect) answers
//! with each kind of broken answer; the router verifies it, falls back to the heavy tier (Anthropic
//! dialect), and the client — streaming or not, in either dialect — gets the heavy tier's answer with
//! nothing of the failed attempt in its bytes.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    reason = "test helpers outside #[test] fns fail loudly, like the tests"
)]

use std::time::Duration;

use anvil_e2e::config::TIERS;
use anvil_e2e::stack::{Mock, Router, TempDir};
use anvil_e2e::{http, Dialect, Knobs};
use serde_json::{json, Value};

/// Two local tiers on the mock — `fast-local` (OpenAI dialect, model `fast-model`) and
/// `heavy-local` (Anthropic dialect, `heavy-model`) — in the `chat` preset, verification on, and
/// `extra` appended (a cloud tier, window settings).
fn config(mock: &str, extra: &str) -> String {
    format!(
        "[router]\nmapping_version = \"e2e-verify\"\n{metered}\n\
         [router.breakers]\nenabled = false\n\n\
         [[router.tiers]]\nid = \"fast-local\"\nbase_url = \"{mock}/v1\"\ndialect = \"openai\"\n\
         model = \"fast-model\"\ncontext_limit = 131072\nprivacy = \"local\"\ntool_support = true\n\n\
         [[router.tiers]]\nid = \"heavy-local\"\nbase_url = \"{mock}\"\ndialect = \"anthropic\"\n\
         model = \"heavy-model\"\ncontext_limit = 131072\nprivacy = \"local\"\ntool_support = true\n\
         {extra}\n",
        metered = if extra.contains("privacy = \"cloud\"") {
            "metered_cloud = [\"chat\"]\n"
        } else {
            ""
        },
    )
}

const PRESETS: &str = "\n[router.presets]\nchat = [\"fast-local\", \"heavy-local\"]\n";

fn start(mock: &Mock, dir: &TempDir, extra: &str) -> Router {
    let path = dir.path().join("router.toml");
    std::fs::write(&path, config(mock.url(), extra)).unwrap();
    Router::start(&path, &Knobs::default()).unwrap()
}

/// Each broken kind, the prompt that provokes it (on the fast tier only), and a string that
/// appears in the broken answer and nowhere in the heavy tier's.
const KINDS: [(&str, &str); 11] = [
    ("empty", ""),
    ("truncated", "one past the end of the"),
    ("thinking-starved", "Let me look at the loop again"),
    ("unknown-tool", "run_shell_command"),
    ("tool-args-json", "\"command\": \"ls -la"),
    ("tool-args-schema", "\"location\":42"),
    ("tool-call-as-text", "<tool_call>"),
    ("edit-does-not-apply", "<<<<<<< SEARCH"),
    ("code-does-not-parse", "def add(a, b:"),
    ("degenerate-repetition", "I will fix the bug now."),
    ("refusal", "I'm sorry, but I can't"),
];

/// An aider-style file listing, so an edit to `app.py` can be judged against it.
const LISTING: &str = "app.py\n```python\ndef add(a, b):\n    return a + b\n```\n";

fn request(dialect: Dialect, kind: &str, stream: bool) -> Value {
    let prompt = format!("{LISTING}Fix the bug in app.py. MOCK:broken={kind}@fast-model");
    let mut body = dialect.tool_request("chat", &prompt, stream);
    body["max_tokens"] = json!(256);
    body
}

fn headers(dialect: Dialect) -> Vec<(&'static str, &'static str)> {
    let mut headers = dialect.client_headers();
    // The seed profile allows both tiers for chat; the hint holds their answers for verification.
    headers.push(("x-anvil-verify", "on"));
    headers
}

/// The body bytes the client received, whole.
async fn call(
    router: &Router,
    dialect: Dialect,
    body: &Value,
) -> (u16, Vec<(String, String)>, Vec<u8>) {
    let url = format!("{}{}", router.url(), dialect.path());
    if body["stream"] == json!(true) {
        let streaming = http::open_json(&url, body, &headers(dialect))
            .await
            .unwrap();
        let status = streaming.status.as_u16();
        let head: Vec<(String, String)> = ["x-anvil-tier", "x-anvil-attempts", "x-anvil-decision"]
            .iter()
            .map(|h| ((*h).to_owned(), streaming.header(h).unwrap_or_default()))
            .collect();
        let finished = streaming.finish().await;
        assert!(finished.error.is_none(), "{:?}", finished.error);
        (status, head, finished.body)
    } else {
        let response = http::post_json(&url, body, &headers(dialect))
            .await
            .unwrap();
        let head = ["x-anvil-tier", "x-anvil-attempts", "x-anvil-decision"]
            .iter()
            .map(|h| ((*h).to_owned(), response.header(h).unwrap_or_default()))
            .collect();
        (response.status.as_u16(), head, response.body.to_vec())
    }
}

fn header<'a>(head: &'a [(String, String)], name: &str) -> &'a str {
    head.iter()
        .find(|(n, _)| n == name)
        .map_or("", |(_, v)| v.as_str())
}

#[tokio::test]
async fn every_broken_answer_falls_back_to_the_heavy_tier_and_never_reaches_the_client() {
    let mock = Mock::start().unwrap();
    let dir = TempDir::new("anvil-e2e-verify").unwrap();
    let router = start(&mock, &dir, PRESETS);
    for (kind, marker) in KINDS {
        for dialect in [Dialect::Anthropic, Dialect::Chat] {
            for stream in [false, true] {
                let what = format!("{kind} {} stream={stream}", dialect.name());
                let (status, head, body) =
                    call(&router, dialect, &request(dialect, kind, stream)).await;
                let text = String::from_utf8_lossy(&body);
                assert_eq!(status, 200, "{what}: {text}\n{}", router.logs());
                assert_eq!(header(&head, "x-anvil-tier"), "heavy-local", "{what}");
                assert_eq!(
                    header(&head, "x-anvil-attempts"),
                    format!("fast-local:verify-failed({kind}),heavy-local:ok"),
                    "{what}"
                );
                assert_eq!(
                    header(&head, "x-anvil-decision"),
                    "allow-with-verify",
                    "{what}"
                );
                // The heavy tier's answer, and nothing of the fast tier's.
                let reply = if stream {
                    dialect.stream_reply(&anvil_e2e::sse::parse_all(&body))
                } else {
                    dialect
                        .reply(&serde_json::from_slice(&body).unwrap())
                        .unwrap()
                };
                assert_eq!(
                    reply.text, "Hello from the mock upstream.",
                    "{what}: {text}"
                );
                assert!(reply.tool_calls.is_empty(), "{what}: {text}");
                if !marker.is_empty() {
                    assert!(
                        !text.contains(marker),
                        "{what}: the failed attempt leaked: {text}"
                    );
                }
                assert!(
                    !text.contains("chatcmpl-mock"),
                    "{what}: fast tier ids leaked: {text}"
                );
            }
        }
    }
    // Every fast attempt reached the mock, and so did every heavy one.
    let requests = mock.requests().await.unwrap();
    let models: Vec<&str> = requests
        .iter()
        .filter_map(|r| r["body"]["model"].as_str())
        .collect();
    assert_eq!(models.iter().filter(|m| **m == "fast-model").count(), 44);
    assert_eq!(models.iter().filter(|m| **m == "heavy-model").count(), 44);
}

#[tokio::test]
async fn a_good_answer_is_served_from_the_fast_tier_after_verification() {
    let mock = Mock::start().unwrap();
    let dir = TempDir::new("anvil-e2e-verify-good").unwrap();
    let router = start(&mock, &dir, PRESETS);
    for dialect in [Dialect::Anthropic, Dialect::Chat, Dialect::Responses] {
        for stream in [false, true] {
            for prompt in [
                "Say hello.",
                "Call the tool. MOCK:tool",
                "Think first. MOCK:reason",
            ] {
                let mut body = dialect.tool_request("chat", prompt, stream);
                body["max_tokens"] = json!(256);
                let (status, head, bytes) = call(&router, dialect, &body).await;
                let what = format!("{prompt} {} stream={stream}", dialect.name());
                assert_eq!(status, 200, "{what}: {}", String::from_utf8_lossy(&bytes));
                assert_eq!(header(&head, "x-anvil-tier"), "fast-local", "{what}");
                assert_eq!(header(&head, "x-anvil-attempts"), "fast-local:ok", "{what}");
            }
        }
    }
}

#[tokio::test]
async fn all_tiers_broken_is_the_exhaustion_status_in_the_clients_envelope() {
    let mock = Mock::start().unwrap();
    let dir = TempDir::new("anvil-e2e-verify-exhausted").unwrap();
    let router = start(&mock, &dir, PRESETS);
    for dialect in Dialect::ALL {
        for stream in [false, true] {
            let mut body = dialect.text_request(
                "chat",
                "Fix it. MOCK:broken=refusal@fast-model+heavy-model",
                stream,
            );
            body["max_tokens"] = json!(256);
            let url = format!("{}{}", router.url(), dialect.path());
            // Nothing was sent before the decision: a JSON error even for a streaming request.
            let response = http::post_json(&url, &body, &headers(dialect))
                .await
                .unwrap();
            let what = format!("{} stream={stream}", dialect.name());
            assert_eq!(response.status, 503, "{what}: {}", response.text());
            assert_eq!(
                response.header("retry-after").as_deref(),
                Some("1"),
                "{what}"
            );
            assert_eq!(
                response.header("x-anvil-attempts").as_deref(),
                Some("fast-local:verify-failed(refusal),heavy-local:verify-failed(refusal)"),
                "{what}"
            );
            let envelope = dialect
                .error_envelope(&response.json().unwrap())
                .unwrap_or_else(|| panic!("{what}: {}", response.text()));
            assert!(
                envelope.1.contains("no local tier could serve"),
                "{what}: {envelope:?}"
            );
            assert!(
                !response.text().contains("fast-local"),
                "{what}: names internals"
            );
            assert!(
                !response.text().contains("I'm sorry"),
                "{what}: leaked an answer"
            );
        }
    }
}

#[tokio::test]
async fn with_the_cloud_tier_keyed_and_the_class_metered_a_local_miss_escalates() {
    let mock = Mock::start().unwrap();
    let dir = TempDir::new("anvil-e2e-verify-cloud").unwrap();
    let anthropic = TIERS
        .iter()
        .find(|t| t.dialect == Dialect::Anthropic)
        .unwrap();
    let cloud = format!(
        "\n[[router.tiers]]\nid = \"cloud\"\nbase_url = \"{}\"\ndialect = \"anthropic\"\n\
         model = \"cloud-model\"\ncontext_limit = 200000\nprivacy = \"cloud\"\ntool_support = true\n\
         auth_env = \"{}\"\ncost_input_per_mtok = 3.0\ncost_output_per_mtok = 15.0\n\
         \n[router.budgets]\nsession_usd = 0.001\n\
         \n[router.presets]\nchat = [\"fast-local\", \"heavy-local\", \"cloud\"]\n",
        mock.url(),
        anthropic.auth_env
    );
    let router = start(&mock, &dir, &cloud);
    for dialect in [Dialect::Anthropic, Dialect::Chat] {
        for stream in [false, true] {
            let mut body = dialect.text_request(
                "chat",
                "Fix it. MOCK:broken=code-does-not-parse@fast-model+heavy-model",
                stream,
            );
            body["max_tokens"] = json!(256);
            let (status, head, bytes) = call(&router, dialect, &body).await;
            let what = format!("{} stream={stream}", dialect.name());
            let text = String::from_utf8_lossy(&bytes);
            assert_eq!(status, 200, "{what}: {text}");
            assert_eq!(header(&head, "x-anvil-tier"), "cloud", "{what}");
            assert_eq!(
                header(&head, "x-anvil-attempts"),
                "fast-local:verify-failed(code-does-not-parse),\
                 heavy-local:verify-failed(code-does-not-parse),cloud:ok",
                "{what}"
            );
            assert!(!text.contains("def add(a, b:"), "{what}: leaked {text}");
        }
    }
    // A session over its budget stops reaching the metered tier: one cloud answer (1000+ prompt
    // tokens at $3/M, 38 completion tokens at $15/M) spends more than the $0.001 ceiling.
    let in_session = |id: &'static str| {
        let mut h = headers(Dialect::Chat);
        h.push(("x-anvil-session", id));
        h
    };
    let body = {
        let mut b = Dialect::Chat.text_request(
            "chat",
            "Fix it. MOCK:broken=refusal@fast-model+heavy-model+cloud-model",
            false,
        );
        b["max_tokens"] = json!(256);
        b
    };
    let url = format!("{}{}", router.url(), Dialect::Chat.path());
    let mut body_ok = body.clone();
    body_ok["messages"][0]["content"] = json!("Fix it. MOCK:broken=refusal@fast-model+heavy-model");
    let first = http::post_json(&url, &body_ok, &in_session("budget-test"))
        .await
        .unwrap();
    assert_eq!(first.status, 200, "{}", first.text());
    assert_eq!(first.header("x-anvil-tier").as_deref(), Some("cloud"));
    let second = http::post_json(&url, &body_ok, &in_session("budget-test"))
        .await
        .unwrap();
    assert_eq!(second.status, 503, "{}", second.text());
    assert_eq!(
        second.header("x-anvil-attempts").as_deref(),
        Some("fast-local:verify-failed(refusal),heavy-local:verify-failed(refusal)"),
        "the spent session must not reach the cloud tier"
    );
    // Another session still may.
    let other = http::post_json(&url, &body_ok, &headers(Dialect::Chat))
        .await
        .unwrap();
    assert_eq!(other.header("x-anvil-tier").as_deref(), Some("cloud"));
    let _ = body;

    // Every attempt, its verdict and what the failed attempts cost are in the decision records.
    let records = records(&router, dir.path(), 7).await;
    let escalated = records.last().unwrap();
    assert_eq!(escalated.served_tier.as_deref(), Some("cloud"));
    assert_eq!(escalated.attempts, 3);
    let log = escalated.attempt_log.value();
    let log = log.as_array().unwrap();
    let outcomes: Vec<&str> = log.iter().map(|a| a["outcome"].as_str().unwrap()).collect();
    assert_eq!(
        outcomes,
        ["verify-failed(refusal)", "verify-failed(refusal)", "ok"]
    );
    assert_eq!(log[0]["tier"], "fast-local");
    assert_eq!(log[0]["checks"][0]["check"], "refusal");
    assert!(log[0]["checks"][0]["reason"]
        .as_str()
        .unwrap()
        .contains("refus"));
    // The mock's usage: 1000 + words of the request in, 7 per delta + 3 out, for each failed try.
    assert!(escalated.failed_tokens_in > 2000, "{escalated:?}");
    assert!(escalated.failed_tokens_out > 0, "{escalated:?}");
    assert_eq!(escalated.failed_cost_usd, 0.0, "local tiers have no prices");
    assert!(escalated.cost_usd > 0.003, "{escalated:?}");
    let spent = &records[records.len() - 2];
    assert_eq!(spent.served_tier, None);
    assert_eq!(spent.status, 503);
    assert!(spent.plan.value()["dropped"]
        .as_array()
        .unwrap()
        .iter()
        .any(|d| d["tier"] == "cloud" && d["reason"] == "session-budget"));

    // The same for a streamed answer, read to its end: the session is charged before the
    // stream's last chunk, so its next request, sent at once, is planned with the cost counted.
    let mut body_streamed = body_ok.clone();
    body_streamed["stream"] = json!(true);
    let first = http::open_json(&url, &body_streamed, &in_session("budget-test-streamed"))
        .await
        .unwrap();
    assert_eq!(first.status.as_u16(), 200);
    assert_eq!(first.header("x-anvil-tier").as_deref(), Some("cloud"));
    let finished = first.finish().await;
    assert!(finished.error.is_none(), "{:?}", finished.error);
    let second = http::open_json(&url, &body_streamed, &in_session("budget-test-streamed"))
        .await
        .unwrap();
    assert_eq!(
        second.status.as_u16(),
        503,
        "the spent session must not reach the cloud tier"
    );
    assert_eq!(
        second.header("x-anvil-attempts").as_deref(),
        Some("fast-local:verify-failed(refusal),heavy-local:verify-failed(refusal)"),
    );
}

/// The last decision records once `n` were written (the log writes them off the request path).
async fn records(
    router: &Router,
    dir: &std::path::Path,
    n: u64,
) -> Vec<anvil_profile_store::DecisionRecord> {
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    loop {
        let health = http::get(&format!("{}/healthz", router.url()))
            .await
            .unwrap()
            .json()
            .unwrap();
        if health["decision_log"]["written"] == n || std::time::Instant::now() > deadline {
            assert_eq!(health["decision_log"]["written"], n, "{health}");
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let db = dir.join(".local/share/anvil/anvil.db");
    let store = anvil_profile_store::Store::open(&db.to_string_lossy())
        .await
        .unwrap();
    store.tail(100).await.unwrap()
}

#[tokio::test]
async fn a_tier_that_keeps_failing_is_skipped_until_its_breaker_half_opens() {
    let mock = Mock::start().unwrap();
    let dir = TempDir::new("anvil-e2e-verify-breaker").unwrap();
    let breakers =
        "\n[router.breakers]\nenabled = true\nconsecutive_failures = 2\ncooldown_s = 1\n";
    let text =
        config(mock.url(), PRESETS).replace("\n[router.breakers]\nenabled = false\n", breakers);
    let path = dir.path().join("router.toml");
    std::fs::write(&path, text).unwrap();
    let router = Router::start(&path, &Knobs::default()).unwrap();
    let url = format!("{}{}", router.url(), Dialect::Chat.path());
    let ask = |text: &str| {
        let mut body = Dialect::Chat.text_request("chat", text, false);
        body["max_tokens"] = json!(256);
        body
    };
    // Two broken answers open the fast tier's breaker…
    for _ in 0..2 {
        let broken = ask("Fix. MOCK:broken=refusal@fast-model");
        let r = http::post_json(&url, &broken, &headers(Dialect::Chat))
            .await
            .unwrap();
        assert_eq!(
            r.header("x-anvil-attempts").as_deref(),
            Some("fast-local:verify-failed(refusal),heavy-local:ok")
        );
    }
    // …so later requests skip it, good or not, without calling it.
    let before = mock.requests().await.unwrap().len();
    let skipped = http::post_json(&url, &ask("Say hi."), &headers(Dialect::Chat))
        .await
        .unwrap();
    assert_eq!(
        skipped.header("x-anvil-attempts").as_deref(),
        Some("heavy-local:ok")
    );
    assert_eq!(mock.requests().await.unwrap().len(), before + 1);
    // The routing decision shows why, until the cooldown lets one probe through.
    let route = format!("{}/v1/route", router.url());
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    loop {
        let decision = http::post_json(&route, &ask("Say hi."), &headers(Dialect::Chat))
            .await
            .unwrap()
            .json()
            .unwrap();
        let open = decision["dropped"]
            .as_array()
            .unwrap()
            .iter()
            .any(|d| d["tier"] == "fast-local" && d["reason"] == "breaker-open");
        if !open {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "the breaker never half-opened"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    // Half-open: one probe reaches the fast tier; its good answer closes the breaker.
    for _ in 0..2 {
        let ok = http::post_json(&url, &ask("Say hi."), &headers(Dialect::Chat))
            .await
            .unwrap();
        assert_eq!(
            ok.header("x-anvil-attempts").as_deref(),
            Some("fast-local:ok")
        );
    }
}

#[tokio::test]
async fn a_commit_window_held_for_30_s_sends_keepalives_at_least_every_10_s() {
    let mock = Mock::start().unwrap();
    let dir = TempDir::new("anvil-e2e-verify-keepalive").unwrap();
    let router = start(&mock, &dir, PRESETS);
    // Both dialects at once: each window holds for 30 s.
    tokio::join!(
        held_30_s(&router, Dialect::Anthropic),
        held_30_s(&router, Dialect::Chat)
    );
}

async fn held_30_s(router: &Router, dialect: Dialect) {
    {
        // The fast tier streams its answer over 30 s; the window holds it all that time.
        let mut body = dialect.text_request("chat", "Count slowly. MOCK:slow=3000:10", true);
        body["max_tokens"] = json!(256);
        let url = format!("{}{}", router.url(), dialect.path());
        let mut streaming = http::open_json(&url, &body, &headers(dialect))
            .await
            .unwrap();
        // Headers came with the first keep-alive (5 s by default), before the answer.
        assert_eq!(streaming.status.as_u16(), 200);
        assert_eq!(
            streaming.header("x-anvil-attempts").as_deref(),
            Some("fast-local:in-window")
        );
        let mut arrivals = Vec::new();
        let mut bytes = Vec::new();
        while let Some(chunk) = streaming
            .next_chunk_within(Duration::from_secs(15))
            .await
            .unwrap()
        {
            arrivals.push(chunk.at);
            bytes.extend_from_slice(&chunk.bytes);
        }
        let text = String::from_utf8_lossy(&bytes);
        let keepalive = match dialect {
            Dialect::Anthropic => "event: ping\ndata: {\"type\": \"ping\"}\n\n",
            _ => ": keep-alive\n\n",
        };
        assert!(text.matches(keepalive).count() >= 5, "{text}");
        let mut gaps = arrivals.windows(2).map(|w| w[1] - w[0]).collect::<Vec<_>>();
        gaps.push(arrivals[0]);
        assert!(
            gaps.iter().all(|gap| *gap <= Duration::from_secs(10)),
            "a gap of more than 10 s: {gaps:?}"
        );
        // The answer parses once the keep-alives are skipped, and says where it came from.
        let reply = dialect.stream_reply(&anvil_e2e::sse::parse_all(&bytes));
        assert_eq!(
            reply.text,
            "tick1 tick2 tick3 tick4 tick5 tick6 tick7 tick8 tick9 tick10"
        );
        assert!(text.contains(": x-anvil-attempts: fast-local:ok"), "{text}");
    }
}

#[tokio::test]
async fn an_answer_past_the_window_cap_is_sent_unverified_or_failed_over_as_configured() {
    let mock = Mock::start().unwrap();
    // Every answer of the mock is longer than 64 bytes: unverified, the fast tier's is sent; with
    // fail-over, both tiers' are abandoned and the request is exhausted.
    for (on_exceeded, status, attempts) in [
        ("commit-unverified", 200, "fast-local:ok"),
        (
            "fail-over",
            503,
            "fast-local:window-exceeded,heavy-local:window-exceeded",
        ),
    ] {
        let dir = TempDir::new("anvil-e2e-verify-cap").unwrap();
        let extra = format!(
            "{PRESETS}\n[router.commit_window]\nmax_bytes = 64\non_exceeded = \"{on_exceeded}\"\n"
        );
        let router = start(&mock, &dir, &extra);
        for dialect in [Dialect::Anthropic, Dialect::Chat] {
            for stream in [false, true] {
                let mut body = dialect.text_request("chat", "Say hello.", stream);
                body["max_tokens"] = json!(256);
                let url = format!("{}{}", router.url(), dialect.path());
                let what = format!("{on_exceeded} {} stream={stream}", dialect.name());
                if status == 503 {
                    let response = http::post_json(&url, &body, &headers(dialect))
                        .await
                        .unwrap();
                    assert_eq!(response.status, 503, "{what}: {}", response.text());
                    assert_eq!(
                        response.header("x-anvil-attempts").as_deref(),
                        Some(attempts)
                    );
                    continue;
                }
                let (got, head, bytes) = call(&router, dialect, &body).await;
                assert_eq!(got, status, "{what}: {}", String::from_utf8_lossy(&bytes));
                assert_eq!(header(&head, "x-anvil-tier"), "fast-local", "{what}");
                assert_eq!(header(&head, "x-anvil-attempts"), attempts, "{what}");
                let reply = if stream {
                    dialect.stream_reply(&anvil_e2e::sse::parse_all(&bytes))
                } else {
                    dialect
                        .reply(&serde_json::from_slice(&bytes).unwrap())
                        .unwrap()
                };
                assert_eq!(reply.text, "Hello from the mock upstream.", "{what}");
            }
        }
    }
}
