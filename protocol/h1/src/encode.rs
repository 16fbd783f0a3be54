//! Messages out: writing heads (validated, case kept) and framing bodies by
//! Content-Length, chunked coding or connection close.

use crate::chunked::write_size_line;
use crate::fields::Coding;
use alloc::vec::Vec;
use bytes::Bytes;
use sockless_core::TransmitQueue as Transmit;
use sockless_core::{canonical_reason, HeaderList, RequestHead, ResponseHead, UserError, Version};

/// How an outgoing body is delimited.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum BodyEncoder {
    /// No body may be sent (HEAD response, 1xx, 204, 304, or a bodiless request).
    None,
    /// Exactly this many more bytes.
    Length(u64),
    /// Chunked coding.
    Chunked,
    /// Until the connection closes (HTTP/1.0 peer, unknown length).
    UntilClose,
}

/// What the framing fields an application wrote say.
pub(crate) struct UserFraming {
    pub content_length: Option<u64>,
    pub chunked: bool,
    pub close: bool,
    pub keep_alive: bool,
    pub expect_continue: bool,
    pub has_host: bool,
    pub upgrade: bool,
}

/// Validates the application's fields and reads its framing fields, in one
/// pass; contradictory or malformed framing is the application's mistake.
pub(crate) fn user_framing(headers: &HeaderList) -> Result<UserFraming, UserError> {
    sockless_core::validate_fields(headers)?;
    let mut scan = crate::fields::Scan::default();
    for (name, value) in headers {
        scan.add(name, value).map_err(|_| UserError::InvalidFraming)?;
    }
    let info = scan.finish();
    let chunked = match info.transfer_encoding {
        None => false,
        Some(Coding::Chunked) => true,
        Some(_) => return Err(UserError::InvalidFraming),
    };
    if chunked && info.content_length.is_some() {
        return Err(UserError::InvalidFraming);
    }
    Ok(UserFraming {
        content_length: info.content_length,
        chunked,
        close: info.close,
        keep_alive: info.keep_alive,
        expect_continue: info.expect_continue,
        has_host: info.host_count > 0,
        upgrade: info.upgrade,
    })
}

/// Decimal digits of `n`.
pub(crate) fn write_decimal(out: &mut Vec<u8>, mut n: u64) {
    let mut digits = [0u8; 20];
    let mut i = digits.len();
    loop {
        i -= 1;
        digits[i] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    out.extend_from_slice(&digits[i..]);
}

fn write_fields(out: &mut Vec<u8>, headers: &HeaderList) {
    if let Some(wire) = headers.as_wire() {
        // A frozen list already holds its fields as wire lines.
        out.extend_from_slice(wire);
        return;
    }
    for (n, v) in headers {
        out.extend_from_slice(n);
        out.extend_from_slice(b": ");
        out.extend_from_slice(v);
        out.extend_from_slice(b"\r\n");
    }
}

/// Fields the connection adds to what the application wrote.
#[derive(Clone, Copy, Default)]
pub(crate) struct Added {
    pub content_length: Option<u64>,
    pub chunked: bool,
    pub close: bool,
    pub keep_alive: bool,
}

fn write_added(out: &mut Vec<u8>, added: Added) {
    if let Some(n) = added.content_length {
        out.extend_from_slice(b"content-length: ");
        write_decimal(out, n);
        out.extend_from_slice(b"\r\n");
    }
    if added.chunked {
        out.extend_from_slice(b"transfer-encoding: chunked\r\n");
    }
    if added.close {
        out.extend_from_slice(b"connection: close\r\n");
    }
    if added.keep_alive {
        out.extend_from_slice(b"connection: keep-alive\r\n");
    }
}

/// Writes a response head. The head must have been validated.
pub(crate) fn write_response_head(out: &mut Transmit, head: &ResponseHead, version: Version, added: Added) {
    out.framing(|b| {
        b.extend_from_slice(version.as_str().as_bytes());
        // The status is 100..=999 (validated): three digits.
        let s = head.status;
        b.extend_from_slice(&[
            b' ',
            b'0' + (s / 100 % 10) as u8,
            b'0' + (s / 10 % 10) as u8,
            b'0' + (s % 10) as u8,
            b' ',
        ]);
        if head.reason.is_empty() {
            b.extend_from_slice(canonical_reason(head.status).as_bytes());
        } else {
            b.extend_from_slice(&head.reason);
        }
        b.extend_from_slice(b"\r\n");
        write_fields(b, &head.headers);
        write_added(b, added);
        b.extend_from_slice(b"\r\n");
    });
}

/// Writes a request head with `target` on the request line, and a Host
/// field from `host` if given.
pub(crate) fn write_request_head(
    out: &mut Transmit,
    head: &RequestHead,
    target: &[u8],
    host: Option<&[u8]>,
    added: Added,
) {
    out.framing(|b| {
        b.extend_from_slice(head.method.as_bytes());
        b.push(b' ');
        b.extend_from_slice(target);
        b.push(b' ');
        b.extend_from_slice(head.version.as_str().as_bytes());
        b.extend_from_slice(b"\r\n");
        if let Some(host) = host {
            b.extend_from_slice(b"host: ");
            b.extend_from_slice(host);
            b.extend_from_slice(b"\r\n");
        }
        write_fields(b, &head.headers);
        write_added(b, added);
        b.extend_from_slice(b"\r\n");
    });
}

/// Sends body bytes through `encoder` into `out`, taking only what fits
/// under `cap` queued bytes. Returns how many bytes were taken and whether
/// the body ended (all taken and `end_stream`).
pub(crate) fn send_body(
    encoder: &mut BodyEncoder,
    out: &mut Transmit,
    cap: usize,
    data: Bytes,
    end_stream: bool,
) -> Result<(usize, bool), UserError> {
    match *encoder {
        BodyEncoder::None if !data.is_empty() => return Err(UserError::BodyNotAllowed),
        BodyEncoder::Length(n) if data.len() as u64 > n => return Err(UserError::BodyTooLong),
        BodyEncoder::Length(n) if end_stream && data.len() as u64 != n => return Err(UserError::BodyTooShort),
        _ => {}
    }
    let accepted = data.len().min(cap.saturating_sub(out.len()));
    let all = accepted == data.len();
    encoder.data(out, data.slice(..accepted))?;
    if all && end_stream {
        encoder.finish(out, None)?;
    }
    Ok((accepted, all && end_stream))
}

impl BodyEncoder {
    /// Frames and queues `data`.
    pub(crate) fn data(&mut self, out: &mut Transmit, data: Bytes) -> Result<(), UserError> {
        match self {
            BodyEncoder::None if data.is_empty() => Ok(()),
            BodyEncoder::None => Err(UserError::BodyNotAllowed),
            BodyEncoder::Length(remaining) => {
                if data.len() as u64 > *remaining {
                    return Err(UserError::BodyTooLong);
                }
                *remaining -= data.len() as u64;
                out.push_body(data);
                Ok(())
            }
            BodyEncoder::Chunked => {
                if !data.is_empty() {
                    out.framing(|b| write_size_line(b, data.len()));
                    out.push_body(data);
                    out.push_framing(b"\r\n");
                }
                Ok(())
            }
            BodyEncoder::UntilClose => {
                out.push_body(data);
                Ok(())
            }
        }
    }

    /// Checks that the body may end now (all of a Content-Length sent).
    pub(crate) fn can_finish(&self) -> Result<(), UserError> {
        match self {
            BodyEncoder::Length(n) if *n > 0 => Err(UserError::BodyTooShort),
            _ => Ok(()),
        }
    }

    /// Ends the body, with trailers if the coding carries them.
    pub(crate) fn finish(&mut self, out: &mut Transmit, trailers: Option<&HeaderList>) -> Result<(), UserError> {
        if trailers.is_some_and(|t| !t.is_empty()) && *self != BodyEncoder::Chunked {
            return Err(UserError::TrailersNotAllowed);
        }
        self.can_finish()?;
        if *self == BodyEncoder::Chunked {
            out.framing(|b| {
                b.extend_from_slice(b"0\r\n");
                if let Some(t) = trailers {
                    write_fields(b, t);
                }
                b.extend_from_slice(b"\r\n");
            });
        }
        *self = BodyEncoder::None;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn flat(t: &mut Transmit) -> Vec<u8> {
        let mut out: [&[u8]; 16] = [&[]; 16];
        let n = t.poll(&mut out);
        let v = out[..n].concat();
        t.advance(v.len());
        v
    }

    #[test]
    fn response_head_keeps_case_and_adds_framing() {
        let mut t = Transmit::default();
        let head = ResponseHead::new(200).header("X-Case", "Kept");
        write_response_head(&mut t, &head, Version::Http11, Added { chunked: true, ..Added::default() });
        assert_eq!(flat(&mut t), b"HTTP/1.1 200 OK\r\nX-Case: Kept\r\ntransfer-encoding: chunked\r\n\r\n");
    }

    #[test]
    fn encoders() {
        let mut t = Transmit::default();
        let mut e = BodyEncoder::Chunked;
        e.data(&mut t, Bytes::from_static(b"hello world!")).unwrap();
        e.finish(&mut t, Some(&HeaderList::new().with("X-T", "1"))).unwrap();
        assert_eq!(flat(&mut t), b"c\r\nhello world!\r\n0\r\nX-T: 1\r\n\r\n");
        let mut e = BodyEncoder::Length(3);
        assert_eq!(e.data(&mut t, Bytes::from_static(b"abcd")), Err(UserError::BodyTooLong));
        e.data(&mut t, Bytes::from_static(b"ab")).unwrap();
        assert_eq!(e.finish(&mut t, None), Err(UserError::BodyTooShort));
        e.data(&mut t, Bytes::from_static(b"c")).unwrap();
        assert_eq!(e.finish(&mut t, Some(&HeaderList::new().with("a", "b"))), Err(UserError::TrailersNotAllowed));
        e.finish(&mut t, None).unwrap();
        assert_eq!(flat(&mut t), b"abc");
        assert_eq!(BodyEncoder::None.data(&mut t, Bytes::from_static(b"x")), Err(UserError::BodyNotAllowed));
    }

    #[test]
    fn user_framing_rules() {
        assert!(user_framing(&HeaderList::new().with("Content-Length", "x")).is_err());
        assert!(user_framing(&HeaderList::new().with("Transfer-Encoding", "gzip")).is_err());
        assert!(
            user_framing(&HeaderList::new().with("Transfer-Encoding", "chunked").with("Content-Length", "1")).is_err()
        );
        let f = user_framing(&HeaderList::new().with("Connection", "close").with("Content-Length", "5")).unwrap();
        assert_eq!(f.content_length, Some(5));
        assert!(f.close && !f.chunked);
    }
}
