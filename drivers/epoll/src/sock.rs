//! Sockets: the SO_REUSEPORT listeners and an accepted connection's socket
//! as the shared cycle's [`Transport`].

use rustix::fd::{AsFd, OwnedFd};
use rustix::io::Errno;
use sockless_rt::cycle::{Transfer, Transport, MAX_SLICES};
use std::io::{self, IoSlice};
use std::net::SocketAddr;

/// A non-blocking listener bound to `addr` with SO_REUSEPORT, so that every
/// loop thread has its own and the kernel spreads connections over them.
pub fn listener(addr: SocketAddr, backlog: i32) -> io::Result<OwnedFd> {
    use socket2::{Domain, Protocol, Socket, Type};
    let socket = Socket::new(Domain::for_address(addr), Type::STREAM.nonblocking().cloexec(), Some(Protocol::TCP))?;
    socket.set_reuse_address(true)?;
    socket.set_reuse_port(true)?;
    socket.bind(&addr.into())?;
    socket.listen(backlog)?;
    Ok(OwnedFd::from(socket))
}

/// The address a listener is bound to.
pub fn local_addr(fd: &OwnedFd) -> io::Result<SocketAddr> {
    let socket = socket2::SockRef::from(fd);
    socket.local_addr()?.as_socket().ok_or_else(|| io::Error::other("not an IP socket"))
}

/// An accepted connection's socket (non-blocking).
pub struct Sock {
    pub fd: OwnedFd,
    /// The last read found the socket empty (a short read or EAGAIN): with
    /// edge-triggered epoll nothing more comes before the next event.
    pub drained: bool,
}

impl Sock {
    pub fn new(fd: OwnedFd) -> Sock {
        Sock { fd, drained: false }
    }

    /// Shuts down the writing side (a FIN after the last response).
    pub fn shutdown_write(&self) {
        let _ = rustix::net::shutdown(self.fd.as_fd(), rustix::net::Shutdown::Write);
    }
}

impl Transport for Sock {
    type Error = io::Error;

    fn read(&mut self, buf: &mut [u8]) -> Result<Transfer, io::Error> {
        loop {
            return match rustix::io::read(&self.fd, &mut *buf) {
                Ok(n) => {
                    // A read that did not fill the buffer emptied the socket.
                    self.drained = n < buf.len();
                    Ok(Transfer::Done(n))
                }
                Err(Errno::INTR) => continue,
                Err(Errno::AGAIN) => {
                    self.drained = true;
                    Ok(Transfer::WouldBlock)
                }
                Err(e) => Err(e.into()),
            };
        }
    }

    fn write_vectored(&mut self, bufs: &[&[u8]]) -> Result<Transfer, io::Error> {
        let mut slices = [IoSlice::new(&[]); MAX_SLICES];
        let n = bufs.len().min(MAX_SLICES);
        for (dst, src) in slices.iter_mut().zip(&bufs[..n]) {
            *dst = IoSlice::new(src);
        }
        loop {
            return match rustix::io::writev(&self.fd, &slices[..n]) {
                Ok(0) => Err(io::ErrorKind::WriteZero.into()),
                Ok(w) => Ok(Transfer::Done(w)),
                Err(Errno::INTR) => continue,
                Err(Errno::AGAIN) => Ok(Transfer::WouldBlock),
                Err(e) => Err(e.into()),
            };
        }
    }
}
