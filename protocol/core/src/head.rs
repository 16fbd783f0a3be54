//! Request and response heads, methods, versions, and the checks every head
//! passes before it is written.

use crate::error::UserError;
use crate::header::HeaderList;
use bytes::Bytes;
use core::fmt;

/// HTTP protocol version of a message.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Version {
    /// HTTP/1.0
    Http10,
    /// HTTP/1.1
    Http11,
    /// HTTP/2
    Http2,
}

impl Version {
    /// The version as it appears in an HTTP/1 start line.
    #[inline]
    pub fn as_str(self) -> &'static str {
        match self {
            Version::Http10 => "HTTP/1.0",
            Version::Http11 => "HTTP/1.1",
            Version::Http2 => "HTTP/2",
        }
    }
}

/// A request method. The nine methods of RFC 9110 and PATCH are variants;
/// any other token is kept as it was received.
#[derive(Clone, PartialEq, Eq, Hash)]
pub enum Method {
    /// GET
    Get,
    /// HEAD
    Head,
    /// POST
    Post,
    /// PUT
    Put,
    /// DELETE
    Delete,
    /// CONNECT
    Connect,
    /// OPTIONS
    Options,
    /// TRACE
    Trace,
    /// PATCH
    Patch,
    /// Any other method token, case preserved (methods are case-sensitive).
    Other(Bytes),
}

impl Method {
    /// The method from its token. Unknown tokens become [`Method::Other`]
    /// (validity is checked when a head is written or parsed).
    #[inline]
    pub fn from_bytes(b: &[u8]) -> Method {
        match b {
            b"GET" => Method::Get,
            b"HEAD" => Method::Head,
            b"POST" => Method::Post,
            b"PUT" => Method::Put,
            b"DELETE" => Method::Delete,
            b"CONNECT" => Method::Connect,
            b"OPTIONS" => Method::Options,
            b"TRACE" => Method::Trace,
            b"PATCH" => Method::Patch,
            other => Method::Other(Bytes::copy_from_slice(other)),
        }
    }

    /// The method's token.
    #[inline]
    pub fn as_bytes(&self) -> &[u8] {
        match self {
            Method::Get => b"GET",
            Method::Head => b"HEAD",
            Method::Post => b"POST",
            Method::Put => b"PUT",
            Method::Delete => b"DELETE",
            Method::Connect => b"CONNECT",
            Method::Options => b"OPTIONS",
            Method::Trace => b"TRACE",
            Method::Patch => b"PATCH",
            Method::Other(b) => b,
        }
    }
}

impl fmt::Debug for Method {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&alloc::string::String::from_utf8_lossy(self.as_bytes()))
    }
}

/// The head of a request: method, target, version and header fields.
///
/// The target is what HTTP/1.1 puts on the request line: origin-form
/// (`/path?q`), absolute-form (`https://example.com/path?q`),
/// authority-form (`example.com:443`, CONNECT) or `*` (OPTIONS). HTTP/2
/// requests use absolute-form, which carries `:scheme`, `:authority` and
/// `:path` in one value, so one head type serves both protocols;
/// [`scheme`](Self::scheme), [`authority`](Self::authority) and
/// [`path`](Self::path) take it apart. An HTTP/1.1 client writes an
/// absolute-form target as origin-form plus Host unless told it talks to a
/// proxy.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RequestHead {
    /// Request method.
    pub method: Method,
    /// Request target (see above).
    pub target: Bytes,
    /// Protocol version.
    pub version: Version,
    /// Header fields in received or written order, original case.
    pub headers: HeaderList,
}

/// Where the parts of an absolute-form target end: `(scheme_end, authority_end)`.
fn split_absolute(t: &[u8]) -> Option<(usize, usize)> {
    let colon = t.iter().position(|&b| b == b':')?;
    let scheme = &t[..colon];
    let scheme_ok = scheme.first().is_some_and(u8::is_ascii_alphabetic)
        && scheme.iter().all(|&b| b.is_ascii_alphanumeric() || matches!(b, b'+' | b'-' | b'.'));
    if !scheme_ok || !t[colon..].starts_with(b"://") {
        return None;
    }
    let start = colon + 3;
    let end = t[start..].iter().position(|&b| matches!(b, b'/' | b'?' | b'#')).map_or(t.len(), |p| start + p);
    Some((colon, end))
}

impl RequestHead {
    /// An HTTP/1.1 request head with no header fields.
    pub fn new(method: Method, target: impl Into<Bytes>) -> Self {
        RequestHead { method, target: target.into(), version: Version::Http11, headers: HeaderList::new() }
    }

    /// Builder: adds a header field.
    pub fn header(mut self, name: impl AsRef<[u8]>, value: impl AsRef<[u8]>) -> Self {
        self.headers.push(name, value);
        self
    }

    /// Builder: sets the version.
    pub fn version(mut self, version: Version) -> Self {
        self.version = version;
        self
    }

    /// The scheme of an absolute-form target (`https`), if it is one.
    pub fn scheme(&self) -> Option<&[u8]> {
        split_absolute(&self.target).map(|(colon, _)| &self.target[..colon])
    }

    /// The authority: of an absolute-form target, of an authority-form
    /// target (CONNECT), or else the Host field.
    pub fn authority(&self) -> Option<&[u8]> {
        if let Some((colon, end)) = split_absolute(&self.target) {
            return Some(&self.target[colon + 3..end]);
        }
        if self.method == Method::Connect {
            return Some(&self.target);
        }
        self.headers.get("host")
    }

    /// The path and query (origin-form): of an absolute-form target its part
    /// after the authority (`/` if empty), otherwise the target as it is.
    pub fn path(&self) -> &[u8] {
        match split_absolute(&self.target) {
            Some((_, end)) if end == self.target.len() => b"/",
            Some((_, end)) => &self.target[end..],
            None => &self.target,
        }
    }

    /// Checks that this head can be written: [`validate_request_line`](Self::validate_request_line)
    /// and every field passes [`validate_field`].
    pub fn validate(&self) -> Result<(), UserError> {
        self.validate_request_line()?;
        validate_fields(&self.headers)
    }

    /// Checks the method (a token) and the target (not empty, no whitespace
    /// or control character).
    pub fn validate_request_line(&self) -> Result<(), UserError> {
        let m = self.method.as_bytes();
        if m.is_empty() || !m.iter().all(|&b| TCHAR[b as usize]) {
            return Err(UserError::InvalidMethod);
        }
        if self.target.is_empty() || self.target.iter().any(|&b| b <= b' ' || b == 0x7f) {
            return Err(UserError::InvalidTarget);
        }
        Ok(())
    }
}

/// The head of a response: status, reason phrase, version and header fields.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ResponseHead {
    /// Status code, 100 to 999.
    pub status: u16,
    /// Reason phrase as received; when empty, writers use the canonical one.
    pub reason: Bytes,
    /// Protocol version.
    pub version: Version,
    /// Header fields in received or written order, original case.
    pub headers: HeaderList,
}

/// Whether a response with this status, answering a request (`to_head`: a HEAD one), carries
/// content: not one to HEAD, nor a 1xx, 204 or 304 (RFC 9110 sections 6.4.1 and 9.3.2). A
/// Content-Length on a response without content describes the representation, not the message
/// (RFC 9113 section 8.1.1). Both HTTP versions and every driver ask this one function.
pub fn response_has_content(to_head: bool, status: u16) -> bool {
    !(to_head || (100..200).contains(&status) || status == 204 || status == 304)
}

impl ResponseHead {
    /// An HTTP/1.1 response head with no header fields.
    pub fn new(status: u16) -> Self {
        ResponseHead { status, reason: Bytes::new(), version: Version::Http11, headers: HeaderList::new() }
    }

    /// Builder: adds a header field.
    pub fn header(mut self, name: impl AsRef<[u8]>, value: impl AsRef<[u8]>) -> Self {
        self.headers.push(name, value);
        self
    }

    /// Whether the status is informational (1xx).
    pub fn is_informational(&self) -> bool {
        (100..200).contains(&self.status)
    }

    /// Checks that this head can be written: [`validate_status_line`](Self::validate_status_line)
    /// and every field passes [`validate_field`].
    pub fn validate(&self) -> Result<(), UserError> {
        self.validate_status_line()?;
        validate_fields(&self.headers)
    }

    /// Checks the status (100..=999) and the reason phrase (no CR, LF or
    /// other control character).
    #[inline]
    pub fn validate_status_line(&self) -> Result<(), UserError> {
        if !(100..=999).contains(&self.status) {
            return Err(UserError::InvalidStatus);
        }
        if !self.reason.iter().all(|&b| VALUE_OK[b as usize]) {
            return Err(UserError::InvalidReason);
        }
        Ok(())
    }
}

/// Checks every field of a list with [`validate_field`].
#[inline]
pub fn validate_fields(headers: &HeaderList) -> Result<(), UserError> {
    if headers.is_valid() {
        return Ok(());
    }
    for (n, v) in headers {
        validate_field(n, v)?;
    }
    Ok(())
}

/// A field name must be a non-empty token (RFC 9110 section 5.1); a value
/// may hold visible characters, spaces, tabs and obs-text but no CR, LF,
/// NUL or other control character, and no leading or trailing whitespace
/// (RFC 9110 section 5.5).
pub fn validate_field(name: &[u8], value: &[u8]) -> Result<(), UserError> {
    if name.is_empty() || !name.iter().all(|&b| TCHAR[b as usize]) {
        return Err(UserError::InvalidHeaderName);
    }
    if !value.iter().all(|&b| VALUE_OK[b as usize])
        || value.first().is_some_and(|&b| b == b' ' || b == b'\t')
        || value.last().is_some_and(|&b| b == b' ' || b == b'\t')
    {
        return Err(UserError::InvalidHeaderValue);
    }
    Ok(())
}

/// `tchar` as a table: one load per byte when validating names.
static TCHAR: [bool; 256] = {
    let mut t = [false; 256];
    let mut i = 0;
    while i < 256 {
        t[i] = is_tchar(i as u8);
        i += 1;
    }
    t
};

/// Bytes allowed in a field value: everything but controls other than HTAB.
static VALUE_OK: [bool; 256] = {
    let mut t = [false; 256];
    let mut i = 0;
    while i < 256 {
        t[i] = !is_ctl_but_tab(i as u8);
        i += 1;
    }
    t
};

/// Whether `b` is a `tchar` of RFC 9110 section 5.6.2.
pub const fn is_tchar(b: u8) -> bool {
    matches!(b,
        b'!' | b'#' | b'$' | b'%' | b'&' | b'\'' | b'*' | b'+' | b'-' | b'.' |
        b'^' | b'_' | b'`' | b'|' | b'~' | b'0'..=b'9' | b'a'..=b'z' | b'A'..=b'Z')
}

const fn is_ctl_but_tab(b: u8) -> bool {
    (b < 0x20 && b != b'\t') || b == 0x7f
}

/// The canonical reason phrase of a status code, or `""` if none is known.
pub fn canonical_reason(status: u16) -> &'static str {
    match status {
        100 => "Continue",
        101 => "Switching Protocols",
        103 => "Early Hints",
        200 => "OK",
        201 => "Created",
        202 => "Accepted",
        203 => "Non-Authoritative Information",
        204 => "No Content",
        205 => "Reset Content",
        206 => "Partial Content",
        300 => "Multiple Choices",
        301 => "Moved Permanently",
        302 => "Found",
        303 => "See Other",
        304 => "Not Modified",
        307 => "Temporary Redirect",
        308 => "Permanent Redirect",
        400 => "Bad Request",
        401 => "Unauthorized",
        403 => "Forbidden",
        404 => "Not Found",
        405 => "Method Not Allowed",
        406 => "Not Acceptable",
        408 => "Request Timeout",
        409 => "Conflict",
        410 => "Gone",
        411 => "Length Required",
        412 => "Precondition Failed",
        413 => "Content Too Large",
        414 => "URI Too Long",
        415 => "Unsupported Media Type",
        416 => "Range Not Satisfiable",
        417 => "Expectation Failed",
        421 => "Misdirected Request",
        422 => "Unprocessable Content",
        426 => "Upgrade Required",
        428 => "Precondition Required",
        429 => "Too Many Requests",
        431 => "Request Header Fields Too Large",
        500 => "Internal Server Error",
        501 => "Not Implemented",
        502 => "Bad Gateway",
        503 => "Service Unavailable",
        504 => "Gateway Timeout",
        505 => "HTTP Version Not Supported",
        _ => "",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn field_validation_refuses_cr_lf_nul() {
        assert!(validate_field(b"x-a", b"ok value\tz").is_ok());
        assert_eq!(validate_field(b"x-a", b"a\r\nb"), Err(UserError::InvalidHeaderValue));
        assert_eq!(validate_field(b"x-a", b"a\0b"), Err(UserError::InvalidHeaderValue));
        assert_eq!(validate_field(b"x a", b"v"), Err(UserError::InvalidHeaderName));
        assert_eq!(validate_field(b"", b"v"), Err(UserError::InvalidHeaderName));
        assert_eq!(validate_field(b"x", b" v"), Err(UserError::InvalidHeaderValue));
    }

    #[test]
    fn target_parts() {
        let abs = RequestHead::new(Method::Get, "https://example.com:8443/a?b");
        assert_eq!(abs.scheme(), Some(&b"https"[..]));
        assert_eq!(abs.authority(), Some(&b"example.com:8443"[..]));
        assert_eq!(abs.path(), b"/a?b");
        let bare = RequestHead::new(Method::Get, "http://example.com");
        assert_eq!(bare.path(), b"/");
        let origin = RequestHead::new(Method::Get, "/x").header("Host", "h");
        assert_eq!((origin.scheme(), origin.authority(), origin.path()), (None, Some(&b"h"[..]), &b"/x"[..]));
        let connect = RequestHead::new(Method::Connect, "h:443");
        assert_eq!(connect.authority(), Some(&b"h:443"[..]));
    }

    #[test]
    fn heads_validate() {
        assert!(RequestHead::new(Method::Get, "/").header("Host", "a").validate().is_ok());
        assert_eq!(RequestHead::new(Method::Get, "/ x").validate(), Err(UserError::InvalidTarget));
        assert_eq!(
            RequestHead::new(Method::Other(Bytes::from_static(b"G T")), "/").validate(),
            Err(UserError::InvalidMethod)
        );
        assert_eq!(ResponseHead::new(99).validate(), Err(UserError::InvalidStatus));
        let mut r = ResponseHead::new(200);
        r.reason = Bytes::from_static(b"O\nK");
        assert_eq!(r.validate(), Err(UserError::InvalidReason));
        assert_eq!(Method::from_bytes(b"PATCH"), Method::Patch);
        assert_eq!(Method::from_bytes(b"get").as_bytes(), b"get");
    }
}
