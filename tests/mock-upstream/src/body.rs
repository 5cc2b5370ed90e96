//! The response body: a whole JSON document, or a channel of SSE frames written one by one.

use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};

use bytes::Bytes;
use hyper::body::{Body, Frame, SizeHint};
use tokio::sync::mpsc;

use crate::state::EventOnDrop;

/// A frame sent by a stream producer: data, or an error that makes hyper abort the connection.
pub(crate) type Chunk = Result<Bytes, io::Error>;

/// The body of every mock response.
///
/// With a tracker, the body records `completed` once it has handed out its last frame, `reset`
/// when a producer aborts it, and `client_disconnected` when hyper drops it before the end
/// (the peer went away).
pub(crate) struct MockBody {
    kind: Kind,
    tracker: Option<EventOnDrop>,
}

enum Kind {
    Full(Option<Bytes>),
    Channel(mpsc::Receiver<Chunk>),
}

impl MockBody {
    /// A complete body with a known length.
    pub(crate) fn full(bytes: impl Into<Bytes>, tracker: Option<EventOnDrop>) -> Self {
        Self {
            kind: Kind::Full(Some(bytes.into())),
            tracker,
        }
    }

    /// A streamed body fed by a producer task through `rx`.
    pub(crate) fn channel(rx: mpsc::Receiver<Chunk>, tracker: Option<EventOnDrop>) -> Self {
        Self {
            kind: Kind::Channel(rx),
            tracker,
        }
    }

    fn finish(&mut self, kind: &str) {
        if let Some(tracker) = self.tracker.as_mut() {
            tracker.finish(kind);
        }
    }
}

impl Body for MockBody {
    type Data = Bytes;
    type Error = io::Error;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, io::Error>>> {
        let this = self.get_mut();
        match &mut this.kind {
            Kind::Full(slot) => {
                let next = slot.take();
                // hyper stops polling once is_end_stream() is true, so the end is the last frame
                this.finish("completed");
                Poll::Ready(next.map(|bytes| Ok(Frame::data(bytes))))
            }
            Kind::Channel(rx) => match rx.poll_recv(cx) {
                Poll::Pending => Poll::Pending,
                Poll::Ready(Some(Ok(bytes))) => Poll::Ready(Some(Ok(Frame::data(bytes)))),
                Poll::Ready(Some(Err(err))) => {
                    this.finish("reset");
                    Poll::Ready(Some(Err(err)))
                }
                Poll::Ready(None) => {
                    this.finish("completed");
                    Poll::Ready(None)
                }
            },
        }
    }

    fn is_end_stream(&self) -> bool {
        matches!(self.kind, Kind::Full(None))
    }

    fn size_hint(&self) -> SizeHint {
        match &self.kind {
            Kind::Full(Some(bytes)) => SizeHint::with_exact(bytes.len() as u64),
            Kind::Full(None) => SizeHint::with_exact(0),
            Kind::Channel(_) => SizeHint::default(),
        }
    }
}
