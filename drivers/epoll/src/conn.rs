//! One connection on a loop thread: its socket, its protocol connection,
//! and its streams' handlers and bodies, driven through the shared cycle.
//! The routing of events to handlers and bodies is the async pump's, on
//! rt's public pieces ([`Body`], [`BodyFeed`], [`Request`], [`Response`]).

use crate::inbox::{ConnWake, Inbox};
use crate::reply::Reply;
use crate::sock::Sock;
use crate::workers::{Cancel, Workers};
use sockless_core::{Bytes, BytesMut, Connection, ErrorCode, Event, HeaderList, Instant, RequestHead, StreamId};
use sockless_rt::cycle::{self, Input};
use sockless_rt::{Body, BodyFeed, Request, Response, ResponseRules};
use std::collections::VecDeque;
use std::future::Future;
use std::io;
use std::panic::AssertUnwindSafe;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll, Waker};

/// Rounds of the cycle per wake-up before the loop serves others.
const MAX_ROUNDS: usize = 16;

/// Where a client's response goes.
pub type ResponseReply = Arc<Reply<io::Result<Response>>>;

/// A pinned place for one handler future, reused from request to request
/// while handlers answer at once (see [`Shared::spare`]).
pub type Slot<F> = Pin<Box<Option<F>>>;

/// What every connection of a loop shares while it is driven.
pub struct Shared<'a, H, F> {
    pub now: Instant,
    pub handler: &'a Arc<H>,
    /// The slot the next handler future is polled in: a handler that answers
    /// at once leaves it here for the next request (no allocation); one that
    /// has to wait keeps it, and the next request gets a new one.
    pub spare: &'a mut Option<Slot<F>>,
    pub workers: Option<&'a Workers>,
    pub inbox: &'a Arc<Inbox>,
    /// Input buffers of connections idle between requests.
    pub pool: &'a mut Vec<BytesMut>,
    /// HTTP/1.1: most unread bytes held for one body before input stops.
    pub body_cap: usize,
    /// Graceful shutdown has begun.
    pub shutting_down: bool,
    /// What every response gets before its head goes out (the async
    /// drivers' rules: no body to HEAD, Content-Length, Date, Server).
    pub rules: &'a ResponseRules,
}

/// Buffers kept in a loop's pool at most.
pub const POOL_MAX: usize = 256;
/// A buffer with less room is not worth pooling.
const POOL_MIN: usize = 1024;

struct Stream<F> {
    id: StreamId,
    /// The handler, while it has to wait (polled on every wake-up).
    handler: Option<Slot<F>>,
    /// The handler runs on the worker pool; dropped, it cancels it.
    worker: Option<Cancel>,
    incoming: Option<BodyFeed>,
    read_body_sent: bool,
    trailers: Option<HeaderList>,
    in_done: bool,
    outgoing: Option<Body>,
    /// Part of a chunk the connection did not take yet.
    remainder: Option<Bytes>,
    out_done: bool,
    /// Client: where the response goes, and its body until then.
    response: Option<(ResponseReply, Body)>,
    /// Server: the request was HEAD (its response carries no body).
    head_request: bool,
}

impl<F> Stream<F> {
    fn new(id: StreamId, incoming: Option<BodyFeed>) -> Stream<F> {
        Stream {
            id,
            handler: None,
            worker: None,
            in_done: incoming.is_none(),
            incoming,
            read_body_sent: false,
            trailers: None,
            outgoing: None,
            remainder: None,
            out_done: false,
            response: None,
            head_request: false,
        }
    }

    fn finished(&self) -> bool {
        self.in_done && self.out_done && self.response.is_none()
    }
}

/// Dropping a stream's state cancels what still runs for it: the handler
/// future is dropped where it waits, a worker's handler is told, and an
/// unfinished request body reads as an error.
impl<F> Drop for Stream<F> {
    fn drop(&mut self) {
        if let (Some(feed), false) = (&self.incoming, self.in_done) {
            feed.fail(sockless_rt::Error::new(sockless_rt::ErrorKind::BodyAborted, "stream reset"));
        }
        if let Some((reply, _)) = self.response.take() {
            reply.put(Err(io::Error::new(io::ErrorKind::ConnectionReset, "stream reset before the response")));
        }
    }
}

/// A connection of a loop.
pub struct Conn<C, F> {
    /// The connection's epoll token (its slab key).
    token: u64,
    pub sock: Sock,
    conn: C,
    waker: Waker,
    wake: Arc<ConnWake>,
    streams: Vec<Stream<F>>,
    /// Epoll said readable and a read has not yet found the socket empty.
    pub readable: bool,
    read_closed: bool,
    /// The last write would block: wait for EPOLLOUT.
    pub blocked: bool,
    /// EPOLLOUT is in the connection's interest set (added after the first
    /// short write, then kept: edge-triggered, it costs nothing while the
    /// socket stays writable).
    pub out_registered: bool,
    /// The connection holds an input buffer (it gives it back while idle).
    holds_buffer: bool,
    shutdown_sent: bool,
    /// The wheel tick of this connection's live timer entry.
    pub linked: Option<u64>,
    /// Completion IO (sockless-uring): the loop moves the bytes itself
    /// (owned buffers, see [`Conn::completion`]); `drive` neither reads nor
    /// transmits.
    completion: bool,
    /// Client connections: requests waiting until the connection takes
    /// another stream (HTTP/1.1 carries one exchange at a time).
    queued: VecDeque<(Request, ResponseReply)>,
    client: bool,
    /// Client: every handle is gone; the connection finishes what it
    /// carries and closes.
    released: bool,
}

/// Requests a closing client connection never started are told so.
impl<C, F> Drop for Conn<C, F> {
    fn drop(&mut self) {
        for (_, reply) in self.queued.drain(..) {
            reply.put(Err(io::Error::new(io::ErrorKind::NotConnected, "connection closed")));
        }
    }
}

/// How a drive ended.
#[derive(Debug, PartialEq, Eq)]
pub enum Driven {
    /// The connection goes on.
    Open,
    /// It is finished (closed, upgraded away, or its socket broke).
    Close,
}

impl<C: Connection, F: Future<Output = Response> + Send + 'static> Conn<C, F> {
    pub fn new(token: u64, sock: Sock, conn: C, wake: Arc<ConnWake>) -> Self {
        Conn {
            token,
            sock,
            conn,
            waker: Waker::from(wake.clone()),
            wake,
            streams: Vec::new(),
            readable: false,
            read_closed: false,
            blocked: false,
            out_registered: false,
            // Lent a pooled buffer before its first read.
            holds_buffer: false,
            shutdown_sent: false,
            linked: None,
            completion: false,
            queued: VecDeque::new(),
            client: false,
            released: false,
        }
    }

    /// A server connection whose bytes a completion loop moves (io_uring):
    /// the loop hands received buffers to [`protocol`](Self::protocol) and
    /// sends from its owned output; [`drive`](Self::drive) runs events,
    /// handlers, bodies and timers. `blocked` then means "a send is in flight".
    pub fn completion(token: u64, sock: Sock, conn: C, wake: Arc<ConnWake>) -> Self {
        let mut c = Conn::new(token, sock, conn, wake);
        c.completion = true;
        c
    }

    /// The protocol connection, for a completion loop's IO.
    pub fn protocol(&mut self) -> &mut C {
        &mut self.conn
    }

    /// A client connection (it sends requests instead of serving them).
    pub fn client(token: u64, sock: Sock, conn: C, wake: Arc<ConnWake>) -> Self {
        let mut c = Conn::new(token, sock, conn, wake);
        c.client = true;
        c.readable = true;
        c
    }

    /// Client: a request to send.
    pub fn request(&mut self, request: Request, reply: ResponseReply) {
        self.queued.push_back((request, reply));
    }

    /// Client: the last handle is gone.
    pub fn release(&mut self) {
        self.released = true;
    }

    /// Client: starts queued requests while the connection takes them.
    fn start_requests(&mut self, body_cap: usize) -> bool {
        let mut progress = false;
        while let Some((request, reply)) = self.queued.pop_front() {
            if reply.is_set() {
                continue;
            }
            let end = request.body.is_empty();
            match self.conn.send_request(&request.head, end) {
                Ok(id) => {
                    progress = true;
                    let (feed, body) = BodyFeed::new(body_cap);
                    let mut st = Stream::new(id, Some(feed));
                    st.response = Some((reply, body));
                    st.out_done = end;
                    if !end {
                        st.outgoing = Some(request.body);
                    }
                    self.streams.push(st);
                }
                Err(sockless_core::Error::User(sockless_core::UserError::Busy)) => {
                    self.queued.push_front((request, reply));
                    break;
                }
                Err(e) => reply.put(Err(io::Error::other(e.to_string()))),
            }
        }
        progress
    }

    /// The connection's next deadline.
    pub fn deadline(&self) -> Option<Instant> {
        self.conn.poll_timeout()
    }

    /// A worker's answer for `stream`.
    pub fn respond(&mut self, stream: StreamId, mut response: Response, rules: &ResponseRules) {
        let Some(i) = self.streams.iter().position(|s| s.id == stream) else { return };
        let st = &mut self.streams[i];
        st.worker = None;
        if send_head(&mut self.conn, st, &mut response, rules).is_err() {
            self.reset(i, ErrorCode::INTERNAL_ERROR);
        } else if self.streams[i].finished() {
            self.streams.swap_remove(i);
        }
    }

    fn reset(&mut self, i: usize, code: ErrorCode) {
        let st = self.streams.swap_remove(i);
        if !st.finished() {
            let _ = self.conn.reset_stream(st.id, code);
        }
    }

    /// Runs the cycle until nothing moves: read, events (handlers start and
    /// answer), bodies, transmit, timers.
    pub fn drive<H>(&mut self, sh: &mut Shared<'_, H, F>) -> Driven
    where
        H: Fn(Request) -> F + Send + Sync + 'static,
    {
        self.wake.clear();
        let now = sh.now;
        if sh.shutting_down && !self.shutdown_sent {
            self.shutdown_sent = true;
            self.conn.shutdown(now);
        }
        for _ in 0..MAX_ROUNDS {
            let mut progress = false;
            if self.client {
                progress |= self.start_requests(sh.body_cap);
                if self.released && !self.shutdown_sent && self.queued.is_empty() && self.streams.is_empty() {
                    self.shutdown_sent = true;
                    self.conn.shutdown(now);
                    progress = true;
                }
            }
            if !self.completion && self.readable && !self.read_closed && !self.input_paused(sh.body_cap) {
                match self.read(sh) {
                    Ok(p) => progress |= p,
                    Err(_) => return Driven::Close,
                }
            }
            match self.events(sh) {
                Some(p) => progress |= p,
                None => return Driven::Close,
            }
            progress |= self.bodies(sh);
            if !self.completion && !self.blocked {
                match cycle::transmit(&mut self.conn, &mut self.sock) {
                    Ok(sent) => {
                        progress |= sent.bytes > 0;
                        self.blocked = sent.blocked;
                    }
                    Err(_) => return Driven::Close,
                }
            }
            if self.conn.poll_timeout().is_some_and(|d| d <= now) {
                cycle::fire_timers(&mut self.conn, now);
                progress = true;
            }
            // A released client connection is done once everything left.
            if self.client && self.shutdown_sent && self.streams.is_empty() && !self.blocked {
                return Driven::Close;
            }
            if !progress {
                break;
            }
        }
        self.give_back_buffer(sh);
        Driven::Open
    }

    /// One read into the connection's lent buffer; `Ok(true)` if bytes or
    /// the end of input came.
    fn read<H>(&mut self, sh: &mut Shared<'_, H, F>) -> io::Result<bool> {
        if !self.holds_buffer {
            // Lend it a pooled buffer to read into; an empty connection
            // adopts it whole, without a copy or an allocation.
            if let Some(buf) = sh.pool.pop() {
                let _ = self.conn.return_input_buffer(sh.now, buf);
            }
            self.holds_buffer = true;
        }
        self.sock.drained = false;
        match cycle::read_lent(&mut self.conn, &mut self.sock, sh.now)? {
            Input::Bytes(_) => {
                if self.sock.drained {
                    self.readable = false;
                }
                Ok(true)
            }
            Input::Eof => {
                self.read_closed = true;
                self.readable = false;
                Ok(true)
            }
            Input::WouldBlock => {
                self.readable = false;
                Ok(false)
            }
            // Backpressure: the socket stays readable for a later round.
            Input::Unwanted => Ok(false),
        }
    }

    /// Between requests (no stream open, nothing unsent) the connection
    /// gives its input buffer's room to the loop's pool: an idle
    /// connection holds no buffer.
    fn give_back_buffer<H>(&mut self, sh: &mut Shared<'_, H, F>) {
        if !self.holds_buffer || !self.streams.is_empty() || self.blocked || self.readable {
            return;
        }
        let spare = self.conn.take_input_buffer();
        // The connection keeps a view of zero length into the same
        // allocation, which would keep it alive whatever the pool does with
        // `spare`: an empty buffer (no allocation) takes that view's place.
        let _ = self.conn.return_input_buffer(sh.now, BytesMut::new());
        self.holds_buffer = false;
        if spare.capacity() >= POOL_MIN && sh.pool.len() < POOL_MAX {
            sh.pool.push(spare);
        }
    }

    /// Whether input stops until the application reads: on HTTP/1.1 while
    /// an unread body holds more than the cap (never on HTTP/2, whose
    /// windows bound the peer; there the loop only has to be woken when a
    /// body is read, to give the bytes back).
    pub fn input_paused(&self, body_cap: usize) -> bool {
        let flow_controlled = self.conn.flow_controlled();
        let limit = if flow_controlled { 0 } else { body_cap };
        let mut over = false;
        for st in &self.streams {
            if let Some(feed) = &st.incoming {
                over |= feed.watch_unread(limit, &self.waker);
            }
        }
        over && !flow_controlled
    }

    /// Routes the connection's events; `None` once it is finished.
    fn events<H>(&mut self, sh: &mut Shared<'_, H, F>) -> Option<bool>
    where
        H: Fn(Request) -> F + Send + Sync + 'static,
    {
        // A request waits one event: if its end follows at once (a GET), it
        // gets an empty body instead of a channel nobody feeds.
        let mut held: Option<(StreamId, RequestHead)> = None;
        let streams = &mut self.streams;
        let waker = &self.waker;
        let token = self.token;
        let client = self.client;
        let drained = cycle::drain_events(&mut self.conn, |conn, event| {
            if let Some((stream, head)) = held.take() {
                let ended = matches!(event, Event::EndStream { stream: s } if s == stream);
                start(conn, streams, sh, waker, token, stream, head, ended);
                if ended {
                    return;
                }
            }
            match event {
                Event::Request { stream, head, .. } => held = Some((stream, head)),
                Event::Data { stream, data } => {
                    let len = data.len();
                    let taken = match streams.iter().find(|s| s.id == stream).and_then(|s| s.incoming.as_ref()) {
                        Some(feed) => feed.push(data),
                        None => false,
                    };
                    if !taken {
                        // Nobody reads this body: its bytes count as consumed.
                        let _ = conn.release_capacity(stream, len);
                        // A client's caller dropped the response body: on
                        // HTTP/2 the stream is cancelled rather than read for
                        // nobody (HTTP/1.1 reads the rest and keeps the
                        // connection usable).
                        if client && conn.flow_controlled() {
                            let _ = conn.reset_stream(stream, ErrorCode::CANCEL);
                            if let Some(i) = streams.iter().position(|s| s.id == stream) {
                                streams.swap_remove(i);
                            }
                        }
                    }
                }
                Event::Response { stream, head } => {
                    if let Some(i) = streams.iter().position(|s| s.id == stream) {
                        if let Some((reply, body)) = streams[i].response.take() {
                            reply.put(Ok(Response { head, body }));
                        }
                        if streams[i].finished() {
                            streams.swap_remove(i);
                        }
                    }
                }
                Event::Trailers { stream, trailers } => {
                    if let Some(st) = streams.iter_mut().find(|s| s.id == stream) {
                        st.trailers = Some(trailers);
                    }
                }
                Event::EndStream { stream } => {
                    if let Some(i) = streams.iter().position(|s| s.id == stream) {
                        let st = &mut streams[i];
                        if let Some(feed) = &st.incoming {
                            feed.finish(st.trailers.take());
                        }
                        st.in_done = true;
                        if st.finished() {
                            streams.swap_remove(i);
                        }
                    }
                }
                Event::Reset { stream, .. } => {
                    // Dropping the state cancels the handler.
                    if let Some(i) = streams.iter().position(|s| s.id == stream) {
                        streams.swap_remove(i);
                    }
                }
                _ => {}
            }
        });
        if let Some((stream, head)) = held.take() {
            start(&mut self.conn, &mut self.streams, sh, &self.waker, self.token, stream, head, false);
        }
        if drained.finished {
            return None;
        }
        Some(drained.events > 0)
    }

    /// Polls handlers that had to wait, feeds outgoing bodies to the
    /// connection, returns consumed capacity, and starts reading bodies the
    /// application asked for.
    fn bodies<H>(&mut self, sh: &mut Shared<'_, H, F>) -> bool {
        if self.streams.is_empty() {
            return false;
        }
        let mut progress = false;
        let waker = self.waker.clone();
        let mut cx = Context::from_waker(&waker);
        let mut i = 0;
        while i < self.streams.len() {
            let st = &mut self.streams[i];
            let mut broken = None;
            if let Some(slot) = &mut st.handler {
                match poll_handler(slot, &mut cx) {
                    Some(Poll::Pending) => {}
                    Some(Poll::Ready(mut response)) => {
                        progress = true;
                        if let Some(mut slot) = st.handler.take() {
                            slot.set(None);
                            sh.spare.get_or_insert(slot);
                        }
                        if send_head(&mut self.conn, st, &mut response, sh.rules).is_err() {
                            broken = Some(ErrorCode::INTERNAL_ERROR);
                        }
                    }
                    None => {
                        // The handler panicked: 500 if its head has not gone
                        // out (as on the async drivers), else a reset.
                        st.handler = None;
                        let mut response = sh.rules.internal_error();
                        if send_head(&mut self.conn, st, &mut response, sh.rules).is_err() {
                            broken = Some(ErrorCode::INTERNAL_ERROR);
                        }
                    }
                }
            }
            if let Some(feed) = &st.incoming {
                if !st.read_body_sent && feed.started() {
                    st.read_body_sent = true;
                    let _ = self.conn.read_body(st.id);
                    progress = true;
                }
                let n = feed.take_consumed();
                if n > 0 {
                    let _ = self.conn.release_capacity(st.id, n);
                    progress = true;
                }
            }
            if broken.is_none() {
                match feed_outgoing(&mut self.conn, st, &mut cx) {
                    Ok(p) => progress |= p,
                    Err(()) => broken = Some(ErrorCode::CANCEL),
                }
            }
            if let Some(code) = broken {
                self.reset(i, code);
                progress = true;
                continue;
            }
            if self.streams[i].finished() {
                self.streams.swap_remove(i);
                continue;
            }
            i += 1;
        }
        progress
    }
}

/// Starts the handler for a new request; `ended`: it has no body.
/// Inlined into its two callers, which saves moving the request head (a
/// memcpy of a few hundred bytes) into the call.
#[allow(clippy::too_many_arguments)]
#[inline(always)]
fn start<C, H, F>(
    conn: &mut C,
    streams: &mut Vec<Stream<F>>,
    sh: &mut Shared<'_, H, F>,
    waker: &Waker,
    token: u64,
    stream: StreamId,
    head: RequestHead,
    ended: bool,
) where
    C: Connection,
    H: Fn(Request) -> F + Send + Sync + 'static,
    F: Future<Output = Response> + Send + 'static,
{
    let (body, incoming) = if ended {
        (Body::empty(), None)
    } else {
        let (feed, body) = BodyFeed::new(sh.body_cap);
        (body, Some(feed))
    };
    let head_request = head.method == sockless_core::Method::Head;
    let request = Request::new(head, body);
    let mut st = Stream::new(stream, incoming);
    st.head_request = head_request;
    if let Some(workers) = sh.workers {
        st.worker = Some(workers.submit(sh.handler.clone(), request, sh.inbox.clone(), token, stream));
        streams.push(st);
        return;
    }
    // Most handlers answer at once: poll the handler here, in the reused
    // slot, and keep it in the stream only if it has to wait.
    let handler = sh.handler;
    let Ok(future) = std::panic::catch_unwind(AssertUnwindSafe(|| handler(request))) else {
        // The handler panicked: its request is answered 500 (as on the async
        // drivers), and the loop goes on.
        answer_panicked(conn, streams, st, sh.rules);
        return;
    };
    let mut slot = sh.spare.take().unwrap_or_else(|| Box::pin(None));
    slot.set(Some(future));
    let mut cx = Context::from_waker(waker);
    match poll_handler(&mut slot, &mut cx) {
        None => answer_panicked(conn, streams, st, sh.rules),
        Some(Poll::Ready(mut response)) => {
            slot.set(None);
            *sh.spare = Some(slot);
            if send_head(conn, &mut st, &mut response, sh.rules).is_err() {
                let _ = conn.reset_stream(stream, ErrorCode::INTERNAL_ERROR);
                st.in_done = true;
                st.out_done = true;
            } else if !st.finished() {
                // Only a stream with work left (a body to receive or to
                // send) takes an entry.
                streams.push(st);
            }
        }
        Some(Poll::Pending) => {
            st.handler = Some(slot);
            streams.push(st);
        }
    }
}

/// Answers the request of a handler that panicked before giving a response:
/// a 500 (its body, if any, still read and dropped), or a reset if the
/// connection refuses even that.
fn answer_panicked<C: Connection, F>(
    conn: &mut C,
    streams: &mut Vec<Stream<F>>,
    mut st: Stream<F>,
    rules: &ResponseRules,
) {
    let mut response = rules.internal_error();
    if send_head(conn, &mut st, &mut response, rules).is_err() {
        let _ = conn.reset_stream(st.id, ErrorCode::INTERNAL_ERROR);
        st.in_done = true;
        st.out_done = true;
    } else if !st.finished() {
        streams.push(st);
    }
}

/// Polls a handler's future; `None` if it panicked (the future is then
/// dropped): a handler's panic costs its own stream, not the loop thread
/// and every connection on it.
fn poll_handler<F: Future>(slot: &mut Slot<F>, cx: &mut Context<'_>) -> Option<Poll<F::Output>> {
    let polled = std::panic::catch_unwind(AssertUnwindSafe(|| match slot.as_mut().as_pin_mut() {
        Some(f) => f.poll(cx),
        None => Poll::Pending,
    }));
    match polled {
        Ok(p) => Some(p),
        Err(_) => {
            // Dropping what is left of it may panic again: contained too.
            let _ = std::panic::catch_unwind(AssertUnwindSafe(|| slot.set(None)));
            None
        }
    }
}

/// Sends a response's head, and its body too when it is one buffer the
/// connection takes whole (most responses). `Err` if the connection
/// refused it (the caller resets the stream).
fn send_head<C: Connection, F>(
    conn: &mut C,
    st: &mut Stream<F>,
    response: &mut Response,
    rules: &ResponseRules,
) -> Result<(), ()> {
    if st.out_done || st.outgoing.is_some() {
        return Ok(());
    }
    let end = rules.prepare(response, st.head_request);
    conn.send_response(st.id, &response.head, end).map_err(|_| ())?;
    if end {
        st.out_done = true;
        return Ok(());
    }
    if response.body.known_len().is_some() {
        // A whole body: polling it never waits and takes no lock.
        let mut cx = Context::from_waker(Waker::noop());
        if let Poll::Ready(Some(Ok(data))) = response.body.poll_chunk(&mut cx) {
            let len = data.len();
            let n = conn.send_data(st.id, data.clone(), true).map_err(|_| ())?;
            if n == len {
                st.out_done = true;
                return Ok(());
            }
            // Flow control took part of it: the rest goes out from
            // `feed_outgoing`, which then ends the stream.
            st.remainder = Some(data.slice(n..));
        }
    }
    st.outgoing = Some(std::mem::take(&mut response.body));
    Ok(())
}

/// Offers a stream's outgoing body to the connection while it takes it.
fn feed_outgoing<C: Connection, F>(conn: &mut C, st: &mut Stream<F>, cx: &mut Context<'_>) -> Result<bool, ()> {
    let Some(body) = st.outgoing.as_mut() else { return Ok(false) };
    let mut progress = false;
    loop {
        if let Some(rem) = st.remainder.take() {
            let n = conn.send_data(st.id, rem.clone(), false).map_err(|_| ())?;
            progress |= n > 0;
            if n < rem.len() {
                st.remainder = Some(rem.slice(n..));
                return Ok(progress);
            }
        }
        match body.poll_chunk(cx) {
            Poll::Pending => return Ok(progress),
            Poll::Ready(Some(Ok(chunk))) => st.remainder = Some(chunk),
            Poll::Ready(None) => {
                match body.trailers() {
                    Some(t) => conn.send_trailers(st.id, &t).map_err(|_| ())?,
                    None => conn.send_data(st.id, Bytes::new(), true).map(drop).map_err(|_| ())?,
                }
                st.outgoing = None;
                st.out_done = true;
                return Ok(true);
            }
            Poll::Ready(Some(Err(_))) => return Err(()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rustix::net::{socketpair, AddressFamily, SocketFlags, SocketType};
    use sockless_core::ResponseHead;

    /// An HTTP/1.1 connection answered and idle gives its input buffer to
    /// the pool whole: the connection keeps no view into it (which would
    /// keep the allocation alive however the pool uses or drops it).
    #[test]
    fn an_idle_connection_gives_its_input_buffer_back_whole() {
        let flags = SocketFlags::NONBLOCK | SocketFlags::CLOEXEC;
        let (ours, peer) = socketpair(AddressFamily::UNIX, SocketType::STREAM, flags, None).unwrap();
        let inbox = Arc::new(Inbox::new().unwrap());
        let h1 = sockless_h1::ServerConnection::new(sockless_h1::Config::server(), Instant::ZERO);
        let mut c = Conn::new(1, Sock::new(ours), h1, ConnWake::new(1, inbox.clone()));
        let handler = Arc::new(|_req: Request| {
            let head = ResponseHead::new(200).header("content-length", "2");
            std::future::ready(Response::new(head, Bytes::from_static(b"ok")))
        });
        let (mut spare, mut pool) = (None, Vec::new());
        let rules = ResponseRules::default();
        let mut sh = Shared {
            now: Instant::ZERO,
            handler: &handler,
            spare: &mut spare,
            workers: None,
            inbox: &inbox,
            pool: &mut pool,
            body_cap: 1 << 16,
            shutting_down: false,
            rules: &rules,
        };
        rustix::io::write(&peer, b"GET / HTTP/1.1\r\nHost: x\r\n\r\n").unwrap();
        c.readable = true;
        assert_eq!(c.drive(&mut sh), Driven::Open);
        let mut out = [0u8; 512];
        let n = rustix::io::read(&peer, &mut out).unwrap();
        assert!(out[..n].starts_with(b"HTTP/1.1 200 OK\r\n") && out[..n].ends_with(b"ok"));
        assert_eq!(pool.len(), 1, "the idle connection's buffer went to the pool");
        let buffer = pool.pop().unwrap();
        assert!(buffer.capacity() >= POOL_MIN);
        assert!(buffer.freeze().is_unique(), "the connection still holds a view of its old buffer");
    }
}
