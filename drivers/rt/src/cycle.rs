//! The synchronous sans-IO cycle every driver shares (read → feed → events
//! and transmit → next deadline), re-exported from
//! [`sockless_core::cycle`], where it lives so that `no_std` drivers (a
//! serial line, the simulator) run the same code. The async pump, the epoll
//! loop, the blocking example and the simulator all call it.

pub use sockless_core::cycle::*;

use crate::Io;
use std::io::{self, IoSlice};
use std::task::{Context, Poll};

/// An async [`Io`] polled with one task's [`Context`], as the cycle's
/// [`Transport`]: `Pending` becomes [`Transfer::WouldBlock`] (and the task
/// is woken when the transport is ready, as `Io` promises). This is how the
/// async pump runs the same steps as the synchronous drivers: wrap the
/// transport for the duration of one poll, call the cycle, and return
/// `Pending` when it would block.
///
/// ```
/// use sockless_rt::cycle::{self, PollIo};
/// use sockless_rt::{Connection, Io};
/// use std::task::Context;
///
/// /// One step of a connection task: write what is queued; `true` if the
/// /// socket is full (the task is woken when it drains).
/// fn flush<I: Io, C: Connection>(io: &mut I, conn: &mut C, cx: &mut Context<'_>) -> std::io::Result<bool> {
///     Ok(cycle::transmit(conn, &mut PollIo::new(io, cx))?.blocked)
/// }
/// ```
pub struct PollIo<'a, 'b, I> {
    io: &'a mut I,
    cx: &'a mut Context<'b>,
}

impl<'a, 'b, I: Io> PollIo<'a, 'b, I> {
    /// `io` as a transport for as long as this poll of the task lasts.
    pub fn new(io: &'a mut I, cx: &'a mut Context<'b>) -> Self {
        PollIo { io, cx }
    }
}

impl<I: Io> Transport for PollIo<'_, '_, I> {
    type Error = io::Error;

    fn read(&mut self, buf: &mut [u8]) -> Result<Transfer, io::Error> {
        match self.io.poll_read(self.cx, buf) {
            Poll::Ready(Ok(n)) => Ok(Transfer::Done(n)),
            Poll::Ready(Err(e)) => Err(e),
            Poll::Pending => Ok(Transfer::WouldBlock),
        }
    }

    fn write_vectored(&mut self, bufs: &[&[u8]]) -> Result<Transfer, io::Error> {
        let mut slices = [IoSlice::new(&[]); MAX_SLICES];
        let n = bufs.len().min(MAX_SLICES);
        for (dst, src) in slices.iter_mut().zip(&bufs[..n]) {
            *dst = IoSlice::new(src);
        }
        match self.io.poll_write_vectored(self.cx, &slices[..n]) {
            Poll::Ready(Ok(0)) if bufs.iter().any(|b| !b.is_empty()) => Err(io::ErrorKind::WriteZero.into()),
            Poll::Ready(Ok(w)) => Ok(Transfer::Done(w)),
            Poll::Ready(Err(e)) => Err(e),
            Poll::Pending => Ok(Transfer::WouldBlock),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use sockless_core::{Bytes, Connection, Event, Instant, ResponseHead};
    use std::cell::RefCell;

    /// A transport that logs what it wrote, in order with the events.
    struct Logged<'a>(&'a RefCell<Vec<String>>);

    impl Transport for Logged<'_> {
        type Error = std::convert::Infallible;
        fn read(&mut self, _buf: &mut [u8]) -> Result<Transfer, Self::Error> {
            Ok(Transfer::WouldBlock)
        }
        fn write_vectored(&mut self, bufs: &[&[u8]]) -> Result<Transfer, Self::Error> {
            let n = bufs.iter().map(|b| b.len()).sum();
            self.0.borrow_mut().push(format!("write {n}"));
            Ok(Transfer::Done(n))
        }
    }

    fn answered_close() -> sockless_h1::ServerConnection {
        let mut conn = sockless_h1::ServerConnection::new(sockless_h1::Config::server(), Instant::ZERO);
        let req = b"GET / HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n";
        assert_eq!(conn.handle_input(Instant::ZERO, req).unwrap(), req.len());
        conn
    }

    fn respond(conn: &mut sockless_h1::ServerConnection, event: &Event) {
        if let Event::EndStream { stream } = event {
            let head = ResponseHead::new(200).header("content-length", "2");
            conn.send_response(*stream, &head, false).unwrap();
            conn.send_data(*stream, Bytes::from_static(b"ok"), true).unwrap();
        }
    }

    /// The contract's required order: events and transmit go round until
    /// neither moves. The answer given while handling the events leaves in
    /// one write, and `Closed` comes only after it: a driver that polled
    /// events once and transmitted once would never see it.
    #[test]
    fn settle_goes_round_until_closed_follows_the_last_byte() {
        let log = RefCell::new(Vec::new());
        let mut conn = answered_close();
        let settled = settle(&mut conn, &mut Logged(&log), |conn, event| {
            respond(conn, &event);
            let name = format!("{event:?}");
            log.borrow_mut().push(name.split([' ', '(']).next().unwrap_or_default().to_string());
        })
        .unwrap();
        assert!(settled.finished);
        let log = log.into_inner();
        assert_eq!(log.len(), 4, "{log:?}");
        assert_eq!(&log[..2], ["Request", "EndStream"], "{log:?}");
        assert!(log[2].starts_with("write "), "{log:?}");
        assert_eq!(log[3], "Closed", "{log:?}");

        // One pass of each, in either order, misses the close.
        let mut conn = answered_close();
        let events: Vec<Event> = poll_events(&mut conn);
        events.iter().for_each(|e| respond(&mut conn, e));
        let _ = transmit_all(&mut conn);
        assert!(!events.iter().any(|e| matches!(e, Event::Closed(_))), "{events:?}");
        assert!(matches!(conn.poll_event(), Some(Event::Closed(_))), "released by the transmit");
    }

    /// A write that would block stops the transmit with output still queued,
    /// and the rest goes out on the next call.
    #[test]
    fn transmit_stops_at_would_block_and_resumes() {
        struct Trickle(Vec<u8>, usize);
        impl Transport for Trickle {
            type Error = std::convert::Infallible;
            fn read(&mut self, _buf: &mut [u8]) -> Result<Transfer, Self::Error> {
                Ok(Transfer::WouldBlock)
            }
            fn write_vectored(&mut self, bufs: &[&[u8]]) -> Result<Transfer, Self::Error> {
                if self.1 == 0 {
                    return Ok(Transfer::WouldBlock);
                }
                let b = bufs[0];
                let n = b.len().min(self.1);
                self.0.extend_from_slice(&b[..n]);
                self.1 -= n;
                Ok(Transfer::Done(n))
            }
        }
        let mut conn = answered_close();
        poll_events(&mut conn).iter().for_each(|e| respond(&mut conn, e));
        let mut io = Trickle(Vec::new(), 10);
        let sent = transmit(&mut conn, &mut io).unwrap();
        assert_eq!(sent, Sent { bytes: 10, blocked: true });
        io.1 = usize::MAX;
        let sent = transmit(&mut conn, &mut io).unwrap();
        assert!(!sent.blocked && sent.bytes > 0);
        let text = String::from_utf8(io.0).unwrap();
        assert!(text.starts_with("HTTP/1.1 200 OK\r\n") && text.ends_with("\r\n\r\nok"), "{text}");
    }

    /// An async transport through `PollIo`: a pending write stops the
    /// transmit as blocked; a ready one takes the bytes; a read that is
    /// pending is `WouldBlock`, one that is ready feeds the connection.
    #[test]
    fn poll_io_maps_pending_to_would_block() {
        use std::io::IoSlice;
        use std::task::{Context, Poll, Waker};
        struct Gate {
            open: bool,
            written: Vec<u8>,
            input: Option<&'static [u8]>,
        }
        impl crate::Io for Gate {
            fn poll_read(&mut self, _cx: &mut Context<'_>, buf: &mut [u8]) -> Poll<std::io::Result<usize>> {
                match self.input.take() {
                    Some(b) => {
                        buf[..b.len()].copy_from_slice(b);
                        Poll::Ready(Ok(b.len()))
                    }
                    None => Poll::Pending,
                }
            }
            fn poll_write_vectored(
                &mut self,
                _cx: &mut Context<'_>,
                bufs: &[IoSlice<'_>],
            ) -> Poll<std::io::Result<usize>> {
                if !self.open {
                    return Poll::Pending;
                }
                let before = self.written.len();
                bufs.iter().for_each(|b| self.written.extend_from_slice(b));
                Poll::Ready(Ok(self.written.len() - before))
            }
            fn poll_flush(&mut self, _cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
                Poll::Ready(Ok(()))
            }
            fn poll_shutdown(&mut self, _cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
                Poll::Ready(Ok(()))
            }
        }
        let mut cx = Context::from_waker(Waker::noop());
        let mut gate = Gate { open: false, written: Vec::new(), input: None };
        let mut conn = sockless_h1::ServerConnection::new(sockless_h1::Config::server(), Instant::ZERO);
        let now = Instant::ZERO;
        assert_eq!(read_lent(&mut conn, &mut PollIo::new(&mut gate, &mut cx), now).unwrap(), Input::WouldBlock);
        gate.input = Some(b"GET / HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n");
        assert!(matches!(read_lent(&mut conn, &mut PollIo::new(&mut gate, &mut cx), now).unwrap(), Input::Bytes(_)));
        poll_events(&mut conn).iter().for_each(|e| respond(&mut conn, e));
        let sent = transmit(&mut conn, &mut PollIo::new(&mut gate, &mut cx)).unwrap();
        assert_eq!(sent, Sent { bytes: 0, blocked: true });
        gate.open = true;
        let settled = settle(&mut conn, &mut PollIo::new(&mut gate, &mut cx), |_, _| {}).unwrap();
        assert!(settled.finished && !settled.blocked);
        assert!(gate.written.ends_with(b"\r\n\r\nok"));
    }

    /// Owned-buffer input: a driver's pooled buffer is adopted when bytes
    /// come, and keeps its room when the read would block.
    #[test]
    fn read_owned_gives_the_buffer_only_when_bytes_came() {
        struct Once(Option<&'static [u8]>);
        impl Transport for Once {
            type Error = std::convert::Infallible;
            fn read(&mut self, buf: &mut [u8]) -> Result<Transfer, Self::Error> {
                match self.0.take() {
                    Some(b) => {
                        buf[..b.len()].copy_from_slice(b);
                        Ok(Transfer::Done(b.len()))
                    }
                    None => Ok(Transfer::WouldBlock),
                }
            }
            fn write_vectored(&mut self, _bufs: &[&[u8]]) -> Result<Transfer, Self::Error> {
                Ok(Transfer::WouldBlock)
            }
        }
        let mut conn = sockless_h1::ServerConnection::new(sockless_h1::Config::server(), Instant::ZERO);
        let mut io = Once(Some(b"GET / HTTP/1.1\r\nHost: a\r\n\r\n"));
        let mut buf = sockless_core::BytesMut::with_capacity(4096);
        assert_eq!(read_owned(&mut conn, &mut io, Instant::ZERO, &mut buf, 4096).unwrap(), Input::Bytes(27));
        assert_eq!(buf.capacity(), 0, "the connection took the buffer");
        assert!(matches!(conn.poll_event(), Some(Event::Request { .. })));
        let mut buf = sockless_core::BytesMut::with_capacity(4096);
        assert_eq!(read_owned(&mut conn, &mut io, Instant::ZERO, &mut buf, 4096).unwrap(), Input::WouldBlock);
        assert!(buf.capacity() >= 4096, "kept for the next read");
        assert_eq!(read_owned(&mut conn, &mut io, Instant::ZERO, &mut buf, 0).unwrap(), Input::Unwanted);
    }
}
