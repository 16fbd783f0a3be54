//! The HTTP/2 frame layer (RFC 9113 sections 4 to 6), sans-IO.
//!
//! - [`Frame`] and one plain-data struct per frame type: what a frame says, nothing about what it
//!   means to a stream or the connection.
//! - [`FrameDecoder`] takes the received bytes (`&mut BytesMut`) and yields the next complete
//!   frame, validated against sections 4 to 6 (sizes, stream identifiers, padding, settings
//!   values, CONTINUATION sequencing and flood limits). Payloads that can be large (DATA, field
//!   block fragments, GOAWAY debug data, extension frames) are [`Bytes`] split off the buffer,
//!   never copied; padding is validated and removed.
//! - Encoding: [`Frame::encode`] writes any frame; [`Data::encode_head`] writes only the framing of
//!   a DATA frame so the body can go out as its own slice of a vectored write;
//!   [`Headers::encode_split`] and [`PushPromise::encode_split`] cut a field block into a first
//!   frame and CONTINUATION frames at the peer's maximum frame size.
//! - [`Settings`] with value validation, [`PREFACE`] and [`check_preface`] for prior-knowledge
//!   detection, [`Head`] with the [`kind`] and [`flag`] constants.
//!
//! Errors are [`FrameError`]s carrying the RFC error code and whether it is a stream error (answer
//! with RST_STREAM, keep going) or a connection error (answer with GOAWAY, stop reading).
//!
//! What a frame means for stream states, flow-control windows, roles (a server receiving
//! PUSH_PROMISE), stream identifier ordering, HPACK, and rate limits on PING, SETTINGS, RST_STREAM
//! or empty frames belongs to the connection layer built on top.
//!
//! ```
//! use bytes::BytesMut;
//! use sockless_core::StreamId;
//! use sockless_h2::frame::{Data, Frame, FrameDecoder, Headers, Ping, Settings, DEFAULT_MAX_FRAME_SIZE};
//!
//! // Write: a SETTINGS frame, a field block too large for one frame, and a padded DATA frame.
//! let mut wire = BytesMut::new();
//! let settings = Settings { max_concurrent_streams: Some(100), ..Settings::default() };
//! Frame::Settings(settings).encode(&mut wire);
//! let block = vec![0x82; 20_000]; // an (absurd) HPACK field block
//! let headers = Headers::new(StreamId::new(1), block.clone().into());
//! headers.encode_split(DEFAULT_MAX_FRAME_SIZE, &mut wire); // HEADERS + CONTINUATION
//! let data = Data { stream: StreamId::new(1), data: "hello".into(), end_stream: true, pad: Some(3) };
//! data.encode_head(&mut wire); // framing only: header and Pad Length
//! wire.extend_from_slice(&data.data); // a vectored write would send the Bytes as they are
//! wire.extend_from_slice(data.padding());
//!
//! // Read them back.
//! let mut decoder = FrameDecoder::new();
//! assert_eq!(decoder.decode(&mut wire)?, Some(Frame::Settings(settings)));
//! let Some(Frame::Headers(first)) = decoder.decode(&mut wire)? else { panic!() };
//! assert!(!first.end_headers && decoder.expect_continuation() == Some(StreamId::new(1)));
//! let Some(Frame::Continuation(rest)) = decoder.decode(&mut wire)? else { panic!() };
//! assert!(rest.end_headers);
//! assert_eq!([first.fragment, rest.fragment].concat(), block);
//! let Some(Frame::Data(got)) = decoder.decode(&mut wire)? else { panic!() };
//! assert_eq!((&got.data[..], got.end_stream, got.flow_controlled_len()), (&b"hello"[..], true, 9));
//! assert_eq!(decoder.decode(&mut wire)?, None); // nothing left: read more bytes
//!
//! // A PING frame on stream 3 is a connection error: answer with GOAWAY(PROTOCOL_ERROR).
//! let mut bad = BytesMut::from(&[0, 0, 8, 6, 0, 0, 0, 0, 3, 1, 2, 3, 4, 5, 6, 7, 8][..]);
//! let err = FrameDecoder::new().decode(&mut bad).unwrap_err();
//! assert!(err.is_connection_error());
//! # let _ = Ping { ack: false, payload: [0; 8] };
//! # Ok::<(), sockless_h2::frame::FrameError>(())
//! ```

mod decode;
mod encode;
mod head;
mod preface;
mod settings;

use bytes::Bytes;
use core::fmt;
use sockless_core::{Answer, ErrorCode, ProtocolError, ProtocolErrorKind, StreamId};

pub use decode::{FrameDecoder, DEFAULT_MAX_CONTINUATIONS, DEFAULT_MAX_HEADER_BLOCK};
pub use encode::PADDING;
pub use head::{flag, kind, Head, HEADER_LEN, MAX_PAYLOAD_LEN, STREAM_ID_MASK};
pub use preface::{check_preface, PrefaceCheck, PREFACE};
pub use settings::{
    Settings, DEFAULT_HEADER_TABLE_SIZE, DEFAULT_INITIAL_WINDOW_SIZE, DEFAULT_MAX_FRAME_SIZE, MAX_WINDOW_SIZE,
};

/// One HTTP/2 frame.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Frame {
    /// DATA: body bytes of a stream.
    Data(Data),
    /// HEADERS: opens a stream or carries trailers; starts a field block.
    Headers(Headers),
    /// PRIORITY: deprecated stream prioritisation. Validated, carries no meaning (RFC 9113
    /// section 5.3.2); the connection may ignore it.
    Priority(Priority),
    /// RST_STREAM: ends a stream abruptly.
    RstStream(RstStream),
    /// SETTINGS without ACK: the peer's new settings, to be acknowledged.
    Settings(Settings),
    /// SETTINGS with ACK: the peer applied our last SETTINGS.
    SettingsAck,
    /// PUSH_PROMISE: a stream the server will push; starts a field block.
    PushPromise(PushPromise),
    /// PING or its acknowledgement.
    Ping(Ping),
    /// GOAWAY: the sender stops taking new streams.
    GoAway(GoAway),
    /// WINDOW_UPDATE: more flow-control credit for a stream or the connection.
    WindowUpdate(WindowUpdate),
    /// CONTINUATION: more of a field block.
    Continuation(Continuation),
    /// A frame of a type this crate does not know (an extension, RFC 9113 section 5.5).
    ///
    /// The decoder yields these rather than skipping them silently so the connection can see
    /// them: to implement an extension, or to count them against a flood limit (they cost a
    /// peer nothing to send). Ignoring them is always correct. Its payload is a zero-copy slice.
    Unknown(Unknown),
}

impl Frame {
    /// The stream the frame belongs to ([`StreamId::CONNECTION`] for connection frames).
    pub fn stream(&self) -> StreamId {
        match self {
            Frame::Data(f) => f.stream,
            Frame::Headers(f) => f.stream,
            Frame::Priority(f) => f.stream,
            Frame::RstStream(f) => f.stream,
            Frame::PushPromise(f) => f.stream,
            Frame::WindowUpdate(f) => f.stream,
            Frame::Continuation(f) => f.stream,
            Frame::Unknown(f) => f.stream,
            Frame::Settings(_) | Frame::SettingsAck | Frame::Ping(_) | Frame::GoAway(_) => StreamId::CONNECTION,
        }
    }

    /// The frame type code (one of [`kind`], or the extension type).
    pub fn kind(&self) -> u8 {
        match self {
            Frame::Data(_) => kind::DATA,
            Frame::Headers(_) => kind::HEADERS,
            Frame::Priority(_) => kind::PRIORITY,
            Frame::RstStream(_) => kind::RST_STREAM,
            Frame::Settings(_) | Frame::SettingsAck => kind::SETTINGS,
            Frame::PushPromise(_) => kind::PUSH_PROMISE,
            Frame::Ping(_) => kind::PING,
            Frame::GoAway(_) => kind::GOAWAY,
            Frame::WindowUpdate(_) => kind::WINDOW_UPDATE,
            Frame::Continuation(_) => kind::CONTINUATION,
            Frame::Unknown(f) => f.kind,
        }
    }
}

/// A DATA frame (RFC 9113 section 6.1).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Data {
    /// The stream (never 0).
    pub stream: StreamId,
    /// The body bytes, padding removed; a slice of the receive buffer when decoded.
    pub data: Bytes,
    /// END_STREAM: the sender's last frame on the stream.
    pub end_stream: bool,
    /// PADDED: `Some(n)` when the frame carried a Pad Length octet and `n` octets of padding.
    pub pad: Option<u8>,
}

impl Data {
    /// The octets this frame counts against flow-control windows: the whole payload, Pad Length
    /// octet and padding included (RFC 9113 section 6.9.1).
    pub fn flow_controlled_len(&self) -> usize {
        self.data.len() + self.pad.map_or(0, |n| 1 + n as usize)
    }
}

/// Priority information (deprecated, RFC 9113 section 5.3.2): a PRIORITY frame's payload, or the
/// optional part of a HEADERS frame.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct StreamDependency {
    /// The stream depended on (reserved bit removed).
    pub dependency: StreamId,
    /// The weight as sent: 0..=255 stands for 1..=256.
    pub weight: u8,
    /// The E flag: an exclusive dependency.
    pub exclusive: bool,
}

/// A HEADERS frame (RFC 9113 section 6.2).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Headers {
    /// The stream (never 0).
    pub stream: StreamId,
    /// The field block fragment, padding and priority removed; a slice of the receive buffer.
    pub fragment: Bytes,
    /// END_STREAM: no DATA follows this field block on the stream (trailers, or a bodiless
    /// message).
    pub end_stream: bool,
    /// END_HEADERS: the field block is complete; otherwise CONTINUATION frames follow.
    pub end_headers: bool,
    /// PADDED: `Some(n)` for `n` octets of padding.
    pub pad: Option<u8>,
    /// PRIORITY: the deprecated priority fields, parsed and stripped from the fragment. Carries
    /// no meaning (RFC 9113 section 5.3.2).
    pub priority: Option<StreamDependency>,
}

impl Headers {
    /// A HEADERS frame holding a whole field block: END_HEADERS set, no END_STREAM, padding or
    /// priority.
    pub fn new(stream: StreamId, fragment: Bytes) -> Headers {
        Headers { stream, fragment, end_stream: false, end_headers: true, pad: None, priority: None }
    }
}

/// A PRIORITY frame (RFC 9113 section 6.3).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Priority {
    /// The stream whose priority is described (never 0, never its own dependency).
    pub stream: StreamId,
    /// The deprecated priority fields.
    pub dependency: StreamDependency,
}

/// A RST_STREAM frame (RFC 9113 section 6.4).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RstStream {
    /// The stream to end (never 0).
    pub stream: StreamId,
    /// Why.
    pub code: ErrorCode,
}

/// A PUSH_PROMISE frame (RFC 9113 section 6.6).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PushPromise {
    /// The stream the promise is made on (never 0).
    pub stream: StreamId,
    /// The stream the server reserves for the push (reserved bit removed; never 0).
    pub promised: StreamId,
    /// The field block fragment of the promised request, padding removed.
    pub fragment: Bytes,
    /// END_HEADERS: the field block is complete; otherwise CONTINUATION frames follow.
    pub end_headers: bool,
    /// PADDED: `Some(n)` for `n` octets of padding.
    pub pad: Option<u8>,
}

/// A PING frame (RFC 9113 section 6.7).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Ping {
    /// ACK: this answers a PING; otherwise it must be answered with the same payload.
    pub ack: bool,
    /// Opaque data, echoed in the answer.
    pub payload: [u8; 8],
}

/// A GOAWAY frame (RFC 9113 section 6.8).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct GoAway {
    /// The highest stream the sender may have processed (reserved bit removed).
    pub last_stream: StreamId,
    /// Why the connection is closing.
    pub code: ErrorCode,
    /// Opaque diagnostic data; a slice of the receive buffer.
    pub debug_data: Bytes,
}

/// A WINDOW_UPDATE frame (RFC 9113 section 6.9).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct WindowUpdate {
    /// The stream, or [`StreamId::CONNECTION`] for the connection window.
    pub stream: StreamId,
    /// The credit added, 1..=2^31-1 (reserved bit removed).
    pub increment: u32,
}

/// A CONTINUATION frame (RFC 9113 section 6.10).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Continuation {
    /// The stream of the field block being continued.
    pub stream: StreamId,
    /// The next field block fragment; a slice of the receive buffer.
    pub fragment: Bytes,
    /// END_HEADERS: the field block is complete.
    pub end_headers: bool,
}

/// A frame of an extension type (RFC 9113 section 5.5), passed through uninterpreted.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Unknown {
    /// The frame type code (not one of [`kind`]).
    pub kind: u8,
    /// The flags, uninterpreted.
    pub flags: u8,
    /// The stream identifier (may be 0).
    pub stream: StreamId,
    /// The payload; a slice of the receive buffer.
    pub payload: Bytes,
}

/// A frame the peer should not have sent, with the RFC 9113 error code that answers it.
///
/// `stream: Some(id)` is a stream error (section 5.4.2): answer with RST_STREAM on `id`; the
/// frame was consumed and the decoder goes on. `stream: None` is a connection error (section
/// 5.4.1): answer with GOAWAY and close; the decoder keeps returning the same error.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FrameError {
    /// The error code to send.
    pub code: ErrorCode,
    /// The stream for a stream error, `None` for a connection error.
    pub stream: Option<StreamId>,
    /// What was wrong, for logs and GOAWAY debug data.
    pub reason: &'static str,
}

impl FrameError {
    /// A connection error.
    pub const fn connection(code: ErrorCode, reason: &'static str) -> FrameError {
        FrameError { code, stream: None, reason }
    }

    /// A stream error on `stream`.
    pub const fn stream(code: ErrorCode, stream: StreamId, reason: &'static str) -> FrameError {
        FrameError { code, stream: Some(stream), reason }
    }

    /// Whether this is a connection error (GOAWAY) rather than a stream error (RST_STREAM).
    pub fn is_connection_error(&self) -> bool {
        self.stream.is_none()
    }
}

impl fmt::Display for FrameError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.stream {
            Some(s) => write!(f, "{} on stream {s} ({})", self.reason, self.code),
            None => write!(f, "{} (connection error {})", self.reason, self.code),
        }
    }
}

#[cfg(feature = "std")]
impl std::error::Error for FrameError {}

impl From<FrameError> for ProtocolError {
    /// The shared error vocabulary: the kind from the code, RST_STREAM or GOAWAY as the answer.
    fn from(e: FrameError) -> ProtocolError {
        let kind = match e.code {
            ErrorCode::FRAME_SIZE_ERROR => ProtocolErrorKind::FrameSize,
            ErrorCode::FLOW_CONTROL_ERROR => ProtocolErrorKind::FlowControl,
            ErrorCode::COMPRESSION_ERROR => ProtocolErrorKind::Compression,
            ErrorCode::ENHANCE_YOUR_CALM => ProtocolErrorKind::ExcessiveLoad,
            _ => ProtocolErrorKind::Http2Protocol,
        };
        match e.stream {
            Some(s) => ProtocolError::new(kind, Answer::ResetStream(e.code)).on(s),
            None => ProtocolError::new(kind, Answer::GoAway(e.code)),
        }
    }
}
