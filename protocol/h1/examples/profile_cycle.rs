//! Runs N hello-world cycles (or N passes of raw httparse or of the request parser alone, taking
//! the head or in place: `... profile_cycle httparse|parser|parser-ref 100000 [browser]`) for instruction
//! counting under `valgrind --tool=callgrind`:
//! `cargo build --release -p sockless-h1 --example profile_cycle &&
//!  valgrind --tool=callgrind target/release/examples/profile_cycle cycle 100000`
use sockless_core::{Bytes, Connection, Event, Instant, ResponseHead};
use sockless_h1::{Config, ServerConnection};
use std::hint::black_box;

const WRK: &[u8] = b"GET / HTTP/1.1\r\nHost: localhost:8080\r\n\r\n";
const BROWSER: &[u8] = b"GET /shop/shoes?color=blue HTTP/1.1\r\nHost: example.com\r\nConnection: keep-alive\r\n\
sec-ch-ua: \"Not_A Brand\";v=\"8\", \"Chromium\";v=\"120\", \"Google Chrome\";v=\"120\"\r\nsec-ch-ua-mobile: ?0\r\n\
sec-ch-ua-platform: \"Windows\"\r\nUpgrade-Insecure-Requests: 1\r\nUser-Agent: Mozilla/5.0 (Windows NT 10.0; Win64; x64) \
AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.0.0 Safari/537.36\r\nAccept: text/html,application/xhtml+xml,\
application/xml;q=0.9,image/avif,image/webp,image/apng,*/*;q=0.8,application/signed-exchange;v=b3;q=0.7\r\n\
Sec-Fetch-Site: same-origin\r\nSec-Fetch-Mode: navigate\r\nSec-Fetch-User: ?1\r\nSec-Fetch-Dest: document\r\n\
Referer: https://example.com/shop/\r\nAccept-Encoding: gzip, deflate, br\r\nAccept-Language: en-US,en;q=0.9\r\n\
Cookie: session=8f3b2c1d9e7a4f6b; theme=dark\r\n\r\n";

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
