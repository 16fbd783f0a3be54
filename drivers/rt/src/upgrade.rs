//! Protocol upgrades on a server (HTTP/1.1 `101 Switching Protocols`, or
//! a 2xx to CONNECT): once the response is out, the driver hands the
//! transport, with the bytes already received past the request, to the
//! application, as `hyper::upgrade::on` does.

use crate::body::Oneshot;
use crate::{Error, ErrorKind, Io};
use sockless_core::Bytes;
use std::fmt;
use std::future::{poll_fn, Future};
use std::io::{self, IoSlice};
use std::net::SocketAddr;
use std::pin::Pin;
use std::task::{Context, Poll};

/// Where the connection task delivers the transport of an upgraded
/// connection.
pub(crate) type UpgradeSlot = Oneshot<io::Result<Upgraded>>;

/// The transport of a connection that switched protocols: the bytes the
/// peer sent after its request (read first), then the transport itself.
/// It implements [`Io`], and reads and writes with the async helpers below.
///
/// ```no_run
/// use sockless_core::{Method, ResponseHead};
/// use sockless_rt::{Body, Request, Response, Runtime};
///
/// /// A CONNECT tunnel that echoes what the client sends.
/// fn handle<R: Runtime>(rt: &R, mut req: Request) -> Response {
///     if req.head.method == Method::Connect {
///         if let Some(upgrade) = req.upgrade() {
///             rt.spawn(async move {
///                 let Ok(mut tunnel) = upgrade.await else { return };
///                 let mut buf = [0u8; 4096];
///                 while let Ok(n @ 1..) = tunnel.read(&mut buf).await {
///                     if tunnel.write_all(&buf[..n]).await.is_err() {
///                         break;
///                     }
///                 }
///             });
///             return Response::new(ResponseHead::new(200), Body::empty());
///         }
///     }
///     Response::new(ResponseHead::new(405), Body::empty())
/// }
/// ```
pub struct Upgraded {
    io: Box<dyn Io>,
    leftover: Bytes,
}

impl Upgraded {
    pub(crate) fn new(io: Box<dyn Io>, leftover: Bytes) -> Upgraded {
        Upgraded { io, leftover }
    }

    /// The transport and the bytes received for the new protocol that it
    /// will not give again.
    pub fn into_parts(self) -> (Box<dyn Io>, Bytes) {
        (self.io, self.leftover)
    }

    /// Reads into `buf`; `Ok(0)` is the end of the stream.
    pub async fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        poll_fn(|cx| Io::poll_read(self, cx, buf)).await
    }

    /// Writes all of `buf` and flushes.
    pub async fn write_all(&mut self, mut buf: &[u8]) -> io::Result<()> {
        while !buf.is_empty() {
            let n = poll_fn(|cx| self.io.poll_write_vectored(cx, &[IoSlice::new(buf)])).await?;
            if n == 0 {
                return Err(io::ErrorKind::WriteZero.into());
            }
            buf = &buf[n..];
        }
        poll_fn(|cx| self.io.poll_flush(cx)).await
    }

    /// Shuts down the writing side.
    pub async fn shutdown(&mut self) -> io::Result<()> {
        poll_fn(|cx| self.io.poll_shutdown(cx)).await
    }
}

impl Io for Upgraded {
    fn poll_read(&mut self, cx: &mut Context<'_>, buf: &mut [u8]) -> Poll<io::Result<usize>> {
        if !self.leftover.is_empty() {
            let n = buf.len().min(self.leftover.len());
            buf[..n].copy_from_slice(&self.leftover.split_to(n));
            return Poll::Ready(Ok(n));
        }
        self.io.poll_read(cx, buf)
    }

    fn poll_write_vectored(&mut self, cx: &mut Context<'_>, bufs: &[IoSlice<'_>]) -> Poll<io::Result<usize>> {
        self.io.poll_write_vectored(cx, bufs)
    }

    fn poll_read_ready(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        if !self.leftover.is_empty() {
            return Poll::Ready(Ok(()));
        }
        self.io.poll_read_ready(cx)
    }

    fn poll_flush(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        self.io.poll_flush(cx)
    }

    fn poll_shutdown(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        self.io.poll_shutdown(cx)
    }

    fn set_nodelay(&self, nodelay: bool) -> io::Result<()> {
        self.io.set_nodelay(nodelay)
    }

    fn local_addr(&self) -> Option<SocketAddr> {
        self.io.local_addr()
    }
}

impl fmt::Debug for Upgraded {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Upgraded").field("leftover", &self.leftover.len()).finish()
    }
}

/// The upgrade of one request ([`Request::upgrade`](crate::Request::upgrade)):
/// completes with the [`Upgraded`] transport once the handler's `101` (or
/// 2xx to CONNECT) went out, or with an error if the response was another
/// or the connection ended first.
pub struct OnUpgrade {
    slot: UpgradeSlot,
}

impl OnUpgrade {
    pub(crate) fn new(slot: UpgradeSlot) -> OnUpgrade {
        OnUpgrade { slot }
    }
}

impl Future for OnUpgrade {
    type Output = io::Result<Upgraded>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        self.slot.poll_take(cx).map(|taken| taken.unwrap_or_else(|| Err(not_upgraded("the upgrade was taken").into())))
    }
}

impl fmt::Debug for OnUpgrade {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("OnUpgrade")
    }
}

/// The error an [`OnUpgrade`] completes with when there is no upgrade.
pub(crate) fn not_upgraded(why: &str) -> Error {
    Error::new(ErrorKind::Closed, format!("connection not upgraded: {why}"))
}
