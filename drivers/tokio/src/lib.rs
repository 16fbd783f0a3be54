//! # sockless-tokio
//!
//! sockless on tokio: [`TokioRuntime`], [`TokioIo`] and [`TokioListener`]
//! implement the traits of [`sockless_rt`], which does all the work (the
//! pump, the server, the client).
//!
//! ```no_run
//! use sockless_core::{Instant, ResponseHead};
//! use sockless_rt::{Request, Response, ServerOptions};
//!
//! #[tokio::main(flavor = "current_thread")]
//! async fn main() -> std::io::Result<()> {
//!     let listener = tokio::net::TcpListener::bind("127.0.0.1:8080").await?;
//!     let make = |now: Instant| sockless_h2::H2Connection::server(sockless_h2::Config::server(), now);
//!     let handler = |req: Request| async move { Response::new(ResponseHead::new(200), req.body) };
//!     sockless_tokio::serve(listener, make, handler, ServerOptions::default()).await
//! }
//! ```
#![forbid(unsafe_code)]
#![warn(missing_docs)]

use sockless_core::{Connection, Instant};
use sockless_rt::{ClientHandle, Io, Listener, Request, Response, Runtime, ServerOptions};
use std::future::Future;
use std::io::{self, IoSlice};
use std::net::SocketAddr;
use std::pin::Pin;
use std::task::{Context, Poll};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};

pub use sockless_rt;

mod client;
pub use client::{client, client_with, BlockingClient, BlockingResponse, Client, TokioDial};

/// The tokio runtime as a [`Runtime`]: tasks go to the runtime this handle
/// belongs to, timers are tokio's (so paused time works in tests).
#[derive(Clone, Debug)]
pub struct TokioRuntime {
    handle: tokio::runtime::Handle,
}

impl TokioRuntime {
    /// The runtime of the current context.
    ///
    /// # Panics
    ///
    /// Outside a tokio runtime.
    pub fn current() -> Self {
        TokioRuntime { handle: tokio::runtime::Handle::current() }
    }

    /// The runtime `handle` belongs to.
    pub fn from_handle(handle: tokio::runtime::Handle) -> Self {
        TokioRuntime { handle }
    }
}

impl Runtime for TokioRuntime {
    type Sleep = tokio::time::Sleep;

    fn spawn<F: Future<Output = ()> + Send + 'static>(&self, future: F) {
        drop(self.handle.spawn(future));
    }

    fn sleep_until(&self, deadline: std::time::Instant) -> Self::Sleep {
        let _guard = self.handle.enter();
        tokio::time::sleep_until(deadline.into())
    }

    fn reset_sleep(&self, sleep: Pin<&mut Self::Sleep>, deadline: std::time::Instant) {
        sleep.reset(deadline.into());
    }

    fn now(&self) -> std::time::Instant {
        tokio::time::Instant::now().into_std()
    }
}

/// Any tokio byte stream as an [`Io`]: a [`TcpStream`] (see
/// [`TokioIo::tcp`], which also sets `TCP_NODELAY` when the server asks),
/// a Unix socket, an in-memory duplex.
pub struct TokioIo<T> {
    io: T,
    nodelay: Option<fn(&T, bool) -> io::Result<()>>,
    /// The stream's read readiness, where it tells (see [`Io::poll_read_ready`]).
    read_ready: Option<ReadReady<T>>,
    local_addr: Option<fn(&T) -> io::Result<SocketAddr>>,
}

type ReadReady<T> = fn(&T, &mut Context<'_>) -> Poll<io::Result<()>>;

impl<T> TokioIo<T> {
    /// Wraps a stream that has no `TCP_NODELAY` to set.
    pub fn new(io: T) -> Self {
        TokioIo { io, nodelay: None, read_ready: None, local_addr: None }
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

impl TokioIo<TcpStream> {
    /// Wraps a TCP stream.
    pub fn tcp(io: TcpStream) -> Self {
        TokioIo {
            io,
            nodelay: Some(TcpStream::set_nodelay),
            read_ready: Some(TcpStream::poll_read_ready),
            local_addr: Some(TcpStream::local_addr),
        }
    }
}

impl<T> std::fmt::Debug for TokioIo<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("TokioIo")
    }
}

impl<T: AsyncRead + AsyncWrite + Unpin + Send + 'static> Io for TokioIo<T> {
    fn poll_read(&mut self, cx: &mut Context<'_>, buf: &mut [u8]) -> Poll<io::Result<usize>> {
        let mut buf = ReadBuf::new(buf);
        match Pin::new(&mut self.io).poll_read(cx, &mut buf) {
            Poll::Ready(Ok(())) => Poll::Ready(Ok(buf.filled().len())),
            Poll::Ready(Err(e)) => Poll::Ready(Err(e)),
            Poll::Pending => Poll::Pending,
        }
    }

    fn poll_read_ready(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.read_ready {
            Some(ready) => ready(&self.io, cx),
            None => Poll::Ready(Ok(())),
        }
    }

    fn poll_write_vectored(&mut self, cx: &mut Context<'_>, bufs: &[IoSlice<'_>]) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.io).poll_write_vectored(cx, bufs)
    }

    fn poll_flush(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.io).poll_flush(cx)
    }

    fn poll_shutdown(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.io).poll_shutdown(cx)
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

/// A tokio [`TcpListener`] as a [`Listener`].
#[derive(Debug)]
pub struct TokioListener(pub TcpListener);

impl Listener for TokioListener {
    type Io = TokioIo<TcpStream>;

    fn poll_accept(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<(Self::Io, SocketAddr)>> {
        self.0.poll_accept(cx).map_ok(|(io, addr)| (TokioIo::tcp(io), addr))
    }
}

/// [`sockless_rt::serve`] on the current tokio runtime.
pub async fn serve<M, C, H, F>(
    listener: TcpListener,
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
    sockless_rt::serve(TokioRuntime::current(), TokioListener(listener), make_connection, handler, options).await
}

/// [`sockless_rt::serve_with`] on the current tokio runtime:
/// `make_connection` sees each accepted connection, may attach
/// per-connection state, and may fail.
pub async fn serve_with<M, C, E, H, F>(
    listener: TcpListener,
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
    sockless_rt::serve_with(TokioRuntime::current(), TokioListener(listener), make_connection, handler, options).await
}

/// Connects to `addr` over TCP (with `TCP_NODELAY`) and spawns a client
/// connection task for `connection` (created at [`Instant::ZERO`]), whose
/// requests without an authority of their own are sent to `addr`, on the
/// current runtime.
pub async fn connect<C: Connection + Send + 'static>(addr: SocketAddr, connection: C) -> io::Result<ClientHandle> {
    let stream = TcpStream::connect(addr).await.map_err(|e| sockless_rt::Error::connect(addr, e))?;
    stream.set_nodelay(true)?;
    let options = sockless_rt::ClientOptions { authority: Some(addr.to_string()) };
    Ok(ClientHandle::spawn_with(&TokioRuntime::current(), TokioIo::tcp(stream), connection, options))
}
