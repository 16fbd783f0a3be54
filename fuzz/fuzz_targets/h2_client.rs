//! Fuzzes `sockless_h2::H2Connection::client`: a few requests go out at
//! once (GET, POST with a streamed body, POST with trailers), more as
//! streams finish; the fuzz bytes are the server's, split at arbitrary
//! points and fed through all three input paths; every `Data` is released,
//! output drained, timers fired, EOF at the end.
//!
//! Input: `[flags, split, seed, server bytes...]` (the server's side starts
//! with its SETTINGS frame; there is no server preface beyond that).
#![no_main]

#[path = "common.rs"]
mod common;
#[path = "h2_common.rs"]
mod h2_common;

use bytes::Bytes;
use common::{drain_transmit, fire_timeout, offer, split, Driven, Grammar, Rng};
use h2_common::{tight, WireCheck};
use libfuzzer_sys::fuzz_target;
use sockless_core::{Connection, Duration, ErrorCode, Event, HeaderList, Instant, Method, RequestHead, StreamId};
use sockless_h2::{Config, H2Connection};

/// A request body still being written.
#[derive(Debug)]
struct Open {
    stream: StreamId,
    body: Bytes,
    trailers: bool,
}

struct Harness {
    conn: H2Connection,
    rng: Rng,
    now: Instant,
    wire: WireCheck,
    grammar: Grammar,
    open: Vec<Open>,
    partial_writes: bool,
    defer: bool,
    sent: usize,
}

impl Harness {
    /// Sends request number `self.sent` if the connection takes one.
    fn request(&mut self) {
        if self.sent >= 12 {
            return;
        }
        let ready = self.conn.is_ready();
        let kind = self.rng.below(4);
        let (head, body, trailers) = match kind {
            0 => (RequestHead::new(Method::Get, "https://example.com/a").header("user-agent", "fuzz"), 0, false),
            1 => (RequestHead::new(Method::Post, "https://example.com/upload"), 1 + self.rng.below(300), false),
            2 => (RequestHead::new(Method::Put, "/b").header("host", "example.com"), 1 + self.rng.below(100), true),
            _ => (RequestHead::new(Method::Head, "https://example.com/").header("Accept", "*/*"), 0, false),
        };
        let end = body == 0 && !trailers;
        match self.conn.send_request(&head, end) {
            Ok(stream) => {
                assert_eq!(stream.get(), 2 * self.sent as u32 + 1, "stream ids in order");
                self.sent += 1;
                if !end {
                    let mut o = Open { stream, body: Bytes::from(vec![b'y'; body as usize]), trailers };
                    if !self.defer || self.rng.chance(2) {
                        self.step(&mut o);
                    }
                    if !o.body.is_empty() || o.trailers {
                        self.open.push(o);
                    }
                }
            }
            Err(e) => assert!(!ready, "send_request refused while is_ready(): {e:?}"),
        }
    }

    fn step(&mut self, o: &mut Open) {
        if self.rng.chance(50) {
            let _ = self.conn.reset_stream(o.stream, ErrorCode::CANCEL);
            o.body.clear();
            o.trailers = false;
            return;
        }
        if !o.body.is_empty() {
            let piece = 1 + self.rng.below(o.body.len() as u64) as usize;
            let end = !o.trailers && piece == o.body.len();
            match self.conn.send_data(o.stream, o.body.slice(..piece), end) {
                Ok(n) => {
                    assert!(n <= piece);
                    let _ = o.body.split_to(n);
                }
                Err(_) => {
                    o.body.clear();
                    o.trailers = false;
                }
            }
            return;
        }
        if o.trailers {
            o.trailers = false;
            let _ = self.conn.send_trailers(o.stream, &HeaderList::new().with("x-sum", "7"));
        }
    }

    fn progress(&mut self) -> bool {
        let work = |o: &[Open]| o.iter().map(|o| o.body.len() + usize::from(o.trailers)).sum::<usize>();
        let mut open = std::mem::take(&mut self.open);
        let before = work(&open);
        for o in &mut open {
            self.step(o);
        }
        open.retain(|o| !o.body.is_empty() || o.trailers);
        let after = work(&open);
        self.open = open;
        after < before
    }

    fn drain(&mut self) -> bool {
        let mut any = false;
        let mut stepped = false;
        for _ in 0..10_000 {
            let mut out = Vec::new();
            let mut moved = drain_transmit(&mut self.conn, &mut out, &mut self.rng, self.partial_writes) > 0;
            self.wire.push(&out);
            while let Some(event) = self.conn.poll_event() {
                moved = true;
                if common::debug() {
                    eprintln!("event: {event:?}");
                }
                self.grammar.event(&event);
                match event {
                    Event::Response { stream, .. } | Event::Informational { stream, .. } => {
                        assert!(stream.get() % 2 == 1 && stream.get() < 2 * self.sent as u32 + 1, "{stream:?}");
                    }
                    Event::Data { stream, data } => {
                        self.conn.release_capacity(stream, data.len()).expect("release_capacity");
                    }
                    Event::EndStream { stream } | Event::Reset { stream, .. } => {
                        if matches!(event, Event::Reset { .. }) {
                            self.open.retain(|o| o.stream != stream);
                        }
                        if self.rng.chance(2) {
                            self.request();
                        }
                    }
                    Event::Request { .. } | Event::Upgrade { .. } => panic!("client got {event:?}"),
                    Event::Closed(_) => {
                        assert!(self.conn.is_closed());
                        assert_eq!(self.conn.poll_event(), None, "event after Closed");
                        let mut s: [&[u8]; 4] = [&[]; 4];
                        assert_eq!(self.conn.poll_transmit(&mut s), 0, "output after Closed");
                        assert_eq!(self.conn.poll_timeout(), None, "timer after Closed");
                        assert!(!self.conn.is_ready());
                        self.open.clear();
                    }
                    _ => {}
                }
            }
            if !self.open.is_empty() && !(self.defer && stepped) {
                stepped = true;
                moved |= self.progress();
            }
            if !moved {
                return any;
            }
            any = true;
        }
        panic!("drain never settled");
    }
}

impl Driven for Harness {
    type Conn = H2Connection;
    fn parts(&mut self) -> (&mut H2Connection, Instant, &mut Rng) {
        (&mut self.conn, self.now, &mut self.rng)
    }
    fn drain(&mut self) -> bool {
        Harness::drain(self)
    }
    fn stopped(&self) -> bool {
        self.grammar.closed
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
    let config = if flags & 1 != 0 { tight(Config::client()) } else { Config::client() };
    let mut h = Harness {
        conn: H2Connection::client(config, Instant::ZERO),
        rng: Rng::new(u64::from(seed)),
        now: Instant::ZERO,
        wire: WireCheck::new(false),
        grammar: Grammar::default(),
        open: Vec::new(),
        partial_writes: flags & 0x20 != 0,
        defer: flags & 0x10 != 0,
        sent: 0,
    };
    for _ in 0..2 + seed % 3 {
        h.request();
    }
    assert!(h.sent >= 2, "the first requests were refused");
    let input_path = (flags >> 1) & 3;
    let timers = flags & 8 != 0;
    let mut failed = false;
    h.drain();
    let chunks = split(data, split_seed);
    let half = chunks.len() / 2;
    for (i, chunk) in chunks.into_iter().enumerate() {
        if i == half && !h.grammar.closed {
            if flags & 0x40 != 0 {
                h.conn.shutdown(h.now);
                h.drain();
            }
            if flags & 0x80 != 0 && !failed {
                let _ = h.conn.ping(h.now);
                h.drain();
            }
        }
        failed = failed || offer(&mut h, chunk, input_path);
        if failed {
            assert!(h.conn.handle_input(h.now, b"\0").is_err(), "input accepted after a connection error");
            assert!(!h.conn.is_ready(), "ready after a connection error");
        }
        if timers && h.rng.chance(3) {
            h.now = h.now + Duration::from_millis(h.rng.below(3000));
            if fire_timeout(&mut h.conn, h.now) {
                h.drain();
            }
        }
    }
    for _ in 0..100 {
        if h.open.is_empty() || !h.drain() {
            break;
        }
    }
    if timers {
        for _ in 0..8 {
            let Some(t) = h.conn.poll_timeout() else { break };
            h.now = h.now.max(t);
            fire_timeout(&mut h.conn, h.now);
            h.drain();
        }
    }
    h.conn.handle_eof(h.now);
    h.drain();
    assert!(h.grammar.closed, "no Closed after EOF with all output written: {:?}", h.conn);
    assert!(h.conn.handle_input(h.now, b"\0").is_err(), "input accepted after Closed");
});
