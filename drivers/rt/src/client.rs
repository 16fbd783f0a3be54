//! The client: one connection task, and handles that send requests over it.

use crate::body::Oneshot;
use crate::pump::{Cmd, Mode, NoHandler, Pump, Shared};
use crate::{Clock, Error, ErrorKind, Io, Request, Response, Runtime};
use sockless_core::{Bytes, Connection, RequestHead, UserError, Version};
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
    /// The authority requests without one are sent to (their `Host`).
    authority: Option<Bytes>,
}

/// How a client connection runs.
#[derive(Clone, Debug, Default)]
pub struct ClientOptions {
    /// The authority (`host` or `host:port`) of the server the connection
    /// goes to. A request whose target names none (origin-form such as
    /// `"/"`, and no `Host` field) gets it as its `Host` field (HTTP/2:
    /// `:authority`), as a hyper or reqwest user expects of a connection
    /// made to a URL. Without it such a request is refused before it is
    /// sent ([`ErrorKind::InvalidRequest`](crate::ErrorKind::InvalidRequest)),
    /// rather than answered 400 by the server. `sockless_tokio::connect`
    /// and `sockless_smol::connect` set the address they connected to.
    pub authority: Option<String>,
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
        ClientHandle::spawn_with(rt, io, connection, ClientOptions::default())
    }

    /// [`spawn`](Self::spawn) with `options` (the server's authority):
    ///
    /// ```no_run
    /// # async fn f<R: sockless_rt::Runtime, I: sockless_rt::Io>(rt: R, io: I) -> std::io::Result<()> {
    /// use sockless_core::{Instant, Method, RequestHead};
    /// use sockless_rt::{Body, ClientHandle, ClientOptions, Request};
    ///
    /// let conn = sockless_h1::ClientConnection::new(sockless_h1::Config::client(), Instant::ZERO);
    /// let options = ClientOptions { authority: Some("example.com".into()) };
    /// let client = ClientHandle::spawn_with(&rt, io, conn, options);
    /// // Sent with `Host: example.com`.
    /// let response = client.send(Request::new(RequestHead::new(Method::Get, "/"), Body::empty())).await?;
    /// # let _ = response; Ok(()) }
    /// ```
    pub fn spawn_with<R, I, C>(rt: &R, io: I, connection: C, options: ClientOptions) -> ClientHandle
    where
        R: Runtime,
        I: Io,
        C: Connection + Send + 'static,
    {
        let shared = Arc::new(Shared::default());
        shared.add_handle(1);
        let clock = Clock::new(rt.now());
        let pump = Pump::new(rt.clone(), io, connection, clock, shared.clone(), Mode::<NoHandler>::Client, 256 * 1024);
        rt.spawn(async move {
            pump.await;
        });
        let authority = options.authority.map(Bytes::from);
        ClientHandle { inner: Arc::new(HandleInner { shared, authority }) }
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
    pub async fn send(&self, mut request: Request) -> io::Result<Response> {
        self.give_authority(&mut request.head)?;
        let slot = Oneshot::new();
        self.inner.shared.push(Cmd::Request(request, slot.clone()));
        let waiting = Waiting { shared: &self.inner.shared, slot };
        match poll_fn(|cx| waiting.slot.poll_take(cx)).await {
            Some(result) => result,
            None => Err(crate::Error::closed().into()),
        }
    }

    /// Gives a request that names no authority the connection's (see
    /// [`ClientOptions::authority`]); refuses it if there is none.
    fn give_authority(&self, head: &mut RequestHead) -> Result<(), Error> {
        if head.authority().is_some() || head.version == Version::Http10 {
            return Ok(());
        }
        match &self.inner.authority {
            Some(authority) => {
                head.headers.push("host", authority);
                Ok(())
            }
            None => Err(Error::new(
                ErrorKind::InvalidRequest(UserError::InvalidTarget),
                "request has no authority: give an absolute-form target, a Host field, or ClientOptions::authority",
            )),
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
