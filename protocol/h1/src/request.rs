//! The strict request-head parser on its own: what [`ServerConnection`]
//! reads a request head with, for code that brings its own connection
//! handling (a custom server loop, a proxy, a fuzz harness).
//!
//! [`ServerConnection`]: crate::ServerConnection

use crate::config::Config;
use crate::fields::FieldInfo;
use crate::parse::{leading_empty_lines, HeadScanner, Located, ScannedRequest};
use crate::rules::{self, Incoming, Sender};
use bytes::BytesMut;
use sockless_core::{HeaderIter, ProtocolErrorKind as Kind, RequestHead, Version};

/// How a request's body is delimited (RFC 9112 section 6.3).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BodyLength {
    /// No body: neither Content-Length nor Transfer-Encoding.
    None,
    /// Exactly this many bytes follow the head (Content-Length).
    Exact(u64),
    /// The chunked transfer coding follows the head.
    Chunked,
}

/// A request head read and checked by [`RequestParser`], and what its
/// fields say about the message around it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ParsedRequest {
    /// The head; its fields are a slice of the bytes it was parsed from.
    pub head: RequestHead,
    /// How the body is delimited.
    pub body: BodyLength,
    /// Whether the connection may carry another request after this one
    /// (HTTP/1.1 without `Connection: close`; HTTP/1.0 with
    /// `Connection: keep-alive`).
    pub keep_alive: bool,
    /// The client sent `Expect: 100-continue` with a body over HTTP/1.1 and
    /// waits for a `100 Continue` before sending it.
    pub expect_continue: bool,
    /// The request asks to switch protocols (an `Upgrade` field and
    /// `Connection: upgrade`).
    pub upgrade: bool,
}

/// A request head read in place: slices of the bytes it was read from,
/// checked as strictly as [`RequestParser::parse`] checks a head it takes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RequestHeadRef<'a> {
    /// The method token, as received (methods are case-sensitive).
    pub method: &'a [u8],
    /// The request target, as received.
    pub target: &'a [u8],
    /// HTTP/1.0 or HTTP/1.1 (a higher HTTP/1.x reads as HTTP/1.1,
    /// RFC 9110 section 2.5).
    pub version: Version,
    section: &'a [u8],
    count: usize,
}

impl<'a> RequestHeadRef<'a> {
    /// The header fields in order, names in their received case, values
    /// without surrounding whitespace.
    pub fn fields(&self) -> HeaderIter<'a> {
        HeaderIter::over_section(self.section, self.count)
    }

    /// Number of header fields.
    pub fn field_count(&self) -> usize {
        self.count
    }
}

/// A request head read in place by [`RequestParser::parse_ref`], and what
/// its fields say about the message around it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ParsedRequestRef<'a> {
    /// The head.
    pub head: RequestHeadRef<'a>,
    /// How many bytes of the buffer the head took (empty lines before it
    /// included): the body or the next request starts there.
    pub len: usize,
    /// How the body is delimited.
    pub body: BodyLength,
    /// As [`ParsedRequest::keep_alive`].
    pub keep_alive: bool,
    /// As [`ParsedRequest::expect_continue`].
    pub expect_continue: bool,
    /// As [`ParsedRequest::upgrade`].
    pub upgrade: bool,
}

/// Reads request heads strictly (RFC 9110 and RFC 9112, the rules listed in
/// `docs/h1.md`) from the front of a buffer.
///
/// Give it the buffer again as more bytes arrive: a partial head is never
/// scanned from its start twice. [`parse`](Self::parse) splits a complete
/// head off a `BytesMut` into an owned [`RequestHead`]
/// (no copy: the head keeps a shared slice of the buffer) and leaves the
/// bytes after it (a body, the next request); [`parse_ref`](Self::parse_ref)
/// reads it in place from any byte slice, as httparse does, and takes
/// nothing. An error names what was wrong; the server answers it with the
/// status in `docs/h1.md` and closes.
///
/// ```
/// use bytes::BytesMut;
/// use sockless_h1::{BodyLength, Config, RequestParser};
///
/// let config = Config::server();
/// let mut parser = RequestParser::new();
/// let mut buf = BytesMut::from(&b"POST /upload HTTP/1.1\r\nHost: a\r\nContent-"[..]);
/// assert_eq!(parser.parse(&mut buf, &config), Ok(None)); // not complete yet
/// buf.extend_from_slice(b"Length: 5\r\n\r\nhello");
/// let request = parser.parse(&mut buf, &config).unwrap().unwrap();
/// assert_eq!(&request.head.target[..], b"/upload");
/// assert_eq!(request.body, BodyLength::Exact(5));
/// assert_eq!(&buf[..], b"hello");
///
/// // In place:
/// let bytes = b"GET /a HTTP/1.1\r\nHost: example.com\r\n\r\nnext";
/// let request = RequestParser::new().parse_ref(bytes, &config).unwrap().unwrap();
/// assert_eq!((request.head.method, request.head.target), (&b"GET"[..], &b"/a"[..]));
/// assert_eq!(request.head.fields().next(), Some((&b"Host"[..], &b"example.com"[..])));
/// assert_eq!(&bytes[request.len..], b"next");
///
/// let mut smuggled = BytesMut::from(&b"GET / HTTP/1.1\r\nHost: a\r\nContent-Length: 1\r\nTransfer-Encoding: chunked\r\n\r\n"[..]);
/// assert!(RequestParser::new().parse(&mut smuggled, &config).is_err());
/// ```
#[derive(Debug, Default)]
pub struct RequestParser {
    scanner: HeadScanner,
}

impl RequestParser {
    /// A parser at the start of a head.
    pub fn new() -> Self {
        RequestParser::default()
    }

    /// Parses the head at the front of `buf` (leading empty lines skipped)
    /// and splits it off. `Ok(None)`: incomplete, and within `config`'s
    /// limits.
    pub fn parse(&mut self, buf: &mut BytesMut, config: &Config) -> Result<Option<ParsedRequest>, Kind> {
        let Some(ScannedRequest { head, info }) = self.scanner.request(buf, config)? else {
            return Ok(None);
        };
        let message = Message::of(head.version, &info, config)?;
        Ok(Some(ParsedRequest {
            head,
            body: message.body,
            keep_alive: message.keep_alive,
            expect_continue: message.expect_continue,
            upgrade: info.upgrade,
        }))
    }

    /// Parses the head at the front of `buf` in place (leading empty lines
    /// skipped). `Ok(None)`: incomplete, and within `config`'s limits; call
    /// again with the same bytes and more after them.
    ///
    /// A request line with a higher HTTP/1.x version is read as HTTP/1.1
    /// here as in [`parse`](Self::parse); unlike `parse`, this does not
    /// rewrite the version in `buf`.
    pub fn parse_ref<'a>(&mut self, buf: &'a [u8], config: &Config) -> Result<Option<ParsedRequestRef<'a>>, Kind> {
        let skip = leading_empty_lines(buf)?;
        let head = &buf[skip..];
        let Some(Located { end, parts, .. }) = self.scanner.request_parts(head, config)? else {
            return Ok(None);
        };
        let message = Message::of(parts.version, &parts.fields.info, config)?;
        Ok(Some(ParsedRequestRef {
            head: RequestHeadRef {
                method: &head[..parts.method_end],
                target: &head[parts.target],
                version: parts.version,
                section: &head[parts.fields.start..end],
                count: parts.fields.count,
            },
            len: skip + end,
            body: message.body,
            keep_alive: message.keep_alive,
            expect_continue: message.expect_continue,
            upgrade: parts.fields.info.upgrade,
        }))
    }

    /// Whether part of a head has been seen (bytes wait in the buffer for
    /// the rest).
    pub fn in_progress(&self) -> bool {
        self.scanner.in_progress()
    }
}

/// What a request's fields say about the message around its head.
struct Message {
    body: BodyLength,
    keep_alive: bool,
    expect_continue: bool,
}

impl Message {
    fn of(version: Version, info: &FieldInfo, config: &Config) -> Result<Message, Kind> {
        check_host(version, info)?;
        let body = match rules::incoming_body(Sender::Client, version, info, config)? {
            Incoming::Exact(n) => BodyLength::Exact(n),
            Incoming::Chunked => BodyLength::Chunked,
            // A request is never read until close.
            Incoming::None | Incoming::UntilClose => BodyLength::None,
        };
        let keep_alive = rules::keep_alive(version, info.close, info.keep_alive);
        let has_body = !matches!(body, BodyLength::None | BodyLength::Exact(0));
        let expect_continue = has_body && info.expect_continue && version == Version::Http11;
        Ok(Message { body, keep_alive, expect_continue })
    }
}

/// Exactly one Host in HTTP/1.1, of valid syntax (RFC 9112 section 3.2).
fn check_host(version: Version, info: &FieldInfo) -> Result<(), Kind> {
    if info.host_count > 1 {
        return Err(Kind::MultipleHost);
    }
    if info.host_count == 0 && version == Version::Http11 {
        return Err(Kind::MissingHost);
    }
    if info.host_invalid {
        return Err(Kind::InvalidHost);
    }
    Ok(())
}

/// Reads `input` both ways, in place and taking the head, and panics if
/// they disagree (verdict, head, framing, what is left after the head):
/// what the unit tests and the `h1_request_parser` fuzz target run.
#[cfg(any(test, feature = "testing"))]
pub fn check_in_place_matches_owned(input: &[u8], config: &Config) {
    let in_place = RequestParser::new().parse_ref(input, config);
    let mut buf = BytesMut::from(input);
    let owned = RequestParser::new().parse(&mut buf, config);
    match (in_place, owned) {
        (Ok(Some(r)), Ok(Some(o))) => {
            assert_eq!(r.head.method, o.head.method.as_bytes());
            assert_eq!(r.head.target, &o.head.target[..]);
            assert_eq!(r.head.version, o.head.version);
            assert!(r.head.fields().eq(o.head.headers.iter()));
            assert_eq!(r.head.field_count(), o.head.headers.len());
            assert_eq!(
                (r.body, r.keep_alive, r.expect_continue, r.upgrade),
                (o.body, o.keep_alive, o.expect_continue, o.upgrade)
            );
            assert_eq!(&input[r.len..], &buf[..], "what follows the head");
        }
        (Ok(None), Ok(None)) => {}
        (Err(a), Err(b)) => assert_eq!(a, b),
        (a, b) => panic!("in place {a:?}, owned {b:?}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn in_place_and_owned_reads_agree() {
        let config = Config::server();
        for input in [
            &b"GET / HTTP/1.1\r\nHost: a\r\n\r\n"[..],
            b"\r\n\r\nPOST /x HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\n\r\nabc",
            b"PUT /x HTTP/1.2\r\nhost: a\r\nTransfer-Encoding: chunked\r\nExpect: 100-continue\r\n\r\n",
            b"GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n",
            b"GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n",
            b"GET / HTTP/1.1\r\nHost: a\r\n b\r\n\r\n",
            b"GET / HTTP/1.1\r\nHost: a",
            b"\nGET / HTTP/1.1\r\n\r\n",
            b"OPTIONS * HTTP/1.1\r\nHost: a\r\nConnection: Upgrade\r\nUpgrade: h2c\r\n\r\n",
            b"CONNECT a:443 HTTP/1.1\r\nHost: a\r\n\r\n",
            b"CONNECT /a HTTP/1.1\r\nHost: a\r\n\r\n",
        ] {
            check_in_place_matches_owned(input, &config);
        }
    }

    fn piece() -> impl Strategy<Value = Vec<u8>> {
        prop_oneof![
            Just(b"GET ".to_vec()),
            Just(b"POST ".to_vec()),
            Just(b"/p ".to_vec()),
            Just(b"* ".to_vec()),
            Just(b"HTTP/1.1\r\n".to_vec()),
            Just(b"HTTP/1.0\r\n".to_vec()),
            Just(b"HTTP/1.3\r\n".to_vec()),
            Just(b"Host: h\r\n".to_vec()),
            Just(b"Content-Length: 2\r\n".to_vec()),
            Just(b"Transfer-Encoding: chunked\r\n".to_vec()),
            Just(b"Connection: close, upgrade\r\n".to_vec()),
            Just(b"Upgrade: x\r\n".to_vec()),
            Just(b"Expect: 100-continue\r\n".to_vec()),
            Just(b"\r\n".to_vec()),
            Just(b" ".to_vec()),
            proptest::collection::vec(any::<u8>(), 0..4),
        ]
    }

    proptest! {
        #[test]
        fn in_place_and_owned_reads_agree_on_any_bytes(
            pieces in proptest::collection::vec(piece(), 0..10),
        ) {
            let input: Vec<u8> = pieces.concat();
            check_in_place_matches_owned(&input, &Config::server());
        }
    }
}
