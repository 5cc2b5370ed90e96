//! Response bodies: a complete buffer, a streamed answer pumped from the upstream as hyper polls for
//! it, or a channel a task feeds (a stream whose headers went out before its tier was settled).

use std::convert::Infallible;
use std::pin::Pin;
use std::task::{Context, Poll};

use bytes::Bytes;
use http_body::{Body as HttpBody, Frame, SizeHint};
use tokio::sync::mpsc;

use crate::forward::Pumped;

/// The router's response body.
pub enum Body {
    /// A complete body.
    Full(Option<Bytes>),
    /// Chunks sent by a task as they become available; the stream ends when the task drops its
    /// sender. Dropping this body (the client went away) makes the task's next send fail, which is
    /// how the task learns to stop and close its upstream connection.
    Channel(mpsc::Receiver<Bytes>),
    /// A streamed answer read from the upstream and passed on (or translated) each time the client
    /// connection polls for more: no task or channel between the two connections.
    Pumped(Box<Pumped>),
}

impl Body {
    /// A complete body.
    pub fn full(bytes: impl Into<Bytes>) -> Self {
        Body::Full(Some(bytes.into()))
    }

    /// A streamed body and the sender that feeds it.
    pub fn channel() -> (mpsc::Sender<Bytes>, Self) {
        // A few frames of slack: the pump never waits on a slow client for long, and memory per
        // stream stays bounded.
        let (tx, rx) = mpsc::channel(16);
        (tx, Body::Channel(rx))
    }
}

impl HttpBody for Body {
    type Data = Bytes;
    type Error = Infallible;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Infallible>>> {
        match self.get_mut() {
            Body::Full(bytes) => Poll::Ready(bytes.take().map(|b| Ok(Frame::data(b)))),
            Body::Channel(rx) => rx
                .poll_recv(cx)
                .map(|chunk| chunk.map(|b| Ok(Frame::data(b)))),
            Body::Pumped(pumped) => pumped
                .poll_next(cx)
                .map(|chunk| chunk.map(|b| Ok(Frame::data(b)))),
        }
    }

    fn is_end_stream(&self) -> bool {
        matches!(self, Body::Full(None))
    }

    fn size_hint(&self) -> SizeHint {
        match self {
            Body::Full(Some(bytes)) => SizeHint::with_exact(bytes.len() as u64),
            Body::Full(None) => SizeHint::with_exact(0),
            Body::Channel(_) | Body::Pumped(_) => SizeHint::default(),
        }
    }
}
