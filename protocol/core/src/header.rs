//! Header lists that keep order, original case and repeated names.
//!
//! A parsed head keeps its field section exactly as received: one shared
//! [`Bytes`] (a slice of the receive buffer, never copied) that is split into
//! fields only when it is read. Parsing therefore records nothing per field
//! and allocates nothing, and a head moves around as a few words. A list built
//! by the application appends its bytes to an owned buffer instead.

use alloc::sync::Arc;
use alloc::vec::Vec;
use bytes::Bytes;
use core::fmt;
use core::ops::Range;

/// Where one field of an owned or frozen list sits in its buffer. The name
/// ends where the value starts in an owned list, and two bytes (`": "`)
/// before it in a frozen one.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
struct Span {
    name_start: u32,
    value_start: u32,
    value_end: u32,
}

#[derive(Clone)]
enum Storage {
    /// A field section as received: lines `name ":" OWS value OWS CRLF`,
    /// starting at `start`, already validated by a parser.
    Section { bytes: Bytes, start: u32, count: u32 },
    /// A list [`frozen`](HeaderList::freeze) by the application: its lines
    /// exactly as written (`name ": " value CRLF`), and where each field is,
    /// both shared by clones.
    Frozen { wire: Bytes, spans: Arc<[Span]> },
    /// Bytes the application appended, and where each field is.
    Owned { buf: Vec<u8>, spans: Vec<Span> },
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
    /// Whether every field is allowed on the wire ([`crate::validate_field`]).
    /// Checked as fields are pushed (received sections were checked by their
    /// parser), so writing a head that is built once and sent many times
    /// costs no validation.
    valid: bool,
}

impl Default for HeaderList {
    fn default() -> Self {
        Self::new()
    }
}

#[inline]
fn trim_ows(mut v: &[u8]) -> &[u8] {
    while let [b' ' | b'\t', rest @ ..] = v {
        v = rest;
    }
    while let [rest @ .., b' ' | b'\t'] = v {
        v = rest;
    }
    v
}

/// Splits one received field line (without its CRLF) into name and value.
#[inline]
fn split_line(line: &[u8]) -> (&[u8], &[u8]) {
    match line.iter().position(|&b| b == b':') {
        Some(colon) => (&line[..colon], trim_ows(&line[colon + 1..])),
        None => (line, &[]),
    }
}

impl HeaderList {
    /// An empty list; allocates nothing until the first push.
    pub const fn new() -> Self {
        HeaderList { storage: Storage::Owned { buf: Vec::new(), spans: Vec::new() }, valid: true }
    }

    /// A list over a received field section: `bytes[start..]` holds `count`
    /// lines of the form `name ":" OWS value OWS CRLF`, as a parser has
    /// already checked them (token names, no obs-fold, CRLF line ends).
    /// Nothing is copied and nothing is recorded per field.
    ///
    /// Bytes that do not have that form never cause a panic, but the fields
    /// read from them are then unspecified. Returns `None` if `start` is out
    /// of range or does not fit in `u32`.
    #[inline]
    pub fn from_section(bytes: Bytes, start: usize, count: usize) -> Option<Self> {
        if start > bytes.len() {
            return None;
        }
        let start = u32::try_from(start).ok()?;
        let count = u32::try_from(count).ok()?;
        Some(HeaderList { storage: Storage::Section { bytes, start, count }, valid: true })
    }

    fn owned(&mut self) -> (&mut Vec<u8>, &mut Vec<Span>) {
        if let Storage::Section { .. } | Storage::Frozen { .. } = self.storage {
            let mut copy = HeaderList::new();
            for (n, v) in self.iter() {
                copy.push(n, v);
            }
            *self = copy;
        }
        match &mut self.storage {
            Storage::Owned { buf, spans } => {
                if spans.capacity() == 0 {
                    // A typical head in one allocation each, not a growth per field.
                    buf.reserve(128);
                    spans.reserve(8);
                }
                (buf, spans)
            }
            Storage::Section { .. } | Storage::Frozen { .. } => unreachable!("converted to owned above"),
        }
    }

    /// Appends a field. Nothing is validated here: writing a head refuses
    /// names and values that are not allowed on the wire.
    ///
    /// # Panics
    ///
    /// If the list's owned bytes would exceed 4 GiB.
    pub fn push(&mut self, name: impl AsRef<[u8]>, value: impl AsRef<[u8]>) {
        let (name, value) = (name.as_ref(), value.as_ref());
        self.valid &= crate::head::validate_field(name, value).is_ok();
        let (buf, spans) = self.owned();
        let offset = |n: usize| u32::try_from(n).expect("header list over 4 GiB");
        let name_start = offset(buf.len());
        buf.extend_from_slice(name);
        let value_start = offset(buf.len());
        buf.extend_from_slice(value);
        let value_end = offset(buf.len());
        spans.push(Span { name_start, value_start, value_end });
    }

    /// Turns the list into one shared buffer in HTTP/1.1 wire form
    /// (`name: value` CRLF lines). A head built once and sent many times
    /// (a static answer, a default set of fields) is then cloned with a
    /// reference count rather than two allocations, and an HTTP/1.1 writer
    /// copies its fields in one piece. The fields read back unchanged; a
    /// later [`push`](Self::push) or [`remove`](Self::remove) works as
    /// before (on a private copy).
    ///
    /// Nothing changes if a field is not allowed on the wire
    /// ([`is_valid`](Self::is_valid) is `false`): writing the head reports
    /// that, as it would have.
    ///
    /// ```
    /// use sockless_core::HeaderList;
    /// let mut h = HeaderList::new().with("Content-Type", "text/plain").with("Content-Length", "13");
    /// h.freeze();
    /// assert_eq!(h.as_wire(), Some(&b"Content-Type: text/plain\r\nContent-Length: 13\r\n"[..]));
    /// let copy = h.clone(); // no allocation
    /// assert_eq!(copy.get("content-length"), Some(&b"13"[..]));
    /// ```
    pub fn freeze(&mut self) {
        if !self.valid || matches!(self.storage, Storage::Frozen { .. }) {
            return;
        }
        let size: usize = self.iter().map(|(n, v)| n.len() + v.len() + 4).sum();
        if u32::try_from(size).is_err() {
            return;
        }
        let mut wire = Vec::with_capacity(size);
        let mut spans = Vec::with_capacity(self.len());
        for (n, v) in self.iter() {
            // In range: the whole is under 4 GiB (checked above).
            let name_start = wire.len() as u32;
            wire.extend_from_slice(n);
            wire.extend_from_slice(b": ");
            let value_start = wire.len() as u32;
            wire.extend_from_slice(v);
            spans.push(Span { name_start, value_start, value_end: wire.len() as u32 });
            wire.extend_from_slice(b"\r\n");
        }
        self.storage = Storage::Frozen { wire: Bytes::from(wire), spans: spans.into() };
    }

    /// The fields as HTTP/1.1 wire lines (`name: value` CRLF each), when the
    /// list holds them exactly so: after [`freeze`](Self::freeze).
    #[inline]
    pub fn as_wire(&self) -> Option<&[u8]> {
        match &self.storage {
            Storage::Frozen { wire, .. } => Some(wire),
            _ => None,
        }
    }

    /// Builder form of [`push`](Self::push).
    pub fn with(mut self, name: impl AsRef<[u8]>, value: impl AsRef<[u8]>) -> Self {
        self.push(name, value);
        self
    }

    /// Number of fields.
    #[inline]
    pub fn len(&self) -> usize {
        match &self.storage {
            Storage::Section { count, .. } => *count as usize,
            Storage::Owned { spans, .. } => spans.len(),
            Storage::Frozen { spans, .. } => spans.len(),
        }
    }

    /// Whether there are no fields.
    #[inline]
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The field at `index`, as `(name, value)`.
    pub fn field(&self, index: usize) -> Option<(&[u8], &[u8])> {
        match &self.storage {
            Storage::Owned { buf, spans } => {
                let s = spans.get(index)?;
                let range = |r: Range<u32>| buf.get(r.start as usize..r.end as usize).unwrap_or_default();
                Some((range(s.name_start..s.value_start), range(s.value_start..s.value_end)))
            }
            Storage::Section { .. } | Storage::Frozen { .. } => self.iter().nth(index),
        }
    }

    /// All fields in order.
    #[inline]
    pub fn iter(&self) -> Iter<'_> {
        match &self.storage {
            Storage::Section { bytes, start, count } => Iter(IterInner::Section {
                rest: bytes.get(*start as usize..).unwrap_or_default(),
                left: *count as usize,
            }),
            Storage::Owned { buf, spans } => Iter(IterInner::Spans { buf, spans: spans.iter(), gap: 0 }),
            Storage::Frozen { wire, spans } => Iter(IterInner::Spans { buf: wire, spans: spans.iter(), gap: 2 }),
        }
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
        let name = name.as_ref();
        let before = self.len();
        let mut kept = HeaderList::new();
        for (n, v) in self.iter() {
            if !n.eq_ignore_ascii_case(name) {
                kept.push(n, v);
            }
        }
        let removed = before - kept.len();
        if removed > 0 {
            *self = kept;
        }
        removed
    }

    /// Whether every field passes [`validate_field`](crate::validate_field)
    /// (kept up to date as fields are added; no scan).
    #[inline]
    pub fn is_valid(&self) -> bool {
        self.valid
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
pub struct Iter<'a>(IterInner<'a>);

enum IterInner<'a> {
    /// Over a received section: lines not read yet, fields not read yet.
    Section { rest: &'a [u8], left: usize },
    /// Over an owned (`gap` 0) or frozen (`gap` 2) list.
    Spans { buf: &'a [u8], spans: core::slice::Iter<'a, Span>, gap: u32 },
}

impl<'a> Iter<'a> {
    /// The fields of a received field section that is not owned: `section`
    /// holds `count` lines `name ":" OWS value OWS CRLF` as a parser has
    /// checked them (what [`HeaderList::from_section`] reads, borrowed).
    /// Malformed bytes never cause a panic; the fields read from them are
    /// then unspecified.
    ///
    /// ```
    /// use sockless_core::HeaderIter;
    /// let fields: Vec<_> = HeaderIter::over_section(b"Host: a\r\nX-Y:  b c \r\n", 2).collect();
    /// assert_eq!(fields, [(&b"Host"[..], &b"a"[..]), (&b"X-Y"[..], &b"b c"[..])]);
    /// ```
    #[inline]
    pub fn over_section(section: &'a [u8], count: usize) -> Self {
        Iter(IterInner::Section { rest: section, left: count })
    }
}

impl<'a> Iterator for Iter<'a> {
    type Item = (&'a [u8], &'a [u8]);
    #[inline]
    fn next(&mut self) -> Option<Self::Item> {
        match &mut self.0 {
            IterInner::Section { rest, left } => {
                if *left == 0 {
                    return None;
                }
                *left -= 1;
                let line_end = rest.iter().position(|&b| b == b'\n').unwrap_or(rest.len());
                let line = &rest[..line_end];
                let line = line.strip_suffix(b"\r").unwrap_or(line);
                *rest = rest.get(line_end + 1..).unwrap_or_default();
                Some(split_line(line))
            }
            IterInner::Spans { buf, spans, gap } => {
                let s = spans.next()?;
                let range = |a: u32, b: u32| buf.get(a as usize..b as usize).unwrap_or_default();
                Some((range(s.name_start, s.value_start.saturating_sub(*gap)), range(s.value_start, s.value_end)))
            }
        }
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        let left = match &self.0 {
            IterInner::Section { left, .. } => *left,
            IterInner::Spans { spans, .. } => spans.len(),
        };
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
    fn received_section_is_read_lazily() {
        let bytes = Bytes::from_static(b"GET / HTTP/1.1\r\nA:1\r\nb:  two words \t\r\nA: 3\r\n\r\n");
        let mut h = HeaderList::from_section(bytes, 16, 3).unwrap();
        assert_eq!(h.len(), 3);
        assert_eq!(h.field(1), Some((&b"b"[..], &b"two words"[..])));
        assert_eq!(h.get_all("a").collect::<Vec<_>>(), [&b"1"[..], b"3"]);
        h.push("c", "4");
        assert_eq!(h.len(), 4);
        assert_eq!(h.remove("A"), 2);
        assert_eq!(h.iter().collect::<Vec<_>>(), [(&b"b"[..], &b"two words"[..]), (&b"c"[..], &b"4"[..])]);
        assert!(HeaderList::from_section(Bytes::new(), 1, 0).is_none());
    }

    #[test]
    fn frozen_lists_read_back_and_stay_editable() {
        let mut h: HeaderList = [("A", "1"), ("b", ""), ("C", "x y")].into_iter().collect();
        let before = h.clone();
        h.freeze();
        assert_eq!(h, before);
        assert_eq!(h.as_wire(), Some(&b"A: 1\r\nb: \r\nC: x y\r\n"[..]));
        assert_eq!(h.field(2), Some((&b"C"[..], &b"x y"[..])));
        h.push("d", "4");
        assert_eq!(h.as_wire(), None);
        assert_eq!(h.len(), 4);
        let mut invalid = HeaderList::new().with("bad name", "v");
        invalid.freeze();
        assert!(invalid.as_wire().is_none() && !invalid.is_valid());
        let mut empty = HeaderList::new();
        empty.freeze();
        assert_eq!(empty.as_wire(), Some(&b""[..]));
        assert!(empty.is_empty());
        let received = HeaderList::from_section(Bytes::from_static(b"A:1\r\n\r\n"), 0, 1).unwrap();
        assert_eq!(received.as_wire(), None);
    }

    #[test]
    fn malformed_sections_do_not_panic() {
        let h = HeaderList::from_section(Bytes::from_static(b"no colon\nx"), 0, 5).unwrap();
        assert_eq!(h.iter().count(), 5);
    }

    #[test]
    fn owned_lists() {
        let mut h = HeaderList::new();
        for i in 0..40 {
            h.push(alloc::format!("x-{i}"), "v");
        }
        assert_eq!(h.len(), 40);
        assert_eq!(h.get("X-39"), Some(&b"v"[..]));
        assert_eq!(h.remove("x-3"), 1);
        assert_eq!(h.len(), 39);
    }

    #[test]
    fn equality_keeps_case_and_order() {
        let a: HeaderList = [("A", "1"), ("b", "2")].into_iter().collect();
        let b = HeaderList::from_section(Bytes::from_static(b"A: 1\r\nb: 2\r\n"), 0, 2).unwrap();
        let c: HeaderList = [("a", "1"), ("b", "2")].into_iter().collect();
        assert_eq!(a, b);
        assert_ne!(a, c);
    }
}
