//! The receive buffer every protocol uses: copy-in, lent and owned-buffer
//! input into one `BytesMut`, from which heads and bodies are split off as
//! `Bytes` without copying.

use crate::error::UserError;
use bytes::{Bytes, BytesMut};

/// Received bytes waiting to be parsed, with a ceiling.
///
/// Implements the three input styles of the [`Connection`](crate::Connection)
/// contract: [`push`](Self::push) (copy-in), [`lend`](Self::lend) and
/// [`commit`](Self::commit) (read into a lent slice), and [`take`](Self::take)
/// and [`give_back`](Self::give_back) (owned buffers for completion IO).
#[derive(Debug)]
pub struct InputBuffer {
    buf: BytesMut,
    /// Start of the region lent by `lend`, until committed.
    lent: Option<usize>,
    cap: usize,
    read_size: usize,
    /// How much the next `lend` offers: it follows the reads actually seen,
    /// so a connection of small requests does not zero `read_size` bytes per
    /// read (safe code must initialise what it lends).
    lend_size: usize,
}

/// The smallest region `lend` offers.
const MIN_LEND: usize = 512;

impl InputBuffer {
    /// An empty buffer holding at most `cap` bytes, lending `read_size` at a time.
    pub fn new(cap: usize, read_size: usize) -> Self {
        let read_size = read_size.max(64);
        InputBuffer { buf: BytesMut::new(), lent: None, cap, read_size, lend_size: read_size }
    }

    fn cancel_lend(&mut self) {
        if let Some(start) = self.lent.take() {
            self.buf.truncate(start);
        }
    }

    /// How many more bytes may be buffered.
    #[inline]
    pub fn space(&self) -> usize {
        self.cap.saturating_sub(self.buf.len())
    }

    /// Copies in as much of `input` as fits; returns how much.
    #[inline]
    pub fn push(&mut self, input: &[u8]) -> usize {
        self.cancel_lend();
        let n = input.len().min(self.space());
        self.buf.extend_from_slice(&input[..n]);
        n
    }

    /// Lends a zeroed region at the end to read into: up to `read_size`
    /// bytes, fewer after small reads (it grows back as soon as a read fills it).
    pub fn lend(&mut self) -> &mut [u8] {
        self.cancel_lend();
        let n = self.lend_size.min(self.space());
        let start = self.buf.len();
        if n > 0 {
            self.buf.resize(start + n, 0);
            self.lent = Some(start);
        }
        &mut self.buf[start..]
    }

    /// Keeps `n` bytes of the lent region.
    pub fn commit(&mut self, n: usize) -> Result<(), UserError> {
        let start = self.lent.take().ok_or(UserError::BufferNotLent)?;
        if n > self.buf.len() - start {
            self.buf.truncate(start);
            return Err(UserError::CommitTooLarge);
        }
        let lent = self.buf.len() - start;
        self.buf.truncate(start + n);
        // A read that filled the region asks for the full size next time;
        // otherwise offer about twice what came.
        self.lend_size =
            if n == lent { self.read_size } else { (n * 2).clamp(MIN_LEND.min(self.read_size), self.read_size) };
        Ok(())
    }

    /// An empty buffer with room for `read_size` bytes, split from our own
    /// allocation so that giving it back is usually free.
    pub fn take(&mut self) -> BytesMut {
        self.cancel_lend();
        let room = self.read_size.min(self.space());
        self.buf.reserve(room);
        let len = self.buf.len();
        self.buf.split_off(len)
    }

    /// Gives back a taken buffer holding new input.
    pub fn give_back(&mut self, taken: BytesMut) {
        self.cancel_lend();
        self.buf.unsplit(taken);
    }

    /// The buffered bytes.
    #[inline]
    pub fn data(&self) -> &[u8] {
        &self.buf
    }

    /// The buffered bytes, for a parser to split from.
    #[inline]
    pub fn bytes_mut(&mut self) -> &mut BytesMut {
        self.cancel_lend();
        &mut self.buf
    }

    /// Whether nothing is buffered.
    #[inline]
    pub fn is_empty(&self) -> bool {
        self.buf.is_empty()
    }

    /// Everything buffered, as one `Bytes` (for a protocol switch).
    pub fn take_all(&mut self) -> Bytes {
        self.cancel_lend();
        self.buf.split().freeze()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lend_commit_and_cap() {
        let mut r = InputBuffer::new(10, 8);
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
        let mut r = InputBuffer::new(100, 16);
        r.push(b"ab");
        let mut t = r.take();
        assert!(t.is_empty());
        t.extend_from_slice(b"cd");
        r.give_back(t);
        assert_eq!(r.data(), b"abcd");
    }
}
