//! The request path: parse once, resolve the route, walk the candidate tiers (falling back only
//! before anything reached the client), and answer in the client's dialect — passing bytes through
//! when the tier speaks the client's dialect, translating them event by event when it does not.

use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use anvil_backends::{Upstream, UpstreamBody, UpstreamError};
use anvil_dialects::errors::{parse_error, ErrorBody};
use anvil_dialects::nullable::Nullable;
use anvil_dialects::translate::{AnyRequest, AnyResponse, StreamTranslator};
use anvil_dialects::{anthropic, openai, responses, Dialect, EncodeContext};
use anvil_fallback::AttemptOutcome;
use anvil_policy::Decision;
use anvil_profile_store::JsonText;
use bytes::Bytes;
use http::header::{HeaderValue, CACHE_CONTROL, CONTENT_TYPE, RETRY_AFTER};
use http::{HeaderMap, Response, StatusCode};
use serde_json::Value;
use tokio::sync::{mpsc, oneshot, OwnedSemaphorePermit};
use tokio::time::Instant;

use crate::body::Body;
use crate::raw_body::RawBody;
use crate::respond::{
    json_response, set_header, ApiError, ATTEMPTS, DECISION, TIER, TOKEN_COUNT, WORK_CLASS,
};
use crate::route::{self, Routing};
use crate::sse_frame::SseFramer;
use crate::walk::{Fill, Held, Ledger, Spent};
use crate::AppState;

/// Largest complete (non-streamed) upstream answer the router buffers.
const MAX_RESPONSE_BYTES: usize = 64 * 1024 * 1024;

/// Output budget written into translated requests to Anthropic-dialect tiers when the client set none
/// (Anthropic requires `max_tokens`; OpenAI clients usually omit it).
const DEFAULT_MAX_TOKENS: u64 = 8192;

/// A request after its body was read.
pub struct Ctx {
    pub state: Arc<AppState>,
    pub headers: HeaderMap,
    pub request_id: String,
    pub started: Instant,
    pub permit: OwnedSemaphorePermit,
}

/// The decision record of a request, before its outcome is known.
pub(crate) struct Draft {
    state: Arc<AppState>,
    request_id: String,
    unix_ms: i64,
    intent_source: &'static str,
    work_class: &'static str,
    confidence: f32,
    signals: JsonText,
    plan: JsonText,
    prompt: Option<String>,
    prompt_tokens_estimate: u64,
    started: Instant,
    /// The session the request belongs to, for its budget.
    session: Option<String>,
}

/// A decision record's plan: the plan's view and the residency it was made with, serialized on the
/// decision writer's thread (2,000 instructions off the request path).
struct PlanRecord(Arc<Routing>);

impl serde::Serialize for PlanRecord {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        #[derive(serde::Serialize)]
        struct Record<'a> {
            #[serde(flatten)]
            plan: crate::route::PlanView<'a>,
            residency: &'a Value,
        }
        Record {
            plan: crate::route::PlanView::new(&self.0.plan),
            residency: &self.0.residency,
        }
        .serialize(serializer)
    }
}

impl Draft {
    fn new(
        state: &Arc<AppState>,
        request_id: &str,
        routing: &Arc<Routing>,
        canonical: &anvil_dialects::canonical::Request,
        session: Option<String>,
    ) -> Self {
        let plan = &routing.plan;
        // The prompt is kept only when the operator opted in; the log strips it otherwise.
        let prompt = state
            .config
            .decision_log_prompts
            .then(|| last_user_text(canonical));
        Self {
            state: Arc::clone(state),
            request_id: request_id.to_owned(),
            unix_ms: SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .map_or(0, |d| d.as_millis() as i64),
            intent_source: plan.source.as_str(),
            work_class: plan.work_class.as_str(),
            confidence: plan.confidence,
            signals: JsonText::deferred(routing.classification.signals.clone()),
            plan: JsonText::deferred(PlanRecord(Arc::clone(routing))),
            prompt,
            prompt_tokens_estimate: routing.needs.prompt_tokens,
            started: Instant::now(),
            session,
        }
    }

    /// The request's session when a session budget is set: the session its cost is charged to.
    fn budgeted_session(&self) -> Option<&str> {
        self.session
            .as_deref()
            .filter(|_| self.state.config.budgets.session_usd.is_some())
    }

    /// Queues the record with its outcome, and charges the session's budget; never blocks.
    fn finish(
        self,
        served: Option<&str>,
        ledger: &mut Ledger,
        status: u16,
        usage: Option<(u64, u64)>,
    ) {
        let (tokens_in, tokens_out) = usage.unwrap_or((self.prompt_tokens_estimate, 0));
        let cost_usd = crate::walk::cost(
            served.and_then(|id| self.state.config.tier(id)),
            Some((tokens_in, tokens_out)),
        );
        if let Some(session) = self.budgeted_session() {
            let spent = cost_usd + ledger.failed_cost;
            if spent > 0.0 {
                self.state
                    .budgets
                    .charge(session, spent, Instant::now().into_std());
            }
        }
        self.state.record(anvil_profile_store::DecisionRecord {
            request_id: self.request_id,
            unix_ms: self.unix_ms,
            intent_source: self.intent_source.to_owned(),
            work_class: Some(self.work_class.to_owned()),
            confidence: f64::from(self.confidence),
            signals: self.signals,
            plan: self.plan,
            served_tier: served.map(str::to_owned),
            attempts: ledger.attempts.sent() as u32,
            status,
            latency_ms: self.started.elapsed().as_millis() as u64,
            tokens_in,
            tokens_out,
            cost_usd,
            attempt_log: ledger.take_log(),
            failed_tokens_in: ledger.failed_in,
            failed_tokens_out: ledger.failed_out,
            failed_cost_usd: ledger.failed_cost,
            prompt: self.prompt,
        });
    }
}

/// The latest text a human wrote (for decision records, when the operator opted in).
fn last_user_text(request: &anvil_dialects::canonical::Request) -> String {
    use anvil_dialects::canonical::{Part, Role};
    request
        .messages
        .iter()
        .rev()
        .filter(|m| m.role == Role::User)
        .find_map(|m| {
            let text: Vec<&str> = m
                .content
                .iter()
                .filter_map(|p| match p {
                    Part::Text { text, .. } => Some(text.as_str()),
                    _ => None,
                })
                .collect();
            (!text.is_empty()).then(|| text.join("\n"))
        })
        .unwrap_or_default()
}

/// Prompt and completion tokens from a complete answer's `usage`, in `dialect`'s spelling (cache
/// reads and writes count as prompt tokens). Only `usage` is decoded: the rest of the answer is
/// found by its structure ([`crate::raw_body::member`]), not decoded (6,600 instructions for the
/// bench's 300-byte answer before, 4,000 now).
fn usage_of_bytes(dialect: Dialect, answer: &[u8]) -> Option<(u64, u64)> {
    let usage = crate::raw_body::member(answer, "usage")?;
    let usage: Option<Usage> = serde_json::from_slice(&answer[usage]).ok()?;
    Some(usage?.tokens(dialect))
}

/// The token counts of a `usage` object in any of the three spellings (absent counts are 0).
#[derive(serde::Deserialize, Default, Clone, Copy)]
#[serde(default)]
struct Usage {
    input_tokens: Option<u64>,
    output_tokens: Option<u64>,
    cache_read_input_tokens: Option<u64>,
    cache_creation_input_tokens: Option<u64>,
    prompt_tokens: Option<u64>,
    completion_tokens: Option<u64>,
}

impl Usage {
    /// Takes every count `later` has.
    fn update(&mut self, later: Usage) {
        self.input_tokens = later.input_tokens.or(self.input_tokens);
        self.output_tokens = later.output_tokens.or(self.output_tokens);
        self.cache_read_input_tokens = later
            .cache_read_input_tokens
            .or(self.cache_read_input_tokens);
        self.cache_creation_input_tokens = later
            .cache_creation_input_tokens
            .or(self.cache_creation_input_tokens);
        self.prompt_tokens = later.prompt_tokens.or(self.prompt_tokens);
        self.completion_tokens = later.completion_tokens.or(self.completion_tokens);
    }

    fn tokens(&self, dialect: Dialect) -> (u64, u64) {
        let n = |x: Option<u64>| x.unwrap_or(0);
        match dialect {
            Dialect::Anthropic => (
                n(self.input_tokens)
                    + n(self.cache_read_input_tokens)
                    + n(self.cache_creation_input_tokens),
                n(self.output_tokens),
            ),
            Dialect::OpenAiChat => (n(self.prompt_tokens), n(self.completion_tokens)),
            Dialect::Responses => (n(self.input_tokens), n(self.output_tokens)),
        }
    }
}

/// Prompt and completion tokens from a canonical stream's events: the `Finish` event's usage, or,
/// before it, the `Start` event's (a stream cut short still spent its prompt, and the pass-through
/// tap records what it saw too), the later winning.
fn usage_of_events(events: &[anvil_dialects::StreamEvent]) -> Option<(u64, u64)> {
    events.iter().rev().find_map(|event| match event {
        anvil_dialects::StreamEvent::Start { usage: Some(u), .. }
        | anvil_dialects::StreamEvent::Finish { usage: Some(u), .. } => {
            Some(crate::walk::tokens(u))
        }
        _ => None,
    })
}

/// What the request log line needs, carried into the stream pump.
struct Log {
    draft: Draft,
    ledger: Ledger,
    request_id: String,
    inbound: Dialect,
    work_class: &'static str,
    prompt_tokens_estimate: u64,
    tier: String,
    tier_dialect: Dialect,
    started: Instant,
    time_to_headers: Duration,
    bytes_in: usize,
}

impl Log {
    fn done(mut self, status: u16, bytes_out: usize, outcome: &str, usage: Option<(u64, u64)>) {
        tracing::info!(
            request_id = %self.request_id,
            inbound = self.inbound.as_str(),
            work_class = self.work_class,
            prompt_tokens_estimate = self.prompt_tokens_estimate,
            tier = %self.tier,
            tier_dialect = self.tier_dialect.as_str(),
            attempts = %self.ledger.header(),
            status,
            upstream_headers_ms = self.time_to_headers.as_millis() as u64,
            total_ms = self.started.elapsed().as_millis() as u64,
            bytes_in = self.bytes_in,
            bytes_out,
            outcome,
            "request"
        );
        self.draft
            .finish(Some(&self.tier), &mut self.ledger, status, usage);
    }

    /// Runs `finish` (which ends in [`Log::done`]) once the worker is idle, after the response is
    /// out, unless the request charges a session budget: then it runs now, before the client has
    /// the end of the answer, so that the session's next request is planned with this one's cost
    /// counted (deferred, a client that sent its next request at once could be routed to a
    /// metered tier past the ceiling).
    fn finish_soon(self, finish: impl FnOnce(Log) + 'static) {
        if self.draft.budgeted_session().is_some() {
            finish(self);
        } else {
            crate::idle::defer(move || finish(self));
        }
    }
}

fn now_unix() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

/// Parses a request body of `dialect` into its typed model; a failure names the field.
fn parse(dialect: Dialect, bytes: &[u8]) -> Result<AnyRequest, ApiError> {
    fn typed<T: serde::de::DeserializeOwned>(bytes: &[u8]) -> Result<T, ApiError> {
        let mut de = serde_json::Deserializer::from_slice(bytes);
        serde_path_to_error::deserialize(&mut de).map_err(|e| {
            let path = e.path().to_string();
            let inner = e.into_inner();
            let message = if inner.is_syntax() || inner.is_eof() {
                format!("request body is not valid JSON: {inner}")
            } else if path == "." || path.is_empty() {
                format!("invalid request body: {inner}")
            } else {
                format!("{path}: {inner}")
            };
            let error = ApiError::bad_request(message);
            if path == "." || path.is_empty() {
                error
            } else {
                error.param(path)
            }
        })
    }
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Err(ApiError::bad_request("request body is empty"));
    }
    // Valid bodies (nearly all) parse without tracking field paths; only a rejected body is
    // parsed again with them, for an error that names the field.
    if let Ok(request) = AnyRequest::parse(dialect, bytes) {
        return Ok(request);
    }
    Ok(match dialect {
        Dialect::Anthropic => AnyRequest::Anthropic(typed::<anthropic::Request>(bytes)?),
        Dialect::OpenAiChat => AnyRequest::OpenAiChat(typed::<openai::Request>(bytes)?),
        Dialect::Responses => AnyRequest::Responses(typed::<responses::Request>(bytes)?),
    })
}

/// Checks what the typed model accepts but the endpoint does not.
fn validate(dialect: Dialect, json: &RawBody) -> Result<(), ApiError> {
    let present = |key: &str| json.present(key);
    match dialect {
        Dialect::Anthropic if !present("max_tokens") => {
            Err(ApiError::bad_request("max_tokens: field required").param("max_tokens"))
        }
        Dialect::Responses if json.is_true("store") => Err(
            ApiError::bad_request(
                "store: true is not supported: anvil keeps no conversation state; send store: false and the full input",
            )
            .param("store"),
        ),
        Dialect::Responses if present("previous_response_id") => Err(ApiError::bad_request(
            "previous_response_id is not supported: anvil keeps no conversation state; send the full input",
        )
        .param("previous_response_id")),
        _ => Ok(()),
    }
}

/// The upstream body for `upstream`: the client's own JSON with the model rewritten when the
/// dialects match, a full translation when they do not.
fn upstream_body(
    inbound: Dialect,
    canonical: &anvil_dialects::canonical::Request,
    json: &RawBody,
    upstream: &Upstream,
) -> Result<Bytes, ApiError> {
    if upstream.dialect() == inbound {
        // The client's bytes, member by member: nothing decoded, copied or re-encoded.
        return Ok(json.encode(upstream.model()));
    }
    let mut notes = Vec::new();
    let mut translated = AnyRequest::from_canonical(upstream.dialect(), canonical, &mut notes);
    if !notes.is_empty() {
        tracing::debug!(
            from = inbound.as_str(),
            to = upstream.dialect().as_str(),
            lossy = ?notes,
            "translation dropped or approximated fields"
        );
    }
    // Set on the typed request and written in one pass (with the answer's `Value` tree, the one
    // in between cost 26k of a translated 2 KB request's 172k router instructions).
    let model = upstream.model().map(str::to_owned);
    match &mut translated {
        AnyRequest::Anthropic(r) => {
            r.extra.remove(crate::raw_body::HINTS);
            if r.max_tokens.is_absent() {
                r.max_tokens = Nullable::Value(DEFAULT_MAX_TOKENS);
            }
            if let Some(model) = model {
                r.model = model;
            }
        }
        AnyRequest::OpenAiChat(r) => {
            r.extra.remove(crate::raw_body::HINTS);
            if let Some(model) = model {
                r.model = Nullable::Value(model);
            }
        }
        // A Responses upstream must not keep the conversation: anvil is stateless, and a cloud
        // tier would otherwise store the prompt.
        AnyRequest::Responses(r) => {
            r.extra.remove(crate::raw_body::HINTS);
            r.store = Nullable::Value(false);
            if let Some(model) = model {
                r.model = Nullable::Value(model);
            }
        }
    }
    translated
        .to_vec()
        .map(Bytes::from)
        .map_err(|e| ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, format!("encoding: {e}")))
}

/// The client-visible error for an upstream failure: the upstream's own status and message for an
/// error answer, 502/504 for transport failures. Never a stack trace, never a secret.
fn upstream_error(error: &UpstreamError, upstream: &Upstream) -> ApiError {
    let status = error.client_status();
    let mut api = match error {
        UpstreamError::Status { body, headers, .. } => {
            let message = parse_error(upstream.dialect(), body)
                .map(|(_, message)| message)
                .unwrap_or_else(|| format!("upstream answered {status}"));
            let mut api = ApiError::new(status, format!("upstream error: {message}"));
            if let Some(seconds) = headers
                .get(RETRY_AFTER)
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.trim().parse::<u64>().ok())
            {
                api = api.retry_after(seconds);
            }
            api
        }
        other => ApiError::new(status, format!("upstream unavailable: {}", other.kind())),
    };
    api.body.message = upstream.redact(&api.body.message);
    api
}

fn routed_headers(
    headers: &mut HeaderMap,
    routing: &Routing,
    tier: &str,
    decision: &'static str,
    attempts: &str,
) {
    set_header(headers, TIER, tier);
    // names from a fixed set: no copy
    headers.insert(
        WORK_CLASS,
        HeaderValue::from_static(routing.plan.work_class.as_str()),
    );
    headers.insert(DECISION, HeaderValue::from_static(decision));
    set_header(headers, ATTEMPTS, attempts);
}

/// Feeds an attempt's outcome (its stable kind) to the tier's circuit breaker; outcomes that say
/// nothing about the tier's health (a 4xx, a skip) are not counted.
fn record_outcome(state: &AppState, tier: &str, kind: &str) {
    if let Some(outcome) = kind
        .parse::<anvil_fallback::AttemptOutcome>()
        .ok()
        .and_then(|o| o.breaker_outcome())
    {
        state
            .breakers
            .record(tier, std::time::Instant::now(), outcome);
    }
}

/// The exhaustion error: no tier may serve, or every tier that could failed. The client sees that no
/// local (or no) tier could serve, in its dialect's envelope with a `retry-after`; the reasons per
/// tier go to the decision record and the log (and to `/v1/route`, which asks for them: `detailed`).
fn exhausted(state: &AppState, routing: &Routing, detailed: bool) -> ApiError {
    let any_cloud = state
        .config
        .tiers
        .iter()
        .zip(&state.bound)
        .any(|(tier, bound)| *bound && tier.is_cloud());
    let mut message = format!(
        "no {}tier could serve this {} request",
        if any_cloud { "" } else { "local " },
        routing.plan.work_class.as_str()
    );
    if detailed {
        let reasons: Vec<String> = routing
            .plan
            .dropped
            .iter()
            .map(|d| format!("{}: {}", d.tier, d.reason))
            .collect();
        if !reasons.is_empty() {
            message.push_str(&format!(" ({})", reasons.join("; ")));
        }
    }
    let retry_after = if routing
        .plan
        .dropped
        .iter()
        .any(|d| d.reason == anvil_policy::DropReason::BreakerOpen)
    {
        state.config.breakers.cooldown.as_secs().max(1)
    } else {
        1
    };
    ApiError::new(
        StatusCode::from_u16(state.config.exhaustion_status)
            .unwrap_or(StatusCode::SERVICE_UNAVAILABLE),
        message,
    )
    .retry_after(retry_after)
}

/// `POST /v1/messages`, `/v1/chat/completions`, `/v1/responses`.
pub async fn generate(ctx: Ctx, inbound: Dialect, bytes: Bytes) -> Response<Body> {
    let request_id = ctx.request_id.clone();
    match generate_inner(ctx, inbound, bytes).await {
        Ok(response) => response,
        Err(error) => {
            tracing::info!(
                request_id = %request_id,
                inbound = inbound.as_str(),
                status = error.body.status,
                message = %error.body.message,
                "request rejected"
            );
            error.into_response(inbound, &request_id)
        }
    }
}

async fn generate_inner(
    ctx: Ctx,
    inbound: Dialect,
    bytes: Bytes,
) -> Result<Response<Body>, ApiError> {
    let Ctx {
        state,
        headers,
        request_id,
        started,
        permit,
    } = ctx;
    let request = parse(inbound, &bytes)?;
    let json = RawBody::parse(&bytes)?;
    validate(inbound, &json)?;
    // Hints sent in the body (OpenAI `extra_body`) never reach an upstream.
    let body_hints = json.value(crate::raw_body::HINTS);
    let hints = route::hints(&headers, body_hints.as_ref())?;
    let model = json.string("model").unwrap_or_default();
    let mut notes = Vec::new();
    // The typed request moves into its canonical form: nothing of it is copied.
    let canonical = request.into_canonical(&mut notes);
    let session = route::session_id(&hints, &headers, &json.object_of(&["metadata"]));
    let routing = Arc::new(route::route(
        &state.config,
        &state.classifier,
        &state.profile.load(),
        &state.bound,
        &model,
        hints,
        &canonical,
        &state.breakers.open_tiers(std::time::Instant::now()),
        session_budget(&state, session.as_deref()),
        &state.residency.load(),
    ));
    let stream = json.is_true("stream");
    let draft = Draft::new(&state, &request_id, &routing, &canonical, session);
    let candidates = routing
        .plan
        .candidates
        .iter()
        .map(|c| (c.index, c.decision))
        .collect();
    let checks = crate::walk::checks_for(&state.config.verify, routing.plan.work_class);
    let walk = Walk {
        state,
        inbound,
        request_id,
        started,
        headers,
        json,
        canonical,
        routing,
        model,
        bytes_in: bytes.len(),
        draft: Some(draft),
        ledger: Ledger::default(),
        checks,
        candidates,
        next: 0,
        last: None,
        permit: Some(permit),
    };
    Ok(if stream {
        walk.run_stream().await
    } else {
        walk.run_complete().await
    })
}

/// What the session may still spend on metered tiers, when it has a ceiling.
fn session_budget(state: &AppState, session: Option<&str>) -> Option<anvil_policy::SessionBudget> {
    let ceiling_usd = state.config.budgets.session_usd?;
    let session = session?;
    Some(anvil_policy::SessionBudget {
        spent_usd: state.budgets.spent(session, Instant::now().into_std()),
        ceiling_usd,
    })
}

/// Where a streamed answer's bytes go: nowhere yet (the response head is still to be decided), or a
/// client that already has its headers because the commit window sent keep-alives.
enum Sink {
    Pending(Option<oneshot::Sender<Response<Body>>>),
    Open(mpsc::Sender<Bytes>),
}

impl Sink {
    /// Resolves when the client has gone away.
    async fn closed(&mut self) {
        match self {
            Sink::Pending(Some(head)) => head.closed().await,
            Sink::Pending(None) => {}
            Sink::Open(tx) => tx.closed().await,
        }
    }
}

/// The walk over a request's candidate tiers. Owned, so a streamed walk can continue in a task after
/// the response headers went out.
struct Walk {
    state: Arc<AppState>,
    inbound: Dialect,
    request_id: String,
    started: Instant,
    headers: HeaderMap,
    json: RawBody,
    canonical: anvil_dialects::canonical::Request,
    routing: Arc<Routing>,
    model: String,
    bytes_in: usize,
    draft: Option<Draft>,
    ledger: Ledger,
    checks: anvil_verify::Checks,
    /// (index into `state.upstreams`, decision), best first.
    candidates: Vec<(usize, Decision)>,
    next: usize,
    /// The last upstream failure as the client would see it, and whether another tier could have
    /// been tried after it.
    last: Option<(ApiError, bool)>,
    /// The concurrency slot, held until the walk (and its stream) ends.
    permit: Option<OwnedSemaphorePermit>,
}

impl Walk {
    /// The next candidate to call: within the retry cap, its breaker admitting it.
    fn next_candidate(&mut self) -> Option<(usize, Decision)> {
        let policy = anvil_fallback::RetryPolicy {
            max_attempts: self.state.config.limits.max_attempts as usize,
            retry_on_4xx: false,
        };
        while let Some(&(index, decision)) = self.candidates.get(self.next) {
            self.next += 1;
            if !policy.may_try_another(&self.ledger.attempts) {
                return None;
            }
            let Some(upstream) = self.state.upstreams.get(index).and_then(Option::as_ref) else {
                continue;
            };
            // The plan skipped tiers whose breaker was open; one may have opened since.
            if !self
                .state
                .breakers
                .allow(upstream.tier_id(), std::time::Instant::now())
                .is_admitted()
            {
                self.ledger.failed(
                    upstream.tier_id(),
                    AttemptOutcome::BreakerOpen,
                    Spent::default(),
                );
                continue;
            }
            return Some((index, decision));
        }
        None
    }

    /// Whether `decision` means holding the answer until it is verified.
    fn verifies(&self, decision: Decision) -> bool {
        decision == Decision::AllowWithVerify && self.state.config.verify.enabled
    }

    async fn send(
        &self,
        upstream: &Upstream,
    ) -> Result<anvil_backends::UpstreamResponse, UpstreamError> {
        let body = upstream_body(self.inbound, &self.canonical, &self.json, upstream)
            .map_err(|e| UpstreamError::Body(e.body.message))?;
        upstream.send(body, &self.headers).await
    }

    /// Records a failed attempt; whether the walk may go on. `held`: nothing of the attempt reached
    /// the client (a verified attempt's window), so any failure may fall back.
    fn upstream_failed(
        &mut self,
        upstream: &Upstream,
        error: &UpstreamError,
        spent: Spent,
        held: bool,
    ) -> bool {
        record_outcome(&self.state, upstream.tier_id(), error.kind());
        tracing::warn!(
            request_id = %self.request_id,
            tier = upstream.tier_id(),
            error = %upstream.redact(&error.to_string()),
            "upstream attempt failed"
        );
        let outcome = error
            .kind()
            .parse::<AttemptOutcome>()
            .unwrap_or(AttemptOutcome::BodyFailed);
        self.ledger.failed(upstream.tier_id(), outcome, spent);
        let may_fall_back = held || error.may_fall_back();
        self.last = Some((upstream_error(error, upstream), may_fall_back));
        may_fall_back
    }

    /// Records an attempt that failed before any answer came; whether the walk may go on.
    fn unanswered(&mut self, upstream: &Upstream, error: &UpstreamError, sent_at: Instant) -> bool {
        let spent = Spent {
            elapsed: sent_at.elapsed(),
            ..Spent::default()
        };
        self.upstream_failed(upstream, error, spent, false)
    }

    /// Records an answer that failed verification.
    fn verify_failed(
        &mut self,
        upstream: &Upstream,
        checks: Vec<(&'static str, String)>,
        usage: Option<(u64, u64)>,
        elapsed: Duration,
    ) {
        let first = checks.first().map_or("unknown", |(check, _)| *check);
        tracing::info!(
            request_id = %self.request_id,
            tier = upstream.tier_id(),
            checks = ?checks,
            "answer failed verification; falling back"
        );
        let outcome = AttemptOutcome::VerifyFailed(first.to_owned());
        if let Some(o) = outcome.breaker_outcome() {
            self.state
                .breakers
                .record(upstream.tier_id(), std::time::Instant::now(), o);
        }
        let cost = crate::walk::cost(self.state.config.tier(upstream.tier_id()), usage);
        self.ledger.failed(
            upstream.tier_id(),
            outcome,
            Spent {
                checks,
                usage,
                cost,
                elapsed,
            },
        );
    }

    /// Records a window that outgrew its cap and is abandoned.
    fn window_failed(&mut self, upstream: &Upstream, usage: Option<(u64, u64)>, elapsed: Duration) {
        let cost = crate::walk::cost(self.state.config.tier(upstream.tier_id()), usage);
        self.ledger.failed(
            upstream.tier_id(),
            AttemptOutcome::WindowExceeded,
            Spent {
                usage,
                cost,
                elapsed,
                ..Spent::default()
            },
        );
    }

    /// Marks `upstream` as the tier that serves and hands the record over to the response's log.
    fn serving(&mut self, upstream: &Upstream, sent_at: Instant, time_to_headers: Duration) -> Log {
        self.state.breakers.record(
            upstream.tier_id(),
            std::time::Instant::now(),
            anvil_fallback::Outcome::Success,
        );
        self.ledger.served(upstream.tier_id(), sent_at.elapsed());
        Log {
            draft: self.draft.take().unwrap_or_else(|| {
                Draft::new(
                    &self.state,
                    &self.request_id,
                    &self.routing,
                    &self.canonical,
                    None,
                )
            }),
            ledger: std::mem::take(&mut self.ledger),
            request_id: self.request_id.clone(),
            inbound: self.inbound,
            work_class: self.routing.plan.work_class.as_str(),
            prompt_tokens_estimate: self.routing.needs.prompt_tokens,
            tier: upstream.tier_id().to_owned(),
            tier_dialect: upstream.dialect(),
            started: self.started,
            time_to_headers,
            bytes_in: self.bytes_in,
        }
    }

    /// The error that ends a walk no tier survived: the upstream's own error when the only tier
    /// tried failed by itself (or the request was at fault), the exhaustion status otherwise.
    fn final_error(&mut self) -> ApiError {
        match self.last.take() {
            Some((error, may_fall_back))
                if !may_fall_back
                    || (self.ledger.attempts.sent() <= 1 && !self.ledger.verify_failed) =>
            {
                error
            }
            _ => exhausted(&self.state, &self.routing, false),
        }
    }

    /// Records and logs a walk that served nothing.
    fn failed(&mut self, status: u16, outcome: &str) {
        if let Some(draft) = self.draft.take() {
            draft.finish(None, &mut self.ledger, status, None);
        }
        tracing::info!(
            request_id = %self.request_id,
            inbound = self.inbound.as_str(),
            attempts = %self.ledger.header(),
            status,
            outcome,
            total_ms = self.started.elapsed().as_millis() as u64,
            "request failed"
        );
    }

    fn headers_for(&self, headers: &mut HeaderMap, tier: &str, decision: Decision, attempts: &str) {
        routed_headers(headers, &self.routing, tier, decision.as_str(), attempts);
    }

    /// The error response that ends a walk: in the client's envelope, with anvil's headers.
    fn error_response(&mut self) -> Response<Body> {
        let error = self.final_error();
        self.failed(error.body.status, "exhausted");
        let mut response = error.into_response(self.inbound, &self.request_id);
        let tier = self
            .ledger
            .attempts
            .as_slice()
            .last()
            .map(|a| a.tier.clone())
            .unwrap_or_default();
        let decision = self
            .candidates
            .get(self.next.saturating_sub(1))
            .map_or(Decision::Deny, |(_, d)| *d);
        let attempts = self.ledger.header();
        self.headers_for(response.headers_mut(), &tier, decision, &attempts);
        if tier.is_empty() {
            set_header(response.headers_mut(), DECISION, "deny");
        }
        response
    }

    /// Calls candidates until one answers (its headers arrived): that tier, its decision, the
    /// response and when it was sent. `None` once no candidate is left or a failure ends the walk.
    async fn next_answer<'s>(
        &mut self,
        state: &'s AppState,
    ) -> Option<(
        &'s Upstream,
        Decision,
        anvil_backends::UpstreamResponse,
        Instant,
    )> {
        while let Some((index, decision)) = self.next_candidate() {
            let Some(upstream) = state.upstreams.get(index).and_then(Option::as_ref) else {
                continue;
            };
            let sent_at = Instant::now();
            match self.send(upstream).await {
                Ok(response) => return Some((upstream, decision, response, sent_at)),
                Err(error) if self.unanswered(upstream, &error, sent_at) => continue,
                Err(_) => break,
            }
        }
        None
    }

    /// A non-streamed request: each candidate's answer is read whole, verified when its decision
    /// says so, and the first that passes is sent.
    async fn run_complete(mut self) -> Response<Body> {
        let state = Arc::clone(&self.state);
        while let Some((upstream, decision, response, sent_at)) = self.next_answer(&state).await {
            let verify = self.verifies(decision);
            let bytes = if verify {
                match self.hold_complete(upstream, response.body, sent_at).await {
                    Some(bytes) => bytes,
                    None => continue,
                }
            } else {
                match response.body.collect(MAX_RESPONSE_BYTES).await {
                    Ok(bytes) => bytes,
                    Err(error) => {
                        let log = self.serving(upstream, sent_at, response.time_to_headers);
                        let api = upstream_error(&error, upstream);
                        log.done(api.body.status, 0, error.kind(), None);
                        return api.into_response(self.inbound, &self.request_id);
                    }
                }
            };
            let log = self.serving(upstream, sent_at, response.time_to_headers);
            let attempts = log.ledger.header();
            let mut out = match complete_response(self.inbound, upstream, bytes, log, &self.model) {
                Ok(out) => out,
                Err(error) => error.into_response(self.inbound, &self.request_id),
            };
            self.headers_for(out.headers_mut(), upstream.tier_id(), decision, &attempts);
            // the walk's parsed request and plan are freed once the answer is out
            drop(self.permit.take());
            crate::idle::defer(move || drop(self));
            return out;
        }
        self.error_response()
    }

    /// Reads a whole answer under the commit window's cap and verifies it: the bytes to send, or
    /// `None` after recording why this attempt cannot serve.
    async fn hold_complete(
        &mut self,
        upstream: &Upstream,
        mut body: UpstreamBody,
        sent_at: Instant,
    ) -> Option<Bytes> {
        let cap = crate::walk::window_cap(&self.state.config.commit_window);
        let deadline = Instant::now() + cap.max_duration;
        let mut buffer = Vec::new();
        let exceeded = loop {
            match tokio::time::timeout_at(deadline, body.next_chunk()).await {
                Err(_) => break true,
                Ok(Ok(Some(chunk))) => {
                    buffer.extend_from_slice(&chunk);
                    if buffer.len() as u64 > cap.max_bytes {
                        break true;
                    }
                }
                Ok(Ok(None)) => break false,
                Ok(Err(error)) => {
                    let spent = Spent {
                        elapsed: sent_at.elapsed(),
                        ..Spent::default()
                    };
                    self.upstream_failed(upstream, &error, spent, true);
                    return None;
                }
            }
        };
        if exceeded {
            if cap.on_exceeded == anvil_fallback::OnExceeded::FailOver {
                self.window_failed(upstream, None, sent_at.elapsed());
                return None;
            }
            tracing::info!(
                request_id = %self.request_id,
                tier = upstream.tier_id(),
                "answer outgrew the commit window; sending it unverified"
            );
            return match body
                .collect(MAX_RESPONSE_BYTES.saturating_sub(buffer.len()))
                .await
            {
                Ok(rest) => {
                    buffer.extend_from_slice(&rest);
                    Some(Bytes::from(buffer))
                }
                Err(error) => {
                    let spent = Spent {
                        elapsed: sent_at.elapsed(),
                        ..Spent::default()
                    };
                    self.upstream_failed(upstream, &error, spent, true);
                    None
                }
            };
        }
        let bytes = Bytes::from(buffer);
        let parsed = match AnyResponse::parse(upstream.dialect(), &bytes) {
            Ok(parsed) => parsed,
            Err(e) => {
                let error = UpstreamError::Body(format!(
                    "the answer is not a valid {} response: {e}",
                    upstream.dialect().as_str()
                ));
                let spent = Spent {
                    elapsed: sent_at.elapsed(),
                    ..Spent::default()
                };
                self.upstream_failed(upstream, &error, spent, true);
                return None;
            }
        };
        let mut notes = Vec::new();
        let answer = parsed.to_canonical(&mut notes);
        let mut logprobs = Vec::new();
        if self.checks.logprob_floor.is_some() {
            if let Ok(value) = serde_json::from_slice::<Value>(&bytes) {
                crate::walk::logprobs_of(upstream.dialect(), &value, &mut logprobs);
            }
        }
        let failures = crate::walk::verify(&self.canonical, &answer, &logprobs, &self.checks);
        if failures.is_empty() {
            return Some(bytes);
        }
        let usage = usage_of_bytes(upstream.dialect(), &bytes);
        self.verify_failed(upstream, failures, usage, sent_at.elapsed());
        None
    }

    /// A streamed request. When a candidate may hold its answer in the commit window, the walk runs
    /// in a task and the response head is decided there (an error, the answer's headers, or — when
    /// the window holds long enough for a keep-alive to be due — early headers followed by
    /// keep-alives); otherwise it runs here ([`Walk::stream_direct`]).
    async fn run_stream(self) -> Response<Body> {
        if !self.candidates.iter().any(|&(_, d)| self.verifies(d)) {
            return self.stream_direct().await;
        }
        let (head_tx, head_rx) = oneshot::channel();
        let inbound = self.inbound;
        let request_id = self.request_id.clone();
        tokio::spawn(self.stream_task(head_tx));
        head_rx.await.unwrap_or_else(|_| {
            ApiError::new(
                StatusCode::INTERNAL_SERVER_ERROR,
                "the request was abandoned",
            )
            .into_response(inbound, &request_id)
        })
    }

    /// A streamed request none of whose candidates holds its answer for verification: walked in
    /// the request's own task (no keep-alive can be due before a tier answers), and the serving
    /// attempt's stream is the response body.
    async fn stream_direct(mut self) -> Response<Body> {
        let state = Arc::clone(&self.state);
        if let Some((upstream, decision, response, sent_at)) = self.next_answer(&state).await {
            let log = self.serving(upstream, sent_at, response.time_to_headers);
            let out =
                self.stream_response(upstream, decision, Vec::new(), Some(response.body), log);
            // the walk's parsed request and plan are freed once the head is out
            crate::idle::defer(move || drop(self));
            return out;
        }
        self.error_response()
    }

    async fn stream_task(mut self, head: oneshot::Sender<Response<Body>>) {
        let mut sink = Sink::Pending(Some(head));
        let state = Arc::clone(&self.state);
        let keepalive = state.config.commit_window.keepalive;
        let inbound = self.inbound;
        let mut last_beat: Option<Instant> = None;
        while let Some((index, decision)) = self.next_candidate() {
            let Some(upstream) = state.upstreams.get(index).and_then(Option::as_ref) else {
                continue;
            };
            let sent_at = Instant::now();
            let sent = {
                // Once the client has its headers (an earlier window sent keep-alives), they go on
                // while this tier prepares its first byte.
                let send = self.send(upstream);
                tokio::pin!(send);
                loop {
                    let beat_at = last_beat.map(|at| at + keepalive);
                    tokio::select! {
                        sent = &mut send => break Some(sent),
                        () = sink.closed() => break None,
                        () = tokio::time::sleep_until(beat_at.unwrap_or(sent_at)), if beat_at.is_some() => {
                            if let Sink::Open(tx) = &sink {
                                if tx.send(crate::walk::keepalive(inbound)).await.is_err() {
                                    break None;
                                }
                            }
                            last_beat = Some(Instant::now());
                        }
                    }
                }
            };
            let Some(sent) = sent else {
                return self.client_gone();
            };
            let response = match sent {
                Ok(response) => response,
                Err(error) if self.unanswered(upstream, &error, sent_at) => continue,
                Err(_) => break,
            };
            let time_to_headers = response.time_to_headers;
            let mut body = response.body;
            if !self.verifies(decision) {
                let log = self.serving(upstream, sent_at, time_to_headers);
                self.serve_stream(sink, upstream, decision, Vec::new(), Some(body), log)
                    .await;
                return;
            }
            let mut held = Held::new(
                upstream.dialect(),
                crate::walk::window_cap(&state.config.commit_window),
            );
            loop {
                // The first keep-alive is due `keepalive` after the request came, whichever
                // attempt is held then.
                let next_beat = last_beat.unwrap_or(self.started) + keepalive;
                let fill = tokio::select! {
                    fill = held.fill(&mut body, next_beat) => fill,
                    () = sink.closed() => return self.client_gone(),
                };
                match fill {
                    Fill::Due => {
                        if !self.beat(&mut sink, upstream).await {
                            return self.client_gone();
                        }
                        last_beat = Some(Instant::now());
                    }
                    Fill::Complete => {
                        let failures = crate::walk::verify(
                            &self.canonical,
                            held.answer(),
                            held.logprobs(),
                            &self.checks,
                        );
                        if failures.is_empty() {
                            let log = self.serving(upstream, sent_at, time_to_headers);
                            self.serve_stream(sink, upstream, decision, held.chunks, None, log)
                                .await;
                            return;
                        }
                        self.verify_failed(upstream, failures, held.usage(), sent_at.elapsed());
                        break;
                    }
                    Fill::Exceeded => {
                        if held.cap().on_exceeded == anvil_fallback::OnExceeded::FailOver {
                            self.window_failed(upstream, held.usage(), sent_at.elapsed());
                            break;
                        }
                        tracing::info!(
                            request_id = %self.request_id,
                            tier = upstream.tier_id(),
                            "answer outgrew the commit window; streaming it unverified"
                        );
                        let log = self.serving(upstream, sent_at, time_to_headers);
                        self.serve_stream(sink, upstream, decision, held.chunks, Some(body), log)
                            .await;
                        return;
                    }
                    Fill::Failed(error) => {
                        let spent = Spent {
                            usage: held.usage(),
                            elapsed: sent_at.elapsed(),
                            ..Spent::default()
                        };
                        self.upstream_failed(upstream, &error, spent, true);
                        break;
                    }
                }
            }
        }
        match sink {
            Sink::Pending(Some(head)) => {
                let _ = head.send(self.error_response());
            }
            Sink::Pending(None) => {}
            Sink::Open(tx) => {
                // The client already has a 200 and keep-alives: the failure is an in-stream error
                // event in its dialect.
                let error = self.final_error();
                self.failed(error.body.status, "exhausted-after-keepalive");
                let event = ErrorBody::new(error.body.status, error.body.message.clone())
                    .with_type(match self.inbound {
                        Dialect::Anthropic => "overloaded_error",
                        Dialect::OpenAiChat | Dialect::Responses => "server_error",
                    })
                    .with_code("exhausted")
                    .to_sse_event(self.inbound, 1);
                let mut out = Vec::new();
                anvil_dialects::sse::encode_event(&event, &mut out);
                let _ = tx.send(Bytes::from(out)).await;
            }
        }
    }

    /// Sends a keep-alive, first sending the response head when none went out yet; false when the
    /// client is gone.
    async fn beat(&mut self, sink: &mut Sink, upstream: &Upstream) -> bool {
        if let Sink::Pending(head) = sink {
            let Some(head) = head.take() else {
                return false;
            };
            let (tx, client_body) = Body::channel();
            let mut response = sse_response(client_body);
            // The answer is still being verified: the tier is tentative, and the attempt in
            // progress is `in-window`. The final attempts follow in an SSE comment.
            let mut attempts = self.ledger.header();
            if !attempts.is_empty() {
                attempts.push(',');
            }
            attempts.push_str(upstream.tier_id());
            attempts.push_str(":in-window");
            self.headers_for(
                response.headers_mut(),
                upstream.tier_id(),
                Decision::AllowWithVerify,
                &attempts,
            );
            // the request id goes on in `handler::handle`, as on every response
            if head.send(response).is_err() {
                return false;
            }
            *sink = Sink::Open(tx);
        }
        match sink {
            Sink::Open(tx) => tx.send(crate::walk::keepalive(self.inbound)).await.is_ok(),
            Sink::Pending(_) => false,
        }
    }

    /// Sends the serving attempt's stream: its held bytes first, then the rest of its body.
    async fn serve_stream(
        &mut self,
        sink: Sink,
        upstream: &Upstream,
        decision: Decision,
        prefix: Vec<Bytes>,
        body: Option<UpstreamBody>,
        log: Log,
    ) {
        match sink {
            Sink::Pending(Some(head)) => {
                let response = self.stream_response(upstream, decision, prefix, body, log);
                // A client already gone drops the response, and its body records that.
                let _ = head.send(response);
            }
            Sink::Pending(None) => {}
            Sink::Open(tx) => {
                let note = format!(
                    ": x-anvil-tier: {}\n: x-anvil-attempts: {}\n\n",
                    upstream.tier_id(),
                    log.ledger.header()
                );
                let pump = pump_for(&self.request_id, self.inbound, upstream);
                let permit = self.permit.take();
                let mut pumped =
                    Pumped::new(pump, prefix, body, log, upstream.clone(), permit, false);
                if tx.send(Bytes::from(note)).await.is_err() {
                    return;
                }
                while let Some(chunk) = std::future::poll_fn(|cx| pumped.poll_next(cx)).await {
                    if tx.send(chunk).await.is_err() {
                        // dropping `pumped` records the disconnect and closes the upstream
                        return;
                    }
                }
            }
        }
    }

    /// The response that streams the serving attempt: its headers now, its body pumped from the
    /// upstream as the client reads.
    fn stream_response(
        &mut self,
        upstream: &Upstream,
        decision: Decision,
        prefix: Vec<Bytes>,
        body: Option<UpstreamBody>,
        log: Log,
    ) -> Response<Body> {
        let attempts = log.ledger.header();
        let pump = pump_for(&self.request_id, self.inbound, upstream);
        let permit = self.permit.take();
        let pumped = Pumped::new(pump, prefix, body, log, upstream.clone(), permit, true);
        let mut response = sse_response(Body::Pumped(Box::new(pumped)));
        self.headers_for(
            response.headers_mut(),
            upstream.tier_id(),
            decision,
            &attempts,
        );
        // the request id goes on in `handler::handle`, as on every response
        response
    }

    /// The client left before anything was decided.
    fn client_gone(&mut self) {
        self.failed(499, "client-disconnected");
    }
}

impl Drop for Walk {
    fn drop(&mut self) {
        // A walk dropped with its record still open was abandoned: hyper drops a request's future
        // when its client goes away before the answer.
        if self.draft.is_some() {
            self.client_gone();
        }
    }
}

fn sse_response(body: Body) -> Response<Body> {
    let mut response = Response::new(body);
    let headers = response.headers_mut();
    headers.insert(CONTENT_TYPE, HeaderValue::from_static("text/event-stream"));
    headers.insert(CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    response
}

/// A non-streamed answer: read it whole, translate it if the dialects differ.
fn complete_response(
    inbound: Dialect,
    upstream: &Upstream,
    bytes: Bytes,
    log: Log,
    model: &str,
) -> Result<Response<Body>, ApiError> {
    let out = if upstream.dialect() == inbound {
        bytes
    } else {
        let parsed = match AnyResponse::parse(upstream.dialect(), &bytes) {
            Ok(parsed) => parsed,
            Err(e) => {
                log.done(502, 0, "bad-upstream-json", None);
                return Err(ApiError::new(
                    StatusCode::BAD_GATEWAY,
                    format!(
                        "upstream answer is not a valid {} response: {e}",
                        upstream.dialect().as_str()
                    ),
                ));
            }
        };
        let mut notes = Vec::new();
        let mut translated = parsed.translate(inbound, &mut notes);
        // The translated answer has no clock of its own, and names the model the client asked
        // for when the upstream named none. Set on the typed answer and written in one pass.
        match &mut translated {
            AnyResponse::Anthropic(r) => {
                if r.model.is_empty() {
                    model.clone_into(&mut r.model);
                }
            }
            AnyResponse::OpenAiChat(r) => {
                r.created = Nullable::Value(now_unix());
                if r.model.is_empty() {
                    model.clone_into(&mut r.model);
                }
            }
            AnyResponse::Responses(r) => {
                r.created_at = Nullable::Value(now_unix().into());
                if !matches!(&r.model, Nullable::Value(m) if !m.is_empty()) {
                    r.model = Nullable::Value(model.to_owned());
                }
            }
        }
        match translated.to_vec() {
            Ok(json) => Bytes::from(json),
            Err(e) => {
                log.done(500, 0, "encoding", None);
                return Err(ApiError::new(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    format!("encoding the translated answer: {e}"),
                ));
            }
        }
    };
    let answer = out.clone();
    log.finish_soon(move |log| {
        let usage = usage_of_bytes(inbound, &answer);
        log.done(200, answer.len(), "ok", usage);
    });
    Ok(json_response(StatusCode::OK, out))
}

/// How the pump turns upstream bytes into client bytes.
enum Pump {
    /// Same dialect: bytes pass through, cut at event boundaries; a tap decodes the passing events
    /// for the usage numbers the decision record needs.
    Pass {
        dialect: Dialect,
        framer: SseFramer,
        tap: Box<UsageTap>,
    },
    /// Different dialects: decoded and re-encoded event by event.
    Translate {
        translator: Box<StreamTranslator>,
        usage: Option<(u64, u64)>,
    },
}

/// Reads a pass-through stream's usage on the side. Only events that hold a `usage` member are
/// decoded (message_start and message_delta, a Chat stream's last chunk, response.completed): a
/// substring search passes over every other event (callgrind: 7.2k instructions per chunk when
/// every event went through the dialect's stream decoder, for two numbers).
struct UsageTap {
    dialect: Dialect,
    sse: anvil_dialects::sse::SseDecoder,
    events: Vec<anvil_dialects::SseEvent>,
    /// Every count seen so far, later events overriding earlier ones (Anthropic's message_delta
    /// over its message_start); `None` until an event carried a usage.
    seen: Option<Usage>,
    /// Events passed on whose usage is read at the pump's next turn ([`Pump::catch_up`]), once
    /// the client connection has written them: a usage is only needed for the decision record,
    /// so reading it (about 10k instructions for an Anthropic `message_start`) need not stand
    /// between an event and the client.
    held: Option<Bytes>,
}

/// `"usage"`: a `usage` member name (inside a JSON string the quotes would be escaped).
static USAGE_KEY: std::sync::LazyLock<memchr::memmem::Finder<'static>> =
    std::sync::LazyLock::new(|| memchr::memmem::Finder::new(b"\"usage\""));

/// Whether `bytes` may hold a usage with counts: a `"usage"` that is not a member set to `null`.
/// OpenAI writes `"usage": null` into every chunk of a stream whose client asked for
/// `stream_options.include_usage` (the counts come in the last one), so the name alone would send
/// every event through the SSE decoder. Errs towards `true`: anything but `: null` after the name.
fn may_hold_usage(bytes: &[u8]) -> bool {
    use crate::raw_body::skip_ws;
    USAGE_KEY.find_iter(bytes).any(|at| {
        let colon = skip_ws(bytes, at + b"\"usage\"".len());
        bytes.get(colon) != Some(&b':') || !bytes[skip_ws(bytes, colon + 1)..].starts_with(b"null")
    })
}

impl UsageTap {
    fn new(dialect: Dialect) -> Self {
        Self {
            dialect,
            sse: anvil_dialects::sse::SseDecoder::new(),
            events: Vec::new(),
            seen: None,
            held: None,
        }
    }

    /// Reads whole events that already went to the client. A stream the tap cannot read is still
    /// passed through untouched; it only loses its usage numbers.
    fn see(&mut self, bytes: &[u8]) {
        // The pump hands over whole events, so skipping some leaves the SSE decoder between events.
        if may_hold_usage(bytes) {
            self.read(bytes);
        }
    }

    /// Keeps whole events on their way to the client for [`catch_up`](Self::catch_up). The
    /// prefilter runs now, so that only events that may hold a usage are kept (a cheap clone).
    fn hold(&mut self, bytes: &Bytes) {
        self.catch_up();
        if may_hold_usage(bytes) {
            self.held = Some(bytes.clone());
        }
    }

    /// Reads the events [`hold`](Self::hold) kept.
    fn catch_up(&mut self) {
        if let Some(bytes) = self.held.take() {
            self.read(&bytes);
        }
    }

    /// Ends the last event, should the stream have stopped without its blank line.
    fn close(&mut self) {
        self.read(b"\n\n");
    }

    fn read(&mut self, bytes: &[u8]) {
        self.events.clear();
        if self.sse.push(bytes, &mut self.events).is_err() {
            return;
        }
        for event in &self.events {
            if let Some(usage) = usage_of_event(event.data.as_bytes()) {
                self.seen.get_or_insert_default().update(usage);
            }
        }
    }
}

/// The `usage` of a stream event's data: a top-level member (Anthropic's message_delta, a Chat
/// chunk) or one of `message` (Anthropic's message_start) or `response` (Responses events).
fn usage_of_event(data: &[u8]) -> Option<Usage> {
    let range = crate::raw_body::member(data, "usage").or_else(|| {
        ["message", "response"].iter().find_map(|outer| {
            let outer = crate::raw_body::member(data, outer)?;
            let inner = crate::raw_body::member(&data[outer.clone()], "usage")?;
            Some(outer.start + inner.start..outer.start + inner.end)
        })
    })?;
    serde_json::from_slice::<Option<Usage>>(&data[range]).ok()?
}

impl Pump {
    fn push(&mut self, chunk: Bytes) -> Result<Bytes, String> {
        match self {
            Pump::Pass {
                dialect,
                framer,
                tap,
            } => {
                let mut out = framer.push(chunk);
                if *dialect == Dialect::Anthropic {
                    out = crate::sse_frame::with_event_lines(out);
                }
                tap.hold(&out);
                Ok(out)
            }
            Pump::Translate { translator, usage } => {
                let mut out = Vec::new();
                let events = translator
                    .push(&chunk, &mut out)
                    .map_err(|e| e.to_string())?;
                if let Some(found) = usage_of_events(events) {
                    *usage = Some(found);
                }
                Ok(Bytes::from(out))
            }
        }
    }

    fn finish(&mut self) -> Result<Bytes, String> {
        match self {
            Pump::Pass {
                dialect,
                framer,
                tap,
            } => {
                let mut out = framer.finish();
                if *dialect == Dialect::Anthropic {
                    out = crate::sse_frame::with_event_lines(out);
                }
                tap.catch_up();
                tap.see(&out);
                tap.close();
                Ok(out)
            }
            Pump::Translate { translator, usage } => {
                let mut out = Vec::new();
                let events = translator.finish(&mut out).map_err(|e| e.to_string())?;
                if let Some(found) = usage_of_events(events) {
                    *usage = Some(found);
                }
                Ok(Bytes::from(out))
            }
        }
    }

    /// Reads what the tap held back: at each turn of the pump, after the client connection has
    /// written what the previous turn passed on.
    fn catch_up(&mut self) {
        if let Pump::Pass { tap, .. } = self {
            tap.catch_up();
        }
    }

    /// Prompt and completion tokens, once the stream reported them.
    fn usage(&mut self) -> Option<(u64, u64)> {
        match self {
            Pump::Pass { tap, .. } => {
                tap.catch_up();
                tap.seen.map(|u| u.tokens(tap.dialect))
            }
            Pump::Translate { usage, .. } => *usage,
        }
    }

    /// The in-stream error event for the client, after dropping any half-received event.
    fn fail(&mut self, kind: &str, message: &str) -> Bytes {
        let mut out = Vec::new();
        match self {
            Pump::Pass {
                dialect, framer, ..
            } => {
                let _incomplete = framer.finish();
                let event = ErrorBody::new(502, message)
                    .with_type(match dialect {
                        Dialect::Anthropic => "api_error",
                        Dialect::OpenAiChat | Dialect::Responses => "server_error",
                    })
                    .with_code(kind)
                    .to_sse_event(*dialect, framer.events() + 1);
                anvil_dialects::sse::encode_event(&event, &mut out);
            }
            Pump::Translate { translator, .. } => translator.fail("api_error", message, &mut out),
        }
        Bytes::from(out)
    }
}

/// The pump for a stream from `upstream` to an `inbound` client: bytes pass through when the
/// dialects match, and are translated event by event when they do not.
fn pump_for(request_id: &str, inbound: Dialect, upstream: &Upstream) -> Pump {
    if upstream.dialect() == inbound {
        Pump::Pass {
            dialect: inbound,
            framer: SseFramer::default(),
            tap: Box::new(UsageTap::new(inbound)),
        }
    } else {
        Pump::Translate {
            usage: None,
            translator: Box::new(StreamTranslator::new(
                upstream.dialect(),
                inbound,
                EncodeContext {
                    id: request_id.replace("req_", "anvil_"),
                    // Empty: the encoders then name the model the upstream says served the answer,
                    // as a pass-through or whole answer does.
                    model: String::new(),
                    created: now_unix(),
                    include_usage: true,
                },
            )),
        }
    }
}

/// A streamed answer on its way to the client: the chunks held in a commit window, then the rest of
/// the upstream body, each passed through or translated by the pump when the client's connection
/// polls for it (the response body is this, so the bytes move in one task, as a plain proxy's do).
/// The decision record is written when the stream ends, or when the body is dropped before that
/// (the client went away; dropping the upstream body closes its connection).
pub(crate) struct Pumped {
    pump: Pump,
    prefix: std::vec::IntoIter<Bytes>,
    body: Option<UpstreamBody>,
    upstream: Upstream,
    /// Until the record is written.
    log: Option<Log>,
    sent: usize,
    /// Polled at least once: the response head went out.
    polled: bool,
    /// Set with the stream's last frame; the record is written at the next poll (or drop).
    outcome: Option<&'static str>,
    /// A frame went out and the next poll yields once (below).
    flush_due: bool,
    /// Whether to yield after each frame: hyper buffers a body's frames while they are ready (up
    /// to 16) before it writes any, so a tier that sends a burst would have each event wait for
    /// the pump to pass on the ones behind it. Yielding lets the connection write each event as
    /// the pump produces it (the per-chunk gap's p99 fell from ~100 µs to ~25 µs on a burst of
    /// 200 events). Off when a task forwards the frames to a channel instead.
    flushes: bool,
    /// The request's concurrency slot, held until the stream ends.
    permit: Option<OwnedSemaphorePermit>,
}

impl Pumped {
    fn new(
        pump: Pump,
        prefix: Vec<Bytes>,
        body: Option<UpstreamBody>,
        log: Log,
        upstream: Upstream,
        permit: Option<OwnedSemaphorePermit>,
        flushes: bool,
    ) -> Self {
        Self {
            pump,
            prefix: prefix.into_iter(),
            body,
            upstream,
            log: Some(log),
            sent: 0,
            polled: false,
            outcome: None,
            flush_due: false,
            flushes,
            permit,
        }
    }

    /// The next bytes for the client; `None` once the stream ended.
    pub(crate) fn poll_next(&mut self, cx: &mut Context<'_>) -> Poll<Option<Bytes>> {
        if !self.polled {
            self.polled = true;
        } else if self.flush_due {
            self.flush_due = false;
            cx.waker().wake_by_ref();
            return Poll::Pending;
        }
        // what went out last turn has been written by now (or is on its way): read its usage
        self.pump.catch_up();
        loop {
            if let Some(outcome) = self.outcome {
                self.end(outcome);
                return Poll::Ready(None);
            }
            let next = match self.prefix.next() {
                Some(chunk) => Ok(Some(chunk)),
                None => match self.body.as_mut() {
                    Some(body) => std::task::ready!(body.poll_chunk(cx)),
                    None => Ok(None),
                },
            };
            let step = match next {
                Ok(Some(chunk)) => self.pump.push(chunk).map(|out| (out, false)),
                Ok(None) => self.pump.finish().map(|out| (out, true)),
                Err(e) => Err(format!(
                    "{}: {}",
                    e.kind(),
                    self.upstream.redact(&e.to_string())
                )),
            };
            let (out, end) = match step {
                Ok(pair) => pair,
                Err(reason) => {
                    let kind = reason.split(':').next().unwrap_or("stream-failed");
                    if let Some(log) = &self.log {
                        let tier = self.upstream.tier_id();
                        tracing::warn!(request_id = %log.request_id, tier, %reason, "upstream stream failed");
                        record_outcome(&log.draft.state, tier, kind);
                    }
                    let event = self.pump.fail(
                        kind,
                        "the upstream stream failed before the answer was complete",
                    );
                    // the upstream connection is of no further use
                    self.body = None;
                    self.sent += event.len();
                    self.outcome = Some("upstream-failed");
                    return Poll::Ready(Some(event));
                }
            };
            if end {
                self.outcome = Some("ok");
            }
            if !out.is_empty() {
                self.flush_due = self.flushes && !end;
                self.sent += out.len();
                return Poll::Ready(Some(out));
            }
        }
    }

    /// Writes the record (once), after the response's bytes are out.
    fn end(&mut self, outcome: &'static str) {
        let Some(log) = self.log.take() else {
            return;
        };
        drop(self.permit.take());
        if let Pump::Translate { translator, .. } = &self.pump {
            let notes = translator.notes();
            if !notes.is_empty() {
                tracing::debug!(request_id = %log.request_id, lossy = ?notes, "stream translation dropped or approximated fields");
            }
        }
        let usage = self.pump.usage();
        // A body dropped before its first poll: the client left before the head went out.
        let status = if self.polled { 200 } else { 499 };
        let sent = self.sent;
        log.finish_soon(move |log| log.done(status, sent, outcome, usage));
    }
}

impl Drop for Pumped {
    fn drop(&mut self) {
        self.end(self.outcome.unwrap_or("client-disconnected"));
    }
}

/// `POST /v1/messages/count_tokens`: forwarded to an Anthropic-dialect tier when the route has one,
/// otherwise estimated locally. `x-anvil-token-count` says which.
pub async fn count_tokens(ctx: Ctx, bytes: Bytes) -> Response<Body> {
    let request_id = ctx.request_id.clone();
    let request = match parse(Dialect::Anthropic, &bytes) {
        Ok(request) => request,
        Err(error) => return error.into_response(Dialect::Anthropic, &request_id),
    };
    let json = match RawBody::parse(&bytes) {
        Ok(json) => json,
        Err(error) => return error.into_response(Dialect::Anthropic, &request_id),
    };
    let body_hints = json.value(crate::raw_body::HINTS);
    let hints = route::hints(&ctx.headers, body_hints.as_ref()).unwrap_or_default();
    let model = json.string("model").unwrap_or_default();
    let model = model.as_str();
    let mut notes = Vec::new();
    let canonical = request.into_canonical(&mut notes);
    let routing = route::route(
        &ctx.state.config,
        &ctx.state.classifier,
        &ctx.state.profile.load(),
        &ctx.state.bound,
        model,
        hints,
        &canonical,
        &ctx.state.breakers.open_tiers(std::time::Instant::now()),
        None,
        &ctx.state.residency.load(),
    );
    let counting = routing
        .plan
        .candidates
        .iter()
        .filter_map(|c| ctx.state.upstreams.get(c.index).and_then(Option::as_ref))
        .find(|u| u.counts_tokens());
    if let Some(upstream) = counting {
        if let Ok(body) = upstream_body(Dialect::Anthropic, &canonical, &json, upstream) {
            if let Some(Ok(response)) = upstream.count_tokens(body, &ctx.headers).await {
                if let Ok(answer) = response.body.collect(1024 * 1024).await {
                    let mut out = json_response(StatusCode::OK, answer);
                    set_header(out.headers_mut(), TOKEN_COUNT, "upstream");
                    set_header(out.headers_mut(), TIER, upstream.tier_id());
                    return out;
                }
            }
        }
    }
    let estimate = anvil_classify::estimate_prompt_tokens(&canonical).max(1);
    let mut out = json_response(
        StatusCode::OK,
        serde_json::json!({ "input_tokens": estimate }).to_string(),
    );
    set_header(out.headers_mut(), TOKEN_COUNT, "estimate");
    out
}

/// `POST /v1/route`: the routing decision for a Chat-Completions-shaped body, without serving it.
/// Never calls an upstream.
pub async fn decide(ctx: Ctx, bytes: Bytes) -> Response<Body> {
    let request_id = ctx.request_id.clone();
    match decide_inner(&ctx, &bytes) {
        Ok(body) => json_response(StatusCode::OK, body.to_string()),
        Err(error) => error.into_response(Dialect::OpenAiChat, &request_id),
    }
}

fn decide_inner(ctx: &Ctx, bytes: &[u8]) -> Result<Value, ApiError> {
    let request = parse(Dialect::OpenAiChat, bytes)?;
    let mut json = request.to_json();
    let body_hints = json.as_object_mut().and_then(|o| o.remove("anvil"));
    let hints = route::hints(&ctx.headers, body_hints.as_ref())?;
    let model = json.get("model").and_then(Value::as_str).unwrap_or("");
    let mut notes = Vec::new();
    let canonical = request.into_canonical(&mut notes);
    let session = route::session_id(&hints, &ctx.headers, &json);
    let routing = route::route(
        &ctx.state.config,
        &ctx.state.classifier,
        &ctx.state.profile.load(),
        &ctx.state.bound,
        model,
        hints,
        &canonical,
        &ctx.state.breakers.open_tiers(std::time::Instant::now()),
        session_budget(&ctx.state, session.as_deref()),
        &ctx.state.residency.load(),
    );
    let plan = &routing.plan;
    let Some(first) = plan.candidates.first() else {
        return Err(exhausted(&ctx.state, &routing, true));
    };
    let tier = &ctx.state.config.tiers[first.index];
    let reason = format!(
        "{} intent, work class {} (confidence {:.2}): {} is the best of {} candidate(s), decision {}",
        plan.source.as_str(),
        plan.work_class.as_str(),
        plan.confidence,
        tier.id,
        plan.candidates.len(),
        first.decision.as_str(),
    );
    let view = route::PlanView::new(plan);
    Ok(serde_json::json!({
        "tier": tier.id,
        "model": tier.model.clone().unwrap_or_else(|| model.to_owned()),
        "provider": crate::dialect_name(tier),
        "privacy": tier.privacy.to_string(),
        "work_class": plan.work_class.as_str(),
        "decision": first.decision.as_str(),
        "reason": reason,
        "confidence": plan.confidence,
        "intent_source": plan.source.as_str(),
        "session_id": session,
        "signals": routing.classification.signals,
        "candidates": view.candidates,
        "dropped": view.dropped,
        "notes": view.notes,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `routed_headers` sends these as static header values, which panic on a byte a header
    /// value may not hold: every spelling must be a valid value.
    #[test]
    fn work_class_and_decision_spellings_are_header_values() {
        for class in anvil_config::WorkClass::ALL {
            assert!(HeaderValue::from_str(class.as_str()).is_ok(), "{class:?}");
            let _ = HeaderValue::from_static(class.as_str());
        }
        for decision in [Decision::Allow, Decision::AllowWithVerify, Decision::Deny] {
            assert!(
                HeaderValue::from_str(decision.as_str()).is_ok(),
                "{decision:?}"
            );
            let _ = HeaderValue::from_static(decision.as_str());
        }
    }

    /// Runs `stream` through a pass-through pump cut at `cut`; the usage it read.
    fn passed_usage(dialect: Dialect, stream: &str, cut: usize) -> Option<(u64, u64)> {
        let mut pump = Pump::Pass {
            dialect,
            framer: SseFramer::default(),
            tap: Box::new(UsageTap::new(dialect)),
        };
        let mut out = Vec::new();
        for part in [&stream[..cut], &stream[cut..]] {
            out.extend_from_slice(&pump.push(Bytes::copy_from_slice(part.as_bytes())).unwrap());
        }
        out.extend_from_slice(&pump.finish().unwrap());
        if dialect != Dialect::Anthropic {
            assert_eq!(out, stream.as_bytes(), "passed through untouched");
        }
        pump.usage()
    }

    #[test]
    fn the_pass_through_tap_reads_each_dialects_stream_usage_however_it_is_cut() {
        let anthropic = concat!(
            "event: message_start\n",
            r#"data: {"type":"message_start","message":{"id":"msg_1","type":"message","role":"assistant","model":"m","content":[],"stop_reason":null,"stop_sequence":null,"usage":{"input_tokens":12,"cache_read_input_tokens":30,"output_tokens":1}}}"#,
            "\n\nevent: content_block_start\n",
            r#"data: {"type":"content_block_start","index":0,"content_block":{"type":"text","text":""}}"#,
            "\n\nevent: content_block_delta\n",
            r#"data: {"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":"the \"usage\": {\"output_tokens\": 999} key"}}"#,
            "\n\nevent: content_block_stop\n",
            r#"data: {"type":"content_block_stop","index":0}"#,
            "\n\nevent: message_delta\n",
            r#"data: {"type":"message_delta","delta":{"stop_reason":"end_turn","stop_sequence":null},"usage":{"output_tokens":7}}"#,
            "\n\nevent: message_stop\n",
            r#"data: {"type":"message_stop"}"#,
            "\n\n",
        );
        // spaced the way Python servers write JSON; the last event without its blank line
        let chat = concat!(
            r#"data: {"id": "c1", "choices": [{"index": 0, "delta": {"content": "usage"}}], "usage": null}"#,
            "\n\n",
            r#"data: {"id": "c1", "choices": [], "usage": {"prompt_tokens": 20, "completion_tokens": 5, "total_tokens": 25}}"#,
        );
        let responses = concat!(
            "event: response.created\n",
            r#"data: {"type":"response.created","response":{"id":"r1","status":"in_progress","metadata":{"usage":"tag"},"usage":null},"sequence_number":0}"#,
            "\n\nevent: response.output_text.delta\n",
            r#"data: {"type":"response.output_text.delta","delta":"\"usage\":1","sequence_number":1}"#,
            "\n\nevent: response.completed\n",
            r#"data: {"type":"response.completed","response":{"id":"r1","status":"completed","metadata":{"usage":"tag"},"output":[],"usage":{"input_tokens":8,"output_tokens":2,"total_tokens":10}},"sequence_number":2}"#,
            "\n\n",
        );
        for (dialect, stream, usage) in [
            (Dialect::Anthropic, anthropic, (42, 7)),
            (Dialect::OpenAiChat, chat, (20, 5)),
            (Dialect::Responses, responses, (8, 2)),
        ] {
            for cut in 0..=stream.len() {
                assert_eq!(
                    passed_usage(dialect, stream, cut),
                    Some(usage),
                    "{dialect:?} cut at {cut}"
                );
            }
        }
        // no usage member anywhere: none read
        let bare = "data: {\"choices\": []}\n\ndata: [DONE]\n\n";
        assert_eq!(passed_usage(Dialect::OpenAiChat, bare, 5), None);
    }

    #[test]
    fn the_tap_passes_over_events_whose_usage_is_null() {
        for (bytes, may) in [
            // OpenAI with include_usage: every chunk but the last
            (&br#"data: {"id":"c1","choices":[{"index":0,"delta":{"content":"hi"}}],"usage":null}"#[..], false),
            (br#"data: {"id": "c1", "choices": [], "usage" :  null}"#, false),
            (br#"data: {"response":{"usage":null}}"#, false),
            (br#"data: {"choices":[]}"#, false),
            (br#"data: {"choices":[],"usage":{"prompt_tokens":20,"completion_tokens":5}}"#, true),
            // a null one first does not hide a real one after it
            (br#"data: {"usage":null}

data: {"usage":{"prompt_tokens":1}}"#, true),
            // not a member name followed by null: read, to be sure
            (br#"data: {"kind":"usage"}"#, true),
            (br#"data: {"usage":nul"#, true),
            (br#"data: {"usage""#, true),
        ] {
            assert_eq!(may_hold_usage(bytes), may, "{}", String::from_utf8_lossy(bytes));
        }
    }

    fn event_data() -> impl proptest::strategy::Strategy<Value = Value> {
        use proptest::prelude::*;
        use serde_json::json;
        let usage = prop_oneof![
            Just(Value::Null),
            (0u64..1000, 0u64..1000)
                .prop_map(|(i, o)| json!({"prompt_tokens": i, "completion_tokens": o})),
            (0u64..1000, 0u64..1000)
                .prop_map(|(i, o)| json!({"input_tokens": i, "output_tokens": o})),
            Just(json!("usage")),
            Just(json!(0)),
        ];
        let member = prop_oneof![
            usage.clone().prop_map(|u| ("usage".to_owned(), u)),
            usage
                .clone()
                .prop_map(|u| ("message".to_owned(), json!({"usage": u}))),
            usage.prop_map(|u| {
                (
                    "response".to_owned(),
                    json!({"metadata": {"usage": "tag"}, "usage": u}),
                )
            }),
            "[a-z\"\\\\:{} ]{0,12}".prop_map(|text| (
                "delta".to_owned(),
                json!({"content": format!("\"usage\": null {text}")})
            )),
            Just(("choices".to_owned(), json!([]))),
        ];
        proptest::collection::vec(member, 0..5).prop_map(|m| Value::Object(m.into_iter().collect()))
    }

    proptest::proptest! {
        /// What the prefilter passes over holds no usage the tap would have read.
        #[test]
        fn an_event_the_tap_passes_over_holds_no_usage(
            data in event_data(),
            pretty in proptest::prelude::any::<bool>(),
        ) {
            let text = if pretty {
                serde_json::to_vec_pretty(&data).unwrap()
            } else {
                serde_json::to_vec(&data).unwrap()
            };
            if !may_hold_usage(&text) {
                proptest::prop_assert!(
                    usage_of_event(&text).is_none(),
                    "{}",
                    String::from_utf8_lossy(&text)
                );
            }
        }
    }

    #[test]
    fn the_tap_reads_an_event_after_it_went_out_and_a_stream_cut_short_keeps_its_start() {
        let start = concat!(
            "event: message_start\n",
            r#"data: {"type":"message_start","message":{"id":"msg_1","usage":{"input_tokens":12,"cache_read_input_tokens":30,"output_tokens":1}}}"#,
            "\n\n",
        );
        let delta = concat!(
            "event: message_delta\n",
            r#"data: {"type":"message_delta","delta":{"stop_reason":"end_turn"},"usage":{"output_tokens":7}}"#,
            "\n\n",
        );
        let tap = |pump: &Pump| match pump {
            Pump::Pass { tap, .. } => tap.seen.map(|u| u.tokens(Dialect::Anthropic)),
            Pump::Translate { .. } => unreachable!(),
        };
        let pass = || Pump::Pass {
            dialect: Dialect::Anthropic,
            framer: SseFramer::default(),
            tap: Box::new(UsageTap::new(Dialect::Anthropic)),
        };

        let mut pump = pass();
        let out = pump.push(Bytes::from_static(start.as_bytes())).unwrap();
        assert_eq!(out, start.as_bytes());
        assert_eq!(
            tap(&pump),
            None,
            "read at the next turn, not before the event goes out"
        );
        pump.catch_up();
        assert_eq!(tap(&pump), Some((42, 1)));

        // chunks pushed without a turn between them are all read
        let mut pump = pass();
        pump.push(Bytes::from_static(start.as_bytes())).unwrap();
        pump.push(Bytes::from_static(delta.as_bytes())).unwrap();
        assert_eq!(pump.usage(), Some((42, 7)));

        // a stream that ends (the client left, the upstream failed) right after its start
        let mut pump = pass();
        pump.push(Bytes::from_static(start.as_bytes())).unwrap();
        assert_eq!(pump.usage(), Some((42, 1)));
    }

    #[test]
    fn a_translated_stream_cut_short_keeps_the_usage_its_start_reported() {
        use anvil_dialects::canonical::Usage as Counts;
        use anvil_dialects::StreamEvent;
        let start = StreamEvent::Start {
            id: "m".into(),
            model: "m".into(),
            usage: Some(Counts {
                input_tokens: 9,
                output_tokens: 1,
                cache_read_input_tokens: Some(4),
                ..Counts::default()
            }),
        };
        assert_eq!(usage_of_events(std::slice::from_ref(&start)), Some((13, 1)));
        let finish = StreamEvent::Finish {
            stop_reason: None,
            stop_sequence: None,
            usage: Some(Counts {
                input_tokens: 9,
                output_tokens: 5,
                cache_read_input_tokens: Some(4),
                ..Counts::default()
            }),
        };
        assert_eq!(usage_of_events(&[start, finish]), Some((13, 5)));
        assert_eq!(usage_of_events(&[StreamEvent::Ping]), None);
    }

    #[test]
    fn usage_of_bytes_reads_each_dialects_spelling_at_the_top_level_only() {
        let anthropic = br#"{"id":"msg_1","content":[{"type":"text","text":"\"usage\": {\"input_tokens\": 99}"}],
            "usage":{"input_tokens":10,"cache_read_input_tokens":5,"cache_creation_input_tokens":2,"output_tokens":7}}"#;
        assert_eq!(usage_of_bytes(Dialect::Anthropic, anthropic), Some((17, 7)));
        let chat = br#"{"choices":[{"message":{"content":"hi"}}],"usage":{"prompt_tokens":4,"completion_tokens":3,"total_tokens":7}}"#;
        assert_eq!(usage_of_bytes(Dialect::OpenAiChat, chat), Some((4, 3)));
        let responses = br#"{"output":[],"usage":{"input_tokens":8,"output_tokens":1,"output_tokens_details":{"reasoning_tokens":0}}}"#;
        assert_eq!(usage_of_bytes(Dialect::Responses, responses), Some((8, 1)));
        for none in [
            &br#"{"usage":null}"#[..],
            br#"{"content":[{"usage":{"input_tokens":1}}]}"#,
            br#"{"usage":{"input_tokens":"ten"}}"#,
            br#"{"usage":{"input_tokens":1"#,
            b"not json",
        ] {
            assert_eq!(
                usage_of_bytes(Dialect::Anthropic, none),
                None,
                "{}",
                String::from_utf8_lossy(none)
            );
        }
    }
}
