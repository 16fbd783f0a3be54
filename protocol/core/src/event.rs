//! Events: what a connection tells the application, the same for HTTP/1.1
//! and HTTP/2.

use crate::error::{ErrorCode, ProtocolError};
use crate::head::{RequestHead, ResponseHead};
use crate::header::HeaderList;
use crate::stream::StreamId;
use bytes::Bytes;

/// One thing that happened on a connection. Plain data.
///
/// Every message arrives as a head event, zero or more [`Event::Data`], at
/// most one [`Event::Trailers`], then [`Event::EndStream`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Event {
    /// Server role: a request head arrived on a new stream.
    Request {
        /// The new stream.
        stream: StreamId,
        /// The request head.
        head: RequestHead,
        /// The peer waits for `100 Continue` before sending the body; it goes
        /// out when the application calls `read_body`, and never if a final
        /// response is sent first.
        expects_continue: bool,
    },
    /// Client role: the final response head arrived.
    Response {
        /// The request's stream.
        stream: StreamId,
        /// The response head.
        head: ResponseHead,
    },
    /// An informational (1xx) response other than 101, before the final one.
    Informational {
        /// The request's stream.
        stream: StreamId,
        /// The 1xx head.
        head: ResponseHead,
    },
    /// Body bytes: a slice of the receive buffer, never copied.
    Data {
        /// The stream.
        stream: StreamId,
        /// The bytes.
        data: Bytes,
    },
    /// The trailer section of a message.
    Trailers {
        /// The stream.
        stream: StreamId,
        /// The trailer fields.
        trailers: HeaderList,
    },
    /// The peer's message on this stream is complete.
    EndStream {
        /// The stream.
        stream: StreamId,
    },
    /// The stream was reset (HTTP/2 RST_STREAM received or sent for a peer's error).
    Reset {
        /// The stream.
        stream: StreamId,
        /// The error code.
        code: ErrorCode,
        /// Whether the peer sent it (`true`) or we did (`false`).
        remote: bool,
    },
    /// HTTP/2 GOAWAY received: streams above `last_stream` were not processed.
    GoAway {
        /// The last stream the peer processed or may process.
        last_stream: StreamId,
        /// The error code.
        code: ErrorCode,
        /// Opaque debug data the peer sent.
        debug: Bytes,
    },
    /// The protocol switched (101 Switching Protocols, or a 2xx to CONNECT).
    /// The connection is finished; the driver hands the transport, with
    /// `leftover` bytes already received, to whoever speaks the new protocol.
    /// Emitted only once every queued byte has been transmitted.
    Upgrade {
        /// The stream whose request asked for the switch.
        stream: StreamId,
        /// Bytes received after that request, belonging to the new protocol.
        leftover: Bytes,
    },
    /// Client role: an exchange finished; `reusable` says whether the
    /// connection can carry the next request (`true`) or will close.
    Ready {
        /// Whether another request may be sent.
        reusable: bool,
    },
    /// The peer broke the protocol. The answer in the error is queued; a
    /// [`Event::Closed`] follows once it is written when it closes the connection.
    Error(ProtocolError),
    /// The connection is finished and every queued byte was transmitted: the
    /// driver closes the transport. Nothing follows.
    Closed(CloseReason),
}

/// Why a connection closed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CloseReason {
    /// Orderly end: `Connection: close`, a close-delimited body, graceful shutdown.
    Done,
    /// The peer closed its side while the connection was idle.
    PeerClosed,
    /// The keep-alive idle timeout expired.
    IdleTimeout,
    /// A protocol error (also reported as [`Event::Error`] before).
    Error(ProtocolError),
    /// The application aborted the connection.
    Aborted,
}
