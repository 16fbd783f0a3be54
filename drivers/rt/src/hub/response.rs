//! A response body that keeps the hub informed: over HTTP/2 the request
//! holds its stream slot until the body ends or is dropped, each chunk
//! restarts the read-idle timeout, and a timeout or cap the hub reports
//! fails the body.

use super::{ClientError, Dial, Mailbox, Msg, Shared};
use crate::{Body, Runtime};
use sockless_core::{Bytes, BytesMut, HeaderList};
use sockless_pool::{Outcome, RequestId};
use std::future::poll_fn;
use std::sync::Arc;
use std::task::{Context, Poll};

/// What the body reports to.
trait BodyEvents: Send + Sync {
    fn data(&self, id: RequestId, n: usize);
    fn done(&self, id: RequestId, outcome: Outcome);
}

impl<R: Runtime, D: Dial> BodyEvents for Shared<R, D> {
    fn data(&self, id: RequestId, n: usize) {
        self.with_hub(|st, now| st.hub.handle_response_data(now, id, n));
    }

    fn done(&self, id: RequestId, outcome: Outcome) {
        self.with_hub(|st, now| {
            st.reqs.remove(&id);
            st.hub.handle_outcome(now, id, outcome);
        });
    }
}

/// The hub's view of a body still on its connection.
pub(crate) struct Watch {
    events: Arc<dyn BodyEvents>,
    id: RequestId,
    mailbox: Mailbox,
}

impl Watch {
    pub(super) fn new<R: Runtime, D: Dial>(shared: Arc<Shared<R, D>>, id: RequestId, mailbox: Mailbox) -> Watch {
        Watch { events: shared, id, mailbox }
    }
}

/// A response body from the [`Client`](super::Client), streamed with
/// backpressure: what the connection holds for it is bounded, and on
/// HTTP/2 flow-control credit returns as it is read.
pub struct ResponseBody {
    inner: Body,
    watch: Option<Watch>,
    /// The cap the client enforces itself (bodies the hub no longer
    /// watches).
    cap: Option<u64>,
    seen: u64,
}

impl std::fmt::Debug for ResponseBody {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ResponseBody").field("received", &self.seen).finish()
    }
}

impl ResponseBody {
    pub(super) fn new(inner: Body, watch: Option<Watch>, cap: Option<u64>) -> ResponseBody {
        ResponseBody { inner, watch, cap, seen: 0 }
    }

    fn finish(&mut self, outcome: Outcome) {
        if let Some(w) = self.watch.take() {
            w.events.done(w.id, outcome);
        }
    }

    /// The next chunk: `None` at the end.
    pub fn poll_chunk(&mut self, cx: &mut Context<'_>) -> Poll<Option<Result<Bytes, ClientError>>> {
        if let Some(w) = &self.watch {
            if let Poll::Ready(Msg::Fail(e)) = w.mailbox.poll_recv(cx) {
                // The hub failed the request (a timeout, the cap): it has
                // forgotten it; dropping the body resets the stream.
                self.watch = None;
                self.inner = Body::empty();
                return Poll::Ready(Some(Err(e)));
            }
        }
        match self.inner.poll_chunk(cx) {
            Poll::Pending => Poll::Pending,
            Poll::Ready(None) => {
                self.finish(Outcome::Complete);
                Poll::Ready(None)
            }
            Poll::Ready(Some(Err(e))) => {
                self.finish(Outcome::Failed);
                Poll::Ready(Some(Err(ClientError::Io(e))))
            }
            Poll::Ready(Some(Ok(chunk))) => {
                self.seen += chunk.len() as u64;
                match &self.watch {
                    Some(w) => w.events.data(w.id, chunk.len()),
                    None => {
                        if let Some(cap) = self.cap.filter(|&cap| self.seen > cap) {
                            self.inner = Body::empty();
                            return Poll::Ready(Some(Err(ClientError::BodyTooLarge(cap))));
                        }
                    }
                }
                Poll::Ready(Some(Ok(chunk)))
            }
        }
    }

    /// The next chunk, waiting for it: `None` at the end.
    pub async fn next_chunk(&mut self) -> Option<Result<Bytes, ClientError>> {
        poll_fn(|cx| self.poll_chunk(cx)).await
    }

    /// The trailers, once the body ended.
    pub fn trailers(&mut self) -> Option<HeaderList> {
        self.inner.trailers()
    }

    /// Reads the whole body, refusing more than `limit` bytes.
    pub async fn collect(mut self, limit: usize) -> Result<Bytes, ClientError> {
        let mut all = BytesMut::new();
        let mut only: Option<Bytes> = None;
        while let Some(chunk) = self.next_chunk().await {
            let chunk = chunk?;
            let total = all.len() + only.as_ref().map_or(0, Bytes::len) + chunk.len();
            if total > limit {
                return Err(ClientError::BodyTooLarge(limit as u64));
            }
            match only.take() {
                None if all.is_empty() => only = Some(chunk),
                None => all.extend_from_slice(&chunk),
                Some(first) => {
                    all.extend_from_slice(&first);
                    all.extend_from_slice(&chunk);
                }
            }
        }
        Ok(only.unwrap_or_else(|| all.freeze()))
    }

    /// The driver's [`Body`] underneath; the hub counts the exchange as
    /// done from here on.
    pub fn into_body(mut self) -> Body {
        self.finish(Outcome::Complete);
        std::mem::take(&mut self.inner)
    }
}

impl Drop for ResponseBody {
    fn drop(&mut self) {
        // Dropped before its end: the caller is done with it (on HTTP/2 the
        // connection task resets the stream).
        self.finish(Outcome::Complete);
    }
}
