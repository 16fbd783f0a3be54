//! The server side: detection, ALPN, and the h2c upgrade.

use crate::{delegate, Protocol};
use bytes::{Bytes, BytesMut};
use sockless_core::{
    Connection, Error, ErrorCode, Event, HeaderList, InputBuffer, Instant, RequestHead, ResponseHead, StreamId,
    UserError,
};
use std::collections::VecDeque;

/// Bytes enough to tell the HTTP/2 preface from anything else.
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

// One per connection, never moved in a hot path: boxing would buy nothing.
#[allow(clippy::large_enum_variant)]
pub(crate) enum Inner {
    /// Cleartext, nothing decided: the bytes seen so far.
    Detecting(InputBuffer),
    H1(sockless_h1::ServerConnection),
    H2(H2Connection),
}

/// A server connection that speaks HTTP/1.1 or HTTP/2; see the crate docs.
pub struct ServerConnection {
    inner: Inner,
    config: ServerConfig,
    created: Instant,
    /// An h2c upgrade answered with 101 and waiting for it to be written.
    upgrading: Option<(RequestHead, Vec<u8>)>,
    /// The upgraded request's body, read over HTTP/1.1 before the switch;
    /// delivered as HTTP/2 stream 1's data.
    upgrade_body: Vec<Bytes>,
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
            upgrading: None,
            upgrade_body: Vec::new(),
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
            upgrading: None,
            upgrade_body: Vec::new(),
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
            PrefaceCheck::Mismatch => Protocol::Http1,
        };
        self.settle(now, protocol)
    }

    /// Leaves detection for `protocol`, feeding it the bytes seen so far.
    fn settle(&mut self, now: Instant, protocol: Protocol) -> Result<(), Error> {
        let Inner::Detecting(seen) = &mut self.inner else { return Ok(()) };
        let seen = seen.take_all();
        self.inner = match protocol {
            Protocol::Http2 => Inner::H2(H2Connection::server(self.config.h2.clone(), self.created)),
            Protocol::Http1 => Inner::H1(sockless_h1::ServerConnection::new(self.config.h1.clone(), self.created)),
        };
        self.feed(now, &seen)
    }

    /// Settles on HTTP/1.1 if nothing was decided yet (EOF, timeout, shutdown).
    fn settle_http1(&mut self, now: Instant) {
        let _ = self.settle(now, Protocol::Http1);
    }

    /// Feeds bytes to the decided protocol, all of them (buffering them is
    /// the protocol's job; its cap applies).
    fn feed(&mut self, now: Instant, mut bytes: &[u8]) -> Result<(), Error> {
        while !bytes.is_empty() {
            let n = delegate!(self, c => c.handle_input(now, bytes)?, 0);
            if n == 0 {
                return Err(UserError::Busy.into());
            }
            bytes = &bytes[n..];
        }
        Ok(())
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

impl Connection for ServerConnection {
    fn handle_input(&mut self, now: Instant, input: &[u8]) -> Result<usize, Error> {
        self.now = self.now.max(now);
        if let Inner::Detecting(seen) = &mut self.inner {
            let n = seen.push(input);
            self.detect(now)?;
            return Ok(n);
        }
        delegate!(self, c => c.handle_input(now, input), Ok(0))
    }

    fn handle_eof(&mut self, now: Instant) {
        self.now = self.now.max(now);
        // Too short for a preface: whatever came is HTTP/1.1's to judge.
        self.settle_http1(now);
        delegate!(self, c => c.handle_eof(now), ())
    }

    fn input_buffer(&mut self) -> &mut [u8] {
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
        delegate!(self, c => c.return_input_buffer(now, buf), Ok(()))
    }

    fn poll_transmit<'a>(&'a mut self, out: &mut [&'a [u8]]) -> usize {
        delegate!(self, c => c.poll_transmit(out), 0)
    }

    fn advance_transmit(&mut self, n: usize) {
        delegate!(self, c => c.advance_transmit(n), ())
    }

    fn poll_event(&mut self) -> Option<Event> {
        if let Some(e) = self.pending.pop_front() {
            return Some(e);
        }
        let event = delegate!(self, c => c.poll_event(), None)?;
        match event {
            Event::Request { stream, head, expects_continue } if matches!(&self.inner, Inner::H1(h1) if h1.upgrade_requested(stream)) => {
                match (self.config.no_h2c_upgrade, Self::h2c_settings(&head)) {
                    (false, Some(settings)) => {
                        let switch = ResponseHead::new(101).header("Connection", "Upgrade").header("Upgrade", "h2c");
                        if let Inner::H1(h1) = &mut self.inner {
                            let _ = h1.read_body(stream);
                            if h1.send_response(stream, &switch, false).is_ok() {
                                self.upgrading = Some((head, settings));
                                return self.poll_event();
                            }
                        }
                        Some(Event::Request { stream, head, expects_continue })
                    }
                    _ => Some(Event::Request { stream, head, expects_continue }),
                }
            }
            // The upgraded request's body arrives over HTTP/1.1 before the
            // switch: keep it for stream 1.
            Event::Data { data, .. } if self.upgrading.is_some() => {
                self.upgrade_body.push(data);
                self.poll_event()
            }
            Event::Trailers { .. } | Event::EndStream { .. } if self.upgrading.is_some() => self.poll_event(),
            Event::Upgrade { leftover, .. } if self.upgrading.is_some() => {
                let (mut head, settings) = self.upgrading.take().expect("checked");
                head.version = sockless_core::Version::Http2;
                let now = self.now;
                match H2Connection::server_from_upgrade(self.config.h2.clone(), now, &settings, head) {
                    Ok(mut h2) => {
                        // Stream 1: its Request, the body read so far, then its end.
                        if let Some(request) = h2.poll_event() {
                            self.pending.push_back(request);
                        }
                        for data in self.upgrade_body.drain(..) {
                            self.pending.push_back(Event::Data { stream: StreamId::new(1), data });
                        }
                        self.inner = Inner::H2(h2);
                        if !leftover.is_empty() {
                            let _ = self.feed(now, &leftover);
                        }
                        self.poll_event()
                    }
                    Err(e) => Some(Event::Error(e)),
                }
            }
            other => Some(other),
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

    fn release_capacity(&mut self, stream: StreamId, n: usize) -> Result<(), Error> {
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
            Inner::H1(c) => c.is_closed() && self.upgrading.is_none(),
            Inner::H2(c) => c.is_closed(),
        }
    }
}
