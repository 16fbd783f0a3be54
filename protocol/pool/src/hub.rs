//! The hub: requests, connections and origins as explicit states, one
//! timer index, and the actions the driver carries out.

use crate::config::{Config, Timeouts};
use crate::error::{Error, Outcome, RetryReason};
use crate::origin::Origin;
use alloc::collections::{BTreeMap, BTreeSet, VecDeque};
use alloc::vec::Vec;
use sockless_core::Instant;

/// A request the hub knows, numbered in submission order.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct RequestId(pub u64);

/// A connection the hub asked for ([`Action::Connect`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ConnId(pub u64);

/// The protocol a connection speaks, once connected.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Protocol {
    /// HTTP/1.1: one exchange at a time.
    Http1,
    /// HTTP/2: streams multiplexed up to the peer's limit.
    Http2,
}

/// What protocol a request expects of its origin, before any connection
/// tells: decides how many dials go out at once.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum ProtocolChoice {
    /// HTTP/1.1 only: one dial per waiting request, up to the cap.
    Http1,
    /// HTTP/2 (prior knowledge or configuration): one dial at a time.
    Http2,
    /// Chosen by ALPN: one dial until the first connection tells, then as
    /// for the protocol it chose.
    #[default]
    Negotiate,
}

/// What a request tells the hub about itself.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RequestOptions {
    /// The method is idempotent (GET, HEAD, PUT, DELETE, OPTIONS, TRACE), or
    /// the caller declares the request safe to repeat.
    pub idempotent: bool,
    /// The driver can send the body again (it is held whole, or empty).
    /// No retry of any kind happens without it.
    pub replayable: bool,
    /// This request's timeouts instead of [`Config::timeouts`].
    pub timeouts: Option<Timeouts>,
    /// What the origin is expected to speak.
    pub protocol: ProtocolChoice,
}

impl RequestOptions {
    /// An idempotent request with a replayable body (a GET).
    pub fn idempotent() -> RequestOptions {
        RequestOptions { idempotent: true, replayable: true, timeouts: None, protocol: ProtocolChoice::Negotiate }
    }

    /// A request that must not be sent twice (a POST).
    pub fn non_idempotent() -> RequestOptions {
        RequestOptions { idempotent: false, ..RequestOptions::idempotent() }
    }
}

/// Why the hub closes a connection ([`Action::Close`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CloseReason {
    /// Idle longer than the idle timeout.
    IdleTimeout,
    /// Its origin was evicted to make room for another.
    Evicted,
    /// A connect or TLS handshake timed out.
    ConnectTimeout,
    /// An HTTP/1.1 exchange was abandoned (timeout, size cap, cancel): the
    /// connection cannot carry another request.
    Abandoned,
    /// It drained after a GOAWAY.
    Drained,
}

/// What the hub asks the driver to do.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Action {
    /// Open a connection to `origin` (DNS, TCP, TLS for `https`), then
    /// report [`Hub::handle_connected`] or [`Hub::handle_connect_failed`].
    Connect {
        /// The new connection.
        conn: ConnId,
        /// Where to.
        origin: Origin,
    },
    /// Send `request` over `conn`. Sent again after an [`Action::Retry`].
    Assign {
        /// The request.
        request: RequestId,
        /// The connection.
        conn: ConnId,
    },
    /// Close `conn`; the hub has forgotten it.
    Close {
        /// The connection.
        conn: ConnId,
        /// Why.
        reason: CloseReason,
    },
    /// Answer `request` with `error`, abandoning its exchange if one is in
    /// flight; the hub has forgotten it.
    Fail {
        /// The request.
        request: RequestId,
        /// Why.
        error: Error,
    },
    /// Abandon `request`'s current exchange: it waits for a new
    /// [`Action::Assign`]. `attempt` counts its retries (1 for the first).
    Retry {
        /// The request.
        request: RequestId,
        /// Which retry this is.
        attempt: u32,
        /// Why it is safe.
        reason: RetryReason,
    },
}

/// Counters of everything the hub did, for logs and tests.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Stats {
    /// Requests submitted.
    pub submitted: u64,
    /// Requests that completed.
    pub completed: u64,
    /// Requests failed.
    pub failed: u64,
    /// Requests cancelled by their caller.
    pub cancelled: u64,
    /// Retries (each counted once).
    pub retries: u64,
    /// Connects asked for.
    pub connects: u64,
    /// Connects that failed or timed out.
    pub connect_failures: u64,
    /// Connections closed for being idle too long.
    pub idle_closed: u64,
}

/// Where a request is in its exchange.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Phase {
    /// Assigned; the driver has not said a byte went out.
    Assigned,
    /// The head started out ([`Hub::handle_request_started`]).
    Started,
    /// The body is sent; waiting for the response head.
    Sent,
    /// The response head arrived; the body is being read.
    Receiving,
}

/// A request's state.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum ReqState {
    /// In its origin's queue.
    Queued,
    /// On a connection.
    OnConn(ConnId, Phase),
    /// Off any connection but not answered yet: its HTTP/1.1 connection
    /// finished the exchange and moved on while the caller reads the body
    /// (`Receiving`), or the connection closed and the driver's outcome is
    /// still to come.
    Unattached(Phase),
}

#[derive(Debug)]
struct Req {
    origin: u64,
    options: RequestOptions,
    timeouts: Timeouts,
    state: ReqState,
    submitted: Instant,
    queued_at: Instant,
    retries: u32,
    /// The connection had completed an exchange when this request was
    /// assigned to it.
    reused: bool,
    stream: Option<u32>,
    head_deadline: Option<Instant>,
    idle_deadline: Option<Instant>,
    body_bytes: u64,
    armed: Option<Instant>,
}

/// A connection's state.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum ConnState {
    /// Dialling (DNS and TCP) since `Instant`.
    Dialing,
    /// TLS handshake under way.
    Handshaking,
    /// Carrying requests.
    Active(Protocol),
    /// No new requests (GOAWAY); closes when the last one finishes.
    Draining(Protocol),
}

#[derive(Debug)]
struct Conn {
    origin: u64,
    state: ConnState,
    /// The timeouts of the request whose wait asked for this connection.
    timeouts: Timeouts,
    in_flight: Vec<RequestId>,
    /// HTTP/1.1: an exchange is open (until [`Hub::handle_ready`]).
    exchange_open: bool,
    completed: u64,
    stream_limit: u32,
    /// HTTP/2: the peer's limit, if reported (possibly before connected).
    peer_limit: Option<u32>,
    idle_since: Option<Instant>,
    phase_deadline: Option<Instant>,
    last_used: u64,
    armed: Option<Instant>,
}

impl Conn {
    fn protocol(&self) -> Option<Protocol> {
        match self.state {
            ConnState::Active(p) | ConnState::Draining(p) => Some(p),
            _ => None,
        }
    }

    fn connecting(&self) -> bool {
        matches!(self.state, ConnState::Dialing | ConnState::Handshaking)
    }

    fn can_take(&self) -> bool {
        match self.state {
            ConnState::Active(Protocol::Http1) => !self.exchange_open,
            ConnState::Active(Protocol::Http2) => self.in_flight.len() < self.stream_limit as usize,
            _ => false,
        }
    }

    fn is_idle(&self) -> bool {
        matches!(self.state, ConnState::Active(_)) && self.in_flight.is_empty() && !self.exchange_open
    }
}

#[derive(Debug)]
struct OriginState {
    origin: Origin,
    queue: VecDeque<RequestId>,
    conns: Vec<ConnId>,
    /// What the last connection chose.
    protocol: Option<Protocol>,
    choice: ProtocolChoice,
    /// Failed connects in a row.
    failures: u32,
    /// Backoff: no dial before this.
    dial_at: Option<Instant>,
    last_error: Error,
    last_used: u64,
    /// The stream limit the origin's last HTTP/2 connection reported: new
    /// connections assume it until their own peer tells.
    stream_limit: Option<u32>,
    /// Requests of this origin not answered yet, wherever they are.
    live: usize,
}

/// What a timer belongs to.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
enum Timer {
    Req(RequestId),
    Conn(ConnId),
    Origin(u64),
}

/// The client hub. See the [crate docs](crate).
#[derive(Debug)]
pub struct Hub {
    config: Config,
    origin_ids: BTreeMap<Origin, u64>,
    origins: BTreeMap<u64, OriginState>,
    conns: BTreeMap<ConnId, Conn>,
    reqs: BTreeMap<RequestId, Req>,
    timers: BTreeSet<(Instant, Timer)>,
    actions: VecDeque<Action>,
    next_id: u64,
    /// The latest time an entry point was given.
    now: Instant,
    /// Use counter for most-recently-used order.
    tick: u64,
    stats: Stats,
}

impl Hub {
    /// A hub with `config`.
    pub fn new(config: Config) -> Hub {
        Hub {
            config,
            origin_ids: BTreeMap::new(),
            origins: BTreeMap::new(),
            conns: BTreeMap::new(),
            reqs: BTreeMap::new(),
            timers: BTreeSet::new(),
            actions: VecDeque::new(),
            next_id: 0,
            now: Instant::ZERO,
            tick: 0,
            stats: Stats::default(),
        }
    }

    /// The configuration.
    pub fn config(&self) -> &Config {
        &self.config
    }

    /// The counters.
    pub fn stats(&self) -> Stats {
        self.stats
    }

    /// Connections open or opening to `origin`.
    pub fn connections(&self, origin: &Origin) -> usize {
        self.origin_ids.get(origin).and_then(|id| self.origins.get(id)).map_or(0, |o| o.conns.len())
    }

    /// Connections open or opening, all origins together.
    pub fn total_connections(&self) -> usize {
        self.conns.len()
    }

    /// Requests not yet answered.
    pub fn pending_requests(&self) -> usize {
        self.reqs.len()
    }

    /// How many times `request` was retried so far.
    pub fn retries_of(&self, request: RequestId) -> Option<u32> {
        self.reqs.get(&request).map(|r| r.retries)
    }

    /// The origin and protocol of `conn`, once connected.
    pub fn protocol_of(&self, conn: ConnId) -> Option<Protocol> {
        self.conns.get(&conn).and_then(Conn::protocol)
    }

    /// The next action for the driver.
    pub fn poll_action(&mut self) -> Option<Action> {
        self.actions.pop_front()
    }

    /// The earliest deadline; call [`handle_timeout`](Self::handle_timeout)
    /// when it comes.
    pub fn poll_timeout(&self) -> Option<Instant> {
        self.timers.first().map(|&(t, _)| t)
    }

    /// The hub's time: `now`, or the latest time given if that is later
    /// (a driver's clock read on two threads may step back a little).
    fn at(&mut self, now: Instant) -> Instant {
        self.now = self.now.max(now);
        self.now
    }

    fn id(&mut self) -> u64 {
        self.next_id += 1;
        self.next_id
    }

    fn touch(&mut self) -> u64 {
        self.tick += 1;
        self.tick
    }

    /// Takes a request for `origin`. It waits in the origin's FIFO queue
    /// until a connection can carry it, then comes out as
    /// [`Action::Assign`] (or [`Action::Fail`]).
    pub fn submit(&mut self, now: Instant, origin: &Origin, options: RequestOptions) -> RequestId {
        let now = self.at(now);
        let oid = match self.origin_ids.get(origin) {
            Some(&id) => id,
            None => {
                let id = self.id();
                self.origin_ids.insert(origin.clone(), id);
                let state = OriginState {
                    origin: origin.clone(),
                    queue: VecDeque::new(),
                    conns: Vec::new(),
                    protocol: None,
                    choice: options.protocol,
                    failures: 0,
                    dial_at: None,
                    last_error: Error::ConnectFailed,
                    last_used: 0,
                    stream_limit: None,
                    live: 0,
                };
                self.origins.insert(id, state);
                id
            }
        };
        let id = RequestId(self.id());
        let timeouts = options.timeouts.unwrap_or(self.config.timeouts);
        let req = Req {
            origin: oid,
            options,
            timeouts,
            state: ReqState::Queued,
            submitted: now,
            queued_at: now,
            retries: 0,
            reused: false,
            stream: None,
            head_deadline: None,
            idle_deadline: None,
            body_bytes: 0,
            armed: None,
        };
        self.reqs.insert(id, req);
        self.stats.submitted += 1;
        if let Some(o) = self.origins.get_mut(&oid) {
            o.live += 1;
            o.queue.push_back(id);
            if o.protocol.is_none() {
                o.choice = options.protocol;
            }
        }
        self.rearm_req(id);
        self.process_all(now);
        id
    }

    /// The caller gave up on `request` (dropped its future): it is
    /// forgotten without an answer. An HTTP/1.1 exchange in flight cannot be
    /// abandoned without closing its connection, so that closes.
    pub fn cancel(&mut self, now: Instant, request: RequestId) {
        let now = self.at(now);
        if self.remove_req(request).is_some() {
            self.stats.cancelled += 1;
        }
        self.process_all(now);
    }

    /// The transport of `conn` is up and its TLS handshake starts (only for
    /// `https`; a plain connection goes straight to
    /// [`handle_connected`](Self::handle_connected)).
    pub fn handle_transport_up(&mut self, now: Instant, conn: ConnId) {
        let now = self.at(now);
        if let Some(c) = self.conns.get_mut(&conn) {
            if c.state == ConnState::Dialing {
                c.state = ConnState::Handshaking;
                c.phase_deadline = c.timeouts.tls_handshake.map(|d| now + d);
                self.rearm_conn(conn);
            }
        }
    }

    /// `conn` is ready to carry requests with `protocol`.
    pub fn handle_connected(&mut self, now: Instant, conn: ConnId, protocol: Protocol) {
        let now = self.at(now);
        let Some(c) = self.conns.get(&conn) else { return };
        if !c.connecting() {
            return;
        }
        let learned = self.origins.get(&c.origin).and_then(|o| o.stream_limit);
        let assumed = c.peer_limit.or(learned).unwrap_or(self.config.assumed_max_streams);
        let Some(c) = self.conns.get_mut(&conn) else { return };
        c.state = ConnState::Active(protocol);
        c.stream_limit = match protocol {
            Protocol::Http1 => 1,
            Protocol::Http2 => assumed,
        };
        c.phase_deadline = None;
        c.idle_since = Some(now);
        let oid = c.origin;
        if let Some(o) = self.origins.get_mut(&oid) {
            o.protocol = Some(protocol);
            o.failures = 0;
            o.dial_at = None;
        }
        self.rearm_conn(conn);
        self.process_all(now);
    }

    /// `conn` switched from HTTP/1.1 to HTTP/2 (an h2c Upgrade answered
    /// with 101): from now on it multiplexes. Nothing happens if it already
    /// speaks HTTP/2.
    pub fn handle_upgraded(&mut self, now: Instant, conn: ConnId) {
        let now = self.at(now);
        let Some(c) = self.conns.get(&conn) else { return };
        if c.state != ConnState::Active(Protocol::Http1) {
            return;
        }
        let learned = self.origins.get(&c.origin).and_then(|o| o.stream_limit);
        let limit = c.peer_limit.or(learned).unwrap_or(self.config.assumed_max_streams);
        let Some(c) = self.conns.get_mut(&conn) else { return };
        c.state = ConnState::Active(Protocol::Http2);
        c.stream_limit = limit;
        c.exchange_open = false;
        let oid = c.origin;
        if let Some(o) = self.origins.get_mut(&oid) {
            o.protocol = Some(Protocol::Http2);
        }
        self.rearm_conn(conn);
        self.process_all(now);
    }

    /// Connecting `conn` failed (refused, DNS, TLS). The driver has nothing
    /// more to close.
    pub fn handle_connect_failed(&mut self, now: Instant, conn: ConnId) {
        let now = self.at(now);
        if self.conns.get(&conn).is_some_and(Conn::connecting) {
            self.dial_failed(now, conn, Error::ConnectFailed);
            self.process_all(now);
        }
    }

    /// HTTP/1.1: the exchange on `conn` finished and the connection can
    /// carry another request (the protocol's `Ready { reusable: true }`).
    /// A connection that will not be reused is reported with
    /// [`handle_closed`](Self::handle_closed) instead.
    pub fn handle_ready(&mut self, now: Instant, conn: ConnId) {
        let now = self.at(now);
        let Some(c) = self.conns.get_mut(&conn) else { return };
        c.exchange_open = false;
        c.completed += 1;
        let detached: Vec<RequestId> = core::mem::take(&mut c.in_flight);
        if c.in_flight.is_empty() {
            c.idle_since = Some(now);
        }
        if let ConnState::Draining(_) = c.state {
            self.close_conn(conn, CloseReason::Drained);
        } else {
            self.rearm_conn(conn);
        }
        for id in detached {
            if let Some(r) = self.reqs.get_mut(&id) {
                // The whole response is in the driver's hands: no timer of
                // the exchange applies any more.
                r.state = ReqState::Unattached(Phase::Receiving);
                r.head_deadline = None;
                r.idle_deadline = None;
                self.rearm_req(id);
            }
        }
        self.process_all(now);
    }

    /// HTTP/2: the peer's MAX_CONCURRENT_STREAMS for `conn` (the driver may
    /// also report the number of streams it had open when the connection
    /// said it was busy). Reported before
    /// [`handle_connected`](Self::handle_connected) (the peer's SETTINGS
    /// come first), no request is assigned beyond it; reported later,
    /// requests already assigned above it stay with the driver, which
    /// queues them on the connection. Later connections to the origin
    /// assume this limit until their own peer tells.
    pub fn handle_stream_limit(&mut self, now: Instant, conn: ConnId, limit: u32) {
        let now = self.at(now);
        if let Some(c) = self.conns.get_mut(&conn) {
            c.peer_limit = Some(limit);
            if !c.connecting() {
                c.stream_limit = limit;
            }
            let oid = c.origin;
            if let Some(o) = self.origins.get_mut(&oid) {
                o.stream_limit = Some(limit);
            }
            self.process_all(now);
        }
    }

    /// HTTP/2 GOAWAY on `conn`: no new requests go to it; requests whose
    /// stream is above `last_stream` were not processed and are retried;
    /// the connection closes once the rest finish.
    pub fn handle_goaway(&mut self, now: Instant, conn: ConnId, last_stream: u32) {
        let now = self.at(now);
        let Some(c) = self.conns.get_mut(&conn) else { return };
        if let ConnState::Active(p) = c.state {
            c.state = ConnState::Draining(p);
        }
        let above: Vec<RequestId> = c
            .in_flight
            .iter()
            .copied()
            .filter(|id| self.reqs.get(id).and_then(|r| r.stream).is_some_and(|s| s > last_stream))
            .collect();
        for id in above {
            self.retry_or_fail(now, id, Some(RetryReason::Refused), Error::Refused);
        }
        if self.conns.get(&conn).is_some_and(|c| c.in_flight.is_empty() && !c.exchange_open) {
            self.close_conn(conn, CloseReason::Drained);
        }
        self.process_all(now);
    }

    /// `conn` closed (EOF, error, the peer's close, an idle connection's
    /// EOF). The requests still on it stay unanswered until the driver
    /// reports each one's [`Outcome`], which only it knows.
    pub fn handle_closed(&mut self, now: Instant, conn: ConnId) {
        let now = self.at(now);
        if self.conns.get(&conn).is_some_and(Conn::connecting) {
            self.dial_failed(now, conn, Error::ConnectFailed);
        } else if let Some(c) = self.forget_conn(conn) {
            for id in c.in_flight {
                if let Some(r) = self.reqs.get_mut(&id) {
                    if let ReqState::OnConn(_, phase) = r.state {
                        r.state = ReqState::Unattached(phase);
                    }
                }
            }
        }
        self.process_all(now);
    }

    /// The first byte of `request` went out, on HTTP/2 as `stream`.
    pub fn handle_request_started(&mut self, now: Instant, request: RequestId, stream: Option<u32>) {
        self.at(now);
        if let Some(r) = self.reqs.get_mut(&request) {
            if let ReqState::OnConn(c, Phase::Assigned) = r.state {
                r.state = ReqState::OnConn(c, Phase::Started);
            }
            r.stream = stream;
        }
    }

    /// The body of `request` is sent: the read-idle timeout starts.
    pub fn handle_request_sent(&mut self, now: Instant, request: RequestId) {
        let now = self.at(now);
        let Some(r) = self.reqs.get_mut(&request) else { return };
        if let ReqState::OnConn(c, Phase::Assigned | Phase::Started) = r.state {
            r.state = ReqState::OnConn(c, Phase::Sent);
            r.idle_deadline = r.timeouts.read_idle.map(|d| now + d);
            self.rearm_req(request);
        }
    }

    /// The response head of `request` arrived, `head_bytes` long.
    pub fn handle_response_head(&mut self, now: Instant, request: RequestId, head_bytes: usize) {
        let now = self.at(now);
        let cap = self.config.max_response_head_bytes;
        let Some(r) = self.reqs.get_mut(&request) else { return };
        match r.state {
            ReqState::OnConn(c, _) => r.state = ReqState::OnConn(c, Phase::Receiving),
            ReqState::Unattached(_) => r.state = ReqState::Unattached(Phase::Receiving),
            ReqState::Queued => return,
        }
        r.head_deadline = None;
        r.idle_deadline = r.timeouts.read_idle.map(|d| now + d);
        if head_bytes > cap {
            self.fail(request, Error::ResponseHeadTooLarge);
        } else {
            self.rearm_req(request);
        }
        self.process_all(now);
    }

    /// `n` more response body bytes of `request` arrived.
    pub fn handle_response_data(&mut self, now: Instant, request: RequestId, n: usize) {
        let now = self.at(now);
        let cap = self.config.max_response_body_bytes;
        let Some(r) = self.reqs.get_mut(&request) else { return };
        r.body_bytes = r.body_bytes.saturating_add(n as u64);
        if cap.is_some_and(|cap| r.body_bytes > cap) {
            self.fail(request, Error::ResponseBodyTooLarge);
            self.process_all(now);
            return;
        }
        if r.idle_deadline.is_some() {
            r.idle_deadline = r.timeouts.read_idle.map(|d| now + d);
            self.rearm_req(request);
        }
    }

    /// How the exchange of `request` ended. [`Outcome::Complete`] answers
    /// it; the others retry it where that is safe, or fail it.
    pub fn handle_outcome(&mut self, now: Instant, request: RequestId, outcome: Outcome) {
        let now = self.at(now);
        let Some(r) = self.reqs.get(&request) else { return };
        let reused = r.reused;
        let may_repeat = r.options.idempotent && r.options.replayable;
        match outcome {
            Outcome::Complete => {
                self.finish(now, request);
            }
            Outcome::ClosedBeforeSend => {
                let reason = reused.then_some(RetryReason::ClosedBeforeSend);
                self.retry_or_fail(now, request, reason, Error::ConnectionClosed);
            }
            Outcome::Refused => self.retry_or_fail(now, request, Some(RetryReason::Refused), Error::Refused),
            Outcome::NoResponse => {
                let reason = (reused && may_repeat).then_some(RetryReason::NoResponse);
                self.retry_or_fail(now, request, reason, Error::ConnectionClosed);
            }
            Outcome::Failed => self.fail(request, Error::Exchange),
        }
        self.process_all(now);
    }

    /// Time passed: fails what timed out, closes what idled, dials what
    /// backed off long enough.
    pub fn handle_timeout(&mut self, now: Instant) {
        let now = self.at(now);
        while let Some(&(at, timer)) = self.timers.first() {
            if at > now {
                break;
            }
            self.timers.pop_first();
            match timer {
                Timer::Req(id) => {
                    if let Some(r) = self.reqs.get_mut(&id) {
                        r.armed = None;
                    }
                    self.req_timeout(now, id);
                }
                Timer::Conn(id) => {
                    if let Some(c) = self.conns.get_mut(&id) {
                        c.armed = None;
                    }
                    self.conn_timeout(now, id);
                }
                Timer::Origin(id) => {
                    if let Some(o) = self.origins.get_mut(&id) {
                        if o.dial_at == Some(at) {
                            o.dial_at = None;
                        }
                    }
                }
            }
        }
        self.process_all(now);
    }

    fn req_timeout(&mut self, now: Instant, id: RequestId) {
        let Some(r) = self.reqs.get(&id) else { return };
        let passed = |d: Option<Instant>| d.is_some_and(|d| d <= now);
        let total = r.timeouts.total.map(|d| r.submitted + d);
        let pool = match r.state {
            ReqState::Queued => r.timeouts.pool_wait.map(|d| r.queued_at + d),
            _ => None,
        };
        let error = if passed(total) {
            Error::TotalTimeout
        } else if passed(pool) {
            Error::PoolWaitTimeout
        } else if passed(r.head_deadline) {
            Error::ResponseHeadTimeout
        } else if passed(r.idle_deadline) {
            Error::ReadIdleTimeout
        } else {
            self.rearm_req(id);
            return;
        };
        self.fail(id, error);
    }

    fn conn_timeout(&mut self, now: Instant, id: ConnId) {
        let Some(c) = self.conns.get(&id) else { return };
        let passed = |d: Option<Instant>| d.is_some_and(|d| d <= now);
        match c.state {
            ConnState::Dialing | ConnState::Handshaking if passed(c.phase_deadline) => {
                let error =
                    if c.state == ConnState::Dialing { Error::ConnectTimeout } else { Error::TlsHandshakeTimeout };
                self.actions.push_back(Action::Close { conn: id, reason: CloseReason::ConnectTimeout });
                self.dial_failed(now, id, error);
            }
            ConnState::Active(_) if c.is_idle() && passed(self.idle_deadline(c)) => {
                self.stats.idle_closed += 1;
                self.close_conn(id, CloseReason::IdleTimeout);
            }
            _ => self.rearm_conn(id),
        }
    }

    fn idle_deadline(&self, c: &Conn) -> Option<Instant> {
        match (c.idle_since, self.config.idle_timeout) {
            (Some(since), Some(d)) if c.is_idle() => Some(since + d),
            _ => None,
        }
    }

    /// A dial failed: backoff, or the oldest waiting request fails.
    fn dial_failed(&mut self, now: Instant, conn: ConnId, error: Error) {
        let Some(c) = self.forget_conn(conn) else { return };
        self.stats.connect_failures += 1;
        let backoff = self.config.connect_backoff;
        let Some(o) = self.origins.get_mut(&c.origin) else { return };
        o.failures = o.failures.saturating_add(1);
        o.last_error = error;
        match backoff {
            Some(b) if o.failures < b.attempts => {
                let at = now + b.delay(o.failures);
                o.dial_at = Some(at);
                self.timers.insert((at, Timer::Origin(c.origin)));
            }
            Some(_) => {
                // Out of attempts: every waiting request learns why.
                o.failures = 0;
                let waiting: Vec<RequestId> = o.queue.drain(..).collect();
                for id in waiting {
                    self.fail(id, error);
                }
            }
            None => {
                if let Some(&id) = o.queue.front() {
                    self.fail(id, error);
                }
            }
        }
    }

    fn retry_or_fail(&mut self, now: Instant, id: RequestId, reason: Option<RetryReason>, error: Error) {
        let max = self.config.max_retries;
        let Some(r) = self.reqs.get(&id) else { return };
        let allowed = reason.filter(|_| r.options.replayable && r.retries < max);
        let Some(reason) = allowed else {
            self.fail(id, error);
            return;
        };
        self.detach(id);
        let Some(r) = self.reqs.get_mut(&id) else { return };
        r.retries += 1;
        r.state = ReqState::Queued;
        r.queued_at = now;
        r.stream = None;
        r.head_deadline = None;
        r.idle_deadline = None;
        r.body_bytes = 0;
        let attempt = r.retries;
        let oid = r.origin;
        self.stats.retries += 1;
        self.actions.push_back(Action::Retry { request: id, attempt, reason });
        // It was ahead of everything queued after it: it goes first.
        if let Some(o) = self.origins.get_mut(&oid) {
            o.queue.push_front(id);
        }
        self.rearm_req(id);
    }

    fn finish(&mut self, now: Instant, id: RequestId) {
        if let Some(r) = self.reqs.get(&id) {
            // An HTTP/1.1 exchange stays open until the protocol says the
            // connection is ready; an HTTP/2 stream is done.
            if let ReqState::OnConn(c, _) = r.state {
                if let Some(conn) = self.conns.get_mut(&c) {
                    conn.in_flight.retain(|&x| x != id);
                    if conn.in_flight.is_empty() && !conn.exchange_open {
                        conn.idle_since = Some(now);
                    }
                    if conn.protocol() == Some(Protocol::Http2) {
                        conn.completed += 1;
                    }
                    if matches!(conn.state, ConnState::Draining(_)) && conn.in_flight.is_empty() {
                        self.close_conn(c, CloseReason::Drained);
                    } else {
                        self.rearm_conn(c);
                    }
                }
            }
        }
        if let Some(r) = self.reqs.get_mut(&id) {
            // Off its connection already: removing it abandons nothing.
            r.state = ReqState::Unattached(Phase::Receiving);
        }
        if self.remove_req(id).is_some() {
            self.stats.completed += 1;
        }
    }

    fn fail(&mut self, id: RequestId, error: Error) {
        if self.remove_req(id).is_some() {
            self.stats.failed += 1;
            self.actions.push_back(Action::Fail { request: id, error });
        }
    }

    /// Forgets a request: off its queue or connection (an HTTP/1.1
    /// exchange in flight closes its connection).
    fn remove_req(&mut self, id: RequestId) -> Option<Req> {
        self.detach(id);
        self.unarm(Timer::Req(id));
        let r = self.reqs.remove(&id)?;
        if let Some(o) = self.origins.get_mut(&r.origin) {
            o.live -= 1;
        }
        Some(r)
    }

    /// Takes a request off its queue or connection.
    fn detach(&mut self, id: RequestId) {
        let Some(r) = self.reqs.get(&id) else { return };
        match r.state {
            ReqState::Queued => {
                if let Some(o) = self.origins.get_mut(&r.origin) {
                    if let Some(i) = o.queue.iter().position(|&x| x == id) {
                        o.queue.remove(i);
                    }
                }
            }
            ReqState::OnConn(c, _) => {
                if let Some(conn) = self.conns.get_mut(&c) {
                    conn.in_flight.retain(|&x| x != id);
                    if conn.protocol() == Some(Protocol::Http1) {
                        self.close_conn(c, CloseReason::Abandoned);
                    } else if matches!(conn.state, ConnState::Draining(_)) && conn.in_flight.is_empty() {
                        self.close_conn(c, CloseReason::Drained);
                    } else {
                        if conn.in_flight.is_empty() {
                            conn.idle_since = Some(self.now);
                        }
                        self.rearm_conn(c);
                    }
                }
            }
            ReqState::Unattached(_) => {}
        }
        if let Some(r) = self.reqs.get_mut(&id) {
            r.state = ReqState::Unattached(Phase::Assigned);
        }
    }

    fn close_conn(&mut self, conn: ConnId, reason: CloseReason) {
        if let Some(c) = self.forget_conn(conn) {
            self.actions.push_back(Action::Close { conn, reason });
            for id in c.in_flight {
                if let Some(r) = self.reqs.get_mut(&id) {
                    if let ReqState::OnConn(_, phase) = r.state {
                        r.state = ReqState::Unattached(phase);
                    }
                }
            }
        }
    }

    fn forget_conn(&mut self, conn: ConnId) -> Option<Conn> {
        self.unarm(Timer::Conn(conn));
        let c = self.conns.remove(&conn)?;
        if let Some(o) = self.origins.get_mut(&c.origin) {
            o.conns.retain(|&x| x != conn);
        }
        Some(c)
    }

    fn unarm(&mut self, timer: Timer) {
        let armed = match timer {
            Timer::Req(id) => self.reqs.get_mut(&id).and_then(|r| r.armed.take()),
            Timer::Conn(id) => self.conns.get_mut(&id).and_then(|c| c.armed.take()),
            Timer::Origin(_) => None,
        };
        if let Some(at) = armed {
            self.timers.remove(&(at, timer));
        }
    }

    fn rearm_req(&mut self, id: RequestId) {
        self.unarm(Timer::Req(id));
        let Some(r) = self.reqs.get_mut(&id) else { return };
        let total = r.timeouts.total.map(|d| r.submitted + d);
        let pool = match r.state {
            ReqState::Queued => r.timeouts.pool_wait.map(|d| r.queued_at + d),
            _ => None,
        };
        let next = [total, pool, r.head_deadline, r.idle_deadline].into_iter().flatten().min();
        r.armed = next;
        if let Some(at) = next {
            self.timers.insert((at, Timer::Req(id)));
        }
    }

    fn rearm_conn(&mut self, id: ConnId) {
        self.unarm(Timer::Conn(id));
        let Some(c) = self.conns.get(&id) else { return };
        let next = if c.connecting() { c.phase_deadline } else { self.idle_deadline(c) };
        if let Some(c) = self.conns.get_mut(&id) {
            c.armed = next;
        }
        if let Some(at) = next {
            self.timers.insert((at, Timer::Conn(id)));
        }
    }

    /// Serves every origin's queue, oldest waiting request first, so that
    /// origins waiting for a free origin slot take turns fairly.
    fn process_all(&mut self, now: Instant) {
        let mut waiting: Vec<(RequestId, u64)> =
            self.origins.iter().filter_map(|(&id, o)| o.queue.front().map(|&r| (r, id))).collect();
        waiting.sort_unstable();
        for (_, oid) in waiting {
            self.process(now, oid);
        }
        // Origins with nothing left are forgotten.
        let empty: Vec<u64> = self
            .origins
            .iter()
            .filter(|(_, o)| o.live == 0 && o.conns.is_empty() && o.dial_at.is_none())
            .map(|(&id, _)| id)
            .collect();
        for id in empty {
            if let Some(o) = self.origins.remove(&id) {
                self.origin_ids.remove(&o.origin);
            }
        }
    }

    fn process(&mut self, now: Instant, oid: u64) {
        loop {
            let Some(o) = self.origins.get(&oid) else { return };
            let Some(&front) = o.queue.front() else { return };
            match self.pick_conn(o) {
                Some(conn) => {
                    if let Some(o) = self.origins.get_mut(&oid) {
                        o.queue.pop_front();
                    }
                    self.assign(now, front, conn);
                }
                None => {
                    self.maybe_dial(now, oid);
                    return;
                }
            }
        }
    }

    /// HTTP/1.1: the most recently used idle connection. HTTP/2: the oldest
    /// connection with a free stream.
    fn pick_conn(&self, o: &OriginState) -> Option<ConnId> {
        let mut best: Option<(&Conn, ConnId)> = None;
        for &id in &o.conns {
            let Some(c) = self.conns.get(&id) else { continue };
            if !c.can_take() {
                continue;
            }
            match c.state {
                ConnState::Active(Protocol::Http2) => return Some(id),
                _ => {
                    if best.is_none_or(|(b, _)| c.last_used > b.last_used) {
                        best = Some((c, id));
                    }
                }
            }
        }
        best.map(|(_, id)| id)
    }

    fn assign(&mut self, now: Instant, id: RequestId, conn: ConnId) {
        let tick = self.touch();
        let Some(c) = self.conns.get_mut(&conn) else { return };
        c.in_flight.push(id);
        c.exchange_open = c.protocol() == Some(Protocol::Http1);
        c.idle_since = None;
        c.last_used = tick;
        let reused = c.completed > 0;
        let oid = c.origin;
        if let Some(o) = self.origins.get_mut(&oid) {
            o.last_used = tick;
        }
        if let Some(r) = self.reqs.get_mut(&id) {
            r.state = ReqState::OnConn(conn, Phase::Assigned);
            r.reused = reused;
            r.head_deadline = r.timeouts.response_head.map(|d| now + d);
        }
        self.rearm_conn(conn);
        self.rearm_req(id);
        self.actions.push_back(Action::Assign { request: id, conn });
    }

    fn maybe_dial(&mut self, now: Instant, oid: u64) {
        let cap = self.config.max_connections_per_origin;
        let Some(o) = self.origins.get(&oid) else { return };
        if o.dial_at.is_some_and(|t| t > now) || o.conns.len() >= cap {
            return;
        }
        let connecting = o.conns.iter().filter(|id| self.conns.get(id).is_some_and(Conn::connecting)).count();
        let one_at_a_time = match o.protocol {
            Some(p) => p == Protocol::Http2,
            None => o.choice != ProtocolChoice::Http1,
        };
        let want = if one_at_a_time { usize::from(connecting == 0) } else { o.queue.len().saturating_sub(connecting) };
        let n = want.min(cap - o.conns.len());
        if n == 0 {
            return;
        }
        if o.conns.is_empty() && !self.origin_slot(oid) {
            return;
        }
        let Some(o) = self.origins.get(&oid) else { return };
        let origin = o.origin.clone();
        let front = o.queue.front().copied();
        let timeouts = front.and_then(|id| self.reqs.get(&id)).map_or(self.config.timeouts, |r| r.timeouts);
        for _ in 0..n {
            let conn = ConnId(self.id());
            let c = Conn {
                origin: oid,
                state: ConnState::Dialing,
                timeouts,
                in_flight: Vec::new(),
                exchange_open: false,
                completed: 0,
                stream_limit: 0,
                peer_limit: None,
                idle_since: None,
                phase_deadline: timeouts.connect.map(|d| now + d),
                last_used: 0,
                armed: None,
            };
            self.conns.insert(conn, c);
            if let Some(o) = self.origins.get_mut(&oid) {
                o.conns.push(conn);
            }
            self.rearm_conn(conn);
            self.stats.connects += 1;
            self.actions.push_back(Action::Connect { conn, origin: origin.clone() });
        }
    }

    /// Room for one more origin with connections: under the cap, or after
    /// closing the least recently used origin whose connections are all
    /// idle. `false`: the origin waits.
    fn origin_slot(&mut self, oid: u64) -> bool {
        let active = self.origins.values().filter(|o| !o.conns.is_empty()).count();
        if active < self.config.max_origins {
            return true;
        }
        let victim = self
            .origins
            .iter()
            .filter(|(&id, o)| {
                id != oid
                    && !o.conns.is_empty()
                    && o.queue.is_empty()
                    && o.conns.iter().all(|c| self.conns.get(c).is_some_and(Conn::is_idle))
            })
            .min_by_key(|(_, o)| o.last_used)
            .map(|(&id, _)| id);
        let Some(victim) = victim else { return false };
        let conns = self.origins.get(&victim).map(|o| o.conns.clone()).unwrap_or_default();
        for c in conns {
            self.close_conn(c, CloseReason::Evicted);
        }
        true
    }
}
