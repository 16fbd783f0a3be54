//! The static table (RFC 7541, Appendix A) and the dynamic table (section 4).

use alloc::collections::VecDeque;
use alloc::vec::Vec;

/// Per-entry overhead counted in table and header-list sizes (RFC 7541 section 4.1).
pub const ENTRY_OVERHEAD: usize = 32;

/// The static table of RFC 7541 Appendix A. Index 1 is `STATIC_TABLE[0]`.
pub const STATIC_TABLE: [(&[u8], &[u8]); 61] = [
    (b":authority", b""),
    (b":method", b"GET"),
    (b":method", b"POST"),
    (b":path", b"/"),
    (b":path", b"/index.html"),
    (b":scheme", b"http"),
    (b":scheme", b"https"),
    (b":status", b"200"),
    (b":status", b"204"),
    (b":status", b"206"),
    (b":status", b"304"),
    (b":status", b"400"),
    (b":status", b"404"),
    (b":status", b"500"),
    (b"accept-charset", b""),
    (b"accept-encoding", b"gzip, deflate"),
    (b"accept-language", b""),
    (b"accept-ranges", b""),
    (b"accept", b""),
    (b"access-control-allow-origin", b""),
    (b"age", b""),
    (b"allow", b""),
    (b"authorization", b""),
    (b"cache-control", b""),
    (b"content-disposition", b""),
    (b"content-encoding", b""),
    (b"content-language", b""),
    (b"content-length", b""),
    (b"content-location", b""),
    (b"content-range", b""),
    (b"content-type", b""),
    (b"cookie", b""),
    (b"date", b""),
    (b"etag", b""),
    (b"expect", b""),
    (b"expires", b""),
    (b"from", b""),
    (b"host", b""),
    (b"if-match", b""),
    (b"if-modified-since", b""),
    (b"if-none-match", b""),
    (b"if-range", b""),
    (b"if-unmodified-since", b""),
    (b"last-modified", b""),
    (b"link", b""),
    (b"location", b""),
    (b"max-forwards", b""),
    (b"proxy-authenticate", b""),
    (b"proxy-authorization", b""),
    (b"range", b""),
    (b"referer", b""),
    (b"refresh", b""),
    (b"retry-after", b""),
    (b"server", b""),
    (b"set-cookie", b""),
    (b"strict-transport-security", b""),
    (b"transfer-encoding", b""),
    (b"user-agent", b""),
    (b"vary", b""),
    (b"via", b""),
    (b"www-authenticate", b""),
];

/// The 1-based index of the first static entry named `name`, if any.
///
/// Entries sharing a name are adjacent in the static table, so a caller looking for a full match
/// scans forward from the returned index.
pub fn static_name_index(name: &[u8]) -> Option<usize> {
    Some(match name {
        b":authority" => 1,
        b":method" => 2,
        b":path" => 4,
        b":scheme" => 6,
        b":status" => 8,
        b"accept-charset" => 15,
        b"accept-encoding" => 16,
        b"accept-language" => 17,
        b"accept-ranges" => 18,
        b"accept" => 19,
        b"access-control-allow-origin" => 20,
        b"age" => 21,
        b"allow" => 22,
        b"authorization" => 23,
        b"cache-control" => 24,
        b"content-disposition" => 25,
        b"content-encoding" => 26,
        b"content-language" => 27,
        b"content-length" => 28,
        b"content-location" => 29,
        b"content-range" => 30,
        b"content-type" => 31,
        b"cookie" => 32,
        b"date" => 33,
        b"etag" => 34,
        b"expect" => 35,
        b"expires" => 36,
        b"from" => 37,
        b"host" => 38,
        b"if-match" => 39,
        b"if-modified-since" => 40,
        b"if-none-match" => 41,
        b"if-range" => 42,
        b"if-unmodified-since" => 43,
        b"last-modified" => 44,
        b"link" => 45,
        b"location" => 46,
        b"max-forwards" => 47,
        b"proxy-authenticate" => 48,
        b"proxy-authorization" => 49,
        b"range" => 50,
        b"referer" => 51,
        b"refresh" => 52,
        b"retry-after" => 53,
        b"server" => 54,
        b"set-cookie" => 55,
        b"strict-transport-security" => 56,
        b"transfer-encoding" => 57,
        b"user-agent" => 58,
        b"vary" => 59,
        b"via" => 60,
        b"www-authenticate" => 61,
        _ => return None,
    })
}

/// Looks `name: value` up in the static table: `(index, true)` for a full match, `(index, false)`
/// for a name-only match (the first entry with that name).
pub fn static_find(name: &[u8], value: &[u8]) -> Option<(usize, bool)> {
    let first = static_name_index(name)?;
    let mut i = first;
    while i <= STATIC_TABLE.len() && STATIC_TABLE[i - 1].0 == name {
        if STATIC_TABLE[i - 1].1 == value {
            return Some((i, true));
        }
        i += 1;
    }
    Some((first, false))
}

/// Metadata of one dynamic entry; its bytes live in [`DynamicTable`]'s byte buffer.
#[derive(Debug, Clone, Copy)]
struct Entry {
    /// Absolute position of the name in the byte stream (see `DynamicTable::base`).
    start: usize,
    name_len: usize,
    value_len: usize,
}

/// The HPACK dynamic table: a FIFO of entries bounded by a maximum size in octets.
///
/// Entry bytes are stored back to back in one buffer that is compacted, without reallocating,
/// once its dead prefix grows large; entries therefore stay contiguous and can be lent out as
/// slices, and a warmed-up table does not allocate.
#[derive(Debug, Clone)]
pub struct DynamicTable {
    /// Oldest entry first.
    entries: VecDeque<Entry>,
    /// `bytes[0]` is absolute position `base`.
    bytes: Vec<u8>,
    base: usize,
    /// Sum of entry sizes (name + value + 32).
    size: usize,
    max_size: usize,
    /// Number of entries evicted so far; the id of the oldest live entry.
    evicted: u64,
}

impl DynamicTable {
    /// An empty table with the given maximum size.
    pub fn new(max_size: usize) -> Self {
        DynamicTable { entries: VecDeque::new(), bytes: Vec::new(), base: 0, size: 0, max_size, evicted: 0 }
    }

    /// Number of entries.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether the table has no entries.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Current size in octets (sum of name + value + 32 over the entries).
    pub fn size(&self) -> usize {
        self.size
    }

    /// Current maximum size.
    pub fn max_size(&self) -> usize {
        self.max_size
    }

    /// Changes the maximum size, evicting entries as needed.
    pub fn set_max_size(&mut self, max_size: usize) {
        self.max_size = max_size;
        self.evict_to(max_size);
    }

    fn evict_to(&mut self, target: usize) {
        while self.size > target {
            match self.entries.pop_front() {
                Some(e) => {
                    self.size -= e.name_len + e.value_len + ENTRY_OVERHEAD;
                    self.evicted += 1;
                }
                None => break,
            }
        }
        if self.entries.is_empty() {
            self.bytes.clear();
            self.base = 0;
        }
    }

    /// Entry `index` (0 = newest), as `(name, value)`.
    #[inline]
    pub fn get(&self, index: usize) -> Option<(&[u8], &[u8])> {
        let pos = self.entries.len().checked_sub(index + 1)?;
        let e = self.entries[pos];
        let s = e.start - self.base;
        let name = &self.bytes[s..s + e.name_len];
        let value = &self.bytes[s + e.name_len..s + e.name_len + e.value_len];
        Some((name, value))
    }

    /// Byte range of entry `index` (0 = newest) within [`Self::bytes`] as
    /// `(name_start, name_end, value_end)`.
    #[inline]
    pub(crate) fn ranges(&self, index: usize) -> Option<(usize, usize, usize)> {
        let pos = self.entries.len().checked_sub(index + 1)?;
        let e = self.entries[pos];
        let s = e.start - self.base;
        Some((s, s + e.name_len, s + e.name_len + e.value_len))
    }

    #[inline]
    pub(crate) fn bytes(&self) -> &[u8] {
        &self.bytes
    }

    /// Id that the next inserted entry will get.
    pub(crate) fn next_id(&self) -> u64 {
        self.evicted + self.entries.len() as u64
    }

    /// Entry index (0 = newest) of the live entry with the given id.
    #[inline]
    pub(crate) fn index_of_id(&self, id: u64) -> Option<usize> {
        if id < self.evicted || id >= self.next_id() {
            return None;
        }
        Some((self.next_id() - 1 - id) as usize)
    }

    /// Makes room for and reserves an entry of `name_len + value_len` bytes, returning whether
    /// it will fit. When it does not (it is larger than the maximum size) the table is emptied,
    /// as RFC 7541 section 4.4 requires.
    fn make_room(&mut self, name_len: usize, value_len: usize) -> bool {
        let entry_size = name_len.saturating_add(value_len).saturating_add(ENTRY_OVERHEAD);
        if entry_size > self.max_size {
            self.evict_to(0);
            return false;
        }
        // Compact when the dead prefix is large: amortised O(1) per inserted byte, and the
        // buffer's capacity stays around twice the maximum size.
        let dead = match self.entries.front() {
            Some(e) => e.start - self.base,
            None => self.bytes.len(),
        };
        if dead > 0 && dead >= self.max_size.max(1024) {
            self.bytes.drain(..dead);
            self.base += dead;
        }
        true
    }

    fn commit(&mut self, start: usize, name_len: usize, value_len: usize) {
        self.entries.push_back(Entry { start, name_len, value_len });
        self.size += name_len + value_len + ENTRY_OVERHEAD;
        // Evict older entries (never the new one, which fits on its own).
        while self.size > self.max_size {
            let e = self.entries.pop_front().expect("table holds the new entry");
            self.size -= e.name_len + e.value_len + ENTRY_OVERHEAD;
            self.evicted += 1;
        }
    }

    /// Inserts `name: value` as the newest entry, evicting older entries as needed. Returns
    /// whether the entry was added (an entry larger than the maximum size empties the table).
    pub fn insert(&mut self, name: &[u8], value: &[u8]) -> bool {
        if !self.make_room(name.len(), value.len()) {
            return false;
        }
        let start = self.base + self.bytes.len();
        self.bytes.extend_from_slice(name);
        self.bytes.extend_from_slice(value);
        self.commit(start, name.len(), value.len());
        true
    }

    /// Inserts an entry whose name is the name of entry `name_index` (0 = newest) of this table.
    /// Returns `None` if there is no such entry, otherwise whether the entry was added.
    pub(crate) fn insert_with_dynamic_name(&mut self, name_index: usize, value: &[u8]) -> Option<bool> {
        let (ns, ne, _) = self.ranges(name_index)?;
        let name_len = ne - ns;
        // Positions are absolute so they survive compaction.
        let abs = ns + self.base;
        if !self.make_room(name_len, value.len()) {
            return Some(false);
        }
        // make_room never drops live entries when the new one fits, so the name is still here.
        let ns = abs - self.base;
        let start = self.base + self.bytes.len();
        self.bytes.extend_from_within(ns..ns + name_len);
        self.bytes.extend_from_slice(value);
        self.commit(start, name_len, value.len());
        Some(true)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn static_lookup() {
        assert_eq!(static_find(b":method", b"POST"), Some((3, true)));
        assert_eq!(static_find(b":method", b"PUT"), Some((2, false)));
        assert_eq!(static_find(b":status", b"500"), Some((14, true)));
        assert_eq!(static_find(b"www-authenticate", b""), Some((61, true)));
        assert_eq!(static_find(b"x-foo", b""), None);
        for (i, (name, value)) in STATIC_TABLE.iter().enumerate() {
            let first = static_name_index(name).unwrap();
            assert_eq!(STATIC_TABLE[first - 1].0, *name);
            assert!(first <= i + 1);
            assert_eq!(static_find(name, value), Some((i + 1, true)));
        }
    }

    #[test]
    fn eviction_and_sizes() {
        let mut t = DynamicTable::new(100);
        assert!(t.insert(b"aaaa", b"bbbb")); // 40
        assert!(t.insert(b"cccc", b"dddd")); // 80
        assert_eq!(t.size(), 80);
        assert!(t.insert(b"eeee", b"ffff")); // evicts the first
        assert_eq!(t.len(), 2);
        assert_eq!(t.get(0), Some((&b"eeee"[..], &b"ffff"[..])));
        assert_eq!(t.get(1), Some((&b"cccc"[..], &b"dddd"[..])));
        assert_eq!(t.get(2), None);
        // Name taken from an entry that the insertion itself evicts.
        assert_eq!(t.insert_with_dynamic_name(1, b"0123456789"), Some(true));
        assert_eq!(t.len(), 2);
        assert_eq!(t.get(0), Some((&b"cccc"[..], &b"0123456789"[..])));
        // Too large: empties the table.
        assert!(!t.insert(&[b'x'; 69], b""));
        assert_eq!(t.len(), 0);
        assert_eq!(t.size(), 0);
        assert!(t.insert(&[b'x'; 68], b""));
        t.set_max_size(0);
        assert!(t.is_empty());
    }

    #[test]
    fn compaction_keeps_entries() {
        let mut t = DynamicTable::new(4096);
        for i in 0..10_000u32 {
            let v = i.to_be_bytes();
            assert!(t.insert(b"name", &v));
            assert_eq!(t.get(0).unwrap().1, v);
            if i > 0 {
                assert_eq!(t.get(1).unwrap().1, (i - 1).to_be_bytes());
            }
        }
        assert!(t.bytes.capacity() < 3 * 4096);
    }
}
