//! Regressions found by the fuzz targets in `fuzz/` (inputs kept in
//! `fuzz/regressions/`), replayed through the public API.
//!
//! A test marked `#[ignore = "bug: ..."]` still fails: the bug is reported and
//! not fixed yet. Run them with `cargo test -p sockless-h2 --test
//! fuzz_regressions -- --include-ignored`.

use bytes::{Bytes, BytesMut};
use sockless_core::{Connection, ErrorCode, Event, Instant, StreamId};
use sockless_h2::frame::{Frame, FrameDecoder, Headers, Settings, PREFACE};
use sockless_h2::{Config, H2Connection};

/// Everything the connection wants to send, decoded as frames.
fn transmitted(conn: &mut H2Connection) -> Vec<Frame> {
    let mut wire = BytesMut::from(&sockless_core::transmit_all(conn)[..]);
    let mut decoder = FrameDecoder::new();
    let mut frames = Vec::new();
    while let Some(f) = decoder.decode(&mut wire).expect("valid output") {
        frames.push(f);
    }
    frames
}

/// A server that got the preface, an empty SETTINGS and one HEADERS frame
/// (END_STREAM | END_HEADERS on stream 1) carrying `block`.
fn server_with_request(block: &[u8]) -> (H2Connection, Vec<Event>, Vec<Frame>) {
    let now = Instant::ZERO;
    let mut server = H2Connection::server(Config::server(), now);
    let mut input = BytesMut::from(&PREFACE[..]);
    Frame::Settings(Settings::default()).encode(&mut input);
    let headers = Headers { end_stream: true, ..Headers::new(StreamId::new(1), Bytes::copy_from_slice(block)) };
    Frame::Headers(headers).encode(&mut input);
    let _ = server.handle_input(now, &input);
    let frames = transmitted(&mut server);
    let events = std::iter::from_fn(|| server.poll_event()).collect();
    (server, events, frames)
}

/// `fuzz/regressions/h2_server-empty-method` (found by `h2_server`): a
/// request whose `:method` is empty was delivered as `Event::Request` with an
/// empty method. A method is a token (RFC 9110 section 9.1), so the request
/// is malformed (RFC 9113 section 8.1.1): the stream is reset with
/// PROTOCOL_ERROR and the application never sees it; the connection goes on.
#[test]
fn empty_method_is_malformed() {
    // 0x03 0x00: a literal without indexing, name from static entry 3 (":method"), empty
    // value; then :scheme https, :path /, :authority a.
    let block = [0x03, 0x00, 0x87, 0x84, 0x41, 0x01, b'a'];
    let (_server, events, frames) = server_with_request(&block);
    assert!(
        !events.iter().any(|e| matches!(e, Event::Request { .. })),
        "a request with an empty :method reached the application: {events:?}"
    );
    assert!(
        frames.iter().any(
            |f| matches!(f, Frame::RstStream(r) if r.stream == StreamId::new(1) && r.code == ErrorCode::PROTOCOL_ERROR)
        ),
        "no RST_STREAM(PROTOCOL_ERROR) on stream 1: {frames:?}"
    );
    assert!(!frames.iter().any(|f| matches!(f, Frame::GoAway(_))), "a malformed request is a stream error");
}

/// The same with a method that is not a token (a space inside): malformed too.
#[test]
fn non_token_method_is_malformed() {
    let mut block = vec![0x03, 0x03, b'G', b' ', b'T'];
    block.extend_from_slice(&[0x87, 0x84, 0x41, 0x01, b'a']);
    let (_server, events, frames) = server_with_request(&block);
    assert!(!events.iter().any(|e| matches!(e, Event::Request { .. })), "{events:?}");
    assert!(
        frames.iter().any(
            |f| matches!(f, Frame::RstStream(r) if r.stream == StreamId::new(1) && r.code == ErrorCode::PROTOCOL_ERROR)
        ),
        "{frames:?}"
    );
}

/// A well-formed request built the same way is delivered (the helper is sound).
#[test]
fn control_valid_method_is_delivered() {
    let block = [0x82, 0x87, 0x84, 0x41, 0x01, b'a']; // :method GET, :scheme https, :path /, :authority a
    let (_server, events, _frames) = server_with_request(&block);
    assert!(
        events.iter().any(|e| matches!(e, Event::Request { head, .. } if head.method.as_bytes() == b"GET")),
        "{events:?}"
    );
}
