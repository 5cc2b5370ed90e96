//! Error envelopes of the three dialects, with the type names each vendor uses per HTTP status.
//!
//! Every error a client sees must parse with its vendor's SDK, so the bodies here copy the vendors'
//! shapes exactly:
//!
//! * Anthropic Messages: `{"type":"error","error":{"type":T,"message":M}}` (the API adds a
//!   `request_id`, which the SDKs treat as optional; it is omitted here). Mid-stream errors are an
//!   SSE event named `error` with the same envelope as data.
//! * OpenAI Chat Completions and Responses: `{"error":{"message":M,"type":T,"param":P,"code":C}}`
//!   with `param` and `code` present and `null` when unset. A Chat stream reports a mid-stream error
//!   as a data-only event carrying that same envelope (the OpenAI SDKs raise when a chunk has an
//!   `error` key); a Responses stream sends an `error` event
//!   `{"type":"error","code":C,"message":M,"param":P,"sequence_number":N}`.
//!
//! Sources for the type names: the Anthropic errors page (docs.claude.com/en/api/errors) lists
//! 400 `invalid_request_error` (also used "for other 4XX status codes not listed"), 401
//! `authentication_error`, 403 `permission_error`, 404 `not_found_error`, 413 `request_too_large`,
//! 429 `rate_limit_error`, 500 `api_error`, 529 `overloaded_error`; the SDK's shared error types add
//! `billing_error` (402) and `timeout_error` (`GatewayTimeoutError`, 504). OpenAI bodies as captured
//! in the wild: 401 `invalid_request_error` with code `invalid_api_key` ("Incorrect API key
//! provided"), 403 `request_forbidden` (code `unsupported_country_region_territory`), 404
//! `invalid_request_error` (code `model_not_found` for an unknown model), 429 type `requests` or
//! `tokens` with code `rate_limit_exceeded`, 500 and overload 503 `server_error`; Responses streams
//! report overload with code `server_is_overloaded`.

use serde_json::{json, Map, Value};

use crate::{Dialect, SseEvent};

/// An error to send to a client: HTTP status, message, and optional overrides of the vendor's
/// defaults for `type`, `param` and `code`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ErrorBody {
    /// The HTTP status the error goes out with; selects the default type and code.
    pub status: u16,
    /// Human-readable message.
    pub message: String,
    /// The error type; `None` uses [`error_type`] for the dialect and status.
    pub error_type: Option<String>,
    /// The request parameter at fault (OpenAI dialects only; Anthropic has no such field).
    pub param: Option<String>,
    /// The machine-readable code (OpenAI dialects only); `None` uses [`default_code`].
    pub code: Option<String>,
}

impl ErrorBody {
    /// An error with the dialect's default type and code for `status`.
    pub fn new(status: u16, message: impl Into<String>) -> Self {
        Self {
            status,
            message: message.into(),
            error_type: None,
            param: None,
            code: None,
        }
    }

    /// Overrides the error type.
    pub fn with_type(mut self, error_type: impl Into<String>) -> Self {
        self.error_type = Some(error_type.into());
        self
    }

    /// Names the request parameter at fault.
    pub fn with_param(mut self, param: impl Into<String>) -> Self {
        self.param = Some(param.into());
        self
    }

    /// Sets the machine-readable code.
    pub fn with_code(mut self, code: impl Into<String>) -> Self {
        self.code = Some(code.into());
        self
    }

    /// The type this error carries in `dialect`: the override or the vendor's name for the status.
    pub fn type_for(&self, dialect: Dialect) -> &str {
        self.error_type
            .as_deref()
            .unwrap_or_else(|| error_type(dialect, self.status))
    }

    /// The code this error carries in `dialect`: the explicit one or the vendor's default.
    pub fn code_for(&self, dialect: Dialect) -> Option<&str> {
        self.code
            .as_deref()
            .or_else(|| default_code(dialect, self.status))
    }

    /// The JSON body in `dialect`'s envelope.
    pub fn to_json(&self, dialect: Dialect) -> Value {
        match dialect {
            Dialect::Anthropic => json!({
                "type": "error",
                "error": {"type": self.type_for(dialect), "message": self.message},
            }),
            Dialect::OpenAiChat | Dialect::Responses => json!({
                "error": {
                    "message": self.message,
                    "type": self.type_for(dialect),
                    "param": self.param,
                    "code": self.code_for(dialect),
                },
            }),
        }
    }

    /// The JSON body in `dialect`'s envelope, serialized.
    pub fn to_bytes(&self, dialect: Dialect) -> Vec<u8> {
        self.to_json(dialect).to_string().into_bytes()
    }

    /// The SSE event that reports this error in the middle of a `dialect` stream (after a 200 and
    /// some events went out). `sequence_number` is used by the Responses dialect only.
    ///
    /// The Responses `error` event has a `code` but no `type`, so the code falls back to the type
    /// there: a client always gets a machine-readable reason.
    pub fn to_sse_event(&self, dialect: Dialect, sequence_number: u64) -> SseEvent {
        match dialect {
            Dialect::Anthropic => SseEvent::named("error", self.to_json(dialect).to_string()),
            Dialect::OpenAiChat => SseEvent::data(self.to_json(dialect).to_string()),
            Dialect::Responses => {
                let code = self
                    .code_for(dialect)
                    .unwrap_or_else(|| self.type_for(dialect));
                let data = json!({
                    "type": "error",
                    "code": code,
                    "message": self.message,
                    "param": self.param,
                    "sequence_number": sequence_number,
                });
                SseEvent::named("error", data.to_string())
            }
        }
    }
}

/// The vendor's error type for an HTTP status.
///
/// Anthropic: 400 `invalid_request_error`, 401 `authentication_error`, 402 `billing_error`, 403
/// `permission_error`, 404 `not_found_error`, 413 `request_too_large`, 429 `rate_limit_error`,
/// other 4xx `invalid_request_error`; 503 and 529 `overloaded_error`, 504 `timeout_error`, other
/// statuses `api_error`.
///
/// OpenAI Chat and Responses: 401 `invalid_request_error` (OpenAI's own choice, with code
/// `invalid_api_key`), 403 `request_forbidden`, 429 `requests` (with code `rate_limit_exceeded`),
/// other 4xx `invalid_request_error` (404 included, as OpenAI does for an unknown model); 5xx and
/// anything else `server_error`.
pub fn error_type(dialect: Dialect, status: u16) -> &'static str {
    match dialect {
        Dialect::Anthropic => match status {
            401 => "authentication_error",
            402 => "billing_error",
            403 => "permission_error",
            404 => "not_found_error",
            413 => "request_too_large",
            429 => "rate_limit_error",
            400..=499 => "invalid_request_error",
            503 | 529 => "overloaded_error",
            504 => "timeout_error",
            _ => "api_error",
        },
        Dialect::OpenAiChat | Dialect::Responses => match status {
            403 => "request_forbidden",
            429 => "requests",
            400..=499 => "invalid_request_error",
            _ => "server_error",
        },
    }
}

/// The vendor's default `code` for an HTTP status, where it sends one regardless of the cause:
/// OpenAI 401 `invalid_api_key` and 429 `rate_limit_exceeded`; in Responses also 500
/// `server_error` and 503 `server_is_overloaded`. Anthropic has no codes.
pub fn default_code(dialect: Dialect, status: u16) -> Option<&'static str> {
    match (dialect, status) {
        (Dialect::Anthropic, _) => None,
        (Dialect::OpenAiChat | Dialect::Responses, 401) => Some("invalid_api_key"),
        (Dialect::OpenAiChat | Dialect::Responses, 429) => Some("rate_limit_exceeded"),
        (Dialect::Responses, 500) => Some("server_error"),
        (Dialect::Responses, 503) => Some("server_is_overloaded"),
        _ => None,
    }
}

/// The error body for `status` and `message` in `dialect`'s envelope, with the default type and
/// code; use [`ErrorBody`] to set `param`, `code` or the type.
pub fn error_json(dialect: Dialect, status: u16, message: &str) -> Value {
    ErrorBody::new(status, message).to_json(dialect)
}

/// [`error_json`], serialized.
pub fn error_bytes(dialect: Dialect, status: u16, message: &str) -> Vec<u8> {
    ErrorBody::new(status, message).to_bytes(dialect)
}

/// The mid-stream error event for `dialect`; see [`ErrorBody::to_sse_event`].
pub fn error_sse_event(dialect: Dialect, body: &ErrorBody, sequence_number: u64) -> SseEvent {
    body.to_sse_event(dialect, sequence_number)
}

/// Reads an upstream's error body (or the data of an error stream event) as `(type, message)`.
///
/// Every dialect accepts the common envelope `{"error": {...}}`, with or without Anthropic's outer
/// `"type": "error"`: the type is `error.type`, or `error.code` (string or number) when the type is
/// missing or null, as OpenAI-compatible servers sometimes send; a bare `{"error": "text"}` gives
/// type `error`. The Responses dialect also accepts its stream shapes, the `error` event
/// `{"type":"error","code":C,"message":M}` and `response.failed` with `response.error`, whose code
/// is returned as the type. A missing message is empty; a missing type is empty. Returns `None`
/// for anything that is not JSON or has neither a type nor a message.
pub fn parse_error(dialect: Dialect, body: &[u8]) -> Option<(String, String)> {
    let value: Value = serde_json::from_slice(body).ok()?;
    let obj = value.as_object()?;
    match obj.get("error") {
        Some(Value::Object(error)) => return type_and_message(error, &["type", "code"]),
        Some(Value::String(message)) => return Some(("error".to_owned(), message.clone())),
        _ => {}
    }
    if dialect != Dialect::Responses {
        return None;
    }
    match obj.get("type").and_then(Value::as_str) {
        Some("error") => type_and_message(obj, &["code"]),
        Some("response.failed") => {
            let error = obj.get("response")?.get("error")?.as_object()?;
            type_and_message(error, &["code", "type"])
        }
        _ => None,
    }
}

/// The first of `type_keys` holding a string or number, and `message`.
fn type_and_message(obj: &Map<String, Value>, type_keys: &[&str]) -> Option<(String, String)> {
    let error_type = type_keys.iter().find_map(|key| match obj.get(*key) {
        Some(Value::String(s)) => Some(s.clone()),
        Some(Value::Number(n)) => Some(n.to_string()),
        _ => None,
    });
    let message = obj
        .get("message")
        .and_then(Value::as_str)
        .map(str::to_owned);
    if error_type.is_none() && message.is_none() {
        return None;
    }
    Some((error_type.unwrap_or_default(), message.unwrap_or_default()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sse::{encode_event, SseDecoder};
    use serde::Deserialize;

    const ANTHROPIC: Dialect = Dialect::Anthropic;
    const CHAT: Dialect = Dialect::OpenAiChat;
    const RESPONSES: Dialect = Dialect::Responses;

    #[test]
    fn vendor_type_and_code_per_status() {
        // (dialect, status, type, code)
        let cases: &[(Dialect, u16, &str, Option<&str>)] = &[
            (ANTHROPIC, 400, "invalid_request_error", None),
            (ANTHROPIC, 401, "authentication_error", None),
            (ANTHROPIC, 402, "billing_error", None),
            (ANTHROPIC, 403, "permission_error", None),
            (ANTHROPIC, 404, "not_found_error", None),
            (ANTHROPIC, 409, "invalid_request_error", None),
            (ANTHROPIC, 413, "request_too_large", None),
            (ANTHROPIC, 422, "invalid_request_error", None),
            (ANTHROPIC, 429, "rate_limit_error", None),
            (ANTHROPIC, 500, "api_error", None),
            (ANTHROPIC, 502, "api_error", None),
            (ANTHROPIC, 503, "overloaded_error", None),
            (ANTHROPIC, 504, "timeout_error", None),
            (ANTHROPIC, 529, "overloaded_error", None),
            (CHAT, 400, "invalid_request_error", None),
            (CHAT, 401, "invalid_request_error", Some("invalid_api_key")),
            (CHAT, 403, "request_forbidden", None),
            (CHAT, 404, "invalid_request_error", None),
            (CHAT, 413, "invalid_request_error", None),
            (CHAT, 429, "requests", Some("rate_limit_exceeded")),
            (CHAT, 500, "server_error", None),
            (CHAT, 503, "server_error", None),
            (CHAT, 504, "server_error", None),
            (RESPONSES, 400, "invalid_request_error", None),
            (
                RESPONSES,
                401,
                "invalid_request_error",
                Some("invalid_api_key"),
            ),
            (RESPONSES, 429, "requests", Some("rate_limit_exceeded")),
            (RESPONSES, 500, "server_error", Some("server_error")),
            (RESPONSES, 503, "server_error", Some("server_is_overloaded")),
        ];
        for &(dialect, status, ty, code) in cases {
            assert_eq!(error_type(dialect, status), ty, "{dialect:?} {status}");
            assert_eq!(default_code(dialect, status), code, "{dialect:?} {status}");
        }
    }

    #[test]
    fn bodies_per_dialect() {
        let cases: &[(Dialect, ErrorBody, Value)] = &[
            (
                ANTHROPIC,
                ErrorBody::new(529, "Overloaded"),
                json!({"type": "error", "error": {"type": "overloaded_error", "message": "Overloaded"}}),
            ),
            (
                ANTHROPIC,
                // Anthropic has no param or code fields: they are dropped.
                ErrorBody::new(400, "max_tokens: field required")
                    .with_param("max_tokens")
                    .with_code("x"),
                json!({"type": "error", "error": {"type": "invalid_request_error", "message": "max_tokens: field required"}}),
            ),
            (
                CHAT,
                ErrorBody::new(401, "Incorrect API key provided"),
                json!({"error": {"message": "Incorrect API key provided", "type": "invalid_request_error", "param": null, "code": "invalid_api_key"}}),
            ),
            (
                CHAT,
                ErrorBody::new(
                    404,
                    "The model `x` does not exist or you do not have access to it.",
                )
                .with_code("model_not_found")
                .with_param("model"),
                json!({"error": {"message": "The model `x` does not exist or you do not have access to it.", "type": "invalid_request_error", "param": "model", "code": "model_not_found"}}),
            ),
            (
                RESPONSES,
                ErrorBody::new(503, "no tier available").with_type("service_unavailable"),
                json!({"error": {"message": "no tier available", "type": "service_unavailable", "param": null, "code": "server_is_overloaded"}}),
            ),
        ];
        for (dialect, body, want) in cases {
            assert_eq!(&body.to_json(*dialect), want, "{dialect:?}");
            let bytes: Value = serde_json::from_slice(&body.to_bytes(*dialect)).unwrap();
            assert_eq!(&bytes, want, "{dialect:?} bytes");
        }
        assert_eq!(
            error_json(CHAT, 429, "slow down"),
            json!({"error": {"message": "slow down", "type": "requests", "param": null, "code": "rate_limit_exceeded"}})
        );
        let bytes: Value = serde_json::from_slice(&error_bytes(ANTHROPIC, 404, "no")).unwrap();
        assert_eq!(
            bytes,
            json!({"type": "error", "error": {"type": "not_found_error", "message": "no"}})
        );
    }

    #[test]
    fn sse_error_events() {
        let body = ErrorBody::new(529, "Overloaded");
        let cases: &[(Dialect, Option<&str>, Value)] = &[
            (
                ANTHROPIC,
                Some("error"),
                json!({"type": "error", "error": {"type": "overloaded_error", "message": "Overloaded"}}),
            ),
            (
                CHAT,
                None,
                json!({"error": {"message": "Overloaded", "type": "server_error", "param": null, "code": null}}),
            ),
            (
                RESPONSES,
                Some("error"),
                json!({"type": "error", "code": "server_error", "message": "Overloaded", "param": null, "sequence_number": 7}),
            ),
        ];
        for (dialect, name, want) in cases {
            let event = error_sse_event(*dialect, &body, 7);
            assert_eq!(event.event.as_deref(), *name, "{dialect:?}");
            let data: Value = serde_json::from_str(&event.data).unwrap();
            assert_eq!(&data, want, "{dialect:?}");
            // The event survives the wire and parses back to the same type and message.
            let mut wire = Vec::new();
            encode_event(&event, &mut wire);
            let mut decoder = SseDecoder::new();
            let mut out = Vec::new();
            decoder.push(&wire, &mut out).unwrap();
            assert_eq!(out, vec![event.clone()]);
            let (ty, message) = parse_error(*dialect, out[0].data.as_bytes()).unwrap();
            assert_eq!(message, "Overloaded");
            assert_eq!(
                ty,
                body.code_for(*dialect).unwrap_or(body.type_for(*dialect))
            );
        }
        let with_code = ErrorBody::new(400, "too long")
            .with_code("context_length_exceeded")
            .with_param("input");
        let data: Value = serde_json::from_str(&with_code.to_sse_event(RESPONSES, 3).data).unwrap();
        assert_eq!(
            data,
            json!({"type": "error", "code": "context_length_exceeded", "message": "too long", "param": "input", "sequence_number": 3})
        );
    }

    #[test]
    fn parses_upstream_error_bodies() {
        type Parsed = Option<(&'static str, &'static str)>;
        let cases: &[(Dialect, &str, Parsed)] = &[
            (
                ANTHROPIC,
                r#"{"type":"error","error":{"type":"overloaded_error","message":"Overloaded"},"request_id":"req_1"}"#,
                Some(("overloaded_error", "Overloaded")),
            ),
            (
                ANTHROPIC,
                r#"{"error":{"type":"not_found_error","message":"no route /x"}}"#,
                Some(("not_found_error", "no route /x")),
            ),
            (
                CHAT,
                r#"{"error":{"message":"Incorrect API key provided: kk.","type":"invalid_request_error","param":null,"code":"invalid_api_key"}}"#,
                Some(("invalid_request_error", "Incorrect API key provided: kk.")),
            ),
            (
                CHAT,
                r#"{"error":{"message":"Rate limit exceeded","type":null,"code":429}}"#,
                Some(("429", "Rate limit exceeded")),
            ),
            (
                CHAT,
                r#"{"error":{"message":"x","code":"rate_limit_exceeded"}}"#,
                Some(("rate_limit_exceeded", "x")),
            ),
            (
                CHAT,
                r#"{"error":{"type":"server_error"}}"#,
                Some(("server_error", "")),
            ),
            (
                CHAT,
                r#"{"error":"Server overloaded, please retry shortly"}"#,
                Some(("error", "Server overloaded, please retry shortly")),
            ),
            (
                RESPONSES,
                r#"{"type":"error","code":"rate_limit_exceeded","message":"slow down","param":null,"sequence_number":2}"#,
                Some(("rate_limit_exceeded", "slow down")),
            ),
            (
                RESPONSES,
                r#"{"type":"response.failed","response":{"status":"failed","error":{"code":"server_is_overloaded","message":"Our servers are currently overloaded."}}}"#,
                Some((
                    "server_is_overloaded",
                    "Our servers are currently overloaded.",
                )),
            ),
            // Stream-only shapes belong to Responses.
            (
                CHAT,
                r#"{"type":"error","code":"rate_limit_exceeded","message":"slow down"}"#,
                None,
            ),
            (
                RESPONSES,
                r#"{"type":"response.completed","response":{}}"#,
                None,
            ),
            (CHAT, r#"{"error":{}}"#, None),
            (CHAT, r#"{"error":null}"#, None),
            (CHAT, "{}", None),
            (CHAT, "[]", None),
            (ANTHROPIC, "<html>502 Bad Gateway</html>", None),
            (ANTHROPIC, "", None),
        ];
        for (dialect, body, want) in cases {
            let got = parse_error(*dialect, body.as_bytes());
            let want = want.map(|(t, m)| (t.to_owned(), m.to_owned()));
            assert_eq!(got, want, "{dialect:?} {body}");
        }
    }

    #[test]
    fn generated_bodies_parse_back() {
        for dialect in Dialect::ALL {
            for status in [400, 401, 402, 403, 404, 413, 429, 500, 502, 503, 504, 529] {
                let body = error_bytes(dialect, status, "msg \"quoted\"");
                assert_eq!(
                    parse_error(dialect, &body),
                    Some((
                        error_type(dialect, status).to_owned(),
                        "msg \"quoted\"".to_owned()
                    )),
                    "{dialect:?} {status}"
                );
            }
        }
    }

    // Mirrors of the official SDKs' error types. `deny_unknown_fields` makes the test fail if we
    // send a field the SDK does not model; keys that must be present even when null are checked
    // separately, since serde fills a missing `Option` with `None`.

    /// anthropic-sdk: `ErrorResponse { type: "error", error: ErrorObject, request_id }`.
    #[derive(Deserialize)]
    #[serde(deny_unknown_fields)]
    struct AnthropicErrorResponse {
        #[serde(rename = "type")]
        kind: ErrorTag,
        error: AnthropicErrorObject,
        #[allow(dead_code)]
        request_id: Option<String>,
    }

    #[derive(Deserialize, PartialEq, Debug)]
    #[serde(rename_all = "snake_case")]
    enum ErrorTag {
        Error,
    }

    /// anthropic-sdk `ErrorObject`: one of the typed errors, each `{ type, message }`.
    #[derive(Deserialize)]
    #[serde(deny_unknown_fields)]
    struct AnthropicErrorObject {
        #[serde(rename = "type")]
        kind: AnthropicErrorType,
        message: String,
    }

    /// anthropic-sdk `ErrorType`, plus `request_too_large` from the errors page.
    #[derive(Deserialize, PartialEq, Debug)]
    #[serde(rename_all = "snake_case")]
    enum AnthropicErrorType {
        InvalidRequestError,
        AuthenticationError,
        BillingError,
        PermissionError,
        NotFoundError,
        RequestTooLarge,
        RateLimitError,
        TimeoutError,
        ApiError,
        OverloadedError,
    }

    /// openai-python `ErrorObject { code: Optional[str], message: str, param: Optional[str], type: str }`
    /// under the body's `error` key.
    #[derive(Deserialize)]
    #[serde(deny_unknown_fields)]
    struct OpenAiErrorBody {
        error: OpenAiErrorObject,
    }

    #[derive(Deserialize)]
    #[serde(deny_unknown_fields)]
    struct OpenAiErrorObject {
        code: Option<String>,
        message: String,
        param: Option<String>,
        #[serde(rename = "type")]
        kind: String,
    }

    /// openai-python `ResponseErrorEvent { code: Optional[str], message, param: Optional[str],
    /// sequence_number: int, type: "error" }`.
    #[derive(Deserialize)]
    #[serde(deny_unknown_fields)]
    struct ResponseErrorEvent {
        code: Option<String>,
        message: String,
        #[allow(dead_code)]
        param: Option<String>,
        sequence_number: i64,
        #[serde(rename = "type")]
        kind: ErrorTag,
    }

    fn keys(value: &Value, pointer: &str) -> Vec<String> {
        let mut keys: Vec<String> = value
            .pointer(pointer)
            .and_then(Value::as_object)
            .unwrap()
            .keys()
            .cloned()
            .collect();
        keys.sort();
        keys
    }

    #[test]
    fn bodies_deserialize_into_sdk_error_types() {
        for status in [400, 401, 402, 403, 404, 409, 413, 429, 500, 503, 504, 529] {
            let message = format!("failed with {status}");
            let body = ErrorBody::new(status, message.clone()).with_param("model");

            let anthropic: AnthropicErrorResponse =
                serde_json::from_slice(&body.to_bytes(ANTHROPIC)).unwrap();
            assert_eq!(anthropic.kind, ErrorTag::Error);
            assert_eq!(anthropic.error.message, message);
            let kind = serde_json::to_value(error_type(ANTHROPIC, status)).unwrap();
            assert_eq!(
                anthropic.error.kind,
                serde_json::from_value::<AnthropicErrorType>(kind).unwrap()
            );
            let sse = body.to_sse_event(ANTHROPIC, 0);
            let streamed: AnthropicErrorResponse = serde_json::from_str(&sse.data).unwrap();
            assert_eq!(streamed.error.message, message);

            for dialect in [CHAT, RESPONSES] {
                let json = body.to_json(dialect);
                assert_eq!(keys(&json, "/error"), ["code", "message", "param", "type"]);
                let openai: OpenAiErrorBody = serde_json::from_value(json).unwrap();
                assert_eq!(openai.error.message, message);
                assert_eq!(openai.error.kind, error_type(dialect, status));
                assert_eq!(openai.error.param.as_deref(), Some("model"));
                assert_eq!(openai.error.code.as_deref(), default_code(dialect, status));
            }
            let chunk: OpenAiErrorBody =
                serde_json::from_str(&body.to_sse_event(CHAT, 0).data).unwrap();
            assert_eq!(chunk.error.message, message);

            let data: Value = serde_json::from_str(&body.to_sse_event(RESPONSES, 9).data).unwrap();
            assert_eq!(
                keys(&data, ""),
                ["code", "message", "param", "sequence_number", "type"]
            );
            let event: ResponseErrorEvent = serde_json::from_value(data).unwrap();
            assert_eq!(event.kind, ErrorTag::Error);
            assert_eq!(event.message, message);
            assert_eq!(event.sequence_number, 9);
            assert!(event.code.is_some());
        }
    }
}
