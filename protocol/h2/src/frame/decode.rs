//! [`FrameDecoder`]: received bytes in, validated frames out.

use bytes::{Buf, Bytes, BytesMut};
use sockless_core::{ErrorCode, StreamId};

use super::head::{flag, kind, Head, HEADER_LEN, MAX_PAYLOAD_LEN, STREAM_ID_MASK};
use super::settings::{Settings, DEFAULT_MAX_FRAME_SIZE};
use super::{
    Continuation, Data, Frame, FrameError, GoAway, Headers, Ping, Priority, PushPromise, RstStream, StreamDependency,
    Unknown, WindowUpdate,
};

/// Default for [`FrameDecoder::set_max_header_block`]: 64 KiB of encoded field block.
pub const DEFAULT_MAX_HEADER_BLOCK: usize = 64 * 1024;

/// Default for [`FrameDecoder::set_max_continuations`]: 16 CONTINUATION frames per field block.
pub const DEFAULT_MAX_CONTINUATIONS: usize = 16;

const fn conn(code: ErrorCode, reason: &'static str) -> FrameError {
    FrameError::connection(code, reason)
}

fn be32(b: &[u8]) -> u32 {
    u32::from_be_bytes([b[0], b[1], b[2], b[3]])
}

fn dependency(b: &[u8]) -> StreamDependency {
    let word = be32(b);
    StreamDependency { dependency: StreamId::new(word & STREAM_ID_MASK), weight: b[4], exclusive: word >> 31 == 1 }
}

/// Turns received bytes into [`Frame`]s, validating each against RFC 9113 sections 4 to 6.
///
/// It holds no buffer of its own: [`FrameDecoder::decode`] looks at the caller's `BytesMut` and,
/// once a whole frame is there, takes exactly that frame off the front. DATA payloads, field block
/// fragments, GOAWAY debug data and extension payloads are [`Bytes`] split off that buffer (no copy;
/// no allocation beyond the one `bytes` makes the first time a `Vec`-backed buffer is shared);
/// other frames are read in place. It needs at most one frame header plus
/// [`FrameDecoder::max_frame_size`] octets buffered to make progress: a header announcing a longer
/// payload is refused at once, without waiting for the payload.
///
/// # What is checked
///
/// - Size: payload over our `SETTINGS_MAX_FRAME_SIZE`, or wrong for the type (PING 8,
///   WINDOW_UPDATE 4, RST_STREAM 4, PRIORITY 5, SETTINGS a multiple of 6 and empty with ACK,
///   GOAWAY at least 8, room for Pad Length, priority fields and promised stream): FRAME_SIZE_ERROR.
///   Only PRIORITY's is a stream error; every other is a connection error (RFC 9113 section 4.2).
/// - Stream identifier: DATA, HEADERS, PRIORITY, RST_STREAM, PUSH_PROMISE and CONTINUATION on
///   stream 0, SETTINGS, PING and GOAWAY on any other: PROTOCOL_ERROR, connection error. The
///   reserved bit is ignored.
/// - Padding: a pad length that does not fit in the payload: PROTOCOL_ERROR, connection error.
///   Padding octets are not checked to be zero (RFC 9113 allows either).
/// - Values: WINDOW_UPDATE increment 0 (PROTOCOL_ERROR; a stream error on a stream, a connection
///   error on stream 0), SETTINGS values (see [`Settings::decode`]), PUSH_PROMISE promising stream
///   0 (PROTOCOL_ERROR), a PRIORITY frame making a stream depend on itself (PROTOCOL_ERROR, stream
///   error). The same in a HEADERS frame is made a connection error (allowed by section 5.4.1): the
///   field block is dropped with the frame, so HPACK state could no longer be kept in step.
/// - Field block sequencing: after HEADERS or PUSH_PROMISE without END_HEADERS, anything but
///   CONTINUATION on the same stream is PROTOCOL_ERROR, and so is CONTINUATION at any other time
///   (connection errors). See [`FrameDecoder::expect_continuation`].
/// - CONTINUATION flood (CVE-2024-27316 and its kin): a field block whose fragments add up to more
///   than [`FrameDecoder::max_header_block`] octets, or that takes more than
///   [`FrameDecoder::max_continuations`] CONTINUATION frames, is ENHANCE_YOUR_CALM, a connection
///   error raised as soon as the offending frame header arrives. Fragments are yielded as they
///   come, never accumulated here, so memory stays bounded either way.
///
/// Unknown frame types are yielded as [`Frame::Unknown`], never silently skipped; unknown flags
/// are ignored. PRIORITY frames are validated and yielded; they carry no meaning (section 5.3.2).
///
/// A stream error is returned after its frame was consumed: answer it with RST_STREAM and call
/// `decode` again. A connection error is sticky: every later call returns it again.
///
/// Everything that needs stream or connection state is left to the caller: stream states (DATA on
/// an idle stream, HEADERS on a closed one), flow-control windows, roles (PUSH_PROMISE sent to a
/// server, `ENABLE_PUSH = 1` from a server), stream identifier ordering, HPACK decoding, and rate
/// limits on frames that are valid but cheap to flood with (PING, SETTINGS, RST_STREAM, empty DATA,
/// PRIORITY, unknown frames).
#[derive(Clone, Debug)]
pub struct FrameDecoder {
    max_frame_size: u32,
    max_header_block: usize,
    max_continuations: usize,
    expect_continuation: Option<StreamId>,
    block_len: usize,
    continuations: usize,
    failed: Option<FrameError>,
}

impl Default for FrameDecoder {
    fn default() -> Self {
        FrameDecoder::new()
    }
}

impl FrameDecoder {
    /// A decoder with the RFC default maximum frame size (16 384) and the default flood limits.
    pub fn new() -> FrameDecoder {
        FrameDecoder {
            max_frame_size: DEFAULT_MAX_FRAME_SIZE,
            max_header_block: DEFAULT_MAX_HEADER_BLOCK,
            max_continuations: DEFAULT_MAX_CONTINUATIONS,
            expect_continuation: None,
            block_len: 0,
            continuations: 0,
            failed: None,
        }
    }

    /// Sets the largest payload accepted: our `SETTINGS_MAX_FRAME_SIZE`, clamped to
    /// `16_384..=16_777_215`. A frame header announcing more is a FRAME_SIZE_ERROR connection
    /// error. Raise it only once the peer acknowledged the SETTINGS that announced it.
    pub fn set_max_frame_size(&mut self, max: u32) -> &mut Self {
        self.max_frame_size = max.clamp(DEFAULT_MAX_FRAME_SIZE, MAX_PAYLOAD_LEN);
        self
    }

    /// The largest payload accepted.
    pub fn max_frame_size(&self) -> u32 {
        self.max_frame_size
    }

    /// Sets the most octets of field block fragments one HEADERS or PUSH_PROMISE plus its
    /// CONTINUATION frames may carry (padding and priority fields not counted). More is
    /// ENHANCE_YOUR_CALM, a connection error: the block cannot be skipped without desynchronising
    /// HPACK. Default [`DEFAULT_MAX_HEADER_BLOCK`].
    pub fn set_max_header_block(&mut self, max: usize) -> &mut Self {
        self.max_header_block = max;
        self
    }

    /// The field block size limit.
    pub fn max_header_block(&self) -> usize {
        self.max_header_block
    }

    /// Sets the most CONTINUATION frames one field block may take. More is ENHANCE_YOUR_CALM, a
    /// connection error; this stops floods of tiny or empty CONTINUATION frames that the byte
    /// limit alone would let through. Default [`DEFAULT_MAX_CONTINUATIONS`].
    pub fn set_max_continuations(&mut self, max: usize) -> &mut Self {
        self.max_continuations = max;
        self
    }

    /// The CONTINUATION count limit.
    pub fn max_continuations(&self) -> usize {
        self.max_continuations
    }

    /// The stream whose field block is open: a HEADERS or PUSH_PROMISE without END_HEADERS was
    /// decoded, and only CONTINUATION frames on this stream may follow until one has END_HEADERS.
    pub fn expect_continuation(&self) -> Option<StreamId> {
        self.expect_continuation
    }

    /// The connection error returned, if one was: the decoder is done.
    pub fn error(&self) -> Option<FrameError> {
        self.failed
    }

    /// Decodes the next frame from the front of `buf`, removing its octets.
    ///
    /// `Ok(None)`: `buf` does not hold a whole frame yet (nothing was removed); read more and call
    /// again. `Err` with a stream: the frame was removed, call again. `Err` without: connection
    /// error, sticky. Never panics, whatever the input.
    pub fn decode(&mut self, buf: &mut BytesMut) -> Result<Option<Frame>, FrameError> {
        if let Some(e) = self.failed {
            return Err(e);
        }
        let result = self.decode_frame(buf);
        if let Err(e @ FrameError { stream: None, .. }) = result {
            self.failed = Some(e);
        }
        result
    }

    /// The checks a frame header alone decides, run before its payload is waited for.
    fn check_head(&self, h: &Head) -> Result<(), FrameError> {
        use ErrorCode as E;
        if h.len > self.max_frame_size {
            return Err(conn(E::FRAME_SIZE_ERROR, "frame larger than SETTINGS_MAX_FRAME_SIZE"));
        }
        if let Some(open) = self.expect_continuation {
            if h.kind != kind::CONTINUATION || h.stream != open {
                return Err(conn(E::PROTOCOL_ERROR, "field block interrupted before END_HEADERS"));
            }
            if self.continuations >= self.max_continuations {
                return Err(conn(E::ENHANCE_YOUR_CALM, "too many CONTINUATION frames in one field block"));
            }
            if self.block_len.saturating_add(h.len as usize) > self.max_header_block {
                return Err(conn(E::ENHANCE_YOUR_CALM, "field block larger than the configured limit"));
            }
        }
        let on_connection = h.stream.is_connection();
        let padded = usize::from(h.has(flag::PADDED));
        let len = h.len as usize;
        match h.kind {
            kind::DATA
            | kind::HEADERS
            | kind::PRIORITY
            | kind::RST_STREAM
            | kind::PUSH_PROMISE
            | kind::CONTINUATION
                if on_connection =>
            {
                Err(conn(E::PROTOCOL_ERROR, "stream frame on stream 0"))
            }
            kind::SETTINGS | kind::PING | kind::GOAWAY if !on_connection => {
                Err(conn(E::PROTOCOL_ERROR, "connection frame on a stream"))
            }
            kind::DATA if len < padded => Err(conn(E::FRAME_SIZE_ERROR, "DATA too short for Pad Length")),
            kind::HEADERS if len < padded + if h.has(flag::PRIORITY) { 5 } else { 0 } => {
                Err(conn(E::FRAME_SIZE_ERROR, "HEADERS too short for padding and priority"))
            }
            kind::RST_STREAM if len != 4 => Err(conn(E::FRAME_SIZE_ERROR, "RST_STREAM length not 4")),
            kind::SETTINGS if h.has(flag::ACK) && len != 0 => {
                Err(conn(E::FRAME_SIZE_ERROR, "SETTINGS acknowledgement with a payload"))
            }
            kind::SETTINGS if len % 6 != 0 => Err(conn(E::FRAME_SIZE_ERROR, "SETTINGS length not a multiple of 6")),
            kind::PUSH_PROMISE if len < padded + 4 => {
                Err(conn(E::FRAME_SIZE_ERROR, "PUSH_PROMISE too short for its promised stream"))
            }
            kind::PING if len != 8 => Err(conn(E::FRAME_SIZE_ERROR, "PING length not 8")),
            kind::GOAWAY if len < 8 => Err(conn(E::FRAME_SIZE_ERROR, "GOAWAY shorter than 8")),
            kind::WINDOW_UPDATE if len != 4 => Err(conn(E::FRAME_SIZE_ERROR, "WINDOW_UPDATE length not 4")),
            kind::CONTINUATION if self.expect_continuation.is_none() => {
                Err(conn(E::PROTOCOL_ERROR, "CONTINUATION without an open field block"))
            }
            _ => Ok(()),
        }
    }

    fn decode_frame(&mut self, buf: &mut BytesMut) -> Result<Option<Frame>, FrameError> {
        let Some(head) = buf.first_chunk::<HEADER_LEN>() else {
            return Ok(None);
        };
        let h = Head::parse(head);
        self.check_head(&h)?;
        let total = HEADER_LEN + h.len as usize;
        if buf.len() < total {
            return Ok(None);
        }
        let stream = h.stream;
        // Frames read in place: their payload is looked at, then the octets are dropped.
        let fixed = &buf[HEADER_LEN..total];
        let frame = match h.kind {
            kind::PRIORITY => {
                let parsed = (fixed.len() == 5).then(|| dependency(fixed));
                buf.advance(total);
                let Some(dependency) = parsed else {
                    return Err(FrameError::stream(ErrorCode::FRAME_SIZE_ERROR, stream, "PRIORITY length not 5"));
                };
                if dependency.dependency == stream {
                    return Err(FrameError::stream(ErrorCode::PROTOCOL_ERROR, stream, "stream depends on itself"));
                }
                return Ok(Some(Frame::Priority(Priority { stream, dependency })));
            }
            kind::RST_STREAM => Frame::RstStream(RstStream { stream, code: ErrorCode(be32(fixed)) }),
            kind::SETTINGS if h.has(flag::ACK) => Frame::SettingsAck,
            kind::SETTINGS => Frame::Settings(Settings::decode(fixed)?),
            kind::PING => {
                let mut payload = [0; 8];
                payload.copy_from_slice(fixed);
                Frame::Ping(Ping { ack: h.has(flag::ACK), payload })
            }
            kind::WINDOW_UPDATE => {
                let increment = be32(fixed) & STREAM_ID_MASK;
                buf.advance(total);
                if increment == 0 {
                    let reason = "WINDOW_UPDATE increment 0";
                    return Err(match stream.is_connection() {
                        true => conn(ErrorCode::PROTOCOL_ERROR, reason),
                        false => FrameError::stream(ErrorCode::PROTOCOL_ERROR, stream, reason),
                    });
                }
                return Ok(Some(Frame::WindowUpdate(WindowUpdate { stream, increment })));
            }
            _ => return self.decode_split(h, buf.split_to(total).freeze()).map(Some),
        };
        buf.advance(total);
        Ok(Some(frame))
    }

    /// Frames whose payload (or part of it) is handed out as a `Bytes` slice of `frame`.
    fn decode_split(&mut self, h: Head, mut payload: Bytes) -> Result<Frame, FrameError> {
        payload.advance(HEADER_LEN);
        let stream = h.stream;
        match h.kind {
            kind::DATA => {
                let pad = strip_padding(&h, &mut payload, 0)?;
                Ok(Frame::Data(Data { stream, data: payload, end_stream: h.has(flag::END_STREAM), pad }))
            }
            kind::HEADERS => {
                let prio_len = if h.has(flag::PRIORITY) { 5 } else { 0 };
                let pad = strip_padding(&h, &mut payload, prio_len)?;
                let priority = (prio_len == 5).then(|| dependency(&payload[..5]));
                payload.advance(prio_len);
                if priority.is_some_and(|p| p.dependency == stream) {
                    return Err(conn(ErrorCode::PROTOCOL_ERROR, "HEADERS makes a stream depend on itself"));
                }
                let end_headers = h.has(flag::END_HEADERS);
                self.start_block(stream, end_headers, payload.len())?;
                let end_stream = h.has(flag::END_STREAM);
                Ok(Frame::Headers(Headers { stream, fragment: payload, end_stream, end_headers, pad, priority }))
            }
            kind::PUSH_PROMISE => {
                let pad = strip_padding(&h, &mut payload, 4)?;
                let promised = StreamId::new(be32(&payload) & STREAM_ID_MASK);
                payload.advance(4);
                if promised.is_connection() {
                    return Err(conn(ErrorCode::PROTOCOL_ERROR, "PUSH_PROMISE promises stream 0"));
                }
                let end_headers = h.has(flag::END_HEADERS);
                self.start_block(stream, end_headers, payload.len())?;
                Ok(Frame::PushPromise(PushPromise { stream, promised, fragment: payload, end_headers, pad }))
            }
            kind::CONTINUATION => {
                // check_head verified the stream, the count and the size.
                let end_headers = h.has(flag::END_HEADERS);
                if end_headers {
                    self.expect_continuation = None;
                } else {
                    self.block_len += payload.len();
                    self.continuations += 1;
                }
                Ok(Frame::Continuation(Continuation { stream, fragment: payload, end_headers }))
            }
            kind::GOAWAY => {
                let last_stream = StreamId::new(be32(&payload) & STREAM_ID_MASK);
                let code = ErrorCode(be32(&payload[4..]));
                payload.advance(8);
                Ok(Frame::GoAway(GoAway { last_stream, code, debug_data: payload }))
            }
            kind => Ok(Frame::Unknown(Unknown { kind, flags: h.flags, stream, payload })),
        }
    }

    fn start_block(&mut self, stream: StreamId, end_headers: bool, len: usize) -> Result<(), FrameError> {
        if len > self.max_header_block {
            return Err(conn(ErrorCode::ENHANCE_YOUR_CALM, "field block larger than the configured limit"));
        }
        if !end_headers {
            self.expect_continuation = Some(stream);
            self.block_len = len;
            self.continuations = 0;
        }
        Ok(())
    }
}

/// Removes the Pad Length octet and the padding from `payload` when the frame is PADDED,
/// checking that the padding fits after `fixed` mandatory octets.
fn strip_padding(h: &Head, payload: &mut Bytes, fixed: usize) -> Result<Option<u8>, FrameError> {
    if !h.has(flag::PADDED) {
        return Ok(None);
    }
    // check_head guaranteed the Pad Length octet and the fixed fields are there.
    let pad = payload[0];
    payload.advance(1);
    let Some(keep) = payload.len().checked_sub(fixed + pad as usize) else {
        return Err(conn(ErrorCode::PROTOCOL_ERROR, "padding longer than the frame payload"));
    };
    payload.truncate(fixed + keep);
    Ok(Some(pad))
}
