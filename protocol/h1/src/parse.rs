//! Head parsing: httparse does the grammar, this module adds what httparse
//! does not check (bare LF, target form, version, framing fields, Host) and
//! finds where a head ends without re-scanning a partial head. Request heads
//! in canonical form (nearly all) are read first by a one-pass reader of our
//! own ([`canonical`]), held to exactly httparse's answers by tests and a
//! fuzz target; anything else goes to httparse.
//!
//! A head is parsed at most twice: once when its first bytes arrive (most
//! heads arrive whole), and once more when the end-of-head line is found by
//! scanning only the bytes that arrived since. Errors are reported once the
//! head is complete (or a limit is hit), so the same bytes give the same
//! result however they are split. What the RFCs tell us to accept although
//! httparse does not (obs-fold in a response, a higher HTTP/1.x minor
//! version) is repaired on a copy of the complete head, and the caller that
//! takes the head writes the repaired bytes back.

use crate::config::{Config, MAX_HEADERS_CAP};
use crate::fields::{FieldInfo, Scan};
use alloc::vec::Vec;
use bytes::{Bytes, BytesMut};
use core::mem::MaybeUninit;
use core::ops::Range;
use sockless_core::{HeaderList, Method, ProtocolErrorKind as Kind, RequestHead, ResponseHead, Version};

/// Where we are in finding the end of a head.
#[derive(Debug, Default)]
pub(crate) struct HeadScanner {
    /// `None`: httparse has not seen this head yet. `Some(i)`: the end was
    /// not found in `buf[..i + 3]`; scan on from `i`.
    scan_from: Option<usize>,
}

pub(crate) struct ScannedRequest {
    pub head: RequestHead,
    pub info: FieldInfo,
}

pub(crate) struct ParsedResponse {
    pub head: ResponseHead,
    pub info: FieldInfo,
}

enum Attempt<P> {
    Complete(usize, P),
    Partial,
    Invalid(httparse::Error),
}

/// What a parse of a complete head yields before its bytes are frozen.
#[derive(Debug, PartialEq)]
pub(crate) struct RequestParts {
    /// The method is `head[..method_end]` (kept small: these parts move
    /// through a few calls).
    pub method_end: usize,
    pub target: Range<usize>,
    pub version: Version,
    pub fields: Fields,
}

struct ResponseParts {
    status: u16,
    reason: Range<usize>,
    version: Version,
    fields: Fields,
}

/// Where the field section starts, how many fields, and what they say.
#[derive(Debug, PartialEq)]
pub(crate) struct Fields {
    pub start: usize,
    pub count: usize,
    pub info: FieldInfo,
}

/// Offset of `part` inside `whole`, if it lies there.
fn offset_in(whole: &[u8], part: &[u8]) -> Option<usize> {
    let (w, p) = (whole.as_ptr() as usize, part.as_ptr() as usize);
    (p >= w && p + part.len() <= w + whole.len()).then(|| p - w)
}

/// One pass over httparse's fields: line endings, framing fields, section start.
fn fields_of(head: &[u8], headers: &[httparse::Header<'_>]) -> Result<Fields, Kind> {
    let mut scan = Scan::default();
    let mut start = head.len().saturating_sub(2);
    for (i, h) in headers.iter().enumerate() {
        let name = h.name.as_bytes();
        let at = offset_in(head, name).ok_or(Kind::InvalidHeaderName)?;
        // httparse accepts bare LF line endings; RFC 9112 section 2.2 lets
        // us refuse them, and we do: every field line follows a CRLF.
        if at < 2 || &head[at - 2..at] != b"\r\n" {
            return Err(Kind::InvalidLineEnding);
        }
        if i == 0 {
            start = at;
        }
        scan.add(name, h.value)?;
    }
    if !head.ends_with(b"\r\n\r\n") {
        return Err(Kind::InvalidLineEnding);
    }
    Ok(Fields { start, count: headers.len(), info: scan.finish() })
}

/// The one-pass reader of canonical request heads.
mod canonical {
    use super::{Fields, RequestParts};
    use crate::fields::Scan;
    use sockless_core::{ProtocolErrorKind as Kind, Version};

    /// What [`request`] found.
    pub(super) enum Outcome {
        /// A complete canonical head of this many bytes.
        Complete(usize, Result<RequestParts, Kind>),
        /// Every byte so far is canonical; the head is not complete.
        Partial,
        /// Something outside the canonical subset: httparse and the checks
        /// around it decide.
        Other,
    }

    const TCHAR: u8 = 1;
    const TARGET: u8 = 2;
    const VALUE: u8 = 4;

    /// Byte classes: `tchar` (RFC 9110 section 5.6.2), a target byte
    /// (visible ASCII), a field-value byte (visible ASCII, SP, HTAB).
    static CLASS: [u8; 256] = {
        let mut t = [0u8; 256];
        let mut i = 0;
        while i < 256 {
            let b = i as u8;
            let mut c = 0;
            if sockless_core::is_tchar(b) {
                c |= TCHAR;
            }
            if b > 0x20 && b < 0x7f {
                c |= TARGET | VALUE;
            }
            if b == b' ' || b == b'\t' {
                c |= VALUE;
            }
            t[i] = c;
            i += 1;
        }
        t
    };

    #[inline(always)]
    fn is(b: u8, class: u8) -> bool {
        CLASS[b as usize] & class != 0
    }

    /// Index of the first byte at or after `i` that is not in `class`:
    /// four bytes a step (one bounds check for four table lookups, each
    /// with its own exit), then byte by byte.
    #[inline(always)]
    fn skip(buf: &[u8], mut i: usize, class: u8) -> usize {
        while let Some(&[a, b, c, d]) = buf.get(i..i + 4) {
            if !is(a, class) {
                return i;
            }
            if !is(b, class) {
                return i + 1;
            }
            if !is(c, class) {
                return i + 2;
            }
            if !is(d, class) {
                return i + 3;
            }
            i += 4;
        }
        while i < buf.len() && is(buf[i], class) {
            i += 1;
        }
        i
    }

    /// [`skip`] over a field name, kept out of line: inside the loop over
    /// fields the compiler runs short of registers and reloads the buffer
    /// from the stack for every byte; on its own the loop is tight.
    #[inline(never)]
    fn skip_name(buf: &[u8], i: usize) -> usize {
        skip(buf, i, TCHAR)
    }

    /// Index of the first byte at or after `i` that is not in `class`,
    /// eight bytes at a time over bytes from `min` to `~` (0x7e), all of
    /// which must be in `class`. In each word, the lowest byte below `min`
    /// or above `~` is found exactly (borrows and carries between bytes
    /// only ever reach bytes above one that is itself out of range); the
    /// byte loop takes over there (a value may go on with HTAB).
    #[inline(always)]
    fn skip_visible(buf: &[u8], mut i: usize, min: u8, class: u8) -> usize {
        const ONES: u64 = 0x0101_0101_0101_0101;
        const HIGH: u64 = 0x8080_8080_8080_8080;
        while let Some(chunk) = buf.get(i..i + 8) {
            let w =
                u64::from_le_bytes([chunk[0], chunk[1], chunk[2], chunk[3], chunk[4], chunk[5], chunk[6], chunk[7]]);
            let below = w.wrapping_sub(u64::from(min) * ONES) & !w;
            let above = w.wrapping_add(ONES) | w;
            let out = (below | above) & HIGH;
            if out != 0 {
                i += (out.trailing_zeros() / 8) as usize;
                break;
            }
            i += 8;
        }
        skip(buf, i, class)
    }

    /// Whether `rest` is the start of `HTTP/1.1` CRLF or `HTTP/1.0` CRLF.
    fn version_prefix(rest: &[u8]) -> bool {
        b"HTTP/1.1\r\n".starts_with(rest) || b"HTTP/1.0\r\n".starts_with(rest)
    }

    /// Reads a request head in its canonical form — `tchar` method, SP, a
    /// visible-ASCII target, SP, `HTTP/1.1` or `HTTP/1.0`, CRLF, then
    /// `name ":" OWS value CRLF` lines with visible-ASCII, SP and HTAB values,
    /// at most `limit` of them, and CRLF — in one pass, the framing fields
    /// read on the way. Nearly every real request has this form. Every head
    /// it accepts, httparse and [`super::fields_of`] accept with the same
    /// result (`canonical_heads_read_as_httparse_reads_them` in the tests
    /// and the `h1_request_parser` fuzz target check it); anything
    /// else is left to them.
    pub(super) fn request(buf: &[u8], limit: usize) -> Outcome {
        let len = buf.len();
        // The usual method at once, any other token byte by byte.
        let method_end = match buf.get(..4) {
            Some(b"GET ") => 3,
            _ => skip(buf, 0, TCHAR),
        };
        match buf.get(method_end) {
            None => return Outcome::Partial,
            Some(b' ') if method_end > 0 => {}
            Some(_) => return Outcome::Other,
        }
        let t0 = method_end + 1;
        let t1 = skip_visible(buf, t0, b'!', TARGET);
        match buf.get(t1) {
            None => return Outcome::Partial,
            Some(b' ') if t1 > t0 => {}
            Some(_) => return Outcome::Other,
        }
        let v0 = t1 + 1;
        let version = match buf.get(v0..v0 + 10) {
            Some(b"HTTP/1.1\r\n") => Version::Http11,
            Some(b"HTTP/1.0\r\n") => Version::Http10,
            Some(_) => return Outcome::Other,
            None if version_prefix(&buf[v0.min(len)..]) => return Outcome::Partial,
            None => return Outcome::Other,
        };
        let start = v0 + 10;
        let mut i = start;
        let mut count = 0;
        let mut scan = Scan::default();
        let mut error = None;
        loop {
            match (buf.get(i), buf.get(i + 1)) {
                (Some(b'\r'), Some(b'\n')) => break,
                (Some(b'\r'), None) | (None, _) => return Outcome::Partial,
                _ => {}
            }
            let name_end = skip_name(buf, i);
            match buf.get(name_end) {
                None => return Outcome::Partial,
                Some(b':') if name_end > i => {}
                Some(_) => return Outcome::Other,
            }
            let mut v = name_end + 1;
            while matches!(buf.get(v), Some(b' ' | b'\t')) {
                v += 1;
            }
            let value_start = v;
            let value_end = skip_visible(buf, value_start, b' ', VALUE);
            match (buf.get(value_end), buf.get(value_end + 1)) {
                (Some(b'\r'), Some(b'\n')) => {}
                (None, _) | (Some(b'\r'), None) => return Outcome::Partial,
                _ => return Outcome::Other,
            }
            count += 1;
            if count > limit {
                return Outcome::Other;
            }
            let mut end = value_end;
            while end > value_start && matches!(buf[end - 1], b' ' | b'\t') {
                end -= 1;
            }
            if error.is_none() {
                if let Err(kind) = scan.add(&buf[i..name_end], &buf[value_start..end]) {
                    error = Some(kind);
                }
            }
            i = value_end + 2;
        }
        let n = i + 2;
        let parts = match error {
            Some(kind) => Err(kind),
            None => Ok(RequestParts {
                method_end,
                target: t0..t1,
                version,
                fields: Fields { start, count, info: scan.finish() },
            }),
        };
        Outcome::Complete(n, parts)
    }
}

fn version_of(minor: Option<u8>) -> Version {
    match minor {
        Some(0) => Version::Http10,
        _ => Version::Http11,
    }
}

fn attempt_request(buf: &[u8], limit: usize) -> Attempt<Result<RequestParts, Kind>> {
    match canonical::request(buf, limit) {
        canonical::Outcome::Complete(n, parts) => Attempt::Complete(n, parts),
        canonical::Outcome::Partial => Attempt::Partial,
        canonical::Outcome::Other => httparse_request(buf, limit),
    }
}

/// Any request head: httparse does the grammar, then the checks it does not
/// make.
fn httparse_request(buf: &[u8], limit: usize) -> Attempt<Result<RequestParts, Kind>> {
    let mut storage = [const { MaybeUninit::<httparse::Header<'_>>::uninit() }; MAX_HEADERS_CAP];
    let mut req = httparse::Request::new(&mut []);
    let n = match req.parse_with_uninit_headers(buf, &mut storage[..limit]) {
        Ok(httparse::Status::Complete(n)) => n,
        Ok(httparse::Status::Partial) => return Attempt::Partial,
        Err(e) => return Attempt::Invalid(e),
    };
    let head = &buf[..n];
    let parts = (|| {
        let fields = fields_of(head, req.headers)?;
        let target = req.path.unwrap_or_default().as_bytes();
        let t0 = offset_in(head, target).ok_or(Kind::InvalidTarget)?;
        Ok(RequestParts {
            // httparse's method starts the buffer (empty lines before it
            // were skipped already).
            method_end: match req.method.map(|m| (offset_in(head, m.as_bytes()), m.len())) {
                Some((Some(0), len)) => len,
                _ => return Err(Kind::InvalidMethod),
            },
            target: t0..t0 + target.len(),
            version: version_of(req.version),
            fields,
        })
    })();
    Attempt::Complete(n, parts)
}

fn attempt_response(buf: &[u8], limit: usize) -> Attempt<Result<ResponseParts, Kind>> {
    let mut storage = [const { MaybeUninit::<httparse::Header<'_>>::uninit() }; MAX_HEADERS_CAP];
    let mut res = httparse::Response::new(&mut []);
    let parsed =
        httparse::ParserConfig::default().parse_response_with_uninit_headers(&mut res, buf, &mut storage[..limit]);
    let n = match parsed {
        Ok(httparse::Status::Complete(n)) => n,
        Ok(httparse::Status::Partial) => return Attempt::Partial,
        Err(e) => return Attempt::Invalid(e),
    };
    let head = &buf[..n];
    let fields = match fields_of(head, res.headers) {
        Ok(f) => f,
        Err(kind) => return Attempt::Complete(n, Err(kind)),
    };
    // The reason phrase is whatever follows `HTTP/1.x NNN ` on the status
    // line (httparse hands out an unrelated empty string for an absent or
    // non-UTF-8 reason, so it is located here instead).
    let line_end = head.iter().position(|&b| b == b'\r').unwrap_or(0);
    let reason = if line_end > 13 { 13..line_end } else { line_end..line_end };
    Attempt::Complete(
        n,
        Ok(ResponseParts { status: res.code.unwrap_or_default(), reason, version: version_of(res.version), fields }),
    )
}

/// Fixes, in place, the two things a complete head may hold that RFC 9110
/// and 9112 tell us to accept although httparse does not: obs-fold in a
/// response (a user agent MUST replace it with SP, RFC 9112 section 5.2) and
/// a higher HTTP/1.x minor version (processed as HTTP/1.1, RFC 9110 section
/// 2.5). Returns whether anything changed.
fn repair(head: &mut [u8], is_request: bool, error: httparse::Error) -> bool {
    match error {
        httparse::Error::HeaderName if !is_request => {
            let mut changed = false;
            let first_line = head.iter().position(|&b| b == b'\n').unwrap_or(head.len());
            let mut i = first_line + 1;
            while i + 2 < head.len() {
                if &head[i..i + 2] == b"\r\n" && matches!(head[i + 2], b' ' | b'\t') {
                    head[i] = b' ';
                    head[i + 1] = b' ';
                    changed = true;
                }
                i += 1;
            }
            changed
        }
        httparse::Error::Version => {
            let line_end = head.iter().position(|&b| b == b'\r' || b == b'\n').unwrap_or(head.len());
            let line = &head[..line_end];
            let at = if is_request { line.iter().rposition(|&b| b == b' ').map(|p| p + 1) } else { Some(0) };
            let Some(at) = at else { return false };
            match head.get(at..at + 8) {
                Some([b'H', b'T', b'T', b'P', b'/', b'1', b'.', minor])
                    if (b'2'..=b'9').contains(minor) && (at + 8 == line_end || head[at + 8] == b' ') =>
                {
                    head[at + 7] = b'1';
                    true
                }
                _ => false,
            }
        }
        _ => false,
    }
}

/// Position just past the empty line ending a head in `buf`, scanning from `from`.
pub(crate) fn find_head_end(buf: &[u8], from: usize) -> Option<usize> {
    let mut i = from;
    while let Some(p) = buf.get(i..)?.iter().position(|&b| b == b'\n') {
        let lf = i + p;
        match buf.get(lf + 1) {
            Some(b'\n') => return Some(lf + 2),
            Some(b'\r') => match buf.get(lf + 2) {
                Some(b'\n') => return Some(lf + 3),
                Some(_) => {}
                None => return None,
            },
            Some(_) => {}
            None => return None,
        }
        i = lf + 1;
    }
    None
}

/// How many bytes of empty lines come before a message (RFC 9112 section
/// 2.2). A bare LF there is an error; a lone CR at the end waits for more.
pub(crate) fn leading_empty_lines(buf: &[u8]) -> Result<usize, Kind> {
    let mut n = 0;
    loop {
        match (buf.get(n), buf.get(n + 1)) {
            (Some(b'\r'), Some(b'\n')) => n += 2,
            (Some(b'\r'), None) => return Ok(n),
            (Some(b'\r'), Some(_)) | (Some(b'\n'), _) => return Err(Kind::InvalidLineEnding),
            _ => return Ok(n),
        }
    }
}

/// A complete head at the front of a buffer.
pub(crate) struct Located<P> {
    /// Its length.
    pub end: usize,
    /// What it says, as offsets into it.
    pub parts: P,
    /// The head as it was read, when something the RFCs tell us to accept
    /// had to be rewritten first (see [`repair`]); `None` almost always.
    pub repaired: Option<Vec<u8>>,
}

impl HeadScanner {
    /// Finds and parses a complete head at the start of `buf` (empty lines
    /// before it already skipped), or says why there is none yet. `attempt`
    /// parses a prefix.
    fn locate<P>(
        &mut self,
        buf: &[u8],
        config: &Config,
        is_request: bool,
        attempt: impl Fn(&[u8]) -> Attempt<Result<P, Kind>>,
    ) -> Result<Option<Located<P>>, Kind> {
        let end = match self.scan_from {
            None => {
                if buf.is_empty() || buf == b"\r" {
                    return Ok(None);
                }
                match attempt(buf) {
                    Attempt::Complete(n, p) => {
                        // The size limit comes first, as it does for a head
                        // that arrives in pieces.
                        if n > config.max_head_bytes {
                            return Err(too_large(&buf[..n], config, is_request));
                        }
                        return p.map(|parts| Some(Located { end: n, parts, repaired: None }));
                    }
                    Attempt::Partial => None,
                    Attempt::Invalid(_) => find_head_end(buf, 0),
                }
            }
            Some(from) => find_head_end(buf, from),
        };
        let Some(end) = end else {
            self.scan_from = Some(buf.len().saturating_sub(2));
            if buf.len() > config.max_head_bytes {
                return Err(too_large(buf, config, is_request));
            }
            return Ok(None);
        };
        // The head is complete: parse it once, repairing (on a copy) what
        // the RFCs say to accept, and report errors only now, so that any
        // split of the same bytes gives the same result.
        self.scan_from = None;
        if end > config.max_head_bytes {
            return Err(too_large(&buf[..end], config, is_request));
        }
        // A complete head that still reads as partial has a broken start line.
        let broken_start = if is_request { Kind::InvalidRequestLine } else { Kind::InvalidStatusLine };
        let mut error = match attempt(&buf[..end]) {
            Attempt::Complete(n, p) => return p.map(|parts| Some(Located { end: n, parts, repaired: None })),
            Attempt::Partial => return Err(broken_start),
            Attempt::Invalid(e) => e,
        };
        let mut copy = buf[..end].to_vec();
        for _ in 0..2 {
            if !repair(&mut copy, is_request, error) {
                break;
            }
            match attempt(&copy) {
                Attempt::Complete(n, p) => {
                    return p.map(|parts| Some(Located { end: n, parts, repaired: Some(copy) }));
                }
                Attempt::Partial => return Err(broken_start),
                Attempt::Invalid(e) => error = e,
            }
        }
        Err(classify(error, &copy, is_request))
    }

    /// Whether a head has started arriving (bytes are buffered but the head
    /// is incomplete).
    pub(crate) fn in_progress(&self) -> bool {
        self.scan_from.is_some()
    }

    /// Parses a request head at the start of `buf` (empty lines before it
    /// already skipped), without taking it: the target checked, the parts
    /// as offsets.
    pub(crate) fn request_parts(&mut self, buf: &[u8], config: &Config) -> Result<Option<Located<RequestParts>>, Kind> {
        let limit = config.header_limit();
        // First, complete or not, so the verdict does not depend on how
        // the bytes were split.
        check_method_start(buf)?;
        let Some(located) = self.locate(buf, config, true, |b| attempt_request(b, limit))? else {
            return Ok(None);
        };
        let p = &located.parts;
        let target = &buf[p.target.clone()];
        check_target(&buf[..p.method_end], target, config)?;
        if let Some(authority) = absolute_authority(target) {
            check_host_matches(authority, &buf[p.fields.start..located.end], p.fields.count)?;
        }
        Ok(Some(located))
    }

    /// Parses a request head from the front of `buf`, splitting it off.
    pub(crate) fn request(&mut self, buf: &mut BytesMut, config: &Config) -> Result<Option<ScannedRequest>, Kind> {
        if !self.in_progress() {
            let skip = leading_empty_lines(buf)?;
            bytes::Buf::advance(buf, skip);
        }
        let Some(Located { end, parts: p, repaired }) = self.request_parts(buf, config)? else {
            return Ok(None);
        };
        if let Some(copy) = repaired {
            buf[..copy.len()].copy_from_slice(&copy);
        }
        let bytes: Bytes = buf.split_to(end).freeze();
        // Most requests are for `/`: a static target then costs no reference
        // count on the head's bytes.
        let target =
            if bytes.get(p.target.clone()) == Some(b"/") { Bytes::from_static(b"/") } else { bytes.slice(p.target) };
        let method = Method::from_bytes(&bytes[..p.method_end]);
        let headers =
            HeaderList::from_section(bytes, p.fields.start, p.fields.count).ok_or(Kind::InvalidRequestLine)?;
        Ok(Some(ScannedRequest {
            head: RequestHead { method, target, version: p.version, headers },
            info: p.fields.info,
        }))
    }

    /// Parses a response head from the front of `buf`, splitting it off.
    pub(crate) fn response(&mut self, buf: &mut BytesMut, config: &Config) -> Result<Option<ParsedResponse>, Kind> {
        if !self.in_progress() {
            let skip = leading_empty_lines(buf)?;
            bytes::Buf::advance(buf, skip);
        }
        let limit = config.header_limit();
        let Some(Located { end, parts: p, repaired }) =
            self.locate(buf, config, false, |b| attempt_response(b, limit))?
        else {
            return Ok(None);
        };
        if let Some(copy) = repaired {
            buf[..copy.len()].copy_from_slice(&copy);
        }
        let bytes: Bytes = buf.split_to(end).freeze();
        let reason = bytes.slice(p.reason);
        let headers = HeaderList::from_section(bytes, p.fields.start, p.fields.count).ok_or(Kind::InvalidStatusLine)?;
        Ok(Some(ParsedResponse {
            head: ResponseHead { status: p.status, reason, version: p.version, headers },
            info: p.fields.info,
        }))
    }
}

/// How much of an incomplete request's method is checked before the head
/// is complete (a bound on the rescan per call; methods are short).
const METHOD_PREFIX: usize = 32;

/// Refuses an incomplete request head whose first bytes cannot start a
/// request line (a NUL, a control byte, a space: the method is a token,
/// RFC 9112 section 3): waiting for the rest would only hold the
/// connection open for bytes that can never make a request.
fn check_method_start(buf: &[u8]) -> Result<(), Kind> {
    for (i, &b) in buf.iter().take(METHOD_PREFIX).enumerate() {
        match b {
            b' ' if i > 0 => return Ok(()),
            // A lone CR after empty lines may be the start of one more.
            b'\r' if i == 0 && buf.len() == 1 => return Ok(()),
            b if sockless_core::is_tchar(b) => {}
            _ => return Err(Kind::InvalidMethod),
        }
    }
    Ok(())
}

/// 414 when the request line alone is too long, else 431.
fn too_large(buf: &[u8], config: &Config, is_request: bool) -> Kind {
    let line = buf.iter().position(|&b| b == b'\n').unwrap_or(buf.len());
    if is_request && line > config.max_target_len {
        Kind::TargetTooLong
    } else {
        Kind::HeadTooLarge
    }
}

/// httparse accepts bare LF line endings; RFC 9112 section 2.2 lets us
/// reject them, and we do (request smuggling lives in such gaps). Every
/// line start after the first must follow CRLF, and the head must end in
/// CRLF CRLF. httparse already refuses a bare CR inside a line.
pub(crate) fn check_line_endings<'a>(head: &[u8], names: impl Iterator<Item = &'a [u8]>) -> Result<(), Kind> {
    for name in names {
        let start = offset_in(head, name).ok_or(Kind::InvalidHeaderName)?;
        if start != 0 && (start < 2 || &head[start - 2..start] != b"\r\n") {
            return Err(Kind::InvalidLineEnding);
        }
    }
    if !head.ends_with(b"\r\n\r\n") {
        return Err(Kind::InvalidLineEnding);
    }
    Ok(())
}

/// Turns an httparse error on a complete head into what was wrong.
fn classify(e: httparse::Error, head: &[u8], is_request: bool) -> Kind {
    use httparse::Error as E;
    match e {
        E::HeaderName => {
            if head.windows(2).any(|w| w[0] == b'\n' && (w[1] == b' ' || w[1] == b'\t')) {
                Kind::ObsFold
            } else {
                Kind::InvalidHeaderName
            }
        }
        E::HeaderValue => Kind::InvalidHeaderValue,
        E::NewLine => match classify_version(head, is_request) {
            Kind::InvalidVersion => Kind::InvalidVersion,
            _ => Kind::InvalidLineEnding,
        },
        E::Status => Kind::InvalidStatusLine,
        E::TooManyHeaders => Kind::TooManyHeaders,
        E::Version => classify_version(head, is_request),
        E::Token if is_request => {
            let line = head.split(|&b| b == b'\r' || b == b'\n').next().unwrap_or_default();
            let mut parts = line.split(|&b| b == b' ');
            let method = parts.next().unwrap_or_default();
            let target = parts.next().unwrap_or_default();
            if method.is_empty() || !method.iter().all(|&b| sockless_core::is_tchar(b)) {
                Kind::InvalidMethod
            } else if target.iter().any(|&b| !(0x21..0x7f).contains(&b)) {
                Kind::InvalidTarget
            } else {
                Kind::InvalidRequestLine
            }
        }
        E::Token => Kind::InvalidStatusLine,
    }
}

/// `HTTP/x.y` with a major version other than 1 is well formed but not ours
/// (505); anything else is malformed (400).
fn classify_version(head: &[u8], is_request: bool) -> Kind {
    let line = head.split(|&b| b == b'\r' || b == b'\n').next().unwrap_or_default();
    let version = if is_request { line.rsplit(|&b| b == b' ').next() } else { line.split(|&b| b == b' ').next() }
        .unwrap_or_default();
    match version {
        [b'H', b'T', b'T', b'P', b'/', major, b'.', minor] if major.is_ascii_digit() && minor.is_ascii_digit() => {
            Kind::UnsupportedVersion
        }
        _ => Kind::InvalidVersion,
    }
}

/// The four target forms of RFC 9112 section 3.2, each only with the
/// methods that may use it, ASCII only.
fn check_target(method: &[u8], target: &[u8], config: &Config) -> Result<(), Kind> {
    if target.len() > config.max_target_len {
        return Err(Kind::TargetTooLong);
    }
    if !target.is_ascii() {
        return Err(Kind::InvalidTarget);
    }
    let ok = match method {
        b"CONNECT" => is_authority_form(target),
        _ if target == b"*" => method == b"OPTIONS",
        _ => target.first() == Some(&b'/') || is_absolute_form(target),
    };
    if ok {
        Ok(())
    } else {
        Err(Kind::InvalidTarget)
    }
}

fn is_absolute_form(t: &[u8]) -> bool {
    let Some(colon) = t.iter().position(|&b| b == b':') else { return false };
    let scheme = &t[..colon];
    let valid_scheme = !scheme.is_empty()
        && scheme[0].is_ascii_alphabetic()
        && scheme.iter().all(|&b| b.is_ascii_alphanumeric() || matches!(b, b'+' | b'-' | b'.'));
    if !valid_scheme || !t[colon..].starts_with(b"://") {
        return false;
    }
    // The authority: no userinfo (RFC 9110 section 4.2.4 tells recipients
    // to treat it as an error), a valid host and port, and for http(s) a
    // host that is not empty (section 4.2.1).
    let authority = absolute_authority(t).unwrap_or_default();
    let web = scheme.eq_ignore_ascii_case(b"http") || scheme.eq_ignore_ascii_case(b"https");
    crate::fields::is_host(authority) && !(web && authority.first().is_none_or(|&b| b == b':'))
}

/// The authority of an absolute-form target (`scheme://authority/...`).
fn absolute_authority(t: &[u8]) -> Option<&[u8]> {
    let start = t.windows(3).position(|w| w == b"://")? + 3;
    if t.first() == Some(&b'/') {
        return None;
    }
    let rest = &t[start..];
    let end = rest.iter().position(|&b| matches!(b, b'/' | b'?' | b'#')).unwrap_or(rest.len());
    Some(&rest[..end])
}

/// RFC 9112 section 3.2.2: with an absolute-form target, the Host field
/// must be identical to the target's authority. A server could ignore Host
/// and use the target; two hops that chose differently would route one
/// request to two hosts, so a difference is refused (400). Hosts compare
/// without regard to case (RFC 3986 section 3.2.2).
fn check_host_matches(authority: &[u8], section: &[u8], count: usize) -> Result<(), Kind> {
    let mut hosts =
        sockless_core::HeaderIter::over_section(section, count).filter(|(n, _)| n.eq_ignore_ascii_case(b"host"));
    match hosts.next() {
        Some((_, host)) if !host.eq_ignore_ascii_case(authority) => Err(Kind::InvalidHost),
        _ => Ok(()),
    }
}

/// `host:port`, no userinfo, no path.
fn is_authority_form(t: &[u8]) -> bool {
    let Some(colon) = t.iter().rposition(|&b| b == b':') else { return false };
    let (host, port) = (&t[..colon], &t[colon + 1..]);
    !host.is_empty() && !port.is_empty() && crate::fields::is_uri_host(host) && crate::fields::is_port(port)
}

/// Checks the canonical reader against httparse and the checks around it
/// on `buf` (panics on any disagreement): what the differential tests and
/// the `h1_request_parser` fuzz target run.
#[cfg(any(test, feature = "testing"))]
pub fn check_canonical_request(buf: &[u8], limit: usize) {
    match canonical::request(buf, limit) {
        canonical::Outcome::Complete(n, parts) => match httparse_request(buf, limit) {
            Attempt::Complete(m, other) => {
                assert_eq!(n, m, "head length");
                assert_eq!(parts, other, "parse");
            }
            Attempt::Partial => panic!("canonical head of {n} bytes, httparse wants more"),
            Attempt::Invalid(e) => panic!("canonical head of {n} bytes, httparse says {e:?}"),
        },
        // A partial canonical head gives no result before it completes on
        // the general path either.
        canonical::Outcome::Partial => match httparse_request(buf, limit) {
            Attempt::Partial => {}
            Attempt::Invalid(e) => assert!(find_head_end(buf, 0).is_none(), "partial, httparse says {e:?}"),
            Attempt::Complete(n, _) => panic!("partial, httparse read a head of {n} bytes"),
        },
        canonical::Outcome::Other => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// Every prefix of `head` (and the whole, with more bytes after it).
    fn check_all_prefixes(head: &[u8], limit: usize) {
        for end in 0..=head.len() {
            check_canonical_request(&head[..end], limit);
        }
        let mut more = head.to_vec();
        more.extend_from_slice(b"GET / HTTP/1.1\r\n");
        check_canonical_request(&more, limit);
    }

    #[test]
    fn canonical_heads_read_as_httparse_reads_them() {
        let heads: &[&[u8]] = &[
            b"GET / HTTP/1.1\r\nHost: localhost:8080\r\n\r\n",
            b"GET / HTTP/1.0\r\n\r\n",
            b"POST /a?b=c HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nX:\r\nY: \t a b \t\r\n\r\nhello",
            b"PUT /x HTTP/1.1\r\nhost: a\r\ntransfer-encoding: gzip, chunked\r\nconnection: close, upgrade\r\n\r\n",
            b"GET / HTTP/1.1\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n",
            b"GET / HTTP/1.1\r\nContent-Length: +1\r\nX: \x80\r\n\r\n",
            b"GET / HTTP/1.2\r\nHost: a\r\n\r\n",
            b"GET / HTTP/1.1\r\nHost : a\r\n\r\n",
            b"GET / HTTP/1.1\r\nHost: a\r\n b\r\n\r\n",
            b"GET / HTTP/1.1\r\nHost: a\rb\r\n\r\n",
            b"GET / HTTP/1.1\nHost: a\r\n\r\n",
            b"GET / HTTP/1.1\r\nHost: a\n\r\n",
            b"GET  / HTTP/1.1\r\n\r\n",
            b"G(T / HTTP/1.1\r\n\r\n",
            b"GET /\x7f HTTP/1.1\r\n\r\n",
            b"GET / HTTP/1.1\r\nA: \x7f\r\n\r\n",
            b"GET / HTTP/1.1\r\na: 1\r\nb: 2\r\nc: 3\r\n\r\n",
        ];
        for head in heads {
            for limit in [1, 2, 64] {
                check_all_prefixes(head, limit);
            }
        }
    }

    fn token() -> impl Strategy<Value = Vec<u8>> {
        proptest::collection::vec(
            prop_oneof![Just(b'a'), Just(b'Z'), Just(b'-'), Just(b'!'), Just(b'~'), Just(b'5'), any::<u8>()],
            0..6,
        )
    }

    fn value() -> impl Strategy<Value = Vec<u8>> {
        proptest::collection::vec(
            prop_oneof![Just(b' '), Just(b'\t'), Just(b'a'), Just(b','), Just(b'1'), Just(b'\r'), any::<u8>()],
            0..12,
        )
    }

    fn field_name() -> impl Strategy<Value = Vec<u8>> {
        prop_oneof![
            token(),
            Just(b"Content-Length".to_vec()),
            Just(b"transfer-encoding".to_vec()),
            Just(b"Host".to_vec()),
            Just(b"Connection".to_vec()),
            Just(b"Expect".to_vec()),
            Just(b"Upgrade".to_vec()),
        ]
    }

    /// Heads close to canonical: the grammar's pieces with arbitrary bytes
    /// mixed in, so both sides of every branch of the reader are taken.
    fn near_canonical_head() -> impl Strategy<Value = Vec<u8>> {
        let line_end = prop_oneof![4 => Just(b"\r\n".to_vec()), 1 => Just(b"\n".to_vec()), 1 => Just(b"\r".to_vec())];
        let version =
            prop_oneof![Just(b"HTTP/1.1".to_vec()), Just(b"HTTP/1.0".to_vec()), Just(b"HTTP/1.2".to_vec()), token()];
        let sep = prop_oneof![4 => Just(b": ".to_vec()), 1 => Just(b":".to_vec()), 1 => Just(b" :".to_vec())];
        let field = (field_name(), sep, value(), line_end.clone());
        (token(), value(), version, line_end.clone(), proptest::collection::vec(field, 0..5), line_end).prop_map(
            |(method, target, version, eol, fields, last)| {
                let mut h = method;
                h.push(b' ');
                h.extend(target);
                h.push(b' ');
                h.extend(version);
                h.extend(eol);
                for (name, sep, value, eol) in fields {
                    h.extend(name);
                    h.extend(sep);
                    h.extend(value);
                    h.extend(eol);
                }
                h.extend(last);
                h
            },
        )
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(3000))]
        #[test]
        fn canonical_reader_agrees_with_httparse(head in near_canonical_head(), limit in 1usize..6) {
            check_all_prefixes(&head, limit);
        }
    }

    fn req(bytes: &[u8]) -> Result<Option<ScannedRequest>, Kind> {
        let mut buf = BytesMut::from(bytes);
        HeadScanner::default().request(&mut buf, &Config::server())
    }

    #[test]
    fn simple_request() {
        let p = req(b"GET /a HTTP/1.1\r\nHost: x\r\nX-Y:  z \r\n\r\n").unwrap().unwrap();
        assert_eq!(p.head.method, Method::Get);
        assert_eq!(&p.head.target[..], b"/a");
        assert_eq!(p.head.headers.get("x-y"), Some(&b"z"[..]));
        assert_eq!(p.info.host_count, 1);
    }

    #[test]
    fn head_end_is_found_incrementally() {
        let config = Config::server();
        let mut s = HeadScanner::default();
        let mut buf = BytesMut::from(&b"GET / HTTP/1.1\r\nHo"[..]);
        assert!(s.request(&mut buf, &config).unwrap().is_none());
        assert!(s.in_progress());
        buf.extend_from_slice(b"st: a\r\n\r");
        assert!(s.request(&mut buf, &config).unwrap().is_none());
        buf.extend_from_slice(b"\nGET");
        let p = s.request(&mut buf, &config).unwrap().unwrap();
        assert_eq!(p.head.headers.get("host"), Some(&b"a"[..]));
        assert_eq!(&buf[..], b"GET");
    }

    #[test]
    fn rejections() {
        let cases: &[(&[u8], Kind)] = &[
            (b"GET / HTTP/1.1\nHost: a\r\n\r\n", Kind::InvalidLineEnding),
            (b"GET / HTTP/1.1\r\nHost: a\n\n", Kind::InvalidLineEnding),
            (b"GET / HTTP/2.0\r\nHost: a\r\n\r\n", Kind::UnsupportedVersion),
            (b"GET / HTTP/1.1x\r\nHost: a\r\n\r\n", Kind::InvalidVersion),
            (b"GET / HTTP/1.1\r\nHost : a\r\n\r\n", Kind::InvalidHeaderName),
            (b"GET / HTTP/1.1\r\nHost: a\r\n b\r\n\r\n", Kind::ObsFold),
            (b"GET / HTTP/1.1\r\nHost: a\0\r\n\r\n", Kind::InvalidHeaderValue),
            (b"GET / HTTP/1.1\r\nHost: a\rb\r\n\r\n", Kind::InvalidHeaderValue),
            (b"G(T / HTTP/1.1\r\nHost: a\r\n\r\n", Kind::InvalidMethod),
            (b"GET a HTTP/1.1\r\nHost: a\r\n\r\n", Kind::InvalidTarget),
            (b"GET * HTTP/1.1\r\nHost: a\r\n\r\n", Kind::InvalidTarget),
            (b"CONNECT /x HTTP/1.1\r\nHost: a\r\n\r\n", Kind::InvalidTarget),
            (b"GET /\xff HTTP/1.1\r\nHost: a\r\n\r\n", Kind::InvalidTarget),
            (b"\nGET / HTTP/1.1\r\n\r\n", Kind::InvalidLineEnding),
        ];
        for (input, kind) in cases {
            assert_eq!(req(input).err(), Some(*kind), "{}", String::from_utf8_lossy(input));
        }
        assert!(req(b"OPTIONS * HTTP/1.1\r\nHost: a\r\n\r\n").is_ok());
        assert!(req(b"CONNECT a.b:443 HTTP/1.1\r\nHost: a\r\n\r\n").is_ok());
        assert!(req(b"GET http://a/b HTTP/1.1\r\nHost: a\r\n\r\n").is_ok());
        assert!(req(b"\r\n\r\nGET / HTTP/1.1\r\nHost: a\r\n\r\n").unwrap().is_some());
    }

    #[test]
    fn limits() {
        let mut config = Config::server();
        config.max_head_bytes = 64;
        config.max_target_len = 20;
        let mut s = HeadScanner::default();
        let mut long_line = BytesMut::from(&[b"GET /".as_slice(), &[b'a'; 80]].concat()[..]);
        assert_eq!(s.request(&mut long_line, &config).err(), Some(Kind::TargetTooLong));
        let mut s = HeadScanner::default();
        let mut many =
            BytesMut::from(&b"GET / HTTP/1.1\r\nA: 0123456789012345678901234567890123456789012345678\r\n"[..]);
        assert_eq!(s.request(&mut many, &config).err(), Some(Kind::HeadTooLarge));
        let mut s = HeadScanner::default();
        let mut t = BytesMut::from(&b"GET /0123456789012345678901 HTTP/1.1\r\n\r\n"[..]);
        assert_eq!(s.request(&mut t, &config).err(), Some(Kind::TargetTooLong));
        config.max_headers = 2;
        config.max_head_bytes = 1000;
        let mut s = HeadScanner::default();
        let mut t = BytesMut::from(&b"GET / HTTP/1.1\r\na: 1\r\nb: 2\r\nc: 3\r\n\r\n"[..]);
        assert_eq!(s.request(&mut t, &config).err(), Some(Kind::TooManyHeaders));
    }

    #[test]
    fn response_heads() {
        let mut buf = BytesMut::from(&b"HTTP/1.1 404 Not Found\r\nContent-Length: 3\r\n\r\nabc"[..]);
        let p = HeadScanner::default().response(&mut buf, &Config::client()).unwrap().unwrap();
        assert_eq!(p.head.status, 404);
        assert_eq!(&p.head.reason[..], b"Not Found");
        assert_eq!(p.info.content_length, Some(3));
        assert_eq!(&buf[..], b"abc");
        let mut bad = BytesMut::from(&b"HTTP/1.1 20 OK\r\n\r\n"[..]);
        assert_eq!(HeadScanner::default().response(&mut bad, &Config::client()).err(), Some(Kind::InvalidStatusLine));
    }
}
