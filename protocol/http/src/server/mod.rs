//! The server side: detection, ALPN, and the h2c upgrade.

mod detect;
mod upgrade;

use crate::unfed::Unfed;
use crate::{delegate, Protocol};
use bytes::{Bytes, BytesMut};
use sockless_core::{
    Connection, Error, ErrorCode, Event, HeaderList, InputBuffer, Instant, RequestHead, ResponseHead, StreamId,
    UserError,
};
use std::collections::VecDeque;
use std::sync::Arc;

use detect::first_line_protocol;
use sockless_h2::frame::{check_preface, PrefaceCheck};
use sockless_h2::H2Connection;
use upgrade::Upgrade;

/// Bytes enough to tell the HTTP/2 preface from an HTTP/1.x request line
/// (a longer first line is HTTP/1.1's to refuse, 414).
const DETECT_BUFFER: usize = 4096;

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

/// The protocol underneath. HTTP/2's connection is boxed: it is several
/// times the size of HTTP/1.1's, and inline it would make every idle
/// HTTP/1.1 connection (the common case) carry its size too. HTTP/1.1's is
/// inline: it is what nearly every connection becomes, and boxing it would
/// cost an allocation each.
#[allow(clippy::large_enum_variant)]
pub(crate) enum Inner {
    /// Cleartext, nothing decided: the bytes seen so far.
    Detecting(InputBuffer),
    H1(sockless_h1::ServerConnection),
    H2(Box<H2Connection>),
}

/// A server connection that speaks HTTP/1.1 or HTTP/2; see the crate docs.
pub struct ServerConnection {
    inner: Inner,
    /// Shared by every connection made from the same `Arc`: a connection
    /// holds a pointer, not a copy of both protocols' limits.
    config: Arc<ServerConfig>,
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
    /// When the first byte arrived, while detecting: the protocol decided
    /// later gets the bytes seen as of then, so its header-read timer runs
    /// from the head's first byte, not from the decision.
    first_byte: Option<Instant>,
}

impl ServerConnection {
    /// A cleartext connection: HTTP/2 with prior knowledge if the client
    /// starts with the preface, else HTTP/1.1 (with h2c upgrade).
    pub fn cleartext(config: ServerConfig, now: Instant) -> Self {
        Self::cleartext_shared(Arc::new(config), now)
    }

    /// [`cleartext`](Self::cleartext) with a configuration shared by many
    /// connections: each holds a pointer to it instead of a copy of both
    /// protocols' limits (what a server with many idle connections wants).
    pub fn cleartext_shared(config: Arc<ServerConfig>, now: Instant) -> Self {
        ServerConnection {
            inner: Inner::Detecting(InputBuffer::new(DETECT_BUFFER, DETECT_BUFFER)),
            config,
            created: now,
            upgrade: None,
            unfed: Unfed::default(),
            uncounted: 0,
            pending: Default::default(),
            now,
            first_byte: None,
        }
    }

    /// The protocol TLS negotiated by ALPN.
    pub fn for_alpn(config: ServerConfig, now: Instant, alpn: Option<&[u8]>) -> Self {
        Self::for_alpn_shared(Arc::new(config), now, alpn)
    }

    /// [`for_alpn`](Self::for_alpn) with a shared configuration (see
    /// [`cleartext_shared`](Self::cleartext_shared)).
    pub fn for_alpn_shared(config: Arc<ServerConfig>, now: Instant, alpn: Option<&[u8]>) -> Self {
        let inner = match Protocol::from_alpn(alpn) {
            Protocol::Http2 => Inner::H2(Box::new(H2Connection::server(config.h2.clone(), now))),
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
            first_byte: None,
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
        if !seen.data().is_empty() {
            self.first_byte.get_or_insert(now);
        }
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
            Protocol::Http2 => Inner::H2(Box::new(H2Connection::server(self.config.h2.clone(), self.created))),
            Protocol::Http1 => Inner::H1(sockless_h1::ServerConnection::new(self.config.h1.clone(), self.created)),
        };
        self.feed_unfed(self.first_byte.unwrap_or(now))
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
    fn poll_transmit_owned(&mut self, out: &mut Vec<Bytes>, max: usize) -> usize {
        delegate!(self, c => c.poll_transmit_owned(out, max), 0)
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

#[cfg(test)]
mod size_tests {
    use super::ServerConnection;
    use core::mem::size_of;

    /// An idle HTTP/1.1 connection carries no HTTP/2 state inline: the
    /// HTTP/2 connection is boxed, so the auto-selecting connection stays
    /// smaller than an HTTP/2 connection alone (it was 1 784 bytes, the
    /// HTTP/2 variant held inline).
    #[test]
    fn the_http2_state_is_not_held_inline() {
        let whole = size_of::<ServerConnection>();
        let h1 = size_of::<sockless_h1::ServerConnection>();
        let h2 = size_of::<sockless_h2::H2Connection>();
        println!("ServerConnection {whole} B (h1 {h1} B, h2 {h2} B)");
        assert!(whole < h2, "{whole} B holds the {h2}-byte HTTP/2 connection inline");
    }
}
