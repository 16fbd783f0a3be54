//! Model-based test of stream states: random sequences of client and server operations,
//! with the bytes between them delivered in random pieces and interleavings, checked against
//! a reference model of RFC 9113 section 5.1.
//!
//! After every step: no panic, no protocol error between two correct endpoints, every
//! stream's events follow the grammar (head, Data*, Trailers?, EndStream, with Reset allowed
//! to end it at any point), commands succeed exactly when the model says the stream allows
//! them, and each endpoint's stream state agrees with the model's. At the end, once both
//! applications finished every stream and consumed every byte: no stream is left open, what
//! one side sent the other received, and the connection windows are whole again.

use super::stream::State;
use super::tests::{take_output, T0};
use super::*;
use alloc::collections::BTreeMap;
use alloc::string::String;
use alloc::vec;
use proptest::prelude::*;
use sockless_core::Method;

#[derive(Clone, Debug)]
enum Op {
    Open { end: bool },
    Send { client: bool, s: u8, len: u16, end: bool },
    Trailers { client: bool, s: u8 },
    Respond { s: u8, end: bool, informational: bool },
    Reset { client: bool, s: u8 },
    Release { client: bool, s: u8, frac: u8 },
    Deliver { to_server: bool, n: u16 },
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        2 => any::<bool>().prop_map(|end| Op::Open { end }),
        4 => (any::<bool>(), any::<u8>(), 0u16..3000, any::<bool>())
            .prop_map(|(client, s, len, end)| Op::Send { client, s, len, end }),
        1 => (any::<bool>(), any::<u8>()).prop_map(|(client, s)| Op::Trailers { client, s }),
        2 => (any::<u8>(), any::<bool>(), prop::bool::weighted(0.2))
            .prop_map(|(s, end, informational)| Op::Respond { s, end, informational }),
        1 => (any::<bool>(), any::<u8>()).prop_map(|(client, s)| Op::Reset { client, s }),
        2 => (any::<bool>(), any::<u8>(), any::<u8>()).prop_map(|(client, s, frac)| Op::Release { client, s, frac }),
        6 => (any::<bool>(), 1u16..20_000).prop_map(|(to_server, n)| Op::Deliver { to_server, n }),
    ]
}

/// How far one endpoint's sending side got.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Sending {
    /// Server: no final response head yet.
    NotStarted,
    Open,
    Ended,
}

/// Where the events an endpoint reported for a stream stand in the grammar.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Grammar {
    /// Nothing yet (client: possibly informational heads).
    Start,
    /// The head arrived; data may follow.
    Head,
    /// Trailers arrived; only the end may follow.
    Trailers,
    /// The peer's message is complete.
    Ended,
    /// The stream was reset: nothing follows.
    Reset,
}

/// One endpoint's view of one stream, as the reference model keeps it.
#[derive(Debug)]
struct Half {
    send: Sending,
    recv_ended: bool,
    /// We reset it, or were told it was reset.
    reset: bool,
    /// We called `reset_stream` successfully.
    reset_called: bool,
    sent: Vec<u8>,
    trailers_sent: bool,
    received: Vec<u8>,
    got_trailers: bool,
    unreleased: usize,
    grammar: Grammar,
    /// The endpoint knows the stream (server: the Request event arrived).
    known: bool,
}

impl Half {
    fn new(send: Sending, known: bool) -> Half {
        Half {
            send,
            recv_ended: false,
            reset: false,
            reset_called: false,
            sent: Vec::new(),
            trailers_sent: false,
            received: Vec::new(),
            got_trailers: false,
            unreleased: 0,
            grammar: Grammar::Start,
            known,
        }
    }

    fn state(&self) -> State {
        if !self.known {
            return State::Idle;
        }
        let local_done = self.send == Sending::Ended;
        match (self.reset, local_done, self.recv_ended) {
            (true, _, _) | (_, true, true) => State::Closed,
            (_, true, false) => State::HalfClosedLocal,
            (_, false, true) => State::HalfClosedRemote,
            _ => State::Open,
        }
    }

    /// Whether body, trailers or an end may be sent now.
    fn can_send(&self) -> bool {
        !self.reset && self.send == Sending::Open
    }
}

#[derive(Debug)]
struct StreamModel {
    id: u32,
    c: Half,
    s: Half,
}

fn pattern(id: u32, from: usize, len: usize) -> Bytes {
    (from..from + len).map(|k| (id as usize * 31 + k * 7) as u8).collect::<Vec<u8>>().into()
}

struct World {
    c: H2Connection,
    s: H2Connection,
    c2s: Vec<u8>,
    s2c: Vec<u8>,
    streams: Vec<StreamModel>,
    by_id: BTreeMap<u32, usize>,
    log: Vec<String>,
}

impl World {
    fn new(client: Config, server: Config) -> World {
        let mut w = World {
            c: H2Connection::client(client, T0),
            s: H2Connection::server(server, T0),
            c2s: Vec::new(),
            s2c: Vec::new(),
            streams: Vec::new(),
            by_id: BTreeMap::new(),
            log: Vec::new(),
        };
        w.after().unwrap();
        w
    }

    fn pick(&self, s: u8, client: bool) -> Option<usize> {
        let candidates: Vec<usize> = (0..self.streams.len()).filter(|&i| client || self.streams[i].s.known).collect();
        (!candidates.is_empty()).then(|| candidates[s as usize % candidates.len()])
    }

    fn conn(&mut self, client: bool) -> &mut H2Connection {
        if client {
            &mut self.c
        } else {
            &mut self.s
        }
    }

    fn half(&mut self, i: usize, client: bool) -> &mut Half {
        if client {
            &mut self.streams[i].c
        } else {
            &mut self.streams[i].s
        }
    }

    fn apply(&mut self, op: &Op) -> Result<(), TestCaseError> {
        self.log.push(alloc::format!("{op:?}"));
        match *op {
            Op::Open { end } => {
                let head = RequestHead::new(Method::Post, "https://example.com/m");
                let id = self.c.send_request(&head, end).map_err(|e| TestCaseError::fail(alloc::format!("{e}")))?;
                prop_assert_eq!(id.get(), 1 + 2 * self.streams.len() as u32);
                let send = if end { Sending::Ended } else { Sending::Open };
                self.by_id.insert(id.get(), self.streams.len());
                self.streams.push(StreamModel {
                    id: id.get(),
                    c: Half::new(send, true),
                    s: Half::new(Sending::NotStarted, false),
                });
            }
            Op::Send { client, s, len, end } => {
                let Some(i) = self.pick(s, client) else { return Ok(()) };
                let id = self.streams[i].id;
                let half = self.half(i, client);
                let expect_ok = half.can_send();
                let data = pattern(id, half.sent.len(), len as usize);
                let r = self.conn(client).send_data(StreamId::new(id), data.clone(), end);
                prop_assert_eq!(r.is_ok(), expect_ok, "send_data on {} ({:?}): {:?}", id, client, r);
                if let Ok(n) = r {
                    prop_assert!(n <= data.len());
                    let half = self.half(i, client);
                    half.sent.extend_from_slice(&data[..n]);
                    if n == data.len() && end {
                        half.send = Sending::Ended;
                    }
                }
            }
            Op::Trailers { client, s } => {
                let Some(i) = self.pick(s, client) else { return Ok(()) };
                let id = self.streams[i].id;
                let expect_ok = self.half(i, client).can_send();
                let r = self.conn(client).send_trailers(StreamId::new(id), &HeaderList::new().with("x-t", "1"));
                prop_assert_eq!(r.is_ok(), expect_ok, "send_trailers on {}: {:?}", id, r);
                if r.is_ok() {
                    let half = self.half(i, client);
                    half.send = Sending::Ended;
                    half.trailers_sent = true;
                }
            }
            Op::Respond { s, end, informational } => {
                let Some(i) = self.pick(s, false) else { return Ok(()) };
                let id = self.streams[i].id;
                let half = &self.streams[i].s;
                let expect_ok = !half.reset && half.send == Sending::NotStarted;
                let head = ResponseHead::new(if informational { 103 } else { 200 });
                let end = end && !informational;
                let r = self.s.send_response(StreamId::new(id), &head, end);
                prop_assert_eq!(r.is_ok(), expect_ok, "send_response on {}: {:?}", id, r);
                if r.is_ok() && !informational {
                    self.streams[i].s.send = if end { Sending::Ended } else { Sending::Open };
                }
            }
            Op::Reset { client, s } => {
                let Some(i) = self.pick(s, client) else { return Ok(()) };
                let id = self.streams[i].id;
                let half = self.half(i, client);
                let closed = half.send == Sending::Ended && half.recv_ended;
                let (reset, flushed) = (half.reset, closed);
                let r = self.conn(client).reset_stream(StreamId::new(id), ErrorCode::CANCEL);
                if reset {
                    prop_assert!(r.is_err(), "reset of a reset stream {}", id);
                } else if !flushed {
                    prop_assert!(r.is_ok(), "reset_stream on {}: {:?}", id, r);
                }
                if r.is_ok() {
                    let half = self.half(i, client);
                    half.reset = true;
                    half.reset_called = true;
                    half.grammar = Grammar::Reset;
                }
            }
            Op::Release { client, s, frac } => {
                let Some(i) = self.pick(s, client) else { return Ok(()) };
                let id = self.streams[i].id;
                let half = self.half(i, client);
                let n = half.unreleased * frac as usize / 255;
                half.unreleased -= n;
                self.conn(client).release_capacity(StreamId::new(id), n).unwrap();
            }
            Op::Deliver { to_server, n } => self.deliver(to_server, n as usize)?,
        }
        self.after()
    }

    fn deliver(&mut self, to_server: bool, n: usize) -> Result<(), TestCaseError> {
        let (pipe, conn) = if to_server { (&mut self.c2s, &mut self.s) } else { (&mut self.s2c, &mut self.c) };
        let n = n.min(pipe.len());
        if n == 0 {
            return Ok(());
        }
        let r = conn.handle_input(T0, &pipe[..n]);
        prop_assert!(r.is_ok(), "input refused: {:?}", r);
        pipe.drain(..r.unwrap());
        Ok(())
    }

    /// After every step: output onto the wire, events into the model, states compared.
    fn after(&mut self) -> Result<(), TestCaseError> {
        take_output(&mut self.c, &mut self.c2s);
        take_output(&mut self.s, &mut self.s2c);
        while let Some(e) = self.c.poll_event() {
            self.event(true, e)?;
        }
        while let Some(e) = self.s.poll_event() {
            self.event(false, e)?;
        }
        for m in &self.streams {
            // The connection's own RFC 9113 state (`stream::State`) against the model's.
            prop_assert_eq!(self.c.stream_state(m.id), m.c.state(), "client view of {}: {:?}", m.id, m.c);
            prop_assert_eq!(self.s.stream_state(m.id), m.s.state(), "server view of {}: {:?}", m.id, m.s);
        }
        Ok(())
    }

    fn event(&mut self, client: bool, e: Event) -> Result<(), TestCaseError> {
        let who = if client { "client" } else { "server" };
        let stream = match &e {
            Event::Request { stream, .. }
            | Event::Response { stream, .. }
            | Event::Informational { stream, .. }
            | Event::Data { stream, .. }
            | Event::Trailers { stream, .. }
            | Event::EndStream { stream }
            | Event::Reset { stream, .. } => *stream,
            other => return Err(TestCaseError::fail(alloc::format!("{who}: unexpected {other:?}"))),
        };
        let Some(&i) = self.by_id.get(&stream.get()) else {
            return Err(TestCaseError::fail(alloc::format!("{who}: event for unknown {stream}: {e:?}")));
        };
        let peer_reset_called = if client { self.streams[i].s.reset_called } else { self.streams[i].c.reset_called };
        let half = self.half(i, client);
        let g = half.grammar;
        match e {
            Event::Request { .. } => {
                prop_assert!(!client && !half.known && g == Grammar::Start);
                half.known = true;
                half.grammar = Grammar::Head;
            }
            Event::Informational { head, .. } => {
                prop_assert!(client && g == Grammar::Start && head.status == 103);
            }
            Event::Response { .. } => {
                prop_assert!(client && g == Grammar::Start, "{who}: response in {g:?}");
                half.grammar = Grammar::Head;
            }
            Event::Data { data, .. } => {
                prop_assert_eq!(g, Grammar::Head, "{}: data on {}", who, stream);
                prop_assert!(!data.is_empty());
                half.received.extend_from_slice(&data);
                half.unreleased += data.len();
            }
            Event::Trailers { .. } => {
                prop_assert_eq!(g, Grammar::Head, "{}: trailers on {}", who, stream);
                half.got_trailers = true;
                half.grammar = Grammar::Trailers;
            }
            Event::EndStream { .. } => {
                prop_assert!(matches!(g, Grammar::Head | Grammar::Trailers), "{who}: end on {stream} in {g:?}");
                half.recv_ended = true;
                half.grammar = Grammar::Ended;
            }
            Event::Reset { remote, code, .. } => {
                prop_assert!(g != Grammar::Reset, "{who}: second reset on {stream}");
                prop_assert!(remote && code == ErrorCode::CANCEL, "{who}: we reset {stream} ourselves: {code:?}");
                prop_assert!(peer_reset_called, "{who}: reset on {stream} the peer did not reset");
                half.reset = true;
                half.grammar = Grammar::Reset;
            }
            _ => unreachable!(),
        }
        Ok(())
    }

    /// Both applications finish every stream and consume everything; all bytes delivered.
    fn settle(&mut self) -> Result<(), TestCaseError> {
        for _ in 0..200 {
            let mut acted = false;
            for i in 0..self.streams.len() {
                let id = StreamId::new(self.streams[i].id);
                for client in [true, false] {
                    let half = self.half(i, client);
                    let unreleased = core::mem::take(&mut half.unreleased);
                    let (reset, send, known) = (half.reset, half.send, half.known);
                    // An application drops the unread body of a stream that was reset or
                    // finished both ways: the connection takes the credit back by itself.
                    let gone = reset || (send == Sending::Ended && half.recv_ended);
                    if unreleased > 0 && !gone {
                        self.conn(client).release_capacity(id, unreleased).unwrap();
                        acted = true;
                    }
                    if reset || !known {
                        continue;
                    }
                    match send {
                        Sending::NotStarted => {
                            self.s.send_response(id, &ResponseHead::new(200), true).unwrap();
                            self.streams[i].s.send = Sending::Ended;
                            acted = true;
                        }
                        Sending::Open => {
                            prop_assert_eq!(self.conn(client).send_data(id, Bytes::new(), true), Ok(0));
                            self.half(i, client).send = Sending::Ended;
                            acted = true;
                        }
                        Sending::Ended => {}
                    }
                }
            }
            let moved = !self.c2s.is_empty() || !self.s2c.is_empty();
            self.deliver(true, usize::MAX)?;
            self.deliver(false, usize::MAX)?;
            self.after()?;
            if !acted && !moved {
                return Ok(());
            }
        }
        Err(TestCaseError::fail("does not settle"))
    }

    fn check_end(&self) -> Result<(), TestCaseError> {
        prop_assert_eq!(self.c.open_streams(), 0, "client streams left: {:?}", self.c.streams);
        prop_assert_eq!(self.s.open_streams(), 0, "server streams left: {:?}", self.s.streams);
        for m in &self.streams {
            let any_reset = m.c.reset || m.s.reset;
            for (from, to, dir) in [(&m.c, &m.s, "request"), (&m.s, &m.c, "response")] {
                if any_reset {
                    prop_assert!(
                        from.sent.starts_with(&to.received),
                        "{} {} is not a prefix of what was sent",
                        dir,
                        m.id
                    );
                } else {
                    prop_assert_eq!(&to.received, &from.sent, "{} body of {}", dir, m.id);
                    prop_assert!(to.recv_ended, "{} end of {}", dir, m.id);
                    prop_assert_eq!(to.got_trailers, from.trailers_sent, "{} trailers of {}", dir, m.id);
                }
            }
            for (me, peer) in [(&m.c, &m.s), (&m.s, &m.c)] {
                if peer.reset_called && !me.reset_called && me.known {
                    // Told, unless this side had already finished the stream both ways.
                    let finished = me.send == Sending::Ended && me.recv_ended;
                    prop_assert!(me.grammar == Grammar::Reset || finished, "reset of {} not seen: {:?}", m.id, me);
                }
            }
        }
        for conn in [&self.c, &self.s] {
            // Every byte received was released, or belonged to a stream that went: the receive
            // window is whole again.
            let window = i64::from(conn.config.connection_window_size.max(65_535));
            prop_assert_eq!(conn.conn_recv_window + i64::from(conn.conn_unreleased), window, "{:?}", conn.role);
        }
        Ok(())
    }
}

fn config(window: u32, conn_window: u32, send_buffer: usize) -> Config {
    Config {
        initial_window_size: window,
        connection_window_size: conn_window,
        max_send_buffer: send_buffer,
        ..Config::server()
    }
}

fn configs() -> impl Strategy<Value = (Config, Config)> {
    let one = (
        prop::sample::select(vec![100u32, 1_000, 65_535]),
        prop::sample::select(vec![65_535u32, 100_000]),
        prop::sample::select(vec![500usize, 5_000, 1 << 20]),
    )
        .prop_map(|(w, cw, sb)| config(w, cw, sb));
    (one.clone(), one)
}

proptest! {
    #![proptest_config(ProptestConfig { max_shrink_iters: 2_000, ..ProptestConfig::default() })]

    #[test]
    fn stream_states_follow_rfc_9113(
        (client, server) in configs(),
        ops in prop::collection::vec(op(), 1..80),
    ) {
        let mut w = World::new(client, server);
        for op in &ops {
            w.apply(op)?;
        }
        w.settle()?;
        w.check_end()?;
    }
}
