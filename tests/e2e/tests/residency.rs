//! Issue 8, acceptance 2: the router prefers the tier whose model the multiplexer has resident
//! (asserted through `x-anvil-tier`), and routes to a non-resident one — triggering a swap — only
//! when the resident one is filtered out. Real processes: `anvil-substrate multiplexer` with two
//! mock engines, and the router in front of it.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::path::PathBuf;
use std::process::Command;
use std::time::{Duration, Instant};

use anvil_e2e::bins::{binaries, cargo_command, executable_from_messages, workspace_root};
use anvil_e2e::process::Proc;
use anvil_e2e::stack::{Router, TempDir};
use anvil_e2e::{http, Knobs};
use serde_json::{json, Value};

/// `anvil-substrate`: `ANVIL_E2E_SUBSTRATE_BIN`, else built with cargo (the harness builds only
/// the router and the mock).
fn substrate_bin() -> PathBuf {
    if let Some(bin) = std::env::var_os("ANVIL_E2E_SUBSTRATE_BIN") {
        return PathBuf::from(bin);
    }
    let out = cargo_command()
        .args([
            "build",
            "--quiet",
            "-p",
            "anvil-substrate",
            "--bin",
            "anvil-substrate",
        ])
        .args(["--message-format", "json-render-diagnostics"])
        .arg("--manifest-path")
        .arg(workspace_root().join("Cargo.toml"))
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    executable_from_messages(&String::from_utf8_lossy(&out.stdout), "anvil-substrate").unwrap()
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// Polls `GET url` until `check` holds on its JSON (bounded: waiting on real processes).
async fn wait_json(url: &str, what: &str, check: impl Fn(&Value) -> bool) -> Value {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        if let Ok(response) = http::get(url).await {
            if let Ok(json) = response.json() {
                if check(&json) {
                    return json;
                }
                assert!(Instant::now() < deadline, "{what}: last {json}");
            }
        }
        assert!(Instant::now() < deadline, "{what}: no answer from {url}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

fn tier_state<'a>(health: &'a Value, tier: &str) -> Option<&'a str> {
    health["residency"]
        .as_array()?
        .iter()
        .find(|t| t["tier"] == tier)?["state"]
        .as_str()
}

async fn chat(router: &Router, tools: bool) -> http::Response {
    let mut body = json!({
        "model": "chat",
        "max_tokens": 64,
        "messages": [{"role": "user", "content": "hello there"}],
    });
    if tools {
        body["tools"] = json!([{"type": "function", "function": {
            "name": "read_file",
            "parameters": {"type": "object", "properties": {"path": {"type": "string"}}},
        }}]);
    }
    http::post_json(&format!("{}/v1/chat/completions", router.url()), &body, &[])
        .await
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_router_prefers_the_resident_tier_and_swaps_only_when_it_must() {
    let mock = binaries().unwrap().mock.clone();
    let dir = TempDir::new("anvil-e2e-residency").unwrap();
    let (fast_port, heavy_port) = (free_port(), free_port());
    let mut mux_config =
        String::from("[multiplexer]\nhealth_interval_ms = 20\npreload = \"heavy\"\n");
    for (name, port) in [("fast", fast_port), ("heavy", heavy_port)] {
        mux_config.push_str(&format!(
            "[[multiplexer.engines]]\nname = \"{name}\"\ncommand = [\"{}\", \"--port\", \"{port}\"]\n\
             port = {port}\nhealth_url = \"http://127.0.0.1:{port}/_mock/events\"\nstart_timeout_s = 20\n",
            mock.display()
        ));
    }
    let mux_path = dir.path().join("mux.toml");
    std::fs::write(&mux_path, mux_config).unwrap();
    let mut command = Command::new(substrate_bin());
    command
        .args(["multiplexer", "--port", "0", "--config"])
        .arg(&mux_path);
    let mux = Proc::spawn(
        "anvil-substrate multiplexer",
        command,
        Duration::from_secs(20),
    )
    .unwrap();
    let mux_url = mux.url().to_owned();
    wait_json(&format!("{mux_url}/residency"), "preload of heavy", |r| {
        r["resident"] == "heavy"
    })
    .await;

    // The operator's order says fast-local first; heavy-local has no tool support.
    let jsonl = dir.path().join("decisions.jsonl");
    let router_config = format!(
        "[router]\nmapping_version = \"e2e\"\ndecision_log_jsonl = \"{}\"\n\
         [[router.tiers]]\nid = \"fast-local\"\nbase_url = \"{mux_url}/v1\"\ndialect = \"openai\"\n\
         model = \"fast\"\nmultiplexer = \"{mux_url}\"\ncontext_limit = 131072\nprivacy = \"local\"\ntool_support = true\n\
         [[router.tiers]]\nid = \"heavy-local\"\nbase_url = \"{mux_url}/v1\"\ndialect = \"openai\"\n\
         model = \"heavy\"\nmultiplexer = \"{mux_url}\"\ncontext_limit = 131072\nprivacy = \"local\"\ntool_support = false\n\
         [router.presets]\nchat = [\"fast-local\", \"heavy-local\"]\n",
        jsonl.display()
    );
    let router_path = dir.path().join("router.toml");
    std::fs::write(&router_path, router_config).unwrap();
    let router = Router::start(&router_path, &Knobs::default()).unwrap();
    let health = wait_json(
        &format!("{}/healthz", router.url()),
        "the router sees heavy resident",
        |h| tier_state(h, "heavy-local") == Some("resident"),
    )
    .await;
    assert_eq!(tier_state(&health, "fast-local"), Some("cold"), "{health}");

    // The resident tier serves, although the operator listed fast-local first; no swap.
    for _ in 0..3 {
        let reply = chat(&router, false).await;
        assert_eq!(reply.status, 200, "{}", reply.text());
        assert_eq!(reply.header("x-anvil-tier").as_deref(), Some("heavy-local"));
    }
    let residency = http::get(&format!("{mux_url}/residency"))
        .await
        .unwrap()
        .json()
        .unwrap();
    assert_eq!(residency["resident"], "heavy");
    assert_eq!(residency["swaps"], 1, "only the preload: {residency}");

    // Tools filter heavy-local out: the non-resident fast-local serves, through a swap.
    let reply = chat(&router, true).await;
    assert_eq!(reply.status, 200, "{}", reply.text());
    assert_eq!(reply.header("x-anvil-tier").as_deref(), Some("fast-local"));
    let residency = http::get(&format!("{mux_url}/residency"))
        .await
        .unwrap()
        .json()
        .unwrap();
    assert_eq!(residency["resident"], "fast");
    assert_eq!(residency["swaps"], 2, "{residency}");
    assert_eq!(residency["last_swap"]["from"], "heavy");

    // Now fast is resident: plain requests stay on it (operator order and residency agree), and
    // heavy-local, cold, is not swapped back in.
    wait_json(
        &format!("{}/healthz", router.url()),
        "the router sees fast resident",
        |h| tier_state(h, "fast-local") == Some("resident"),
    )
    .await;
    let reply = chat(&router, false).await;
    assert_eq!(reply.status, 200, "{}", reply.text());
    assert_eq!(reply.header("x-anvil-tier").as_deref(), Some("fast-local"));
    let residency = http::get(&format!("{mux_url}/residency"))
        .await
        .unwrap()
        .json()
        .unwrap();
    assert_eq!(residency["swaps"], 2, "{residency}");

    // The decision records carry the residency each plan was made with.
    let deadline = Instant::now() + Duration::from_secs(10);
    let records: Vec<Value> = loop {
        let text = std::fs::read_to_string(&jsonl).unwrap_or_default();
        let records: Vec<Value> = text
            .lines()
            .filter_map(|l| serde_json::from_str(l).ok())
            .collect();
        if records.len() >= 5 || Instant::now() >= deadline {
            break records;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    assert_eq!(records.len(), 5, "{records:?}");
    let first = &records[0]["plan"];
    assert_eq!(
        first["residency"],
        json!([
            {"tier": "fast-local", "model": "fast", "state": "cold", "resident": "heavy"},
            {"tier": "heavy-local", "model": "heavy", "state": "resident", "resident": "heavy"},
        ]),
        "{first}"
    );
    assert_eq!(first["candidates"][0]["tier"], "heavy-local");
    assert_eq!(records[3]["served_tier"], "fast-local");
    assert_eq!(records[3]["plan"]["dropped"][0]["reason"], "tools");
    assert_eq!(records[4]["plan"]["residency"][0]["state"], "resident");
    drop(router);
    drop(mux);
}
