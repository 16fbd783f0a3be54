//! The hub's connections on the driver side: a [`Connection`] wrapper that
//! tells the hub what the protocol says (ready for another exchange,
//! GOAWAY, busy at the peer's stream limit, an h2c upgrade) and, when the
//! connection task drops it, that the connection is gone.

use sockless_core::BytesMut;
use sockless_core::{
    Bytes, Connection, Error, ErrorCode, Event, HeaderList, Instant, RequestHead, ResponseHead, StreamId, UserError,
};
use sockless_pool::{ConnId, Protocol};
use std::sync::Weak;

/// What a connection tells the hub.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum ConnEvent {
    /// The protocol is chosen (TLS: the handshake finished).
    Connected(Protocol),
    /// HTTP/1.1: the exchange finished, the connection is reusable.
    Ready,
    /// The connection became flow-controlled (HTTP/2 after an h2c Upgrade).
    Upgraded,
    /// HTTP/2 GOAWAY with its last stream.
    GoAway(u32),
    /// HTTP/2: the connection refused a stream with this many open.
    StreamLimit(u32),
    /// The connection task finished.
    Closed,
}

/// Where a connection's events go (the client's shared state, held weakly
/// so an idle connection does not keep a dropped client alive).
pub(crate) trait EventSink: Send + Sync + 'static {
    fn conn_event(&self, conn: ConnId, event: ConnEvent);
}

/// A connection reporting to the hub.
pub(crate) struct Observed<C> {
    inner: C,
    conn: ConnId,
    sink: Weak<dyn EventSink>,
    /// Our streams open (HTTP/2), to tell the hub the peer's limit when the
    /// connection says it is busy.
    open: u32,
    limit_told: Option<u32>,
    /// An event read ahead (see [`Connection::poll_event`] below).
    ahead: Option<Event>,
    /// The connection was flow-controlled when last asked.
    multiplexed: bool,
}

impl<C: Connection> Observed<C> {
    pub(crate) fn new(inner: C, conn: ConnId, sink: Weak<dyn EventSink>) -> Self {
        let multiplexed = inner.flow_controlled();
        Observed { inner, conn, sink, open: 0, limit_told: None, ahead: None, multiplexed }
    }

    fn tell(&self, event: ConnEvent) {
        if let Some(sink) = self.sink.upgrade() {
            sink.conn_event(self.conn, event);
        }
    }

    fn observe(&mut self, event: &Event) {
        match event {
            Event::Ready { reusable: true } => self.tell(ConnEvent::Ready),
            Event::GoAway { last_stream, .. } => self.tell(ConnEvent::GoAway(last_stream.get())),
            Event::EndStream { .. } => self.open = self.open.saturating_sub(1),
            Event::Reset { .. } => self.open = self.open.saturating_sub(1),
            _ => {}
        }
    }
}

impl<C> Drop for Observed<C> {
    fn drop(&mut self) {
        if let Some(sink) = self.sink.upgrade() {
            sink.conn_event(self.conn, ConnEvent::Closed);
        }
    }
}

impl<C: Connection> Connection for Observed<C> {
    fn handle_input(&mut self, now: Instant, input: &[u8]) -> Result<usize, Error> {
        self.inner.handle_input(now, input)
    }
    fn handle_eof(&mut self, now: Instant) {
        self.inner.handle_eof(now)
    }
    fn input_buffer(&mut self) -> &mut [u8] {
        self.inner.input_buffer()
    }
    fn commit_input(&mut self, now: Instant, n: usize) -> Result<(), Error> {
        self.inner.commit_input(now, n)
    }
    fn take_input_buffer(&mut self) -> BytesMut {
        self.inner.take_input_buffer()
    }
    fn return_input_buffer(&mut self, now: Instant, buf: BytesMut) -> Result<(), Error> {
        self.inner.return_input_buffer(now, buf)
    }
    fn poll_transmit<'a>(&'a mut self, out: &mut [&'a [u8]]) -> usize {
        self.inner.poll_transmit(out)
    }
    fn advance_transmit(&mut self, n: usize) {
        self.inner.advance_transmit(n)
    }
    fn poll_transmit_owned(&mut self, out: &mut Vec<sockless_core::Bytes>, max: usize) -> usize {
        self.inner.poll_transmit_owned(out, max)
    }
    fn poll_event(&mut self) -> Option<Event> {
        if let Some(event) = self.ahead.take() {
            return Some(event);
        }
        let event = self.inner.poll_event()?;
        if !self.multiplexed && self.inner.flow_controlled() {
            self.multiplexed = true;
            self.tell(ConnEvent::Upgraded);
        }
        if matches!(event, Event::EndStream { .. }) && !self.inner.flow_controlled() {
            // HTTP/1.1 says the connection is ready right after the
            // response's end: the hub hears it before the end reaches the
            // caller, whose next request then finds the connection idle
            // instead of dialling another.
            let next = self.inner.poll_event();
            if let Some(next) = &next {
                self.observe(next);
            }
            self.ahead = next;
        }
        self.observe(&event);
        Some(event)
    }
    fn poll_timeout(&self) -> Option<Instant> {
        self.inner.poll_timeout()
    }
    fn handle_timeout(&mut self, now: Instant) {
        self.inner.handle_timeout(now)
    }
    fn send_request(&mut self, head: &RequestHead, end_stream: bool) -> Result<StreamId, Error> {
        let r = self.inner.send_request(head, end_stream);
        match &r {
            Ok(_) => self.open += 1,
            Err(Error::User(UserError::Busy)) if self.inner.flow_controlled() => {
                if self.limit_told != Some(self.open) {
                    self.limit_told = Some(self.open);
                    self.tell(ConnEvent::StreamLimit(self.open));
                }
            }
            Err(_) => {}
        }
        r
    }
    fn send_response(&mut self, stream: StreamId, head: &ResponseHead, end_stream: bool) -> Result<(), Error> {
        self.inner.send_response(stream, head, end_stream)
    }
    fn send_data(&mut self, stream: StreamId, data: Bytes, end_stream: bool) -> Result<usize, Error> {
        self.inner.send_data(stream, data, end_stream)
    }
    fn send_trailers(&mut self, stream: StreamId, trailers: &HeaderList) -> Result<(), Error> {
        self.inner.send_trailers(stream, trailers)
    }
    fn read_body(&mut self, stream: StreamId) -> Result<(), Error> {
        self.inner.read_body(stream)
    }
    fn release_capacity(&mut self, stream: StreamId, n: usize) -> Result<(), Error> {
        self.inner.release_capacity(stream, n)
    }
    fn flow_controlled(&self) -> bool {
        self.inner.flow_controlled()
    }
    fn reset_stream(&mut self, stream: StreamId, code: ErrorCode) -> Result<(), Error> {
        self.inner.reset_stream(stream, code)
    }
    fn ping(&mut self, now: Instant) -> Result<(), Error> {
        self.inner.ping(now)
    }
    fn shutdown(&mut self, now: Instant) {
        self.inner.shutdown(now)
    }
    fn is_closed(&self) -> bool {
        self.inner.is_closed()
    }
}
