//! What the server does to a handler's response before its head goes out,
//! as hyper does for its users: no body where the protocol allows none.

use crate::Response;
use sockless_core::ResponseHead;

/// Whether a response to this request may carry a body: not one to HEAD,
/// not a 1xx, 204 or 304 (RFC 9110 sections 6.4.1, 9.3.2).
pub(crate) fn allows_body(head_request: bool, status: u16) -> bool {
    !(head_request || (100..200).contains(&status) || status == 204 || status == 304)
}

/// Makes `response` ready to go out; returns whether it ends with its head
/// (it has no body, or none is allowed: then its body is dropped, and for
/// HEAD the head gets the `Content-Length` the body would have had, when
/// that is known and the handler set none, so a HEAD tells the size a GET
/// would send).
///
/// A 1xx other than 101 cannot end an exchange: the handler's response is
/// replaced with a 500 (as hyper does).
pub(crate) fn prepare(response: &mut Response, head_request: bool) -> bool {
    if response.head.is_informational() && response.head.status != 101 {
        *response = internal_error();
        return true;
    }
    let head = &mut response.head;
    if allows_body(head_request, head.status) {
        return response.body.is_empty();
    }
    let framed = head.headers.contains("content-length") || head.headers.contains("transfer-encoding");
    if let (true, false, Some(n)) = (head_request, framed, response.body.known_len()) {
        if n > 0 && (200..300).contains(&head.status) {
            head.headers.push("content-length", itoa(n as u64).as_slice());
        }
    }
    response.body = crate::Body::empty();
    true
}

/// The answer for a handler that failed before its head went out.
pub(crate) fn internal_error() -> Response {
    Response::new(ResponseHead::new(500).header("content-length", "0"), crate::Body::empty())
}

/// A decimal number's digits, without allocating.
pub(crate) struct Digits {
    buf: [u8; 20],
    start: usize,
}

impl Digits {
    pub(crate) fn as_slice(&self) -> &[u8] {
        &self.buf[self.start..]
    }
}

pub(crate) fn itoa(mut n: u64) -> Digits {
    let mut buf = [0u8; 20];
    let mut start = buf.len();
    loop {
        start -= 1;
        buf[start] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    Digits { buf, start }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Body;

    #[test]
    fn itoa_writes_digits() {
        assert_eq!(itoa(0).as_slice(), b"0");
        assert_eq!(itoa(1234567).as_slice(), b"1234567");
        assert_eq!(itoa(u64::MAX).as_slice(), b"18446744073709551615");
    }

    #[test]
    fn bodies_where_none_is_allowed_are_dropped() {
        let mut r = Response::new(ResponseHead::new(200), "hello");
        assert!(prepare(&mut r, true), "HEAD: the head ends the response");
        assert!(r.body.is_empty());
        assert_eq!(r.head.headers.get("content-length"), Some(&b"5"[..]));
        for status in [204, 304] {
            let mut r = Response::new(ResponseHead::new(status), Body::from("hello"));
            assert!(prepare(&mut r, false));
            assert!(r.body.is_empty());
            assert!(!r.head.headers.contains("content-length"), "{status}");
        }
        let mut r = Response::new(ResponseHead::new(200), "hello");
        assert!(!prepare(&mut r, false), "GET: the body follows");
        let mut r = Response::new(ResponseHead::new(103), "hello");
        assert!(prepare(&mut r, false));
        assert_eq!(r.head.status, 500, "a 1xx cannot end an exchange");
    }
}
