//! Client role: requests out, responses in, reuse decided per exchange.

use crate::testing::{events, feed, text, wire};
use crate::{ClientConnection, Config};
use alloc::vec::Vec;
use bytes::Bytes;
use sockless_core::{
    CloseReason, Connection, Duration, Event, HeaderList, Instant, Method, ProtocolErrorKind as Kind, RequestHead,
    StreamId, UserError,
};

const T0: Instant = Instant::ZERO;

fn client() -> ClientConnection {
    ClientConnection::new(Config::client(), T0)
}

fn get(path: &str) -> RequestHead {
    RequestHead::new(Method::Get, Bytes::copy_from_slice(path.as_bytes())).header("Host", "a")
}

fn body_of(events: &[Event]) -> Vec<u8> {
    events
        .iter()
        .filter_map(|e| match e {
            Event::Data { data, .. } => Some(&data[..]),
            _ => None,
        })
        .collect::<Vec<_>>()
        .concat()
}

#[test]
fn keep_alive_exchange_then_reuse() {
    let mut c = client();
    let s1 = c.send_request(&get("/1"), true).unwrap();
    assert_eq!(wire(&mut c), b"GET /1 HTTP/1.1\r\nHost: a\r\n\r\n");
    assert_eq!(c.send_request(&get("/2"), true), Err(UserError::Busy.into()));
    let ev = feed(&mut c, T0, b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\nX: y\r\n\r\n");
    assert_eq!(body_of(&ev), b"abc");
    assert!(matches!(&ev[ev.len() - 3], Event::Trailers { trailers, .. } if trailers.get("x") == Some(&b"y"[..])));
    assert_eq!(ev[ev.len() - 2..], [Event::EndStream { stream: s1 }, Event::Ready { reusable: true }]);
    let s2 = c.send_request(&get("/2"), true).unwrap();
    assert_eq!(s2, StreamId::new(2));
}

#[test]
fn request_bodies_are_framed() {
    let mut c = client();
    let post = RequestHead::new(Method::Post, "/").header("Host", "a");
    let s1 = c.send_request(&post, false).unwrap();
    c.send_data(s1, Bytes::from_static(b"hello"), false).unwrap();
    c.send_trailers(s1, &HeaderList::new().with("T", "1")).unwrap();
    assert_eq!(
        text(&wire(&mut c)),
        "POST / HTTP/1.1\r\nHost: a\r\ntransfer-encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\nT: 1\r\n\r\n"
    );
    feed(&mut c, T0, b"HTTP/1.1 204 No Content\r\n\r\n");
    let s2 = c.send_request(&post.clone().header("Content-Length", "2"), false).unwrap();
    assert_eq!(c.send_data(s2, Bytes::from_static(b"abc"), true), Err(UserError::BodyTooLong.into()));
    c.send_data(s2, Bytes::from_static(b"ab"), true).unwrap();
    assert!(text(&wire(&mut c)).ends_with("Content-Length: 2\r\n\r\nab"));
    feed(&mut c, T0, b"HTTP/1.1 204 No Content\r\n\r\n");
    c.send_request(&post, true).unwrap();
    assert_eq!(text(&wire(&mut c)), "POST / HTTP/1.1\r\nHost: a\r\ncontent-length: 0\r\n\r\n");
}

#[test]
fn absolute_form_goes_out_as_origin_form_with_host() {
    let mut c = client();
    c.send_request(&RequestHead::new(Method::Get, "http://example.com:8080/a?b"), true).unwrap();
    assert_eq!(text(&wire(&mut c)), "GET /a?b HTTP/1.1\r\nhost: example.com:8080\r\n\r\n");
    let mut config = Config::client();
    config.absolute_form = true;
    let mut proxy = ClientConnection::new(config, T0);
    proxy
        .send_request(&RequestHead::new(Method::Get, "http://example.com/").header("Host", "example.com"), true)
        .unwrap();
    assert_eq!(text(&wire(&mut proxy)), "GET http://example.com/ HTTP/1.1\r\nHost: example.com\r\n\r\n");
}

#[test]
fn no_body_for_head_204_304() {
    for (method, status) in [(Method::Head, 200u16), (Method::Get, 204), (Method::Get, 304)] {
        let mut c = client();
        let s1 = c.send_request(&RequestHead::new(method, "/").header("Host", "a"), true).unwrap();
        let response = alloc::format!("HTTP/1.1 {status} X\r\nContent-Length: 10\r\n\r\n");
        let ev = feed(&mut c, T0, response.as_bytes());
        assert_eq!(ev[1..], [Event::EndStream { stream: s1 }, Event::Ready { reusable: true }], "{status}");
    }
}

#[test]
fn close_delimited_body_ends_at_eof() {
    let mut c = client();
    let s1 = c.send_request(&get("/"), true).unwrap();
    wire(&mut c);
    let ev = feed(&mut c, T0, b"HTTP/1.0 200 OK\r\n\r\npart one ");
    assert_eq!(body_of(&ev), b"part one ");
    let ev = feed(&mut c, T0, b"part two");
    assert_eq!(body_of(&ev), b"part two");
    c.handle_eof(T0);
    assert_eq!(
        events(&mut c),
        [Event::EndStream { stream: s1 }, Event::Ready { reusable: false }, Event::Closed(CloseReason::Done)]
    );
}

#[test]
fn connection_close_response_is_not_reusable() {
    let mut c = client();
    c.send_request(&get("/"), true).unwrap();
    wire(&mut c);
    let ev = feed(&mut c, T0, b"HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 0\r\n\r\n");
    assert_eq!(ev.last(), Some(&Event::Closed(CloseReason::Done)));
    assert!(ev.contains(&Event::Ready { reusable: false }));
}

#[test]
fn continue_releases_the_body() {
    let mut c = client();
    let put = RequestHead::new(Method::Put, "/")
        .header("Host", "a")
        .header("Expect", "100-continue")
        .header("Content-Length", "3");
    let s1 = c.send_request(&put, false).unwrap();
    c.send_data(s1, Bytes::from_static(b"abc"), true).unwrap();
    assert!(text(&wire(&mut c)).ends_with("\r\n\r\n"), "body held");
    let ev = feed(&mut c, T0, b"HTTP/1.1 100 Continue\r\n\r\n");
    assert!(matches!(&ev[0], Event::Informational { head, .. } if head.status == 100));
    assert_eq!(wire(&mut c), b"abc");
}

#[test]
fn continue_timer_releases_the_body() {
    let mut c = client();
    let put = RequestHead::new(Method::Put, "/").header("Host", "a").header("Expect", "100-continue");
    let s1 = c.send_request(&put, false).unwrap();
    c.send_data(s1, Bytes::from_static(b"abc"), true).unwrap();
    wire(&mut c);
    let t1 = T0 + Duration::from_millis(5);
    assert_eq!(c.poll_timeout(), Some(T0), "asks for the time");
    c.handle_timeout(t1);
    assert_eq!(c.poll_timeout(), Some(t1 + Duration::from_secs(1)));
    c.handle_timeout(t1 + Duration::from_secs(1));
    assert_eq!(text(&wire(&mut c)), "3\r\nabc\r\n0\r\n\r\n");
}

#[test]
fn final_response_before_continue_drops_the_body() {
    let mut c = client();
    let put = RequestHead::new(Method::Put, "/")
        .header("Host", "a")
        .header("Expect", "100-continue")
        .header("Content-Length", "3");
    let s1 = c.send_request(&put, false).unwrap();
    c.send_data(s1, Bytes::from_static(b"abc"), true).unwrap();
    wire(&mut c);
    let ev = feed(&mut c, T0, b"HTTP/1.1 413 Too Big\r\nContent-Length: 0\r\n\r\n");
    assert!(ev.contains(&Event::Ready { reusable: false }), "{ev:?}");
    assert_eq!(wire(&mut c), b"");
}

#[test]
fn upgrade_hands_over() {
    let mut c = client();
    let req = get("/").header("Connection", "upgrade").header("Upgrade", "h2c");
    let s1 = c.send_request(&req, true).unwrap();
    wire(&mut c);
    let ev = feed(&mut c, T0, b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: h2c\r\n\r\n\x00\x00\x00\x04");
    assert!(matches!(&ev[0], Event::Response { head, .. } if head.status == 101));
    assert_eq!(ev[1], Event::Upgrade { stream: s1, leftover: Bytes::from_static(b"\x00\x00\x00\x04") });
}

#[test]
fn protocol_errors_close() {
    let cases: &[(&[u8], Kind)] = &[
        (
            b"HTTP/1.1 200 OK\r\nContent-Length: 1\r\nTransfer-Encoding: chunked\r\n\r\n",
            Kind::ContentLengthWithTransferEncoding,
        ),
        (b"HTTP/1.1 200 OK\r\nContent-Length: x\r\n\r\n", Kind::InvalidContentLength),
        (b"HTTP/1.1 200 OK\nContent-Length: 1\n\n", Kind::InvalidLineEnding),
        (b"HTTP/1.1 101 Switching Protocols\r\n\r\n", Kind::UnexpectedMessage),
        (b"HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip\r\n\r\n", Kind::UnsupportedTransferCoding),
        (b"HTTP/2.0 200 OK\r\n\r\n", Kind::UnsupportedVersion),
    ];
    for (input, kind) in cases {
        let mut c = client();
        c.send_request(&get("/"), true).unwrap();
        wire(&mut c);
        let ev = feed(&mut c, T0, input);
        assert!(
            matches!(&ev[..], [.., Event::Error(e), Event::Closed(_)] if e.kind == *kind),
            "{}: {ev:?}",
            text(input)
        );
    }
    let mut c = client();
    let ev = feed(&mut c, T0, b"HTTP/1.1 408 Request Timeout\r\n\r\n");
    assert!(matches!(&ev[0], Event::Error(e) if e.kind == Kind::UnexpectedMessage));
}

#[test]
fn eof_before_response_is_reported() {
    let mut c = client();
    c.send_request(&get("/"), true).unwrap();
    c.handle_eof(T0);
    let ev = events(&mut c);
    assert!(matches!(&ev[0], Event::Error(e) if e.kind == Kind::IncompleteHead), "{ev:?}");
    let mut c = client();
    c.handle_eof(T0);
    assert_eq!(events(&mut c), [Event::Closed(CloseReason::PeerClosed)]);
}

#[test]
fn invalid_requests_are_refused() {
    let mut c = client();
    assert_eq!(c.send_request(&get("/").header("X", "a\nb"), true), Err(UserError::InvalidHeaderValue.into()));
    assert_eq!(c.send_request(&get("/a b"), true), Err(UserError::InvalidTarget.into()));
    assert_eq!(
        c.send_response(StreamId::new(1), &sockless_core::ResponseHead::new(200), true),
        Err(UserError::WrongRole.into())
    );
    assert_eq!(wire(&mut c), b"");
}

#[test]
fn lenient_where_the_rfc_says_so() {
    // No reason phrase, obs-text in it, obs-fold (unfolded), HTTP/1.2 (read as 1.1).
    let cases: &[(&[u8], &[u8], &[u8])] = &[
        (b"HTTP/1.1 200\r\nContent-Length: 2\r\n\r\nhi", b"", b"2"),
        (b"HTTP/1.1 200 caf\xc3\xa9\r\nContent-Length: 2\r\n\r\nhi", b"caf\xc3\xa9", b"2"),
        (b"HTTP/1.1 200 OK\r\nX-Folded: a\r\n b\r\nContent-Length: 2\r\n\r\nhi", b"OK", b"2"),
        (b"HTTP/1.2 200 OK\r\nContent-Length: 2\r\n\r\nhi", b"OK", b"2"),
    ];
    for (input, reason, length) in cases {
        let mut c = client();
        c.send_request(&get("/"), true).unwrap();
        wire(&mut c);
        let ev = feed(&mut c, T0, input);
        let Some(Event::Response { head, .. }) = ev.first() else { panic!("{}: {ev:?}", text(input)) };
        assert_eq!(&head.reason[..], *reason);
        assert_eq!(head.headers.get("content-length"), Some(*length));
        assert_eq!(head.version, sockless_core::Version::Http11);
        if let Some(folded) = head.headers.get("x-folded") {
            assert_eq!(folded, b"a   b");
        }
        assert_eq!(body_of(&ev), b"hi");
    }
}
