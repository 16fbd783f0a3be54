//! The driver's end of a received body, for drivers outside this crate (the
//! epoll loop): what the async pump does with a body's channel, as a public
//! handle, so every driver hands the application the same [`Body`].

use crate::body::{Body, Chan};
use sockless_core::{Bytes, HeaderList};
use std::task::Waker;

/// Feeds a received body (a request body on a server, a response body on a
/// client) to the [`Body`] the application reads, and tells the driver how
/// far the application has read: what to give back to HTTP/2 flow control,
/// when to stop reading an HTTP/1.1 socket.
///
/// ```
/// use sockless_core::Bytes;
/// use sockless_rt::BodyFeed;
///
/// let (feed, mut body) = BodyFeed::new(1024);
/// assert!(feed.push(Bytes::from_static(b"hello")));
/// feed.finish(None);
/// let waker = std::task::Waker::noop();
/// let mut cx = std::task::Context::from_waker(&waker);
/// assert!(matches!(body.poll_chunk(&mut cx), std::task::Poll::Ready(Some(Ok(_)))));
/// assert_eq!(feed.take_consumed(), 5);
/// ```
#[derive(Clone)]
pub struct BodyFeed {
    chan: Chan,
}

impl BodyFeed {
    /// A feed and the body it feeds; `watch_unread` limits are usually
    /// `capacity` (the most unread bytes the driver means to hold).
    pub fn new(capacity: usize) -> (BodyFeed, Body) {
        let chan = Chan::new(capacity);
        (BodyFeed { chan: chan.clone() }, Body::from_chan(chan))
    }

    /// Queues received bytes whatever the capacity (the driver bounds what
    /// it pushes by not reading, or by flow control). `false` (and `data`
    /// dropped) if the body is no longer read: the driver then counts the
    /// bytes as consumed.
    pub fn push(&self, data: Bytes) -> bool {
        self.chan.push(data)
    }

    /// The body is complete, with optional trailers.
    pub fn finish(&self, trailers: Option<HeaderList>) {
        self.chan.finish(trailers)
    }

    /// The body broke off (the stream was reset, the connection closed):
    /// the reader sees `error`.
    pub fn fail(&self, error: crate::Error) {
        self.chan.fail(error)
    }

    /// Bytes the reader consumed since the last call (to give back to
    /// HTTP/2 flow control with `release_capacity`).
    pub fn take_consumed(&self) -> usize {
        self.chan.take_consumed()
    }

    /// Bytes pushed and not yet read.
    pub fn buffered(&self) -> usize {
        self.chan.buffered()
    }

    /// If more than `limit` bytes are unread, `waker` is woken once the
    /// reader consumes some or goes away; returns whether that is so.
    pub fn watch_unread(&self, limit: usize, waker: &Waker) -> bool {
        self.chan.watch_unread(limit, waker)
    }

    /// Whether the reader has started reading (polled the body once): then
    /// a `100 Continue` the peer waits for may go out (`read_body`).
    pub fn started(&self) -> bool {
        self.chan.rx_started()
    }
}
