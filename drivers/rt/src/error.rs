//! The errors a client (and a body reader) sees: a kind the caller can
//! match, a message that says what happened, and the cause underneath.

use sockless_core::{Answer, CloseReason, ErrorCode, ProtocolError, ProtocolErrorKind, UserError};
use std::borrow::Cow;
use std::fmt;
use std::io;
use std::sync::Arc;

/// What went wrong, for a caller to match on (see [`Error::kind`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum ErrorKind {
    /// The connection could not be made (refused, unreachable, DNS).
    Connect,
    /// TLS failed: its precise kind (unknown issuer, name mismatch, the
    /// peer's alert, handshake timeout, ...).
    #[cfg(feature = "tls")]
    Tls(sockless_tls::TlsErrorKind),
    /// The peer broke the protocol: what it did, and the HTTP/2 error code
    /// it was told (or told us with GOAWAY), if any.
    Protocol {
        /// What was wrong.
        kind: ProtocolErrorKind,
        /// The HTTP/2 error code of the RST_STREAM or GOAWAY, if one.
        code: Option<ErrorCode>,
    },
    /// The stream was reset (HTTP/2 RST_STREAM), by the peer or by us.
    StreamReset(ErrorCode),
    /// The peer closed the connection with GOAWAY and this error code
    /// before the request was answered.
    GoAway(ErrorCode),
    /// A deadline passed: a response head, a body, a PING or SETTINGS
    /// acknowledgement, a handshake that did not come in time.
    Timeout,
    /// A body was longer than the limit it was read with.
    BodyTooLarge,
    /// A body's sender broke it off (dropped without finishing, or aborted).
    BodyAborted,
    /// The connection closed (or was closed) before the exchange finished.
    Closed,
    /// The request could not be sent as it is (a field that may not be
    /// written, no authority to send it to, ...); nothing was sent.
    InvalidRequest(UserError),
}

/// An error of sockless-rt: a [`kind`](Self::kind) to match on, a message
/// that says what happened (its `Display`), and the cause underneath
/// ([`source`](std::error::Error::source): the `TlsError`, the
/// `io::Error`) where there is one. Cheap to clone.
///
/// [`ClientHandle::send`](crate::ClientHandle::send) and body reads return
/// `std::io::Result`, as they always did; the `io::Error` wraps this error,
/// which [`Error::of`] finds again:
///
/// ```
/// use sockless_rt::{Error, ErrorKind};
///
/// fn describe(e: &std::io::Error) -> String {
///     match Error::of(e).map(Error::kind) {
///         Some(ErrorKind::Timeout) => "timed out".into(),
///         Some(ErrorKind::StreamReset(code)) => format!("reset: {code}"),
///         _ => e.to_string(),
///     }
/// }
/// let e: std::io::Error = Error::new(ErrorKind::Timeout, "no response head within 30 s").into();
/// assert_eq!(describe(&e), "timed out");
/// assert_eq!(e.kind(), std::io::ErrorKind::TimedOut);
/// ```
#[derive(Clone)]
pub struct Error {
    inner: Arc<Inner>,
}

struct Inner {
    kind: ErrorKind,
    message: Cow<'static, str>,
    source: Option<Box<dyn std::error::Error + Send + Sync>>,
    /// The request never left the connection task's queue.
    unsent: bool,
}

impl Error {
    /// An error of `kind` saying `message`.
    pub fn new(kind: ErrorKind, message: impl Into<Cow<'static, str>>) -> Error {
        Error { inner: Arc::new(Inner { kind, message: message.into(), source: None, unsent: false }) }
    }

    /// An error of `kind` saying `message`, caused by `source`.
    pub fn with_source(
        kind: ErrorKind,
        message: impl Into<Cow<'static, str>>,
        source: impl Into<Box<dyn std::error::Error + Send + Sync>>,
    ) -> Error {
        Error { inner: Arc::new(Inner { kind, message: message.into(), source: Some(source.into()), unsent: false }) }
    }

    /// Connecting to `target` failed with `e` (for runtime adapters' `connect`).
    pub fn connect(target: impl fmt::Display, e: io::Error) -> Error {
        Error::with_source(ErrorKind::Connect, format!("connect to {target}: {e}"), e)
    }

    /// What went wrong.
    pub fn kind(&self) -> ErrorKind {
        self.inner.kind
    }

    /// Whether any of the request may have been written: `false` when the
    /// connection failed while the request still waited in its queue, so
    /// sending it again elsewhere cannot repeat it (the client hub retries
    /// such a request whatever its method).
    pub fn was_sent(&self) -> bool {
        !self.inner.unsent
    }

    /// This error, for a request that never left the queue.
    pub(crate) fn unsent(&self) -> Error {
        let inner = Inner {
            kind: self.inner.kind,
            message: self.inner.message.clone(),
            source: Some(Box::new(self.clone())),
            unsent: true,
        };
        Error { inner: Arc::new(inner) }
    }

    /// The sockless-rt error inside an `io::Error` that sockless-rt
    /// returned, if it is one.
    pub fn of(e: &io::Error) -> Option<&Error> {
        e.get_ref().and_then(|inner| inner.downcast_ref::<Error>())
    }

    /// Whether a deadline passed (a TLS handshake timeout included).
    pub fn is_timeout(&self) -> bool {
        #[cfg(feature = "tls")]
        if self.kind() == ErrorKind::Tls(sockless_tls::TlsErrorKind::HandshakeTimeout) {
            return true;
        }
        self.kind() == ErrorKind::Timeout
    }

    /// The `io::ErrorKind` the wrapping `io::Error` gets.
    fn io_kind(&self) -> io::ErrorKind {
        match self.kind() {
            ErrorKind::Connect => match self.inner.source.as_deref().and_then(|s| s.downcast_ref::<io::Error>()) {
                Some(e) => e.kind(),
                None => io::ErrorKind::ConnectionRefused,
            },
            #[cfg(feature = "tls")]
            ErrorKind::Tls(sockless_tls::TlsErrorKind::HandshakeTimeout) => io::ErrorKind::TimedOut,
            #[cfg(feature = "tls")]
            ErrorKind::Tls(_) => io::ErrorKind::InvalidData,
            ErrorKind::Protocol { .. } | ErrorKind::BodyTooLarge => io::ErrorKind::InvalidData,
            ErrorKind::StreamReset(_) => io::ErrorKind::ConnectionReset,
            ErrorKind::GoAway(_) | ErrorKind::Closed | ErrorKind::BodyAborted => io::ErrorKind::ConnectionAborted,
            ErrorKind::Timeout => io::ErrorKind::TimedOut,
            ErrorKind::InvalidRequest(_) => io::ErrorKind::InvalidInput,
        }
    }

    /// The connection closed before the exchange finished.
    pub(crate) fn closed() -> Error {
        Error::new(ErrorKind::Closed, "connection closed before the exchange finished")
    }

    /// The stream was reset with `code`.
    pub(crate) fn reset(code: ErrorCode, remote: bool) -> Error {
        let by = if remote { "the peer" } else { "us" };
        Error::new(ErrorKind::StreamReset(code), format!("stream reset by {by} with {code}"))
    }

    /// The transport broke (a read or write failed).
    pub(crate) fn transport(e: io::Error) -> Error {
        Error::with_source(ErrorKind::Closed, format!("connection broke: {e}"), e)
    }

    /// A request the connection refused to send.
    pub(crate) fn refused(e: sockless_core::Error) -> Error {
        match e {
            sockless_core::Error::User(UserError::Closed) => Error::closed(),
            sockless_core::Error::User(u) => Error::new(ErrorKind::InvalidRequest(u), format!("request not sent: {u}")),
            sockless_core::Error::Protocol(p) => Error::protocol(p, None),
        }
    }

    /// A protocol error, with the more precise cause the connection's
    /// layers give (`detail`: TLS's own error).
    pub(crate) fn protocol(
        e: ProtocolError,
        detail: Option<&(dyn std::error::Error + Send + Sync + 'static)>,
    ) -> Error {
        #[cfg(feature = "tls")]
        if let Some(tls) = detail.and_then(|d| d.downcast_ref::<sockless_tls::TlsError>()) {
            return Error::with_source(ErrorKind::Tls(tls.kind()), format!("TLS: {tls}"), tls.clone());
        }
        let _ = detail;
        let code = match e.answer {
            Answer::ResetStream(c) | Answer::GoAway(c) => Some(c),
            Answer::Status(_) | Answer::Close => None,
        };
        let kind = match e.kind {
            ProtocolErrorKind::HeaderTimeout
            | ProtocolErrorKind::BodyTimeout
            | ProtocolErrorKind::AckTimeout
            | ProtocolErrorKind::TlsHandshakeTimeout => ErrorKind::Timeout,
            ProtocolErrorKind::BodyTooLarge => ErrorKind::BodyTooLarge,
            // The peer went away mid-message (hyper's "incomplete message").
            ProtocolErrorKind::IncompleteHead | ProtocolErrorKind::IncompleteBody => {
                return Error::with_source(ErrorKind::Closed, format!("{}", e.kind), e);
            }
            kind => ErrorKind::Protocol { kind, code },
        };
        Error::with_source(kind, format!("protocol error: {e}"), e)
    }

    /// Why a connection closed, for the exchanges it leaves unfinished.
    pub(crate) fn close(reason: &CloseReason) -> Error {
        match reason {
            CloseReason::Error(e) => Error::protocol(*e, None),
            CloseReason::IdleTimeout => Error::new(ErrorKind::Closed, "connection closed after its idle timeout"),
            CloseReason::PeerClosed => Error::new(ErrorKind::Closed, "the peer closed the connection"),
            CloseReason::Done | CloseReason::Aborted => Error::closed(),
        }
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.inner.message)
    }
}

impl fmt::Debug for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Error").field("kind", &self.inner.kind).field("message", &self.inner.message).finish()
    }
}

impl std::error::Error for Error {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        self.inner.source.as_deref().map(|s| s as &(dyn std::error::Error + 'static))
    }
}

impl From<Error> for io::Error {
    fn from(e: Error) -> io::Error {
        io::Error::new(e.io_kind(), e)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn protocol_errors_map_to_kinds_with_their_code() {
        let e = ProtocolError::new(ProtocolErrorKind::Compression, Answer::GoAway(ErrorCode::COMPRESSION_ERROR));
        let err = Error::protocol(e, None);
        assert_eq!(
            err.kind(),
            ErrorKind::Protocol { kind: ProtocolErrorKind::Compression, code: Some(ErrorCode::COMPRESSION_ERROR) }
        );
        assert!(err.to_string().contains("header compression error"), "{err}");
        let timeout = ProtocolError::new(ProtocolErrorKind::AckTimeout, Answer::GoAway(ErrorCode::SETTINGS_TIMEOUT));
        assert!(Error::protocol(timeout, None).is_timeout());
        let big = ProtocolError::new(ProtocolErrorKind::BodyTooLarge, Answer::Close);
        assert_eq!(Error::protocol(big, None).kind(), ErrorKind::BodyTooLarge);
    }

    #[test]
    fn io_errors_wrap_it_and_give_it_back() {
        let io: io::Error = Error::reset(ErrorCode::REFUSED_STREAM, true).into();
        assert_eq!(io.kind(), io::ErrorKind::ConnectionReset);
        assert_eq!(Error::of(&io).map(Error::kind), Some(ErrorKind::StreamReset(ErrorCode::REFUSED_STREAM)));
        assert_eq!(io.to_string(), "stream reset by the peer with REFUSED_STREAM");
        let refused: io::Error = Error::transport(io::ErrorKind::ConnectionRefused.into()).into();
        assert_eq!(Error::of(&refused).map(Error::kind), Some(ErrorKind::Closed));
        assert!(Error::of(&io::Error::other("x")).is_none());
    }
}
