//! Message bodies: an async stream of [`Bytes`] chunks and optional
//! trailers, over a tiny internal channel (a mutex and two wakers).

use crate::{Error, ErrorKind};
use sockless_core::{Bytes, BytesMut, HeaderList};
use std::collections::VecDeque;
use std::fmt;
use std::future::poll_fn;
use std::io;
use std::sync::{Arc, Mutex, MutexGuard};
use std::task::{Context, Poll, Waker};

/// How many bytes a [`Body::channel`] holds before [`BodySender::send`] waits.
pub const DEFAULT_CHANNEL_CAPACITY: usize = 64 * 1024;

/// The state shared by the two ends of a body channel.
pub(crate) struct ChanState {
    chunks: VecDeque<Bytes>,
    /// Bytes in `chunks`.
    buffered: usize,
    /// The sender waits while `buffered >= cap`.
    cap: usize,
    /// The sender finished cleanly (trailers, if any, are in `trailers`).
    ended: bool,
    error: Option<Error>,
    trailers: Option<HeaderList>,
    rx_waker: Option<Waker>,
    tx_waker: Option<Waker>,
    /// The receiver was dropped: nothing sent will be read.
    rx_closed: bool,
    /// Bytes the receiver took since the sender last asked ([`Chan::take_consumed`]).
    consumed: usize,
    /// The receiver polled at least once (it started reading the body).
    rx_started: bool,
    /// The body's length, declared when the channel was made ([`Body::sized_channel`]).
    declared_len: Option<usize>,
}

/// One end of a body channel (both ends hold the same `Arc`).
#[derive(Clone)]
pub(crate) struct Chan(Arc<Mutex<ChanState>>);

impl Chan {
    pub(crate) fn new(cap: usize) -> Chan {
        Chan(Arc::new(Mutex::new(ChanState {
            chunks: VecDeque::new(),
            buffered: 0,
            cap: cap.max(1),
            ended: false,
            error: None,
            trailers: None,
            rx_waker: None,
            tx_waker: None,
            rx_closed: false,
            consumed: 0,
            rx_started: false,
            declared_len: None,
        })))
    }

    fn lock(&self) -> MutexGuard<'_, ChanState> {
        // A panic while holding this lock cannot leave the state torn (every
        // update is a few plain assignments), so a poisoned lock is used as is.
        self.0.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn finished(s: &ChanState) -> bool {
        s.ended || s.error.is_some()
    }

    /// Sender side: queues `data` whatever the capacity (the driver bounds
    /// what it pushes by not reading). `false` (and `data` dropped) if the
    /// receiver is gone or the body already ended.
    pub(crate) fn push(&self, data: Bytes) -> bool {
        let mut s = self.lock();
        if s.rx_closed || Self::finished(&s) {
            return false;
        }
        if data.is_empty() {
            return true;
        }
        s.buffered += data.len();
        s.chunks.push_back(data);
        if let Some(w) = s.rx_waker.take() {
            drop(s);
            w.wake();
        }
        true
    }

    /// Sender side: waits for room, then queues `data`.
    fn poll_send(&self, cx: &mut Context<'_>, data: &mut Option<Bytes>) -> Poll<io::Result<()>> {
        let mut s = self.lock();
        if s.rx_closed {
            return Poll::Ready(Err(io::Error::new(io::ErrorKind::BrokenPipe, "body receiver dropped")));
        }
        if s.buffered >= s.cap {
            s.tx_waker = Some(cx.waker().clone());
            return Poll::Pending;
        }
        drop(s);
        if let Some(d) = data.take() {
            self.push(d);
        }
        Poll::Ready(Ok(()))
    }

    /// Sender side: the body is complete, with optional trailers.
    pub(crate) fn finish(&self, trailers: Option<HeaderList>) {
        let mut s = self.lock();
        if Self::finished(&s) {
            return;
        }
        s.ended = true;
        s.trailers = trailers;
        if let Some(w) = s.rx_waker.take() {
            drop(s);
            w.wake();
        }
    }

    /// Sender side: the body is broken; the receiver sees an error.
    pub(crate) fn fail(&self, error: Error) {
        let mut s = self.lock();
        if Self::finished(&s) {
            return;
        }
        s.error = Some(error);
        if let Some(w) = s.rx_waker.take() {
            drop(s);
            w.wake();
        }
    }

    /// Sender side: bytes the receiver consumed since the last call.
    pub(crate) fn take_consumed(&self) -> usize {
        std::mem::take(&mut self.lock().consumed)
    }

    /// Bytes queued and not yet taken by the receiver.
    pub(crate) fn buffered(&self) -> usize {
        self.lock().buffered
    }

    /// Sender side: if more than `limit` bytes are unread, `waker` is woken
    /// when the receiver consumes some or goes away; returns whether.
    pub(crate) fn watch_unread(&self, limit: usize, waker: &Waker) -> bool {
        let mut s = self.lock();
        if s.buffered <= limit {
            return false;
        }
        match &s.tx_waker {
            Some(w) if w.will_wake(waker) => {}
            _ => s.tx_waker = Some(waker.clone()),
        }
        true
    }

    /// Sender side: whether the receiver has started reading (polled once).
    pub(crate) fn rx_started(&self) -> bool {
        self.lock().rx_started
    }

    /// Receiver side.
    fn poll_chunk(&self, cx: &mut Context<'_>) -> Poll<Option<io::Result<Bytes>>> {
        let mut s = self.lock();
        let first = !s.rx_started;
        s.rx_started = true;
        let result = if let Some(chunk) = s.chunks.pop_front() {
            s.buffered -= chunk.len();
            s.consumed += chunk.len();
            Poll::Ready(Some(Ok(chunk)))
        } else if let Some(error) = &s.error {
            Poll::Ready(Some(Err(error.clone().into())))
        } else if s.ended {
            Poll::Ready(None)
        } else {
            s.rx_waker = Some(cx.waker().clone());
            Poll::Pending
        };
        if result.is_ready() || first {
            if let Some(w) = s.tx_waker.take() {
                drop(s);
                w.wake();
            }
        }
        result
    }

    fn take_trailers(&self) -> Option<HeaderList> {
        self.lock().trailers.take()
    }

    fn close_receiver(&self) {
        let mut s = self.lock();
        s.rx_closed = true;
        s.consumed += s.buffered;
        s.buffered = 0;
        s.chunks.clear();
        if let Some(w) = s.tx_waker.take() {
            drop(s);
            w.wake();
        }
    }
}

enum Kind {
    Empty,
    Full(Bytes),
    Chan(Chan),
}

/// A message body: an async stream of [`Bytes`] chunks, then optional
/// trailers.
///
/// Request bodies a server receives and response bodies a client receives
/// are streamed as they arrive, under backpressure: what the driver holds for
/// an unread body is bounded, and the peer is slowed down (HTTP/2 flow
/// control, or by no longer reading the socket) until the body is read.
///
/// ```
/// use sockless_core::Bytes;
/// use sockless_rt::Body;
///
/// async fn example() -> std::io::Result<()> {
///     let (mut tx, body) = Body::channel();
///     // Usually another task sends while the body is read; the channel
///     // holds up to 64 KiB, enough for this example.
///     tx.send(Bytes::from_static(b"hello ")).await?;
///     tx.send(Bytes::from_static(b"world")).await?;
///     tx.finish();
///     assert_eq!(&body.collect(1024).await?[..], b"hello world");
///     Ok(())
/// }
/// ```
pub struct Body {
    kind: Kind,
    /// Boxed: rare, and a `Body` is moved with every request and response.
    trailers: Option<Box<HeaderList>>,
}

impl Body {
    /// A body with no bytes.
    pub fn empty() -> Body {
        Body { kind: Kind::Empty, trailers: None }
    }

    /// A body fed through the returned [`BodySender`], holding at most
    /// [`DEFAULT_CHANNEL_CAPACITY`] unread bytes.
    pub fn channel() -> (BodySender, Body) {
        Body::channel_with_capacity(DEFAULT_CHANNEL_CAPACITY)
    }

    /// A body fed through the returned [`BodySender`], whose
    /// [`send`](BodySender::send) waits while `capacity` or more bytes are unread.
    pub fn channel_with_capacity(capacity: usize) -> (BodySender, Body) {
        let chan = Chan::new(capacity);
        (BodySender { chan: chan.clone(), done: false }, Body::from_chan(chan))
    }

    /// A body of `len` bytes fed through the returned [`BodySender`] (a
    /// file of known size, say), holding at most [`DEFAULT_CHANNEL_CAPACITY`]
    /// unread bytes. Its length is known in advance, so a response carrying
    /// it goes out with `Content-Length` rather than chunked. The sender must
    /// send exactly `len` bytes: the connection refuses more, and fewer
    /// breaks the message off (HTTP/1.1 closes, HTTP/2 resets the stream).
    pub fn sized_channel(len: usize) -> (BodySender, Body) {
        let (tx, body) = Body::channel();
        tx.chan.lock().declared_len = Some(len);
        (tx, body)
    }

    pub(crate) fn from_chan(chan: Chan) -> Body {
        Body { kind: Kind::Chan(chan), trailers: None }
    }

    /// Whether this body is known to hold no bytes and no trailers (then a
    /// message is sent without one).
    pub fn is_empty(&self) -> bool {
        match &self.kind {
            Kind::Empty => true,
            Kind::Full(b) => b.is_empty(),
            Kind::Chan(_) => false,
        }
    }

    /// The length, when known in advance: an empty or a full body, or one
    /// from [`Body::sized_channel`].
    pub fn known_len(&self) -> Option<usize> {
        match &self.kind {
            Kind::Empty => Some(0),
            Kind::Full(b) => Some(b.len()),
            Kind::Chan(c) => c.lock().declared_len,
        }
    }

    /// Bytes received by the driver and not yet read from this body.
    pub fn buffered(&self) -> usize {
        match &self.kind {
            Kind::Chan(c) => c.buffered(),
            Kind::Full(b) => b.len(),
            Kind::Empty => 0,
        }
    }

    /// The next chunk: `None` at the end of the body, an error if the body
    /// broke off (the peer reset the stream, the connection closed, the
    /// sender was dropped without [`BodySender::finish`]).
    pub fn poll_chunk(&mut self, cx: &mut Context<'_>) -> Poll<Option<io::Result<Bytes>>> {
        match &mut self.kind {
            Kind::Empty => Poll::Ready(None),
            Kind::Full(b) => {
                let b = std::mem::take(b);
                self.kind = Kind::Empty;
                Poll::Ready(if b.is_empty() { None } else { Some(Ok(b)) })
            }
            Kind::Chan(c) => {
                let r = c.poll_chunk(cx);
                if let Poll::Ready(None) = r {
                    self.trailers = c.take_trailers().map(Box::new);
                }
                r
            }
        }
    }

    /// The next chunk, waiting for it: `None` at the end of the body.
    pub async fn next_chunk(&mut self) -> Option<io::Result<Bytes>> {
        poll_fn(|cx| self.poll_chunk(cx)).await
    }

    /// The trailers, once [`next_chunk`](Self::next_chunk) returned `None`.
    pub fn trailers(&mut self) -> Option<HeaderList> {
        self.trailers.take().map(|t| *t)
    }

    /// Takes the bytes of a body held whole in one buffer (leaving it
    /// empty), so the driver can send them in one piece; `None` for other
    /// bodies.
    pub(crate) fn take_full(&mut self) -> Option<Bytes> {
        match &mut self.kind {
            Kind::Full(b) => {
                let b = std::mem::take(b);
                self.kind = Kind::Empty;
                Some(b)
            }
            _ => None,
        }
    }

    /// The bytes of a body that can be sent again as it is (an empty or
    /// a full body without trailers); `None` for a streamed one.
    pub(crate) fn replayable(&self) -> Option<Bytes> {
        match (&self.kind, &self.trailers) {
            (Kind::Empty, None) => Some(Bytes::new()),
            (Kind::Full(b), None) => Some(b.clone()),
            _ => None,
        }
    }

    pub(crate) fn peek_trailers(&mut self) -> Option<HeaderList> {
        self.trailers.take().map(|t| *t)
    }

    /// Reads the whole body into one buffer; an error of kind
    /// [`ErrorKind::BodyTooLarge`] (`io::ErrorKind::InvalidData`) if it
    /// exceeds `limit` bytes.
    pub async fn collect(mut self, limit: usize) -> io::Result<Bytes> {
        let mut first: Option<Bytes> = None;
        let mut all = BytesMut::new();
        let mut total = 0usize;
        while let Some(chunk) = self.next_chunk().await {
            let chunk = chunk?;
            total += chunk.len();
            if total > limit {
                let message = format!("body exceeds the limit of {limit} bytes");
                return Err(Error::new(ErrorKind::BodyTooLarge, message).into());
            }
            match first.take() {
                None if all.is_empty() => first = Some(chunk),
                Some(f) => {
                    all.extend_from_slice(&f);
                    all.extend_from_slice(&chunk);
                }
                None => all.extend_from_slice(&chunk),
            }
        }
        Ok(first.unwrap_or_else(|| all.freeze()))
    }
}

impl Drop for Body {
    fn drop(&mut self) {
        if let Kind::Chan(c) = &self.kind {
            c.close_receiver();
        }
    }
}

impl Default for Body {
    fn default() -> Self {
        Body::empty()
    }
}

impl From<Bytes> for Body {
    fn from(b: Bytes) -> Body {
        Body { kind: Kind::Full(b), trailers: None }
    }
}

impl From<&'static str> for Body {
    fn from(s: &'static str) -> Body {
        Body::from(Bytes::from_static(s.as_bytes()))
    }
}

impl From<Vec<u8>> for Body {
    fn from(v: Vec<u8>) -> Body {
        Body::from(Bytes::from(v))
    }
}

impl From<&'static [u8]> for Body {
    fn from(b: &'static [u8]) -> Body {
        Body::from(Bytes::from_static(b))
    }
}

impl From<Box<[u8]>> for Body {
    fn from(b: Box<[u8]>) -> Body {
        Body::from(Bytes::from(b))
    }
}

impl From<String> for Body {
    fn from(s: String) -> Body {
        Body::from(Bytes::from(s))
    }
}

impl From<Box<str>> for Body {
    fn from(s: Box<str>) -> Body {
        Body::from(String::from(s))
    }
}

impl From<std::borrow::Cow<'static, str>> for Body {
    fn from(s: std::borrow::Cow<'static, str>) -> Body {
        match s {
            std::borrow::Cow::Borrowed(s) => Body::from(s),
            std::borrow::Cow::Owned(s) => Body::from(s),
        }
    }
}

impl From<std::borrow::Cow<'static, [u8]>> for Body {
    fn from(b: std::borrow::Cow<'static, [u8]>) -> Body {
        match b {
            std::borrow::Cow::Borrowed(b) => Body::from(b),
            std::borrow::Cow::Owned(b) => Body::from(b),
        }
    }
}

impl From<BytesMut> for Body {
    fn from(b: BytesMut) -> Body {
        Body::from(b.freeze())
    }
}

impl fmt::Debug for Body {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.kind {
            Kind::Empty => f.write_str("Body::Empty"),
            Kind::Full(b) => write!(f, "Body::Full({} bytes)", b.len()),
            Kind::Chan(_) => f.write_str("Body::Streaming"),
        }
    }
}

/// The sending end of [`Body::channel`].
///
/// End the body with [`finish`](Self::finish) or
/// [`send_trailers`](Self::send_trailers). Dropping the sender without
/// either breaks the body off: the reader sees an error and an HTTP/2
/// stream is reset (so a handler that panics never yields a truncated body
/// that looks complete).
pub struct BodySender {
    chan: Chan,
    done: bool,
}

impl BodySender {
    /// Sends a chunk, waiting while the channel is full (backpressure). An
    /// error of kind `BrokenPipe` if the body's reader is gone (the peer
    /// reset the stream or the connection closed).
    pub async fn send(&mut self, data: Bytes) -> io::Result<()> {
        let mut data = Some(data);
        poll_fn(|cx| self.chan.poll_send(cx, &mut data)).await
    }

    /// Whether the reader is gone: nothing sent will be read.
    pub fn is_closed(&self) -> bool {
        self.chan.lock().rx_closed
    }

    /// Ends the body.
    pub fn finish(mut self) {
        self.done = true;
        self.chan.finish(None);
    }

    /// Ends the body with trailers.
    pub fn send_trailers(mut self, trailers: HeaderList) {
        self.done = true;
        self.chan.finish(Some(trailers));
    }

    /// Breaks the body off: the reader sees an error (a stream being sent is reset).
    pub fn abort(mut self) {
        self.done = true;
        self.chan.fail(Error::new(ErrorKind::BodyAborted, "body aborted by its sender"));
    }
}

impl Drop for BodySender {
    fn drop(&mut self) {
        if !self.done {
            self.chan.fail(Error::new(ErrorKind::BodyAborted, "body sender dropped before finish"));
        }
    }
}

impl fmt::Debug for BodySender {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("BodySender")
    }
}

/// A one-shot slot: one value from one side to a waiting task.
pub(crate) struct Oneshot<T>(Arc<Mutex<Slot<T>>>);

struct Slot<T> {
    value: Option<T>,
    waker: Option<Waker>,
    set: bool,
}

impl<T> fmt::Debug for Oneshot<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Oneshot").field("set", &self.is_set()).finish()
    }
}

impl<T> Clone for Oneshot<T> {
    fn clone(&self) -> Self {
        Oneshot(self.0.clone())
    }
}

impl<T> Oneshot<T> {
    pub(crate) fn new() -> Self {
        Oneshot(Arc::new(Mutex::new(Slot { value: None, waker: None, set: false })))
    }

    fn lock(&self) -> MutexGuard<'_, Slot<T>> {
        self.0.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Delivers `value` (only the first delivery counts).
    pub(crate) fn put(&self, value: T) {
        let mut s = self.lock();
        if s.set {
            return;
        }
        s.value = Some(value);
        s.set = true;
        if let Some(w) = s.waker.take() {
            drop(s);
            w.wake();
        }
    }

    pub(crate) fn is_set(&self) -> bool {
        self.lock().set
    }

    /// Whether both are the same slot.
    pub(crate) fn same(&self, other: &Oneshot<T>) -> bool {
        Arc::ptr_eq(&self.0, &other.0)
    }

    pub(crate) fn poll_take(&self, cx: &mut Context<'_>) -> Poll<Option<T>> {
        let mut s = self.lock();
        if s.set {
            return Poll::Ready(s.value.take());
        }
        s.waker = Some(cx.waker().clone());
        Poll::Pending
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::future::Future;
    use std::pin::pin;

    fn block_on<F: Future>(f: F) -> F::Output {
        let mut f = pin!(f);
        let mut cx = Context::from_waker(Waker::noop());
        loop {
            if let Poll::Ready(v) = f.as_mut().poll(&mut cx) {
                return v;
            }
        }
    }

    #[test]
    fn channel_streams_chunks_and_trailers() {
        let (mut tx, mut body) = Body::channel_with_capacity(4);
        block_on(tx.send(Bytes::from_static(b"abc"))).unwrap();
        block_on(tx.send(Bytes::from_static(b"de"))).unwrap();
        // Full now: a third send waits.
        let mut cx = Context::from_waker(Waker::noop());
        let mut third = Some(Bytes::from_static(b"f"));
        assert!(tx.chan.poll_send(&mut cx, &mut third).is_pending());
        assert_eq!(body.buffered(), 5);
        assert_eq!(&block_on(body.next_chunk()).unwrap().unwrap()[..], b"abc");
        let mut trailers = HeaderList::new();
        trailers.push("x-done", "1");
        tx.send_trailers(trailers);
        assert_eq!(&block_on(body.next_chunk()).unwrap().unwrap()[..], b"de");
        assert!(block_on(body.next_chunk()).is_none());
        assert!(body.trailers().is_some());
    }

    #[test]
    fn common_types_convert_into_full_bodies() {
        let bodies = [
            Body::from(String::from("abc")),
            Body::from(Box::<[u8]>::from(&b"abc"[..])),
            Body::from(Box::<str>::from("abc")),
            Body::from(&b"abc"[..]),
            Body::from(std::borrow::Cow::Borrowed("abc")),
            Body::from(std::borrow::Cow::<'static, [u8]>::Owned(b"abc".to_vec())),
            Body::from(BytesMut::from(&b"abc"[..])),
            Body::from(vec![b'a', b'b', b'c']),
        ];
        for body in bodies {
            assert_eq!(body.known_len(), Some(3));
            assert_eq!(&block_on(body.collect(3)).unwrap()[..], b"abc");
        }
        let (_tx, sized) = Body::sized_channel(10);
        assert_eq!(sized.known_len(), Some(10));
        assert!(!sized.is_empty());
    }

    #[test]
    fn dropped_sender_breaks_the_body() {
        let (tx, body) = Body::channel();
        drop(tx);
        assert!(block_on(body.collect(10)).is_err());
    }

    #[test]
    fn collect_enforces_its_limit() {
        let e = block_on(Body::from("0123456789").collect(5)).unwrap_err();
        assert_eq!(Error::of(&e).map(Error::kind), Some(ErrorKind::BodyTooLarge), "{e}");
        assert_eq!(&block_on(Body::from("01234").collect(5)).unwrap()[..], b"01234");
        assert!(block_on(Body::empty().collect(0)).unwrap().is_empty());
    }

    #[test]
    fn dropped_receiver_fails_sends_and_counts_as_consumed() {
        let (mut tx, body) = Body::channel();
        block_on(tx.send(Bytes::from_static(b"abc"))).unwrap();
        drop(body);
        assert_eq!(tx.chan.take_consumed(), 3);
        assert_eq!(block_on(tx.send(Bytes::from_static(b"x"))).unwrap_err().kind(), io::ErrorKind::BrokenPipe);
    }
}
