//! The server's h2c Upgrade with a request body: the body read over
//! HTTP/1.1 before the switch becomes stream 1's data, held within the
//! configured caps, its trailers kept.

use sockless_core::{poll_events as events, transmit_all as drain};
use sockless_core::{Bytes, Connection, Event, Instant, StreamId, Version};
use sockless_http::{Protocol, ServerConfig, ServerConnection};

const NOW: Instant = Instant::ZERO;

/// An `Upgrade: h2c` POST whose chunked body is `chunks` one-byte chunks,
/// followed by `trailer` (e.g. `"X-Sum: 7\r\n"`, or empty).
fn upgrade_request(chunks: usize, trailer: &str) -> Vec<u8> {
    let mut req = b"POST /up HTTP/1.1\r\nHost: a\r\nConnection: Upgrade, HTTP2-Settings\r\nUpgrade: h2c\r\n\
HTTP2-Settings: AAMAAABkAAQAAP__\r\nTransfer-Encoding: chunked\r\n\r\n"
        .to_vec();
    for i in 0..chunks {
        req.extend_from_slice(b"1\r\n");
        req.push(b'a' + (i % 26) as u8);
        req.extend_from_slice(b"\r\n");
    }
    req.extend_from_slice(b"0\r\n");
    req.extend_from_slice(trailer.as_bytes());
    req.extend_from_slice(b"\r\n");
    req
}

fn expected_body(chunks: usize) -> Vec<u8> {
    (0..chunks).map(|i| b'a' + (i % 26) as u8).collect()
}

/// Feeds all of `input`, polling events whenever the connection takes
/// nothing (its caps apply), and returns every event seen.
fn feed_all(server: &mut ServerConnection, mut input: &[u8]) -> Vec<Event> {
    let mut seen = Vec::new();
    while !input.is_empty() {
        let n = server.handle_input(NOW, input).unwrap();
        input = &input[n..];
        let more = events(server);
        assert!(n > 0 || !more.is_empty(), "stalled with {} bytes left", input.len());
        seen.extend(more);
    }
    seen
}

/// The body of `stream` in `events`, and its trailers.
fn body_of(events: &[Event], stream: StreamId) -> (Vec<u8>, Vec<Event>) {
    let mut body = Vec::new();
    let mut trailers = Vec::new();
    for e in events {
        match e {
            Event::Data { stream: s, data } if *s == stream => body.extend_from_slice(data),
            Event::Trailers { stream: s, .. } if *s == stream => trailers.push(e.clone()),
            _ => {}
        }
    }
    (body, trailers)
}

#[test]
fn thousands_of_one_byte_chunks_are_one_upgraded_body() {
    // One write, 10 000 one-byte chunks: the switch to HTTP/2 must not take
    // a stack frame per chunk.
    let chunks = 10_000;
    let mut server = ServerConnection::cleartext(ServerConfig::default(), NOW);
    let mut seen = feed_all(&mut server, &upgrade_request(chunks, "X-Sum: 7\r\n"));
    assert!(String::from_utf8_lossy(&drain(&mut server)).starts_with("HTTP/1.1 101 Switching Protocols\r\n"));
    seen.extend(events(&mut server));
    assert_eq!(server.protocol(), Some(Protocol::Http2));
    let one = StreamId::new(1);
    assert!(
        matches!(&seen[0], Event::Request { stream, head, .. } if *stream == one && head.version == Version::Http2)
    );
    // As an HTTP/2 request it carries no connection-specific fields (RFC
    // 9113 section 8.2.2): it is not chunked, and asks for no upgrade.
    let Event::Request { head, .. } = &seen[0] else { unreachable!() };
    for name in ["connection", "upgrade", "http2-settings", "transfer-encoding"] {
        assert!(!head.headers.contains(name), "{name} kept: {:?}", head.headers);
    }
    assert_eq!(head.headers.get("host"), Some(&b"a"[..]));
    let (body, trailers) = body_of(&seen, one);
    assert_eq!(body, expected_body(chunks));
    match &trailers[..] {
        [Event::Trailers { trailers, .. }] => assert_eq!(trailers.get("x-sum"), Some(&b"7"[..])),
        other => panic!("trailers lost: {other:?}"),
    }
    // The trailers come after the data and before the end of the stream.
    let at = |f: &dyn Fn(&Event) -> bool| seen.iter().position(f).unwrap();
    let last_data = seen.iter().rposition(|e| matches!(e, Event::Data { .. })).unwrap();
    let trailer_at = at(&|e| matches!(e, Event::Trailers { .. }));
    let end_at = at(&|e| matches!(e, Event::EndStream { stream } if *stream == one));
    assert!(last_data < trailer_at && trailer_at < end_at, "{seen:?}");
}

#[test]
fn an_upgraded_body_over_the_event_cap_is_served_over_http1() {
    // The body held for stream 1 counts against the event cap: past it, the
    // upgrade is declined (RFC 9113 section 3.2 lets a server ignore it) and
    // the request goes on over HTTP/1.1 with nothing lost.
    let mut config = ServerConfig::default();
    config.h1.max_buffered_events = 1024;
    let chunks = 5_000;
    let mut server = ServerConnection::cleartext(config, NOW);
    let seen = feed_all(&mut server, &upgrade_request(chunks, ""));
    assert_eq!(server.protocol(), Some(Protocol::Http1));
    let Some(Event::Request { stream, head, .. }) = seen.first() else { panic!("{seen:?}") };
    assert_eq!(head.version, Version::Http11);
    let (body, _) = body_of(&seen, *stream);
    assert_eq!(body, expected_body(chunks));
    assert!(seen.contains(&Event::EndStream { stream: *stream }));
    // Never more than the cap (plus the one chunk that crossed it) was held
    // outside the HTTP/1.1 connection.
    let largest =
        seen.iter().filter_map(|e| if let Event::Data { data, .. } = e { Some(data.len()) } else { None }).max();
    assert!(largest.unwrap() <= 1024 + 1, "{largest:?}");
    server.send_response(*stream, &sockless_core::ResponseHead::new(200), false).unwrap();
    server.send_data(*stream, Bytes::from_static(b"ok"), true).unwrap();
    assert!(String::from_utf8_lossy(&drain(&mut server)).starts_with("HTTP/1.1 200 OK\r\n"));
}

/// The frames in server output as `(type, flags, stream)`.
fn frames(mut wire: &[u8]) -> Vec<(u8, u8, u32)> {
    let mut out = Vec::new();
    while wire.len() >= 9 {
        let len = u32::from_be_bytes([0, wire[0], wire[1], wire[2]]) as usize;
        let stream = u32::from_be_bytes([wire[5], wire[6], wire[7], wire[8]]) & 0x7fff_ffff;
        out.push((wire[3], wire[4], stream));
        wire = &wire[(9 + len).min(wire.len())..];
    }
    out
}

const PREFACE: &[u8] = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";
const EMPTY_SETTINGS: [u8; 9] = [0, 0, 0, 4, 0, 0, 0, 0, 0];
const WINDOW_UPDATE: u8 = 8;
const PING: u8 = 6;

/// Writes the 101 and returns everything the server sends after it while
/// events are polled, until it has nothing more to say.
fn run_after_switch(server: &mut ServerConnection) -> (Vec<Event>, Vec<u8>) {
    let switching = drain(server);
    assert!(String::from_utf8_lossy(&switching).starts_with("HTTP/1.1 101 Switching Protocols\r\n"));
    let (mut seen, mut wire) = (Vec::new(), Vec::new());
    loop {
        let ev = events(server);
        let out = drain(server);
        if ev.is_empty() && out.is_empty() {
            return (seen, wire);
        }
        seen.extend(ev);
        wire.extend(out);
    }
}

#[test]
fn http2_bytes_after_the_upgraded_request_are_all_read_however_slowly_http2_takes_them() {
    // 2 000 PINGs right behind the upgrade request: more than HTTP/2's input
    // buffer, and HTTP/2 stops reading while its acks are unwritten. None
    // may be dropped: each gets its ack.
    let mut config = ServerConfig::default();
    config.h2.max_send_buffer = 64;
    config.h2.max_buffered_input = 0; // one frame
    let mut server = ServerConnection::cleartext(config, NOW);
    let mut wire = upgrade_request(0, "");
    wire.extend_from_slice(PREFACE);
    wire.extend_from_slice(&EMPTY_SETTINGS);
    let pings = 2_000u64;
    for i in 0..pings {
        wire.extend_from_slice(&[0, 0, 8, PING, 0, 0, 0, 0, 0]);
        wire.extend_from_slice(&i.to_be_bytes());
    }
    assert!(feed_all(&mut server, &wire).is_empty());
    let (seen, out) = run_after_switch(&mut server);
    assert!(seen.iter().all(|e| !matches!(e, Event::Error(_))), "{seen:?}");
    let acks = frames(&out).iter().filter(|&&(t, flags, _)| t == PING && flags == 1).count();
    assert_eq!(acks as u64, pings);
}

#[test]
fn releasing_the_upgraded_body_credits_no_http2_window() {
    // Stream 1's body came over HTTP/1.1: it never used HTTP/2 flow-control
    // window, so releasing it must not send WINDOW_UPDATE (the peer's
    // window would grow past what it is owed).
    let mut config = ServerConfig::default();
    config.h2.connection_window_size = 65_535;
    let mut server = ServerConnection::cleartext(config, NOW);
    let body = vec![b'x'; 40_000];
    let mut wire = format!(
        "POST /up HTTP/1.1\r\nHost: a\r\nConnection: Upgrade, HTTP2-Settings\r\nUpgrade: h2c\r\n\
HTTP2-Settings: AAMAAABkAAQAAP__\r\nContent-Length: {}\r\n\r\n",
        body.len()
    )
    .into_bytes();
    wire.extend_from_slice(&body);
    wire.extend_from_slice(PREFACE);
    wire.extend_from_slice(&EMPTY_SETTINGS);
    assert!(feed_all(&mut server, &wire).is_empty());
    let (seen, _) = run_after_switch(&mut server);
    let (got, _) = body_of(&seen, StreamId::new(1));
    assert_eq!(got, body);
    server.release_capacity(StreamId::new(1), got.len()).unwrap();
    let updates: Vec<_> = frames(&drain(&mut server)).into_iter().filter(|f| f.0 == WINDOW_UPDATE).collect();
    assert!(updates.is_empty(), "{updates:?}");
}

#[test]
fn the_upgraded_request_is_the_same_however_its_bytes_are_split() {
    // The request, its chunked body and trailers, and HTTP/2 frames right
    // behind it, cut into pieces of every size: stream 1 gets the same
    // events each time, and every PING after the request its ack.
    let mut wire = upgrade_request(300, "X-Sum: 7\r\n");
    wire.extend_from_slice(PREFACE);
    wire.extend_from_slice(&EMPTY_SETTINGS);
    for i in 0..20u64 {
        wire.extend_from_slice(&[0, 0, 8, PING, 0, 0, 0, 0, 0]);
        wire.extend_from_slice(&i.to_be_bytes());
    }
    let mut outcomes = Vec::new();
    for piece in [1, 2, 3, 7, 64, 1000, wire.len()] {
        let mut server = ServerConnection::cleartext(ServerConfig::default(), NOW);
        let (mut seen, mut out) = (Vec::new(), Vec::new());
        for part in wire.chunks(piece) {
            let mut part = part;
            while !part.is_empty() {
                let n = server.handle_input(NOW, part).unwrap();
                part = &part[n..];
                seen.extend(events(&mut server));
                out.extend(drain(&mut server));
            }
        }
        seen.extend(events(&mut server));
        out.extend(drain(&mut server));
        seen.extend(events(&mut server));
        out.extend(drain(&mut server));
        let text = String::from_utf8_lossy(&out).into_owned();
        assert!(text.starts_with("HTTP/1.1 101 Switching Protocols\r\n"), "piece {piece}: {text}");
        let h2 = &out[text.find("\r\n\r\n").unwrap() + 4..];
        let acks = frames(h2).iter().filter(|&&(t, flags, _)| t == PING && flags == 1).count();
        assert_eq!(acks, 20, "piece {piece}");
        let one = StreamId::new(1);
        let (body, trailers) = body_of(&seen, one);
        assert_eq!(body, expected_body(300), "piece {piece}");
        assert!(seen.contains(&Event::EndStream { stream: one }), "piece {piece}");
        outcomes.push(trailers);
    }
    assert!(outcomes.iter().all(|t| t == &outcomes[0] && t.len() == 1), "{outcomes:?}");
}

#[test]
fn an_upgrade_that_expects_100_continue_gets_it_then_the_101() {
    let mut server = ServerConnection::cleartext(ServerConfig::default(), NOW);
    let head = b"POST /up HTTP/1.1\r\nHost: a\r\nConnection: Upgrade, HTTP2-Settings\r\nUpgrade: h2c\r\n\
HTTP2-Settings: AAMAAABkAAQAAP__\r\nContent-Length: 3\r\nExpect: 100-continue\r\n\r\n";
    assert!(feed_all(&mut server, head).is_empty());
    let out = String::from_utf8_lossy(&drain(&mut server)).into_owned();
    assert_eq!(out, "HTTP/1.1 100 Continue\r\n\r\n");
    let mut wire = b"abc".to_vec();
    wire.extend_from_slice(PREFACE);
    wire.extend_from_slice(&EMPTY_SETTINGS);
    assert!(feed_all(&mut server, &wire).is_empty());
    let (seen, _) = run_after_switch(&mut server);
    let (body, _) = body_of(&seen, StreamId::new(1));
    assert_eq!(body, b"abc");
}
