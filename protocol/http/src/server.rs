//! The server side: detection, ALPN, and the h2c upgrade.

use crate::unfed::Unfed;
use crate::{delegate, Protocol};
use bytes::{Bytes, BytesMut};
use sockless_core::{
    Connection, Error, ErrorCode, Event, HeaderList, InputBuffer, Instant, RequestHead, ResponseHead, StreamId,
    UserError,
};
use std::collections::VecDeque;

/// Bytes enough to tell the HTTP/2 preface from an HTTP/1.x request line
/// (a longer first line is HTTP/1.1's to refuse, 414).
const DETECT_BUFFER: usize = 4096;
use sockless_h2::frame::{check_preface, PrefaceCheck};
use sockless_h2::{decode_settings_header, H2Connection};

/// The configuration of both protocols.
#[derive(Clone, Debug, Default)]
pub struct ServerConfig {
    /// HTTP/1.1 limits and timers.
    pub h1: sockless_h1::Config,
    /// HTTP/2 limits and timers.
    pub h2: sockless_h2::Config,
    /// Refuse `Upgrade: h2c` (serve such requests over HTTP/1.1).
    pub no_h2c_upgrade: bool,
}

/// Which protocol a cleartext connection whose first bytes are not the
/// HTTP/2 preface speaks, judged by its first line (`None`: not complete
/// yet, and `full` says the detection buffer has no room left).
///
/// A request line ending in `HTTP/1.x` is HTTP/1.1's to answer (its errors
/// included). Anything else is an invalid HTTP/2 connection preface (RFC
/// 9113 section 3.4): a first line starting `PRI ` is a preface that went
/// wrong further on, and a first line that is not HTTP/1.x at all is no
/// HTTP/1.1 request either, so an HTTP/1.1 error response would be bytes
/// neither protocol can read (h2spec 3.5/2 reads it as a broken frame).
/// HTTP/2 answers it with GOAWAY(PROTOCOL_ERROR) and closes.
fn first_line_protocol(seen: &[u8], full: bool) -> Option<Protocol> {
    // Empty lines before a request line are HTTP/1.1's (RFC 9112 section 2.2).
    let start = seen.iter().position(|&b| b != b'\r' && b != b'\n')?;
    let seen = &seen[start..];
    let Some(lf) = seen.iter().position(|&b| b == b'\n') else {
        // A request line longer than the buffer: HTTP/1.1 answers 414.
        return full.then_some(Protocol::Http1);
    };
    let line = seen[..lf].strip_suffix(b"\r").unwrap_or(&seen[..lf]);
    let http1 = match line {
        [.., b' ', b'H', b'T', b'T', b'P', b'/', b'1', b'.', minor] => minor.is_ascii_digit(),
        _ => false,
    };
    Some(if http1 && !line.starts_with(b"PRI ") { Protocol::Http1 } else { Protocol::Http2 })
}

// One per connection, never moved in a hot path: boxing would buy nothing.
#[allow(clippy::large_enum_variant)]
pub(crate) enum Inner {
    /// Cleartext, nothing decided: the bytes seen so far.
    Detecting(InputBuffer),
    H1(sockless_h1::ServerConnection),
    H2(H2Connection),
}

/// An h2c Upgrade (RFC 7540 section 3.2) under way: the request is held
/// until its body is complete, then answered `101` and handed to HTTP/2 as
/// stream 1. Its body arrives over HTTP/1.1 and is kept here, within
/// `h1.max_buffered_events` bytes: past that the upgrade is declined and the
/// request goes on over HTTP/1.1 (a server may ignore an Upgrade).
struct Upgrade {
    /// The HTTP/1.1 exchange carrying the request.
    stream: StreamId,
    head: RequestHead,
    expects_continue: bool,
    /// The decoded `HTTP2-Settings` payload.
    settings: Vec<u8>,
    /// The body so far, copied into one buffer (a body of one-byte chunks
    /// costs its bytes, not an event per byte).
    body: BytesMut,
    trailers: Option<HeaderList>,
    /// The request is complete and the `101` queued: the switch happens at
    /// HTTP/1.1's `Upgrade` event, once the `101` is written.
    answered: bool,
}

/// A server connection that speaks HTTP/1.1 or HTTP/2; see the crate docs.
pub struct ServerConnection {
    inner: Inner,
    config: ServerConfig,
    created: Instant,
    upgrade: Option<Upgrade>,
    /// Bytes for the decided protocol that it has not taken yet.
    unfed: Unfed,
    /// Stream 1's body bytes that arrived over HTTP/1.1 before an h2c
    /// switch: they never counted against an HTTP/2 window, so releasing
    /// them credits nothing.
    uncounted: usize,
    /// Events produced while switching, delivered before the new protocol's.
    pending: VecDeque<Event>,
    /// The latest time passed in (the switch to HTTP/2 starts its timers then).
    now: Instant,
}

impl ServerConnection {
    /// A cleartext connection: HTTP/2 with prior knowledge if the client
    /// starts with the preface, else HTTP/1.1 (with h2c upgrade).
    pub fn cleartext(config: ServerConfig, now: Instant) -> Self {
        ServerConnection {
            inner: Inner::Detecting(InputBuffer::new(DETECT_BUFFER, DETECT_BUFFER)),
            config,
            created: now,
            upgrade: None,
            unfed: Unfed::default(),
            uncounted: 0,
            pending: Default::default(),
            now,
        }
    }

    /// The protocol TLS negotiated by ALPN.
    pub fn for_alpn(config: ServerConfig, now: Instant, alpn: Option<&[u8]>) -> Self {
        let inner = match Protocol::from_alpn(alpn) {
            Protocol::Http2 => Inner::H2(H2Connection::server(config.h2.clone(), now)),
            Protocol::Http1 => Inner::H1(sockless_h1::ServerConnection::new(config.h1.clone(), now)),
        };
        ServerConnection {
            inner,
            config,
            created: now,
            upgrade: None,
            unfed: Unfed::default(),
            uncounted: 0,
            pending: Default::default(),
            now,
        }
    }

    /// The protocol in use, once known.
    pub fn protocol(&self) -> Option<Protocol> {
        match self.inner {
            Inner::Detecting(_) => None,
            Inner::H1(_) => Some(Protocol::Http1),
            Inner::H2(_) => Some(Protocol::Http2),
        }
    }

    /// Decides the protocol from the bytes seen so far, feeding them on.
    fn detect(&mut self, now: Instant) -> Result<(), Error> {
        let Inner::Detecting(seen) = &mut self.inner else { return Ok(()) };
        let protocol = match check_preface(seen.data()) {
            PrefaceCheck::Complete => Protocol::Http2,
            PrefaceCheck::Partial => return Ok(()),
            PrefaceCheck::Mismatch => match first_line_protocol(seen.data(), seen.space() == 0) {
                Some(protocol) => protocol,
                None => return Ok(()),
            },
        };
        self.settle(now, protocol)
    }

    /// Leaves detection for `protocol`, feeding it the bytes seen so far.
    fn settle(&mut self, now: Instant, protocol: Protocol) -> Result<(), Error> {
        let Inner::Detecting(seen) = &mut self.inner else { return Ok(()) };
        self.unfed.hold_bytes(seen.take_all());
        self.inner = match protocol {
            Protocol::Http2 => Inner::H2(H2Connection::server(self.config.h2.clone(), self.created)),
            Protocol::Http1 => Inner::H1(sockless_h1::ServerConnection::new(self.config.h1.clone(), self.created)),
        };
        self.feed_unfed(now)
    }

    /// Settles on HTTP/1.1 if nothing was decided yet (EOF, timeout, shutdown).
    fn settle_http1(&mut self, now: Instant) {
        // A protocol error is also queued as the protocol's `Error` event.
        let _ = self.settle(now, Protocol::Http1);
    }

    /// Feeds the decided protocol the bytes it has not taken yet, as many as
    /// it takes now; the rest wait for the next input or poll.
    fn feed_unfed(&mut self, now: Instant) -> Result<(), Error> {
        delegate!(self, c => self.unfed.feed(c, now), Ok(()))
    }

    /// Delegates new input once the bytes held back are all taken.
    fn input(&mut self, now: Instant, input: &[u8]) -> Result<usize, Error> {
        self.feed_unfed(now)?;
        if !self.unfed.is_empty() {
            return Ok(0);
        }
        delegate!(self, c => c.handle_input(now, input), Ok(0))
    }

    /// Whether an HTTP/1.1 request asks to switch to h2c, with its settings.
    fn h2c_settings(head: &RequestHead) -> Option<Vec<u8>> {
        let upgrade = head.headers.get_all("upgrade").any(|v| v.eq_ignore_ascii_case(b"h2c"));
        let connection = head.headers.get_all("connection").any(|v| {
            v.split(|&b| b == b',').any(|t| {
                let t = t.trim_ascii();
                t.eq_ignore_ascii_case(b"upgrade")
            })
        });
        if !upgrade || !connection || head.headers.get_all("http2-settings").count() != 1 {
            return None;
        }
        decode_settings_header(head.headers.get("http2-settings")?)
    }
}

impl ServerConnection {
    /// Looks at an event of the protocol in use: what an h2c Upgrade takes
    /// in is absorbed (`None`), the rest is delivered.
    fn on_event(&mut self, event: Event) -> Option<Event> {
        let Some(upgrade) = &mut self.upgrade else {
            return match event {
                Event::Request { stream, head, expects_continue } => self.on_request(stream, head, expects_continue),
                other => Some(other),
            };
        };
        match event {
            Event::Data { stream, data } if stream == upgrade.stream && !upgrade.answered => {
                if upgrade.body.len() + data.len() > self.config.h1.max_buffered_events {
                    return self.decline(Event::Data { stream, data });
                }
                upgrade.body.extend_from_slice(&data);
                None
            }
            Event::Trailers { stream, trailers } if stream == upgrade.stream && !upgrade.answered => {
                upgrade.trailers = Some(trailers);
                None
            }
            Event::EndStream { stream } if stream == upgrade.stream && !upgrade.answered => {
                let switch = ResponseHead::new(101).header("Connection", "Upgrade").header("Upgrade", "h2c");
                let sent = match &mut self.inner {
                    Inner::H1(h1) => h1.send_response(stream, &switch, false),
                    _ => Err(UserError::WrongRole.into()),
                };
                match sent {
                    Ok(()) => {
                        upgrade.answered = true;
                        None
                    }
                    // The exchange is gone (reset, shut down): HTTP/1.1 goes on.
                    Err(_) => self.decline(Event::EndStream { stream }),
                }
            }
            Event::Upgrade { leftover, .. } if upgrade.answered => self.switch(leftover),
            // Anything else (an error, the connection closing) ends the
            // upgrade: the request is delivered as HTTP/1.1's, then the event.
            other if !upgrade.answered => self.decline(other),
            other => Some(other),
        }
    }

    /// An HTTP/1.1 request: held if it asks for h2c (and may have it),
    /// else delivered.
    fn on_request(&mut self, stream: StreamId, head: RequestHead, expects_continue: bool) -> Option<Event> {
        let Inner::H1(h1) = &mut self.inner else {
            return Some(Event::Request { stream, head, expects_continue });
        };
        let settings = match (self.config.no_h2c_upgrade, h1.upgrade_requested(stream)) {
            (false, true) => Self::h2c_settings(&head),
            _ => None,
        };
        // Reading the body (after `100 Continue` if asked for) is how the
        // upgrade gets to the 101.
        let Some(settings) = settings.filter(|_| h1.read_body(stream).is_ok()) else {
            return Some(Event::Request { stream, head, expects_continue });
        };
        self.upgrade = Some(Upgrade {
            stream,
            head,
            expects_continue,
            settings,
            body: BytesMut::new(),
            trailers: None,
            answered: false,
        });
        None
    }

    /// Gives up an upgrade that was not answered yet: the request and what
    /// was held of its body are delivered as HTTP/1.1's, then `then`.
    fn decline(&mut self, then: Event) -> Option<Event> {
        let Upgrade { stream, head, expects_continue, body, trailers, .. } = self.upgrade.take()?;
        self.pending.push_back(Event::Request { stream, head, expects_continue });
        if !body.is_empty() {
            self.pending.push_back(Event::Data { stream, data: body.freeze() });
        }
        if let Some(trailers) = trailers {
            self.pending.push_back(Event::Trailers { stream, trailers });
        }
        self.pending.push_back(then);
        self.pending.pop_front()
    }

    /// The 101 is written: HTTP/2 takes over with the request as stream 1
    /// (its head, the body and trailers read so far; its end comes from
    /// HTTP/2), then reads what followed the request.
    fn switch(&mut self, leftover: Bytes) -> Option<Event> {
        let Upgrade { mut head, settings, body, trailers, .. } = self.upgrade.take()?;
        head.version = sockless_core::Version::Http2;
        let now = self.now;
        let mut h2 = match H2Connection::server_from_upgrade(self.config.h2.clone(), now, &settings, head) {
            Ok(h2) => h2,
            Err(e) => return Some(Event::Error(e)),
        };
        let one = StreamId::new(1);
        if let Some(request) = h2.poll_event() {
            self.pending.push_back(request);
        }
        if !body.is_empty() {
            self.uncounted = body.len();
            self.pending.push_back(Event::Data { stream: one, data: body.freeze() });
        }
        if let Some(trailers) = trailers {
            self.pending.push_back(Event::Trailers { stream: one, trailers });
        }
        self.inner = Inner::H2(h2);
        self.unfed.hold_bytes(leftover);
        // An error is queued as HTTP/2's `Error` event, after stream 1's.
        let _ = self.feed_unfed(now);
        None
    }
}

impl Connection for ServerConnection {
    fn handle_input(&mut self, now: Instant, input: &[u8]) -> Result<usize, Error> {
        self.now = self.now.max(now);
        if let Inner::Detecting(seen) = &mut self.inner {
            let n = seen.push(input);
            self.detect(now)?;
            return Ok(n);
        }
        self.input(now, input)
    }

    fn handle_eof(&mut self, now: Instant) {
        self.now = self.now.max(now);
        // Too short for a preface: whatever came is HTTP/1.1's to judge.
        self.settle_http1(now);
        delegate!(self, c => c.handle_eof(now), ())
    }

    fn input_buffer(&mut self) -> &mut [u8] {
        // Bytes held back go first; until they are taken, lend nothing.
        if self.feed_unfed(self.now).is_err() || !self.unfed.is_empty() {
            return &mut [];
        }
        match &mut self.inner {
            Inner::Detecting(seen) => seen.lend(),
            Inner::H1(c) => c.input_buffer(),
            Inner::H2(c) => c.input_buffer(),
        }
    }

    fn commit_input(&mut self, now: Instant, n: usize) -> Result<(), Error> {
        self.now = self.now.max(now);
        if let Inner::Detecting(seen) = &mut self.inner {
            seen.commit(n)?;
            return self.detect(now);
        }
        delegate!(self, c => c.commit_input(now, n), Err(UserError::BufferNotLent.into()))
    }

    fn take_input_buffer(&mut self) -> BytesMut {
        match &mut self.inner {
            Inner::Detecting(seen) => seen.take(),
            Inner::H1(c) => c.take_input_buffer(),
            Inner::H2(c) => c.take_input_buffer(),
        }
    }

    fn return_input_buffer(&mut self, now: Instant, buf: BytesMut) -> Result<(), Error> {
        self.now = self.now.max(now);
        if let Inner::Detecting(seen) = &mut self.inner {
            seen.give_back(buf);
            return self.detect(now);
        }
        if !self.unfed.is_empty() {
            // Taken while bytes were held back: these go after them.
            self.unfed.hold(&buf);
            return self.feed_unfed(now);
        }
        delegate!(self, c => c.return_input_buffer(now, buf), Ok(()))
    }

    fn poll_transmit<'a>(&'a mut self, out: &mut [&'a [u8]]) -> usize {
        delegate!(self, c => c.poll_transmit(out), 0)
    }

    fn advance_transmit(&mut self, n: usize) {
        delegate!(self, c => c.advance_transmit(n), ())
    }

    fn poll_event(&mut self) -> Option<Event> {
        // A loop, not recursion: an upgraded request's body may be any
        // number of events, each absorbed here.
        loop {
            if let Some(e) = self.pending.pop_front() {
                return Some(e);
            }
            let event = match delegate!(self, c => c.poll_event(), None) {
                Some(event) => event,
                None if !self.unfed.is_empty() => {
                    let before = self.unfed.len();
                    // An error is queued as the protocol's `Error` event.
                    let _ = self.feed_unfed(self.now);
                    if self.unfed.len() == before {
                        return None;
                    }
                    continue;
                }
                None => return None,
            };
            if let Some(event) = self.on_event(event) {
                return Some(event);
            }
        }
    }

    fn poll_timeout(&self) -> Option<Instant> {
        match &self.inner {
            Inner::Detecting(_) => self.config.h1.header_read_timeout.map(|t| self.created + t),
            Inner::H1(c) => c.poll_timeout(),
            Inner::H2(c) => c.poll_timeout(),
        }
    }

    fn handle_timeout(&mut self, now: Instant) {
        self.now = self.now.max(now);
        // Nothing recognisable arrived in time: HTTP/1.1 handles the silence
        // (and any partial bytes seen).
        self.settle_http1(now);
        delegate!(self, c => c.handle_timeout(now), ())
    }

    fn send_request(&mut self, _head: &RequestHead, _end_stream: bool) -> Result<StreamId, Error> {
        Err(UserError::WrongRole.into())
    }

    fn send_response(&mut self, stream: StreamId, head: &ResponseHead, end_stream: bool) -> Result<(), Error> {
        delegate!(self, c => c.send_response(stream, head, end_stream), Err(UserError::UnknownStream.into()))
    }

    fn send_data(&mut self, stream: StreamId, data: Bytes, end_stream: bool) -> Result<usize, Error> {
        delegate!(self, c => c.send_data(stream, data, end_stream), Err(UserError::UnknownStream.into()))
    }

    fn send_trailers(&mut self, stream: StreamId, trailers: &HeaderList) -> Result<(), Error> {
        delegate!(self, c => c.send_trailers(stream, trailers), Err(UserError::UnknownStream.into()))
    }

    fn read_body(&mut self, stream: StreamId) -> Result<(), Error> {
        delegate!(self, c => c.read_body(stream), Err(UserError::UnknownStream.into()))
    }

    fn release_capacity(&mut self, stream: StreamId, mut n: usize) -> Result<(), Error> {
        if stream == StreamId::new(1) && matches!(self.inner, Inner::H2(_)) {
            let uncounted = n.min(self.uncounted);
            self.uncounted -= uncounted;
            n -= uncounted;
        }
        delegate!(self, c => c.release_capacity(stream, n), Ok(()))
    }

    fn flow_controlled(&self) -> bool {
        match &self.inner {
            Inner::H1(c) => c.flow_controlled(),
            Inner::H2(c) => c.flow_controlled(),
            #[allow(unreachable_patterns)]
            _ => false, // still detecting: no body yet
        }
    }

    fn reset_stream(&mut self, stream: StreamId, code: ErrorCode) -> Result<(), Error> {
        delegate!(self, c => c.reset_stream(stream, code), Err(UserError::UnknownStream.into()))
    }

    fn ping(&mut self, now: Instant) -> Result<(), Error> {
        delegate!(self, c => c.ping(now), Err(UserError::Unsupported.into()))
    }

    fn shutdown(&mut self, now: Instant) {
        self.settle_http1(now);
        delegate!(self, c => c.shutdown(now), ())
    }

    fn is_closed(&self) -> bool {
        match &self.inner {
            Inner::Detecting(_) => false,
            Inner::H1(c) => c.is_closed() && self.upgrade.is_none(),
            Inner::H2(c) => c.is_closed(),
        }
    }
}
