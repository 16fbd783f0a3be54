//! Field blocks to heads and back: HPACK plus the rules of RFC 9113
//! sections 8.2 and 8.3 (lowercase names, no connection-specific fields,
//! pseudo-header rules, `te: trailers` only, Content-Length).

use crate::hpack::{Decoder, DecoderError, Encoder};
use alloc::vec::Vec;
use bytes::{Bytes, BytesMut};
use sockless_core::{is_tchar, HeaderList, Method, RequestHead, ResponseHead, UserError, Version};

/// What kind of block is expected on a stream.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum BlockKind {
    Request,
    Response,
    Trailers,
}

/// Why a received field block is refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum FieldError {
    /// HPACK failed: a connection error (COMPRESSION_ERROR).
    Compression,
    /// The decoded list passed SETTINGS_MAX_HEADER_LIST_SIZE: a stream error.
    TooLarge,
    /// Malformed (RFC 9113 section 8.1.1): a stream error (PROTOCOL_ERROR).
    Malformed(&'static str),
}

/// A decoded, checked block.
#[derive(Debug)]
pub(crate) enum Decoded {
    Request(RequestHead),
    Response(ResponseHead),
    Trailers(HeaderList),
}

/// What a block says besides its head.
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct BlockInfo {
    pub content_length: Option<u64>,
    pub expects_continue: bool,
}

const CONNECTION_SPECIFIC: [&[u8]; 5] =
    [b"connection", b"keep-alive", b"proxy-connection", b"transfer-encoding", b"upgrade"];

fn lowercase_token(name: &[u8]) -> bool {
    !name.is_empty() && name.iter().all(|&b| is_tchar(b) && !b.is_ascii_uppercase())
}

/// RFC 9113 section 8.2.1: no NUL, CR or LF, no leading or trailing whitespace.
fn value_ok(value: &[u8]) -> bool {
    !value.iter().any(|&b| b == 0 || b == b'\r' || b == b'\n')
        && !value.first().is_some_and(|&b| b == b' ' || b == b'\t')
        && !value.last().is_some_and(|&b| b == b' ' || b == b'\t')
}

fn parse_digits(v: &[u8]) -> Option<u64> {
    if v.is_empty() || v.len() > 19 || !v.iter().all(u8::is_ascii_digit) {
        return None;
    }
    Some(v.iter().fold(0u64, |n, &d| n * 10 + u64::from(d - b'0')))
}

/// Pseudo-header values collected while decoding, as ranges of a scratch buffer.
#[derive(Default)]
struct Pseudo {
    method: Option<(usize, usize)>,
    scheme: Option<(usize, usize)>,
    authority: Option<(usize, usize)>,
    path: Option<(usize, usize)>,
    status: Option<(usize, usize)>,
}

/// Where decoded fields go while a block is decoded.
struct Collect<'a> {
    kind: BlockKind,
    pseudo: Pseudo,
    /// Regular fields, written as `name: value CRLF` lines.
    lines: &'a mut BytesMut,
    count: usize,
    info: BlockInfo,
    regular_seen: bool,
    scratch: &'a mut Vec<u8>,
}

impl Collect<'_> {
    /// Takes one field, or says why the block is malformed.
    fn field(&mut self, name: &[u8], value: &[u8]) -> Result<(), &'static str> {
        if let Some(p) = name.strip_prefix(b":") {
            if self.regular_seen {
                return Err("pseudo-header after a regular field");
            }
            let slot = match (self.kind, p) {
                (BlockKind::Request, b"method") => &mut self.pseudo.method,
                (BlockKind::Request, b"scheme") => &mut self.pseudo.scheme,
                (BlockKind::Request, b"authority") => &mut self.pseudo.authority,
                (BlockKind::Request, b"path") => &mut self.pseudo.path,
                (BlockKind::Response, b"status") => &mut self.pseudo.status,
                _ => return Err("unknown or misplaced pseudo-header"),
            };
            if slot.is_some() {
                return Err("repeated pseudo-header");
            }
            if !value_ok(value) {
                return Err("invalid pseudo-header value");
            }
            let start = self.scratch.len();
            self.scratch.extend_from_slice(value);
            *slot = Some((start, self.scratch.len()));
            return Ok(());
        }
        self.regular_seen = true;
        if !lowercase_token(name) {
            return Err("field name not a lowercase token");
        }
        if !value_ok(value) {
            return Err("invalid field value");
        }
        if CONNECTION_SPECIFIC.contains(&name) {
            return Err("connection-specific field");
        }
        if name == b"te" && value != b"trailers" {
            return Err("te other than trailers");
        }
        if name == b"content-length" {
            match parse_digits(value) {
                Some(n) if self.info.content_length.is_none_or(|m| m == n) => self.info.content_length = Some(n),
                _ => return Err("invalid content-length"),
            }
        }
        if name == b"expect" && value.eq_ignore_ascii_case(b"100-continue") {
            self.info.expects_continue = true;
        }
        self.lines.extend_from_slice(name);
        self.lines.extend_from_slice(b": ");
        self.lines.extend_from_slice(value);
        self.lines.extend_from_slice(b"\r\n");
        self.count += 1;
        Ok(())
    }
}

/// Decodes and checks one complete field block.
///
/// HPACK state is always brought up to date, even for blocks that are
/// refused, so the connection stays usable after a stream error.
///
/// The head's fields are written into `heads` as a received field section
/// (and the target after them) and split off as one `Bytes`: `heads` is
/// reused for every block, so once the application drops a head its space
/// is taken again and a warmed connection decodes heads without allocating.
pub(crate) fn decode_block(
    decoder: &mut Decoder,
    block: &[u8],
    max_list: usize,
    kind: BlockKind,
    scratch: &mut Vec<u8>,
    heads: &mut BytesMut,
) -> Result<(Decoded, BlockInfo), FieldError> {
    scratch.clear();
    heads.clear();
    heads.reserve(block.len() * 2 + 64);
    let mut malformed: Option<&'static str> = None;
    let mut state = Collect {
        kind,
        pseudo: Pseudo::default(),
        lines: heads,
        count: 0,
        info: BlockInfo::default(),
        regular_seen: false,
        scratch,
    };
    let result = decoder.decode(block, max_list, |name: &[u8], value: &[u8], _sensitive: bool| {
        if malformed.is_none() {
            if let Err(why) = state.field(name, value) {
                malformed = Some(why);
            }
        }
        Ok::<(), DecoderError>(())
    });
    let Collect { pseudo, info, scratch, lines, count, .. } = state;
    let section_len = lines.len();
    match result {
        Ok(()) => {}
        Err(DecoderError::HeaderListTooLarge { .. }) => return Err(FieldError::TooLarge),
        Err(_) => return Err(FieldError::Compression),
    }
    if let Some(why) = malformed {
        return Err(FieldError::Malformed(why));
    }
    let get = |r: Option<(usize, usize)>| r.map(|(a, b)| &scratch[a..b]);
    // Once the target (if any) is appended, the buffer becomes the section.
    let finish = |lines: &mut BytesMut| -> (HeaderList, Bytes) {
        let bytes = lines.split().freeze();
        let rest = bytes.slice(section_len..);
        let list = HeaderList::from_section(bytes, 0, count).unwrap_or_default();
        (list, rest)
    };
    let decoded = match kind {
        BlockKind::Trailers => Decoded::Trailers(finish(lines).0),
        BlockKind::Response => {
            let status = get(pseudo.status).and_then(parse_digits).filter(|s| (100..=999).contains(s));
            let Some(status) = status else { return Err(FieldError::Malformed("missing or invalid :status")) };
            let mut head = ResponseHead::new(status as u16);
            head.version = Version::Http2;
            head.headers = finish(lines).0;
            Decoded::Response(head)
        }
        BlockKind::Request => {
            let method = get(pseudo.method).ok_or(FieldError::Malformed("missing :method"))?;
            if method.is_empty() || !method.iter().all(|&b| is_tchar(b)) {
                return Err(FieldError::Malformed(":method is not a token"));
            }
            let method = Method::from_bytes(method);
            let (scheme, authority, path) = (get(pseudo.scheme), get(pseudo.authority), get(pseudo.path));
            // A scheme is ALPHA *( ALPHA / DIGIT / "+" / "-" / "." ) (RFC 3986 section 3.1); the
            // authority and path carry no whitespace or control characters (they become the target).
            let scheme_ok = |s: &[u8]| {
                s.first().is_some_and(u8::is_ascii_alphabetic)
                    && s.iter().all(|&b| b.is_ascii_alphanumeric() || matches!(b, b'+' | b'-' | b'.'))
            };
            let visible = |s: &[u8]| s.iter().all(|&b| b > b' ' && b != 0x7f);
            if scheme.is_some_and(|s| !scheme_ok(s))
                || authority.is_some_and(|a| !visible(a))
                || path.is_some_and(|p| !visible(p))
            {
                return Err(FieldError::Malformed("invalid :scheme, :authority or :path"));
            }
            if method == Method::Connect {
                match (authority, scheme, path) {
                    (Some(a), None, None) if !a.is_empty() => lines.extend_from_slice(a),
                    _ => return Err(FieldError::Malformed("CONNECT needs :authority only")),
                }
            } else {
                let (Some(scheme), Some(path)) = (scheme, path) else {
                    return Err(FieldError::Malformed("missing :scheme or :path"));
                };
                let web = scheme == b"http" || scheme == b"https";
                if path.is_empty() || (web && path[0] != b'/' && !(path == b"*" && method == Method::Options)) {
                    return Err(FieldError::Malformed("invalid :path"));
                }
                match authority {
                    Some(a) if path != b"*" => {
                        lines.extend_from_slice(scheme);
                        lines.extend_from_slice(b"://");
                        lines.extend_from_slice(a);
                        lines.extend_from_slice(path);
                    }
                    _ => lines.extend_from_slice(path),
                }
            }
            let (headers, target) = finish(lines);
            let mut head = RequestHead::new(method, target);
            head.version = Version::Http2;
            head.headers = headers;
            Decoded::Request(head)
        }
    };
    Ok((decoded, info))
}

/// Checks a field the application wants to send over HTTP/2.
pub(crate) fn check_outgoing(name: &[u8], value: &[u8]) -> Result<(), UserError> {
    sockless_core::validate_field(name, value)?;
    let lower = |n: &[u8], c: &[u8]| n.eq_ignore_ascii_case(c);
    if CONNECTION_SPECIFIC.iter().any(|c| lower(name, c)) {
        return Err(UserError::InvalidHeaderName);
    }
    if lower(name, b"te") && !value.eq_ignore_ascii_case(b"trailers") {
        return Err(UserError::InvalidHeaderValue);
    }
    Ok(())
}

/// Writes one field, its name lowercased (HTTP/2 field names are lowercase on the wire).
fn put_field(block: &mut crate::hpack::Block<'_>, name: &[u8], value: &[u8], lower: &mut Vec<u8>) {
    if name.iter().any(u8::is_ascii_uppercase) {
        lower.clear();
        lower.extend(name.iter().map(u8::to_ascii_lowercase));
        block.field(lower, value, false);
    } else {
        block.field(name, value, false);
    }
}

/// Encodes a request head: pseudo-headers from the method and target (the
/// Host field becomes `:authority` for origin-form targets), then the fields.
pub(crate) fn encode_request(
    encoder: &mut Encoder,
    head: &RequestHead,
    default_scheme: &[u8],
    out: &mut Vec<u8>,
    lower: &mut Vec<u8>,
) -> Result<(), UserError> {
    head.validate_request_line()?;
    for (n, v) in &head.headers {
        check_outgoing(n, v)?;
    }
    let mut block = encoder.begin_block(out);
    block.field(b":method", head.method.as_bytes(), false);
    let absolute = head.scheme().is_some();
    if head.method == Method::Connect {
        block.field(b":authority", &head.target, false);
    } else {
        block.field(b":scheme", head.scheme().unwrap_or(default_scheme), false);
        if let Some(a) = head.authority() {
            block.field(b":authority", a, false);
        }
        block.field(b":path", head.path(), false);
    }
    for (n, v) in &head.headers {
        if !absolute && n.eq_ignore_ascii_case(b"host") {
            continue; // sent as :authority
        }
        put_field(&mut block, n, v, lower);
    }
    Ok(())
}

/// Encodes a response head.
pub(crate) fn encode_response(
    encoder: &mut Encoder,
    head: &ResponseHead,
    out: &mut Vec<u8>,
    lower: &mut Vec<u8>,
) -> Result<(), UserError> {
    head.validate_status_line()?;
    for (n, v) in &head.headers {
        check_outgoing(n, v)?;
    }
    let s = head.status;
    let digits = [b'0' + (s / 100 % 10) as u8, b'0' + (s / 10 % 10) as u8, b'0' + (s % 10) as u8];
    let mut block = encoder.begin_block(out);
    block.field(b":status", &digits, false);
    for (n, v) in &head.headers {
        put_field(&mut block, n, v, lower);
    }
    Ok(())
}

/// Encodes trailers (no pseudo-headers).
pub(crate) fn encode_trailers(
    encoder: &mut Encoder,
    trailers: &HeaderList,
    out: &mut Vec<u8>,
    lower: &mut Vec<u8>,
) -> Result<(), UserError> {
    for (n, v) in trailers {
        check_outgoing(n, v)?;
    }
    let mut block = encoder.begin_block(out);
    for (n, v) in trailers {
        put_field(&mut block, n, v, lower);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn block(fields: &[(&str, &str)]) -> Vec<u8> {
        let mut out = Vec::new();
        Encoder::new().encode(fields.iter().map(|(n, v)| (n.as_bytes(), v.as_bytes())), &mut out);
        out
    }

    fn decode(fields: &[(&str, &str)], kind: BlockKind) -> Result<Decoded, FieldError> {
        decode_block(&mut Decoder::new(4096), &block(fields), 16 << 10, kind, &mut Vec::new(), &mut BytesMut::new())
            .map(|(d, _)| d)
    }

    #[test]
    fn requests_become_absolute_form_heads() {
        let d = decode(
            &[
                (":method", "GET"),
                (":scheme", "https"),
                (":authority", "a.example"),
                (":path", "/x?y"),
                ("accept", "*/*"),
            ],
            BlockKind::Request,
        )
        .unwrap();
        let Decoded::Request(h) = d else { panic!() };
        assert_eq!(&h.target[..], b"https://a.example/x?y");
        assert_eq!(h.path(), b"/x?y");
        assert_eq!(h.headers.get("accept"), Some(&b"*/*"[..]));
        assert_eq!(h.version, Version::Http2);
    }

    #[test]
    fn malformed_requests() {
        let base = [(":method", "GET"), (":scheme", "https"), (":path", "/")];
        let with = |extra: (&'static str, &'static str)| {
            let mut v = base.to_vec();
            v.push(extra);
            v
        };
        let cases: Vec<Vec<(&str, &str)>> = vec![
            with(("Upper", "x")),
            with(("connection", "close")),
            with(("transfer-encoding", "chunked")),
            with(("te", "gzip")),
            with((":path", "/again")),
            with((":status", "200")),
            with(("content-length", "x")),
            with(("x", " leading")),
            vec![(":method", "GET"), ("a", "b"), (":scheme", "https"), (":path", "/")],
            vec![(":method", "GET"), (":scheme", "https")],
            vec![(":method", "GET"), (":scheme", "https"), (":path", "")],
            vec![(":method", "CONNECT"), (":authority", "a:443"), (":path", "/")],
        ];
        for c in cases {
            assert!(matches!(decode(&c, BlockKind::Request), Err(FieldError::Malformed(_))), "{c:?}");
        }
        assert!(decode(&with(("te", "trailers")), BlockKind::Request).is_ok());
        assert!(matches!(decode(&[(":status", "200")], BlockKind::Trailers), Err(FieldError::Malformed(_))));
        assert!(matches!(decode(&[("a", "b")], BlockKind::Response), Err(FieldError::Malformed(_))));
    }

    #[test]
    fn list_size_limit_is_a_stream_error() {
        let big = "x".repeat(200);
        let fields = [(":status", "200"), ("a", big.as_str())];
        let r = decode_block(
            &mut Decoder::new(4096),
            &block(&fields),
            100,
            BlockKind::Response,
            &mut Vec::new(),
            &mut BytesMut::new(),
        );
        assert!(matches!(r, Err(FieldError::TooLarge)));
        assert!(matches!(
            decode_block(
                &mut Decoder::new(4096),
                &[0xff, 0xff, 0xff, 0xff, 0xff, 0xff],
                100,
                BlockKind::Response,
                &mut Vec::new(),
                &mut BytesMut::new()
            ),
            Err(FieldError::Compression)
        ));
    }

    #[test]
    fn outgoing_heads_round_trip() {
        let mut enc = Encoder::new();
        let mut out = Vec::new();
        let head = RequestHead::new(Method::Post, "/p").header("Host", "h.example").header("X-Mixed", "v");
        encode_request(&mut enc, &head, b"https", &mut out, &mut Vec::new()).unwrap();
        let (d, _) = decode_block(
            &mut Decoder::new(4096),
            &out,
            1 << 14,
            BlockKind::Request,
            &mut Vec::new(),
            &mut BytesMut::new(),
        )
        .unwrap();
        let Decoded::Request(h) = d else { panic!() };
        assert_eq!(&h.target[..], b"https://h.example/p");
        assert_eq!(h.headers.iter().collect::<Vec<_>>(), [(&b"x-mixed"[..], &b"v"[..])]);
        let bad = RequestHead::new(Method::Get, "/").header("Connection", "close");
        assert_eq!(
            encode_request(&mut enc, &bad, b"https", &mut Vec::new(), &mut Vec::new()),
            Err(UserError::InvalidHeaderName)
        );
    }
}
