//! The parts of the fallback walk that verify: the attempt ledger, the checks a work class runs, the
//! commit window that holds a streamed answer until it is verified, and the keep-alives sent while
//! it holds.

use std::time::Duration;

use anvil_backends::{UpstreamBody, UpstreamError};
use anvil_config::{Verify, WorkClass};
use anvil_dialects::canonical::{self, ResponseAccumulator};
use anvil_dialects::sse::SseDecoder;
use anvil_dialects::{Dialect, SseEvent, StreamEvent};
use anvil_fallback::{AttemptOutcome, Attempts, CommitWindow, WindowCap, WindowStep};
use anvil_profile_store::JsonText;
use bytes::Bytes;
use serde_json::Value;
use tokio::time::Instant;

/// What one attempt cost and why it ended, for the decision record.
#[derive(Debug, Default)]
pub(crate) struct Ledger {
    /// The attempts in order (the `x-anvil-attempts` header).
    pub attempts: Attempts,
    entries: Vec<AttemptEntry>,
    /// Prompt tokens, completion tokens and USD spent on attempts that did not serve.
    pub failed_in: u64,
    pub failed_out: u64,
    pub failed_cost: f64,
    /// Whether an answer failed verification (the walk then ends in exhaustion, not an upstream
    /// error).
    pub verify_failed: bool,
}

/// One attempt in the decision record's `attempt_log`, serialized on the writer's thread.
#[derive(Debug, serde::Serialize)]
struct AttemptEntry {
    tier: String,
    outcome: String,
    ms: u64,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    checks: Vec<CheckEntry>,
    #[serde(skip_serializing_if = "Option::is_none")]
    tokens_in: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    tokens_out: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    cost_usd: Option<f64>,
}

/// A failed check of an attempt.
#[derive(Debug, serde::Serialize)]
struct CheckEntry {
    check: &'static str,
    reason: String,
}

/// The detail of one attempt.
#[derive(Debug, Default)]
pub(crate) struct Spent {
    /// Failed checks: (check, reason).
    pub checks: Vec<(&'static str, String)>,
    /// (prompt, completion) tokens the upstream reported.
    pub usage: Option<(u64, u64)>,
    /// USD at the tier's prices.
    pub cost: f64,
    /// Time from sending to the outcome.
    pub elapsed: Duration,
}

impl Ledger {
    /// Records an attempt that did not serve (or a skipped tier).
    pub fn failed(&mut self, tier: &str, outcome: AttemptOutcome, spent: Spent) {
        if let Some((tokens_in, tokens_out)) = spent.usage {
            self.failed_in += tokens_in;
            self.failed_out += tokens_out;
        }
        self.failed_cost += spent.cost;
        if matches!(outcome, AttemptOutcome::VerifyFailed(_)) {
            self.verify_failed = true;
        }
        self.entry(tier, &outcome, &spent);
        self.attempts.push(tier, outcome);
    }

    /// Records the attempt that serves.
    pub fn served(&mut self, tier: &str, elapsed: Duration) {
        let spent = Spent {
            elapsed,
            ..Spent::default()
        };
        self.entry(tier, &AttemptOutcome::Ok, &spent);
        self.attempts.push(tier, AttemptOutcome::Ok);
    }

    fn entry(&mut self, tier: &str, outcome: &AttemptOutcome, spent: &Spent) {
        self.entries.push(AttemptEntry {
            tier: tier.to_owned(),
            outcome: outcome.to_string(),
            ms: spent.elapsed.as_millis() as u64,
            checks: spent
                .checks
                .iter()
                .map(|(check, reason)| CheckEntry {
                    check,
                    reason: reason.clone(),
                })
                .collect(),
            tokens_in: spent.usage.map(|(tokens_in, _)| tokens_in),
            tokens_out: spent.usage.map(|(_, tokens_out)| tokens_out),
            cost_usd: spent.usage.map(|_| spent.cost),
        });
    }

    /// The `x-anvil-attempts` value.
    pub fn header(&self) -> String {
        self.attempts.header_value()
    }

    /// The attempts as JSON, for the decision record (taken: a walk records once).
    pub fn take_log(&mut self) -> JsonText {
        JsonText::deferred(std::mem::take(&mut self.entries))
    }
}

/// The checks `work_class` runs under `[router.verify]`.
pub(crate) fn checks_for(config: &Verify, work_class: WorkClass) -> anvil_verify::Checks {
    let on = |name: &str| config.check_enabled(name, work_class);
    anvil_verify::Checks {
        empty: on("empty"),
        truncated: on("truncated"),
        thinking_starved: on("thinking-starved"),
        unknown_tool: on("unknown-tool"),
        tool_args_json: on("tool-args-json"),
        tool_args_schema: on("tool-args-schema"),
        tool_call_as_text: on("tool-call-as-text"),
        edit_applies: on("edit-does-not-apply"),
        code_parses: on("code-does-not-parse"),
        degenerate_repetition: on("degenerate-repetition"),
        refusal: on("refusal"),
        logprob_floor: config.logprob_floor.filter(|_| on("low-logprob")),
    }
}

/// Verifies an answer; the failed checks with their reasons (empty: passed).
pub(crate) fn verify(
    request: &canonical::Request,
    answer: &canonical::Response,
    logprobs: &[f64],
    checks: &anvil_verify::Checks,
) -> Vec<(&'static str, String)> {
    let verdict = anvil_verify::verify(request, answer, checks);
    let mut failed: Vec<(&'static str, String)> = verdict
        .failures
        .into_iter()
        .map(|f| (f.check.as_str(), f.reason))
        .collect();
    if let Some(floor) = checks.logprob_floor {
        if let Some(f) = anvil_verify::verify_logprobs(logprobs, floor) {
            failed.push((f.check.as_str(), f.reason));
        }
    }
    failed
}

/// Token logprobs in an answer's JSON (a complete answer, or one streamed chunk): Chat
/// `choices[].logprobs.content[].logprob`, Responses `output[].content[].logprobs[].logprob` and
/// `response.output_text.delta` events' `logprobs`. Anthropic answers carry none.
pub(crate) fn logprobs_of(dialect: Dialect, value: &Value, out: &mut Vec<f64>) {
    let mut take = |list: Option<&Value>| {
        if let Some(items) = list.and_then(Value::as_array) {
            out.extend(
                items
                    .iter()
                    .filter_map(|item| item.get("logprob").and_then(Value::as_f64)),
            );
        }
    };
    match dialect {
        Dialect::OpenAiChat => {
            for choice in value
                .get("choices")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
            {
                take(choice.get("logprobs").and_then(|l| l.get("content")));
            }
        }
        Dialect::Responses => {
            take(value.get("logprobs"));
            for item in value
                .get("output")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
            {
                for part in item
                    .get("content")
                    .and_then(Value::as_array)
                    .into_iter()
                    .flatten()
                {
                    take(part.get("logprobs"));
                }
            }
        }
        Dialect::Anthropic => {}
    }
}

/// The keep-alive a client's SDK ignores: an Anthropic `ping` event, an SSE comment for OpenAI.
pub(crate) fn keepalive(dialect: Dialect) -> Bytes {
    match dialect {
        Dialect::Anthropic => Bytes::from_static(b"event: ping\ndata: {\"type\": \"ping\"}\n\n"),
        Dialect::OpenAiChat | Dialect::Responses => Bytes::from_static(b": keep-alive\n\n"),
    }
}

/// The window cap from `[router.commit_window]`.
pub(crate) fn window_cap(config: &anvil_config::CommitWindow) -> WindowCap {
    WindowCap {
        max_bytes: config.max_bytes,
        max_duration: config.max_duration,
        on_exceeded: match config.on_exceeded {
            anvil_config::OnExceeded::CommitUnverified => {
                anvil_fallback::OnExceeded::CommitUnverified
            }
            anvil_config::OnExceeded::FailOver => anvil_fallback::OnExceeded::FailOver,
        },
    }
}

/// A source of upstream body chunks (an [`UpstreamBody`], or a scripted one in tests).
pub(crate) trait Chunks {
    /// The next chunk; `None` at the end. Cancel-safe.
    fn next_chunk(
        &mut self,
    ) -> impl std::future::Future<Output = Result<Option<Bytes>, UpstreamError>> + Send;
}

impl Chunks for UpstreamBody {
    fn next_chunk(
        &mut self,
    ) -> impl std::future::Future<Output = Result<Option<Bytes>, UpstreamError>> + Send {
        UpstreamBody::next_chunk(self)
    }
}

/// How a round of [`Held::fill`] ended.
#[derive(Debug)]
pub(crate) enum Fill {
    /// The upstream finished its answer: verify it.
    Complete,
    /// The time given to this round passed first (a keep-alive is due).
    Due,
    /// The window cap (bytes or time) was passed.
    Exceeded,
    /// The upstream failed (transport, deadline, or an error event in the stream).
    Failed(UpstreamError),
}

/// A streamed answer held in the commit window: the upstream's bytes, untouched, for replay, and
/// the answer they describe, for verification.
pub(crate) struct Held {
    dialect: Dialect,
    /// The upstream's chunks as received.
    pub chunks: Vec<Bytes>,
    sse: SseDecoder,
    decoder: Box<dyn anvil_dialects::StreamDecode + Send>,
    events: Vec<SseEvent>,
    canonical: Vec<StreamEvent>,
    answer: ResponseAccumulator,
    logprobs: Vec<f64>,
    window: CommitWindow,
    window_deadline: Instant,
    unreadable: Option<String>,
}

impl Held {
    /// An empty window for a stream in `dialect`, opened now.
    pub fn new(dialect: Dialect, cap: WindowCap) -> Self {
        let now = Instant::now();
        Self {
            dialect,
            chunks: Vec::new(),
            sse: SseDecoder::new(),
            decoder: anvil_dialects::translate::stream_decoder(dialect),
            events: Vec::new(),
            canonical: Vec::new(),
            answer: ResponseAccumulator::default(),
            logprobs: Vec::new(),
            window_deadline: now + cap.max_duration,
            window: CommitWindow::new(cap, now.into_std()),
            unreadable: None,
        }
    }

    /// The window's cap.
    pub fn cap(&self) -> &WindowCap {
        self.window.cap()
    }

    /// Reads the upstream until it finishes, fails, passes the cap, or `until` comes. Cancel-safe:
    /// a chunk is either absorbed whole or still in the body.
    pub async fn fill(&mut self, body: &mut impl Chunks, until: Instant) -> Fill {
        loop {
            let deadline = until.min(self.window_deadline);
            match tokio::time::timeout_at(deadline, body.next_chunk()).await {
                Err(_) => {
                    let now = Instant::now();
                    return if self.window.check(now.into_std()) == WindowStep::Exceeded {
                        Fill::Exceeded
                    } else {
                        Fill::Due
                    };
                }
                Ok(Err(e)) => return Fill::Failed(e),
                Ok(Ok(None)) => {
                    self.absorb(b"\n\n");
                    return match self.stream_failure() {
                        Some(e) => Fill::Failed(e),
                        None => Fill::Complete,
                    };
                }
                Ok(Ok(Some(chunk))) => {
                    self.absorb(&chunk);
                    let len = chunk.len();
                    self.chunks.push(chunk);
                    if let Some(e) = self.stream_failure().filter(|_| self.failed_early()) {
                        return Fill::Failed(e);
                    }
                    if self.window.feed(len, Instant::now().into_std()) == WindowStep::Exceeded {
                        return Fill::Exceeded;
                    }
                }
            }
        }
    }

    /// Decodes what `bytes` completes.
    fn absorb(&mut self, bytes: &[u8]) {
        if self.unreadable.is_some() {
            return;
        }
        self.events.clear();
        if let Err(e) = self.sse.push(bytes, &mut self.events) {
            self.unreadable = Some(e.to_string());
            return;
        }
        for event in &self.events {
            self.canonical.clear();
            if let Err(e) = self.decoder.decode(event, &mut self.canonical) {
                self.unreadable = Some(e.to_string());
                return;
            }
            for c in &self.canonical {
                self.answer.push(c);
            }
            if self.dialect != Dialect::Anthropic && event.data.contains("logprob") {
                if let Ok(value) = serde_json::from_str::<Value>(&event.data) {
                    logprobs_of(self.dialect, &value, &mut self.logprobs);
                }
            }
        }
    }

    /// An error event or an unreadable stream stops the attempt at once.
    fn failed_early(&self) -> bool {
        self.answer.error().is_some() || self.unreadable.is_some()
    }

    /// Why the held stream is not a complete answer, if it is not.
    fn stream_failure(&self) -> Option<UpstreamError> {
        if let Some(reason) = &self.unreadable {
            return Some(UpstreamError::Body(format!("unreadable stream: {reason}")));
        }
        if let Some((kind, message)) = self.answer.error() {
            return Some(UpstreamError::Body(format!(
                "error event in the stream: {kind}: {message}"
            )));
        }
        (!self.answer.is_complete())
            .then(|| UpstreamError::Body("the stream ended before the answer finished".into()))
    }

    /// The answer held so far.
    pub fn answer(&self) -> &canonical::Response {
        self.answer.response()
    }

    /// Token logprobs seen in the stream.
    pub fn logprobs(&self) -> &[f64] {
        &self.logprobs
    }

    /// Prompt and completion tokens the stream reported.
    pub fn usage(&self) -> Option<(u64, u64)> {
        let u = self.answer.response().usage;
        (u.input_tokens + u.output_tokens > 0).then(|| tokens(&u))
    }
}

/// Prompt tokens (cache reads and writes included) and completion tokens of a canonical usage.
pub(crate) fn tokens(u: &anvil_dialects::canonical::Usage) -> (u64, u64) {
    (
        u.input_tokens
            + u.cache_read_input_tokens.unwrap_or(0)
            + u.cache_creation_input_tokens.unwrap_or(0),
        u.output_tokens,
    )
}

/// USD for `usage` at `tier`'s prices (0 for a tier without prices).
pub(crate) fn cost(tier: Option<&anvil_config::Tier>, usage: Option<(u64, u64)>) -> f64 {
    match (tier, usage) {
        (Some(tier), Some((tokens_in, tokens_out))) => {
            (tokens_in as f64 * tier.cost_input_per_mtok.unwrap_or(0.0)
                + tokens_out as f64 * tier.cost_output_per_mtok.unwrap_or(0.0))
                / 1_000_000.0
        }
        _ => 0.0,
    }
}

#[cfg(test)]
mod tests {
    use std::collections::VecDeque;

    use serde_json::json;

    use super::*;

    /// Chunks that arrive `gap` apart on the (paused) tokio clock.
    struct Scripted {
        chunks: VecDeque<&'static str>,
        gap: Duration,
        next_at: Option<Instant>,
    }

    impl Chunks for Scripted {
        async fn next_chunk(&mut self) -> Result<Option<Bytes>, UpstreamError> {
            let at = *self
                .next_at
                .get_or_insert_with(|| Instant::now() + self.gap);
            tokio::time::sleep_until(at).await;
            self.next_at = Some(at + self.gap);
            Ok(self
                .chunks
                .pop_front()
                .map(|s| Bytes::from_static(s.as_bytes())))
        }
    }

    /// A Chat Completions stream of ten text deltas.
    fn chat_stream(gap: Duration) -> Scripted {
        let mut chunks: VecDeque<&'static str> = VecDeque::new();
        chunks.push_back("data: {\"id\":\"c\",\"object\":\"chat.completion.chunk\",\"created\":1,\"model\":\"m\",\"choices\":[{\"index\":0,\"delta\":{\"role\":\"assistant\",\"content\":\"\"},\"finish_reason\":null}]}\n\n");
        for _ in 0..9 {
            chunks.push_back("data: {\"id\":\"c\",\"object\":\"chat.completion.chunk\",\"created\":1,\"model\":\"m\",\"choices\":[{\"index\":0,\"delta\":{\"content\":\"tick \"},\"finish_reason\":null}]}\n\n");
        }
        chunks.push_back("data: {\"id\":\"c\",\"object\":\"chat.completion.chunk\",\"created\":1,\"model\":\"m\",\"choices\":[{\"index\":0,\"delta\":{},\"finish_reason\":\"stop\"}]}\n\ndata: [DONE]\n\n");
        Scripted {
            chunks,
            gap,
            next_at: None,
        }
    }

    fn cap(max_s: u64) -> WindowCap {
        WindowCap {
            max_bytes: 1 << 20,
            max_duration: Duration::from_secs(max_s),
            on_exceeded: anvil_fallback::OnExceeded::FailOver,
        }
    }

    #[tokio::test(start_paused = true)]
    async fn a_window_held_30_s_asks_for_a_keepalive_every_interval_then_completes() {
        let start = Instant::now();
        let keepalive = Duration::from_secs(5);
        let mut body = chat_stream(Duration::from_millis(2_500));
        let mut held = Held::new(Dialect::OpenAiChat, cap(120));
        let mut beats = Vec::new();
        let mut last = start;
        let outcome = loop {
            match held.fill(&mut body, last + keepalive).await {
                Fill::Due => {
                    last = Instant::now();
                    beats.push(last - start);
                }
                other => break other,
            }
        };
        assert!(matches!(outcome, Fill::Complete), "{outcome:?}");
        // 11 chunks and the end, 2.5 s apart: complete at 30 s, a keep-alive due every 5 s.
        assert_eq!(Instant::now() - start, Duration::from_secs(30));
        let want: Vec<Duration> = (1..=5).map(|n| Duration::from_secs(5 * n)).collect();
        assert_eq!(beats, want);
        assert_eq!(held.chunks.len(), 11);
        assert_eq!(
            held.answer().content,
            vec![canonical::Part::Text {
                text: "tick ".repeat(9),
                cache_control: None
            }]
        );
    }

    #[tokio::test(start_paused = true)]
    async fn a_window_past_its_time_cap_is_exceeded() {
        let start = Instant::now();
        let mut body = chat_stream(Duration::from_secs(4));
        let mut held = Held::new(Dialect::OpenAiChat, cap(10));
        let mut outcome = held.fill(&mut body, start + Duration::from_secs(60)).await;
        while matches!(outcome, Fill::Due) {
            outcome = held.fill(&mut body, start + Duration::from_secs(60)).await;
        }
        assert!(matches!(outcome, Fill::Exceeded), "{outcome:?}");
        assert_eq!(Instant::now() - start, Duration::from_secs(10));
        assert_eq!(held.chunks.len(), 2);
    }

    #[tokio::test(start_paused = true)]
    async fn a_stream_that_ends_early_or_reports_an_error_is_a_failure() {
        let mut cut = chat_stream(Duration::from_millis(10));
        cut.chunks.truncate(3);
        let mut held = Held::new(Dialect::OpenAiChat, cap(120));
        let far = Instant::now() + Duration::from_secs(60);
        assert!(matches!(held.fill(&mut cut, far).await, Fill::Failed(_)));

        let mut errored = Scripted {
            chunks: VecDeque::from([
                "data: {\"error\":{\"message\":\"overloaded\",\"type\":\"server_error\"}}\n\n",
            ]),
            gap: Duration::from_millis(10),
            next_at: None,
        };
        let mut held = Held::new(Dialect::OpenAiChat, cap(120));
        assert!(matches!(
            held.fill(&mut errored, far).await,
            Fill::Failed(_)
        ));
    }

    #[test]
    fn logprobs_are_read_from_chat_and_responses_answers() {
        let mut out = Vec::new();
        logprobs_of(
            Dialect::OpenAiChat,
            &json!({"choices": [{"logprobs": {"content": [{"logprob": -0.5}, {"logprob": -1.5}]}}]}),
            &mut out,
        );
        logprobs_of(
            Dialect::Responses,
            &json!({"output": [{"content": [{"logprobs": [{"logprob": -2.0}]}]}]}),
            &mut out,
        );
        assert_eq!(out, vec![-0.5, -1.5, -2.0]);
    }
}
