//! Fuzzes `sockless_http::ServerConnection::cleartext`, the auto-selecting
//! server: protocol detection (preface, first line, invalid prefaces) and
//! the h2c Upgrade (its request held while its body arrives within the
//! event cap, then HTTP/2 with the bytes behind it).
//!
//! Input: `[flags, split, seed, bytes...]`. `flags & 3` picks what comes
//! before the fuzz bytes: nothing, an `Upgrade: h2c` request with a chunked
//! body (the fuzz bytes are its chunks and whatever follows), an `Upgrade:
//! h2c` request without a body followed by the HTTP/2 preface and an empty
//! SETTINGS, or the preface and SETTINGS (prior knowledge). Bit 2: tight
//! HTTP/1.1 limits; bits 3-4: input path (3 = random per call); bit 5:
//! partial writes; bit 6: timers; bit 7: EOF at the end.
//!
//! Asserts: no panic, no stack overflow; `handle_input` takes no more than
//! offered; per-stream event grammar; nothing after `Closed`; no timer due
//! again after `handle_timeout(now)`; liveness (an offer that takes nothing
//! while nothing moves is a wedge); the first output is HTTP/1.1 or an
//! HTTP/2 frame, never anything else.
#![no_main]

#[path = "common.rs"]
mod common;

use bytes::Bytes;
use common::{drain_transmit, fire_timeout, offer, split, tight, Driven, Grammar, Rng};
use libfuzzer_sys::fuzz_target;
use sockless_core::{Connection, Duration, Event, Instant, ResponseHead, StreamId};
use sockless_http::{Protocol, ServerConfig, ServerConnection};

const UPGRADE_HEAD: &[u8] = b"POST /up HTTP/1.1\r\nHost: a\r\nConnection: Upgrade, HTTP2-Settings\r\n\
Upgrade: h2c\r\nHTTP2-Settings: AAMAAABkAAQAAP__\r\n";
const PREFACE_AND_SETTINGS: &[u8] = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n\0\0\0\x04\0\0\0\0\0";

struct Harness {
    conn: ServerConnection,
    rng: Rng,
    now: Instant,
    wire: Vec<u8>,
    grammar: Grammar,
    partial_writes: bool,
    /// Streams whose request ended and that still owe a response.
    owed: Vec<StreamId>,
    /// HTTP/2 took over: its stream ids start again at 1.
    http2: bool,
    /// Response bodies not yet taken by `send_data`.
    sending: Vec<(StreamId, Bytes)>,
}

impl Harness {
    fn drain(&mut self) -> bool {
        let mut any = false;
        for _ in 0..10_000 {
            let mut moved = drain_transmit(&mut self.conn, &mut self.wire, &mut self.rng, self.partial_writes) > 0;
            while let Some(event) = self.conn.poll_event() {
                moved = true;
                if common::debug() {
                    eprintln!("event: {event:?}");
                }
                if !self.http2 && self.conn.protocol() == Some(Protocol::Http2) {
                    self.http2 = true;
                    self.grammar = Grammar::default();
                }
                self.grammar.event(&event);
                match event {
                    Event::Request { stream, .. } => {
                        let _ = self.conn.read_body(stream);
                    }
                    Event::Data { stream, data } => {
                        let _ = self.conn.release_capacity(stream, data.len());
                    }
                    Event::EndStream { stream } => self.owed.push(stream),
                    Event::Closed(_) => {
                        assert!(self.conn.is_closed());
                        assert_eq!(self.conn.poll_event(), None, "event after Closed");
                        let mut s: [&[u8]; 4] = [&[]; 4];
                        assert_eq!(self.conn.poll_transmit(&mut s), 0, "output after Closed");
                    }
                    _ => {}
                }
            }
            for stream in std::mem::take(&mut self.owed) {
                if self.conn.send_response(stream, &ResponseHead::new(200), false).is_ok() {
                    self.sending.push((stream, Bytes::from_static(b"ok")));
                }
                moved = true;
            }
            // Bodies go out as far as the send buffer takes them; the rest
            // is offered again, as an application does.
            for (stream, mut rest) in std::mem::take(&mut self.sending) {
                match self.conn.send_data(stream, rest.clone(), true) {
                    Ok(n) if n == rest.len() => moved = true,
                    Ok(n) => {
                        moved |= n > 0;
                        let _ = rest.split_to(n);
                        self.sending.push((stream, rest));
                    }
                    Err(_) => {
                        let _ = self.conn.reset_stream(stream, sockless_core::ErrorCode(0));
                        moved = true;
                    }
                }
            }
            // Polling may queue output without an event (the 101 of an
            // upgrade it absorbed): a driver writes after events too.
            moved |= drain_transmit(&mut self.conn, &mut self.wire, &mut self.rng, self.partial_writes) > 0;
            if !moved {
                check_wire(&self.wire);
                return any;
            }
            any = true;
        }
        panic!("drain never settled");
    }
}

/// The server speaks first only as HTTP/1.1 (a response) or HTTP/2 (its
/// SETTINGS frame: length, type 4, flags 0, stream 0).
fn check_wire(wire: &[u8]) {
    if wire.len() >= 9 {
        let http1 = wire.starts_with(b"HTTP/1.1 ") || wire.starts_with(b"HTTP/1.0 ");
        let settings = wire[3] == 4 && wire[4] == 0 && wire[5..9] == [0, 0, 0, 0];
        assert!(http1 || settings, "output starts with {:?}", String::from_utf8_lossy(&wire[..9]));
    }
}

impl Driven for Harness {
    type Conn = ServerConnection;
    fn parts(&mut self) -> (&mut ServerConnection, Instant, &mut Rng) {
        (&mut self.conn, self.now, &mut self.rng)
    }
    fn drain(&mut self) -> bool {
        Harness::drain(self)
    }
    fn stopped(&self) -> bool {
        self.grammar.closed
    }
    fn describe(&self) -> String {
        format!("protocol {:?}, closed {}", self.conn.protocol(), self.conn.is_closed())
    }
}

fuzz_target!(|input: &[u8]| {
    if input.len() < 3 {
        return;
    }
    let (flags, split_seed, seed) = (input[0], input[1], input[2]);
    let mut data = match flags & 3 {
        0 => Vec::new(),
        1 => [UPGRADE_HEAD, b"Transfer-Encoding: chunked\r\n\r\n"].concat(),
        2 => [UPGRADE_HEAD, b"\r\n", PREFACE_AND_SETTINGS].concat(),
        _ => PREFACE_AND_SETTINGS.to_vec(),
    };
    data.extend_from_slice(&input[3..]);
    let mut config = ServerConfig::default();
    if flags & 4 != 0 {
        config.h1 = tight(config.h1);
    }
    let mut h = Harness {
        conn: ServerConnection::cleartext(config, Instant::ZERO),
        rng: Rng::new(u64::from(seed)),
        now: Instant::ZERO,
        wire: Vec::new(),
        grammar: Grammar::default(),
        partial_writes: flags & 0x20 != 0,
        owed: Vec::new(),
        http2: false,
        sending: Vec::new(),
    };
    let input_path = (flags >> 3) & 3;
    let timers = flags & 0x40 != 0;
    h.drain();
    for chunk in split(&data, split_seed) {
        if offer(&mut h, chunk, input_path) {
            break;
        }
        if timers && h.rng.chance(3) {
            h.now = h.now + Duration::from_millis(h.rng.below(3000));
            if fire_timeout(&mut h.conn, h.now) {
                h.drain();
            }
        }
    }
    if common::debug() {
        eprintln!("wire: {:?}", String::from_utf8_lossy(&h.wire));
    }
    if flags & 0x80 != 0 {
        h.conn.handle_eof(h.now);
        h.drain();
    }
    if timers {
        for _ in 0..8 {
            let Some(t) = h.conn.poll_timeout() else { break };
            h.now = h.now.max(t);
            fire_timeout(&mut h.conn, h.now);
            h.drain();
        }
    }
});
