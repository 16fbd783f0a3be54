//! The `http` crate's types on sockless-rt (feature `http`, on by default):
//! [`Body`] as an [`http_body::Body`], conversions between [`Request`] /
//! [`Response`] and `http::Request<Body>` / `http::Response<Body>`, and
//! [`http_handler`], which lets a server handler take and return `http`
//! types.
//!
//! The heads convert as `sockless_core`'s conversions do: `http::HeaderMap`
//! lowercases names and groups repeated names, so a round trip keeps values
//! and per-name order but not the original case. Extensions go both ways.

use crate::{Body, Request, Response};
use http_body::{Frame, SizeHint};
use sockless_core::{Bytes, ConversionError, HeaderList, RequestHead, ResponseHead};
use std::future::Future;
use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};

/// A received body yields its data frames as they arrive, then its
/// trailers (if the peer sent any) as the last frame. A body of known
/// length (an empty or a full one) gives an exact size hint.
impl http_body::Body for Body {
    type Data = Bytes;
    type Error = io::Error;

    fn poll_frame(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Result<Frame<Bytes>, io::Error>>> {
        let body = self.get_mut();
        match body.poll_chunk(cx) {
            Poll::Pending => Poll::Pending,
            Poll::Ready(Some(Ok(data))) => Poll::Ready(Some(Ok(Frame::data(data)))),
            Poll::Ready(Some(Err(e))) => Poll::Ready(Some(Err(e))),
            // The trailers are taken with this frame: the next poll ends.
            Poll::Ready(None) => Poll::Ready(body.trailers().map(|t| header_map(&t).map(Frame::trailers))),
        }
    }

    fn is_end_stream(&self) -> bool {
        self.is_empty()
    }

    fn size_hint(&self) -> SizeHint {
        match self.known_len() {
            Some(n) => SizeHint::with_exact(n as u64),
            None => SizeHint::default(),
        }
    }
}

/// Converts a header list (trailers) to an `http::HeaderMap`; an error of
/// kind `InvalidData` for a name or value `http` does not accept.
pub(crate) fn header_map(list: &HeaderList) -> io::Result<http::HeaderMap> {
    let mut map = http::HeaderMap::with_capacity(list.len());
    for (name, value) in list {
        let invalid = || io::Error::new(io::ErrorKind::InvalidData, ConversionError::Header);
        let name = http::HeaderName::from_bytes(name).map_err(|_| invalid())?;
        let value = http::HeaderValue::from_bytes(value).map_err(|_| invalid())?;
        map.append(name, value);
    }
    Ok(map)
}

/// The `http` request's extensions become the request's.
impl From<http::Request<Body>> for Request {
    fn from(request: http::Request<Body>) -> Request {
        let (parts, body) = request.into_parts();
        let mut converted = Request::new(RequestHead::from_http(&parts), body);
        converted.extensions = parts.extensions;
        converted
    }
}

impl TryFrom<Request> for http::Request<Body> {
    type Error = ConversionError;

    /// Fails if the head is not valid for `http` (a method, target or header
    /// it does not accept). The request's extensions go along; its
    /// connection facts and upgrade stay behind (ask for them first).
    fn try_from(request: Request) -> Result<Self, ConversionError> {
        let mut parts = request.head.to_http()?;
        parts.extensions = request.extensions;
        Ok(http::Request::from_parts(parts, request.body))
    }
}

impl From<http::Response<Body>> for Response {
    fn from(response: http::Response<Body>) -> Response {
        let (parts, body) = response.into_parts();
        Response { head: ResponseHead::from_http(&parts), body }
    }
}

impl TryFrom<Response> for http::Response<Body> {
    type Error = ConversionError;

    /// Fails if the head is not valid for `http` (a status above 999 or a
    /// header it does not accept).
    fn try_from(response: Response) -> Result<Self, ConversionError> {
        let parts = response.head.to_http()?;
        Ok(http::Response::from_parts(parts, response.body))
    }
}

/// Wraps a handler written with the `http` crate's types into one that
/// [`serve`](crate::serve) (and every driver's `serve`) runs.
///
/// A request whose head `http` cannot represent (a target that is not a
/// valid `http::Uri`, say) is answered `400 Bad Request` without calling
/// `handler`.
///
/// ```no_run
/// use sockless_rt::{http_handler, Body, Listener, Runtime, ServerOptions};
///
/// async fn run<R: Runtime, L: Listener>(rt: R, listener: L) -> std::io::Result<()> {
///     let make = |now| sockless_h1::ServerConnection::new(sockless_h1::Config::server(), now);
///     let handler = http_handler(|req: http::Request<Body>| async move {
///         let text = format!("you asked for {}", req.uri().path());
///         http::Response::builder().header("content-type", "text/plain").body(Body::from(text.into_bytes())).unwrap()
///     });
///     sockless_rt::serve(rt, listener, make, handler, ServerOptions::default()).await
/// }
/// ```
pub fn http_handler<H, F>(handler: H) -> impl Fn(Request) -> HttpFuture<F> + Send + Sync + 'static
where
    H: Fn(http::Request<Body>) -> F + Send + Sync + 'static,
    F: Future<Output = http::Response<Body>> + Send + 'static,
{
    move |request: Request| match http::Request::try_from(request) {
        Ok(request) => HttpFuture { state: HttpState::Running(Box::pin(handler(request))) },
        Err(_) => HttpFuture { state: HttpState::Refused(Some(Response::new(ResponseHead::new(400), Body::empty()))) },
    }
}

/// The future of a handler made by [`http_handler`]: the `http` handler's
/// future (boxed, so that this type needs no pin projection), its response
/// converted.
pub struct HttpFuture<F> {
    state: HttpState<F>,
}

enum HttpState<F> {
    Running(Pin<Box<F>>),
    /// The request could not be converted: this response, once.
    Refused(Option<Response>),
}

impl<F: Future<Output = http::Response<Body>>> Future for HttpFuture<F> {
    type Output = Response;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Response> {
        match &mut self.state {
            HttpState::Running(f) => f.as_mut().poll(cx).map(Response::from),
            HttpState::Refused(response) => match response.take() {
                Some(response) => Poll::Ready(response),
                None => Poll::Pending, // polled after completion
            },
        }
    }
}

impl<F> std::fmt::Debug for HttpFuture<F> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self.state {
            HttpState::Running(_) => "HttpFuture::Running",
            HttpState::Refused(_) => "HttpFuture::Refused",
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use http_body::Body as _;
    use sockless_core::Method;
    use std::future::poll_fn;
    use std::pin::pin;
    use std::task::Waker;

    fn block_on<F: Future>(f: F) -> F::Output {
        let mut f = pin!(f);
        let mut cx = Context::from_waker(Waker::noop());
        loop {
            if let Poll::Ready(v) = f.as_mut().poll(&mut cx) {
                return v;
            }
        }
    }

    fn next_frame(body: &mut Body) -> Option<io::Result<Frame<Bytes>>> {
        block_on(poll_fn(|cx| Pin::new(&mut *body).poll_frame(cx)))
    }

    #[test]
    fn a_streamed_body_yields_data_frames_then_its_trailers() {
        let (mut tx, mut body) = Body::channel();
        assert!(!body.is_end_stream());
        assert_eq!(body.size_hint().exact(), None);
        block_on(tx.send(Bytes::from_static(b"ab"))).unwrap();
        block_on(tx.send(Bytes::from_static(b"c"))).unwrap();
        tx.send_trailers(HeaderList::new().with("X-Checksum", "42"));
        assert_eq!(next_frame(&mut body).unwrap().unwrap().into_data().unwrap(), "ab");
        assert_eq!(next_frame(&mut body).unwrap().unwrap().into_data().unwrap(), "c");
        let trailers = next_frame(&mut body).unwrap().unwrap().into_trailers().unwrap();
        assert_eq!(trailers.get("x-checksum").unwrap(), "42");
        assert!(next_frame(&mut body).is_none());
    }

    #[test]
    fn a_broken_body_yields_an_error_frame() {
        let (tx, mut body) = Body::channel();
        tx.abort();
        assert_eq!(next_frame(&mut body).unwrap().unwrap_err().kind(), io::ErrorKind::ConnectionAborted);
    }

    #[test]
    fn trailers_http_refuses_are_an_error_not_a_panic() {
        let (tx, mut body) = Body::channel();
        tx.send_trailers(HeaderList::new().with("bad name", "1"));
        assert_eq!(next_frame(&mut body).unwrap().unwrap_err().kind(), io::ErrorKind::InvalidData);
    }

    #[test]
    fn known_lengths_are_exact_size_hints() {
        let full = Body::from("hello");
        assert_eq!(full.size_hint().exact(), Some(5));
        assert!(!full.is_end_stream());
        let empty = Body::empty();
        assert_eq!(empty.size_hint().exact(), Some(0));
        assert!(empty.is_end_stream());
        let mut full = Body::from("hello");
        assert_eq!(next_frame(&mut full).unwrap().unwrap().into_data().unwrap(), "hello");
        assert!(next_frame(&mut full).is_none());
    }

    #[test]
    fn requests_convert_both_ways() {
        let head = RequestHead::new(Method::Post, "/items?x=1").header("Host", "example.com").header("X-A", "1");
        let mut request = http::Request::try_from(Request::new(head, "body")).unwrap();
        assert_eq!(request.method(), http::Method::POST);
        assert_eq!(request.uri().query(), Some("x=1"));
        assert_eq!(request.headers()["host"], "example.com");
        assert_eq!(request.body().known_len(), Some(4));
        request.extensions_mut().insert(7u8);
        let back = Request::from(request);
        assert_eq!(back.extensions.get::<u8>(), Some(&7));
        assert_eq!(back.head.method, Method::Post);
        assert_eq!(&back.head.target[..], b"/items?x=1");
        assert_eq!(back.head.headers.get("x-a"), Some(&b"1"[..]));
        assert_eq!(&block_on(back.body.collect(10)).unwrap()[..], b"body");

        let bad = Request::new(RequestHead::new(Method::Get, "/").header("a b", "c"), Body::empty());
        assert_eq!(http::Request::try_from(bad).unwrap_err(), ConversionError::Header);
    }

    #[test]
    fn responses_convert_both_ways() {
        let response = http::Response::builder().status(201).header("Location", "/items/1").body(Body::from("x"));
        let response = Response::from(response.unwrap());
        assert_eq!(response.head.status, 201);
        assert_eq!(response.head.headers.get("location"), Some(&b"/items/1"[..]));
        let back = http::Response::try_from(response).unwrap();
        assert_eq!(back.status(), http::StatusCode::CREATED);
        assert_eq!(back.body().known_len(), Some(1));
        let bad = Response::new(ResponseHead::new(1000), Body::empty());
        assert_eq!(http::Response::try_from(bad).unwrap_err(), ConversionError::Status);
    }

    #[test]
    fn an_http_handler_sees_http_types_and_answers_with_them() {
        let handler = http_handler(|req: http::Request<Body>| async move {
            let reply = format!("{} {}", req.method(), req.uri().path());
            http::Response::builder().status(202).body(Body::from(reply.into_bytes())).unwrap()
        });
        let response = block_on(handler(Request::new(RequestHead::new(Method::Get, "/a/b"), Body::empty())));
        assert_eq!(response.head.status, 202);
        assert_eq!(&block_on(response.body.collect(100)).unwrap()[..], b"GET /a/b");
    }

    #[test]
    fn an_http_handler_answers_400_to_a_request_http_cannot_hold() {
        let handler =
            http_handler(|_req: http::Request<Body>| async move { http::Response::new(Body::from("called")) });
        let head = RequestHead::new(Method::Get, "/").header("x", "\u{1}");
        let response = block_on(handler(Request::new(head, Body::empty())));
        assert_eq!(response.head.status, 400);
        assert!(response.body.is_empty());
    }
}
