//! Telling HTTP/1.1 from HTTP/2 (and from neither) on a cleartext
//! connection whose first bytes are not the preface.

use crate::Protocol;

/// Which protocol a cleartext connection whose first bytes are not the
/// HTTP/2 preface speaks, judged by its first line (`None`: not complete
/// yet, and `full` says the detection buffer has no room left).
///
/// A request line ending in `HTTP/1.x` is HTTP/1.1's to answer (its errors
/// included). Anything else is an invalid HTTP/2 connection preface (RFC
/// 9113 section 3.4): a first line starting `PRI ` is a preface that went
/// wrong further on, and a first line that is not HTTP/1.x at all is no
/// HTTP/1.1 request either, so an HTTP/1.1 error response would be bytes
/// neither protocol can read (h2spec 3.5/2 reads it as a broken frame).
/// HTTP/2 answers it with GOAWAY(PROTOCOL_ERROR) and closes.
pub(super) fn first_line_protocol(seen: &[u8], full: bool) -> Option<Protocol> {
    // Empty lines before a request line are HTTP/1.1's (RFC 9112 section 2.2).
    let start = seen.iter().position(|&b| b != b'\r' && b != b'\n')?;
    let seen = &seen[start..];
    let Some(lf) = seen.iter().position(|&b| b == b'\n') else {
        // A request line longer than the buffer: HTTP/1.1 answers 414.
        return full.then_some(Protocol::Http1);
    };
    let line = seen[..lf].strip_suffix(b"\r").unwrap_or(&seen[..lf]);
    let http1 = match line {
        [.., b' ', b'H', b'T', b'T', b'P', b'/', b'1', b'.', minor] => minor.is_ascii_digit(),
        _ => false,
    };
    Some(if http1 && !line.starts_with(b"PRI ") { Protocol::Http1 } else { Protocol::Http2 })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_first_line_decides() {
        let cases: [(&[u8], bool, Option<Protocol>); 12] = [
            (b"GET / HTTP/1.1\r\n", false, Some(Protocol::Http1)),
            (b"GET / HTTP/1.0\n", false, Some(Protocol::Http1)),
            (b"\r\n\r\nGET / HTTP/1.1\r\n", false, Some(Protocol::Http1)),
            (b"GET / HTTP/1.9\r\n", false, Some(Protocol::Http1)),
            (b"GET / HTTP/2.0\r\n", false, Some(Protocol::Http2)),
            (b"PRI * HTTP/1.1\r\n", false, Some(Protocol::Http2)),
            (b"INVALID CONNECTION PREFACE\r\n", false, Some(Protocol::Http2)),
            (b"\x16\x03\x01\x00\x05\r\n", false, Some(Protocol::Http2)),
            (b"GET / HTTP/1.1", false, None),
            (b"GET / HTTP/1.1", true, Some(Protocol::Http1)),
            (b"\r\n", false, None),
            (b"", false, None),
        ];
        for (seen, full, want) in cases {
            assert_eq!(first_line_protocol(seen, full), want, "{:?}", String::from_utf8_lossy(seen));
        }
    }
}
