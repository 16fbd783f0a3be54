//! Test support: a CA and certificates made with rcgen, an in-memory network
//! that runs two connections against each other with chosen chunking, apps
//! that serve and send bodies, and a connection that is HTTP/1.1 or HTTP/2
//! by ALPN.
#![allow(dead_code)]

use rcgen::{BasicConstraints, CertificateParams, CertifiedIssuer, DnType, IsCa, KeyPair};
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
use rustls::RootCertStore;
use sockless_core::{
    Bytes, BytesMut, Connection, Error, ErrorCode, Event, HeaderList, Instant, Method, RequestHead, ResponseHead,
    StreamId,
};
use sockless_tls::{CertifiedKey, Handshake};
use std::collections::HashMap;

/// A certificate authority that issues leaf certificates.
pub struct Ca {
    issuer: CertifiedIssuer<'static, KeyPair>,
}

impl Ca {
    pub fn new(name: &str) -> Ca {
        let mut params = CertificateParams::new(Vec::<String>::new()).unwrap();
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        params.distinguished_name.push(DnType::CommonName, name);
        params.key_usages = vec![
            rcgen::KeyUsagePurpose::KeyCertSign,
            rcgen::KeyUsagePurpose::CrlSign,
            rcgen::KeyUsagePurpose::DigitalSignature,
        ];
        let issuer = CertifiedIssuer::self_signed(params, KeyPair::generate().unwrap()).unwrap();
        Ca { issuer }
    }

    pub fn cert(&self) -> CertificateDer<'static> {
        self.issuer.der().clone()
    }

    pub fn roots(&self) -> RootCertStore {
        let mut store = RootCertStore::empty();
        store.add(self.cert()).unwrap();
        store
    }

    /// A leaf for these names (DNS names or IP addresses), chain = [leaf, ca].
    pub fn leaf(&self, names: &[&str]) -> CertifiedKey {
        let names: Vec<String> = names.iter().map(|s| s.to_string()).collect();
        let mut params = CertificateParams::new(names).unwrap();
        params.distinguished_name.push(DnType::CommonName, "leaf");
        params.use_authority_key_identifier_extension = true;
        let key = KeyPair::generate().unwrap();
        let cert = params.signed_by(&key, &self.issuer).unwrap();
        let key: PrivateKeyDer<'static> = PrivatePkcs8KeyDer::from(key.serialize_der()).into();
        (vec![cert.der().clone(), self.cert()], key)
    }
}

/// The latest of a connection's events, with `Data` of a stream joined.
#[derive(Debug, Default)]
pub struct Log {
    pub events: Vec<Event>,
}

impl Log {
    pub fn errors(&self) -> Vec<&Event> {
        self.events.iter().filter(|e| matches!(e, Event::Error(_))).collect()
    }
    pub fn closed(&self) -> Option<&Event> {
        self.events.iter().find(|e| matches!(e, Event::Closed(_)))
    }
    pub fn body(&self, stream: StreamId) -> Vec<u8> {
        let mut v = Vec::new();
        for e in &self.events {
            if let Event::Data { stream: s, data } = e {
                if *s == stream {
                    v.extend_from_slice(data);
                }
            }
        }
        v
    }
    /// Events with Data merged per stream run, for comparisons across chunkings.
    pub fn normalized(&self) -> Vec<Event> {
        let mut out: Vec<Event> = Vec::new();
        for e in &self.events {
            if let (Event::Data { stream, data }, Some(Event::Data { stream: s0, data: d0 })) = (e, out.last_mut()) {
                if stream == s0 {
                    let mut joined = BytesMut::from(&d0[..]);
                    joined.extend_from_slice(data);
                    *d0 = joined.freeze();
                    continue;
                }
            }
            out.push(e.clone());
        }
        out
    }
}

/// What an endpoint does with its connection.
pub trait App<C> {
    fn on_event(&mut self, conn: &mut C, event: &Event);
    /// Called every round: push pending output.
    fn on_turn(&mut self, _conn: &mut C) {}
}

/// Sends bodies as far as the connection accepts them.
#[derive(Default)]
pub struct Sender {
    pending: Vec<(StreamId, Bytes, bool)>,
}

impl Sender {
    pub fn queue(&mut self, stream: StreamId, body: Bytes, end: bool) {
        self.pending.push((stream, body, end));
    }
    pub fn flush<C: Connection>(&mut self, conn: &mut C) {
        for (stream, body, end) in self.pending.iter_mut() {
            while !body.is_empty() || *end {
                match conn.send_data(*stream, body.clone(), *end) {
                    Ok(n) => {
                        let _ = body.split_to(n);
                        if body.is_empty() {
                            *end = false;
                            break;
                        }
                        if n == 0 {
                            break;
                        }
                    }
                    Err(_) => {
                        body.clear();
                        *end = false;
                    }
                }
            }
        }
        self.pending.retain(|(_, b, e)| !b.is_empty() || *e);
    }
}

/// A server that answers every request with `200` and a body of `response`
/// bytes (a pattern), after reading the request body.
pub struct Server {
    pub log: Log,
    pub response: usize,
    pub sender: Sender,
    pub close: bool,
}

impl Server {
    pub fn new(response: usize) -> Server {
        Server { log: Log::default(), response, sender: Sender::default(), close: false }
    }
}

pub fn pattern(n: usize, seed: u8) -> Bytes {
    (0..n).map(|i| (i as u8).wrapping_mul(31).wrapping_add(seed)).collect::<Vec<u8>>().into()
}

impl<C: Connection> App<C> for Server {
    fn on_event(&mut self, conn: &mut C, event: &Event) {
        self.log.events.push(event.clone());
        match event {
            Event::Request { stream, .. } => conn.read_body(*stream).unwrap(),
            Event::Data { stream, data } => {
                let _ = conn.release_capacity(*stream, data.len());
            }
            Event::EndStream { stream } => {
                let mut head = ResponseHead::new(200).header("Content-Length", self.response.to_string());
                if self.close {
                    head = head.header("Connection", "close");
                }
                conn.send_response(*stream, &head, self.response == 0).unwrap();
                if self.response > 0 {
                    self.sender.queue(*stream, pattern(self.response, 7), true);
                }
            }
            _ => {}
        }
    }
    fn on_turn(&mut self, conn: &mut C) {
        self.sender.flush(conn);
    }
}

/// A client that records what it receives and releases flow-control credit.
#[derive(Default)]
pub struct Client {
    pub log: Log,
    pub sender: Sender,
}

impl<C: Connection> App<C> for Client {
    fn on_event(&mut self, conn: &mut C, event: &Event) {
        self.log.events.push(event.clone());
        if let Event::Data { stream, data } = event {
            let _ = conn.release_capacity(*stream, data.len());
        }
    }
    fn on_turn(&mut self, conn: &mut C) {
        self.sender.flush(conn);
    }
}

pub fn post(target: &'static str, len: usize) -> RequestHead {
    RequestHead::new(Method::Post, target).header("Host", "localhost").header("Content-Length", len.to_string())
}

/// How bytes travel from one connection to the other.
#[derive(Clone, Copy, Debug)]
pub enum Input {
    /// `handle_input` with chunks of random size up to the given maximum.
    Copy,
    /// `input_buffer` + `commit_input`.
    Lent,
    /// `take_input_buffer` + `return_input_buffer`.
    Owned,
}

/// A tiny deterministic random source.
pub struct Rng(pub u64);

impl Rng {
    pub fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    pub fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
}

/// One direction of the in-memory network.
pub struct Link {
    pub wire: Vec<u8>,
    pub max_chunk: usize,
    pub input: Input,
    pub rng: Rng,
    /// Total bytes carried.
    pub carried: usize,
    /// Largest single transmit offered by the sender.
    pub max_offered: usize,
    /// Bytes that arrived after the receiver closed.
    pub dropped: usize,
    /// How often the receiver took less than offered (backpressure).
    pub refusals: usize,
}

impl Link {
    pub fn new(max_chunk: usize, input: Input, seed: u64) -> Link {
        Link {
            wire: Vec::new(),
            max_chunk,
            input,
            rng: Rng(seed | 1),
            carried: 0,
            max_offered: 0,
            dropped: 0,
            refusals: 0,
        }
    }

    fn chunk(&mut self) -> usize {
        1 + self.rng.below(self.max_chunk)
    }

    /// Moves everything `from` transmits onto the wire, then as much as `to`
    /// takes. Returns whether anything moved.
    pub fn carry(&mut self, from: &mut impl Connection, to: &mut impl Connection, now: Instant) -> bool {
        let mut moved = false;
        loop {
            let mut slices: [&[u8]; 16] = [&[]; 16];
            let n = from.poll_transmit(&mut slices);
            if n == 0 {
                break;
            }
            let bytes = slices[..n].concat();
            self.max_offered = self.max_offered.max(bytes.len());
            // A transport that accepts a random part of what is offered.
            let w = (1 + self.rng.below(bytes.len())).max(bytes.len().min(self.max_chunk));
            self.wire.extend_from_slice(&bytes[..w]);
            from.advance_transmit(w);
            moved = true;
        }
        if to.is_closed() {
            // The driver closed the transport after `Closed`.
            self.dropped += self.wire.len();
            self.wire.clear();
        }
        while !self.wire.is_empty() {
            let k = self.chunk().min(self.wire.len());
            let taken = match self.input {
                Input::Copy => match to.handle_input(now, &self.wire[..k]) {
                    Ok(n) => n,
                    Err(Error::Protocol(_)) => {
                        self.wire.clear();
                        return true;
                    }
                    Err(e) => panic!("{e}"),
                },
                Input::Lent => {
                    let buf = to.input_buffer();
                    let k = k.min(buf.len());
                    buf[..k].copy_from_slice(&self.wire[..k]);
                    match to.commit_input(now, k) {
                        Ok(()) => k,
                        Err(Error::Protocol(_)) => {
                            self.wire.clear();
                            return true;
                        }
                        Err(e) => panic!("{e}"),
                    }
                }
                Input::Owned => {
                    let mut buf = to.take_input_buffer();
                    let k = k.min(buf.capacity());
                    buf.extend_from_slice(&self.wire[..k]);
                    match to.return_input_buffer(now, buf) {
                        Ok(()) => k,
                        Err(Error::Protocol(_)) => {
                            self.wire.clear();
                            return true;
                        }
                        Err(e) => panic!("{e}"),
                    }
                }
            };
            if taken < k {
                self.refusals += 1;
            }
            if taken == 0 {
                break;
            }
            self.wire.drain(..taken);
            self.carried += taken;
            moved = true;
        }
        moved
    }
}

/// Two connections and their apps, run at `now` until nothing moves.
pub struct Net {
    pub now: Instant,
    pub ab: Link,
    pub ba: Link,
}

impl Net {
    pub fn new(max_chunk: usize, input: Input, seed: u64) -> Net {
        Net {
            now: Instant::ZERO,
            ab: Link::new(max_chunk, input, seed),
            ba: Link::new(max_chunk, input, seed.wrapping_mul(7919)),
        }
    }

    pub fn simple() -> Net {
        Net::new(1 << 20, Input::Copy, 1)
    }

    pub fn run<A: Connection, B: Connection>(
        &mut self,
        a: &mut A,
        app_a: &mut impl App<A>,
        b: &mut B,
        app_b: &mut impl App<B>,
    ) {
        for _ in 0..100_000 {
            let mut moved = false;
            app_a.on_turn(a);
            app_b.on_turn(b);
            moved |= self.ab.carry(a, b, self.now);
            while let Some(e) = b.poll_event() {
                app_b.on_event(b, &e);
                moved = true;
            }
            moved |= self.ba.carry(b, a, self.now);
            while let Some(e) = a.poll_event() {
                app_a.on_event(a, &e);
                moved = true;
            }
            for due in
                [a.poll_timeout().is_some_and(|t| t <= self.now), b.poll_timeout().is_some_and(|t| t <= self.now)]
                    .into_iter()
                    .enumerate()
            {
                if due.1 {
                    if due.0 == 0 {
                        a.handle_timeout(self.now);
                    } else {
                        b.handle_timeout(self.now);
                    }
                    moved = true;
                }
            }
            if !moved {
                return;
            }
        }
        panic!("the connections never went quiet");
    }
}

/// HTTP/1.1 or HTTP/2, chosen by ALPN.
#[allow(clippy::large_enum_variant)]
pub enum Either {
    H1Server(sockless_h1::ServerConnection),
    H1Client(sockless_h1::ClientConnection),
    H2(sockless_h2::H2Connection),
}

impl Either {
    pub fn server(hs: &Handshake, now: Instant) -> Either {
        if hs.is_h2() {
            Either::H2(sockless_h2::H2Connection::server(sockless_h2::Config::server(), now))
        } else {
            Either::H1Server(sockless_h1::ServerConnection::new(sockless_h1::Config::server(), now))
        }
    }
    pub fn client(hs: &Handshake, now: Instant) -> Either {
        if hs.is_h2() {
            Either::H2(sockless_h2::H2Connection::client(sockless_h2::Config::client(), now))
        } else {
            Either::H1Client(sockless_h1::ClientConnection::new(sockless_h1::Config::client(), now))
        }
    }
    pub fn is_h2(&self) -> bool {
        matches!(self, Either::H2(_))
    }
}

macro_rules! each {
    ($self:expr, $c:ident => $e:expr) => {
        match $self {
            Either::H1Server($c) => $e,
            Either::H1Client($c) => $e,
            Either::H2($c) => $e,
        }
    };
}

impl Connection for Either {
    fn handle_input(&mut self, now: Instant, input: &[u8]) -> Result<usize, Error> {
        each!(self, c => c.handle_input(now, input))
    }
    fn handle_eof(&mut self, now: Instant) {
        each!(self, c => c.handle_eof(now))
    }
    fn input_buffer(&mut self) -> &mut [u8] {
        each!(self, c => c.input_buffer())
    }
    fn commit_input(&mut self, now: Instant, n: usize) -> Result<(), Error> {
        each!(self, c => c.commit_input(now, n))
    }
    fn take_input_buffer(&mut self) -> BytesMut {
        each!(self, c => c.take_input_buffer())
    }
    fn return_input_buffer(&mut self, now: Instant, buf: BytesMut) -> Result<(), Error> {
        each!(self, c => c.return_input_buffer(now, buf))
    }
    fn poll_transmit<'a>(&'a mut self, out: &mut [&'a [u8]]) -> usize {
        each!(self, c => c.poll_transmit(out))
    }
    fn advance_transmit(&mut self, n: usize) {
        each!(self, c => c.advance_transmit(n))
    }
    fn poll_event(&mut self) -> Option<Event> {
        each!(self, c => c.poll_event())
    }
    fn poll_timeout(&self) -> Option<Instant> {
        each!(self, c => c.poll_timeout())
    }
    fn handle_timeout(&mut self, now: Instant) {
        each!(self, c => c.handle_timeout(now))
    }
    fn send_request(&mut self, head: &RequestHead, end_stream: bool) -> Result<StreamId, Error> {
        each!(self, c => c.send_request(head, end_stream))
    }
    fn send_response(&mut self, stream: StreamId, head: &ResponseHead, end_stream: bool) -> Result<(), Error> {
        each!(self, c => c.send_response(stream, head, end_stream))
    }
    fn send_data(&mut self, stream: StreamId, data: Bytes, end_stream: bool) -> Result<usize, Error> {
        each!(self, c => c.send_data(stream, data, end_stream))
    }
    fn send_trailers(&mut self, stream: StreamId, trailers: &HeaderList) -> Result<(), Error> {
        each!(self, c => c.send_trailers(stream, trailers))
    }
    fn read_body(&mut self, stream: StreamId) -> Result<(), Error> {
        each!(self, c => c.read_body(stream))
    }
    fn release_capacity(&mut self, stream: StreamId, n: usize) -> Result<(), Error> {
        each!(self, c => c.release_capacity(stream, n))
    }
    fn reset_stream(&mut self, stream: StreamId, code: ErrorCode) -> Result<(), Error> {
        each!(self, c => c.reset_stream(stream, code))
    }
    fn ping(&mut self, now: Instant) -> Result<(), Error> {
        each!(self, c => c.ping(now))
    }
    fn shutdown(&mut self, now: Instant) {
        each!(self, c => c.shutdown(now))
    }
    fn is_closed(&self) -> bool {
        each!(self, c => c.is_closed())
    }
}

/// Streams seen in a log, in order of their heads.
pub fn streams(log: &Log) -> Vec<StreamId> {
    let mut seen = HashMap::new();
    let mut order = Vec::new();
    for e in &log.events {
        let s = match e {
            Event::Request { stream, .. } | Event::Response { stream, .. } => *stream,
            _ => continue,
        };
        if seen.insert(s, ()).is_none() {
            order.push(s);
        }
    }
    order
}
