//! Fuzzes `sockless_h2::frame::FrameDecoder`: limits from control bytes, the
//! bytes fed whole and fed in pieces must give the same frames and errors;
//! a connection error is sticky; the decoded frames encode back to a stream
//! that decodes to the same frames.
//!
//! Input: `[frame_size, header_block, continuations, split, frame bytes...]`.
#![no_main]

#[path = "common.rs"]
mod common;

use bytes::BytesMut;
use common::split;
use libfuzzer_sys::fuzz_target;
use sockless_h2::frame::{Frame, FrameDecoder, FrameError, DEFAULT_MAX_FRAME_SIZE};

#[derive(Debug, PartialEq)]
enum Item {
    Frame(Frame),
    Error(FrameError),
}

fn decoder(c: &[u8]) -> FrameDecoder {
    let mut d = FrameDecoder::new();
    // 0xff: the default; else a size near the 16 KiB floor (clamped up) or above it.
    if c[0] != 0xff {
        d.set_max_frame_size(DEFAULT_MAX_FRAME_SIZE - 64 + u32::from(c[0]));
    }
    if c[1] != 0xff {
        d.set_max_header_block(usize::from(c[1]) * 8);
    }
    if c[2] != 0xff {
        d.set_max_continuations(usize::from(c[2] & 0x1f));
    }
    d
}

/// Decodes everything available; returns true once a connection error ended it.
fn run(d: &mut FrameDecoder, buf: &mut BytesMut, out: &mut Vec<Item>) -> bool {
    loop {
        let before = buf.len();
        match d.decode(buf) {
            Ok(Some(f)) => {
                assert!(buf.len() + 9 <= before, "a frame took {} bytes", before - buf.len());
                assert!(d.error().is_none());
                out.push(Item::Frame(f));
            }
            Ok(None) => {
                assert_eq!(buf.len(), before, "Ok(None) consumed bytes");
                assert!(d.error().is_none());
                return false;
            }
            Err(e) if !e.is_connection_error() => {
                assert!(buf.len() + 9 <= before, "a stream error consumed {} bytes", before - buf.len());
                assert!(d.error().is_none());
                out.push(Item::Error(e));
            }
            Err(e) => {
                // Sticky: the same error, nothing consumed, whatever is added.
                assert_eq!(d.error(), Some(e));
                let left = buf.len();
                buf.extend_from_slice(&[0, 0, 0, 4, 1, 0, 0, 0, 0]);
                assert_eq!(d.decode(buf), Err(e), "connection error not sticky");
                assert_eq!(buf.len(), left + 9, "decode consumed bytes after a connection error");
                buf.truncate(left);
                out.push(Item::Error(e));
                return true;
            }
        }
    }
}

fuzz_target!(|input: &[u8]| {
    if input.len() < 4 {
        return;
    }
    let (control, split_seed, data) = (&input[..3], input[3], &input[4..]);

    let mut whole = Vec::new();
    let mut d = decoder(control);
    let mut buf = BytesMut::from(data);
    let failed = run(&mut d, &mut buf, &mut whole);
    let left_whole = buf.len();

    let mut parts = Vec::new();
    let mut d2 = decoder(control);
    let mut buf2 = BytesMut::new();
    let mut failed2 = false;
    for piece in split(data, split_seed) {
        buf2.extend_from_slice(piece);
        if run(&mut d2, &mut buf2, &mut parts) {
            failed2 = true;
            break;
        }
    }
    assert_eq!(whole, parts, "whole vs pieces");
    assert_eq!(failed, failed2);
    if !failed {
        assert_eq!(left_whole, buf2.len(), "bytes left over");
        assert_eq!(d.expect_continuation(), d2.expect_continuation());
    }

    // Encode the frames back: the same decoder settings read the same frames.
    let frames: Vec<&Frame> =
        whole.iter().filter_map(|i| if let Item::Frame(f) = i { Some(f) } else { None }).collect();
    let mut wire = BytesMut::new();
    for f in &frames {
        let before = wire.len();
        f.encode(&mut wire);
        assert_eq!(wire.len() - before, f.encoded_len(), "encoded_len of {f:?}");
    }
    let mut again = Vec::new();
    let mut d3 = decoder(control);
    assert!(!run(&mut d3, &mut wire, &mut again), "re-encoded frames fail: {again:?}");
    assert!(wire.is_empty());
    let again: Vec<&Frame> = again.iter().map(|i| if let Item::Frame(f) = i { f } else { panic!("{i:?}") }).collect();
    assert_eq!(frames, again, "re-encoded frames");
});
