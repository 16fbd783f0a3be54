//! Errors: what the peer did wrong (and what it is told), and what the
//! application asked for that cannot be done.

use crate::stream::StreamId;
use core::fmt;

/// An HTTP/2 error code (RFC 9113 section 7). Plain data: unknown codes
/// received from a peer are kept as they are.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct ErrorCode(pub u32);

impl ErrorCode {
    /// Graceful shutdown or no error.
    pub const NO_ERROR: ErrorCode = ErrorCode(0x0);
    /// Unspecific protocol error.
    pub const PROTOCOL_ERROR: ErrorCode = ErrorCode(0x1);
    /// Implementation fault.
    pub const INTERNAL_ERROR: ErrorCode = ErrorCode(0x2);
    /// Flow-control limits violated.
    pub const FLOW_CONTROL_ERROR: ErrorCode = ErrorCode(0x3);
    /// SETTINGS not acknowledged in time.
    pub const SETTINGS_TIMEOUT: ErrorCode = ErrorCode(0x4);
    /// Frame received for a half-closed stream.
    pub const STREAM_CLOSED: ErrorCode = ErrorCode(0x5);
    /// Frame size incorrect.
    pub const FRAME_SIZE_ERROR: ErrorCode = ErrorCode(0x6);
    /// Stream refused before any processing.
    pub const REFUSED_STREAM: ErrorCode = ErrorCode(0x7);
    /// Stream no longer needed.
    pub const CANCEL: ErrorCode = ErrorCode(0x8);
    /// Field-block decompression failed.
    pub const COMPRESSION_ERROR: ErrorCode = ErrorCode(0x9);
    /// TCP connection for CONNECT reset or closed.
    pub const CONNECT_ERROR: ErrorCode = ErrorCode(0xa);
    /// Peer generates excessive load.
    pub const ENHANCE_YOUR_CALM: ErrorCode = ErrorCode(0xb);
    /// Transport properties inadequate.
    pub const INADEQUATE_SECURITY: ErrorCode = ErrorCode(0xc);
    /// Use HTTP/1.1 for this request.
    pub const HTTP_1_1_REQUIRED: ErrorCode = ErrorCode(0xd);

    fn name(self) -> Option<&'static str> {
        const NAMES: [&str; 14] = [
            "NO_ERROR",
            "PROTOCOL_ERROR",
            "INTERNAL_ERROR",
            "FLOW_CONTROL_ERROR",
            "SETTINGS_TIMEOUT",
            "STREAM_CLOSED",
            "FRAME_SIZE_ERROR",
            "REFUSED_STREAM",
            "CANCEL",
            "COMPRESSION_ERROR",
            "CONNECT_ERROR",
            "ENHANCE_YOUR_CALM",
            "INADEQUATE_SECURITY",
            "HTTP_1_1_REQUIRED",
        ];
        NAMES.get(self.0 as usize).copied()
    }
}

impl fmt::Debug for ErrorCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.name() {
            Some(n) => f.write_str(n),
            None => write!(f, "ErrorCode({:#x})", self.0),
        }
    }
}

impl fmt::Display for ErrorCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(self, f)
    }
}

/// What the peer is told about its error.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Answer {
    /// HTTP/1: this status with `Connection: close`, then the connection closes.
    Status(u16),
    /// The connection closes without a response (the peer sent nothing yet,
    /// or a response is already under way, or we are the client).
    Close,
    /// HTTP/2: RST_STREAM with this code; the connection lives on.
    ResetStream(ErrorCode),
    /// HTTP/2: GOAWAY with this code, then the connection closes.
    GoAway(ErrorCode),
}

/// What was wrong with the peer's bytes or behaviour.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum ProtocolErrorKind {
    /// The request line is not `method SP target SP version`.
    InvalidRequestLine,
    /// The status line is not `version SP status SP reason`.
    InvalidStatusLine,
    /// The method is not a token.
    InvalidMethod,
    /// The target is malformed or of a form the method does not allow.
    InvalidTarget,
    /// The version is not `HTTP/DIGIT.DIGIT`.
    InvalidVersion,
    /// A well-formed version we do not speak (`HTTP/2.0` on an HTTP/1 connection).
    UnsupportedVersion,
    /// A header field name is not a token, or is followed by whitespace.
    InvalidHeaderName,
    /// A header field value holds a control character.
    InvalidHeaderValue,
    /// A header field line is folded (obs-fold, RFC 9112 section 5.2).
    ObsFold,
    /// A line ends in a bare LF or holds a bare CR.
    InvalidLineEnding,
    /// The head exceeds the configured byte limit.
    HeadTooLarge,
    /// The request target exceeds the configured length limit.
    TargetTooLong,
    /// The head holds more fields than the configured limit.
    TooManyHeaders,
    /// An HTTP/1.1 request has no Host field.
    MissingHost,
    /// A request has more than one Host field.
    MultipleHost,
    /// A Host value that is not `uri-host [":" port]` (RFC 9112 section 3.2),
    /// or that differs from an absolute-form target's authority.
    InvalidHost,
    /// Content-Length is malformed or fields disagree.
    InvalidContentLength,
    /// Both Content-Length and Transfer-Encoding are present.
    ContentLengthWithTransferEncoding,
    /// A transfer coding we do not implement.
    UnsupportedTransferCoding,
    /// Transfer-Encoding is malformed, repeats chunked, or does not end in chunked.
    InvalidTransferEncoding,
    /// Transfer-Encoding in an HTTP/1.0 message.
    TransferEncodingInHttp10,
    /// A chunk-size line is malformed or overflows.
    InvalidChunkSize,
    /// A chunk extension is malformed.
    InvalidChunkExtension,
    /// Chunk extensions exceed the configured byte limit.
    ChunkExtensionTooLong,
    /// Chunk data is not followed by CRLF.
    InvalidChunkData,
    /// A trailer field is malformed.
    InvalidTrailer,
    /// The trailer section exceeds the configured byte limit.
    TrailersTooLarge,
    /// The body exceeds the configured size limit.
    BodyTooLarge,
    /// The connection ended inside a head.
    IncompleteHead,
    /// The connection ended inside a body.
    IncompleteBody,
    /// The head did not arrive within the header-read timeout.
    HeaderTimeout,
    /// No body bytes arrived within the body stall timeout.
    BodyTimeout,
    /// The peer sent something it must not send in this state.
    UnexpectedMessage,
    /// Generic HTTP/2 protocol violation.
    Http2Protocol,
    /// HTTP/2 frame of an invalid size.
    FrameSize,
    /// HPACK decoding failed.
    Compression,
    /// HTTP/2 flow-control violation.
    FlowControl,
    /// The peer generates excessive load (floods, rapid reset).
    ExcessiveLoad,
    /// A ping or settings acknowledgement did not arrive in time.
    AckTimeout,
    /// The TLS handshake failed or a TLS record was bad (the TLS layer
    /// keeps the precise reason).
    Tls,
    /// The TLS handshake did not finish within its timeout.
    TlsHandshakeTimeout,
}

impl ProtocolErrorKind {
    fn describe(self) -> &'static str {
        use ProtocolErrorKind::*;
        match self {
            InvalidRequestLine => "invalid request line",
            InvalidStatusLine => "invalid status line",
            InvalidMethod => "invalid method",
            InvalidTarget => "invalid request target",
            InvalidVersion => "invalid HTTP version",
            UnsupportedVersion => "unsupported HTTP version",
            InvalidHeaderName => "invalid header field name",
            InvalidHeaderValue => "invalid header field value",
            ObsFold => "obsolete line folding",
            InvalidLineEnding => "bare CR or LF",
            HeadTooLarge => "head too large",
            TargetTooLong => "request target too long",
            TooManyHeaders => "too many header fields",
            MissingHost => "missing Host",
            MultipleHost => "more than one Host",
            InvalidHost => "invalid Host",
            InvalidContentLength => "invalid Content-Length",
            ContentLengthWithTransferEncoding => "Content-Length with Transfer-Encoding",
            UnsupportedTransferCoding => "unsupported transfer coding",
            InvalidTransferEncoding => "invalid Transfer-Encoding",
            TransferEncodingInHttp10 => "Transfer-Encoding in HTTP/1.0",
            InvalidChunkSize => "invalid chunk size",
            InvalidChunkExtension => "invalid chunk extension",
            ChunkExtensionTooLong => "chunk extensions too long",
            InvalidChunkData => "chunk data not followed by CRLF",
            InvalidTrailer => "invalid trailer field",
            TrailersTooLarge => "trailers too large",
            BodyTooLarge => "body too large",
            IncompleteHead => "connection closed inside a head",
            IncompleteBody => "connection closed inside a body",
            HeaderTimeout => "header read timeout",
            BodyTimeout => "body stalled",
            UnexpectedMessage => "unexpected message",
            Http2Protocol => "HTTP/2 protocol error",
            FrameSize => "frame size error",
            Compression => "header compression error",
            FlowControl => "flow-control error",
            ExcessiveLoad => "excessive load",
            AckTimeout => "acknowledgement timeout",
            Tls => "TLS error",
            TlsHandshakeTimeout => "TLS handshake timeout",
        }
    }
}

/// A protocol error caused by the peer: what was wrong, on which stream, and
/// what the peer is (or was) told.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ProtocolError {
    /// What was wrong.
    pub kind: ProtocolErrorKind,
    /// What the peer is told.
    pub answer: Answer,
    /// The stream it happened on, if one.
    pub stream: Option<StreamId>,
}

impl ProtocolError {
    /// An error with its answer, not tied to a stream.
    pub const fn new(kind: ProtocolErrorKind, answer: Answer) -> Self {
        ProtocolError { kind, answer, stream: None }
    }

    /// The same error, tied to `stream`.
    pub const fn on(mut self, stream: StreamId) -> Self {
        self.stream = Some(stream);
        self
    }
}

impl fmt::Display for ProtocolError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.kind.describe())?;
        if let Some(s) = self.stream {
            write!(f, " on stream {s}")?;
        }
        match self.answer {
            Answer::Status(s) => write!(f, " (answered {s})"),
            Answer::Close => f.write_str(" (connection closed)"),
            Answer::ResetStream(c) => write!(f, " (RST_STREAM {c})"),
            Answer::GoAway(c) => write!(f, " (GOAWAY {c})"),
        }
    }
}

/// A mistake in a call the application made. The connection is unchanged.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum UserError {
    /// The method is not a token.
    InvalidMethod,
    /// The target is empty or holds whitespace or control characters.
    InvalidTarget,
    /// The status is outside 100..=999, or not allowed here.
    InvalidStatus,
    /// The reason phrase holds CR, LF or another control character.
    InvalidReason,
    /// A header name is not a token.
    InvalidHeaderName,
    /// A header value holds CR, LF, NUL or another control character.
    InvalidHeaderValue,
    /// A framing header (Content-Length, Transfer-Encoding) is malformed or contradicts the message.
    InvalidFraming,
    /// No such stream, or it is finished.
    UnknownStream,
    /// The call belongs to the other role (a server sending a request).
    WrongRole,
    /// The head was already sent on this stream.
    HeadAlreadySent,
    /// Body, trailers or end of stream before the head.
    HeadNotSent,
    /// The stream's sending side has ended.
    StreamEnded,
    /// This message has no body (HEAD request, 1xx, 204, 304, or a bodiless request).
    BodyNotAllowed,
    /// More body than the Content-Length announced.
    BodyTooLong,
    /// The stream ended before the Content-Length announced was sent.
    BodyTooShort,
    /// Trailers cannot be sent on this message (not chunked).
    TrailersNotAllowed,
    /// The connection cannot start another exchange now.
    Busy,
    /// The connection is closed, or closing and takes no new streams.
    Closed,
    /// The protocol has no such operation (PING on HTTP/1.1).
    Unsupported,
    /// An input buffer was committed or returned without being lent first, or twice.
    BufferNotLent,
    /// More bytes committed than the lent buffer holds.
    CommitTooLarge,
}

impl fmt::Display for UserError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        use UserError::*;
        f.write_str(match self {
            InvalidMethod => "method is not a token",
            InvalidTarget => "target is empty or holds whitespace or control characters",
            InvalidStatus => "status code not allowed",
            InvalidReason => "reason phrase holds a control character",
            InvalidHeaderName => "header name is not a token",
            InvalidHeaderValue => "header value holds CR, LF, NUL or a control character",
            InvalidFraming => "Content-Length or Transfer-Encoding malformed or contradictory",
            UnknownStream => "no such open stream",
            WrongRole => "operation belongs to the other role",
            HeadAlreadySent => "head already sent",
            HeadNotSent => "head not sent yet",
            StreamEnded => "stream already ended",
            BodyNotAllowed => "this message has no body",
            BodyTooLong => "body longer than Content-Length",
            BodyTooShort => "body shorter than Content-Length",
            TrailersNotAllowed => "trailers need a chunked body",
            Busy => "connection busy with another exchange",
            Closed => "connection closed",
            Unsupported => "not supported by this protocol",
            BufferNotLent => "no input buffer is lent",
            CommitTooLarge => "committed more than the lent buffer holds",
        })
    }
}

/// Any error a connection call returns.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Error {
    /// The peer broke the protocol; the answer is queued. Sticky: the
    /// connection returns it from every later input call.
    Protocol(ProtocolError),
    /// The application made a mistake; nothing changed.
    User(UserError),
}

impl From<ProtocolError> for Error {
    fn from(e: ProtocolError) -> Self {
        Error::Protocol(e)
    }
}

impl From<UserError> for Error {
    fn from(e: UserError) -> Self {
        Error::User(e)
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::Protocol(e) => write!(f, "protocol error: {e}"),
            Error::User(e) => write!(f, "usage error: {e}"),
        }
    }
}

#[cfg(feature = "std")]
impl std::error::Error for Error {}
#[cfg(feature = "std")]
impl std::error::Error for ProtocolError {}
#[cfg(feature = "std")]
impl std::error::Error for UserError {}

impl fmt::Display for ProtocolErrorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.describe())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::string::ToString;

    #[test]
    fn display_says_what_the_peer_was_told() {
        let e = ProtocolError::new(ProtocolErrorKind::MissingHost, Answer::Status(400)).on(StreamId::new(1));
        assert_eq!(e.to_string(), "missing Host on stream 1 (answered 400)");
        assert_eq!(ErrorCode(0xb).to_string(), "ENHANCE_YOUR_CALM");
        assert_eq!(ErrorCode(0x99).to_string(), "ErrorCode(0x99)");
    }
}
