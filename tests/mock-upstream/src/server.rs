//! Accept loop, connection handling and request routing.

use std::io;
use std::net::TcpStream as StdTcpStream;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use http_body_util::BodyExt;
use hyper::body::Incoming;
use hyper::header::{HeaderName, HeaderValue, CACHE_CONTROL, CONTENT_TYPE, RETRY_AFTER};
use hyper::service::service_fn;
use hyper::{Method, Request, Response, StatusCode};
use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::server::conn::auto;
use serde_json::{json, Map, Value};
use tokio::net::{TcpListener, TcpSocket, TcpStream};
use tokio::sync::mpsc;

use crate::body::{Chunk, MockBody};
use crate::dialect::{openai_error_body, Dialect, Ev};
use crate::plan::{Directives, Failure, Plan};
use crate::state::{EventOnDrop, MockState, RequestRecord};

/// How long a `MOCK:midstream-reset` stream waits, once its frames were taken by hyper, before
/// aborting (so the first events reach the client before the reset).
const ABORT_GRACE: Duration = Duration::from_millis(20);

/// Serves mock requests on `listener` forever (until the future is dropped).
///
/// Every accepted socket gets `TCP_NODELAY` and is served by hyper-util's auto builder
/// (HTTP/1.1 with keep-alive, or HTTP/2 with prior knowledge) on its own task.
pub async fn serve(listener: TcpListener, state: MockState) {
    loop {
        match listener.accept().await {
            Ok((stream, _)) => {
                let state = state.clone();
                tokio::spawn(serve_connection(stream, state));
            }
            // transient (e.g. out of file descriptors): back off a little and keep serving
            Err(_) => tokio::time::sleep(Duration::from_millis(10)).await,
        }
    }
}

/// A second handle on a connection's socket, used to turn its close into a TCP reset.
struct Conn {
    dup: Mutex<Option<StdTcpStream>>,
}

impl Conn {
    /// Makes the coming close of the connection a reset (`SO_LINGER` 0) and drops this handle.
    fn abort_on_close(&self) {
        if let Some(dup) = self.take() {
            let _ = TcpSocket::from_std_stream(dup).set_zero_linger();
        }
    }

    fn take(&self) -> Option<StdTcpStream> {
        self.dup
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .take()
    }
}

fn split_handle(stream: TcpStream) -> io::Result<(TcpStream, Arc<Conn>)> {
    let std_stream = stream.into_std()?;
    let dup = std_stream.try_clone()?;
    let stream = TcpStream::from_std(std_stream)?;
    Ok((
        stream,
        Arc::new(Conn {
            dup: Mutex::new(Some(dup)),
        }),
    ))
}

async fn serve_connection(stream: TcpStream, state: MockState) {
    let _ = stream.set_nodelay(true);
    let Ok((stream, conn)) = split_handle(stream) else {
        return;
    };
    let svc_conn = conn.clone();
    let service = service_fn(move |req| handle(req, state.clone(), svc_conn.clone()));
    let _ = auto::Builder::new(TokioExecutor::new())
        .serve_connection(TokioIo::new(stream), service)
        .await;
    // the duplicate handle must not keep the socket open after hyper is done with it
    drop(conn.take());
}

/// Returned by the service to make hyper drop the connection without answering.
#[derive(Debug)]
struct ResetConnection;

impl std::fmt::Display for ResetConnection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("mock reset the connection")
    }
}

impl std::error::Error for ResetConnection {}

fn json_response(
    status: StatusCode,
    value: &Value,
    tracker: Option<EventOnDrop>,
) -> Response<MockBody> {
    let mut resp = Response::new(MockBody::full(value.to_string(), tracker));
    *resp.status_mut() = status;
    resp.headers_mut()
        .insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
    resp
}

fn set_header(resp: &mut Response<MockBody>, name: &'static str, value: &str) {
    if let Ok(value) = HeaderValue::from_str(value) {
        resp.headers_mut()
            .insert(HeaderName::from_static(name), value);
    }
}

async fn handle(
    req: Request<Incoming>,
    state: MockState,
    conn: Arc<Conn>,
) -> Result<Response<MockBody>, ResetConnection> {
    let method = req.method().clone();
    let path = req.uri().path().to_owned();
    if path.starts_with("/_mock/") {
        return Ok(introspect(&method, &path, &state));
    }
    let query = req.uri().query().unwrap_or_default().to_owned();
    let mut headers = Map::new();
    for (name, value) in req.headers() {
        let value = String::from_utf8_lossy(value.as_bytes()).into_owned();
        match headers.get_mut(name.as_str()) {
            Some(Value::String(existing)) => {
                existing.push_str(", ");
                existing.push_str(&value);
            }
            _ => {
                headers.insert(name.as_str().to_owned(), Value::String(value));
            }
        }
    }
    let Ok(collected) = req.into_body().collect().await else {
        return Err(ResetConnection);
    };
    let raw = collected.to_bytes();
    let body: Value = serde_json::from_slice(&raw).unwrap_or(Value::Null);
    let seq = state.record_request(RequestRecord {
        method: method.to_string(),
        path: path.clone(),
        query,
        headers,
        body: body.clone(),
        body_bytes: raw.len(),
    });
    let tracker = || Some(EventOnDrop::new(&state, seq, &path, "client_disconnected"));
    if let Some(persona) = state.persona() {
        if let Some(resp) = crate::persona::respond(persona, &method, &path, &body, seq, tracker())
        {
            return Ok(resp);
        }
    }
    let dialect = match (&method, path.as_str()) {
        (&Method::POST, "/v1/messages") => Dialect::Anthropic,
        (&Method::POST, "/v1/chat/completions") => Dialect::Chat,
        (&Method::POST, "/v1/responses") => Dialect::Responses,
        (&Method::POST, "/v1/messages/count_tokens") => {
            let words = Dialect::Anthropic.inbound(&body).words;
            return Ok(json_response(
                StatusCode::OK,
                &json!({"input_tokens": words}),
                tracker(),
            ));
        }
        _ => {
            let mut err = openai_error_body(404, &format!("no route for {method} {path}"));
            err["error"]["type"] = json!("not_found_error");
            return Ok(json_response(StatusCode::NOT_FOUND, &err, tracker()));
        }
    };
    let bad_request = |message: &str| {
        json_response(
            StatusCode::BAD_REQUEST,
            &dialect.error_body(400, message, seq),
            tracker(),
        )
    };
    if !body.is_object() {
        return Ok(bad_request("request body is not a json object"));
    }
    if dialect == Dialect::Anthropic && body.get("max_tokens").is_none() {
        return Ok(bad_request("max_tokens: Field required"));
    }
    let inbound = dialect.inbound(&body);
    let directives = Directives::parse(&inbound.last_text);

    if let Some(code) = directives.status {
        let status = StatusCode::from_u16(code).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        let message = format!("mock status {code}");
        let mut resp = json_response(status, &dialect.error_body(code, &message, seq), tracker());
        if code == 429 {
            resp.headers_mut()
                .insert(RETRY_AFTER, HeaderValue::from_static("1"));
        }
        return Ok(resp);
    }
    if directives.reset {
        conn.abort_on_close();
        state.record_event(seq, "reset", &path);
        return Err(ResetConnection);
    }
    if directives.hang {
        let _until_client_leaves = EventOnDrop::new(&state, seq, &path, "client_disconnected");
        std::future::pending::<()>().await;
    }

    let plan = Plan::build(seq, &inbound, &directives);
    if !inbound.stream {
        let mut waiting = EventOnDrop::new(&state, seq, &path, "client_disconnected");
        if let Some((every, n)) = plan.delay {
            tokio::time::sleep(every.saturating_mul(u32::try_from(n).unwrap_or(u32::MAX))).await;
        }
        waiting.disarm();
        let mut resp = json_response(StatusCode::OK, &dialect.json(&plan, &body), tracker());
        decorate(&mut resp, dialect, seq);
        return Ok(resp);
    }

    let events = dialect.events(&plan, &body);
    let trigger = events.iter().filter(|e| e.content).count().min(2);
    let tail = match plan.failure {
        Some(Failure::Error) => {
            let sent = events
                .iter()
                .enumerate()
                .filter(|(_, e)| e.content)
                .nth(trigger.saturating_sub(1))
                .map_or(events.len(), |(i, _)| i + 1);
            dialect.midstream_error(&plan, &body, sent)
        }
        _ => Vec::new(),
    };
    let (tx, rx) = mpsc::channel(4);
    tokio::spawn(produce(Stream {
        events,
        delay: plan.delay.map(|(every, _)| every),
        failure: plan.failure,
        trigger,
        tail,
        tx,
        conn,
    }));
    let mut resp = Response::new(MockBody::channel(rx, tracker()));
    resp.headers_mut().insert(
        CONTENT_TYPE,
        HeaderValue::from_static("text/event-stream; charset=utf-8"),
    );
    resp.headers_mut()
        .insert(CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    decorate(&mut resp, dialect, seq);
    Ok(resp)
}

/// Headers every successful model answer carries.
fn decorate(resp: &mut Response<MockBody>, dialect: Dialect, seq: u64) {
    set_header(resp, "x-mock-seq", &seq.to_string());
    if dialect == Dialect::Anthropic {
        set_header(resp, "request-id", &format!("req_mock_{seq:04}"));
    }
}

/// One streamed answer being written.
struct Stream {
    events: Vec<Ev>,
    delay: Option<Duration>,
    failure: Option<Failure>,
    /// The failure strikes right after this many content events.
    trigger: usize,
    /// The in-stream error events of `MOCK:midstream-error`.
    tail: Vec<Bytes>,
    tx: mpsc::Sender<Chunk>,
    conn: Arc<Conn>,
}

/// Sleeps `d`, or returns false early when the body was dropped (client gone).
async fn pause(tx: &mpsc::Sender<Chunk>, d: Duration) -> bool {
    tokio::select! {
        () = tokio::time::sleep(d) => true,
        () = tx.closed() => false,
    }
}

async fn produce(s: Stream) {
    let mut content_sent = 0;
    for ev in s.events {
        if ev.content {
            if let Some(every) = s.delay {
                if !pause(&s.tx, every).await {
                    return;
                }
            }
        }
        if s.tx.send(Ok(ev.bytes)).await.is_err() {
            return;
        }
        if !ev.content {
            continue;
        }
        content_sent += 1;
        if content_sent != s.trigger {
            continue;
        }
        match s.failure {
            None => {}
            Some(Failure::Error) => {
                for bytes in s.tail {
                    if s.tx.send(Ok(bytes)).await.is_err() {
                        return;
                    }
                }
                return;
            }
            Some(Failure::Reset) => {
                // let hyper take and flush the frames already sent
                while s.tx.capacity() < s.tx.max_capacity() {
                    if !pause(&s.tx, Duration::from_millis(2)).await {
                        return;
                    }
                }
                if !pause(&s.tx, ABORT_GRACE).await {
                    return;
                }
                s.conn.abort_on_close();
                let err = io::Error::new(io::ErrorKind::ConnectionReset, "mock midstream reset");
                let _ = s.tx.send(Err(err)).await;
                return;
            }
        }
    }
}

fn introspect(method: &Method, path: &str, state: &MockState) -> Response<MockBody> {
    match (method, path) {
        (&Method::GET, "/_mock/requests") => {
            json_response(StatusCode::OK, &Value::Array(state.requests()), None)
        }
        (&Method::GET, "/_mock/events") => {
            json_response(StatusCode::OK, &Value::Array(state.events()), None)
        }
        (&Method::POST, "/_mock/reset") => {
            state.clear();
            json_response(StatusCode::OK, &json!({"cleared": true}), None)
        }
        _ => {
            let mut err = openai_error_body(404, &format!("no route for {method} {path}"));
            err["error"]["type"] = json!("not_found_error");
            json_response(StatusCode::NOT_FOUND, &err, None)
        }
    }
}
