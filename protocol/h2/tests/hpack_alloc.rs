//! A warmed-up HPACK decoder makes no heap allocation per decoded field.
//!
//! This file holds a single test because it installs a counting global allocator.

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicUsize, Ordering};

use sockless_h2::hpack::{Decoder, DecoderError, Encoder};

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
fn warmed_decoder_does_not_allocate_per_field() {
    // Build a long conversation: many blocks with new (indexed) fields, Huffman strings, and
    // references into the dynamic table, so the table keeps evicting and inserting.
    let mut encoder = Encoder::new();
    let mut blocks = Vec::new();
    for i in 0..2000u32 {
        let mut block = Vec::new();
        let path = format!("/items/{i}/details?page={}", i % 13);
        let id = format!("req-{}", i * 7919);
        encoder.encode(
            [
                (":method", "GET"),
                (":path", path.as_str()),
                (":authority", "www.example.com"),
                ("user-agent", "Mozilla/5.0 (X11; Linux x86_64) sockless-test"),
                ("x-request-id", id.as_str()),
                ("accept", "text/html,application/xhtml+xml"),
            ],
            &mut block,
        );
        blocks.push(block);
    }
    let mut decoder = Decoder::new(4096);
    let decode_all = |decoder: &mut Decoder| {
        let mut fields = 0usize;
        for block in &blocks {
            decoder
                .decode(block, 1 << 20, |n: &[u8], v: &[u8], _| {
                    fields += usize::from(!n.is_empty() || !v.is_empty());
                    Ok::<(), DecoderError>(())
                })
                .unwrap();
        }
        fields
    };
    // A fresh decoder over the whole conversation.
    let before = ALLOCATIONS.load(Ordering::Relaxed);
    let mut fresh = Decoder::new(4096);
    let fields = decode_all(&mut fresh);
    let cold = ALLOCATIONS.load(Ordering::Relaxed) - before;
    assert_eq!(fields, 12_000);
    // A cold decoder allocates only while its buffers grow.
    assert!(cold < 64, "{cold} allocations for {fields} fields");
    // Decode the same conversation again with a decoder whose buffers are already grown: the
    // table is reset by a size update to 0 and back, so the wire stays valid.
    decoder.decode(&[0x20, 0x3f, 0xe1, 0x1f], 0, |_, _, _| Ok::<(), DecoderError>(())).unwrap();
    decode_all(&mut decoder);
    decoder.decode(&[0x20, 0x3f, 0xe1, 0x1f], 0, |_, _, _| Ok::<(), DecoderError>(())).unwrap();
    let before = ALLOCATIONS.load(Ordering::Relaxed);
    let fields = decode_all(&mut decoder);
    let warmed = ALLOCATIONS.load(Ordering::Relaxed) - before;
    assert_eq!(fields, 12_000);
    assert_eq!(warmed, 0, "a warmed decoder allocated {warmed} times for {fields} fields");
}
