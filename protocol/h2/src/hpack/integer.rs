//! Prefixed integers (RFC 7541, section 5.1).
//!
//! An integer starts in the low `N` bits of a byte whose high bits carry the representation's
//! flags; values that do not fit continue in 7-bit groups, least significant first.

use alloc::vec::Vec;

/// The largest integer this codec accepts: `2^32 - 1`.
///
/// Every integer in HPACK is an index, a string length or a table size, and none of them can
/// sensibly exceed 32 bits; anything larger is treated as an attack or a corrupt block.
pub const MAX_INTEGER: usize = u32::MAX as usize;

/// Why an integer could not be decoded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IntegerError {
    /// The input ended in the middle of the integer.
    Truncated,
    /// The integer is larger than [`MAX_INTEGER`] (or uses more continuation bytes than such an
    /// integer needs).
    Overflow,
}

/// Appends `value` encoded with an `prefix_bits`-bit prefix to `dst`.
///
/// `flags` supplies the high `8 - prefix_bits` bits of the first byte (for example `0x80` for an
/// indexed field); its low `prefix_bits` bits must be zero. `prefix_bits` must be in `1..=8`.
///
/// ```
/// use sockless_h2::hpack::integer::encode_integer;
/// let mut out = Vec::new();
/// encode_integer(1337, 5, 0, &mut out); // RFC 7541 C.1.2
/// assert_eq!(out, [0x1f, 0x9a, 0x0a]);
/// ```
#[inline]
pub fn encode_integer(value: usize, prefix_bits: u8, flags: u8, dst: &mut Vec<u8>) {
    debug_assert!((1..=8).contains(&prefix_bits));
    let max_prefix = (1usize << prefix_bits) - 1;
    if value < max_prefix {
        dst.push(flags | value as u8);
        return;
    }
    dst.push(flags | max_prefix as u8);
    let mut rest = value - max_prefix;
    while rest >= 0x80 {
        dst.push((rest & 0x7f) as u8 | 0x80);
        rest >>= 7;
    }
    dst.push(rest as u8);
}

/// Decodes an integer with an `prefix_bits`-bit prefix from the start of `src`.
///
/// The high `8 - prefix_bits` bits of the first byte are ignored (they belong to the caller).
/// Returns the value and the number of bytes consumed. `prefix_bits` must be in `1..=8`.
///
/// ```
/// use sockless_h2::hpack::integer::decode_integer;
/// assert_eq!(decode_integer(&[0xff, 0x9a, 0x0a], 5), Ok((1337, 3)));
/// ```
#[inline]
pub fn decode_integer(src: &[u8], prefix_bits: u8) -> Result<(usize, usize), IntegerError> {
    debug_assert!((1..=8).contains(&prefix_bits));
    let max_prefix = (1u64 << prefix_bits) - 1;
    let first = match src.first() {
        Some(&b) => u64::from(b) & max_prefix,
        None => return Err(IntegerError::Truncated),
    };
    if first < max_prefix {
        return Ok((first as usize, 1));
    }
    let mut value = max_prefix;
    let mut shift = 0u32;
    for (i, &b) in src[1..].iter().enumerate() {
        // 2^32 needs at most five 7-bit groups; a sixth group can only mean overflow (or
        // pointless zero padding, which we refuse as well).
        if i >= 5 {
            return Err(IntegerError::Overflow);
        }
        value += u64::from(b & 0x7f) << shift;
        if value > MAX_INTEGER as u64 {
            return Err(IntegerError::Overflow);
        }
        if b & 0x80 == 0 {
            return Ok((value as usize, i + 2));
        }
        shift += 7;
    }
    Err(IntegerError::Truncated)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc_examples() {
        let mut out = Vec::new();
        encode_integer(10, 5, 0, &mut out);
        assert_eq!(out, [0x0a]);
        out.clear();
        encode_integer(1337, 5, 0, &mut out);
        assert_eq!(out, [0x1f, 0x9a, 0x0a]);
        out.clear();
        encode_integer(42, 8, 0, &mut out);
        assert_eq!(out, [42]);
        assert_eq!(decode_integer(&[0xea], 5), Ok((10, 1)));
        assert_eq!(decode_integer(&[0x1f, 0x9a, 0x0a], 5), Ok((1337, 3)));
        assert_eq!(decode_integer(&[42], 8), Ok((42, 1)));
    }

    #[test]
    fn bounds() {
        let mut out = Vec::new();
        encode_integer(MAX_INTEGER, 5, 0, &mut out);
        assert_eq!(decode_integer(&out, 5), Ok((MAX_INTEGER, out.len())));
        // 2^32 overflows.
        out.clear();
        encode_integer(MAX_INTEGER, 5, 0, &mut out);
        let mut big = Vec::new();
        encode_integer(1 << 33, 1, 0, &mut big);
        assert_eq!(decode_integer(&big, 1), Err(IntegerError::Overflow));
        // Too many continuation bytes.
        assert_eq!(decode_integer(&[0x1f, 0x80, 0x80, 0x80, 0x80, 0x80, 0x00], 5), Err(IntegerError::Overflow));
        assert_eq!(decode_integer(&[0x1f, 0x80], 5), Err(IntegerError::Truncated));
        assert_eq!(decode_integer(&[], 5), Err(IntegerError::Truncated));
    }
}
