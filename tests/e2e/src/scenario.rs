//! Reusable scenario steps. Each returns an error describing the first expectation that failed,
//! so a test is `step(...).await.unwrap()`.

use std::time::Duration;

use anyhow::{bail, ensure, Context, Result};
use serde_json::Value;

use crate::config::Tier;
use crate::dialect::{Dialect, Reply, ToolCall, TOOL_NAME, TOOL_RESULT};
use crate::http::Finished;
use crate::stack::{Mock, Stack};

/// The answer the mock gives to a tool result: `Tool said: <result>`.
pub fn tool_said(result: &str) -> String {
    format!("Tool said: {result}")
}

/// The answer the mock gives by default.
pub const MOCK_TEXT: &str = "Hello from the mock upstream.";

/// A reply with the response head it came with.
#[derive(Debug)]
pub struct Exchange {
    /// Status code.
    pub status: u16,
    /// `x-anvil-tier`, `x-anvil-request-id` and friends are read from here.
    pub headers: hyper::HeaderMap,
    /// The reply, folded.
    pub reply: Reply,
    /// The raw body (JSON, or the event stream).
    pub body: Vec<u8>,
    /// For streams: what reading the stream produced.
    pub stream: Option<Finished>,
}

impl Exchange {
    /// A header's value as text.
    pub fn header(&self, name: &str) -> Option<String> {
        self.headers
            .get(name)
            .map(|value| String::from_utf8_lossy(value.as_bytes()).into_owned())
    }

    /// The body as text.
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }
}

/// Sends `body` (streamed when `body.stream` is true) to the router at `dialect`'s path and folds
/// the reply. Fails unless the status is 200.
pub async fn exchange(stack: &Stack, dialect: Dialect, body: &Value) -> Result<Exchange> {
    if body["stream"] == Value::Bool(true) {
        let streaming = stack.open(dialect, body).await?;
        let status = streaming.status.as_u16();
        let headers = streaming.headers.clone();
        let finished = streaming.finish().await;
        let text = String::from_utf8_lossy(&finished.body).into_owned();
        ensure!(
            status == 200,
            "{} stream: status {status}: {text}",
            dialect.name()
        );
        let reply = dialect.stream_reply(&finished.sse());
        Ok(Exchange {
            status,
            headers,
            reply,
            body: finished.body.clone(),
            stream: Some(finished),
        })
    } else {
        let response = stack.post(dialect, body).await?;
        let status = response.status.as_u16();
        ensure!(
            status == 200,
            "{}: status {status}: {}",
            dialect.name(),
            response.text()
        );
        let reply = dialect.reply(&response.json()?)?;
        Ok(Exchange {
            status,
            headers: response.headers.clone(),
            reply,
            body: response.body.to_vec(),
            stream: None,
        })
    }
}

/// The tool arguments the mock produces for [`TOOL_NAME`] in `dialect`, as the exact text of its
/// streamed argument fragments (asked directly, without the router).
pub async fn mock_tool_arguments(mock: &Mock, dialect: Dialect) -> Result<String> {
    let body = dialect.tool_request("direct-reference", "weather? MOCK:tool", true);
    let response = mock.direct(dialect, &body).await?;
    ensure!(response.status == 200, "mock: {}", response.text());
    let reply = dialect.stream_reply(&crate::sse::parse_all(&response.body));
    let call = reply
        .tool_calls
        .first()
        .with_context(|| format!("the mock made no tool call: {}", response.text()))?;
    Ok(call.arguments.clone())
}

/// Upstream requests the mock received for `tier` (its path, its model), in order.
pub async fn upstream_requests(mock: &Mock, tier: Tier) -> Result<Vec<Value>> {
    Ok(mock
        .requests_to(tier.dialect.path())
        .await?
        .into_iter()
        .filter(|request| request["body"]["model"] == tier.model)
        .collect())
}

fn check_tool_call(call: &ToolCall, reference: &str) -> Result<()> {
    ensure!(call.name == TOOL_NAME, "tool name {:?}", call.name);
    ensure!(!call.id.is_empty(), "tool call without an id");
    let want: Value = serde_json::from_str(reference)?;
    ensure!(
        call.arguments_json()? == want,
        "tool arguments {:?}, the mock sent {reference:?}",
        call.arguments
    );
    if call.exact {
        ensure!(
            call.arguments == reference,
            "tool arguments are not byte-equal: client got {:?}, the mock sent {reference:?}",
            call.arguments
        );
    }
    Ok(())
}

/// A full tool round trip from an `inbound` client through the router to `tier`: the upstream is
/// offered the tool, the client gets the mock's call with the same arguments, sends the result
/// back, the upstream receives it tied to the call, and the client gets `Tool said: …`.
pub async fn tool_round_trip(
    stack: &Stack,
    inbound: Dialect,
    tier: Tier,
    stream: bool,
) -> Result<()> {
    let what = format!("{} → {} (stream: {stream})", inbound.name(), tier.id);
    let reference = mock_tool_arguments(&stack.mock, tier.dialect).await?;
    let prompt = "What is the weather in Paris? MOCK:tool";

    let first = exchange(
        stack,
        inbound,
        &inbound.tool_request(tier.id, prompt, stream),
    )
    .await
    .with_context(|| format!("{what}: first turn"))?;
    ensure!(
        first.header("x-anvil-tier").as_deref() == Some(tier.id),
        "{what}: x-anvil-tier {:?}",
        first.header("x-anvil-tier")
    );
    ensure!(
        first
            .header("x-anvil-request-id")
            .is_some_and(|id| !id.is_empty()),
        "{what}: no x-anvil-request-id"
    );
    let reply = &first.reply;
    ensure!(
        reply.completed,
        "{what}: stream not completed: {}",
        first.text()
    );
    ensure!(reply.error.is_none(), "{what}: error {:?}", reply.error);
    ensure!(
        reply.tool_calls.len() == 1,
        "{what}: {} tool calls: {}",
        reply.tool_calls.len(),
        first.text()
    );
    ensure!(
        reply.stop.as_deref() == Some(inbound.tool_stop()),
        "{what}: stop {:?}, want {}",
        reply.stop,
        inbound.tool_stop()
    );
    let call = &reply.tool_calls[0];
    check_tool_call(call, &reference).with_context(|| what.clone())?;

    let upstream = upstream_requests(&stack.mock, tier).await?;
    ensure!(
        upstream.len() == 1,
        "{what}: {} upstream requests",
        upstream.len()
    );
    ensure!(
        tier.dialect.offered_tools(&upstream[0]["body"]) == [TOOL_NAME],
        "{what}: upstream was not offered the tool: {}",
        upstream[0]["body"]
    );

    let second_body = inbound.tool_result_request(tier.id, prompt, call, TOOL_RESULT, stream)?;
    let second = exchange(stack, inbound, &second_body)
        .await
        .with_context(|| format!("{what}: second turn"))?;
    ensure!(
        second.reply.text == tool_said(TOOL_RESULT),
        "{what}: answer {:?}: {}",
        second.reply.text,
        second.text()
    );
    ensure!(
        second.reply.completed && second.reply.error.is_none(),
        "{what}: {}",
        second.text()
    );
    ensure!(
        second.reply.stop.as_deref() == Some(inbound.end_stop()),
        "{what}: stop {:?}",
        second.reply.stop
    );
    let upstream = upstream_requests(&stack.mock, tier).await?;
    ensure!(
        upstream.len() == 2,
        "{what}: {} upstream requests",
        upstream.len()
    );
    let body = &upstream[1]["body"];
    let results = tier.dialect.tool_results(body);
    ensure!(
        results.len() == 1 && results[0].1 == TOOL_RESULT,
        "{what}: upstream tool results {results:?} in {body}"
    );
    ensure!(
        tier.dialect.history_call_ids(body).contains(&results[0].0),
        "{what}: the tool result's id {:?} matches no call in the upstream history: {body}",
        results[0].0
    );
    ensure!(
        tier.dialect.offered_tools(body) == [TOOL_NAME],
        "{what}: tools missing from the second upstream request"
    );
    Ok(())
}

/// A slow stream (`MOCK:slow=200:10`) reaches the client as it is produced: the first content
/// event well before 1 s, the last after 1.8 s.
pub async fn streams_in_real_time(stack: &Stack, inbound: Dialect, tier: Tier) -> Result<()> {
    let what = format!("{} → {}", inbound.name(), tier.id);
    let body = inbound.text_request(tier.id, "Talk slowly. MOCK:slow=200:10", true);
    let streamed = exchange(stack, inbound, &body).await?;
    let finished = streamed.stream.as_ref().context("not streamed")?;
    ensure!(
        streamed.reply.completed,
        "{what}: not completed: {}",
        streamed.text()
    );
    let content: Vec<Duration> = finished
        .events
        .iter()
        .filter(|timed| inbound.is_content_event(&timed.event))
        .map(|timed| timed.at)
        .collect();
    let (Some(first), Some(last)) = (content.first(), content.last()) else {
        bail!("{what}: no content events: {}", streamed.text());
    };
    ensure!(
        content.len() >= 5,
        "{what}: only {} content events",
        content.len()
    );
    ensure!(
        *first < Duration::from_secs(1),
        "{what}: first content event after {first:?} (buffered?)"
    );
    ensure!(
        *last >= Duration::from_millis(1800),
        "{what}: last content event at {last:?}: the stream did not take the mock's time"
    );
    Ok(())
}

/// An upstream that fails mid-stream (`directive` is `MOCK:midstream-reset` or
/// `MOCK:midstream-error`) shows up as an in-stream error event after the first content (for
/// Anthropic clients an `event: error`), and the next request through the router succeeds.
pub async fn midstream_failure(
    stack: &Stack,
    inbound: Dialect,
    tier: Tier,
    directive: &str,
) -> Result<()> {
    let what = format!("{} → {} {directive}", inbound.name(), tier.id);
    let body = inbound.text_request(tier.id, &format!("go {directive}"), true);
    let streaming = stack.open(inbound, &body).await?;
    ensure!(
        streaming.status == 200,
        "{what}: status {}",
        streaming.status
    );
    let finished = streaming.finish().await;
    let text = String::from_utf8_lossy(&finished.body).into_owned();
    let reply = inbound.stream_reply(&finished.sse());
    ensure!(
        reply.content_events >= 1,
        "{what}: no content before the failure: {text}"
    );
    ensure!(
        reply.error.is_some(),
        "{what}: no error event in the stream: {text}"
    );
    match inbound {
        Dialect::Anthropic => ensure!(
            finished
                .events
                .iter()
                .any(|timed| timed.event.event.as_deref() == Some("error")),
            "{what}: no `event: error`: {text}"
        ),
        Dialect::Responses => ensure!(
            reply.stop.as_deref() != Some("completed"),
            "{what}: the stream ends as completed: {text}"
        ),
        Dialect::Chat => ensure!(
            reply.stop.as_deref() != Some("stop"),
            "{what}: the stream ends with finish_reason stop: {text}"
        ),
    }
    let next = exchange(
        stack,
        inbound,
        &inbound.text_request(tier.id, "hello again", true),
    )
    .await
    .with_context(|| format!("{what}: the next request"))?;
    ensure!(
        next.reply.completed && next.reply.text == MOCK_TEXT,
        "{what}: the next request: {}",
        next.text()
    );
    Ok(())
}

/// An upstream HTTP error `code` reaches the client with the same status, in the inbound
/// dialect's error envelope (for a streamed request too: the failure comes before any byte).
pub async fn upstream_status(
    stack: &Stack,
    inbound: Dialect,
    tier: Tier,
    code: u16,
    stream: bool,
) -> Result<()> {
    let what = format!(
        "{} → {} status {code} (stream: {stream})",
        inbound.name(),
        tier.id
    );
    let body = inbound.text_request(tier.id, &format!("fail MOCK:status={code}"), stream);
    let response = stack.post(inbound, &body).await?;
    ensure!(
        response.status.as_u16() == code,
        "{what}: status {}: {}",
        response.status,
        response.text()
    );
    let json = response.json().with_context(|| what.clone())?;
    ensure!(
        inbound.error_envelope(&json).is_some(),
        "{what}: not a {} error envelope: {json}",
        inbound.name()
    );
    ensure!(
        response.header("x-anvil-request-id").is_some(),
        "{what}: no x-anvil-request-id on an error"
    );
    Ok(())
}

/// A client that goes away mid-stream makes the router drop the upstream stream too: the mock
/// records `client_disconnected` for the tier's path.
pub async fn client_disconnect(stack: &Stack, inbound: Dialect, tier: Tier) -> Result<()> {
    let what = format!("{} → {}", inbound.name(), tier.id);
    stack.mock.reset().await?;
    let body = inbound.text_request(tier.id, "slowly MOCK:slow=200:25", true);
    let mut streaming = stack.open(inbound, &body).await?;
    ensure!(
        streaming.status == 200,
        "{what}: status {}",
        streaming.status
    );
    loop {
        let Some(timed) = streaming.next_event().await? else {
            bail!("{what}: the stream ended before any content");
        };
        if inbound.is_content_event(&timed.event) {
            break;
        }
    }
    streaming.disconnect();
    let event = stack
        .mock
        .wait_event("client_disconnected", Duration::from_secs(10))
        .await
        .with_context(|| what.clone())?;
    ensure!(
        event["path"] == tier.dialect.path(),
        "{what}: disconnect recorded for {}",
        event["path"]
    );
    Ok(())
}

/// The prompt of the real-model smoke run.
pub const SMOKE_PROMPT: &str = "Say hello in one short sentence.";

/// The model server's own count of [`SMOKE_PROMPT`] as one user turn, asked directly (OpenAI Chat
/// Completions at `upstream_url`).
pub async fn direct_prompt_tokens(upstream_url: &str, model: &str) -> Result<u64> {
    let direct = crate::http::post_json(
        &format!("{}/chat/completions", upstream_url.trim_end_matches('/')),
        &serde_json::json!({"model": model, "max_tokens": 1,
            "messages": [{"role": "user", "content": SMOKE_PROMPT}]}),
        &[],
    )
    .await?;
    direct.json()?["usage"]["prompt_tokens"]
        .as_u64()
        .with_context(|| {
            format!(
                "the model server reported no prompt_tokens: {}",
                direct.text()
            )
        })
}

/// One short request per inbound dialect, whole and streamed, with `model` = `chat`, to a router at
/// `router_url` whose `chat` preset is the real model `model` at `upstream_url`: each must answer 200
/// with non-empty text, (streamed) reach its terminal event without an error, and report the model
/// server's own usage numbers. Returns one line per answer.
pub async fn real_model_smoke(
    router_url: &str,
    upstream_url: &str,
    model: &str,
) -> Result<Vec<String>> {
    // Every dialect's answer through the router must report exactly the model server's own count of
    // the prompt (its real numbers, passed back, not an estimate), and some output tokens.
    let prompt_tokens = direct_prompt_tokens(upstream_url, model).await?;
    let mut lines = vec![format!(
        "model server counts the prompt as {prompt_tokens} tokens"
    )];
    for inbound in Dialect::ALL {
        for stream in [false, true] {
            let what = format!("{} (stream: {stream})", inbound.name());
            let mut body = inbound.text_request("chat", SMOKE_PROMPT, stream);
            match inbound {
                Dialect::Anthropic | Dialect::Chat => body["max_tokens"] = 32.into(),
                Dialect::Responses => body["max_output_tokens"] = 32.into(),
            }
            let url = format!("{router_url}{}", inbound.path());
            let headers = inbound.client_headers();
            let reply = if stream {
                let streaming = crate::http::open_json(&url, &body, &headers).await?;
                let status = streaming.status;
                let finished = streaming.finish().await;
                let text = String::from_utf8_lossy(&finished.body).into_owned();
                ensure!(status == 200, "{what}: status {status}: {text}");
                let reply = inbound.stream_reply(&finished.sse());
                ensure!(reply.completed, "{what}: no terminal event: {text}");
                reply
            } else {
                let response = crate::http::post_json(&url, &body, &headers).await?;
                ensure!(
                    response.status == 200,
                    "{what}: status {}: {}",
                    response.status,
                    response.text()
                );
                inbound.reply(&response.json()?)?
            };
            ensure!(reply.error.is_none(), "{what}: error {:?}", reply.error);
            ensure!(
                !reply.text.trim().is_empty(),
                "{what}: empty answer: {reply:?}"
            );
            let usage = reply
                .usage
                .as_ref()
                .with_context(|| format!("{what}: no usage: {reply:?}"))?;
            let count = |key: &str| usage[key].as_u64().unwrap_or(0);
            let (input, output) = match inbound {
                Dialect::Anthropic => (
                    count("input_tokens")
                        + count("cache_read_input_tokens")
                        + count("cache_creation_input_tokens"),
                    count("output_tokens"),
                ),
                Dialect::Chat => (count("prompt_tokens"), count("completion_tokens")),
                Dialect::Responses => (count("input_tokens"), count("output_tokens")),
            };
            ensure!(
                input == prompt_tokens && output >= 1,
                "{what}: usage {usage} does not carry the model server's numbers \
                 ({prompt_tokens} prompt tokens, some output tokens)"
            );
            lines.push(format!(
                "{what}: {:?} (usage: {input} in, {output} out)",
                reply.text
            ));
        }
    }
    Ok(lines)
}
