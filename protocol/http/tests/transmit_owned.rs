//! The owned output path (`poll_transmit_owned`, for completion IO) puts the
//! same bytes on the wire as the lent one (`poll_transmit`), for any
//! sequence of partial sends and with answers queued while the kernel holds
//! chunks; on HTTP/1.1, HTTP/2 and the auto-selecting connection.

use proptest::prelude::*;
use sockless_core::{Bytes, Connection, Event, Instant, Method, RequestHead, ResponseHead, StreamId};

const T0: Instant = Instant::ZERO;

/// What the driver does next.
#[derive(Clone, Debug)]
enum Op {
    /// Owned: take chunks to send (at most this many) unless some are held.
    Poll(usize),
    /// The send completes with up to this many bytes.
    Complete(usize),
    /// Answer the next request that has none yet, with a body of this size.
    Answer(usize),
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        (1usize..5).prop_map(Op::Poll),
        (0usize..300).prop_map(Op::Complete),
        (0usize..200).prop_map(Op::Answer),
    ]
}

/// One side of the comparison: a connection and what it put on the wire.
struct Side {
    conn: Box<dyn Connection>,
    owned: bool,
    held: Vec<Bytes>,
    wire: Vec<u8>,
    waiting: Vec<StreamId>,
}

impl Side {
    fn new(conn: Box<dyn Connection>, input: &[u8], owned: bool) -> Side {
        let mut side = Side { conn, owned, held: Vec::new(), wire: Vec::new(), waiting: Vec::new() };
        let mut pos = 0;
        while pos < input.len() {
            let n = side.conn.handle_input(T0, &input[pos..]).expect("valid input");
            side.events();
            if n == 0 {
                break;
            }
            pos += n;
        }
        side
    }

    fn events(&mut self) {
        while let Some(e) = self.conn.poll_event() {
            if let Event::Request { stream, .. } = e {
                self.waiting.push(stream);
            }
        }
    }

    fn apply(&mut self, op: &Op) {
        match *op {
            Op::Poll(max) if self.owned && self.held.is_empty() => {
                let n = self.conn.poll_transmit_owned(&mut self.held, max);
                assert_eq!(n, self.held.len());
            }
            Op::Poll(_) => {}
            Op::Complete(k) => self.send(k),
            Op::Answer(size) => {
                if self.waiting.is_empty() {
                    return;
                }
                let stream = self.waiting.remove(0);
                let head = ResponseHead::new(200).header("content-length", size.to_string());
                self.conn.send_response(stream, &head, size == 0).unwrap();
                if size > 0 {
                    let body: Vec<u8> = (0..size).map(|i| (i % 251) as u8).collect();
                    let body = Bytes::from(body);
                    let half = size / 2;
                    self.conn.send_data(stream, body.slice(..half), false).unwrap();
                    self.conn.send_data(stream, body.slice(half..), true).unwrap();
                }
                self.events();
            }
        }
    }

    /// A send of up to `k` bytes completes.
    fn send(&mut self, k: usize) {
        if self.owned {
            if self.held.is_empty() {
                return;
            }
            let flat = self.held.concat();
            let n = k.min(flat.len());
            self.wire.extend_from_slice(&flat[..n]);
            self.held.clear();
            self.conn.advance_transmit(n);
        } else {
            let mut slices: [&[u8]; 4] = [&[]; 4];
            let count = self.conn.poll_transmit(&mut slices);
            let flat = slices[..count].concat();
            let n = k.min(flat.len());
            self.wire.extend_from_slice(&flat[..n]);
            self.conn.advance_transmit(n);
        }
        self.events();
    }

    /// Sends everything left, one whole send at a time.
    fn finish(mut self) -> Vec<u8> {
        for _ in 0..10_000 {
            self.held.clear();
            if self.owned {
                self.conn.poll_transmit_owned(&mut self.held, 3);
            }
            let before = self.wire.len();
            self.send(usize::MAX);
            if self.wire.len() == before {
                return self.wire;
            }
        }
        panic!("output never ran dry");
    }
}

fn run(make: impl Fn() -> Box<dyn Connection>, input: &[u8], ops: &[Op]) -> (Vec<u8>, Vec<u8>) {
    let mut lent = Side::new(make(), input, false);
    let mut owned = Side::new(make(), input, true);
    for op in ops {
        lent.apply(op);
        owned.apply(op);
    }
    // Answer whatever is left, the same way on both sides.
    for _ in 0..8 {
        lent.apply(&Op::Answer(7));
        owned.apply(&Op::Answer(7));
    }
    (lent.finish(), owned.finish())
}

fn h1_requests(n: usize) -> Vec<u8> {
    b"GET /x HTTP/1.1\r\nHost: a\r\n\r\n".repeat(n)
}

/// What an HTTP/2 client sends for `n` GETs (preface, SETTINGS, HEADERS).
fn h2_requests(n: usize) -> Vec<u8> {
    let mut client = sockless_h2::H2Connection::client(sockless_h2::Config::default(), T0);
    for _ in 0..n {
        let head = RequestHead::new(Method::Get, "http://a/x");
        client.send_request(&head, true).unwrap();
    }
    let mut wire = Vec::new();
    loop {
        let mut slices: [&[u8]; 8] = [&[]; 8];
        let count = client.poll_transmit(&mut slices);
        if count == 0 {
            return wire;
        }
        let flat = slices[..count].concat();
        wire.extend_from_slice(&flat);
        client.advance_transmit(flat.len());
    }
}

fn auto() -> Box<dyn Connection> {
    Box::new(sockless_http::ServerConnection::cleartext(sockless_http::ServerConfig::default(), T0))
}

proptest! {
    #[test]
    fn h1_owned_and_lent_send_the_same_bytes(n in 1usize..5, ops in proptest::collection::vec(op(), 0..40)) {
        let make = || -> Box<dyn Connection> {
            Box::new(sockless_h1::ServerConnection::new(sockless_h1::Config::server(), T0))
        };
        let (lent, owned) = run(make, &h1_requests(n), &ops);
        prop_assert!(lent.starts_with(b"HTTP/1.1 200 OK\r\n"));
        prop_assert_eq!(lent, owned);
    }

    #[test]
    fn h2_owned_and_lent_send_the_same_bytes(n in 1usize..5, ops in proptest::collection::vec(op(), 0..40)) {
        let make = || -> Box<dyn Connection> {
            Box::new(sockless_h2::H2Connection::server(sockless_h2::Config::default(), T0))
        };
        let (lent, owned) = run(make, &h2_requests(n), &ops);
        prop_assert!(lent.len() > 9 * (n + 1), "answers went out: {} bytes", lent.len());
        prop_assert_eq!(lent, owned);
    }

    #[test]
    fn auto_selecting_owned_and_lent_send_the_same_bytes(
        h2 in any::<bool>(),
        n in 1usize..4,
        ops in proptest::collection::vec(op(), 0..30),
    ) {
        let input = if h2 { h2_requests(n) } else { h1_requests(n) };
        let (lent, owned) = run(auto, &input, &ops);
        prop_assert!(!lent.is_empty());
        prop_assert_eq!(lent, owned);
    }
}
