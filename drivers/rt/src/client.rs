//! The client: one connection task, and handles that send requests over it.

use crate::body::Oneshot;
use crate::pump::{Cmd, Mode, NoHandler, Pump, Shared};
use crate::{Clock, Io, Request, Response, Runtime};
use sockless_core::Connection;
use std::fmt;
use std::future::poll_fn;
use std::io;
use std::sync::Arc;

/// Sends requests over one client connection (HTTP/1.1 or HTTP/2, with or
/// without TLS: whatever [`Connection`] it was spawned with).
///
/// Clones share the connection and may send concurrently: HTTP/2
/// multiplexes the requests as streams (up to the peer's stream limit, then
/// they wait); HTTP/1.1 sends them one at a time, each as soon as the
/// previous exchange finished with the connection reusable. When the last
/// handle is dropped and nothing is in flight, the connection shuts down
/// gracefully.
#[derive(Clone)]
pub struct ClientHandle {
    inner: Arc<HandleInner>,
}

struct HandleInner {
    shared: Arc<Shared>,
}

impl Drop for HandleInner {
    fn drop(&mut self) {
        self.shared.add_handle(-1);
    }
}

impl ClientHandle {
    /// Spawns the connection task for `connection` over `io` on `rt`.
    ///
    /// The driver's clock starts at [`Instant::ZERO`](sockless_core::Instant::ZERO)
    /// when this is called: create `connection` at `Instant::ZERO`.
    pub fn spawn<R, I, C>(rt: &R, io: I, connection: C) -> ClientHandle
    where
        R: Runtime,
        I: Io,
        C: Connection + Send + 'static,
    {
        let shared = Arc::new(Shared::default());
        shared.add_handle(1);
        let clock = Clock::new(rt.now());
        let pump = Pump::new(rt.clone(), io, connection, clock, shared.clone(), Mode::<NoHandler>::Client, 256 * 1024);
        rt.spawn(pump);
        ClientHandle { inner: Arc::new(HandleInner { shared }) }
    }

    /// Sends `request` (its body streamed as the connection takes it) and
    /// waits for the response head; the response body streams in after.
    ///
    /// Dropping the returned future before it completes (a timeout, say)
    /// cancels the request: not yet sent, it never is; in flight, its
    /// stream is reset (HTTP/2 RST_STREAM CANCEL; on HTTP/1.1 the
    /// connection closes, the only way to abandon an exchange). Dropping a
    /// response's body before its end resets the stream on HTTP/2; on
    /// HTTP/1.1 the rest is read and discarded, so the connection stays
    /// usable.
    ///
    /// Over HTTP/2 a request the server refuses unprocessed (REFUSED_STREAM)
    /// is sent again on this connection without the caller seeing it, when
    /// its body is empty or one buffer (a streamed body cannot be sent
    /// twice: its refusal is an error, safe to retry elsewhere).
    ///
    /// Errors are `io::Error`s wrapping a [`sockless_rt::Error`](crate::Error)
    /// (find it with [`Error::of`](crate::Error::of)) whose
    /// [`kind`](crate::Error::kind) says what happened: the TLS handshake
    /// failed ([`ErrorKind::Tls`](crate::ErrorKind::Tls) with its reason), the
    /// peer broke the protocol, reset the stream or sent GOAWAY, a timer of
    /// the connection expired, the connection closed before the response
    /// head arrived, or the request cannot be sent as it is. Errors reading
    /// the response body are the same kind of value.
    pub async fn send(&self, request: Request) -> io::Result<Response> {
        let slot = Oneshot::new();
        self.inner.shared.push(Cmd::Request(request, slot.clone()));
        let waiting = Waiting { shared: &self.inner.shared, slot };
        match poll_fn(|cx| waiting.slot.poll_take(cx)).await {
            Some(result) => result,
            None => Err(crate::Error::closed().into()),
        }
    }

    /// Whether the connection task has finished (every later
    /// [`send`](Self::send) fails).
    pub fn is_closed(&self) -> bool {
        self.inner.shared.is_closed()
    }
}

/// A `send` waiting for its response; dropped before the response came, it
/// cancels the request.
struct Waiting<'a> {
    shared: &'a Arc<Shared>,
    slot: Oneshot<io::Result<Response>>,
}

impl Drop for Waiting<'_> {
    fn drop(&mut self) {
        if !self.slot.is_set() {
            self.shared.push(Cmd::Cancel(self.slot.clone()));
        }
    }
}

impl fmt::Debug for ClientHandle {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ClientHandle").field("closed", &self.is_closed()).finish()
    }
}
