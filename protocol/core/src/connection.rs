//! The Connection contract every protocol implements and every driver drives.

use crate::error::{Error, ErrorCode};
use crate::event::Event;
use crate::head::{RequestHead, ResponseHead};
use crate::header::HeaderList;
use crate::stream::StreamId;
use crate::time::Instant;
use bytes::{Bytes, BytesMut};

/// A protocol connection as a pure state machine: bytes and time in, events
/// and bytes out. Implemented by HTTP/1.1, HTTP/2, TLS and the
/// auto-selecting HTTP connection, so every driver carries every protocol.
///
/// # Calling contract
///
/// * `handle_*` puts something in, `poll_*` takes something out.
/// * Time is passed in as [`Instant`]; the connection never reads a clock.
///   `now` must never go backwards.
/// * After **any** call that puts something in (input, EOF, timeout, a
///   command), the driver drains both outputs, events
///   ([`poll_event`](Self::poll_event) until `None`) and transmit
///   ([`poll_transmit`](Self::poll_transmit) until it yields nothing or the
///   transport would block), **until neither yields anything**, and only then
///   reads the next deadline ([`poll_timeout`](Self::poll_timeout)). Which of
///   the two goes first is the driver's choice; what is required is going
///   round: commands issued while handling events are more input (they queue
///   output), and transmitting can release events ([`Event::Closed`] and
///   [`Event::Upgrade`] come only once every queued byte was taken, so a
///   driver that polled events, then transmitted, polls events again).
///   Events first lets the answers given while handling them leave in the
///   same vectored write; [`cycle::settle`](crate::cycle::settle) is that loop.
/// * Input is taken only as fast as the connection can buffer it:
///   [`handle_input`](Self::handle_input) returns how many bytes it took and
///   may take fewer (even 0) while unread events or unsent output are over
///   their caps. The driver keeps the rest, drains, and offers it again.
/// * A protocol error from the peer queues the protocol's answer (a status
///   and close for HTTP/1, RST_STREAM or GOAWAY for HTTP/2), is reported as
///   [`Event::Error`], and for connection errors is returned by every later
///   input call (errors are sticky). A mistake in a command returns
///   [`Error::User`] and changes nothing.
/// * [`Event::Closed`] comes last, after every queued byte was transmitted:
///   then the driver closes the transport.
///
/// # A driver's loop
///
/// The steps are written once, in [`cycle`](crate::cycle); a driver adds
/// only its way of waiting:
///
/// ```
/// use sockless_core::cycle::{self, Input, Transport};
/// use sockless_core::{Connection, Event, Instant};
///
/// /// What this driver adds: a clock and a way to wait for input.
/// trait Wait {
///     fn now(&self) -> Instant;
///     /// Waits until the transport may have input or `deadline` passes.
///     fn wait(&mut self, deadline: Option<Instant>);
/// }
///
/// fn drive<C, T>(conn: &mut C, io: &mut T, mut on_event: impl FnMut(&mut C, Event)) -> Result<(), T::Error>
/// where
///     C: Connection,
///     T: Transport + Wait,
/// {
///     loop {
///         // Events and transmit until neither moves, then the deadline.
///         let settled = cycle::settle(conn, io, &mut on_event)?;
///         if settled.finished {
///             return Ok(()); // Closed: close the transport
///         }
///         io.wait(settled.deadline);
///         let now = io.now();
///         if let Input::Eof = cycle::read_lent(conn, io, now)? {
///             // the connection was told; it closes once it is done
///         }
///         cycle::fire_timers(conn, now);
///     }
/// }
/// ```
pub trait Connection {
    /// Copy-in input: offers `input`, returns how many bytes were taken
    /// (possibly fewer than offered, see the contract).
    fn handle_input(&mut self, now: Instant, input: &[u8]) -> Result<usize, Error>;

    /// The peer closed its sending side (read returned 0).
    fn handle_eof(&mut self, now: Instant);

    /// Zero-copy input, step 1: lends a buffer for the driver to read into.
    /// An empty slice means "no input wanted now" (see the contract).
    fn input_buffer(&mut self) -> &mut [u8];

    /// Zero-copy input, step 2: the first `n` bytes of the lent buffer hold
    /// new input.
    fn commit_input(&mut self, now: Instant, n: usize) -> Result<(), Error>;

    /// Owned-buffer input for completion IO (io_uring, IOCP): takes an empty
    /// buffer with spare capacity that the kernel fills while the connection
    /// keeps running. Give it back with [`return_input_buffer`](Self::return_input_buffer).
    fn take_input_buffer(&mut self) -> BytesMut;

    /// Owned-buffer input, step 2: the buffer from
    /// [`take_input_buffer`](Self::take_input_buffer), its length covering the
    /// bytes read.
    fn return_input_buffer(&mut self, now: Instant, buf: BytesMut) -> Result<(), Error>;

    /// Fills `out` with the slices to write next, framing bytes and body
    /// [`Bytes`] passed through untouched; returns how many slices it filled.
    fn poll_transmit<'a>(&'a mut self, out: &mut [&'a [u8]]) -> usize;

    /// `n` bytes of what [`poll_transmit`](Self::poll_transmit) (or
    /// [`poll_transmit_owned`](Self::poll_transmit_owned)) offered were written.
    fn advance_transmit(&mut self, n: usize);

    /// Owned output for completion IO (io_uring, IOCP), beside the lent
    /// [`poll_transmit`](Self::poll_transmit): appends up to `max` chunks to
    /// `out` and returns how many. The driver holds them while the kernel
    /// sends them, then reports what was sent with
    /// [`advance_transmit`](Self::advance_transmit) (a partial send advances
    /// by what went; the driver drops the chunks and polls again for the rest).
    ///
    /// The chunks are the same bytes the lent path offers, in order: what was
    /// offered stays the front of the output until advanced (commands issued
    /// meanwhile queue behind it), and polling again before the advance
    /// offers it again. Implementations hand out framing and body [`Bytes`]
    /// as they are, never copied into one buffer; this default, for
    /// connections that keep their output elsewhere, copies the lent slices.
    fn poll_transmit_owned(&mut self, out: &mut alloc::vec::Vec<Bytes>, max: usize) -> usize {
        let mut slices: [&[u8]; crate::cycle::MAX_SLICES] = [&[]; crate::cycle::MAX_SLICES];
        let n = self.poll_transmit(&mut slices[..max.min(crate::cycle::MAX_SLICES)]);
        out.extend(slices[..n].iter().map(|s| Bytes::copy_from_slice(s)));
        n
    }

    /// The next event, if any.
    fn poll_event(&mut self) -> Option<Event>;

    /// The earliest instant at which [`handle_timeout`](Self::handle_timeout)
    /// must be called, if any timer runs.
    fn poll_timeout(&self) -> Option<Instant>;

    /// Fires every timer due at `now`.
    fn handle_timeout(&mut self, now: Instant);

    /// Client: starts a request on a new stream and returns it. With
    /// `end_stream` the request has no body.
    fn send_request(&mut self, head: &RequestHead, end_stream: bool) -> Result<StreamId, Error>;

    /// Server: sends a response head (1xx heads may come before the final one).
    /// With `end_stream` the response has no body.
    fn send_response(&mut self, stream: StreamId, head: &ResponseHead, end_stream: bool) -> Result<(), Error>;

    /// Sends body bytes; returns how many were accepted (flow control and the
    /// send-buffer cap apply). `end_stream` takes effect only if all of
    /// `data` was accepted.
    fn send_data(&mut self, stream: StreamId, data: Bytes, end_stream: bool) -> Result<usize, Error>;

    /// Sends trailers, ending the stream.
    fn send_trailers(&mut self, stream: StreamId, trailers: &HeaderList) -> Result<(), Error>;

    /// The application starts reading this stream's body: a `100 Continue`
    /// the peer waits for goes out now.
    fn read_body(&mut self, stream: StreamId) -> Result<(), Error>;

    /// The application consumed `n` bytes of this stream's body (HTTP/2
    /// returns them to the flow-control window; HTTP/1 buffers are bounded
    /// by the input cap and ignore this).
    fn release_capacity(&mut self, stream: StreamId, n: usize) -> Result<(), Error>;

    /// Whether the body bytes the peer sends are bounded by flow control:
    /// the peer may send only what [`release_capacity`](Self::release_capacity)
    /// gave back (HTTP/2). A driver then keeps reading while the application
    /// is slow to consume one body, so the connection's other streams, its
    /// PINGs and WINDOW_UPDATEs go on; unread bytes stay within the windows.
    /// Without it (HTTP/1.1, the default) the only push-back is to stop
    /// reading until the application catches up.
    fn flow_controlled(&self) -> bool {
        false
    }

    /// Abandons a stream (RST_STREAM on HTTP/2; on HTTP/1.1 the connection
    /// closes, the only way to abandon an exchange).
    fn reset_stream(&mut self, stream: StreamId, code: ErrorCode) -> Result<(), Error>;

    /// Sends a PING (HTTP/2); HTTP/1.1 returns [`UserError::Unsupported`](crate::UserError::Unsupported).
    fn ping(&mut self, now: Instant) -> Result<(), Error>;

    /// Graceful shutdown: no new streams, in-flight ones finish, then close.
    fn shutdown(&mut self, now: Instant);

    /// Whether the connection is finished and its output is flushed.
    fn is_closed(&self) -> bool;

    /// Why the connection failed, in more detail than the [`ProtocolError`](crate::ProtocolError)
    /// of its [`Event::Error`] says, from the layer that knows: sockless-tls
    /// gives its `TlsError` (unknown issuer, name mismatch, the peer's
    /// alert, ...), which a driver can downcast and hand to the application.
    /// `None` by default.
    fn failure_detail(&self) -> Option<&(dyn core::error::Error + Send + Sync + 'static)> {
        None
    }

    /// What the secure channel under HTTP negotiated, once its handshake is
    /// done (ALPN, SNI, the peer's certificates): a driver hands it to the
    /// application with each request. `None` on cleartext (the default).
    fn tls_facts(&self) -> Option<TlsFacts> {
        None
    }
}

/// What a TLS handshake negotiated, as [`Connection::tls_facts`] reports it.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct TlsFacts {
    /// The ALPN protocol both sides agreed on (`h2`, `http/1.1`), if any.
    pub alpn: Option<Bytes>,
    /// Server: the name the client asked for (SNI), if it sent one. Client:
    /// the server name it connected to.
    pub sni: Option<alloc::string::String>,
    /// The peer's certificate chain, leaf first, in DER: the server's on a
    /// client; on a server the client's when it presented one (mTLS), else
    /// empty.
    pub peer_certificates: alloc::vec::Vec<Bytes>,
}

/// A boxed connection is a connection, so a driver can hold
/// `Box<dyn Connection + Send>` and pick the protocol (TLS or not, HTTP/1.1
/// or HTTP/2) at run time.
impl<C: Connection + ?Sized> Connection for alloc::boxed::Box<C> {
    fn handle_input(&mut self, now: Instant, input: &[u8]) -> Result<usize, Error> {
        (**self).handle_input(now, input)
    }
    fn handle_eof(&mut self, now: Instant) {
        (**self).handle_eof(now)
    }
    fn input_buffer(&mut self) -> &mut [u8] {
        (**self).input_buffer()
    }
    fn commit_input(&mut self, now: Instant, n: usize) -> Result<(), Error> {
        (**self).commit_input(now, n)
    }
    fn take_input_buffer(&mut self) -> BytesMut {
        (**self).take_input_buffer()
    }
    fn return_input_buffer(&mut self, now: Instant, buf: BytesMut) -> Result<(), Error> {
        (**self).return_input_buffer(now, buf)
    }
    fn poll_transmit<'a>(&'a mut self, out: &mut [&'a [u8]]) -> usize {
        (**self).poll_transmit(out)
    }
    fn advance_transmit(&mut self, n: usize) {
        (**self).advance_transmit(n)
    }
    fn poll_transmit_owned(&mut self, out: &mut alloc::vec::Vec<Bytes>, max: usize) -> usize {
        (**self).poll_transmit_owned(out, max)
    }
    fn poll_event(&mut self) -> Option<Event> {
        (**self).poll_event()
    }
    fn poll_timeout(&self) -> Option<Instant> {
        (**self).poll_timeout()
    }
    fn handle_timeout(&mut self, now: Instant) {
        (**self).handle_timeout(now)
    }
    fn send_request(&mut self, head: &RequestHead, end_stream: bool) -> Result<StreamId, Error> {
        (**self).send_request(head, end_stream)
    }
    fn send_response(&mut self, stream: StreamId, head: &ResponseHead, end_stream: bool) -> Result<(), Error> {
        (**self).send_response(stream, head, end_stream)
    }
    fn send_data(&mut self, stream: StreamId, data: Bytes, end_stream: bool) -> Result<usize, Error> {
        (**self).send_data(stream, data, end_stream)
    }
    fn send_trailers(&mut self, stream: StreamId, trailers: &HeaderList) -> Result<(), Error> {
        (**self).send_trailers(stream, trailers)
    }
    fn read_body(&mut self, stream: StreamId) -> Result<(), Error> {
        (**self).read_body(stream)
    }
    fn release_capacity(&mut self, stream: StreamId, n: usize) -> Result<(), Error> {
        (**self).release_capacity(stream, n)
    }
    fn flow_controlled(&self) -> bool {
        (**self).flow_controlled()
    }
    fn reset_stream(&mut self, stream: StreamId, code: ErrorCode) -> Result<(), Error> {
        (**self).reset_stream(stream, code)
    }
    fn ping(&mut self, now: Instant) -> Result<(), Error> {
        (**self).ping(now)
    }
    fn shutdown(&mut self, now: Instant) {
        (**self).shutdown(now)
    }
    fn is_closed(&self) -> bool {
        (**self).is_closed()
    }
    fn failure_detail(&self) -> Option<&(dyn core::error::Error + Send + Sync + 'static)> {
        (**self).failure_detail()
    }
    fn tls_facts(&self) -> Option<TlsFacts> {
        (**self).tls_facts()
    }
}
