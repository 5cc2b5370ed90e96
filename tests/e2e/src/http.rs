//! A small HTTP/1.1 client over real TCP: one connection per request, no pooling, no retries.

use std::time::{Duration, Instant};

use anyhow::{anyhow, bail, Context, Result};
use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::header::{HeaderMap, HOST};
use hyper::{Method, StatusCode};
use hyper_util::rt::TokioIo;
use serde_json::Value;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::task::JoinHandle;

use crate::sse::{SseEvent, SseParser};

/// Bound on every single wait (connect, response head, next body chunk).
pub const TIMEOUT: Duration = Duration::from_secs(30);

/// `http://host:port/path?q` split into `host:port` and `/path?q`.
pub fn split_url(url: &str) -> Result<(String, String)> {
    let rest = url
        .strip_prefix("http://")
        .with_context(|| format!("not an http:// url: {url}"))?;
    Ok(match rest.find('/') {
        Some(slash) => (rest[..slash].to_owned(), rest[slash..].to_owned()),
        None => (rest.to_owned(), "/".to_owned()),
    })
}

async fn within<T>(
    what: &str,
    timeout: Duration,
    future: impl std::future::Future<Output = T>,
) -> Result<T> {
    tokio::time::timeout(timeout, future)
        .await
        .map_err(|_| anyhow!("{what}: no answer within {timeout:?}"))
}

/// A complete response.
#[derive(Debug, Clone)]
pub struct Response {
    /// Status code.
    pub status: StatusCode,
    /// Headers.
    pub headers: HeaderMap,
    /// The whole body.
    pub body: Bytes,
}

impl Response {
    /// The body parsed as JSON.
    pub fn json(&self) -> Result<Value> {
        serde_json::from_slice(&self.body).with_context(|| {
            format!(
                "body is not JSON (status {}): {}",
                self.status,
                String::from_utf8_lossy(&self.body)
            )
        })
    }

    /// The body as (lossy) text.
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    /// A header's value as text.
    pub fn header(&self, name: &str) -> Option<String> {
        header(&self.headers, name)
    }
}

fn header(headers: &HeaderMap, name: &str) -> Option<String> {
    headers
        .get(name)
        .map(|value| String::from_utf8_lossy(value.as_bytes()).into_owned())
}

/// A response whose body is read as it arrives.
#[derive(Debug)]
pub struct Streaming {
    /// Status code.
    pub status: StatusCode,
    /// Headers.
    pub headers: HeaderMap,
    /// When the request was sent; chunk and event times are measured from here.
    pub started: Instant,
    body: Incoming,
    connection: JoinHandle<()>,
    parser: SseParser,
    pending: std::collections::VecDeque<TimedEvent>,
    raw: Vec<u8>,
}

/// A body chunk with its arrival time (since the request was sent).
#[derive(Debug, Clone)]
pub struct Chunk {
    /// Arrival time.
    pub at: Duration,
    /// The bytes.
    pub bytes: Bytes,
}

/// A server-sent event with the arrival time of the chunk that completed it.
#[derive(Debug, Clone)]
pub struct TimedEvent {
    /// Arrival time (since the request was sent).
    pub at: Duration,
    /// The event.
    pub event: SseEvent,
}

/// What a stream read to its end produced.
#[derive(Debug, Clone)]
pub struct Finished {
    /// Every event, in order.
    pub events: Vec<TimedEvent>,
    /// Every body byte received.
    pub body: Vec<u8>,
    /// Why reading stopped early (connection reset, truncated chunked encoding, timeout), if it did.
    pub error: Option<String>,
    /// Whether bytes of an unterminated event were left over.
    pub partial_event: bool,
}

impl Finished {
    /// The events without their times.
    pub fn sse(&self) -> Vec<SseEvent> {
        self.events
            .iter()
            .map(|timed| timed.event.clone())
            .collect()
    }
}

impl Streaming {
    /// A header's value as text.
    pub fn header(&self, name: &str) -> Option<String> {
        header(&self.headers, name)
    }

    /// The next body chunk, `None` at the end of the body; waits at most `timeout`.
    pub async fn next_chunk_within(&mut self, timeout: Duration) -> Result<Option<Chunk>> {
        loop {
            let frame = within("next body chunk", timeout, self.body.frame()).await?;
            match frame {
                None => return Ok(None),
                Some(Err(error)) => return Err(anyhow!("body error: {error}")),
                Some(Ok(frame)) => {
                    if let Ok(bytes) = frame.into_data() {
                        self.raw.extend_from_slice(&bytes);
                        return Ok(Some(Chunk {
                            at: self.started.elapsed(),
                            bytes,
                        }));
                    }
                }
            }
        }
    }

    /// The next body chunk, waiting at most [`TIMEOUT`].
    pub async fn next_chunk(&mut self) -> Result<Option<Chunk>> {
        self.next_chunk_within(TIMEOUT).await
    }

    /// The next server-sent event, `None` at the end of the body.
    pub async fn next_event(&mut self) -> Result<Option<TimedEvent>> {
        loop {
            if let Some(event) = self.pending.pop_front() {
                return Ok(Some(event));
            }
            let Some(chunk) = self.next_chunk().await? else {
                return Ok(None);
            };
            for event in self.parser.push(&chunk.bytes) {
                self.pending.push_back(TimedEvent {
                    at: chunk.at,
                    event,
                });
            }
        }
    }

    /// Reads the rest of the stream. Read errors end the read and are reported in
    /// [`Finished::error`] rather than returned, so tests can look at what came before them.
    pub async fn finish(mut self) -> Finished {
        let mut events = Vec::new();
        let error = loop {
            match self.next_event().await {
                Ok(Some(event)) => events.push(event),
                Ok(None) => break None,
                Err(error) => break Some(format!("{error:#}")),
            }
        };
        Finished {
            events,
            body: std::mem::take(&mut self.raw),
            error,
            partial_event: self.parser.has_pending(),
        }
    }

    /// Drops the connection now (the peer sees the client go away).
    pub fn disconnect(self) {
        drop(self);
    }
}

impl Drop for Streaming {
    fn drop(&mut self) {
        self.connection.abort();
    }
}

/// Sends a request and returns once the response head has arrived.
pub async fn open(
    method: &str,
    url: &str,
    headers: &[(&str, &str)],
    body: impl Into<Bytes>,
) -> Result<Streaming> {
    let (authority, path) = split_url(url)?;
    let stream = within("connect", TIMEOUT, TcpStream::connect(&authority))
        .await?
        .with_context(|| format!("cannot connect to {authority}"))?;
    let (mut sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
        .await
        .context("http handshake")?;
    let connection = tokio::spawn(async move {
        // The connection's own error shows up as a body or send error on the request side.
        let _ = connection.await;
    });
    let mut request = hyper::Request::builder()
        .method(Method::from_bytes(method.as_bytes())?)
        .uri(&path)
        .header(HOST, &authority);
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    let request = request.body(Full::new(body.into()))?;
    let started = Instant::now();
    let response = match within("response head", TIMEOUT, sender.send_request(request)).await {
        Ok(Ok(response)) => response,
        Ok(Err(error)) => {
            connection.abort();
            bail!("{method} {url}: {error}");
        }
        Err(error) => {
            connection.abort();
            return Err(error.context(format!("{method} {url}")));
        }
    };
    let (parts, body) = response.into_parts();
    Ok(Streaming {
        status: parts.status,
        headers: parts.headers,
        started,
        body,
        connection,
        parser: SseParser::new(),
        pending: std::collections::VecDeque::new(),
        raw: Vec::new(),
    })
}

/// Sends a request and reads the whole response.
pub async fn request(
    method: &str,
    url: &str,
    headers: &[(&str, &str)],
    body: impl Into<Bytes>,
) -> Result<Response> {
    let mut streaming = open(method, url, headers, body).await?;
    let mut body = Vec::new();
    while let Some(chunk) = streaming.next_chunk().await? {
        body.extend_from_slice(&chunk.bytes);
    }
    Ok(Response {
        status: streaming.status,
        headers: std::mem::take(&mut streaming.headers),
        body: body.into(),
    })
}

/// `GET url`.
pub async fn get(url: &str) -> Result<Response> {
    request("GET", url, &[], Bytes::new()).await
}

fn with_json_type<'a>(headers: &[(&'a str, &'a str)]) -> Vec<(&'a str, &'a str)> {
    let mut all = vec![("content-type", "application/json")];
    all.extend_from_slice(headers);
    all
}

/// `POST url` with a JSON body, read to the end.
pub async fn post_json(url: &str, body: &Value, headers: &[(&str, &str)]) -> Result<Response> {
    request(
        "POST",
        url,
        &with_json_type(headers),
        serde_json::to_vec(body)?,
    )
    .await
}

/// `POST url` with a JSON body, returning once the head has arrived.
pub async fn open_json(url: &str, body: &Value, headers: &[(&str, &str)]) -> Result<Streaming> {
    open(
        "POST",
        url,
        &with_json_type(headers),
        serde_json::to_vec(body)?,
    )
    .await
}

/// Writes `head` and then `body_prefix` to a fresh connection to `authority` (the rest of the body
/// is never sent) and returns the status code and the response head, waiting at most `timeout`.
/// Write errors after the head are ignored: a server may close early on purpose.
pub async fn raw_head(
    authority: &str,
    head: &str,
    body_prefix: &[u8],
    timeout: Duration,
) -> Result<(u16, String)> {
    let mut stream = within("connect", timeout, TcpStream::connect(authority)).await??;
    stream.write_all(head.as_bytes()).await?;
    let _ = stream.write_all(body_prefix).await;
    let _ = stream.flush().await;
    let mut received = Vec::new();
    let read = async {
        let mut buf = [0_u8; 4096];
        loop {
            if let Some(end) = received.windows(4).position(|w| w == b"\r\n\r\n") {
                return Ok::<_, anyhow::Error>(
                    String::from_utf8_lossy(&received[..end]).into_owned(),
                );
            }
            let n = stream.read(&mut buf).await?;
            if n == 0 {
                bail!(
                    "connection closed before a response head: {:?}",
                    String::from_utf8_lossy(&received)
                );
            }
            received.extend_from_slice(&buf[..n]);
        }
    };
    let head = within("response head", timeout, read).await??;
    let status = head
        .split_whitespace()
        .nth(1)
        .and_then(|code| code.parse().ok())
        .with_context(|| format!("no status in {head:?}"))?;
    Ok((status, head))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_split_into_authority_and_path() {
        for (url, want) in [
            (
                "http://127.0.0.1:80/v1/messages?beta=true",
                Some(("127.0.0.1:80", "/v1/messages?beta=true")),
            ),
            ("http://127.0.0.1:80", Some(("127.0.0.1:80", "/"))),
            ("https://x/y", None),
        ] {
            let got = split_url(url).ok();
            assert_eq!(
                got,
                want.map(|(a, p)| (a.to_owned(), p.to_owned())),
                "{url}"
            );
        }
    }
}
