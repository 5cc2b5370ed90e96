//! The real-model smoke run (`anvil-e2e-real-model`, used by `cargo xtask e2e` against
//! llama-server), checked here against the mock standing in for the model server.
#![allow(
    clippy::unwrap_used,
    clippy::panic,
    reason = "test helpers outside #[test] fns fail loudly, like the tests"
)]

use std::process::Command;

use anvil_e2e::scenario::MOCK_TEXT;
use anvil_e2e::Mock;

#[test]
fn the_real_model_smoke_passes_against_an_openai_upstream() {
    let mock = Mock::start().unwrap();
    let output = Command::new(env!("CARGO_BIN_EXE_anvil-e2e-real-model"))
        .envs([
            (
                "ANVIL_E2E_ROUTER_BIN",
                anvil_e2e::bins::binaries().unwrap().router.as_os_str(),
            ),
            (
                "ANVIL_E2E_MOCK_BIN",
                anvil_e2e::bins::binaries().unwrap().mock.as_os_str(),
            ),
        ])
        .args([
            "--base-url",
            &format!("{}/v1", mock.url()),
            "--model",
            "stand-in",
        ])
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&output.stderr)
    );
    // The model server's prompt count, then one line per answer, each with the mock's usage.
    let mut lines = stdout.lines();
    assert_eq!(
        lines.next(),
        Some("model server counts the prompt as 1006 tokens"),
        "{stdout}"
    );
    let answers: Vec<&str> = lines.collect();
    assert_eq!(answers.len(), 6, "{stdout}");
    assert!(
        answers
            .iter()
            .all(|line| line.contains(MOCK_TEXT) && line.contains("(usage: 1006 in, ")),
        "{stdout}"
    );
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let requests = runtime
        .block_on(mock.requests_to("/v1/chat/completions"))
        .unwrap();
    // The direct prompt count, then the six answers through the router.
    assert_eq!(requests.len(), 7);
    assert!(requests.iter().all(|r| r["body"]["model"] == "stand-in"));
}

#[test]
fn the_real_model_smoke_fails_when_the_upstream_fails() {
    // Nothing listens on the upstream port: every request must fail, and the tool must say so.
    let output = Command::new(env!("CARGO_BIN_EXE_anvil-e2e-real-model"))
        .envs([
            (
                "ANVIL_E2E_ROUTER_BIN",
                anvil_e2e::bins::binaries().unwrap().router.as_os_str(),
            ),
            (
                "ANVIL_E2E_MOCK_BIN",
                anvil_e2e::bins::binaries().unwrap().mock.as_os_str(),
            ),
        ])
        .args(["--base-url", "http://127.0.0.1:9/v1", "--model", "nothing"])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(1));
    // The first thing it does is ask the model server to count the prompt, which fails here.
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("cannot connect to 127.0.0.1:9"), "{stderr}");
}
