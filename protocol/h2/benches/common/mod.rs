//! What the h2 benches share: a warmed server connection and one
//! request/response cycle (HEADERS in; HEADERS and DATA out).
#![allow(dead_code)]

use sockless_core::{Bytes, Connection, Event, Instant, ResponseHead, StreamId};
use sockless_h2::frame::{self, Frame, Settings};
use sockless_h2::{Config, H2Connection};
use std::hint::black_box;

pub const NOW: Instant = Instant::from_millis(1);
pub const HELLO: &[u8] = b"Hello, World!";

/// A request field block that stays valid for every request: static-table
/// indexes and a literal `:authority` that is not indexed.
pub const BLOCK: &[u8] = b"\x82\x87\x84\x01\x0elocalhost:8080";

pub fn hello_head() -> ResponseHead {
    ResponseHead::new(200).header("content-type", "text/plain").header("content-length", "13")
}

/// A server past the preface and settings exchange.
pub struct Bench {
    pub conn: H2Connection,
    next: u32,
    input: Vec<u8>,
    since_update: u32,
}

impl Bench {
    pub fn new() -> Bench {
        let mut conn = H2Connection::server(Config::server(), NOW);
        let mut hello = frame::PREFACE.to_vec();
        Frame::Settings(Settings::default()).encode(&mut hello);
        Frame::SettingsAck.encode(&mut hello);
        conn.handle_input(NOW, &hello).unwrap();
        drain(&mut conn);
        while conn.poll_event().is_some() {}
        Bench { conn, next: 1, input: Vec::with_capacity(256), since_update: 0 }
    }

    /// One cycle; returns the response bytes written and in how many slices.
    #[inline]
    pub fn cycle(&mut self, head: &ResponseHead) -> (usize, usize) {
        self.input.clear();
        let stream = StreamId::new(self.next);
        self.next += 2;
        frame::Head { len: BLOCK.len() as u32, kind: frame::kind::HEADERS, flags: 0x5, stream }.encode(&mut self.input);
        self.input.extend_from_slice(BLOCK);
        self.since_update += 1;
        if self.since_update == 1000 {
            // The client returns the connection window it was sent.
            let w = frame::WindowUpdate { stream: StreamId::CONNECTION, increment: 13 * 1000 };
            Frame::WindowUpdate(w).encode(&mut self.input);
            self.since_update = 0;
        }
        self.conn.handle_input(NOW, &self.input).unwrap();
        while let Some(event) = self.conn.poll_event() {
            match event {
                Event::Request { head: req, .. } => {
                    black_box((&req.method, &req.target));
                }
                Event::EndStream { stream } => {
                    self.conn.send_response(stream, head, false).unwrap();
                    self.conn.send_data(stream, Bytes::from_static(HELLO), true).unwrap();
                }
                other => panic!("unexpected {other:?}"),
            }
        }
        let mut slices: [&[u8]; 8] = [&[]; 8];
        let n = self.conn.poll_transmit(&mut slices);
        let written: usize = slices[..n].iter().map(|s| s.len()).sum();
        black_box(&slices[..n]);
        self.conn.advance_transmit(written);
        (written, n)
    }
}

fn drain(conn: &mut H2Connection) {
    loop {
        let mut slices: [&[u8]; 8] = [&[]; 8];
        let n = conn.poll_transmit(&mut slices);
        if n == 0 {
            return;
        }
        let k: usize = slices[..n].iter().map(|s| s.len()).sum();
        conn.advance_transmit(k);
    }
}
