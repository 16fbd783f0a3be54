//! Entry from HTTP/1.1: `Upgrade: h2c` with `HTTP2-Settings`, the upgraded
//! request becoming stream 1 (RFC 7540 section 3.2), both roles, our
//! sockless-h1 on the HTTP/1.1 side.

use sockless_core::{Bytes, Connection, Event, Instant, Method, RequestHead, ResponseHead, StreamId, Version};
use sockless_h2::{decode_settings_header, settings_header_value, Config, H2Connection};

const NOW: Instant = Instant::ZERO;

use sockless_core::{poll_events as events, transmit_all as drain};

#[test]
fn h2c_upgrade_end_to_end() {
    // Client, HTTP/1.1: the upgrade request with our settings.
    let mut h1_client = sockless_h1::ClientConnection::new(sockless_h1::Config::client(), NOW);
    let settings = settings_header_value(&Config::client());
    let req = RequestHead::new(Method::Get, "/upgrade")
        .header("Host", "example.com")
        .header("Connection", "Upgrade, HTTP2-Settings")
        .header("Upgrade", "h2c")
        .header("HTTP2-Settings", &settings);
    let s1 = h1_client.send_request(&req, true).unwrap();
    let wire = drain(&mut h1_client);

    // Server, HTTP/1.1: sees the request, answers 101, hands over.
    let mut h1_server = sockless_h1::ServerConnection::new(sockless_h1::Config::server(), NOW);
    h1_server.handle_input(NOW, &wire).unwrap();
    let ev = events(&mut h1_server);
    let Some(Event::Request { stream, head, .. }) = ev.first().cloned() else { panic!("{ev:?}") };
    let peer_settings = decode_settings_header(head.headers.get("http2-settings").unwrap()).unwrap();
    let switch = ResponseHead::new(101).header("Connection", "Upgrade").header("Upgrade", "h2c");
    h1_server.send_response(stream, &switch, false).unwrap();
    let switching = drain(&mut h1_server);
    let ev = events(&mut h1_server);
    assert!(matches!(&ev[..], [.., Event::Upgrade { leftover, .. }] if leftover.is_empty()), "{ev:?}");

    // Server, HTTP/2: the request is stream 1, half-closed (remote).
    let mut h2_server = H2Connection::server_from_upgrade(Config::server(), NOW, &peer_settings, head).unwrap();
    let ev = events(&mut h2_server);
    let one = StreamId::new(1);
    assert!(
        matches!(&ev[0], Event::Request { stream, head, .. } if *stream == one && head.version == Version::Http2 && head.path() == b"/upgrade"),
        "{ev:?}"
    );
    assert_eq!(ev[1], Event::EndStream { stream: one });
    h2_server.send_response(one, &ResponseHead::new(200), false).unwrap();
    h2_server.send_data(one, Bytes::from_static(b"over h2"), true).unwrap();
    let h2_bytes = drain(&mut h2_server);

    // Client: the 101, then HTTP/2 with stream 1 awaiting its response.
    let mut bytes = switching;
    bytes.extend_from_slice(&h2_bytes);
    h1_client.handle_input(NOW, &bytes).unwrap();
    let ev = events(&mut h1_client);
    let Some(Event::Upgrade { stream, leftover }) = ev.last().cloned() else { panic!("{ev:?}") };
    assert_eq!(stream, s1);
    let mut h2_client = H2Connection::client_from_upgrade(Config::client(), NOW);
    h2_client.handle_input(NOW, &leftover).unwrap();
    let client_bytes = drain(&mut h2_client);
    h2_server.handle_input(NOW, &client_bytes).unwrap(); // preface, SETTINGS, acks
    assert!(events(&mut h2_server).iter().all(|e| !matches!(e, Event::Error(_))));
    let ev = events(&mut h2_client);
    assert!(matches!(&ev[0], Event::Response { stream, head } if *stream == one && head.status == 200), "{ev:?}");
    assert_eq!(ev[1], Event::Data { stream: one, data: Bytes::from_static(b"over h2") });
    assert_eq!(ev[2], Event::EndStream { stream: one });

    // Further requests use stream 3.
    let s3 = h2_client.send_request(&RequestHead::new(Method::Get, "http://example.com/next"), true).unwrap();
    assert_eq!(s3, StreamId::new(3));
}
