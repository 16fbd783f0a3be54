//! HPACK round trip: header lists from the input go through one
//! `sockless_h2::hpack::Encoder` (random table sizes and cap, Huffman on or
//! off, sensitive flags, sensitive names on or off) and one `Decoder`, block
//! after block with table size changes between: every block decodes to the
//! identical list (names, values, never-indexed flags) and both dynamic
//! tables are identical after every block.
//!
//! Input: `[flags, cap, records...]`. flags: bit 0 Huffman, bit 1 never
//! index sensitive names, bits 2-4 a starting table size. Records: `0xf0..`
//! ends a block; `0xe0..=0xef` ends a block and changes the table size to
//! `SIZES[op & 7]`; anything else is a field: `op & 0x1f` name length (or,
//! with bit 6, a name from `NAMES`), bit 5 sensitive, then a value-length
//! byte (`& 0x7f`), the name bytes and the value bytes.
#![no_main]

#[path = "common.rs"]
mod common;
#[path = "h2_common.rs"]
mod h2_common;

use libfuzzer_sys::fuzz_target;
use sockless_h2::hpack::{Decoder, DecoderError, Encoder, SENSITIVE_NAMES};

const SIZES: [usize; 8] = [4096, 0, 32, 64, 100, 256, 8192, 65536];
const NAMES: [&[u8]; 12] = [
    b":method",
    b":path",
    b":status",
    b"content-type",
    b"cookie",
    b"Authorization",
    b"set-cookie",
    b"x-a",
    b"user-agent",
    b"accept-encoding",
    b"",
    b"proxy-authorization",
];

type Fields = Vec<(Vec<u8>, Vec<u8>, bool)>;

struct Pair {
    enc: Encoder,
    dec: Decoder,
    nisn: bool,
    blocks: usize,
}

impl Pair {
    fn block(&mut self, fields: &Fields) {
        let mut wire = Vec::new();
        let mut b = self.enc.begin_block(&mut wire);
        for (n, v, s) in fields {
            b.field(n, v, *s);
        }
        let mut got = Vec::new();
        let r = self.dec.decode(&wire, usize::MAX, |n: &[u8], v: &[u8], ni| {
            got.push((n.to_vec(), v.to_vec(), ni));
            Ok::<(), DecoderError>(())
        });
        if let Err(e) = r {
            panic!("block {} does not decode: {e}\nfields {fields:?}\nwire {wire:02x?}", self.blocks);
        }
        let want: Fields = fields
            .iter()
            .map(|(n, v, s)| {
                let named = self.nisn && SENSITIVE_NAMES.iter().any(|x| x.eq_ignore_ascii_case(n));
                (n.clone(), v.clone(), *s || named)
            })
            .collect();
        assert_eq!(got, want, "block {} round trip (wire {wire:02x?})", self.blocks);
        h2_common::same_table(self.enc.table(), self.dec.table(), "encoder vs decoder");
        self.blocks += 1;
    }

    fn resize(&mut self, size: usize) {
        // We announce SETTINGS_HEADER_TABLE_SIZE; the peer acknowledges it,
        // its encoder learns it: both sides move between two blocks.
        self.dec.set_max_table_size(size);
        self.enc.set_max_table_size(size);
    }
}

fuzz_target!(|input: &[u8]| {
    if input.len() < 2 {
        return;
    }
    let (flags, cap) = (input[0], input[1]);
    let mut enc = Encoder::new();
    enc.set_huffman(flags & 1 != 0);
    enc.set_never_index_sensitive_names(flags & 2 != 0);
    if cap != 0xff {
        enc.set_table_size_cap(usize::from(cap) * 16);
    }
    let mut p = Pair { enc, dec: Decoder::new(4096), nisn: flags & 2 != 0, blocks: 0 };
    let start = SIZES[usize::from(flags >> 2) & 7];
    if start != 4096 {
        p.resize(start);
    }
    let mut fields: Fields = Vec::new();
    let mut rest = &input[2..];
    while let Some((&op, tail)) = rest.split_first() {
        rest = tail;
        if op >= 0xe0 {
            p.block(&fields);
            fields.clear();
            if op < 0xf0 {
                p.resize(SIZES[usize::from(op) & 7]);
            }
            continue;
        }
        let Some((&vlen, tail)) = rest.split_first() else { break };
        rest = tail;
        let name: Vec<u8> = if op & 0x40 != 0 {
            NAMES[usize::from(op & 0x1f) % NAMES.len()].to_vec()
        } else {
            let n = usize::from(op & 0x1f).min(rest.len());
            let (name, tail) = rest.split_at(n);
            rest = tail;
            name.to_vec()
        };
        let n = usize::from(vlen & 0x7f).min(rest.len());
        let (value, tail) = rest.split_at(n);
        rest = tail;
        fields.push((name, value.to_vec(), op & 0x20 != 0));
    }
    p.block(&fields);
});
