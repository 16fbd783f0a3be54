//! Protocol selection: detection, prior knowledge, h2c upgrade, ALPN.

use sockless_core::{Bytes, Connection, Event, Instant, Method, RequestHead, ResponseHead, StreamId, Version};
use sockless_h2::{settings_header_value, H2Connection};
use sockless_http::{ClientConnection, Protocol, ServerConfig, ServerConnection};

const NOW: Instant = Instant::ZERO;

use sockless_core::{poll_events as events, transmit_all as drain};

/// Answers every request with 200 "ok" and returns how many it answered.
fn serve(server: &mut ServerConnection) -> Vec<(StreamId, RequestHead)> {
    let mut seen = Vec::new();
    for e in events(server) {
        match e {
            Event::Request { stream, head, .. } => seen.push((stream, head)),
            Event::EndStream { stream } => {
                server.send_response(stream, &ResponseHead::new(200), false).unwrap();
                server.send_data(stream, Bytes::from_static(b"ok"), true).unwrap();
            }
            _ => {}
        }
    }
    seen
}

#[test]
fn http1_is_detected_from_the_first_bytes() {
    let mut server = ServerConnection::cleartext(ServerConfig::default(), NOW);
    server.handle_input(NOW, b"GE").unwrap();
    // G cannot start the preface, but only the first line tells HTTP/1.x
    // from an invalid preface.
    assert_eq!(server.protocol(), None);
    server.handle_input(NOW, b"T /x HTTP/1.1\r\n").unwrap();
    assert_eq!(server.protocol(), Some(Protocol::Http1));
    server.handle_input(NOW, b"Host: a\r\n\r\n").unwrap();
    let seen = serve(&mut server);
    assert_eq!(seen.len(), 1);
    assert!(String::from_utf8_lossy(&drain(&mut server)).ends_with("\r\n\r\n2\r\nok\r\n0\r\n\r\n"));
}

#[test]
fn prior_knowledge_http2_is_detected_byte_by_byte() {
    let mut client = ClientConnection::prior_knowledge(sockless_h2::Config::client(), NOW);
    let mut server = ServerConnection::cleartext(ServerConfig::default(), NOW);
    let s = client.send_request(&RequestHead::new(Method::Get, "http://a/x"), true).unwrap();
    for b in drain(&mut client) {
        server.handle_input(NOW, &[b]).unwrap();
    }
    assert_eq!(server.protocol(), Some(Protocol::Http2));
    let seen = serve(&mut server);
    assert_eq!(seen[0].1.version, Version::Http2);
    client.handle_input(NOW, &drain(&mut server)).unwrap();
    let ev = events(&mut client);
    assert!(ev.contains(&Event::Data { stream: s, data: Bytes::from_static(b"ok") }), "{ev:?}");
}

#[test]
fn h2c_upgrade_is_answered_and_served_over_http2() {
    let mut h1_client = sockless_h1::ClientConnection::new(sockless_h1::Config::client(), NOW);
    let req = RequestHead::new(Method::Get, "/up")
        .header("Host", "a")
        .header("Connection", "Upgrade, HTTP2-Settings")
        .header("Upgrade", "h2c")
        .header("HTTP2-Settings", settings_header_value(&sockless_h2::Config::client()));
    h1_client.send_request(&req, true).unwrap();
    let mut server = ServerConnection::cleartext(ServerConfig::default(), NOW);
    server.handle_input(NOW, &drain(&mut h1_client)).unwrap();
    // The 101 goes out first; the switch happens once it is written.
    assert!(events(&mut server).is_empty());
    let switching = drain(&mut server);
    assert!(String::from_utf8_lossy(&switching).starts_with("HTTP/1.1 101 Switching Protocols\r\n"));
    let seen = serve(&mut server);
    assert_eq!(server.protocol(), Some(Protocol::Http2));
    assert_eq!(seen.len(), 1);
    assert_eq!(seen[0].0, StreamId::new(1));
    assert_eq!(seen[0].1.version, Version::Http2);
    let mut wire = switching;
    wire.extend_from_slice(&drain(&mut server));
    h1_client.handle_input(NOW, &wire).unwrap();
    let Some(Event::Upgrade { leftover, .. }) = events(&mut h1_client).pop() else { panic!("no upgrade") };
    let mut h2_client = H2Connection::client_from_upgrade(sockless_h2::Config::client(), NOW);
    h2_client.handle_input(NOW, &leftover).unwrap();
    let ev = events(&mut h2_client);
    assert!(ev.contains(&Event::Data { stream: StreamId::new(1), data: Bytes::from_static(b"ok") }), "{ev:?}");
    server.handle_input(NOW, &drain(&mut h2_client)).unwrap();
    assert!(events(&mut server).iter().all(|e| !matches!(e, Event::Error(_))));
}

#[test]
fn upgrade_can_be_refused() {
    let config = ServerConfig { no_h2c_upgrade: true, ..ServerConfig::default() };
    let mut server = ServerConnection::cleartext(config, NOW);
    let req = "GET / HTTP/1.1\r\nHost: a\r\nConnection: Upgrade, HTTP2-Settings\r\nUpgrade: h2c\r\nHTTP2-Settings: AAMAAABkAAQAAP__\r\n\r\n";
    server.handle_input(NOW, req.as_bytes()).unwrap();
    assert_eq!(serve(&mut server).len(), 1);
    assert!(String::from_utf8_lossy(&drain(&mut server)).starts_with("HTTP/1.1 200 OK"));
    assert_eq!(server.protocol(), Some(Protocol::Http1));
}

#[test]
fn alpn_picks_the_protocol() {
    let h2 = ServerConnection::for_alpn(ServerConfig::default(), NOW, Some(b"h2"));
    assert_eq!(h2.protocol(), Some(Protocol::Http2));
    let h1 = ServerConnection::for_alpn(ServerConfig::default(), NOW, Some(b"http/1.1"));
    assert_eq!(h1.protocol(), Some(Protocol::Http1));
    let c = ClientConnection::for_alpn(sockless_h1::Config::client(), sockless_h2::Config::client(), NOW, None);
    assert_eq!(c.protocol(), Protocol::Http1);
}

#[test]
fn client_h2c_upgrade_switches_and_falls_back() {
    // Accepted: the first response arrives over HTTP/2 on stream 1.
    let mut client = ClientConnection::h2c_upgrade(sockless_h1::Config::client(), sockless_h2::Config::client(), NOW);
    let mut server = ServerConnection::cleartext(ServerConfig::default(), NOW);
    let s1 = client.send_request(&RequestHead::new(Method::Get, "/").header("Host", "a"), true).unwrap();
    server.handle_input(NOW, &drain(&mut client)).unwrap();
    let _ = events(&mut server);
    let mut wire = drain(&mut server);
    serve(&mut server);
    wire.extend_from_slice(&drain(&mut server));
    client.handle_input(NOW, &wire).unwrap();
    let ev = events(&mut client);
    assert_eq!(client.protocol(), Protocol::Http2);
    assert!(matches!(&ev[0], Event::Response { stream, head } if *stream == s1 && head.status == 200), "{ev:?}");
    assert!(ev.contains(&Event::Data { stream: s1, data: Bytes::from_static(b"ok") }));
    let s3 = client.send_request(&RequestHead::new(Method::Get, "http://a/2"), true).unwrap();
    assert_eq!(s3, StreamId::new(3));

    // Declined: HTTP/1.1 goes on.
    let config = ServerConfig { no_h2c_upgrade: true, ..ServerConfig::default() };
    let mut client = ClientConnection::h2c_upgrade(sockless_h1::Config::client(), sockless_h2::Config::client(), NOW);
    let mut server = ServerConnection::cleartext(config, NOW);
    client.send_request(&RequestHead::new(Method::Get, "/").header("Host", "a"), true).unwrap();
    server.handle_input(NOW, &drain(&mut client)).unwrap();
    serve(&mut server);
    client.handle_input(NOW, &drain(&mut server)).unwrap();
    let ev = events(&mut client);
    assert_eq!(client.protocol(), Protocol::Http1);
    assert!(ev.contains(&Event::Ready { reusable: true }), "{ev:?}");
}

#[test]
fn an_h2c_upgraded_client_starts_http2_when_it_switches_not_when_it_was_made() {
    // The client is made at 0 and sends its first request 20 s later, past
    // HTTP/2's 10 s SETTINGS timeout: the switch must start HTTP/2's timers
    // then, so the server has settings_timeout from the switch to ack.
    let config = sockless_h2::Config::client();
    let later = NOW + config.settings_timeout * 2;
    let mut client = ClientConnection::h2c_upgrade(sockless_h1::Config::client(), config.clone(), NOW);
    let mut server = ServerConnection::cleartext(ServerConfig::default(), later);
    client.send_request(&RequestHead::new(Method::Get, "/").header("Host", "a"), true).unwrap();
    server.handle_input(later, &drain(&mut client)).unwrap();
    let _ = events(&mut server);
    let mut wire = drain(&mut server);
    serve(&mut server);
    wire.extend_from_slice(&drain(&mut server));
    client.handle_input(later, &wire).unwrap();
    let ev = events(&mut client);
    assert_eq!(client.protocol(), Protocol::Http2);
    assert!(ev.iter().all(|e| !matches!(e, Event::Error(_))), "{ev:?}");
    let deadline = client.poll_timeout().expect("the SETTINGS ack is awaited");
    assert_eq!(deadline, later + config.settings_timeout);
    client.handle_timeout(later);
    let ev = events(&mut client);
    assert!(ev.iter().all(|e| !matches!(e, Event::Error(_) | Event::Closed(_))), "{ev:?}");
    // The server's ack arrives and the connection goes on.
    let out = drain(&mut client);
    server.handle_input(later, &out).unwrap();
    assert!(events(&mut server).iter().all(|e| !matches!(e, Event::Error(_))));
    client.handle_input(later, &drain(&mut server)).unwrap();
    let _ = events(&mut client);
    assert!(client.poll_timeout().is_none_or(|t| t > later + config.settings_timeout));
}

/// Feeds `input` to a fresh cleartext server and returns what it sends and
/// reports, its protocol, and whether it closed.
fn first_bytes(input: &[u8]) -> (Vec<u8>, Vec<Event>, Option<Protocol>, bool) {
    let mut server = ServerConnection::cleartext(ServerConfig::default(), NOW);
    let _ = server.handle_input(NOW, input);
    let mut ev = events(&mut server);
    let wire = drain(&mut server);
    ev.extend(events(&mut server));
    (wire, ev, server.protocol(), server.is_closed())
}

/// The GOAWAY frames in `wire` as (last stream, error code).
fn goaways(mut wire: &[u8]) -> Vec<(u32, u32)> {
    let mut found = Vec::new();
    while wire.len() >= 9 {
        let len = u32::from_be_bytes([0, wire[0], wire[1], wire[2]]) as usize;
        let payload = &wire[9..(9 + len).min(wire.len())];
        if wire[3] == 7 && payload.len() >= 8 {
            let word = |i: usize| u32::from_be_bytes([payload[i], payload[i + 1], payload[i + 2], payload[i + 3]]);
            found.push((word(0) & 0x7fff_ffff, word(4)));
        }
        wire = &wire[(9 + len).min(wire.len())..];
    }
    found
}

#[test]
fn an_invalid_preface_on_cleartext_is_goaway_protocol_error_then_close() {
    // h2spec http2/3.5/2 sends the first of these; the others diverge from
    // the preface later. None is an HTTP/1.x request: an HTTP/1.1 answer
    // would be read as a broken frame ("unexpected EOF"). RFC 9113 section
    // 3.4: a connection error of type PROTOCOL_ERROR.
    const PROTOCOL_ERROR: u32 = 1;
    for input in [
        &b"INVALID CONNECTION PREFACE\r\n\r\n"[..],
        b"PRI * HTTP/2.0\r\n\r\nXX\r\n\r\n",
        b"PRI * HTTP/2.0\r\n\r\nSM\r\n\rQ",
        b"PRI * HTTP/1.1\r\n\r\n",
        b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03\r\n", // a TLS ClientHello on the cleartext port
    ] {
        let (wire, ev, protocol, closed) = first_bytes(input);
        let shown = String::from_utf8_lossy(input);
        assert_eq!(protocol, Some(Protocol::Http2), "{shown}");
        assert!(!wire.starts_with(b"HTTP/"), "{shown}: {}", String::from_utf8_lossy(&wire));
        assert_eq!(goaways(&wire), [(0, PROTOCOL_ERROR)], "{shown}");
        assert!(ev.iter().any(|e| matches!(e, Event::Error(_))), "{shown}: {ev:?}");
        assert!(closed, "{shown}");
    }
}

#[test]
fn http1_requests_still_fall_back_to_http1_whatever_their_errors() {
    let cases: [(&[u8], &str); 6] = [
        (b"GET / HTTP/1.1\r\nHost: a\r\n\r\n", "HTTP/1.1 200 OK\r\n"),
        (b"\r\nPOST /x HTTP/1.1\r\nHost: a\r\nContent-Length: 0\r\n\r\n", "HTTP/1.1 200 OK\r\n"),
        (b"PUT /x HTTP/1.0\r\nContent-Length: 0\r\n\r\n", "HTTP/1.0 200 OK\r\n"),
        (b"PROPFIND /x HTTP/1.1\r\nHost: a\r\n\r\n", "HTTP/1.1 200 OK\r\n"),
        (b"GET /\x7f HTTP/1.1\r\nHost: a\r\n\r\n", "HTTP/1.1 400 Bad Request\r\n"),
        (b"GET / HTTP/1.1\r\nHost: a\r\nBad Name: x\r\n\r\n", "HTTP/1.1 400 Bad Request\r\n"),
    ];
    for (input, answer) in cases {
        // Whole, and byte by byte: nothing is decided before the first line.
        for split in [false, true] {
            let mut server = ServerConnection::cleartext(ServerConfig::default(), NOW);
            if split {
                for b in input {
                    server.handle_input(NOW, &[*b]).unwrap_or(1);
                }
            } else {
                let _ = server.handle_input(NOW, input);
            }
            assert_eq!(server.protocol(), Some(Protocol::Http1), "{}", String::from_utf8_lossy(input));
            serve(&mut server);
            let wire = drain(&mut server);
            assert!(String::from_utf8_lossy(&wire).starts_with(answer), "{}", String::from_utf8_lossy(&wire));
        }
    }
}

#[test]
fn the_header_read_timeout_runs_from_the_first_byte_while_detection_waits_for_the_first_line() {
    // Detection holds a partial first line; HTTP/1.1 must still count the
    // head's time from its first byte (408 at 11 s, not 10 s after the
    // detection gave up).
    let timeout = sockless_h1::Config::server().header_read_timeout.unwrap();
    let second = sockless_core::Duration::from_secs(1);
    let mut server = ServerConnection::cleartext(ServerConfig::default(), NOW);
    server.handle_input(NOW + second, b"GET / HT").unwrap();
    assert_eq!(server.poll_timeout(), Some(NOW + timeout));
    server.handle_timeout(NOW + timeout);
    assert_eq!(server.protocol(), Some(Protocol::Http1));
    assert!(drain(&mut server).is_empty(), "nothing is due yet");
    assert_eq!(server.poll_timeout(), Some(NOW + second + timeout));
    server.handle_timeout(NOW + second + timeout);
    assert!(String::from_utf8_lossy(&drain(&mut server)).starts_with("HTTP/1.1 408 "));
}
