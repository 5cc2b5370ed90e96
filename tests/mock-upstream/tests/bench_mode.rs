//! What `cargo xtask bench` relies on: `MOCK:slow=0:N` streams N ticks with no delay, and a mock
//! without logs records nothing while counting requests.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::time::{Duration, Instant};

use anvil_mock_upstream::{serve, MockState};
use common::*;
use hyper::{Method, StatusCode};
use serde_json::Value;
use tokio::net::TcpListener;

#[tokio::test]
async fn slow_zero_streams_every_tick_without_waiting() {
    let addr = start().await;
    for d in DIALECTS {
        let start = Instant::now();
        let st = stream(addr, d.path(), &d.body("MOCK:slow=0:200", true, &[])).await;
        // 200 timers of even 1 ms would take 200 ms
        assert!(
            start.elapsed() < Duration::from_millis(190),
            "{d:?} {:?}",
            start.elapsed()
        );
        assert!(st.clean_end, "{d:?}");
        let s = d.summarize_stream(&st.events());
        assert_eq!(s.deltas, 200, "{d:?}");
        assert!(s.text.starts_with("tick1 tick2 ") && s.text.ends_with(" tick200"));
    }
}

#[tokio::test]
async fn a_mock_without_logs_answers_and_records_nothing() {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let state = MockState::new().without_logs();
    tokio::spawn(serve(listener, state.clone()));
    for d in DIALECTS {
        let (status, headers, _) = call(
            addr,
            Method::POST,
            d.path(),
            Some(&d.body("hi", false, &[])),
        )
        .await;
        assert_eq!(status, StatusCode::OK);
        assert!(headers.contains_key("x-mock-seq"));
    }
    let (_, headers, _) = call(
        addr,
        Method::POST,
        Dialect::Anthropic.path(),
        Some(&Dialect::Anthropic.body("again", false, &[])),
    )
    .await;
    assert_eq!(headers["x-mock-seq"], "4", "sequence numbers still count");
    let (_, _, requests) = call(addr, Method::GET, "/_mock/requests", None).await;
    assert_eq!(requests, Value::Array(Vec::new()));
    let (_, _, events) = call(addr, Method::GET, "/_mock/events", None).await;
    assert_eq!(events, Value::Array(Vec::new()));
    assert!(state.requests().is_empty());
}
