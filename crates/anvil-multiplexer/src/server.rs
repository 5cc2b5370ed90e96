//! The multiplexer's HTTP server (hyper 1.x).
//!
//! | request | answer |
//! |---|---|
//! | `POST /v1/chat/completions`, `/v1/completions`, `/v1/messages`, `/v1/responses` | made resident by the body's `model`, then forwarded to that engine; the answer streams back as it comes |
//! | `POST /v1/messages/count_tokens` | forwarded if the body's `model` is resident, else 503 `model_not_resident` (never swaps) |
//! | `GET /v1/models` | the registry as an OpenAI model list (never triggers a load), with `resident` per model |
//! | `GET /residency[?wait_epoch=N[&timeout_s=T]]` | [`crate::Residency`] as JSON; with `wait_epoch`, once its `epoch` differs from N (or after T s, at most 60) |
//! | `POST /swap` `{"model": NAME}` | makes `NAME` resident; 200 with the residency once it is |
//! | `GET /metrics` | Prometheus (OpenMetrics) text: swap counts and durations, rollbacks, in-flight requests |
//! | `GET /healthz` | 200 `{"status":"ok"}` while the server runs |
//!
//! Errors are JSON envelopes with a clear message: `{"error":{"type","code","message"}}`, or
//! Anthropic's `{"type":"error","error":{"type","message"}}` on `/v1/messages*`.

use std::convert::Infallible;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::Bytes;
use http::header::{self, HeaderMap, HeaderValue};
use http::{Method, Request, Response, StatusCode};
use http_body::{Body, Frame, SizeHint};
use http_body_util::combinators::BoxBody;
use http_body_util::{BodyExt, Full, Limited};
use hyper::body::Incoming;
use hyper::service::service_fn;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::client::legacy::Client;
use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::server::conn::auto;
use hyper_util::server::graceful::GracefulShutdown;
use serde::Deserialize;
use serde_json::json;
use tokio::net::TcpListener;

use crate::backend::Backend;
use crate::swap::{Lease, Multiplexer, MuxError};

/// Longest wait of `GET /residency?wait_epoch=N`.
pub const MAX_LONG_POLL: Duration = Duration::from_secs(60);

/// Largest request body accepted (bytes).
pub const MAX_BODY_BYTES: usize = 32 * 1024 * 1024;

type ResBody = BoxBody<Bytes, hyper::Error>;

/// The paths forwarded to the resident engine.
const FORWARDED: &[&str] = &[
    "/v1/chat/completions",
    "/v1/completions",
    "/v1/messages",
    "/v1/messages/count_tokens",
    "/v1/responses",
];

struct App<B: Backend> {
    mux: Multiplexer<B>,
    client: Client<HttpConnector, Full<Bytes>>,
}

/// Serves `mux` on `listener` until `shutdown` resolves; then stops accepting and gives open
/// connections up to `grace` to finish. The caller stops the engines ([`Multiplexer::shutdown`]).
pub async fn serve<B: Backend>(
    mux: Multiplexer<B>,
    listener: TcpListener,
    shutdown: impl Future<Output = ()>,
    grace: Duration,
) {
    let mut connector = HttpConnector::new();
    connector.set_connect_timeout(Some(Duration::from_secs(10)));
    connector.set_nodelay(true);
    let app = Arc::new(App {
        mux,
        client: Client::builder(TokioExecutor::new()).build(connector),
    });
    let graceful = GracefulShutdown::new();
    let builder = auto::Builder::new(TokioExecutor::new());
    tokio::pin!(shutdown);
    loop {
        let (stream, peer) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(pair) => pair,
                Err(e) => {
                    tracing::warn!(error = %e, "accept failed");
                    continue;
                }
            },
            () = &mut shutdown => break,
        };
        let _ = stream.set_nodelay(true);
        let app = Arc::clone(&app);
        let service = service_fn(move |request| {
            let app = Arc::clone(&app);
            async move { Ok::<_, Infallible>(handle(app, request).await) }
        });
        let connection = builder.serve_connection(TokioIo::new(stream), service);
        let connection = graceful.watch(connection.into_owned());
        tokio::spawn(async move {
            if let Err(e) = connection.await {
                tracing::debug!(error = %e, %peer, "connection ended with an error");
            }
        });
    }
    drop(listener);
    if tokio::time::timeout(grace, graceful.shutdown())
        .await
        .is_err()
    {
        tracing::warn!("grace period over with requests still in flight; closing them");
    }
}

fn full(body: impl Into<Bytes>) -> ResBody {
    Full::new(body.into())
        .map_err(|never: Infallible| match never {})
        .boxed()
}

fn json_response(status: StatusCode, value: &serde_json::Value) -> Response<ResBody> {
    let mut response = Response::new(full(value.to_string()));
    *response.status_mut() = status;
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    response
}

/// An error envelope in the dialect of `path`.
fn error(path: &str, status: StatusCode, code: &str, message: &str) -> Response<ResBody> {
    let body = if path.starts_with("/v1/messages") {
        let kind = match status.as_u16() {
            400 => "invalid_request_error",
            404 => "not_found_error",
            413 => "request_too_large",
            503 => "overloaded_error",
            _ => "api_error",
        };
        json!({"type": "error", "error": {"type": kind, "message": message}})
    } else {
        let kind = if status.is_client_error() {
            "invalid_request_error"
        } else {
            "server_error"
        };
        json!({"error": {"type": kind, "code": code, "message": message}})
    };
    json_response(status, &body)
}

fn mux_error(path: &str, e: &MuxError) -> Response<ResBody> {
    let message = e.to_string();
    let mut response = match e {
        MuxError::UnknownModel { .. } => {
            error(path, StatusCode::NOT_FOUND, "model_not_found", &message)
        }
        MuxError::LoadTimeout { .. } => error(
            path,
            StatusCode::SERVICE_UNAVAILABLE,
            "model_loading",
            &message,
        ),
        MuxError::StartFailed { .. } => error(
            path,
            StatusCode::SERVICE_UNAVAILABLE,
            "backend_unavailable",
            &message,
        ),
        MuxError::ShuttingDown => error(
            path,
            StatusCode::SERVICE_UNAVAILABLE,
            "shutting_down",
            &message,
        ),
    };
    if matches!(e, MuxError::LoadTimeout { .. }) {
        response
            .headers_mut()
            .insert(header::RETRY_AFTER, HeaderValue::from_static("30"));
    }
    response
}

#[derive(Deserialize)]
struct ModelField {
    model: String,
}

// An error is the response to send: built once, returned at once.
#[allow(clippy::result_large_err)]
async fn read_body(path: &str, body: Incoming) -> Result<Bytes, Response<ResBody>> {
    match Limited::new(body, MAX_BODY_BYTES).collect().await {
        Ok(collected) => Ok(collected.to_bytes()),
        Err(e) if e.is::<http_body_util::LengthLimitError>() => Err(error(
            path,
            StatusCode::PAYLOAD_TOO_LARGE,
            "request_too_large",
            &format!("the request body is over {MAX_BODY_BYTES} bytes"),
        )),
        Err(e) => Err(error(
            path,
            StatusCode::BAD_REQUEST,
            "bad_body",
            &format!("cannot read the request body: {e}"),
        )),
    }
}

#[allow(clippy::result_large_err)]
fn model_of(path: &str, body: &[u8]) -> Result<String, Response<ResBody>> {
    serde_json::from_slice::<ModelField>(body)
        .map(|m| m.model)
        .map_err(|e| {
            error(
                path,
                StatusCode::BAD_REQUEST,
                "invalid_body",
                &format!("the body must be a JSON object with a string \"model\": {e}"),
            )
        })
}

async fn handle<B: Backend>(app: Arc<App<B>>, request: Request<Incoming>) -> Response<ResBody> {
    let path = request.uri().path().trim_end_matches('/').to_owned();
    let method = request.method().clone();
    match (&method, path.as_str()) {
        (&Method::GET, "/residency") => {
            let query = request.uri().query().unwrap_or("");
            let param = |name: &str| {
                query
                    .split('&')
                    .filter_map(|kv| kv.split_once('='))
                    .find(|(k, _)| *k == name)
                    .map(|(_, v)| v.to_owned())
            };
            let residency = match param("wait_epoch") {
                None => app.mux.residency(),
                Some(raw) => {
                    let Ok(epoch) = raw.parse::<u64>() else {
                        return error(
                            &path,
                            StatusCode::BAD_REQUEST,
                            "invalid_query",
                            &format!("wait_epoch must be an integer, got {raw:?}"),
                        );
                    };
                    let timeout = param("timeout_s")
                        .and_then(|t| t.parse::<f64>().ok())
                        .filter(|t| t.is_finite() && *t >= 0.0)
                        .map_or(MAX_LONG_POLL, |t| {
                            Duration::from_secs_f64(t).min(MAX_LONG_POLL)
                        });
                    app.mux.residency_after(epoch, timeout).await
                }
            };
            json_response(StatusCode::OK, &json!(residency))
        }
        (&Method::GET, "/healthz") => json_response(StatusCode::OK, &json!({"status": "ok"})),
        (&Method::GET, "/metrics") => {
            let mut response = Response::new(full(app.mux.metrics().render()));
            response.headers_mut().insert(
                header::CONTENT_TYPE,
                HeaderValue::from_static(
                    "application/openmetrics-text; version=1.0.0; charset=utf-8",
                ),
            );
            response
        }
        (&Method::GET, "/v1/models") => {
            let resident = app.mux.residency().resident;
            let data: Vec<_> = app
                .mux
                .engines()
                .map(|e| {
                    json!({
                        "id": e.name,
                        "object": "model",
                        "owned_by": "anvil-multiplexer",
                        "resident": resident.as_deref() == Some(e.name.as_str()),
                    })
                })
                .collect();
            json_response(StatusCode::OK, &json!({"object": "list", "data": data}))
        }
        (&Method::POST, "/swap") => {
            let body = match read_body(&path, request.into_body()).await {
                Ok(b) => b,
                Err(response) => return response,
            };
            let model = match model_of(&path, &body) {
                Ok(m) => m,
                Err(response) => return response,
            };
            match app.mux.swap_to(&model).await {
                Ok(()) => json_response(StatusCode::OK, &json!(app.mux.residency())),
                Err(e) => mux_error(&path, &e),
            }
        }
        (&Method::POST, p) if FORWARDED.contains(&p) => forward(&app, request, &path).await,
        _ => error(
            &path,
            StatusCode::NOT_FOUND,
            "not_found",
            &format!("no route {method} {path}"),
        ),
    }
}

/// Hop-by-hop headers, and those the client recomputes.
fn strip(headers: &mut HeaderMap) {
    for name in [
        header::CONNECTION,
        header::HOST,
        header::CONTENT_LENGTH,
        header::TRANSFER_ENCODING,
        header::TE,
        header::TRAILER,
        header::UPGRADE,
        header::PROXY_AUTHORIZATION,
        header::PROXY_AUTHENTICATE,
    ] {
        headers.remove(name);
    }
    headers.remove("keep-alive");
}

async fn forward<B: Backend>(
    app: &App<B>,
    request: Request<Incoming>,
    path: &str,
) -> Response<ResBody> {
    let (parts, body) = request.into_parts();
    let body = match read_body(path, body).await {
        Ok(b) => b,
        Err(response) => return response,
    };
    let model = match model_of(path, &body) {
        Ok(m) => m,
        Err(response) => return response,
    };
    let lease = if path == "/v1/messages/count_tokens" {
        // Counting tokens is not worth a model load: only the resident model answers.
        match app.mux.lease_if_resident(&model) {
            Some(lease) => lease,
            None if app.mux.engine(&model).is_none() => {
                return mux_error(path, &app.mux.unknown(&model))
            }
            None => {
                return error(
                    path,
                    StatusCode::SERVICE_UNAVAILABLE,
                    "model_not_resident",
                    &format!(
                        "model {model:?} is not resident; token counting does not load a model"
                    ),
                )
            }
        }
    } else {
        match app.mux.acquire(&model).await {
            Ok(lease) => lease,
            Err(e) => return mux_error(path, &e),
        }
    };
    let Some(engine) = app.mux.engine(&model) else {
        return mux_error(path, &MuxError::ShuttingDown);
    };
    let query = parts
        .uri
        .query()
        .map(|q| format!("?{q}"))
        .unwrap_or_default();
    let url = format!("{}{}{}", engine.base_url, parts.uri.path(), query);
    let mut upstream = Request::new(Full::new(body));
    *upstream.method_mut() = Method::POST;
    *upstream.headers_mut() = parts.headers;
    strip(upstream.headers_mut());
    match url.parse() {
        Ok(uri) => *upstream.uri_mut() = uri,
        Err(e) => {
            return error(
                path,
                StatusCode::BAD_GATEWAY,
                "backend_unreachable",
                &format!("bad engine URL {url}: {e}"),
            )
        }
    }
    app.mux
        .metrics()
        .requests
        .get_or_create(&vec![("model", model.clone())])
        .inc();
    match app.client.request(upstream).await {
        Ok(response) => {
            let (mut parts, body) = response.into_parts();
            strip(&mut parts.headers);
            let body = LeasedBody {
                inner: body,
                _lease: lease,
            };
            Response::from_parts(parts, body.boxed())
        }
        Err(e) => error(
            path,
            StatusCode::BAD_GATEWAY,
            "backend_unreachable",
            &format!(
                "engine {model:?} at {} is unreachable: {e}",
                engine.base_url
            ),
        ),
    }
}

/// An engine's response body that keeps the request's lease until it is finished or dropped, so
/// a swap does not stop the engine under a stream.
struct LeasedBody {
    inner: Incoming,
    _lease: Lease,
}

impl Body for LeasedBody {
    type Data = Bytes;
    type Error = hyper::Error;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, hyper::Error>>> {
        Pin::new(&mut self.get_mut().inner).poll_frame(cx)
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}
