//! The chunked transfer coding (RFC 9112 section 7.1): a streaming decoder
//! that hands out chunk data as `Bytes` slices of the receive buffer, and
//! the encoder's framing.
//!
//! ```
//! use bytes::BytesMut;
//! use sockless_h1::chunked::{Chunk, ChunkedDecoder, ChunkedLimits};
//!
//! let mut dec = ChunkedDecoder::new(ChunkedLimits::default());
//! let mut buf = BytesMut::from(&b"5;name=\"v\"\r\nhello\r\n0\r\nX-Sum: 1\r\n\r\n"[..]);
//! assert_eq!(dec.decode(&mut buf).unwrap(), Some(Chunk::Data(bytes::Bytes::from_static(b"hello"))));
//! match dec.decode(&mut buf).unwrap() {
//!     Some(Chunk::Trailers(t)) => assert_eq!(t.get("x-sum"), Some(&b"1"[..])),
//!     other => panic!("{other:?}"),
//! }
//! assert_eq!(dec.decode(&mut buf).unwrap(), Some(Chunk::End));
//! ```

use crate::parse::{check_line_endings, find_head_end as find_section_end};
use bytes::{Buf, Bytes, BytesMut};
use sockless_core::{HeaderList, ProtocolErrorKind as Kind};

/// Limits the decoder enforces.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ChunkedLimits {
    /// Most bytes of chunk extensions over the whole body; leading zeros of
    /// chunk sizes (after the first digit) count too, as bytes that carry
    /// no data.
    pub max_ext_bytes: usize,
    /// Largest trailer section.
    pub max_trailer_bytes: usize,
    /// Most trailer fields.
    pub max_trailers: usize,
    /// Largest total of chunk data, if any.
    pub max_body_bytes: Option<u64>,
}

impl Default for ChunkedLimits {
    fn default() -> Self {
        ChunkedLimits { max_ext_bytes: 16 * 1024, max_trailer_bytes: 8 * 1024, max_trailers: 100, max_body_bytes: None }
    }
}

/// One decoded piece of a chunked body.
// Trailers stay inline: boxing them would allocate per message.
#[allow(clippy::large_enum_variant)]
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Chunk {
    /// Chunk data (possibly part of a chunk).
    Data(Bytes),
    /// The trailer section (only when it holds fields).
    Trailers(HeaderList),
    /// The body is complete.
    End,
}

/// Where in the grammar the decoder is. Size-line states walk
/// `chunk-size [ chunk-ext ] CRLF` byte by byte.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum State {
    Size,
    /// Whitespace after the size: only `;` may follow (BWS before an extension).
    SizeBws,
    ExtStart,
    ExtName,
    ExtAfterName,
    ExtValueStart,
    ExtToken,
    ExtQuoted,
    ExtQuotedEscape,
    ExtAfterValue,
    /// Just after a quoted value's closing quote.
    ExtQuotedEnd,
    LineLf,
    Data,
    DataCr,
    DataLf,
    Trailers,
    /// Trailers were handed out; `End` comes next.
    EndPending,
    Done,
}

/// A streaming chunked-body decoder.
#[derive(Clone, Debug)]
pub struct ChunkedDecoder {
    state: State,
    size: u64,
    digits: u8,
    remaining: u64,
    ext_bytes: usize,
    total: u64,
    trailer_scan: usize,
    limits: ChunkedLimits,
}

fn is_ws(b: u8) -> bool {
    b == b' ' || b == b'\t'
}

fn is_qdtext(b: u8) -> bool {
    matches!(b, b'\t' | b' ' | 0x21 | 0x23..=0x5b | 0x5d..=0x7e | 0x80..=0xff)
}

impl ChunkedDecoder {
    /// A decoder at the start of a body.
    pub fn new(limits: ChunkedLimits) -> Self {
        ChunkedDecoder {
            state: State::Size,
            size: 0,
            digits: 0,
            remaining: 0,
            ext_bytes: 0,
            total: 0,
            trailer_scan: 0,
            limits,
        }
    }

    /// Whether the body is complete.
    pub fn is_done(&self) -> bool {
        self.state == State::Done
    }

    /// Decodes from the front of `buf`, consuming what it used. `Ok(None)`
    /// means more input is needed.
    pub fn decode(&mut self, buf: &mut BytesMut) -> Result<Option<Chunk>, Kind> {
        loop {
            match self.state {
                State::Done => return Ok(None),
                State::EndPending => {
                    self.state = State::Done;
                    return Ok(Some(Chunk::End));
                }
                State::Data => {
                    if buf.is_empty() {
                        return Ok(None);
                    }
                    let n = usize::try_from(self.remaining).unwrap_or(usize::MAX).min(buf.len());
                    self.remaining -= n as u64;
                    if self.remaining == 0 {
                        self.state = State::DataCr;
                    }
                    return Ok(Some(Chunk::Data(buf.split_to(n).freeze())));
                }
                State::Trailers => return self.trailers(buf),
                _ => {
                    let mut used = 0;
                    let mut result: Result<(), Kind> = Ok(());
                    for &b in buf.iter() {
                        used += 1;
                        match self.line_byte(b) {
                            Ok(true) => continue,
                            Ok(false) => break,
                            Err(e) => {
                                result = Err(e);
                                break;
                            }
                        }
                    }
                    buf.advance(used);
                    result?;
                    if matches!(self.state, State::Data | State::Trailers) {
                        continue;
                    }
                    if buf.is_empty() {
                        return Ok(None);
                    }
                }
            }
        }
    }

    /// Feeds one byte of a size line or of the CRLF after data. Returns
    /// whether to keep feeding line bytes.
    fn line_byte(&mut self, b: u8) -> Result<bool, Kind> {
        use State::*;
        if matches!(
            self.state,
            ExtStart
                | ExtName
                | ExtAfterName
                | ExtValueStart
                | ExtToken
                | ExtQuoted
                | ExtQuotedEscape
                | ExtAfterValue
                | ExtQuotedEnd
        ) {
            self.ext_bytes += 1;
            if self.ext_bytes > self.limits.max_ext_bytes {
                return Err(Kind::ChunkExtensionTooLong);
            }
        }
        let bad_ext = Err(Kind::InvalidChunkExtension);
        self.state = match (self.state, b) {
            (Size, b'0'..=b'9' | b'a'..=b'f' | b'A'..=b'F') => {
                let d = (b as char).to_digit(16).unwrap_or(0);
                if d == 0 && self.size == 0 && self.digits > 0 {
                    // `1*HEXDIG` allows any number of leading zeros; they
                    // carry no data, so they count against the message's
                    // budget for such bytes (with its extensions).
                    self.ext_bytes += 1;
                    if self.ext_bytes > self.limits.max_ext_bytes {
                        return Err(Kind::ChunkExtensionTooLong);
                    }
                }
                self.digits = self.digits.saturating_add(1);
                // The value must fit in a u64; the digits before the
                // overflow may be as many zeros as the budget allows.
                self.size = self
                    .size
                    .checked_mul(16)
                    .and_then(|s| s.checked_add(u64::from(d)))
                    .ok_or(Kind::InvalidChunkSize)?;
                Size
            }
            (Size, _) if self.digits == 0 => return Err(Kind::InvalidChunkSize),
            (Size, b';') => ExtStart,
            (Size, b'\r') => LineLf,
            (Size, b) if is_ws(b) => SizeBws,
            (Size, _) => return Err(Kind::InvalidChunkSize),
            (SizeBws, b) if is_ws(b) => SizeBws,
            (SizeBws, b';') => ExtStart,
            (SizeBws, _) => return Err(Kind::InvalidChunkSize),
            (ExtStart, b) if is_ws(b) => ExtStart,
            (ExtStart, b) if sockless_core::is_tchar(b) => ExtName,
            (ExtStart, _) => return bad_ext,
            (ExtName, b) if sockless_core::is_tchar(b) => ExtName,
            (ExtName | ExtAfterName, b'=') => ExtValueStart,
            (ExtName | ExtAfterName | ExtToken | ExtAfterValue, b';') => ExtStart,
            (ExtName | ExtToken, b'\r') => LineLf,
            (ExtName | ExtAfterName, b) if is_ws(b) => ExtAfterName,
            (ExtAfterName, _) | (ExtName, _) => return bad_ext,
            (ExtValueStart, b) if is_ws(b) => ExtValueStart,
            (ExtValueStart, b'"') => ExtQuoted,
            (ExtValueStart, b) if sockless_core::is_tchar(b) => ExtToken,
            (ExtValueStart, _) => return bad_ext,
            (ExtToken, b) if sockless_core::is_tchar(b) => ExtToken,
            (ExtToken | ExtAfterValue, b) if is_ws(b) => ExtAfterValue,
            (ExtToken, _) | (ExtAfterValue, _) => return bad_ext,
            (ExtQuoted, b'"') => ExtQuotedEnd,
            (ExtQuotedEnd, b';') => ExtStart,
            (ExtQuotedEnd, b'\r') => LineLf,
            (ExtQuotedEnd, b) if is_ws(b) => ExtAfterValue,
            (ExtQuotedEnd, _) => return bad_ext,
            (ExtQuoted, b'\\') => ExtQuotedEscape,
            (ExtQuoted, b) if is_qdtext(b) => ExtQuoted,
            (ExtQuoted, _) => return bad_ext,
            (ExtQuotedEscape, b) if b == b'\t' || b == b' ' || (0x21..=0x7e).contains(&b) || b >= 0x80 => ExtQuoted,
            (ExtQuotedEscape, _) => return bad_ext,
            (LineLf, b'\n') => {
                let size = core::mem::take(&mut self.size);
                self.digits = 0;
                self.total = self.total.saturating_add(size);
                if self.limits.max_body_bytes.is_some_and(|max| self.total > max) {
                    return Err(Kind::BodyTooLarge);
                }
                self.remaining = size;
                self.state = if size == 0 { Trailers } else { Data };
                return Ok(false);
            }
            (LineLf, _) => return Err(Kind::InvalidChunkSize),
            (DataCr, b'\r') => DataLf,
            (DataLf, b'\n') => Size,
            (DataCr | DataLf, _) => return Err(Kind::InvalidChunkData),
            (Data | Trailers | EndPending | Done, _) => return Ok(false),
        };
        Ok(true)
    }

    /// The trailer section: CRLF alone, or fields then CRLF.
    fn trailers(&mut self, buf: &mut BytesMut) -> Result<Option<Chunk>, Kind> {
        if self.trailer_scan == 0 {
            match (buf.first(), buf.get(1)) {
                (None, _) | (Some(b'\r'), None) => return Ok(None),
                (Some(b'\r'), Some(b'\n')) => {
                    buf.advance(2);
                    self.state = State::Done;
                    return Ok(Some(Chunk::End));
                }
                (Some(b'\r' | b'\n'), _) => return Err(Kind::InvalidTrailer),
                _ => {}
            }
        }
        let Some(end) = find_section_end(buf, self.trailer_scan) else {
            self.trailer_scan = buf.len().saturating_sub(2).max(1);
            if buf.len() > self.limits.max_trailer_bytes {
                return Err(Kind::TrailersTooLarge);
            }
            return Ok(None);
        };
        if end > self.limits.max_trailer_bytes {
            return Err(Kind::TrailersTooLarge);
        }
        let count = {
            let section = &buf[..end];
            let limit = self.limits.max_trailers.min(crate::config::MAX_HEADERS_CAP);
            let mut storage = [httparse::EMPTY_HEADER; crate::config::MAX_HEADERS_CAP];
            let fields = match httparse::parse_headers(section, &mut storage[..limit]) {
                Ok(httparse::Status::Complete((_, fields))) => fields,
                Ok(httparse::Status::Partial) => return Err(Kind::InvalidTrailer),
                Err(httparse::Error::TooManyHeaders) => return Err(Kind::TooManyHeaders),
                Err(httparse::Error::HeaderName) if section.windows(2).any(|w| w[0] == b'\n' && is_ws(w[1])) => {
                    return Err(Kind::ObsFold)
                }
                Err(_) => return Err(Kind::InvalidTrailer),
            };
            check_line_endings(section, fields.iter().map(|h| h.name.as_bytes()))?;
            fields.len()
        };
        let bytes = buf.split_to(end).freeze();
        self.state = State::EndPending;
        let trailers = HeaderList::from_section(bytes, 0, count).ok_or(Kind::InvalidTrailer)?;
        Ok(Some(Chunk::Trailers(trailers)))
    }
}

/// Writes the size line of a chunk of `len` bytes (`len` in hex, CRLF).
pub(crate) fn write_size_line(out: &mut alloc::vec::Vec<u8>, len: usize) {
    let mut digits = [0u8; 16];
    let mut i = digits.len();
    let mut n = len;
    loop {
        i -= 1;
        digits[i] = b"0123456789abcdef"[n & 15];
        n >>= 4;
        if n == 0 {
            break;
        }
    }
    out.extend_from_slice(&digits[i..]);
    out.extend_from_slice(b"\r\n");
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::vec::Vec;

    fn decode_all(input: &[u8], limits: ChunkedLimits) -> Result<Vec<Chunk>, Kind> {
        let mut dec = ChunkedDecoder::new(limits);
        let mut buf = BytesMut::from(input);
        let mut out = Vec::new();
        while let Some(c) = dec.decode(&mut buf)? {
            let end = c == Chunk::End;
            out.push(c);
            if end {
                break;
            }
        }
        Ok(out)
    }

    fn data(input: &[u8]) -> Result<Vec<u8>, Kind> {
        data_with(input, ChunkedLimits::default())
    }

    fn data_with(input: &[u8], limits: ChunkedLimits) -> Result<Vec<u8>, Kind> {
        let chunks = decode_all(input, limits)?;
        assert_eq!(chunks.last(), Some(&Chunk::End), "incomplete");
        Ok(chunks
            .iter()
            .filter_map(|c| match c {
                Chunk::Data(d) => Some(&d[..]),
                _ => None,
            })
            .collect::<Vec<_>>()
            .concat())
    }

    #[test]
    fn accepts_valid_bodies() {
        assert_eq!(data(b"0\r\n\r\n").unwrap(), b"");
        assert_eq!(data(b"3\r\nabc\r\nA\r\n0123456789\r\n0\r\n\r\n").unwrap(), b"abc0123456789");
        assert_eq!(data(b"3;a=b;c;d=\"x\\\"y\"\r\nabc\r\n0\r\n\r\n").unwrap(), b"abc");
        assert_eq!(data(b"3 ; a = b\r\nabc\r\n0\r\n\r\n").unwrap(), b"abc");
        assert_eq!(data(b"0003\r\nabc\r\n0\r\n\r\n").unwrap(), b"abc");
    }

    #[test]
    fn rejects_malformed_bodies() {
        let cases: &[(&[u8], Kind)] = &[
            (b"3 \r\nabc\r\n", Kind::InvalidChunkSize),
            (b" 3\r\nabc\r\n", Kind::InvalidChunkSize),
            (b"3 3\r\n", Kind::InvalidChunkSize),
            (b"-3\r\n", Kind::InvalidChunkSize),
            (b"0x3\r\n", Kind::InvalidChunkSize),
            (b"3\nabc", Kind::InvalidChunkSize),
            (b"3\r\r", Kind::InvalidChunkSize),
            (b"fffffffffffffffff\r\n", Kind::InvalidChunkSize),
            (b"3;\r\nabc", Kind::InvalidChunkExtension),
            (b"3;a=\r\n", Kind::InvalidChunkExtension),
            (b"3;a=\"x\r\n", Kind::InvalidChunkExtension),
            (b"3;a b\r\n", Kind::InvalidChunkExtension),
            (b"3\r\nabcX\r\n", Kind::InvalidChunkData),
            (b"3\r\nabc\n0\r\n\r\n", Kind::InvalidChunkData),
            (b"0\r\nX: 1\n\r\n", Kind::InvalidLineEnding),
            (b"0\r\nX : 1\r\n\r\n", Kind::InvalidTrailer),
            (b"0\r\n\n", Kind::InvalidTrailer),
            (b"0\r\nX: 1\r\n y\r\n\r\n", Kind::ObsFold),
        ];
        for (input, kind) in cases {
            assert_eq!(
                decode_all(input, ChunkedLimits::default()).err(),
                Some(*kind),
                "{}",
                String::from_utf8_lossy(input)
            );
        }
    }

    #[test]
    fn leading_zeros_in_a_chunk_size_are_valid_while_the_value_fits() {
        let zeros = "0".repeat(200);
        let body = alloc::format!("{zeros}3\r\nabc\r\n{zeros}0\r\n\r\n");
        assert_eq!(data(body.as_bytes()).unwrap(), b"abc");
        // 16 significant digits fit a u64; 17 do not, whatever came before.
        let line = alloc::format!("{zeros}ffffffffffffffff\r\n");
        assert!(decode_all(line.as_bytes(), ChunkedLimits::default()).is_ok());
        let line = alloc::format!("{zeros}1ffffffffffffffff\r\n");
        assert_eq!(decode_all(line.as_bytes(), ChunkedLimits::default()).err(), Some(Kind::InvalidChunkSize));
        // They carry no data: past the message's budget for such bytes, 400.
        let tight = ChunkedLimits { max_ext_bytes: 4, ..ChunkedLimits::default() };
        assert_eq!(data_with(b"000003\r\nabc\r\n0\r\n\r\n", tight).unwrap(), b"abc");
        assert_eq!(decode_all(b"0000003\r\nabc\r\n", tight).err(), Some(Kind::ChunkExtensionTooLong));
    }

    proptest::proptest! {
        /// `1*HEXDIG`: any leading zeros (within the budget), any case,
        /// give the value; the chunk's data follows.
        #[test]
        fn chunk_sizes_with_leading_zeros_read_as_their_value(
            zeros in 0usize..400,
            size in 1usize..300,
            upper in proptest::bool::ANY,
        ) {
            let hex = if upper { alloc::format!("{size:X}") } else { alloc::format!("{size:x}") };
            let data_bytes: Vec<u8> = (0..size).map(|i| b'a' + (i % 26) as u8).collect();
            let mut body = alloc::format!("{}{hex}\r\n", "0".repeat(zeros)).into_bytes();
            body.extend_from_slice(&data_bytes);
            body.extend_from_slice(alloc::format!("\r\n{}0\r\n\r\n", "0".repeat(zeros)).as_bytes());
            proptest::prop_assert_eq!(data(&body), Ok(data_bytes));
        }

        /// A size is accepted exactly when its value fits in a u64,
        /// however many zeros come first.
        #[test]
        fn a_chunk_size_is_valid_exactly_when_it_fits(
            zeros in 0usize..100,
            value in proptest::prop_oneof![
                proptest::strategy::Strategy::prop_map(proptest::num::u64::ANY, u128::from),
                (u128::from(u64::MAX) - 2)..(u128::from(u64::MAX) + 2),
                proptest::num::u128::ANY,
            ],
        ) {
            let line = alloc::format!("{}{value:x}\r\n", "0".repeat(zeros));
            let mut dec = ChunkedDecoder::new(ChunkedLimits::default());
            let mut buf = BytesMut::from(line.as_bytes());
            let read = dec.decode(&mut buf);
            if value <= u128::from(u64::MAX) {
                proptest::prop_assert!(read.is_ok(), "{line:?}: {read:?}");
            } else {
                proptest::prop_assert_eq!(read, Err(Kind::InvalidChunkSize));
            }
        }
    }

    #[test]
    fn limits_apply() {
        let tight = ChunkedLimits { max_ext_bytes: 4, max_trailer_bytes: 8, max_trailers: 1, max_body_bytes: Some(5) };
        assert_eq!(decode_all(b"1;abcdef\r\n", tight).err(), Some(Kind::ChunkExtensionTooLong));
        assert_eq!(decode_all(b"6\r\n", tight).err(), Some(Kind::BodyTooLarge));
        assert_eq!(decode_all(b"3\r\nabc\r\n3\r\n", tight).err(), Some(Kind::BodyTooLarge));
        assert_eq!(decode_all(b"0\r\nX-Long: 12345\r\n\r\n", tight).err(), Some(Kind::TrailersTooLarge));
        assert_eq!(decode_all(b"0\r\nX-Long: 12345", tight).err(), Some(Kind::TrailersTooLarge));
        let few = ChunkedLimits { max_trailers: 1, ..ChunkedLimits::default() };
        assert_eq!(decode_all(b"0\r\nA: 1\r\nB: 2\r\n\r\n", few).err(), Some(Kind::TooManyHeaders));
    }

    #[test]
    fn trailers_are_delivered() {
        let chunks = decode_all(b"0\r\nA: 1\r\nb: 2\r\n\r\n", ChunkedLimits::default()).unwrap();
        match &chunks[0] {
            Chunk::Trailers(t) => {
                assert_eq!(t.len(), 2);
                assert_eq!(t.get("B"), Some(&b"2"[..]));
            }
            other => panic!("{other:?}"),
        }
        assert_eq!(chunks[1], Chunk::End);
    }

    #[test]
    fn size_lines() {
        let mut v = Vec::new();
        write_size_line(&mut v, 0);
        write_size_line(&mut v, 255);
        write_size_line(&mut v, usize::MAX);
        assert_eq!(&v[..], b"0\r\nff\r\nffffffffffffffff\r\n");
    }
}
