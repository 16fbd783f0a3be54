//! The request a service sees: sockless's head as `http` parts, its
//! streamed body as an `http_body::Body`.

use crate::Upgrade;
use http_body::{Frame, SizeHint};
use sockless_core::{Bytes, ConversionError, RequestHead, TlsFacts};
use sockless_rt::{Body, Request};
use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};

/// The body of a request handed to a service: sockless's streamed
/// [`Body`] as an [`http_body::Body`].
///
/// Data frames come as the peer sends them (under backpressure: a body the
/// service does not read holds the peer back), then the trailers, if any,
/// as the last frame. The size hint is exact when the request said its
/// length (`Content-Length`), and counts down as the body is read. Reading
/// the body is what sends `100 Continue` to a client that asked for it.
#[derive(Debug)]
pub struct RequestBody {
    body: Body,
    /// Bytes still to come, when the request declared its length.
    remaining: Option<u64>,
}

impl RequestBody {
    /// Wraps a received body whose length, if declared, is `len`.
    pub fn new(body: Body, len: Option<u64>) -> RequestBody {
        RequestBody { remaining: len.or_else(|| body.known_len().map(|n| n as u64)), body }
    }

    /// The sockless body underneath.
    pub fn into_inner(self) -> Body {
        self.body
    }
}

impl http_body::Body for RequestBody {
    type Data = Bytes;
    type Error = io::Error;

    fn poll_frame(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Result<Frame<Bytes>, io::Error>>> {
        let polled = Pin::new(&mut self.body).poll_frame(cx);
        if let Poll::Ready(Some(Ok(frame))) = &polled {
            if let (Some(data), Some(left)) = (frame.data_ref(), self.remaining.as_mut()) {
                *left = left.saturating_sub(data.len() as u64);
            }
        }
        polled
    }

    fn is_end_stream(&self) -> bool {
        self.body.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        match self.remaining {
            Some(n) => SizeHint::with_exact(n),
            None => self.body.size_hint(),
        }
    }
}

/// The declared length of a request's body: its `Content-Length` (the
/// protocol layer already refused a request whose lengths disagree).
fn declared_len(head: &RequestHead) -> Option<u64> {
    let value = head.headers.get("content-length")?;
    std::str::from_utf8(value).ok()?.trim().parse().ok()
}

/// A sockless request as the `http::Request` a service takes. Fails if
/// `http` cannot represent the head (the caller answers 400).
///
/// Its extensions are the request's own, plus an [`Upgrade`] when the
/// request may switch protocols and the connection's [`TlsFacts`] on a TLS
/// connection: nothing is added (nor allocated) for a plain request.
pub(crate) fn to_http(mut request: Request) -> Result<http::Request<RequestBody>, ConversionError> {
    let mut parts = request.head.to_http()?;
    let len = declared_len(&request.head);
    parts.extensions = std::mem::take(&mut request.extensions);
    if let Some(upgrade) = request.upgrade() {
        parts.extensions.insert(Upgrade::new(upgrade));
    }
    if let Some(tls) = request.connection().and_then(|c| c.tls()) {
        parts.extensions.insert::<TlsFacts>(tls.clone());
    }
    Ok(http::Request::from_parts(parts, RequestBody::new(request.body, len)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use http_body::Body as _;
    use sockless_core::Method;
    use std::future::Future;

    #[test]
    fn the_declared_length_is_an_exact_hint_that_counts_down() {
        let (mut tx, body) = Body::channel();
        let head = RequestHead::new(Method::Post, "/").header("Content-Length", "5");
        let mut request = to_http(Request::new(head, body)).unwrap();
        assert_eq!(request.body().size_hint().exact(), Some(5));
        let mut cx = Context::from_waker(std::task::Waker::noop());
        let mut send = std::pin::pin!(tx.send(Bytes::from_static(b"abc")));
        assert!(send.as_mut().poll(&mut cx).is_ready());
        let frame = Pin::new(request.body_mut()).poll_frame(&mut cx);
        assert!(matches!(frame, Poll::Ready(Some(Ok(_)))));
        assert_eq!(request.body().size_hint().exact(), Some(2));
    }

    #[test]
    fn without_a_declared_length_the_hint_is_open() {
        let (_tx, body) = Body::channel();
        let request = to_http(Request::new(RequestHead::new(Method::Post, "/"), body)).unwrap();
        assert_eq!(request.body().size_hint().exact(), None);
        let empty = to_http(Request::new(RequestHead::new(Method::Get, "/"), Body::empty())).unwrap();
        assert_eq!(empty.body().size_hint().exact(), Some(0));
        assert!(empty.body().is_end_stream());
    }
}
