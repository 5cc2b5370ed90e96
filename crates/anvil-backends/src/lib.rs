//! Upstream clients for anvil's tiers.
//!
//! One [`Upstream`] per configured tier: its connections (HTTP/1.1, `TCP_NODELAY`; a pool of its
//! own for `http`, see `pool`, and hyper-util's pooled client with rustls for `https`), the tier's
//! endpoint for its dialect, and its credential read once from the environment variable the tier
//! names. [`Upstream::send`] returns as soon as the upstream's response
//! headers arrive; the body is read chunk by chunk with [`UpstreamBody::next_chunk`], which enforces the
//! idle and total deadlines. Every failure is an [`UpstreamError`] that says whether anything may have
//! reached the upstream's answer stream yet, so the caller can decide whether a fallback is still clean.
//!
//! Credentials never leave this crate in a printable form: header values are marked sensitive and
//! [`Upstream`]'s `Debug` omits them.

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use anvil_config::{Privacy, Tier, Timeouts};
use anvil_dialects::Dialect;
use bytes::Bytes;
use http::header::{HeaderName, HeaderValue, AUTHORIZATION, CONTENT_TYPE, HOST};
use http::{HeaderMap, Method, StatusCode, Uri};
use http_body_util::Full;
use hyper::body::Body as _;
use hyper::body::Incoming;
use hyper_rustls::HttpsConnector;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use tokio::time::Instant;

mod pool;

use pool::{Http1Pool, Lease, PoolError};

/// The Anthropic API version sent to Anthropic-dialect tiers.
pub const ANTHROPIC_VERSION: &str = "2023-06-01";

/// Largest upstream error body kept for diagnosis.
const MAX_ERROR_BODY: usize = 64 * 1024;

/// Why a tier could not be set up.
#[derive(Debug, thiserror::Error)]
pub enum BindError {
    /// A cloud tier's key variable is unset or empty.
    #[error("tier `{tier}` not bound: environment variable {var} is unset or empty")]
    MissingKey {
        /// Tier id.
        tier: String,
        /// Variable name.
        var: String,
    },
    /// The base URL does not form a valid endpoint.
    #[error("tier `{tier}`: invalid endpoint {endpoint}")]
    Endpoint {
        /// Tier id.
        tier: String,
        /// The URL that did not parse.
        endpoint: String,
    },
    /// The key contains characters that cannot go in an HTTP header.
    #[error("tier `{tier}`: the value of {var} is not a valid header value")]
    BadKey {
        /// Tier id.
        tier: String,
        /// Variable name.
        var: String,
    },
    /// The TLS configuration could not be built.
    #[error("tls setup failed: {0}")]
    Tls(String),
}

/// How an upstream attempt failed.
#[derive(Debug, thiserror::Error)]
pub enum UpstreamError {
    /// The connection could not be established (refused, DNS, TLS, connect timeout).
    #[error("connect failed: {0}")]
    Connect(String),
    /// The request was sent but the connection failed before response headers arrived.
    #[error("upstream closed the connection before answering: {0}")]
    Reset(String),
    /// No response headers within the first-byte deadline.
    #[error("no response within the first-byte deadline")]
    FirstByteTimeout,
    /// The upstream answered with an error status.
    #[error("upstream answered {status}")]
    Status {
        /// The status.
        status: StatusCode,
        /// Response headers (for `retry-after`).
        headers: HeaderMap,
        /// The start of the error body.
        body: Bytes,
    },
    /// Reading the response body failed.
    #[error("upstream body failed: {0}")]
    Body(String),
    /// No body chunk within the idle deadline.
    #[error("upstream went silent for longer than the idle deadline")]
    IdleTimeout,
    /// The attempt's total deadline passed.
    #[error("upstream attempt exceeded the total deadline")]
    TotalTimeout,
}

impl UpstreamError {
    /// A short, stable, low-cardinality name for logs, metrics and `x-anvil-attempts`.
    pub fn kind(&self) -> &'static str {
        match self {
            UpstreamError::Connect(_) => "connect-failed",
            UpstreamError::Reset(_) => "reset",
            UpstreamError::FirstByteTimeout => "first-byte-timeout",
            UpstreamError::Status { status, .. } if *status == StatusCode::TOO_MANY_REQUESTS => {
                "rate-limited"
            }
            UpstreamError::Status { status, .. } if status.is_server_error() => "upstream-5xx",
            UpstreamError::Status { .. } => "upstream-4xx",
            UpstreamError::Body(_) => "body-failed",
            UpstreamError::IdleTimeout => "idle-timeout",
            UpstreamError::TotalTimeout => "total-timeout",
        }
    }

    /// Whether another tier may be tried: the failure happened before the upstream produced an
    /// answer, and it is not the request's own fault (a 4xx other than 408/429 would fail anywhere).
    pub fn may_fall_back(&self) -> bool {
        match self {
            UpstreamError::Connect(_)
            | UpstreamError::Reset(_)
            | UpstreamError::FirstByteTimeout => true,
            UpstreamError::Status { status, .. } => {
                status.is_server_error()
                    || *status == StatusCode::TOO_MANY_REQUESTS
                    || *status == StatusCode::REQUEST_TIMEOUT
            }
            UpstreamError::Body(_) | UpstreamError::IdleTimeout | UpstreamError::TotalTimeout => {
                false
            }
        }
    }

    /// The HTTP status to show a client when this is the final failure.
    pub fn client_status(&self) -> StatusCode {
        match self {
            UpstreamError::Status { status, .. } => *status,
            UpstreamError::FirstByteTimeout
            | UpstreamError::IdleTimeout
            | UpstreamError::TotalTimeout => StatusCode::GATEWAY_TIMEOUT,
            UpstreamError::Connect(_) | UpstreamError::Reset(_) | UpstreamError::Body(_) => {
                StatusCode::BAD_GATEWAY
            }
        }
    }
}

type HttpClient = Client<HttpsConnector<HttpConnector>, Full<Bytes>>;

/// One tier's upstream: endpoint, credential and connection pool.
#[derive(Clone)]
pub struct Upstream {
    tier_id: String,
    dialect: Dialect,
    model: Option<String>,
    endpoint: Uri,
    count_tokens: Option<Uri>,
    auth: Option<(HeaderName, HeaderValue)>,
    /// The headers every request carries (content type, the key, the Anthropic version), made
    /// once: copying a map is cheaper than parsing and checking names and values per request.
    headers: HeaderMap,
    /// The key itself, kept only to scrub it from any text that leaves this crate.
    secret: Option<String>,
    transport: Transport,
    timeouts: Timeouts,
}

/// How a tier's requests travel: its own HTTP/1.1 pool for `http`, hyper-util's pooled client (with
/// TLS) for `https`.
#[derive(Clone)]
enum Transport {
    Http1(Http1Pool),
    Client(Box<HttpClient>),
}

impl fmt::Debug for Upstream {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Upstream")
            .field("tier_id", &self.tier_id)
            .field("dialect", &self.dialect)
            .field("endpoint", &self.endpoint)
            .field("auth", &self.auth.as_ref().map(|(name, _)| name))
            .finish_non_exhaustive()
    }
}

/// The dialects crate's name for a configured tier dialect.
pub fn dialect_of(tier: &Tier) -> Dialect {
    match tier.dialect {
        anvil_config::Dialect::OpenAi => Dialect::OpenAiChat,
        anvil_config::Dialect::Anthropic => Dialect::Anthropic,
        anvil_config::Dialect::Responses => Dialect::Responses,
    }
}

/// The URL path a dialect's generation endpoint has below a tier's `base_url`. OpenAI-style base URLs
/// conventionally include `/v1`; Anthropic's (`https://api.anthropic.com`) do not.
pub fn endpoint_path(dialect: Dialect) -> &'static str {
    match dialect {
        Dialect::Anthropic => "/v1/messages",
        Dialect::OpenAiChat => "/chat/completions",
        Dialect::Responses => "/responses",
    }
}

fn join(base: &str, path: &str) -> String {
    format!("{}{path}", base.trim_end_matches('/'))
}

impl Upstream {
    /// Sets up a tier. `env` looks up environment variables (injected so tests need no process
    /// environment). A cloud tier without its key is not bound; a local tier's key is optional.
    pub fn bind(
        tier: &Tier,
        timeouts: Timeouts,
        env: &dyn Fn(&str) -> Option<String>,
    ) -> Result<Self, BindError> {
        let dialect = dialect_of(tier);
        let endpoint_text = join(&tier.base_url, endpoint_path(dialect));
        let endpoint: Uri = endpoint_text.parse().map_err(|_| BindError::Endpoint {
            tier: tier.id.clone(),
            endpoint: endpoint_text.clone(),
        })?;
        let count_tokens = match dialect {
            Dialect::Anthropic => join(&tier.base_url, "/v1/messages/count_tokens")
                .parse()
                .ok(),
            Dialect::OpenAiChat | Dialect::Responses => None,
        };

        let key = tier
            .auth_env
            .as_deref()
            .and_then(|var| env(var).map(|value| (var, value.trim().to_owned())))
            .filter(|(_, value)| !value.is_empty());
        if tier.privacy == Privacy::Cloud && key.is_none() {
            return Err(BindError::MissingKey {
                tier: tier.id.clone(),
                var: tier.auth_env.clone().unwrap_or_default(),
            });
        }
        let secret = key.as_ref().map(|(_, value)| value.clone());
        let auth = match key {
            None => None,
            Some((var, value)) => {
                let bad = || BindError::BadKey {
                    tier: tier.id.clone(),
                    var: var.to_owned(),
                };
                let (name, value) = match dialect {
                    Dialect::Anthropic => (HeaderName::from_static("x-api-key"), value),
                    Dialect::OpenAiChat | Dialect::Responses => {
                        (AUTHORIZATION, format!("Bearer {value}"))
                    }
                };
                let mut value = HeaderValue::from_str(&value).map_err(|_| bad())?;
                value.set_sensitive(true);
                Some((name, value))
            }
        };

        let mut headers = HeaderMap::with_capacity(8);
        // What hyper's client would write per request from the URI (both endpoints share the
        // authority): the host, and the port unless it is the scheme's default.
        if let Some(host) = endpoint.host() {
            let default_port = if endpoint.scheme() == Some(&http::uri::Scheme::HTTPS) {
                443
            } else {
                80
            };
            let value = match endpoint.port_u16() {
                Some(port) if port != default_port => {
                    HeaderValue::from_str(&format!("{host}:{port}"))
                }
                _ => HeaderValue::from_str(host),
            };
            if let Ok(value) = value {
                headers.insert(HOST, value);
            }
        }
        headers.insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
        if let Some((name, value)) = &auth {
            headers.insert(name.clone(), value.clone());
        }
        if dialect == Dialect::Anthropic {
            headers.insert(
                HeaderName::from_static("anthropic-version"),
                HeaderValue::from_static(ANTHROPIC_VERSION),
            );
        }
        let transport = match (endpoint.scheme_str(), endpoint.host()) {
            (Some("http"), Some(_)) => {
                // a local model server's request may be replayed on a new connection when a
                // reused one loses it (the pool's docs); a metered tier's could be billed twice
                let replay = tier.privacy == Privacy::Local;
                Transport::Http1(Http1Pool::new(&endpoint, timeouts.connect, replay))
            }
            _ => Transport::Client(Box::new(client(timeouts.connect)?)),
        };
        Ok(Self {
            tier_id: tier.id.clone(),
            dialect,
            headers,
            model: tier.model.clone(),
            endpoint,
            count_tokens,
            auth,
            secret,
            transport,
            timeouts,
        })
    }

    /// `text` with this tier's key replaced by `[redacted]`, for anything that may reach a log or a
    /// client (upstream error messages sometimes echo what they were sent).
    pub fn redact(&self, text: &str) -> String {
        match &self.secret {
            Some(secret) if secret.len() >= 4 && text.contains(secret.as_str()) => {
                text.replace(secret.as_str(), "[redacted]")
            }
            _ => text.to_owned(),
        }
    }

    /// The tier id.
    pub fn tier_id(&self) -> &str {
        &self.tier_id
    }

    /// The dialect the upstream speaks.
    pub fn dialect(&self) -> Dialect {
        self.dialect
    }

    /// The model id to write into upstream bodies, if the tier names one.
    pub fn model(&self) -> Option<&str> {
        self.model.as_deref()
    }

    /// Whether the upstream has a token-counting endpoint (Anthropic dialect).
    pub fn counts_tokens(&self) -> bool {
        self.count_tokens.is_some()
    }

    /// The deadlines this upstream runs under.
    pub fn timeouts(&self) -> &Timeouts {
        &self.timeouts
    }

    /// Sends a generation request; returns when the response headers arrive (within the first-byte
    /// deadline). A non-2xx answer becomes [`UpstreamError::Status`] with the start of its body.
    /// `forward` holds inbound headers the upstream should see (only `anthropic-beta`, and only for
    /// Anthropic-dialect tiers).
    pub async fn send(
        &self,
        body: Bytes,
        forward: &HeaderMap,
    ) -> Result<UpstreamResponse, UpstreamError> {
        self.post(self.endpoint.clone(), body, forward).await
    }

    /// Sends a token-counting request (Anthropic dialect only; `None` otherwise).
    pub async fn count_tokens(
        &self,
        body: Bytes,
        forward: &HeaderMap,
    ) -> Option<Result<UpstreamResponse, UpstreamError>> {
        let uri = self.count_tokens.clone()?;
        Some(self.post(uri, body, forward).await)
    }

    async fn post(
        &self,
        uri: Uri,
        body: Bytes,
        forward: &HeaderMap,
    ) -> Result<UpstreamResponse, UpstreamError> {
        let started = Instant::now();
        let deadline = started + self.timeouts.total;
        let build = || {
            let mut request = http::Request::new(Full::new(body.clone()));
            *request.method_mut() = Method::POST;
            *request.uri_mut() = uri.clone();
            let headers = request.headers_mut();
            headers.clone_from(&self.headers);
            if self.dialect == Dialect::Anthropic {
                let beta = HeaderName::from_static("anthropic-beta");
                for value in forward.get_all(&beta) {
                    headers.append(beta.clone(), value.clone());
                }
            }
            request
        };

        let first_byte = self.timeouts.first_byte.min(self.timeouts.total);
        let (response, lease) = match &self.transport {
            Transport::Http1(pool) => {
                match tokio::time::timeout(first_byte, pool.send(build)).await {
                    Err(_) => return Err(UpstreamError::FirstByteTimeout),
                    Ok(Err(PoolError::Connect(e))) => return Err(UpstreamError::Connect(e)),
                    Ok(Err(PoolError::Reset(e))) => return Err(UpstreamError::Reset(e)),
                    Ok(Ok((response, lease))) => (response, Some(lease)),
                }
            }
            Transport::Client(client) => {
                match tokio::time::timeout(first_byte, client.request(build())).await {
                    Err(_) => return Err(UpstreamError::FirstByteTimeout),
                    Ok(Err(e)) => return Err(classify_client_error(&e)),
                    Ok(Ok(response)) => (response, None),
                }
            }
        };
        let (parts, body) = response.into_parts();
        let mut body = UpstreamBody {
            body,
            idle: self.timeouts.idle,
            deadline,
            timer: None,
            waiting: false,
            lease,
        };
        if !parts.status.is_success() {
            let mut collected = Vec::new();
            // The error body is diagnostic only: keep its start, stop on any failure.
            while collected.len() < MAX_ERROR_BODY {
                match body.next_chunk().await {
                    Ok(Some(chunk)) => collected.extend_from_slice(&chunk),
                    Ok(None) | Err(_) => break,
                }
            }
            collected.truncate(MAX_ERROR_BODY);
            return Err(UpstreamError::Status {
                status: parts.status,
                headers: parts.headers,
                body: Bytes::from(collected),
            });
        }
        Ok(UpstreamResponse {
            status: parts.status,
            headers: parts.headers,
            body,
            time_to_headers: started.elapsed(),
        })
    }
}

fn client(connect_timeout: Duration) -> Result<HttpClient, BindError> {
    let mut http = HttpConnector::new();
    http.enforce_http(false);
    http.set_nodelay(true);
    http.set_connect_timeout(Some(connect_timeout));
    let https = hyper_rustls::HttpsConnectorBuilder::new()
        .with_provider_and_webpki_roots(rustls::crypto::ring::default_provider())
        .map_err(|e| BindError::Tls(e.to_string()))?
        .https_or_http()
        .enable_http1()
        .wrap_connector(http);
    Ok(Client::builder(TokioExecutor::new())
        .pool_idle_timeout(Duration::from_secs(90))
        .build(https))
}

fn classify_client_error(error: &hyper_util::client::legacy::Error) -> UpstreamError {
    let message = error_chain(error);
    if error.is_connect() {
        UpstreamError::Connect(message)
    } else {
        UpstreamError::Reset(message)
    }
}

fn error_chain(error: &dyn std::error::Error) -> String {
    let mut message = error.to_string();
    let mut source = error.source();
    while let Some(inner) = source {
        message.push_str(": ");
        message.push_str(&inner.to_string());
        source = inner.source();
    }
    message
}

/// A successful upstream response whose body has not been read yet.
#[derive(Debug)]
pub struct UpstreamResponse {
    /// Status (2xx).
    pub status: StatusCode,
    /// Headers.
    pub headers: HeaderMap,
    /// The body, read chunk by chunk under the idle and total deadlines.
    pub body: UpstreamBody,
    /// How long the upstream took to send its headers.
    pub time_to_headers: Duration,
}

/// A response body with deadlines. Dropping it closes the upstream connection if the body was not
/// read to the end, which is how a client's disconnect cancels the upstream request.
#[derive(Debug)]
pub struct UpstreamBody {
    body: Incoming,
    idle: Duration,
    deadline: Instant,
    /// The idle (or total) deadline of the wait for the next frame, armed when a wait begins.
    timer: Option<Pin<Box<tokio::time::Sleep>>>,
    /// `timer` is set for the current wait.
    waiting: bool,
    /// The pooled connection the body arrives on, put back once the body has been read to the end.
    lease: Option<Lease>,
}

impl UpstreamBody {
    /// The next chunk of data; `None` at the end of the body.
    pub async fn next_chunk(&mut self) -> Result<Option<Bytes>, UpstreamError> {
        std::future::poll_fn(|cx| self.poll_chunk(cx)).await
    }

    /// [`next_chunk`](Self::next_chunk) as a poll, for a response body that pumps the upstream
    /// from the client connection's own task. A wait for the next frame fails after the idle
    /// timeout, and any call after the total deadline fails.
    pub fn poll_chunk(
        &mut self,
        cx: &mut Context<'_>,
    ) -> Poll<Result<Option<Bytes>, UpstreamError>> {
        let now = Instant::now();
        if now >= self.deadline {
            return Poll::Ready(Err(UpstreamError::TotalTimeout));
        }
        loop {
            match Pin::new(&mut self.body).poll_frame(cx) {
                Poll::Ready(None) => {
                    if let Some(lease) = self.lease.take() {
                        lease.release();
                    }
                    return Poll::Ready(Ok(None));
                }
                Poll::Ready(Some(Err(e))) => {
                    return Poll::Ready(Err(UpstreamError::Body(error_chain(&e))))
                }
                Poll::Ready(Some(Ok(frame))) => {
                    self.waiting = false;
                    // Trailers carry nothing anvil uses.
                    if let Ok(data) = frame.into_data() {
                        if !data.is_empty() {
                            return Poll::Ready(Ok(Some(data)));
                        }
                    }
                }
                Poll::Pending => break,
            }
        }
        let until = self.deadline.min(now + self.idle);
        let timer = self
            .timer
            .get_or_insert_with(|| Box::pin(tokio::time::sleep_until(until)));
        if !self.waiting {
            timer.as_mut().reset(until);
            self.waiting = true;
        }
        match timer.as_mut().poll(cx) {
            Poll::Pending => Poll::Pending,
            Poll::Ready(()) if Instant::now() >= self.deadline => {
                Poll::Ready(Err(UpstreamError::TotalTimeout))
            }
            Poll::Ready(()) => Poll::Ready(Err(UpstreamError::IdleTimeout)),
        }
    }

    /// Reads the rest of the body, up to `limit` bytes (an upstream answer larger than that fails).
    pub async fn collect(mut self, limit: usize) -> Result<Bytes, UpstreamError> {
        let mut out = Vec::new();
        while let Some(chunk) = self.next_chunk().await? {
            if out.len() + chunk.len() > limit {
                return Err(UpstreamError::Body(format!(
                    "response larger than {limit} bytes"
                )));
            }
            out.extend_from_slice(&chunk);
        }
        Ok(Bytes::from(out))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use anvil_config::Dialect as ConfigDialect;

    pub(crate) fn tier(dialect: ConfigDialect, privacy: Privacy, auth_env: Option<&str>) -> Tier {
        Tier {
            id: "t".into(),
            base_url: "http://127.0.0.1:9/v1/".into(),
            dialect,
            model: Some("m".into()),
            context_limit: 1000,
            privacy,
            tool_support: true,
            vision: false,
            auth_env: auth_env.map(str::to_owned),
            cost_input_per_mtok: None,
            cost_output_per_mtok: None,
            multiplexer: None,
        }
    }

    fn env(name: &str) -> Option<String> {
        match name {
            "KEY" => Some("  sk-secret-value  ".into()),
            "EMPTY" => Some("   ".into()),
            _ => None,
        }
    }

    #[tokio::test]
    async fn binds_endpoint_and_auth_per_dialect() {
        let cases = [
            (
                ConfigDialect::OpenAi,
                "http://127.0.0.1:9/v1/chat/completions",
                "authorization",
                "Bearer sk-secret-value",
            ),
            (
                ConfigDialect::Responses,
                "http://127.0.0.1:9/v1/responses",
                "authorization",
                "Bearer sk-secret-value",
            ),
            (
                ConfigDialect::Anthropic,
                "http://127.0.0.1:9/v1/v1/messages",
                "x-api-key",
                "sk-secret-value",
            ),
        ];
        for (dialect, endpoint, header, value) in cases {
            let up = Upstream::bind(
                &tier(dialect, Privacy::Local, Some("KEY")),
                Timeouts::default(),
                &env,
            )
            .unwrap();
            assert_eq!(up.endpoint.to_string(), endpoint);
            assert_eq!(up.headers[HOST], "127.0.0.1:9");
            let (name, got) = up.auth.clone().unwrap();
            assert_eq!((name.as_str(), got.to_str().unwrap()), (header, value));
            assert!(got.is_sensitive());
            let debug = format!("{up:?}");
            assert!(!debug.contains("sk-secret"), "{debug}");
            assert_eq!(up.redact("bad key sk-secret-value!"), "bad key [redacted]!");
        }
    }

    #[tokio::test]
    async fn the_host_header_names_the_port_only_when_it_is_not_the_default() {
        for (base_url, host) in [
            ("https://api.example.com/v1/", "api.example.com"),
            ("https://api.example.com:8443/v1/", "api.example.com:8443"),
            ("http://localhost/v1", "localhost"),
            ("http://localhost:8080/v1", "localhost:8080"),
        ] {
            let mut tier = tier(ConfigDialect::OpenAi, Privacy::Cloud, Some("KEY"));
            tier.base_url = base_url.into();
            let up = Upstream::bind(&tier, Timeouts::default(), &env).unwrap();
            assert_eq!(up.headers[HOST], host, "{base_url}");
        }
    }

    #[tokio::test]
    async fn cloud_tiers_need_a_key_and_local_tiers_do_not() {
        let err = Upstream::bind(
            &tier(ConfigDialect::Anthropic, Privacy::Cloud, Some("EMPTY")),
            Timeouts::default(),
            &env,
        )
        .unwrap_err();
        assert!(matches!(err, BindError::MissingKey { .. }), "{err}");
        assert!(!err.to_string().contains("sk-"));
        let local = Upstream::bind(
            &tier(ConfigDialect::OpenAi, Privacy::Local, Some("UNSET")),
            Timeouts::default(),
            &env,
        )
        .unwrap();
        assert!(local.auth.is_none());
        let local = Upstream::bind(
            &tier(ConfigDialect::OpenAi, Privacy::Local, None),
            Timeouts::default(),
            &env,
        )
        .unwrap();
        assert!(local.auth.is_none());
    }

    /// A one-connection upstream on real TCP: it answers 200 with a chunked body whose chunks go
    /// out after the given waits (on tokio's clock), then holds the connection open, silent.
    async fn trickle(chunks: Vec<(Duration, &'static str)>) -> String {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}/v1/", listener.local_addr().unwrap());
        tokio::spawn(async move {
            let (mut socket, _) = listener.accept().await.unwrap();
            let mut request = vec![0; 64 * 1024];
            let _ = socket.read(&mut request).await.unwrap();
            let head = "HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\ntransfer-encoding: chunked\r\n\r\n";
            socket.write_all(head.as_bytes()).await.unwrap();
            for (wait, text) in chunks {
                tokio::time::sleep(wait).await;
                let chunk = format!("{:x}\r\n{text}\r\n", text.len());
                socket.write_all(chunk.as_bytes()).await.unwrap();
            }
            std::future::pending::<()>().await;
        });
        url
    }

    async fn open(url: String, idle: u64, total: u64) -> UpstreamBody {
        let mut tier = tier(ConfigDialect::OpenAi, Privacy::Local, None);
        tier.base_url = url;
        let timeouts = Timeouts {
            idle: Duration::from_secs(idle),
            total: Duration::from_secs(total),
            ..Timeouts::default()
        };
        let upstream = Upstream::bind(&tier, timeouts, &env).unwrap();
        let response = upstream
            .send(Bytes::from_static(b"{}"), &HeaderMap::new())
            .await
            .unwrap();
        response.body
    }

    #[tokio::test(start_paused = true)]
    async fn a_body_silent_past_the_idle_timeout_fails_with_idle_timeout() {
        let url = trickle(vec![
            (Duration::ZERO, "data: 1\n\n"),
            (Duration::from_secs(4), "data: 2\n\n"),
        ])
        .await;
        let mut body = open(url, 5, 60).await;
        assert_eq!(body.next_chunk().await.unwrap().unwrap(), "data: 1\n\n");
        // 4 s of silence is within the idle timeout
        assert_eq!(body.next_chunk().await.unwrap().unwrap(), "data: 2\n\n");
        let waiting = Instant::now();
        let error = body.next_chunk().await.unwrap_err();
        assert!(matches!(error, UpstreamError::IdleTimeout), "{error}");
        assert_eq!(waiting.elapsed().as_secs(), 5);
    }

    #[tokio::test(start_paused = true)]
    async fn a_body_that_keeps_trickling_fails_at_the_total_deadline() {
        let every = Duration::from_secs(3);
        let url = trickle(vec![(every, "a"), (every, "b"), (every, "c"), (every, "d")]).await;
        let started = Instant::now();
        let mut body = open(url, 5, 8).await;
        let mut got = String::new();
        let error = loop {
            match body.next_chunk().await {
                Ok(Some(chunk)) => got.push_str(std::str::from_utf8(&chunk).unwrap()),
                Ok(None) => panic!("the body ended"),
                Err(error) => break error,
            }
        };
        assert!(matches!(error, UpstreamError::TotalTimeout), "{error}");
        assert_eq!((got.as_str(), started.elapsed().as_secs()), ("ab", 8));
    }

    #[test]
    fn error_kinds_and_fallback_rules() {
        let status = |code: u16| UpstreamError::Status {
            status: StatusCode::from_u16(code).unwrap(),
            headers: HeaderMap::new(),
            body: Bytes::new(),
        };
        let cases = [
            (
                UpstreamError::Connect("refused".into()),
                "connect-failed",
                true,
                502,
            ),
            (UpstreamError::Reset("eof".into()), "reset", true, 502),
            (
                UpstreamError::FirstByteTimeout,
                "first-byte-timeout",
                true,
                504,
            ),
            (status(429), "rate-limited", true, 429),
            (status(503), "upstream-5xx", true, 503),
            (status(400), "upstream-4xx", false, 400),
            (UpstreamError::Body("x".into()), "body-failed", false, 502),
            (UpstreamError::IdleTimeout, "idle-timeout", false, 504),
        ];
        for (error, kind, fall_back, client) in cases {
            assert_eq!(error.kind(), kind);
            assert_eq!(error.may_fall_back(), fall_back, "{kind}");
            assert_eq!(error.client_status().as_u16(), client, "{kind}");
        }
    }
}
