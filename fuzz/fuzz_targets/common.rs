//! Shared helpers of the fuzz targets: a tiny deterministic PRNG, input
//! splitting patterns, limits and the transmit drain.
#![allow(dead_code)]

use sockless_core::{Connection, Duration, Event, Instant};
use sockless_h1::Config;

/// xorshift64*: deterministic choices from a seed taken from the input.
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Self {
        Rng(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1)
    }
    pub fn next(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.0 = x;
        x.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    /// A number in `0..n` (`n > 0`).
    pub fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
    pub fn chance(&mut self, one_in: u64) -> bool {
        self.below(one_in) == 0
    }
}

/// Splits `data` into chunks following a pattern chosen by `seed`:
/// whole, byte by byte, fixed size, or pseudo-random sizes.
pub fn split(data: &[u8], seed: u8) -> Vec<&[u8]> {
    let mut out = Vec::new();
    if data.is_empty() {
        return out;
    }
    match seed & 3 {
        0 => out.push(data),
        1 => out.extend(data.chunks(1)),
        2 => out.extend(data.chunks(usize::from(seed >> 2) + 1)),
        _ => {
            let mut rng = Rng::new(u64::from(seed));
            let max = u64::from(seed >> 2) + 2;
            let mut rest = data;
            while !rest.is_empty() {
                let n = (rng.below(max) as usize + 1).min(rest.len());
                out.push(&rest[..n]);
                rest = &rest[n..];
            }
        }
    }
    out
}

/// Small limits so that every limit is reachable by short inputs.
pub fn tight(mut config: Config) -> Config {
    config.max_head_bytes = 200;
    config.max_headers = 6;
    config.max_target_len = 40;
    if config.max_body_bytes.is_some() {
        config.max_body_bytes = Some(100);
    }
    config.max_chunk_ext_bytes = 16;
    config.max_trailer_bytes = 48;
    config.max_pipelined = 2;
    config.max_buffered_input = 240;
    config.max_buffered_events = 24;
    config.max_send_buffer = 48;
    config.read_size = 16;
    if config.header_read_timeout.is_some() {
        config.header_read_timeout = Some(Duration::from_millis(1500));
        config.idle_timeout = Some(Duration::from_millis(2500));
    }
    config.body_timeout = Some(Duration::from_millis(1200));
    config.continue_timeout = Duration::from_millis(700);
    config
}

/// Input via one of the three input paths. Returns `Ok(n)` accepted or the
/// error of the call. Never offers the connection more than its buffers say.
pub fn feed<C: Connection>(conn: &mut C, now: Instant, chunk: &[u8], how: u64) -> Result<usize, sockless_core::Error> {
    match how % 3 {
        0 => {
            let n = conn.handle_input(now, chunk)?;
            assert!(n <= chunk.len(), "handle_input took {n} of {} bytes", chunk.len());
            Ok(n)
        }
        1 => {
            let buf = conn.input_buffer();
            if buf.is_empty() {
                // Nothing wanted now (or closed): say so the way a driver learns it.
                return conn.handle_input(now, &[]).map(|_| 0);
            }
            let n = buf.len().min(chunk.len());
            buf[..n].copy_from_slice(&chunk[..n]);
            conn.commit_input(now, n)?;
            Ok(n)
        }
        _ => {
            let mut buf = conn.take_input_buffer();
            assert!(buf.is_empty(), "take_input_buffer returned {} bytes", buf.len());
            let room = buf.capacity() - buf.len();
            let n = room.min(chunk.len());
            buf.extend_from_slice(&chunk[..n]);
            conn.return_input_buffer(now, buf)?;
            Ok(n)
        }
    }
}

/// A harness as [`offer`] sees it: the connection it drives, and the
/// application's side (answering events, writing output).
pub trait Driven {
    type Conn: Connection;
    /// The connection, the harness's clock and its randomness.
    fn parts(&mut self) -> (&mut Self::Conn, Instant, &mut Rng);
    /// Answers every event and writes all output; whether anything moved.
    fn drain(&mut self) -> bool;
    /// No more input goes in (the connection closed, or switched protocol).
    fn stopped(&self) -> bool;
    /// What a liveness failure prints.
    fn describe(&self) -> String;
}

/// Offers `chunk` through the input path `input_path` names (3: a random
/// path per call), draining after every call, until all of it is taken or
/// the harness stopped. Returns `true` if an input call failed (errors are
/// sticky: the caller offers nothing more). Liveness: with every event
/// answered and all output written, an offer that takes 0 bytes and moves
/// nothing is a wedge (asserted).
pub fn offer<H: Driven>(h: &mut H, chunk: &[u8], input_path: u8) -> bool {
    let mut rest = chunk;
    let mut stalls = 0;
    while !rest.is_empty() && !h.stopped() {
        let (conn, now, rng) = h.parts();
        let how = if input_path == 3 { rng.below(3) } else { u64::from(input_path) };
        let took = match feed(conn, now, rest, how) {
            Ok(n) => n,
            Err(_) => {
                h.drain();
                return true;
            }
        };
        rest = &rest[took..];
        let moved = h.drain();
        if !rest.is_empty() && took == 0 && !moved && !h.stopped() {
            stalls += 1;
            assert!(stalls < 4, "stalled with {} bytes offered: {}", rest.len(), h.describe());
        } else {
            stalls = 0;
        }
    }
    false
}

/// Everything queued for transmission, marked as written (sometimes in
/// partial writes). Appends to `wire`; returns the number of bytes.
pub fn drain_transmit<C: Connection>(conn: &mut C, wire: &mut Vec<u8>, rng: &mut Rng, partial: bool) -> usize {
    let mut total = 0;
    for _ in 0..100_000 {
        let mut slices: [&[u8]; 8] = [&[]; 8];
        let n = conn.poll_transmit(&mut slices);
        if n == 0 {
            return total;
        }
        let len: usize = slices[..n].iter().map(|s| s.len()).sum();
        assert!(len > 0, "poll_transmit offered {n} slices but no bytes");
        let write = if partial { (rng.below(len as u64) as usize + 1).min(len) } else { len };
        let mut left = write;
        for s in &slices[..n] {
            let k = s.len().min(left);
            wire.extend_from_slice(&s[..k]);
            left -= k;
            if left == 0 {
                break;
            }
        }
        conn.advance_transmit(write);
        total += write;
    }
    panic!("poll_transmit never ran dry");
}

/// Time after `handle_timeout(now)`: the connection must not ask for a
/// timeout at or before `now` again (a driver would spin).
pub fn fire_timeout<C: Connection>(conn: &mut C, now: Instant) -> bool {
    match conn.poll_timeout() {
        Some(t) if t <= now => {
            conn.handle_timeout(now);
            if let Some(t2) = conn.poll_timeout() {
                assert!(t2 > now, "poll_timeout {t2:?} still due after handle_timeout({now:?})");
            }
            true
        }
        _ => false,
    }
}

/// Tracks the per-stream event grammar: head, Data*, Trailers?, EndStream.
#[derive(Default)]
pub struct Grammar {
    /// Current stream and its phase: 1 head seen, 2 trailers seen, 3 ended.
    streams: std::collections::BTreeMap<u32, u8>,
    last_stream: u32,
    pub closed: bool,
}

impl Grammar {
    pub fn event(&mut self, event: &Event) {
        assert!(!self.closed, "event after Closed: {event:?}");
        match event {
            Event::Request { stream, .. } => {
                let s = stream.get();
                assert!(s > self.last_stream, "stream {s} after {}", self.last_stream);
                self.last_stream = s;
                self.streams.insert(s, 1);
            }
            Event::Response { stream, .. } => {
                let phase = self.streams.entry(stream.get()).or_insert(0);
                assert_eq!(*phase, 0, "second final response on {stream:?}");
                *phase = 1;
            }
            Event::Informational { stream, head } => {
                assert!(head.is_informational() && head.status != 101, "{head:?}");
                let phase = self.streams.entry(stream.get()).or_insert(0);
                assert_eq!(*phase, 0, "1xx after the final response on {stream:?}");
            }
            Event::Data { stream, data } => {
                assert!(!data.is_empty(), "empty Data event on {stream:?}");
                let phase = self.streams.get(&stream.get()).copied().unwrap_or(0);
                assert_eq!(phase, 1, "Data in phase {phase} on {stream:?}");
            }
            Event::Trailers { stream, .. } => {
                let phase = self.streams.get_mut(&stream.get()).expect("trailers on an unknown stream");
                assert_eq!(*phase, 1, "Trailers in phase {phase} on {stream:?}");
                *phase = 2;
            }
            Event::EndStream { stream } => {
                let phase = self.streams.get_mut(&stream.get()).expect("EndStream on an unknown stream");
                assert!(*phase == 1 || *phase == 2, "EndStream in phase {phase} on {stream:?}");
                *phase = 3;
            }
            Event::Closed(_) => self.closed = true,
            _ => {}
        }
    }
}

/// Whether `FUZZ_DEBUG` is set: the targets then print events and steps.
pub fn debug() -> bool {
    static DEBUG: std::sync::OnceLock<bool> = std::sync::OnceLock::new();
    *DEBUG.get_or_init(|| std::env::var_os("FUZZ_DEBUG").is_some())
}
