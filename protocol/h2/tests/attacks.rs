//! HTTP/2 under attack: one test per known attack and per flood limit of [`Config`].
//!
//! Each test plays a hostile peer: it writes the attack's bytes with the frame encoders
//! (after the client preface and a SETTINGS frame), feeds them to an [`H2Connection`] the way
//! a driver would, decodes what the connection transmits, and asserts the answer (GOAWAY or
//! RST_STREAM code, the `Event::Error` and `Event::Closed`) and that the heap memory the
//! connection and the feeding loop hold at their peak stays under a bound derived from the
//! configuration, measured with a counting global allocator (per thread, so the test harness
//! may run tests in parallel).

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::collections::BTreeMap;

use bytes::{Bytes, BytesMut};
use sockless_core::{
    Answer, CloseReason, Connection, Duration, Error, ErrorCode, Event, Instant, Method, ProtocolError,
    ProtocolErrorKind as Kind, RequestHead, ResponseHead, StreamId,
};
use sockless_h2::frame::{self, Frame, FrameDecoder, Settings};
use sockless_h2::hpack::integer::encode_integer;
use sockless_h2::hpack::{Decoder, DecoderError};
use sockless_h2::{Config, H2Connection};

// ---------------------------------------------------------------------------------------------
// Counting allocator: live bytes and their peak, per thread.

struct Counting;

thread_local! {
    static LIVE: Cell<isize> = const { Cell::new(0) };
    static PEAK: Cell<isize> = const { Cell::new(0) };
}

fn count(delta: isize) {
    // `try_with`: allocations during thread teardown are simply not counted.
    let _ = LIVE.try_with(|live| {
        let v = live.get() + delta;
        live.set(v);
        let _ = PEAK.try_with(|p| p.set(p.get().max(v)));
    });
}

// SAFETY: every method forwards to `System` with the caller's arguments unchanged, so the
// `GlobalAlloc` contract is exactly the system allocator's. The bookkeeping touches only
// const-initialised thread-locals without destructors, which never allocate.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        // SAFETY: same contract as the caller's.
        let p = unsafe { System.alloc(layout) };
        if !p.is_null() {
            count(layout.size() as isize);
        }
        p
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        // SAFETY: same contract as the caller's.
        let p = unsafe { System.alloc_zeroed(layout) };
        if !p.is_null() {
            count(layout.size() as isize);
        }
        p
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: same contract as the caller's.
        unsafe { System.dealloc(ptr, layout) };
        count(-(layout.size() as isize));
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        // SAFETY: same contract as the caller's.
        let p = unsafe { System.realloc(ptr, layout, new_size) };
        if !p.is_null() {
            count(new_size as isize - layout.size() as isize);
        }
        p
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

/// Runs `f` and returns its result and the most heap bytes it held live at once.
fn peak_during<R>(f: impl FnOnce() -> R) -> (R, usize) {
    let start = LIVE.with(Cell::get);
    PEAK.with(|p| p.set(start));
    let r = f();
    let peak = PEAK.with(Cell::get) - start;
    (r, peak.max(0) as usize)
}

/// The memory a connection may hold under any input: a few times its input buffer, output
/// cap and field-block cap, plus HPACK tables, one decoded header list, and fixed overhead.
fn bound(c: &Config) -> usize {
    4 * (c.max_buffered_input + c.max_send_buffer + c.max_header_block)
        + 2 * (c.header_table_size as usize + c.max_header_list_size as usize)
        + 128 * 1024
}

fn assert_bounded(what: &str, peak: usize, c: &Config) {
    let b = bound(c);
    eprintln!("{what}: peak {peak} bytes, bound {b}");
    assert!(peak < b, "{what}: peak heap {peak} bytes over the bound {b}");
}

// ---------------------------------------------------------------------------------------------
// The hostile peer.

const CHUNK: usize = 16 * 1024;

/// Attacker bytes for a request on `stream`: `:method GET`, `:scheme https`, `:path /`, all
/// from the static table, so the block is the same whatever came before.
const GET: &[u8] = &[0x82, 0x87, 0x84];

fn frame_bytes(f: Frame, out: &mut Vec<u8>) {
    f.encode(out);
}

fn headers(stream: u32, block: &[u8], end_stream: bool, out: &mut Vec<u8>) {
    let h = frame::Headers { end_stream, ..frame::Headers::new(StreamId::new(stream), Bytes::copy_from_slice(block)) };
    frame_bytes(Frame::Headers(h), out);
}

fn data(stream: u32, bytes: &[u8], end_stream: bool, out: &mut Vec<u8>) {
    let d = frame::Data { stream: StreamId::new(stream), data: Bytes::copy_from_slice(bytes), end_stream, pad: None };
    frame_bytes(Frame::Data(d), out);
}

fn rst(stream: u32, code: ErrorCode, out: &mut Vec<u8>) {
    frame_bytes(Frame::RstStream(frame::RstStream { stream: StreamId::new(stream), code }), out);
}

fn window_update(stream: u32, increment: u32, out: &mut Vec<u8>) {
    frame_bytes(Frame::WindowUpdate(frame::WindowUpdate { stream: StreamId::new(stream), increment }), out);
}

fn ping(out: &mut Vec<u8>) {
    frame_bytes(Frame::Ping(frame::Ping { ack: false, payload: *b"attack!!" }), out);
}

/// What the connection transmitted, summed up (keeping every frame would itself be unbounded).
#[derive(Debug, Default)]
struct Seen {
    frames: usize,
    bytes: usize,
    goaway: Option<(u32, ErrorCode)>,
    rst: BTreeMap<u32, usize>,
    last_rst: Option<(u32, ErrorCode)>,
    statuses: Vec<(u32, u16)>,
    ping_acks: usize,
    pings: usize,
    settings_acks: usize,
    data_bytes: usize,
    data_frames: usize,
    conn_credit: u64,
    frames_after_goaway: usize,
}

impl Seen {
    fn rst_count(&self, code: ErrorCode) -> usize {
        self.rst.get(&code.0).copied().unwrap_or(0)
    }
}

/// What the connection reported, summed up.
#[derive(Debug, Default)]
struct Reported {
    errors: Vec<ProtocolError>,
    requests: usize,
    resets: usize,
    data_bytes: usize,
    closed: Option<CloseReason>,
    after_closed: usize,
}

/// How a feeding run ended.
#[derive(Debug, PartialEq)]
enum Outcome {
    /// Every generated byte was taken.
    AllTaken,
    /// `handle_input` took nothing (0) while we were not reading the output.
    Stalled,
    /// `handle_input` returned an error.
    Failed(Error),
}

struct Peer {
    conn: H2Connection,
    now: Instant,
    rx: BytesMut,
    frames: FrameDecoder,
    hpack: Decoder,
    skip: usize,
    seen: Seen,
    reported: Reported,
    pending: Vec<u8>,
    /// Frames generated by the last `attack`.
    generated: usize,
}

impl Peer {
    /// A server under attack; the client preface and `settings` (plus an ACK of the server's
    /// SETTINGS when `ack`) are fed at once.
    fn server(config: Config, settings: Settings, ack: bool) -> Peer {
        let conn = H2Connection::server(config, Instant::ZERO);
        let mut p = Peer::wrap(conn, 0);
        let mut hello = frame::PREFACE.to_vec();
        Frame::Settings(settings).encode(&mut hello);
        if ack {
            Frame::SettingsAck.encode(&mut hello);
        }
        p.feed(&hello).unwrap();
        p.drain();
        p
    }

    /// A client under attack by a server, with one request (stream 1) in flight.
    fn client(config: Config, settings: Settings) -> Peer {
        let conn = H2Connection::client(config, Instant::ZERO);
        let mut p = Peer::wrap(conn, frame::PREFACE.len());
        let head = RequestHead::new(Method::Get, "https://example.com/");
        assert_eq!(p.conn.send_request(&head, true).unwrap(), StreamId::new(1));
        let mut hello = Vec::new();
        Frame::Settings(settings).encode(&mut hello);
        Frame::SettingsAck.encode(&mut hello);
        p.feed(&hello).unwrap();
        p.drain();
        p
    }

    fn wrap(conn: H2Connection, skip: usize) -> Peer {
        let mut frames = FrameDecoder::new();
        frames.set_max_frame_size(frame::MAX_PAYLOAD_LEN);
        Peer {
            conn,
            now: Instant::ZERO,
            rx: BytesMut::with_capacity(64 * 1024),
            frames,
            hpack: Decoder::new(4096),
            skip,
            seen: Seen::default(),
            reported: Reported::default(),
            pending: Vec::with_capacity(2 * CHUNK),
            generated: 0,
        }
    }

    /// Feeds `bytes` whole (draining output in between), as a driver with a reading peer would.
    fn feed(&mut self, mut bytes: &[u8]) -> Result<(), Error> {
        let mut stuck = 0;
        while !bytes.is_empty() {
            let n = self.conn.handle_input(self.now, bytes)?;
            bytes = &bytes[n..];
            self.drain();
            stuck = if n == 0 { stuck + 1 } else { 0 };
            assert!(stuck < 3, "input not taken although the output was read");
        }
        Ok(())
    }

    /// Feeds up to `n` frames made by `gen(i, buf)`, `CHUNK` bytes at a time. With `read`,
    /// the output is read and events taken after every call, as a driver would; without,
    /// neither is (a peer that floods while not reading), and the run stops when the
    /// connection takes nothing more.
    fn attack(&mut self, n: usize, read: bool, mut gen: impl FnMut(usize, &mut Vec<u8>)) -> Outcome {
        let mut i = 0;
        let mut stuck = 0;
        loop {
            while self.pending.len() < CHUNK && i < n {
                gen(i, &mut self.pending);
                i += 1;
            }
            self.generated = i;
            if self.pending.is_empty() {
                return Outcome::AllTaken;
            }
            match self.conn.handle_input(self.now, &self.pending) {
                Err(e) => return Outcome::Failed(e),
                Ok(0) if !read => return Outcome::Stalled,
                Ok(k) => {
                    self.pending.drain(..k);
                    stuck = if k == 0 { stuck + 1 } else { 0 };
                    assert!(stuck < 3, "input not taken although the output was read");
                }
            }
            if read {
                self.drain();
            }
        }
    }

    /// Writes out everything queued (as a socket that keeps up would), decodes it, and takes
    /// every event.
    fn drain(&mut self) {
        loop {
            let mut slices: [&[u8]; 16] = [&[]; 16];
            let n = self.conn.poll_transmit(&mut slices);
            if n == 0 {
                break;
            }
            let mut len = 0;
            for s in &slices[..n] {
                self.rx.extend_from_slice(s);
                len += s.len();
            }
            self.seen.bytes += len;
            self.conn.advance_transmit(len);
        }
        self.decode_rx();
        while let Some(e) = self.conn.poll_event() {
            self.note_event(e);
        }
    }

    /// Decodes the frames in what was written out so far.
    fn decode_rx(&mut self) {
        if self.skip > 0 {
            let k = self.skip.min(self.rx.len());
            let _ = self.rx.split_to(k);
            self.skip -= k;
        }
        while let Some(f) = self.frames.decode(&mut self.rx).expect("the connection sent an invalid frame") {
            self.note(f);
        }
    }

    fn note(&mut self, f: Frame) {
        let seen = &mut self.seen;
        seen.frames += 1;
        if seen.goaway.is_some() {
            seen.frames_after_goaway += 1;
        }
        match f {
            Frame::GoAway(g) => {
                // A graceful GOAWAY may precede the final one; an error GOAWAY is the last frame.
                if seen.goaway.is_none() || g.code != ErrorCode::NO_ERROR {
                    seen.frames_after_goaway = 0;
                }
                seen.goaway = Some((g.last_stream.get(), g.code));
            }
            Frame::RstStream(r) => {
                *seen.rst.entry(r.code.0).or_default() += 1;
                seen.last_rst = Some((r.stream.get(), r.code));
            }
            Frame::Headers(h) => {
                assert!(h.end_headers, "test peer does not reassemble CONTINUATION");
                let mut status = 0;
                self.hpack
                    .decode(&h.fragment, 1 << 20, |n: &[u8], v: &[u8], _| {
                        if n == b":status" {
                            status = std::str::from_utf8(v).unwrap().parse().unwrap();
                        }
                        Ok::<(), DecoderError>(())
                    })
                    .unwrap();
                seen.statuses.push((h.stream.get(), status));
            }
            Frame::Ping(p) if p.ack => seen.ping_acks += 1,
            Frame::Ping(_) => seen.pings += 1,
            Frame::SettingsAck => seen.settings_acks += 1,
            Frame::Data(d) => {
                seen.data_frames += 1;
                seen.data_bytes += d.data.len();
            }
            Frame::WindowUpdate(w) if w.stream.is_connection() => seen.conn_credit += u64::from(w.increment),
            _ => {}
        }
    }

    fn note_event(&mut self, e: Event) {
        let r = &mut self.reported;
        if r.closed.is_some() {
            r.after_closed += 1;
        }
        match e {
            Event::Error(e) if r.errors.len() < 10_000 => r.errors.push(e),
            Event::Request { .. } => r.requests += 1,
            Event::Reset { .. } => r.resets += 1,
            Event::Data { data, .. } => r.data_bytes += data.len(),
            Event::Closed(c) => r.closed = Some(c),
            _ => {}
        }
    }

    /// Asserts the connection answered with GOAWAY(`code`), reported `kind`, and closed.
    fn assert_goaway(&mut self, kind: Kind, code: ErrorCode) {
        self.drain();
        assert_eq!(self.seen.goaway.map(|g| g.1), Some(code), "GOAWAY code; seen {:?}", self.seen);
        assert_eq!(self.seen.frames_after_goaway, 0, "frames after the GOAWAY");
        let e = ProtocolError::new(kind, Answer::GoAway(code));
        assert!(self.reported.errors.contains(&e), "expected {e:?} among {:?}", self.reported.errors);
        assert_eq!(self.reported.closed, Some(CloseReason::Error(e)));
        assert_eq!(self.reported.after_closed, 0);
        assert!(self.conn.is_closed());
        // Sticky: every later input call returns the error.
        assert_eq!(self.conn.handle_input(self.now, &[0; 9]), Err(Error::Protocol(e)));
    }
}

fn tight() -> Config {
    Config {
        max_send_buffer: 16 * 1024,
        max_buffered_input: 32 * 1024,
        max_header_block: 16 * 1024,
        max_header_list_size: 8 * 1024,
        ..Config::server()
    }
}

fn open_streams(from: u32) -> impl FnMut(usize, &mut Vec<u8>) {
    move |i, out| headers(from + 2 * i as u32, GET, true, out)
}

// ---------------------------------------------------------------------------------------------
// Rapid Reset (CVE-2023-44487).

#[test]
fn rapid_reset_is_answered_with_enhance_your_calm() {
    let config = Config { max_rapid_resets: 100, ..tight() };
    let ((mut p, outcome), peak) = peak_during(|| {
        let mut p = Peer::server(config.clone(), Settings::default(), true);
        // 100 000 streams, each opened and cancelled at once: the server never gets to answer.
        let outcome = p.attack(100_000, true, |i, out| {
            let id = 1 + 2 * i as u32;
            headers(id, GET, true, out);
            rst(id, ErrorCode::CANCEL, out);
        });
        (p, outcome)
    });
    assert!(
        matches!(outcome, Outcome::Failed(Error::Protocol(e)) if e.answer == Answer::GoAway(ErrorCode::ENHANCE_YOUR_CALM))
    );
    assert!(p.generated < 1_000, "the attack was stopped early ({} streams generated)", p.generated);
    p.assert_goaway(Kind::ExcessiveLoad, ErrorCode::ENHANCE_YOUR_CALM);
    // Every reset up to the one over the limit was reported.
    assert_eq!(p.reported.resets, 101);
    assert_bounded("rapid reset", peak, &config);
}

#[test]
fn resets_within_the_rate_are_allowed() {
    let config = Config { max_rapid_resets: 100, rapid_reset_window: Duration::from_secs(10), ..tight() };
    let mut p = Peer::server(config, Settings::default(), true);
    for round in 0..5u32 {
        let first = 1 + 200 * round;
        let outcome = p.attack(100, true, |i, out| {
            let id = first + 2 * i as u32;
            headers(id, GET, true, out);
            rst(id, ErrorCode::CANCEL, out);
        });
        assert_eq!(outcome, Outcome::AllTaken, "round {round}");
        p.now = p.now + Duration::from_secs(11);
    }
    p.drain();
    assert_eq!(p.seen.goaway, None);
    assert_eq!(p.reported.resets, 500);
}

#[test]
fn completed_streams_cancelled_late_do_not_count() {
    // A client that cancels streams whose response was already complete is not attacking.
    let config = Config { max_rapid_resets: 10, ..tight() };
    let mut p = Peer::server(config, Settings::default(), true);
    for i in 0..100u32 {
        let id = 1 + 2 * i;
        let mut out = Vec::new();
        headers(id, GET, true, &mut out);
        p.feed(&out).unwrap();
        p.conn.send_response(StreamId::new(id), &ResponseHead::new(204), true).unwrap();
        p.drain();
        out.clear();
        rst(id, ErrorCode::CANCEL, &mut out);
        p.feed(&out).unwrap();
    }
    p.drain();
    assert_eq!(p.seen.goaway, None);
    assert_eq!(p.seen.statuses.len(), 100);
}

// ---------------------------------------------------------------------------------------------
// CONTINUATION flood (CVE-2024-27316 and relatives).

#[test]
fn continuation_flood_of_tiny_frames_is_capped_by_count() {
    let config = Config { max_continuations: 16, ..tight() };
    let ((mut p, outcome), peak) = peak_during(|| {
        let mut p = Peer::server(config.clone(), Settings::default(), true);
        // HEADERS without END_HEADERS, then CONTINUATION frames of one byte (never ending).
        let outcome = p.attack(100_000, false, |i, out| {
            if i == 0 {
                let h = frame::Headers {
                    end_headers: false,
                    ..frame::Headers::new(StreamId::new(1), Bytes::from_static(&[0x82]))
                };
                Frame::Headers(h).encode(out);
            } else {
                let c = frame::Continuation {
                    stream: StreamId::new(1),
                    fragment: Bytes::from_static(&[0x84]),
                    end_headers: false,
                };
                Frame::Continuation(c).encode(out);
            }
        });
        (p, outcome)
    });
    assert!(matches!(outcome, Outcome::Failed(_)), "{outcome:?}");
    p.assert_goaway(Kind::ExcessiveLoad, ErrorCode::ENHANCE_YOUR_CALM);
    assert_eq!(p.reported.requests, 0);
    assert_bounded("continuation flood (count)", peak, &config);
}

#[test]
fn continuation_flood_of_empty_frames_is_capped() {
    let config = Config { max_continuations: 16, ..tight() };
    let mut p = Peer::server(config, Settings::default(), true);
    let outcome = p.attack(100_000, true, |i, out| {
        let c = frame::Continuation { stream: StreamId::new(1), fragment: Bytes::new(), end_headers: false };
        if i == 0 {
            let h = frame::Headers { end_headers: false, ..frame::Headers::new(StreamId::new(1), Bytes::new()) };
            Frame::Headers(h).encode(out);
        } else {
            Frame::Continuation(c).encode(out);
        }
    });
    assert!(matches!(outcome, Outcome::Failed(_)), "{outcome:?}");
    p.assert_goaway(Kind::ExcessiveLoad, ErrorCode::ENHANCE_YOUR_CALM);
}

#[test]
fn continuation_flood_of_bytes_is_capped_by_block_size() {
    // Many continuations allowed, but the block may not pass max_header_block bytes.
    let config = Config { max_continuations: 100_000, max_header_block: 16 * 1024, ..tight() };
    let chunk = Bytes::from(vec![0x84; 1000]);
    let ((mut p, outcome), peak) = peak_during(|| {
        let mut p = Peer::server(config.clone(), Settings::default(), true);
        let outcome = p.attack(10_000, true, |i, out| {
            if i == 0 {
                let h = frame::Headers { end_headers: false, ..frame::Headers::new(StreamId::new(1), chunk.clone()) };
                Frame::Headers(h).encode(out);
            } else {
                let c = frame::Continuation { stream: StreamId::new(1), fragment: chunk.clone(), end_headers: false };
                Frame::Continuation(c).encode(out);
            }
        });
        (p, outcome)
    });
    assert!(matches!(outcome, Outcome::Failed(_)), "{outcome:?}");
    assert!(p.generated < 100, "stopped after about 16 KiB ({} frames)", p.generated);
    p.assert_goaway(Kind::ExcessiveLoad, ErrorCode::ENHANCE_YOUR_CALM);
    assert_bounded("continuation flood (bytes)", peak, &config);
}

#[test]
fn a_single_oversized_headers_frame_is_refused() {
    let config = Config { max_header_block: 1000, ..tight() };
    let mut p = Peer::server(config, Settings::default(), true);
    let mut out = Vec::new();
    headers(1, &vec![0x84; 2000], true, &mut out);
    assert!(p.feed(&out).is_err());
    p.assert_goaway(Kind::ExcessiveLoad, ErrorCode::ENHANCE_YOUR_CALM);
}

// ---------------------------------------------------------------------------------------------
// HPACK bomb: a small block that decodes to a huge header list.

/// A request block whose first field inserts a 4 000-byte value into the dynamic table
/// (`insert`), followed by `refs` one-byte references to it (index 62).
fn bomb(insert: bool, refs: usize) -> Vec<u8> {
    let mut block = GET.to_vec();
    if insert {
        // Literal with incremental indexing, new name "x-bomb", value 4000 octets, no Huffman.
        block.push(0x40);
        encode_integer(6, 7, 0, &mut block);
        block.extend_from_slice(b"x-bomb");
        encode_integer(4000, 7, 0, &mut block);
        block.extend(std::iter::repeat_n(b'a', 4000));
    }
    block.extend(std::iter::repeat_n(0xbe, refs)); // indexed field 62
    block
}

#[test]
fn hpack_bomb_gets_431_and_the_connection_lives() {
    let config = Config { max_header_list_size: 8 * 1024, ..tight() };
    // 12 000 references to a 4 KB value: 48 MB if decoded without a limit.
    let first = bomb(true, 12_000);
    let again = bomb(false, 12_000);
    let ((mut p, outcome), peak) = peak_during(|| {
        let mut p = Peer::server(config.clone(), Settings::default(), true);
        let outcome = p.attack(50, true, |i, out| {
            let id = 1 + 2 * i as u32;
            headers(id, if i == 0 { &first } else { &again }, i % 2 == 0, out);
        });
        (p, outcome)
    });
    assert_eq!(outcome, Outcome::AllTaken);
    p.drain();
    assert_eq!(p.seen.goaway, None);
    assert_eq!(p.seen.statuses.len(), 50);
    assert!(p.seen.statuses.iter().all(|&(_, s)| s == 431), "{:?}", p.seen.statuses);
    // A stream whose request did not end is also told to stop sending (NO_ERROR).
    assert_eq!(p.seen.rst_count(ErrorCode::NO_ERROR), 25);
    let e = ProtocolError::new(Kind::HeadTooLarge, Answer::Status(431)).on(StreamId::new(1));
    assert_eq!(p.reported.errors[0], e);
    assert_eq!(p.reported.requests, 0);
    // HPACK stayed in step: a normal request is served.
    let mut out = Vec::new();
    headers(101, GET, true, &mut out);
    p.feed(&out).unwrap();
    assert_eq!(p.reported.requests, 1);
    assert_bounded("HPACK bomb", peak, &config);
}

#[test]
fn hpack_bombs_on_many_streams_end_in_enhance_your_calm() {
    let config = Config { max_header_list_size: 8 * 1024, max_rapid_resets: 20, ..tight() };
    let first = bomb(true, 3_000);
    let again = bomb(false, 3_000);
    let mut p = Peer::server(config, Settings::default(), true);
    let outcome = p.attack(1000, true, |i, out| {
        headers(1 + 2 * i as u32, if i == 0 { &first } else { &again }, true, out);
    });
    assert!(matches!(outcome, Outcome::Failed(_)));
    p.assert_goaway(Kind::ExcessiveLoad, ErrorCode::ENHANCE_YOUR_CALM);
    assert_eq!(p.seen.statuses.len(), 21);
}

#[test]
fn oversized_table_size_update_is_a_compression_error() {
    let mut p = Peer::server(tight(), Settings::default(), true);
    let mut out = Vec::new();
    // Dynamic table size update to 1 MiB, above our SETTINGS_HEADER_TABLE_SIZE of 4 096.
    headers(1, &[0x3f, 0xe1, 0xff, 0x3f, 0x82, 0x87, 0x84], true, &mut out);
    assert!(p.feed(&out).is_err());
    p.assert_goaway(Kind::Compression, ErrorCode::COMPRESSION_ERROR);
}

// ---------------------------------------------------------------------------------------------
// PING and SETTINGS floods.

#[test]
fn ping_flood_without_reading_hits_the_queued_control_cap() {
    let config = Config { max_pending_control: 100, ..tight() };
    let ((mut p, outcome), peak) = peak_during(|| {
        let mut p = Peer::server(config.clone(), Settings::default(), true);
        let outcome = p.attack(100_000, false, |_, out| ping(out));
        (p, outcome)
    });
    let Outcome::Failed(Error::Protocol(e)) = outcome else { panic!("{outcome:?}") };
    assert_eq!(e.answer, Answer::GoAway(ErrorCode::ENHANCE_YOUR_CALM));
    p.assert_goaway(Kind::ExcessiveLoad, ErrorCode::ENHANCE_YOUR_CALM);
    assert_eq!(p.seen.ping_acks, 101, "acks queued up to the cap (the last one over it)");
    assert_bounded("PING flood (not reading)", peak, &config);
}

#[test]
fn ping_flood_without_reading_stops_input_at_the_send_buffer_cap() {
    // A generous control cap: the output backlog cap must stop us reading first.
    let config = Config { max_pending_control: 1_000_000, max_send_buffer: 4096, ..tight() };
    let ((mut p, outcome), peak) = peak_during(|| {
        let mut p = Peer::server(config.clone(), Settings::default(), true);
        let outcome = p.attack(100_000, false, |_, out| ping(out));
        (p, outcome)
    });
    assert_eq!(outcome, Outcome::Stalled);
    assert!(p.generated < 10_000, "input stopped early ({} PINGs generated)", p.generated);
    // Nothing more is taken while the backlog is over its cap, however often it is offered,
    // and the zero-copy input path lends no buffer.
    for _ in 0..10 {
        assert_eq!(p.conn.handle_input(p.now, &p.pending.clone()), Ok(0));
    }
    assert!(p.conn.input_buffer().is_empty());
    // The peer reads: input is taken again and every PING is answered.
    let outcome = p.attack(100_000 - p.generated, true, |_, out| ping(out));
    assert_eq!(outcome, Outcome::AllTaken);
    p.drain();
    assert_eq!(p.seen.ping_acks, 100_000);
    assert_eq!(p.seen.goaway, None);
    assert_bounded("PING flood (send buffer cap)", peak, &config);
}

#[test]
fn settings_flood_without_reading_hits_the_queued_control_cap() {
    let config = Config { max_pending_control: 100, ..tight() };
    let ((mut p, outcome), peak) = peak_during(|| {
        let mut p = Peer::server(config.clone(), Settings::default(), true);
        let settings = Settings { max_concurrent_streams: Some(10), ..Settings::default() };
        let outcome = p.attack(100_000, false, |_, out| Frame::Settings(settings).encode(out));
        (p, outcome)
    });
    assert!(matches!(outcome, Outcome::Failed(_)), "{outcome:?}");
    p.assert_goaway(Kind::ExcessiveLoad, ErrorCode::ENHANCE_YOUR_CALM);
    assert_eq!(p.seen.settings_acks, 1 + 101, "the preface's, then up to the cap");
    assert_bounded("SETTINGS flood", peak, &config);
}

#[test]
fn control_frames_answered_promptly_never_hit_the_cap() {
    // The cap counts acks still queued: a peer whose PINGs and SETTINGS we answer and that
    // reads the answers may send as many as it likes.
    let config = Config { max_pending_control: 10, ..tight() };
    let mut p = Peer::server(config, Settings::default(), true);
    for i in 0..2000 {
        let mut out = Vec::new();
        if i % 2 == 0 {
            ping(&mut out);
        } else {
            Frame::Settings(Settings::default()).encode(&mut out);
        }
        p.feed(&out).unwrap();
    }
    assert_eq!(p.seen.ping_acks, 1000);
    assert_eq!(p.seen.settings_acks, 1001);
    assert_eq!(p.seen.goaway, None);
}

// ---------------------------------------------------------------------------------------------
// Floods of frames that carry nothing.

#[test]
fn empty_data_flood_is_answered_with_enhance_your_calm() {
    let config = Config { max_empty_frames: 1000, ..tight() };
    let ((mut p, outcome), peak) = peak_during(|| {
        let mut p = Peer::server(config.clone(), Settings::default(), true);
        let outcome = p.attack(1_000_000, true, |i, out| {
            if i == 0 {
                headers(1, GET, false, out);
            } else {
                data(1, &[], false, out);
            }
        });
        (p, outcome)
    });
    assert!(matches!(outcome, Outcome::Failed(_)), "{outcome:?}");
    assert!(p.generated < 10_000);
    p.assert_goaway(Kind::ExcessiveLoad, ErrorCode::ENHANCE_YOUR_CALM);
    assert_bounded("empty DATA flood", peak, &config);
}

#[test]
fn empty_data_flood_without_reading() {
    let config = Config { max_empty_frames: 100_000, ..tight() };
    let ((mut p, outcome), peak) = peak_during(|| {
        let mut p = Peer::server(config.clone(), Settings::default(), true);
        let outcome = p.attack(1_000_000, false, |i, out| {
            if i == 0 {
                headers(1, GET, false, out);
            } else {
                data(1, &[], false, out);
            }
        });
        (p, outcome)
    });
    assert!(matches!(outcome, Outcome::Failed(_)), "{outcome:?}");
    p.assert_goaway(Kind::ExcessiveLoad, ErrorCode::ENHANCE_YOUR_CALM);
    assert_bounded("empty DATA flood (not reading)", peak, &config);
}

#[test]
fn small_data_frames_are_not_empty() {
    // One-byte DATA frames are a slow body, not a flood of nothing.
    let config = Config { max_empty_frames: 10, ..tight() };
    let mut p = Peer::server(config, Settings::default(), true);
    let outcome = p.attack(20_000, true, |i, out| {
        if i == 0 {
            headers(1, GET, false, out);
        } else if i % 5 == 0 {
            data(1, b"x", false, out);
        } else {
            data(1, &[], false, out);
        }
    });
    assert_eq!(outcome, Outcome::AllTaken);
    p.drain();
    assert_eq!(p.seen.goaway, None);
    assert_eq!(p.reported.data_bytes, 3999);
}

#[test]
fn zero_length_headers_flood_is_answered_with_enhance_your_calm() {
    // Empty HEADERS on new streams: each is a malformed request (RST_STREAM PROTOCOL_ERROR)
    // and carries nothing: the empty-frame cap ends the flood.
    let config = Config { max_empty_frames: 100, max_rapid_resets: 100_000, ..tight() };
    let ((mut p, outcome), peak) = peak_during(|| {
        let mut p = Peer::server(config.clone(), Settings::default(), true);
        let outcome = p.attack(1_000_000, true, |i, out| headers(1 + 2 * i as u32, &[], false, out));
        (p, outcome)
    });
    assert!(matches!(outcome, Outcome::Failed(_)), "{outcome:?}");
    p.assert_goaway(Kind::ExcessiveLoad, ErrorCode::ENHANCE_YOUR_CALM);
    assert_eq!(p.seen.rst_count(ErrorCode::PROTOCOL_ERROR), 100);
    assert_bounded("zero-length HEADERS flood", peak, &config);

    // With the default empty-frame cap, the stream-reset cap ends it.
    let config = Config { max_rapid_resets: 50, ..tight() };
    let mut p = Peer::server(config, Settings::default(), true);
    let outcome = p.attack(1_000_000, true, |i, out| headers(1 + 2 * i as u32, &[], true, out));
    assert!(matches!(outcome, Outcome::Failed(_)), "{outcome:?}");
    p.assert_goaway(Kind::ExcessiveLoad, ErrorCode::ENHANCE_YOUR_CALM);
}

#[test]
fn priority_and_unknown_frame_flood_is_capped() {
    let config = Config { max_empty_frames: 1000, ..tight() };
    let ((mut p, outcome), peak) = peak_during(|| {
        let mut p = Peer::server(config.clone(), Settings::default(), true);
        let outcome = p.attack(1_000_000, true, |i, out| {
            if i % 2 == 0 {
                let dependency = frame::StreamDependency { dependency: StreamId::new(1), weight: 16, exclusive: false };
                Frame::Priority(frame::Priority { stream: StreamId::new(3 + 2 * (i as u32 % 100)), dependency })
                    .encode(out);
            } else {
                let u = frame::Unknown { kind: 0xfa, flags: 0, stream: StreamId::CONNECTION, payload: Bytes::new() };
                Frame::Unknown(u).encode(out);
            }
        });
        (p, outcome)
    });
    assert!(matches!(outcome, Outcome::Failed(_)), "{outcome:?}");
    p.assert_goaway(Kind::ExcessiveLoad, ErrorCode::ENHANCE_YOUR_CALM);
    assert_bounded("PRIORITY/unknown flood", peak, &config);
}

// ---------------------------------------------------------------------------------------------
// Flow control.

#[test]
fn connection_window_overflow_is_a_flow_control_error() {
    let mut p = Peer::server(tight(), Settings::default(), true);
    let mut out = Vec::new();
    window_update(0, frame::MAX_WINDOW_SIZE, &mut out); // 65 535 + 2^31-1
    assert!(p.feed(&out).is_err());
    p.assert_goaway(Kind::FlowControl, ErrorCode::FLOW_CONTROL_ERROR);
}

#[test]
fn stream_window_overflow_resets_the_stream() {
    let mut p = Peer::server(tight(), Settings::default(), true);
    let mut out = Vec::new();
    headers(1, GET, false, &mut out);
    window_update(1, frame::MAX_WINDOW_SIZE, &mut out);
    p.feed(&out).unwrap();
    assert_eq!(p.seen.last_rst, Some((1, ErrorCode::FLOW_CONTROL_ERROR)));
    let e =
        ProtocolError::new(Kind::FlowControl, Answer::ResetStream(ErrorCode::FLOW_CONTROL_ERROR)).on(StreamId::new(1));
    assert!(p.reported.errors.contains(&e));
    assert_eq!(p.seen.goaway, None);
    assert_eq!(p.conn.open_streams(), 0);
}

#[test]
fn initial_window_size_overflow_is_a_flow_control_error() {
    let mut p = Peer::server(tight(), Settings::default(), true);
    let mut out = Vec::new();
    headers(1, GET, false, &mut out);
    window_update(1, frame::MAX_WINDOW_SIZE - 65_535, &mut out); // exactly 2^31-1
    Frame::Settings(Settings { initial_window_size: Some(65_536), ..Settings::default() }).encode(&mut out);
    assert!(p.feed(&out).is_err());
    p.assert_goaway(Kind::FlowControl, ErrorCode::FLOW_CONTROL_ERROR);
}

#[test]
fn client_side_window_overflow_is_a_flow_control_error() {
    let mut p = Peer::client(tight(), Settings::default());
    let mut out = Vec::new();
    window_update(0, frame::MAX_WINDOW_SIZE, &mut out);
    assert!(p.feed(&out).is_err());
    p.assert_goaway(Kind::FlowControl, ErrorCode::FLOW_CONTROL_ERROR);
}

#[test]
fn data_beyond_the_stream_window_resets_the_stream() {
    // The application does not release anything: the window runs dry, and the peer goes on.
    let config = Config { initial_window_size: 1024, ..tight() };
    let mut p = Peer::server(config, Settings::default(), true);
    let outcome = p.attack(2000, true, |i, out| {
        if i == 0 {
            headers(1, GET, false, out);
        } else {
            data(1, b"x", false, out);
        }
    });
    assert_eq!(outcome, Outcome::AllTaken);
    p.drain();
    assert_eq!(p.reported.data_bytes, 1024);
    assert_eq!(p.seen.rst.keys().next(), Some(&ErrorCode::FLOW_CONTROL_ERROR.0));
    assert_eq!(p.seen.goaway, None);
}

#[test]
fn data_beyond_the_connection_window_is_a_flow_control_error() {
    // Many streams, each within its own window, together past the connection window.
    let config = Config { initial_window_size: 65_535, connection_window_size: 65_535, ..tight() };
    let body = vec![b'x'; 16_000];
    let mut p = Peer::server(config, Settings::default(), true);
    let outcome = p.attack(100, true, |i, out| {
        let id = 1 + 2 * i as u32;
        headers(id, GET, false, out);
        data(id, &body, false, out);
    });
    assert!(matches!(outcome, Outcome::Failed(_)), "{outcome:?}");
    p.assert_goaway(Kind::FlowControl, ErrorCode::FLOW_CONTROL_ERROR);
    assert_eq!(p.reported.data_bytes, 64_000);
}

#[test]
fn response_dribbled_into_a_zero_window_stays_bounded() {
    // The client announces a zero window, asks for a large response, then opens the window
    // one byte at a time, one frame per read, and never reads more than it must.
    let config = tight();
    let body = Bytes::from(vec![b'b'; 1 << 20]);
    let ((mut p, accepted), peak) = peak_during(|| {
        let settings = Settings { initial_window_size: Some(0), ..Settings::default() };
        let mut p = Peer::server(config.clone(), settings, true);
        let mut out = Vec::new();
        headers(1, GET, true, &mut out);
        p.feed(&out).unwrap();
        let stream = StreamId::new(1);
        p.conn.send_response(stream, &ResponseHead::new(200), false).unwrap();
        let accepted = p.conn.send_data(stream, body.clone(), true).unwrap();
        p.drain();
        let before = p.seen.bytes;
        for _ in 0..5_000 {
            let mut out = Vec::new();
            window_update(1, 1, &mut out);
            window_update(0, 1, &mut out);
            p.feed(&out).unwrap();
        }
        assert!(p.seen.bytes - before <= 5_000 * 10, "one 1-byte DATA frame per update at most");
        (p, accepted)
    });
    p.drain();
    // The send buffer cap bounds how much of the body is taken while nothing can be sent.
    assert!(accepted <= config.max_send_buffer, "accepted {accepted}");
    assert_eq!(p.seen.data_bytes, 5_000);
    assert_eq!(p.seen.goaway, None);
    assert_bounded("zero window dribble", peak, &config);
}

// ---------------------------------------------------------------------------------------------
// Stream identifiers and stream counts.

#[test]
fn stream_id_exhaustion_and_reuse_is_a_protocol_error() {
    let (mut p, peak) = peak_during(|| {
        let mut p = Peer::server(tight(), Settings::default(), true);
        let mut out = Vec::new();
        // Jump straight to the last stream id: nothing is kept for the ids skipped.
        headers(frame::STREAM_ID_MASK, GET, true, &mut out);
        p.feed(&out).unwrap();
        p
    });
    assert_eq!(p.reported.requests, 1);
    assert_bounded("stream id jump", peak, &tight());
    // The stream can still be answered.
    p.conn.send_response(StreamId::new(frame::STREAM_ID_MASK), &ResponseHead::new(200), true).unwrap();
    p.drain();
    assert_eq!(p.seen.statuses, [(frame::STREAM_ID_MASK, 200)]);
    // No id is left: any new stream reuses a lower one.
    let mut out = Vec::new();
    headers(3, GET, true, &mut out);
    assert!(p.feed(&out).is_err());
    p.assert_goaway(Kind::Http2Protocol, ErrorCode::PROTOCOL_ERROR);
    assert_eq!(p.seen.goaway.map(|g| g.0), Some(frame::STREAM_ID_MASK));
}

#[test]
fn even_stream_from_a_client_is_a_protocol_error() {
    let mut p = Peer::server(tight(), Settings::default(), true);
    let mut out = Vec::new();
    headers(2, GET, true, &mut out);
    assert!(p.feed(&out).is_err());
    p.assert_goaway(Kind::Http2Protocol, ErrorCode::PROTOCOL_ERROR);
}

#[test]
fn too_many_streams_are_refused_then_enhance_your_calm() {
    let config = Config { max_concurrent_streams: 10, max_rapid_resets: 100, ..tight() };
    let ((mut p, outcome), peak) = peak_during(|| {
        let mut p = Peer::server(config.clone(), Settings::default(), true);
        let outcome = p.attack(100_000, true, open_streams(1));
        (p, outcome)
    });
    assert!(matches!(outcome, Outcome::Failed(_)), "{outcome:?}");
    p.assert_goaway(Kind::ExcessiveLoad, ErrorCode::ENHANCE_YOUR_CALM);
    assert_eq!(p.reported.requests, 10);
    assert_eq!(p.seen.rst_count(ErrorCode::REFUSED_STREAM), 101);
    assert_bounded("too many streams", peak, &config);
}

#[test]
fn a_refused_stream_does_not_stop_the_others() {
    let config = Config { max_concurrent_streams: 2, ..tight() };
    let mut p = Peer::server(config, Settings::default(), true);
    let mut out = Vec::new();
    for id in [1, 3, 5] {
        headers(id, GET, true, &mut out);
    }
    p.feed(&out).unwrap();
    assert_eq!(p.seen.last_rst, Some((5, ErrorCode::REFUSED_STREAM)));
    assert_eq!(p.reported.requests, 2);
    // Stream 1 completes: a new stream fits again.
    p.conn.send_response(StreamId::new(1), &ResponseHead::new(200), true).unwrap();
    let mut out = Vec::new();
    headers(7, GET, true, &mut out);
    p.feed(&out).unwrap();
    assert_eq!(p.reported.requests, 3);
}

// ---------------------------------------------------------------------------------------------
// Peers that misbehave in the client's direction, and timers.

#[test]
fn push_promise_to_a_client_that_disabled_push_is_a_protocol_error() {
    let mut p = Peer::client(tight(), Settings::default());
    let mut out = Vec::new();
    let pp = frame::PushPromise {
        stream: StreamId::new(1),
        promised: StreamId::new(2),
        fragment: Bytes::from_static(GET),
        end_headers: true,
        pad: None,
    };
    Frame::PushPromise(pp).encode(&mut out);
    assert!(p.feed(&out).is_err());
    p.assert_goaway(Kind::Http2Protocol, ErrorCode::PROTOCOL_ERROR);
}

#[test]
fn server_enabling_push_is_a_protocol_error() {
    let conn = H2Connection::client(tight(), Instant::ZERO);
    let mut p = Peer::wrap(conn, frame::PREFACE.len());
    let mut out = Vec::new();
    Frame::Settings(Settings { enable_push: Some(true), ..Settings::default() }).encode(&mut out);
    assert!(p.feed(&out).is_err());
    p.assert_goaway(Kind::Http2Protocol, ErrorCode::PROTOCOL_ERROR);
}

#[test]
fn unacknowledged_settings_time_out() {
    let config = Config { settings_timeout: Duration::from_secs(5), ..tight() };
    let mut p = Peer::server(config, Settings::default(), false);
    assert_eq!(p.conn.poll_timeout(), Some(Instant::ZERO + Duration::from_secs(5)));
    p.now = Instant::ZERO + Duration::from_secs(4);
    p.conn.handle_timeout(p.now);
    p.drain();
    assert_eq!(p.seen.goaway, None);
    p.now = Instant::ZERO + Duration::from_secs(5);
    p.conn.handle_timeout(p.now);
    p.assert_goaway(Kind::AckTimeout, ErrorCode::SETTINGS_TIMEOUT);
    assert_eq!(p.conn.poll_timeout(), None);
}

#[test]
fn acknowledged_settings_stop_the_timer() {
    // (Without the idle timeout, which would end this connection gracefully at 60 s.)
    let config = Config { settings_timeout: Duration::from_secs(5), idle_timeout: None, ..tight() };
    let mut p = Peer::server(config, Settings::default(), true);
    assert_eq!(p.conn.poll_timeout(), None);
    p.conn.handle_timeout(Instant::ZERO + Duration::from_secs(100));
    p.drain();
    assert_eq!(p.seen.goaway, None);
}

#[test]
fn unanswered_keepalive_ping_times_out() {
    let config =
        Config { keepalive_interval: Some(Duration::from_secs(30)), ping_timeout: Duration::from_secs(10), ..tight() };
    let mut p = Peer::server(config, Settings::default(), true);
    let t = |s| Instant::ZERO + Duration::from_secs(s);
    assert_eq!(p.conn.poll_timeout(), Some(t(30)));
    p.now = t(30);
    p.conn.handle_timeout(p.now);
    p.drain();
    assert_eq!(p.seen.pings, 1);
    assert_eq!(p.conn.poll_timeout(), Some(t(40)));
    p.now = t(40);
    p.conn.handle_timeout(p.now);
    p.drain();
    let e = ProtocolError::new(Kind::AckTimeout, Answer::Close);
    assert_eq!(p.reported.errors, [e]);
    assert_eq!(p.reported.closed, Some(CloseReason::Error(e)));
    assert!(p.conn.is_closed());
}

#[test]
fn the_attackers_reads_are_all_the_memory_it_gets() {
    // Every attack above, run back to back on one connection each with default limits,
    // fed 1 MiB of garbage after a valid preface: a connection error, never a panic.
    let config = Config::server();
    let garbage: Vec<u8> = (0..1u32 << 20).map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8).collect();
    let ((mut p, outcome), peak) = peak_during(|| {
        let mut p = Peer::server(config.clone(), Settings::default(), true);
        let mut at = 0;
        let outcome = p.attack(garbage.len() / 1024, true, |_, out| {
            out.extend_from_slice(&garbage[at..at + 1024]);
            at += 1024;
        });
        (p, outcome)
    });
    assert!(matches!(outcome, Outcome::Failed(_)), "{outcome:?}");
    p.drain();
    assert!(p.seen.goaway.is_some());
    assert!(p.conn.is_closed());
    assert_bounded("garbage", peak, &config);
}

#[test]
fn ping_flood_with_a_reader_that_never_quite_catches_up() {
    // The peer reads our output, but always leaves its last byte unread, so the transmit
    // queue is never empty: its framing buffer must still not grow with the flood, and the
    // acks it did read no longer count as queued (64 per round, cap 100).
    let config = Config { max_pending_control: 100, max_send_buffer: 4096, ..tight() };
    let ((mut p, outcome), peak) = peak_during(|| {
        let mut p = Peer::server(config.clone(), Settings::default(), true);
        let mut out = Vec::new();
        for _ in 0..100_000 / 64 {
            out.clear();
            for _ in 0..64 {
                ping(&mut out);
            }
            let n = p.conn.handle_input(p.now, &out).unwrap();
            assert_eq!(n, out.len());
            let mut slices: [&[u8]; 16] = [&[]; 16];
            let k = p.conn.poll_transmit(&mut slices);
            let len: usize = slices[..k].iter().map(|s| s.len()).sum();
            let mut w = len.saturating_sub(1);
            for s in &slices[..k] {
                let take = w.min(s.len());
                p.rx.extend_from_slice(&s[..take]);
                w -= take;
            }
            p.conn.advance_transmit(len.saturating_sub(1));
            p.decode_rx();
        }
        (p, ())
    });
    let () = outcome;
    p.drain();
    assert_eq!(p.seen.goaway, None);
    assert_eq!(p.seen.ping_acks, 100_000 / 64 * 64);
    assert_bounded("PING flood (lagging reader)", peak, &config);
}
