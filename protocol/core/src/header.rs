//! Header lists that keep order, original case and repeated names.
//!
//! A parsed head keeps its bytes in one shared [`Bytes`] (a slice of the
//! receive buffer, never copied) and each field as a pair of offset ranges
//! into it. The first [`INLINE_FIELDS`] ranges live inline, so parsing an
//! ordinary head allocates nothing. A list built by the application appends
//! its bytes to an owned buffer instead.

use alloc::vec::Vec;
use bytes::Bytes;
use core::fmt;

/// How many fields a [`HeaderList`] holds before it spills to the heap.
pub const INLINE_FIELDS: usize = 16;

/// Where one field's name and value sit in the list's storage.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct Span {
    name_start: u32,
    name_end: u32,
    value_start: u32,
    value_end: u32,
}

#[derive(Clone)]
enum Storage {
    /// Bytes shared with the receive buffer (a parsed head).
    Shared(Bytes),
    /// Bytes the application appended.
    Owned(Vec<u8>),
}

impl Storage {
    fn bytes(&self) -> &[u8] {
        match self {
            Storage::Shared(b) => b,
            Storage::Owned(v) => v,
        }
    }
}

/// Field positions collected by a parser before the head's bytes are
/// frozen into a [`Bytes`]; see [`HeaderList::from_shared_spans`].
/// Inline first, then a heap spill, so ordinary heads allocate nothing.
#[derive(Clone)]
pub struct FieldSpans {
    inline: [Span; INLINE_FIELDS],
    len: usize,
    spill: Vec<Span>,
    max_end: usize,
}

impl Default for FieldSpans {
    fn default() -> Self {
        Self::new()
    }
}

impl FieldSpans {
    /// No spans.
    pub const fn new() -> Self {
        FieldSpans {
            inline: [Span { name_start: 0, name_end: 0, value_start: 0, value_end: 0 }; INLINE_FIELDS],
            len: 0,
            spill: Vec::new(),
            max_end: 0,
        }
    }

    /// Records a field as byte ranges of the bytes the list will be built
    /// over. Offsets must fit in `u32`; returns `false` (recording nothing)
    /// when they do not or a range is inverted.
    pub fn push_range(&mut self, name: core::ops::Range<usize>, value: core::ops::Range<usize>) -> bool {
        let ok = name.start <= name.end && value.start <= value.end && u32::try_from(name.end.max(value.end)).is_ok();
        if ok {
            self.max_end = self.max_end.max(name.end).max(value.end);
            self.push(Span {
                name_start: name.start as u32,
                name_end: name.end as u32,
                value_start: value.start as u32,
                value_end: value.end as u32,
            });
        }
        ok
    }

    /// Number of spans.
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether there are no spans.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    fn push(&mut self, span: Span) {
        if self.len < INLINE_FIELDS {
            self.inline[self.len] = span;
        } else {
            self.spill.push(span);
        }
        self.len += 1;
    }

    fn get(&self, i: usize) -> Option<Span> {
        if i >= self.len {
            None
        } else if i < INLINE_FIELDS {
            Some(self.inline[i])
        } else {
            self.spill.get(i - INLINE_FIELDS).copied()
        }
    }

    fn remove(&mut self, i: usize) {
        // Rare path (editing a list): rebuild in place.
        let mut all: Vec<Span> = (0..self.len).filter_map(|j| self.get(j)).collect();
        all.remove(i);
        self.len = 0;
        self.spill.clear();
        self.max_end = 0;
        for s in all {
            self.max_end = self.max_end.max(s.name_end as usize).max(s.value_end as usize);
            self.push(s);
        }
    }
}

/// An ordered list of header fields.
///
/// Names keep the case they arrived or were written in; lookups compare names
/// ASCII-case-insensitively. Repeated names (several `Set-Cookie`) stay
/// separate fields, in order.
///
/// ```
/// use sockless_core::HeaderList;
/// let mut h = HeaderList::new();
/// h.push("Content-Type", "text/plain");
/// h.push("Set-Cookie", "a=1");
/// h.push("set-cookie", "b=2");
/// assert_eq!(h.get("content-type"), Some(&b"text/plain"[..]));
/// assert_eq!(h.get_all("SET-COOKIE").count(), 2);
/// let names: Vec<&[u8]> = h.iter().map(|(n, _)| n).collect();
/// assert_eq!(names, [&b"Content-Type"[..], b"Set-Cookie", b"set-cookie"]);
/// ```
#[derive(Clone)]
pub struct HeaderList {
    storage: Storage,
    spans: FieldSpans,
}

impl Default for HeaderList {
    fn default() -> Self {
        Self::new()
    }
}

impl HeaderList {
    /// An empty list; allocates nothing until the first push.
    pub const fn new() -> Self {
        HeaderList { storage: Storage::Owned(Vec::new()), spans: FieldSpans::new() }
    }

    /// A list over shared bytes, filled by a parser with [`push_span`](Self::push_span).
    ///
    /// The bytes are usually the whole head as received, so each field is a
    /// range of it and nothing is copied.
    pub fn from_shared(bytes: Bytes) -> Self {
        HeaderList { storage: Storage::Shared(bytes), spans: FieldSpans::new() }
    }

    /// A list over shared bytes with the fields a parser recorded, or `None`
    /// if a span reaches past the end of `bytes`. Nothing is copied.
    pub fn from_shared_spans(bytes: Bytes, spans: FieldSpans) -> Option<Self> {
        if spans.max_end > bytes.len() {
            return None;
        }
        Some(HeaderList { storage: Storage::Shared(bytes), spans })
    }

    /// Adds a field whose name and value are ranges of the list's bytes
    /// (those given to [`from_shared`](Self::from_shared), or the owned buffer).
    ///
    /// Returns `false`, adding nothing, when a range is out of bounds,
    /// inverted, or beyond `u32` offsets.
    pub fn push_span(&mut self, name: core::ops::Range<usize>, value: core::ops::Range<usize>) -> bool {
        let len = self.storage.bytes().len();
        name.end <= len && value.end <= len && self.spans.push_range(name, value)
    }

    fn owned(&mut self) -> &mut Vec<u8> {
        if let Storage::Shared(b) = &self.storage {
            self.storage = Storage::Owned(b.to_vec());
        }
        match &mut self.storage {
            Storage::Owned(v) => v,
            Storage::Shared(_) => unreachable!("converted to owned above"),
        }
    }

    /// Appends a field. Nothing is validated here: writing a head refuses
    /// names and values that are not allowed on the wire.
    pub fn push(&mut self, name: impl AsRef<[u8]>, value: impl AsRef<[u8]>) {
        let (name, value) = (name.as_ref(), value.as_ref());
        let buf = self.owned();
        let name_start = buf.len();
        buf.extend_from_slice(name);
        let value_start = buf.len();
        buf.extend_from_slice(value);
        let end = buf.len();
        self.push_span(name_start..value_start, value_start..end);
    }

    /// Builder form of [`push`](Self::push).
    pub fn with(mut self, name: impl AsRef<[u8]>, value: impl AsRef<[u8]>) -> Self {
        self.push(name, value);
        self
    }

    /// Number of fields.
    pub fn len(&self) -> usize {
        self.spans.len
    }

    /// Whether there are no fields.
    pub fn is_empty(&self) -> bool {
        self.spans.len == 0
    }

    /// The field at `index`, as `(name, value)`.
    pub fn field(&self, index: usize) -> Option<(&[u8], &[u8])> {
        let s = self.spans.get(index)?;
        let b = self.storage.bytes();
        Some((&b[s.name_start as usize..s.name_end as usize], &b[s.value_start as usize..s.value_end as usize]))
    }

    /// All fields in order.
    pub fn iter(&self) -> Iter<'_> {
        Iter { list: self, next: 0 }
    }

    /// The value of the first field called `name` (any case).
    pub fn get(&self, name: impl AsRef<[u8]>) -> Option<&[u8]> {
        let name = name.as_ref();
        self.iter().find(|(n, _)| n.eq_ignore_ascii_case(name)).map(|(_, v)| v)
    }

    /// The values of every field called `name` (any case), in order.
    pub fn get_all<'a>(&'a self, name: impl AsRef<[u8]> + 'a) -> impl Iterator<Item = &'a [u8]> + 'a {
        self.iter().filter(move |(n, _)| n.eq_ignore_ascii_case(name.as_ref())).map(|(_, v)| v)
    }

    /// Whether a field called `name` (any case) is present.
    pub fn contains(&self, name: impl AsRef<[u8]>) -> bool {
        self.get(name).is_some()
    }

    /// Removes every field called `name` (any case); returns how many went.
    pub fn remove(&mut self, name: impl AsRef<[u8]>) -> usize {
        let mut removed = 0;
        let mut i = 0;
        while let Some((n, _)) = self.field(i) {
            if n.eq_ignore_ascii_case(name.as_ref()) {
                self.spans.remove(i);
                removed += 1;
            } else {
                i += 1;
            }
        }
        removed
    }

    /// Sum of name and value lengths of all fields.
    pub fn byte_len(&self) -> usize {
        self.iter().map(|(n, v)| n.len() + v.len()).sum()
    }
}

impl fmt::Debug for HeaderList {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut l = f.debug_list();
        for (n, v) in self.iter() {
            l.entry(&(alloc::string::String::from_utf8_lossy(n), alloc::string::String::from_utf8_lossy(v)));
        }
        l.finish()
    }
}

/// Two lists are equal when they hold the same fields, byte for byte
/// (names compared with their case), in the same order.
impl PartialEq for HeaderList {
    fn eq(&self, other: &Self) -> bool {
        self.len() == other.len() && self.iter().eq(other.iter())
    }
}
impl Eq for HeaderList {}

impl<N: AsRef<[u8]>, V: AsRef<[u8]>> FromIterator<(N, V)> for HeaderList {
    fn from_iter<I: IntoIterator<Item = (N, V)>>(iter: I) -> Self {
        let mut h = HeaderList::new();
        for (n, v) in iter {
            h.push(n, v);
        }
        h
    }
}

/// Iterator over `(name, value)` pairs of a [`HeaderList`].
pub struct Iter<'a> {
    list: &'a HeaderList,
    next: usize,
}

impl<'a> Iterator for Iter<'a> {
    type Item = (&'a [u8], &'a [u8]);
    fn next(&mut self) -> Option<Self::Item> {
        let f = self.list.field(self.next)?;
        self.next += 1;
        Some(f)
    }
    fn size_hint(&self) -> (usize, Option<usize>) {
        let left = self.list.len() - self.next;
        (left, Some(left))
    }
}

impl<'a> IntoIterator for &'a HeaderList {
    type Item = (&'a [u8], &'a [u8]);
    type IntoIter = Iter<'a>;
    fn into_iter(self) -> Iter<'a> {
        self.iter()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shared_spans_and_spill() {
        let bytes = Bytes::from_static(b"a: 1\r\nb: 2\r\n");
        let mut h = HeaderList::from_shared(bytes);
        assert!(h.push_span(0..1, 3..4));
        assert!(h.push_span(6..7, 9..10));
        assert!(!h.push_span(6..100, 9..10));
        assert_eq!(h.field(1), Some((&b"b"[..], &b"2"[..])));
        for i in 0..40 {
            h.push(alloc::format!("x-{i}"), "v");
        }
        assert_eq!(h.len(), 42);
        assert_eq!(h.get("A"), Some(&b"1"[..]));
        assert_eq!(h.get("x-39"), Some(&b"v"[..]));
        assert_eq!(h.remove("X-3"), 1);
        assert_eq!(h.len(), 41);
        assert_eq!(h.get("x-39"), Some(&b"v"[..]));
    }

    #[test]
    fn equality_keeps_case_and_order() {
        let a: HeaderList = [("A", "1"), ("b", "2")].into_iter().collect();
        let b: HeaderList = [("A", "1"), ("b", "2")].into_iter().collect();
        let c: HeaderList = [("a", "1"), ("b", "2")].into_iter().collect();
        assert_eq!(a, b);
        assert_ne!(a, c);
    }
}
