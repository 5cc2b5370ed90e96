//! Helpers for the multiplexer's tests with real engine processes: the workspace mock upstream
//! (`anvil-mock-upstream`, built once with cargo) as the fake engine, a real HTTP server on port 0,
//! and process inspection through `/proc`.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, dead_code)]

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use anvil_multiplexer::config::{EngineSpec, Launch, Settings};
use anvil_multiplexer::{Multiplexer, ProcessBackend};
use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use serde_json::Value;

/// `cargo`, without the variables cargo sets for this test (`CARGO_PKG_*`, `CARGO_MANIFEST_DIR`,
/// …): build scripts that read them would rebuild, and the outer build would rebuild them back.
fn cargo() -> Command {
    let mut command = Command::new(std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into()));
    for (name, _) in std::env::vars_os() {
        let name = name.to_string_lossy().into_owned();
        let per_test = [
            "CARGO_PKG_",
            "CARGO_MANIFEST_",
            "CARGO_CRATE_",
            "CARGO_BIN_",
            "CARGO_PRIMARY_PACKAGE",
            "CARGO_TARGET_TMPDIR",
        ];
        if per_test.iter().any(|p| name.starts_with(p)) {
            command.env_remove(name);
        }
    }
    command
}

/// The mock upstream's executable, built at most once per test process (honours
/// `CARGO_TARGET_DIR`; the path comes from cargo's JSON messages).
pub fn mock_bin() -> &'static Path {
    static BIN: OnceLock<PathBuf> = OnceLock::new();
    BIN.get_or_init(|| {
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
        let out = cargo()
            .args(["build", "--quiet", "-p", "anvil-mock-upstream"])
            .args(["--bin", "anvil-mock-upstream"])
            .args(["--message-format", "json-render-diagnostics"])
            .arg("--manifest-path")
            .arg(root.join("Cargo.toml"))
            .output()
            .expect("cargo build");
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout)
            .lines()
            .filter_map(|l| serde_json::from_str::<Value>(l).ok())
            .filter(|m| m["reason"] == "compiler-artifact")
            .filter(|m| m["target"]["name"] == "anvil-mock-upstream")
            .find_map(|m| m["executable"].as_str().map(PathBuf::from))
            .expect("no anvil-mock-upstream executable in cargo's messages")
    })
}

/// A port that was free a moment ago (the engine binds it itself, like a real engine would).
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// A mock engine named `name` on a fresh port; `args` are extra mock flags
/// (`--start-delay-ms N`, `--crash-on-start`).
pub fn mock_engine(name: &str, args: &[&str], start_timeout: Duration) -> EngineSpec {
    let port = free_port();
    let mut argv = vec![
        mock_bin().display().to_string(),
        "--port".to_owned(),
        port.to_string(),
    ];
    argv.extend(args.iter().map(|s| (*s).to_owned()));
    spec(name, port, argv, start_timeout)
}

/// An engine with the given argv serving (a mock) on `port`.
pub fn spec(name: &str, port: u16, argv: Vec<String>, start_timeout: Duration) -> EngineSpec {
    EngineSpec {
        name: name.to_owned(),
        launch: Launch::Command(argv),
        port,
        // The mock has no /health; its introspection endpoint answers 200 once it serves.
        health_url: format!("http://127.0.0.1:{port}/_mock/events"),
        base_url: format!("http://127.0.0.1:{port}"),
        gpu_memory_gb: Some(1.0),
        start_timeout,
        stop_grace: Duration::from_secs(5),
        env: BTreeMap::new(),
        cwd: None,
    }
}

/// Fast health polling for real children.
pub const SETTINGS: Settings = Settings {
    load_wait: Duration::from_secs(60),
    drain_timeout: Duration::from_secs(30),
    health_interval: Duration::from_millis(25),
};

/// A multiplexer served on 127.0.0.1 port 0; returns it and its base URL.
pub async fn serve(engines: Vec<EngineSpec>) -> (Multiplexer<ProcessBackend>, String) {
    let mux = Multiplexer::new(ProcessBackend::new(), engines, SETTINGS);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(anvil_multiplexer::server::serve(
        mux.clone(),
        listener,
        std::future::pending(),
        Duration::from_secs(1),
    ));
    (mux, url)
}

/// An HTTP client.
pub fn client() -> Client<HttpConnector, Full<Bytes>> {
    Client::builder(TokioExecutor::new()).build(HttpConnector::new())
}

/// A finished response.
#[derive(Debug)]
pub struct Reply {
    pub status: u16,
    pub headers: http::HeaderMap,
    pub body: String,
}

impl Reply {
    pub fn json(&self) -> Value {
        serde_json::from_str(&self.body).unwrap_or_else(|e| panic!("not JSON ({e}): {}", self.body))
    }
}

/// Sends a request and returns the response head and its body stream.
pub async fn send(method: &str, url: &str, body: &Value) -> http::Response<Incoming> {
    let mut request = http::Request::new(Full::new(Bytes::from(body.to_string())));
    *request.method_mut() = method.parse().unwrap();
    *request.uri_mut() = url.parse().unwrap();
    request.headers_mut().insert(
        http::header::CONTENT_TYPE,
        http::HeaderValue::from_static("application/json"),
    );
    client().request(request).await.unwrap()
}

/// Sends a request and reads the whole answer.
pub async fn call(method: &str, url: &str, body: &Value) -> Reply {
    let response = send(method, url, body).await;
    let status = response.status().as_u16();
    let headers = response.headers().clone();
    let bytes = response.into_body().collect().await.unwrap().to_bytes();
    Reply {
        status,
        headers,
        body: String::from_utf8_lossy(&bytes).into_owned(),
    }
}

/// `GET url` as JSON.
pub async fn get_json(url: &str) -> Value {
    let response = call("GET", url, &Value::Null).await;
    assert_eq!(response.status, 200, "{}", response.body);
    response.json()
}

/// A chat request for `model` whose user turn is `text`.
pub fn chat(model: &str, text: &str, stream: bool) -> Value {
    serde_json::json!({
        "model": model,
        "stream": stream,
        "messages": [{"role": "user", "content": text}],
    })
}

/// Whether process `pid` is alive (exists and is not a zombie).
pub fn alive(pid: u32) -> bool {
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        Err(_) => false,
        Ok(stat) => {
            // The state follows the parenthesised command name.
            let state = stat.rsplit(')').next().unwrap_or("").trim_start();
            !state.starts_with('Z') && !state.starts_with('X')
        }
    }
}

/// Live processes whose process group is `pgid`.
pub fn group_members(pgid: u32) -> Vec<u32> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir("/proc").unwrap().flatten() {
        let Ok(pid) = entry.file_name().to_string_lossy().parse::<u32>() else {
            continue;
        };
        let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else {
            continue;
        };
        let fields: Vec<&str> = stat
            .rsplit(')')
            .next()
            .unwrap_or("")
            .split_whitespace()
            .collect();
        // After the name: state, ppid, pgrp.
        if fields.get(2) == Some(&pgid.to_string().as_str()) && alive(pid) {
            out.push(pid);
        }
    }
    out.sort_unstable();
    out
}

/// Polls `check` until it holds or `timeout` passes.
pub async fn eventually(timeout: Duration, mut check: impl FnMut() -> bool) -> bool {
    let deadline = Instant::now() + timeout;
    loop {
        if check() {
            return true;
        }
        if Instant::now() >= deadline {
            return false;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}
