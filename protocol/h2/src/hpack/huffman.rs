//! The HPACK Huffman code (RFC 7541, section 5.2 and Appendix B).
//!
//! Encoding packs each symbol's code into a 64-bit accumulator. Decoding runs a finite-state
//! machine that consumes a whole byte at a time: the states are the 256 internal nodes of the
//! Huffman tree (the bits read since the last complete symbol), and the 256 × 256 transition
//! table is built at compile time by a `const fn` from the code table in `huffman_table.rs`.
//! Since the shortest code is five bits long, a byte completes at most two symbols.

use alloc::vec::Vec;

use super::huffman_table::CODES;

/// Why a Huffman-coded string was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HuffmanError {
    /// The string contains the EOS symbol, which RFC 7541 section 5.2 forbids.
    Eos,
    /// The string ends in padding that is longer than seven bits or is not a prefix of EOS
    /// (all ones).
    InvalidPadding,
    /// The decoded string would be longer than the caller's limit.
    TooLong,
}

/// Number of bytes `src` takes once Huffman-coded (the last byte padded with ones).
#[inline]
pub fn encoded_len(src: &[u8]) -> usize {
    let bits: usize = src.iter().map(|&b| usize::from(CODES[usize::from(b)].1)).sum();
    bits.div_ceil(8)
}

/// Appends the Huffman coding of `src` to `dst` (exactly [`encoded_len`]`(src)` bytes).
///
/// ```
/// use sockless_h2::hpack::huffman;
/// let mut out = Vec::new();
/// huffman::encode(b"www.example.com", &mut out); // RFC 7541 C.4.1
/// assert_eq!(out, [0xf1, 0xe3, 0xc2, 0xe5, 0xf2, 0x3a, 0x6b, 0xa0, 0xab, 0x90, 0xf4, 0xff]);
/// ```
pub fn encode(src: &[u8], dst: &mut Vec<u8>) {
    dst.reserve(encoded_len(src));
    // Invariant: fewer than 32 bits are pending before a symbol is added; codes are at most 30
    // bits long, so the accumulator never holds more than 61 bits.
    let mut acc: u64 = 0;
    let mut bits: u32 = 0;
    for &b in src {
        let (code, len) = CODES[usize::from(b)];
        acc = (acc << len) | u64::from(code);
        bits += u32::from(len);
        if bits >= 32 {
            bits -= 32;
            dst.extend_from_slice(&((acc >> bits) as u32).to_be_bytes());
        }
    }
    while bits >= 8 {
        bits -= 8;
        dst.push((acc >> bits) as u8);
    }
    if bits > 0 {
        // Pad with the most significant bits of EOS (all ones).
        dst.push(((acc << (8 - bits)) as u8) | (0xff >> bits));
    }
}

/// Decodes the Huffman-coded `src`, appending the result to `dst`.
///
/// Fails if the string holds EOS, if its padding is longer than seven bits or not all ones, or
/// if more than `max_len` bytes would be appended (nothing beyond `max_len` is ever written).
///
/// ```
/// use sockless_h2::hpack::huffman;
/// let mut out = Vec::new();
/// huffman::decode(&[0xa8, 0xeb, 0x10, 0x64, 0x9c, 0xbf], &mut out, usize::MAX).unwrap();
/// assert_eq!(out, b"no-cache");
/// ```
pub fn decode(src: &[u8], dst: &mut Vec<u8>, max_len: usize) -> Result<(), HuffmanError> {
    // Every symbol takes at least five bits, so the output is at most 8/5 of the input.
    let bound = (src.len() * 8 / 5 + 1).min(max_len);
    dst.reserve(bound);
    let limit = dst.len().saturating_add(max_len);
    let mut state: u8 = 0;
    for &b in src {
        let t = &DECODE[usize::from(state)][usize::from(b)];
        if t.flags != 0 {
            if t.flags & FAIL != 0 {
                return Err(HuffmanError::Eos);
            }
            let n = usize::from(t.flags & COUNT);
            if limit - dst.len() < n {
                return Err(HuffmanError::TooLong);
            }
            dst.push(t.syms[0]);
            if n == 2 {
                dst.push(t.syms[1]);
            }
        }
        state = t.next;
    }
    if ACCEPT[usize::from(state)] {
        Ok(())
    } else {
        Err(HuffmanError::InvalidPadding)
    }
}

/// One transition of the byte-at-a-time state machine.
#[derive(Clone, Copy)]
struct Transition {
    /// State (internal tree node) after the byte.
    next: u8,
    /// Number of symbols completed by the byte (`COUNT` bits, 0 to 2), and `FAIL`.
    flags: u8,
    /// The completed symbols.
    syms: [u8; 2],
}

const COUNT: u8 = 3;
const FAIL: u8 = 4;

/// Marks a tree child as a leaf; the low bits hold the symbol.
const LEAF: u16 = 0x8000;
const NONE: u16 = 0xffff;

struct Tree {
    /// Children (`[0]`, `[1]`) of each internal node; node 0 is the root.
    children: [[u16; 2]; 256],
    /// Depth of each internal node.
    depth: [u8; 256],
    /// Whether the path from the root to the node is all ones.
    ones: [bool; 256],
}

const fn build_tree() -> Tree {
    let mut t = Tree { children: [[NONE; 2]; 256], depth: [0; 256], ones: [false; 256] };
    t.ones[0] = true;
    let mut count: usize = 1;
    let mut sym = 0;
    while sym < 257 {
        let (code, len) = CODES[sym];
        let mut node = 0usize;
        let mut i = len;
        while i > 0 {
            i -= 1;
            let bit = ((code >> i) & 1) as usize;
            if i == 0 {
                assert!(t.children[node][bit] == NONE, "Huffman code is not prefix-free");
                t.children[node][bit] = LEAF | sym as u16;
            } else {
                let child = t.children[node][bit];
                if child == NONE {
                    assert!(count < 256, "too many internal nodes");
                    t.children[node][bit] = count as u16;
                    t.depth[count] = t.depth[node] + 1;
                    t.ones[count] = t.ones[node] && bit == 1;
                    node = count;
                    count += 1;
                } else {
                    assert!(child & LEAF == 0, "Huffman code is not prefix-free");
                    node = child as usize;
                }
            }
        }
        sym += 1;
    }
    assert!(count == 256, "a complete code over 257 symbols has 256 internal nodes");
    t
}

const TREE: Tree = build_tree();

const fn build_decode() -> [[Transition; 256]; 256] {
    let mut table = [[Transition { next: 0, flags: 0, syms: [0; 2] }; 256]; 256];
    let mut state = 0;
    while state < 256 {
        let mut byte = 0;
        while byte < 256 {
            let mut node = state;
            let mut t = Transition { next: 0, flags: 0, syms: [0; 2] };
            let mut i = 8;
            while i > 0 {
                i -= 1;
                let bit = (byte >> i) & 1;
                let child = TREE.children[node][bit];
                assert!(child != NONE, "incomplete Huffman tree");
                if child & LEAF != 0 {
                    let s = child & !LEAF;
                    node = 0;
                    if s == 256 {
                        t.flags = FAIL;
                        break;
                    }
                    t.syms[(t.flags & COUNT) as usize] = s as u8;
                    t.flags += 1;
                } else {
                    node = child as usize;
                }
            }
            t.next = node as u8;
            table[state][byte] = t;
            byte += 1;
        }
        state += 1;
    }
    table
}

static DECODE: [[Transition; 256]; 256] = build_decode();

const fn build_accept() -> [bool; 256] {
    let mut accept = [false; 256];
    let mut i = 0;
    while i < 256 {
        // Padding is at most seven bits, all ones: the bits read since the last symbol must
        // follow the all-ones path and be fewer than eight.
        accept[i] = TREE.ones[i] && TREE.depth[i] <= 7;
        i += 1;
    }
    accept
}

static ACCEPT: [bool; 256] = build_accept();

#[cfg(test)]
mod tests {
    use super::*;

    fn dec(src: &[u8]) -> Result<Vec<u8>, HuffmanError> {
        let mut out = Vec::new();
        decode(src, &mut out, usize::MAX).map(|()| out)
    }

    #[test]
    fn every_symbol_round_trips() {
        let all: Vec<u8> = (0..=255u8).collect();
        let mut enc = Vec::new();
        encode(&all, &mut enc);
        assert_eq!(enc.len(), encoded_len(&all));
        assert_eq!(dec(&enc).unwrap(), all);
        for b in 0..=255u8 {
            let mut enc = Vec::new();
            encode(&[b], &mut enc);
            assert_eq!(dec(&enc).unwrap(), [b]);
        }
    }

    #[test]
    fn rfc_strings() {
        let mut out = Vec::new();
        encode(b"custom-key", &mut out);
        assert_eq!(out, [0x25, 0xa8, 0x49, 0xe9, 0x5b, 0xa9, 0x7d, 0x7f]);
        assert_eq!(dec(&out).unwrap(), b"custom-key");
        assert_eq!(dec(&[]).unwrap(), b"");
    }

    #[test]
    fn rejects_eos() {
        // EOS is 30 ones; 32 ones contain a complete EOS.
        assert_eq!(dec(&[0xff, 0xff, 0xff, 0xff]), Err(HuffmanError::Eos));
        // 'a' (00011) then EOS then padding.
        let mut v: u64 = 0b00011;
        v = (v << 30) | 0x3fff_ffff;
        v = (v << 5) | 0b11111; // 40 bits total
        let bytes = v.to_be_bytes();
        assert_eq!(dec(&bytes[3..]), Err(HuffmanError::Eos));
    }

    #[test]
    fn rejects_bad_padding() {
        // A full byte of ones as padding (8 bits) is too long.
        let mut enc = Vec::new();
        encode(b"a", &mut enc); // 00011111
        assert_eq!(dec(&enc).unwrap(), b"a");
        enc.push(0xff);
        assert_eq!(dec(&enc), Err(HuffmanError::InvalidPadding));
        // Padding with a zero bit: 'a' = 00011 then 110.
        assert_eq!(dec(&[0b0001_1110]), Err(HuffmanError::InvalidPadding));
        // Padding that is all ones but 7 bits after a full byte is fine: '0' = 00000 + 111.
        assert_eq!(dec(&[0b0000_0111]).unwrap(), b"0");
        // A lone byte of ones is 8 bits of padding.
        assert_eq!(dec(&[0xff]), Err(HuffmanError::InvalidPadding));
    }

    #[test]
    fn limit() {
        let mut enc = Vec::new();
        encode(b"hello world", &mut enc);
        let mut out = Vec::new();
        assert_eq!(decode(&enc, &mut out, 5), Err(HuffmanError::TooLong));
        assert!(out.len() <= 5);
        out.clear();
        assert_eq!(decode(&enc, &mut out, 11), Ok(()));
    }
}
