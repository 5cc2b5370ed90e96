//! The load generator: HTTP/1.1 keep-alive connections (one request at a time on each), driven
//! sequentially, closed-loop or open-loop at a fixed rate, with every latency recorded in an HDR
//! histogram (nanoseconds, 3 significant digits).

use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use anyhow::{bail, Context, Result};
use bytes::Bytes;
use hdrhistogram::Histogram;
use http::header::{HeaderName, HeaderValue, CONTENT_TYPE, HOST};
use http::Request;
use http_body_util::{BodyExt, Full};
use hyper::client::conn::http1::SendRequest;
use hyper_util::rt::TokioIo;
use tokio::net::TcpStream;
use tokio::time::Instant;

/// Largest latency the histograms hold (longer ones are clamped to it).
const MAX_NS: u64 = 120_000_000_000;

/// One request, sent identically to every target.
#[derive(Debug, Clone)]
pub struct RequestSpec {
    /// Path and query, e.g. `/v1/messages`.
    pub path: String,
    /// Extra headers (`content-type: application/json` is always sent).
    pub headers: Vec<(HeaderName, HeaderValue)>,
    /// The JSON body.
    pub body: Bytes,
    /// The answer is an SSE stream: count its events and time them.
    pub stream: bool,
}

/// Where requests go.
#[derive(Debug, Clone)]
pub struct Target {
    /// `direct`, `floor` or `anvil`.
    pub name: &'static str,
    /// Its address.
    pub addr: SocketAddr,
}

impl Target {
    /// A target from `http://HOST:PORT`.
    pub fn parse(name: &'static str, url: &str) -> Result<Self> {
        let rest = url
            .strip_prefix("http://")
            .with_context(|| format!("{name}: expected http://HOST:PORT, got {url}"))?;
        let addr = rest
            .trim_end_matches('/')
            .parse()
            .with_context(|| format!("{name}: expected http://HOST:PORT, got {url}"))?;
        Ok(Self { name, addr })
    }
}

/// What one run recorded.
#[derive(Debug, Clone)]
pub struct Recorder {
    /// Whole request: send to the last body byte (open loop: from the scheduled send time).
    pub latency: Histogram<u64>,
    /// Send to the first body byte.
    pub ttfb: Histogram<u64>,
    /// Streams: the time between one SSE event and the next (events read together count 0).
    pub gaps: Histogram<u64>,
    /// Streams: per stream, (last event − first event) / (events − 1).
    pub per_chunk: Histogram<u64>,
    /// Requests answered 2xx with a complete body.
    pub ok: u64,
    /// Requests that failed (status, transport, or a stream without its end).
    pub failed: u64,
    /// The first failure, for the report.
    pub first_error: Option<String>,
    /// The fewest SSE events seen in one answer (streams).
    pub min_events: Option<u64>,
    /// Values of `x-anvil-decision` seen (anvil only), with counts.
    pub decisions: std::collections::BTreeMap<String, u64>,
    /// Wall time of the run.
    pub elapsed: Duration,
}

#[allow(
    clippy::expect_used,
    reason = "constant bounds: 1 ns ..= 120 s at 3 significant digits is always a valid histogram"
)]
fn histogram() -> Histogram<u64> {
    Histogram::new_with_bounds(1, MAX_NS, 3).expect("valid constant histogram bounds")
}

impl Default for Recorder {
    fn default() -> Self {
        Self {
            latency: histogram(),
            ttfb: histogram(),
            gaps: histogram(),
            per_chunk: histogram(),
            ok: 0,
            failed: 0,
            first_error: None,
            min_events: None,
            decisions: std::collections::BTreeMap::new(),
            elapsed: Duration::ZERO,
        }
    }
}

fn record(histogram: &mut Histogram<u64>, value: Duration) {
    let ns = u64::try_from(value.as_nanos())
        .unwrap_or(MAX_NS)
        .min(MAX_NS);
    histogram.saturating_record(ns);
}

impl Recorder {
    /// Adds `other`'s samples (the wall time is the longer one).
    pub fn merge(&mut self, other: &Recorder) {
        let _ = self.latency.add(&other.latency);
        let _ = self.ttfb.add(&other.ttfb);
        let _ = self.gaps.add(&other.gaps);
        let _ = self.per_chunk.add(&other.per_chunk);
        self.ok += other.ok;
        self.failed += other.failed;
        if self.first_error.is_none() {
            self.first_error.clone_from(&other.first_error);
        }
        self.min_events = match (self.min_events, other.min_events) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        };
        for (decision, n) in &other.decisions {
            *self.decisions.entry(decision.clone()).or_default() += n;
        }
        self.elapsed = self.elapsed.max(other.elapsed);
    }

    fn fail(&mut self, error: String) {
        self.failed += 1;
        if self.first_error.is_none() {
            self.first_error = Some(error);
        }
    }
}

/// One keep-alive HTTP/1.1 connection.
pub struct Conn {
    sender: SendRequest<Full<Bytes>>,
    host: HeaderValue,
}

impl Conn {
    /// Connects (with `TCP_NODELAY`) and spawns the connection's driver.
    pub async fn open(addr: SocketAddr) -> Result<Self> {
        let stream = TcpStream::connect(addr)
            .await
            .with_context(|| format!("cannot connect to {addr}"))?;
        stream.set_nodelay(true)?;
        let (sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
            .await
            .with_context(|| format!("HTTP handshake with {addr} failed"))?;
        tokio::spawn(async move {
            let _ = connection.await;
        });
        let host = HeaderValue::from_str(&addr.to_string())?;
        Ok(Self { sender, host })
    }

    /// Sends `spec` once and records it, timing from `start`. A broken connection is an error
    /// (the caller reconnects); an error answer is a recorded failure.
    pub async fn send(
        &mut self,
        spec: &RequestSpec,
        start: Instant,
        recorder: &mut Recorder,
        open: Option<&OpenStreams>,
    ) -> Result<()> {
        let mut builder = Request::post(spec.path.as_str())
            .header(HOST, self.host.clone())
            .header(CONTENT_TYPE, HeaderValue::from_static("application/json"));
        for (name, value) in &spec.headers {
            builder = builder.header(name, value);
        }
        let request = builder.body(Full::new(spec.body.clone()))?;
        if let Err(e) = self.sender.ready().await {
            recorder.fail(format!("connection closed: {e}"));
            bail!("connection closed: {e}");
        }
        let response = match self.sender.send_request(request).await {
            Ok(response) => response,
            Err(e) => {
                recorder.fail(format!("request failed: {e}"));
                bail!("request failed: {e}");
            }
        };
        let _guard = open.map(OpenStreams::enter);
        let status = response.status();
        if let Some(decision) = response
            .headers()
            .get("x-anvil-decision")
            .and_then(|v| v.to_str().ok())
        {
            *recorder.decisions.entry(decision.to_owned()).or_default() += 1;
        }
        let mut body = response.into_body();
        let mut first: Option<Instant> = None;
        let mut events = 0u64;
        let mut first_event: Option<Instant> = None;
        let mut last_event: Option<Instant> = None;
        let mut previous_byte = 0u8;
        let mut tail: Vec<u8> = Vec::new();
        while let Some(frame) = body.frame().await {
            let frame = match frame {
                Ok(frame) => frame,
                Err(e) => {
                    recorder.fail(format!("body failed: {e}"));
                    bail!("body failed: {e}");
                }
            };
            let Some(data) = frame.data_ref() else {
                continue;
            };
            if data.is_empty() {
                continue;
            }
            let now = Instant::now();
            first.get_or_insert(now);
            if !status.is_success() && tail.len() < 300 {
                tail.extend_from_slice(&data[..data.len().min(300)]);
            }
            if spec.stream {
                let n = count_event_ends(previous_byte, data);
                previous_byte = data[data.len() - 1];
                if n > 0 {
                    if let Some(last) = last_event {
                        record(&mut recorder.gaps, now - last);
                        for _ in 1..n {
                            recorder.gaps.saturating_record(0);
                        }
                    }
                    first_event.get_or_insert(now);
                    last_event = Some(now);
                    events += n;
                }
                keep_tail(&mut tail, data);
            }
        }
        let end = Instant::now();
        if !status.is_success() {
            recorder.fail(format!(
                "status {status}: {}",
                String::from_utf8_lossy(&tail).trim()
            ));
            return Ok(());
        }
        if spec.stream {
            if !ends_stream(&tail) {
                recorder.fail(format!(
                    "stream ended without its final event after {events} events"
                ));
                return Ok(());
            }
            recorder.min_events = Some(recorder.min_events.map_or(events, |m| m.min(events)));
            if let (Some(a), Some(b)) = (first_event, last_event) {
                if events > 1 {
                    record(&mut recorder.per_chunk, (b - a) / (events - 1) as u32);
                }
            }
        }
        record(&mut recorder.latency, end - start);
        record(&mut recorder.ttfb, first.unwrap_or(end) - start);
        recorder.ok += 1;
        Ok(())
    }
}

/// `GET path` on a fresh connection; the answer's body as text (an error for a non-2xx status).
pub async fn get(addr: SocketAddr, path: &str) -> Result<String> {
    let Conn { mut sender, host } = Conn::open(addr).await?;
    let request = Request::get(path)
        .header(HOST, host)
        .body(Full::new(Bytes::new()))?;
    let response = sender
        .send_request(request)
        .await
        .with_context(|| format!("GET {path} on {addr} failed"))?;
    let status = response.status();
    let body = response.into_body().collect().await?.to_bytes();
    let text = String::from_utf8_lossy(&body).into_owned();
    if !status.is_success() {
        bail!("GET {path} on {addr}: status {status}: {text}");
    }
    Ok(text)
}

/// How many SSE events end in `data` (`\n\n` pairs, one may straddle the previous frame).
fn count_event_ends(previous: u8, data: &[u8]) -> u64 {
    let mut n = 0;
    let mut last = previous;
    for &byte in data {
        if byte == b'\n' && last == b'\n' {
            n += 1;
            last = 0;
        } else {
            last = byte;
        }
    }
    n
}

/// Keeps the last 256 bytes of a stream in `tail`.
fn keep_tail(tail: &mut Vec<u8>, data: &[u8]) {
    tail.extend_from_slice(&data[data.len().saturating_sub(256)..]);
    if tail.len() > 256 {
        tail.drain(..tail.len() - 256);
    }
}

/// Whether a stream's tail holds its final event in any of the three dialects.
fn ends_stream(tail: &[u8]) -> bool {
    let text = String::from_utf8_lossy(tail);
    ["message_stop", "[DONE]", "response.completed"]
        .iter()
        .any(|end| text.contains(end))
}

/// Counts streams whose headers arrived and whose body is not finished, and the most at once.
#[derive(Debug, Default)]
pub struct OpenStreams {
    now: AtomicUsize,
    peak: AtomicUsize,
}

/// Decrements the open count when dropped.
pub struct OpenGuard<'a>(&'a OpenStreams);

impl OpenStreams {
    fn enter(&self) -> OpenGuard<'_> {
        let now = self.now.fetch_add(1, Ordering::SeqCst) + 1;
        self.peak.fetch_max(now, Ordering::SeqCst);
        OpenGuard(self)
    }

    /// The most streams open at once.
    pub fn peak(&self) -> usize {
        self.peak.load(Ordering::SeqCst)
    }
}

impl Drop for OpenGuard<'_> {
    fn drop(&mut self) {
        self.0.now.fetch_sub(1, Ordering::SeqCst);
    }
}

/// How requests are issued.
#[derive(Debug, Clone, Copy)]
pub enum Mode {
    /// One connection, `n` requests back to back (concurrency 1).
    Sequential {
        /// Requests.
        n: u64,
    },
    /// `connections` connections, each sending back to back, `n` requests in all.
    Closed {
        /// Connections (the concurrency).
        connections: usize,
        /// Requests in all.
        n: u64,
    },
    /// Open loop: `rate` requests per second for `duration`, spread over `connections`
    /// connections (request k of the run goes to connection k mod `connections`); a latency counts
    /// from the scheduled send time when the connection was still busy then (no coordinated
    /// omission), else from the actual send time (the client's timer resolution is not charged).
    Rate {
        /// Requests per second.
        rate: u64,
        /// Run length.
        duration: Duration,
        /// Connections.
        connections: usize,
    },
    /// `n` connections each send one request at the same time (streams held open together).
    Burst {
        /// Connections and requests.
        n: usize,
    },
}

/// Per worker, the send times of its requests (`None`: as soon as the previous one is done).
type Schedule = dyn Fn(usize) -> Vec<Option<Instant>>;

/// Runs `mode` against `target` and returns what it recorded.
pub async fn run(target: &Target, spec: &Arc<RequestSpec>, mode: Mode) -> Result<Recorder> {
    run_with(target, spec, mode, None).await
}

/// [`run`], counting open streams in `open`.
pub async fn run_with(
    target: &Target,
    spec: &Arc<RequestSpec>,
    mode: Mode,
    open: Option<Arc<OpenStreams>>,
) -> Result<Recorder> {
    let started = Instant::now();
    let (workers, per_worker): (usize, Box<Schedule>) = match mode {
        Mode::Sequential { n } => (1, Box::new(move |_| vec![None; n as usize])),
        Mode::Closed { connections, n } => {
            let connections = connections.max(1);
            (
                connections,
                Box::new(move |w| {
                    let share =
                        n as usize / connections + usize::from(w < n as usize % connections);
                    vec![None; share]
                }),
            )
        }
        Mode::Rate {
            rate,
            duration,
            connections,
        } => {
            let connections = connections.max(1);
            let total = (rate as f64 * duration.as_secs_f64()) as usize;
            let interval = Duration::from_secs_f64(1.0 / rate.max(1) as f64);
            let begin = started + Duration::from_millis(20);
            (
                connections,
                Box::new(move |w| {
                    (w..total)
                        .step_by(connections)
                        .map(|k| Some(begin + interval * k as u32))
                        .collect()
                }),
            )
        }
        Mode::Burst { n } => (n, Box::new(|_| vec![None])),
    };
    // Connect everything first so connection setup is not timed.
    let mut conns = Vec::with_capacity(workers);
    for _ in 0..workers {
        conns.push(Conn::open(target.addr).await?);
    }
    let barrier = Arc::new(tokio::sync::Barrier::new(workers));
    let mut tasks = Vec::with_capacity(workers);
    for (w, mut conn) in conns.into_iter().enumerate() {
        let schedule = per_worker(w);
        let spec = Arc::clone(spec);
        let addr = target.addr;
        let barrier = Arc::clone(&barrier);
        let open = open.clone();
        tasks.push(tokio::spawn(async move {
            let mut recorder = Recorder::default();
            barrier.wait().await;
            for scheduled in schedule {
                let start = match scheduled {
                    Some(at) if Instant::now() < at => {
                        tokio::time::sleep_until(at).await;
                        Instant::now()
                    }
                    Some(at) => at,
                    None => Instant::now(),
                };
                if conn
                    .send(&spec, start, &mut recorder, open.as_deref())
                    .await
                    .is_err()
                {
                    // the failure is recorded; a fresh connection serves the rest
                    match Conn::open(addr).await {
                        Ok(fresh) => conn = fresh,
                        Err(e) => {
                            recorder.fail(format!("reconnect failed: {e:#}"));
                            break;
                        }
                    }
                }
            }
            recorder
        }));
    }
    let mut total = Recorder::default();
    for task in tasks {
        let recorder = task.await.context("a load task panicked")?;
        total.merge(&recorder);
    }
    total.elapsed = started.elapsed();
    Ok(total)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn event_ends_are_counted_across_frames() {
        assert_eq!(count_event_ends(0, b"event: a\ndata: {}\n\n"), 1);
        assert_eq!(count_event_ends(0, b"data: 1\n\ndata: 2\n\n"), 2);
        assert_eq!(count_event_ends(b'\n', b"\ndata: 2\n"), 1);
        assert_eq!(count_event_ends(0, b"\n\n\n\n"), 2);
        assert_eq!(count_event_ends(0, b"data: x\n"), 0);
    }

    #[test]
    fn the_tail_keeps_the_last_256_bytes() {
        let mut tail = Vec::new();
        keep_tail(&mut tail, &[b'a'; 300]);
        keep_tail(&mut tail, b"event: message_stop\n\n");
        assert_eq!(tail.len(), 256);
        assert!(ends_stream(&tail));
        assert!(!ends_stream(&[b'a'; 256]));
    }

    #[test]
    fn targets_parse_from_urls() {
        let target = Target::parse("floor", "http://127.0.0.1:4000/").unwrap();
        assert_eq!(target.addr.port(), 4000);
        assert!(Target::parse("floor", "https://127.0.0.1:4000").is_err());
        assert!(Target::parse("floor", "http://localhost").is_err());
    }
}
