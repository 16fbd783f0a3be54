//! The strict request-head parser on its own: what [`ServerConnection`]
//! reads a request head with, for code that brings its own connection
//! handling (a custom server loop, a proxy, a fuzz harness).
//!
//! [`ServerConnection`]: crate::ServerConnection

use crate::config::Config;
use crate::fields::{Coding, FieldInfo};
use crate::parse::{HeadScanner, ScannedRequest};
use bytes::BytesMut;
use sockless_core::{ProtocolErrorKind as Kind, RequestHead, Version};

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

/// Reads request heads strictly (RFC 9110 and RFC 9112, the rules listed in
/// `docs/h1.md`) from the front of a buffer.
///
/// Give it the buffer again as more bytes arrive: a partial head is never
/// scanned from its start twice. A complete head is split off the buffer
/// (no copy: the head keeps a shared slice of it); the bytes after it (a
/// body, the next request) stay. An error names what was wrong; the server
/// answers it with the status in `docs/h1.md` and closes.
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

    /// Parses the head at the front of `buf` (leading empty lines skipped).
    /// `Ok(None)`: incomplete, and within `config`'s limits.
    pub fn parse(&mut self, buf: &mut BytesMut, config: &Config) -> Result<Option<ParsedRequest>, Kind> {
        let Some(ScannedRequest { head, info }) = self.scanner.request(buf, config)? else {
            return Ok(None);
        };
        let body = body_length(&head, &info, config)?;
        let keep_alive = match head.version {
            Version::Http10 => info.keep_alive && !info.close,
            _ => !info.close,
        };
        let has_body = !matches!(body, BodyLength::None | BodyLength::Exact(0));
        let expect_continue = has_body && info.expect_continue && head.version == Version::Http11;
        Ok(Some(ParsedRequest { head, body, keep_alive, expect_continue, upgrade: info.upgrade }))
    }

    /// Whether part of a head has been seen (bytes wait in the buffer for
    /// the rest).
    pub fn in_progress(&self) -> bool {
        self.scanner.in_progress()
    }
}

/// RFC 9112 section 6.3 for requests, strictly; and exactly one Host in
/// HTTP/1.1 (RFC 9112 section 3.2).
fn body_length(head: &RequestHead, info: &FieldInfo, config: &Config) -> Result<BodyLength, Kind> {
    if info.host_count > 1 {
        return Err(Kind::MultipleHost);
    }
    if info.host_count == 0 && head.version == Version::Http11 {
        return Err(Kind::MissingHost);
    }
    match (info.transfer_encoding, info.content_length) {
        (Some(_), _) if head.version == Version::Http10 => Err(Kind::TransferEncodingInHttp10),
        (Some(_), Some(_)) => Err(Kind::ContentLengthWithTransferEncoding),
        (Some(Coding::Unsupported), None) => Err(Kind::UnsupportedTransferCoding),
        (Some(Coding::Invalid), None) => Err(Kind::InvalidTransferEncoding),
        (Some(Coding::Chunked), None) => Ok(BodyLength::Chunked),
        (None, Some(n)) if config.max_body_bytes.is_some_and(|max| n > max) => Err(Kind::BodyTooLarge),
        (None, Some(n)) => Ok(BodyLength::Exact(n)),
        (None, None) => Ok(BodyLength::None),
    }
}
