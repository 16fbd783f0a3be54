//! # sockless-sim
//!
//! A deterministic simulated network for anything that implements
//! [`sockless_core::Connection`]: a virtual clock that jumps straight to the
//! next deadline (a 60-second idle timeout costs microseconds), links with
//! latency, bandwidth, writes cut into random segments and late reads,
//! half-closes, resets, partitions and refused connections. Every random
//! choice comes from one seed: a failing run prints its seed, and
//! `SOCKLESS_SIM_SEED=<seed>` replays it exactly.
//!
//! ```
//! use sockless_core::{Bytes, Connection, Event, Instant, Method, RequestHead, ResponseHead};
//! use sockless_h1::{ClientConnection, Config, ServerConnection};
//! use sockless_sim::{run, App, Scenario};
//!
//! /// Answers every request with "hi".
//! struct Hello;
//! impl App<ServerConnection> for Hello {
//!     fn on_event(&mut self, conn: &mut ServerConnection, event: Event, _now: Instant) {
//!         if let Event::EndStream { stream } = event {
//!             conn.send_response(stream, &ResponseHead::new(200).header("Content-Length", "2"), false).unwrap();
//!             conn.send_data(stream, Bytes::from_static(b"hi"), true).unwrap();
//!         }
//!     }
//! }
//!
//! /// Sends one GET and waits for the body.
//! #[derive(Default)]
//! struct Get { body: Vec<u8>, done: bool }
//! impl App<ClientConnection> for Get {
//!     fn start(&mut self, conn: &mut ClientConnection, _now: Instant) {
//!         conn.send_request(&RequestHead::new(Method::Get, "/").header("Host", "sim"), true).unwrap();
//!     }
//!     fn on_event(&mut self, _conn: &mut ClientConnection, event: Event, _now: Instant) {
//!         match event {
//!             Event::Data { data, .. } => self.body.extend_from_slice(&data),
//!             Event::EndStream { .. } => self.done = true,
//!             _ => {}
//!         }
//!     }
//!     fn finished(&self) -> bool { self.done }
//! }
//!
//! let scenario = Scenario::random(42); // links drawn from the seed
//! let mut client = ClientConnection::new(Config::client(), Instant::ZERO);
//! let mut server = ServerConnection::new(Config::server(), Instant::ZERO);
//! let (mut get, mut hello) = (Get::default(), Hello);
//! let outcome = run(&scenario, &mut client, &mut server, &mut get, &mut hello);
//! assert!(get.done && get.body == b"hi", "{outcome:?}");
//! ```

mod link;
mod rng;

pub use link::LinkConfig;
pub use rng::Rng;

use bytes::Bytes;
use link::Link;
use sockless_core::cycle::{self, Transfer};
use sockless_core::{Connection, Duration, Event, Instant};

/// What happens to the transport, at a virtual time.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Fault {
    /// The connection is refused: nothing is exchanged, both apps are told.
    Refuse,
    /// Both directions reset at this time: bytes in flight are lost, both
    /// ends see the end of input at once.
    ResetAt(Instant),
    /// The client stops writing at this time (shutdown(SHUT_WR)): the server
    /// reads what was in flight, then EOF.
    ClientHalfCloseAt(Instant),
    /// The server stops writing at this time.
    ServerHalfCloseAt(Instant),
    /// From this time on every byte is lost silently, with no EOF (a
    /// network partition): only timers can notice.
    PartitionAt(Instant),
}

/// What the transport did, as the app hears it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Transport {
    /// The connection was refused.
    Refused,
    /// The connection was reset.
    Reset,
    /// The peer closed its side (EOF was passed to the connection).
    Eof,
}

/// The application on one end: reacts to events and may issue commands.
pub trait App<C: Connection> {
    /// At virtual time zero, before anything is exchanged.
    fn start(&mut self, _conn: &mut C, _now: Instant) {}
    /// Each event the connection emits, in order.
    fn on_event(&mut self, conn: &mut C, event: Event, now: Instant);
    /// Every round, after events: retry sends the connection did not take,
    /// run the app's own timers.
    fn tick(&mut self, _conn: &mut C, _now: Instant) {}
    /// The app's own next deadline (a slow reader releasing capacity later).
    fn next_wakeup(&self) -> Option<Instant> {
        None
    }
    /// What the transport did.
    fn on_transport(&mut self, _conn: &mut C, _what: Transport, _now: Instant) {}
    /// Whether the app did everything it set out to (stops the run when
    /// [`Scenario::stop_when_client_finished`] is set).
    fn finished(&self) -> bool {
        false
    }
}

/// The network a run takes place on.
#[derive(Clone, Debug)]
pub struct Scenario {
    /// The seed every random choice comes from.
    pub seed: u64,
    /// Client to server.
    pub client_link: LinkConfig,
    /// Server to client.
    pub server_link: LinkConfig,
    /// Faults, applied at their times.
    pub faults: Vec<Fault>,
    /// The run stops at this virtual time.
    pub time_limit: Duration,
    /// Stop as soon as the client app is finished and nothing is in flight.
    pub stop_when_client_finished: bool,
}

impl Scenario {
    /// Fixed, friendly links (5 ms latency, no loss of order, 1500-byte
    /// segments) and no faults.
    pub fn new(seed: u64) -> Self {
        Scenario {
            seed,
            client_link: LinkConfig::default(),
            server_link: LinkConfig::default(),
            faults: Vec::new(),
            time_limit: Duration::from_secs(600),
            stop_when_client_finished: true,
        }
    }

    /// Links with random latency, jitter, bandwidth, segment sizes and late
    /// reads, all drawn from `seed`.
    pub fn random(seed: u64) -> Self {
        let mut rng = Rng::new(seed ^ 0x5eed);
        Scenario {
            client_link: LinkConfig::random(&mut rng),
            server_link: LinkConfig::random(&mut rng),
            ..Scenario::new(seed)
        }
    }

    /// Adds a fault.
    pub fn with_fault(mut self, fault: Fault) -> Self {
        self.faults.push(fault);
        self
    }
}

/// How a run ended.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Outcome {
    /// The seed, to replay with `SOCKLESS_SIM_SEED`.
    pub seed: u64,
    /// Virtual time at the end.
    pub now: Instant,
    /// Why the run stopped.
    pub stop: Stop,
    /// The client connection emitted `Closed` (or `Upgrade`).
    pub client_closed: bool,
    /// The server connection emitted `Closed` (or `Upgrade`).
    pub server_closed: bool,
    /// Bytes the client wrote.
    pub client_bytes: u64,
    /// Bytes the server wrote.
    pub server_bytes: u64,
    /// When the client first read bytes.
    pub client_first_read: Option<Instant>,
    /// When the server first read bytes.
    pub server_first_read: Option<Instant>,
}

/// Why a run stopped.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Stop {
    /// The client app finished and nothing was in flight.
    ClientFinished,
    /// Both connections closed.
    BothClosed,
    /// Nothing could happen any more: no bytes in flight, no timer, no app
    /// wakeup. With unfinished apps this is a deadlock.
    Quiet,
    /// The virtual time limit was reached.
    TimeLimit,
    /// The connection was refused.
    Refused,
}

/// One end: its connection's liveness and its read side.
struct End {
    closed: bool,
    /// Its writes are dropped (half-closed, reset, partitioned).
    write_shut: bool,
    /// When it first read bytes.
    first_read: Option<Instant>,
}

/// Runs a client and a server connection against each other on the
/// scenario's network until the stop condition; see the crate docs.
pub fn run<C, S, CA, SA>(scenario: &Scenario, client: &mut C, server: &mut S, capp: &mut CA, sapp: &mut SA) -> Outcome
where
    C: Connection,
    S: Connection,
    CA: App<C>,
    SA: App<S>,
{
    let mut rng = Rng::new(scenario.seed);
    let mut now = Instant::ZERO;
    let mut c2s = Link::new(scenario.client_link.clone());
    let mut s2c = Link::new(scenario.server_link.clone());
    let mut cend = End { closed: false, write_shut: false, first_read: None };
    let mut send = End { closed: false, write_shut: false, first_read: None };
    let outcome = |stop, now, c: &End, s: &End, c2s: &Link, s2c: &Link| Outcome {
        seed: scenario.seed,
        now,
        stop,
        client_closed: c.closed,
        server_closed: s.closed,
        client_bytes: c2s.bytes_sent,
        server_bytes: s2c.bytes_sent,
        client_first_read: c.first_read,
        server_first_read: s.first_read,
    };
    if scenario.faults.contains(&Fault::Refuse) {
        capp.on_transport(client, Transport::Refused, now);
        return outcome(Stop::Refused, now, &cend, &send, &c2s, &s2c);
    }
    let mut faults: Vec<Fault> = scenario.faults.clone();
    capp.start(client, now);
    sapp.start(server, now);
    let mut partitioned = false;
    for _round in 0..10_000_000u64 {
        // Settle this instant: transmit, events, app ticks, deliveries.
        for _ in 0..100_000 {
            let mut progressed = false;
            progressed |= transmit(client, &mut c2s, &cend, now, &mut rng, partitioned);
            progressed |= transmit(server, &mut s2c, &send, now, &mut rng, partitioned);
            progressed |= dispatch(client, capp, &mut cend, &mut c2s, now);
            progressed |= dispatch(server, sapp, &mut send, &mut s2c, now);
            if !cend.closed {
                capp.tick(client, now);
            }
            if !send.closed {
                sapp.tick(server, now);
            }
            progressed |= transmit(client, &mut c2s, &cend, now, &mut rng, partitioned);
            progressed |= transmit(server, &mut s2c, &send, now, &mut rng, partitioned);
            progressed |= deliver(&mut c2s, server, sapp, &mut send, now, &mut rng);
            progressed |= deliver(&mut s2c, client, capp, &mut cend, now, &mut rng);
            if !progressed {
                break;
            }
        }
        if scenario.stop_when_client_finished && capp.finished() && c2s.is_idle() && s2c.is_idle() {
            return outcome(Stop::ClientFinished, now, &cend, &send, &c2s, &s2c);
        }
        if cend.closed && send.closed {
            return outcome(Stop::BothClosed, now, &cend, &send, &c2s, &s2c);
        }
        // Jump to the next thing that can happen.
        let candidates = [
            c2s.next_arrival(),
            s2c.next_arrival(),
            (!cend.closed).then(|| client.poll_timeout()).flatten(),
            (!send.closed).then(|| server.poll_timeout()).flatten(),
            capp.next_wakeup(),
            sapp.next_wakeup(),
            faults.iter().filter_map(fault_time).min(),
        ];
        let Some(next) = candidates.into_iter().flatten().min() else {
            return outcome(Stop::Quiet, now, &cend, &send, &c2s, &s2c);
        };
        if next.saturating_duration_since(Instant::ZERO) > scenario.time_limit {
            return outcome(Stop::TimeLimit, now, &cend, &send, &c2s, &s2c);
        }
        now = now.max(next);
        // Faults due now.
        let due: Vec<Fault> = faults.iter().copied().filter(|f| fault_time(f).is_some_and(|t| t <= now)).collect();
        faults.retain(|f| fault_time(f).is_none_or(|t| t > now));
        for f in due {
            match f {
                Fault::ResetAt(_) => {
                    c2s.reset();
                    s2c.reset();
                    cend.write_shut = true;
                    send.write_shut = true;
                    for (end, link) in [(&cend, &mut s2c), (&send, &mut c2s)] {
                        if !end.closed {
                            link.eof_delivered = true;
                        }
                    }
                    if !cend.closed {
                        client.handle_eof(now);
                        capp.on_transport(client, Transport::Reset, now);
                    }
                    if !send.closed {
                        server.handle_eof(now);
                        sapp.on_transport(server, Transport::Reset, now);
                    }
                }
                Fault::ClientHalfCloseAt(_) => {
                    cend.write_shut = true;
                    c2s.close(now);
                }
                Fault::ServerHalfCloseAt(_) => {
                    send.write_shut = true;
                    s2c.close(now);
                }
                Fault::PartitionAt(_) => {
                    partitioned = true;
                    c2s.reset();
                    s2c.reset();
                    c2s.eof_delivered = true;
                    s2c.eof_delivered = true;
                }
                Fault::Refuse => {}
            }
        }
        if !cend.closed && client.poll_timeout().is_some_and(|t| t <= now) {
            client.handle_timeout(now);
        }
        if !send.closed && server.poll_timeout().is_some_and(|t| t <= now) {
            server.handle_timeout(now);
        }
    }
    outcome(Stop::TimeLimit, now, &cend, &send, &c2s, &s2c)
}

fn fault_time(f: &Fault) -> Option<Instant> {
    match *f {
        Fault::Refuse => None,
        Fault::ResetAt(t) | Fault::ClientHalfCloseAt(t) | Fault::ServerHalfCloseAt(t) | Fault::PartitionAt(t) => {
            Some(t)
        }
    }
}

/// Moves what `conn` has queued into `link` through the shared cycle,
/// sometimes only part of a write (a full socket buffer). Returns whether
/// anything moved.
fn transmit<C: Connection>(conn: &mut C, link: &mut Link, end: &End, now: Instant, rng: &mut Rng, lost: bool) -> bool {
    if end.closed && end.write_shut {
        return false;
    }
    let mut socket = Socket { link, now, rng, discard: end.write_shut || lost };
    match cycle::transmit(conn, &mut socket) {
        Ok(sent) => sent.bytes > 0,
        Err(never) => match never {},
    }
}

/// The writing side of a simulated socket, as the cycle's transport.
struct Socket<'a> {
    link: &'a mut Link,
    now: Instant,
    rng: &'a mut Rng,
    /// Writes succeed and the bytes are lost (half-closed, reset, partitioned).
    discard: bool,
}

impl cycle::Transport for Socket<'_> {
    type Error = core::convert::Infallible;

    fn read(&mut self, _buf: &mut [u8]) -> Result<Transfer, Self::Error> {
        Ok(Transfer::WouldBlock) // input is delivered by `deliver`
    }

    fn write_vectored(&mut self, bufs: &[&[u8]]) -> Result<Transfer, Self::Error> {
        let space = if self.discard { usize::MAX } else { self.link.space() };
        if space == 0 {
            return Ok(Transfer::WouldBlock); // the socket buffer is full: the writer waits
        }
        let all: Vec<u8> = bufs.concat();
        let want = if self.rng.chance(20) { self.rng.range(1, all.len() as u64) as usize } else { all.len() };
        let take = want.min(space);
        if !self.discard {
            self.link.send(self.now, Bytes::copy_from_slice(&all[..take]), self.rng);
        }
        Ok(Transfer::Done(take))
    }
}

/// Passes events to the app; a closed connection closes its write side.
fn dispatch<C: Connection, A: App<C>>(conn: &mut C, app: &mut A, end: &mut End, out: &mut Link, now: Instant) -> bool {
    if end.closed {
        return false;
    }
    let mut any = false;
    while let Some(event) = conn.poll_event() {
        any = true;
        let last = matches!(event, Event::Closed(_) | Event::Upgrade { .. });
        app.on_event(conn, event, now);
        if last {
            end.closed = true;
            out.close(now);
            break;
        }
    }
    any
}

/// Feeds arrived segments to `conn` through a randomly chosen input style,
/// keeping what it does not take. Returns whether anything was taken.
fn deliver<C: Connection, A: App<C>>(
    link: &mut Link,
    conn: &mut C,
    app: &mut A,
    end: &mut End,
    now: Instant,
    rng: &mut Rng,
) -> bool {
    if end.closed {
        return false;
    }
    let mut any = false;
    while let Some(seg) = link.take_ready(now) {
        let taken = match rng.below(3) {
            0 => {
                let buf = conn.input_buffer();
                let n = buf.len().min(seg.len());
                buf[..n].copy_from_slice(&seg[..n]);
                if n > 0 {
                    let _ = conn.commit_input(now, n);
                }
                n
            }
            1 => {
                let mut owned = conn.take_input_buffer();
                owned.extend_from_slice(&seg);
                let _ = conn.return_input_buffer(now, owned);
                seg.len()
            }
            _ => conn.handle_input(now, &seg).unwrap_or(0),
        };
        if taken > 0 {
            end.first_read.get_or_insert(now);
        }
        if taken < seg.len() {
            link.unread(now, seg.slice(taken..));
            any |= taken > 0;
            return any;
        }
        any = true;
    }
    if link.closed && !link.eof_delivered && link.next_arrival().is_some_and(|t| t <= now) {
        link.eof_delivered = true;
        conn.handle_eof(now);
        app.on_transport(conn, Transport::Eof, now);
        any = true;
    }
    any
}

/// Seeds to run: `SOCKLESS_SIM_SEED` alone if set, else `0..count`.
pub fn seeds(count: u64) -> Vec<u64> {
    match std::env::var("SOCKLESS_SIM_SEED").ok().and_then(|s| s.parse().ok()) {
        Some(seed) => vec![seed],
        None => (0..count).collect(),
    }
}

/// Runs `test` for every seed of [`seeds`]; a failure prints the seed and
/// how to replay it, then fails.
pub fn for_each_seed(count: u64, mut test: impl FnMut(u64)) {
    for seed in seeds(count) {
        let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| test(seed)));
        if let Err(panic) = result {
            eprintln!("simulation failed with seed {seed}; replay with SOCKLESS_SIM_SEED={seed}");
            std::panic::resume_unwind(panic);
        }
    }
}
