//! The HPACK encoder (RFC 7541 sections 4, 6 and 7).

use alloc::vec;
use alloc::vec::Vec;

use super::huffman;
use super::integer::encode_integer;
use super::table::{static_find, DynamicTable, ENTRY_OVERHEAD, STATIC_TABLE};

/// The dynamic table size both ends start with in HTTP/2 (`SETTINGS_HEADER_TABLE_SIZE` default).
pub const DEFAULT_TABLE_SIZE: usize = 4096;

/// The default ceiling on the encoder's own table, whatever the peer allows.
pub const DEFAULT_TABLE_SIZE_CAP: usize = 65536;

/// Names whose values are always sent "never indexed" (RFC 7541 section 7.1.3) unless
/// [`Encoder::set_never_index_sensitive_names`] turns the list off.
pub const SENSITIVE_NAMES: [&[u8]; 4] = [b"authorization", b"proxy-authorization", b"cookie", b"set-cookie"];

/// How many slots of the hash index a lookup or an insertion probes.
const PROBES: usize = 8;

/// Encodes header blocks with HPACK, keeping the dynamic table between blocks.
///
/// Strategy: a full match in the static or dynamic table becomes an indexed field; otherwise the
/// field is sent as a literal that references a matching name if there is one, and is added to
/// the dynamic table unless it is sensitive or would take more than three quarters of the table.
/// Strings are Huffman-coded unless that would be longer. Sensitive fields (the per-field flag, or a
/// name in [`SENSITIVE_NAMES`]) are sent "never indexed". Dynamic entries are found through a
/// small hash index on name and on name + value.
#[derive(Debug, Clone)]
pub struct Encoder {
    table: DynamicTable,
    /// Hash index over (name, value) of the dynamic entries.
    full_index: Index,
    /// Hash index over names of the dynamic entries.
    name_index: Index,
    cap: usize,
    /// Size updates owed at the start of the next block: (smallest, final).
    pending: Option<(usize, usize)>,
    huffman: bool,
    never_index_sensitive_names: bool,
}

impl Default for Encoder {
    fn default() -> Self {
        Self::new()
    }
}

impl Encoder {
    /// An encoder for a fresh HTTP/2 connection: table size 4096, Huffman on, sensitive names
    /// never indexed.
    pub fn new() -> Self {
        Self::with_table_size(DEFAULT_TABLE_SIZE)
    }

    /// An encoder whose dynamic table starts at `size` octets without signalling it, for peers
    /// that agreed on that size out of band (RFC 7541 Appendix C.5 uses 256). HTTP/2 always
    /// starts at 4096: use [`Encoder::new`] and [`Encoder::set_max_table_size`] there.
    pub fn with_table_size(size: usize) -> Self {
        let mut e = Encoder {
            table: DynamicTable::new(size),
            full_index: Index::default(),
            name_index: Index::default(),
            cap: DEFAULT_TABLE_SIZE_CAP.max(size),
            pending: None,
            huffman: true,
            never_index_sensitive_names: true,
        };
        e.rebuild_index();
        e
    }

    /// Records the peer's new `SETTINGS_HEADER_TABLE_SIZE`.
    ///
    /// The encoder then uses `min(size, cap)` (see [`Encoder::set_table_size_cap`]) and, at the
    /// start of the next block, emits the dynamic table size updates it owes: the smallest size
    /// set since the last block and then the final one, or just the final one when that is the
    /// smallest (RFC 7541 section 4.2).
    pub fn set_max_table_size(&mut self, size: usize) {
        let eff = size.min(self.cap);
        self.pending = match self.pending {
            None if eff == self.table.max_size() => None,
            None => Some((eff, eff)),
            Some((min, _)) => Some((min.min(eff), eff)),
        };
    }

    /// Sets the largest dynamic table the encoder will use however large the peer allows
    /// (default [`DEFAULT_TABLE_SIZE_CAP`]), bounding the memory it spends on the table. Takes
    /// effect at the next [`Encoder::set_max_table_size`], or now if the current size is larger.
    pub fn set_table_size_cap(&mut self, cap: usize) {
        self.cap = cap;
        let current = self.pending.map_or(self.table.max_size(), |(_, f)| f);
        if current > cap {
            self.set_max_table_size(cap);
        }
    }

    /// Turns Huffman coding on (the default: used for a string unless it would be longer than the
    /// raw string) or off.
    pub fn set_huffman(&mut self, on: bool) {
        self.huffman = on;
    }

    /// Whether fields named in [`SENSITIVE_NAMES`] are sent never indexed (default `true`).
    /// The per-field flag of [`Block::field`] applies either way.
    pub fn set_never_index_sensitive_names(&mut self, on: bool) {
        self.never_index_sensitive_names = on;
    }

    /// The dynamic table (read-only), for inspection and tests.
    pub fn table(&self) -> &DynamicTable {
        &self.table
    }

    /// Starts a header block written to the end of `dst`, emitting any size updates owed.
    ///
    /// Every block must go out, in order, to the peer's decoder: the encoder's table assumes it.
    pub fn begin_block<'a>(&'a mut self, dst: &'a mut Vec<u8>) -> Block<'a> {
        if let Some((min, fin)) = self.pending.take() {
            if min < fin {
                encode_integer(min, 5, 0x20, dst);
                self.table.set_max_size(min);
            }
            encode_integer(fin, 5, 0x20, dst);
            self.table.set_max_size(fin);
            self.rebuild_index();
        }
        Block { encoder: self, dst }
    }

    /// Encodes a header block of `(name, value)` pairs (none flagged sensitive) to the end of
    /// `dst`.
    pub fn encode<I, N, V>(&mut self, headers: I, dst: &mut Vec<u8>)
    where
        I: IntoIterator<Item = (N, V)>,
        N: AsRef<[u8]>,
        V: AsRef<[u8]>,
    {
        let mut block = self.begin_block(dst);
        for (n, v) in headers {
            block.field(n.as_ref(), v.as_ref(), false);
        }
    }

    /// Encodes a header block of `(name, value, sensitive)` triples to the end of `dst`.
    pub fn encode_fields<I, N, V>(&mut self, headers: I, dst: &mut Vec<u8>)
    where
        I: IntoIterator<Item = (N, V, bool)>,
        N: AsRef<[u8]>,
        V: AsRef<[u8]>,
    {
        let mut block = self.begin_block(dst);
        for (n, v, s) in headers {
            block.field(n.as_ref(), v.as_ref(), s);
        }
    }

    fn is_sensitive_name(&self, name: &[u8]) -> bool {
        self.never_index_sensitive_names
            && SENSITIVE_NAMES.iter().any(|s| s.len() == name.len() && s.eq_ignore_ascii_case(name))
    }

    fn field(&mut self, name: &[u8], value: &[u8], sensitive: bool, dst: &mut Vec<u8>) {
        let sensitive = sensitive || self.is_sensitive_name(name);
        let static_match = static_find(name, value);
        if !sensitive {
            if let Some((i, true)) = static_match {
                encode_integer(i, 7, 0x80, dst);
                return;
            }
            if let Some(i) = self.find_full(name, value) {
                encode_integer(i + STATIC_TABLE.len() + 1, 7, 0x80, dst);
                return;
            }
        }
        let name_ref = match static_match {
            Some((i, _)) => Some(i),
            None => self.find_name(name).map(|i| i + STATIC_TABLE.len() + 1),
        };
        let entry_size = name.len() + value.len() + ENTRY_OVERHEAD;
        let (prefix, flags, index_it) = if sensitive {
            (4, 0x10, false)
        } else if entry_size <= self.table.max_size() / 4 * 3 {
            (6, 0x40, true)
        } else {
            (4, 0x00, false)
        };
        match name_ref {
            Some(i) => encode_integer(i, prefix, flags, dst),
            None => {
                dst.push(flags);
                self.string(name, dst);
            }
        }
        self.string(value, dst);
        if index_it && self.table.insert(name, value) {
            if 2 * self.table.len() > self.full_index.slots.len() && self.full_index.slots.len() < self.max_slots() {
                // Keep the load at most a half: grow (and re-insert) only when entries need it.
                return self.rebuild_index();
            }
            let id = self.table.next_id() - 1;
            self.full_index.insert(hash_field(name, value), id, &self.table);
            self.name_index.insert(hash_name(name), id, &self.table);
        }
    }

    #[inline]
    fn string(&self, s: &[u8], dst: &mut Vec<u8>) {
        if self.huffman && !s.is_empty() {
            // Ties go to Huffman, as in RFC 7541 Appendix C.6 ("307" takes three bytes either way).
            let len = huffman::encoded_len(s);
            if len <= s.len() {
                encode_integer(len, 7, 0x80, dst);
                huffman::encode(s, dst);
                return;
            }
        }
        encode_integer(s.len(), 7, 0, dst);
        dst.extend_from_slice(s);
    }

    /// Dynamic index (0 = newest) of an entry equal to `name: value`.
    fn find_full(&self, name: &[u8], value: &[u8]) -> Option<usize> {
        if self.table.is_empty() {
            return None;
        }
        self.full_index.find(hash_field(name, value), &self.table, |(n, v)| n == name && v == value)
    }

    /// Dynamic index (0 = newest) of an entry named `name`.
    fn find_name(&self, name: &[u8]) -> Option<usize> {
        if self.table.is_empty() {
            return None;
        }
        self.name_index.find(hash_name(name), &self.table, |(n, _)| n == name)
    }

    /// Index slots for a full table: twice the most entries it can hold.
    fn max_slots(&self) -> usize {
        (2 * (self.table.max_size() / ENTRY_OVERHEAD + 1)).next_power_of_two().clamp(MIN_SLOTS, 1 << 16)
    }

    /// Sizes the indexes for the entries the table holds now (twice as many slots, at least
    /// `MIN_SLOTS`, at most `max_slots`) and fills them. An idle connection's encoder thus
    /// holds two small indexes instead of two sized for a full table (16 KiB at 4 096).
    fn rebuild_index(&mut self) {
        let slots = (2 * (self.table.len() + 1)).next_power_of_two().clamp(MIN_SLOTS, self.max_slots());
        self.full_index = Index::with_slots(slots);
        self.name_index = Index::with_slots(slots);
        for i in (0..self.table.len()).rev() {
            let (name, value) = self.table.get(i).expect("live entry");
            let id = self.table.next_id() - 1 - i as u64;
            self.full_index.insert(hash_field(name, value), id, &self.table);
            self.name_index.insert(hash_name(name), id, &self.table);
        }
    }
}

/// One header block being written by an [`Encoder`]; see [`Encoder::begin_block`].
#[derive(Debug)]
pub struct Block<'a> {
    encoder: &'a mut Encoder,
    dst: &'a mut Vec<u8>,
}

impl Block<'_> {
    /// Appends one field. A `sensitive` field is sent "never indexed" and never enters the
    /// dynamic table.
    pub fn field(&mut self, name: &[u8], value: &[u8], sensitive: bool) -> &mut Self {
        self.encoder.field(name, value, sensitive, self.dst);
        self
    }
}

/// Slots an index starts with.
const MIN_SLOTS: usize = 16;

/// A lossy open-addressing hash index from a hash to the id of a dynamic table entry.
///
/// Probing is bounded, stale ids (evicted entries) are recognised through the table and every
/// hit is confirmed by comparing bytes, so collisions or a full index only cost compression,
/// never correctness, and no input can make a lookup slow.
#[derive(Debug, Clone, Default)]
struct Index {
    slots: Vec<Slot>,
}

#[derive(Debug, Clone, Copy)]
struct Slot {
    hash: u32,
    /// Entry id, or `u64::MAX` when empty.
    id: u64,
}

const EMPTY: Slot = Slot { hash: 0, id: u64::MAX };

impl Index {
    fn with_slots(n: usize) -> Self {
        Index { slots: vec![EMPTY; n] }
    }

    #[inline]
    fn find(&self, hash: u32, table: &DynamicTable, eq: impl Fn((&[u8], &[u8])) -> bool) -> Option<usize> {
        let mask = self.slots.len() - 1;
        for p in 0..PROBES {
            let slot = self.slots[(hash as usize + p) & mask];
            if slot.hash != hash {
                continue;
            }
            if let Some(i) = table.index_of_id(slot.id) {
                if eq(table.get(i).expect("live entry")) {
                    return Some(i);
                }
            }
        }
        None
    }

    /// Records entry `id`, taking the first probed slot that is empty, holds an evicted entry
    /// or holds the same hash (the newer entry lives longer), else the home slot.
    fn insert(&mut self, hash: u32, id: u64, table: &DynamicTable) {
        let mask = self.slots.len() - 1;
        let home = hash as usize & mask;
        for p in 0..PROBES {
            let k = (home + p) & mask;
            let slot = self.slots[k];
            if slot.hash == hash || table.index_of_id(slot.id).is_none() {
                self.slots[k] = Slot { hash, id };
                return;
            }
        }
        self.slots[home] = Slot { hash, id };
    }
}

#[inline]
fn mix(h: u64, word: u64) -> u64 {
    (h.rotate_left(5) ^ word).wrapping_mul(0x51_7c_c1_b7_27_22_0a_95)
}

#[inline]
fn hash_bytes(mut h: u64, bytes: &[u8]) -> u64 {
    let mut chunks = bytes.chunks_exact(8);
    for c in &mut chunks {
        h = mix(h, u64::from_le_bytes([c[0], c[1], c[2], c[3], c[4], c[5], c[6], c[7]]));
    }
    let rest = chunks.remainder();
    let mut last = [0u8; 8];
    last[..rest.len()].copy_from_slice(rest);
    mix(mix(h, u64::from_le_bytes(last)), bytes.len() as u64)
}

#[inline]
fn finish(h: u64) -> u32 {
    (h ^ (h >> 29) ^ (h >> 47)) as u32
}

fn hash_name(name: &[u8]) -> u32 {
    finish(hash_bytes(0, name))
}

fn hash_field(name: &[u8], value: &[u8]) -> u32 {
    finish(hash_bytes(hash_bytes(0x9e37_79b9, name), value))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::hpack::{Decoder, DecoderError};

    type Fields = Vec<(Vec<u8>, Vec<u8>, bool)>;

    fn decode(d: &mut Decoder, block: &[u8]) -> Fields {
        let mut out = Vec::new();
        d.decode(block, usize::MAX, |n: &[u8], v: &[u8], s| {
            out.push((n.to_vec(), v.to_vec(), s));
            Ok::<(), DecoderError>(())
        })
        .unwrap();
        out
    }

    #[test]
    fn size_updates_min_then_final() {
        let mut e = Encoder::new();
        let mut out = Vec::new();
        e.encode([("x-a", "1")], &mut out);
        e.set_max_table_size(100);
        e.set_max_table_size(2000);
        out.clear();
        e.encode([(":method", "GET")], &mut out);
        // 0x3f 0x45 = 100, 0x3f 0xb1 0x0f = 2000, then the field.
        assert_eq!(out, [0x3f, 0x45, 0x3f, 0xb1, 0x0f, 0x82]);
        assert_eq!(e.table().max_size(), 2000);
        // The smallest is the final one: a single update.
        e.set_max_table_size(1000);
        e.set_max_table_size(0);
        out.clear();
        e.encode([(":method", "GET")], &mut out);
        assert_eq!(out, [0x20, 0x82]);
        // Nothing owed when the size does not change.
        e.set_max_table_size(0);
        out.clear();
        e.encode([(":method", "GET")], &mut out);
        assert_eq!(out, [0x82]);
        // The cap bounds what a peer can make us use.
        e.set_table_size_cap(1024);
        e.set_max_table_size(1 << 30);
        out.clear();
        e.encode(core::iter::empty::<(&[u8], &[u8])>(), &mut out);
        assert_eq!(out, [0x3f, 0xe1, 0x07]);
        assert_eq!(e.table().max_size(), 1024);
    }

    #[test]
    fn decoder_follows_size_changes() {
        let mut e = Encoder::new();
        let mut d = Decoder::new(4096);
        let fields = [("x-one", "1"), ("x-two", "22")];
        for size in [4096, 0, 100, 4096, 50, 4096] {
            e.set_max_table_size(size);
            d.set_max_table_size(size);
            for _ in 0..3 {
                let mut out = Vec::new();
                e.encode(fields, &mut out);
                assert_eq!(decode(&mut d, &out).len(), 2);
                assert_eq!(e.table().size(), d.table().size());
            }
        }
    }

    #[test]
    fn sensitive_fields_are_never_indexed() {
        let mut e = Encoder::new();
        let mut d = Decoder::new(4096);
        let mut out = Vec::new();
        e.encode_fields(
            [
                ("authorization", "Basic x", false),
                ("cookie", "a=b", false),
                ("set-cookie", "c=d", false),
                ("proxy-authorization", "p", false),
                ("x-secret", "s", true),
                ("x-plain", "p", false),
            ],
            &mut out,
        );
        let got = decode(&mut d, &out);
        let flags: Vec<bool> = got.iter().map(|f| f.2).collect();
        assert_eq!(flags, [true, true, true, true, true, false]);
        assert_eq!(e.table().len(), 1);
        assert_eq!(d.table().len(), 1);
        // Sent again, sensitive fields stay literals; the plain one is now indexed.
        out.clear();
        e.encode_fields([("x-secret", "s", true), ("x-plain", "p", false)], &mut out);
        assert_eq!(*out.last().unwrap(), 0xbe);
        assert_eq!(out[0] & 0xf0, 0x10);
    }

    #[test]
    fn dynamic_matches_are_found() {
        let mut e = Encoder::new();
        let mut out = Vec::new();
        let fields: Vec<(Vec<u8>, Vec<u8>)> = (0..50u32)
            .map(|i| (alloc::format!("x-h{}", i % 7).into_bytes(), alloc::format!("{i}").into_bytes()))
            .collect();
        e.encode(fields.iter().map(|(n, v)| (n, v)), &mut out);
        out.clear();
        e.encode(fields.iter().map(|(n, v)| (n, v)), &mut out);
        // Every field of the second block is a one-byte indexed field (indices 62..=111).
        assert_eq!(out.len(), 50);
        assert!(out.iter().all(|b| b & 0x80 != 0), "{out:x?}");
        let mut d = Decoder::new(4096);
        let mut e2 = Encoder::new();
        let mut block = Vec::new();
        e2.encode(fields.iter().map(|(n, v)| (n, v)), &mut block);
        assert_eq!(decode(&mut d, &block).len(), 50);
        // A new value for a known name references the name.
        block.clear();
        e2.encode([("x-h3", "new")], &mut block);
        assert_eq!(block[0] & 0xc0, 0x40);
        assert_ne!(block[0] & 0x3f, 0);
        assert_eq!(decode(&mut d, &block)[0].1, b"new");
    }

    #[test]
    fn huge_fields_are_not_indexed() {
        let mut e = Encoder::new();
        let big = [b'v'; 5000];
        let mut out = Vec::new();
        e.encode([(&b"x-big"[..], &big[..])], &mut out);
        assert_eq!(out[0], 0x00);
        assert!(e.table().is_empty());
    }
}
