//! The floor: the smallest reverse proxy hyper makes, forwarding bytes without parsing them.
//!
//! It is the physical limit anvil is compared against: one extra proxy hop on this machine, with
//! the same runtime (tokio multi-thread), the same server (hyper-util's auto builder, HTTP/1.1
//! keep-alive, `TCP_NODELAY`) and the same client (hyper-util's pooled legacy client) the router
//! uses. The request body streams to the upstream as it arrives and the answer streams back frame
//! by frame; nothing is buffered, decoded or rewritten except the request URI's authority.

use std::convert::Infallible;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http::uri::{Authority, PathAndQuery, Scheme};
use http::{Request, Response, StatusCode, Uri};
use http_body_util::{Either, Full};
use hyper::body::Incoming;
use hyper::service::service_fn;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::client::legacy::Client;
use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::server::conn::auto;
use tokio::net::TcpListener;

/// The answer body: the upstream's own body, or a short error text.
pub type FloorBody = Either<Incoming, Full<Bytes>>;

/// Where the floor forwards to.
#[derive(Debug, Clone)]
pub struct Upstream {
    authority: Authority,
}

impl Upstream {
    /// Parses `http://HOST:PORT` (a path, if any, is ignored: request paths are kept as sent).
    pub fn parse(url: &str) -> anyhow::Result<Self> {
        let uri: Uri = url.parse()?;
        if uri.scheme() != Some(&Scheme::HTTP) {
            anyhow::bail!("the floor forwards plain http only, got {url}");
        }
        let authority = uri
            .authority()
            .cloned()
            .ok_or_else(|| anyhow::anyhow!("{url} has no host:port"))?;
        Ok(Self { authority })
    }
}

struct Floor {
    client: Client<HttpConnector, Incoming>,
    upstream: Upstream,
}

/// Serves the floor on `listener` until the future is dropped.
pub async fn serve(listener: TcpListener, upstream: Upstream) {
    let mut connector = HttpConnector::new();
    connector.set_nodelay(true);
    let client = Client::builder(TokioExecutor::new())
        .pool_idle_timeout(Duration::from_secs(90))
        .build(connector);
    let floor = Arc::new(Floor { client, upstream });
    let builder = auto::Builder::new(TokioExecutor::new());
    loop {
        let Ok((stream, _)) = listener.accept().await else {
            // out of descriptors and the like: back off a little and keep serving
            tokio::time::sleep(Duration::from_millis(10)).await;
            continue;
        };
        let _ = stream.set_nodelay(true);
        let floor = Arc::clone(&floor);
        let service = service_fn(move |request| forward(Arc::clone(&floor), request));
        let connection = builder
            .serve_connection(TokioIo::new(stream), service)
            .into_owned();
        tokio::spawn(async move {
            let _ = connection.await;
        });
    }
}

async fn forward(
    floor: Arc<Floor>,
    request: Request<Incoming>,
) -> Result<Response<FloorBody>, Infallible> {
    let (mut parts, body) = request.into_parts();
    let path = parts
        .uri
        .path_and_query()
        .cloned()
        .unwrap_or_else(|| PathAndQuery::from_static("/"));
    let uri = Uri::builder()
        .scheme(Scheme::HTTP)
        .authority(floor.upstream.authority.clone())
        .path_and_query(path)
        .build();
    let Ok(uri) = uri else {
        return Ok(error(StatusCode::BAD_REQUEST, "bad request target"));
    };
    parts.uri = uri;
    // hyper's client writes Host from the URI
    parts.headers.remove(http::header::HOST);
    match floor.client.request(Request::from_parts(parts, body)).await {
        Ok(response) => Ok(response.map(Either::Left)),
        Err(_) => Ok(error(StatusCode::BAD_GATEWAY, "upstream unavailable")),
    }
}

fn error(status: StatusCode, message: &'static str) -> Response<FloorBody> {
    let mut response = Response::new(Either::Right(Full::new(Bytes::from_static(
        message.as_bytes(),
    ))));
    *response.status_mut() = status;
    response
}
