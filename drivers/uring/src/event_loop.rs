//! One loop thread on its own ring: a multishot accept on its listener, a
//! multishot poll on its inbox's eventfd, and per connection at most one
//! receive (into the connection's owned input buffer) and one send (of its
//! owned output chunks) in flight. Everything the kernel holds stays alive
//! in the connection's slab entry until the completion for it arrives.

use io_uring::{cqueue, opcode, squeue, types, IoUring};
use rustix::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use sockless_core::{Bytes, BytesMut, Connection, Duration, Instant};
use sockless_epoll::conn::{Conn, Driven, Shared, Slot};
use sockless_epoll::inbox::{ConnWake, Inbox, Msg};
use sockless_epoll::sock::Sock;
use sockless_epoll::wheel::{Key, Wheel};
use sockless_epoll::workers::Workers;
use sockless_rt::cycle::MAX_SLICES;
use sockless_rt::{Clock, Request, Response, ResponseRules, ServerOptions};
use std::future::Future;
use std::io;
use std::sync::Arc;

/// The multishot accept's `user_data`.
const ACCEPT: u64 = u64::MAX;
/// The inbox eventfd's multishot poll.
const INBOX: u64 = u64::MAX - 1;
/// Cancellations (their own completions carry nothing to do).
const CANCEL: u64 = u64::MAX - 2;
/// A connection's receive and send: the op in the top byte, the slab
/// generation (24 bits) and index below it.
const RECV: u64 = 1;
const SEND: u64 = 2;
/// Generations wrap at 24 bits, what `user_data` has room for.
const GENERATION_MASK: u32 = 0x00FF_FFFF;
/// After an accept error other than a race (out of file descriptors),
/// accepting pauses this long.
const ACCEPT_PAUSE: Duration = Duration::from_millis(20);

fn user_data(op: u64, k: Key) -> u64 {
    (op << 56) | (u64::from(k.generation & GENERATION_MASK) << 32) | u64::from(k.index)
}

fn split(data: u64) -> (u64, Key) {
    (data >> 56, Key { index: data as u32, generation: ((data >> 32) as u32) & GENERATION_MASK })
}

/// The token a connection's waker posts (its slab key, as on epoll).
fn token(k: Key) -> u64 {
    (u64::from(k.generation) << 32) | u64::from(k.index)
}

fn key(token: u64) -> Key {
    Key { index: token as u32, generation: (token >> 32) as u32 }
}

/// What the kernel holds for one connection, kept here (not in the
/// connection) so that it outlives a connection that closes first.
#[derive(Default)]
struct Io {
    /// The buffer a receive fills, while it is in flight.
    recv: Option<BytesMut>,
    /// The chunks a send writes, and their iovecs, while it is in flight.
    send: Vec<Bytes>,
    iov: Vec<libc::iovec>,
    sending: bool,
    /// The peer's end of stream came (no receive is posted again).
    read_closed: bool,
}

struct Entry<C, F> {
    generation: u32,
    conn: Option<Conn<C, F>>,
    fd: RawFd,
    /// The connection is finished; the entry is freed once the kernel gave
    /// back everything it holds.
    closing: bool,
    io: Io,
}

/// What a loop thread is given.
pub(crate) struct Setup<M, H> {
    pub listener: OwnedFd,
    pub inbox: Arc<Inbox>,
    pub make: Arc<M>,
    pub handler: Arc<H>,
    pub workers: Option<Arc<Workers>>,
    pub options: ServerOptions,
    /// This loop's share of the connection ceiling.
    pub max_connections: usize,
    pub clock: Clock,
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Accept {
    /// No accept in flight.
    Off,
    Armed,
    /// Cancelled; its last completion has not come yet.
    Cancelling,
}

pub(crate) struct Loop<M, C, H, F> {
    ring: IoUring,
    listener: Option<OwnedFd>,
    accept: Accept,
    accept_retry: Option<Instant>,
    inbox: Arc<Inbox>,
    inbox_armed: bool,
    slab: Vec<Entry<C, F>>,
    free: Vec<u32>,
    /// Connections open (the ceiling counts these).
    live: usize,
    /// Entries closed whose buffers the kernel still holds.
    closing: usize,
    max: usize,
    wheel: Wheel,
    clock: Clock,
    now: Instant,
    make: Arc<M>,
    handler: Arc<H>,
    spare: Option<Slot<F>>,
    workers: Option<Arc<Workers>>,
    /// Unused by completion IO (the receive buffer is the connection's
    /// own), but part of what a drive shares.
    pool: Vec<BytesMut>,
    options: ServerOptions,
    /// `options`' response rules, built once.
    rules: ResponseRules,
    drain_until: Option<Instant>,
}

impl<M, C, H, F> Loop<M, C, H, F>
where
    M: Fn(Instant) -> C + Send + Sync + 'static,
    C: Connection + 'static,
    H: Fn(Request) -> F + Send + Sync + 'static,
    F: Future<Output = Response> + Send + 'static,
{
    pub(crate) fn new(ring: IoUring, setup: Setup<M, H>) -> Self {
        let now = setup.clock.at(std::time::Instant::now());
        Loop {
            ring,
            listener: Some(setup.listener),
            accept: Accept::Off,
            accept_retry: None,
            inbox: setup.inbox,
            inbox_armed: false,
            slab: Vec::new(),
            free: Vec::new(),
            live: 0,
            closing: 0,
            max: setup.max_connections.max(1),
            wheel: Wheel::new(now),
            clock: setup.clock,
            now,
            make: setup.make,
            handler: setup.handler,
            spare: None,
            workers: setup.workers,
            pool: Vec::new(),
            rules: ResponseRules::new(&setup.options),
            options: setup.options,
            drain_until: None,
        }
    }

    /// Runs until graceful shutdown finished and the kernel holds nothing
    /// of this loop's; then refuses what is still posted to the inbox.
    pub(crate) fn run(mut self) -> io::Result<()> {
        let result = self.run_loop();
        self.inbox.close();
        result
    }

    fn run_loop(&mut self) -> io::Result<()> {
        let mut completions: Vec<(u64, i32, u32)> = Vec::with_capacity(256);
        let mut msgs: Vec<Msg> = Vec::new();
        let mut due: Vec<(Key, u64)> = Vec::new();
        self.resume_accepting();
        self.arm_inbox();
        loop {
            if self.drain_until.is_some() && self.live == 0 && self.closing == 0 && self.accept == Accept::Off {
                return Ok(());
            }
            // One submit per iteration: what this round queued goes in, and
            // the wait ends at the first completion or the next timer.
            let timeout = self.timeout();
            let submitted = match &timeout {
                Some(ts) => self.ring.submitter().submit_with_args(1, &types::SubmitArgs::new().timespec(ts)),
                None => self.ring.submit_and_wait(1),
            };
            match submitted {
                Ok(_) => {}
                Err(e) if matches!(e.raw_os_error(), Some(libc::ETIME | libc::EINTR | libc::EBUSY)) => {}
                Err(e) => return Err(e),
            }
            self.now = self.clock.at(std::time::Instant::now());
            completions.clear();
            completions.extend(self.ring.completion().map(|c| (c.user_data(), c.result(), c.flags())));
            for &(data, result, flags) in &completions {
                match data {
                    ACCEPT => self.accepted(result, flags),
                    INBOX => {
                        if !cqueue::more(flags) {
                            self.inbox_armed = false;
                            self.arm_inbox();
                        }
                        self.inbox.drain(&mut msgs);
                        for msg in msgs.drain(..) {
                            self.message(msg);
                        }
                    }
                    CANCEL => {}
                    _ => {
                        let (op, k) = split(data);
                        match op {
                            RECV => self.received(k, result),
                            SEND => self.sent(k, result),
                            _ => {}
                        }
                    }
                }
            }
            due.clear();
            self.wheel.expire(self.now, &mut due);
            for &(k, tick) in &due {
                if let Some(c) = self.get(k) {
                    // An entry the connection replaced by an earlier one is stale.
                    if c.linked == Some(tick) {
                        c.linked = None;
                        self.drive(k);
                    }
                }
            }
            if self.accept_retry.is_some_and(|t| t <= self.now) {
                self.accept_retry = None;
                self.resume_accepting();
            }
            if self.drain_until.is_none() && self.options.shutdown.is_triggered() {
                self.begin_shutdown();
            }
            if self.drain_until.is_some_and(|t| t <= self.now) {
                // Drained long enough: the rest is closed abruptly.
                for index in 0..self.slab.len() {
                    if self.slab[index].conn.is_some() && !self.slab[index].closing {
                        let generation = self.slab[index].generation;
                        self.close(Key { index: index as u32, generation });
                    }
                }
            }
        }
    }

    fn message(&mut self, msg: Msg) {
        match msg {
            Msg::Wake(t) => self.drive(key(t)),
            Msg::Respond(t, stream, response) => {
                let k = key(t);
                // `live` borrows only the slab, so the rules can be lent beside it.
                if let Some(c) = live(&mut self.slab, k) {
                    c.respond(stream, response, &self.rules);
                    self.drive(k);
                }
            }
            Msg::Shutdown => {
                if self.drain_until.is_none() {
                    self.begin_shutdown();
                }
            }
            // Client connections run on sockless-epoll's client loops.
            Msg::Attach(_, _, reply) => reply.put(Err(unsupported())),
            Msg::Request(_, _, reply) => reply.put(Err(unsupported())),
            Msg::Release(_) => {}
        }
    }

    /// The wait's timeout: the next timer, accept retry or drain deadline.
    fn timeout(&self) -> Option<types::Timespec> {
        let mut ms = self.wheel.timeout_ms(self.now);
        for at in [self.accept_retry, self.drain_until].into_iter().flatten() {
            let d = (at - self.now).as_millis().min(u128::from(u32::MAX)) as u64 + 1;
            ms = Some(ms.map_or(d, |m| m.min(d)));
        }
        ms.map(|ms| types::Timespec::new().sec(ms / 1000).nsec(((ms % 1000) * 1_000_000) as u32))
    }

    /// Queues a submission; a full queue is submitted first (rare: it holds
    /// [`ENTRIES`](crate::ring::ENTRIES)).
    ///
    /// # Safety
    /// Whatever memory `sqe` points at stays valid until its completion.
    unsafe fn push(&mut self, sqe: squeue::Entry) {
        loop {
            // SAFETY: the caller keeps what `sqe` points at alive until its completion.
            if unsafe { self.ring.submission().push(&sqe) }.is_ok() {
                return;
            }
            if self.ring.submit().is_err() {
                // The kernel takes nothing now: drop the op rather than spin;
                // the connection's state says nothing is in flight.
                return;
            }
        }
    }

    fn arm_inbox(&mut self) {
        if self.inbox_armed {
            return;
        }
        let fd = self.inbox.eventfd.as_raw_fd();
        let sqe = opcode::PollAdd::new(types::Fd(fd), libc::POLLIN as u32).multi(true).build().user_data(INBOX);
        // SAFETY: a poll points at no memory; the eventfd lives as long as the inbox.
        unsafe { self.push(sqe) };
        self.inbox_armed = true;
    }

    fn get(&mut self, k: Key) -> Option<&mut Conn<C, F>> {
        live(&mut self.slab, k)
    }

    fn resume_accepting(&mut self) {
        let Some(listener) = &self.listener else { return };
        if self.accept != Accept::Off || self.accept_retry.is_some() || self.live >= self.max {
            return;
        }
        let sqe = opcode::AcceptMulti::new(types::Fd(listener.as_raw_fd()))
            .flags(libc::SOCK_CLOEXEC)
            .build()
            .user_data(ACCEPT);
        // SAFETY: a multishot accept without an address points at no memory.
        unsafe { self.push(sqe) };
        self.accept = Accept::Armed;
    }

    fn pause_accepting(&mut self) {
        if self.accept == Accept::Armed {
            let sqe = opcode::AsyncCancel::new(ACCEPT).build().user_data(CANCEL);
            // SAFETY: a cancellation points at no memory.
            unsafe { self.push(sqe) };
            self.accept = Accept::Cancelling;
        }
    }

    fn accepted(&mut self, result: i32, flags: u32) {
        if !cqueue::more(flags) {
            self.accept = Accept::Off;
        }
        if result >= 0 {
            // SAFETY: a successful accept's result is a new descriptor that
            // nothing else owns.
            let fd = unsafe { OwnedFd::from_raw_fd(result) };
            if self.drain_until.is_some() || self.live >= self.max {
                // Accepted while the cancellation was on its way: over the
                // ceiling (or shutting down), it is closed at once.
                return;
            }
            self.add(fd);
            if self.live >= self.max {
                self.pause_accepting();
            }
        } else if result != -libc::ECANCELED && result != -libc::EINTR && result != -libc::ECONNABORTED {
            // Out of descriptors or memory: pause rather than spin.
            self.pause_accepting();
            self.accept_retry = Some(self.now + ACCEPT_PAUSE);
        }
        if self.accept == Accept::Off && self.drain_until.is_none() {
            self.resume_accepting();
        }
    }

    fn add(&mut self, fd: OwnedFd) {
        if self.options.nodelay {
            let _ = rustix::net::sockopt::set_tcp_nodelay(&fd, true);
        }
        let index = match self.free.pop() {
            Some(i) => i,
            None => {
                self.slab.push(Entry { generation: 0, conn: None, fd: -1, closing: false, io: Io::default() });
                (self.slab.len() - 1) as u32
            }
        };
        let k = Key { index, generation: self.slab[index as usize].generation };
        let wake = ConnWake::new(token(k), self.inbox.clone());
        let raw = fd.as_raw_fd();
        let conn = Conn::completion(token(k), Sock::new(fd), (self.make)(self.now), wake);
        let entry = &mut self.slab[index as usize];
        entry.conn = Some(conn);
        entry.fd = raw;
        entry.closing = false;
        entry.io.read_closed = false;
        self.live += 1;
        // A server connection starts with its timers (the header-read
        // timeout) and its first receive.
        self.after_drive(k, Driven::Open);
    }

    /// A receive completed: its bytes go to the connection, in the buffer
    /// they were read into.
    fn received(&mut self, k: Key, result: i32) {
        let Some(entry) = self.slab.get_mut(k.index as usize) else { return };
        if entry.generation != k.generation {
            return;
        }
        let Some(mut buf) = entry.io.recv.take() else { return };
        if entry.closing {
            self.release(k);
            return;
        }
        let Some(c) = entry.conn.as_mut() else { return };
        let now = self.now;
        match result {
            n if n > 0 => {
                let n = n as usize;
                debug_assert!(n <= buf.capacity() - buf.len());
                // SAFETY: the kernel wrote `n` bytes into the spare capacity
                // the receive was given (it never writes more than its length).
                unsafe { buf.set_len(buf.len() + n.min(buf.capacity() - buf.len())) };
                // A protocol error is reported as an event.
                let _ = c.protocol().return_input_buffer(now, buf);
            }
            0 => {
                let _ = c.protocol().return_input_buffer(now, buf);
                c.protocol().handle_eof(now);
                entry.io.read_closed = true;
            }
            e if e == -libc::EINTR || e == -libc::EAGAIN || e == -libc::ENOBUFS => {
                let _ = c.protocol().return_input_buffer(now, buf);
            }
            _ => {
                let _ = c.protocol().return_input_buffer(now, buf);
                self.close(k);
                return;
            }
        }
        self.drive(k);
    }

    /// A send completed: what went is advanced, the chunks are dropped, and
    /// the rest (and whatever was queued meanwhile) goes in the next send.
    fn sent(&mut self, k: Key, result: i32) {
        let Some(entry) = self.slab.get_mut(k.index as usize) else { return };
        if entry.generation != k.generation || !entry.io.sending {
            return;
        }
        entry.io.sending = false;
        entry.io.iov.clear();
        entry.io.send.clear();
        if entry.closing {
            self.release(k);
            return;
        }
        let Some(c) = entry.conn.as_mut() else { return };
        if result > 0 {
            c.protocol().advance_transmit(result as usize);
            self.drive(k);
        } else if result == -libc::EINTR || result == -libc::EAGAIN {
            self.drive(k);
        } else {
            // The peer is gone (EPIPE, ECONNRESET), or a send of 0.
            self.close(k);
        }
    }

    /// Drives one connection through the cycle and files what follows.
    fn drive(&mut self, k: Key) {
        let Some(entry) = self.slab.get_mut(k.index as usize) else { return };
        if entry.generation != k.generation || entry.closing {
            return;
        }
        let Some(c) = entry.conn.as_mut() else { return };
        c.blocked = entry.io.sending;
        let mut shared = Shared {
            now: self.now,
            handler: &self.handler,
            spare: &mut self.spare,
            workers: self.workers.as_deref(),
            inbox: &self.inbox,
            pool: &mut self.pool,
            body_cap: self.options.max_buffered_body.max(1),
            shutting_down: self.drain_until.is_some(),
            rules: &self.rules,
        };
        let driven = c.drive(&mut shared);
        self.after_drive(k, driven);
    }

    fn after_drive(&mut self, k: Key, driven: Driven) {
        if driven == Driven::Close {
            self.close(k);
            return;
        }
        self.post_io(k);
        let entry = &mut self.slab[k.index as usize];
        let Some(c) = entry.conn.as_mut() else { return };
        let deadline = c.deadline();
        self.wheel.link_deadline(k, &mut c.linked, deadline);
    }

    /// Posts the connection's next receive and send if none is in flight.
    fn post_io(&mut self, k: Key) {
        let body_cap = self.options.max_buffered_body.max(1);
        let now = self.now;
        let entry = &mut self.slab[k.index as usize];
        let Some(c) = entry.conn.as_mut() else { return };
        let fd = types::Fd(entry.fd);
        let io = &mut entry.io;
        let mut sqes: [Option<squeue::Entry>; 2] = [None, None];
        if io.recv.is_none() && !io.read_closed && !c.input_paused(body_cap) {
            let mut buf = c.protocol().take_input_buffer();
            let room = buf.capacity() - buf.len();
            if room == 0 {
                // No input wanted now: a later drive posts the receive.
                let _ = c.protocol().return_input_buffer(now, buf);
            } else {
                let ptr = buf.spare_capacity_mut().as_mut_ptr().cast::<u8>();
                let len = room.min(u32::MAX as usize) as u32;
                sqes[0] = Some(opcode::Recv::new(fd, ptr, len).build().user_data(user_data(RECV, k)));
                io.recv = Some(buf);
            }
        }
        if !io.sending {
            io.send.clear();
            let n = c.protocol().poll_transmit_owned(&mut io.send, MAX_SLICES);
            if n > 0 {
                io.iov.clear();
                io.iov.extend(io.send.iter().map(|b| libc::iovec { iov_base: b.as_ptr() as *mut _, iov_len: b.len() }));
                let sqe = opcode::Writev::new(fd, io.iov.as_ptr(), io.iov.len() as u32);
                sqes[1] = Some(sqe.build().user_data(user_data(SEND, k)));
                io.sending = true;
            }
        }
        for sqe in sqes.into_iter().flatten() {
            // SAFETY: the receive's buffer and the send's chunks and iovecs
            // sit in this entry's `Io` until their completions arrive; a
            // closing entry is freed only after both came (`release`), and
            // the slab moving an `Io` does not move the heap memory they
            // point at. The socket stays open as long as the entry.
            unsafe { self.push(sqe) };
        }
    }

    /// The connection is finished: its streams are dropped and its socket
    /// closed once the kernel gave back what it holds; until then the
    /// entry is kept, and what is in flight is cancelled.
    fn close(&mut self, k: Key) {
        let entry = &mut self.slab[k.index as usize];
        if entry.generation != k.generation || entry.closing || entry.conn.is_none() {
            return;
        }
        entry.closing = true;
        if let Some(c) = entry.conn.as_mut() {
            c.sock.shutdown_write();
        }
        let mut cancels = [None, None];
        if entry.io.recv.is_some() {
            cancels[0] = Some(user_data(RECV, k));
        }
        if entry.io.sending {
            cancels[1] = Some(user_data(SEND, k));
        }
        self.live -= 1;
        self.closing += 1;
        for target in cancels.into_iter().flatten() {
            // SAFETY: a cancellation points at no memory.
            unsafe { self.push(opcode::AsyncCancel::new(target).build().user_data(CANCEL)) };
        }
        self.release(k);
        if self.drain_until.is_none() {
            self.resume_accepting();
        }
    }

    /// Frees a closing entry once nothing of it is in flight.
    fn release(&mut self, k: Key) {
        let entry = &mut self.slab[k.index as usize];
        if !entry.closing || entry.io.recv.is_some() || entry.io.sending {
            return;
        }
        // Drops the streams (cancelling handlers) and closes the socket.
        entry.conn = None;
        entry.closing = false;
        entry.fd = -1;
        entry.io.send = Vec::new();
        entry.io.iov = Vec::new();
        entry.generation = entry.generation.wrapping_add(1) & GENERATION_MASK;
        self.free.push(k.index);
        self.closing -= 1;
    }

    /// Stops accepting and tells every connection to finish.
    fn begin_shutdown(&mut self) {
        self.drain_until = Some(self.now + self.options.drain_timeout);
        self.pause_accepting();
        // The listener's descriptor closes now; the kernel keeps the socket
        // until the cancelled accept completes.
        self.listener = None;
        for index in 0..self.slab.len() {
            let generation = self.slab[index].generation;
            if self.slab[index].conn.is_some() {
                self.drive(Key { index: index as u32, generation });
            }
        }
    }
}

fn unsupported() -> io::Error {
    io::Error::new(io::ErrorKind::Unsupported, "the io_uring loops take no client connections")
}

/// The connection of `k` in `slab`, if `k` still names it (its entry was
/// not reused for another connection, nor is it closing).
fn live<C, F>(slab: &mut [Entry<C, F>], k: Key) -> Option<&mut Conn<C, F>> {
    let e = slab.get_mut(k.index as usize)?;
    if e.generation != k.generation || e.closing {
        return None;
    }
    e.conn.as_mut()
}
