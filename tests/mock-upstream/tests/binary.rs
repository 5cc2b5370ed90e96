//! The binary prints its readiness line and serves.

mod common;

use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::process::{Command, Stdio};

use serde_json::json;

#[tokio::test]
async fn binary_prints_readiness_line_and_serves() {
    let mut child = Command::new(env!("CARGO_BIN_EXE_anvil-mock-upstream"))
        .args(["--port", "0"])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let line = tokio::task::spawn_blocking(move || {
        let mut line = String::new();
        BufReader::new(stdout).read_line(&mut line).unwrap();
        line
    })
    .await
    .unwrap();
    let addr = line
        .trim_end()
        .strip_prefix("listening on http://")
        .unwrap_or_else(|| panic!("bad readiness line {line:?}"));
    let addr: SocketAddr = addr.parse().unwrap();
    assert!(addr.ip().is_loopback());
    assert_ne!(addr.port(), 0);
    let requests = common::get(addr, "/_mock/requests").await;
    assert_eq!(requests, json!([]));
    child.kill().unwrap();
    child.wait().unwrap();
}
