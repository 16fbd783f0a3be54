//! The HTTP/2 connection, both roles, as a pure state machine.
//!
//! [`H2Connection`] implements [`sockless_core::Connection`]: frames in
//! through the [`FrameDecoder`], field blocks through HPACK, and the same
//! [`Event`]s HTTP/1.1 emits out. Stream states follow RFC 9113 section 5.1
//! ([`stream`]), flow control section 5.2 and 6.9, and every cheap-to-send
//! frame a peer could flood us with is counted against a limit of [`Config`].

mod config;
mod fields;
#[cfg(test)]
mod model;
mod settings_header;
mod stream;
#[cfg(test)]
mod tests;
mod timers;

pub use config::Config;
pub use settings_header::{decode_settings_header, settings_header_value};

use crate::frame::{self, Frame, FrameDecoder, FrameError, Settings};
use crate::hpack;
use alloc::collections::VecDeque;
use alloc::vec::Vec;
use bytes::{Bytes, BytesMut};
use fields::{BlockKind, Decoded, FieldError};
use sockless_core::{
    Answer, CloseReason, Connection, Error, ErrorCode, Event, HeaderList, InputBuffer, Instant, Method, ProtocolError,
    ProtocolErrorKind as Kind, RequestHead, ResponseHead, StreamId, TransmitQueue, UserError,
};
use stream::{ClosedStreams, Closure, Incoming, RecvEvent, RecvHalf, Seen, SendEvent, SendHalf, Stream, Verdict};
use timers::{Timer, Timers};

const MAX_WINDOW: i64 = (1 << 31) - 1;
const DEFAULT_WINDOW: i64 = 65_535;
const MAX_STREAM_ID: u32 = (1 << 31) - 1;
/// The peer's SETTINGS_MAX_CONCURRENT_STREAMS we assume until its SETTINGS arrive: the
/// protocol's initial value is unlimited, but servers commonly allow 100 and refuse streams
/// beyond (the h2 crate and nghttp2 assume 100 as well).
const ASSUMED_MAX_CONCURRENT: u32 = 100;
/// Room for streams and for events an idle connection keeps after a burst gave it more: enough
/// that one request at a time never reallocates, little enough that thousands of idle
/// connections do not each hold the table and queue of their busiest moment (a `Stream` and an
/// `Event` are about 150 bytes each).
const STREAMS_KEPT: usize = 4;
const EVENTS_KEPT: usize = 8;
/// Bytes written in one go past which an idle connection's emptied transmit queue is replaced
/// by a fresh one (its buffers grow with what was queued at once).
const OUT_KEPT: u64 = 1024;

/// Which end of the connection we are.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Role {
    /// We accept streams (odd ids from the client).
    Server,
    /// We open streams (odd ids).
    Client,
}

/// How a stream leaves the table (see `H2Connection::remove_stream`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Removal {
    /// Both halves ended.
    Finished,
    /// The peer sent RST_STREAM with this code (or refused the stream in a GOAWAY).
    ResetByPeer(ErrorCode),
    /// We sent RST_STREAM; `tell` the application (it did not ask for it).
    ResetByUs { code: ErrorCode, tell: bool },
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Shutdown {
    Running,
    /// GOAWAY(2^31-1) and a PING went out; the final GOAWAY follows the PING
    /// ack or `Config::goaway_grace`, whichever comes first (RFC 9113 section 6.8).
    Announced,
    /// The final GOAWAY went out; streams above it are refused.
    Draining,
}

/// An HTTP/2 connection.
///
/// ```
/// use sockless_core::{Connection, Event, Instant, Method, RequestHead, ResponseHead, Bytes};
/// use sockless_h2::{Config, H2Connection};
///
/// let now = Instant::ZERO;
/// let mut client = H2Connection::client(Config::client(), now);
/// let mut server = H2Connection::server(Config::server(), now);
/// let stream = client.send_request(&RequestHead::new(Method::Get, "https://example.com/"), true).unwrap();
/// pump(&mut client, &mut server);
/// let mut served = false;
/// while let Some(event) = server.poll_event() {
///     if let Event::Request { stream, head, .. } = event {
///         assert_eq!(head.path(), b"/");
///         server.send_response(stream, &ResponseHead::new(200), false).unwrap();
///         server.send_data(stream, Bytes::from_static(b"hi"), true).unwrap();
///         served = true;
///     }
/// }
/// assert!(served);
/// pump(&mut server, &mut client);
/// let events: Vec<Event> = std::iter::from_fn(|| client.poll_event()).collect();
/// assert!(events.contains(&Event::Data { stream, data: Bytes::from_static(b"hi") }));
/// assert!(events.contains(&Event::EndStream { stream }));
///
/// fn pump(from: &mut H2Connection, to: &mut H2Connection) {
///     let mut slices: [&[u8]; 16] = [&[]; 16];
///     let n = from.poll_transmit(&mut slices);
///     let bytes = slices[..n].concat();
///     from.advance_transmit(bytes.len());
///     to.handle_input(Instant::ZERO, &bytes).unwrap();
/// }
/// ```
///
/// # Concurrency (client)
///
/// Requests never go beyond the server's SETTINGS_MAX_CONCURRENT_STREAMS, which is assumed to
/// be 100 until the server's SETTINGS arrive. `send_request` beyond it returns
/// `UserError::Busy` and sends nothing: the driver keeps the request queued and tries again
/// when a stream ends (after the next input; `is_ready` tells). A request the server refused
/// anyway ends in `Event::Reset` with `code: ErrorCode::REFUSED_STREAM` (RFC 9113 section 8.7:
/// not processed, safe to send again), as do our streams above the last id of a GOAWAY.
pub struct H2Connection {
    role: Role,
    config: Config,
    input: InputBuffer,
    out: TransmitQueue,
    events: VecDeque<Event>,
    frames: FrameDecoder,
    hpack_dec: hpack::Decoder,
    hpack_enc: hpack::Encoder,
    /// A field block being assembled across CONTINUATION frames.
    block: Vec<u8>,
    block_stream: u32,
    block_end_stream: bool,
    scratch: Vec<u8>,
    /// Decoded heads are written here and split off (see `fields::decode_block`).
    heads: BytesMut,
    /// Encoded field blocks we send, reused.
    block_out: Vec<u8>,
    lower: Vec<u8>,
    /// Server: the client preface has not arrived yet.
    preface_pending: bool,
    /// The peer's first SETTINGS arrived.
    peer_settings_seen: bool,
    streams: Vec<Stream>,
    next_stream_id: u32,
    last_peer_stream: u32,
    peer_max_concurrent: u32,
    peer_initial_window: i64,
    peer_max_frame: u32,
    conn_send_window: i64,
    conn_recv_window: i64,
    conn_unreleased: u32,
    /// The peer acknowledged our SETTINGS.
    settings_acked: bool,
    /// The payload of our PING that is not answered yet.
    ping_sent: Option<[u8; 8]>,
    ping_counter: u64,
    goaway_sent: Option<u32>,
    goaway_received: Option<u32>,
    shutdown: Shutdown,
    resets: u32,
    resets_since: Instant,
    /// Where each control frame we owe the peer ends in the output stream
    /// (counted from the first byte ever queued), oldest first: those not yet
    /// written are the ones still queued. A count reset only when the queue
    /// empties would grow forever under a peer that reads steadily but never
    /// quite catches up, and fail a legitimate connection.
    pending_control: VecDeque<u64>,
    /// Bytes written out so far (`advance_transmit`), on the same scale.
    written: u64,
    /// `written` when the transmit queue was last empty.
    written_when_empty: u64,
    /// Bytes written since the transmit queue was last empty or compacted.
    written_since_compact: usize,
    empty_frames: u32,
    /// Streams that left the table recently, and how: a late frame on one is
    /// answered as RFC 9113 section 5.1 ("closed") says for that way of closing
    /// (see `stream::receive`).
    closed: ClosedStreams,
    error: Option<ProtocolError>,
    close_reason: Option<CloseReason>,
    closed_emitted: bool,
    now: Instant,
    timers: Timers,
    rr: usize,
}

impl H2Connection {
    fn new(role: Role, config: Config, now: Instant) -> Self {
        let mut frames = FrameDecoder::new();
        frames
            .set_max_frame_size(config.max_frame_size)
            .set_max_header_block(config.max_header_block)
            .set_max_continuations(config.max_continuations);
        let mut conn = H2Connection {
            role,
            input: InputBuffer::new(
                config.max_buffered_input.max(config.max_frame_size as usize + 9),
                config.read_size,
            ),
            out: TransmitQueue::default(),
            events: VecDeque::new(),
            frames,
            hpack_dec: hpack::Decoder::new(config.header_table_size as usize),
            hpack_enc: hpack::Encoder::new(),
            block: Vec::new(),
            block_stream: 0,
            block_end_stream: false,
            scratch: Vec::new(),
            heads: BytesMut::new(),
            block_out: Vec::new(),
            lower: Vec::new(),
            preface_pending: role == Role::Server,
            peer_settings_seen: false,
            streams: Vec::new(),
            next_stream_id: 1,
            last_peer_stream: 0,
            peer_max_concurrent: ASSUMED_MAX_CONCURRENT,
            peer_initial_window: DEFAULT_WINDOW,
            peer_max_frame: frame::DEFAULT_MAX_FRAME_SIZE,
            conn_send_window: DEFAULT_WINDOW,
            conn_recv_window: DEFAULT_WINDOW,
            conn_unreleased: 0,
            settings_acked: false,
            ping_sent: None,
            ping_counter: 0,
            goaway_sent: None,
            goaway_received: None,
            shutdown: Shutdown::Running,
            resets: 0,
            resets_since: now,
            pending_control: VecDeque::new(),
            written: 0,
            written_when_empty: 0,
            written_since_compact: 0,
            empty_frames: 0,
            closed: ClosedStreams::default(),
            error: None,
            close_reason: None,
            closed_emitted: false,
            now,
            timers: Timers::default(),
            rr: 0,
            config,
        };
        conn.timers.set(Timer::SettingsAck, now + conn.config.settings_timeout);
        conn.input_arrived();
        conn.became_idle();
        conn.send_preface();
        conn
    }

    /// A server connection, accepted at `now`. Our SETTINGS go out at once;
    /// the client's preface is expected first.
    pub fn server(config: Config, now: Instant) -> Self {
        Self::new(Role::Server, config, now)
    }

    /// A client connection (prior knowledge or after ALPN "h2"): the preface
    /// and our SETTINGS go out at once.
    pub fn client(config: Config, now: Instant) -> Self {
        Self::new(Role::Client, config, now)
    }

    /// A server connection taking over from an HTTP/1.1 `Upgrade: h2c`
    /// request (RFC 7540 section 3.2): `settings` is the decoded
    /// `HTTP2-Settings` payload, `request` the upgraded request, which
    /// becomes stream 1, half-closed (remote) and reported as an
    /// [`Event::Request`]. The 101 response is the HTTP/1.1 layer's to send.
    pub fn server_from_upgrade(
        config: Config,
        now: Instant,
        settings: &[u8],
        mut request: RequestHead,
    ) -> Result<Self, ProtocolError> {
        let peer = Settings::decode(settings).map_err(ProtocolError::from)?;
        let mut conn = Self::server(config, now);
        conn.apply_settings(&peer)?;
        let s = Stream::remote(1, true, false, conn.peer_initial_window, i64::from(conn.config.initial_window_size));
        conn.insert_stream(s);
        conn.last_peer_stream = 1;
        request.version = sockless_core::Version::Http2;
        let stream = StreamId::new(1);
        conn.events.push_back(Event::Request { stream, head: request, expects_continue: false });
        conn.events.push_back(Event::EndStream { stream });
        Ok(conn)
    }

    /// A client connection after the server answered `101 Switching
    /// Protocols` to our `Upgrade: h2c` request: stream 1 (that request)
    /// is half-closed (local) and its response arrives as HTTP/2.
    pub fn client_from_upgrade(config: Config, now: Instant) -> Self {
        let mut conn = Self::client(config, now);
        let s = Stream::local(1, true, conn.peer_initial_window, i64::from(conn.config.initial_window_size));
        conn.insert_stream(s);
        conn.next_stream_id = 3;
        conn
    }

    /// Our role.
    pub fn role(&self) -> Role {
        self.role
    }

    /// The configuration in force.
    pub fn config(&self) -> &Config {
        &self.config
    }

    /// How many streams are open (in either direction).
    pub fn open_streams(&self) -> usize {
        self.streams.len()
    }

    /// Whether a new request may be sent now (client): `send_request` would not return
    /// `UserError::Busy` (the peer's stream limit) or `UserError::Closed`.
    pub fn is_ready(&self) -> bool {
        self.role == Role::Client
            && self.error.is_none()
            && self.close_reason.is_none()
            && self.goaway_received.is_none()
            && self.shutdown == Shutdown::Running
            && self.next_stream_id <= MAX_STREAM_ID
            && (self.local_streams() as u32) < self.peer_max_concurrent
    }

    fn our_settings(&self) -> Settings {
        Settings {
            header_table_size: Some(self.config.header_table_size),
            enable_push: Some(false),
            max_concurrent_streams: Some(self.config.max_concurrent_streams),
            initial_window_size: Some(self.config.initial_window_size),
            max_frame_size: Some(self.config.max_frame_size),
            max_header_list_size: Some(self.config.max_header_list_size),
        }
    }

    fn send_preface(&mut self) {
        if self.role == Role::Client {
            self.out.push_framing(frame::PREFACE);
        }
        let settings = self.our_settings();
        self.out.framing(|b| Frame::Settings(settings).encode(b));
        let extra = i64::from(self.config.connection_window_size) - DEFAULT_WINDOW;
        if extra > 0 {
            self.conn_recv_window += extra;
            self.write_frame(Frame::WindowUpdate(frame::WindowUpdate {
                stream: StreamId::CONNECTION,
                increment: extra as u32,
            }));
        }
    }

    /// Frames the field block in `block_out` as HEADERS plus CONTINUATION
    /// frames no larger than the peer allows, without allocating.
    fn write_block(&mut self, stream: StreamId, end_stream: bool) {
        let max = self.peer_max_frame.max(frame::DEFAULT_MAX_FRAME_SIZE) as usize;
        let block = &self.block_out;
        self.out.framing(|b| {
            let mut rest = &block[..];
            let mut first = true;
            loop {
                let n = rest.len().min(max);
                let last = n == rest.len();
                let mut flags = if last { frame::flag::END_HEADERS } else { 0 };
                if first && end_stream {
                    flags |= frame::flag::END_STREAM;
                }
                let kind = if first { frame::kind::HEADERS } else { frame::kind::CONTINUATION };
                frame::Head { len: n as u32, kind, flags, stream }.encode(b);
                b.extend_from_slice(&rest[..n]);
                rest = &rest[n..];
                first = false;
                if last {
                    break;
                }
            }
        });
    }

    fn write_frame(&mut self, f: Frame) {
        self.out.framing(|b| f.encode(b));
    }

    /// Queues a frame we owe the peer (an ack or a reset); too many queued
    /// means the peer makes us work without reading: ENHANCE_YOUR_CALM.
    fn write_control(&mut self, f: Frame) {
        self.write_frame(f);
        self.pending_control.push_back(self.written + self.out.len() as u64);
        if self.pending_control.len() > self.config.max_pending_control {
            self.fail(Kind::ExcessiveLoad, ErrorCode::ENHANCE_YOUR_CALM, "too many control frames queued");
        }
    }

    fn is_peer_stream(&self, id: u32) -> bool {
        match self.role {
            Role::Server => id % 2 == 1,
            Role::Client => id % 2 == 0,
        }
    }

    fn local_streams(&self) -> usize {
        self.streams.iter().filter(|s| !self.is_peer_stream(s.id)).count()
    }

    fn peer_streams(&self) -> usize {
        self.streams.iter().filter(|s| self.is_peer_stream(s.id)).count()
    }

    fn index(&self, id: u32) -> Option<usize> {
        self.streams.iter().position(|s| s.id == id)
    }

    /// A stream enters the table: the connection is not idle.
    fn insert_stream(&mut self, s: Stream) {
        self.streams.push(s);
        self.timers.stop(Timer::Idle);
    }

    /// No stream is open: the idle timeout runs from now, and the table gives back the room a
    /// burst of streams took.
    fn became_idle(&mut self) {
        self.streams.shrink_to(STREAMS_KEPT);
        if let Some(t) = self.config.idle_timeout {
            self.timers.set(Timer::Idle, self.now + t);
        }
    }

    /// Input arrived: the keep-alive PING waits for another interval of silence.
    fn input_arrived(&mut self) {
        if let Some(k) = self.config.keepalive_interval {
            self.timers.set(Timer::Keepalive, self.now + k);
        }
    }

    fn drop_if_done(&mut self, idx: usize) {
        if self.streams[idx].is_done() {
            self.remove_stream(idx, Removal::Finished);
        }
    }

    /// The one way a stream leaves the table (short of the whole connection closing): the
    /// application hears of a reset it did not ask for, the connection window gets back the
    /// DATA the application was handed and never released (it will not be: the stream is
    /// gone, and a later `release_capacity` for it counts nothing), and how it closed is
    /// remembered for the peer's late frames.
    fn remove_stream(&mut self, idx: usize, how: Removal) {
        let s = self.streams.swap_remove(idx);
        let stream = StreamId::new(s.id);
        let closure = match how {
            Removal::Finished => Closure::Ended,
            Removal::ResetByPeer(code) => {
                self.events.push_back(Event::Reset { stream, code, remote: true });
                Closure::ResetByPeer
            }
            Removal::ResetByUs { code, tell } => {
                if tell {
                    self.events.push_back(Event::Reset { stream, code, remote: false });
                }
                Closure::ResetByUs
            }
        };
        self.closed.remember(s.id, closure);
        self.release_connection(s.held);
        if self.streams.is_empty() {
            self.became_idle();
        }
    }

    /// How the connection knows stream `id`, which is not in the table.
    fn seen_closed(&self, id: u32) -> Seen {
        if self.is_idle(id) {
            return Seen::Idle;
        }
        if self.is_peer_stream(id) && self.goaway_sent.is_some_and(|last| id > last) {
            // Refused by the GOAWAY we sent: the peer may not have seen it yet (section 6.8).
            return Seen::Closed(Closure::ResetByUs);
        }
        self.closed.lookup(id).map_or(Seen::Forgotten, Seen::Closed)
    }

    /// The RFC 9113 state of stream `id`.
    #[cfg_attr(not(test), allow(dead_code))]
    fn stream_state(&self, id: u32) -> stream::State {
        match self.seen(id) {
            (_, Some(idx)) => self.streams[idx].state(),
            (Seen::Idle, None) => stream::State::Idle,
            (_, None) => stream::State::Closed,
        }
    }

    /// What stream `id` is, and its index if it is in the table.
    fn seen(&self, id: u32) -> (Seen, Option<usize>) {
        match self.index(id) {
            Some(idx) => (Seen::Live(self.streams[idx].recv), Some(idx)),
            None => (self.seen_closed(id), None),
        }
    }

    /// Answers a frame `stream::receive` did not accept.
    fn refuse(&mut self, id: u32, verdict: Verdict) {
        match verdict {
            Verdict::Accept | Verdict::Open | Verdict::Ignore => {}
            Verdict::StreamError(code) => self.reset_for_error(id, Kind::UnexpectedMessage, code),
            Verdict::ConnectionError(ErrorCode::STREAM_CLOSED) => {
                self.fail(Kind::UnexpectedMessage, ErrorCode::STREAM_CLOSED, "frame on a stream the peer ended")
            }
            Verdict::ConnectionError(code) => self.fail(Kind::Http2Protocol, code, "frame on an idle or closed stream"),
        }
    }

    /// A connection error: GOAWAY with `code`, report, close once written.
    fn fail(&mut self, kind: Kind, code: ErrorCode, reason: &'static str) {
        if self.error.is_some() {
            return;
        }
        let e = ProtocolError::new(kind, Answer::GoAway(code));
        self.error = Some(e);
        let last = StreamId::new(self.last_peer_stream);
        self.write_frame(Frame::GoAway(frame::GoAway {
            last_stream: last,
            code,
            debug_data: Bytes::from_static(reason.as_bytes()),
        }));
        self.goaway_sent = Some(self.last_peer_stream);
        self.events.push_back(Event::Error(e));
        self.close_reason.get_or_insert(CloseReason::Error(e));
        self.streams.clear();
    }

    fn fail_frame(&mut self, e: FrameError) {
        let kind = match e.code {
            ErrorCode::FRAME_SIZE_ERROR => Kind::FrameSize,
            ErrorCode::FLOW_CONTROL_ERROR => Kind::FlowControl,
            ErrorCode::ENHANCE_YOUR_CALM => Kind::ExcessiveLoad,
            ErrorCode::COMPRESSION_ERROR => Kind::Compression,
            _ => Kind::Http2Protocol,
        };
        match e.stream {
            None => self.fail(kind, e.code, e.reason),
            Some(s) => self.reset_for_error(s.get(), kind, e.code),
        }
    }

    /// A stream error: RST_STREAM with `code`, the stream is gone.
    fn reset_for_error(&mut self, id: u32, kind: Kind, code: ErrorCode) {
        if self.error.is_some() {
            return; // the GOAWAY already sent is the last frame
        }
        self.write_control(Frame::RstStream(frame::RstStream { stream: StreamId::new(id), code }));
        let stream = StreamId::new(id);
        let e = ProtocolError::new(kind, Answer::ResetStream(code)).on(stream);
        self.events.push_back(Event::Error(e));
        match self.index(id) {
            Some(idx) => self.remove_stream(idx, Removal::ResetByUs { code, tell: true }),
            None => self.closed.remember(id, Closure::ResetByUs),
        }
        self.count_reset();
    }

    /// Counts a stream that ended abnormally; too many in the window is the
    /// Rapid Reset attack (CVE-2023-44487).
    fn count_reset(&mut self) {
        if self.now.saturating_duration_since(self.resets_since) > self.config.rapid_reset_window {
            self.resets = 0;
            self.resets_since = self.now;
        }
        self.resets += 1;
        if self.resets > self.config.max_rapid_resets {
            self.fail(Kind::ExcessiveLoad, ErrorCode::ENHANCE_YOUR_CALM, "too many streams reset");
        }
    }

    /// Counts a frame that carries nothing; returns `true` when that was one
    /// too many and the connection failed (the frame must then be dropped).
    fn count_empty(&mut self, empty: bool) -> bool {
        if !empty {
            self.empty_frames = 0;
            return false;
        }
        self.empty_frames += 1;
        if self.empty_frames > self.config.max_empty_frames {
            self.fail(Kind::ExcessiveLoad, ErrorCode::ENHANCE_YOUR_CALM, "too many empty frames");
            return true;
        }
        false
    }

    /// Returns `n` bytes of connection credit when enough has gathered.
    fn release_connection(&mut self, n: u32) {
        self.conn_unreleased = self.conn_unreleased.saturating_add(n);
        if self.conn_unreleased >= self.config.connection_window_size / 2 && self.error.is_none() {
            let inc = self.conn_unreleased;
            self.conn_unreleased = 0;
            self.conn_recv_window += i64::from(inc);
            self.write_frame(Frame::WindowUpdate(frame::WindowUpdate { stream: StreamId::CONNECTION, increment: inc }));
        }
    }

    fn release_stream(&mut self, idx: usize, n: u32) {
        let threshold = self.config.initial_window_size / 2;
        let s = &mut self.streams[idx];
        s.window_owed = s.window_owed.saturating_add(n);
        if s.recv != RecvHalf::Closed && s.window_owed >= threshold.max(1) {
            let inc = s.window_owed;
            s.window_owed = 0;
            s.recv_window += i64::from(inc);
            let stream = StreamId::new(s.id);
            self.write_frame(Frame::WindowUpdate(frame::WindowUpdate { stream, increment: inc }));
        }
    }

    /// The receive window a new stream gets: ours once the peer acknowledged
    /// our SETTINGS, the protocol default before (the peer may not have
    /// seen ours yet, RFC 9113 section 6.9.3).
    fn local_initial_window(&self) -> i64 {
        if self.settings_acked {
            i64::from(self.config.initial_window_size)
        } else {
            DEFAULT_WINDOW
        }
    }

    fn apply_settings(&mut self, s: &Settings) -> Result<(), ProtocolError> {
        if let Some(size) = s.header_table_size {
            self.hpack_enc.set_max_table_size(size as usize);
        }
        if s.enable_push == Some(true) && self.role == Role::Client {
            return Err(ProtocolError::new(Kind::Http2Protocol, Answer::GoAway(ErrorCode::PROTOCOL_ERROR)));
        }
        match s.max_concurrent_streams {
            Some(n) => self.peer_max_concurrent = n,
            // The first SETTINGS without a limit: unlimited, as the protocol's initial value.
            None if !self.peer_settings_seen => self.peer_max_concurrent = u32::MAX,
            None => {}
        }
        if let Some(w) = s.initial_window_size {
            let delta = i64::from(w) - self.peer_initial_window;
            self.peer_initial_window = i64::from(w);
            for st in &mut self.streams {
                st.send_window += delta;
                if st.send_window > MAX_WINDOW {
                    return Err(ProtocolError::new(Kind::FlowControl, Answer::GoAway(ErrorCode::FLOW_CONTROL_ERROR)));
                }
            }
        }
        if let Some(f) = s.max_frame_size {
            self.peer_max_frame = f;
        }
        Ok(())
    }

    /// Parses as far as the input, the output backlog and the error state allow.
    fn process(&mut self) {
        while self.error.is_none() && self.out.len() <= self.config.max_send_buffer {
            if self.preface_pending {
                match frame::check_preface(self.input.data()) {
                    frame::PrefaceCheck::Complete => {
                        bytes::Buf::advance(self.input.bytes_mut(), frame::PREFACE.len());
                        self.preface_pending = false;
                    }
                    frame::PrefaceCheck::Partial => break,
                    frame::PrefaceCheck::Mismatch => {
                        self.fail(Kind::Http2Protocol, ErrorCode::PROTOCOL_ERROR, "invalid connection preface");
                        break;
                    }
                }
            }
            match self.frames.decode(self.input.bytes_mut()) {
                Ok(None) => break,
                Ok(Some(f)) => {
                    if !self.peer_settings_seen && !matches!(f, Frame::Settings(_)) {
                        self.fail(Kind::Http2Protocol, ErrorCode::PROTOCOL_ERROR, "first frame is not SETTINGS");
                        break;
                    }
                    self.on_frame(f);
                }
                Err(e) => self.fail_frame(e),
            }
        }
        self.flush_data();
        self.check_finished();
    }

    fn on_frame(&mut self, f: Frame) {
        match f {
            Frame::Data(d) => self.on_data(d),
            Frame::Headers(h) => {
                if self.count_empty(h.fragment.is_empty() && !h.end_stream) {
                    return;
                }
                if h.end_headers {
                    self.on_block(h.stream.get(), h.fragment, h.end_stream);
                } else {
                    self.block.clear();
                    self.block.extend_from_slice(&h.fragment);
                    self.block_stream = h.stream.get();
                    self.block_end_stream = h.end_stream;
                }
            }
            Frame::Continuation(c) => {
                if self.count_empty(c.fragment.is_empty()) {
                    return;
                }
                self.block.extend_from_slice(&c.fragment);
                if c.end_headers {
                    let block = Bytes::from(core::mem::take(&mut self.block));
                    self.on_block(self.block_stream, block, self.block_end_stream);
                }
            }
            Frame::Priority(_) | Frame::Unknown(_) => {
                self.count_empty(true);
            }
            Frame::RstStream(r) => self.on_reset(r),
            Frame::Settings(s) => {
                let applied = self.apply_settings(&s);
                self.peer_settings_seen = true;
                match applied {
                    Ok(()) => self.write_control(Frame::SettingsAck),
                    Err(e) => {
                        let code = match e.answer {
                            Answer::GoAway(c) => c,
                            _ => ErrorCode::PROTOCOL_ERROR,
                        };
                        self.fail(e.kind, code, "invalid SETTINGS");
                    }
                }
            }
            Frame::SettingsAck => {
                if !self.settings_acked {
                    self.settings_acked = true;
                    self.timers.stop(Timer::SettingsAck);
                    // Our INITIAL_WINDOW_SIZE holds from now on (RFC 9113
                    // section 6.9.3): streams opened under the default move
                    // by the difference, possibly below zero.
                    let delta = i64::from(self.config.initial_window_size) - DEFAULT_WINDOW;
                    for st in &mut self.streams {
                        st.recv_window += delta;
                    }
                }
            }
            Frame::PushPromise(_) => {
                self.fail(Kind::Http2Protocol, ErrorCode::PROTOCOL_ERROR, "PUSH_PROMISE not enabled")
            }
            Frame::Ping(p) => {
                if p.ack {
                    if self.ping_sent == Some(p.payload) {
                        self.ping_sent = None;
                        self.timers.stop(Timer::PingAck);
                        if self.shutdown == Shutdown::Announced {
                            self.final_goaway();
                        }
                    }
                } else {
                    self.write_control(Frame::Ping(frame::Ping { ack: true, payload: p.payload }));
                }
            }
            Frame::GoAway(g) => self.on_goaway(g),
            Frame::WindowUpdate(w) => self.on_window_update(w),
        }
    }

    fn on_data(&mut self, d: frame::Data) {
        let id = d.stream.get();
        let len = d.flow_controlled_len() as i64;
        if len > self.conn_recv_window {
            return self.fail(Kind::FlowControl, ErrorCode::FLOW_CONTROL_ERROR, "DATA beyond the connection window");
        }
        self.conn_recv_window -= len;
        let pad = (len as usize - d.data.len()) as u32;
        if self.count_empty(d.data.is_empty() && !d.end_stream) {
            return;
        }
        let (seen, idx) = self.seen(id);
        let verdict = stream::receive(seen, Incoming::Data);
        let Some(idx) = idx.filter(|_| verdict == Verdict::Accept) else {
            // Credit for frames no stream takes comes back at once.
            self.release_connection(len as u32);
            return self.refuse(id, verdict);
        };
        let s = &mut self.streams[idx];
        if len > s.recv_window {
            self.release_connection(len as u32);
            return self.reset_for_error(id, Kind::FlowControl, ErrorCode::FLOW_CONTROL_ERROR);
        }
        s.recv_window -= len;
        s.received += d.data.len() as u64;
        let too_long = s.content_length.is_some_and(|cl| s.received > cl);
        let too_short = d.end_stream && s.content_length.is_some_and(|cl| s.received != cl);
        if too_long || too_short {
            self.release_connection(len as u32);
            return self.reset_for_error(id, Kind::InvalidContentLength, ErrorCode::PROTOCOL_ERROR);
        }
        let received = s.received;
        if self.body_over_limit(received) {
            self.release_connection(len as u32);
            return self.body_too_large(idx, d.end_stream);
        }
        if pad > 0 {
            self.release_connection(pad);
            self.release_stream(idx, pad);
        }
        let stream = d.stream;
        if !d.data.is_empty() {
            let s = &mut self.streams[idx];
            s.held = s.held.saturating_add(d.data.len() as u32);
            self.events.push_back(Event::Data { stream, data: d.data });
        }
        if d.end_stream {
            self.end_remote(idx);
        }
    }

    /// The peer ended its side of stream `idx`.
    fn end_remote(&mut self, idx: usize) {
        let s = &mut self.streams[idx];
        s.recv = s.recv.on(RecvEvent::End);
        let stream = StreamId::new(s.id);
        self.events.push_back(Event::EndStream { stream });
        self.drop_if_done(idx);
    }

    fn is_idle(&self, id: u32) -> bool {
        if self.is_peer_stream(id) {
            id > self.last_peer_stream
        } else {
            id >= self.next_stream_id
        }
    }

    fn on_block(&mut self, id: u32, block: Bytes, end_stream: bool) {
        let (seen, idx) = self.seen(id);
        let kind = match (self.role, seen) {
            (Role::Server, Seen::Idle) => BlockKind::Request,
            (Role::Client, Seen::Live(RecvHalf::Head)) => BlockKind::Response,
            _ => BlockKind::Trailers,
        };
        let max_list = self.config.max_header_list_size as usize;
        // Decode first, always: HPACK state must follow every block.
        let decoded =
            fields::decode_block(&mut self.hpack_dec, &block, max_list, kind, &mut self.scratch, &mut self.heads);
        if let Err(FieldError::Compression) = decoded {
            return self.fail(Kind::Compression, ErrorCode::COMPRESSION_ERROR, "HPACK decoding failed");
        }
        let opening = self.role == Role::Server && self.is_peer_stream(id);
        let verdict = stream::receive(seen, if opening { Incoming::OpeningHeaders } else { Incoming::Headers });
        let idx = match (verdict, idx) {
            (Verdict::Open, _) => return self.open_peer_stream(id, decoded, end_stream),
            (Verdict::Accept, Some(idx)) => idx,
            (verdict, _) => return self.refuse(id, verdict),
        };
        let (decoded, info) = match decoded {
            Ok(d) => d,
            Err(FieldError::TooLarge) => {
                return self.reset_for_error(id, Kind::HeadTooLarge, ErrorCode::PROTOCOL_ERROR)
            }
            Err(_) => return self.reset_for_error(id, Kind::Http2Protocol, ErrorCode::PROTOCOL_ERROR),
        };
        let stream = StreamId::new(id);
        match decoded {
            Decoded::Trailers(trailers) => {
                if !end_stream {
                    return self.reset_for_error(id, Kind::InvalidTrailer, ErrorCode::PROTOCOL_ERROR);
                }
                let s = &self.streams[idx];
                if s.content_length.is_some_and(|cl| cl != s.received) {
                    return self.reset_for_error(id, Kind::InvalidContentLength, ErrorCode::PROTOCOL_ERROR);
                }
                self.events.push_back(Event::Trailers { stream, trailers });
                self.end_remote(idx);
            }
            Decoded::Response(head) => {
                if head.is_informational() {
                    if end_stream || head.status == 101 {
                        return self.reset_for_error(id, Kind::UnexpectedMessage, ErrorCode::PROTOCOL_ERROR);
                    }
                    self.events.push_back(Event::Informational { stream, head });
                    return;
                }
                // A response to HEAD, and a 204 or 304, has no content: its Content-Length
                // describes the representation (RFC 9113 section 8.1.1), and any DATA payload on
                // it is malformed, checked as a length of 0. The stream's end follows below.
                let s = &mut self.streams[idx];
                s.recv = s.recv.on(RecvEvent::FinalHead { end: false });
                let content = sockless_core::response_has_content(s.head_request, head.status);
                s.content_length = if !content { Some(0) } else { info.content_length };
                if end_stream && s.content_length.is_some_and(|cl| cl != 0) {
                    return self.reset_for_error(id, Kind::InvalidContentLength, ErrorCode::PROTOCOL_ERROR);
                }
                self.events.push_back(Event::Response { stream, head });
                if end_stream {
                    self.end_remote(idx);
                }
            }
            Decoded::Request(_) => self.reset_for_error(id, Kind::UnexpectedMessage, ErrorCode::PROTOCOL_ERROR),
        }
    }

    /// Server: a HEADERS opening a new stream (an idle one with a client's id).
    fn open_peer_stream(
        &mut self,
        id: u32,
        decoded: Result<(Decoded, fields::BlockInfo), FieldError>,
        end_stream: bool,
    ) {
        self.last_peer_stream = id;
        if self.goaway_sent.is_some_and(|last| id > last) {
            return; // refused by the GOAWAY already sent; ignore
        }
        if self.peer_streams() >= self.config.max_concurrent_streams as usize {
            self.closed.remember(id, Closure::ResetByUs);
            self.write_control(Frame::RstStream(frame::RstStream {
                stream: StreamId::new(id),
                code: ErrorCode::REFUSED_STREAM,
            }));
            return self.count_reset();
        }
        let (decoded, info) = match decoded {
            Ok(d) => d,
            // Answered on the stream, as HTTP/1.1 would.
            Err(FieldError::TooLarge) => return self.answer_unseen(id, 431, Kind::HeadTooLarge, end_stream),
            Err(_) => return self.reset_for_error(id, Kind::Http2Protocol, ErrorCode::PROTOCOL_ERROR),
        };
        let Decoded::Request(head) = decoded else {
            return self.reset_for_error(id, Kind::Http2Protocol, ErrorCode::PROTOCOL_ERROR);
        };
        if end_stream && info.content_length.is_some_and(|cl| cl != 0) {
            return self.reset_for_error(id, Kind::InvalidContentLength, ErrorCode::PROTOCOL_ERROR);
        }
        if info.content_length.is_some_and(|cl| self.body_over_limit(cl)) {
            return self.answer_unseen(id, 413, Kind::BodyTooLarge, end_stream);
        }
        let expects_continue = info.expects_continue && !end_stream;
        // Opened with the receiving half open: `end_remote` below ends it, with its event.
        let mut s = Stream::remote(id, false, expects_continue, self.peer_initial_window, self.local_initial_window());
        s.content_length = info.content_length;
        self.insert_stream(s);
        let stream = StreamId::new(id);
        self.events.push_back(Event::Request { stream, head, expects_continue });
        if end_stream {
            let idx = self.streams.len() - 1;
            self.end_remote(idx);
        }
    }

    /// Whether a request body of `n` bytes is over `Config::max_body_bytes` (server).
    fn body_over_limit(&self, n: u64) -> bool {
        self.role == Role::Server && self.config.max_body_bytes.is_some_and(|max| n > max)
    }

    /// Writes a final response head with END_STREAM on stream `id`, and RST_STREAM(NO_ERROR)
    /// after it unless the request ended (RFC 9113 section 8.1: the rest of the request is
    /// not wanted).
    fn write_final_answer(&mut self, id: u32, status: u16, request_ended: bool) {
        let stream = StreamId::new(id);
        self.block_out.clear();
        let head = ResponseHead::new(status);
        let _ = fields::encode_response(&mut self.hpack_enc, &head, &mut self.block_out, &mut self.lower);
        self.write_block(stream, true);
        if !request_ended {
            self.write_control(Frame::RstStream(frame::RstStream { stream, code: ErrorCode::NO_ERROR }));
        }
    }

    /// Server: answers a request the application never sees (its head too large, its
    /// announced body over the limit) with `status`, and reports it.
    fn answer_unseen(&mut self, id: u32, status: u16, kind: Kind, request_ended: bool) {
        self.write_final_answer(id, status, request_ended);
        // Our END_STREAM went out; the peer's too, or we reset its unfinished side.
        self.closed.remember(id, if request_ended { Closure::Ended } else { Closure::ResetByUs });
        let e = ProtocolError::new(kind, Answer::Status(status)).on(StreamId::new(id));
        self.events.push_back(Event::Error(e));
        self.count_reset();
    }

    /// Server: the request body on stream `idx` went over `Config::max_body_bytes`. If the
    /// response has not started, the state machine answers 413 itself; otherwise the stream
    /// is reset (CANCEL). Either way the application gets an `Error` (`BodyTooLarge`) and a
    /// `Reset`, and the stream is gone.
    fn body_too_large(&mut self, idx: usize, request_ended: bool) {
        let id = self.streams[idx].id;
        if !self.streams[idx].response_started() {
            self.write_final_answer(id, 413, request_ended);
            let stream = StreamId::new(id);
            let e = ProtocolError::new(Kind::BodyTooLarge, Answer::Status(413)).on(stream);
            self.events.push_back(Event::Error(e));
            self.remove_stream(idx, Removal::ResetByUs { code: ErrorCode::NO_ERROR, tell: true });
            self.count_reset();
        } else {
            self.reset_for_error(id, Kind::BodyTooLarge, ErrorCode::CANCEL);
        }
    }

    fn on_reset(&mut self, r: frame::RstStream) {
        let id = r.stream.get();
        if self.is_idle(id) {
            return self.fail(Kind::Http2Protocol, ErrorCode::PROTOCOL_ERROR, "RST_STREAM on an idle stream");
        }
        let Some(idx) = self.index(id) else { return };
        // A server counts streams reset before their response completed (rapid reset).
        let early = self.role == Role::Server && self.streams[idx].send != SendHalf::Closed;
        self.remove_stream(idx, Removal::ResetByPeer(r.code));
        if early {
            self.count_reset();
        }
    }

    fn on_goaway(&mut self, g: frame::GoAway) {
        let last = g.last_stream.get();
        self.goaway_received = Some(last);
        self.events.push_back(Event::GoAway { last_stream: g.last_stream, code: g.code, debug: g.debug_data });
        // Our streams above `last` were never processed: safe to retry.
        let mut i = 0;
        while i < self.streams.len() {
            let s = &self.streams[i];
            if !self.is_peer_stream(s.id) && s.id > last {
                self.remove_stream(i, Removal::ResetByPeer(ErrorCode::REFUSED_STREAM));
            } else {
                i += 1;
            }
        }
        if g.code != ErrorCode::NO_ERROR {
            self.close_reason.get_or_insert(CloseReason::PeerClosed);
            self.streams.clear();
        }
    }

    fn on_window_update(&mut self, w: frame::WindowUpdate) {
        let inc = i64::from(w.increment);
        if w.stream.is_connection() {
            self.conn_send_window += inc;
            if self.conn_send_window > MAX_WINDOW {
                self.fail(Kind::FlowControl, ErrorCode::FLOW_CONTROL_ERROR, "connection window above 2^31-1");
            }
            return;
        }
        let id = w.stream.get();
        match self.index(id) {
            Some(idx) => {
                let s = &mut self.streams[idx];
                s.send_window += inc;
                if s.send_window > MAX_WINDOW {
                    self.reset_for_error(id, Kind::FlowControl, ErrorCode::FLOW_CONTROL_ERROR);
                }
            }
            None if self.is_idle(id) => {
                self.fail(Kind::Http2Protocol, ErrorCode::PROTOCOL_ERROR, "WINDOW_UPDATE on an idle stream")
            }
            None => {}
        }
    }

    /// Frames queued body data as far as windows, frame size and the send
    /// buffer allow, round-robin over streams.
    fn flush_data(&mut self) {
        if self.error.is_some() {
            return;
        }
        let n = self.streams.len();
        let mut progressed = true;
        while progressed {
            progressed = false;
            for k in 0..n {
                let idx = (self.rr + k) % n;
                if idx >= self.streams.len() || !self.streams[idx].has_output() {
                    continue;
                }
                if self.out.len() > self.config.max_send_buffer {
                    return;
                }
                if self.frame_one(idx) {
                    progressed = true;
                }
            }
            self.rr = self.rr.wrapping_add(1);
        }
        let mut i = 0;
        while i < self.streams.len() {
            if self.streams[i].is_done() {
                self.remove_stream(i, Removal::Finished);
            } else {
                i += 1;
            }
        }
    }

    /// Frames one DATA frame (or the stream's end) for stream `idx`.
    fn frame_one(&mut self, idx: usize) -> bool {
        let max_frame = self.peer_max_frame as i64;
        let s = &mut self.streams[idx];
        let stream = StreamId::new(s.id);
        if !s.pending.is_empty() {
            let n = (s.pending.len() as i64).min(s.send_window).min(self.conn_send_window).min(max_frame);
            if n <= 0 {
                return false;
            }
            let chunk = s.pending.split_to(n as usize);
            s.send_window -= n;
            self.conn_send_window -= n;
            let end = s.pending.is_empty() && s.send == SendHalf::Ending && s.trailers.is_none();
            if end {
                s.send = s.send.on(SendEvent::EndWritten);
            }
            let data = frame::Data { stream, data: chunk.clone(), end_stream: end, pad: None };
            self.out.framing(|b| data.encode_head(b));
            self.out.push_body(chunk);
            return true;
        }
        if s.send == SendHalf::Ending {
            s.send = s.send.on(SendEvent::EndWritten);
            if let Some(trailers) = s.trailers.take() {
                self.block_out.clear();
                let _ = fields::encode_trailers(&mut self.hpack_enc, &trailers, &mut self.block_out, &mut self.lower);
                self.write_block(stream, true);
            } else {
                let data = frame::Data { stream, data: Bytes::new(), end_stream: true, pad: None };
                self.out.framing(|b| data.encode_head(b));
            }
            return true;
        }
        false
    }

    /// Closes once everything is finished and flushed.
    fn check_finished(&mut self) {
        let draining = self.shutdown == Shutdown::Draining || self.goaway_received.is_some();
        if self.close_reason.is_none() && draining && self.streams.is_empty() {
            self.close_reason = Some(CloseReason::Done);
        }
    }

    fn final_goaway(&mut self) {
        let last = self.last_peer_stream;
        self.write_frame(Frame::GoAway(frame::GoAway {
            last_stream: StreamId::new(last),
            code: ErrorCode::NO_ERROR,
            debug_data: Bytes::new(),
        }));
        self.goaway_sent = Some(last);
        self.shutdown = Shutdown::Draining;
        self.timers.stop(Timer::GoawayGrace);
        self.timers.set(Timer::Drain, self.now + self.config.shutdown_timeout);
        self.check_finished();
    }

    fn send_ping(&mut self) {
        self.ping_counter += 1;
        let payload = self.ping_counter.to_be_bytes();
        self.write_frame(Frame::Ping(frame::Ping { ack: false, payload }));
        self.ping_sent = Some(payload);
        self.timers.set(Timer::PingAck, self.now + self.config.ping_timeout);
    }

    fn touch(&mut self, now: Instant) {
        self.now = self.now.max(now);
    }

    /// What an expired timer does.
    fn fire(&mut self, timer: Timer) {
        match timer {
            Timer::SettingsAck => self.fail(Kind::AckTimeout, ErrorCode::SETTINGS_TIMEOUT, "SETTINGS not acknowledged"),
            Timer::PingAck => {
                let e = ProtocolError::new(Kind::AckTimeout, Answer::Close);
                self.events.push_back(Event::Error(e));
                self.error = Some(e);
                self.close_reason = Some(CloseReason::Error(e));
                self.streams.clear();
            }
            Timer::Keepalive => {
                if self.ping_sent.is_none() {
                    self.send_ping(); // (one outstanding is enough: its own timer watches it)
                }
            }
            Timer::Idle => self.shutdown(self.now),
            Timer::GoawayGrace => self.final_goaway(),
            Timer::Drain => {
                self.streams.clear();
                self.close_reason.get_or_insert(CloseReason::Done);
            }
        }
    }

    fn check_open(&self) -> Result<(), Error> {
        if let Some(e) = self.error {
            return Err(Error::Protocol(e));
        }
        if self.closed_emitted {
            return Err(UserError::Closed.into());
        }
        Ok(())
    }

    fn writable_stream(&mut self, id: StreamId) -> Result<usize, UserError> {
        let idx = self.index(id.get()).ok_or(UserError::UnknownStream)?;
        if !self.streams[idx].send.is_open() {
            return Err(UserError::StreamEnded);
        }
        Ok(idx)
    }
}

impl Connection for H2Connection {
    fn handle_input(&mut self, now: Instant, input: &[u8]) -> Result<usize, Error> {
        self.touch(now);
        self.check_open()?;
        self.input_arrived();
        if self.out.len() > self.config.max_send_buffer {
            return Ok(0); // stop reading while our output backlog is over its cap
        }
        let n = self.input.push(input);
        self.process();
        match self.error {
            Some(e) => Err(Error::Protocol(e)),
            None => Ok(n),
        }
    }

    fn handle_eof(&mut self, now: Instant) {
        self.touch(now);
        if self.close_reason.is_none() {
            if !self.streams.is_empty() || !self.input.is_empty() {
                let e = ProtocolError::new(Kind::IncompleteBody, Answer::Close);
                self.events.push_back(Event::Error(e));
                self.close_reason = Some(CloseReason::Error(e));
            } else {
                self.close_reason = Some(CloseReason::PeerClosed);
            }
        }
        self.streams.clear();
    }

    fn input_buffer(&mut self) -> &mut [u8] {
        if self.check_open().is_err() || self.out.len() > self.config.max_send_buffer {
            return &mut [];
        }
        self.input.lend()
    }

    fn commit_input(&mut self, now: Instant, n: usize) -> Result<(), Error> {
        self.touch(now);
        self.input.commit(n)?;
        self.check_open()?;
        self.input_arrived();
        self.process();
        self.error.map_or(Ok(()), |e| Err(Error::Protocol(e)))
    }

    fn take_input_buffer(&mut self) -> BytesMut {
        self.input.take()
    }

    fn return_input_buffer(&mut self, now: Instant, buf: BytesMut) -> Result<(), Error> {
        self.touch(now);
        self.input.give_back(buf);
        self.check_open()?;
        self.input_arrived();
        self.process();
        self.error.map_or(Ok(()), |e| Err(Error::Protocol(e)))
    }

    fn poll_transmit<'a>(&'a mut self, out: &mut [&'a [u8]]) -> usize {
        self.out.poll(out)
    }

    fn poll_transmit_owned(&mut self, out: &mut alloc::vec::Vec<Bytes>, max: usize) -> usize {
        self.out.poll_owned(out, max)
    }

    fn advance_transmit(&mut self, n: usize) {
        let n = n.min(self.out.len());
        self.out.advance(n);
        self.written += n as u64;
        while self.pending_control.front().is_some_and(|&end| end <= self.written) {
            self.pending_control.pop_front();
        }
        if self.out.is_empty() {
            if self.streams.is_empty() && self.written - self.written_when_empty > OUT_KEPT {
                // Idle after a burst: drop the framing buffer and segment queue it grew.
                self.out = TransmitQueue::default();
            }
            self.written_when_empty = self.written;
            self.written_since_compact = 0;
        } else {
            // `TransmitQueue` frees written framing bytes only once it is empty; a peer that
            // keeps it from emptying (reading all but the last byte, say) would grow it
            // without bound. Copy what is still queued into a fresh queue once more has been
            // written than is queued: amortised O(1) per byte, and memory stays within a
            // small multiple of the queue's length.
            self.written_since_compact += n;
            if self.written_since_compact > self.out.len().max(4096) {
                let mut fresh = TransmitQueue::default();
                fresh.append(&mut self.out);
                self.out = fresh;
                self.written_since_compact = 0;
            }
        }
        // Input held back while the backlog was over its cap is parsed again
        // as soon as it is under (not only once it is empty: a driver whose
        // input buffer is full waits for us, not for more input).
        if self.error.is_none() && self.out.len() <= self.config.max_send_buffer {
            self.process();
        }
    }

    fn poll_event(&mut self) -> Option<Event> {
        if let Some(e) = self.events.pop_front() {
            return Some(e);
        }
        if self.events.capacity() > EVENTS_KEPT && self.streams.is_empty() {
            self.events.shrink_to(EVENTS_KEPT); // idle after a burst
        }
        if !self.closed_emitted && self.out.is_empty() {
            if let Some(reason) = self.close_reason {
                self.closed_emitted = true;
                return Some(Event::Closed(reason));
            }
        }
        None
    }

    fn poll_timeout(&self) -> Option<Instant> {
        if self.close_reason.is_some() {
            return None;
        }
        self.timers.next()
    }

    fn handle_timeout(&mut self, now: Instant) {
        self.touch(now);
        for timer in Timer::ALL {
            if self.close_reason.is_some() {
                return;
            }
            if self.timers.take_expired(timer, now) {
                self.fire(timer);
            }
        }
    }

    fn send_request(&mut self, head: &RequestHead, end_stream: bool) -> Result<StreamId, Error> {
        self.check_open()?;
        if self.role != Role::Client {
            return Err(UserError::WrongRole.into());
        }
        if self.close_reason.is_some() || self.goaway_received.is_some() || self.shutdown != Shutdown::Running {
            return Err(UserError::Closed.into());
        }
        if self.next_stream_id > MAX_STREAM_ID {
            return Err(UserError::Closed.into()); // stream ids exhausted: open a new connection
        }
        if self.local_streams() as u32 >= self.peer_max_concurrent {
            return Err(UserError::Busy.into());
        }
        self.block_out.clear();
        let scheme = self.config.default_scheme.as_bytes();
        fields::encode_request(&mut self.hpack_enc, head, scheme, &mut self.block_out, &mut self.lower)?;
        let id = self.next_stream_id;
        self.next_stream_id += 2;
        let stream = StreamId::new(id);
        let mut s = Stream::local(id, end_stream, self.peer_initial_window, self.local_initial_window());
        s.head_request = head.method == Method::Head;
        self.insert_stream(s);
        self.write_block(stream, end_stream);
        Ok(stream)
    }

    fn send_response(&mut self, stream: StreamId, head: &ResponseHead, end_stream: bool) -> Result<(), Error> {
        self.check_open()?;
        if self.role != Role::Server {
            return Err(UserError::WrongRole.into());
        }
        let idx = self.writable_stream(stream)?;
        if self.streams[idx].response_started() {
            return Err(UserError::HeadAlreadySent.into());
        }
        let informational = head.is_informational();
        if informational && (head.status == 101 || end_stream) {
            return Err(UserError::InvalidStatus.into());
        }
        self.block_out.clear();
        fields::encode_response(&mut self.hpack_enc, head, &mut self.block_out, &mut self.lower)?;
        let s = &mut self.streams[idx];
        if !informational {
            s.send = s.send.on(SendEvent::FinalHead { end: end_stream });
        } else if head.status == 100 {
            s.send = s.send.on(SendEvent::Continue);
        }
        self.write_block(stream, end_stream);
        self.drop_if_done(idx);
        Ok(())
    }

    fn send_data(&mut self, stream: StreamId, data: Bytes, end_stream: bool) -> Result<usize, Error> {
        self.check_open()?;
        let idx = self.writable_stream(stream)?;
        let s = &self.streams[idx];
        if self.role == Role::Server && !s.response_started() {
            return Err(UserError::HeadNotSent.into());
        }
        if !s.pending.is_empty() {
            if data.is_empty() && end_stream {
                // All of nothing is accepted: the end follows the waiting chunk. (Returning
                // Ok(0) without recording it would drop an end the caller sees as accepted.)
                let s = &mut self.streams[idx];
                s.send = s.send.on(SendEvent::EndQueued);
            }
            return Ok(0); // the previous chunk still waits for window
        }
        let room = self.config.max_send_buffer.saturating_sub(self.out.len());
        let accepted = data.len().min(room);
        if accepted == 0 && !data.is_empty() {
            return Ok(0);
        }
        let s = &mut self.streams[idx];
        s.pending = data.slice(..accepted);
        if accepted == data.len() && end_stream {
            s.send = s.send.on(SendEvent::EndQueued);
        }
        self.flush_data();
        Ok(accepted)
    }

    fn send_trailers(&mut self, stream: StreamId, trailers: &HeaderList) -> Result<(), Error> {
        self.check_open()?;
        let idx = self.writable_stream(stream)?;
        if self.role == Role::Server && !self.streams[idx].response_started() {
            return Err(UserError::HeadNotSent.into());
        }
        // The same checks as heads (connection-specific fields too): a refused field
        // found only when the trailers are framed would go out as an empty block.
        for (n, v) in trailers {
            fields::check_outgoing(n, v)?;
        }
        let s = &mut self.streams[idx];
        s.trailers = Some(trailers.clone());
        s.send = s.send.on(SendEvent::EndQueued);
        self.flush_data();
        Ok(())
    }

    fn read_body(&mut self, stream: StreamId) -> Result<(), Error> {
        let idx = self.index(stream.get()).ok_or(UserError::UnknownStream)?;
        if self.streams[idx].send == (SendHalf::Head { continue_owed: true }) {
            self.send_response(stream, &ResponseHead::new(100), false)?;
        }
        Ok(())
    }

    fn release_capacity(&mut self, stream: StreamId, n: usize) -> Result<(), Error> {
        // A stream that went settled its connection credit then (`remove_stream`).
        let Some(idx) = self.index(stream.get()) else { return Ok(()) };
        let s = &mut self.streams[idx];
        let n = u32::try_from(n).unwrap_or(u32::MAX).min(s.held);
        s.held -= n;
        self.release_connection(n);
        self.release_stream(idx, n);
        Ok(())
    }

    fn flow_controlled(&self) -> bool {
        true
    }

    fn reset_stream(&mut self, stream: StreamId, code: ErrorCode) -> Result<(), Error> {
        self.check_open()?;
        let idx = self.index(stream.get()).ok_or(UserError::UnknownStream)?;
        self.remove_stream(idx, Removal::ResetByUs { code, tell: false });
        self.write_frame(Frame::RstStream(frame::RstStream { stream, code }));
        self.check_finished();
        Ok(())
    }

    fn ping(&mut self, now: Instant) -> Result<(), Error> {
        self.touch(now);
        self.check_open()?;
        self.send_ping();
        Ok(())
    }

    fn shutdown(&mut self, now: Instant) {
        self.touch(now);
        if self.error.is_some() || self.shutdown != Shutdown::Running {
            return;
        }
        match self.role {
            Role::Server => {
                // First GOAWAY: no new streams after those in flight (RFC 9113 section 6.8).
                self.write_frame(Frame::GoAway(frame::GoAway {
                    last_stream: StreamId::new(MAX_STREAM_ID),
                    code: ErrorCode::NO_ERROR,
                    debug_data: Bytes::new(),
                }));
                self.shutdown = Shutdown::Announced;
                self.timers.set(Timer::GoawayGrace, now + self.config.goaway_grace);
                self.send_ping();
            }
            Role::Client => self.final_goaway(),
        }
    }

    fn is_closed(&self) -> bool {
        self.closed_emitted
    }
}

impl core::fmt::Debug for H2Connection {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("H2Connection")
            .field("role", &self.role)
            .field("streams", &self.streams.len())
            .field("error", &self.error)
            .finish_non_exhaustive()
    }
}
