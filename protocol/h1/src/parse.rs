//! Head parsing: httparse does the grammar, this module adds what httparse
//! does not check (bare LF, target form, version, framing fields, Host) and
//! finds where a head ends without re-scanning a partial head.
//!
//! A head is offered to httparse at most twice: once when its first bytes
//! arrive (most heads arrive whole), and once more when the end-of-head line
//! is found by scanning only the bytes that arrived since. Errors are
//! reported once the head is complete (or a limit is hit), so the same bytes
//! give the same result however they are split.

use crate::config::{Config, MAX_HEADERS_CAP};
use crate::fields::{FieldInfo, Scan};
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
struct RequestParts {
    method: Method,
    target: Range<usize>,
    version: Version,
    fields: Fields,
}

struct ResponseParts {
    status: u16,
    reason: Range<usize>,
    version: Version,
    fields: Fields,
}

/// Where the field section starts, how many fields, and what they say.
struct Fields {
    start: usize,
    count: usize,
    info: FieldInfo,
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

fn version_of(minor: Option<u8>) -> Version {
    match minor {
        Some(0) => Version::Http10,
        _ => Version::Http11,
    }
}

fn attempt_request(buf: &[u8], limit: usize) -> Attempt<Result<RequestParts, Kind>> {
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
            method: Method::from_bytes(req.method.unwrap_or_default().as_bytes()),
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

/// Drops empty lines before a message (RFC 9112 section 2.2). A bare LF
/// there is an error; a lone CR at the end waits for more.
fn skip_leading_crlf(buf: &mut BytesMut) -> Result<(), Kind> {
    let mut n = 0;
    loop {
        match (buf.get(n), buf.get(n + 1)) {
            (Some(b'\r'), Some(b'\n')) => n += 2,
            (Some(b'\r'), None) => break,
            (Some(b'\r'), Some(_)) | (Some(b'\n'), _) => return Err(Kind::InvalidLineEnding),
            _ => break,
        }
    }
    bytes::Buf::advance(buf, n);
    Ok(())
}

impl HeadScanner {
    /// Finds and parses a complete head at the start of `buf`, or says why
    /// there is none yet. `attempt` runs httparse over a prefix.
    fn locate<P>(
        &mut self,
        buf: &mut BytesMut,
        config: &Config,
        is_request: bool,
        attempt: impl Fn(&[u8]) -> Attempt<Result<P, Kind>>,
    ) -> Result<Option<(usize, P)>, Kind> {
        let end = match self.scan_from {
            None => {
                skip_leading_crlf(buf)?;
                if buf.is_empty() || buf[..] == b"\r"[..] {
                    return Ok(None);
                }
                match attempt(buf) {
                    Attempt::Complete(n, p) => {
                        // The size limit comes first, as it does for a head
                        // that arrives in pieces.
                        if n > config.max_head_bytes {
                            return Err(too_large(&buf[..n], config, is_request));
                        }
                        return p.map(|p| Some((n, p)));
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
        // The head is complete: parse it once, repairing what the RFCs say
        // to accept, and report errors only now, so that any split of the
        // same bytes gives the same result.
        self.scan_from = None;
        if end > config.max_head_bytes {
            return Err(too_large(&buf[..end], config, is_request));
        }
        let mut repairs = 0;
        loop {
            match attempt(&buf[..end]) {
                Attempt::Complete(n, p) => return p.map(|p| Some((n, p))),
                Attempt::Partial => {
                    return Err(if is_request { Kind::InvalidRequestLine } else { Kind::InvalidStatusLine })
                }
                Attempt::Invalid(e) => {
                    if repairs < 2 && repair(&mut buf[..end], is_request, e) {
                        repairs += 1;
                        continue;
                    }
                    return Err(classify(e, &buf[..end], is_request));
                }
            }
        }
    }

    /// Whether a head has started arriving (bytes are buffered but the head
    /// is incomplete).
    pub(crate) fn in_progress(&self) -> bool {
        self.scan_from.is_some()
    }

    /// Parses a request head from the front of `buf`, splitting it off.
    pub(crate) fn request(&mut self, buf: &mut BytesMut, config: &Config) -> Result<Option<ScannedRequest>, Kind> {
        let limit = config.header_limit();
        let Some((end, p)) = self.locate(buf, config, true, |b| attempt_request(b, limit))? else {
            return Ok(None);
        };
        let bytes: Bytes = buf.split_to(end).freeze();
        let target = bytes.slice(p.target);
        check_target(&p.method, &target, config)?;
        let headers =
            HeaderList::from_section(bytes, p.fields.start, p.fields.count).ok_or(Kind::InvalidRequestLine)?;
        Ok(Some(ScannedRequest {
            head: RequestHead { method: p.method, target, version: p.version, headers },
            info: p.fields.info,
        }))
    }

    /// Parses a response head from the front of `buf`, splitting it off.
    pub(crate) fn response(&mut self, buf: &mut BytesMut, config: &Config) -> Result<Option<ParsedResponse>, Kind> {
        let limit = config.header_limit();
        let Some((end, p)) = self.locate(buf, config, false, |b| attempt_response(b, limit))? else {
            return Ok(None);
        };
        let bytes: Bytes = buf.split_to(end).freeze();
        let reason = bytes.slice(p.reason);
        let headers = HeaderList::from_section(bytes, p.fields.start, p.fields.count).ok_or(Kind::InvalidStatusLine)?;
        Ok(Some(ParsedResponse {
            head: ResponseHead { status: p.status, reason, version: p.version, headers },
            info: p.fields.info,
        }))
    }
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
fn check_target(method: &Method, target: &[u8], config: &Config) -> Result<(), Kind> {
    if target.len() > config.max_target_len {
        return Err(Kind::TargetTooLong);
    }
    if !target.is_ascii() {
        return Err(Kind::InvalidTarget);
    }
    let ok = match method {
        Method::Connect => is_authority_form(target),
        _ if target == b"*" => *method == Method::Options,
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
    !scheme.is_empty()
        && scheme[0].is_ascii_alphabetic()
        && scheme.iter().all(|&b| b.is_ascii_alphanumeric() || matches!(b, b'+' | b'-' | b'.'))
        && t[colon..].starts_with(b"://")
}

/// `host:port`, no userinfo, no path.
fn is_authority_form(t: &[u8]) -> bool {
    let Some(colon) = t.iter().rposition(|&b| b == b':') else { return false };
    let (host, port) = (&t[..colon], &t[colon + 1..]);
    !host.is_empty()
        && !port.is_empty()
        && port.iter().all(u8::is_ascii_digit)
        && !host.iter().any(|&b| matches!(b, b'/' | b'@' | b'?' | b'#'))
}

#[cfg(test)]
mod tests {
    use super::*;

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
