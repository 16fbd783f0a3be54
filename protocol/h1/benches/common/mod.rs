//! What the `h1` and `alloc` benches share: the request corpus, the hello-world response and one
//! server request/response cycle.

#![allow(dead_code)] // each bench binary uses a different part of this module

use std::hint::black_box;

use sockless_core::{Bytes, Connection, Event, Instant, ResponseHead};
use sockless_h1::{Config, ServerConnection};

/// What `wrk` sends by default (`wrk http://localhost:8080/`).
pub const WRK: &[u8] = b"GET / HTTP/1.1\r\nHost: localhost:8080\r\n\r\n";

/// A Chrome 120 navigation (a followed link, with Referer and cookies), as sent over HTTP/1.1:
/// 16 header fields, 764 bytes.
pub const BROWSER: &[u8] = b"GET /shop/shoes?color=blue HTTP/1.1\r\n\
Host: example.com\r\n\
Connection: keep-alive\r\n\
sec-ch-ua: \"Not_A Brand\";v=\"8\", \"Chromium\";v=\"120\", \"Google Chrome\";v=\"120\"\r\n\
sec-ch-ua-mobile: ?0\r\n\
sec-ch-ua-platform: \"Windows\"\r\n\
Upgrade-Insecure-Requests: 1\r\n\
User-Agent: Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) \
Chrome/120.0.0.0 Safari/537.36\r\n\
Accept: text/html,application/xhtml+xml,application/xml;q=0.9,image/avif,image/webp,image/apng,*/*;q=0.8,\
application/signed-exchange;v=b3;q=0.7\r\n\
Sec-Fetch-Site: same-origin\r\n\
Sec-Fetch-Mode: navigate\r\n\
Sec-Fetch-User: ?1\r\n\
Sec-Fetch-Dest: document\r\n\
Referer: https://example.com/shop/\r\n\
Accept-Encoding: gzip, deflate, br\r\n\
Accept-Language: en-US,en;q=0.9\r\n\
Cookie: session=8f3b2c1d9e7a4f6b; theme=dark\r\n\
\r\n";

/// The same navigation reloaded (F5): Chrome adds `Cache-Control: max-age=0`: 17 header fields,
/// 790 bytes, one more than a parsed head keeps inline (`sockless_core::INLINE_FIELDS`).
pub const BROWSER_RELOAD: &[u8] = b"GET /shop/shoes?color=blue HTTP/1.1\r\n\
Host: example.com\r\n\
Connection: keep-alive\r\n\
Cache-Control: max-age=0\r\n\
sec-ch-ua: \"Not_A Brand\";v=\"8\", \"Chromium\";v=\"120\", \"Google Chrome\";v=\"120\"\r\n\
sec-ch-ua-mobile: ?0\r\n\
sec-ch-ua-platform: \"Windows\"\r\n\
Upgrade-Insecure-Requests: 1\r\n\
User-Agent: Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) \
Chrome/120.0.0.0 Safari/537.36\r\n\
Accept: text/html,application/xhtml+xml,application/xml;q=0.9,image/avif,image/webp,image/apng,*/*;q=0.8,\
application/signed-exchange;v=b3;q=0.7\r\n\
Sec-Fetch-Site: same-origin\r\n\
Sec-Fetch-Mode: navigate\r\n\
Sec-Fetch-User: ?1\r\n\
Sec-Fetch-Dest: document\r\n\
Referer: https://example.com/shop/\r\n\
Accept-Encoding: gzip, deflate, br\r\n\
Accept-Language: en-US,en;q=0.9\r\n\
Cookie: session=8f3b2c1d9e7a4f6b; theme=dark\r\n\
\r\n";

/// The hello-world body.
pub const HELLO: &[u8] = b"Hello, World!";

/// The hello-world response head, built once and reused: a server framework would keep it.
pub fn hello_head() -> ResponseHead {
    ResponseHead::new(200).header("Content-Type", "text/plain").header("Content-Length", "13")
}

/// The time every call passes in: the benches never let a timer expire.
pub const NOW: Instant = Instant::from_millis(1);

/// A server connection with the default configuration.
pub fn server() -> ServerConnection {
    ServerConnection::new(Config::server(), NOW)
}

/// One keep-alive request/response cycle, driven the way the driver contract says: input, events
/// (the application answers inside the event loop), transmit, then events until none are left.
/// Returns the number of response bytes written and the number of slices they came in.
#[inline]
pub fn cycle(conn: &mut ServerConnection, request: &[u8], head: &ResponseHead) -> (usize, usize) {
    let taken = conn.handle_input(NOW, request).expect("request accepted");
    debug_assert_eq!(taken, request.len());
    while let Some(event) = conn.poll_event() {
        match event {
            Event::Request { head, .. } => {
                // What a hello-world handler looks at: method and path.
                black_box((&head.method, &head.target));
            }
            Event::EndStream { stream } => {
                conn.send_response(stream, head, false).expect("response head");
                conn.send_data(stream, Bytes::from_static(HELLO), true).expect("response body");
                break;
            }
            other => panic!("unexpected event {other:?}"),
        }
    }
    let mut slices: [&[u8]; 8] = [&[]; 8];
    let n = conn.poll_transmit(&mut slices);
    let written: usize = slices[..n].iter().map(|s| s.len()).sum();
    black_box(&slices[..n]);
    conn.advance_transmit(written);
    if let Some(event) = conn.poll_event() {
        panic!("unexpected event {event:?}");
    }
    (written, n)
}
