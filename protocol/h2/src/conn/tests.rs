//! Unit tests of the HTTP/2 connection: a client and a server piped together (and, where a
//! test needs bytes no correct peer sends, a raw peer writing frames by hand), laid out by the
//! part of the stream life cycle they exercise.

use super::*;
use crate::frame::FrameDecoder;
use alloc::vec;
use sockless_core::{Duration, Method};

pub(super) const T0: Instant = Instant::ZERO;

pub(super) fn secs(s: u64) -> Instant {
    T0 + Duration::from_secs(s)
}

/// Moves everything `conn` queued for transmission into `pipe`.
pub(super) fn take_output(conn: &mut H2Connection, pipe: &mut Vec<u8>) -> usize {
    let mut total = 0;
    loop {
        let mut slices: [&[u8]; 16] = [&[]; 16];
        let n = conn.poll_transmit(&mut slices);
        if n == 0 {
            return total;
        }
        let mut len = 0;
        for s in &slices[..n] {
            pipe.extend_from_slice(s);
            len += s.len();
        }
        conn.advance_transmit(len);
        total += len;
    }
}

/// Decodes a byte stream one endpoint sent into frames (skipping the client preface).
struct Wire {
    bytes: BytesMut,
    decoder: FrameDecoder,
    skip: usize,
    frames: Vec<Frame>,
}

impl Wire {
    fn new(skip: usize) -> Wire {
        let mut decoder = FrameDecoder::new();
        decoder.set_max_frame_size(frame::MAX_PAYLOAD_LEN);
        Wire { bytes: BytesMut::new(), decoder, skip, frames: Vec::new() }
    }

    fn push(&mut self, b: &[u8]) {
        let skip = self.skip.min(b.len());
        self.skip -= skip;
        self.bytes.extend_from_slice(&b[skip..]);
        while let Some(f) = self.decoder.decode(&mut self.bytes).expect("an endpoint sent an invalid frame") {
            self.frames.push(f);
        }
    }
}

/// A client and a server connected by two pipes.
pub(super) struct Pair {
    pub c: H2Connection,
    pub s: H2Connection,
    pub now: Instant,
    pub c_events: Vec<Event>,
    pub s_events: Vec<Event>,
    c_wire: Wire,
    s_wire: Wire,
    c2s: Vec<u8>,
    s2c: Vec<u8>,
    /// Every byte the client sent.
    c_sent: Vec<u8>,
    /// How many events of each side `release_all` has looked at.
    c_released: usize,
    s_released: usize,
}

impl Pair {
    pub fn new(client: Config, server: Config) -> Pair {
        Pair::from(H2Connection::client(client, T0), H2Connection::server(server, T0))
    }

    pub fn from(c: H2Connection, s: H2Connection) -> Pair {
        let mut p = Pair {
            c,
            s,
            now: T0,
            c_events: Vec::new(),
            s_events: Vec::new(),
            c_wire: Wire::new(frame::PREFACE.len()),
            s_wire: Wire::new(0),
            c2s: Vec::new(),
            s2c: Vec::new(),
            c_sent: Vec::new(),
            c_released: 0,
            s_released: 0,
        };
        p.pump();
        p
    }

    pub fn default() -> Pair {
        Pair::new(Config::client(), Config::server())
    }

    /// Moves bytes both ways until nothing moves, taking events as a driver would.
    pub fn pump(&mut self) {
        for _ in 0..10_000 {
            let mut moved = self.flush_c() + self.flush_s();
            if !self.c2s.is_empty() {
                if let Ok(n) = self.s.handle_input(self.now, &self.c2s) {
                    self.c2s.drain(..n);
                    moved += n;
                }
            }
            if !self.s2c.is_empty() {
                if let Ok(n) = self.c.handle_input(self.now, &self.s2c) {
                    self.s2c.drain(..n);
                    moved += n;
                }
            }
            moved += self.flush_c() + self.flush_s();
            self.events();
            if moved == 0 {
                return;
            }
        }
        panic!("pump does not settle");
    }

    fn flush_c(&mut self) -> usize {
        let start = self.c2s.len();
        let n = take_output(&mut self.c, &mut self.c2s);
        self.c_wire.push(&self.c2s[start..]);
        self.c_sent.extend_from_slice(&self.c2s[start..]);
        n
    }

    fn flush_s(&mut self) -> usize {
        let start = self.s2c.len();
        let n = take_output(&mut self.s, &mut self.s2c);
        self.s_wire.push(&self.s2c[start..]);
        n
    }

    pub fn events(&mut self) {
        while let Some(e) = self.c.poll_event() {
            self.c_events.push(e);
        }
        while let Some(e) = self.s.poll_event() {
            self.s_events.push(e);
        }
    }

    /// Frames the server sent so far (taken: the next call returns only newer ones).
    fn server_frames(&mut self) -> Vec<Frame> {
        core::mem::take(&mut self.s_wire.frames)
    }

    fn client_frames(&mut self) -> Vec<Frame> {
        core::mem::take(&mut self.c_wire.frames)
    }

    /// Feeds raw bytes to the server as if the client had sent them.
    pub fn raw_to_server(&mut self, bytes: &[u8]) -> Result<usize, Error> {
        let r = self.s.handle_input(self.now, bytes);
        self.flush_s();
        self.events();
        r
    }

    /// Feeds raw bytes to the client as if the server had sent them.
    pub fn raw_to_client(&mut self, bytes: &[u8]) -> Result<usize, Error> {
        let r = self.c.handle_input(self.now, bytes);
        self.flush_c();
        self.events();
        r
    }

    fn take_s_events(&mut self) -> Vec<Event> {
        core::mem::take(&mut self.s_events)
    }

    fn take_c_events(&mut self) -> Vec<Event> {
        core::mem::take(&mut self.c_events)
    }

    /// Both endpoints handle their timers at `t`.
    fn at(&mut self, t: Instant) {
        self.now = t;
        self.c.handle_timeout(t);
        self.s.handle_timeout(t);
        self.pump();
    }
}

fn get(path: &str) -> RequestHead {
    RequestHead::new(Method::Get, alloc::format!("https://example.com{path}"))
}

fn post(path: &str) -> RequestHead {
    RequestHead::new(Method::Post, alloc::format!("https://example.com{path}"))
}

fn sid(n: u32) -> StreamId {
    StreamId::new(n)
}

/// The body bytes of `stream` among `events`.
fn body(events: &[Event], stream: StreamId) -> Vec<u8> {
    let mut out = Vec::new();
    for e in events {
        if let Event::Data { stream: s, data } = e {
            if *s == stream {
                out.extend_from_slice(data);
            }
        }
    }
    out
}

fn has_end(events: &[Event], stream: StreamId) -> bool {
    events.contains(&Event::EndStream { stream })
}

fn errors(events: &[Event]) -> Vec<ProtocolError> {
    events.iter().filter_map(|e| if let Event::Error(e) = e { Some(*e) } else { None }).collect()
}

fn rst_frames(frames: &[Frame]) -> Vec<(u32, ErrorCode)> {
    frames
        .iter()
        .filter_map(|f| if let Frame::RstStream(r) = f { Some((r.stream.get(), r.code)) } else { None })
        .collect()
}

/// Sends all of `data` (retrying while the connection takes only part, with both
/// applications consuming what they get in between).
fn send_all(p: &mut Pair, client: bool, stream: StreamId, data: &[u8], end: bool) {
    let mut rest = Bytes::copy_from_slice(data);
    for _ in 0..100_000 {
        let conn = if client { &mut p.c } else { &mut p.s };
        let n = conn.send_data(stream, rest.clone(), end).unwrap();
        if n == rest.len() {
            return;
        }
        rest = rest.slice(n..);
        release_all(p);
    }
    panic!("send_all does not finish");
}

/// Pumps, with both applications consuming everything, until nothing moves.
fn settle(p: &mut Pair) {
    for _ in 0..1_000 {
        let before = (p.c_events.len(), p.s_events.len());
        release_all(p);
        if (p.c_events.len(), p.s_events.len()) == before {
            return;
        }
    }
    panic!("does not settle");
}

/// Both applications release every body byte they were given (and not released yet).
fn release_all(p: &mut Pair) {
    p.pump();
    for client in [true, false] {
        let events = if client { core::mem::take(&mut p.c_events) } else { core::mem::take(&mut p.s_events) };
        let done = if client { &mut p.c_released } else { &mut p.s_released };
        let from = core::mem::replace(done, events.len());
        for e in &events[from..] {
            if let Event::Data { stream, data } = e {
                let conn = if client { &mut p.c } else { &mut p.s };
                conn.release_capacity(*stream, data.len()).unwrap();
            }
        }
        if client {
            p.c_events = events;
        } else {
            p.s_events = events;
        }
    }
    p.pump();
}

mod exchange {
    //! Open → half-closed → closed: whole exchanges.
    use super::*;

    #[test]
    fn request_and_response_with_bodies() {
        let mut p = Pair::default();
        let stream = p.c.send_request(&post("/up").header("content-length", "5"), false).unwrap();
        assert_eq!(stream, sid(1));
        assert_eq!(p.c.send_data(stream, Bytes::from_static(b"hello"), true), Ok(5));
        p.pump();
        let ev = p.take_s_events();
        let Some(Event::Request { head, expects_continue: false, .. }) = ev.first() else { panic!("{ev:?}") };
        assert_eq!(head.method, Method::Post);
        assert_eq!(&head.target[..], b"https://example.com/up");
        assert_eq!(head.headers.get("content-length"), Some(&b"5"[..]));
        assert_eq!(body(&ev, stream), b"hello");
        assert!(has_end(&ev, stream));
        p.s.send_response(stream, &ResponseHead::new(200).header("x-a", "b"), false).unwrap();
        assert_eq!(p.s.send_data(stream, Bytes::from_static(b"world"), true), Ok(5));
        p.pump();
        let ev = p.take_c_events();
        let Some(Event::Response { head, .. }) = ev.first() else { panic!("{ev:?}") };
        assert_eq!(head.status, 200);
        assert_eq!(head.headers.get("x-a"), Some(&b"b"[..]));
        assert_eq!(body(&ev, stream), b"world");
        assert_eq!(ev.last(), Some(&Event::EndStream { stream }));
        assert_eq!((p.c.open_streams(), p.s.open_streams()), (0, 0));
        assert!(errors(&p.c_events).is_empty() && errors(&p.s_events).is_empty());
        // The finished stream takes no more commands.
        assert_eq!(p.s.send_data(stream, Bytes::from_static(b"x"), true), Err(UserError::UnknownStream.into()));
    }

    #[test]
    fn trailers_both_ways() {
        let mut p = Pair::default();
        let stream = p.c.send_request(&post("/t").header("te", "trailers"), false).unwrap();
        p.c.send_data(stream, Bytes::from_static(b"abc"), false).unwrap();
        p.c.send_trailers(stream, &HeaderList::new().with("x-checksum", "1")).unwrap();
        assert_eq!(p.c.send_data(stream, Bytes::from_static(b"late"), false), Err(UserError::StreamEnded.into()));
        p.pump();
        let ev = p.take_s_events();
        assert_eq!(body(&ev, stream), b"abc");
        let n = ev.len();
        assert!(
            matches!(&ev[n - 2], Event::Trailers { trailers, .. } if trailers.get("x-checksum") == Some(&b"1"[..]))
        );
        assert_eq!(ev[n - 1], Event::EndStream { stream });
        p.s.send_response(stream, &ResponseHead::new(200), false).unwrap();
        p.s.send_data(stream, Bytes::from_static(b"def"), false).unwrap();
        p.s.send_trailers(stream, &HeaderList::new().with("grpc-status", "0")).unwrap();
        p.pump();
        let ev = p.take_c_events();
        assert_eq!(body(&ev, stream), b"def");
        assert!(ev
            .iter()
            .any(|e| matches!(e, Event::Trailers { trailers, .. } if trailers.get("grpc-status") == Some(&b"0"[..]))));
        assert_eq!(ev.last(), Some(&Event::EndStream { stream }));
        // Trailers go out as HEADERS with END_STREAM.
        let last = p.server_frames().into_iter().rev().find(|f| matches!(f, Frame::Headers(_)));
        assert!(matches!(last, Some(Frame::Headers(h)) if h.end_stream));
        assert_eq!((p.c.open_streams(), p.s.open_streams()), (0, 0));
    }

    #[test]
    fn trailers_without_body_and_invalid_trailers_refused() {
        let mut p = Pair::default();
        let stream = p.c.send_request(&post("/t"), false).unwrap();
        assert_eq!(
            p.c.send_trailers(stream, &HeaderList::new().with("connection", "close")),
            Err(UserError::InvalidHeaderName.into())
        );
        p.c.send_trailers(stream, &HeaderList::new().with("x", "y")).unwrap();
        p.pump();
        let ev = p.take_s_events();
        assert!(matches!(ev[1], Event::Trailers { .. }));
        assert!(has_end(&ev, stream));
    }

    #[test]
    fn continue_100_goes_out_on_read_body() {
        let mut p = Pair::default();
        let stream = p.c.send_request(&post("/big").header("expect", "100-continue"), false).unwrap();
        p.pump();
        let ev = p.take_s_events();
        assert!(matches!(ev[..], [Event::Request { expects_continue: true, .. }]));
        assert!(!p.server_frames().iter().any(|f| matches!(f, Frame::Headers(_))), "no 100 before read_body");
        p.s.read_body(stream).unwrap();
        p.pump();
        let ev = p.take_c_events();
        assert!(matches!(&ev[..], [Event::Informational { head, .. }] if head.status == 100), "{ev:?}");
        // Only once.
        p.s.read_body(stream).unwrap();
        p.pump();
        assert!(p.take_c_events().is_empty());
        p.c.send_data(stream, Bytes::from_static(b"body"), true).unwrap();
        p.s.send_response(stream, &ResponseHead::new(201), true).unwrap();
        p.pump();
        assert_eq!(body(&p.s_events, stream), b"body");
        assert!(
            matches!(&p.c_events[..], [Event::Response { head, .. }, Event::EndStream { .. }] if head.status == 201)
        );
    }

    #[test]
    fn final_response_first_means_no_100() {
        let mut p = Pair::default();
        let stream = p.c.send_request(&post("/big").header("expect", "100-continue"), false).unwrap();
        p.pump();
        p.s.send_response(stream, &ResponseHead::new(417), true).unwrap();
        p.s.read_body(stream).unwrap();
        p.pump();
        let ev = p.take_c_events();
        assert!(matches!(&ev[..], [Event::Response { head, .. }, Event::EndStream { .. }] if head.status == 417));
    }

    #[test]
    fn many_concurrent_streams_interleave() {
        // Small stream windows both ways, so bodies wait for credit and go out round robin.
        let client = Config { initial_window_size: 10_000, ..Config::client() };
        let server = Config { initial_window_size: 10_000, ..Config::server() };
        let mut p = Pair::new(client, server);
        let n = 20u32;
        let size = 40_000usize;
        let payload = |i: u32| -> Vec<u8> { (0..size).map(|k| (k as u32 * 7 + i) as u8).collect() };
        let streams: Vec<StreamId> = (0..n).map(|_| p.c.send_request(&post("/m"), false).unwrap()).collect();
        // Bodies offered in pieces, round robin.
        for piece in 0..4 {
            for (i, &s) in streams.iter().enumerate() {
                let data = payload(i as u32);
                let part = &data[piece * size / 4..(piece + 1) * size / 4];
                send_all(&mut p, true, s, part, piece == 3);
            }
        }
        settle(&mut p);
        for (i, &s) in streams.iter().enumerate() {
            assert_eq!(body(&p.s_events, s), payload(i as u32), "stream {s}");
            assert!(has_end(&p.s_events, s));
            p.s.send_response(s, &ResponseHead::new(200), false).unwrap();
        }
        // Responses all at once: DATA frames of different streams alternate on the wire.
        for (i, &s) in streams.iter().enumerate() {
            let n = p.s.send_data(s, Bytes::from(payload(100 + i as u32)), true).unwrap();
            assert_eq!(n, size);
        }
        p.server_frames();
        settle(&mut p);
        let order: Vec<u32> = p
            .server_frames()
            .iter()
            .filter_map(|f| if let Frame::Data(d) = f { Some(d.stream.get()) } else { None })
            .collect();
        let switches = order.windows(2).filter(|w| w[0] != w[1]).count();
        assert!(switches >= 2 * n as usize, "interleaved: {order:?}");
        for (i, &s) in streams.iter().enumerate() {
            assert_eq!(body(&p.c_events, s), payload(100 + i as u32));
            assert!(has_end(&p.c_events, s));
        }
        assert_eq!((p.c.open_streams(), p.s.open_streams()), (0, 0));
    }

    #[test]
    fn empty_end_of_stream_while_a_chunk_waits_is_kept() {
        // send_data(empty, end) is "all accepted" even while an earlier chunk waits for window.
        let server = Config { initial_window_size: 100, ..Config::server() };
        let mut p = Pair::new(Config::client(), server);
        let stream = p.c.send_request(&post("/"), false).unwrap();
        assert_eq!(p.c.send_data(stream, Bytes::from(vec![1u8; 300]), false), Ok(300));
        assert_eq!(p.c.send_data(stream, Bytes::new(), true), Ok(0));
        assert_eq!(p.c.send_data(stream, Bytes::new(), true), Err(UserError::StreamEnded.into()));
        settle(&mut p);
        assert_eq!(body(&p.s_events, stream).len(), 300);
        assert!(has_end(&p.s_events, stream));
    }
}

mod flow_control {
    //! Windows: stalls, batched WINDOW_UPDATEs, send-buffer backpressure.
    use super::*;

    fn stream_updates(frames: &[Frame], stream: u32) -> Vec<u32> {
        frames
            .iter()
            .filter_map(|f| match f {
                Frame::WindowUpdate(w) if w.stream.get() == stream => Some(w.increment),
                _ => None,
            })
            .collect()
    }

    #[test]
    fn stall_and_resume_with_batched_window_updates() {
        let server = Config { initial_window_size: 10_000, ..Config::server() };
        let mut p = Pair::new(Config::client(), server);
        let stream = p.c.send_request(&post("/"), false).unwrap();
        let data = Bytes::from(vec![7u8; 25_000]);
        assert_eq!(p.c.send_data(stream, data.clone(), true), Ok(25_000));
        p.pump();
        // The window is full: 10 000 bytes arrived, the rest waits.
        assert_eq!(body(&p.s_events, stream).len(), 10_000);
        assert!(!has_end(&p.s_events, stream));
        p.server_frames();
        // Released below half the window: no WINDOW_UPDATE yet.
        p.s.release_capacity(stream, 4_999).unwrap();
        p.pump();
        assert!(stream_updates(&p.server_frames(), 1).is_empty());
        assert_eq!(body(&p.s_events, stream).len(), 10_000, "still stalled");
        // Half released: one WINDOW_UPDATE with everything released so far.
        p.s.release_capacity(stream, 1).unwrap();
        p.pump();
        assert_eq!(stream_updates(&p.server_frames(), 1), [5_000]);
        assert_eq!(body(&p.s_events, stream).len(), 15_000);
        p.s.release_capacity(stream, 10_000).unwrap();
        p.pump();
        p.s.release_capacity(stream, 10_000).unwrap();
        p.pump();
        assert_eq!(&body(&p.s_events, stream)[..], &data[..]);
        assert!(has_end(&p.s_events, stream));
        // No WINDOW_UPDATE for a stream the peer ended.
        p.server_frames();
        p.s.release_capacity(stream, 5_000).unwrap();
        p.pump();
        assert!(stream_updates(&p.server_frames(), 1).is_empty());
    }

    #[test]
    fn connection_window_is_returned_in_batches() {
        let server = Config { connection_window_size: 100_000, ..Config::server() };
        let mut p = Pair::new(Config::client(), server);
        let s1 = p.c.send_request(&post("/"), false).unwrap();
        send_all(&mut p, true, s1, &vec![1; 300_000], true);
        settle(&mut p);
        assert_eq!(body(&p.s_events, s1).len(), 300_000);
        let conn_updates = stream_updates(&p.server_frames(), 0);
        // The initial raise, then batches of at least half the window.
        assert_eq!(conn_updates[0], 100_000 - 65_535);
        assert!(conn_updates[1..].iter().all(|&i| i >= 50_000), "{conn_updates:?}");
    }

    #[test]
    fn send_data_accepts_only_what_the_send_buffer_holds() {
        let server = Config { max_send_buffer: 10_000, ..Config::server() };
        let mut p = Pair::new(Config::client(), server);
        let stream = p.c.send_request(&get("/"), true).unwrap();
        p.pump();
        p.s.send_response(stream, &ResponseHead::new(200), false).unwrap();
        let data = Bytes::from(vec![9u8; 100_000]);
        let first = p.s.send_data(stream, data.clone(), true).unwrap();
        assert!(first > 0 && first <= 10_000, "{first}");
        // While that chunk is queued, nothing more is accepted.
        assert_eq!(p.s.send_data(stream, data.slice(first..), true), Ok(0));
        let mut sent = first;
        for _ in 0..1_000 {
            if sent == data.len() {
                break;
            }
            release_all(&mut p);
            sent += p.s.send_data(stream, data.slice(sent..), true).unwrap();
        }
        settle(&mut p);
        assert_eq!(&body(&p.c_events, stream)[..], &data[..]);
        assert!(has_end(&p.c_events, stream));
    }

    #[test]
    fn peer_lowering_initial_window_makes_windows_negative() {
        let mut p = Pair::default();
        let stream = p.c.send_request(&get("/"), true).unwrap();
        p.pump();
        p.s.send_response(stream, &ResponseHead::new(200), false).unwrap();
        p.pump();
        // The client shrinks its window after the server already used some.
        let mut raw = Vec::new();
        assert_eq!(p.s.send_data(stream, Bytes::from(vec![0u8; 60_000]), false), Ok(60_000));
        Frame::Settings(Settings { initial_window_size: Some(1_000), ..Settings::default() }).encode(&mut raw);
        p.raw_to_server(&raw).unwrap();
        let idx = p.s.index(1).unwrap();
        assert!(p.s.streams[idx].send_window < 0, "{}", p.s.streams[idx].send_window);
    }
}

mod reset {
    //! Streams ended abruptly, by either side.
    use super::*;

    #[test]
    fn client_resets() {
        let mut p = Pair::default();
        let stream = p.c.send_request(&post("/"), false).unwrap();
        p.pump();
        p.c.reset_stream(stream, ErrorCode::CANCEL).unwrap();
        assert_eq!(p.c.reset_stream(stream, ErrorCode::CANCEL), Err(UserError::UnknownStream.into()));
        p.pump();
        assert_eq!(p.s_events.last(), Some(&Event::Reset { stream, code: ErrorCode::CANCEL, remote: true }));
        assert_eq!(p.s.send_response(stream, &ResponseHead::new(200), true), Err(UserError::UnknownStream.into()));
        assert_eq!((p.c.open_streams(), p.s.open_streams()), (0, 0));
    }

    #[test]
    fn server_resets() {
        let mut p = Pair::default();
        let stream = p.c.send_request(&post("/"), false).unwrap();
        p.pump();
        p.s.reset_stream(stream, ErrorCode::REFUSED_STREAM).unwrap();
        p.pump();
        assert_eq!(p.c_events.last(), Some(&Event::Reset { stream, code: ErrorCode::REFUSED_STREAM, remote: true }));
        assert_eq!(p.c.send_data(stream, Bytes::from_static(b"x"), true), Err(UserError::UnknownStream.into()));
    }

    #[test]
    fn frames_in_flight_after_our_reset_are_ignored() {
        // The client cancels many requests whose responses are already on their way: the
        // late HEADERS and DATA are dropped, not answered, and not counted as the server's
        // misbehaviour.
        let client = Config { max_rapid_resets: 10, ..Config::client() };
        let mut p = Pair::new(client, Config::server());
        for _ in 0..100 {
            let stream = p.c.send_request(&get("/"), true).unwrap();
            p.pump();
            p.s.send_response(stream, &ResponseHead::new(200), false).unwrap();
            p.s.send_data(stream, Bytes::from_static(b"partial"), false).unwrap();
            p.c.reset_stream(stream, ErrorCode::CANCEL).unwrap();
            p.s.send_trailers(stream, &HeaderList::new().with("x", "y")).unwrap();
            p.pump();
        }
        assert!(errors(&p.c_events).is_empty(), "{:?}", errors(&p.c_events));
        assert!(rst_frames(&p.client_frames()).iter().all(|&(_, c)| c == ErrorCode::CANCEL));
        assert!(p.c.is_ready());
        // And the server side: a request body in flight after the server reset it.
        let server = Config { max_rapid_resets: 10, ..Config::server() };
        let mut p = Pair::new(Config::client(), server);
        for _ in 0..100 {
            let stream = p.c.send_request(&post("/"), false).unwrap();
            p.pump();
            p.s.reset_stream(stream, ErrorCode::NO_ERROR).unwrap();
            p.c.send_data(stream, Bytes::from_static(b"body"), false).unwrap();
            p.c.send_trailers(stream, &HeaderList::new().with("x", "y")).unwrap();
            p.pump();
        }
        assert!(errors(&p.s_events).is_empty(), "{:?}", errors(&p.s_events));
        assert_eq!(p.s.error, None);
    }

    #[test]
    fn content_length_mismatch_resets_the_stream() {
        let mut p = Pair::default();
        // Too short.
        let s1 = p.c.send_request(&post("/").header("content-length", "5"), false).unwrap();
        // The client does not police the length it announced: the server does.
        p.c.send_data(s1, Bytes::from_static(b"abc"), true).unwrap();
        // Too long.
        let s3 = p.c.send_request(&post("/").header("content-length", "2"), false).unwrap();
        p.c.send_data(s3, Bytes::from_static(b"abc"), false).unwrap();
        p.pump();
        assert_eq!(rst_frames(&p.server_frames()), [(1, ErrorCode::PROTOCOL_ERROR), (3, ErrorCode::PROTOCOL_ERROR)]);
        let e = |s| {
            ProtocolError::new(Kind::InvalidContentLength, Answer::ResetStream(ErrorCode::PROTOCOL_ERROR)).on(sid(s))
        };
        assert_eq!(errors(&p.s_events), [e(1), e(3)]);
        assert!(p.s_events.contains(&Event::Reset { stream: s1, code: ErrorCode::PROTOCOL_ERROR, remote: false }));
        assert!(p.c_events.contains(&Event::Reset { stream: s3, code: ErrorCode::PROTOCOL_ERROR, remote: true }));
        assert_eq!(p.s.error, None);
    }
}

mod no_content_responses {
    //! RFC 9113 section 8.1.1: a response defined to have no content (to HEAD, a 204 or a 304)
    //! may carry a non-zero Content-Length, which describes the representation, not DATA.
    use super::*;

    fn head(path: &str) -> RequestHead {
        RequestHead::new(Method::Head, alloc::format!("https://example.com{path}"))
    }

    #[test]
    fn a_head_response_keeps_its_content_length_and_ends_the_stream() {
        let mut p = Pair::default();
        let stream = p.c.send_request(&head("/file"), true).unwrap();
        p.pump();
        p.take_s_events();
        p.s.send_response(stream, &ResponseHead::new(200).header("content-length", "5"), true).unwrap();
        p.pump();
        let ev = p.take_c_events();
        let Some(Event::Response { head, .. }) = ev.first() else { panic!("{ev:?}") };
        assert_eq!(head.headers.get("content-length"), Some(&b"5"[..]));
        assert_eq!(ev.last(), Some(&Event::EndStream { stream }));
        assert!(errors(&p.c_events).is_empty(), "{:?}", errors(&p.c_events));
        assert!(rst_frames(&p.client_frames()).is_empty());
    }

    #[test]
    fn a_not_modified_response_keeps_its_content_length_and_ends_the_stream() {
        let mut p = Pair::default();
        let stream = p.c.send_request(&get("/file"), true).unwrap();
        p.pump();
        p.take_s_events();
        p.s.send_response(stream, &ResponseHead::new(304).header("content-length", "1024"), true).unwrap();
        p.pump();
        let ev = p.take_c_events();
        assert!(matches!(ev.first(), Some(Event::Response { head, .. }) if head.status == 304), "{ev:?}");
        assert_eq!(ev.last(), Some(&Event::EndStream { stream }));
        assert!(errors(&p.c_events).is_empty(), "{:?}", errors(&p.c_events));
    }

    #[test]
    fn a_head_response_ended_by_an_empty_data_frame_is_accepted() {
        let mut p = Pair::default();
        let stream = p.c.send_request(&head("/file"), true).unwrap();
        p.pump();
        p.take_s_events();
        p.s.send_response(stream, &ResponseHead::new(200).header("content-length", "5"), false).unwrap();
        p.s.send_data(stream, Bytes::new(), true).unwrap();
        p.pump();
        let ev = p.take_c_events();
        assert_eq!(ev.last(), Some(&Event::EndStream { stream }), "{ev:?}");
        assert!(errors(&p.c_events).is_empty(), "{:?}", errors(&p.c_events));
    }

    #[test]
    fn content_on_a_head_response_is_a_stream_error() {
        let mut p = Pair::default();
        let stream = p.c.send_request(&head("/file"), true).unwrap();
        p.pump();
        p.take_s_events();
        // A by-hand server that sends a body anyway (the drivers drop it, RFC 9110 section 9.3.2).
        p.s.send_response(stream, &ResponseHead::new(200), false).unwrap();
        p.s.send_data(stream, Bytes::from_static(b"hello"), true).unwrap();
        p.pump();
        assert_eq!(rst_frames(&p.client_frames()), [(1, ErrorCode::PROTOCOL_ERROR)]);
        let want = ProtocolError::new(Kind::InvalidContentLength, Answer::ResetStream(ErrorCode::PROTOCOL_ERROR));
        assert_eq!(errors(&p.c_events), [want.on(stream)]);
    }
}

mod headers {
    //! RFC 9113 sections 8.2 and 8.3 on received field blocks, and on the ones we send.
    use super::*;
    use crate::hpack::Encoder;

    /// A server that got the client preface only; blocks come from `enc`, which then stays in
    /// step with the server's decoder.
    fn raw_server() -> (Pair, Encoder) {
        let mut p = Pair::default();
        p.c_events.clear();
        (p, Encoder::new())
    }

    fn request(p: &mut Pair, enc: &mut Encoder, id: u32, fields: &[(&str, &str)], end_stream: bool) {
        let mut block = Vec::new();
        enc.encode(fields.iter().map(|(n, v)| (n.as_bytes(), v.as_bytes())), &mut block);
        let h = frame::Headers { end_stream, ..frame::Headers::new(sid(id), Bytes::from(block)) };
        let mut raw = Vec::new();
        Frame::Headers(h).encode(&mut raw);
        p.raw_to_server(&raw).unwrap();
    }

    const BASE: [(&str, &str); 3] = [(":method", "GET"), (":scheme", "https"), (":path", "/")];

    fn with(extra: &[(&'static str, &'static str)]) -> Vec<(&'static str, &'static str)> {
        let mut v = BASE.to_vec();
        v.extend_from_slice(extra);
        v
    }

    #[test]
    fn malformed_requests_are_stream_errors() {
        let (mut p, mut enc) = raw_server();
        let cases: Vec<Vec<(&str, &str)>> = vec![
            with(&[("Upper-Case", "x")]),
            with(&[("connection", "keep-alive")]),
            with(&[("keep-alive", "5")]),
            with(&[("proxy-connection", "x")]),
            with(&[("transfer-encoding", "chunked")]),
            with(&[("upgrade", "h2c")]),
            with(&[("te", "gzip")]),
            with(&[(":path", "/twice")]),
            with(&[(":status", "200")]),
            with(&[(":unknown", "x")]),
            vec![(":method", "GET"), ("x", "y"), (":scheme", "https"), (":path", "/")],
            vec![(":method", "GET"), (":scheme", "https")],
            vec![(":scheme", "https"), (":path", "/")],
            vec![(":method", "GET"), (":scheme", "https"), (":path", "")],
            vec![(":method", "GET"), (":scheme", "https"), (":path", "relative")],
            vec![(":method", "CONNECT"), (":authority", "a:1"), (":scheme", "https"), (":path", "/")],
            with(&[("x", " padded")]),
            with(&[("content-length", "1, 2")]),
        ];
        let n = cases.len() as u32;
        for (i, c) in cases.iter().enumerate() {
            request(&mut p, &mut enc, 1 + 2 * i as u32, c, true);
        }
        let rsts = rst_frames(&p.server_frames());
        assert_eq!(rsts.len(), n as usize, "{rsts:?}");
        assert!(rsts.iter().all(|&(_, c)| c == ErrorCode::PROTOCOL_ERROR));
        assert!(!p.s_events.iter().any(|e| matches!(e, Event::Request { .. })));
        let errs = errors(&p.s_events);
        assert_eq!(errs.len(), n as usize);
        assert!(errs.iter().all(|e| e.answer == Answer::ResetStream(ErrorCode::PROTOCOL_ERROR) && e.stream.is_some()));
        // The connection lives, HPACK in step: valid requests still work.
        request(&mut p, &mut enc, 1 + 2 * n, &with(&[("te", "trailers"), ("accept", "*/*")]), true);
        request(&mut p, &mut enc, 3 + 2 * n, &[(":method", "CONNECT"), (":authority", "a:1")], false);
        request(&mut p, &mut enc, 5 + 2 * n, &[(":method", "OPTIONS"), (":scheme", "https"), (":path", "*")], true);
        let requests = p.s_events.iter().filter(|e| matches!(e, Event::Request { .. })).count();
        assert_eq!(requests, 3);
        assert_eq!(p.s.error, None);
    }

    #[test]
    fn header_list_over_the_limit_is_431() {
        let server = Config { max_header_list_size: 1_000, ..Config::server() };
        let mut p = Pair::new(Config::client(), server);
        let big = "v".repeat(2_000);
        let stream = p.c.send_request(&get("/").header("x-big", big.as_str()), true).unwrap();
        p.pump();
        let e = ProtocolError::new(Kind::HeadTooLarge, Answer::Status(431)).on(stream);
        assert_eq!(errors(&p.s_events), [e]);
        assert!(
            matches!(&p.c_events[..], [Event::Response { head, .. }, Event::EndStream { .. }] if head.status == 431)
        );
        // The connection goes on.
        let stream = p.c.send_request(&get("/"), true).unwrap();
        p.pump();
        assert!(p.s_events.iter().any(|e| matches!(e, Event::Request { stream: s, .. } if *s == stream)));
    }

    #[test]
    fn trailers_without_end_stream_and_pseudo_headers_in_trailers() {
        let (mut p, mut enc) = raw_server();
        request(&mut p, &mut enc, 1, &BASE, false);
        request(&mut p, &mut enc, 1, &[("x", "y")], false);
        assert_eq!(rst_frames(&p.server_frames()), [(1, ErrorCode::PROTOCOL_ERROR)]);
        request(&mut p, &mut enc, 3, &BASE, false);
        request(&mut p, &mut enc, 3, &[(":path", "/")], true);
        assert_eq!(rst_frames(&p.server_frames()), [(3, ErrorCode::PROTOCOL_ERROR)]);
        assert_eq!(p.s.error, None);
    }

    #[test]
    fn headers_after_end_stream_are_stream_closed() {
        let (mut p, mut enc) = raw_server();
        request(&mut p, &mut enc, 1, &BASE, true);
        request(&mut p, &mut enc, 1, &[("x", "y")], true);
        assert_eq!(rst_frames(&p.server_frames()), [(1, ErrorCode::STREAM_CLOSED)]);
    }

    #[test]
    fn outgoing_heads_are_checked() {
        let mut p = Pair::default();
        for bad in [
            get("/").header("connection", "close"),
            get("/").header("Transfer-Encoding", "chunked"),
            get("/").header("te", "gzip"),
            get("/").header("x", "a\r\nb"),
            get("/").header("bad name", "x"),
        ] {
            assert!(matches!(p.c.send_request(&bad, true), Err(Error::User(_))), "{bad:?}");
        }
        assert_eq!(p.c.open_streams(), 0, "a refused request opens nothing");
        // Names are lowercased on the wire; Host becomes :authority for origin-form targets.
        let head = RequestHead::new(Method::Get, "/p").header("Host", "h.example").header("X-Mixed", "v");
        let stream = p.c.send_request(&head, true).unwrap();
        p.pump();
        let Some(Event::Request { head, .. }) = p.s_events.first() else { panic!() };
        assert_eq!(&head.target[..], b"https://h.example/p");
        assert_eq!(head.headers.get("x-mixed"), Some(&b"v"[..]));
        assert!(head.headers.iter().all(|(n, _)| !n.iter().any(u8::is_ascii_uppercase)));
        // Responses: no 101, no 1xx with END_STREAM, one final head.
        assert_eq!(p.s.send_response(stream, &ResponseHead::new(101), false), Err(UserError::InvalidStatus.into()));
        assert_eq!(p.s.send_response(stream, &ResponseHead::new(103), true), Err(UserError::InvalidStatus.into()));
        assert_eq!(p.s.send_data(stream, Bytes::from_static(b"x"), true), Err(UserError::HeadNotSent.into()));
        p.s.send_response(stream, &ResponseHead::new(103).header("link", "</a>"), false).unwrap();
        p.s.send_response(stream, &ResponseHead::new(200), false).unwrap();
        assert_eq!(p.s.send_response(stream, &ResponseHead::new(200), false), Err(UserError::HeadAlreadySent.into()));
        assert_eq!(p.s.send_request(&get("/"), true), Err(UserError::WrongRole.into()));
        assert_eq!(p.c.send_response(stream, &ResponseHead::new(200), true), Err(UserError::WrongRole.into()));
    }
}

mod connection {
    //! Connection-wide life: settings, pings, keep-alive, shutdown, upgrade, stream ids.
    use super::*;

    #[test]
    fn settings_are_acknowledged_and_the_timer_stops() {
        let p = Pair::default();
        assert!(p.c.settings_acked && p.s.settings_acked);
        // What is left is the server's idle timeout (the client has none by default).
        assert_eq!((p.c.poll_timeout(), p.s.poll_timeout()), (None, Some(secs(60))));
        assert_eq!(p.s.peer_max_concurrent, 100);
        assert_eq!(p.c.peer_initial_window, 1 << 20);
    }

    #[test]
    fn settings_ack_timeout() {
        let c = Config { settings_timeout: Duration::from_secs(3), ..Config::client() };
        let mut client = H2Connection::client(c, T0);
        assert_eq!(client.poll_timeout(), Some(secs(3)));
        client.handle_timeout(secs(3));
        let mut out = Vec::new();
        take_output(&mut client, &mut out);
        let mut wire = Wire::new(frame::PREFACE.len());
        wire.push(&out);
        assert!(matches!(wire.frames.last(), Some(Frame::GoAway(g)) if g.code == ErrorCode::SETTINGS_TIMEOUT));
        let e = ProtocolError::new(Kind::AckTimeout, Answer::GoAway(ErrorCode::SETTINGS_TIMEOUT));
        assert_eq!(client.poll_event(), Some(Event::Error(e)));
        assert_eq!(client.poll_event(), Some(Event::Closed(CloseReason::Error(e))));
        assert!(client.is_closed());
    }

    #[test]
    fn shutdown_ping_unanswered_closes_at_the_ping_timeout() {
        let mut p = Pair::default();
        p.c.send_request(&get("/"), false).unwrap();
        p.pump();
        p.s.shutdown(p.now);
        p.flush_s();
        p.s2c.clear();
        p.s.handle_timeout(secs(1));
        assert_eq!(p.s.poll_timeout(), Some(T0 + Config::server().ping_timeout));
        p.s.handle_timeout(T0 + Config::server().ping_timeout);
        p.flush_s();
        let events: Vec<Event> = core::iter::from_fn(|| p.s.poll_event()).collect();
        assert!(matches!(events.last(), Some(Event::Closed(CloseReason::Error(e))) if e.kind == Kind::AckTimeout));
    }

    #[test]
    fn ping_and_pong() {
        let mut p = Pair::default();
        p.now = secs(1);
        p.c.ping(p.now).unwrap();
        assert_eq!(p.c.poll_timeout(), Some(secs(1) + Config::client().ping_timeout));
        p.pump();
        assert_eq!(p.c.ping_sent, None);
        assert_eq!(p.c.poll_timeout(), None);
        let acks = p.server_frames().iter().filter(|f| matches!(f, Frame::Ping(x) if x.ack)).count();
        assert_eq!(acks, 1);
        // An ack for a PING we never sent is ignored.
        let mut raw = Vec::new();
        Frame::Ping(frame::Ping { ack: true, payload: [9; 8] }).encode(&mut raw);
        p.raw_to_client(&raw).unwrap();
        assert_eq!(p.c.error, None);
    }

    #[test]
    fn keepalive_pings_an_idle_peer_and_gives_up_on_a_silent_one() {
        let c = Config {
            keepalive_interval: Some(Duration::from_secs(10)),
            ping_timeout: Duration::from_secs(5),
            ..Config::client()
        };
        let mut p = Pair::new(c, Config::server());
        assert_eq!(p.c.poll_timeout(), Some(secs(10)));
        p.at(secs(10));
        // A PING went out and was answered: the next keep-alive is 10 s after that input.
        assert!(p.client_frames().iter().any(|f| matches!(f, Frame::Ping(x) if !x.ack)));
        assert_eq!(p.c.poll_timeout(), Some(secs(20)));
        // Input pushes the keep-alive back.
        p.now = secs(15);
        let stream = p.c.send_request(&get("/"), true).unwrap();
        p.pump();
        p.s.send_response(stream, &ResponseHead::new(204), true).unwrap();
        p.pump();
        assert_eq!(p.c.poll_timeout(), Some(secs(25)));
        // The server goes silent: the PING is not answered in time.
        p.now = secs(25);
        p.c.handle_timeout(p.now);
        assert_eq!(p.c.poll_timeout(), Some(secs(30)));
        p.c.handle_timeout(secs(30));
        let mut sink = Vec::new();
        take_output(&mut p.c, &mut sink);
        let e = ProtocolError::new(Kind::AckTimeout, Answer::Close);
        let events: Vec<Event> = core::iter::from_fn(|| p.c.poll_event()).collect();
        assert_eq!(events, [Event::Error(e), Event::Closed(CloseReason::Error(e))]);
    }

    #[test]
    fn graceful_shutdown_lets_streams_finish_and_refuses_new_ones() {
        let mut p = Pair::default();
        let s1 = p.c.send_request(&post("/"), false).unwrap();
        p.pump();
        p.s.shutdown(p.now);
        p.pump();
        // First GOAWAY (2^31-1) and a PING; the client's ack brings the final GOAWAY (1).
        let goaways: Vec<(u32, ErrorCode)> = p
            .server_frames()
            .iter()
            .filter_map(|f| if let Frame::GoAway(g) = f { Some((g.last_stream.get(), g.code)) } else { None })
            .collect();
        assert_eq!(goaways, [(MAX_STREAM_ID, ErrorCode::NO_ERROR), (1, ErrorCode::NO_ERROR)]);
        assert!(p.c_events.iter().any(|e| matches!(e, Event::GoAway { last_stream, .. } if last_stream.get() == 1)));
        // No new streams from the client.
        assert_eq!(p.c.send_request(&get("/"), true), Err(UserError::Closed.into()));
        assert!(!p.c.is_ready());
        // A stream the client opened anyway (it had not seen the GOAWAY) is ignored.
        let mut raw = Vec::new();
        let block = Bytes::from_static(&[0x82, 0x87, 0x84]);
        Frame::Headers(frame::Headers { end_stream: true, ..frame::Headers::new(sid(5), block) }).encode(&mut raw);
        p.raw_to_server(&raw).unwrap();
        assert!(!p.s_events.iter().any(|e| matches!(e, Event::Request { stream, .. } if *stream == sid(5))));
        // The stream in flight finishes; then both close.
        p.c.send_data(s1, Bytes::from_static(b"done"), true).unwrap();
        p.pump();
        assert!(!p.s.is_closed());
        p.s.send_response(s1, &ResponseHead::new(200), true).unwrap();
        p.pump();
        assert_eq!(p.s_events.last(), Some(&Event::Closed(CloseReason::Done)));
        assert_eq!(p.c_events.last(), Some(&Event::Closed(CloseReason::Done)));
        assert!(p.s.is_closed() && p.c.is_closed());
    }

    #[test]
    fn shutdown_without_a_ping_answer_goes_final_after_a_second() {
        let server = Config { ping_timeout: Duration::from_secs(600), ..Config::server() };
        let mut p = Pair::new(Config::client(), server);
        let s1 = p.c.send_request(&get("/"), true).unwrap();
        p.pump();
        p.now = secs(5);
        p.s.shutdown(p.now);
        p.flush_s();
        p.s2c.clear(); // lost: the client never sees the PING
        assert_eq!(p.s.poll_timeout(), Some(secs(6)));
        p.s.handle_timeout(secs(6));
        p.server_frames();
        p.flush_s();
        let goaways: Vec<u32> = p
            .server_frames()
            .iter()
            .filter_map(|f| if let Frame::GoAway(g) = f { Some(g.last_stream.get()) } else { None })
            .collect();
        assert_eq!(goaways, [1]);
        // The drain timeout closes it even though stream 1 never finishes.
        assert_eq!(p.s.poll_timeout(), Some(secs(6) + Config::server().shutdown_timeout));
        p.s.handle_timeout(secs(6) + Config::server().shutdown_timeout);
        let events: Vec<Event> = core::iter::from_fn(|| p.s.poll_event()).collect();
        assert_eq!(events.last(), Some(&Event::Closed(CloseReason::Done)));
        let _ = s1;
    }

    #[test]
    fn the_goaway_grace_is_configured() {
        let server =
            Config { goaway_grace: Duration::from_secs(7), ping_timeout: Duration::from_secs(600), ..Config::server() };
        let mut p = Pair::new(Config::client(), server);
        p.c.send_request(&get("/"), true).unwrap();
        p.pump();
        p.s.shutdown(secs(5));
        p.flush_s();
        p.s2c.clear(); // the PING is lost
        assert_eq!(p.s.poll_timeout(), Some(secs(12)));
        p.s.handle_timeout(secs(11));
        assert_eq!(p.s.shutdown, Shutdown::Announced);
        p.s.handle_timeout(secs(12));
        assert_eq!(p.s.shutdown, Shutdown::Draining);
    }

    /// GOAWAY frames (last stream, code) among `frames`.
    fn goaways(frames: &[Frame]) -> Vec<(u32, ErrorCode)> {
        frames
            .iter()
            .filter_map(|f| if let Frame::GoAway(g) = f { Some((g.last_stream.get(), g.code)) } else { None })
            .collect()
    }

    #[test]
    fn an_idle_connection_is_shut_down_gracefully() {
        // Issue 10 defect 8: no stream for `idle_timeout` -> GOAWAY(NO_ERROR), then close.
        let mut p = Pair::default();
        let idle = Config::server().idle_timeout.unwrap();
        assert_eq!(idle, Duration::from_secs(60));
        let s1 = p.c.send_request(&get("/"), true).unwrap();
        p.pump();
        // An open stream holds the timeout off, however long it takes.
        p.at(secs(100));
        assert!(goaways(&p.server_frames()).is_empty());
        p.s.send_response(s1, &ResponseHead::new(204), true).unwrap();
        p.pump();
        // Idle from the moment the last stream closed; input that opens no stream (a PING)
        // does not count as activity.
        assert_eq!(p.s.poll_timeout(), Some(secs(160)));
        p.c.ping(secs(150)).unwrap();
        p.at(secs(159));
        assert!(goaways(&p.server_frames()).is_empty());
        p.at(secs(160));
        // The first GOAWAY and its PING, answered at once: the final GOAWAY, and both close.
        assert_eq!(goaways(&p.server_frames()), [(MAX_STREAM_ID, ErrorCode::NO_ERROR), (1, ErrorCode::NO_ERROR)]);
        assert_eq!(p.s_events.last(), Some(&Event::Closed(CloseReason::Done)));
        assert!(p.s.is_closed());
        assert!(p.c_events.contains(&Event::Closed(CloseReason::Done)), "{:?}", p.c_events);
        assert!(errors(&p.s_events).is_empty() && errors(&p.c_events).is_empty());
    }

    #[test]
    fn a_new_stream_restarts_the_idle_timeout_and_none_turns_it_off() {
        let mut p = Pair::default();
        p.at(secs(30));
        let s1 = p.c.send_request(&get("/"), true).unwrap();
        p.pump();
        p.s.send_response(s1, &ResponseHead::new(204), true).unwrap();
        p.pump();
        p.at(secs(89));
        assert!(goaways(&p.server_frames()).is_empty());
        assert_eq!(p.s.poll_timeout(), Some(secs(90)));
        // A request the server has not seen yet when its timer fires is served: the first
        // GOAWAY announces the end, and the final one, sent once the PING comes back,
        // names stream 3 as processed.
        let s3 = p.c.send_request(&get("/"), true).unwrap();
        p.s.handle_timeout(secs(90));
        p.pump();
        assert_eq!(goaways(&p.server_frames()), [(MAX_STREAM_ID, ErrorCode::NO_ERROR), (3, ErrorCode::NO_ERROR)]);
        p.s.send_response(s3, &ResponseHead::new(204), true).unwrap();
        p.pump();
        assert!(p.c_events.contains(&Event::EndStream { stream: s3 }));
        assert!(p.s.is_closed());
        // Off.
        let server = Config { idle_timeout: None, ..Config::server() };
        let p = Pair::new(Config::client(), server);
        assert_eq!(p.s.poll_timeout(), None);
    }

    #[test]
    fn client_shutdown_and_server_goaway_error() {
        let mut p = Pair::default();
        p.c.shutdown(p.now);
        p.pump();
        assert!(p.c.is_closed());
        assert!(p.s_events.iter().any(|e| matches!(e, Event::GoAway { code: ErrorCode::NO_ERROR, .. })));
        // A GOAWAY with an error closes the receiver at once.
        let mut p = Pair::default();
        p.c.send_request(&get("/"), true).unwrap();
        p.pump();
        let mut raw = Vec::new();
        Frame::GoAway(frame::GoAway {
            last_stream: sid(1),
            code: ErrorCode::INTERNAL_ERROR,
            debug_data: Bytes::from_static(b"bye"),
        })
        .encode(&mut raw);
        p.raw_to_client(&raw).unwrap();
        assert!(p.c_events.iter().any(|e| matches!(e, Event::GoAway { code: ErrorCode::INTERNAL_ERROR, .. })));
        assert_eq!(p.c_events.last(), Some(&Event::Closed(CloseReason::PeerClosed)));
    }

    #[test]
    fn goaway_refuses_streams_above_last() {
        let mut p = Pair::default();
        let s1 = p.c.send_request(&get("/"), true).unwrap();
        let s3 = p.c.send_request(&get("/"), true).unwrap();
        let mut raw = Vec::new();
        Frame::GoAway(frame::GoAway { last_stream: s1, code: ErrorCode::NO_ERROR, debug_data: Bytes::new() })
            .encode(&mut raw);
        p.raw_to_client(&raw).unwrap();
        assert!(p.c_events.contains(&Event::Reset { stream: s3, code: ErrorCode::REFUSED_STREAM, remote: true }));
        assert_eq!(p.c.open_streams(), 1);
    }

    #[test]
    fn h2c_upgrade_both_ends() {
        let client_config = Config::client();
        let value = settings_header_value(&client_config);
        assert!(!value.contains('=') && !value.contains('+') && !value.contains('/'));
        let payload = decode_settings_header(value.as_bytes()).unwrap();
        let request = RequestHead::new(Method::Get, "/upgraded").header("host", "h.example");
        let server = H2Connection::server_from_upgrade(Config::server(), T0, &payload, request).unwrap();
        assert_eq!(server.peer_initial_window, 1 << 20, "the client's settings are in force");
        let client = H2Connection::client_from_upgrade(client_config, T0);
        let mut p = Pair::from(client, server);
        let stream = sid(1);
        assert!(
            matches!(&p.s_events[..2], [Event::Request { stream: s, head, expects_continue: false }, Event::EndStream { .. }]
            if *s == stream && head.version == sockless_core::Version::Http2 && head.path() == b"/upgraded")
        );
        p.s.send_response(stream, &ResponseHead::new(200), false).unwrap();
        p.s.send_data(stream, Bytes::from_static(b"via h2"), true).unwrap();
        p.pump();
        assert!(matches!(&p.c_events[0], Event::Response { stream: s, head } if *s == stream && head.status == 200));
        assert_eq!(body(&p.c_events, stream), b"via h2");
        assert!(has_end(&p.c_events, stream));
        // The next request takes stream 3.
        assert_eq!(p.c.send_request(&get("/next"), true), Ok(sid(3)));
        // A bad HTTP2-Settings value is refused.
        assert!(decode_settings_header(b"not base64!").is_none());
        let bad = H2Connection::server_from_upgrade(Config::server(), T0, &[0, 4, 0x80, 0, 0, 0], get("/"));
        assert!(bad.is_err());
    }

    #[test]
    fn client_stream_ids_run_out() {
        let mut p = Pair::default();
        p.c.next_stream_id = MAX_STREAM_ID;
        let last = p.c.send_request(&get("/"), true).unwrap();
        assert_eq!(last.get(), MAX_STREAM_ID);
        assert!(!p.c.is_ready());
        assert_eq!(p.c.send_request(&get("/"), true), Err(UserError::Closed.into()));
        p.pump();
        // The server sees a jump to the last id and serves it.
        p.s.send_response(last, &ResponseHead::new(200), true).unwrap();
        p.pump();
        assert!(p.c_events.iter().any(|e| matches!(e, Event::Response { stream, .. } if *stream == last)));
    }

    #[test]
    fn concurrency_limit_of_the_peer_is_respected() {
        let server = Config { max_concurrent_streams: 2, ..Config::server() };
        let mut p = Pair::new(Config::client(), server);
        let s1 = p.c.send_request(&get("/"), true).unwrap();
        p.c.send_request(&get("/"), true).unwrap();
        assert_eq!(p.c.send_request(&get("/"), true), Err(UserError::Busy.into()));
        assert!(!p.c.is_ready());
        p.pump();
        p.s.send_response(s1, &ResponseHead::new(200), true).unwrap();
        p.pump();
        assert!(p.c.is_ready());
        assert!(p.c.send_request(&get("/"), true).is_ok());
    }

    #[test]
    fn eof_mid_stream_is_an_error_and_when_idle_is_not() {
        let mut p = Pair::default();
        p.c.send_request(&get("/"), false).unwrap();
        p.pump();
        p.s.handle_eof(p.now);
        let events: Vec<Event> = core::iter::from_fn(|| p.s.poll_event()).collect();
        assert!(matches!(events.last(), Some(Event::Closed(CloseReason::Error(_)))));
        let mut p = Pair::default();
        p.s.handle_eof(p.now);
        assert_eq!(p.s.poll_event(), Some(Event::Closed(CloseReason::PeerClosed)));
    }

    #[test]
    fn input_split_anywhere_gives_the_same_events() {
        let mut p = Pair::default();
        let stream = p.c.send_request(&post("/split").header("content-length", "10"), false).unwrap();
        p.c.send_data(stream, Bytes::from_static(b"0123456789"), false).unwrap();
        p.c.send_trailers(stream, &HeaderList::new().with("x", "y")).unwrap();
        p.c.ping(p.now).unwrap();
        p.pump();
        let all = p.c_sent.clone();
        let mut whole = H2Connection::server(Config::server(), T0);
        assert_eq!(whole.handle_input(T0, &all), Ok(all.len()));
        let expected: Vec<Event> = core::iter::from_fn(|| whole.poll_event()).collect();
        assert_eq!(expected.len(), 4, "{expected:?}");
        for step in [1, 2, 7, 100] {
            let mut s = H2Connection::server(Config::server(), T0);
            for chunk in all.chunks(step) {
                assert_eq!(s.handle_input(T0, chunk), Ok(chunk.len()));
            }
            let got: Vec<Event> = core::iter::from_fn(|| s.poll_event()).collect();
            assert_eq!(got, expected, "step {step}");
        }
    }
}

mod credit {
    //! Connection-level receive credit, whichever way streams end (issue 10, defect 1).
    use super::*;

    /// Marks every event each side has so far as seen by its application, releasing nothing.
    fn ignore_bodies(p: &mut Pair) {
        p.pump();
        p.c_released = p.c_events.len();
        p.s_released = p.s_events.len();
    }

    fn whole(conn: &H2Connection) -> bool {
        let window = i64::from(conn.config.connection_window_size.max(65_535));
        conn.conn_recv_window + i64::from(conn.conn_unreleased) == window
    }

    #[test]
    fn connection_window_comes_back_whichever_way_uploads_end() {
        // 512 KiB uploads on one connection (4 MiB connection window: eight lost uploads
        // would stall it for good), each fully read and released by the application, reset
        // mid-body by the client, or answered and ended by the server before it read the
        // body. The server's window is whole after each, and the next upload goes through.
        let mut p = Pair::default();
        let upload = vec![7u8; 512 << 10];
        for round in 0..30 {
            let stream = p.c.send_request(&post("/up"), false).unwrap();
            match round % 3 {
                0 => {
                    send_all(&mut p, true, stream, &upload, true);
                    settle(&mut p);
                    p.s.send_response(stream, &ResponseHead::new(200), true).unwrap();
                    settle(&mut p);
                }
                1 => {
                    assert_eq!(p.c.send_data(stream, Bytes::from(upload[..256 << 10].to_vec()), false), Ok(256 << 10));
                    ignore_bodies(&mut p);
                    p.c.reset_stream(stream, ErrorCode::CANCEL).unwrap();
                    ignore_bodies(&mut p);
                    assert!(p.s_events.contains(&Event::Reset { stream, code: ErrorCode::CANCEL, remote: true }));
                }
                _ => {
                    assert_eq!(p.c.send_data(stream, Bytes::from(upload.clone()), true), Ok(upload.len()));
                    ignore_bodies(&mut p);
                    assert!(has_end(&p.s_events, stream), "round {round}");
                    p.s.send_response(stream, &ResponseHead::new(200), true).unwrap();
                    ignore_bodies(&mut p);
                }
            }
            assert_eq!((p.c.open_streams(), p.s.open_streams()), (0, 0), "round {round}");
            assert!(whole(&p.s), "round {round}: server window {} + {}", p.s.conn_recv_window, p.s.conn_unreleased);
            assert!(whole(&p.c), "round {round}");
        }
        assert!(errors(&p.s_events).is_empty() && errors(&p.c_events).is_empty());
    }

    #[test]
    fn our_reset_and_a_stream_error_return_unreleased_credit() {
        let mut p = Pair::default();
        // The server's application resets an upload it received 100 000 bytes of.
        let s1 = p.c.send_request(&post("/"), false).unwrap();
        p.c.send_data(s1, Bytes::from(vec![0u8; 100_000]), false).unwrap();
        ignore_bodies(&mut p);
        p.s.release_capacity(s1, 30_000).unwrap();
        p.s.reset_stream(s1, ErrorCode::CANCEL).unwrap();
        ignore_bodies(&mut p);
        assert!(whole(&p.s));
        // A late release for the stream that went counts nothing twice.
        p.s.release_capacity(s1, 70_000).unwrap();
        assert!(whole(&p.s));
        // A stream error (Content-Length exceeded) after unreleased DATA.
        let s3 = p.c.send_request(&post("/").header("content-length", "10"), false).unwrap();
        p.c.send_data(s3, Bytes::from_static(b"0123456789"), false).unwrap();
        ignore_bodies(&mut p);
        p.c.send_data(s3, Bytes::from_static(b"x"), false).unwrap();
        ignore_bodies(&mut p);
        assert!(p.s_events.contains(&Event::Reset { stream: s3, code: ErrorCode::PROTOCOL_ERROR, remote: false }));
        assert!(whole(&p.s));
        // The client's side: a response body it never read, on a stream that finished.
        let s5 = p.c.send_request(&get("/"), true).unwrap();
        p.pump();
        p.s.send_response(s5, &ResponseHead::new(200), false).unwrap();
        p.s.send_data(s5, Bytes::from(vec![1u8; 50_000]), true).unwrap();
        ignore_bodies(&mut p);
        assert!(has_end(&p.c_events, s5));
        assert!(whole(&p.c));
    }
}

mod closed {
    //! RFC 9113 section 5.1 on frames for streams that are half-closed (remote) or closed,
    //! whichever way they closed and whether or not they are still in the table (h2spec
    //! `http2/5.1/5`..`13`, and issue 10 defect 2: the handler answered before the frame came).
    use super::*;
    use crate::hpack::Encoder;

    const GET: [(&str, &str); 3] = [(":method", "GET"), (":scheme", "https"), (":path", "/")];

    /// Frames a field block from `enc` (which stays in step with the server's decoder).
    fn headers(enc: &mut Encoder, id: u32, fields: &[(&str, &str)], end_stream: bool) -> Vec<u8> {
        let mut block = Vec::new();
        enc.encode(fields.iter().map(|(n, v)| (n.as_bytes(), v.as_bytes())), &mut block);
        let mut raw = Vec::new();
        Frame::Headers(frame::Headers { end_stream, ..frame::Headers::new(sid(id), Bytes::from(block)) })
            .encode(&mut raw);
        raw
    }

    fn data(id: u32) -> Vec<u8> {
        let mut raw = Vec::new();
        Frame::Data(frame::Data { stream: sid(id), data: Bytes::from_static(b"x"), end_stream: false, pad: None })
            .encode(&mut raw);
        raw
    }

    fn goaway_code(frames: &[Frame]) -> Option<ErrorCode> {
        frames.iter().find_map(|f| if let Frame::GoAway(g) = f { Some(g.code) } else { None })
    }

    /// A server that got a GET on stream 1 (with END_STREAM) from a raw client.
    fn got_get() -> (Pair, Encoder) {
        let mut p = Pair::default();
        let mut enc = Encoder::new();
        p.raw_to_server(&headers(&mut enc, 1, &GET, true)).unwrap();
        assert!(p.s_events.iter().any(|e| matches!(e, Event::Request { .. })));
        p.server_frames();
        (p, enc)
    }

    #[test]
    fn headers_on_a_half_closed_remote_stream_is_stream_closed() {
        // http2/5.1/6 with a slow handler: the stream is still in the table.
        let (mut p, mut enc) = got_get();
        p.raw_to_server(&headers(&mut enc, 1, &[("x", "y")], true)).unwrap();
        assert_eq!(rst_frames(&p.server_frames()), [(1, ErrorCode::STREAM_CLOSED)]);
        // And DATA (http2/5.1/5).
        let (mut p, _) = got_get();
        p.raw_to_server(&data(1)).unwrap();
        assert_eq!(rst_frames(&p.server_frames()), [(1, ErrorCode::STREAM_CLOSED)]);
    }

    #[test]
    fn headers_after_the_handler_answered_is_stream_closed() {
        // http2/5.1/6 with a quick handler: the response ended the stream and it left the
        // table before the second HEADERS arrived. The peer sent END_STREAM, so this is the
        // "closed" state's connection error STREAM_CLOSED (not silence).
        let (mut p, mut enc) = got_get();
        p.s.send_response(sid(1), &ResponseHead::new(200), true).unwrap();
        assert_eq!(p.s.open_streams(), 0);
        let r = p.raw_to_server(&headers(&mut enc, 1, &[("x", "y")], true));
        assert!(r.is_err());
        assert_eq!(goaway_code(&p.server_frames()), Some(ErrorCode::STREAM_CLOSED));
        // DATA the same way (http2/5.1/11).
        let (mut p, _) = got_get();
        p.s.send_response(sid(1), &ResponseHead::new(200), true).unwrap();
        assert!(p.raw_to_server(&data(1)).is_err());
        assert_eq!(goaway_code(&p.server_frames()), Some(ErrorCode::STREAM_CLOSED));
    }

    #[test]
    fn frames_after_the_peers_reset_are_stream_closed() {
        // http2/5.1/8 and 5.1/9: the client reset the stream, then sends on it. (The RST_STREAM
        // we answer with makes it a stream we reset: what follows is ignored.)
        for late in [true, false] {
            let (mut p, mut enc) = got_get();
            let mut raw = Vec::new();
            Frame::RstStream(frame::RstStream { stream: sid(1), code: ErrorCode::CANCEL }).encode(&mut raw);
            p.raw_to_server(&raw).unwrap();
            let frame = if late { data(1) } else { headers(&mut enc, 1, &[("x", "y")], true) };
            p.raw_to_server(&frame).unwrap();
            p.raw_to_server(&data(1)).unwrap();
            assert_eq!(rst_frames(&p.server_frames()), [(1, ErrorCode::STREAM_CLOSED)]);
            assert_eq!(p.s.error, None);
        }
    }

    #[test]
    fn frames_after_our_reset_are_ignored_even_after_many_normal_closes() {
        // We reset stream 1; three hundred streams then finish normally (more than the memory of
        // normal closes holds) before the client's late frames on 1 arrive: still ignored.
        let (mut p, mut enc) = got_get();
        p.s.reset_stream(sid(1), ErrorCode::CANCEL).unwrap();
        for id in (3..603).step_by(2) {
            p.raw_to_server(&headers(&mut enc, id, &GET, true)).unwrap();
            p.s.send_response(sid(id), &ResponseHead::new(204), true).unwrap();
        }
        p.server_frames();
        p.raw_to_server(&data(1)).unwrap();
        p.raw_to_server(&headers(&mut enc, 1, &[("x", "y")], true)).unwrap();
        assert_eq!(rst_frames(&p.server_frames()), []);
        assert_eq!(p.s.error, None);
    }

    #[test]
    fn client_answers_late_frames_on_its_closed_streams_the_same_way() {
        let mut p = Pair::default();
        let s1 = p.c.send_request(&get("/"), true).unwrap();
        p.pump();
        p.s.send_response(s1, &ResponseHead::new(204), true).unwrap();
        p.pump();
        assert_eq!(p.c.open_streams(), 0);
        let mut enc = Encoder::new();
        let r = p.raw_to_client(&headers(&mut enc, 1, &[(":status", "200")], true));
        assert!(r.is_err());
        assert_eq!(p.c.error.map(|e| e.answer), Some(Answer::GoAway(ErrorCode::STREAM_CLOSED)));
    }
}

mod body_limit {
    //! `Config::max_body_bytes` on HTTP/2 requests (issue 10, item 10).
    use super::*;

    fn limited(max: Option<u64>) -> Pair {
        Pair::new(Config::client(), Config { max_body_bytes: max, ..Config::server() })
    }

    fn statuses(events: &[Event]) -> Vec<u16> {
        events
            .iter()
            .filter_map(|e| if let Event::Response { head, .. } = e { Some(head.status) } else { None })
            .collect()
    }

    #[test]
    fn defaults_are_those_of_http1() {
        assert_eq!(Config::server().max_body_bytes, Some(4 << 20));
        assert_eq!(Config::client().max_body_bytes, None);
    }

    #[test]
    fn a_content_length_over_the_limit_is_413_before_the_application_sees_the_request() {
        let mut p = limited(Some(1_000));
        let s1 = p.c.send_request(&post("/").header("content-length", "1001"), false).unwrap();
        p.pump();
        assert!(!p.s_events.iter().any(|e| matches!(e, Event::Request { .. })), "{:?}", p.s_events);
        assert_eq!(errors(&p.s_events), [ProtocolError::new(Kind::BodyTooLarge, Answer::Status(413)).on(s1)]);
        assert_eq!(rst_frames(&p.server_frames()), [(1, ErrorCode::NO_ERROR)]);
        assert_eq!(statuses(&p.c_events), [413]);
        assert!(has_end(&p.c_events, s1));
        // The limit itself is allowed.
        let s3 = p.c.send_request(&post("/").header("content-length", "1000"), false).unwrap();
        send_all(&mut p, true, s3, &[1u8; 1_000], true);
        settle(&mut p);
        assert_eq!(body(&p.s_events, s3).len(), 1_000);
        assert!(has_end(&p.s_events, s3));
    }

    #[test]
    fn data_over_the_limit_is_answered_413_while_the_response_has_not_started() {
        let mut p = limited(Some(1_000));
        let s1 = p.c.send_request(&post("/"), false).unwrap();
        p.c.send_data(s1, Bytes::from(vec![1u8; 600]), false).unwrap();
        p.pump();
        p.c.send_data(s1, Bytes::from(vec![2u8; 600]), false).unwrap();
        p.pump();
        assert_eq!(body(&p.s_events, s1).len(), 600, "the DATA that went over is not delivered");
        let e = ProtocolError::new(Kind::BodyTooLarge, Answer::Status(413)).on(s1);
        assert_eq!(errors(&p.s_events), [e]);
        assert!(p.s_events.contains(&Event::Reset { stream: s1, code: ErrorCode::NO_ERROR, remote: false }));
        assert_eq!(rst_frames(&p.server_frames()), [(1, ErrorCode::NO_ERROR)]);
        assert_eq!(statuses(&p.c_events), [413]);
        assert_eq!((p.c.open_streams(), p.s.open_streams()), (0, 0));
        // Nothing of it stays counted against the connection.
        let window = i64::from(Config::server().connection_window_size);
        assert_eq!(p.s.conn_recv_window + i64::from(p.s.conn_unreleased), window);
        assert_eq!(p.s.send_response(s1, &ResponseHead::new(200), true), Err(UserError::UnknownStream.into()));
    }

    #[test]
    fn data_over_the_limit_after_the_response_started_resets_the_stream() {
        let mut p = limited(Some(1_000));
        let s1 = p.c.send_request(&post("/"), false).unwrap();
        p.pump();
        p.s.send_response(s1, &ResponseHead::new(200), false).unwrap();
        p.c.send_data(s1, Bytes::from(vec![1u8; 1_001]), false).unwrap();
        p.pump();
        let e = ProtocolError::new(Kind::BodyTooLarge, Answer::ResetStream(ErrorCode::CANCEL)).on(s1);
        assert_eq!(errors(&p.s_events), [e]);
        assert!(p.s_events.contains(&Event::Reset { stream: s1, code: ErrorCode::CANCEL, remote: false }));
        assert!(p.c_events.contains(&Event::Reset { stream: s1, code: ErrorCode::CANCEL, remote: true }));
        assert_eq!(statuses(&p.c_events), [200]);
    }

    #[test]
    fn none_is_unlimited_and_the_client_has_no_limit() {
        let mut p = limited(None);
        let s1 = p.c.send_request(&post("/"), false).unwrap();
        send_all(&mut p, true, s1, &vec![3u8; 5 << 20], true);
        settle(&mut p);
        assert_eq!(body(&p.s_events, s1).len(), 5 << 20);
        // The server's response body is not limited by the client's default.
        p.s.send_response(s1, &ResponseHead::new(200), false).unwrap();
        send_all(&mut p, false, s1, &vec![4u8; 5 << 20], true);
        settle(&mut p);
        assert_eq!(body(&p.c_events, s1).len(), 5 << 20);
        assert!(errors(&p.s_events).is_empty() && errors(&p.c_events).is_empty());
    }
}

mod concurrency {
    //! The client's stream limit before and after the server's SETTINGS (issue 11 defect 1).
    use super::*;

    #[test]
    fn before_the_servers_settings_the_client_assumes_100_streams() {
        // 200 requests started at once on a fresh connection: the first 100 go out, the rest
        // wait (Busy) instead of being refused by a server that allows 100.
        let mut c = H2Connection::client(Config::client(), T0);
        let s = H2Connection::server(Config::server(), T0);
        let mut sent = Vec::new();
        for _ in 0..200 {
            match c.send_request(&get("/"), true) {
                Ok(id) => sent.push(id),
                Err(e) => assert_eq!(e, UserError::Busy.into()),
            }
        }
        assert_eq!(sent.len(), 100);
        assert!(!c.is_ready());
        let mut p = Pair::from(c, s);
        assert!(rst_frames(&p.server_frames()).is_empty(), "nothing refused");
        assert_eq!(p.s_events.iter().filter(|e| matches!(e, Event::Request { .. })).count(), 100);
        // A stream ends: a slot frees.
        p.s.send_response(sent[0], &ResponseHead::new(204), true).unwrap();
        p.pump();
        assert!(p.c.is_ready());
        p.c.send_request(&get("/"), true).unwrap();
        assert_eq!(p.c.send_request(&get("/"), true), Err(UserError::Busy.into()));
    }

    #[test]
    fn the_servers_settings_replace_the_assumption() {
        let server = Config { max_concurrent_streams: 250, ..Config::server() };
        let mut p = Pair::new(Config::client(), server);
        for _ in 0..250 {
            p.c.send_request(&get("/"), true).unwrap();
        }
        assert_eq!(p.c.send_request(&get("/"), true), Err(UserError::Busy.into()));
        // SETTINGS without MAX_CONCURRENT_STREAMS: unlimited, the protocol's initial value.
        let mut c = H2Connection::client(Config::client(), T0);
        let mut raw = Vec::new();
        Frame::Settings(Settings::default()).encode(&mut raw);
        c.handle_input(T0, &raw).unwrap();
        for _ in 0..300 {
            c.send_request(&get("/"), true).unwrap();
        }
        // A later SETTINGS without it leaves the limit as it was.
        let mut raw = Vec::new();
        Frame::Settings(Settings { max_concurrent_streams: Some(10), ..Settings::default() }).encode(&mut raw);
        Frame::Settings(Settings::default()).encode(&mut raw);
        c.handle_input(T0, &raw).unwrap();
        assert_eq!(c.send_request(&get("/"), true), Err(UserError::Busy.into()));
    }

    #[test]
    fn a_refused_stream_says_so_in_its_reset() {
        let server = Config { max_concurrent_streams: 1, ..Config::server() };
        let mut c = H2Connection::client(Config::client(), T0);
        let s = H2Connection::server(server, T0);
        // Both sent before the server's limit of 1 is known: the second is refused.
        let s1 = c.send_request(&get("/"), true).unwrap();
        let s3 = c.send_request(&get("/"), true).unwrap();
        let p = Pair::from(c, s);
        assert!(p.c_events.contains(&Event::Reset { stream: s3, code: ErrorCode::REFUSED_STREAM, remote: true }));
        assert!(!p.c_events.iter().any(|e| matches!(e, Event::Reset { stream, .. } if *stream == s1)));
    }
}
