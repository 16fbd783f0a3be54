//! The 9-byte frame header (RFC 9113 section 4.1) and the frame type and flag constants.

use sockless_core::StreamId;

/// Length of the frame header that precedes every frame payload.
pub const HEADER_LEN: usize = 9;

/// The largest payload length the 24-bit length field can carry (`2^24 - 1`), also the largest
/// allowed `SETTINGS_MAX_FRAME_SIZE`.
pub const MAX_PAYLOAD_LEN: u32 = (1 << 24) - 1;

/// Mask of the 31 stream identifier bits; the top bit is reserved and ignored on receipt.
pub const STREAM_ID_MASK: u32 = 0x7fff_ffff;

/// Frame type codes (RFC 9113 section 6). Any other code is an extension frame.
pub mod kind {
    /// DATA (section 6.1).
    pub const DATA: u8 = 0x0;
    /// HEADERS (section 6.2).
    pub const HEADERS: u8 = 0x1;
    /// PRIORITY (section 6.3, deprecated but still validated).
    pub const PRIORITY: u8 = 0x2;
    /// RST_STREAM (section 6.4).
    pub const RST_STREAM: u8 = 0x3;
    /// SETTINGS (section 6.5).
    pub const SETTINGS: u8 = 0x4;
    /// PUSH_PROMISE (section 6.6).
    pub const PUSH_PROMISE: u8 = 0x5;
    /// PING (section 6.7).
    pub const PING: u8 = 0x6;
    /// GOAWAY (section 6.8).
    pub const GOAWAY: u8 = 0x7;
    /// WINDOW_UPDATE (section 6.9).
    pub const WINDOW_UPDATE: u8 = 0x8;
    /// CONTINUATION (section 6.10).
    pub const CONTINUATION: u8 = 0x9;
}

/// Frame flag bits. Each is defined only for some frame types; flags a type does not define
/// are ignored on receipt and never sent.
pub mod flag {
    /// DATA, HEADERS: the last frame the sender sends on this stream.
    pub const END_STREAM: u8 = 0x1;
    /// SETTINGS, PING: an acknowledgement (same bit as `END_STREAM`).
    pub const ACK: u8 = 0x1;
    /// HEADERS, PUSH_PROMISE, CONTINUATION: the field block ends with this frame.
    pub const END_HEADERS: u8 = 0x4;
    /// DATA, HEADERS, PUSH_PROMISE: a Pad Length octet leads and padding trails the payload.
    pub const PADDED: u8 = 0x8;
    /// HEADERS: five octets of (deprecated) priority information follow the Pad Length.
    pub const PRIORITY: u8 = 0x20;
}

/// A parsed frame header: payload length, type, flags and stream.
///
/// ```
/// use sockless_h2::frame::{kind, flag, Head};
/// use sockless_core::StreamId;
///
/// let head = Head { len: 5, kind: kind::DATA, flags: flag::END_STREAM, stream: StreamId::new(1) };
/// let bytes = head.to_bytes();
/// assert_eq!(bytes, [0, 0, 5, 0, 1, 0, 0, 0, 1]);
/// assert_eq!(Head::parse(&bytes), head);
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Head {
    /// Payload length in octets (24 bits on the wire).
    pub len: u32,
    /// Frame type, one of [`kind`] or an extension type.
    pub kind: u8,
    /// Flag bits, see [`flag`].
    pub flags: u8,
    /// Stream identifier, reserved bit cleared.
    pub stream: StreamId,
}

impl Head {
    /// Parses a frame header. Infallible: every 9-octet sequence is a header; the reserved bit
    /// of the stream identifier is cleared.
    pub fn parse(bytes: &[u8; HEADER_LEN]) -> Head {
        let len = u32::from_be_bytes([0, bytes[0], bytes[1], bytes[2]]);
        let stream = u32::from_be_bytes([bytes[5], bytes[6], bytes[7], bytes[8]]) & STREAM_ID_MASK;
        Head { len, kind: bytes[3], flags: bytes[4], stream: StreamId::new(stream) }
    }

    /// The header as it goes on the wire. Only the low 24 bits of `len` and the low 31 bits of
    /// the stream identifier are written (the reserved bit is sent as 0).
    pub fn to_bytes(&self) -> [u8; HEADER_LEN] {
        debug_assert!(self.len <= MAX_PAYLOAD_LEN, "frame payload too long");
        let l = self.len.to_be_bytes();
        let s = (self.stream.get() & STREAM_ID_MASK).to_be_bytes();
        [l[1], l[2], l[3], self.kind, self.flags, s[0], s[1], s[2], s[3]]
    }

    /// Appends the header to `dst`.
    pub fn encode<B: bytes::BufMut>(&self, dst: &mut B) {
        dst.put_slice(&self.to_bytes());
    }

    /// Whether `flag` (one bit of [`flag`]) is set.
    pub fn has(&self, flag: u8) -> bool {
        self.flags & flag != 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reserved_bit_is_ignored_and_not_sent() {
        let h = Head::parse(&[0xff, 0xff, 0xff, 0x42, 0xab, 0xff, 0xff, 0xff, 0xff]);
        assert_eq!(h, Head { len: MAX_PAYLOAD_LEN, kind: 0x42, flags: 0xab, stream: StreamId::new(STREAM_ID_MASK) });
        let h = Head { len: 0, kind: 0, flags: 0, stream: StreamId::new(0x8000_0001) };
        assert_eq!(h.to_bytes(), [0, 0, 0, 0, 0, 0, 0, 0, 1]);
    }
}
