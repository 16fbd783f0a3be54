//! SETTINGS parameters (RFC 9113 section 6.5) and their validation.

use bytes::BufMut;
use sockless_core::{ErrorCode, StreamId};

use super::head::{flag, kind, Head, MAX_PAYLOAD_LEN};
use super::FrameError;

/// `SETTINGS_HEADER_TABLE_SIZE` until the peer says otherwise.
pub const DEFAULT_HEADER_TABLE_SIZE: u32 = 4096;
/// `SETTINGS_INITIAL_WINDOW_SIZE` until the peer says otherwise.
pub const DEFAULT_INITIAL_WINDOW_SIZE: u32 = 65_535;
/// `SETTINGS_MAX_FRAME_SIZE` until the peer says otherwise, and its smallest allowed value.
pub const DEFAULT_MAX_FRAME_SIZE: u32 = 16_384;
/// The largest flow-control window, `2^31 - 1`.
pub const MAX_WINDOW_SIZE: u32 = (1 << 31) - 1;

const HEADER_TABLE_SIZE: u16 = 0x1;
const ENABLE_PUSH: u16 = 0x2;
const MAX_CONCURRENT_STREAMS: u16 = 0x3;
const INITIAL_WINDOW_SIZE: u16 = 0x4;
const MAX_FRAME_SIZE: u16 = 0x5;
const MAX_HEADER_LIST_SIZE: u16 = 0x6;

/// The six settings of RFC 9113 section 6.5.2, each `None` when the frame does not carry it
/// (the previous or default value stays). `Settings::default()` carries nothing.
///
/// On receipt, settings with unknown identifiers (extensions such as RFC 8441's
/// `SETTINGS_ENABLE_CONNECT_PROTOCOL`) are ignored, and a repeated setting keeps its last value.
///
/// ```
/// use sockless_h2::frame::Settings;
///
/// let s = Settings::decode(&[0, 4, 0, 1, 0, 0, /* unknown id 0x99: */ 0, 0x99, 0, 0, 0, 7])?;
/// assert_eq!(s, Settings { initial_window_size: Some(65536), ..Settings::default() });
/// // INITIAL_WINDOW_SIZE above 2^31-1 is a FLOW_CONTROL_ERROR.
/// assert!(Settings::decode(&[0, 4, 0x80, 0, 0, 0]).is_err());
/// # Ok::<(), sockless_h2::frame::FrameError>(())
/// ```
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Settings {
    /// `SETTINGS_HEADER_TABLE_SIZE` (0x1): the largest HPACK dynamic table the sender's decoder
    /// allows.
    pub header_table_size: Option<u32>,
    /// `SETTINGS_ENABLE_PUSH` (0x2): whether the sender (a client) accepts server push. Only 0
    /// and 1 are valid; a server sending 1 is an error the connection checks.
    pub enable_push: Option<bool>,
    /// `SETTINGS_MAX_CONCURRENT_STREAMS` (0x3): how many streams the peer may open to the sender.
    pub max_concurrent_streams: Option<u32>,
    /// `SETTINGS_INITIAL_WINDOW_SIZE` (0x4): the sender's initial stream window, at most
    /// [`MAX_WINDOW_SIZE`].
    pub initial_window_size: Option<u32>,
    /// `SETTINGS_MAX_FRAME_SIZE` (0x5): the largest frame payload the sender accepts, within
    /// `16_384..=16_777_215`.
    pub max_frame_size: Option<u32>,
    /// `SETTINGS_MAX_HEADER_LIST_SIZE` (0x6): advisory limit on the decoded field list size.
    pub max_header_list_size: Option<u32>,
}

impl Settings {
    /// Decodes and validates a SETTINGS payload (without ACK). All errors are connection errors:
    /// a length not a multiple of 6 is `FRAME_SIZE_ERROR`, `ENABLE_PUSH` other than 0 or 1 and
    /// `MAX_FRAME_SIZE` out of range are `PROTOCOL_ERROR`, `INITIAL_WINDOW_SIZE` above `2^31-1`
    /// is `FLOW_CONTROL_ERROR`.
    pub fn decode(payload: &[u8]) -> Result<Settings, FrameError> {
        if payload.len() % 6 != 0 {
            return Err(FrameError::connection(ErrorCode::FRAME_SIZE_ERROR, "SETTINGS length not a multiple of 6"));
        }
        let mut s = Settings::default();
        for entry in payload.chunks_exact(6) {
            let id = u16::from_be_bytes([entry[0], entry[1]]);
            let value = u32::from_be_bytes([entry[2], entry[3], entry[4], entry[5]]);
            match id {
                HEADER_TABLE_SIZE => s.header_table_size = Some(value),
                ENABLE_PUSH => {
                    s.enable_push = Some(match value {
                        0 => false,
                        1 => true,
                        _ => {
                            return Err(FrameError::connection(
                                ErrorCode::PROTOCOL_ERROR,
                                "SETTINGS_ENABLE_PUSH not 0 or 1",
                            ))
                        }
                    })
                }
                MAX_CONCURRENT_STREAMS => s.max_concurrent_streams = Some(value),
                INITIAL_WINDOW_SIZE => s.initial_window_size = Some(value),
                MAX_FRAME_SIZE => s.max_frame_size = Some(value),
                MAX_HEADER_LIST_SIZE => s.max_header_list_size = Some(value),
                _ => {}
            }
        }
        s.validate()?;
        Ok(s)
    }

    /// Checks the values against RFC 9113 section 6.5.2, with the errors of [`Settings::decode`].
    /// Use it on our own settings before sending them.
    pub fn validate(&self) -> Result<(), FrameError> {
        if self.initial_window_size.is_some_and(|v| v > MAX_WINDOW_SIZE) {
            return Err(FrameError::connection(
                ErrorCode::FLOW_CONTROL_ERROR,
                "SETTINGS_INITIAL_WINDOW_SIZE above 2^31-1",
            ));
        }
        if self.max_frame_size.is_some_and(|v| !(DEFAULT_MAX_FRAME_SIZE..=MAX_PAYLOAD_LEN).contains(&v)) {
            return Err(FrameError::connection(ErrorCode::PROTOCOL_ERROR, "SETTINGS_MAX_FRAME_SIZE out of range"));
        }
        Ok(())
    }

    /// Sets every setting `newer` carries, keeping the others: how received SETTINGS frames
    /// accumulate into the peer's current settings.
    pub fn merge(&mut self, newer: &Settings) {
        let n = *newer;
        self.header_table_size = n.header_table_size.or(self.header_table_size);
        self.enable_push = n.enable_push.or(self.enable_push);
        self.max_concurrent_streams = n.max_concurrent_streams.or(self.max_concurrent_streams);
        self.initial_window_size = n.initial_window_size.or(self.initial_window_size);
        self.max_frame_size = n.max_frame_size.or(self.max_frame_size);
        self.max_header_list_size = n.max_header_list_size.or(self.max_header_list_size);
    }

    fn entries(&self) -> [(u16, Option<u32>); 6] {
        [
            (HEADER_TABLE_SIZE, self.header_table_size),
            (ENABLE_PUSH, self.enable_push.map(u32::from)),
            (MAX_CONCURRENT_STREAMS, self.max_concurrent_streams),
            (INITIAL_WINDOW_SIZE, self.initial_window_size),
            (MAX_FRAME_SIZE, self.max_frame_size),
            (MAX_HEADER_LIST_SIZE, self.max_header_list_size),
        ]
    }

    /// The payload length of the SETTINGS frame carrying these settings: 6 per setting present.
    pub fn payload_len(&self) -> usize {
        self.entries().iter().filter(|(_, v)| v.is_some()).count() * 6
    }

    /// Appends a SETTINGS frame (header and payload) carrying the settings present, in
    /// identifier order. Values are written as they are; see [`Settings::validate`].
    pub fn encode<B: BufMut>(&self, dst: &mut B) {
        let head =
            Head { len: self.payload_len() as u32, kind: kind::SETTINGS, flags: 0, stream: StreamId::CONNECTION };
        head.encode(dst);
        for (id, value) in self.entries() {
            if let Some(v) = value {
                dst.put_u16(id);
                dst.put_u32(v);
            }
        }
    }

    /// Appends a SETTINGS frame with ACK set (and no payload).
    pub fn encode_ack<B: BufMut>(dst: &mut B) {
        Head { len: 0, kind: kind::SETTINGS, flags: flag::ACK, stream: StreamId::CONNECTION }.encode(dst);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::vec::Vec;

    fn entry(id: u16, v: u32) -> [u8; 6] {
        let i = id.to_be_bytes();
        let v = v.to_be_bytes();
        [i[0], i[1], v[0], v[1], v[2], v[3]]
    }

    #[test]
    fn all_six_round_trip() {
        let s = Settings {
            header_table_size: Some(0),
            enable_push: Some(false),
            max_concurrent_streams: Some(100),
            initial_window_size: Some(MAX_WINDOW_SIZE),
            max_frame_size: Some(MAX_PAYLOAD_LEN),
            max_header_list_size: Some(u32::MAX),
        };
        let mut out = Vec::new();
        s.encode(&mut out);
        assert_eq!(out.len(), 9 + 36);
        assert_eq!(Settings::decode(&out[9..]), Ok(s));
    }

    #[test]
    fn value_validation() {
        let code = |id, v| Settings::decode(&entry(id, v)).map_err(|e| (e.code, e.stream));
        assert_eq!(code(ENABLE_PUSH, 1).unwrap().enable_push, Some(true));
        assert_eq!(code(ENABLE_PUSH, 2), Err((ErrorCode::PROTOCOL_ERROR, None)));
        assert_eq!(code(INITIAL_WINDOW_SIZE, MAX_WINDOW_SIZE).unwrap().initial_window_size, Some(MAX_WINDOW_SIZE));
        assert_eq!(code(INITIAL_WINDOW_SIZE, MAX_WINDOW_SIZE + 1), Err((ErrorCode::FLOW_CONTROL_ERROR, None)));
        assert_eq!(code(MAX_FRAME_SIZE, 16_383), Err((ErrorCode::PROTOCOL_ERROR, None)));
        assert_eq!(code(MAX_FRAME_SIZE, 16_384).unwrap().max_frame_size, Some(16_384));
        assert_eq!(code(MAX_FRAME_SIZE, 16_777_215).unwrap().max_frame_size, Some(16_777_215));
        assert_eq!(code(MAX_FRAME_SIZE, 16_777_216), Err((ErrorCode::PROTOCOL_ERROR, None)));
        assert_eq!(Settings::decode(&[0; 5]).unwrap_err().code, ErrorCode::FRAME_SIZE_ERROR);
    }

    #[test]
    fn unknown_ignored_last_wins_and_merge() {
        let mut p = Vec::new();
        p.extend_from_slice(&entry(MAX_CONCURRENT_STREAMS, 1));
        p.extend_from_slice(&entry(0x8, 1));
        p.extend_from_slice(&entry(0xffff, 0xffff_ffff));
        p.extend_from_slice(&entry(MAX_CONCURRENT_STREAMS, 7));
        let s = Settings::decode(&p).unwrap();
        assert_eq!(s, Settings { max_concurrent_streams: Some(7), ..Settings::default() });
        let mut cur = Settings { max_concurrent_streams: Some(1), header_table_size: Some(9), ..Settings::default() };
        cur.merge(&s);
        assert_eq!((cur.max_concurrent_streams, cur.header_table_size), (Some(7), Some(9)));
    }
}
