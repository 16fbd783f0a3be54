//! Server role, laid out like its states: reading heads, reading bodies,
//! responding, switching protocols, refusing, timers, end of input.

use crate::testing::{events, feed, text, wire};
use crate::{Config, ServerConnection};
use alloc::vec::Vec;
use bytes::Bytes;
use sockless_core::{
    Answer, CloseReason, Connection, Duration, Error, ErrorCode, Event, HeaderList, Instant, ProtocolErrorKind as Kind,
    ResponseHead, StreamId, UserError,
};

const T0: Instant = Instant::ZERO;

fn server() -> ServerConnection {
    ServerConnection::new(Config::server(), T0)
}

fn s(n: u32) -> StreamId {
    StreamId::new(n)
}

fn request_streams(events: &[Event]) -> Vec<StreamId> {
    events
        .iter()
        .filter_map(|e| match e {
            Event::Request { stream, .. } => Some(*stream),
            _ => None,
        })
        .collect()
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

mod reading_heads {
    use super::*;

    #[test]
    fn request_without_body_ends_at_once() {
        let mut c = server();
        let ev = feed(&mut c, T0, b"GET /x?y=1 HTTP/1.1\r\nHost: a\r\nX-Mixed-Case: V\r\n\r\n");
        assert_eq!(ev.len(), 2);
        let Event::Request { stream, head, expects_continue } = &ev[0] else { panic!("{ev:?}") };
        assert_eq!(*stream, s(1));
        assert_eq!(&head.target[..], b"/x?y=1");
        assert!(!expects_continue);
        assert_eq!(head.headers.iter().nth(1), Some((&b"X-Mixed-Case"[..], &b"V"[..])));
        assert_eq!(ev[1], Event::EndStream { stream: s(1) });
    }

    #[test]
    fn byte_by_byte_gives_the_same_events() {
        let input = b"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\nT: 1\r\n\r\n";
        let whole = feed(&mut server(), T0, input);
        let mut c = server();
        let mut split = Vec::new();
        for b in input.iter() {
            split.extend(feed(&mut c, T0, core::slice::from_ref(b)));
        }
        let merge = |ev: Vec<Event>| -> (Vec<StreamId>, Vec<u8>, usize) {
            (request_streams(&ev), body_of(&ev), ev.iter().filter(|e| matches!(e, Event::Trailers { .. })).count())
        };
        assert_eq!(merge(whole), merge(split));
    }

    #[test]
    fn pipelined_requests_parse_ahead_and_answer_in_order() {
        let mut c = server();
        let ev = feed(&mut c, T0, b"GET /1 HTTP/1.1\r\nHost: a\r\n\r\nGET /2 HTTP/1.1\r\nHost: a\r\n\r\n");
        assert_eq!(request_streams(&ev), [s(1), s(2)]);
        // The second response is ready first: it waits for the first.
        c.send_response(s(2), &ResponseHead::new(200).header("X", "2"), true).unwrap();
        assert_eq!(wire(&mut c), b"");
        c.send_response(s(1), &ResponseHead::new(200).header("X", "1"), true).unwrap();
        let out = text(&wire(&mut c));
        assert_eq!(
            out,
            "HTTP/1.1 200 OK\r\nX: 1\r\ncontent-length: 0\r\n\r\nHTTP/1.1 200 OK\r\nX: 2\r\ncontent-length: 0\r\n\r\n"
        );
    }

    #[test]
    fn pipelining_limit_pauses_parsing() {
        let mut config = Config::server();
        config.max_pipelined = 2;
        let mut c = ServerConnection::new(config, T0);
        let three = b"GET / HTTP/1.1\r\nHost: a\r\n\r\n".repeat(3);
        let ev = feed(&mut c, T0, &three);
        assert_eq!(request_streams(&ev), [s(1), s(2)]);
        c.send_response(s(1), &ResponseHead::new(204), true).unwrap();
        assert_eq!(request_streams(&events(&mut c)), [s(3)]);
    }

    #[test]
    fn leading_empty_lines_are_ignored() {
        let ev = feed(&mut server(), T0, b"\r\n\r\nGET / HTTP/1.1\r\nHost: a\r\n\r\n");
        assert_eq!(request_streams(&ev), [s(1)]);
    }
}

mod reading_bodies {
    use super::*;

    #[test]
    fn content_length_body_is_sliced_not_copied() {
        let mut c = server();
        let ev = feed(&mut c, T0, b"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\n\r\nhel");
        assert_eq!(body_of(&ev), b"hel");
        let ev = feed(&mut c, T0, b"loGET");
        assert_eq!(body_of(&ev), b"lo");
        assert_eq!(ev.last(), Some(&Event::EndStream { stream: s(1) }));
    }

    #[test]
    fn chunked_body_with_extensions_and_trailers() {
        let mut c = server();
        let ev = feed(
            &mut c,
            T0,
            b"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n4;ext=\"q\"\r\nWiki\r\n5\r\npedia\r\n0\r\nChecksum: x\r\n\r\n",
        );
        assert_eq!(body_of(&ev), b"Wikipedia");
        let trailers: Vec<&HeaderList> = ev
            .iter()
            .filter_map(|e| match e {
                Event::Trailers { trailers, .. } => Some(trailers),
                _ => None,
            })
            .collect();
        assert_eq!(trailers[0].get("checksum"), Some(&b"x"[..]));
        assert_eq!(ev.last(), Some(&Event::EndStream { stream: s(1) }));
    }

    #[test]
    fn expect_continue_is_sent_when_the_body_is_read() {
        let mut c = server();
        let ev = feed(&mut c, T0, b"PUT / HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\nExpect: 100-continue\r\n\r\n");
        assert!(matches!(ev[0], Event::Request { expects_continue: true, .. }));
        assert_eq!(wire(&mut c), b"");
        c.read_body(s(1)).unwrap();
        assert_eq!(wire(&mut c), b"HTTP/1.1 100 Continue\r\n\r\n");
        c.read_body(s(1)).unwrap();
        assert_eq!(wire(&mut c), b"", "sent once");
        let ev = feed(&mut c, T0, b"abc");
        assert_eq!(body_of(&ev), b"abc");
    }

    #[test]
    fn final_response_without_reading_skips_continue_and_closes() {
        let mut c = server();
        feed(&mut c, T0, b"PUT / HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\nExpect: 100-continue\r\n\r\n");
        c.send_response(s(1), &ResponseHead::new(417), true).unwrap();
        let out = text(&wire(&mut c));
        assert!(out.starts_with("HTTP/1.1 417 Expectation Failed\r\n"), "{out}");
        assert!(out.contains("connection: close\r\n"));
        assert!(!out.contains("100 Continue"));
        assert_eq!(events(&mut c).last(), Some(&Event::Closed(CloseReason::Done)));
    }

    #[test]
    fn backlog_of_unpolled_data_pauses_parsing() {
        let mut config = Config::server();
        config.max_buffered_events = 4;
        let mut c = ServerConnection::new(config, T0);
        c.handle_input(T0, b"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 10\r\n\r\n0123").unwrap();
        c.handle_input(T0, b"456789").unwrap();
        // Only the first chunk of data was decoded; the rest waits in the buffer.
        let ev = events(&mut c);
        assert_eq!(body_of(&ev), b"0123456789");
    }
}

mod responding {
    use super::*;

    fn one_get(c: &mut ServerConnection, req: &[u8]) {
        let ev = feed(c, T0, req);
        assert_eq!(request_streams(&ev).len(), 1, "{ev:?}");
    }

    #[test]
    fn streamed_response_is_chunked_with_trailers() {
        let mut c = server();
        one_get(&mut c, b"GET / HTTP/1.1\r\nHost: a\r\n\r\n");
        c.send_response(s(1), &ResponseHead::new(200), false).unwrap();
        assert_eq!(c.send_data(s(1), Bytes::from_static(b"hello"), false), Ok(5));
        c.send_trailers(s(1), &HeaderList::new().with("X-Done", "1")).unwrap();
        assert_eq!(
            text(&wire(&mut c)),
            "HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\nX-Done: 1\r\n\r\n"
        );
        assert_eq!(c.send_data(s(1), Bytes::from_static(b"x"), false), Err(Error::User(UserError::UnknownStream)));
    }

    #[test]
    fn content_length_is_enforced() {
        let mut c = server();
        one_get(&mut c, b"GET / HTTP/1.1\r\nHost: a\r\n\r\n");
        c.send_response(s(1), &ResponseHead::new(200).header("Content-Length", "3"), false).unwrap();
        assert_eq!(c.send_data(s(1), Bytes::from_static(b"abcd"), false), Err(UserError::BodyTooLong.into()));
        assert_eq!(c.send_data(s(1), Bytes::from_static(b"ab"), true), Err(UserError::BodyTooShort.into()));
        assert_eq!(c.send_data(s(1), Bytes::from_static(b"abc"), true), Ok(3));
        assert!(text(&wire(&mut c)).ends_with("Content-Length: 3\r\n\r\nabc"));
    }

    #[test]
    fn head_204_and_304_have_no_body() {
        let mut c = server();
        one_get(&mut c, b"HEAD / HTTP/1.1\r\nHost: a\r\n\r\n");
        c.send_response(s(1), &ResponseHead::new(200).header("Content-Length", "10"), false).unwrap();
        assert_eq!(c.send_data(s(1), Bytes::from_static(b"x"), false), Err(UserError::BodyNotAllowed.into()));
        c.send_data(s(1), Bytes::new(), true).unwrap();
        assert_eq!(text(&wire(&mut c)), "HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\n");
        for status in [204u16, 304] {
            let mut c = server();
            one_get(&mut c, b"GET / HTTP/1.1\r\nHost: a\r\n\r\n");
            c.send_response(s(1), &ResponseHead::new(status), true).unwrap();
            let out = text(&wire(&mut c));
            assert!(!out.contains("content-length") && !out.contains("chunked"), "{out}");
        }
    }

    #[test]
    fn http10_gets_close_delimited_or_keep_alive() {
        let mut c = server();
        one_get(&mut c, b"GET / HTTP/1.0\r\n\r\n");
        c.send_response(s(1), &ResponseHead::new(200), false).unwrap();
        c.send_data(s(1), Bytes::from_static(b"body"), true).unwrap();
        assert_eq!(text(&wire(&mut c)), "HTTP/1.0 200 OK\r\nconnection: close\r\n\r\nbody");
        assert_eq!(events(&mut c), [Event::Closed(CloseReason::Done)]);

        let mut c = server();
        one_get(&mut c, b"GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n");
        c.send_response(s(1), &ResponseHead::new(200).header("Content-Length", "2"), false).unwrap();
        c.send_data(s(1), Bytes::from_static(b"ok"), true).unwrap();
        assert_eq!(text(&wire(&mut c)), "HTTP/1.0 200 OK\r\nContent-Length: 2\r\nconnection: keep-alive\r\n\r\nok");
        assert_eq!(request_streams(&feed(&mut c, T0, b"GET / HTTP/1.0\r\n\r\n")), [s(2)]);
    }

    #[test]
    fn connection_close_stops_parsing() {
        let mut c = server();
        let ev = feed(
            &mut c,
            T0,
            b"GET / HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\nGET /2 HTTP/1.1\r\nHost: a\r\n\r\n",
        );
        assert_eq!(request_streams(&ev), [s(1)]);
        c.send_response(s(1), &ResponseHead::new(200), true).unwrap();
        let out = text(&wire(&mut c));
        assert!(out.contains("connection: close\r\n"), "{out}");
        assert_eq!(events(&mut c), [Event::Closed(CloseReason::Done)]);
        assert!(c.is_closed());
    }

    #[test]
    fn invalid_heads_are_refused_unchanged() {
        let mut c = server();
        one_get(&mut c, b"GET / HTTP/1.1\r\nHost: a\r\n\r\n");
        let evil = ResponseHead::new(200).header("X", "a\r\nSet-Cookie: evil");
        assert_eq!(c.send_response(s(1), &evil, true), Err(UserError::InvalidHeaderValue.into()));
        let nul = ResponseHead::new(200).header("X\0", "a");
        assert_eq!(c.send_response(s(1), &nul, true), Err(UserError::InvalidHeaderName.into()));
        assert_eq!(c.send_response(s(1), &ResponseHead::new(1000), true), Err(UserError::InvalidStatus.into()));
        assert_eq!(c.send_response(s(1), &ResponseHead::new(101), true), Err(UserError::InvalidStatus.into()));
        let both = ResponseHead::new(200).header("Content-Length", "1").header("Transfer-Encoding", "chunked");
        assert_eq!(c.send_response(s(1), &both, false), Err(UserError::InvalidFraming.into()));
        assert_eq!(c.send_response(s(9), &ResponseHead::new(200), true), Err(UserError::UnknownStream.into()));
        assert_eq!(c.send_data(s(1), Bytes::new(), true), Err(UserError::HeadNotSent.into()));
        assert_eq!(wire(&mut c), b"");
        c.send_response(s(1), &ResponseHead::new(200), true).unwrap();
        assert_eq!(c.send_response(s(1), &ResponseHead::new(200), true), Err(UserError::UnknownStream.into()));
    }

    #[test]
    fn send_buffer_cap_limits_acceptance() {
        let mut config = Config::server();
        config.max_send_buffer = 100;
        let mut c = ServerConnection::new(config, T0);
        one_get(&mut c, b"GET / HTTP/1.1\r\nHost: a\r\n\r\n");
        c.send_response(s(1), &ResponseHead::new(200).header("Content-Length", "1000"), false).unwrap();
        let head_len = c.p.out.len();
        let n = c.send_data(s(1), Bytes::from(alloc::vec![b'x'; 1000]), false).unwrap();
        assert_eq!(n, 100 - head_len);
        assert_eq!(c.send_data(s(1), Bytes::from_static(b"y"), false), Ok(0));
        wire(&mut c);
        assert_eq!(c.send_data(s(1), Bytes::from(alloc::vec![b'x'; 1000 - n]), true), Ok(100));
    }
}

mod switching {
    use super::*;

    #[test]
    fn upgrade_hands_over_leftover_bytes() {
        let mut c = server();
        let ev = feed(
            &mut c,
            T0,
            b"GET / HTTP/1.1\r\nHost: a\r\nConnection: Upgrade, HTTP2-Settings\r\nUpgrade: h2c\r\nHTTP2-Settings: AAMAAABkAAQAAP__\r\n\r\nPRI * HTTP/2.0",
        );
        assert_eq!(request_streams(&ev), [s(1)]);
        let head = ResponseHead::new(101).header("Connection", "Upgrade").header("Upgrade", "h2c");
        c.send_response(s(1), &head, false).unwrap();
        let more = feed(&mut c, T0, b"\r\n\r\nSM");
        assert!(more.is_empty(), "no upgrade before the 101 is written: {more:?}");
        assert!(text(&wire(&mut c)).starts_with("HTTP/1.1 101 Switching Protocols\r\n"));
        assert_eq!(
            events(&mut c),
            [Event::Upgrade { stream: s(1), leftover: Bytes::from_static(b"PRI * HTTP/2.0\r\n\r\nSM") }]
        );
        assert!(c.is_closed());
    }

    #[test]
    fn declined_upgrade_continues_as_http1() {
        let mut c = server();
        feed(&mut c, T0, b"GET / HTTP/1.1\r\nHost: a\r\nConnection: upgrade\r\nUpgrade: websocket\r\n\r\nGET /2 HTTP/1.1\r\nHost: a\r\n\r\n");
        c.send_response(s(1), &ResponseHead::new(200), true).unwrap();
        assert_eq!(request_streams(&events(&mut c)), [s(2)]);
    }

    #[test]
    fn connect_tunnel() {
        let mut c = server();
        let ev = feed(&mut c, T0, b"CONNECT example.com:443 HTTP/1.1\r\nHost: example.com:443\r\n\r\n\x16\x03\x01");
        assert_eq!(request_streams(&ev), [s(1)]);
        c.send_response(s(1), &ResponseHead::new(200), false).unwrap();
        assert_eq!(text(&wire(&mut c)), "HTTP/1.1 200 OK\r\n\r\n");
        assert_eq!(events(&mut c), [Event::Upgrade { stream: s(1), leftover: Bytes::from_static(b"\x16\x03\x01") }]);
    }
}

mod refusing {
    use super::*;

    /// Feeds a hostile request; returns the status line and asserts the
    /// error event, `Connection: close` and the close.
    fn refused(config: Config, input: &[u8]) -> (u16, Kind) {
        let mut c = ServerConnection::new(config, T0);
        let r = c.handle_input(T0, input);
        let ev = events(&mut c);
        let Some(Event::Error(e)) = ev.iter().find(|e| matches!(e, Event::Error(_))).cloned() else {
            panic!("no error for {}: {ev:?}", text(input))
        };
        assert_eq!(r, Err(Error::Protocol(e)), "sticky error returned");
        let out = text(&wire(&mut c));
        let Answer::Status(status) = e.answer else { panic!("{e:?}") };
        assert!(out.starts_with(&alloc::format!("HTTP/1.1 {status} ")), "{out}");
        assert!(out.contains("connection: close\r\n"), "{out}");
        assert_eq!(events(&mut c), [Event::Closed(CloseReason::Error(e))]);
        assert_eq!(c.handle_input(T0, b"GET / HTTP/1.1\r\n"), Err(Error::Protocol(e)));
        (status, e.kind)
    }

    #[test]
    fn smuggling_vectors_and_malformed_requests() {
        let cases: &[(&[u8], u16, Kind)] = &[
            (
                b"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n",
                400,
                Kind::ContentLengthWithTransferEncoding,
            ),
            (
                b"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\nContent-Length: 4\r\n\r\n",
                400,
                Kind::InvalidContentLength,
            ),
            (b"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: +3\r\n\r\n", 400, Kind::InvalidContentLength),
            (b"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 3 3\r\n\r\n", 400, Kind::InvalidContentLength),
            (
                b"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 99999999999999999999\r\n\r\n",
                400,
                Kind::InvalidContentLength,
            ),
            (b"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: gzip\r\n\r\n", 501, Kind::UnsupportedTransferCoding),
            (
                b"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked, gzip\r\n\r\n",
                501,
                Kind::UnsupportedTransferCoding,
            ),
            (
                b"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n",
                400,
                Kind::InvalidTransferEncoding,
            ),
            (b"POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n", 400, Kind::TransferEncodingInHttp10),
            (b"GET / HTTP/1.1\r\nHost: a\r\nX: a\r\n b\r\n\r\n", 400, Kind::ObsFold),
            (b"GET / HTTP/1.1\r\nHost : a\r\n\r\n", 400, Kind::InvalidHeaderName),
            (b"GET / HTTP/1.1\r\nHost: a\rX: b\r\n\r\n", 400, Kind::InvalidHeaderValue),
            (b"GET / HTTP/1.1\nHost: a\n\n", 400, Kind::InvalidLineEnding),
            (b"GET / HTTP/1.1\r\nHost: a\0\r\n\r\n", 400, Kind::InvalidHeaderValue),
            (b"GET / HTTP/1.1\r\nHost: a\x01\r\n\r\n", 400, Kind::InvalidHeaderValue),
            (b"G@T / HTTP/1.1\r\nHost: a\r\n\r\n", 400, Kind::InvalidMethod),
            (b"GET nope HTTP/1.1\r\nHost: a\r\n\r\n", 400, Kind::InvalidTarget),
            (b"GET / HTTP/3.0\r\nHost: a\r\n\r\n", 505, Kind::UnsupportedVersion),
            (b"GET / HTTQ/1.1\r\nHost: a\r\n\r\n", 400, Kind::InvalidVersion),
            (b"GET / HTTP/1.1\r\n\r\n", 400, Kind::MissingHost),
            (b"GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n", 400, Kind::MultipleHost),
            (
                b"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n3 \r\nabc\r\n0\r\n\r\n",
                400,
                Kind::InvalidChunkSize,
            ),
            (
                b"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n10000000000000000\r\n",
                400,
                Kind::InvalidChunkSize,
            ),
            (
                b"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n3;=x\r\nabc\r\n0\r\n\r\n",
                400,
                Kind::InvalidChunkExtension,
            ),
            (
                b"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabcd\r\n0\r\n\r\n",
                400,
                Kind::InvalidChunkData,
            ),
        ];
        for (input, status, kind) in cases {
            assert_eq!(refused(Config::server(), input), (*status, *kind), "{}", text(input));
        }
    }

    /// A byte that cannot start a request line is refused at once, not
    /// held while the connection waits for a head that can never come.
    #[test]
    fn a_byte_that_cannot_start_a_request_is_400_at_once() {
        for first in [&b"\0"[..], b" ", b"\x01", b"\x7f", b"\xff", b"G\0", b"GET\x01", b"\r\n\0"] {
            assert_eq!(refused(Config::server(), first), (400, Kind::InvalidMethod), "{first:?}");
        }
        // After a complete request: that one is still answered, then the 400.
        let mut c = server();
        let ev = feed(&mut c, T0, b"GET / HTTP/1.1\r\nHost: a\r\n\r\n\0");
        assert_eq!(request_streams(&ev), [s(1)]);
        let Some(Event::Error(e)) = ev.last() else { panic!("{ev:?}") };
        assert_eq!(e.kind, Kind::InvalidMethod);
        c.send_response(s(1), &ResponseHead::new(204), true).unwrap();
        let out = text(&wire(&mut c));
        assert!(out.starts_with("HTTP/1.1 204 No Content\r\n"), "{out}");
        assert!(out.contains("\r\n\r\nHTTP/1.1 400 Bad Request\r\n"), "{out}");
        assert_eq!(events(&mut c), [Event::Closed(CloseReason::Error(*e))]);
        // The same verdict however the bytes are split.
        for input in
            [&b"\r\0"[..], b"\r\n\0", b"\r\r", b"G\0", b" GET / HTTP/1.1\r\n", b"\0GET / HTTP/1.1\r\nHost: a\r\n\r\n"]
        {
            let whole = feed(&mut server(), T0, input);
            let mut c = server();
            let split: Vec<Event> = input.iter().flat_map(|b| feed(&mut c, T0, core::slice::from_ref(b))).collect();
            assert_eq!(whole, split, "{input:?}");
            assert!(matches!(whole[..], [Event::Error(_)]), "{input:?}: {whole:?}");
        }
        // What can still become a request waits: a method so far, a CR.
        for partial in [&b"G"[..], b"PROPFIND", b"\r", b"\r\n", b"GET /"] {
            let mut c = server();
            let ev = feed(&mut c, T0, partial);
            assert!(ev.is_empty(), "{partial:?}: {ev:?}");
        }
    }

    /// RFC 9112 section 3.2: a Host that is not `uri-host [":" port]` is
    /// 400, and so is one that differs from an absolute-form target's
    /// authority (section 3.2.2, the strict choice).
    #[test]
    fn host_must_be_one_valid_authority() {
        let request = |target: &str, host: &str| alloc::format!("GET {target} HTTP/1.1\r\nHost: {host}\r\n\r\n");
        for host in [
            "a,b",
            "a, b",
            "a,",
            "user@host",
            "u:p@host",
            "host/x",
            "host?q",
            "host#f",
            "a b",
            "host:port",
            "host:80x",
            "host:65536",
            "host:999999",
            "[::1",
            "::1",
            "[::1]x",
            "[::g]",
            "[v1]",
            "[fe80::1%25eth0]",
            "a%2",
            "a%zz",
            "\"a\"",
            "a\\b",
            "a:1:2",
        ] {
            let input = request("/", host);
            assert_eq!(refused(Config::server(), input.as_bytes()), (400, Kind::InvalidHost), "{input}");
        }
        for (target, host) in [
            ("http://a/", "b"),
            ("http://a:8080/x", "a"),
            ("http://a/x", "a:8080"),
            ("http://a/", ""),
            ("http://user@a/", "a"),
            ("http://user@a/", "user@a"),
            ("http:///x", ""),
            ("http://a,b/", "a,b"),
            ("http://a:x/", "a:x"),
        ] {
            let input = request(target, host);
            let (status, _) = refused(Config::server(), input.as_bytes());
            assert_eq!(status, 400, "{input}");
        }
        for (target, host) in [
            ("/", "example.com"),
            ("/", "example.com:8080"),
            ("/", "EXAMPLE.com:"),
            ("/", ""),
            ("/", "127.0.0.1:1"),
            ("/", "[::1]:443"),
            ("/", "[2001:db8::7]"),
            ("/", "[v7.fe80::a+b]"),
            ("/", "a-b_c~d.%41!$&'()*+;="),
            ("/", "localhost:65535"),
            ("http://a/x?y", "a"),
            ("http://A:80/", "a:80"),
            ("https://[::1]:8443/", "[::1]:8443"),
            ("ftp://a/", "a"),
        ] {
            let input = request(target, host);
            let mut c = ServerConnection::new(Config::server(), T0);
            let ev = feed(&mut c, T0, input.as_bytes());
            assert!(matches!(ev.first(), Some(Event::Request { .. })), "{input}: {ev:?}");
        }
        // CONNECT's authority-form target follows the same host rules.
        for target in ["a@b:443", "a/b:443", "a:99999", "[::1:443", "a,b:443"] {
            let input = alloc::format!("CONNECT {target} HTTP/1.1\r\nHost: {target}\r\n\r\n");
            assert_eq!(refused(Config::server(), input.as_bytes()).0, 400, "{input}");
        }
        let mut c = ServerConnection::new(Config::server(), T0);
        let ev = feed(&mut c, T0, b"CONNECT [::1]:443 HTTP/1.1\r\nHost: [::1]:443\r\n\r\n");
        assert!(matches!(ev.first(), Some(Event::Request { .. })), "{ev:?}");
    }

    #[test]
    fn limits_have_their_answers() {
        let mut small = Config::server();
        small.max_head_bytes = 200;
        small.max_target_len = 50;
        small.max_headers = 3;
        small.max_body_bytes = Some(10);
        small.max_chunk_ext_bytes = 8;
        small.max_trailer_bytes = 20;
        let long_target = [b"GET /".as_slice(), &[b'a'; 60], b" HTTP/1.1\r\nHost: a\r\n\r\n"].concat();
        assert_eq!(refused(small.clone(), &long_target), (414, Kind::TargetTooLong));
        let long_line = [b"GET /".as_slice(), &[b'a'; 300]].concat();
        assert_eq!(refused(small.clone(), &long_line), (414, Kind::TargetTooLong));
        let big_head = [b"GET / HTTP/1.1\r\nHost: a\r\nX: ".as_slice(), &[b'a'; 300]].concat();
        assert_eq!(refused(small.clone(), &big_head), (431, Kind::HeadTooLarge));
        let many = b"GET / HTTP/1.1\r\nHost: a\r\nA: 1\r\nB: 1\r\nC: 1\r\n\r\n";
        assert_eq!(refused(small.clone(), many), (431, Kind::TooManyHeaders));
        let cl = b"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 11\r\n\r\n";
        assert_eq!(refused(small.clone(), cl), (413, Kind::BodyTooLarge));
        let chunked = b"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n5\r\n01234\r\n6\r\n";
        assert_eq!(refused(small.clone(), chunked), (413, Kind::BodyTooLarge));
        let ext = b"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n1;aaaaaaaaaaaa\r\n";
        assert_eq!(refused(small.clone(), ext), (400, Kind::ChunkExtensionTooLong));
        let trailers =
            b"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n0\r\nX-Trailer: 0123456789abcdef\r\n\r\n";
        assert_eq!(refused(small, trailers), (431, Kind::TrailersTooLarge));
    }

    #[test]
    fn refusal_waits_for_earlier_responses() {
        let mut c = server();
        let ev = feed(&mut c, T0, b"GET / HTTP/1.1\r\nHost: a\r\n\r\nGET / HTTP/9.9\r\n\r\n");
        assert_eq!(request_streams(&ev), [s(1)]);
        assert_eq!(wire(&mut c), b"", "the 505 waits behind response 1");
        c.send_response(s(1), &ResponseHead::new(200), true).unwrap();
        let out = text(&wire(&mut c));
        assert!(out.starts_with("HTTP/1.1 200 OK\r\n"));
        assert!(out.contains("HTTP/1.1 505 HTTP Version Not Supported\r\n"), "{out}");
    }

    #[test]
    fn body_error_after_response_started_closes() {
        let mut c = server();
        feed(&mut c, T0, b"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n");
        c.send_response(s(1), &ResponseHead::new(200), false).unwrap();
        let ev = feed(&mut c, T0, b"zz\r\n");
        let Some(Event::Error(e)) = ev.first() else { panic!("{ev:?}") };
        assert_eq!((e.kind, e.answer, e.stream), (Kind::InvalidChunkSize, Answer::Close, Some(s(1))));
        wire(&mut c);
        assert!(matches!(events(&mut c)[..], [Event::Closed(CloseReason::Error(_))]));
    }
}

mod timers {
    use super::*;

    fn at(secs: u64) -> Instant {
        T0 + Duration::from_secs(secs)
    }

    #[test]
    fn slowloris_gets_408() {
        let mut c = server();
        assert_eq!(c.poll_timeout(), Some(at(10)), "header timer from accept");
        feed(&mut c, at(1), b"GET / HTTP/1.1\r\nHo");
        assert_eq!(c.poll_timeout(), Some(at(11)));
        c.handle_timeout(at(5));
        feed(&mut c, at(6), b"st: a\r\n");
        assert_eq!(c.poll_timeout(), Some(at(11)), "dribbling does not extend the deadline");
        c.handle_timeout(at(11));
        assert!(text(&wire(&mut c)).starts_with("HTTP/1.1 408 Request Timeout\r\n"));
        let ev = events(&mut c);
        assert!(matches!(&ev[..], [Event::Error(e), Event::Closed(_)] if e.kind == Kind::HeaderTimeout), "{ev:?}");
    }

    #[test]
    fn silent_connection_closes_quietly() {
        let mut c = server();
        c.handle_timeout(at(10));
        assert_eq!(wire(&mut c), b"");
        assert_eq!(events(&mut c), [Event::Closed(CloseReason::IdleTimeout)]);
    }

    #[test]
    fn keep_alive_idle_timeout_starts_when_the_response_ends() {
        let mut c = server();
        feed(&mut c, at(1), b"GET / HTTP/1.1\r\nHost: a\r\n\r\n");
        assert_eq!(c.poll_timeout(), None, "waiting for the application");
        c.send_response(s(1), &ResponseHead::new(200), true).unwrap();
        wire(&mut c);
        // The command carried no time: the connection asks to be told it.
        assert_eq!(c.poll_timeout(), Some(at(1)));
        c.handle_timeout(at(30));
        assert_eq!(c.poll_timeout(), Some(at(90)));
        c.handle_timeout(at(89));
        assert!(events(&mut c).is_empty());
        c.handle_timeout(at(90));
        assert_eq!(events(&mut c), [Event::Closed(CloseReason::IdleTimeout)]);
    }

    #[test]
    fn stalled_body_gets_408() {
        let mut c = server();
        feed(&mut c, at(0), b"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 10\r\n\r\n01");
        assert_eq!(c.poll_timeout(), Some(at(30)));
        feed(&mut c, at(20), b"23");
        assert_eq!(c.poll_timeout(), Some(at(50)));
        c.handle_timeout(at(50));
        assert!(text(&wire(&mut c)).starts_with("HTTP/1.1 408 "));
    }

    #[test]
    fn body_timer_waits_for_continue() {
        let mut c = server();
        feed(&mut c, at(0), b"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 10\r\nExpect: 100-continue\r\n\r\n");
        assert_eq!(c.poll_timeout(), None);
        c.read_body(s(1)).unwrap();
        let _ = c.handle_input(at(3), b"");
        assert_eq!(c.poll_timeout(), Some(at(30)));
    }
}

mod end_of_input {
    use super::*;

    #[test]
    fn eof_when_idle_closes() {
        let mut c = server();
        c.handle_eof(T0);
        assert_eq!(events(&mut c), [Event::Closed(CloseReason::PeerClosed)]);
    }

    #[test]
    fn half_close_after_requests_still_answers_them() {
        let mut c = server();
        c.handle_input(T0, b"GET / HTTP/1.1\r\nHost: a\r\n\r\n").unwrap();
        c.handle_eof(T0);
        let ev = events(&mut c);
        assert_eq!(request_streams(&ev), [s(1)]);
        assert!(!ev.iter().any(|e| matches!(e, Event::Closed(_))));
        c.send_response(s(1), &ResponseHead::new(200), true).unwrap();
        assert!(!wire(&mut c).is_empty());
        assert_eq!(events(&mut c), [Event::Closed(CloseReason::PeerClosed)]);
    }

    #[test]
    fn without_half_close_eof_abandons_the_requests_in_flight() {
        let config = Config { half_close: false, ..Config::server() };
        let mut c = ServerConnection::new(config, T0);
        c.handle_input(T0, b"GET /a HTTP/1.1\r\nHost: a\r\n\r\nGET /b HTTP/1.1\r\nHost: a\r\n\r\n").unwrap();
        c.send_response(s(1), &ResponseHead::new(200), true).unwrap();
        c.handle_eof(T0);
        let ev = events(&mut c);
        assert_eq!(request_streams(&ev), [s(1), s(2)]);
        // The answer already queued goes out; the one not given never will.
        assert!(wire(&mut c).starts_with(b"HTTP/1.1 200 OK\r\n"));
        assert!(c.send_response(s(2), &ResponseHead::new(200), true).is_err());
        assert_eq!(events(&mut c), [Event::Closed(CloseReason::PeerClosed)]);
        assert!(wire(&mut c).is_empty());
    }

    #[test]
    fn eof_inside_head_or_body_is_an_error() {
        let mut c = server();
        c.handle_input(T0, b"GET / HT").unwrap();
        c.handle_eof(T0);
        let ev = events(&mut c);
        assert!(matches!(&ev[..], [Event::Error(e), Event::Closed(_)] if e.kind == Kind::IncompleteHead), "{ev:?}");

        let mut c = server();
        c.handle_input(T0, b"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\n\r\nab").unwrap();
        c.handle_eof(T0);
        let ev = events(&mut c);
        assert!(
            ev.iter().any(|e| matches!(e, Event::Error(e) if e.kind == Kind::IncompleteBody && e.stream == Some(s(1)))),
            "{ev:?}"
        );
    }
}

mod commands {
    use super::*;

    #[test]
    fn reset_closes_the_connection() {
        let mut c = server();
        feed(&mut c, T0, b"GET / HTTP/1.1\r\nHost: a\r\n\r\n");
        c.reset_stream(s(1), ErrorCode::CANCEL).unwrap();
        assert_eq!(events(&mut c), [Event::Closed(CloseReason::Aborted)]);
        assert_eq!(c.ping(T0), Err(UserError::Unsupported.into()));
    }

    #[test]
    fn graceful_shutdown_finishes_in_flight_work() {
        let mut c = server();
        feed(&mut c, T0, b"GET / HTTP/1.1\r\nHost: a\r\n\r\n");
        c.shutdown(T0);
        c.send_response(s(1), &ResponseHead::new(200), true).unwrap();
        assert!(text(&wire(&mut c)).contains("connection: close\r\n"));
        assert_eq!(events(&mut c), [Event::Closed(CloseReason::Done)]);
    }

    #[test]
    fn lent_and_owned_buffers() {
        let mut c = server();
        let req = b"GET / HTTP/1.1\r\nHost: a\r\n\r\n";
        let buf = c.input_buffer();
        buf[..req.len()].copy_from_slice(req);
        c.commit_input(T0, req.len()).unwrap();
        assert_eq!(request_streams(&events(&mut c)), [s(1)]);
        assert_eq!(c.commit_input(T0, 1), Err(UserError::BufferNotLent.into()));
        c.send_response(s(1), &ResponseHead::new(200), true).unwrap();
        wire(&mut c);
        let mut owned = c.take_input_buffer();
        owned.extend_from_slice(req);
        c.return_input_buffer(T0, owned).unwrap();
        assert_eq!(request_streams(&events(&mut c)), [s(2)]);
    }
}

mod fuzz_regressions {
    use super::*;

    /// Found by `h1_server_split`: a too-large head with a bad field gave 400
    /// whole but 431 in pieces. The size limit now wins both ways.
    #[test]
    fn size_limit_wins_over_field_errors_however_split() {
        let mut config = Config::server();
        config.max_head_bytes = 200;
        let head =
            [b"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: x\r\nX: ".as_slice(), &[b'a'; 170], b"\r\n\r\n"].concat();
        let first_error = |pieces: &[&[u8]]| {
            let mut c = ServerConnection::new(config.clone(), T0);
            let mut ev = Vec::new();
            for p in pieces {
                ev.extend(feed(&mut c, T0, p));
            }
            ev.into_iter().find_map(|e| match e {
                Event::Error(e) => Some((e.kind, e.answer)),
                _ => None,
            })
        };
        let whole = first_error(&[&head]);
        let bytes: Vec<&[u8]> = head.chunks(1).collect();
        assert_eq!(whole, Some((Kind::HeadTooLarge, Answer::Status(431))));
        assert_eq!(first_error(&bytes), whole);
    }
}
