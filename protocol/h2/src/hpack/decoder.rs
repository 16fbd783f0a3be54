//! The HPACK decoder (RFC 7541 sections 3, 4 and 6).

use alloc::vec::Vec;
use core::fmt;

use super::huffman::{self, HuffmanError};
use super::integer::{decode_integer, IntegerError};
use super::table::{DynamicTable, ENTRY_OVERHEAD, STATIC_TABLE};

/// Why a header block could not be decoded.
///
/// Every variant except [`DecoderError::HeaderListTooLarge`] is a compression error (HTTP/2
/// `COMPRESSION_ERROR`, a connection error): the decoder's dynamic table may now disagree with
/// the peer's encoder and the connection must not decode further blocks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum DecoderError {
    /// The block ended in the middle of a representation (an integer or a string).
    Truncated,
    /// An integer exceeded `2^32 - 1` (see [`super::integer::MAX_INTEGER`]).
    IntegerOverflow,
    /// An index was 0 or beyond the end of the dynamic table.
    InvalidIndex(usize),
    /// A Huffman-coded string contained the EOS symbol.
    HuffmanEos,
    /// A Huffman-coded string ended in padding longer than 7 bits or not made of ones.
    HuffmanPadding,
    /// A dynamic table size update came after a field representation.
    TableSizeUpdateNotAtStart,
    /// A dynamic table size update asked for more than the maximum we allow (our
    /// `SETTINGS_HEADER_TABLE_SIZE`).
    TableSizeUpdateTooLarge {
        /// The size the peer asked for.
        requested: usize,
        /// The maximum we allow.
        max: usize,
    },
    /// We lowered our maximum table size and the block did not start with a dynamic table size
    /// update at or below it (RFC 7541 section 4.2).
    MissingTableSizeUpdate,
    /// The decoded header list (name + value + 32 per field) exceeded the caller's limit.
    ///
    /// This one is not a compression error: the rest of the block was still decoded to keep the
    /// dynamic table in step with the peer (without handing out or accumulating fields), so
    /// the connection can go on; answer the stream with 431 or `RST_STREAM`.
    HeaderListTooLarge {
        /// The limit that was exceeded.
        limit: usize,
    },
}

impl DecoderError {
    /// Whether the error leaves the decoder unusable (HTTP/2 `COMPRESSION_ERROR`).
    pub fn is_compression_error(&self) -> bool {
        !matches!(self, DecoderError::HeaderListTooLarge { .. })
    }
}

impl fmt::Display for DecoderError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DecoderError::Truncated => f.write_str("HPACK block truncated"),
            DecoderError::IntegerOverflow => f.write_str("HPACK integer overflow"),
            DecoderError::InvalidIndex(i) => write!(f, "HPACK index {i} out of range"),
            DecoderError::HuffmanEos => f.write_str("HPACK Huffman string contains EOS"),
            DecoderError::HuffmanPadding => f.write_str("HPACK Huffman string has invalid padding"),
            DecoderError::TableSizeUpdateNotAtStart => f.write_str("HPACK dynamic table size update after a field"),
            DecoderError::TableSizeUpdateTooLarge { requested, max } => {
                write!(f, "HPACK dynamic table size update to {requested} exceeds {max}")
            }
            DecoderError::MissingTableSizeUpdate => {
                f.write_str("HPACK block lacks the required dynamic table size update")
            }
            DecoderError::HeaderListTooLarge { limit } => {
                write!(f, "header list exceeds {limit} octets")
            }
        }
    }
}

#[cfg(feature = "std")]
impl std::error::Error for DecoderError {}

impl From<IntegerError> for DecoderError {
    fn from(e: IntegerError) -> Self {
        match e {
            IntegerError::Truncated => DecoderError::Truncated,
            IntegerError::Overflow => DecoderError::IntegerOverflow,
        }
    }
}

/// Where a decoded string lives until it is handed to the callback.
#[derive(Clone, Copy)]
enum Str {
    Static(&'static [u8]),
    Input(usize, usize),
    Scratch(usize, usize),
    Table(usize, usize),
}

impl Str {
    #[inline]
    fn len(self) -> usize {
        match self {
            Str::Static(s) => s.len(),
            Str::Input(a, b) | Str::Scratch(a, b) | Str::Table(a, b) => b - a,
        }
    }

    #[inline]
    fn get<'a>(self, input: &'a [u8], scratch: &'a [u8], table: &'a [u8]) -> &'a [u8] {
        match self {
            Str::Static(s) => s,
            Str::Input(a, b) => &input[a..b],
            Str::Scratch(a, b) => &scratch[a..b],
            Str::Table(a, b) => &table[a..b],
        }
    }
}

/// A field's name: either a string or a reference to a dynamic entry's name.
#[derive(Clone, Copy)]
enum Name {
    Str(Str),
    /// Dynamic entry index (0 = newest).
    Dynamic(usize),
}

/// Decoding ran past the header list limit; restart the field in "sync only" mode.
struct OverBudget;

enum FieldError {
    Decoder(DecoderError),
    Over(OverBudget),
}

impl From<DecoderError> for FieldError {
    fn from(e: DecoderError) -> Self {
        FieldError::Decoder(e)
    }
}

impl From<IntegerError> for FieldError {
    fn from(e: IntegerError) -> Self {
        FieldError::Decoder(e.into())
    }
}

/// Decodes HPACK header blocks, keeping the dynamic table between blocks.
///
/// One decoder per connection direction. Fields are handed to a callback as slices borrowed from
/// the input block, the static table, the dynamic table or a scratch buffer owned by the decoder
/// (for Huffman-coded strings), so a warmed-up decoder allocates nothing per field.
#[derive(Debug, Clone)]
pub struct Decoder {
    table: DynamicTable,
    /// The maximum table size we allow (our `SETTINGS_HEADER_TABLE_SIZE`).
    max_allowed: usize,
    /// When we lowered our setting below the table's current maximum: the smallest value we
    /// advertised since, which the next block's leading size updates must go down to.
    required_update: Option<usize>,
    scratch: Vec<u8>,
}

impl Decoder {
    /// A decoder whose dynamic table starts with, and may grow up to, `max_table_size` octets
    /// (our `SETTINGS_HEADER_TABLE_SIZE`; HTTP/2 starts at 4096).
    pub fn new(max_table_size: usize) -> Self {
        Decoder {
            table: DynamicTable::new(max_table_size),
            max_allowed: max_table_size,
            required_update: None,
            scratch: Vec::new(),
        }
    }

    /// Records a new value of our `SETTINGS_HEADER_TABLE_SIZE` (call it when the peer
    /// acknowledges the SETTINGS frame that carries it).
    ///
    /// Later size updates above `max_table_size` are refused. If it is below the table's current
    /// maximum, the next block must start with a size update to at most the smallest value set
    /// since ([`DecoderError::MissingTableSizeUpdate`] otherwise).
    pub fn set_max_table_size(&mut self, max_table_size: usize) {
        self.max_allowed = max_table_size;
        if max_table_size < self.table.max_size() {
            self.required_update = Some(self.required_update.map_or(max_table_size, |r| r.min(max_table_size)));
        }
    }

    /// The largest table size the peer may ask for (the last value given to
    /// [`Decoder::new`] or [`Decoder::set_max_table_size`]).
    pub fn max_table_size(&self) -> usize {
        self.max_allowed
    }

    /// The dynamic table (read-only), for inspection and tests.
    pub fn table(&self) -> &DynamicTable {
        &self.table
    }

    /// Decodes one complete header block, calling `on_field(name, value, never_indexed)` for each
    /// field in order.
    ///
    /// `never_indexed` is true for fields sent as "literal never indexed" (RFC 7541 section
    /// 6.2.3); an intermediary must forward them the same way.
    ///
    /// Decoding stops with [`DecoderError::HeaderListTooLarge`] once the fields decoded so far
    /// add up (name + value + 32 each, as for `SETTINGS_MAX_HEADER_LIST_SIZE`) to more than
    /// `max_header_list_size`: the field that crosses the limit is not handed out, and no string
    /// longer than the remaining budget is ever produced. The rest of the block is still decoded
    /// for its dynamic table updates only. Any other error is a compression error. An error
    /// returned by `on_field` stops decoding at once and is returned as is; the dynamic table may
    /// then be out of step with the peer, so treat it as fatal to the connection.
    pub fn decode<E, F>(&mut self, block: &[u8], max_header_list_size: usize, mut on_field: F) -> Result<(), E>
    where
        E: From<DecoderError>,
        F: FnMut(&[u8], &[u8], bool) -> Result<(), E>,
    {
        let mut pos = 0;
        // Dynamic table size updates: only at the start of a block.
        while let Some(&b) = block.get(pos) {
            if b & 0xe0 != 0x20 {
                break;
            }
            let (size, n) = decode_integer(&block[pos..], 5).map_err(DecoderError::from)?;
            pos += n;
            if size > self.max_allowed {
                return Err(DecoderError::TableSizeUpdateTooLarge { requested: size, max: self.max_allowed }.into());
            }
            self.table.set_max_size(size);
            if self.required_update.is_some_and(|r| size <= r) {
                self.required_update = None;
            }
        }
        if self.required_update.is_some() {
            return Err(DecoderError::MissingTableSizeUpdate.into());
        }

        let mut list_size: usize = 0;
        let mut over = false;
        while pos < block.len() {
            let budget = if over { usize::MAX } else { max_header_list_size - list_size };
            let (name, value, never_indexed, next) = match self.field(block, pos, budget) {
                Ok(f) => f,
                Err(FieldError::Decoder(e)) => return Err(e.into()),
                Err(FieldError::Over(OverBudget)) => {
                    // Nothing was committed for this field: decode it again without a budget.
                    over = true;
                    continue;
                }
            };
            pos = next;
            if over {
                continue;
            }
            let size = name.len() + value.len() + ENTRY_OVERHEAD;
            if size > max_header_list_size - list_size {
                over = true;
                continue;
            }
            list_size += size;
            let (scratch, table) = (&self.scratch[..], self.table.bytes());
            on_field(name.get(block, scratch, table), value.get(block, scratch, table), never_indexed)?;
        }
        if over {
            return Err(DecoderError::HeaderListTooLarge { limit: max_header_list_size }.into());
        }
        Ok(())
    }

    /// Decodes the field representation at `block[pos..]`. `budget` is what is left of the
    /// header list limit. Returns the name, the value, the never-indexed flag and the position
    /// after the field.
    fn field(&mut self, block: &[u8], pos: usize, budget: usize) -> Result<(Str, Str, bool, usize), FieldError> {
        self.scratch.clear();
        let b = block[pos];
        if b & 0x80 != 0 {
            // Indexed field (6.1).
            let (index, n) = decode_integer(&block[pos..], 7)?;
            let (name, value) = self.lookup(index)?;
            return Ok((name, value, false, pos + n));
        }
        let (prefix, index_it, never_indexed) = if b & 0x40 != 0 {
            (6, true, false) // literal with incremental indexing (6.2.1)
        } else if b & 0x20 != 0 {
            return Err(DecoderError::TableSizeUpdateNotAtStart.into());
        } else {
            (4, false, b & 0x10 != 0) // without indexing (6.2.2) / never indexed (6.2.3)
        };
        let (index, n) = decode_integer(&block[pos..], prefix)?;
        let mut pos = pos + n;
        let budget = budget.checked_sub(ENTRY_OVERHEAD).ok_or(FieldError::Over(OverBudget))?;
        let name = if index == 0 {
            let (s, next) = self.string(block, pos, budget)?;
            pos = next;
            Name::Str(s)
        } else if index <= STATIC_TABLE.len() {
            Name::Str(Str::Static(STATIC_TABLE[index - 1].0))
        } else if self.table.get(index - STATIC_TABLE.len() - 1).is_some() {
            Name::Dynamic(index - STATIC_TABLE.len() - 1)
        } else {
            return Err(DecoderError::InvalidIndex(index).into());
        };
        let name_len = match name {
            Name::Str(s) => s.len(),
            Name::Dynamic(i) => self.table.get(i).map_or(0, |(n, _)| n.len()),
        };
        let budget = budget.checked_sub(name_len).ok_or(FieldError::Over(OverBudget))?;
        let (value, pos) = self.string(block, pos, budget)?;

        let name_ref = name;
        let name = match name {
            Name::Str(s) => s,
            Name::Dynamic(i) => {
                let (s, e, _) = self.table.ranges(i).expect("checked above");
                Str::Table(s, e)
            }
        };
        if !index_it {
            return Ok((name, value, never_indexed, pos));
        }
        // Insert into the dynamic table, then lend the strings from there.
        let fits = name_len + value.len() + ENTRY_OVERHEAD <= self.table.max_size();
        let inserted = match (name, fits) {
            (Str::Table(..), true) => {
                let Name::Dynamic(i) = name_ref else { unreachable!("table strings only come from dynamic names") };
                let value = value.get(block, &self.scratch, &[]);
                self.table.insert_with_dynamic_name(i, value) == Some(true)
            }
            (Str::Table(s, e), false) => {
                // The entry empties the table, its own name included: keep a copy of the name.
                let start = self.scratch.len();
                self.scratch.extend_from_slice(&self.table.bytes()[s..e]);
                let max = self.table.max_size();
                self.table.set_max_size(0);
                self.table.set_max_size(max);
                return Ok((Str::Scratch(start, self.scratch.len()), value, false, pos));
            }
            _ => {
                let scratch = &self.scratch[..];
                self.table.insert(name.get(block, scratch, &[]), value.get(block, scratch, &[]))
            }
        };
        if inserted {
            let (s, m, e) = self.table.ranges(0).expect("just inserted");
            Ok((Str::Table(s, m), Str::Table(m, e), false, pos))
        } else {
            Ok((name, value, false, pos))
        }
    }

    /// Resolves an indexed field.
    #[inline]
    fn lookup(&self, index: usize) -> Result<(Str, Str), DecoderError> {
        if index == 0 {
            return Err(DecoderError::InvalidIndex(0));
        }
        if index <= STATIC_TABLE.len() {
            let (n, v) = STATIC_TABLE[index - 1];
            return Ok((Str::Static(n), Str::Static(v)));
        }
        match self.table.ranges(index - STATIC_TABLE.len() - 1) {
            Some((s, m, e)) => Ok((Str::Table(s, m), Str::Table(m, e))),
            None => Err(DecoderError::InvalidIndex(index)),
        }
    }

    /// Reads a string literal (5.2) at `block[pos..]`, Huffman-decoding into the scratch buffer.
    #[inline]
    fn string(&mut self, block: &[u8], pos: usize, budget: usize) -> Result<(Str, usize), FieldError> {
        let huff = block.get(pos).ok_or(DecoderError::Truncated)? & 0x80 != 0;
        let (len, n) = decode_integer(&block[pos..], 7)?;
        let start = pos + n;
        if block.len() - start < len {
            return Err(DecoderError::Truncated.into());
        }
        let end = start + len;
        if !huff {
            if len > budget {
                return Err(FieldError::Over(OverBudget));
            }
            return Ok((Str::Input(start, end), end));
        }
        let s = self.scratch.len();
        match huffman::decode(&block[start..end], &mut self.scratch, budget) {
            Ok(()) => Ok((Str::Scratch(s, self.scratch.len()), end)),
            Err(HuffmanError::TooLong) => Err(FieldError::Over(OverBudget)),
            Err(HuffmanError::Eos) => Err(DecoderError::HuffmanEos.into()),
            Err(HuffmanError::InvalidPadding) => Err(DecoderError::HuffmanPadding.into()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::hpack::integer::encode_integer;
    use alloc::vec;

    type Fields = Vec<(Vec<u8>, Vec<u8>, bool)>;

    fn run(d: &mut Decoder, block: &[u8], limit: usize) -> Result<Fields, DecoderError> {
        let mut out = Vec::new();
        d.decode(block, limit, |n: &[u8], v: &[u8], s| {
            out.push((n.to_vec(), v.to_vec(), s));
            Ok::<(), DecoderError>(())
        })?;
        Ok(out)
    }

    fn literal_indexed(name: &[u8], value: &[u8]) -> Vec<u8> {
        let mut b = vec![0x40];
        encode_integer(name.len(), 7, 0, &mut b);
        b.extend_from_slice(name);
        encode_integer(value.len(), 7, 0, &mut b);
        b.extend_from_slice(value);
        b
    }

    fn size_update(n: usize) -> Vec<u8> {
        let mut b = Vec::new();
        encode_integer(n, 5, 0x20, &mut b);
        b
    }

    #[test]
    fn size_update_only_at_start() {
        let mut d = Decoder::new(4096);
        let mut block = vec![0x82];
        block.extend(size_update(100));
        assert_eq!(run(&mut d, &block, 1000), Err(DecoderError::TableSizeUpdateNotAtStart));
        // Two updates at the start are fine.
        let mut d = Decoder::new(4096);
        let mut block = size_update(0);
        block.extend(size_update(4096));
        block.push(0x82);
        assert_eq!(run(&mut d, &block, 1000).unwrap().len(), 1);
        assert_eq!(d.table().max_size(), 4096);
    }

    #[test]
    fn size_update_above_our_setting() {
        let mut d = Decoder::new(4096);
        assert_eq!(
            run(&mut d, &size_update(4097), 1000),
            Err(DecoderError::TableSizeUpdateTooLarge { requested: 4097, max: 4096 })
        );
        d.set_max_table_size(8192);
        assert!(run(&mut d, &size_update(8192), 1000).is_ok());
        assert_eq!(d.table().max_size(), 8192);
    }

    #[test]
    fn lowering_requires_an_update() {
        let mut d = Decoder::new(4096);
        run(&mut d, &literal_indexed(b"a", b"b"), 1000).unwrap();
        d.set_max_table_size(100);
        assert_eq!(run(&mut d, &[0x82], 1000), Err(DecoderError::MissingTableSizeUpdate));
        // An update above the smallest value set does not satisfy the requirement.
        let mut d = Decoder::new(4096);
        d.set_max_table_size(0);
        d.set_max_table_size(4096);
        assert_eq!(run(&mut d, &size_update(4096), 1000), Err(DecoderError::MissingTableSizeUpdate));
        let mut d = Decoder::new(4096);
        run(&mut d, &literal_indexed(b"a", b"b"), 1000).unwrap();
        d.set_max_table_size(0);
        d.set_max_table_size(4096);
        let mut block = size_update(0);
        block.extend(size_update(4096));
        block.push(0xbe); // the evicted entry is gone
        assert_eq!(run(&mut d, &block, 1000), Err(DecoderError::InvalidIndex(62)));
        // Then the requirement is met and later blocks need nothing.
        assert!(run(&mut d, &[0x82], 1000).is_ok());
        // Raising the setting needs no update.
        let mut d = Decoder::new(4096);
        d.set_max_table_size(8192);
        assert!(run(&mut d, &[0x82], 1000).is_ok());
    }

    #[test]
    fn invalid_indices_and_truncation() {
        let mut d = Decoder::new(4096);
        assert_eq!(run(&mut d, &[0x80], 1000), Err(DecoderError::InvalidIndex(0)));
        assert_eq!(run(&mut d, &[0xbe], 1000), Err(DecoderError::InvalidIndex(62)));
        assert_eq!(run(&mut d, &[0x7f, 0x00], 1000), Err(DecoderError::InvalidIndex(63)));
        assert_eq!(run(&mut d, &[0x40, 0x03, b'a'], 1000), Err(DecoderError::Truncated));
        assert_eq!(run(&mut d, &[0x40], 1000), Err(DecoderError::Truncated));
        assert_eq!(run(&mut d, &[0xff], 1000), Err(DecoderError::Truncated));
        assert_eq!(run(&mut d, &[0xff, 0xff, 0xff, 0xff, 0xff, 0x7f], 1000), Err(DecoderError::IntegerOverflow));
        assert_eq!(run(&mut d, &[0x00, 0x81, 0xff, 0x00], 1000), Err(DecoderError::HuffmanPadding));
        assert_eq!(run(&mut d, &[0x00, 0x84, 0xff, 0xff, 0xff, 0xff, 0x00], 1000), Err(DecoderError::HuffmanEos));
        assert_eq!(run(&mut d, &[], 1000), Ok(vec![]));
    }

    #[test]
    fn header_list_limit_stops_early_and_keeps_table_in_step() {
        let mut d = Decoder::new(4096);
        // 32 + 1 + 1 = 34 per field.
        let mut block = literal_indexed(b"a", b"b");
        block.extend(literal_indexed(b"c", b"d"));
        block.extend(literal_indexed(b"e", b"f"));
        let mut seen = 0;
        let r = d.decode(&block, 70, |_, _, _| {
            seen += 1;
            Ok::<(), DecoderError>(())
        });
        assert_eq!(r, Err(DecoderError::HeaderListTooLarge { limit: 70 }));
        assert_eq!(seen, 2);
        // All three were still inserted.
        assert_eq!(d.table().len(), 3);
        assert_eq!(run(&mut d, &[0xbe], 100).unwrap()[0].0, b"e");
        // An HPACK bomb: one huge entry referenced many times.
        let mut d = Decoder::new(4096);
        let mut block = literal_indexed(b"x", &[b'y'; 4000]);
        block.resize(block.len() + 10_000, 0xbe);
        let mut total = 0;
        let r = d.decode(&block, 16 * 1024, |n, v, _| {
            total += n.len() + v.len() + 32;
            Ok::<(), DecoderError>(())
        });
        assert_eq!(r, Err(DecoderError::HeaderListTooLarge { limit: 16 * 1024 }));
        assert!(total <= 16 * 1024);
        // A long Huffman string is cut off at the budget.
        let mut d = Decoder::new(4096);
        let mut block = vec![0x00, 0x01, b'n'];
        let mut value = Vec::new();
        huffman::encode(&[b'0'; 1000], &mut value);
        encode_integer(value.len(), 7, 0x80, &mut block);
        block.extend(&value);
        assert_eq!(run(&mut d, &block, 500), Err(DecoderError::HeaderListTooLarge { limit: 500 }));
        assert!(d.scratch.len() >= 1000, "the rest of the block was still decoded");
    }

    #[test]
    fn oversized_entry_with_dynamic_name_empties_table() {
        let mut d = Decoder::new(100);
        run(&mut d, &literal_indexed(b"name", b"v"), 1000).unwrap();
        // Literal with indexing, name = dynamic 62, value of 80 bytes: 4 + 80 + 32 > 100.
        let mut block = vec![0x7e];
        encode_integer(80, 7, 0, &mut block);
        block.extend([b'z'; 80]);
        let got = run(&mut d, &block, 1000).unwrap();
        assert_eq!(got, vec![(b"name".to_vec(), vec![b'z'; 80], false)]);
        assert_eq!(d.table().len(), 0);
        // Same with a value that fits: the entry names itself after the evicted one.
        let mut d = Decoder::new(100);
        run(&mut d, &literal_indexed(b"name", b"v"), 1000).unwrap();
        let mut block = vec![0x7e];
        encode_integer(60, 7, 0, &mut block);
        block.extend([b'z'; 60]);
        let got = run(&mut d, &block, 1000).unwrap();
        assert_eq!(got, vec![(b"name".to_vec(), vec![b'z'; 60], false)]);
        assert_eq!(d.table().len(), 1);
    }

    #[test]
    fn callback_error_is_returned() {
        #[derive(Debug, PartialEq)]
        enum MyError {
            Hpack(DecoderError),
            Refused,
        }
        impl From<DecoderError> for MyError {
            fn from(e: DecoderError) -> Self {
                MyError::Hpack(e)
            }
        }
        let mut d = Decoder::new(4096);
        assert_eq!(d.decode(&[0x82, 0x84], 1000, |_, _, _| Err(MyError::Refused)), Err(MyError::Refused));
        assert_eq!(d.decode(&[0x80], 1000, |_, _, _| Ok(())), Err(MyError::Hpack(DecoderError::InvalidIndex(0))));
    }
}
