//! One loop thread: its listener, its epoll instance, its connections in a
//! slab, its timer wheel, its buffer pool and its inbox.

use crate::conn::{Conn, Driven, Shared, Slot};
use crate::inbox::{ConnWake, Inbox, Msg};
use crate::sock::Sock;
use crate::wheel::{Key, Wheel};
use crate::workers::Workers;
use rustix::event::epoll;
use rustix::fd::OwnedFd;
use rustix::io::Errno;
use rustix::net::SocketFlags;
use sockless_core::{BytesMut, Connection, Duration, Instant};
use sockless_rt::{Clock, Request, Response, ResponseRules, ServerOptions};
use std::future::Future;
use std::io;
use std::sync::Arc;

const LISTENER: u64 = u64::MAX;
const INBOX: u64 = u64::MAX - 1;
/// Events taken per `epoll_wait`.
const EVENTS: usize = 256;
/// After an accept error other than "no more" (out of file descriptors),
/// accepting pauses this long rather than spin on a listener that stays
/// readable.
const ACCEPT_PAUSE: Duration = Duration::from_millis(20);

fn token(key: Key) -> u64 {
    (u64::from(key.generation) << 32) | u64::from(key.index)
}

fn key(token: u64) -> Key {
    Key { index: token as u32, generation: (token >> 32) as u32 }
}

/// A loop's epoll instance, with its listener and its inbox's eventfd in it.
pub(crate) fn epoll_for(listener: Option<&OwnedFd>, inbox: &Inbox) -> io::Result<OwnedFd> {
    let epoll = epoll::create(epoll::CreateFlags::CLOEXEC)?;
    if let Some(listener) = listener {
        epoll::add(&epoll, listener, epoll::EventData::new_u64(LISTENER), epoll::EventFlags::IN)?;
    }
    epoll::add(&epoll, &inbox.eventfd, epoll::EventData::new_u64(INBOX), epoll::EventFlags::IN)?;
    Ok(epoll)
}

struct Entry<C, F> {
    generation: u32,
    conn: Option<Conn<C, F>>,
}

/// What a loop thread is given.
pub(crate) struct Setup<M, C, H> {
    pub epoll: OwnedFd,
    /// A server loop's listener; client loops have none.
    pub listener: Option<OwnedFd>,
    /// Client loops: how a client connection handed over by another thread
    /// becomes one of this loop's connections.
    pub attach: Option<fn(Box<dyn Connection + Send>) -> C>,
    pub inbox: Arc<Inbox>,
    pub make: Arc<M>,
    pub handler: Arc<H>,
    pub workers: Option<Arc<Workers>>,
    pub options: ServerOptions,
    /// This loop's share of the connection ceiling.
    pub max_connections: usize,
    pub clock: Clock,
}

pub(crate) struct Loop<M, C, H, F> {
    epoll: OwnedFd,
    listener: Option<OwnedFd>,
    /// The listener is in the epoll set (it leaves it at the ceiling).
    accepting: bool,
    accept_retry: Option<Instant>,
    inbox: Arc<Inbox>,
    slab: Vec<Entry<C, F>>,
    free: Vec<u32>,
    live: usize,
    max: usize,
    wheel: Wheel,
    clock: Clock,
    now: Instant,
    make: Arc<M>,
    handler: Arc<H>,
    spare: Option<Slot<F>>,
    workers: Option<Arc<Workers>>,
    pool: Vec<BytesMut>,
    options: ServerOptions,
    /// `options`' response rules, built once.
    rules: ResponseRules,
    /// Graceful shutdown began; the connections are dropped at this instant.
    drain_until: Option<Instant>,
    attach: Option<fn(Box<dyn Connection + Send>) -> C>,
}

impl<M, C, H, F> Loop<M, C, H, F>
where
    M: Fn(Instant) -> C + Send + Sync + 'static,
    C: Connection + 'static,
    H: Fn(Request) -> F + Send + Sync + 'static,
    F: Future<Output = Response> + Send + 'static,
{
    pub(crate) fn new(setup: Setup<M, C, H>) -> Self {
        let now = setup.clock.at(std::time::Instant::now());
        Loop {
            epoll: setup.epoll,
            accepting: setup.listener.is_some(),
            listener: setup.listener,
            accept_retry: None,
            inbox: setup.inbox,
            slab: Vec::new(),
            free: Vec::new(),
            live: 0,
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
            attach: setup.attach,
        }
    }

    /// Runs until graceful shutdown finished; then refuses what is still
    /// posted to the inbox.
    pub(crate) fn run(mut self) -> io::Result<()> {
        let result = self.run_loop();
        self.inbox.close();
        result
    }

    fn run_loop(&mut self) -> io::Result<()> {
        let mut events: Vec<epoll::Event> = Vec::with_capacity(EVENTS);
        let mut msgs: Vec<Msg> = Vec::new();
        let mut due: Vec<(Key, u64)> = Vec::new();
        loop {
            if self.drain_until.is_some() && self.live == 0 {
                return Ok(());
            }
            let timeout = self.timeout();
            events.clear();
            match epoll::wait(&self.epoll, rustix::buffer::spare_capacity(&mut events), timeout.as_ref()) {
                Ok(_) | Err(Errno::INTR) => {}
                Err(e) => return Err(e.into()),
            }
            // One clock read per wake-up.
            self.now = self.clock.at(std::time::Instant::now());
            for ev in &events {
                let (data, flags) = (ev.data.u64(), ev.flags);
                match data {
                    LISTENER => self.accept(),
                    INBOX => {
                        self.inbox.drain(&mut msgs);
                        for msg in msgs.drain(..) {
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
                                // At once, so that the answers to the messages
                                // after it already announce the close.
                                Msg::Shutdown => {
                                    if self.drain_until.is_none() {
                                        self.begin_shutdown();
                                    }
                                }
                                Msg::Attach(fd, conn, reply) => reply.put(self.attach(fd, conn)),
                                Msg::Request(t, request, reply) => match self.get(key(t)) {
                                    Some(c) => {
                                        c.request(request, reply);
                                        self.drive(key(t));
                                    }
                                    None => {
                                        reply.put(Err(io::Error::new(io::ErrorKind::NotConnected, "connection closed")))
                                    }
                                },
                                Msg::Release(t) => {
                                    if let Some(c) = self.get(key(t)) {
                                        c.release();
                                        self.drive(key(t));
                                    }
                                }
                            }
                        }
                    }
                    t => {
                        let k = key(t);
                        if let Some(c) = self.get(k) {
                            use epoll::EventFlags as E;
                            if flags.intersects(E::IN | E::RDHUP | E::HUP | E::ERR) {
                                c.readable = true;
                            }
                            if flags.intersects(E::OUT | E::HUP | E::ERR) {
                                c.blocked = false;
                            }
                            self.drive(k);
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
                for i in 0..self.slab.len() {
                    if self.slab[i].conn.take().is_some() {
                        self.live -= 1;
                    }
                }
            }
        }
    }

    /// `epoll_wait`'s timeout: the next timer, accept retry or drain deadline.
    fn timeout(&self) -> Option<rustix::event::Timespec> {
        let mut ms = self.wheel.timeout_ms(self.now);
        for at in [self.accept_retry, self.drain_until].into_iter().flatten() {
            let d = (at - self.now).as_millis().min(u128::from(u32::MAX)) as u64 + 1;
            ms = Some(ms.map_or(d, |m| m.min(d)));
        }
        ms.map(|ms| rustix::event::Timespec { tv_sec: (ms / 1000) as i64, tv_nsec: ((ms % 1000) * 1_000_000) as _ })
    }

    fn get(&mut self, k: Key) -> Option<&mut Conn<C, F>> {
        live(&mut self.slab, k)
    }

    /// Accepts until the listener has no more (or the ceiling is reached).
    fn accept(&mut self) {
        loop {
            let Some(listener) = &self.listener else { return };
            if self.live >= self.max {
                self.pause_accepting();
                return;
            }
            match rustix::net::accept_with(listener, SocketFlags::NONBLOCK | SocketFlags::CLOEXEC) {
                Ok(fd) => self.add(fd),
                Err(Errno::AGAIN) => return,
                Err(Errno::INTR | Errno::CONNABORTED) => continue,
                Err(_) => {
                    self.pause_accepting();
                    self.accept_retry = Some(self.now + ACCEPT_PAUSE);
                    return;
                }
            }
        }
    }

    fn pause_accepting(&mut self) {
        if let (Some(l), true) = (&self.listener, self.accepting) {
            let _ = epoll::delete(&self.epoll, l);
            self.accepting = false;
        }
    }

    fn resume_accepting(&mut self) {
        if let (Some(l), false) = (&self.listener, self.accepting) {
            if self.accept_retry.is_none() && self.live < self.max {
                let ok = epoll::add(&self.epoll, l, epoll::EventData::new_u64(LISTENER), epoll::EventFlags::IN);
                self.accepting = ok.is_ok();
            }
        }
    }

    fn add(&mut self, fd: OwnedFd) {
        if self.options.nodelay {
            let _ = rustix::net::sockopt::set_tcp_nodelay(&fd, true);
        }
        let _ = self.insert(fd, None);
    }

    /// Client loops: takes over a connected client connection.
    fn attach(&mut self, fd: OwnedFd, conn: Box<dyn Connection + Send>) -> io::Result<u64> {
        let Some(attach) = self.attach else {
            return Err(io::Error::new(io::ErrorKind::Unsupported, "a server loop takes no client connections"));
        };
        if self.drain_until.is_some() {
            return Err(io::Error::new(io::ErrorKind::NotConnected, "the loop is shutting down"));
        }
        self.insert(fd, Some(attach(conn))).map(token)
    }

    /// Puts a socket in the slab and the epoll set: an accepted one with a
    /// new server connection (`conn` = `None`), or a client connection.
    fn insert(&mut self, fd: OwnedFd, conn: Option<C>) -> io::Result<Key> {
        let index = match self.free.pop() {
            Some(i) => i,
            None => {
                self.slab.push(Entry { generation: 0, conn: None });
                (self.slab.len() - 1) as u32
            }
        };
        let k = Key { index, generation: self.slab[index as usize].generation };
        let t = token(k);
        let flags = epoll::EventFlags::IN | epoll::EventFlags::RDHUP | epoll::EventFlags::ET;
        if let Err(e) = epoll::add(&self.epoll, &fd, epoll::EventData::new_u64(t), flags) {
            self.free.push(index);
            return Err(e.into());
        }
        let wake = ConnWake::new(t, self.inbox.clone());
        let client = conn.is_some();
        let c = match conn {
            None => Conn::new(t, Sock::new(fd), (self.make)(self.now), wake),
            Some(conn) => Conn::client(t, Sock::new(fd), conn, wake),
        };
        self.slab[index as usize].conn = Some(c);
        self.live += 1;
        if client {
            // A client speaks first (the HTTP/2 preface, a TLS hello).
            self.drive(k);
        } else {
            // A server connection starts with its timers (the header-read timeout).
            self.after_drive(k, Driven::Open);
        }
        Ok(k)
    }

    /// Drives one connection through the cycle and files what follows.
    fn drive(&mut self, k: Key) {
        let Some(entry) = self.slab.get_mut(k.index as usize) else { return };
        if entry.generation != k.generation {
            return;
        }
        let Some(c) = entry.conn.as_mut() else { return };
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
        let entry = &mut self.slab[k.index as usize];
        let Some(c) = entry.conn.as_mut() else { return };
        if driven == Driven::Close {
            c.sock.shutdown_write();
            entry.conn = None; // drops the streams (cancelling handlers) and closes the socket
            entry.generation = entry.generation.wrapping_add(1);
            self.free.push(k.index);
            self.live -= 1;
            self.resume_accepting();
            return;
        }
        if c.blocked && !c.out_registered {
            let flags =
                epoll::EventFlags::IN | epoll::EventFlags::OUT | epoll::EventFlags::RDHUP | epoll::EventFlags::ET;
            if epoll::modify(&self.epoll, &c.sock.fd, epoll::EventData::new_u64(token(k)), flags).is_ok() {
                c.out_registered = true;
            }
        }
        let deadline = c.deadline();
        self.wheel.link_deadline(k, &mut c.linked, deadline);
    }

    /// Stops accepting and tells every connection to finish.
    fn begin_shutdown(&mut self) {
        if let Some(l) = self.listener.take() {
            if self.accepting {
                let _ = epoll::delete(&self.epoll, &l);
            }
        }
        self.accepting = false;
        self.drain_until = Some(self.now + self.options.drain_timeout);
        for index in 0..self.slab.len() {
            let generation = self.slab[index].generation;
            if self.slab[index].conn.is_some() {
                self.drive(Key { index: index as u32, generation });
            }
        }
    }
}

/// The connection of `k` in `slab`, if `k` still names it (its entry was
/// not reused for another connection).
fn live<C, F>(slab: &mut [Entry<C, F>], k: Key) -> Option<&mut Conn<C, F>> {
    let e = slab.get_mut(k.index as usize)?;
    if e.generation != k.generation {
        return None;
    }
    e.conn.as_mut()
}
