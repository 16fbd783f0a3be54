//! The server role: requests in, responses out, strictly in order.
//!
//! Reading runs ahead of writing: pipelined requests are parsed while
//! earlier responses are still being produced (up to
//! [`Config::max_pipelined`]), and each exchange's output is held back until
//! every earlier response is complete.

use crate::body::BodyDecoder;
use crate::chunked::Chunk;
use crate::config::Config;
use crate::encode::{send_body, user_framing, write_response_head, Added, BodyEncoder};
use crate::plumbing::{self, Plumbing};
use crate::request::{BodyLength, ParsedRequest, RequestParser};
use crate::rules::{self, Outgoing};
use crate::timers;
use alloc::collections::VecDeque;
use bytes::{Bytes, BytesMut};
use sockless_core::TransmitQueue as Transmit;
use sockless_core::{
    validate_fields, Answer, CloseReason, Connection, Error, ErrorCode, Event, HeaderList, Instant, Method,
    ProtocolErrorKind as Kind, RequestHead, ResponseHead, StreamId, UserError, Version,
};

/// What the connection reads next.
#[derive(Debug)]
enum Read {
    /// The next request head.
    Head,
    /// A request body.
    Body { stream: StreamId, decoder: BodyDecoder },
    /// An Upgrade or CONNECT request is complete: nothing more is read until
    /// its response says whether the protocol switches.
    AwaitSwitch,
    /// Nothing more is read on this connection.
    Stopped,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Response {
    NotStarted,
    Body(BodyEncoder),
    Done,
    /// 101 or a 2xx to CONNECT was queued; the connection switches once it
    /// is transmitted.
    Switching,
}

/// One request/response exchange.
#[derive(Debug)]
struct Exchange {
    stream: StreamId,
    version: Version,
    head_request: bool,
    connect: bool,
    upgrade: bool,
    /// Whether the connection may carry another exchange after this one.
    keep_alive: bool,
    request_done: bool,
    /// The client waits for `100 Continue` and it has not been sent.
    awaiting_continue: bool,
    response: Response,
    /// Output queued while an earlier exchange is still responding.
    pending: Transmit,
    /// The connection answers this exchange itself with this status.
    answer: Option<u16>,
}

/// An HTTP/1.1 server connection: a pure state machine implementing
/// [`Connection`].
///
/// ```
/// use sockless_core::{Connection, Event, Instant, ResponseHead, Bytes};
/// use sockless_h1::{Config, ServerConnection};
///
/// let now = Instant::ZERO;
/// let mut conn = ServerConnection::new(Config::server(), now);
/// conn.handle_input(now, b"GET /hello HTTP/1.1\r\nHost: example.com\r\n\r\n").unwrap();
/// let Some(Event::Request { stream, head, .. }) = conn.poll_event() else { panic!() };
/// assert_eq!(&head.target[..], b"/hello");
/// assert_eq!(conn.poll_event(), Some(Event::EndStream { stream }));
///
/// let response = ResponseHead::new(200).header("Content-Type", "text/plain");
/// conn.send_response(stream, &response, false).unwrap();
/// conn.send_data(stream, Bytes::from_static(b"Hello, World!"), true).unwrap();
///
/// let mut out: [&[u8]; 8] = [&[]; 8];
/// let n = conn.poll_transmit(&mut out);
/// let wire = out[..n].concat();
/// assert!(wire.starts_with(b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n"));
/// assert!(wire.ends_with(b"\r\nd\r\nHello, World!\r\n0\r\n\r\n"));
/// ```
pub struct ServerConnection {
    pub(crate) p: Plumbing,
    parser: RequestParser,
    read: Read,
    exchanges: VecDeque<Exchange>,
    next_stream: u32,
    /// When the first byte of the head being read arrived.
    head_started: Option<Instant>,
    /// When the connection last became idle (or was created).
    idle_since: Option<Instant>,
    /// No request completed yet: the header-read timeout runs from creation.
    first_request: bool,
    /// When body bytes last arrived.
    body_progress: Instant,
    shutting_down: bool,
}

/// The status that answers a request-side protocol error.
fn status_for(kind: Kind) -> u16 {
    match kind {
        Kind::TargetTooLong => 414,
        Kind::HeadTooLarge | Kind::TooManyHeaders | Kind::TrailersTooLarge => 431,
        Kind::BodyTooLarge => 413,
        Kind::UnsupportedTransferCoding => 501,
        Kind::UnsupportedVersion => 505,
        Kind::HeaderTimeout | Kind::BodyTimeout => 408,
        _ => 400,
    }
}

impl ServerConnection {
    /// A new connection, accepted at `now`.
    pub fn new(config: Config, now: Instant) -> Self {
        ServerConnection {
            p: Plumbing::new(config, now),
            parser: RequestParser::new(),
            read: Read::Head,
            exchanges: VecDeque::new(),
            next_stream: 1,
            head_started: None,
            idle_since: Some(now),
            first_request: true,
            body_progress: now,
            shutting_down: false,
        }
    }

    /// The configuration in force.
    pub fn config(&self) -> &Config {
        &self.p.config
    }

    /// Whether the request on `stream` asks to switch protocols: it carries
    /// an `Upgrade` field and `Connection: upgrade` (RFC 9110 section 7.8).
    /// Known from the parse, so a layer that serves some upgrades itself
    /// (h2c) need not read the fields of every request. `false` for a
    /// stream that is not in progress.
    pub fn upgrade_requested(&self, stream: StreamId) -> bool {
        self.exchanges.iter().rev().any(|e| e.stream == stream && e.upgrade)
    }

    fn touch(&mut self, now: Instant) {
        if self.p.touch(now) && self.idle_since.is_none() && self.is_idle() {
            self.idle_since = Some(now);
        }
    }

    fn is_idle(&self) -> bool {
        matches!(self.read, Read::Head) && self.exchanges.is_empty() && self.p.recv.is_empty()
    }

    fn index(&self, stream: StreamId) -> Result<usize, UserError> {
        self.exchanges.iter().position(|e| e.stream == stream && e.answer.is_none()).ok_or(UserError::UnknownStream)
    }

    /// Where output for exchange `idx` goes: the wire if it is first in line.
    fn out_for(&mut self, idx: usize) -> &mut Transmit {
        if idx == 0 {
            &mut self.p.out
        } else {
            &mut self.exchanges[idx].pending
        }
    }

    /// Input after the connection decided to close is read and dropped, so
    /// that the answers still queued can be written.
    fn discarding(&self) -> bool {
        self.p.close_reason.is_some() && !self.exchanges.iter().any(|e| e.response == Response::Switching)
    }

    fn paused(&self) -> bool {
        match self.read {
            Read::Head => self.exchanges.len() >= self.p.config.max_pipelined.max(1) || self.p.backlogged(),
            Read::Body { .. } => self.p.backlogged(),
            _ => true,
        }
    }

    /// Parses as far as the buffered input, the pipelining limit and the
    /// event backlog allow.
    fn process(&mut self) {
        while self.p.error.is_none() && !self.paused() {
            match &mut self.read {
                Read::Head => {
                    if self.p.recv.is_empty() {
                        break;
                    }
                    match self.parser.parse(self.p.recv.bytes_mut(), &self.p.config) {
                        Ok(None) => {
                            if !self.p.recv.is_empty() {
                                self.head_started.get_or_insert(self.p.now);
                                self.idle_since = None;
                            }
                            break;
                        }
                        Ok(Some(parsed)) => self.on_request(parsed),
                        Err(kind) => self.refuse(kind),
                    }
                }
                Read::Body { stream, decoder } => {
                    let stream = *stream;
                    match decoder.decode(self.p.recv.bytes_mut()) {
                        Ok(None) => break,
                        Ok(Some(Chunk::Data(data))) => {
                            self.body_progress = self.p.now;
                            self.p.push_event(Event::Data { stream, data });
                        }
                        Ok(Some(Chunk::Trailers(trailers))) => self.p.push_event(Event::Trailers { stream, trailers }),
                        Ok(Some(Chunk::End)) => self.request_complete(stream),
                        Err(kind) => self.fail_body(stream, kind),
                    }
                }
                Read::AwaitSwitch | Read::Stopped => break,
            }
        }
        self.check_eof();
    }

    /// After the peer's EOF: whatever cannot complete any more is an error.
    fn check_eof(&mut self) {
        if !self.p.peer_eof || self.p.error.is_some() || self.paused() {
            return;
        }
        match &self.read {
            Read::Head if self.p.recv.is_empty() && !self.parser.in_progress() => {
                self.read = Read::Stopped;
                self.p.close_reason.get_or_insert(CloseReason::PeerClosed);
                if !self.p.config.half_close {
                    // Not a half-close: the client went away, and nobody
                    // reads the answers to its requests. What is queued
                    // still goes out (it may be the rest of a response a
                    // half-closing client does read); nothing more does.
                    self.exchanges.clear();
                }
            }
            Read::Head => {
                self.p.fail(Kind::IncompleteHead, Answer::Close, None);
                self.read = Read::Stopped;
            }
            Read::Body { stream, .. } => {
                let stream = *stream;
                self.fail_body(stream, Kind::IncompleteBody);
            }
            _ => {}
        }
    }

    /// A complete request head: check it, frame its body, report it.
    fn on_request(&mut self, parsed: ParsedRequest) {
        let ParsedRequest { head, body, keep_alive, expect_continue, upgrade } = parsed;
        self.head_started = None;
        self.idle_since = None;
        let stream = StreamId::new(self.next_stream);
        self.next_stream = self.next_stream.wrapping_add(1).max(1);
        let decoder = match body {
            BodyLength::None | BodyLength::Exact(0) => None,
            BodyLength::Exact(n) => Some(BodyDecoder::Length(n)),
            BodyLength::Chunked => Some(BodyDecoder::chunked(&self.p.config)),
        };
        self.exchanges.push_back(Exchange {
            stream,
            version: head.version,
            head_request: head.method == Method::Head,
            connect: head.method == Method::Connect,
            upgrade,
            keep_alive: keep_alive && !self.shutting_down,
            request_done: false,
            awaiting_continue: expect_continue,
            response: Response::NotStarted,
            pending: Transmit::default(),
            answer: None,
        });
        self.p.push_event(Event::Request { stream, head, expects_continue: expect_continue });
        match decoder {
            Some(decoder) => {
                self.body_progress = self.p.now;
                self.read = Read::Body { stream, decoder };
            }
            None => self.request_complete(stream),
        }
    }

    /// The request on `stream` was fully received: decide what to read next.
    fn request_complete(&mut self, stream: StreamId) {
        self.p.push_event(Event::EndStream { stream });
        // The request completing is almost always the newest one.
        let Some(ex) = self.exchanges.iter_mut().rev().find(|e| e.stream == stream) else {
            return;
        };
        ex.request_done = true;
        ex.awaiting_continue = false;
        self.read = if !ex.keep_alive {
            Read::Stopped
        } else if ex.upgrade || ex.connect {
            match ex.response {
                Response::NotStarted => Read::AwaitSwitch,
                Response::Switching => Read::Stopped,
                _ => Read::Head,
            }
        } else {
            Read::Head
        };
        if matches!(self.read, Read::Stopped) {
            self.p.close_reason.get_or_insert(CloseReason::Done);
        }
    }

    /// A request that never reached the application is refused: the
    /// connection answers it (in order) and closes.
    fn refuse(&mut self, kind: Kind) {
        let status = status_for(kind);
        let stream = StreamId::new(self.next_stream);
        self.p.fail(kind, Answer::Status(status), None);
        self.read = Read::Stopped;
        self.exchanges.push_back(Exchange {
            stream,
            version: Version::Http11,
            head_request: false,
            connect: false,
            upgrade: false,
            keep_alive: false,
            request_done: true,
            awaiting_continue: false,
            response: Response::NotStarted,
            pending: Transmit::default(),
            answer: Some(status),
        });
        self.advance_front();
    }

    /// The body of a request the application already has went wrong.
    fn fail_body(&mut self, stream: StreamId, kind: Kind) {
        self.read = Read::Stopped;
        let Some(idx) = self.exchanges.iter().position(|e| e.stream == stream) else {
            self.p.fail(kind, Answer::Close, Some(stream));
            return;
        };
        let ex = &mut self.exchanges[idx];
        ex.keep_alive = false;
        if ex.response == Response::NotStarted {
            let status = status_for(kind);
            ex.answer = Some(status);
            self.p.fail(kind, Answer::Status(status), Some(stream));
        } else {
            // A response is under way: it cannot be replaced, only cut short.
            self.p.fail(kind, Answer::Close, Some(stream));
            self.exchanges.truncate(idx);
        }
        self.advance_front();
    }

    /// Writes answers the connection owes and retires finished exchanges,
    /// moving the next exchange's held output onto the wire.
    fn advance_front(&mut self) {
        while let Some(front) = self.exchanges.front_mut() {
            if let (Some(status), Response::NotStarted) = (front.answer, front.response) {
                let head = ResponseHead::new(status);
                let added = Added { content_length: Some(0), close: true, ..Added::default() };
                write_response_head(&mut self.p.out, &head, Version::Http11, added);
                front.response = Response::Done;
            }
            if front.response != Response::Done {
                break;
            }
            let done = self.exchanges.pop_front().expect("front exists");
            if !done.keep_alive || !done.request_done {
                self.read = Read::Stopped;
                self.exchanges.clear();
                self.p.close_reason.get_or_insert(CloseReason::Done);
                break;
            }
            if let Some(next) = self.exchanges.front_mut() {
                self.p.out.append(&mut next.pending);
            }
        }
        if self.is_idle() && self.idle_since.is_none() {
            self.first_request = false;
            self.p.stamp_needed = true;
        }
    }

    /// Checks and writes a response head for exchange `idx`.
    fn respond(&mut self, idx: usize, head: &ResponseHead, end_stream: bool) -> Result<(), Error> {
        head.validate_status_line()?;
        let framing = user_framing(&head.headers)?;
        let ex = &self.exchanges[idx];
        let version = ex.version;
        if head.is_informational() {
            let allowed = match head.status {
                101 => ex.upgrade,
                _ => version == Version::Http11,
            };
            if !allowed {
                return Err(UserError::InvalidStatus.into());
            }
            let switching = head.status == 101;
            write_response_head(self.out_for(idx), head, Version::Http11, Added::default());
            let ex = &mut self.exchanges[idx];
            if head.status == 100 {
                ex.awaiting_continue = false;
            }
            if switching {
                ex.response = Response::Switching;
                self.switch_decided(idx);
            }
            return Ok(());
        }
        if ex.connect && (200..300).contains(&head.status) {
            if framing.content_length.is_some() || framing.chunked {
                return Err(UserError::InvalidFraming.into());
            }
            write_response_head(self.out_for(idx), head, Version::Http11, Added::default());
            self.exchanges[idx].response = Response::Switching;
            self.switch_decided(idx);
            return Ok(());
        }
        let bodiless = !sockless_core::response_has_content(ex.head_request, head.status);
        let body = rules::outgoing_body(Outgoing::Response { bodiless }, version, &framing, end_stream)?;
        let close = !ex.keep_alive || framing.close || (ex.awaiting_continue && !ex.request_done) || body.close;
        let encoder = body.encoder;
        let mut added = Added { content_length: body.content_length, chunked: body.chunked, ..Added::default() };
        if end_stream {
            encoder.can_finish()?;
        }
        added.close = close && !framing.close;
        added.keep_alive = version == Version::Http10 && !close;
        let ex = &mut self.exchanges[idx];
        ex.keep_alive &= !close;
        ex.response = Response::Body(encoder);
        if matches!(self.read, Read::AwaitSwitch) && (ex.upgrade || ex.connect) {
            self.read = if ex.keep_alive { Read::Head } else { Read::Stopped };
        }
        write_response_head(self.out_for(idx), head, version, added);
        if end_stream {
            self.finish(idx, None)?;
        }
        Ok(())
    }

    fn switch_decided(&mut self, idx: usize) {
        let ex = &self.exchanges[idx];
        if matches!(self.read, Read::AwaitSwitch) || (ex.request_done && matches!(self.read, Read::Head)) {
            self.read = Read::Stopped;
        }
    }

    fn finish(&mut self, idx: usize, trailers: Option<&HeaderList>) -> Result<(), Error> {
        let Response::Body(mut encoder) = self.exchanges[idx].response else {
            return Err(UserError::StreamEnded.into());
        };
        encoder.finish(self.out_for(idx), trailers)?;
        self.exchanges[idx].response = Response::Done;
        self.advance_front();
        Ok(())
    }

    fn body_exchange(&self, stream: StreamId) -> Result<(usize, BodyEncoder), UserError> {
        let idx = self.index(stream)?;
        match self.exchanges[idx].response {
            Response::Body(e) => Ok((idx, e)),
            Response::NotStarted => Err(UserError::HeadNotSent),
            Response::Done | Response::Switching => Err(UserError::StreamEnded),
        }
    }
}

/// The server's timers.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Timer {
    /// A command changed state without a time: the next call stamps it.
    Stamp,
    /// A head started arriving: 408 when it is not complete in time.
    HeadRead,
    /// Nothing of the first request yet: a quiet close (slowloris).
    FirstRequest,
    /// Idle between keep-alive requests: a quiet close.
    Idle,
    /// A body is being received: 408 (or a cut) when it pauses too long.
    Body,
}

impl timers::Timers for ServerConnection {
    type Timer = Timer;
    const ALL: &'static [Timer] = &[Timer::Stamp, Timer::HeadRead, Timer::FirstRequest, Timer::Idle, Timer::Body];

    fn deadline(&self, timer: Timer) -> Option<Instant> {
        if self.p.closed_emitted || self.p.upgraded || self.p.close_reason.is_some() {
            return None;
        }
        let config = &self.p.config;
        let waiting_for_request = matches!(self.read, Read::Head) && self.exchanges.is_empty();
        match timer {
            Timer::Stamp => self.p.stamp_needed.then_some(self.p.now),
            Timer::HeadRead if matches!(self.read, Read::Head) => {
                self.head_started.zip(config.header_read_timeout).map(|(s, t)| s + t)
            }
            Timer::FirstRequest if waiting_for_request && self.head_started.is_none() && self.first_request => {
                self.idle_since.zip(config.header_read_timeout).map(|(s, t)| s + t)
            }
            Timer::Idle if waiting_for_request && self.head_started.is_none() && !self.first_request => {
                self.idle_since.zip(config.idle_timeout).map(|(s, t)| s + t)
            }
            Timer::Body => match &self.read {
                Read::Body { stream, .. } => {
                    let waiting = self.exchanges.iter().any(|e| e.stream == *stream && e.awaiting_continue);
                    if waiting || self.p.backlogged() {
                        None
                    } else {
                        config.body_timeout.map(|t| self.body_progress + t)
                    }
                }
                _ => None,
            },
            _ => None,
        }
    }

    fn fire(&mut self, timer: Timer) {
        match timer {
            // `handle_timeout` already stamped it.
            Timer::Stamp => {}
            Timer::HeadRead => self.refuse(Kind::HeaderTimeout),
            Timer::FirstRequest | Timer::Idle => {
                self.read = Read::Stopped;
                self.p.close_reason = Some(CloseReason::IdleTimeout);
            }
            Timer::Body => {
                if let Read::Body { stream, .. } = &self.read {
                    let stream = *stream;
                    self.fail_body(stream, Kind::BodyTimeout);
                }
            }
        }
    }
}

impl plumbing::Role for ServerConnection {
    fn plumbing(&mut self) -> &mut Plumbing {
        &mut self.p
    }
    fn note_time(&mut self, now: Instant) {
        self.touch(now);
    }
    fn parse(&mut self) {
        self.process();
    }
    fn discards_input(&self) -> bool {
        self.discarding()
    }
}

impl Connection for ServerConnection {
    fn handle_input(&mut self, now: Instant, input: &[u8]) -> Result<usize, Error> {
        plumbing::handle_input(self, now, input)
    }

    fn input_buffer(&mut self) -> &mut [u8] {
        plumbing::input_buffer(self)
    }

    fn commit_input(&mut self, now: Instant, n: usize) -> Result<(), Error> {
        plumbing::commit_input(self, now, n)
    }

    fn take_input_buffer(&mut self) -> BytesMut {
        self.p.recv.take()
    }

    fn return_input_buffer(&mut self, now: Instant, buf: BytesMut) -> Result<(), Error> {
        plumbing::return_input_buffer(self, now, buf)
    }

    fn poll_transmit<'a>(&'a mut self, out: &mut [&'a [u8]]) -> usize {
        self.p.out.poll(out)
    }

    fn advance_transmit(&mut self, n: usize) {
        self.p.out.advance(n);
    }

    fn poll_transmit_owned(&mut self, out: &mut alloc::vec::Vec<Bytes>, max: usize) -> usize {
        self.p.out.poll_owned(out, max)
    }

    fn handle_eof(&mut self, now: Instant) {
        self.touch(now);
        self.p.peer_eof = true;
        if self.p.upgraded {
            return;
        }
        self.process();
    }

    fn poll_event(&mut self) -> Option<Event> {
        if let Some(e) = self.p.pop_event() {
            return Some(e);
        }
        self.process();
        if let Some(e) = self.p.pop_event() {
            return Some(e);
        }
        if let Some(front) = self.exchanges.front() {
            // The switch happens once the 101 is written and the request's
            // body (if any) was read: what follows belongs to the new protocol.
            if front.response == Response::Switching && front.request_done && self.p.out.is_empty() && !self.p.upgraded
            {
                let stream = front.stream;
                self.p.upgraded = true;
                self.exchanges.clear();
                return Some(Event::Upgrade { stream, leftover: self.p.recv.take_all() });
            }
        }
        let finished = matches!(self.read, Read::Stopped) && self.exchanges.is_empty();
        self.p.poll_closed(finished)
    }

    fn poll_timeout(&self) -> Option<Instant> {
        timers::next(self)
    }

    fn handle_timeout(&mut self, now: Instant) {
        self.touch(now);
        timers::expire(self, now);
    }

    fn send_request(&mut self, _head: &RequestHead, _end_stream: bool) -> Result<StreamId, Error> {
        Err(UserError::WrongRole.into())
    }

    fn send_response(&mut self, stream: StreamId, head: &ResponseHead, end_stream: bool) -> Result<(), Error> {
        let idx = self.index(stream)?;
        if self.exchanges[idx].response != Response::NotStarted {
            return Err(UserError::HeadAlreadySent.into());
        }
        self.respond(idx, head, end_stream)
    }

    fn send_data(&mut self, stream: StreamId, data: Bytes, end_stream: bool) -> Result<usize, Error> {
        let (idx, mut encoder) = self.body_exchange(stream)?;
        let cap = self.p.config.max_send_buffer;
        let (accepted, ended) = send_body(&mut encoder, self.out_for(idx), cap, data, end_stream)?;
        self.exchanges[idx].response = if ended { Response::Done } else { Response::Body(encoder) };
        if ended {
            self.advance_front();
        }
        Ok(accepted)
    }

    fn send_trailers(&mut self, stream: StreamId, trailers: &HeaderList) -> Result<(), Error> {
        validate_fields(trailers)?;
        let (idx, _) = self.body_exchange(stream)?;
        self.finish(idx, Some(trailers))
    }

    fn read_body(&mut self, stream: StreamId) -> Result<(), Error> {
        let idx = self.index(stream)?;
        let ex = &self.exchanges[idx];
        if ex.awaiting_continue && ex.response == Response::NotStarted && !ex.request_done {
            let head = ResponseHead::new(100);
            write_response_head(self.out_for(idx), &head, Version::Http11, Added::default());
            self.exchanges[idx].awaiting_continue = false;
        }
        Ok(())
    }

    fn release_capacity(&mut self, _stream: StreamId, _n: usize) -> Result<(), Error> {
        Ok(())
    }

    fn reset_stream(&mut self, stream: StreamId, _code: ErrorCode) -> Result<(), Error> {
        let idx = self.index(stream)?;
        self.exchanges.truncate(idx);
        self.read = Read::Stopped;
        self.p.close_reason.get_or_insert(CloseReason::Aborted);
        if idx == 0 {
            // Nothing of this exchange may follow what is already queued.
            self.advance_front();
        }
        Ok(())
    }

    fn ping(&mut self, _now: Instant) -> Result<(), Error> {
        Err(UserError::Unsupported.into())
    }

    fn shutdown(&mut self, now: Instant) {
        self.touch(now);
        self.shutting_down = true;
        if let Some(last) = self.exchanges.back_mut() {
            last.keep_alive = false;
            if matches!(self.read, Read::Head | Read::AwaitSwitch) && last.request_done {
                self.read = Read::Stopped;
            }
        } else if matches!(self.read, Read::Head) {
            self.read = Read::Stopped;
            self.p.close_reason.get_or_insert(CloseReason::Done);
        }
    }

    fn is_closed(&self) -> bool {
        self.p.closed_emitted || self.p.upgraded
    }
}

impl core::fmt::Debug for ServerConnection {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("ServerConnection")
            .field("read", &self.read)
            .field("exchanges", &self.exchanges.len())
            .field("error", &self.p.error)
            .finish_non_exhaustive()
    }
}
