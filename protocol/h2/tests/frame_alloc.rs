//! The frame decoder makes no heap allocation per frame: payloads are `Bytes` split off the
//! receive buffer, and the only allocation is the one `bytes` makes the first time it shares a
//! `Vec`-backed buffer.
//!
//! This file holds a single test because it installs a counting global allocator.

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicUsize, Ordering};

use bytes::{Bytes, BytesMut};
use sockless_core::{ErrorCode, StreamId};
use sockless_h2::frame::*;

struct Counting;

static ALLOCATIONS: AtomicUsize = AtomicUsize::new(0);

// SAFETY: every method forwards to `System` with the caller's arguments unchanged, so the
// `GlobalAlloc` contract is exactly the system allocator's; the counter has no effect on memory.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        ALLOCATIONS.fetch_add(1, Ordering::Relaxed);
        // SAFETY: same contract as the caller's.
        unsafe { System.alloc(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: same contract as the caller's.
        unsafe { System.dealloc(ptr, layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        ALLOCATIONS.fetch_add(1, Ordering::Relaxed);
        // SAFETY: same contract as the caller's.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

#[test]
fn decoder_does_not_allocate_per_frame() {
    let body = Bytes::from(vec![0x61; 1000]);
    let mut wire = BytesMut::new();
    let mut expected = 0;
    for i in 0..1000u32 {
        let stream = StreamId::new(2 * i + 1);
        let frames = [
            Frame::Headers(Headers { pad: Some(3), ..Headers::new(stream, Bytes::from_static(b"\x82\x86\x84")) }),
            Frame::Data(Data { stream, data: body.clone(), end_stream: false, pad: Some(10) }),
            Frame::Data(Data { stream, data: body.clone(), end_stream: true, pad: None }),
            Frame::WindowUpdate(WindowUpdate { stream, increment: 2000 }),
            Frame::Ping(Ping { ack: false, payload: [7; 8] }),
            Frame::Settings(Settings { initial_window_size: Some(1 << 20), ..Settings::default() }),
            Frame::RstStream(RstStream { stream, code: ErrorCode::CANCEL }),
            Frame::Priority(Priority {
                stream,
                dependency: StreamDependency { dependency: StreamId::CONNECTION, weight: 15, exclusive: false },
            }),
            Frame::Unknown(Unknown { kind: 0xbb, flags: 0, stream, payload: Bytes::from_static(b"ext") }),
        ];
        for f in &frames {
            f.encode(&mut wire);
        }
        expected += frames.len();
    }
    let mut decoder = FrameDecoder::new();

    let before = ALLOCATIONS.load(Ordering::Relaxed);
    let mut decoded = 0;
    let mut body_bytes = 0;
    while let Some(frame) = decoder.decode(&mut wire).unwrap() {
        if let Frame::Data(d) = &frame {
            body_bytes += d.data.len();
        }
        decoded += 1;
    }
    let allocations = ALLOCATIONS.load(Ordering::Relaxed) - before;

    assert_eq!((decoded, body_bytes), (expected, 2_000_000));
    assert!(allocations <= 1, "{allocations} allocations for {decoded} frames");
}
