//! What the server does to a handler's response before its head goes out,
//! as hyper does for its users: no body where the protocol allows none, a
//! `Content-Length` for a body of known length, a `Date` field on every
//! response (RFC 9110 section 6.6.1), and `Server` when configured.

use crate::Response;
use sockless_core::{Bytes, HeaderList, ResponseHead};
use std::cell::{Cell, RefCell};
use std::time::{SystemTime, UNIX_EPOCH};

/// The server-wide part of the rules (from [`ServerOptions`](crate::ServerOptions)).
#[derive(Clone, Debug, Default)]
pub(crate) struct Rules {
    /// The `Server` field's value, added when the handler set none.
    pub(crate) server: Option<Bytes>,
}

/// The response rules of [`ServerOptions`](crate::ServerOptions), for a
/// driver that calls handlers itself (sockless-epoll): what the async
/// drivers do to every handler response before its head goes out, so that a
/// handler answers alike on every driver.
#[derive(Clone, Debug, Default)]
pub struct ResponseRules(pub(crate) Rules);

impl ResponseRules {
    /// The rules `options` configure (its `server_header`).
    pub fn new(options: &crate::ServerOptions) -> ResponseRules {
        ResponseRules(Rules { server: options.server_header.clone().map(Bytes::from) })
    }

    /// Makes `response` ready to go out and returns whether it ends with its
    /// head (send it with `end_stream` then): no body to HEAD, 1xx, 204 or
    /// 304 (HEAD keeps the `Content-Length` a GET would have had); a body of
    /// known length gets `Content-Length`; `Date` and the configured
    /// `Server` are added unless the handler set them; a 1xx other than 101
    /// becomes a 500. `head_request`: the request's method was HEAD.
    pub fn prepare(&self, response: &mut Response, head_request: bool) -> bool {
        prepare(response, head_request, &self.0)
    }

    /// The 500 a driver answers when a handler panicked before its head
    /// went out, with the standard fields.
    pub fn internal_error(&self) -> Response {
        let mut response = internal_error();
        add_standard_fields(&mut response.head, &self.0);
        response
    }
}

/// Makes `response` ready to go out; returns whether it ends with its head.
///
/// * No body allowed: the body is dropped; for HEAD the head gets the
///   `Content-Length` the body would have had, when that is known and the
///   handler set none (so a HEAD tells the size a GET would send).
/// * A body of known length without framing fields of the handler's gets
///   `Content-Length` (so HTTP/1.1 sends it plain, not chunked).
/// * `Date` and the configured `Server`, unless the handler set them.
///
/// A 1xx other than 101 cannot end an exchange: the handler's response is
/// replaced with a 500 (as hyper does).
pub(crate) fn prepare(response: &mut Response, head_request: bool, rules: &Rules) -> bool {
    if response.head.is_informational() && response.head.status != 101 {
        *response = internal_error();
        add_standard_fields(&mut response.head, rules);
        return true;
    }
    let head = &mut response.head;
    let framed = head.headers.contains("content-length") || head.headers.contains("transfer-encoding");
    let known = if framed { None } else { response.body.known_len() };
    let end = if sockless_core::response_has_content(head_request, head.status) {
        if let Some(n) = known.filter(|&n| n > 0) {
            head.headers.push("content-length", itoa(n as u64).as_slice());
        }
        response.body.is_empty()
    } else {
        if let Some(n) = known.filter(|&n| n > 0 && head_request && (200..300).contains(&head.status)) {
            head.headers.push("content-length", itoa(n as u64).as_slice());
        }
        response.body = crate::Body::empty();
        true
    };
    add_standard_fields(head, rules);
    end
}

/// `Date` (and `Server`, when configured) unless the head has them.
///
/// A head built once and sent many times (a static answer: its fields
/// frozen, see [`HeaderList::freeze`](sockless_core::HeaderList::freeze))
/// is completed once a second per thread and the result reused, so the
/// common case costs a reference count rather than copying the list.
pub(crate) fn add_standard_fields(head: &mut ResponseHead, rules: &Rules) {
    let date = !head.headers.contains("date");
    let server = rules.server.as_ref().filter(|_| !head.headers.contains("server"));
    if !date && server.is_none() {
        return;
    }
    let secs = now_secs();
    let Some(wire) = head.headers.as_wire() else {
        complete(&mut head.headers, secs, date, server);
        return;
    };
    let reused = COMPLETED.with_borrow(|c| {
        let c = c.as_ref()?;
        let same = c.original.as_wire().is_some_and(|w| std::ptr::eq(w, wire));
        (same && c.secs == secs && c.server.as_ref() == server).then(|| c.done.clone())
    });
    if let Some(done) = reused {
        head.headers = done;
        return;
    }
    let original = head.headers.clone();
    complete(&mut head.headers, secs, date, server);
    head.headers.freeze();
    let done = head.headers.clone();
    COMPLETED.set(Some(Completed { original, secs, server: server.cloned(), done }));
}

/// Adds `Date` for `secs` and `server`, as asked.
fn complete(headers: &mut HeaderList, secs: u64, date: bool, server: Option<&Bytes>) {
    if date {
        headers.push("date", date_text(secs));
    }
    if let Some(server) = server {
        headers.push("server", server);
    }
}

/// A frozen field list this thread completed with [`add_standard_fields`].
struct Completed {
    /// The list as the handler gave it. Held, so its bytes stay allocated
    /// and a list at the same address is this one.
    original: HeaderList,
    secs: u64,
    server: Option<Bytes>,
    done: HeaderList,
}

thread_local! {
    static COMPLETED: RefCell<Option<Completed>> = const { RefCell::new(None) };
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

/// Length of an IMF-fixdate: `Sun, 06 Nov 1994 08:49:37 GMT`.
const DATE_LEN: usize = 29;

thread_local! {
    /// The last second formatted on this thread and its text: a `Date`
    /// field costs a clock read and a copy, and the formatting runs at most
    /// once a second per thread.
    static DATE: Cell<(u64, [u8; DATE_LEN])> = const { Cell::new((u64::MAX, [0; DATE_LEN])) };
}

/// Seconds since the Unix epoch, now.
fn now_secs() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs())
}

/// `secs` as an IMF-fixdate, formatted once per second per thread.
fn date_text(secs: u64) -> [u8; DATE_LEN] {
    let (cached, mut text) = DATE.get();
    if cached != secs {
        text = imf_fixdate(secs);
        DATE.set((secs, text));
    }
    text
}

/// Formats `secs` since the Unix epoch as an IMF-fixdate (RFC 9110 section
/// 5.6.7), the only form a sender may generate.
pub(crate) fn imf_fixdate(secs: u64) -> [u8; DATE_LEN] {
    const DAYS: [&[u8; 3]; 7] = [b"Thu", b"Fri", b"Sat", b"Sun", b"Mon", b"Tue", b"Wed"];
    const MONTHS: [&[u8; 3]; 12] =
        [b"Jan", b"Feb", b"Mar", b"Apr", b"May", b"Jun", b"Jul", b"Aug", b"Sep", b"Oct", b"Nov", b"Dec"];
    let days = secs / 86_400;
    let rem = secs % 86_400;
    let (hour, min, sec) = (rem / 3600, rem % 3600 / 60, rem % 60);
    let weekday = DAYS[(days % 7) as usize];
    // Civil date from days since 1970-01-01 (Howard Hinnant's algorithm,
    // for the proleptic Gregorian calendar).
    let z = days as i64 + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    let year = year.clamp(0, 9999) as u64;

    let mut out = *b"Thu, 01 Jan 1970 00:00:00 GMT";
    out[..3].copy_from_slice(weekday);
    let two = |out: &mut [u8; DATE_LEN], at: usize, v: u64| {
        out[at] = b'0' + (v / 10) as u8;
        out[at + 1] = b'0' + (v % 10) as u8;
    };
    two(&mut out, 5, day as u64);
    out[8..11].copy_from_slice(MONTHS[(month - 1) as usize]);
    two(&mut out, 12, year / 100);
    two(&mut out, 14, year % 100);
    two(&mut out, 17, hour);
    two(&mut out, 20, min);
    two(&mut out, 23, sec);
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Body;

    #[test]
    fn imf_fixdate_formats_known_instants() {
        assert_eq!(&imf_fixdate(0), b"Thu, 01 Jan 1970 00:00:00 GMT");
        // RFC 9110's example.
        assert_eq!(&imf_fixdate(784_111_777), b"Sun, 06 Nov 1994 08:49:37 GMT");
        // A leap day, and the turn of a century that is a leap year.
        assert_eq!(&imf_fixdate(951_782_400), b"Tue, 29 Feb 2000 00:00:00 GMT");
        assert_eq!(&imf_fixdate(1_709_164_799), b"Wed, 28 Feb 2024 23:59:59 GMT");
        assert_eq!(&imf_fixdate(4_102_444_800), b"Fri, 01 Jan 2100 00:00:00 GMT");
    }

    #[test]
    fn known_lengths_get_content_length_unless_the_handler_framed_it() {
        let rules = Rules::default();
        let mut r = Response::new(ResponseHead::new(200), "hello");
        assert!(!prepare(&mut r, false, &rules));
        assert_eq!(r.head.headers.get("content-length"), Some(&b"5"[..]));
        assert!(r.head.headers.get("date").is_some_and(|d| d.len() == DATE_LEN));
        assert!(!r.head.headers.contains("server"));

        let mut r = Response::new(ResponseHead::new(200).header("transfer-encoding", "chunked"), "hello");
        prepare(&mut r, false, &rules);
        assert!(!r.head.headers.contains("content-length"));

        let (_tx, streamed) = Body::channel();
        let mut r = Response::new(ResponseHead::new(200), streamed);
        assert!(!prepare(&mut r, false, &rules));
        assert!(!r.head.headers.contains("content-length"));

        let (_tx, sized) = Body::sized_channel(7);
        let mut r = Response::new(ResponseHead::new(200), sized);
        assert!(!prepare(&mut r, false, &rules));
        assert_eq!(r.head.headers.get("content-length"), Some(&b"7"[..]));
    }

    #[test]
    fn date_and_server_are_added_unless_set() {
        let rules = Rules { server: Some(Bytes::from_static(b"sockless")) };
        let mut r = Response::new(ResponseHead::new(200).header("Date", "x").header("Server", "y"), "");
        prepare(&mut r, false, &rules);
        assert_eq!(r.head.headers.get_all("date").count(), 1);
        assert_eq!(r.head.headers.get("server"), Some(&b"y"[..]));
        let mut r = Response::new(ResponseHead::new(204), "");
        prepare(&mut r, false, &rules);
        assert_eq!(r.head.headers.get("server"), Some(&b"sockless"[..]));
        // The cached text is the one formatted for the second asked.
        let now = now_secs();
        assert_eq!(date_text(now), imf_fixdate(now));
        assert_eq!(date_text(now + 1), imf_fixdate(now + 1));
        assert_eq!(date_text(now), imf_fixdate(now));
    }

    #[test]
    fn a_frozen_head_is_completed_once_and_reused() {
        let rules = Rules { server: Some(Bytes::from_static(b"sockless")) };
        let mut fixed = ResponseHead::new(200).header("content-length", "2");
        fixed.headers.freeze();
        let mut first = fixed.clone();
        add_standard_fields(&mut first, &rules);
        let mut second = fixed.clone();
        add_standard_fields(&mut second, &rules);
        for head in [&first, &second] {
            assert_eq!(head.headers.get("content-length"), Some(&b"2"[..]));
            assert_eq!(head.headers.get("date").map(<[u8]>::len), Some(DATE_LEN));
            assert_eq!(head.headers.get("server"), Some(&b"sockless"[..]));
        }
        // Within one second the second is the first one's list, shared.
        if first.headers.get("date") == second.headers.get("date") {
            assert!(std::ptr::eq(first.headers.as_wire().unwrap(), second.headers.as_wire().unwrap()));
        }
        // Another frozen list with other fields is completed on its own.
        let mut other = ResponseHead::new(200).header("content-length", "3");
        other.headers.freeze();
        add_standard_fields(&mut other, &rules);
        assert_eq!(other.headers.get("content-length"), Some(&b"3"[..]));
        assert!(other.headers.get("date").is_some());
    }

    #[test]
    fn itoa_writes_digits() {
        assert_eq!(itoa(0).as_slice(), b"0");
        assert_eq!(itoa(1234567).as_slice(), b"1234567");
        assert_eq!(itoa(u64::MAX).as_slice(), b"18446744073709551615");
    }

    #[test]
    fn bodies_where_none_is_allowed_are_dropped() {
        let rules = Rules::default();
        let mut r = Response::new(ResponseHead::new(200), "hello");
        assert!(prepare(&mut r, true, &rules), "HEAD: the head ends the response");
        assert!(r.body.is_empty());
        assert_eq!(r.head.headers.get("content-length"), Some(&b"5"[..]));
        for status in [204, 304] {
            let mut r = Response::new(ResponseHead::new(status), Body::from("hello"));
            assert!(prepare(&mut r, false, &rules));
            assert!(r.body.is_empty());
            assert!(!r.head.headers.contains("content-length"), "{status}");
        }
        let mut r = Response::new(ResponseHead::new(200), "hello");
        assert!(!prepare(&mut r, false, &rules), "GET: the body follows");
        let mut r = Response::new(ResponseHead::new(103), "hello");
        assert!(prepare(&mut r, false, &rules));
        assert_eq!(r.head.status, 500, "a 1xx cannot end an exchange");
    }
}
