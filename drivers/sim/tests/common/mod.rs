//! Apps shared by the simulation suites: an echo server and a client that
//! checks every response, both generic over the protocol.
#![allow(dead_code)]

use bytes::Bytes;
use sockless_core::{Connection, Duration, Event, Instant, Method, RequestHead, ResponseHead, StreamId};
use sockless_sim::{App, Rng, Transport};
use std::collections::HashMap;

/// Echoes every request body back with status 200, streaming it as the
/// connection takes it. `release_delay` makes it a slow reader: received
/// bytes are released to flow control only that long after they arrived.
#[derive(Default)]
pub struct EchoServer {
    bodies: HashMap<StreamId, Vec<u8>>,
    sending: HashMap<StreamId, Bytes>,
    pub release_delay: Option<Duration>,
    releases: Vec<(Instant, StreamId, usize)>,
    pub requests: usize,
    pub errors: Vec<sockless_core::ProtocolError>,
    pub closed: bool,
    pub resets: usize,
    pub transport: Vec<Transport>,
}

impl<C: Connection> App<C> for EchoServer {
    fn on_event(&mut self, conn: &mut C, event: Event, now: Instant) {
        match event {
            Event::Request { stream, .. } => {
                self.requests += 1;
                self.bodies.insert(stream, Vec::new());
                conn.read_body(stream).unwrap();
            }
            Event::Data { stream, data } => {
                if let Some(b) = self.bodies.get_mut(&stream) {
                    b.extend_from_slice(&data);
                }
                match self.release_delay {
                    Some(d) => self.releases.push((now + d, stream, data.len())),
                    None => conn.release_capacity(stream, data.len()).unwrap(),
                }
            }
            Event::EndStream { stream } => {
                let body = self.bodies.remove(&stream).unwrap_or_default();
                let head = ResponseHead::new(200).header("x-echo-len", body.len().to_string());
                conn.send_response(stream, &head, body.is_empty()).unwrap();
                if !body.is_empty() {
                    self.sending.insert(stream, Bytes::from(body));
                }
            }
            Event::Reset { stream, .. } => {
                self.resets += 1;
                self.bodies.remove(&stream);
                self.sending.remove(&stream);
            }
            Event::Error(e) => self.errors.push(e),
            Event::Closed(_) => self.closed = true,
            _ => {}
        }
    }

    fn tick(&mut self, conn: &mut C, now: Instant) {
        let due: Vec<(Instant, StreamId, usize)> = self.releases.iter().copied().filter(|r| r.0 <= now).collect();
        self.releases.retain(|r| r.0 > now);
        for (_, stream, n) in due {
            let _ = conn.release_capacity(stream, n);
        }
        let streams: Vec<StreamId> = self.sending.keys().copied().collect();
        for stream in streams {
            let rest = self.sending[&stream].clone();
            match conn.send_data(stream, rest.clone(), true) {
                Ok(n) if n == rest.len() => {
                    self.sending.remove(&stream);
                }
                Ok(n) => {
                    self.sending.insert(stream, rest.slice(n..));
                }
                Err(_) => {
                    self.sending.remove(&stream);
                }
            }
        }
    }

    fn next_wakeup(&self) -> Option<Instant> {
        self.releases.iter().map(|r| r.0).min()
    }

    fn on_transport(&mut self, _conn: &mut C, what: Transport, _now: Instant) {
        self.transport.push(what);
    }
}

/// One request the client sends, and what it expects back.
#[derive(Clone, Debug)]
pub struct Planned {
    pub head: RequestHead,
    pub body: Bytes,
    /// Sizes of the pieces the body is offered in.
    pub piece: usize,
}

/// Random requests for `seed`: methods, paths, headers, bodies of random
/// size (at most `max_body`) and framing. `h2` uses absolute-form targets.
pub fn plan(rng: &mut Rng, count: usize, h2: bool, max_body: usize) -> Vec<Planned> {
    (0..count)
        .map(|i| {
            let size = match rng.below(8) {
                0 | 1 => 0,
                2 | 3 => rng.range(1, 100),
                4..=6 => rng.range(100, 20_000),
                _ => rng.range(20_000, 150_000),
            } as usize;
            let size = size.min(max_body);
            let method = if size == 0 && rng.chance(50) { Method::Get } else { Method::Post };
            let path = format!("/r/{i}/{}", rng.below(1000));
            let mut head = if h2 {
                RequestHead::new(method, format!("https://sim.test{path}"))
            } else {
                RequestHead::new(method, path).header("Host", "sim.test")
            };
            for k in 0..rng.below(6) {
                head.headers.push(format!("x-field-{k}"), format!("v{}", rng.below(1_000_000)));
            }
            if size > 0 && !h2 && rng.chance(50) {
                head.headers.push("Content-Length", size.to_string());
            }
            if size > 0 && !h2 && rng.chance(15) {
                head.headers.push("Expect", "100-continue");
            }
            Planned { head, body: Bytes::from(rng.bytes(size)), piece: rng.range(1, 70_000) as usize }
        })
        .collect()
}

/// Sends planned requests — one at a time on HTTP/1.1, all at once on
/// HTTP/2 — and checks each echoed response.
pub struct Client {
    pub plan: Vec<Planned>,
    next: usize,
    concurrent: bool,
    sending: HashMap<StreamId, (Bytes, usize)>,
    expect: HashMap<StreamId, Bytes>,
    received: HashMap<StreamId, Vec<u8>>,
    pub done: usize,
    pub failures: Vec<String>,
    pub errors: Vec<sockless_core::ProtocolError>,
    pub transport: Vec<Transport>,
    pub closed: bool,
    pub resets: usize,
}

impl Client {
    pub fn new(plan: Vec<Planned>, concurrent: bool) -> Self {
        Client {
            plan,
            next: 0,
            concurrent,
            sending: HashMap::new(),
            expect: HashMap::new(),
            received: HashMap::new(),
            done: 0,
            failures: Vec::new(),
            errors: Vec::new(),
            transport: Vec::new(),
            closed: false,
            resets: 0,
        }
    }

    fn send_next<C: Connection>(&mut self, conn: &mut C) {
        while self.next < self.plan.len() {
            let p = self.plan[self.next].clone();
            match conn.send_request(&p.head, p.body.is_empty()) {
                Ok(stream) => {
                    self.next += 1;
                    if !p.body.is_empty() {
                        self.sending.insert(stream, (p.body.clone(), p.piece));
                    }
                    self.expect.insert(stream, p.body);
                    self.received.insert(stream, Vec::new());
                }
                Err(_) => return,
            }
            if !self.concurrent {
                return;
            }
        }
    }
}

impl<C: Connection> App<C> for Client {
    fn start(&mut self, conn: &mut C, _now: Instant) {
        self.send_next(conn);
    }

    fn on_event(&mut self, conn: &mut C, event: Event, _now: Instant) {
        match event {
            Event::Response { stream, head } => {
                let want = self.expect.get(&stream).map(|b| b.len());
                let got = head.headers.get("x-echo-len").map(|v| String::from_utf8_lossy(v).into_owned());
                if head.status != 200 || got != want.map(|n| n.to_string()) {
                    self.failures
                        .push(format!("stream {stream}: status {} echo-len {got:?} want {want:?}", head.status));
                }
            }
            Event::Data { stream, data } => {
                self.received.entry(stream).or_default().extend_from_slice(&data);
                let _ = conn.release_capacity(stream, data.len());
            }
            Event::EndStream { stream } => {
                let got = self.received.remove(&stream).unwrap_or_default();
                match self.expect.remove(&stream) {
                    Some(want) if want[..] == got[..] => self.done += 1,
                    Some(want) => {
                        self.failures.push(format!("stream {stream}: body {} bytes, want {}", got.len(), want.len()))
                    }
                    None => self.failures.push(format!("stream {stream}: unexpected end")),
                }
                if self.concurrent {
                    self.send_next(conn);
                }
            }
            Event::Ready { reusable: true } => self.send_next(conn),
            Event::Reset { .. } => self.resets += 1,
            Event::Error(e) => self.errors.push(e),
            Event::Closed(_) => self.closed = true,
            _ => {}
        }
    }

    fn tick(&mut self, conn: &mut C, _now: Instant) {
        let streams: Vec<StreamId> = self.sending.keys().copied().collect();
        for stream in streams {
            let (rest, piece) = self.sending[&stream].clone();
            let chunk = rest.slice(..piece.min(rest.len()));
            let last = chunk.len() == rest.len();
            match conn.send_data(stream, chunk, last) {
                Ok(n) if n == rest.len() => {
                    self.sending.remove(&stream);
                }
                Ok(n) => {
                    self.sending.insert(stream, (rest.slice(n..), piece));
                }
                Err(_) => {
                    self.sending.remove(&stream);
                }
            }
        }
    }

    fn on_transport(&mut self, _conn: &mut C, what: Transport, _now: Instant) {
        self.transport.push(what);
    }

    fn finished(&self) -> bool {
        self.done == self.plan.len() || !self.failures.is_empty()
    }
}

/// A body size that keeps a run quick on links with tiny segments.
pub fn body_cap(scenario: &sockless_sim::Scenario) -> usize {
    scenario.client_link.max_segment.min(scenario.server_link.max_segment) * 2_000
}

/// A peer that speaks no protocol: it writes scripted bytes and records
/// what it reads. For feeding a connection exactly the bytes a test needs.
#[derive(Default)]
pub struct RawPeer {
    pub to_send: Vec<u8>,
    pub received: Vec<u8>,
    pub eof: bool,
}

impl Connection for RawPeer {
    fn handle_input(&mut self, _now: Instant, input: &[u8]) -> Result<usize, sockless_core::Error> {
        self.received.extend_from_slice(input);
        Ok(input.len())
    }
    fn handle_eof(&mut self, _now: Instant) {
        self.eof = true;
    }
    fn input_buffer(&mut self) -> &mut [u8] {
        &mut []
    }
    fn commit_input(&mut self, _now: Instant, _n: usize) -> Result<(), sockless_core::Error> {
        Ok(())
    }
    fn take_input_buffer(&mut self) -> bytes::BytesMut {
        bytes::BytesMut::new()
    }
    fn return_input_buffer(&mut self, now: Instant, buf: bytes::BytesMut) -> Result<(), sockless_core::Error> {
        self.handle_input(now, &buf).map(|_| ())
    }
    fn poll_transmit<'a>(&'a mut self, out: &mut [&'a [u8]]) -> usize {
        if self.to_send.is_empty() || out.is_empty() {
            return 0;
        }
        out[0] = &self.to_send;
        1
    }
    fn advance_transmit(&mut self, n: usize) {
        self.to_send.drain(..n);
    }
    fn poll_event(&mut self) -> Option<Event> {
        None
    }
    fn poll_timeout(&self) -> Option<Instant> {
        None
    }
    fn handle_timeout(&mut self, _now: Instant) {}
    fn send_request(&mut self, _: &RequestHead, _: bool) -> Result<StreamId, sockless_core::Error> {
        Err(sockless_core::UserError::Unsupported.into())
    }
    fn send_response(&mut self, _: StreamId, _: &ResponseHead, _: bool) -> Result<(), sockless_core::Error> {
        Err(sockless_core::UserError::Unsupported.into())
    }
    fn send_data(&mut self, _: StreamId, _: Bytes, _: bool) -> Result<usize, sockless_core::Error> {
        Err(sockless_core::UserError::Unsupported.into())
    }
    fn send_trailers(&mut self, _: StreamId, _: &sockless_core::HeaderList) -> Result<(), sockless_core::Error> {
        Err(sockless_core::UserError::Unsupported.into())
    }
    fn read_body(&mut self, _: StreamId) -> Result<(), sockless_core::Error> {
        Ok(())
    }
    fn release_capacity(&mut self, _: StreamId, _: usize) -> Result<(), sockless_core::Error> {
        Ok(())
    }
    fn reset_stream(&mut self, _: StreamId, _: sockless_core::ErrorCode) -> Result<(), sockless_core::Error> {
        Ok(())
    }
    fn ping(&mut self, _: Instant) -> Result<(), sockless_core::Error> {
        Ok(())
    }
    fn shutdown(&mut self, _: Instant) {}
    fn is_closed(&self) -> bool {
        false
    }
}

/// An app that only records events with their virtual time.
#[derive(Default)]
pub struct Recorder {
    pub events: Vec<(Instant, Event)>,
    pub transport: Vec<(Instant, Transport)>,
}

impl<C: Connection> App<C> for Recorder {
    fn on_event(&mut self, _conn: &mut C, event: Event, now: Instant) {
        self.events.push((now, event));
    }
    fn on_transport(&mut self, _conn: &mut C, what: Transport, now: Instant) {
        self.transport.push((now, what));
    }
}

impl Recorder {
    /// When the first event matching `f` happened.
    pub fn when(&self, f: impl Fn(&Event) -> bool) -> Option<Instant> {
        self.events.iter().find(|(_, e)| f(e)).map(|(t, _)| *t)
    }
}

/// Fixed links: `latency` each way, no jitter, whole writes.
pub fn fixed(seed: u64, latency: Duration) -> sockless_sim::Scenario {
    let mut s = sockless_sim::Scenario::new(seed);
    for l in [&mut s.client_link, &mut s.server_link] {
        l.latency = latency;
        l.jitter = Duration::ZERO;
        l.max_segment = 64 * 1024;
    }
    s.stop_when_client_finished = false;
    s
}
