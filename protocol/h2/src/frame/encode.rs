//! Writing frames: header and payload, DATA framing apart from its body, and field blocks cut
//! into HEADERS or PUSH_PROMISE plus CONTINUATION frames.
//!
//! Encoders write what they are given: they do not check that a stream identifier is non-zero,
//! that a payload fits the peer's `SETTINGS_MAX_FRAME_SIZE` (except in the `encode_split`
//! helpers, which make it fit), or that a WINDOW_UPDATE increment is positive. Padding is sent
//! as zeros.

use bytes::BufMut;
use sockless_core::StreamId;

use super::head::{flag, kind, Head, MAX_PAYLOAD_LEN, STREAM_ID_MASK};
use super::settings::DEFAULT_MAX_FRAME_SIZE;
use super::{Continuation, Data, Frame, Headers, PushPromise, Settings, StreamDependency};

/// Zero octets to send as padding: `&PADDING[..n]`.
pub const PADDING: &[u8; 255] = &[0; 255];

fn pad_overhead(pad: Option<u8>) -> usize {
    pad.map_or(0, |n| 1 + n as usize)
}

fn put_dependency<B: BufMut>(dst: &mut B, d: &StreamDependency) {
    let e = if d.exclusive { 0x8000_0000 } else { 0 };
    dst.put_u32(e | (d.dependency.get() & STREAM_ID_MASK));
    dst.put_u8(d.weight);
}

impl Data {
    /// Appends the framing of this DATA frame: the 9-octet header, and the Pad Length octet when
    /// padded. The frame is complete once `self.data` and then [`Data::padding`] follow, so the
    /// body can be handed to a vectored write as it is, never copied.
    pub fn encode_head<B: BufMut>(&self, dst: &mut B) {
        let mut flags = 0;
        if self.end_stream {
            flags |= flag::END_STREAM;
        }
        if self.pad.is_some() {
            flags |= flag::PADDED;
        }
        let len = self.flow_controlled_len() as u32;
        Head { len, kind: kind::DATA, flags, stream: self.stream }.encode(dst);
        if let Some(n) = self.pad {
            dst.put_u8(n);
        }
    }

    /// The padding that ends this frame on the wire (empty when not padded).
    pub fn padding(&self) -> &'static [u8] {
        &PADDING[..self.pad.unwrap_or(0) as usize]
    }
}

impl Headers {
    /// Appends this field block as a HEADERS frame followed by as many CONTINUATION frames as
    /// it takes for no payload to exceed `max_frame_size` (the peer's `SETTINGS_MAX_FRAME_SIZE`,
    /// taken as at least 16 384). `fragment` is the whole block; `end_headers` is ignored and
    /// set on the last frame. Padding and priority go in the HEADERS frame.
    pub fn encode_split<B: BufMut>(&self, max_frame_size: u32, dst: &mut B) {
        let max = max_frame_size.clamp(DEFAULT_MAX_FRAME_SIZE, MAX_PAYLOAD_LEN) as usize;
        let room = max - pad_overhead(self.pad) - if self.priority.is_some() { 5 } else { 0 };
        let first = room.min(self.fragment.len());
        let head =
            Headers { fragment: self.fragment.slice(..first), end_headers: first == self.fragment.len(), ..*self };
        Frame::Headers(head).encode(dst);
        continuations(self.stream, &self.fragment[first..], max, dst);
    }
}

impl PushPromise {
    /// Appends this field block as a PUSH_PROMISE frame followed by CONTINUATION frames, as
    /// [`Headers::encode_split`] does.
    pub fn encode_split<B: BufMut>(&self, max_frame_size: u32, dst: &mut B) {
        let max = max_frame_size.clamp(DEFAULT_MAX_FRAME_SIZE, MAX_PAYLOAD_LEN) as usize;
        let room = max - pad_overhead(self.pad) - 4;
        let first = room.min(self.fragment.len());
        let head =
            PushPromise { fragment: self.fragment.slice(..first), end_headers: first == self.fragment.len(), ..*self };
        Frame::PushPromise(head).encode(dst);
        continuations(self.stream, &self.fragment[first..], max, dst);
    }
}

fn continuations<B: BufMut>(stream: StreamId, mut rest: &[u8], max: usize, dst: &mut B) {
    while !rest.is_empty() {
        let n = rest.len().min(max);
        let flags = if n == rest.len() { flag::END_HEADERS } else { 0 };
        Head { len: n as u32, kind: kind::CONTINUATION, flags, stream }.encode(dst);
        dst.put_slice(&rest[..n]);
        rest = &rest[n..];
    }
}

impl Frame {
    /// The number of octets [`Frame::encode`] writes: header and payload.
    pub fn encoded_len(&self) -> usize {
        super::head::HEADER_LEN + self.payload_len()
    }

    fn payload_len(&self) -> usize {
        match self {
            Frame::Data(f) => f.flow_controlled_len(),
            Frame::Headers(f) => pad_overhead(f.pad) + if f.priority.is_some() { 5 } else { 0 } + f.fragment.len(),
            Frame::Priority(_) => 5,
            Frame::RstStream(_) | Frame::WindowUpdate(_) => 4,
            Frame::Settings(s) => s.payload_len(),
            Frame::SettingsAck => 0,
            Frame::PushPromise(f) => pad_overhead(f.pad) + 4 + f.fragment.len(),
            Frame::Ping(_) => 8,
            Frame::GoAway(f) => 8 + f.debug_data.len(),
            Frame::Continuation(f) => f.fragment.len(),
            Frame::Unknown(f) => f.payload.len(),
        }
    }

    /// Appends the whole frame, header and payload, to `dst`. This copies DATA bodies and
    /// field blocks; see [`Data::encode_head`] to send a body without copying it, and
    /// [`Headers::encode_split`] to respect the peer's maximum frame size.
    pub fn encode<B: BufMut>(&self, dst: &mut B) {
        let len = self.payload_len() as u32;
        let head = |flags: u8| Head { len, kind: self.kind(), flags, stream: self.stream() };
        let bit = |on: bool, f: u8| if on { f } else { 0 };
        match self {
            Frame::Data(f) => {
                f.encode_head(dst);
                dst.put_slice(&f.data);
                dst.put_slice(f.padding());
            }
            Frame::Headers(f) => {
                let flags = bit(f.end_stream, flag::END_STREAM)
                    | bit(f.end_headers, flag::END_HEADERS)
                    | bit(f.pad.is_some(), flag::PADDED)
                    | bit(f.priority.is_some(), flag::PRIORITY);
                head(flags).encode(dst);
                if let Some(n) = f.pad {
                    dst.put_u8(n);
                }
                if let Some(d) = &f.priority {
                    put_dependency(dst, d);
                }
                dst.put_slice(&f.fragment);
                dst.put_slice(&PADDING[..f.pad.unwrap_or(0) as usize]);
            }
            Frame::Priority(f) => {
                head(0).encode(dst);
                put_dependency(dst, &f.dependency);
            }
            Frame::RstStream(f) => {
                head(0).encode(dst);
                dst.put_u32(f.code.0);
            }
            Frame::Settings(s) => s.encode(dst),
            Frame::SettingsAck => Settings::encode_ack(dst),
            Frame::PushPromise(f) => {
                head(bit(f.end_headers, flag::END_HEADERS) | bit(f.pad.is_some(), flag::PADDED)).encode(dst);
                if let Some(n) = f.pad {
                    dst.put_u8(n);
                }
                dst.put_u32(f.promised.get() & STREAM_ID_MASK);
                dst.put_slice(&f.fragment);
                dst.put_slice(&PADDING[..f.pad.unwrap_or(0) as usize]);
            }
            Frame::Ping(f) => {
                head(bit(f.ack, flag::ACK)).encode(dst);
                dst.put_slice(&f.payload);
            }
            Frame::GoAway(f) => {
                head(0).encode(dst);
                dst.put_u32(f.last_stream.get() & STREAM_ID_MASK);
                dst.put_u32(f.code.0);
                dst.put_slice(&f.debug_data);
            }
            Frame::WindowUpdate(f) => {
                head(0).encode(dst);
                dst.put_u32(f.increment & STREAM_ID_MASK);
            }
            Frame::Continuation(Continuation { fragment, end_headers, .. }) => {
                head(bit(*end_headers, flag::END_HEADERS)).encode(dst);
                dst.put_slice(fragment);
            }
            Frame::Unknown(f) => {
                head(f.flags).encode(dst);
                dst.put_slice(&f.payload);
            }
        }
    }
}
