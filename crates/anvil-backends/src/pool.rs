//! The HTTP/1.1 connection pool of a plain-`http` tier (a local model server).
//!
//! hyper-util's pooled client does, per request, what a tier with one fixed authority does not
//! need: it hashes the request's scheme and authority to find the pool (SipHash, twice), races the
//! checkout against a lazily built connect future, rewrites the URI to origin form, and spawns a
//! task per response that waits for the connection to be idle again before putting it back. Here a
//! tier owns its pool: a checkout pops the most recently used connection, and a connection goes back
//! when its response body has been read to the end, from the task that read it. `https` tiers keep
//! the pooled client (TLS). New connections are dialed by hyper-util's `HttpConnector` (the name
//! resolved, IPv6 and IPv4 raced, the connect timeout split between addresses).
//!
//! A pooled connection the server has closed meanwhile is noticed at checkout (its sender reports
//! closed) or when the request cannot be written; a request that never left is sent again on a new
//! connection. A request written on a *reused* connection that then closes before any answer (the
//! keep-alive race: the server timed the idle connection out as the request went out) is sent
//! once more, on a new connection, when the pool may replay requests: a local model server's pool
//! may, since a repeat costs only compute; a metered tier's may not, since it could be billed
//! twice. A new connection that closes without an answer is the upstream's failure, not a race.
//!
//! A connection idle for longer than [`IDLE_TIMEOUT`] is closed at the next checkout, and at most
//! [`MAX_IDLE`] idle connections are kept. No task sweeps the idle list in between: a
//! tier that is not called again keeps its idle connections until the server closes them.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use http::{Request, Response};
use http_body_util::Full;
use hyper::body::Incoming;
use hyper::client::conn::http1::{self, SendRequest};
use hyper_util::client::legacy::connect::HttpConnector;
use tokio::time::Instant;
use tower_service::Service;

/// How long an idle connection is kept (hyper-util's pooled client's default).
pub(crate) const IDLE_TIMEOUT: Duration = Duration::from_secs(90);

/// The most idle connections kept per tier.
pub(crate) const MAX_IDLE: usize = 64;

/// How long a checkout waits for a pooled connection to become ready. One that went back at its
/// body's end is ready as soon as its task has run (microseconds); one whose server answered
/// early without reading the whole request never is, and is closed instead.
const READY_WAIT: Duration = Duration::from_millis(50);

type Sender = SendRequest<Full<Bytes>>;

/// Why a pooled request failed.
#[derive(Debug)]
pub(crate) enum PoolError {
    /// No connection could be opened.
    Connect(String),
    /// The request was written (or may have been) and the connection failed before an answer.
    Reset(String),
}

/// One tier's connections.
#[derive(Clone)]
pub(crate) struct Http1Pool {
    inner: Arc<Inner>,
}

struct Inner {
    /// `http://host:port`, what the connector dials.
    authority: http::Uri,
    /// Resolves the name and dials each address in turn (IPv6 and IPv4 raced, the connect
    /// timeout split between them), `TCP_NODELAY`.
    connector: HttpConnector,
    idle: Mutex<Vec<Idle>>,
    /// Whether a request a reused connection lost may be sent again (see the module docs).
    replay: bool,
}

struct Idle {
    sender: Sender,
    since: Instant,
}

/// A connection in use: it goes back to its pool with [`Lease::release`] once the response body
/// has been read to the end. Dropped otherwise, and the connection closes with its body.
pub(crate) struct Lease {
    sender: Sender,
    pool: Arc<Inner>,
}

impl std::fmt::Debug for Lease {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Lease")
            .field("authority", &self.pool.authority)
            .finish()
    }
}

impl Lease {
    /// Puts the connection back: its response has been read to the end.
    pub(crate) fn release(self) {
        if self.sender.is_closed() {
            return;
        }
        let mut idle = self.pool.idle.lock().unwrap_or_else(|e| e.into_inner());
        if idle.len() >= MAX_IDLE {
            idle.remove(0);
        }
        idle.push(Idle {
            sender: self.sender,
            since: Instant::now(),
        });
    }
}

impl Http1Pool {
    /// A pool for the `http` endpoint `uri` (only its authority is used); `replay`: whether a
    /// request a reused connection lost before any answer is sent again on a new one.
    pub(crate) fn new(uri: &http::Uri, connect_timeout: Duration, replay: bool) -> Self {
        let mut connector = HttpConnector::new();
        connector.set_nodelay(true);
        connector.set_connect_timeout(Some(connect_timeout));
        let mut parts = http::uri::Parts::default();
        parts.scheme = Some(http::uri::Scheme::HTTP);
        parts.authority = uri.authority().cloned();
        parts.path_and_query = Some(http::uri::PathAndQuery::from_static("/"));
        let authority = http::Uri::from_parts(parts).unwrap_or_else(|_| uri.clone());
        Self {
            inner: Arc::new(Inner {
                authority,
                connector,
                idle: Mutex::new(Vec::new()),
                replay,
            }),
        }
    }

    /// Sends the request `build` makes on an idle connection or a new one. HTTP/1.1 writes its URI
    /// in origin form (path and query), the authority going in the `Host` header the caller set.
    /// `build` runs once, and again only to replay a request a reused connection lost.
    pub(crate) async fn send(
        &self,
        build: impl Fn() -> Request<Full<Bytes>>,
    ) -> Result<(Response<Incoming>, Lease), PoolError> {
        let origin_form = |mut request: Request<Full<Bytes>>| {
            if request.uri().scheme().is_some() {
                let origin = request
                    .uri()
                    .path_and_query()
                    .cloned()
                    .map_or_else(|| http::Uri::from_static("/"), http::Uri::from);
                *request.uri_mut() = origin;
            }
            request
        };
        let mut request = origin_form(build());
        let mut replaying = false;
        loop {
            // a replay goes out on a new connection
            let idle = if replaying { None } else { self.checkout() };
            let (mut sender, pooled) = match idle {
                Some(sender) => (sender, true),
                None => (self.connect().await?, false),
            };
            if pooled {
                // a connection that is not ready in time, or closed, is dropped (closing it)
                match tokio::time::timeout(READY_WAIT, sender.ready()).await {
                    Ok(Ok(())) => {}
                    Ok(Err(_)) | Err(_) => continue,
                }
            } else if let Err(e) = sender.ready().await {
                return Err(PoolError::Connect(crate::error_chain(&e)));
            }
            match sender.try_send_request(request).await {
                Ok(response) => {
                    return Ok((
                        response,
                        Lease {
                            sender,
                            pool: Arc::clone(&self.inner),
                        },
                    ))
                }
                Err(mut e) => match e.take_message() {
                    // never written: the server had closed the idle connection
                    Some(unsent) if pooled => request = unsent,
                    // written on a reused connection that closed before answering: the
                    // keep-alive race, once
                    _ if pooled && self.inner.replay && lost(e.error()) => {
                        replaying = true;
                        request = origin_form(build());
                    }
                    _ => return Err(PoolError::Reset(crate::error_chain(e.error()))),
                },
            }
        }
    }

    /// The most recently used idle connection that is still open and not expired.
    fn checkout(&self) -> Option<Sender> {
        let mut idle = self.inner.idle.lock().unwrap_or_else(|e| e.into_inner());
        while let Some(entry) = idle.pop() {
            if entry.sender.is_closed() {
                continue;
            }
            if entry.since.elapsed() > IDLE_TIMEOUT {
                // the rest are older still
                idle.clear();
                return None;
            }
            return Some(entry.sender);
        }
        None
    }

    async fn connect(&self) -> Result<Sender, PoolError> {
        let mut connector = self.inner.connector.clone();
        let stream = connector
            .call(self.inner.authority.clone())
            .await
            .map_err(|e| PoolError::Connect(crate::error_chain(&e)))?;
        let (sender, connection) = http1::Builder::new()
            .handshake(stream)
            .await
            .map_err(|e| PoolError::Connect(crate::error_chain(&e)))?;
        tokio::spawn(async move {
            // its errors reach the request through the sender
            let _ = connection.await;
        });
        Ok(sender)
    }
}

/// Whether a request failed because its connection went away before an answer (closed, reset, or
/// an answer cut off), rather than because the server answered something hyper cannot read.
fn lost(error: &hyper::Error) -> bool {
    if error.is_incomplete_message() || error.is_canceled() || error.is_closed() {
        return true;
    }
    let mut source = std::error::Error::source(error);
    while let Some(inner) = source {
        if inner.is::<std::io::Error>() {
            return true;
        }
        source = inner.source();
    }
    false
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicUsize, Ordering};

    use anvil_config::{Dialect as ConfigDialect, Privacy, Timeouts};
    use http::HeaderMap;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    use tokio::net::{TcpListener, TcpStream};

    use super::*;
    use crate::{Upstream, UpstreamError};

    /// How the test server treats a connection after answering a request on it.
    #[derive(Clone, Copy)]
    enum After {
        /// Keep it open for the next request.
        KeepAlive,
        /// Close it, without saying so in the answer (a server's keep-alive timeout).
        CloseSilently,
        /// Answer with `connection: close`, then close it.
        SayClose,
    }

    /// A real-TCP upstream answering every request `200 {"n":<request number>}`; the count of
    /// connections it accepted.
    async fn server(after: After) -> (String, Arc<AtomicUsize>) {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}/v1/", listener.local_addr().unwrap());
        let accepted = Arc::new(AtomicUsize::new(0));
        let served = Arc::new(AtomicUsize::new(0));
        let count = Arc::clone(&accepted);
        tokio::spawn(async move {
            loop {
                let (mut socket, _) = listener.accept().await.unwrap();
                count.fetch_add(1, Ordering::SeqCst);
                let served = Arc::clone(&served);
                tokio::spawn(async move {
                    let mut buffer = Vec::new();
                    while read_request(&mut socket, &mut buffer).await {
                        let n = served.fetch_add(1, Ordering::SeqCst) + 1;
                        let body = format!("{{\"n\":{n}}}");
                        let close = if matches!(after, After::SayClose) {
                            "connection: close\r\n"
                        } else {
                            ""
                        };
                        let answer = format!(
                            "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\n{close}content-length: {}\r\n\r\n{body}",
                            body.len()
                        );
                        if socket.write_all(answer.as_bytes()).await.is_err() {
                            return;
                        }
                        if !matches!(after, After::KeepAlive) {
                            return;
                        }
                    }
                });
            }
        });
        (url, accepted)
    }

    /// Reads one request (head and `content-length` body) off `socket`; false at its end.
    async fn read_request(socket: &mut TcpStream, buffer: &mut Vec<u8>) -> bool {
        loop {
            if let Some(end) = buffer.windows(4).position(|w| w == b"\r\n\r\n") {
                let head = String::from_utf8_lossy(&buffer[..end]).to_ascii_lowercase();
                let length = head
                    .lines()
                    .find_map(|line| line.strip_prefix("content-length:"))
                    .map_or(0, |v| v.trim().parse::<usize>().unwrap());
                if buffer.len() >= end + 4 + length {
                    buffer.drain(..end + 4 + length);
                    return true;
                }
            }
            let mut chunk = [0u8; 4096];
            match socket.read(&mut chunk).await {
                Ok(0) | Err(_) => return false,
                Ok(n) => buffer.extend_from_slice(&chunk[..n]),
            }
        }
    }

    fn upstream(url: &str) -> Upstream {
        let mut tier = crate::tests::tier(ConfigDialect::OpenAi, Privacy::Local, None);
        tier.base_url = url.into();
        Upstream::bind(&tier, Timeouts::default(), &|_| None).unwrap()
    }

    async fn ask(upstream: &Upstream) -> Result<String, UpstreamError> {
        let response = upstream
            .send(Bytes::from_static(b"{}"), &HeaderMap::new())
            .await?;
        let body = response.body.collect(1024).await?;
        Ok(String::from_utf8(body.to_vec()).unwrap())
    }

    #[tokio::test]
    async fn requests_one_after_another_share_one_connection() {
        let (url, accepted) = server(After::KeepAlive).await;
        let upstream = upstream(&url);
        assert!(matches!(upstream.transport, crate::Transport::Http1(_)));
        for n in 1..=3 {
            assert_eq!(ask(&upstream).await.unwrap(), format!("{{\"n\":{n}}}"));
        }
        assert_eq!(accepted.load(Ordering::SeqCst), 1);
    }

    #[tokio::test]
    async fn a_connection_the_server_closed_while_idle_is_replaced() {
        let (url, accepted) = server(After::CloseSilently).await;
        let upstream = upstream(&url);
        // each connection closes right after its answer: the client sees the close before the next
        // checkout, which then skips it
        for n in 1..=5 {
            assert_eq!(ask(&upstream).await.unwrap(), format!("{{\"n\":{n}}}"));
        }
        assert_eq!(accepted.load(Ordering::SeqCst), 5);
    }

    /// Answers one request on `socket` with `{"n":n}` and keeps the connection open.
    async fn answer(socket: &mut TcpStream, n: usize) {
        let mut buffer = Vec::new();
        assert!(read_request(socket, &mut buffer).await);
        let body = format!("{{\"n\":{n}}}");
        let answer = format!(
            "HTTP/1.1 200 OK\r\ncontent-length: {}\r\n\r\n{body}",
            body.len()
        );
        socket.write_all(answer.as_bytes()).await.unwrap();
    }

    /// Waits until the connection of `upstream`'s one answer so far is back in its pool and its
    /// task has gone idle (the pooled sender is ready for the next request); returns the pool.
    async fn idle_and_ready(upstream: &Upstream) -> &Http1Pool {
        let crate::Transport::Http1(pool) = &upstream.transport else {
            unreachable!()
        };
        within(async {
            while !pool.inner.idle.lock().unwrap()[0].sender.is_ready() {
                tokio::task::yield_now().await;
            }
        })
        .await;
        pool
    }

    /// The test is the server: it answers on one connection, closes it while it is idle in the
    /// pool, and answers the next request on a second. (A close that lands between the checkout
    /// and the write, which `try_send_request` hands back unsent, cannot be timed from a test.)
    #[tokio::test]
    async fn a_pooled_connection_the_server_closed_is_replaced() {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let upstream = upstream(&format!("http://{}/v1/", listener.local_addr().unwrap()));
        let serve_first = async {
            let (mut socket, _) = listener.accept().await.unwrap();
            answer(&mut socket, 1).await;
            socket
        };
        let (first, socket) = tokio::join!(ask(&upstream), serve_first);
        assert_eq!(first.unwrap(), "{\"n\":1}");
        let pool = idle_and_ready(&upstream).await;
        drop(socket);
        within(async {
            while !pool.inner.idle.lock().unwrap()[0].sender.is_closed() {
                tokio::task::yield_now().await;
            }
        })
        .await;
        let serve_second = tokio::spawn(async move {
            let (mut socket, _) = listener.accept().await.unwrap();
            answer(&mut socket, 2).await;
            socket
        });
        assert_eq!(ask(&upstream).await.unwrap(), "{\"n\":2}");
        drop(serve_second.await.unwrap());
    }

    /// The keep-alive race, played by the test as the server: it answers a first request, reads
    /// the second on the same connection and closes it without an answer; any later connection
    /// gets `{"n":2}`. Returns the upstream's answer to the second request: `{"n":2}` only when it
    /// was sent again on a new connection.
    async fn second_request_lost_on_its_connection(
        upstream: &Upstream,
        listener: TcpListener,
    ) -> Result<String, UpstreamError> {
        tokio::spawn(async move {
            let (mut first, _) = listener.accept().await.unwrap();
            answer(&mut first, 1).await;
            let mut buffer = Vec::new();
            assert!(read_request(&mut first, &mut buffer).await);
            drop(first);
            let mut open = Vec::new();
            loop {
                let (mut later, _) = listener.accept().await.unwrap();
                answer(&mut later, 2).await;
                open.push(later);
            }
        });
        assert_eq!(ask(upstream).await.unwrap(), "{\"n\":1}");
        // the second request reuses the first connection
        idle_and_ready(upstream).await;
        within(ask(upstream)).await
    }

    #[tokio::test]
    async fn a_request_a_reused_local_connection_lost_is_sent_again_on_a_new_one() {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let upstream = upstream(&format!("http://{}/v1/", listener.local_addr().unwrap()));
        let second = second_request_lost_on_its_connection(&upstream, listener).await;
        assert_eq!(second.unwrap(), "{\"n\":2}");
    }

    #[tokio::test]
    async fn a_metered_tier_does_not_replay_a_lost_request() {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let mut tier = crate::tests::tier(ConfigDialect::OpenAi, Privacy::Cloud, Some("KEY"));
        tier.base_url = format!("http://{}/v1/", listener.local_addr().unwrap());
        let upstream = Upstream::bind(&tier, Timeouts::default(), &|name| {
            (name == "KEY").then(|| "sk-test".to_owned())
        })
        .unwrap();
        // a replay would have been answered
        let error = second_request_lost_on_its_connection(&upstream, listener)
            .await
            .unwrap_err();
        assert!(matches!(error, UpstreamError::Reset(_)), "{error}");
    }

    #[tokio::test]
    async fn an_answer_that_says_connection_close_does_not_return_its_connection() {
        let (url, accepted) = server(After::SayClose).await;
        let upstream = upstream(&url);
        for n in 1..=3 {
            assert_eq!(ask(&upstream).await.unwrap(), format!("{{\"n\":{n}}}"));
        }
        assert_eq!(accepted.load(Ordering::SeqCst), 3);
        let crate::Transport::Http1(pool) = &upstream.transport else {
            unreachable!()
        };
        assert!(pool.checkout().is_none());
    }

    /// Fails the test instead of hanging it when `work` never finishes.
    async fn within<T>(work: impl std::future::Future<Output = T>) -> T {
        tokio::time::timeout(Duration::from_secs(10), work)
            .await
            .expect("did not happen within 10 s")
    }

    #[tokio::test]
    async fn a_body_dropped_before_its_end_closes_its_connection() {
        // how a client's disconnect stops the model: the server sees its connection close
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let upstream = upstream(&format!("http://{}/v1/", listener.local_addr().unwrap()));
        let (closed_tx, closed_rx) = tokio::sync::oneshot::channel();
        tokio::spawn(async move {
            let (mut socket, _) = listener.accept().await.unwrap();
            let mut buffer = Vec::new();
            read_request(&mut socket, &mut buffer).await;
            let head = "HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\ntransfer-encoding: chunked\r\n\r\n";
            socket.write_all(head.as_bytes()).await.unwrap();
            socket.write_all(b"9\r\ndata: 1\n\n\r\n").await.unwrap();
            // the stream goes on; the server learns of the client's leaving from its socket
            let mut rest = [0u8; 64];
            let read = socket.read(&mut rest).await;
            let _ = closed_tx.send(matches!(read, Ok(0) | Err(_)));
        });
        let response = upstream
            .send(Bytes::from_static(b"{}"), &HeaderMap::new())
            .await
            .unwrap();
        let mut body = response.body;
        assert_eq!(body.next_chunk().await.unwrap().unwrap(), "data: 1\n\n");
        drop(body);
        assert!(
            within(closed_rx).await.unwrap(),
            "the server saw more bytes"
        );
        let crate::Transport::Http1(pool) = &upstream.transport else {
            unreachable!()
        };
        assert!(pool.inner.idle.lock().unwrap().is_empty());
    }

    #[tokio::test]
    async fn a_connection_that_never_becomes_ready_again_is_replaced() {
        // The server answers the first request without reading its body and keeps the
        // connection: the client is still writing that body, so the connection is never idle.
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let upstream = upstream(&format!("http://{}/v1/", listener.local_addr().unwrap()));
        tokio::spawn(async move {
            let (mut first, _) = listener.accept().await.unwrap();
            let mut head = [0u8; 1024];
            let _ = first.read(&mut head).await.unwrap();
            first
                .write_all(b"HTTP/1.1 200 OK\r\ncontent-length: 7\r\n\r\n{\"n\":1}")
                .await
                .unwrap();
            let (mut second, _) = listener.accept().await.unwrap();
            answer(&mut second, 2).await;
            std::future::pending::<()>().await;
            drop(first);
        });
        let large = Bytes::from(vec![b' '; 32 * 1024 * 1024]);
        let response = within(upstream.send(large, &HeaderMap::new()))
            .await
            .unwrap();
        assert_eq!(response.body.collect(1024).await.unwrap(), "{\"n\":1}");
        assert_eq!(within(ask(&upstream)).await.unwrap(), "{\"n\":2}");
    }

    #[tokio::test]
    async fn a_connection_idle_past_the_timeout_is_closed_at_checkout() {
        let (url, accepted) = server(After::KeepAlive).await;
        let upstream = upstream(&url);
        assert_eq!(ask(&upstream).await.unwrap(), "{\"n\":1}");
        let crate::Transport::Http1(pool) = &upstream.transport else {
            unreachable!()
        };
        let long_ago = Instant::now()
            .checked_sub(IDLE_TIMEOUT + Duration::from_secs(1))
            .unwrap();
        pool.inner.idle.lock().unwrap()[0].since = long_ago;
        assert!(pool.checkout().is_none());
        assert!(pool.inner.idle.lock().unwrap().is_empty());
        assert_eq!(ask(&upstream).await.unwrap(), "{\"n\":2}");
        assert_eq!(accepted.load(Ordering::SeqCst), 2);
    }

    #[tokio::test]
    async fn a_refused_connection_is_a_connect_failure() {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}/v1/", listener.local_addr().unwrap());
        drop(listener);
        let error = ask(&upstream(&url)).await.unwrap_err();
        assert!(matches!(error, UpstreamError::Connect(_)), "{error}");
        assert!(error.may_fall_back());
    }

    #[tokio::test]
    async fn a_connection_closed_without_an_answer_is_a_reset() {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}/v1/", listener.local_addr().unwrap());
        tokio::spawn(async move {
            let (mut socket, _) = listener.accept().await.unwrap();
            let mut buffer = Vec::new();
            read_request(&mut socket, &mut buffer).await;
        });
        let error = ask(&upstream(&url)).await.unwrap_err();
        assert!(matches!(error, UpstreamError::Reset(_)), "{error}");
    }

    #[tokio::test]
    async fn at_most_max_idle_connections_are_kept() {
        let (url, accepted) = server(After::KeepAlive).await;
        let upstream = upstream(&url);
        // one more answer open at once than the pool keeps: each on a connection of its own
        let mut open = Vec::new();
        for _ in 0..=MAX_IDLE {
            let response = upstream
                .send(Bytes::from_static(b"{}"), &HeaderMap::new())
                .await
                .unwrap();
            open.push(response);
        }
        for response in open {
            response.body.collect(1024).await.unwrap();
        }
        assert_eq!(accepted.load(Ordering::SeqCst), MAX_IDLE + 1);
        let crate::Transport::Http1(pool) = &upstream.transport else {
            unreachable!()
        };
        assert_eq!(pool.inner.idle.lock().unwrap().len(), MAX_IDLE);
        // and they serve what comes next without a new connection
        ask(&upstream).await.unwrap();
        assert_eq!(accepted.load(Ordering::SeqCst), MAX_IDLE + 1);
    }
}
