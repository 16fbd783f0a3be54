//! Unit tests of the frame layer: every frame type, and every error of RFC 9113 sections 4 to 6.

use bytes::{Bytes, BytesMut};
use sockless_core::{ErrorCode, StreamId};
use sockless_h2::frame::*;

const S1: StreamId = StreamId::new(1);

/// A frame with the length field taken from the payload.
fn raw(kind: u8, flags: u8, stream: u32, payload: &[u8]) -> Vec<u8> {
    raw_len(payload.len() as u32, kind, flags, stream, payload)
}

fn raw_len(len: u32, kind: u8, flags: u8, stream: u32, payload: &[u8]) -> Vec<u8> {
    let mut v = Head { len, kind, flags, stream: StreamId::new(stream) }.to_bytes().to_vec();
    v.extend_from_slice(payload);
    v
}

fn decode_one(bytes: &[u8]) -> Result<Option<Frame>, FrameError> {
    let mut buf = BytesMut::from(bytes);
    let r = FrameDecoder::new().decode(&mut buf);
    if let Ok(Some(_)) = r {
        assert!(buf.is_empty(), "frame not fully consumed");
    }
    r
}

fn frame(bytes: &[u8]) -> Frame {
    decode_one(bytes).expect("valid frame").expect("complete frame")
}

#[track_caller]
fn conn_err(bytes: &[u8], code: ErrorCode) {
    let e = decode_one(bytes).expect_err("error expected");
    assert_eq!((e.code, e.stream), (code, None), "{e}");
}

#[track_caller]
fn stream_err(bytes: &[u8], code: ErrorCode, stream: u32) {
    let mut buf = BytesMut::from(bytes);
    let mut d = FrameDecoder::new();
    let e = d.decode(&mut buf).expect_err("error expected");
    assert_eq!((e.code, e.stream), (code, Some(StreamId::new(stream))), "{e}");
    assert!(buf.is_empty(), "a stream error consumes its frame");
    assert_eq!(d.error(), None);
}

// ---------------------------------------------------------------- each frame type

#[test]
fn data_plain_and_padded() {
    let f = frame(&raw(kind::DATA, flag::END_STREAM, 1, b"hello"));
    assert_eq!(f, Frame::Data(Data { stream: S1, data: Bytes::from_static(b"hello"), end_stream: true, pad: None }));
    let f = frame(&raw(kind::DATA, flag::PADDED, 3, b"\x02hi\0\0"));
    let Frame::Data(d) = f else { panic!() };
    assert_eq!((&d.data[..], d.pad, d.end_stream, d.flow_controlled_len()), (&b"hi"[..], Some(2), false, 5));
    // Only padding, and the empty padded frame.
    let Frame::Data(d) = frame(&raw(kind::DATA, flag::PADDED, 3, b"\x03\0\0\0")) else { panic!() };
    assert_eq!((d.data.len(), d.pad), (0, Some(3)));
    let Frame::Data(d) = frame(&raw(kind::DATA, flag::PADDED, 3, b"\x00")) else { panic!() };
    assert_eq!((d.data.len(), d.pad, d.flow_controlled_len()), (0, Some(0), 1));
}

#[test]
fn data_is_a_slice_of_the_receive_buffer() {
    let mut buf = BytesMut::from(&raw(kind::DATA, flag::PADDED, 1, b"\x01body\0")[..]);
    let start = buf.as_ptr() as usize;
    let Some(Frame::Data(d)) = FrameDecoder::new().decode(&mut buf).unwrap() else { panic!() };
    assert_eq!(d.data.as_ptr() as usize, start + 10, "no copy");
}

#[test]
fn headers_with_padding_and_priority_stripped() {
    let mut p = vec![4]; // pad length
    p.extend_from_slice(&(0x8000_0003u32).to_be_bytes()); // exclusive dependency on 3
    p.push(15); // weight
    p.extend_from_slice(b"\x82\x86");
    p.extend_from_slice(&[0; 4]);
    let all = flag::END_STREAM | flag::END_HEADERS | flag::PADDED | flag::PRIORITY;
    let f = frame(&raw(kind::HEADERS, all | 0xc2 /* unknown flags */, 5, &p));
    let dep = StreamDependency { dependency: StreamId::new(3), weight: 15, exclusive: true };
    let want = Headers {
        stream: StreamId::new(5),
        fragment: Bytes::from_static(b"\x82\x86"),
        end_stream: true,
        end_headers: true,
        pad: Some(4),
        priority: Some(dep),
    };
    assert_eq!(f, Frame::Headers(want));
    let f = frame(&raw(kind::HEADERS, flag::END_HEADERS, 1, b"\x82"));
    assert_eq!(f, Frame::Headers(Headers::new(S1, Bytes::from_static(b"\x82"))));
}

#[test]
fn priority_parsed_and_validated() {
    let f = frame(&raw(kind::PRIORITY, 0, 3, &[0, 0, 0, 1, 200]));
    let dependency = StreamDependency { dependency: S1, weight: 200, exclusive: false };
    assert_eq!(f, Frame::Priority(Priority { stream: StreamId::new(3), dependency }));
    stream_err(&raw(kind::PRIORITY, 0, 3, &[0, 0, 0, 1]), ErrorCode::FRAME_SIZE_ERROR, 3);
    stream_err(&raw(kind::PRIORITY, 0, 3, &[0, 0, 0, 1, 2, 3]), ErrorCode::FRAME_SIZE_ERROR, 3);
    stream_err(&raw(kind::PRIORITY, 0, 3, &[0x80, 0, 0, 3, 2]), ErrorCode::PROTOCOL_ERROR, 3);
    conn_err(&raw(kind::PRIORITY, 0, 0, &[0, 0, 0, 1, 2]), ErrorCode::PROTOCOL_ERROR);
}

#[test]
fn rst_stream() {
    let f = frame(&raw(kind::RST_STREAM, 0, 1, &[0, 0, 0, 8]));
    assert_eq!(f, Frame::RstStream(RstStream { stream: S1, code: ErrorCode::CANCEL }));
    let f = frame(&raw(kind::RST_STREAM, 0, 1, &[0xde, 0xad, 0xbe, 0xef]));
    assert_eq!(f, Frame::RstStream(RstStream { stream: S1, code: ErrorCode(0xdead_beef) }));
    conn_err(&raw(kind::RST_STREAM, 0, 1, &[0, 0, 8]), ErrorCode::FRAME_SIZE_ERROR);
    conn_err(&raw(kind::RST_STREAM, 0, 1, &[0, 0, 0, 0, 8]), ErrorCode::FRAME_SIZE_ERROR);
    conn_err(&raw(kind::RST_STREAM, 0, 0, &[0, 0, 0, 8]), ErrorCode::PROTOCOL_ERROR);
}

#[test]
fn settings_and_ack() {
    let f = frame(&raw(kind::SETTINGS, 0, 0, &[0, 3, 0, 0, 0, 100, 0, 2, 0, 0, 0, 0]));
    let want = Settings { max_concurrent_streams: Some(100), enable_push: Some(false), ..Settings::default() };
    assert_eq!(f, Frame::Settings(want));
    assert_eq!(frame(&raw(kind::SETTINGS, 0, 0, &[])), Frame::Settings(Settings::default()));
    assert_eq!(frame(&raw(kind::SETTINGS, flag::ACK, 0, &[])), Frame::SettingsAck);
    conn_err(&raw(kind::SETTINGS, flag::ACK, 0, &[0, 3, 0, 0, 0, 100]), ErrorCode::FRAME_SIZE_ERROR);
    conn_err(&raw(kind::SETTINGS, 0, 0, &[0, 3, 0, 0, 0]), ErrorCode::FRAME_SIZE_ERROR);
    conn_err(&raw(kind::SETTINGS, 0, 1, &[]), ErrorCode::PROTOCOL_ERROR);
    conn_err(&raw(kind::SETTINGS, 0, 0, &[0, 2, 0, 0, 0, 2]), ErrorCode::PROTOCOL_ERROR);
    conn_err(&raw(kind::SETTINGS, 0, 0, &[0, 4, 0x80, 0, 0, 0]), ErrorCode::FLOW_CONTROL_ERROR);
    conn_err(&raw(kind::SETTINGS, 0, 0, &[0, 5, 0, 0, 0x3f, 0xff]), ErrorCode::PROTOCOL_ERROR);
    conn_err(&raw(kind::SETTINGS, 0, 0, &[0, 5, 1, 0, 0, 0]), ErrorCode::PROTOCOL_ERROR);
}

#[test]
fn push_promise() {
    let f = frame(&raw(kind::PUSH_PROMISE, flag::END_HEADERS | flag::PADDED, 1, b"\x01\x80\0\0\x02\x82\0"));
    let want = PushPromise {
        stream: S1,
        promised: StreamId::new(2),
        fragment: Bytes::from_static(b"\x82"),
        end_headers: true,
        pad: Some(1),
    };
    assert_eq!(f, Frame::PushPromise(want));
    conn_err(&raw(kind::PUSH_PROMISE, flag::END_HEADERS, 0, b"\0\0\0\x02"), ErrorCode::PROTOCOL_ERROR);
    conn_err(&raw(kind::PUSH_PROMISE, flag::END_HEADERS, 1, b"\0\0\0\0"), ErrorCode::PROTOCOL_ERROR);
    conn_err(&raw(kind::PUSH_PROMISE, flag::END_HEADERS, 1, b"\0\0\x02"), ErrorCode::FRAME_SIZE_ERROR);
    conn_err(&raw(kind::PUSH_PROMISE, flag::PADDED, 1, b"\0\0\0\x02"), ErrorCode::FRAME_SIZE_ERROR);
    conn_err(&raw(kind::PUSH_PROMISE, flag::PADDED, 1, b"\x01\0\0\0\x02"), ErrorCode::PROTOCOL_ERROR);
}

#[test]
fn ping() {
    let f = frame(&raw(kind::PING, 0, 0, b"abcdefgh"));
    assert_eq!(f, Frame::Ping(Ping { ack: false, payload: *b"abcdefgh" }));
    let f = frame(&raw(kind::PING, flag::ACK | 0xfe, 0, b"abcdefgh"));
    assert_eq!(f, Frame::Ping(Ping { ack: true, payload: *b"abcdefgh" }));
    conn_err(&raw(kind::PING, 0, 0, b"abcdefg"), ErrorCode::FRAME_SIZE_ERROR);
    conn_err(&raw(kind::PING, 0, 0, b"abcdefghi"), ErrorCode::FRAME_SIZE_ERROR);
    conn_err(&raw(kind::PING, 0, 1, b"abcdefgh"), ErrorCode::PROTOCOL_ERROR);
}

#[test]
fn goaway() {
    let f = frame(&raw(kind::GOAWAY, 0, 0, b"\x80\0\0\x07\0\0\0\x0bcalm down"));
    let want =
        GoAway { last_stream: StreamId::new(7), code: ErrorCode::ENHANCE_YOUR_CALM, debug_data: "calm down".into() };
    assert_eq!(f, Frame::GoAway(want));
    let Frame::GoAway(g) = frame(&raw(kind::GOAWAY, 0, 0, &[0; 8])) else { panic!() };
    assert!(g.debug_data.is_empty());
    conn_err(&raw(kind::GOAWAY, 0, 0, &[0; 7]), ErrorCode::FRAME_SIZE_ERROR);
    conn_err(&raw(kind::GOAWAY, 0, 3, &[0; 8]), ErrorCode::PROTOCOL_ERROR);
}

#[test]
fn window_update() {
    let f = frame(&raw(kind::WINDOW_UPDATE, 0, 0, &[0xff, 0xff, 0xff, 0xff]));
    assert_eq!(f, Frame::WindowUpdate(WindowUpdate { stream: StreamId::CONNECTION, increment: MAX_WINDOW_SIZE }));
    let f = frame(&raw(kind::WINDOW_UPDATE, 0, 1, &[0, 0, 0, 1]));
    assert_eq!(f, Frame::WindowUpdate(WindowUpdate { stream: S1, increment: 1 }));
    stream_err(&raw(kind::WINDOW_UPDATE, 0, 1, &[0, 0, 0, 0]), ErrorCode::PROTOCOL_ERROR, 1);
    stream_err(&raw(kind::WINDOW_UPDATE, 0, 1, &[0x80, 0, 0, 0]), ErrorCode::PROTOCOL_ERROR, 1);
    conn_err(&raw(kind::WINDOW_UPDATE, 0, 0, &[0, 0, 0, 0]), ErrorCode::PROTOCOL_ERROR);
    conn_err(&raw(kind::WINDOW_UPDATE, 0, 1, &[0, 0, 1]), ErrorCode::FRAME_SIZE_ERROR);
    conn_err(&raw(kind::WINDOW_UPDATE, 0, 0, &[0, 0, 0, 0, 1]), ErrorCode::FRAME_SIZE_ERROR);
}

#[test]
fn continuation_sequence() {
    let mut wire = raw(kind::HEADERS, flag::END_STREAM, 3, b"ab");
    wire.extend(raw(kind::CONTINUATION, 0, 3, b"cd"));
    wire.extend(raw(kind::CONTINUATION, flag::END_HEADERS, 3, b"e"));
    wire.extend(raw(kind::PING, 0, 0, &[0; 8]));
    let mut buf = BytesMut::from(&wire[..]);
    let mut d = FrameDecoder::new();
    let Some(Frame::Headers(h)) = d.decode(&mut buf).unwrap() else { panic!() };
    assert!(h.end_stream && !h.end_headers);
    assert_eq!(d.expect_continuation(), Some(StreamId::new(3)));
    let c = d.decode(&mut buf).unwrap().unwrap();
    let want = Continuation { stream: StreamId::new(3), fragment: "cd".into(), end_headers: false };
    assert_eq!(c, Frame::Continuation(want));
    let Some(Frame::Continuation(c)) = d.decode(&mut buf).unwrap() else { panic!() };
    assert!(c.end_headers);
    assert_eq!(d.expect_continuation(), None);
    assert!(matches!(d.decode(&mut buf), Ok(Some(Frame::Ping(_)))));
}

#[test]
fn unknown_frames_are_yielded_and_unknown_flags_ignored() {
    let f = frame(&raw(0xfa, 0xff, 0, b"xyz"));
    let want = Unknown { kind: 0xfa, flags: 0xff, stream: StreamId::CONNECTION, payload: "xyz".into() };
    assert_eq!(f, Frame::Unknown(want));
    let f = frame(&raw(0x0a, 0, 9, b""));
    assert_eq!((f.kind(), f.stream()), (0x0a, StreamId::new(9)));
    // Unknown flags on a known type: ignored.
    let f = frame(&raw(kind::RST_STREAM, 0xff, 1, &[0, 0, 0, 0]));
    assert_eq!(f, Frame::RstStream(RstStream { stream: S1, code: ErrorCode::NO_ERROR }));
}

#[test]
fn reserved_bit_is_ignored() {
    let mut wire = raw(kind::DATA, 0, 1, b"x");
    wire[5] |= 0x80;
    assert_eq!(frame(&wire).stream(), S1);
    let mut wire = raw(kind::PING, 0, 0, &[0; 8]);
    wire[5] |= 0x80; // the stream is still 0
    assert!(matches!(frame(&wire), Frame::Ping(_)));
}

// ---------------------------------------------------------------- errors

#[test]
fn oversized_frame_fails_at_the_header() {
    // Only the header arrived: the error does not wait for 16 385 octets of payload.
    conn_err(&raw_len(16_385, kind::DATA, 0, 1, &[]), ErrorCode::FRAME_SIZE_ERROR);
    conn_err(&raw_len(MAX_PAYLOAD_LEN, 0xee, 0, 0, &[]), ErrorCode::FRAME_SIZE_ERROR);
    assert_eq!(decode_one(&raw_len(16_384, kind::DATA, 0, 1, &[])), Ok(None));
    let mut d = FrameDecoder::new();
    d.set_max_frame_size(100_000);
    let mut buf = BytesMut::from(&raw(kind::DATA, 0, 1, &[7; 100_000])[..]);
    assert!(matches!(d.decode(&mut buf), Ok(Some(Frame::Data(_)))));
    assert_eq!(d.set_max_frame_size(1).max_frame_size(), 16_384);
    assert_eq!(d.set_max_frame_size(u32::MAX).max_frame_size(), MAX_PAYLOAD_LEN);
}

#[test]
fn stream_frames_on_stream_zero() {
    for k in [kind::DATA, kind::HEADERS, kind::PRIORITY, kind::RST_STREAM, kind::PUSH_PROMISE, kind::CONTINUATION] {
        let payload: &[u8] = if k == kind::PRIORITY { &[0, 0, 0, 1, 0] } else { &[0, 0, 0, 1] };
        conn_err(&raw_len(payload.len() as u32, k, flag::END_HEADERS, 0, &[]), ErrorCode::PROTOCOL_ERROR);
        conn_err(&raw(k, flag::END_HEADERS, 0, payload), ErrorCode::PROTOCOL_ERROR);
    }
}

#[test]
fn connection_frames_on_a_stream() {
    conn_err(&raw(kind::SETTINGS, 0, 1, &[]), ErrorCode::PROTOCOL_ERROR);
    conn_err(&raw(kind::SETTINGS, flag::ACK, 1, &[]), ErrorCode::PROTOCOL_ERROR);
    conn_err(&raw(kind::PING, 0, 1, &[0; 8]), ErrorCode::PROTOCOL_ERROR);
    conn_err(&raw(kind::GOAWAY, 0, 1, &[0; 8]), ErrorCode::PROTOCOL_ERROR);
}

#[test]
fn fixed_size_errors_are_raised_before_the_payload() {
    // Only the header is there; the wrong length alone decides.
    conn_err(&raw_len(9, kind::PING, 0, 0, &[]), ErrorCode::FRAME_SIZE_ERROR);
    conn_err(&raw_len(5, kind::WINDOW_UPDATE, 0, 1, &[]), ErrorCode::FRAME_SIZE_ERROR);
    conn_err(&raw_len(3, kind::RST_STREAM, 0, 1, &[]), ErrorCode::FRAME_SIZE_ERROR);
    conn_err(&raw_len(7, kind::SETTINGS, 0, 0, &[]), ErrorCode::FRAME_SIZE_ERROR);
    conn_err(&raw_len(6, kind::SETTINGS, flag::ACK, 0, &[]), ErrorCode::FRAME_SIZE_ERROR);
    // PRIORITY's is a stream error: it waits for the payload to drop it.
    assert_eq!(decode_one(&raw_len(6, kind::PRIORITY, 0, 1, &[])), Ok(None));
}

#[test]
fn padding_errors() {
    // Pad length equal to the payload length: PROTOCOL_ERROR.
    conn_err(&raw(kind::DATA, flag::PADDED, 1, b"\x03ab"), ErrorCode::PROTOCOL_ERROR);
    conn_err(&raw(kind::DATA, flag::PADDED, 1, b"\xffab"), ErrorCode::PROTOCOL_ERROR);
    conn_err(&raw(kind::DATA, flag::PADDED, 1, b""), ErrorCode::FRAME_SIZE_ERROR);
    conn_err(&raw(kind::HEADERS, flag::PADDED | flag::END_HEADERS, 1, b"\x01"), ErrorCode::PROTOCOL_ERROR);
    conn_err(&raw(kind::HEADERS, flag::PADDED | flag::END_HEADERS, 1, b""), ErrorCode::FRAME_SIZE_ERROR);
    let prio_padded = flag::PADDED | flag::PRIORITY | flag::END_HEADERS;
    conn_err(&raw(kind::HEADERS, prio_padded, 1, b"\x01\0\0\0\0\x10"), ErrorCode::PROTOCOL_ERROR);
    conn_err(&raw(kind::HEADERS, prio_padded, 1, b"\x01\0\0\0\0"), ErrorCode::FRAME_SIZE_ERROR);
    assert!(decode_one(&raw(kind::HEADERS, prio_padded, 1, b"\x00\0\0\0\0\x10")).unwrap().is_some());
    conn_err(&raw(kind::HEADERS, flag::PRIORITY | flag::END_HEADERS, 1, b"\0\0\0\0"), ErrorCode::FRAME_SIZE_ERROR);
}

#[test]
fn headers_depending_on_itself_is_a_connection_error() {
    conn_err(
        &raw(kind::HEADERS, flag::PRIORITY | flag::END_HEADERS, 1, b"\0\0\0\x01\x10\x82"),
        ErrorCode::PROTOCOL_ERROR,
    );
}

#[test]
fn continuation_out_of_sequence() {
    // CONTINUATION with no open block, also after a complete one.
    conn_err(&raw(kind::CONTINUATION, flag::END_HEADERS, 1, b"x"), ErrorCode::PROTOCOL_ERROR);
    let mut w = raw(kind::HEADERS, flag::END_HEADERS, 1, b"x");
    w.extend(raw(kind::CONTINUATION, flag::END_HEADERS, 1, b"x"));
    let mut buf = BytesMut::from(&w[..]);
    let mut d = FrameDecoder::new();
    assert!(d.decode(&mut buf).unwrap().is_some());
    assert_eq!(d.decode(&mut buf).unwrap_err().code, ErrorCode::PROTOCOL_ERROR);

    // Anything but CONTINUATION on the same stream while a block is open, unknown types included.
    let interrupters = [
        raw(kind::CONTINUATION, flag::END_HEADERS, 3, b"x"),
        raw(kind::DATA, 0, 1, b"x"),
        raw(kind::HEADERS, flag::END_HEADERS, 1, b"x"),
        raw(kind::PING, 0, 0, &[0; 8]),
        raw(kind::SETTINGS, flag::ACK, 0, &[]),
        raw(kind::PRIORITY, 0, 1, &[0, 0, 0, 3, 0]),
        raw(0x42, 0, 1, b""),
        raw(0x42, 0, 0, b""),
    ];
    for start in [raw(kind::HEADERS, 0, 1, b"ab"), raw(kind::PUSH_PROMISE, 0, 1, b"\0\0\0\x02ab")] {
        for bad in &interrupters {
            let mut buf = BytesMut::from(&start[..]);
            buf.extend_from_slice(bad);
            let mut d = FrameDecoder::new();
            assert!(d.decode(&mut buf).unwrap().is_some());
            let e = d.decode(&mut buf).unwrap_err();
            assert_eq!((e.code, e.stream), (ErrorCode::PROTOCOL_ERROR, None), "{bad:?}");
            // Connection errors are sticky.
            assert_eq!(d.decode(&mut BytesMut::new()), Err(e));
            assert_eq!(d.error(), Some(e));
        }
    }
}

#[test]
fn continuation_flood_limits() {
    // Count: empty CONTINUATION frames, the CVE-2024-27316 pattern.
    let mut d = FrameDecoder::new();
    d.set_max_continuations(3);
    let mut buf = BytesMut::from(&raw(kind::HEADERS, 0, 1, b"a")[..]);
    for _ in 0..4 {
        buf.extend_from_slice(&raw(kind::CONTINUATION, 0, 1, b""));
    }
    let mut n = 0;
    let e = loop {
        match d.decode(&mut buf) {
            Ok(Some(_)) => n += 1,
            Ok(None) => panic!("limit not enforced"),
            Err(e) => break e,
        }
    };
    assert_eq!((n, e.code, e.stream), (4, ErrorCode::ENHANCE_YOUR_CALM, None));

    // Three continuations, the last ending the block: fine, and the count starts over.
    let mut d = FrameDecoder::new();
    d.set_max_continuations(3);
    for _ in 0..2 {
        let mut buf = BytesMut::from(&raw(kind::HEADERS, 0, 1, b"a")[..]);
        buf.extend_from_slice(&raw(kind::CONTINUATION, 0, 1, b""));
        buf.extend_from_slice(&raw(kind::CONTINUATION, 0, 1, b""));
        buf.extend_from_slice(&raw(kind::CONTINUATION, flag::END_HEADERS, 1, b""));
        for _ in 0..4 {
            assert!(d.decode(&mut buf).unwrap().is_some());
        }
    }

    // Bytes: fragments add up across frames; padding does not count. Refused at the header.
    let mut d = FrameDecoder::new();
    d.set_max_header_block(10);
    let mut buf = BytesMut::from(&raw(kind::HEADERS, flag::PADDED, 1, b"\x05abcd\0\0\0\0\0")[..]);
    buf.extend_from_slice(&raw(kind::CONTINUATION, 0, 1, b"efghij"));
    buf.extend_from_slice(&raw_len(1, kind::CONTINUATION, flag::END_HEADERS, 1, b""));
    assert!(d.decode(&mut buf).unwrap().is_some());
    assert!(d.decode(&mut buf).unwrap().is_some());
    assert_eq!(d.decode(&mut buf).unwrap_err().code, ErrorCode::ENHANCE_YOUR_CALM);

    // A single frame over the limit.
    let mut d = FrameDecoder::new();
    d.set_max_header_block(3);
    let mut buf = BytesMut::from(&raw(kind::HEADERS, flag::END_HEADERS, 1, b"abcd")[..]);
    assert_eq!(d.decode(&mut buf).unwrap_err().code, ErrorCode::ENHANCE_YOUR_CALM);
    assert_eq!(FrameDecoder::new().max_header_block(), DEFAULT_MAX_HEADER_BLOCK);
    assert_eq!(FrameDecoder::new().max_continuations(), DEFAULT_MAX_CONTINUATIONS);
}

#[test]
fn incomplete_input_consumes_nothing() {
    let wire = raw(kind::DATA, 0, 1, b"hello");
    let mut d = FrameDecoder::new();
    for n in 0..wire.len() {
        let mut buf = BytesMut::from(&wire[..n]);
        assert_eq!(d.decode(&mut buf), Ok(None));
        assert_eq!(buf.len(), n);
    }
}

#[test]
fn error_converts_to_the_shared_vocabulary() {
    use sockless_core::{Answer, ProtocolError, ProtocolErrorKind};
    let e = FrameError::stream(ErrorCode::FRAME_SIZE_ERROR, S1, "PRIORITY length not 5");
    let p = ProtocolError::from(e);
    assert_eq!((p.kind, p.answer, p.stream), (ProtocolErrorKind::FrameSize, Answer::ResetStream(e.code), Some(S1)));
    let e = FrameError::connection(ErrorCode::ENHANCE_YOUR_CALM, "flood");
    assert_eq!(ProtocolError::from(e).answer, Answer::GoAway(ErrorCode::ENHANCE_YOUR_CALM));
    assert_eq!(e.to_string(), "flood (connection error ENHANCE_YOUR_CALM)");
}

// ---------------------------------------------------------------- encoding

#[test]
fn data_head_written_apart_from_the_body() {
    let d = Data { stream: StreamId::new(3), data: Bytes::from_static(b"body"), end_stream: true, pad: Some(2) };
    let mut head = Vec::new();
    d.encode_head(&mut head);
    assert_eq!(head, [0, 0, 7, kind::DATA, flag::END_STREAM | flag::PADDED, 0, 0, 0, 3, 2]);
    let mut whole = Vec::new();
    Frame::Data(d.clone()).encode(&mut whole);
    assert_eq!(whole, [&head[..], &d.data, d.padding()].concat());
    assert_eq!(Frame::Data(d).encoded_len(), whole.len());
}

#[test]
fn field_block_split_at_max_frame_size() {
    let block: Bytes = (0..50_000u32).map(|i| i as u8).collect::<Vec<_>>().into();
    for (pad, priority) in
        [(None, None), (Some(255), Some(StreamDependency { dependency: S1, weight: 1, exclusive: true }))]
    {
        let h = Headers {
            stream: StreamId::new(3),
            fragment: block.clone(),
            end_stream: true,
            end_headers: false,
            pad,
            priority,
        };
        let mut wire = BytesMut::new();
        h.encode_split(0, &mut wire); // below the minimum: 16 384 is used
        let mut d = FrameDecoder::new();
        let mut got = Vec::new();
        let mut frames = 0;
        while let Some(f) = d.decode(&mut wire).unwrap() {
            frames += 1;
            match f {
                Frame::Headers(f) => {
                    assert!(f.end_stream && !f.end_headers && f.pad == pad && f.priority == priority);
                    got.extend_from_slice(&f.fragment);
                }
                Frame::Continuation(f) => {
                    assert_eq!(f.end_headers, frames == 4);
                    got.extend_from_slice(&f.fragment);
                }
                f => panic!("{f:?}"),
            }
        }
        assert_eq!((frames, got.as_slice()), (4, &block[..]));
    }
    // A block that fits: one frame with END_HEADERS.
    let mut wire = BytesMut::new();
    let p =
        PushPromise { stream: S1, promised: StreamId::new(2), fragment: "ab".into(), end_headers: false, pad: None };
    p.encode_split(16_384, &mut wire);
    let mut d = FrameDecoder::new();
    assert_eq!(d.decode(&mut wire).unwrap(), Some(Frame::PushPromise(PushPromise { end_headers: true, ..p })));
    assert!(wire.is_empty());
    // An empty block: one frame with END_HEADERS.
    let mut wire = BytesMut::new();
    Headers::new(S1, Bytes::new()).encode_split(16_384, &mut wire);
    assert_eq!(wire.len(), 9);
}
