//! Building responses: JSON bodies, error envelopes in the client's dialect, anvil's headers.

use anvil_dialects::errors::ErrorBody;
use anvil_dialects::Dialect;
use http::header::{HeaderName, HeaderValue, CONNECTION, CONTENT_TYPE, RETRY_AFTER};
use http::{Response, StatusCode};

use crate::body::Body;

/// `x-anvil-request-id`.
pub const REQUEST_ID: HeaderName = HeaderName::from_static("x-anvil-request-id");
/// `x-anvil-tier`.
pub const TIER: HeaderName = HeaderName::from_static("x-anvil-tier");
/// `x-anvil-work-class`.
pub const WORK_CLASS: HeaderName = HeaderName::from_static("x-anvil-work-class");
/// `x-anvil-decision`.
pub const DECISION: HeaderName = HeaderName::from_static("x-anvil-decision");
/// `x-anvil-attempts`.
pub const ATTEMPTS: HeaderName = HeaderName::from_static("x-anvil-attempts");
/// `x-anvil-token-count`: `upstream` or `estimate` on count_tokens answers.
pub const TOKEN_COUNT: HeaderName = HeaderName::from_static("x-anvil-token-count");

/// A client-visible error: status, message, optional overrides, and whether to close the connection.
#[derive(Debug)]
pub struct ApiError {
    /// Boxed: errors travel through every `Result` of the request path, which should stay small.
    pub body: Box<ErrorBody>,
    pub retry_after: Option<u64>,
    pub close: bool,
}

impl ApiError {
    pub fn new(status: StatusCode, message: impl Into<String>) -> Self {
        Self {
            body: Box::new(ErrorBody::new(status.as_u16(), message)),
            retry_after: None,
            close: false,
        }
    }

    pub fn bad_request(message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, message)
    }

    pub fn param(mut self, param: impl Into<String>) -> Self {
        self.body = Box::new((*self.body).with_param(param));
        self
    }

    pub fn retry_after(mut self, seconds: u64) -> Self {
        self.retry_after = Some(seconds);
        self
    }

    pub fn close(mut self) -> Self {
        self.close = true;
        self
    }

    pub fn status(&self) -> StatusCode {
        StatusCode::from_u16(self.body.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR)
    }

    /// The error in `dialect`'s envelope.
    pub fn into_response(self, dialect: Dialect, request_id: &str) -> Response<Body> {
        let status = self.status();
        let mut response = json_response(status, self.body.to_bytes(dialect));
        let headers = response.headers_mut();
        if let Some(seconds) = self.retry_after {
            headers.insert(RETRY_AFTER, HeaderValue::from(seconds));
        }
        if self.close {
            headers.insert(CONNECTION, HeaderValue::from_static("close"));
        }
        set_header(headers, REQUEST_ID, request_id);
        response
    }
}

/// A JSON response.
pub fn json_response(status: StatusCode, body: impl Into<bytes::Bytes>) -> Response<Body> {
    let mut response = Response::new(Body::full(body));
    *response.status_mut() = status;
    response
        .headers_mut()
        .insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
    response
}

/// Sets a header from text that is known to be a valid header value (ids, tier ids, kinds); text
/// that is not is left out rather than sent mangled.
pub fn set_header(headers: &mut http::HeaderMap, name: HeaderName, value: &str) {
    if let Ok(value) = HeaderValue::from_str(value) {
        headers.insert(name, value);
    }
}
