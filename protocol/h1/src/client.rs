//! The client role: one request at a time, its response streamed back.
//!
//! A request with `Expect: 100-continue` has its body held (queued but not
//! transmitted) until `100 Continue` arrives or
//! [`Config::continue_timeout`] passes; a final response first means the
//! body is never sent and the connection is not reused.

use crate::body::BodyDecoder;
use crate::chunked::Chunk;
use crate::config::Config;
use crate::encode::{send_body, user_framing, write_request_head, Added, BodyEncoder};
use crate::parse::{HeadScanner, ParsedResponse};
use crate::plumbing::{self, Plumbing};
use crate::rules::{self, Incoming, Outgoing, Sender};
use crate::timers;
use bytes::{Bytes, BytesMut};
use sockless_core::TransmitQueue as Transmit;
use sockless_core::{
    validate_fields, Answer, CloseReason, Connection, Error, ErrorCode, Event, HeaderList, Instant, Method,
    ProtocolErrorKind as Kind, RequestHead, ResponseHead, StreamId, UserError,
};

#[derive(Debug)]
enum Read {
    /// No response is expected; bytes from the server now are an error.
    Idle,
    /// The response head (or an informational one) of the current exchange.
    Head,
    /// The response body.
    Body(BodyDecoder),
    /// The protocol switches once our output is flushed.
    Switching,
    /// Nothing more is read.
    Stopped,
}

#[derive(Debug)]
struct Exchange {
    stream: StreamId,
    head_request: bool,
    connect: bool,
    upgrade: bool,
    /// `None` once the request is complete.
    request: Option<BodyEncoder>,
    /// Body output held until `100 Continue` (or its timeout).
    held: Option<Transmit>,
    /// When waiting for `100 Continue` began (stamped at the next input call).
    continue_since: Option<Instant>,
    response_done: bool,
    keep_alive: bool,
}

/// An HTTP/1.1 client connection: a pure state machine implementing
/// [`Connection`].
///
/// ```
/// use sockless_core::{Connection, Event, Instant, Method, RequestHead};
/// use sockless_h1::{ClientConnection, Config};
///
/// let now = Instant::ZERO;
/// let mut conn = ClientConnection::new(Config::client(), now);
/// let req = RequestHead::new(Method::Get, "/").header("Host", "example.com");
/// let stream = conn.send_request(&req, true).unwrap();
/// let mut out: [&[u8]; 4] = [&[]; 4];
/// let n = conn.poll_transmit(&mut out);
/// assert_eq!(out[..n].concat(), b"GET / HTTP/1.1\r\nHost: example.com\r\n\r\n");
/// conn.advance_transmit(38);
///
/// conn.handle_input(now, b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nhi").unwrap();
/// assert!(matches!(conn.poll_event(), Some(Event::Response { head, .. }) if head.status == 200));
/// assert!(matches!(conn.poll_event(), Some(Event::Data { data, .. }) if &data[..] == b"hi"));
/// assert_eq!(conn.poll_event(), Some(Event::EndStream { stream }));
/// assert_eq!(conn.poll_event(), Some(Event::Ready { reusable: true }));
/// ```
pub struct ClientConnection {
    pub(crate) p: Plumbing,
    scanner: HeadScanner,
    read: Read,
    exchange: Option<Exchange>,
    next_stream: u32,
    body_progress: Instant,
}

impl ClientConnection {
    /// A new connection, established at `now`.
    pub fn new(config: Config, now: Instant) -> Self {
        ClientConnection {
            p: Plumbing::new(config, now),
            scanner: HeadScanner::default(),
            read: Read::Idle,
            exchange: None,
            next_stream: 1,
            body_progress: now,
        }
    }

    /// The configuration in force.
    pub fn config(&self) -> &Config {
        &self.p.config
    }

    /// Whether a new request may be sent now.
    pub fn is_ready(&self) -> bool {
        self.exchange.is_none()
            && matches!(self.read, Read::Idle)
            && self.p.close_reason.is_none()
            && self.p.error.is_none()
    }

    fn touch(&mut self, now: Instant) {
        if self.p.touch(now) {
            if let Some(ex) = &mut self.exchange {
                if ex.held.is_some() && ex.continue_since.is_none() {
                    ex.continue_since = Some(now);
                }
            }
        }
    }

    fn fail(&mut self, kind: Kind) {
        let stream = self.exchange.as_ref().map(|e| e.stream);
        self.p.fail(kind, Answer::Close, stream);
        self.read = Read::Stopped;
    }

    fn process(&mut self) {
        while self.p.error.is_none() && !self.p.backlogged() {
            match &mut self.read {
                Read::Idle => {
                    if !self.p.recv.is_empty() {
                        self.fail(Kind::UnexpectedMessage);
                    }
                    break;
                }
                Read::Head => match self.scanner.response(self.p.recv.bytes_mut(), &self.p.config) {
                    Ok(None) => break,
                    Ok(Some(parsed)) => self.on_response(parsed),
                    Err(kind) => self.fail(kind),
                },
                Read::Body(decoder) => match decoder.decode(self.p.recv.bytes_mut()) {
                    Ok(None) => break,
                    Ok(Some(chunk)) => {
                        let stream = self.exchange.as_ref().map_or(StreamId::new(0), |e| e.stream);
                        match chunk {
                            Chunk::Data(data) => {
                                self.body_progress = self.p.now;
                                self.p.push_event(Event::Data { stream, data });
                            }
                            Chunk::Trailers(trailers) => self.p.push_event(Event::Trailers { stream, trailers }),
                            Chunk::End => self.response_complete(),
                        }
                    }
                    Err(kind) => self.fail(kind),
                },
                Read::Switching | Read::Stopped => break,
            }
        }
        self.check_eof();
    }

    fn check_eof(&mut self) {
        if !self.p.peer_eof || self.p.error.is_some() || self.p.backlogged() {
            return;
        }
        match &self.read {
            Read::Idle => {
                self.read = Read::Stopped;
                self.p.close_reason.get_or_insert(CloseReason::PeerClosed);
            }
            Read::Head => self.fail(Kind::IncompleteHead),
            Read::Body(d) if d.eof_completes() => self.response_complete(),
            Read::Body(_) => self.fail(Kind::IncompleteBody),
            Read::Switching | Read::Stopped => {}
        }
    }

    fn on_response(&mut self, parsed: ParsedResponse) {
        let ParsedResponse { head, info } = parsed;
        let Some(ex) = &mut self.exchange else {
            return self.fail(Kind::UnexpectedMessage);
        };
        let stream = ex.stream;
        if head.is_informational() {
            match head.status {
                101 if ex.upgrade => {
                    self.read = Read::Switching;
                    self.p.push_event(Event::Response { stream, head });
                }
                101 => self.fail(Kind::UnexpectedMessage),
                _ => {
                    if head.status == 100 {
                        if let Some(mut held) = ex.held.take() {
                            self.p.out.append(&mut held);
                        }
                    }
                    self.p.push_event(Event::Informational { stream, head });
                }
            }
            return;
        }
        if ex.connect && (200..300).contains(&head.status) {
            self.read = Read::Switching;
            self.p.push_event(Event::Response { stream, head });
            return;
        }
        let bodiless = !sockless_core::response_has_content(ex.head_request, head.status);
        let decoder = match rules::incoming_body(Sender::Server { bodiless }, head.version, &info, &self.p.config) {
            Ok(Incoming::None | Incoming::Exact(0)) => BodyDecoder::Length(0),
            Ok(Incoming::Exact(n)) => BodyDecoder::Length(n),
            Ok(Incoming::Chunked) => BodyDecoder::chunked(&self.p.config),
            Ok(Incoming::UntilClose) => BodyDecoder::UntilClose,
            Err(kind) => return self.fail(kind),
        };
        let server_keeps = rules::keep_alive(head.version, info.close, info.keep_alive);
        ex.keep_alive &= server_keeps && !matches!(decoder, BodyDecoder::UntilClose);
        if ex.held.take().is_some() {
            // A final response before 100 Continue: the body is never sent,
            // so the request cannot be completed on this connection.
            ex.keep_alive = false;
            ex.request = None;
        }
        self.p.push_event(Event::Response { stream, head });
        self.body_progress = self.p.now;
        if matches!(decoder, BodyDecoder::Length(0)) {
            self.response_complete();
        } else {
            self.read = Read::Body(decoder);
        }
    }

    fn response_complete(&mut self) {
        let Some(ex) = &mut self.exchange else { return };
        self.p.push_event(Event::EndStream { stream: ex.stream });
        ex.response_done = true;
        self.read = if ex.keep_alive { Read::Idle } else { Read::Stopped };
        self.maybe_finish();
    }

    /// Ends the exchange once both directions are complete.
    fn maybe_finish(&mut self) {
        let Some(ex) = &self.exchange else { return };
        if !ex.response_done {
            return;
        }
        if ex.request.is_some() {
            // The response ended while our body was still being sent: the
            // server is done with this request; do not reuse the connection.
            if ex.keep_alive {
                return;
            }
        }
        let reusable = ex.keep_alive && ex.request.is_none() && self.p.close_reason.is_none();
        self.exchange = None;
        self.p.push_event(Event::Ready { reusable });
        if !reusable {
            self.read = Read::Stopped;
            self.p.close_reason.get_or_insert(CloseReason::Done);
        }
    }

    /// Input after the connection stopped reading is dropped.
    fn discarding(&self) -> bool {
        matches!(self.read, Read::Stopped)
    }

    fn current(&mut self, stream: StreamId) -> Result<&mut Exchange, UserError> {
        self.exchange.as_mut().filter(|e| e.stream == stream).ok_or(UserError::UnknownStream)
    }
}

/// The client's timers.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Timer {
    /// A command changed state without a time: the next call stamps it.
    Stamp,
    /// The body waits for `100 Continue`: sent anyway when it expires.
    Continue,
    /// A response body is being received: an error when it pauses too long.
    Body,
}

impl timers::Timers for ClientConnection {
    type Timer = Timer;
    const ALL: &'static [Timer] = &[Timer::Stamp, Timer::Continue, Timer::Body];

    fn deadline(&self, timer: Timer) -> Option<Instant> {
        if self.p.closed_emitted || self.p.upgraded || self.p.error.is_some() {
            return None;
        }
        match timer {
            Timer::Stamp => self.p.stamp_needed.then_some(self.p.now),
            Timer::Continue => {
                let ex = self.exchange.as_ref()?;
                ex.held.as_ref()?;
                ex.continue_since.map(|s| s + self.p.config.continue_timeout)
            }
            Timer::Body => match self.read {
                Read::Body(_) if !self.p.backlogged() => self.p.config.body_timeout.map(|t| self.body_progress + t),
                _ => None,
            },
        }
    }

    fn fire(&mut self, timer: Timer) {
        match timer {
            // `handle_timeout` already stamped it.
            Timer::Stamp => {}
            Timer::Continue => {
                if let Some(mut held) = self.exchange.as_mut().and_then(|ex| ex.held.take()) {
                    self.p.out.append(&mut held);
                }
            }
            Timer::Body => self.fail(Kind::BodyTimeout),
        }
    }
}

impl plumbing::Role for ClientConnection {
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

impl Connection for ClientConnection {
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
        if matches!(self.read, Read::Switching) && self.p.out.is_empty() && !self.p.upgraded {
            let stream = self.exchange.take().map_or(StreamId::new(0), |e| e.stream);
            self.p.upgraded = true;
            return Some(Event::Upgrade { stream, leftover: self.p.recv.take_all() });
        }
        let finished = matches!(self.read, Read::Stopped);
        self.p.poll_closed(finished)
    }

    fn poll_timeout(&self) -> Option<Instant> {
        timers::next(self)
    }

    fn handle_timeout(&mut self, now: Instant) {
        self.touch(now);
        timers::expire(self, now);
    }

    fn send_request(&mut self, head: &RequestHead, end_stream: bool) -> Result<StreamId, Error> {
        self.p.check_open()?;
        if self.p.close_reason.is_some() {
            return Err(UserError::Closed.into());
        }
        if !self.is_ready() {
            return Err(UserError::Busy.into());
        }
        head.validate_request_line()?;
        let framing = user_framing(&head.headers)?;
        let wants_length = matches!(head.method, Method::Post | Method::Put | Method::Patch);
        let body = rules::outgoing_body(Outgoing::Request { wants_length }, head.version, &framing, end_stream)?;
        let mut encoder = body.encoder;
        let added = Added { content_length: body.content_length, chunked: body.chunked, ..Added::default() };
        if end_stream {
            encoder.can_finish()?;
        }
        // An absolute-form target goes out as origin-form plus Host, unless
        // the peer is a proxy (RFC 9112 section 3.2.2).
        let origin_form = !self.p.config.absolute_form && head.method != Method::Connect && head.scheme().is_some();
        let target = if origin_form { head.path() } else { &head.target[..] };
        let host = if framing.has_host || head.method == Method::Connect { None } else { head.authority() };
        let has_body = !matches!(encoder, BodyEncoder::Length(0));
        write_request_head(&mut self.p.out, head, target, host, added);
        let stream = StreamId::new(self.next_stream);
        self.next_stream = self.next_stream.wrapping_add(1).max(1);
        let keep_alive = rules::keep_alive(head.version, framing.close, framing.keep_alive);
        let waits = framing.expect_continue && has_body && !end_stream;
        if end_stream {
            encoder.finish(&mut self.p.out, None)?;
        }
        self.exchange = Some(Exchange {
            stream,
            head_request: head.method == Method::Head,
            connect: head.method == Method::Connect,
            upgrade: framing.upgrade,
            request: (!end_stream).then_some(encoder),
            held: waits.then(Transmit::default),
            continue_since: None,
            response_done: false,
            keep_alive,
        });
        if waits {
            self.p.stamp_needed = true;
        }
        self.read = Read::Head;
        Ok(stream)
    }

    fn send_response(&mut self, _stream: StreamId, _head: &ResponseHead, _end_stream: bool) -> Result<(), Error> {
        Err(UserError::WrongRole.into())
    }

    fn send_data(&mut self, stream: StreamId, data: Bytes, end_stream: bool) -> Result<usize, Error> {
        let cap = self.p.config.max_send_buffer;
        let queued = self.p.out.len();
        let ex = self.exchange.as_mut().filter(|e| e.stream == stream).ok_or(UserError::UnknownStream)?;
        let Some(encoder) = &mut ex.request else {
            return Err(UserError::StreamEnded.into());
        };
        let (accepted, ended) = match &mut ex.held {
            Some(held) => send_body(encoder, held, cap.saturating_sub(queued), data, end_stream)?,
            None => send_body(encoder, &mut self.p.out, cap, data, end_stream)?,
        };
        if ended {
            ex.request = None;
            self.maybe_finish();
        }
        Ok(accepted)
    }

    fn send_trailers(&mut self, stream: StreamId, trailers: &HeaderList) -> Result<(), Error> {
        validate_fields(trailers)?;
        let ex = self.current(stream)?;
        let Some(encoder) = &mut ex.request else {
            return Err(UserError::StreamEnded.into());
        };
        let mut enc = *encoder;
        match &mut ex.held {
            Some(held) => enc.finish(held, Some(trailers))?,
            None => enc.finish(&mut self.p.out, Some(trailers))?,
        }
        if let Some(ex) = &mut self.exchange {
            ex.request = None;
        }
        self.maybe_finish();
        Ok(())
    }

    fn read_body(&mut self, stream: StreamId) -> Result<(), Error> {
        self.current(stream)?;
        Ok(())
    }

    fn release_capacity(&mut self, _stream: StreamId, _n: usize) -> Result<(), Error> {
        Ok(())
    }

    fn reset_stream(&mut self, stream: StreamId, _code: ErrorCode) -> Result<(), Error> {
        self.current(stream)?;
        self.exchange = None;
        self.read = Read::Stopped;
        self.p.close_reason.get_or_insert(CloseReason::Aborted);
        Ok(())
    }

    fn ping(&mut self, _now: Instant) -> Result<(), Error> {
        Err(UserError::Unsupported.into())
    }

    fn shutdown(&mut self, now: Instant) {
        self.touch(now);
        match &mut self.exchange {
            Some(ex) => ex.keep_alive = false,
            None => {
                self.read = Read::Stopped;
                self.p.close_reason.get_or_insert(CloseReason::Done);
            }
        }
    }

    fn is_closed(&self) -> bool {
        self.p.closed_emitted || self.p.upgraded
    }
}

impl core::fmt::Debug for ClientConnection {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("ClientConnection")
            .field("read", &self.read)
            .field("exchange", &self.exchange)
            .field("error", &self.p.error)
            .finish_non_exhaustive()
    }
}
