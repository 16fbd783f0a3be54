//! The client side: HTTP/1.1, HTTP/2 with prior knowledge, or by ALPN.

use crate::unfed::Unfed;
use crate::{delegate, Protocol};
use bytes::{Bytes, BytesMut};
use sockless_core::{
    Connection, Error, ErrorCode, Event, HeaderList, Instant, RequestHead, ResponseHead, StreamId, UserError,
};
use sockless_h2::H2Connection;

// One per connection, never moved in a hot path: boxing would buy nothing.
#[allow(clippy::large_enum_variant)]
pub(crate) enum Inner {
    H1(sockless_h1::ClientConnection),
    H2(H2Connection),
}

/// A client connection that speaks HTTP/1.1 or HTTP/2.
pub struct ClientConnection {
    inner: Inner,
    /// h2c upgrade: the HTTP/2 configuration to switch to, until the first
    /// response decides.
    upgrade: Option<sockless_h2::Config>,
    /// The server agreed (101): HTTP/2 takes over once the leftover arrives.
    switching: bool,
    /// Bytes HTTP/2 has not taken yet (what followed the 101).
    unfed: Unfed,
    /// The latest time passed in: HTTP/2 after an upgrade starts its timers
    /// then, not when the connection was made.
    now: Instant,
}

impl ClientConnection {
    /// HTTP/1.1.
    pub fn http1(config: sockless_h1::Config, now: Instant) -> Self {
        ClientConnection {
            inner: Inner::H1(sockless_h1::ClientConnection::new(config, now)),
            upgrade: None,
            switching: false,
            unfed: Unfed::default(),
            now,
        }
    }

    /// HTTP/1.1 that asks to switch to HTTP/2 (`Upgrade: h2c`) with its
    /// first request, as `curl --http2` does on `http://` URLs. If the server
    /// answers `101`, the rest of the connection (the first response
    /// included, on the same stream id) is HTTP/2; otherwise HTTP/1.1 goes on.
    /// The first request must not have a body.
    pub fn h2c_upgrade(h1: sockless_h1::Config, h2: sockless_h2::Config, now: Instant) -> Self {
        ClientConnection { upgrade: Some(h2), ..Self::http1(h1, now) }
    }

    /// HTTP/2 with prior knowledge (cleartext h2c, or TLS with ALPN h2).
    pub fn prior_knowledge(config: sockless_h2::Config, now: Instant) -> Self {
        ClientConnection {
            inner: Inner::H2(H2Connection::client(config, now)),
            upgrade: None,
            switching: false,
            unfed: Unfed::default(),
            now,
        }
    }

    /// The protocol TLS negotiated by ALPN.
    pub fn for_alpn(h1: sockless_h1::Config, h2: sockless_h2::Config, now: Instant, alpn: Option<&[u8]>) -> Self {
        match Protocol::from_alpn(alpn) {
            Protocol::Http2 => Self::prior_knowledge(h2, now),
            Protocol::Http1 => Self::http1(h1, now),
        }
    }

    /// The protocol in use.
    pub fn protocol(&self) -> Protocol {
        match self.inner {
            Inner::H1(_) => Protocol::Http1,
            Inner::H2(_) => Protocol::Http2,
        }
    }

    /// Whether a new request may be sent now.
    pub fn is_ready(&self) -> bool {
        match &self.inner {
            Inner::H1(c) => c.is_ready(),
            Inner::H2(c) => c.is_ready(),
        }
    }

    /// Records `now` and feeds the protocol what it has not taken yet;
    /// whether new input may follow.
    fn catch_up(&mut self, now: Instant) -> Result<bool, Error> {
        self.now = self.now.max(now);
        delegate!(self, c => self.unfed.feed(c, self.now), Ok(()))?;
        Ok(self.unfed.is_empty())
    }

    /// Looks at an event of the protocol in use: the h2c switch is
    /// absorbed (`None`), the rest is delivered.
    fn on_event(&mut self, event: Event) -> Option<Event> {
        match event {
            Event::Response { head, .. } if head.status == 101 && self.upgrade.is_some() => {
                self.switching = true;
                None
            }
            Event::Upgrade { leftover, .. } if self.switching => {
                self.switching = false;
                let config = self.upgrade.take().unwrap_or_default();
                self.inner = Inner::H2(H2Connection::client_from_upgrade(config, self.now));
                self.unfed.hold_bytes(leftover);
                // An error is queued as HTTP/2's `Error` event.
                let _ = self.catch_up(self.now);
                None
            }
            Event::Response { .. } | Event::Ready { .. } if self.upgrade.is_some() && !self.switching => {
                // Declined: HTTP/1.1 goes on.
                self.upgrade = None;
                Some(event)
            }
            other => Some(other),
        }
    }
}

impl Connection for ClientConnection {
    fn handle_input(&mut self, now: Instant, input: &[u8]) -> Result<usize, Error> {
        if !self.catch_up(now)? {
            return Ok(0);
        }
        delegate!(self, c => c.handle_input(now, input), Ok(0))
    }
    fn handle_eof(&mut self, now: Instant) {
        self.now = self.now.max(now);
        delegate!(self, c => c.handle_eof(now), ())
    }
    fn input_buffer(&mut self) -> &mut [u8] {
        // Bytes held back go first; until they are taken, lend nothing.
        if !self.catch_up(self.now).unwrap_or(false) {
            return &mut [];
        }
        delegate!(self, c => c.input_buffer(), &mut [])
    }
    fn commit_input(&mut self, now: Instant, n: usize) -> Result<(), Error> {
        self.now = self.now.max(now);
        delegate!(self, c => c.commit_input(now, n), Ok(()))
    }
    fn take_input_buffer(&mut self) -> BytesMut {
        delegate!(self, c => c.take_input_buffer(), BytesMut::new())
    }
    fn return_input_buffer(&mut self, now: Instant, buf: BytesMut) -> Result<(), Error> {
        if !self.catch_up(now)? {
            // Taken while bytes were held back: these go after them.
            self.unfed.hold(&buf);
            return self.catch_up(now).map(drop);
        }
        delegate!(self, c => c.return_input_buffer(now, buf), Ok(()))
    }
    fn poll_transmit<'a>(&'a mut self, out: &mut [&'a [u8]]) -> usize {
        delegate!(self, c => c.poll_transmit(out), 0)
    }
    fn advance_transmit(&mut self, n: usize) {
        delegate!(self, c => c.advance_transmit(n), ())
    }
    fn poll_transmit_owned(&mut self, out: &mut Vec<Bytes>, max: usize) -> usize {
        delegate!(self, c => c.poll_transmit_owned(out, max), 0)
    }
    fn poll_event(&mut self) -> Option<Event> {
        loop {
            let event = match delegate!(self, c => c.poll_event(), None) {
                Some(event) => event,
                None if delegate!(self, c => self.unfed.refill(c, self.now), false) => continue,
                None => return None,
            };
            if let Some(event) = self.on_event(event) {
                return Some(event);
            }
        }
    }
    fn poll_timeout(&self) -> Option<Instant> {
        match &self.inner {
            Inner::H1(c) => c.poll_timeout(),
            Inner::H2(c) => c.poll_timeout(),
        }
    }
    fn handle_timeout(&mut self, now: Instant) {
        self.now = self.now.max(now);
        delegate!(self, c => c.handle_timeout(now), ())
    }
    fn send_request(&mut self, head: &RequestHead, end_stream: bool) -> Result<StreamId, Error> {
        if let (Some(h2), Inner::H1(h1), true) = (&self.upgrade, &mut self.inner, end_stream) {
            let asked = head
                .clone()
                .header("Connection", "Upgrade, HTTP2-Settings")
                .header("Upgrade", "h2c")
                .header("HTTP2-Settings", sockless_h2::settings_header_value(h2));
            return h1.send_request(&asked, true);
        }
        delegate!(self, c => c.send_request(head, end_stream), Err(UserError::Closed.into()))
    }
    fn send_response(&mut self, _stream: StreamId, _head: &ResponseHead, _end_stream: bool) -> Result<(), Error> {
        Err(UserError::WrongRole.into())
    }
    fn send_data(&mut self, stream: StreamId, data: Bytes, end_stream: bool) -> Result<usize, Error> {
        delegate!(self, c => c.send_data(stream, data, end_stream), Err(UserError::UnknownStream.into()))
    }
    fn send_trailers(&mut self, stream: StreamId, trailers: &HeaderList) -> Result<(), Error> {
        delegate!(self, c => c.send_trailers(stream, trailers), Err(UserError::UnknownStream.into()))
    }
    fn read_body(&mut self, stream: StreamId) -> Result<(), Error> {
        delegate!(self, c => c.read_body(stream), Ok(()))
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
        self.now = self.now.max(now);
        delegate!(self, c => c.ping(now), Err(UserError::Unsupported.into()))
    }
    fn shutdown(&mut self, now: Instant) {
        self.now = self.now.max(now);
        delegate!(self, c => c.shutdown(now), ())
    }
    fn is_closed(&self) -> bool {
        match &self.inner {
            Inner::H1(c) => c.is_closed(),
            Inner::H2(c) => c.is_closed(),
        }
    }
}
