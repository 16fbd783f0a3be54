//! Runs N hello-world cycles (or N passes of raw httparse or of the request parser alone:
//! `... profile_cycle httparse|parser 100000`) for instruction
//! counting under `valgrind --tool=callgrind`:
//! `cargo build --release -p sockless-h1 --example profile_cycle &&
//!  valgrind --tool=callgrind target/release/examples/profile_cycle cycle 100000`
use sockless_core::{Bytes, Connection, Event, Instant, ResponseHead};
use sockless_h1::{Config, ServerConnection};
use std::hint::black_box;

const WRK: &[u8] = b"GET / HTTP/1.1\r\nHost: localhost:8080\r\n\r\n";

fn main() {
    let mut args = std::env::args().skip(1);
    let what = args.next().unwrap_or_else(|| "cycle".into());
    let n: usize = args.next().and_then(|s| s.parse().ok()).unwrap_or(100_000);
    let now = Instant::from_millis(1);
    let head = ResponseHead::new(200).header("Content-Type", "text/plain").header("Content-Length", "13");
    let mut conn = ServerConnection::new(Config::server(), now);
    match what.as_str() {
        "httparse" => {
            for _ in 0..n {
                let mut headers = [httparse::EMPTY_HEADER; 64];
                let mut req = httparse::Request::new(&mut headers);
                black_box(req.parse(black_box(WRK)).unwrap());
                black_box((&req.method, &req.path, &req.headers));
            }
        }
        "parser" => {
            let config = Config::server();
            let mut parser = sockless_h1::RequestParser::new();
            let mut buf = bytes::BytesMut::with_capacity(16 * WRK.len());
            for _ in 0..n / 16 {
                buf.clear();
                for _ in 0..16 {
                    buf.extend_from_slice(WRK);
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
