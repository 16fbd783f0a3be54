//! Runs N hello-world cycles (or N passes of raw httparse or of the request parser alone, taking
//! the head or in place: `... profile_cycle httparse|parser|parser-ref 100000 [browser]`) for instruction
//! counting under `valgrind --tool=callgrind`:
//! `cargo build --release -p sockless-h1 --example profile_cycle &&
//!  valgrind --tool=callgrind target/release/examples/profile_cycle cycle 100000`
use sockless_core::{Bytes, Connection, Event, Instant, ResponseHead};
use sockless_h1::{Config, ServerConnection};
use std::hint::black_box;

// The request corpus of the benches: what is profiled is what is timed.
#[path = "../benches/common/mod.rs"]
mod common;
use common::{BROWSER, WRK};

fn main() {
    let mut args = std::env::args().skip(1);
    let what = args.next().unwrap_or_else(|| "cycle".into());
    let n: usize = args.next().and_then(|s| s.parse().ok()).unwrap_or(100_000);
    // A third argument `browser` parses a 17-field browser request instead of wrk's.
    let request: &[u8] = match args.next().as_deref() {
        Some("browser") => BROWSER,
        _ => WRK,
    };
    let now = Instant::from_millis(1);
    let head = ResponseHead::new(200).header("Content-Type", "text/plain").header("Content-Length", "13");
    let mut conn = ServerConnection::new(Config::server(), now);
    match what.as_str() {
        "httparse" => {
            for _ in 0..n {
                let mut headers = [httparse::EMPTY_HEADER; 64];
                let mut req = httparse::Request::new(&mut headers);
                black_box(req.parse(black_box(request)).unwrap());
                black_box((&req.method, &req.path, &req.headers));
            }
        }
        "parser-ref" => {
            let config = Config::server();
            let mut parser = sockless_h1::RequestParser::new();
            for _ in 0..n {
                let r = parser.parse_ref(black_box(request), &config).unwrap().unwrap();
                black_box((r.head.method, r.head.target, r.head.fields(), r.len));
            }
        }
        "parser" => {
            let config = Config::server();
            let mut parser = sockless_h1::RequestParser::new();
            let mut buf = bytes::BytesMut::with_capacity(16 * request.len());
            for _ in 0..n / 16 {
                buf.clear();
                for _ in 0..16 {
                    buf.extend_from_slice(request);
                }
                for _ in 0..16 {
                    let r = parser.parse(black_box(&mut buf), &config).unwrap().unwrap();
                    black_box((&r.head.method, &r.head.target, &r.head.headers));
                }
            }
        }
        _ => {
            for _ in 0..n {
                conn.handle_input(now, black_box(WRK)).unwrap();
                while let Some(event) = conn.poll_event() {
                    match event {
                        Event::Request { head, .. } => {
                            black_box((&head.method, &head.target));
                        }
                        Event::EndStream { stream } => {
                            conn.send_response(stream, &head, false).unwrap();
                            conn.send_data(stream, Bytes::from_static(b"Hello, World!"), true).unwrap();
                            break;
                        }
                        _ => unreachable!(),
                    }
                }
                let mut slices: [&[u8]; 8] = [&[]; 8];
                let k = conn.poll_transmit(&mut slices);
                let written: usize = slices[..k].iter().map(|s| s.len()).sum();
                black_box(&slices[..k]);
                conn.advance_transmit(written);
                assert!(conn.poll_event().is_none());
            }
        }
    }
}
