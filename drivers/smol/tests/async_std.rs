//! The same suite under async-std: its runtime (spawn, sleep), its
//! `TcpListener` and its `TcpStream`, through the same futures-io traits the
//! smol adapter implements. async-std is discontinued upstream; this target
//! proves the adapter serves it anyway.

mod common;

use async_std::net::{TcpListener, TcpStream};
use sockless_rt::testkit::{BoxFuture, Env};
use sockless_rt::{Listener, Runtime};
use sockless_smol::FuturesIo;
use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::sync::Arc;
use std::task::{Context, Poll};

/// async-std as a [`Runtime`] (test-only: a dozen lines any user can write).
#[derive(Clone)]
struct AsyncStdRuntime;

impl Runtime for AsyncStdRuntime {
    type Sleep = BoxFuture<()>;

    fn spawn<F: Future<Output = ()> + Send + 'static>(&self, future: F) {
        drop(async_std::task::spawn(future));
    }

    fn sleep_until(&self, deadline: std::time::Instant) -> BoxFuture<()> {
        Box::pin(async_std::task::sleep(deadline.saturating_duration_since(std::time::Instant::now())))
    }
}

type Accept = BoxFuture<io::Result<(TcpStream, SocketAddr)>>;

/// async-std's `TcpListener` as a [`Listener`].
struct AsyncStdListener {
    listener: Arc<TcpListener>,
    accept: Option<Accept>,
}

impl Listener for AsyncStdListener {
    type Io = FuturesIo<TcpStream>;

    fn poll_accept(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<(Self::Io, SocketAddr)>> {
        let listener = self.listener.clone();
        let accept = self.accept.get_or_insert_with(|| Box::pin(async move { listener.accept().await }));
        let result = match accept.as_mut().poll(cx) {
            Poll::Ready(r) => r,
            Poll::Pending => return Poll::Pending,
        };
        self.accept = None;
        Poll::Ready(result.map(|(s, a)| {
            (FuturesIo::with_nodelay(s, TcpStream::set_nodelay).with_local_addr(TcpStream::local_addr), a)
        }))
    }
}

#[derive(Clone)]
struct AsyncStd;

impl Env for AsyncStd {
    type Rt = AsyncStdRuntime;
    type Listener = AsyncStdListener;
    type Stream = FuturesIo<TcpStream>;

    fn rt(&self) -> AsyncStdRuntime {
        AsyncStdRuntime
    }

    fn bind(&self) -> io::Result<(AsyncStdListener, SocketAddr)> {
        let std = std::net::TcpListener::bind("127.0.0.1:0")?;
        let addr = std.local_addr()?;
        let listener = Arc::new(TcpListener::from(std));
        Ok((AsyncStdListener { listener, accept: None }, addr))
    }

    fn connect(&self, addr: SocketAddr) -> BoxFuture<io::Result<Self::Stream>> {
        Box::pin(async move {
            let stream = TcpStream::connect(addr).await?;
            Ok(FuturesIo::with_nodelay(stream, TcpStream::set_nodelay).with_local_addr(TcpStream::local_addr))
        })
    }
}

suite!(AsyncStd, async_std::task::block_on);
