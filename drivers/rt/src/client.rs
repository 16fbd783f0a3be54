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
    /// Errors: the connection is closed or closes before the response head
    /// arrives, the peer reset the stream, or the request head is invalid.
    pub async fn send(&self, request: Request) -> io::Result<Response> {
        let slot = Oneshot::new();
        self.inner.shared.push(Cmd::Request(request, slot.clone()));
        match poll_fn(|cx| slot.poll_take(cx)).await {
            Some(result) => result,
            None => Err(io::Error::new(io::ErrorKind::NotConnected, "connection closed")),
        }
    }

    /// Whether the connection task has finished (every later
    /// [`send`](Self::send) fails).
    pub fn is_closed(&self) -> bool {
        self.inner.shared.is_closed()
    }
}

impl fmt::Debug for ClientHandle {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ClientHandle").field("closed", &self.is_closed()).finish()
    }
}
