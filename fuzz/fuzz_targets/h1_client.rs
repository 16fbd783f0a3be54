//! Fuzzes `ClientConnection`: a request of some shape is sent (GET, HEAD,
//! POST with a sized or chunked body, `Expect: 100-continue`, Upgrade,
//! CONNECT, HTTP/1.0), the fuzz bytes are the server's answer, fed in
//! pieces through all three input paths, with timers and EOF. A reusable
//! `Ready` sends the next request.
//!
//! Input: `[flags, split, seed, response bytes...]`.
#![no_main]

#[path = "common.rs"]
mod common;

use bytes::Bytes;
use common::{drain_transmit, fire_timeout, offer, split, tight, Driven, Grammar, Rng};
use libfuzzer_sys::fuzz_target;
use sockless_core::{Connection, Duration, Event, HeaderList, Instant, Method, RequestHead, StreamId, Version};
use sockless_h1::{ClientConnection, Config};

struct Body {
    stream: StreamId,
    data: Bytes,
    trailers: bool,
    /// Whether the request was sent with `end_stream` false and still needs ending.
    open: bool,
}

struct Harness {
    conn: ClientConnection,
    rng: Rng,
    now: Instant,
    wire: Vec<u8>,
    first_method: Option<Vec<u8>>,
    grammar: Grammar,
    body: Option<Body>,
    requests: usize,
    partial_writes: bool,
    finished: bool,
}

impl Harness {
    fn send_request(&mut self) {
        if self.requests >= 32 {
            return;
        }
        // `Ready { reusable: true }` may be followed (in the same batch of
        // input) by bytes that broke the connection, so only a connection
        // that says it is ready must take the request.
        let ready = self.conn.is_ready();
        let r = &mut self.rng;
        let len = r.below(100) as usize;
        let data = Bytes::from(vec![b'y'; len]);
        let (head, end, body) = match r.below(8) {
            0 => (RequestHead::new(Method::Get, "/"), true, None),
            1 => (RequestHead::new(Method::Head, "/h"), true, None),
            2 => (
                RequestHead::new(Method::Post, "/p").header("Content-Length", len.to_string()),
                false,
                Some((data, false)),
            ),
            3 => (RequestHead::new(Method::Post, "/c"), false, Some((data, r.chance(2)))),
            4 => (
                RequestHead::new(Method::Put, "/e")
                    .header("Content-Length", len.to_string())
                    .header("Expect", "100-continue"),
                false,
                Some((data, false)),
            ),
            5 => (
                RequestHead::new(Method::Get, "/ws").header("Connection", "upgrade").header("Upgrade", "websocket"),
                true,
                None,
            ),
            6 => (RequestHead::new(Method::Connect, "example.com:443"), r.chance(2), None),
            _ => {
                let mut h = RequestHead::new(Method::Get, "/old");
                h.version = Version::Http10;
                if r.chance(2) {
                    h = h.header("Connection", "keep-alive");
                }
                (h, true, None)
            }
        };
        let head = head.header("Host", "example.com");
        match self.conn.send_request(&head, end) {
            Ok(stream) => {
                self.requests += 1;
                self.first_method.get_or_insert_with(|| head.method.as_bytes().to_vec());
                self.body = match body {
                    Some((data, trailers)) => Some(Body { stream, data, trailers, open: true }),
                    None if !end => Some(Body { stream, data: Bytes::new(), trailers: false, open: true }),
                    None => None,
                };
            }
            Err(e) => assert!(!ready, "send_request refused a valid request: {e:?} {head:?}"),
        }
    }

    /// Sends some more of the request body; returns whether it progressed.
    fn step_body(&mut self) -> bool {
        let Some(b) = &mut self.body else { return false };
        if !b.data.is_empty() {
            let piece = 1 + self.rng.below(b.data.len() as u64) as usize;
            let end = !b.trailers && piece == b.data.len();
            match self.conn.send_data(b.stream, b.data.slice(..piece), end) {
                Ok(n) => {
                    assert!(n <= piece);
                    let _ = b.data.split_to(n);
                    if end && n == piece {
                        self.body = None;
                    }
                    return n > 0;
                }
                Err(_) => {
                    self.body = None;
                    return true;
                }
            }
        }
        if b.trailers {
            let t = HeaderList::new().with("X-Sum", "7");
            let _ = self.conn.send_trailers(b.stream, &t);
        } else if b.open {
            let _ = self.conn.send_data(b.stream, Bytes::new(), true);
        }
        self.body = None;
        true
    }

    fn drain(&mut self) -> bool {
        let mut any = false;
        for _ in 0..10_000 {
            let mut moved = drain_transmit(&mut self.conn, &mut self.wire, &mut self.rng, self.partial_writes) > 0;
            while let Some(event) = self.conn.poll_event() {
                moved = true;
                if common::debug() {
                    eprintln!("event: {event:?}");
                }
                self.grammar.event(&event);
                match event {
                    Event::Ready { reusable } => {
                        if reusable {
                            self.body = None;
                            self.send_request();
                        } else {
                            assert!(!self.conn.is_ready(), "Ready {{ reusable: false }} but ready");
                        }
                    }
                    Event::Upgrade { .. } => self.finished = true,
                    Event::Closed(_) => {
                        self.finished = true;
                        assert!(self.conn.is_closed());
                        assert_eq!(self.conn.poll_event(), None, "event after Closed");
                        let mut s: [&[u8]; 4] = [&[]; 4];
                        assert_eq!(self.conn.poll_transmit(&mut s), 0, "output after Closed");
                    }
                    _ => {}
                }
            }
            if self.finished {
                self.body = None;
            }
            moved |= self.step_body();
            if !moved {
                if let (Some(m), false) = (&self.first_method, self.wire.is_empty()) {
                    let p = &self.wire[..self.wire.len().min(m.len() + 1)];
                    let mut want = m.clone();
                    want.push(b' ');
                    assert!(want.starts_with(p), "output starts with {:?}", String::from_utf8_lossy(p));
                }
                return any;
            }
            any = true;
        }
        panic!("drain never settled");
    }
}

/// A status line whose reason phrase httparse hands back as a `""` outside
/// the buffer: no space after the status code (`HTTP/1.1 200\r\n`), or a
/// reason that is not UTF-8. The known crash kept in
/// `regressions/h1_client-status-line-without-reason*`.
fn has_status_without_reason(data: &[u8]) -> bool {
    (0..data.len()).any(|i| {
        let w = &data[i..];
        if w.len() < 13
            || !w.starts_with(b"HTTP/")
            || !(w[5].is_ascii_digit() && w[6] == b'.' && w[7].is_ascii_digit() && w[8] == b' ')
            || !w[9..12].iter().all(u8::is_ascii_digit)
        {
            return false;
        }
        let line_end = w.iter().position(|&b| b == b'\n').unwrap_or(w.len());
        w[12] != b' ' || w[12..line_end].iter().any(|&b| b >= 0x80)
    })
}

/// With `SOCKLESS_FUZZ_SKIP_KNOWN` set, inputs that hit crashes already
/// reported are skipped so that fuzzing can go on past them.
fn skip_known() -> bool {
    static SKIP: std::sync::OnceLock<bool> = std::sync::OnceLock::new();
    *SKIP.get_or_init(|| std::env::var_os("SOCKLESS_FUZZ_SKIP_KNOWN").is_some())
}

impl Driven for Harness {
    type Conn = ClientConnection;
    fn parts(&mut self) -> (&mut ClientConnection, Instant, &mut Rng) {
        (&mut self.conn, self.now, &mut self.rng)
    }
    fn drain(&mut self) -> bool {
        Harness::drain(self)
    }
    fn stopped(&self) -> bool {
        self.finished
    }
    fn describe(&self) -> String {
        format!("{:?}", self.conn)
    }
}

fuzz_target!(|input: &[u8]| {
    if input.len() < 3 {
        return;
    }
    if skip_known() && has_status_without_reason(&input[3..]) {
        return;
    }
    let (flags, split_seed, seed) = (input[0], input[1], input[2]);
    let data = &input[3..];
    let config = if flags & 1 != 0 { tight(Config::client()) } else { Config::client() };
    let mut h = Harness {
        conn: ClientConnection::new(config, Instant::ZERO),
        rng: Rng::new(u64::from(seed)),
        now: Instant::ZERO,
        wire: Vec::new(),
        first_method: None,
        grammar: Grammar::default(),
        body: None,
        requests: 0,
        partial_writes: flags & 0x20 != 0,
        finished: false,
    };
    let input_path = (flags >> 1) & 3;
    let timers = flags & 8 != 0;
    h.send_request();
    h.drain();
    let mut failed = false;
    for chunk in split(data, split_seed) {
        failed = failed || offer(&mut h, chunk, input_path);
        if timers && h.rng.chance(3) {
            h.now = h.now + Duration::from_millis(h.rng.below(2000));
            if fire_timeout(&mut h.conn, h.now) {
                h.drain();
            }
        }
    }
    if flags & 0x10 != 0 {
        h.conn.handle_eof(h.now);
        h.drain();
    }
    if timers {
        for _ in 0..8 {
            let Some(t) = h.conn.poll_timeout() else { break };
            h.now = h.now.max(t);
            fire_timeout(&mut h.conn, h.now);
            h.drain();
        }
    }
});
