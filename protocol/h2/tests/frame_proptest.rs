//! Property tests for the frame layer: encode → decode round trips, split invariance, and
//! robustness against arbitrary input.

use bytes::{Bytes, BytesMut};
use proptest::prelude::*;
use sockless_core::{ErrorCode, StreamId};
use sockless_h2::frame::*;

fn stream_id() -> impl Strategy<Value = StreamId> {
    prop_oneof![1u32..10, 1u32..=STREAM_ID_MASK].prop_map(StreamId::new)
}

fn any_stream_id() -> impl Strategy<Value = StreamId> {
    prop_oneof![Just(0u32), 0u32..10, any::<u32>().prop_map(|s| s & STREAM_ID_MASK)].prop_map(StreamId::new)
}

fn bytes(max: usize) -> impl Strategy<Value = Bytes> {
    prop::collection::vec(any::<u8>(), 0..max).prop_map(Bytes::from)
}

fn code() -> impl Strategy<Value = ErrorCode> {
    prop_oneof![0u32..14, any::<u32>()].prop_map(ErrorCode)
}

/// A dependency on any stream but `stream`.
fn dependency_for(stream: StreamId) -> impl Strategy<Value = StreamDependency> {
    (any_stream_id(), any::<u8>(), any::<bool>()).prop_map(move |(d, weight, exclusive)| {
        let dependency = if d == stream { StreamId::new(d.get() ^ 1) } else { d };
        StreamDependency { dependency, weight, exclusive }
    })
}

fn settings() -> impl Strategy<Value = Settings> {
    (
        prop::option::of(any::<u32>()),
        prop::option::of(any::<bool>()),
        prop::option::of(any::<u32>()),
        prop::option::of(0..=MAX_WINDOW_SIZE),
        prop::option::of(DEFAULT_MAX_FRAME_SIZE..=MAX_PAYLOAD_LEN),
        prop::option::of(any::<u32>()),
    )
        .prop_map(|(a, b, c, d, e, f)| Settings {
            header_table_size: a,
            enable_push: b,
            max_concurrent_streams: c,
            initial_window_size: d,
            max_frame_size: e,
            max_header_list_size: f,
        })
}

/// One frame that stands alone (not part of a field block).
fn single() -> impl Strategy<Value = Frame> {
    prop_oneof![
        (stream_id(), bytes(400), any::<bool>(), prop::option::of(any::<u8>()))
            .prop_map(|(stream, data, end_stream, pad)| Frame::Data(Data { stream, data, end_stream, pad })),
        stream_id().prop_flat_map(|stream| dependency_for(stream)
            .prop_map(move |dependency| Frame::Priority(Priority { stream, dependency }))),
        (stream_id(), code()).prop_map(|(stream, code)| Frame::RstStream(RstStream { stream, code })),
        settings().prop_map(Frame::Settings),
        Just(Frame::SettingsAck),
        (any::<bool>(), any::<[u8; 8]>()).prop_map(|(ack, payload)| Frame::Ping(Ping { ack, payload })),
        (any_stream_id(), code(), bytes(100)).prop_map(|(last_stream, code, debug_data)| Frame::GoAway(GoAway {
            last_stream,
            code,
            debug_data
        })),
        (any_stream_id(), 1..=MAX_WINDOW_SIZE)
            .prop_map(|(stream, increment)| Frame::WindowUpdate(WindowUpdate { stream, increment })),
        (10u8..=255, any::<u8>(), any_stream_id(), bytes(100))
            .prop_map(|(kind, flags, stream, payload)| Frame::Unknown(Unknown { kind, flags, stream, payload })),
    ]
}

/// A field block: HEADERS or PUSH_PROMISE, then 0 to 4 CONTINUATION frames.
fn block() -> impl Strategy<Value = Vec<Frame>> {
    let first = stream_id().prop_flat_map(|stream| {
        prop_oneof![
            (bytes(300), any::<bool>(), prop::option::of(any::<u8>()), prop::option::of(dependency_for(stream)))
                .prop_map(move |(fragment, end_stream, pad, priority)| {
                    Frame::Headers(Headers { stream, fragment, end_stream, end_headers: true, pad, priority })
                }),
            (stream_id(), bytes(300), prop::option::of(any::<u8>())).prop_map(move |(promised, fragment, pad)| {
                Frame::PushPromise(PushPromise { stream, promised, fragment, end_headers: true, pad })
            }),
        ]
    });
    (first, prop::collection::vec(bytes(200), 0..5)).prop_map(|(mut first, rest)| {
        let stream = first.stream();
        let n = rest.len();
        if n > 0 {
            match &mut first {
                Frame::Headers(h) => h.end_headers = false,
                Frame::PushPromise(p) => p.end_headers = false,
                _ => unreachable!(),
            }
        }
        let mut frames = vec![first];
        frames.extend(
            rest.into_iter()
                .enumerate()
                .map(|(i, fragment)| Frame::Continuation(Continuation { stream, fragment, end_headers: i + 1 == n })),
        );
        frames
    })
}

fn conversation() -> impl Strategy<Value = Vec<Frame>> {
    prop::collection::vec(prop_oneof![3 => single().prop_map(|f| vec![f]), 1 => block()], 0..12)
        .prop_map(|units| units.into_iter().flatten().collect())
}

fn encode(frames: &[Frame]) -> Vec<u8> {
    let mut wire = BytesMut::new();
    for f in frames {
        let before = wire.len();
        f.encode(&mut wire);
        assert_eq!(wire.len() - before, f.encoded_len());
    }
    wire.to_vec()
}

/// Feeds `wire` in chunks of the given sizes (cycled; the rest at once when none), decoding
/// after every chunk. Records every frame and error, and stops at a connection error.
fn run(decoder: &mut FrameDecoder, wire: &[u8], chunks: &[usize]) -> Vec<Result<Frame, FrameError>> {
    let mut buf = BytesMut::new();
    let mut out = Vec::new();
    let mut fed = 0;
    let mut sizes = chunks.iter().cycle();
    loop {
        loop {
            match decoder.decode(&mut buf) {
                Ok(Some(f)) => out.push(Ok(f)),
                Ok(None) => break,
                Err(e) => {
                    out.push(Err(e));
                    if e.is_connection_error() {
                        return out;
                    }
                }
            }
        }
        if fed == wire.len() {
            return out;
        }
        let n = sizes.next().map_or(wire.len() - fed, |&n| n.max(1)).min(wire.len() - fed);
        buf.extend_from_slice(&wire[fed..fed + n]);
        fed += n;
    }
}

/// Frames in the shape most likely to reach deep decoder paths: any type (extensions included),
/// any flags, small stream identifiers, short payloads, and a length field that may lie.
fn hostile() -> impl Strategy<Value = Vec<u8>> {
    let frame = (0u8..12, any::<u8>(), 0u32..4, bytes(40), prop::option::weighted(0.1, 0u32..50)).prop_map(
        |(kind, flags, stream, payload, len)| {
            let len = len.unwrap_or(payload.len() as u32);
            let mut v = Head { len, kind, flags, stream: StreamId::new(stream) }.to_bytes().to_vec();
            v.extend_from_slice(&payload);
            v
        },
    );
    prop::collection::vec(frame, 0..20).prop_map(|f| f.concat())
}

fn small_limits() -> FrameDecoder {
    let mut d = FrameDecoder::new();
    d.set_max_continuations(2).set_max_header_block(60);
    d
}

// 256 cases each by default; set PROPTEST_CASES for longer runs.
proptest! {
    #[test]
    fn round_trip(frames in conversation()) {
        let wire = encode(&frames);
        let got = run(&mut FrameDecoder::new(), &wire, &[]);
        let want: Vec<_> = frames.into_iter().map(Ok).collect();
        prop_assert_eq!(got, want);
    }

    #[test]
    fn split_invariance(frames in conversation(), chunks in prop::collection::vec(1usize..64, 1..16)) {
        let wire = encode(&frames);
        let whole = run(&mut FrameDecoder::new(), &wire, &[]);
        prop_assert_eq!(run(&mut FrameDecoder::new(), &wire, &chunks), whole.clone());
        prop_assert_eq!(run(&mut FrameDecoder::new(), &wire, &[1]), whole);
    }

    #[test]
    fn field_block_split_round_trip(frames in block(), max in prop_oneof![Just(0u32), 16_384u32..20_000]) {
        // Reassemble any block, re-split it at `max`, and get the same block back.
        let mut block = Vec::new();
        for f in &frames {
            match f {
                Frame::Headers(h) => block.extend_from_slice(&h.fragment),
                Frame::PushPromise(p) => block.extend_from_slice(&p.fragment),
                Frame::Continuation(c) => block.extend_from_slice(&c.fragment),
                _ => unreachable!(),
            }
        }
        let block = Bytes::from(block.repeat(60)); // often more than one frame
        let mut wire = BytesMut::new();
        match &frames[0] {
            Frame::Headers(h) => Headers { fragment: block.clone(), ..h.clone() }.encode_split(max, &mut wire),
            Frame::PushPromise(p) => PushPromise { fragment: block.clone(), ..p.clone() }.encode_split(max, &mut wire),
            _ => unreachable!(),
        }
        let mut d = FrameDecoder::new();
        d.set_max_header_block(usize::MAX).set_max_continuations(usize::MAX).set_max_frame_size(max);
        let mut got = Vec::new();
        while let Some(f) = d.decode(&mut wire).unwrap() {
            prop_assert!(f.encoded_len() <= 9 + max.max(16_384) as usize);
            match f {
                Frame::Headers(h) => got.extend_from_slice(&h.fragment),
                Frame::PushPromise(p) => got.extend_from_slice(&p.fragment),
                Frame::Continuation(c) => got.extend_from_slice(&c.fragment),
                f => prop_assert!(false, "{:?}", f),
            }
        }
        prop_assert!(wire.is_empty() && d.expect_continuation().is_none());
        prop_assert_eq!(&got[..], &block[..]);
    }

    #[test]
    fn hostile_input_is_split_invariant(wire in hostile(), chunks in prop::collection::vec(1usize..32, 1..8)) {
        let whole = run(&mut small_limits(), &wire, &[]);
        prop_assert_eq!(run(&mut small_limits(), &wire, &chunks), whole);
    }

    #[test]
    fn arbitrary_bytes_never_panic(wire in prop::collection::vec(any::<u8>(), 0..2048), chunk in 1usize..100) {
        run(&mut FrameDecoder::new(), &wire, &[chunk]);
        run(&mut small_limits(), &wire, &[]);
    }

    #[test]
    fn hostile_input_never_panics_and_reencodes(wire in hostile()) {
        // Whatever the decoder accepts, it re-encodes to something it decodes the same way.
        for f in run(&mut FrameDecoder::new(), &wire, &[]).into_iter().flatten() {
            let mut buf = BytesMut::new();
            f.encode(&mut buf);
            let mut d = FrameDecoder::new();
            d.set_max_header_block(usize::MAX);
            // Blocks may be open in the original stream; a lone CONTINUATION is not re-decodable.
            if matches!(f, Frame::Continuation(_)) {
                continue;
            }
            prop_assert_eq!(d.decode(&mut buf), Ok(Some(f)));
        }
    }
}
