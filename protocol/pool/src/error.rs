//! Why a request failed, and what the driver reports about an exchange.

use core::fmt;

/// Why the hub failed a request ([`Action::Fail`](crate::Action::Fail)).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Error {
    /// It waited in its origin's queue longer than its pool-wait timeout.
    PoolWaitTimeout,
    /// A connect attempt did not finish within the connect timeout.
    ConnectTimeout,
    /// The TLS handshake did not finish within its timeout.
    TlsHandshakeTimeout,
    /// Connecting failed (refused, unreachable, DNS, TLS alert).
    ConnectFailed,
    /// No response head within the response-head timeout.
    ResponseHeadTimeout,
    /// The response went silent for longer than the read-idle timeout.
    ReadIdleTimeout,
    /// The total deadline (queue time included) passed.
    TotalTimeout,
    /// The response head was larger than the configured cap.
    ResponseHeadTooLarge,
    /// The response body was larger than the configured cap.
    ResponseBodyTooLarge,
    /// The connection closed or the stream was reset, and retrying was not
    /// safe or the retries were used up.
    ConnectionClosed,
    /// The peer refused the stream (REFUSED_STREAM or GOAWAY above it) and
    /// the retries were used up or the body cannot be sent again.
    Refused,
    /// The exchange failed in a way no retry can help (the driver's error).
    Exchange,
}

impl Error {
    /// Whether this is one of the timeouts.
    pub fn is_timeout(self) -> bool {
        matches!(
            self,
            Error::PoolWaitTimeout
                | Error::ConnectTimeout
                | Error::TlsHandshakeTimeout
                | Error::ResponseHeadTimeout
                | Error::ReadIdleTimeout
                | Error::TotalTimeout
        )
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Error::PoolWaitTimeout => "timed out waiting for a connection",
            Error::ConnectTimeout => "connect timed out",
            Error::TlsHandshakeTimeout => "TLS handshake timed out",
            Error::ConnectFailed => "connect failed",
            Error::ResponseHeadTimeout => "timed out waiting for the response head",
            Error::ReadIdleTimeout => "the response went silent (read-idle timeout)",
            Error::TotalTimeout => "the request's total deadline passed",
            Error::ResponseHeadTooLarge => "response head larger than the cap",
            Error::ResponseBodyTooLarge => "response body larger than the cap",
            Error::ConnectionClosed => "connection closed",
            Error::Refused => "the server refused the request",
            Error::Exchange => "the exchange failed",
        })
    }
}

#[cfg(feature = "std")]
impl std::error::Error for Error {}

/// How an exchange ended, as the driver reports it
/// ([`Hub::handle_outcome`](crate::Hub::handle_outcome)). The hub decides
/// from it whether a retry is safe.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Outcome {
    /// The response arrived whole (or the caller is done with it).
    Complete,
    /// The connection closed before any byte of the request was written.
    /// Retried when the connection had carried an exchange before (a
    /// keep-alive race), never on a fresh connection's own failure.
    ClosedBeforeSend,
    /// The peer said it did not process the request: RST_STREAM
    /// REFUSED_STREAM, or a GOAWAY whose last stream is below it. Retried.
    Refused,
    /// The request (or part of it) was written and the connection closed or
    /// the stream was reset before any response byte. Retried only on a
    /// reused connection when the request is idempotent and its body can be
    /// sent again.
    NoResponse,
    /// Anything else (a response started and broke off, a protocol error).
    /// Never retried.
    Failed,
}

/// Why a request is retried ([`Action::Retry`](crate::Action::Retry)).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RetryReason {
    /// [`Outcome::ClosedBeforeSend`] on a reused connection.
    ClosedBeforeSend,
    /// [`Outcome::Refused`], or a GOAWAY above the request's stream.
    Refused,
    /// [`Outcome::NoResponse`] for an idempotent, replayable request.
    NoResponse,
}
