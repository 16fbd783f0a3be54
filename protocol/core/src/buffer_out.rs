//! The transmit queue every protocol uses: framing bytes written into one
//! reusable buffer, body `Bytes` queued as they came, offered together for
//! one vectored write.

use alloc::collections::VecDeque;
use bytes::Bytes;

#[derive(Debug)]
enum Seg {
    /// A range of `Transmit::framing`.
    Framing { start: usize, end: usize },
    /// Body bytes, passed through untouched.
    Body(Bytes),
}

/// Bytes waiting to be written, in order: framing written into one reusable
/// buffer, bodies as the `Bytes` they came in (never copied).
#[derive(Debug, Default)]
pub struct TransmitQueue {
    framing: alloc::vec::Vec<u8>,
    segs: VecDeque<Seg>,
    /// Bytes of the front segment already written.
    front_done: usize,
    queued: usize,
}

impl TransmitQueue {
    /// Bytes queued.
    #[inline]
    pub fn len(&self) -> usize {
        self.queued
    }

    /// Whether nothing is queued.
    #[inline]
    pub fn is_empty(&self) -> bool {
        self.queued == 0
    }

    /// Appends framing bytes through a writer closure.
    #[inline]
    pub fn framing(&mut self, write: impl FnOnce(&mut alloc::vec::Vec<u8>)) {
        let start = self.framing.len();
        write(&mut self.framing);
        let end = self.framing.len();
        if end == start {
            return;
        }
        self.queued += end - start;
        if let Some(Seg::Framing { end: last_end, .. }) = self.segs.back_mut() {
            if *last_end == start {
                *last_end = end;
                return;
            }
        }
        self.segs.push_back(Seg::Framing { start, end });
    }

    /// Appends framing bytes.
    #[inline]
    pub fn push_framing(&mut self, bytes: &[u8]) {
        self.framing(|b| b.extend_from_slice(bytes));
    }

    /// Appends body bytes without copying.
    #[inline]
    pub fn push_body(&mut self, data: Bytes) {
        if data.is_empty() {
            return;
        }
        self.queued += data.len();
        self.segs.push_back(Seg::Body(data));
    }

    /// Moves everything queued in `other` behind what is queued here.
    pub fn append(&mut self, other: &mut TransmitQueue) {
        while let Some(seg) = other.segs.pop_front() {
            let skip = core::mem::take(&mut other.front_done);
            match seg {
                Seg::Framing { start, end } => {
                    let bytes = &other.framing[start + skip..end];
                    let (this_start, this_len) = (self.framing.len(), bytes.len());
                    self.framing.extend_from_slice(bytes);
                    self.queued += this_len;
                    self.segs.push_back(Seg::Framing { start: this_start, end: this_start + this_len });
                }
                Seg::Body(b) => self.push_body(b.slice(skip..)),
            }
        }
        other.framing.clear();
        other.queued = 0;
    }

    /// Fills `out` with the next slices; returns how many.
    #[inline]
    pub fn poll<'a>(&'a self, out: &mut [&'a [u8]]) -> usize {
        let mut n = 0;
        for (i, seg) in self.segs.iter().enumerate() {
            if n == out.len() {
                break;
            }
            let skip = if i == 0 { self.front_done } else { 0 };
            let s: &[u8] = match seg {
                Seg::Framing { start, end } => &self.framing[start + skip..*end],
                Seg::Body(b) => &b[skip..],
            };
            out[n] = s;
            n += 1;
        }
        n
    }

    /// Appends up to `max` of the next chunks to `out` as owned [`Bytes`]
    /// (for completion IO, where the kernel holds what it sends until the
    /// send completes); returns how many. Bodies go out as the `Bytes` they
    /// came in; the framing written so far is moved into one `Bytes`
    /// (its allocation changes hands, nothing is copied), so the next
    /// framing starts a new buffer.
    ///
    /// What is offered stays the front of the queue until
    /// [`advance`](Self::advance) says it was sent: appending more behind it
    /// while the kernel holds it is fine, and offering again before the
    /// advance offers the same bytes again.
    pub fn poll_owned(&mut self, out: &mut alloc::vec::Vec<Bytes>, max: usize) -> usize {
        self.seal();
        let mut n = 0;
        for (i, seg) in self.segs.iter().enumerate() {
            if n == max {
                break;
            }
            let skip = if i == 0 { self.front_done } else { 0 };
            match seg {
                Seg::Body(b) => out.push(b.slice(skip..)),
                Seg::Framing { .. } => unreachable!("sealed above"),
            }
            n += 1;
        }
        n
    }

    /// Turns every queued framing range into a `Bytes` over the framing
    /// buffer, which it takes over.
    fn seal(&mut self) {
        if !self.segs.iter().any(|s| matches!(s, Seg::Framing { .. })) {
            return;
        }
        let framing = Bytes::from(core::mem::take(&mut self.framing));
        for seg in &mut self.segs {
            if let Seg::Framing { start, end } = *seg {
                *seg = Seg::Body(framing.slice(start..end));
            }
        }
    }

    /// `n` bytes were written.
    #[inline]
    pub fn advance(&mut self, mut n: usize) {
        n = n.min(self.queued);
        self.queued -= n;
        while n > 0 {
            let Some(front) = self.segs.front() else { break };
            let len = match front {
                Seg::Framing { start, end } => end - start,
                Seg::Body(b) => b.len(),
            } - self.front_done;
            if n >= len {
                n -= len;
                self.front_done = 0;
                self.segs.pop_front();
            } else {
                self.front_done += n;
                n = 0;
            }
        }
        if self.segs.is_empty() {
            self.framing.clear();
            self.front_done = 0;
        } else {
            self.compact();
        }
    }

    /// Drops framing bytes already written once they are most of the
    /// buffer, so a peer that never lets the queue run dry cannot make it
    /// grow without bound.
    fn compact(&mut self) {
        // The written part of a framing range at the front no longer counts.
        if let Some(Seg::Framing { start, .. }) = self.segs.front_mut() {
            *start += core::mem::take(&mut self.front_done);
        }
        // Framing ranges are queued in order: the first one still queued
        // starts where the unwritten framing begins.
        let Some(first) = self.segs.iter().find_map(|s| match s {
            Seg::Framing { start, .. } => Some(*start),
            Seg::Body(_) => None,
        }) else {
            self.framing.clear();
            return;
        };
        if first < 4096 || first < self.framing.len() / 2 {
            return;
        }
        self.framing.drain(..first);
        for seg in &mut self.segs {
            if let Seg::Framing { start, end } = seg {
                *start -= first;
                *end -= first;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::vec::Vec;

    fn drain(t: &mut TransmitQueue, step: usize) -> Vec<u8> {
        let mut all = Vec::new();
        loop {
            let mut out: [&[u8]; 4] = [&[]; 4];
            let n = t.poll(&mut out);
            if n == 0 {
                break;
            }
            let flat: Vec<u8> = out[..n].concat();
            let w = flat.len().min(step);
            all.extend_from_slice(&flat[..w]);
            t.advance(w);
        }
        all
    }

    #[test]
    fn framing_and_body_interleave() {
        let mut t = TransmitQueue::default();
        t.push_framing(b"head\r\n");
        t.push_framing(b"\r\n");
        t.push_body(Bytes::from_static(b"body"));
        t.push_framing(b"tail");
        assert_eq!(t.len(), 16);
        assert_eq!(drain(&mut t, 3), b"head\r\n\r\nbodytail");
        assert!(t.is_empty());
    }

    #[test]
    fn written_framing_is_dropped_while_the_queue_never_empties() {
        let mut t = TransmitQueue::default();
        for i in 0..100_000u32 {
            t.push_framing(&i.to_be_bytes());
            t.push_framing(b"0123456789abcdef");
            // The reader always leaves the last byte.
            let keep = 1;
            t.advance(t.len() - keep);
            assert!(t.framing.len() < 16 * 1024, "framing buffer grew to {}", t.framing.len());
        }
        assert_eq!(drain(&mut t, 7).len(), 1);
    }

    /// The owned chunks are the lent slices' bytes, whatever was written
    /// before and whatever is queued while they are held.
    #[test]
    fn owned_chunks_match_the_lent_slices() {
        let mut t = TransmitQueue::default();
        t.push_framing(b"head");
        t.push_body(Bytes::from_static(b"body"));
        t.push_framing(b"tail");
        t.advance(2);
        let mut held = Vec::new();
        assert_eq!(t.poll_owned(&mut held, 8), 3);
        assert_eq!(held.concat(), b"adbodytail");
        // Queued while the kernel holds them: goes behind, in a new buffer.
        t.push_framing(b"more");
        assert_eq!(held.concat(), b"adbodytail");
        t.advance(5);
        assert_eq!(drain(&mut t, 3), b"ytailmore");
        // A body is handed out as the same allocation, not a copy.
        let body = Bytes::from(b"0123456789".to_vec());
        t.push_body(body.clone());
        let mut held = Vec::new();
        t.poll_owned(&mut held, 1);
        assert_eq!(held[0].as_ptr(), body.as_ptr());
    }

    #[test]
    fn append_after_partial_write() {
        let mut a = TransmitQueue::default();
        let mut b = TransmitQueue::default();
        b.push_framing(b"xyz");
        b.push_body(Bytes::from_static(b"123"));
        b.advance(1);
        a.push_framing(b"a");
        a.append(&mut b);
        assert!(b.is_empty());
        assert_eq!(drain(&mut a, 100), b"ayz123");
    }
}
