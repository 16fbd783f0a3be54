//! The response a service gives, as the one sockless sends: its head,
//! framed as hyper frames it, and its body streamed back with its trailers.

use crate::BoxError;
use http_body::Body as HttpBody;
use sockless_core::{Bytes, HeaderList, ResponseHead, Version};
use sockless_rt::{Body, BodySender, Response, Runtime};
use std::future::poll_fn;
use std::pin::Pin;
use std::task::Poll;

/// A response with no body and the given status (a refused request, a
/// failed service).
pub(crate) fn status(code: u16) -> Response {
    Response::new(ResponseHead::new(code).header("content-length", "0"), Body::empty())
}

/// What of the request shapes its response.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Asked {
    /// The request was HEAD: the body is dropped (its length, when known,
    /// is still announced).
    pub head: bool,
    /// The request was CONNECT: a 2xx answer opens a tunnel, so it has
    /// neither a body nor framing fields (RFC 9110 section 9.3.6).
    pub connect: bool,
    /// The request came over HTTP/2, where connection-specific fields are
    /// not allowed (RFC 9113 section 8.2.2): they are left out, as hyper
    /// leaves them out, rather than failing the response.
    pub h2: bool,
}

/// Fields HTTP/1.1 uses for the connection itself, which HTTP/2 forbids.
const CONNECTION_SPECIFIC: [&str; 5] = ["connection", "keep-alive", "proxy-connection", "transfer-encoding", "upgrade"];

/// Converts a service's response to the request `asked`.
///
/// The body is polled here, in the service's task, as long as it is
/// ready: a body that is one buffer (most are) leaves with the head, in one
/// write. Only a body that has to wait gets a task of its own on `rt`,
/// which streams it into a sockless body channel (bounded: a slow client
/// holds the service's body back).
pub(crate) async fn from_http<R, B>(rt: &R, response: http::Response<B>, asked: Asked) -> Response
where
    R: Runtime,
    B: HttpBody + Send + 'static,
    B::Data: Into<Bytes>,
    B::Error: Into<BoxError>,
{
    let (mut parts, body) = response.into_parts();
    if asked.h2 {
        for name in CONNECTION_SPECIFIC {
            parts.headers.remove(name);
        }
    }
    let mut head = ResponseHead::from_http(&parts);
    // The connection speaks its own version; `http`'s field is advisory.
    head.version = Version::Http11;
    let code = parts.status.as_u16();
    let bodiless = !sockless_core::response_has_content(false, code) || (asked.connect && (200..300).contains(&code));
    let ended = body.is_end_stream();
    let exact = if ended { Some(0) } else { body.size_hint().exact() };
    if let Some(len) = exact {
        let framed = parts.headers.contains_key(http::header::CONTENT_LENGTH)
            || parts.headers.contains_key(http::header::TRANSFER_ENCODING);
        if !framed && !bodiless {
            head.headers.push("content-length", len.to_string());
        }
    }
    if asked.head || bodiless || ended {
        return Response::new(head, Body::empty());
    }

    let mut body = Box::pin(body);
    let mut first: Option<Bytes> = None;
    // The frames that are ready now: usually one data frame, then the end.
    loop {
        match poll_fn(|cx| Poll::Ready(body.as_mut().poll_frame(cx).map(Next::from))).await {
            Poll::Pending => break,
            Poll::Ready(Next::End) => return Response::new(head, first.map(Body::from).unwrap_or_default()),
            // Nothing went out yet: the failure can still be a 500.
            Poll::Ready(Next::Failed) => return status(500),
            Poll::Ready(Next::Data(data)) => {
                if first.is_some() {
                    // Two chunks: stream them (rather than copy them into one).
                    let (tx, out) = Body::channel();
                    rt.spawn(stream(body, [first, Some(data)], tx));
                    return Response::new(head, out);
                }
                if body.is_end_stream() {
                    return Response::new(head, Body::from(data));
                }
                first = Some(data);
            }
            Poll::Ready(Next::Trailers(trailers)) => {
                // Trailers end the body: nothing is left to wait for.
                let (mut tx, out) = Body::channel();
                if let Some(data) = first {
                    // The channel is new and empty: this never waits.
                    if tx.send(data).await.is_err() {
                        return status(500);
                    }
                }
                tx.send_trailers(trailers);
                return Response::new(head, out);
            }
            Poll::Ready(Next::Skip) => {}
        }
    }
    let (tx, out) = Body::channel();
    rt.spawn(stream(body, [first, None], tx));
    Response::new(head, out)
}

/// What a body's next frame means for sockless, taken out of the frame at
/// once (so that nothing of the body's own types is held across a wait).
enum Next {
    Data(Bytes),
    Trailers(HeaderList),
    End,
    Failed,
    /// A frame kind this crate does not know.
    Skip,
}

impl<D: Into<Bytes>, E> From<Option<Result<http_body::Frame<D>, E>>> for Next {
    fn from(frame: Option<Result<http_body::Frame<D>, E>>) -> Next {
        match frame {
            None => Next::End,
            Some(Err(_)) => Next::Failed,
            Some(Ok(frame)) => match frame.into_data() {
                Ok(data) => Next::Data(data.into()),
                Err(frame) => match frame.into_trailers() {
                    Ok(trailers) => Next::Trailers(header_list(&trailers)),
                    Err(_) => Next::Skip,
                },
            },
        }
    }
}

/// Streams the rest of a service's body (after the chunks in `ready`) into
/// `tx`; a body error breaks the sockless body off, which resets the HTTP/2
/// stream or closes the HTTP/1.1 connection, so the client never takes a
/// truncated body for a complete one.
async fn stream<B>(mut body: Pin<Box<B>>, ready: [Option<Bytes>; 2], mut tx: BodySender)
where
    B: HttpBody,
    B::Data: Into<Bytes>,
{
    for data in ready.into_iter().flatten() {
        if tx.send(data).await.is_err() {
            return; // the client went away
        }
    }
    loop {
        match poll_fn(|cx| body.as_mut().poll_frame(cx).map(Next::from)).await {
            Next::End => return tx.finish(),
            Next::Failed => return tx.abort(),
            Next::Trailers(trailers) => return tx.send_trailers(trailers),
            Next::Data(data) => {
                if tx.send(data).await.is_err() {
                    return;
                }
            }
            Next::Skip => {}
        }
    }
}

/// An `http::HeaderMap` (trailers) as a sockless header list.
fn header_list(map: &http::HeaderMap) -> HeaderList {
    map.iter().map(|(name, value)| (name.as_str(), value.as_bytes())).collect()
}
