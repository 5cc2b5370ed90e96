//! Path dispatch, limits and body reading. Every error goes out in the dialect the path implies.

use std::convert::Infallible;
use std::sync::Arc;

use anvil_dialects::Dialect;
use bytes::Bytes;
use http::header::{HeaderValue, ALLOW, CONTENT_LENGTH};
use http::{Method, Request, Response, StatusCode};
use http_body_util::{BodyExt, Limited};
use hyper::body::Incoming;
use serde_json::json;

use crate::body::Body;
use crate::forward;
use crate::models;
use crate::respond::{json_response, set_header, ApiError, REQUEST_ID};
use crate::AppState;

/// What a POST endpoint does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Endpoint {
    /// Generate an answer in the given dialect.
    Generate(Dialect),
    /// Anthropic token counting.
    CountTokens,
    /// The routing decision without serving (`/v1/route`).
    Route,
}

impl Endpoint {
    fn dialect(self) -> Dialect {
        match self {
            Endpoint::Generate(d) => d,
            Endpoint::CountTokens => Dialect::Anthropic,
            Endpoint::Route => Dialect::OpenAiChat,
        }
    }
}

/// The service function: never fails at the HTTP level, every problem is a response.
pub async fn handle(
    state: Arc<AppState>,
    request: Request<Incoming>,
) -> Result<Response<Body>, Infallible> {
    let request_id = state.request_id();
    let path = request.uri().path().to_owned();
    let endpoint = match path.as_str() {
        "/v1/messages" => Some(Endpoint::Generate(Dialect::Anthropic)),
        "/v1/chat/completions" => Some(Endpoint::Generate(Dialect::OpenAiChat)),
        "/v1/responses" => Some(Endpoint::Generate(Dialect::Responses)),
        "/v1/messages/count_tokens" => Some(Endpoint::CountTokens),
        "/v1/route" => Some(Endpoint::Route),
        _ => None,
    };
    let response = match (request.method(), endpoint, path.as_str()) {
        (&Method::POST, Some(endpoint), _) => post(state, request, endpoint, &request_id).await,
        (_, Some(endpoint), _) => method_not_allowed(endpoint.dialect(), "POST", &request_id),
        (&Method::GET, None, "/v1/models" | "/v1/models/") => {
            json_response(StatusCode::OK, models::list(&state.config).to_string())
        }
        (&Method::GET, None, "/healthz" | "/health") => health(&state),
        (_, None, "/v1/models" | "/v1/models/" | "/healthz" | "/health") => {
            method_not_allowed(Dialect::OpenAiChat, "GET", &request_id)
        }
        _ => ApiError::new(StatusCode::NOT_FOUND, format!("no route {path}"))
            .into_response(Dialect::OpenAiChat, &request_id),
    };
    let mut response = response;
    set_header(response.headers_mut(), REQUEST_ID, &request_id);
    Ok(response)
}

fn method_not_allowed(dialect: Dialect, allow: &'static str, request_id: &str) -> Response<Body> {
    let mut response = ApiError::new(
        StatusCode::METHOD_NOT_ALLOWED,
        format!("this route only accepts {allow} requests"),
    )
    .into_response(dialect, request_id);
    response
        .headers_mut()
        .insert(ALLOW, HeaderValue::from_static(allow));
    response
}

fn health(state: &AppState) -> Response<Body> {
    let decisions = state.decisions.as_ref().map(
        |log| json!({"written": log.written(), "dropped": log.dropped(), "failed": log.failed()}),
    );
    let tiers: Vec<_> = state
        .config
        .tiers
        .iter()
        .zip(&state.upstreams)
        .map(|(tier, upstream)| json!({"id": tier.id, "bound": upstream.is_some()}))
        .collect();
    json_response(
        StatusCode::OK,
        json!({
            "status": "ok",
            "dialects": ["anthropic", "openai", "responses"],
            "tiers": tiers,
            "decision_log": decisions,
            "residency": state.residency.load().to_json(),
        })
        .to_string(),
    )
}

async fn post(
    state: Arc<AppState>,
    request: Request<Incoming>,
    endpoint: Endpoint,
    request_id: &str,
) -> Response<Body> {
    let dialect = endpoint.dialect();
    // A slot is held until the response (a stream included) is complete.
    let Ok(permit) = Arc::clone(&state.permits).try_acquire_owned() else {
        return ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "the router is at its concurrency limit; retry shortly",
        )
        .retry_after(1)
        .into_response(dialect, request_id);
    };
    let limit = state.config.limits.max_body_bytes;
    let declared = request
        .headers()
        .get(CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|len| len > limit) {
        // Answer before reading, and close: the rest of the body is never read.
        return too_large(limit).close().into_response(dialect, request_id);
    }
    let (parts, body) = request.into_parts();
    let bytes: Bytes = match Limited::new(body, limit as usize).collect().await {
        Ok(collected) => collected.to_bytes(),
        Err(e) if e.is::<http_body_util::LengthLimitError>() => {
            return too_large(limit).close().into_response(dialect, request_id)
        }
        Err(e) => {
            return ApiError::bad_request(format!("could not read the request body: {e}"))
                .close()
                .into_response(dialect, request_id)
        }
    };
    let ctx = forward::Ctx {
        state,
        headers: parts.headers,
        request_id: request_id.to_owned(),
        started: tokio::time::Instant::now(),
        permit,
    };
    match endpoint {
        Endpoint::Generate(dialect) => forward::generate(ctx, dialect, bytes).await,
        Endpoint::CountTokens => forward::count_tokens(ctx, bytes).await,
        Endpoint::Route => forward::decide(ctx, bytes).await,
    }
}

fn too_large(limit: u64) -> ApiError {
    ApiError::new(
        StatusCode::PAYLOAD_TOO_LARGE,
        format!("request body larger than the router's limit of {limit} bytes"),
    )
}
