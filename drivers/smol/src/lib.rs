//! # sockless-smol
//!
//! sockless on smol, and on any runtime built on the `futures-io` traits:
//! [`FuturesIo`] makes any `futures_io::AsyncRead + AsyncWrite` an
//! [`Io`] (smol's `Async<TcpStream>` and `smol::net::TcpStream`,
//! async-net, async-std's `TcpStream`), [`SmolRuntime`] spawns on smol's
//! global executor with async-io timers, and [`SmolListener`] accepts TCP
//! connections on the async-io reactor. [`sockless_rt`] does the rest.
//!
//! async-std (discontinued upstream) shares these traits: its streams wrap
//! in [`FuturesIo`] as they are, and this crate's test suite runs under an
//! async-std runtime as well (`tests/async_std.rs`).
//!
//! ```no_run
//! use sockless_core::{Instant, ResponseHead};
//! use sockless_rt::{Request, Response, ServerOptions};
//! use sockless_smol::SmolListener;
//!
//! fn main() -> std::io::Result<()> {
//!     smol::block_on(async {
//!         let listener = SmolListener::bind("127.0.0.1:8080".parse().unwrap())?;
//!         let make = |now: Instant| sockless_h1::ServerConnection::new(sockless_h1::Config::server(), now);
//!         let handler = |req: Request| async move { Response::new(ResponseHead::new(200), req.body) };
//!         sockless_smol::serve(listener, make, handler, ServerOptions::default()).await
//!     })
//! }
//! ```
#![forbid(unsafe_code)]
#![warn(missing_docs)]

use async_io::{Async, Timer};
use futures_io::{AsyncRead, AsyncWrite};
use sockless_core::{Connection, Instant};
use sockless_rt::{ClientHandle, Io, Listener, Request, Response, Runtime, ServerOptions};
use std::future::Future;
use std::io::{self, IoSlice};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::pin::Pin;
use std::task::{Context, Poll};

pub use sockless_rt;

mod client;
pub use client::{client_with, Client, SmolDial};

/// smol as a [`Runtime`]: tasks on smol's global executor, async-io timers.
#[derive(Clone, Copy, Debug, Default)]
pub struct SmolRuntime;

impl Runtime for SmolRuntime {
    type Sleep = Timer;

    fn spawn<F: Future<Output = ()> + Send + 'static>(&self, future: F) {
        smol::spawn(future).detach();
    }

    fn sleep_until(&self, deadline: std::time::Instant) -> Timer {
        Timer::at(deadline)
    }

    fn reset_sleep(&self, sleep: Pin<&mut Timer>, deadline: std::time::Instant) {
        sleep.get_mut().set_at(deadline);
    }
}

/// Any `futures_io::AsyncRead + AsyncWrite` stream as an [`Io`].
pub struct FuturesIo<T> {
    io: T,
    nodelay: Option<fn(&T, bool) -> io::Result<()>>,
    local_addr: Option<fn(&T) -> io::Result<SocketAddr>>,
}

impl<T> FuturesIo<T> {
    /// Wraps a stream that has no `TCP_NODELAY` to set.
    pub fn new(io: T) -> Self {
        FuturesIo { io, nodelay: None, local_addr: None }
    }

    /// Wraps a TCP stream; `set_nodelay` is its way of setting `TCP_NODELAY`
    /// (for example `async_std::net::TcpStream::set_nodelay`).
    pub fn with_nodelay(io: T, set_nodelay: fn(&T, bool) -> io::Result<()>) -> Self {
        FuturesIo { io, nodelay: Some(set_nodelay), local_addr: None }
    }

    /// Builder: `local_addr` is the stream's way of telling its own
    /// address (for example `async_std::net::TcpStream::local_addr`), which
    /// a server hands to requests.
    pub fn with_local_addr(mut self, local_addr: fn(&T) -> io::Result<SocketAddr>) -> Self {
        self.local_addr = Some(local_addr);
        self
    }

    /// The wrapped stream.
    pub fn get_ref(&self) -> &T {
        &self.io
    }

    /// Unwraps the stream.
    pub fn into_inner(self) -> T {
        self.io
    }
}

impl FuturesIo<Async<TcpStream>> {
    /// Wraps a TCP stream registered with the async-io reactor.
    pub fn tcp(io: Async<TcpStream>) -> Self {
        FuturesIo::with_nodelay(io, |s, on| s.get_ref().set_nodelay(on)).with_local_addr(|s| s.get_ref().local_addr())
    }
}

impl<T> std::fmt::Debug for FuturesIo<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("FuturesIo")
    }
}

impl<T: AsyncRead + AsyncWrite + Unpin + Send + 'static> Io for FuturesIo<T> {
    fn poll_read(&mut self, cx: &mut Context<'_>, buf: &mut [u8]) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.io).poll_read(cx, buf)
    }

    fn poll_write_vectored(&mut self, cx: &mut Context<'_>, bufs: &[IoSlice<'_>]) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.io).poll_write_vectored(cx, bufs)
    }

    fn poll_flush(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.io).poll_flush(cx)
    }

    fn poll_shutdown(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.io).poll_close(cx)
    }

    fn set_nodelay(&self, nodelay: bool) -> io::Result<()> {
        match self.nodelay {
            Some(set) => set(&self.io, nodelay),
            None => Ok(()),
        }
    }

    fn local_addr(&self) -> Option<SocketAddr> {
        self.local_addr.and_then(|get| get(&self.io).ok())
    }
}

/// A TCP listener on the async-io reactor (works under smol, async-std,
/// or any executor: the reactor runs on its own thread).
#[derive(Debug)]
pub struct SmolListener(Async<TcpListener>);

impl SmolListener {
    /// Binds `addr`.
    pub fn bind(addr: SocketAddr) -> io::Result<Self> {
        Async::<TcpListener>::bind(addr).map(SmolListener)
    }

    /// Wraps a listener (made non-blocking).
    pub fn from_std(listener: TcpListener) -> io::Result<Self> {
        Async::new(listener).map(SmolListener)
    }

    /// The bound address.
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        self.0.get_ref().local_addr()
    }
}

impl Listener for SmolListener {
    type Io = FuturesIo<Async<TcpStream>>;

    fn poll_accept(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<(Self::Io, SocketAddr)>> {
        loop {
            match self.0.get_ref().accept() {
                Ok((stream, addr)) => return Poll::Ready(Async::new(stream).map(|s| (FuturesIo::tcp(s), addr))),
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => match self.0.poll_readable(cx) {
                    Poll::Ready(Ok(())) => continue,
                    Poll::Ready(Err(e)) => return Poll::Ready(Err(e)),
                    Poll::Pending => return Poll::Pending,
                },
                Err(e) => return Poll::Ready(Err(e)),
            }
        }
    }
}

/// [`sockless_rt::serve`] on smol.
pub async fn serve<M, C, H, F>(
    listener: SmolListener,
    make_connection: M,
    handler: H,
    options: ServerOptions,
) -> io::Result<()>
where
    M: Fn(Instant) -> C,
    C: Connection + Send + 'static,
    H: Fn(Request) -> F + Send + Sync + 'static,
    F: Future<Output = Response> + Send + 'static,
{
    sockless_rt::serve(SmolRuntime, listener, make_connection, handler, options).await
}

/// [`sockless_rt::serve_with`] on smol: `make_connection` sees each accepted
/// connection, may attach per-connection state, and may fail.
pub async fn serve_with<M, C, E, H, F>(
    listener: SmolListener,
    make_connection: M,
    handler: H,
    options: ServerOptions,
) -> io::Result<()>
where
    M: Fn(&mut sockless_rt::Accept) -> Result<C, E>,
    E: std::fmt::Display,
    C: Connection + Send + 'static,
    H: Fn(Request) -> F + Send + Sync + 'static,
    F: Future<Output = Response> + Send + 'static,
{
    sockless_rt::serve_with(SmolRuntime, listener, make_connection, handler, options).await
}

/// Connects to `addr` over TCP (with `TCP_NODELAY`) and spawns a client
/// connection task for `connection` (created at [`Instant::ZERO`]), whose
/// requests without an authority of their own are sent to `addr`, on smol.
pub async fn connect<C: Connection + Send + 'static>(addr: SocketAddr, connection: C) -> io::Result<ClientHandle> {
    let stream = Async::<TcpStream>::connect(addr).await.map_err(|e| sockless_rt::Error::connect(addr, e))?;
    stream.get_ref().set_nodelay(true)?;
    let options = sockless_rt::ClientOptions { authority: Some(addr.to_string()) };
    Ok(ClientHandle::spawn_with(&SmolRuntime, FuturesIo::tcp(stream), connection, options))
}
