//! The synchronous sans-IO cycle every driver shares (read → feed → events
//! and transmit → next deadline), re-exported from
//! [`sockless_core::cycle`], where it lives so that `no_std` drivers (a
//! serial line, the simulator) run the same code. The async pump, the epoll
//! loop, the blocking example and the simulator all call it.

pub use sockless_core::cycle::*;

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
