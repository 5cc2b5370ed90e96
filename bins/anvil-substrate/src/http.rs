//! A small HTTP client for the network verbs (`preflight`, `benchmark`, `eval`, `models sync
//! --fetch-cards`): JSON in, JSON or an SSE stream out, one deadline per request.
//!
//! The API key travels only in the `Authorization` header (marked sensitive); error messages carry
//! the URL, the status and at most 300 characters of the answer, never a request header.

use std::time::Duration;

use anyhow::{anyhow, bail, Context};
use bytes::Bytes;
use http::header::{HeaderValue, AUTHORIZATION, CONTENT_TYPE, USER_AGENT};
use http::{Method, Request};
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper_rustls::HttpsConnector;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::client::legacy::Client as Legacy;
use hyper_util::rt::TokioExecutor;
use serde_json::Value;

/// One client per run; cheap to clone (the pool is shared).
#[derive(Clone)]
pub struct Client {
    inner: Legacy<HttpsConnector<HttpConnector>, Full<Bytes>>,
    auth: Option<HeaderValue>,
    timeout: Duration,
}

/// The text of an error and its sources, `: `-joined.
pub fn chain(e: &(dyn std::error::Error + 'static)) -> String {
    let mut out = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        let text = s.to_string();
        if !out.contains(&text) {
            out.push_str(": ");
            out.push_str(&text);
        }
        source = s.source();
    }
    out
}

impl Client {
    /// A client sending `Authorization: Bearer <api_key>` when a key is given; every request
    /// (headers and body) must finish within `timeout`.
    pub fn new(api_key: Option<&str>, timeout: Duration) -> anyhow::Result<Self> {
        let mut http = HttpConnector::new();
        http.enforce_http(false);
        http.set_nodelay(true);
        http.set_connect_timeout(Some(timeout.min(Duration::from_secs(30))));
        let https = hyper_rustls::HttpsConnectorBuilder::new()
            .with_provider_and_webpki_roots(rustls::crypto::ring::default_provider())
            .map_err(|e| anyhow!("cannot set up TLS: {e}"))?
            .https_or_http()
            .enable_http1()
            .wrap_connector(http);
        let auth = match api_key {
            Some(key) => {
                let mut v = HeaderValue::from_str(&format!("Bearer {key}"))
                    .map_err(|_| anyhow!("the API key is not a valid header value"))?;
                v.set_sensitive(true);
                Some(v)
            }
            None => None,
        };
        Ok(Self {
            inner: Legacy::builder(TokioExecutor::new()).build(https),
            auth,
            timeout,
        })
    }

    fn request(
        &self,
        method: Method,
        url: &str,
        body: Option<&Value>,
    ) -> anyhow::Result<Request<Full<Bytes>>> {
        let mut req = Request::builder().method(method).uri(url).header(
            USER_AGENT,
            concat!("anvil-substrate/", env!("CARGO_PKG_VERSION")),
        );
        if let Some(auth) = &self.auth {
            req = req.header(AUTHORIZATION, auth.clone());
        }
        let bytes = match body {
            Some(v) => {
                req = req.header(CONTENT_TYPE, "application/json");
                Bytes::from(serde_json::to_vec(v)?)
            }
            None => Bytes::new(),
        };
        req.body(Full::new(bytes))
            .map_err(|e| anyhow!("bad request URL {url}: {e}"))
    }

    /// Sends a request and returns the response once its headers arrived; a non-2xx status is an
    /// error carrying the start of the answer.
    pub async fn send(
        &self,
        method: Method,
        url: &str,
        body: Option<&Value>,
    ) -> anyhow::Result<hyper::Response<Incoming>> {
        let req = self.request(method, url, body)?;
        let resp = match tokio::time::timeout(self.timeout, self.inner.request(req)).await {
            Err(_) => bail!("{url}: no answer within {:?}", self.timeout),
            Ok(Err(e)) => bail!("{url}: {}", chain(&e)),
            Ok(Ok(resp)) => resp,
        };
        if !resp.status().is_success() {
            let status = resp.status();
            let body = tokio::time::timeout(self.timeout, resp.into_body().collect())
                .await
                .ok()
                .and_then(Result::ok)
                .map(|c| {
                    String::from_utf8_lossy(&c.to_bytes())
                        .chars()
                        .take(300)
                        .collect::<String>()
                })
                .unwrap_or_default();
            bail!("{url}: HTTP {status}: {body}");
        }
        Ok(resp)
    }

    /// A whole text answer.
    pub async fn text(
        &self,
        method: Method,
        url: &str,
        body: Option<&Value>,
    ) -> anyhow::Result<String> {
        let resp = self.send(method, url, body).await?;
        let collected = tokio::time::timeout(self.timeout, resp.into_body().collect())
            .await
            .map_err(|_| anyhow!("{url}: the answer did not finish within {:?}", self.timeout))?
            .map_err(|e| anyhow!("{url}: {}", chain(&e)))?;
        Ok(String::from_utf8_lossy(&collected.to_bytes()).into_owned())
    }

    /// A whole JSON answer.
    pub async fn json(
        &self,
        method: Method,
        url: &str,
        body: Option<&Value>,
    ) -> anyhow::Result<Value> {
        let text = self.text(method, url, body).await?;
        serde_json::from_str(&text).with_context(|| {
            format!(
                "{url}: the answer is not JSON: {}",
                text.chars().take(120).collect::<String>()
            )
        })
    }

    /// The request deadline.
    pub fn timeout(&self) -> Duration {
        self.timeout
    }
}

/// `base` without trailing slashes, then `/path`.
pub fn join(base: &str, path: &str) -> String {
    format!(
        "{}/{}",
        base.trim_end_matches('/'),
        path.trim_start_matches('/')
    )
}

/// Reads an SSE body and calls `on_data` with each `data:` payload (without `[DONE]`), in order.
pub struct SseReader {
    body: Incoming,
    buf: Vec<u8>,
    done: bool,
}

impl SseReader {
    /// Wraps a streaming response body.
    pub fn new(body: Incoming) -> Self {
        Self {
            body,
            buf: Vec::new(),
            done: false,
        }
    }

    /// The next `data:` payload, `None` at `[DONE]` or the end of the body.
    pub async fn next(&mut self) -> anyhow::Result<Option<String>> {
        loop {
            if let Some(pos) = self.buf.iter().position(|b| *b == b'\n') {
                let line: Vec<u8> = self.buf.drain(..=pos).collect();
                let line = String::from_utf8_lossy(&line);
                let line = line.trim_end_matches(['\r', '\n']);
                if let Some(data) = line.strip_prefix("data:") {
                    let data = data.trim_start();
                    if data == "[DONE]" {
                        self.done = true;
                        return Ok(None);
                    }
                    return Ok(Some(data.to_owned()));
                }
                continue;
            }
            if self.done {
                return Ok(None);
            }
            match self.body.frame().await {
                None => {
                    self.done = true;
                    if self.buf.is_empty() {
                        return Ok(None);
                    }
                    self.buf.push(b'\n');
                }
                Some(Err(e)) => bail!("the stream broke: {}", chain(&e)),
                Some(Ok(frame)) => {
                    if let Ok(data) = frame.into_data() {
                        self.buf.extend_from_slice(&data);
                    }
                }
            }
        }
    }
}
