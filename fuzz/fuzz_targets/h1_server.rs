//! Fuzzes `ServerConnection` as a driver and an application would use it:
//! hostile request bytes in, split at arbitrary points and fed through all
//! three input paths, responses of every shape out, timers and EOF.
//!
//! Input: `[flags, split, seed, request bytes...]`.
#![no_main]

#[path = "common.rs"]
mod common;

use bytes::Bytes;
use common::{drain_transmit, fire_timeout, offer, split, tight, Driven, Grammar, Rng};
use libfuzzer_sys::fuzz_target;
use sockless_core::{
    Connection, Duration, ErrorCode, Event, HeaderList, Instant, Method, RequestHead, ResponseHead, StreamId,
};
use sockless_h1::{Config, ServerConnection};

/// A response still being written.
#[derive(Debug)]
struct Open {
    stream: StreamId,
    /// Head not sent yet (waits for the request's end).
    head: Option<(ResponseHead, bool)>,
    body: Bytes,
    trailers: bool,
    /// Finish with an empty `send_data(.., true)`.
    ends: bool,
}

struct Harness {
    conn: ServerConnection,
    rng: Rng,
    now: Instant,
    wire: Vec<u8>,
    grammar: Grammar,
    open: Vec<Open>,
    partial_writes: bool,
    defer: bool,
    upgraded: bool,
}

impl Harness {
    /// Decides how to answer a request.
    fn on_request(&mut self, stream: StreamId, head: &RequestHead, expects_continue: bool) {
        let r = &mut self.rng;
        if expects_continue || r.chance(2) {
            let _ = self.conn.read_body(stream);
        }
        if r.chance(40) {
            let _ = self.conn.reset_stream(stream, ErrorCode(0));
            return;
        }
        let upgrade = head.headers.contains("upgrade");
        let body_len = r.below(80) as usize;
        let body = Bytes::from(vec![b'x'; body_len]);
        let (response, end, trailers, ends) = match r.below(9) {
            0 if upgrade => (ResponseHead::new(101).header("Upgrade", "websocket"), false, false, false),
            0 | 1 => (ResponseHead::new(200), true, false, false),
            2 => (ResponseHead::new(200).header("Content-Length", body_len.to_string()), false, false, false),
            3 => (ResponseHead::new(200), false, true, false),
            4 => (ResponseHead::new(200), false, false, true),
            5 => (ResponseHead::new(if r.chance(2) { 204 } else { 304 }), true, false, false),
            6 if head.method == Method::Connect => (ResponseHead::new(200), false, false, false),
            6 => (ResponseHead::new(404).header("Connection", "close"), true, false, false),
            7 => (ResponseHead::new(200).header("Transfer-Encoding", "chunked"), false, r.chance(2), true),
            _ => (ResponseHead::new(500).header("Content-Length", "0"), true, false, false),
        };
        if r.chance(6) {
            // An informational response first (103, or 100 if the client waits).
            let status = if expects_continue { 100 } else { 103 };
            let _ = self.conn.send_response(stream, &ResponseHead::new(status).header("Link", "</a>"), false);
        }
        let mut open = Open { stream, head: Some((response, end)), body, trailers, ends };
        if !self.defer || self.rng.chance(2) {
            self.step(&mut open);
        }
        if open.head.is_some() || !open.body.is_empty() || open.trailers || open.ends {
            self.open.push(open);
        }
    }

    /// Moves one open response forward; clears it when done or refused.
    fn step(&mut self, open: &mut Open) {
        if common::debug() {
            eprintln!("step: {open:?}");
        }
        if let Some((head, end)) = open.head.take() {
            let sent = match self.conn.send_response(open.stream, &head, end) {
                Ok(()) => true,
                // Refused (a framing this request cannot have, say CONNECT
                // with Content-Length): answer plainly instead, as an
                // application must; an unknown stream is owed nothing.
                Err(_) => {
                    let _ = self.conn.send_response(open.stream, &ResponseHead::new(500), true);
                    false
                }
            };
            if !sent || end || head.status == 101 {
                *open = Open { stream: open.stream, head: None, body: Bytes::new(), trailers: false, ends: false };
                return;
            }
            if open.body.is_empty() && !open.trailers && !open.ends {
                // A zero Content-Length still needs its end (refused as
                // `StreamEnded` when a 2xx to CONNECT switched the protocol).
                let _ = self.conn.send_data(open.stream, Bytes::new(), true);
                return;
            }
        }
        if !open.body.is_empty() {
            let last = !open.trailers && !open.ends;
            let piece = 1 + self.rng.below(open.body.len() as u64) as usize;
            let data = open.body.slice(..piece);
            let end = last && piece == open.body.len();
            match self.conn.send_data(open.stream, data, end) {
                Ok(n) => {
                    assert!(n <= piece, "send_data accepted {n} of {piece}");
                    let _ = open.body.split_to(n);
                }
                Err(_) => {
                    // Refused (no body allowed for HEAD/204/304, or too long):
                    // end the response as it stands, or abandon it.
                    open.body.clear();
                    open.trailers = false;
                    open.ends = false;
                    self.end_or_abandon(open.stream);
                }
            }
            return;
        }
        if open.trailers {
            open.trailers = false;
            open.ends = false;
            let t = HeaderList::new().with("X-Checksum", "1");
            if self.conn.send_trailers(open.stream, &t).is_err() {
                self.end_or_abandon(open.stream);
            }
        } else if open.ends {
            open.ends = false;
            self.end_or_abandon(open.stream);
        }
    }

    /// Ends a response with an empty final `send_data`; if even that is
    /// refused (a Content-Length not yet reached), abandons the stream, as an
    /// application must do to never leave an exchange hanging.
    fn end_or_abandon(&mut self, stream: StreamId) {
        if self.conn.send_data(stream, Bytes::new(), true).is_err() {
            let _ = self.conn.reset_stream(stream, ErrorCode(0));
        }
    }

    /// Progresses every open response once; returns whether any work was done.
    fn progress(&mut self) -> bool {
        fn work(o: &[Open]) -> usize {
            o.iter()
                .map(|o| usize::from(o.head.is_some()) + o.body.len() + usize::from(o.trailers) + usize::from(o.ends))
                .sum()
        }
        let mut open = std::mem::take(&mut self.open);
        let before = work(&open);
        for o in &mut open {
            self.step(o);
        }
        open.retain(|o| o.head.is_some() || !o.body.is_empty() || o.trailers || o.ends);
        let after = work(&open);
        self.open = open;
        after < before
    }

    /// The driver's order: transmit, then events (answering them), repeated
    /// until nothing moves. Returns whether anything happened.
    fn drain(&mut self) -> bool {
        let mut any = false;
        let mut stepped = false;
        for _ in 0..10_000 {
            let mut moved = drain_transmit(&mut self.conn, &mut self.wire, &mut self.rng, self.partial_writes) > 0;
            while let Some(event) = self.conn.poll_event() {
                moved = true;
                if common::debug() {
                    eprintln!("event: {event:?}");
                }
                self.grammar.event(&event);
                match event {
                    Event::Request { stream, head, expects_continue } => {
                        self.on_request(stream, &head, expects_continue)
                    }
                    Event::Upgrade { .. } => self.upgraded = true,
                    Event::Closed(_) => {
                        assert!(self.conn.is_closed());
                        assert_eq!(self.conn.poll_event(), None, "event after Closed");
                        let mut s: [&[u8]; 4] = [&[]; 4];
                        assert_eq!(self.conn.poll_transmit(&mut s), 0, "output after Closed");
                        self.open.clear();
                    }
                    _ => {}
                }
            }
            if self.grammar.closed || self.upgraded {
                self.open.clear();
            }
            // Deferred responses move one step per drain, so that more input
            // arrives while they are open; otherwise they run to completion.
            if !self.open.is_empty() && !(self.defer && stepped) {
                stepped = true;
                moved |= self.progress();
            }
            if !moved {
                check_wire(&self.wire);
                return any;
            }
            any = true;
        }
        panic!("drain never settled");
    }
}

fn check_wire(wire: &[u8]) {
    if !wire.is_empty() {
        let p = &wire[..wire.len().min(9)];
        assert!(
            b"HTTP/1.1 ".starts_with(p) || b"HTTP/1.0 ".starts_with(p),
            "output starts with {:?}",
            String::from_utf8_lossy(p)
        );
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
        self.grammar.closed || self.upgraded
    }
    fn describe(&self) -> String {
        format!("{:?} open {:?}", self.conn, self.open)
    }
}

fuzz_target!(|input: &[u8]| {
    if input.len() < 3 {
        return;
    }
    let (flags, split_seed, seed) = (input[0], input[1], input[2]);
    let data = &input[3..];
    let mut config = if flags & 1 != 0 { tight(Config::server()) } else { Config::server() };
    config.half_close = flags & 0x80 == 0;
    let mut h = Harness {
        conn: ServerConnection::new(config, Instant::ZERO),
        rng: Rng::new(u64::from(seed)),
        now: Instant::ZERO,
        wire: Vec::new(),
        grammar: Grammar::default(),
        open: Vec::new(),
        partial_writes: flags & 0x20 != 0,
        defer: flags & 0x40 != 0,
        upgraded: false,
    };
    let input_path = (flags >> 1) & 3;
    let timers = flags & 8 != 0;
    let mut failed = false;
    h.drain();
    for chunk in split(data, split_seed) {
        failed = failed || offer(&mut h, chunk, input_path);
        if timers && h.rng.chance(3) {
            h.now = h.now + Duration::from_millis(h.rng.below(3000));
            if fire_timeout(&mut h.conn, h.now) {
                h.drain();
            }
        }
    }
    // Without half-close the EOF comes while responses are still open: the
    // connection abandons them, and answering them must fail cleanly.
    if flags & 0x90 == 0x90 {
        h.conn.handle_eof(h.now);
        h.drain();
    }
    // Finish open responses, then the peer's EOF and the timers.
    for _ in 0..1000 {
        if h.open.is_empty() {
            break;
        }
        h.drain();
    }
    if flags & 0x90 == 0x10 {
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
    if h.grammar.closed {
        assert!(h.conn.handle_input(h.now, b"GET / HTTP/1.1\r\n").is_err(), "input accepted after Closed");
    }
});
