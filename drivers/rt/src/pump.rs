//! The connection task: one hand-written future that owns a [`Connection`]
//! and its [`Io`], pumps bytes between them, and routes events to and
//! commands from the application's tasks.

use crate::body::{Body, Chan, Oneshot};
use crate::framing;
use crate::sync::{lock, IdMap, Notify, Semaphore, Watch};
use crate::upgrade::{not_upgraded, UpgradeSlot, Upgraded};
use crate::{Accept, Clock, ConnectionInfo, Error, ErrorKind, ErrorLog, Io, Request, Response, Runtime};
use sockless_core::{Bytes, Connection, ErrorCode, Event, HeaderList, StreamId};
use std::collections::VecDeque;
use std::future::Future;
use std::io::{self, IoSlice};
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll, Waker};

/// Slices offered to one vectored write.
const MAX_SLICES: usize = 32;
/// Bytes one read of an idle connection takes (see [`Pump::read_idle`]).
const SCRATCH_LEN: usize = 16 * 1024;

thread_local! {
    /// The buffer idle connections read into, one per thread (a read never
    /// waits while holding it).
    static SCRATCH: std::cell::RefCell<Option<Box<[u8]>>> = const { std::cell::RefCell::new(None) };
}

/// Rounds of the loop per poll before the task yields to others.
const MAX_ROUNDS: usize = 64;

/// Server-wide flags a connection watches.
pub(crate) const SHUTDOWN: usize = 1;
pub(crate) const ABORT: usize = 2;

/// A server's request handler. The pump is generic over it (rather than
/// boxing it and its futures), so that a handler's future is polled where it
/// is and allocates nothing when it answers at once.
pub(crate) trait Handler: Send + Sync + 'static {
    /// The future computing a response.
    type Future: Future<Output = Response> + Send + 'static;

    /// Starts handling `request`.
    fn call(&self, request: Request) -> Self::Future;
}

impl<H, F> Handler for H
where
    H: Fn(Request) -> F + Send + Sync + 'static,
    F: Future<Output = Response> + Send + 'static,
{
    type Future = F;

    fn call(&self, request: Request) -> F {
        self(request)
    }
}

/// The handler type of a client's pump, which has none.
pub(crate) type NoHandler = fn(Request) -> std::future::Ready<Response>;

/// A pinned place for one handler future, reused from request to request
/// while handlers answer at once; a handler that has to wait takes it into
/// its task (and the next request gets a new one).
type FutureSlot<F> = Pin<Box<Option<F>>>;

/// What the application's tasks hand to the connection task.
pub(crate) enum Cmd {
    /// Server: a handler's response.
    Respond(StreamId, Response),
    /// Server: a handler went away without a response (it panicked, or its
    /// task was dropped): the stream is answered 500.
    Abort(StreamId),
    /// Client: a request to send, and where its response goes.
    Request(Request, Oneshot<io::Result<Response>>),
    /// Client: the caller stopped waiting for this response (its `send`
    /// future was dropped, e.g. by a timeout): the request is cancelled.
    Cancel(Oneshot<io::Result<Response>>),
}

/// The connection task's inbox.
#[derive(Default)]
pub(crate) struct Shared {
    state: Mutex<SharedState>,
    /// Server: since when the connection is idle (no exchange in flight),
    /// as nanoseconds on the server's clock plus one; 0 while busy. Read by
    /// the accept loop at the connection ceiling (see [`crate::idle`]).
    pub(crate) idle_since: AtomicU64,
    /// Server: the accept loop asks this idle connection to close, to make
    /// room for a new one.
    pub(crate) evict: AtomicBool,
}

#[derive(Default)]
struct SharedState {
    cmds: VecDeque<Cmd>,
    waker: Option<Waker>,
    /// Client handles alive.
    handles: usize,
    /// The connection task finished: commands are refused.
    closed: bool,
    /// Why the connection ended, when it failed: later requests get it too.
    failure: Option<Error>,
}

impl Shared {
    /// Queues a command; `false` if the connection is gone (a request's
    /// sender is then told so).
    pub(crate) fn push(&self, cmd: Cmd) -> bool {
        let mut s = lock(&self.state);
        if s.closed {
            let failure = s.failure.clone();
            drop(s);
            if let Cmd::Request(_, slot) = cmd {
                slot.put(Err(failure.unwrap_or_else(Error::closed).unsent().into()));
            }
            return false;
        }
        s.cmds.push_back(cmd);
        if let Some(w) = s.waker.take() {
            drop(s);
            w.wake();
        }
        true
    }

    pub(crate) fn add_handle(&self, delta: isize) {
        let mut s = lock(&self.state);
        s.handles = s.handles.saturating_add_signed(delta);
        if s.handles == 0 {
            if let Some(w) = s.waker.take() {
                drop(s);
                w.wake();
            }
        }
    }

    pub(crate) fn is_closed(&self) -> bool {
        lock(&self.state).closed
    }

    /// Wakes the connection task (it then looks at its signals).
    pub(crate) fn wake(&self) {
        let waker = lock(&self.state).waker.take();
        if let Some(w) = waker {
            w.wake();
        }
    }
}

/// Sends a handler's response to the connection task, or an abort if the
/// handler never finished (it panicked or its task was dropped).
pub(crate) struct Completion {
    shared: Arc<Shared>,
    stream: StreamId,
    done: bool,
}

impl Completion {
    pub(crate) fn respond(mut self, response: Response) {
        self.done = true;
        self.shared.push(Cmd::Respond(self.stream, response));
    }

    /// Runs a handler's future in its task, unless its stream goes away
    /// first (see [`CancelOnDrop`]): then the future is dropped where it
    /// waits, as hyper drops a service future, so a handler's work (and
    /// whatever it holds) ends with its request.
    ///
    /// A handler that panics is reported to `log`; the completion then
    /// drops unanswered, and the connection answers 500 (see [`Cmd::Abort`]).
    async fn run<F: Future<Output = Response>>(mut self, cancel: Oneshot<()>, handler: F, log: ErrorLog) {
        let mut handler = std::pin::pin!(handler);
        let outcome = std::future::poll_fn(|cx| {
            match catch_unwind(AssertUnwindSafe(|| handler.as_mut().poll(cx))) {
                Ok(Poll::Ready(response)) => return Poll::Ready(Some(Ok(response))),
                Ok(Poll::Pending) => {}
                Err(payload) => return Poll::Ready(Some(Err(payload))),
            }
            cancel.poll_take(cx).map(|_| None)
        })
        .await;
        match outcome {
            Some(Ok(response)) => self.respond(response),
            Some(Err(payload)) => log_panic(&log, self.stream, &*payload),
            None => self.done = true, // the stream is gone: nothing to answer
        }
    }
}

/// Held in a stream's state while the stream's handler runs in a task of its
/// own; dropped with the state (the peer reset the stream, the connection
/// closed, or the stream finished), it cancels the handler.
struct CancelOnDrop(Oneshot<()>);

impl Drop for CancelOnDrop {
    fn drop(&mut self) {
        self.0.put(());
    }
}

impl Drop for Completion {
    fn drop(&mut self) {
        if !self.done {
            self.shared.push(Cmd::Abort(self.stream));
        }
    }
}

/// What every connection of a server shares, from its [`ServerOptions`](crate::ServerOptions).
#[derive(Clone, Debug, Default)]
pub(crate) struct ServerCtx {
    pub(crate) log: ErrorLog,
    pub(crate) rules: framing::Rules,
    /// The lingering close's bound in time ([`ServerOptions::linger`](crate::ServerOptions::linger));
    /// zero closes at once.
    pub(crate) linger: std::time::Duration,
    /// The lingering close's bound in bytes discarded.
    pub(crate) linger_max_bytes: usize,
}

/// A lingering close under way: the answer is written and the write side
/// shut down; what the peer still sends is read and thrown away until it
/// closes its side, `left` reaches zero or the pump's sleep (set for the
/// time bound) fires. Closing with unread input would make the kernel send
/// a reset, and the peer's kernel would then discard the answer before the
/// peer read it.
struct Lingering {
    /// Bytes that may still be discarded.
    left: usize,
}

/// A server connection's facts: known at accept, completed (with what TLS
/// negotiated) when the first request arrives, then shared by every request.
pub(crate) enum Facts {
    Accepted(Box<Accept>),
    Known(Arc<ConnectionInfo>),
}

impl Facts {
    fn get(&mut self, conn: &impl Connection) -> Arc<ConnectionInfo> {
        match self {
            Facts::Known(info) => info.clone(),
            Facts::Accepted(accept) => {
                let empty = Accept { local_addr: None, extensions: Default::default(), ..**accept };
                let accept = std::mem::replace(&mut **accept, empty);
                let info = Arc::new(ConnectionInfo::new(accept, conn.tls_facts()));
                *self = Facts::Known(info.clone());
                info
            }
        }
    }
}

/// A response to the request that could switch protocols: one that does
/// not switch (not a 101, nor a 2xx to CONNECT) tells its upgrade so.
fn settle_upgrade(upgrade: &mut Option<(StreamId, bool, UpgradeSlot)>, stream: StreamId, status: u16) {
    let switches = |connect: bool| status == 101 || (connect && (200..300).contains(&status));
    if let Some((s, connect, _)) = upgrade {
        if *s == stream && !switches(*connect) {
            if let Some((_, _, slot)) = upgrade.take() {
                slot.put(Err(not_upgraded(&format!("the response was {status}")).into()));
            }
        }
    }
}

/// The message of a panic's payload (`panic!` gives a `&str` or a `String`).
fn panic_message(payload: &(dyn std::any::Any + Send)) -> &str {
    payload
        .downcast_ref::<&str>()
        .copied()
        .or_else(|| payload.downcast_ref::<String>().map(String::as_str))
        .unwrap_or("(no message)")
}

/// Reports a handler's panic on `stream`.
fn log_panic(log: &ErrorLog, stream: StreamId, payload: &(dyn std::any::Any + Send)) {
    log.log(&format!("request handler panicked on stream {stream}: {}", panic_message(payload)));
}

/// The role-specific part of a connection task.
pub(crate) enum Mode<H: Handler> {
    Server {
        handler: Arc<H>,
        /// Where the next handler future is polled (see [`FutureSlot`]).
        slot: Option<FutureSlot<H::Future>>,
        pool: Option<Arc<Semaphore>>,
        /// Server-wide flags ([`SHUTDOWN`], [`ABORT`]).
        flags: Arc<Notify>,
        watch: Watch,
        ctx: Arc<ServerCtx>,
        /// What every request of this connection is told about it.
        info: Facts,
    },
    Client,
}

#[derive(Default)]
struct StreamState {
    /// The body we receive (request on a server, response on a client).
    incoming: Option<Chan>,
    read_body_sent: bool,
    trailers: Option<HeaderList>,
    in_done: bool,
    /// The body we send, once its head went out.
    outgoing: Option<Body>,
    /// Part of a chunk the connection did not take yet.
    remainder: Option<Bytes>,
    out_done: bool,
    /// Server: the request is a HEAD (its response has no body).
    head_request: bool,
    /// Client: where the response head goes.
    response: Option<Oneshot<io::Result<Response>>>,
    /// Client: the request, to send again if the peer refuses the stream
    /// (see [`Pump::retry_refused`]); until the response head arrives.
    replay: Option<Replay>,
    /// Server: cancels the stream's handler task when the state goes.
    _handler: Option<CancelOnDrop>,
}

impl StreamState {
    fn finished(&self) -> bool {
        self.in_done && self.out_done && self.response.is_none()
    }

    fn fail(&mut self, error: Error) {
        if let Some(slot) = self.response.take() {
            slot.put(Err(error.clone().into()));
        }
        if let Some(chan) = self.incoming.take() {
            chan.fail(error);
        }
        self.outgoing = None;
        self.remainder = None;
        self.in_done = true;
        self.out_done = true;
    }
}

/// Client: a request waiting for the connection to take another stream.
struct Queued {
    request: Request,
    slot: Oneshot<io::Result<Response>>,
    /// Times it was refused unprocessed and sent again.
    retries: u8,
}

/// Client: what it takes to send a request again.
struct Replay {
    head: sockless_core::RequestHead,
    body: Bytes,
    retries: u8,
}

/// Most times one request is sent again after REFUSED_STREAM: a peer that
/// keeps refusing is then believed.
const MAX_REFUSED_RETRIES: u8 = 5;

/// One connection's task.
pub(crate) struct Pump<R: Runtime, I: Io, C: Connection, H: Handler = NoHandler> {
    rt: R,
    io: I,
    conn: C,
    clock: Clock,
    shared: Arc<Shared>,
    mode: Mode<H>,
    streams: IdMap<StreamId, StreamState>,
    /// Client: requests waiting until the connection takes another stream.
    queued: VecDeque<Queued>,
    /// Most unread bytes held for one incoming body before input stops
    /// (not on a flow-controlled connection, see [`Pump::input_paused`]).
    body_cap: usize,
    sleep: Option<Pin<Box<R::Sleep>>>,
    /// The instant the sleep is set for; `None` once it fired (it is then
    /// moved before it is polled again).
    armed: Option<sockless_core::Instant>,
    /// The waker the sleep was last polled with (see [`Pump::arm_timer`]).
    sleep_waker: Option<Waker>,
    /// The clock, read at most once per wake-up (see [`Pump::now`]).
    now: Option<sockless_core::Instant>,
    needs_flush: bool,
    /// This wake-up already read from the transport (see [`Pump::read`]).
    read_once: bool,
    /// The last transmit wrote everything queued.
    tx_empty: bool,
    read_closed: bool,
    shutdown_sent: bool,
    /// Closing: the transport is being shut down.
    closing: bool,
    /// Why the connection failed, once it did: what its unfinished
    /// exchanges are told.
    failure: Option<Error>,
    /// Server: the request that may switch protocols (at most one: HTTP/1.1
    /// reads no further until it is answered), whether it is a CONNECT, and
    /// where its transport goes.
    upgrade: Option<(StreamId, bool, UpgradeSlot)>,
    /// The connection switched protocols: the bytes received past the
    /// request, handed over with the transport (see [`Pump::hand_over`]).
    upgraded: Option<Bytes>,
    /// Server: the idleness last published in [`Shared::idle_since`].
    idle: bool,
    /// Bytes of a copied-in read the connection has not taken yet.
    unaccepted: Option<Bytes>,
    /// Server: the connection ended on its own terms (not a broken
    /// transport, not an abort) with the peer's input still open: it closes
    /// lingering (see [`Lingering`]).
    linger_due: bool,
    /// The transport's write side is shut down.
    write_shut: bool,
    /// The lingering close under way.
    lingering: Option<Lingering>,
}

/// How a connection task ended.
pub(crate) enum Ended {
    /// The connection closed.
    Closed,
    /// It switched protocols: [`Pump::hand_over`] gives the transport away.
    Upgraded,
}

// The pump never pins its fields (the timer is boxed), so it may move.
impl<R: Runtime, I: Io, C: Connection, H: Handler> Unpin for Pump<R, I, C, H> {}

impl<R: Runtime, I: Io, C: Connection, H: Handler> Pump<R, I, C, H> {
    pub(crate) fn new(
        rt: R,
        io: I,
        conn: C,
        clock: Clock,
        shared: Arc<Shared>,
        mode: Mode<H>,
        body_cap: usize,
    ) -> Self {
        Pump {
            rt,
            io,
            conn,
            clock,
            shared,
            mode,
            streams: IdMap::default(),
            queued: VecDeque::new(),
            body_cap: body_cap.max(1),
            sleep: None,
            armed: None,
            sleep_waker: None,
            now: None,
            needs_flush: false,
            read_once: false,
            tx_empty: true,
            read_closed: false,
            shutdown_sent: false,
            closing: false,
            failure: None,
            upgrade: None,
            upgraded: None,
            idle: false,
            unaccepted: None,
            linger_due: false,
            write_shut: false,
            lingering: None,
        }
    }

    /// The time passed to the connection. One poll of the task takes
    /// microseconds, so the clock is read once per poll (a clock read costs
    /// as much as a good part of a request's work) and again only when a
    /// sleep says a deadline passed.
    fn now(&mut self) -> sockless_core::Instant {
        *self.now.get_or_insert_with(|| self.clock.at(self.rt.now()))
    }

    /// Server flags and client handles: graceful shutdown, or abort (`Err`).
    fn signals(&mut self, cx: &mut Context<'_>) -> Result<bool, ()> {
        let mut shutdown = false;
        match &mut self.mode {
            Mode::Server { flags, watch, .. } => {
                let f = flags.poll_watch(cx, watch);
                if f & ABORT != 0 {
                    return Err(());
                }
                // Evicted at the connection ceiling: close as a graceful
                // shutdown does (the connection is idle: at once).
                shutdown = f & SHUTDOWN != 0 || self.shared.evict.load(Ordering::Relaxed);
            }
            Mode::Client => {
                let s = lock(&self.shared.state);
                if s.handles == 0 && s.cmds.is_empty() && self.queued.is_empty() && self.streams.is_empty() {
                    shutdown = true;
                }
            }
        }
        if shutdown && !self.shutdown_sent {
            self.shutdown_sent = true;
            let now = self.now();
            self.conn.shutdown(now);
            return Ok(true);
        }
        Ok(false)
    }

    /// Takes the application's commands.
    fn commands(&mut self, cx: &mut Context<'_>) -> bool {
        let cmds: Vec<Cmd> = {
            let mut s = lock(&self.shared.state);
            if !s.waker.as_ref().is_some_and(|w| w.will_wake(cx.waker())) {
                s.waker = Some(cx.waker().clone());
            }
            if s.cmds.is_empty() {
                return false;
            }
            s.cmds.drain(..).collect()
        };
        let progress = !cmds.is_empty();
        for cmd in cmds {
            match cmd {
                Cmd::Respond(stream, response) => self.respond(stream, response),
                Cmd::Abort(stream) => self.respond(stream, framing::internal_error()),
                Cmd::Request(request, slot) => self.queued.push_back(Queued { request, slot, retries: 0 }),
                Cmd::Cancel(slot) => self.cancel_request(&slot),
            }
        }
        progress
    }

    fn respond(&mut self, stream: StreamId, mut response: Response) {
        let Mode::Server { ctx, .. } = &self.mode else { return };
        let Some(st) = self.streams.get_mut(&stream) else { return };
        settle_upgrade(&mut self.upgrade, stream, response.head.status);
        if Self::send_head(&mut self.conn, &ctx.rules, stream, st, &mut response).is_err() {
            self.reset(stream, ErrorCode::INTERNAL_ERROR);
            return;
        }
        self.reap(stream);
    }

    /// Sends a response's head, and its body too when the body is one
    /// buffer the connection takes whole (most responses): then the stream
    /// needs no further work from [`Pump::bodies`], which saves a second
    /// `send_data` just to end the stream. `Err` if the connection refused
    /// the response (the caller resets the stream). The response is taken
    /// by reference where it lies (a move of it is a memcpy).
    fn send_head(
        conn: &mut C,
        rules: &framing::Rules,
        stream: StreamId,
        st: &mut StreamState,
        response: &mut Response,
    ) -> Result<(), ()> {
        if st.out_done || st.outgoing.is_some() {
            return Ok(());
        }
        let end = framing::prepare(response, st.head_request, rules);
        if conn.send_response(stream, &response.head, end).is_err() {
            // The connection refused the handler's head (a field it may not
            // send, a status not allowed here): nothing went out, so the
            // client is told the server failed, as hyper does.
            *response = framing::internal_error();
            framing::add_standard_fields(&mut response.head, rules);
            conn.send_response(stream, &response.head, true).map_err(|_| ())?;
            st.out_done = true;
            return Ok(());
        }
        if end {
            st.out_done = true;
            return Ok(());
        }
        if let Some(data) = response.body.take_full() {
            let len = data.len();
            let n = conn.send_data(stream, data.clone(), true).map_err(|_| ())?;
            if n == len {
                st.out_done = true;
                return Ok(());
            }
            // Flow control took part of it: the rest goes out from `bodies`,
            // which then ends the stream (the body is now empty).
            st.remainder = Some(data.slice(n..));
        }
        st.outgoing = Some(std::mem::take(&mut response.body));
        Ok(())
    }

    fn reset(&mut self, stream: StreamId, code: ErrorCode) {
        if let Some(st) = self.streams.remove(&stream) {
            self.reset_state(stream, st, code);
        }
    }

    /// Resets a stream already taken out of (or never put in) the map.
    fn reset_state(&mut self, stream: StreamId, mut st: StreamState, code: ErrorCode) {
        if !(st.in_done && st.out_done) {
            let _ = self.conn.reset_stream(stream, code);
        }
        st.fail(Error::reset(code, false));
    }

    /// Client: forgets a request whose caller stopped waiting, resetting its
    /// stream if it started (on HTTP/1.1 that closes the connection, the
    /// only way to abandon an exchange).
    fn cancel_request(&mut self, slot: &Oneshot<io::Result<Response>>) {
        if let Some(i) = self.queued.iter().position(|q| q.slot.same(slot)) {
            self.queued.remove(i);
            return;
        }
        let started = self.streams.iter().find(|(_, st)| st.response.as_ref().is_some_and(|s| s.same(slot)));
        if let Some((&stream, _)) = started {
            self.reset(stream, ErrorCode::CANCEL);
        }
    }

    fn reap(&mut self, stream: StreamId) {
        if self.streams.get(&stream).is_some_and(StreamState::finished) {
            self.streams.remove(&stream);
        }
    }

    /// Client: starts queued requests while the connection takes them.
    fn start_requests(&mut self) -> bool {
        let mut progress = false;
        while let Some(Queued { request, slot, retries }) = self.queued.pop_front() {
            if slot.is_set() {
                continue;
            }
            let end = request.body.is_empty();
            match self.conn.send_request(&request.head, end) {
                Ok(stream) => {
                    progress = true;
                    let Request { head, body, .. } = request;
                    // Kept to send again if the peer refuses the stream
                    // unprocessed: only when the body can be sent again.
                    let replay = body.replayable().map(|body| Replay { head, body, retries });
                    let mut st = StreamState {
                        incoming: Some(Chan::new(self.body_cap)),
                        response: Some(slot),
                        out_done: end,
                        replay,
                        ..StreamState::default()
                    };
                    if !end {
                        st.outgoing = Some(body);
                    }
                    self.streams.insert(stream, st);
                }
                // Busy: the request waits for a stream. Closed: the
                // connection is going, and its events say why (a TLS failure
                // is reported once its alert is out): `fail_all` then tells
                // every waiting request that.
                Err(sockless_core::Error::User(sockless_core::UserError::Busy | sockless_core::UserError::Closed)) => {
                    self.queued.push_front(Queued { request, slot, retries });
                    break;
                }
                Err(e) => slot.put(Err(Error::refused(e).into())),
            }
        }
        progress
    }

    /// Client: a stream the peer refused before processing it (HTTP/2
    /// REFUSED_STREAM, RFC 9113 section 8.7: say, more streams than its
    /// limit before its SETTINGS arrived) is sent again on this connection,
    /// first in line, when its body can be sent again (it was empty or one
    /// buffer) and it was not retried [`MAX_REFUSED_RETRIES`] times already;
    /// the caller never sees the refusal. `false` if it is not retried.
    fn retry_refused(&mut self, st: &mut StreamState) -> bool {
        let Some(replay) = st.replay.take_if(|r| r.retries < MAX_REFUSED_RETRIES) else { return false };
        let Some(slot) = st.response.take() else { return false };
        let request = Request::new(replay.head, replay.body);
        self.queued.push_front(Queued { request, slot, retries: replay.retries + 1 });
        true
    }

    /// Feeds outgoing bodies to the connection, returns consumed capacity,
    /// and starts reading bodies the application asked for.
    fn bodies(&mut self, cx: &mut Context<'_>) -> bool {
        let mut progress = false;
        let mut broken = Vec::new();
        let mut reap = Vec::new();
        for (&id, st) in self.streams.iter_mut() {
            if let Some(chan) = &st.incoming {
                if !st.read_body_sent && chan.rx_started() {
                    st.read_body_sent = true;
                    let _ = self.conn.read_body(id);
                    progress = true;
                }
                let n = chan.take_consumed();
                if n > 0 {
                    let _ = self.conn.release_capacity(id, n);
                    progress = true;
                }
            }
            let Some(body) = st.outgoing.as_mut() else { continue };
            loop {
                if let Some(rem) = st.remainder.take() {
                    match self.conn.send_data(id, rem.clone(), false) {
                        Ok(n) => {
                            progress |= n > 0;
                            if n < rem.len() {
                                st.remainder = Some(rem.slice(n..));
                                break;
                            }
                        }
                        Err(_) => {
                            broken.push(id);
                            break;
                        }
                    }
                }
                match body.poll_chunk(cx) {
                    Poll::Pending => break,
                    Poll::Ready(Some(Ok(chunk))) => st.remainder = Some(chunk),
                    Poll::Ready(None) => {
                        let sent = match body.peek_trailers() {
                            Some(t) => self.conn.send_trailers(id, &t),
                            None => self.conn.send_data(id, Bytes::new(), true).map(|_| ()),
                        };
                        if sent.is_err() {
                            broken.push(id);
                        }
                        st.outgoing = None;
                        st.out_done = true;
                        progress = true;
                        reap.push(id);
                        break;
                    }
                    Poll::Ready(Some(Err(_))) => {
                        broken.push(id);
                        break;
                    }
                }
            }
        }
        for id in broken {
            self.reset(id, ErrorCode::CANCEL);
            progress = true;
        }
        for id in reap {
            self.reap(id);
        }
        progress
    }

    /// Writes what the connection has queued. `Err` if the transport broke.
    fn transmit(&mut self, cx: &mut Context<'_>) -> io::Result<bool> {
        let mut progress = false;
        loop {
            let mut slices: [&[u8]; MAX_SLICES] = [&[]; MAX_SLICES];
            let n = self.conn.poll_transmit(&mut slices);
            self.tx_empty = n == 0;
            if n == 0 {
                break;
            }
            let mut io_slices = [IoSlice::new(&[]); MAX_SLICES];
            for (dst, src) in io_slices.iter_mut().zip(&slices[..n]) {
                *dst = IoSlice::new(src);
            }
            let written = match self.io.poll_write_vectored(cx, &io_slices[..n]) {
                Poll::Pending => return Ok(progress),
                Poll::Ready(Ok(0)) => return Err(io::ErrorKind::WriteZero.into()),
                Poll::Ready(Ok(w)) => w,
                Poll::Ready(Err(e)) => return Err(e),
            };
            self.conn.advance_transmit(written);
            self.needs_flush = true;
            progress = true;
        }
        if self.needs_flush {
            match self.io.poll_flush(cx) {
                Poll::Ready(Ok(())) => self.needs_flush = false,
                Poll::Ready(Err(e)) => return Err(e),
                Poll::Pending => {}
            }
        }
        Ok(progress)
    }

    /// Routes the connection's events; `true` once it closed.
    fn events(&mut self) -> (bool, bool) {
        let mut progress = false;
        // An event read ahead (see `Event::Request` below), handled next.
        let mut ahead: Option<Event> = None;
        while let Some(event) = ahead.take().or_else(|| self.conn.poll_event()) {
            progress = true;
            match event {
                Event::Request { stream, head, .. } => {
                    // A request without a body (a GET) is followed at once by
                    // its end: looking one event ahead tells, so the request
                    // gets an empty body instead of a channel nobody feeds.
                    let ended = match self.conn.poll_event() {
                        Some(Event::EndStream { stream: s }) if s == stream => true,
                        next => {
                            ahead = next;
                            false
                        }
                    };
                    self.on_request(stream, head, ended);
                }
                Event::Response { stream, head } => {
                    if let Some(st) = self.streams.get_mut(&stream) {
                        st.replay = None;
                        if let (Some(slot), Some(chan)) = (st.response.take(), st.incoming.as_ref()) {
                            slot.put(Ok(Response { head, body: Body::from_chan(chan.clone()) }));
                        }
                    }
                    self.reap(stream);
                }
                Event::Data { stream, data } => {
                    let len = data.len();
                    let taken = match self.streams.get(&stream).and_then(|st| st.incoming.as_ref()) {
                        Some(chan) => chan.push(data),
                        None => false,
                    };
                    if !taken {
                        // Nobody reads this body: its bytes count as consumed.
                        let _ = self.conn.release_capacity(stream, len);
                        // A client's caller dropped the response body: on
                        // HTTP/2 the stream is cancelled rather than read for
                        // nobody. (On HTTP/1.1 the rest is read and dropped,
                        // which keeps the connection usable.)
                        if matches!(self.mode, Mode::Client) && self.conn.flow_controlled() {
                            self.reset(stream, ErrorCode::CANCEL);
                        }
                    }
                }
                Event::Trailers { stream, trailers } => {
                    if let Some(st) = self.streams.get_mut(&stream) {
                        st.trailers = Some(trailers);
                    }
                }
                Event::EndStream { stream } => {
                    if let Some(st) = self.streams.get_mut(&stream) {
                        if let Some(chan) = &st.incoming {
                            chan.finish(st.trailers.take());
                        }
                        st.in_done = true;
                    }
                    self.reap(stream);
                }
                Event::Reset { stream, code, remote } => {
                    if let Some(mut st) = self.streams.remove(&stream) {
                        let refused = remote && code == ErrorCode::REFUSED_STREAM;
                        if !(refused && self.retry_refused(&mut st)) {
                            st.fail(Error::reset(code, remote));
                        }
                    }
                }
                Event::Error(e) => match e.stream {
                    // A stream's own error (a malformed response): that
                    // stream fails with it; the reset that follows finds it gone.
                    Some(stream) if self.streams.contains_key(&stream) => {
                        if let Some(mut st) = self.streams.remove(&stream) {
                            st.fail(Error::protocol(e, None));
                        }
                    }
                    _ => {
                        let detail = self.conn.failure_detail();
                        self.failure.get_or_insert_with(|| Error::protocol(e, detail));
                    }
                },
                Event::GoAway { code, .. } if code != ErrorCode::NO_ERROR => {
                    let message = format!("the peer closed the connection with GOAWAY {code}");
                    self.failure.get_or_insert_with(|| Error::new(ErrorKind::GoAway(code), message));
                }
                Event::Closed(reason) => {
                    self.failure.get_or_insert_with(|| Error::close(&reason));
                    return (progress, true);
                }
                Event::Upgrade { stream, leftover } => {
                    if self.upgrade.as_ref().is_some_and(|(s, _, _)| *s == stream) {
                        self.upgraded = Some(leftover);
                    }
                    return (progress, true);
                }
                Event::Informational { .. } | Event::GoAway { .. } | Event::Ready { .. } => {}
            }
        }
        (progress, false)
    }

    /// Runs the handler for a new request; `ended`: the request has no body
    /// (its end was already seen). Inlined into its one caller, which saves
    /// moving the request head (a memcpy) into the call.
    #[inline(always)]
    fn on_request(&mut self, stream: StreamId, head: sockless_core::RequestHead, ended: bool) {
        let Mode::Server { handler, pool, slot, ctx, info, .. } = &mut self.mode else { return };
        let info = info.get(&self.conn);
        let (body, incoming) = if ended {
            (Body::empty(), None)
        } else {
            let chan = Chan::new(self.body_cap);
            (Body::from_chan(chan.clone()), Some(chan))
        };
        let head_request = head.method == sockless_core::Method::Head;
        let connect = head.method == sockless_core::Method::Connect;
        // Not over HTTP/2 (no upgrades there), nor inside TLS (the new
        // protocol's bytes would be encrypted in the transport).
        let can_switch = !self.conn.flow_controlled() && info.tls().is_none();
        let upgrade = if can_switch && (connect || head.headers.contains("upgrade")) {
            let slot = Oneshot::new();
            self.upgrade = Some((stream, connect, slot.clone()));
            Some(slot)
        } else {
            None
        };
        let request = Request::received(head, body, info, upgrade);
        let mut st = StreamState { incoming, in_done: ended, head_request, ..StreamState::default() };
        if pool.is_none() {
            // Most handlers answer at once (a static page, a cached value):
            // poll the handler here first, and spawn a task only if it has to
            // wait. A noop waker is enough: a pending handler is spawned, and
            // its task's first poll registers the task's own waker.
            let mut fut = slot.take().unwrap_or_else(|| Box::pin(None));
            let mut cx = Context::from_waker(std::task::Waker::noop());
            let polled = catch_unwind(AssertUnwindSafe(|| {
                fut.set(Some(handler.call(request)));
                match fut.as_mut().as_pin_mut() {
                    Some(f) => f.poll(&mut cx),
                    None => Poll::Pending,
                }
            }));
            let mut response = match polled {
                Ok(Poll::Ready(response)) => {
                    // The slot is kept for the next request.
                    fut.set(None);
                    *slot = Some(fut);
                    response
                }
                Ok(Poll::Pending) => {
                    let cancel = Oneshot::new();
                    st._handler = Some(CancelOnDrop(cancel.clone()));
                    self.streams.insert(stream, st);
                    let completion = Completion { shared: self.shared.clone(), stream, done: false };
                    let handler = std::future::poll_fn(move |cx| match fut.as_mut().as_pin_mut() {
                        Some(f) => f.poll(cx),
                        None => Poll::Pending,
                    });
                    self.rt.spawn(completion.run(cancel, handler, ctx.log.clone()));
                    return;
                }
                Err(payload) => {
                    log_panic(&ctx.log, stream, &*payload);
                    // The panicked future is dropped, not reused (its drop
                    // may panic too); the next request gets a new slot.
                    let _ = catch_unwind(AssertUnwindSafe(move || drop(fut)));
                    framing::internal_error()
                }
            };
            settle_upgrade(&mut self.upgrade, stream, response.head.status);
            if Self::send_head(&mut self.conn, &ctx.rules, stream, &mut st, &mut response).is_err() {
                self.reset_state(stream, st, ErrorCode::INTERNAL_ERROR);
            } else if !st.finished() {
                // Only a stream with work left (a body to receive or to
                // send) takes an entry.
                self.streams.insert(stream, st);
            }
            return;
        }
        let cancel = Oneshot::new();
        st._handler = Some(CancelOnDrop(cancel.clone()));
        self.streams.insert(stream, st);
        let completion = Completion { shared: self.shared.clone(), stream, done: false };
        let handler = handler.clone();
        let pool = pool.clone();
        // A cancelled request waiting for a worker leaves the queue too.
        let work = async move {
            let _permit = match &pool {
                Some(p) => Some(p.acquire().await),
                None => None,
            };
            handler.call(request).await
        };
        self.rt.spawn(completion.run(cancel, work, ctx.log.clone()));
    }

    /// Whether input stops until the application reads: on HTTP/1.1, while
    /// an unread incoming body holds more than the cap. Never on a
    /// flow-controlled connection (HTTP/2): there the windows bound what the
    /// peer may send, and stopping input for one slow body would stall every
    /// other stream; the task only has to wake when a body is read, to give
    /// the bytes back to the windows (see [`Pump::bodies`]).
    fn input_paused(&self, cx: &mut Context<'_>) -> bool {
        let flow_controlled = self.conn.flow_controlled();
        let limit = if flow_controlled { 0 } else { self.body_cap };
        let mut over = false;
        for st in self.streams.values() {
            if let Some(chan) = &st.incoming {
                over |= chan.watch_unread(limit, cx.waker());
            }
        }
        over && !flow_controlled
    }

    /// Reads once into the connection's buffer. `Err` if the transport broke.
    fn read(&mut self, cx: &mut Context<'_>) -> io::Result<bool> {
        if self.read_closed || self.input_paused(cx) {
            return Ok(false);
        }
        // The first read of a wake-up goes ahead (input is what usually woke
        // the task); later ones first ask whether there is anything to read.
        if std::mem::replace(&mut self.read_once, true) && self.io.poll_read_ready(cx).is_pending() {
            return Ok(false);
        }
        let now = self.now();
        if let Some(rest) = self.unaccepted.take() {
            // Bytes the connection did not take from a copied-in read.
            let taken = self.conn.handle_input(now, &rest).unwrap_or(rest.len());
            if taken < rest.len() {
                self.unaccepted = Some(rest.slice(taken..));
            }
            return Ok(taken > 0);
        }
        if self.streams.is_empty() {
            return self.read_idle(cx, now);
        }
        let buf = self.conn.input_buffer();
        if buf.is_empty() {
            return Ok(false); // the connection wants no input now
        }
        match self.io.poll_read(cx, buf) {
            Poll::Ready(Ok(0)) => {
                let _ = self.conn.commit_input(now, 0);
                self.conn.handle_eof(now);
                self.read_closed = true;
                Ok(true)
            }
            Poll::Ready(Ok(n)) => {
                // A protocol error is reported as an event.
                let _ = self.conn.commit_input(now, n);
                Ok(true)
            }
            Poll::Ready(Err(e)) => {
                let _ = self.conn.commit_input(now, 0);
                Err(e)
            }
            Poll::Pending => {
                // Give the lent region back: nothing was read.
                let _ = self.conn.commit_input(now, 0);
                Ok(false)
            }
        }
    }

    /// Reads while no exchange is in flight (a keep-alive connection waiting
    /// for its next request): into this thread's scratch buffer, then copied
    /// in. An idle connection is then not lent a receive region it would
    /// keep allocated (and zeroed) while it waits, and its receive buffer
    /// grows only to what arrives; a request's bytes are copied once, a
    /// few hundred bytes. Bodies in flight are read into the lent buffer.
    fn read_idle(&mut self, cx: &mut Context<'_>, now: sockless_core::Instant) -> io::Result<bool> {
        SCRATCH.with_borrow_mut(|scratch| {
            let scratch = scratch.get_or_insert_with(|| vec![0; SCRATCH_LEN].into_boxed_slice());
            match self.io.poll_read(cx, scratch) {
                Poll::Ready(Ok(0)) => {
                    self.conn.handle_eof(now);
                    self.read_closed = true;
                    Ok(true)
                }
                Poll::Ready(Ok(n)) => {
                    // A protocol error is reported as an event.
                    let taken = self.conn.handle_input(now, &scratch[..n]).unwrap_or(n);
                    if taken < n {
                        self.unaccepted = Some(Bytes::copy_from_slice(&scratch[taken..n]));
                    }
                    Ok(true)
                }
                Poll::Ready(Err(e)) => Err(e),
                Poll::Pending => Ok(false),
            }
        })
    }

    /// Fires due timers: `(true, _)` if one fired, else `(false, the next
    /// deadline)`, which [`Pump::arm_timer`] then sleeps until (the
    /// connection is asked once a round).
    fn timers(&mut self) -> (bool, Option<sockless_core::Instant>) {
        let deadline = self.conn.poll_timeout();
        if let Some(deadline) = deadline {
            let now = self.now();
            if deadline <= now {
                self.conn.handle_timeout(now);
                return (true, None);
            }
        }
        (false, deadline)
    }

    /// Sleeps until the next deadline; `true` if it already passed.
    ///
    /// The runtime's timer is moved only when the deadline comes earlier,
    /// and polled only when it may have fired or the task's waker changed:
    /// an HTTP/1.1 keep-alive deadline moves later with every request, and
    /// moving and polling a runtime timer costs a good part of a request's
    /// work. A timer left earlier than the deadline fires, finds nothing
    /// due, and is then moved to the deadline.
    /// `deadline` is the connection's, as [`Pump::timers`] just read it.
    fn arm_timer(&mut self, cx: &mut Context<'_>, deadline: Option<sockless_core::Instant>) -> bool {
        let Some(deadline) = deadline else { return false };
        let now = self.now();
        match (&mut self.sleep, self.armed) {
            (Some(_), Some(armed)) if armed <= deadline => {
                // A pending future wakes the waker of its last poll: while
                // that is this task's and the instant is ahead, all is set.
                if armed > now && self.sleep_waker.as_ref().is_some_and(|w| w.will_wake(cx.waker())) {
                    return false;
                }
            }
            (Some(s), _) => {
                self.rt.reset_sleep(s.as_mut(), self.clock.to_std(deadline));
                self.armed = Some(deadline);
            }
            (None, _) => {
                self.sleep = Some(Box::pin(self.rt.sleep_until(self.clock.to_std(deadline))));
                self.armed = Some(deadline);
            }
        }
        let Some(s) = &mut self.sleep else { return false };
        if s.as_mut().poll(cx).is_pending() {
            if !self.sleep_waker.as_ref().is_some_and(|w| w.will_wake(cx.waker())) {
                self.sleep_waker = Some(cx.waker().clone());
            }
            return false;
        }
        // Fired: it is moved (rearmed) before it is polled again.
        let fired = self.armed.take();
        if fired.is_some_and(|f| f < deadline) {
            // It was set for an earlier deadline that has since moved.
            return self.arm_timer(cx, Some(deadline));
        }
        self.now = None; // the deadline passed: read the clock again
        true
    }

    /// Fails everything still open (with why the connection ended, when it
    /// failed) and refuses new commands.
    fn fail_all(&mut self) {
        let failure = self.failure.clone().unwrap_or_else(Error::closed);
        let cmds: Vec<Cmd> = {
            let mut s = lock(&self.shared.state);
            s.closed = true;
            s.failure = Some(failure.clone());
            s.cmds.drain(..).collect()
        };
        // Requests still queued never reached the connection: their error
        // says so, and a hub may send them again safely.
        for cmd in cmds {
            if let Cmd::Request(_, slot) = cmd {
                slot.put(Err(failure.unsent().into()));
            }
        }
        for q in self.queued.drain(..) {
            q.slot.put(Err(failure.unsent().into()));
        }
        for (_, mut st) in self.streams.drain() {
            st.fail(failure.clone());
        }
        if self.upgraded.is_none() {
            if let Some((_, _, slot)) = self.upgrade.take() {
                slot.put(Err(not_upgraded("the connection closed").into()));
            }
        }
        if let Mode::Server { flags, watch, .. } = &mut self.mode {
            flags.forget_watch(watch);
        }
    }

    /// Gives the transport of a connection that switched protocols, with
    /// the bytes received past the request, to the request's upgrade.
    pub(crate) fn hand_over(self) {
        if let (Some((_, _, slot)), Some(leftover)) = (self.upgrade, self.upgraded) {
            slot.put(Ok(Upgraded::new(Box::new(self.io), leftover)));
        }
    }

    /// Server: publishes whether the connection is idle (no exchange in
    /// flight) and since when, for the accept loop's eviction at the
    /// connection ceiling. An atomic store, and only on a change.
    fn publish_idle(&mut self) {
        if !matches!(self.mode, Mode::Server { .. }) {
            return;
        }
        let idle = self.streams.is_empty();
        if idle != self.idle {
            self.idle = idle;
            let since = if idle { self.now().as_nanos().saturating_add(1) } else { 0 };
            self.shared.idle_since.store(since, Ordering::Relaxed);
        }
    }

    fn start_close(&mut self) {
        if !self.closing {
            self.closing = true;
            self.fail_all();
        }
    }

    /// Once the write side is shut down: begins the lingering close if it
    /// is due and configured, setting the pump's sleep to its time bound.
    fn begin_lingering(&mut self) {
        let Mode::Server { ctx, .. } = &self.mode else { return };
        if !self.linger_due || self.read_closed || ctx.linger.is_zero() || ctx.linger_max_bytes == 0 {
            return;
        }
        self.lingering = Some(Lingering { left: ctx.linger_max_bytes });
        let until = self.rt.now() + ctx.linger;
        match &mut self.sleep {
            Some(s) => self.rt.reset_sleep(s.as_mut(), until),
            None => self.sleep = Some(Box::pin(self.rt.sleep_until(until))),
        }
    }

    /// Reads and discards the peer's input while lingering: `Ready` once the
    /// peer closed its side (or the transport failed), the byte bound was
    /// reached or the time bound passed.
    fn poll_linger(&mut self, cx: &mut Context<'_>) -> Poll<()> {
        let (Some(lingering), Some(sleep)) = (&mut self.lingering, &mut self.sleep) else { return Poll::Ready(()) };
        if sleep.as_mut().poll(cx).is_ready() {
            return Poll::Ready(());
        }
        let io = &mut self.io;
        SCRATCH.with_borrow_mut(|scratch| {
            let scratch = scratch.get_or_insert_with(|| vec![0; SCRATCH_LEN].into_boxed_slice());
            for _ in 0..MAX_ROUNDS {
                match io.poll_read(cx, scratch) {
                    Poll::Ready(Ok(0)) | Poll::Ready(Err(_)) => return Poll::Ready(()),
                    Poll::Ready(Ok(n)) => {
                        lingering.left = lingering.left.saturating_sub(n);
                        if lingering.left == 0 {
                            return Poll::Ready(());
                        }
                    }
                    Poll::Pending => return Poll::Pending,
                }
            }
            // A fast peer: let other tasks run, then go on discarding.
            cx.waker().wake_by_ref();
            Poll::Pending
        })
    }
}

impl<R: Runtime, I: Io, C: Connection, H: Handler> Future for Pump<R, I, C, H> {
    type Output = Ended;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Ended> {
        let this = self.get_mut();
        this.now = None;
        this.read_once = false;
        if !this.closing {
            for round in 0..MAX_ROUNDS {
                let mut progress = false;
                if round == 0 {
                    // What other tasks send (shutdown, commands) wakes this
                    // task: looking once per wake-up is enough.
                    match this.signals(cx) {
                        Ok(p) => progress |= p,
                        Err(()) => {
                            this.start_close();
                            break;
                        }
                    }
                    progress |= this.commands(cx);
                }
                progress |= this.start_requests();
                // The contract's cycle (input, events, output, deadline),
                // entered at the socket's input, which is what most wake-ups
                // bring: a request is read, answered and written in one round.
                match this.read(cx) {
                    Ok(p) => progress |= p,
                    Err(e) => {
                        this.failure.get_or_insert_with(|| Error::transport(e));
                        this.start_close();
                        break;
                    }
                }
                let (p, closed) = this.events();
                progress |= p;
                // Bodies after events: a handler polled inline has just
                // answered, and its response's head and body then leave in
                // one vectored write.
                progress |= this.bodies(cx);
                match this.transmit(cx) {
                    Ok(p) => progress |= p,
                    Err(e) => {
                        this.failure.get_or_insert_with(|| Error::transport(e));
                        this.start_close();
                        break;
                    }
                }
                let client_done = matches!(this.mode, Mode::Client)
                    && this.shutdown_sent
                    && this.tx_empty
                    && !this.needs_flush
                    && this.streams.is_empty();
                if closed || client_done {
                    this.linger_due = closed && matches!(this.mode, Mode::Server { .. });
                    this.start_close();
                    break;
                }
                let (fired, deadline) = this.timers();
                progress |= fired;
                if !progress && !this.arm_timer(cx, deadline) {
                    this.publish_idle();
                    return Poll::Pending;
                }
            }
            if !this.closing {
                // Busy: let other tasks run, then go on.
                cx.waker().wake_by_ref();
                return Poll::Pending;
            }
        }
        if this.upgraded.is_some() {
            // The transport is the new protocol's: it is not shut down.
            return Poll::Ready(Ended::Upgraded);
        }
        if !this.write_shut {
            match this.io.poll_shutdown(cx) {
                Poll::Pending => return Poll::Pending,
                Poll::Ready(shut) => {
                    this.write_shut = true;
                    if shut.is_ok() {
                        this.begin_lingering();
                    }
                }
            }
        }
        match this.poll_linger(cx) {
            Poll::Pending => Poll::Pending,
            Poll::Ready(()) => Poll::Ready(Ended::Closed),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use sockless_core::{Instant, ResponseHead};

    /// A runtime whose handlers never need a task and whose sleeps never end.
    #[derive(Clone)]
    struct NoRuntime;

    impl Runtime for NoRuntime {
        type Sleep = std::future::Pending<()>;
        fn spawn<F: Future<Output = ()> + Send + 'static>(&self, _future: F) {
            panic!("the test handler answers at once");
        }
        fn sleep_until(&self, _deadline: std::time::Instant) -> Self::Sleep {
            std::future::pending()
        }
    }

    /// A transport with scripted input that records every write.
    struct Script {
        input: Arc<Mutex<VecDeque<&'static [u8]>>>,
        writes: Arc<Mutex<Vec<Vec<u8>>>>,
        /// The length of every buffer a read was offered.
        offered: Arc<Mutex<Vec<usize>>>,
    }

    impl Io for Script {
        fn poll_read(&mut self, _cx: &mut Context<'_>, buf: &mut [u8]) -> Poll<io::Result<usize>> {
            lock(&self.offered).push(buf.len());
            match lock(&self.input).pop_front() {
                Some(chunk) => {
                    buf[..chunk.len()].copy_from_slice(chunk);
                    Poll::Ready(Ok(chunk.len()))
                }
                None => Poll::Pending,
            }
        }
        fn poll_write_vectored(&mut self, _cx: &mut Context<'_>, bufs: &[IoSlice<'_>]) -> Poll<io::Result<usize>> {
            let write: Vec<u8> = bufs.iter().flat_map(|b| b.iter().copied()).collect();
            let n = write.len();
            lock(&self.writes).push(write);
            Poll::Ready(Ok(n))
        }
        fn poll_flush(&mut self, _cx: &mut Context<'_>) -> Poll<io::Result<()>> {
            Poll::Ready(Ok(()))
        }
        fn poll_shutdown(&mut self, _cx: &mut Context<'_>) -> Poll<io::Result<()>> {
            Poll::Ready(Ok(()))
        }
    }

    /// The writes a server pump makes for `input`, its handler answering
    /// every request at once with `hello`.
    fn server_writes(input: Vec<&'static [u8]>) -> Vec<Vec<u8>> {
        let writes = Arc::new(Mutex::new(Vec::new()));
        let io = Script { input: Arc::new(Mutex::new(input.into())), writes: writes.clone(), offered: Arc::default() };
        let conn = sockless_h1::ServerConnection::new(sockless_h1::Config::server(), Instant::ZERO);
        let handler = Arc::new(|_req: Request| async {
            Response::new(ResponseHead::new(200).header("content-length", "5"), Bytes::from_static(b"hello"))
        });
        let mode = Mode::Server {
            handler,
            slot: None,
            pool: None,
            flags: Arc::new(Notify::default()),
            watch: Watch::default(),
            ctx: Arc::default(),
            info: Facts::Accepted(Box::new(Accept {
                now: Instant::ZERO,
                peer_addr: ([127, 0, 0, 1], 1).into(),
                local_addr: None,
                extensions: Default::default(),
            })),
        };
        let clock = Clock::new(std::time::Instant::now());
        let mut pump = Pump::new(NoRuntime, io, conn, clock, Arc::new(Shared::default()), mode, 1 << 16);
        let mut cx = Context::from_waker(Waker::noop());
        assert!(Pin::new(&mut pump).poll(&mut cx).is_pending());
        let writes = lock(&writes).clone();
        writes
    }

    #[test]
    fn a_response_answered_at_once_leaves_in_one_write() {
        let writes = server_writes(vec![b"GET / HTTP/1.1\r\nHost: x\r\n\r\n"]);
        assert_eq!(writes.len(), 1, "{writes:?}");
        let text = String::from_utf8(writes[0].clone()).unwrap();
        assert!(text.starts_with("HTTP/1.1 200 OK\r\n"), "{text}");
        assert!(text.ends_with("\r\n\r\nhello"), "{text}");
    }

    /// A connection with no exchange in flight reads into the thread's
    /// scratch buffer, not into a region lent from its own receive buffer
    /// (which it would keep allocated while it waits); measured with
    /// benches/idle/rss_per_idle.py, smol's idle HTTP/1.1 connection went
    /// from 13 KiB to 5 KiB.
    #[test]
    fn an_idle_connection_is_not_lent_a_receive_buffer() {
        let offered = Arc::new(Mutex::new(Vec::new()));
        let input = vec![&b"GET / HTTP/1.1\r\nHost: x\r\n\r\n"[..]];
        let io = Script { input: Arc::new(Mutex::new(input.into())), writes: Arc::default(), offered: offered.clone() };
        let conn = sockless_h1::ServerConnection::new(sockless_h1::Config::server(), Instant::ZERO);
        let handler = Arc::new(|_req: Request| async { Response::new(ResponseHead::new(204), Body::empty()) });
        let mode = Mode::Server {
            handler,
            slot: None,
            pool: None,
            flags: Arc::new(Notify::default()),
            watch: Watch::default(),
            ctx: Arc::default(),
            info: Facts::Accepted(Box::new(Accept {
                now: Instant::ZERO,
                peer_addr: ([127, 0, 0, 1], 1).into(),
                local_addr: None,
                extensions: Default::default(),
            })),
        };
        let clock = Clock::new(std::time::Instant::now());
        let mut pump = Pump::new(NoRuntime, io, conn, clock, Arc::new(Shared::default()), mode, 1 << 16);
        let mut cx = Context::from_waker(Waker::noop());
        for _ in 0..3 {
            assert!(Pin::new(&mut pump).poll(&mut cx).is_pending());
        }
        let offered = lock(&offered).clone();
        assert!(offered.len() >= 3, "{offered:?}");
        assert!(
            offered.iter().all(|&n| n == SCRATCH_LEN),
            "every read while idle used the scratch buffer: {offered:?}"
        );
    }

    #[test]
    fn pipelined_responses_answered_at_once_share_one_write() {
        let writes = server_writes(vec![b"GET /a HTTP/1.1\r\nHost: x\r\n\r\nGET /b HTTP/1.1\r\nHost: x\r\n\r\n"]);
        assert_eq!(writes.len(), 1, "{writes:?}");
        let text = String::from_utf8(writes[0].clone()).unwrap();
        assert_eq!(text.matches("HTTP/1.1 200 OK\r\n").count(), 2, "{text}");
    }

    /// A runtime on a virtual clock the test moves; it records every
    /// instant a sleep is set for.
    #[derive(Clone)]
    struct Virtual {
        epoch: std::time::Instant,
        offset: Arc<Mutex<std::time::Duration>>,
        sets: Arc<Mutex<Vec<std::time::Duration>>>,
    }

    struct VirtualSleep {
        rt: Virtual,
        at: std::time::Instant,
    }

    impl Future for VirtualSleep {
        type Output = ();
        fn poll(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<()> {
            if self.rt.now() >= self.at {
                Poll::Ready(())
            } else {
                Poll::Pending
            }
        }
    }

    impl Runtime for Virtual {
        type Sleep = VirtualSleep;
        fn spawn<F: Future<Output = ()> + Send + 'static>(&self, _future: F) {
            panic!("the test handler answers at once");
        }
        fn sleep_until(&self, deadline: std::time::Instant) -> Self::Sleep {
            lock(&self.sets).push(deadline - self.epoch);
            VirtualSleep { rt: self.clone(), at: deadline }
        }
        fn now(&self) -> std::time::Instant {
            self.epoch + *lock(&self.offset)
        }
    }

    #[test]
    fn a_deadline_moved_later_keeps_the_timer_until_it_fires() {
        let secs = std::time::Duration::from_secs;
        let rt = Virtual { epoch: std::time::Instant::now(), offset: Arc::default(), sets: Arc::default() };
        let input = Arc::new(Mutex::new(VecDeque::new()));
        let io = Script { input: input.clone(), writes: Arc::default(), offered: Arc::default() };
        // A first head is due within 10 s; then idle connections close after 60 s.
        let conn = sockless_h1::ServerConnection::new(sockless_h1::Config::server(), Instant::ZERO);
        let handler = Arc::new(|_req: Request| async { Response::new(ResponseHead::new(204), Body::empty()) });
        let mode = Mode::Server {
            handler,
            slot: None,
            pool: None,
            flags: Arc::new(Notify::default()),
            watch: Watch::default(),
            ctx: Arc::default(),
            info: Facts::Accepted(Box::new(Accept {
                now: Instant::ZERO,
                peer_addr: ([127, 0, 0, 1], 1).into(),
                local_addr: None,
                extensions: Default::default(),
            })),
        };
        let clock = Clock::new(rt.epoch);
        let mut pump = Pump::new(rt.clone(), io, conn, clock, Arc::new(Shared::default()), mode, 1 << 16);
        let mut cx = Context::from_waker(Waker::noop());
        let mut poll_at = |t: u64| {
            *lock(&rt.offset) = secs(t);
            Pin::new(&mut pump).poll(&mut cx)
        };
        assert!(poll_at(0).is_pending());
        lock(&input).push_back(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n");
        assert!(poll_at(5).is_pending());
        assert_eq!(*lock(&rt.sets), [secs(10)], "the deadline only moved later: the timer stays");
        assert!(poll_at(11).is_pending(), "the early timer fired: nothing is due");
        assert_eq!(*lock(&rt.sets), [secs(10), secs(65)], "then it is moved to the deadline");
        assert!(poll_at(64).is_pending());
        assert!(poll_at(66).is_ready(), "the idle connection closed at its deadline");
    }
}
