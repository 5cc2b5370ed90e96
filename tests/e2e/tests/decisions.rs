//! Issue 4, acceptance 4 and 6: decision records and live profile changes, against the real
//! SQLite store the router opens.
#![allow(clippy::unwrap_used, reason = "test helpers fail loudly by design")]

use std::path::PathBuf;
use std::time::{Duration, Instant};

use anvil_config::WorkClass;
use anvil_e2e::{http, Dialect, Knobs, Stack};
use anvil_policy::Decision;
use anvil_profile_store::Store;
use serde_json::Value;

/// The router's database under the `HOME` the harness gives it (the config's directory).
fn database(stack: &Stack) -> PathBuf {
    stack
        .config
        .parent()
        .unwrap()
        .join(".local/share/anvil/anvil.db")
}

async fn health(stack: &Stack) -> Value {
    http::get(&stack.url("/healthz"))
        .await
        .unwrap()
        .json()
        .unwrap()
}

/// Polls `/healthz` until `check` holds (bounded).
async fn wait_health(stack: &Stack, check: impl Fn(&Value) -> bool) -> Value {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let h = health(stack).await;
        if check(&h) || Instant::now() > deadline {
            return h;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

async fn ask(stack: &Stack, model: &str) -> http::Response {
    stack
        .post(
            Dialect::Chat,
            &Dialect::Chat.text_request(model, "hi", false),
        )
        .await
        .unwrap()
}

#[tokio::test]
async fn every_request_leaves_one_decision_record() {
    let stack = Stack::start().unwrap();
    for model in ["chat", "review", "planning"] {
        ask(&stack, model).await;
    }
    let streamed = stack
        .open(
            Dialect::Anthropic,
            &Dialect::Anthropic.text_request("chat", "hi", true),
        )
        .await
        .unwrap();
    streamed.finish().await;
    let h = wait_health(&stack, |h| h["decision_log"]["written"] == 4).await;
    assert_eq!(h["decision_log"]["written"], 4, "{h}");
    assert_eq!(h["decision_log"]["failed"], 0, "{h}");

    let store = Store::open(&database(&stack).to_string_lossy())
        .await
        .unwrap();
    let records = store.tail(10).await.unwrap();
    assert_eq!(records.len(), 4, "{records:?}");
    let by_tier = |tier: Option<&str>| {
        records
            .iter()
            .filter(|r| r.served_tier.as_deref() == tier)
            .count()
    };
    assert_eq!(by_tier(Some("oa")), 2);
    assert_eq!(by_tier(Some("an")), 1);
    assert_eq!(by_tier(None), 1, "the exhausted planning request");
    for record in &records {
        assert!(record.plan.value()["candidates"].is_array(), "{record:?}");
        assert!(record.prompt.is_none(), "prompt text kept without opt-in");
        if record.served_tier.is_some() {
            assert_eq!(record.status, 200);
            // The mock's usage rule: 1000 + words of the prompt in, 7 × deltas + 3 out.
            assert!(
                record.tokens_in > 1000 && record.tokens_out % 7 == 3,
                "{record:?}"
            );
        } else {
            assert_eq!(
                (record.status, record.work_class.as_deref()),
                (503, Some("planning"))
            );
        }
    }
    let stats = store.stats().await.unwrap();
    assert!(
        stats
            .iter()
            .any(|s| s.work_class.as_deref() == Some("planning")),
        "{stats:?}"
    );
}

#[tokio::test]
async fn profile_changes_route_without_a_restart() {
    let stack = Stack::start_with(&Knobs {
        profile_refresh_s: Some(0.2),
        ..Knobs::default()
    })
    .unwrap();
    let before = ask(&stack, "review").await;
    assert_eq!(before.status, 200, "{}", before.text());
    assert_eq!(before.header("x-anvil-tier").as_deref(), Some("an"));
    assert_eq!(
        before.header("x-anvil-decision").as_deref(),
        Some("allow-with-verify")
    );

    let store = Store::open(&database(&stack).to_string_lossy())
        .await
        .unwrap();
    store
        .set("an", WorkClass::Review, Decision::Deny, None)
        .await
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(5);
    let denied = loop {
        let response = ask(&stack, "review").await;
        if response.status != 200 || Instant::now() > deadline {
            break response;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    assert_eq!(denied.status, 503, "{}", denied.text());

    store
        .set("an", WorkClass::Review, Decision::Allow, Some(0.9))
        .await
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(5);
    let allowed = loop {
        let response = ask(&stack, "review").await;
        if response.status == 200 || Instant::now() > deadline {
            break response;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    assert_eq!(allowed.status, 200, "{}", allowed.text());
    assert_eq!(allowed.header("x-anvil-decision").as_deref(), Some("allow"));
}

#[tokio::test]
async fn an_unwritable_store_still_serves_and_counts_the_lost_records() {
    let stack = Stack::start_with(&Knobs {
        data_dir: Some("/proc/anvil-e2e-unwritable".to_owned()),
        ..Knobs::default()
    })
    .unwrap();
    for _ in 0..3 {
        let response = ask(&stack, "chat").await;
        assert_eq!(response.status, 200, "{}", response.text());
    }
    let h = wait_health(&stack, |h| h["decision_log"]["failed"] == 3).await;
    assert_eq!(h["decision_log"]["failed"], 3, "{h}");
    assert!(
        stack.router.logs().contains("profile store unavailable"),
        "{}",
        stack.router.logs()
    );
}

/// `anvil-substrate` against the router's own store: `quality set` changes routing within the
/// refresh interval, `decisions stats` shows the records.
fn substrate(stack: &Stack, args: &[&str]) -> std::process::Output {
    let config = stack.config.to_string_lossy().into_owned();
    // Without this test's CARGO_PKG_* & co., which would make build scripts rebuild.
    anvil_e2e::bins::cargo_command()
        .args(["run", "--quiet", "--package", "anvil-substrate", "--"])
        .args(args)
        .args(["--config", &config])
        .current_dir(anvil_e2e::bins::workspace_root())
        // The router's HOME (see `Router::start`), so both resolve the same data_dir.
        .env("HOME", stack.config.parent().unwrap())
        .output()
        .unwrap()
}

#[tokio::test]
async fn the_substrate_cli_edits_the_live_profile_and_reads_the_decisions() {
    let stack = Stack::start_with(&Knobs {
        profile_refresh_s: Some(0.2),
        ..Knobs::default()
    })
    .unwrap();
    assert_eq!(ask(&stack, "review").await.status, 200);
    let set = substrate(&stack, &["quality", "set", "an", "review", "deny"]);
    assert!(
        set.status.success(),
        "{}",
        String::from_utf8_lossy(&set.stderr)
    );
    let deadline = Instant::now() + Duration::from_secs(5);
    let denied = loop {
        let response = ask(&stack, "review").await;
        if response.status != 200 || Instant::now() > deadline {
            break response;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    assert_eq!(denied.status, 503, "{}", denied.text());
    let show = substrate(&stack, &["quality", "show"]);
    let table = String::from_utf8_lossy(&show.stdout);
    assert!(show.status.success() && table.contains("deny"), "{table}");

    wait_health(&stack, |h| h["decision_log"]["written"].as_u64() >= Some(2)).await;
    let stats = substrate(&stack, &["decisions", "stats"]);
    let text = String::from_utf8_lossy(&stats.stdout);
    assert!(
        stats.status.success(),
        "{}",
        String::from_utf8_lossy(&stats.stderr)
    );
    assert!(text.contains("review"), "{text}");
}

#[tokio::test]
async fn a_client_that_leaves_before_the_answer_leaves_a_499_record() {
    let stack = Stack::start().unwrap();
    for (i, stream) in [false, true].into_iter().enumerate() {
        let body = Dialect::Anthropic.text_request("chat", "wait MOCK:hang", stream);
        let url = stack.url(Dialect::Anthropic.path());
        let waiting = tokio::spawn(async move {
            http::post_json(&url, &body, &Dialect::Anthropic.client_headers()).await
        });
        // the router has called the tier, which holds its answer back
        let deadline = Instant::now() + Duration::from_secs(10);
        while stack.mock.requests().await.unwrap().len() <= i {
            assert!(Instant::now() < deadline, "the tier was never called");
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        // dropping the client's task closes its connection
        waiting.abort();
    }
    let h = wait_health(&stack, |h| h["decision_log"]["written"] == 2).await;
    assert_eq!(
        h["decision_log"]["written"],
        2,
        "{h}\n{}",
        stack.router.logs()
    );
    let store = Store::open(&database(&stack).to_string_lossy())
        .await
        .unwrap();
    let records = store.tail(10).await.unwrap();
    assert_eq!(records.len(), 2, "{records:?}");
    for record in &records {
        assert_eq!(
            (record.status, record.served_tier.as_deref()),
            (499, None),
            "{record:?}"
        );
    }
}
