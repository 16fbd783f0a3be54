//! Bytes a protocol was handed over with but has not taken yet.

use bytes::{Buf, Bytes, BytesMut};
use sockless_core::{Connection, Error, Instant};

/// Bytes for the protocol in use that it has not taken yet: what detection
/// saw, what followed an upgrade's request or response. They go to the
/// protocol before any new input, as fast as its input cap lets them, so
/// none is lost when it takes fewer than offered.
#[derive(Debug, Default)]
pub(crate) struct Unfed(Bytes);

impl Unfed {
    /// Holds `bytes` (after whatever is held already).
    pub(crate) fn hold(&mut self, bytes: &[u8]) {
        if self.0.is_empty() {
            self.0 = Bytes::copy_from_slice(bytes);
        } else {
            let mut held = BytesMut::from(&self.0[..]);
            held.extend_from_slice(bytes);
            self.0 = held.freeze();
        }
    }

    /// Holds `bytes`, which nothing holds yet, without copying.
    pub(crate) fn hold_bytes(&mut self, bytes: Bytes) {
        if self.0.is_empty() {
            self.0 = bytes;
        } else {
            self.hold(&bytes);
        }
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// For a poll that found no event: feeds `conn` what it takes now, and
    /// says whether it took anything (then it may have events to poll).
    pub(crate) fn refill(&mut self, conn: &mut impl Connection, now: Instant) -> bool {
        let before = self.0.len();
        // An error is queued as the protocol's `Error` event.
        let _ = self.feed(conn, now);
        self.0.len() < before
    }

    /// Feeds `conn` as much as it takes now. A protocol error ends the
    /// connection (the protocol also queued it as an `Error` event): the
    /// bytes after it are dropped.
    pub(crate) fn feed(&mut self, conn: &mut impl Connection, now: Instant) -> Result<(), Error> {
        let mut result = Ok(());
        while !self.0.is_empty() {
            match conn.handle_input(now, &self.0) {
                Ok(0) => break,
                Ok(n) => self.0.advance(n),
                Err(e) => {
                    result = Err(e);
                    break;
                }
            }
        }
        if result.is_err() || self.0.is_empty() {
            // An empty `Bytes` that was advanced or cleared still holds its
            // allocation (the detection buffer, an upgrade's leftovers):
            // drop it, or every idle connection keeps it.
            self.0 = Bytes::new();
        }
        result
    }
}

#[cfg(test)]
mod tests {
    use super::Unfed;
    use bytes::Bytes;
    use sockless_core::Instant;

    /// Once everything held is fed, the allocation it came in is let go
    /// (an idle connection held its detection buffer, about 4 KiB, for good).
    #[test]
    fn fed_bytes_give_their_allocation_back() {
        let held = Bytes::from(b"GET / HTTP/1.1\r\nHost: a\r\n\r\n".to_vec());
        let mut unfed = Unfed::default();
        unfed.hold_bytes(held.clone());
        assert!(!held.is_unique());
        let mut conn = sockless_h1::ServerConnection::new(sockless_h1::Config::server(), Instant::ZERO);
        unfed.feed(&mut conn, Instant::ZERO).expect("a valid request");
        assert!(unfed.is_empty());
        assert!(held.is_unique(), "the fed bytes' allocation is still held");
    }
}
