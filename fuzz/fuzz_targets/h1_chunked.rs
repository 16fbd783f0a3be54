//! Split invariance and robustness of `ChunkedDecoder`: limits from the
//! first bytes, the body fed whole and in pieces into a `BytesMut`, decode
//! called until it wants more; the data, trailer fields, end and error must
//! be the same either way.
//!
//! Input: `[ext, trailer_bytes, trailers, body_limit, split, body...]`.
#![no_main]

#[path = "common.rs"]
mod common;

use bytes::BytesMut;
use common::split;
use libfuzzer_sys::fuzz_target;
use sockless_core::ProtocolErrorKind;
use sockless_h1::chunked::{Chunk, ChunkedDecoder, ChunkedLimits};

#[derive(Debug, PartialEq, Eq, Default)]
struct Outcome {
    data: Vec<u8>,
    trailers: Option<Vec<(Vec<u8>, Vec<u8>)>>,
    end: bool,
    error: Option<ProtocolErrorKind>,
    /// Bytes left after the end (belonging to the next message).
    after_end: usize,
}

fn run(limits: ChunkedLimits, chunks: &[&[u8]]) -> Outcome {
    let mut dec = ChunkedDecoder::new(limits);
    let mut buf = BytesMut::new();
    let mut out = Outcome::default();
    'outer: for chunk in chunks {
        buf.extend_from_slice(chunk);
        for _ in 0..1_000_000 {
            let before = buf.len();
            match dec.decode(&mut buf) {
                Ok(None) => {
                    assert!(out.end || !dec.is_done(), "done without End");
                    let _ = before;
                    continue 'outer;
                }
                Ok(Some(Chunk::Data(d))) => {
                    assert!(!d.is_empty(), "empty data chunk");
                    assert!(!out.end && out.trailers.is_none(), "data after trailers or end");
                    out.data.extend_from_slice(&d);
                }
                Ok(Some(Chunk::Trailers(t))) => {
                    assert!(!out.end && out.trailers.is_none(), "second trailers or after end");
                    assert!(!t.is_empty(), "empty trailers");
                    out.trailers = Some(t.iter().map(|(n, v)| (n.to_vec(), v.to_vec())).collect());
                }
                Ok(Some(Chunk::End)) => {
                    assert!(!out.end, "second End");
                    out.end = true;
                    assert!(dec.is_done());
                }
                Err(e) => {
                    out.error = Some(e);
                    break 'outer;
                }
            }
        }
        panic!("decode never asked for more input");
    }
    if out.end {
        out.after_end = buf.len();
        assert_eq!(dec.decode(&mut buf), Ok(None), "decode after End");
    }
    out
}

fuzz_target!(|input: &[u8]| {
    if input.len() < 5 {
        return;
    }
    let pick = |b: u8, big: usize| if b == 0xff { big } else { usize::from(b) };
    let limits = ChunkedLimits {
        max_ext_bytes: pick(input[0], 16 * 1024),
        max_trailer_bytes: pick(input[1], 8 * 1024),
        max_trailers: pick(input[2] % 16, 100).max(if input[2] >= 0xf0 { 100 } else { 0 }),
        max_body_bytes: if input[3] == 0xff { None } else { Some(u64::from(input[3]) * 4) },
    };
    let data = &input[5..];
    let whole = run(limits, &[data]);
    let pieces = split(data, input[4]);
    let parts = run(limits, &pieces);
    assert_eq!(whole, parts, "whole vs split ({} pieces) with {limits:?}", pieces.len());
});
