//! Round trips through both roles: what the client role writes, the server
//! role reads back identically, and the reverse, for arbitrary heads,
//! bodies, chunkings and trailers.

mod common;

use bytes::Bytes;
use common::{data_of, drain, feed_split, poll_all};
use proptest::prelude::*;
use sockless_core::{Connection, Event, HeaderList, Instant, Method, RequestHead, ResponseHead, StreamId, Version};
use sockless_h1::{ClientConnection, Config, ServerConnection};

/// Field names that decide framing or connection handling are written by
/// the connection itself in these tests.
const RESERVED: &[&str] =
    &["content-length", "transfer-encoding", "connection", "host", "expect", "upgrade", "te", "trailer", "keep-alive"];

fn name() -> impl Strategy<Value = String> {
    "[A-Za-z0-9!#$%&'*+.^_`|~-]{1,16}".prop_filter("reserved", |n| !RESERVED.contains(&n.to_ascii_lowercase().as_str()))
}

fn value() -> impl Strategy<Value = Vec<u8>> {
    // Visible ASCII, obs-text and inner spaces/tabs; no leading or trailing whitespace.
    let byte = prop_oneof![0x21u8..0x7f, 0x80u8..=0xff, Just(b' '), Just(b'\t')];
    proptest::collection::vec(byte, 0..24).prop_map(|mut v| {
        while v.first().is_some_and(|b| *b == b' ' || *b == b'\t') {
            v.remove(0);
        }
        while v.last().is_some_and(|b| *b == b' ' || *b == b'\t') {
            v.pop();
        }
        v
    })
}

fn fields(max: usize) -> impl Strategy<Value = Vec<(String, Vec<u8>)>> {
    proptest::collection::vec((name(), value()), 0..max)
}

fn list(fields: &[(String, Vec<u8>)]) -> HeaderList {
    fields.iter().map(|(n, v)| (n.as_bytes(), &v[..])).collect()
}

#[derive(Debug, Clone)]
enum Framing {
    /// No body at all.
    Empty,
    /// Content-Length, body sent in pieces of these sizes.
    Length(Vec<u8>, Vec<usize>),
    /// Chunked, pieces of these sizes, then these trailers.
    Chunked(Vec<u8>, Vec<usize>, Vec<(String, Vec<u8>)>),
}

fn framing() -> impl Strategy<Value = Framing> {
    let body = proptest::collection::vec(any::<u8>(), 1..2000);
    let pieces = proptest::collection::vec(1usize..700, 1..6);
    prop_oneof![
        Just(Framing::Empty),
        (body.clone(), pieces.clone()).prop_map(|(b, p)| Framing::Length(b, p)),
        (body, pieces, fields(4)).prop_map(|(b, p, t)| Framing::Chunked(b, p, t)),
    ]
}

/// Sends a body through `conn` according to `framing`.
fn send_body(conn: &mut impl Connection, stream: StreamId, framing: &Framing) {
    let (body, pieces) = match framing {
        Framing::Empty => return,
        Framing::Length(b, p) | Framing::Chunked(b, p, _) => (b, p),
    };
    let mut rest = Bytes::from(body.clone());
    let mut i = 0;
    while !rest.is_empty() {
        let n = pieces[i % pieces.len()].min(rest.len());
        i += 1;
        let piece = rest.split_to(n);
        let last = rest.is_empty() && matches!(framing, Framing::Length(..));
        assert_eq!(conn.send_data(stream, piece.clone(), last).unwrap(), piece.len());
    }
    if let Framing::Chunked(_, _, trailers) = framing {
        conn.send_trailers(stream, &list(trailers)).unwrap();
    }
}

fn with_framing_header<T>(framing: &Framing, add: impl FnOnce(&str, String) -> T) -> Option<T> {
    match framing {
        Framing::Length(b, _) => Some(add("Content-Length", b.len().to_string())),
        Framing::Chunked(..) => Some(add("Transfer-Encoding", "chunked".into())),
        Framing::Empty => None,
    }
}

fn expected_body(framing: &Framing) -> Vec<u8> {
    match framing {
        Framing::Empty => Vec::new(),
        Framing::Length(b, _) | Framing::Chunked(b, _, _) => b.clone(),
    }
}

fn trailers_of(events: &[Event]) -> Option<HeaderList> {
    events.iter().find_map(|e| match e {
        Event::Trailers { trailers, .. } => Some(trailers.clone()),
        _ => None,
    })
}

/// Our own framing headers are the user's: the peer sees exactly the user's fields.
fn user_fields(h: &HeaderList) -> Vec<(Vec<u8>, Vec<u8>)> {
    h.iter().map(|(n, v)| (n.to_vec(), v.to_vec())).collect()
}

fn method() -> impl Strategy<Value = Method> {
    prop_oneof![
        Just(Method::Get),
        Just(Method::Post),
        Just(Method::Put),
        Just(Method::Delete),
        Just(Method::Patch),
        Just(Method::Options),
        "[A-Z]{3,10}".prop_map(|m| Method::from_bytes(m.as_bytes())),
    ]
}

fn target() -> impl Strategy<Value = String> {
    "/[A-Za-z0-9._~!$&'()*+,;=:@%/?-]{0,40}"
}

proptest! {

    /// Client writes, server reads the same request.
    #[test]
    fn request_round_trip(
        method in method(),
        target in target(),
        fields in fields(12),
        framing in framing(),
        cuts in proptest::collection::vec(0usize..4000, 0..8),
    ) {
        let mut client = ClientConnection::new(Config::client(), Instant::ZERO);
        let mut head = RequestHead::new(method.clone(), target.clone()).header("Host", "example.test");
        for (n, v) in &fields {
            head.headers.push(n, v);
        }
        if let Some(h) = with_framing_header(&framing, |n, v| head.clone().header(n, v)) {
            head = h;
        }
        let end = matches!(framing, Framing::Empty);
        let stream = client.send_request(&head, end).unwrap();
        send_body(&mut client, stream, &framing);
        let wire = drain(&mut client);

        let mut server = ServerConnection::new(Config::server(), Instant::ZERO);
        let events = feed_split(&mut server, &wire, &cuts, false);
        let Some(Event::Request { stream: s, head: got, .. }) = events.first().cloned() else {
            panic!("no request: {events:?}\n{}", String::from_utf8_lossy(&wire));
        };
        prop_assert_eq!(&got.method, &method);
        prop_assert_eq!(&got.target[..], target.as_bytes());
        prop_assert_eq!(got.version, Version::Http11);
        let mut sent = user_fields(&head.headers);
        let got_fields = user_fields(&got.headers);
        if matches!(framing, Framing::Empty) && matches!(method, Method::Post | Method::Put | Method::Patch) {
            sent.push((b"content-length".to_vec(), b"0".to_vec()));
        }
        prop_assert_eq!(got_fields, sent);
        prop_assert_eq!(data_of(&events, s), expected_body(&framing));
        if let Framing::Chunked(_, _, t) = &framing {
            let got_t = trailers_of(&events).map(|t| user_fields(&t)).unwrap_or_default();
            prop_assert_eq!(got_t, user_fields(&list(t)));
        }
        prop_assert_eq!(events.last(), Some(&Event::EndStream { stream: s }));
    }

    /// Server writes, client reads the same response.
    #[test]
    fn response_round_trip(
        status in prop_oneof![200u16..204, 205u16..304, 305u16..600],
        fields in fields(12),
        framing in framing(),
        head_request in any::<bool>(),
        cuts in proptest::collection::vec(0usize..4000, 0..8),
    ) {
        let mut server = ServerConnection::new(Config::server(), Instant::ZERO);
        let method = if head_request { "HEAD" } else { "GET" };
        let req = format!("{method} / HTTP/1.1\r\nHost: a\r\n\r\n");
        let ev = feed_split(&mut server, req.as_bytes(), &[], false);
        let Some(Event::Request { stream, .. }) = ev.first().cloned() else { panic!("{ev:?}") };
        let mut head = ResponseHead::new(status);
        for (n, v) in &fields {
            head.headers.push(n, v);
        }
        let framing = if head_request { Framing::Empty } else { framing };
        if let Some(h) = with_framing_header(&framing, |n, v| head.clone().header(n, v)) {
            head = h;
        }
        server.send_response(stream, &head, matches!(framing, Framing::Empty)).unwrap();
        send_body(&mut server, stream, &framing);
        let wire = drain(&mut server);

        let mut client = ClientConnection::new(Config::client(), Instant::ZERO);
        let m = if head_request { Method::Head } else { Method::Get };
        let cs = client.send_request(&RequestHead::new(m, "/").header("Host", "a"), true).unwrap();
        drain(&mut client);
        let events = feed_split(&mut client, &wire, &cuts, false);
        let Some(Event::Response { head: got, .. }) = events.first().cloned() else {
            panic!("no response: {events:?}\n{}", String::from_utf8_lossy(&wire));
        };
        prop_assert_eq!(got.status, status);
        let mut sent = user_fields(&head.headers);
        if matches!(framing, Framing::Empty) && !head_request {
            sent.push((b"content-length".to_vec(), b"0".to_vec()));
        }
        prop_assert_eq!(user_fields(&got.headers), sent);
        prop_assert_eq!(data_of(&events, cs), expected_body(&framing));
        if let Framing::Chunked(_, _, t) = &framing {
            let got_t = trailers_of(&events).map(|t| user_fields(&t)).unwrap_or_default();
            prop_assert_eq!(got_t, user_fields(&list(t)));
        }
        prop_assert_eq!(&events[events.len() - 2..], &[Event::EndStream { stream: cs }, Event::Ready { reusable: true }]);
        prop_assert!(poll_all(&mut client).is_empty());
    }
}
