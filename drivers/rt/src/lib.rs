//! # sockless-rt
//!
//! The async driver of sockless, written once against a small runtime and
//! IO trait so that every async runtime shares one pump:
//!
//! * [`Io`], [`Runtime`] and [`Listener`]: what a runtime adapter provides
//!   (sockless-tokio and sockless-smol are a few dozen lines each).
//! * The connection task: reads into the [`Connection`]'s own buffer,
//!   writes its output with vectored writes, sleeps until its next
//!   deadline, routes its events to the application's tasks and their
//!   commands back, in the order the contract asks.
//! * [`serve`] / [`serve_with`]: an accept loop with a ceiling on open
//!   connections (the longest-idle one makes room for a new client) and
//!   graceful shutdown; each request (each HTTP/2 stream) runs its handler
//!   in its own task, optionally under a bounded worker pool. The driver
//!   does the framing a hyper user expects (Content-Length for known
//!   lengths, no body for HEAD, 204 and 304, `Date`), answers 500 for a
//!   handler that panics, tells each request its connection
//!   ([`Request::connection`]: addresses, TLS facts, per-connection state),
//!   and hands the transport over on an upgrade ([`Request::upgrade`]).
//! * [`ClientHandle`]: one client connection that sends requests and
//!   streams responses, many at once over HTTP/2 (a stream the server
//!   refuses unprocessed is sent again); its errors carry an [`ErrorKind`].
//! * [`Body`]: a streamed body with backpressure. What the driver holds for
//!   an unread body is bounded; received bytes are handed back to HTTP/2
//!   flow control as the application reads them.
//!
//! ```no_run
//! use sockless_core::{Instant, ResponseHead};
//! use sockless_rt::{serve, Body, Request, Response, Runtime, Listener, ServerOptions};
//!
//! /// An echo server over any runtime: the request body streams straight
//! /// back as the response body.
//! async fn echo<R: Runtime, L: Listener>(rt: R, listener: L) -> std::io::Result<()> {
//!     let make = |now: Instant| sockless_h1::ServerConnection::new(sockless_h1::Config::server(), now);
//!     let handler = |req: Request| async move { Response::new(ResponseHead::new(200), req.body) };
//!     serve(rt, listener, make, handler, ServerOptions::default()).await
//! }
//! # let _ = Body::empty();
//! ```
//!
//! A client (over HTTP/2 the handle may be cloned and used concurrently):
//!
//! ```no_run
//! use sockless_core::{Instant, Method, RequestHead};
//! use sockless_rt::{Body, ClientHandle, Io, Request, Runtime};
//!
//! async fn get<R: Runtime, I: Io>(rt: R, io: I) -> std::io::Result<()> {
//!     let conn = sockless_h2::H2Connection::client(sockless_h2::Config::client(), Instant::ZERO);
//!     let client = ClientHandle::spawn(&rt, io, conn);
//!     let head = RequestHead::new(Method::Get, "https://example.com/");
//!     let response = client.send(Request::new(head, Body::empty())).await?;
//!     let body = response.body.collect(1 << 20).await?;
//!     println!("{} {} bytes", response.head.status, body.len());
//!     Ok(())
//! }
//! ```
#![forbid(unsafe_code)]
#![warn(missing_docs)]

mod body;
mod client;
mod connection_info;
pub mod cycle;
mod error;
mod feed;
mod framing;
#[cfg(feature = "http")]
mod http_compat;
#[cfg(feature = "client")]
mod hub;
mod idle;
mod pump;
mod server;
mod sync;
#[cfg(feature = "testkit")]
#[doc(hidden)]
pub mod testkit;
mod upgrade;

pub use body::{Body, BodySender, DEFAULT_CHANNEL_CAPACITY};
pub use client::{ClientHandle, ClientOptions};
pub use connection_info::{Accept, ConnectionInfo};
pub use error::{Error, ErrorKind};
pub use feed::BodyFeed;
pub use framing::ResponseRules;
pub use http::Extensions;
#[cfg(feature = "http")]
pub use http_compat::{http_handler, HttpFuture};
#[cfg(feature = "client")]
pub use hub::{
    Client, ClientConfig, ClientError, ClientRequest, ClientResponse, Dial, HttpVersion, RequestBody, RequestBuilder,
    ResponseBody,
};
pub use server::{serve, serve_with, ErrorLog, ServerOptions, ShutdownSignal};
pub use sockless_core::{Connection, Instant};
pub use upgrade::{OnUpgrade, Upgraded};

use sockless_core::{RequestHead, ResponseHead};
use std::future::Future;
use std::io::{self, IoSlice};
use std::net::SocketAddr;
use std::pin::Pin;
use std::task::{Context, Poll};

/// A byte transport (a TCP stream, a TLS-free pipe): what the connection
/// task reads from and writes to. Runtime adapters implement it.
pub trait Io: Unpin + Send + 'static {
    /// Reads into `buf`; `Ok(0)` is end of stream.
    fn poll_read(&mut self, cx: &mut Context<'_>, buf: &mut [u8]) -> Poll<io::Result<usize>>;

    /// Writes from `bufs` in order, as one vectored write where the
    /// transport can; returns how many bytes were written.
    fn poll_write_vectored(&mut self, cx: &mut Context<'_>, bufs: &[IoSlice<'_>]) -> Poll<io::Result<usize>>;

    /// Whether a read may find bytes: `Pending` (and the task woken when
    /// that changes) if the transport knows it has none. The connection task
    /// asks before every read but the first of a wake-up, so that a read that
    /// would only find the socket empty does not cost lending and giving back
    /// the connection's input buffer. The default says `Ready` (just read).
    fn poll_read_ready(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let _ = cx;
        Poll::Ready(Ok(()))
    }

    /// Flushes buffered output, if the transport buffers.
    fn poll_flush(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>>;

    /// Shuts down the writing side.
    fn poll_shutdown(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>>;

    /// Our address of the connection, when the transport has one (a TCP
    /// stream); `None` by default. Servers hand it to requests
    /// ([`ConnectionInfo::local_addr`]).
    fn local_addr(&self) -> Option<SocketAddr> {
        None
    }

    /// Sets `TCP_NODELAY` where the transport is TCP; a no-op by default.
    fn set_nodelay(&self, nodelay: bool) -> io::Result<()> {
        let _ = nodelay;
        Ok(())
    }
}

/// What the driver needs from an async runtime: spawning and sleeping.
pub trait Runtime: Clone + Send + Sync + 'static {
    /// The future [`sleep_until`](Self::sleep_until) returns (its output is ignored).
    type Sleep: Future + Send + 'static;

    /// Runs `future` to completion as a task of its own.
    fn spawn<F: Future<Output = ()> + Send + 'static>(&self, future: F);

    /// A future that completes at `deadline`.
    fn sleep_until(&self, deadline: std::time::Instant) -> Self::Sleep;

    /// Moves a pending sleep to a new deadline (the default builds a new one).
    fn reset_sleep(&self, mut sleep: Pin<&mut Self::Sleep>, deadline: std::time::Instant) {
        sleep.set(self.sleep_until(deadline));
    }

    /// The runtime's clock (the default is [`std::time::Instant::now`]).
    fn now(&self) -> std::time::Instant {
        std::time::Instant::now()
    }
}

/// A source of incoming connections (a TCP listener).
pub trait Listener: Send + 'static {
    /// The transport of an accepted connection.
    type Io: Io;

    /// Accepts the next connection and its peer's address.
    fn poll_accept(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<(Self::Io, SocketAddr)>>;
}

/// Maps a runtime's clock onto sockless [`Instant`]s: nanoseconds since an
/// epoch (the moment a server or client connection started).
#[derive(Clone, Copy, Debug)]
pub struct Clock {
    epoch: std::time::Instant,
}

impl Clock {
    /// A clock whose [`Instant::ZERO`] is `epoch`.
    pub fn new(epoch: std::time::Instant) -> Clock {
        Clock { epoch }
    }

    /// The sockless instant of `t` (instants before the epoch map to zero).
    pub fn at(&self, t: std::time::Instant) -> Instant {
        let nanos = t.saturating_duration_since(self.epoch).as_nanos();
        Instant::from_nanos(u64::try_from(nanos).unwrap_or(u64::MAX))
    }

    /// The runtime instant of `t`.
    pub fn to_std(&self, t: Instant) -> std::time::Instant {
        let d = std::time::Duration::from_nanos(t.as_nanos());
        self.epoch.checked_add(d).unwrap_or(self.epoch + std::time::Duration::from_secs(86_400 * 365))
    }
}

/// A request: its head and its (streamed) body, a typed map of request
/// extensions, and on a server the facts of the connection it came on.
#[derive(Debug)]
pub struct Request {
    /// The request head. Over HTTP/2 the target is absolute-form
    /// (`https://host/path`); see [`RequestHead`]. Its `version` is the
    /// protocol the request came over.
    pub head: RequestHead,
    /// The body.
    pub body: Body,
    /// Request-scoped values for the application and middleware (empty
    /// when the request arrives; allocates nothing until one is inserted).
    pub extensions: Extensions,
    connection: Option<std::sync::Arc<ConnectionInfo>>,
    upgrade: Option<upgrade::UpgradeSlot>,
}

impl Request {
    /// A request from its parts.
    pub fn new(head: RequestHead, body: impl Into<Body>) -> Request {
        Request { head, body: body.into(), extensions: Extensions::new(), connection: None, upgrade: None }
    }

    /// A request a server received on `connection`.
    pub(crate) fn received(
        head: RequestHead,
        body: Body,
        connection: std::sync::Arc<ConnectionInfo>,
        upgrade: Option<upgrade::UpgradeSlot>,
    ) -> Request {
        Request { head, body, extensions: Extensions::new(), connection: Some(connection), upgrade }
    }

    /// Server: the upgrade of this request, for a request that can switch
    /// protocols (HTTP/1.1 CONNECT, or one with an `Upgrade` field): once
    /// the handler's `101 Switching Protocols` (or 2xx to CONNECT) went
    /// out, the returned future completes with the connection's transport
    /// and the bytes the client already sent past its request, for the
    /// application to speak the new protocol over (a tunnel, WebSocket).
    /// With another response it completes with an error. `None` for other
    /// requests, and the second time it is asked.
    pub fn upgrade(&mut self) -> Option<OnUpgrade> {
        self.upgrade.take().map(OnUpgrade::new)
    }

    /// Server: the connection this request arrived on (peer and local
    /// address, TLS facts, per-connection state); `None` for a request
    /// built with [`Request::new`].
    pub fn connection(&self) -> Option<&ConnectionInfo> {
        self.connection.as_deref()
    }
}

/// A response: its head and its (streamed) body.
#[derive(Debug)]
pub struct Response {
    /// The response head.
    pub head: ResponseHead,
    /// The body.
    pub body: Body,
}

impl Response {
    /// A response from its parts.
    pub fn new(head: ResponseHead, body: impl Into<Body>) -> Response {
        Response { head, body: body.into() }
    }
}
