//! The harness itself, checked against the mock alone (and `anvil-router check` for the generated
//! config), so it is known to work before any router scenario runs.
#![allow(
    clippy::unwrap_used,
    clippy::panic,
    reason = "test helpers outside #[test] fns fail loudly, like the tests"
)]

use std::process::Command;
use std::time::Duration;

use anvil_e2e::bins::binaries;
use anvil_e2e::config::router_config;
use anvil_e2e::dialect::{TOOL_NAME, TOOL_RESULT};
use anvil_e2e::scenario::{mock_tool_arguments, tool_said, MOCK_TEXT};
use anvil_e2e::sse::parse_all;
use anvil_e2e::stack::TempDir;
use anvil_e2e::{http, Dialect, Knobs, Mock};

#[test]
fn the_generated_config_passes_anvil_router_check() {
    let dir = TempDir::new("anvil-e2e-check").unwrap();
    let config = dir.path().join("router.toml");
    std::fs::write(
        &config,
        router_config("http://127.0.0.1:9", &Knobs::default()),
    )
    .unwrap();
    let output = Command::new(&binaries().unwrap().router)
        .arg("check")
        .arg("--config")
        .arg(&config)
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
}

#[tokio::test]
async fn the_mock_answers_every_dialect_whole_and_streamed_and_records_the_requests() {
    let mock = Mock::start().unwrap();
    for dialect in Dialect::ALL {
        let whole = mock
            .direct(
                dialect,
                &dialect.text_request("m-whole", "hello there", false),
            )
            .await
            .unwrap();
        assert_eq!(whole.status, 200, "{dialect:?}: {}", whole.text());
        let reply = dialect.reply(&whole.json().unwrap()).unwrap();
        assert_eq!(reply.text, MOCK_TEXT, "{dialect:?}");
        assert_eq!(
            reply.stop.as_deref(),
            Some(dialect.end_stop()),
            "{dialect:?}"
        );

        let streamed = http::open_json(
            &format!("{}{}", mock.url(), dialect.path()),
            &dialect.text_request("m-stream", "hello there", true),
            &[],
        )
        .await
        .unwrap();
        assert_eq!(streamed.status, 200);
        let finished = streamed.finish().await;
        assert_eq!(finished.error, None, "{dialect:?}");
        let reply = dialect.stream_reply(&finished.sse());
        assert!(reply.completed, "{dialect:?}");
        assert_eq!(reply.text, MOCK_TEXT, "{dialect:?}");
        assert!(reply.content_events >= 2, "{dialect:?}: {reply:?}");
    }
    let requests = mock.requests().await.unwrap();
    let models: Vec<_> = requests
        .iter()
        .map(|r| r["body"]["model"].as_str().unwrap_or_default())
        .collect();
    assert_eq!(models, ["m-whole", "m-stream"].repeat(3));
    assert_eq!(requests[0]["path"], "/v1/messages");
    assert_eq!(requests[0]["method"], "POST");
    mock.reset().await.unwrap();
    assert_eq!(
        mock.requests().await.unwrap(),
        Vec::<serde_json::Value>::new()
    );
}

#[tokio::test]
async fn a_tool_round_trip_against_the_mock_alone() {
    let mock = Mock::start().unwrap();
    for dialect in Dialect::ALL {
        let reference = mock_tool_arguments(&mock, dialect).await.unwrap();
        let arguments: serde_json::Value = serde_json::from_str(&reference).unwrap();
        assert!(arguments.is_object(), "{reference}");
        assert!(
            !reference.is_ascii(),
            "the mock's arguments carry a non-ASCII char: {reference}"
        );
        for stream in [false, true] {
            let body = dialect.tool_request("m", "weather? MOCK:tool", stream);
            let response = mock.direct(dialect, &body).await.unwrap();
            let reply = if stream {
                dialect.stream_reply(&parse_all(&response.body))
            } else {
                dialect.reply(&response.json().unwrap()).unwrap()
            };
            assert_eq!(
                reply.tool_calls.len(),
                1,
                "{dialect:?} {stream}: {}",
                response.text()
            );
            let call = &reply.tool_calls[0];
            assert_eq!(call.name, TOOL_NAME);
            assert_eq!(
                call.arguments_json().unwrap(),
                arguments,
                "{dialect:?} {stream}"
            );
            assert_eq!(
                reply.stop.as_deref(),
                Some(dialect.tool_stop()),
                "{dialect:?}"
            );
            let follow = dialect
                .tool_result_request("m", "weather? MOCK:tool", call, TOOL_RESULT, stream)
                .unwrap();
            let response = mock.direct(dialect, &follow).await.unwrap();
            let reply = if stream {
                dialect.stream_reply(&parse_all(&response.body))
            } else {
                dialect.reply(&response.json().unwrap()).unwrap()
            };
            assert_eq!(reply.text, tool_said(TOOL_RESULT), "{dialect:?} {stream}");
        }
        let recorded = mock.requests_to(dialect.path()).await.unwrap();
        let last = &recorded.last().unwrap()["body"];
        assert_eq!(dialect.offered_tools(last), [TOOL_NAME]);
        assert_eq!(dialect.tool_results(last).len(), 1);
    }
}

#[tokio::test]
async fn slow_streams_are_timed_event_by_event() {
    let mock = Mock::start().unwrap();
    let dialect = Dialect::Chat;
    let mut streaming = http::open_json(
        &format!("{}{}", mock.url(), dialect.path()),
        &dialect.text_request("m", "slowly MOCK:slow=200:10", true),
        &[],
    )
    .await
    .unwrap();
    let mut content = Vec::new();
    while let Some(timed) = streaming.next_event().await.unwrap() {
        if dialect.is_content_event(&timed.event) {
            content.push(timed.at);
        }
    }
    assert_eq!(content.len(), 10, "{content:?}");
    assert!(content[0] < Duration::from_secs(1), "{content:?}");
    assert!(content[9] >= Duration::from_millis(1800), "{content:?}");
    assert!(content.windows(2).all(|w| w[0] <= w[1]));
}

#[tokio::test]
async fn dropping_a_stream_is_seen_by_the_mock_as_a_client_disconnect() {
    let mock = Mock::start().unwrap();
    let dialect = Dialect::Anthropic;
    let mut streaming = http::open_json(
        &format!("{}{}", mock.url(), dialect.path()),
        &dialect.text_request("m", "slowly MOCK:slow=200:20", true),
        &[],
    )
    .await
    .unwrap();
    loop {
        let timed = streaming.next_event().await.unwrap().unwrap();
        if dialect.is_content_event(&timed.event) {
            break;
        }
    }
    streaming.disconnect();
    let event = mock
        .wait_event("client_disconnected", Duration::from_secs(10))
        .await
        .unwrap();
    assert_eq!(event["path"], "/v1/messages");
}

#[tokio::test]
async fn a_midstream_reset_ends_the_read_with_an_error_after_the_first_events() {
    let mock = Mock::start().unwrap();
    for dialect in Dialect::ALL {
        let streaming = http::open_json(
            &format!("{}{}", mock.url(), dialect.path()),
            &dialect.text_request("m", "go MOCK:midstream-reset", true),
            &[],
        )
        .await
        .unwrap();
        let finished = streaming.finish().await;
        assert!(
            finished.error.is_some(),
            "{dialect:?}: {:?}",
            finished.sse()
        );
        let reply = dialect.stream_reply(&finished.sse());
        assert!(!reply.completed, "{dialect:?}");
        assert!(reply.content_events >= 1, "{dialect:?}: {reply:?}");
    }
}

#[tokio::test]
async fn upstream_statuses_come_in_each_dialects_envelope() {
    let mock = Mock::start().unwrap();
    for dialect in Dialect::ALL {
        for code in [429_u16, 500, 503] {
            let body = dialect.text_request("m", &format!("MOCK:status={code}"), false);
            let response = mock.direct(dialect, &body).await.unwrap();
            assert_eq!(response.status, code, "{dialect:?}");
            assert!(
                dialect.error_envelope(&response.json().unwrap()).is_some(),
                "{dialect:?}: {}",
                response.text()
            );
        }
    }
}
