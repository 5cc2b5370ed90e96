//! The mock over real TCP: every dialect, JSON and SSE, every directive, introspection.

mod common;

use std::time::{Duration, Instant};

use common::*;
use http_body_util::BodyExt;
use hyper::{Method, StatusCode};
use serde_json::{json, Value};

const DEFAULT_TEXT: &str = "Hello from the mock upstream.";
const WEATHER_ARGS: &str = "{\"location\":\"x ☀\",\"n\":1}";
const TIME_ARGS: &str = "{\"tz\":\"x ☀\",\"utc\":true}";

/// Words in `Dialect::body`: "Be brief." (2) plus the user text.
fn input_tokens(text: &str) -> u64 {
    1000 + 2 + text.split_whitespace().count() as u64
}

#[tokio::test]
async fn default_answer_json_every_dialect() {
    let addr = start().await;
    for d in DIALECTS {
        let text = "hello there mock";
        let (status, headers, v) = call(
            addr,
            Method::POST,
            d.path(),
            Some(&d.body(text, false, &[])),
        )
        .await;
        assert_eq!(status, StatusCode::OK, "{d:?}");
        assert_eq!(headers["content-type"], "application/json");
        let s = d.summarize_json(&v);
        assert_eq!(s.text, DEFAULT_TEXT, "{d:?}");
        assert_eq!(s.stop, "end");
        assert_eq!(s.input_tokens, input_tokens(text), "{d:?}");
        assert_eq!(s.output_tokens, 7 * 5 + 3, "{d:?}");
        assert!(s.tools.is_empty() && s.reasoning.is_empty());
    }
}

#[tokio::test]
async fn default_answer_stream_every_dialect() {
    let addr = start().await;
    for d in DIALECTS {
        let text = "hello there";
        let st = stream(addr, d.path(), &d.body(text, true, &[])).await;
        assert_eq!(st.status, StatusCode::OK);
        assert!(st.clean_end, "{d:?}");
        assert!(st.headers["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/event-stream"));
        let s = d.summarize_stream(&st.events());
        assert_eq!(s.text, DEFAULT_TEXT, "{d:?}");
        assert_eq!(s.deltas, 5, "one word per delta, {d:?}");
        assert_eq!(s.stop, "end");
        assert_eq!(s.input_tokens, input_tokens(text), "{d:?}");
        assert_eq!(s.output_tokens, 38, "{d:?}");
    }
}

#[tokio::test]
async fn anthropic_stream_event_order() {
    let addr = start().await;
    let d = Dialect::Anthropic;
    let st = stream(addr, d.path(), &d.body("hi", true, &[])).await;
    let mut want = vec!["message_start", "ping", "content_block_start"];
    want.extend(["content_block_delta"; 5]);
    want.extend(["content_block_stop", "message_delta", "message_stop"]);
    assert_eq!(anthropic_types(&st.events()), want);
}

#[tokio::test]
async fn responses_stream_event_order() {
    let addr = start().await;
    let d = Dialect::Responses;
    let st = stream(addr, d.path(), &d.body("hi", true, &[])).await;
    let mut want = vec![
        "response.created",
        "response.in_progress",
        "response.output_item.added",
        "response.content_part.added",
    ];
    want.extend(["response.output_text.delta"; 5]);
    want.extend([
        "response.output_text.done",
        "response.content_part.done",
        "response.output_item.done",
        "response.completed",
    ]);
    assert_eq!(responses_types(&st.events()), want);
    let events = st.events();
    assert_eq!(events[0].json()["response"]["status"], "in_progress");
    assert_eq!(
        events.last().unwrap().json()["response"]["status"],
        "completed"
    );
}

#[tokio::test]
async fn chat_stream_usage_chunk_only_with_include_usage() {
    let addr = start().await;
    let d = Dialect::Chat;
    for include in [false, true] {
        let mut body = d.body("hi", true, &[]);
        if !include {
            body.as_object_mut().unwrap().remove("stream_options");
        }
        let events = stream(addr, d.path(), &body).await.events();
        let chunks: Vec<Value> = events[..events.len() - 1]
            .iter()
            .map(|e| e.json())
            .collect();
        let usage_chunks: Vec<&Value> = chunks
            .iter()
            .filter(|c| c["choices"].as_array().unwrap().is_empty())
            .collect();
        // role, 5 contents, finish, (usage)
        assert_eq!(
            chunks.len(),
            7 + usize::from(include),
            "include_usage={include}"
        );
        if include {
            assert_eq!(usage_chunks.len(), 1);
            assert!(std::ptr::eq(usage_chunks[0], chunks.last().unwrap()));
            assert_eq!(
                usage_chunks[0]["usage"],
                json!({"prompt_tokens": 1003, "completion_tokens": 38, "total_tokens": 1041})
            );
            assert!(chunks[..chunks.len() - 1]
                .iter()
                .all(|c| c["usage"].is_null()));
        } else {
            assert!(usage_chunks.is_empty());
            assert!(chunks.iter().all(|c| c.get("usage").is_none()));
        }
        let finish = &chunks[6]["choices"][0];
        assert_eq!(finish["finish_reason"], "stop");
        assert_eq!(finish["delta"], json!({}));
    }
}

#[tokio::test]
async fn anthropic_requires_max_tokens() {
    let addr = start().await;
    let mut body = Dialect::Anthropic.body("hi", false, &[]);
    body.as_object_mut().unwrap().remove("max_tokens");
    let (status, _, v) = call(addr, Method::POST, "/v1/messages", Some(&body)).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(v["type"], "error");
    assert_eq!(v["error"]["type"], "invalid_request_error");
    assert!(v["error"]["message"]
        .as_str()
        .unwrap()
        .contains("max_tokens"));
}

#[tokio::test]
async fn count_tokens_counts_words() {
    let addr = start().await;
    let body = json!({
        "model": "m",
        "system": [{"type": "text", "text": "You are terse."}],
        "messages": [
            {"role": "user", "content": "one two three"},
            {"role": "assistant", "content": [{"type": "text", "text": "four"}]},
            {"role": "user", "content": [{"type": "tool_result", "tool_use_id": "t", "content": "five six"}]},
        ],
    });
    let (status, _, v) = call(addr, Method::POST, "/v1/messages/count_tokens", Some(&body)).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(v, json!({"input_tokens": 9}));
}

#[tokio::test]
async fn tool_directive_every_dialect() {
    let addr = start().await;
    let tools = [weather_tool(), time_tool()];
    for d in DIALECTS {
        for streamed in [false, true] {
            let body = d.body("weather please MOCK:tool", streamed, &tools);
            let s = if streamed {
                let st = stream(addr, d.path(), &body).await;
                assert!(st.clean_end);
                d.summarize_stream(&st.events())
            } else {
                let (status, _, v) = call(addr, Method::POST, d.path(), Some(&body)).await;
                assert_eq!(status, StatusCode::OK);
                d.summarize_json(&v)
            };
            assert_eq!(s.stop, "tool", "{d:?} stream={streamed}");
            assert_eq!(s.tools.len(), 1);
            let (name, args, id) = &s.tools[0];
            assert_eq!(name, "get_weather");
            assert!(!id.is_empty());
            let args: Value = serde_json::from_str(args).unwrap();
            assert_eq!(args, serde_json::from_str::<Value>(WEATHER_ARGS).unwrap());
            assert!(s.text.is_empty(), "{d:?}");
            if streamed {
                // the arguments arrive in several fragments
                assert_eq!(s.deltas, WEATHER_ARGS.chars().count().div_ceil(5));
                assert!(s.deltas >= 3);
                assert_eq!(s.output_tokens, 7 * s.deltas as u64 + 3);
            }
        }
    }
}

#[tokio::test]
async fn tools2_directive_every_dialect() {
    let addr = start().await;
    for d in DIALECTS {
        for (tools, names, args) in [
            (
                vec![weather_tool(), time_tool()],
                ["get_weather", "get_time"],
                [WEATHER_ARGS, TIME_ARGS],
            ),
            (
                vec![weather_tool()],
                ["get_weather", "get_weather"],
                [WEATHER_ARGS, WEATHER_ARGS],
            ),
        ] {
            let body = d.body("MOCK:tools2", true, &tools);
            let s = d.summarize_stream(&stream(addr, d.path(), &body).await.events());
            assert_eq!(s.text, "Calling two tools.", "{d:?}");
            assert_eq!(s.stop, "tool");
            let got: Vec<(&str, Value)> = s
                .tools
                .iter()
                .map(|(n, a, _)| (n.as_str(), serde_json::from_str(a).unwrap()))
                .collect();
            let want: Vec<(&str, Value)> = names
                .iter()
                .zip(args)
                .map(|(n, a)| (*n, serde_json::from_str(a).unwrap()))
                .collect();
            assert_eq!(got, want, "{d:?}");
            assert_ne!(s.tools[0].2, s.tools[1].2, "distinct call ids");
            let (_, _, v) = call(
                addr,
                Method::POST,
                d.path(),
                Some(&d.body("MOCK:tools2", false, &tools)),
            )
            .await;
            let j = d.summarize_json(&v);
            assert_eq!(j.text, s.text);
            assert_eq!(j.tools.len(), 2);
        }
    }
}

#[tokio::test]
async fn tool_directive_without_tools_answers_text() {
    let addr = start().await;
    for d in DIALECTS {
        let (_, _, v) = call(
            addr,
            Method::POST,
            d.path(),
            Some(&d.body("MOCK:tool", false, &[])),
        )
        .await;
        let s = d.summarize_json(&v);
        assert_eq!(s.text, "No tools were offered.");
        assert_eq!(s.stop, "end");
    }
}

#[tokio::test]
async fn reason_directive_every_dialect() {
    let addr = start().await;
    for d in DIALECTS {
        let st = stream(addr, d.path(), &d.body("MOCK:reason", true, &[])).await;
        let s = d.summarize_stream(&st.events());
        assert_eq!(s.reasoning, "Let me think.", "{d:?}");
        assert_eq!(s.text, DEFAULT_TEXT);
        assert_eq!(s.deltas, 3 + 5);
        assert_eq!(s.output_tokens, 7 * 8 + 3);
        // reasoning comes before the text
        let raw = st.text();
        assert!(
            raw.find("think.").unwrap() < raw.find("Hello").unwrap(),
            "{d:?}"
        );
        let (_, _, v) = call(
            addr,
            Method::POST,
            d.path(),
            Some(&d.body("MOCK:reason", false, &[])),
        )
        .await;
        let j = d.summarize_json(&v);
        assert_eq!(
            (j.reasoning.as_str(), j.text.as_str()),
            ("Let me think.", DEFAULT_TEXT)
        );
    }
    // Anthropic thinking blocks are signed in the stream too
    let d = Dialect::Anthropic;
    let events = stream(addr, d.path(), &d.body("MOCK:reason", true, &[]))
        .await
        .events();
    let sig = events
        .iter()
        .map(|e| e.json())
        .filter(|v| v["delta"]["type"] == "signature_delta")
        .count();
    assert_eq!(sig, 1);
}

#[tokio::test]
async fn length_directive_every_dialect() {
    let addr = start().await;
    for d in DIALECTS {
        let s = d.summarize_stream(
            &stream(addr, d.path(), &d.body("MOCK:length", true, &[]))
                .await
                .events(),
        );
        assert_eq!(s.stop, "length", "{d:?}");
        assert_eq!(s.text, DEFAULT_TEXT);
        let (_, _, v) = call(
            addr,
            Method::POST,
            d.path(),
            Some(&d.body("MOCK:length", false, &[])),
        )
        .await;
        assert_eq!(d.summarize_json(&v).stop, "length", "{d:?}");
    }
    let d = Dialect::Responses;
    let types = responses_types(
        &stream(addr, d.path(), &d.body("MOCK:length", true, &[]))
            .await
            .events(),
    );
    assert_eq!(types.last().unwrap(), "response.incomplete");
}

#[tokio::test]
async fn status_directive_every_dialect() {
    let addr = start().await;
    let cases = [
        (Dialect::Anthropic, 429, "rate_limit_error"),
        (Dialect::Anthropic, 529, "overloaded_error"),
        (Dialect::Anthropic, 500, "api_error"),
        (Dialect::Anthropic, 401, "authentication_error"),
        (Dialect::Chat, 429, "requests"),
        (Dialect::Chat, 503, "server_error"),
        (Dialect::Chat, 400, "invalid_request_error"),
        (Dialect::Responses, 429, "requests"),
        (Dialect::Responses, 500, "server_error"),
    ];
    for (d, code, kind) in cases {
        for streamed in [false, true] {
            let body = d.body(&format!("please MOCK:status={code}"), streamed, &[]);
            let (status, headers, v) = call(addr, Method::POST, d.path(), Some(&body)).await;
            assert_eq!(status.as_u16(), code, "{d:?}");
            assert_eq!(headers["content-type"], "application/json");
            assert_eq!(
                headers.get("retry-after").map(|h| h.to_str().unwrap()),
                (code == 429).then_some("1"),
                "{d:?} {code}"
            );
            match d {
                Dialect::Anthropic => {
                    assert_eq!(v["type"], "error");
                    assert_eq!(v["error"]["type"], kind);
                    assert!(v["error"]["message"].is_string());
                }
                _ => {
                    assert_eq!(v["error"]["type"], kind, "{d:?} {code}");
                    assert!(v["error"]["message"].is_string());
                    let keys: Vec<&String> = v["error"].as_object().unwrap().keys().collect();
                    assert_eq!(keys, ["message", "type", "param", "code"]);
                }
            }
        }
    }
}

#[tokio::test]
async fn reset_directive_closes_without_answer() {
    let addr = start().await;
    for d in DIALECTS {
        let res = send(
            addr,
            Method::POST,
            d.path(),
            Some(&d.body("MOCK:reset", true, &[])),
        )
        .await;
        assert!(res.is_err(), "{d:?} got an answer");
    }
    let events = wait_event(addr, "reset").await;
    assert_eq!(events.iter().filter(|e| e["kind"] == "reset").count(), 3);
}

#[tokio::test]
async fn midstream_reset_leaves_incomplete_body() {
    let addr = start().await;
    for d in DIALECTS {
        let st = stream(addr, d.path(), &d.body("MOCK:midstream-reset", true, &[])).await;
        assert_eq!(st.status, StatusCode::OK);
        assert!(!st.clean_end, "{d:?} ended cleanly");
        let raw = st.text();
        assert!(
            raw.contains("Hello ") && raw.contains("from "),
            "{d:?}: {raw}"
        );
        assert!(!raw.contains("the "), "{d:?} sent a third delta");
        for terminal in [
            "message_stop",
            "[DONE]",
            "response.completed",
            "finish_reason\":\"stop",
        ] {
            assert!(!raw.contains(terminal), "{d:?} sent {terminal}");
        }
    }
    let events = get(addr, "/_mock/events").await;
    let kinds: Vec<&str> = events
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["kind"].as_str().unwrap())
        .collect();
    assert_eq!(kinds, ["reset"; 3]);
}

#[tokio::test]
async fn midstream_error_every_dialect() {
    let addr = start().await;
    for d in DIALECTS {
        let st = stream(addr, d.path(), &d.body("MOCK:midstream-error", true, &[])).await;
        assert!(st.clean_end, "{d:?}");
        let events = st.events();
        let text: String = st.text();
        assert!(text.contains("Hello ") && text.contains("from ") && !text.contains("the "));
        match d {
            Dialect::Anthropic => {
                let last = events.last().unwrap();
                assert_eq!(last.event.as_deref(), Some("error"));
                assert_eq!(
                    last.json(),
                    json!({"type": "error", "error": {"type": "overloaded_error", "message": "Overloaded"}})
                );
                // event: lines still match until the error
                anthropic_types(&events);
            }
            Dialect::Chat => {
                let last = events.last().unwrap().json();
                assert_eq!(last["error"]["type"], "server_error");
                assert!(!text.contains("[DONE]"));
            }
            Dialect::Responses => {
                let types = responses_types(&events);
                let n = types.len();
                assert_eq!(&types[n - 2..], ["error", "response.failed"]);
                let failed = events[n - 1].json();
                assert_eq!(failed["response"]["status"], "failed");
                assert_eq!(failed["response"]["error"]["code"], "server_error");
                assert_eq!(events[n - 2].json()["code"], "server_error");
            }
        }
    }
}

#[tokio::test]
async fn hang_until_client_leaves() {
    let addr = start().await;
    let d = Dialect::Chat;
    let res = tokio::time::timeout(
        Duration::from_millis(300),
        send(
            addr,
            Method::POST,
            d.path(),
            Some(&d.body("MOCK:hang", false, &[])),
        ),
    )
    .await;
    assert!(res.is_err(), "hang answered");
    // the timed-out request future (and its connection) is gone: the mock notices
    let events = wait_event(addr, "client_disconnected").await;
    assert_eq!(events[0]["path"], "/v1/chat/completions");
    assert_eq!(events[0]["seq"], 1);
}

#[tokio::test]
async fn slow_stream_sends_each_event_as_its_own_frame() {
    let addr = start().await;
    for d in DIALECTS {
        let start = Instant::now();
        let st = stream(addr, d.path(), &d.body("MOCK:slow=40:4", true, &[])).await;
        assert!(start.elapsed() >= Duration::from_millis(160), "{d:?}");
        assert!(st.clean_end);
        // every frame is exactly one complete SSE event
        for frame in &st.frames {
            let text = std::str::from_utf8(frame).unwrap();
            assert_eq!(parse_sse(text).len(), 1, "{d:?} frame {text:?}");
            assert!(text.ends_with("\n\n"));
        }
        let s = d.summarize_stream(&st.events());
        assert_eq!(s.text, "tick1 tick2 tick3 tick4", "{d:?}");
        assert_eq!(s.deltas, 4);
        assert_eq!(s.output_tokens, 31);
    }
}

#[tokio::test]
async fn slow_stream_pieces_arrive_spaced() {
    let addr = start().await;
    let d = Dialect::Anthropic;
    let resp = send(
        addr,
        Method::POST,
        d.path(),
        Some(&d.body("MOCK:slow=60:3", true, &[])),
    )
    .await
    .unwrap();
    let mut body = resp.into_body();
    let mut arrivals = Vec::new();
    let start = Instant::now();
    while let Some(frame) = body.frame().await {
        let data = frame.unwrap().into_data().unwrap();
        if std::str::from_utf8(&data).unwrap().contains("text_delta") {
            arrivals.push(start.elapsed());
        }
    }
    assert_eq!(arrivals.len(), 3);
    // headers and message_start come at once; the pieces are spaced by the delay
    for pair in arrivals.windows(2) {
        assert!(
            pair[1] - pair[0] >= Duration::from_millis(45),
            "{arrivals:?}"
        );
    }
}

#[tokio::test]
async fn slow_json_answers_after_the_whole_delay() {
    let addr = start().await;
    for d in DIALECTS {
        let start = Instant::now();
        let (status, _, v) = call(
            addr,
            Method::POST,
            d.path(),
            Some(&d.body("MOCK:slow=30:3", false, &[])),
        )
        .await;
        assert!(start.elapsed() >= Duration::from_millis(90));
        assert_eq!(status, StatusCode::OK);
        assert_eq!(d.summarize_json(&v).text, "tick1 tick2 tick3");
    }
}

#[tokio::test]
async fn tool_result_turn_is_echoed() {
    let addr = start().await;
    for d in DIALECTS {
        let body = d.tool_result_body("Sunny, 21 C", true);
        let s = d.summarize_stream(&stream(addr, d.path(), &body).await.events());
        assert_eq!(s.text, "Tool said: Sunny, 21 C", "{d:?}");
        assert_eq!(s.deltas, 5);
        // the tool result's text counts as request text: "weather?" + 3 words
        assert_eq!(s.input_tokens, 1004, "{d:?}");
        // directives are read from the tool result too
        let body = d.tool_result_body("done MOCK:length", false);
        let (_, _, v) = call(addr, Method::POST, d.path(), Some(&body)).await;
        let j = d.summarize_json(&v);
        assert_eq!(
            (j.text.as_str(), j.stop.as_str()),
            ("Tool said: done MOCK:length", "length")
        );
    }
}

#[tokio::test]
async fn introspection_logs_and_reset() {
    let addr = start().await;
    let body = Dialect::Chat.body("hi", false, &[]);
    let resp = send(
        addr,
        Method::POST,
        "/v1/chat/completions?trace=1",
        Some(&body),
    )
    .await
    .unwrap();
    assert_eq!(resp.headers()["x-mock-seq"], "1");
    resp.into_body().collect().await.unwrap();
    let st = stream(
        addr,
        "/v1/messages",
        &Dialect::Anthropic.body("hi", true, &[]),
    )
    .await;
    assert!(st.clean_end);
    let requests = get(addr, "/_mock/requests").await;
    let requests = requests.as_array().unwrap();
    assert_eq!(requests.len(), 2, "introspection requests are not logged");
    let first = &requests[0];
    assert_eq!(first["seq"], 1);
    assert_eq!(first["method"], "POST");
    assert_eq!(first["path"], "/v1/chat/completions");
    assert_eq!(first["query"], "trace=1");
    assert_eq!(first["headers"]["x-test-header"], "Value One");
    assert_eq!(first["headers"]["content-type"], "application/json");
    assert_eq!(first["body"], body);
    assert_eq!(first["body_bytes"], body.to_string().len());
    assert_eq!(requests[1]["seq"], 2);
    assert_eq!(requests[1]["query"], "");
    let events = wait_event(addr, "completed").await;
    let want = json!([
        {"seq": 1, "kind": "completed", "path": "/v1/chat/completions"},
        {"seq": 2, "kind": "completed", "path": "/v1/messages"},
    ]);
    assert_eq!(Value::Array(events), want);
    // a body that is not JSON is logged as null
    let resp = send(addr, Method::GET, "/v1/unknown", None).await.unwrap();
    assert_eq!(resp.status(), StatusCode::NOT_FOUND);
    let requests = get(addr, "/_mock/requests").await;
    assert_eq!(requests[2]["body"], Value::Null);
    assert_eq!(requests[2]["body_bytes"], 0);

    let (status, _, _) = call(addr, Method::POST, "/_mock/reset", None).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(get(addr, "/_mock/requests").await, json!([]));
    assert_eq!(get(addr, "/_mock/events").await, json!([]));
}

#[tokio::test]
async fn client_disconnect_mid_stream_is_recorded() {
    let addr = start().await;
    for d in DIALECTS {
        let resp = send(
            addr,
            Method::POST,
            d.path(),
            Some(&d.body("MOCK:slow=50:40", true, &[])),
        )
        .await
        .unwrap();
        let mut body = resp.into_body();
        let first = body.frame().await.unwrap().unwrap();
        assert!(first.is_data());
        drop(body); // drops the client connection too
    }
    for _ in 0..250 {
        let events = get(addr, "/_mock/events").await;
        let n = events
            .as_array()
            .unwrap()
            .iter()
            .filter(|e| e["kind"] == "client_disconnected")
            .count();
        if n == 3 {
            assert!(events
                .as_array()
                .unwrap()
                .iter()
                .all(|e| e["kind"] == "client_disconnected"));
            return;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    panic!("disconnects not recorded");
}

#[tokio::test]
async fn keep_alive_serves_several_requests_per_connection() {
    let addr = start().await;
    let mut sender = connect(addr).await;
    for (i, d) in DIALECTS.into_iter().enumerate() {
        sender.ready().await.unwrap();
        let resp = sender
            .send_request(request(
                Method::POST,
                d.path(),
                Some(&d.body("hi", i % 2 == 1, &[])),
            ))
            .await
            .unwrap();
        assert_eq!(resp.status(), StatusCode::OK);
        let bytes = resp.into_body().collect().await.unwrap().to_bytes();
        assert!(String::from_utf8(bytes.to_vec())
            .unwrap()
            .contains("upstream."));
    }
    assert_eq!(
        get(addr, "/_mock/requests").await.as_array().unwrap().len(),
        3
    );
}
