//! The receive buffer: copy-in, lent and owned-buffer input into one
//! `BytesMut`, from which heads and bodies are split off as `Bytes` without
//! copying.

use bytes::{Bytes, BytesMut};
use sockless_core::UserError;

pub(crate) struct RecvBuf {
    buf: BytesMut,
    /// Start of the region lent by `lend`, until committed.
    lent: Option<usize>,
    cap: usize,
    read_size: usize,
}

impl RecvBuf {
    pub(crate) fn new(cap: usize, read_size: usize) -> Self {
        RecvBuf { buf: BytesMut::new(), lent: None, cap, read_size: read_size.max(64) }
    }

    fn cancel_lend(&mut self) {
        if let Some(start) = self.lent.take() {
            self.buf.truncate(start);
        }
    }

    /// How many more bytes may be buffered.
    pub(crate) fn space(&self) -> usize {
        self.cap.saturating_sub(self.buf.len())
    }

    /// Copies in as much of `input` as fits; returns how much.
    pub(crate) fn push(&mut self, input: &[u8]) -> usize {
        self.cancel_lend();
        let n = input.len().min(self.space());
        self.buf.extend_from_slice(&input[..n]);
        n
    }

    /// Lends a zeroed region at the end to read into.
    pub(crate) fn lend(&mut self) -> &mut [u8] {
        self.cancel_lend();
        let n = self.read_size.min(self.space());
        let start = self.buf.len();
        if n > 0 {
            self.buf.resize(start + n, 0);
            self.lent = Some(start);
        }
        &mut self.buf[start..]
    }

    /// Keeps `n` bytes of the lent region.
    pub(crate) fn commit(&mut self, n: usize) -> Result<(), UserError> {
        let start = self.lent.take().ok_or(UserError::BufferNotLent)?;
        if n > self.buf.len() - start {
            self.buf.truncate(start);
            return Err(UserError::CommitTooLarge);
        }
        self.buf.truncate(start + n);
        Ok(())
    }

    /// An empty buffer with room for `read_size` bytes, split from our own
    /// allocation so that giving it back is usually free.
    pub(crate) fn take(&mut self) -> BytesMut {
        self.cancel_lend();
        let room = self.read_size.min(self.space());
        self.buf.reserve(room);
        let len = self.buf.len();
        self.buf.split_off(len)
    }

    /// Gives back a taken buffer holding new input.
    pub(crate) fn give_back(&mut self, taken: BytesMut) {
        self.cancel_lend();
        self.buf.unsplit(taken);
    }

    #[cfg(test)]
    pub(crate) fn data(&self) -> &[u8] {
        &self.buf
    }

    pub(crate) fn bytes_mut(&mut self) -> &mut BytesMut {
        self.cancel_lend();
        &mut self.buf
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.buf.is_empty()
    }

    pub(crate) fn take_all(&mut self) -> Bytes {
        self.cancel_lend();
        self.buf.split().freeze()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lend_commit_and_cap() {
        let mut r = RecvBuf::new(10, 8);
        assert_eq!(r.push(b"abc"), 3);
        let b = r.lend();
        assert_eq!(b.len(), 7);
        b[..2].copy_from_slice(b"de");
        r.commit(2).unwrap();
        assert_eq!(r.data(), b"abcde");
        assert_eq!(r.commit(1), Err(UserError::BufferNotLent));
        let _ = r.lend();
        assert_eq!(r.commit(100), Err(UserError::CommitTooLarge));
        assert_eq!(r.data(), b"abcde");
        assert_eq!(r.push(b"0123456789"), 5);
        assert_eq!(r.space(), 0);
        assert!(r.lend().is_empty());
    }

    #[test]
    fn take_and_give_back() {
        let mut r = RecvBuf::new(100, 16);
        r.push(b"ab");
        let mut t = r.take();
        assert!(t.is_empty());
        t.extend_from_slice(b"cd");
        r.give_back(t);
        assert_eq!(r.data(), b"abcd");
    }
}
