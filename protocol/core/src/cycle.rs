//! The synchronous sans-IO cycle every driver runs: read → feed → drain
//! events and transmit → next deadline, written once over a [`Connection`]
//! and a byte [`Transport`], with no waker and no `Context`.
//!
//! A driver is these few calls in its own loop around its own way of waiting
//! (a blocking read with a timeout, `epoll_wait`, a virtual clock):
//!
//! * [`read_lent`] or [`read_owned`]: one read from the transport into the
//!   connection (its lent buffer, or an owned buffer from the driver's pool).
//! * [`settle`]: events and transmit, round and round until neither has
//!   anything (the order the [`Connection`] contract requires), then the
//!   next deadline. [`drain_events`] and [`transmit`] are its two halves, for
//!   drivers that interleave other work between them.
//! * [`fire_timers`]: fires what is due and says when to come back.
//!
//! It lives in sockless-core (`no_std` + `alloc`) so that embedded drivers
//! (a serial line, a simulator) use the same code as the socket drivers.
//!
//! ```
//! use sockless_core::cycle::{self, Transfer, Transport};
//! use sockless_core::{Connection, Event, Instant};
//!
//! /// A transport that accepts every byte and has nothing to read.
//! struct Sink(Vec<u8>);
//! impl Transport for Sink {
//!     type Error = core::convert::Infallible;
//!     fn read(&mut self, _buf: &mut [u8]) -> Result<Transfer, Self::Error> {
//!         Ok(Transfer::WouldBlock)
//!     }
//!     fn write_vectored(&mut self, bufs: &[&[u8]]) -> Result<Transfer, Self::Error> {
//!         let before = self.0.len();
//!         bufs.iter().for_each(|b| self.0.extend_from_slice(b));
//!         Ok(Transfer::Done(self.0.len() - before))
//!     }
//! }
//!
//! fn turn<C: Connection>(conn: &mut C, io: &mut Sink, now: Instant) -> Option<Instant> {
//!     let _ = cycle::read_lent(conn, io, now);
//!     let settled = cycle::settle(conn, io, |_conn, event: Event| println!("{event:?}")).ok()?;
//!     cycle::fire_timers(conn, now).or(settled.deadline)
//! }
//! ```

use crate::connection::Connection;
use crate::event::Event;
use crate::time::Instant;
use alloc::vec::Vec;
use bytes::BytesMut;

/// Slices offered to one vectored write (Linux's `writev` takes up to 1024;
/// a round rarely queues more than a few dozen).
pub const MAX_SLICES: usize = 32;

/// What a transport did with one read or write.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Transfer {
    /// This many bytes moved. A read of 0 is the peer's end of stream; a
    /// transport never reports a write of 0 for non-empty slices (that is
    /// its error, `WriteZero` on std).
    Done(usize),
    /// Nothing can move now: the driver waits until the transport is ready.
    WouldBlock,
}

/// A byte transport as the cycle sees it: a socket, a pipe, a serial line,
/// a simulated link. Blocking transports simply never say
/// [`Transfer::WouldBlock`] (or say it when a read timed out).
pub trait Transport {
    /// What a broken transport reports.
    type Error;

    /// Reads into `buf`.
    fn read(&mut self, buf: &mut [u8]) -> Result<Transfer, Self::Error>;

    /// Reads up to `max` bytes onto the end of `buf` (owned-buffer input).
    /// The default zero-fills the room and calls [`read`](Self::read);
    /// a transport that can read into uninitialised memory overrides it.
    fn read_into(&mut self, buf: &mut BytesMut, max: usize) -> Result<Transfer, Self::Error> {
        let start = buf.len();
        buf.resize(start + max, 0);
        let r = self.read(&mut buf[start..]);
        let n = match r {
            Ok(Transfer::Done(n)) => n.min(max),
            _ => 0,
        };
        buf.truncate(start + n);
        r
    }

    /// Writes `bufs` in order, as one vectored write where it can.
    fn write_vectored(&mut self, bufs: &[&[u8]]) -> Result<Transfer, Self::Error>;
}

/// What one read did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Input {
    /// This many bytes were fed to the connection.
    Bytes(usize),
    /// The peer closed its side; the connection was told.
    Eof,
    /// The transport had nothing.
    WouldBlock,
    /// The connection takes no input now (its unread events or unsent
    /// output are over their caps): settle first, then read again.
    Unwanted,
}

/// Reads once into the connection's lent buffer and feeds what came.
///
/// A protocol error in the input is not returned: the connection reports it
/// as an event (see the contract), so the driver only learns of transport
/// errors here.
pub fn read_lent<C, T>(conn: &mut C, io: &mut T, now: Instant) -> Result<Input, T::Error>
where
    C: Connection + ?Sized,
    T: Transport + ?Sized,
{
    let buf = conn.input_buffer();
    if buf.is_empty() {
        return Ok(Input::Unwanted);
    }
    match io.read(buf) {
        Ok(Transfer::Done(0)) => {
            let _ = conn.commit_input(now, 0);
            conn.handle_eof(now);
            Ok(Input::Eof)
        }
        Ok(Transfer::Done(n)) => {
            let _ = conn.commit_input(now, n);
            Ok(Input::Bytes(n))
        }
        Ok(Transfer::WouldBlock) => {
            // Give the lent region back: nothing was read.
            let _ = conn.commit_input(now, 0);
            Ok(Input::WouldBlock)
        }
        Err(e) => {
            let _ = conn.commit_input(now, 0);
            Err(e)
        }
    }
}

/// Reads once into `buf`, an owned buffer (from a driver's pool), and gives
/// it to the connection when bytes came; `buf` is then left empty (no
/// allocation), and otherwise keeps its room for the next read. A
/// connection whose own buffer is empty adopts the bytes without a copy.
///
/// `max` bounds the read; 0 reads nothing and reports [`Input::Unwanted`]
/// (a driver passes 0 while it holds input back, see the contract).
pub fn read_owned<C, T>(
    conn: &mut C,
    io: &mut T,
    now: Instant,
    buf: &mut BytesMut,
    max: usize,
) -> Result<Input, T::Error>
where
    C: Connection + ?Sized,
    T: Transport + ?Sized,
{
    if max == 0 {
        return Ok(Input::Unwanted);
    }
    buf.clear();
    match io.read_into(buf, max)? {
        Transfer::Done(0) => {
            conn.handle_eof(now);
            Ok(Input::Eof)
        }
        Transfer::Done(n) => {
            let _ = conn.return_input_buffer(now, core::mem::take(buf));
            Ok(Input::Bytes(n))
        }
        Transfer::WouldBlock => Ok(Input::WouldBlock),
    }
}

/// What [`transmit`] did.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Sent {
    /// Bytes written.
    pub bytes: usize,
    /// The transport would block with output still queued: a non-blocking
    /// driver asks to be told when it is writable again.
    pub blocked: bool,
}

/// Writes what the connection has queued, one vectored write per round,
/// until nothing is left or the transport would block.
pub fn transmit<C, T>(conn: &mut C, io: &mut T) -> Result<Sent, T::Error>
where
    C: Connection + ?Sized,
    T: Transport + ?Sized,
{
    let mut sent = Sent::default();
    loop {
        let mut slices: [&[u8]; MAX_SLICES] = [&[]; MAX_SLICES];
        let n = conn.poll_transmit(&mut slices);
        if n == 0 {
            return Ok(sent);
        }
        match io.write_vectored(&slices[..n])? {
            Transfer::Done(0) | Transfer::WouldBlock => {
                sent.blocked = true;
                return Ok(sent);
            }
            Transfer::Done(w) => {
                conn.advance_transmit(w);
                sent.bytes += w;
            }
        }
    }
}

/// What [`drain_events`] saw.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Drained {
    /// How many events were handled.
    pub events: usize,
    /// The last one was [`Event::Closed`] or [`Event::Upgrade`]: the
    /// connection is finished and the driver closes (or hands over) the
    /// transport. Nothing was polled after it.
    pub finished: bool,
}

/// Passes every ready event to `on_event`, which may issue commands on the
/// connection; stops after [`Event::Closed`] or [`Event::Upgrade`].
pub fn drain_events<C>(conn: &mut C, mut on_event: impl FnMut(&mut C, Event)) -> Drained
where
    C: Connection + ?Sized,
{
    let mut drained = Drained::default();
    while let Some(event) = conn.poll_event() {
        drained.events += 1;
        let last = matches!(event, Event::Closed(_) | Event::Upgrade { .. });
        on_event(conn, event);
        if last {
            drained.finished = true;
            break;
        }
    }
    drained
}

/// What [`settle`] left.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Settled {
    /// Events handled.
    pub events: usize,
    /// Bytes written.
    pub bytes: usize,
    /// Output is still queued and the transport would block.
    pub blocked: bool,
    /// The connection is finished (see [`Drained::finished`]).
    pub finished: bool,
    /// The connection's next deadline, read after everything settled.
    pub deadline: Option<Instant>,
}

/// Events, then transmit, round and round until neither moves, then the
/// next deadline: the order the [`Connection`] contract requires.
///
/// Both halves can feed the other: the commands `on_event` issues queue
/// output, and writing output can release events ([`Event::Closed`] and
/// [`Event::Upgrade`] come only once every queued byte left). Events go
/// first so that the answers given while handling them leave in the same
/// vectored write.
pub fn settle<C, T>(conn: &mut C, io: &mut T, mut on_event: impl FnMut(&mut C, Event)) -> Result<Settled, T::Error>
where
    C: Connection + ?Sized,
    T: Transport + ?Sized,
{
    let mut settled = Settled::default();
    loop {
        let drained = drain_events(conn, &mut on_event);
        settled.events += drained.events;
        if drained.finished {
            settled.finished = true;
            return Ok(settled);
        }
        let sent = transmit(conn, io)?;
        settled.bytes += sent.bytes;
        settled.blocked = sent.blocked;
        // Written bytes may have released events (a close after the last
        // byte); otherwise, with nothing written, nothing can have changed.
        if sent.bytes == 0 || sent.blocked {
            let drained = drain_events(conn, &mut on_event);
            settled.events += drained.events;
            settled.finished = drained.finished;
            if drained.events == 0 || drained.finished {
                break;
            }
        }
    }
    if !settled.finished {
        settled.deadline = conn.poll_timeout();
    }
    Ok(settled)
}

/// Fires the connection's timers if they are due at `now`; returns the next
/// deadline when nothing fired, `None` when something did (the driver
/// settles the connection, which reads the deadline again) or no timer runs.
pub fn fire_timers<C>(conn: &mut C, now: Instant) -> Option<Instant>
where
    C: Connection + ?Sized,
{
    let deadline = conn.poll_timeout()?;
    if deadline <= now {
        conn.handle_timeout(now);
        return None;
    }
    Some(deadline)
}

/// Any `std::io::Read + Write` (a `TcpStream`, a pipe, a serial port) as a
/// [`Transport`]: `WouldBlock` and `TimedOut` (a blocking read's timeout)
/// become [`Transfer::WouldBlock`], interrupted calls are retried, and a
/// write of 0 bytes becomes `WriteZero`.
#[cfg(feature = "std")]
#[derive(Debug)]
pub struct StdIo<T>(pub T);

#[cfg(feature = "std")]
impl<T: std::io::Read + std::io::Write> Transport for StdIo<T> {
    type Error = std::io::Error;

    fn read(&mut self, buf: &mut [u8]) -> Result<Transfer, std::io::Error> {
        use std::io::ErrorKind;
        loop {
            return match self.0.read(buf) {
                Ok(n) => Ok(Transfer::Done(n)),
                Err(e) if e.kind() == ErrorKind::Interrupted => continue,
                Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => Ok(Transfer::WouldBlock),
                Err(e) => Err(e),
            };
        }
    }

    fn write_vectored(&mut self, bufs: &[&[u8]]) -> Result<Transfer, std::io::Error> {
        use std::io::{ErrorKind, IoSlice};
        let mut slices = [IoSlice::new(&[]); MAX_SLICES];
        let n = bufs.len().min(MAX_SLICES);
        for (dst, src) in slices.iter_mut().zip(&bufs[..n]) {
            *dst = IoSlice::new(src);
        }
        loop {
            return match self.0.write_vectored(&slices[..n]) {
                Ok(0) if bufs.iter().any(|b| !b.is_empty()) => Err(ErrorKind::WriteZero.into()),
                Ok(n) => Ok(Transfer::Done(n)),
                Err(e) if e.kind() == ErrorKind::Interrupted => continue,
                Err(e) if e.kind() == ErrorKind::WouldBlock => Ok(Transfer::WouldBlock),
                Err(e) => Err(e),
            };
        }
    }
}

/// A transport that takes every byte at once into memory and never has
/// input: what [`transmit_all`] writes to.
impl Transport for Vec<u8> {
    type Error = core::convert::Infallible;

    fn read(&mut self, _buf: &mut [u8]) -> Result<Transfer, Self::Error> {
        Ok(Transfer::WouldBlock)
    }

    fn write_vectored(&mut self, bufs: &[&[u8]]) -> Result<Transfer, Self::Error> {
        let before = self.len();
        bufs.iter().for_each(|b| self.extend_from_slice(b));
        Ok(Transfer::Done(self.len() - before))
    }
}

/// Takes everything `conn` has queued for transmission, as one buffer, and
/// marks it written: a transport that accepts every byte at once. For tests,
/// simulations and drivers that write into memory.
pub fn transmit_all(conn: &mut (impl Connection + ?Sized)) -> Vec<u8> {
    let mut all = Vec::new();
    match transmit(conn, &mut all) {
        Ok(_) => all,
        Err(never) => match never {},
    }
}

/// Takes every event `conn` has ready.
pub fn poll_events(conn: &mut (impl Connection + ?Sized)) -> Vec<Event> {
    core::iter::from_fn(|| conn.poll_event()).collect()
}
