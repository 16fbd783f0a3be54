//! Tls<C> driven by the deterministic simulated network (sockless-sim):
//! seeded links with latency, random segments and late reads, virtual time.

mod common;

use common::{pattern, Ca, Either};
use sockless_core::{Bytes, CloseReason, Connection, Event, Instant, Method, RequestHead, ResponseHead, StreamId};
use sockless_sim::{run, App, Fault, Scenario, Stop};
use sockless_tls::{client_config, server_config, Roots, Tls, TlsErrorKind, ALPN_H2, ALPN_HTTP11};

const BODY: usize = 50_000;

/// Answers every request with `BODY` bytes, sent as the connection takes them.
#[derive(Default)]
struct Serve {
    pending: Vec<(StreamId, Bytes)>,
    closed: Option<CloseReason>,
}

impl App<Tls<Either>> for Serve {
    fn on_event(&mut self, conn: &mut Tls<Either>, event: Event, _now: Instant) {
        match event {
            Event::Request { stream, .. } => conn.read_body(stream).unwrap(),
            Event::Data { stream, data } => conn.release_capacity(stream, data.len()).unwrap(),
            Event::EndStream { stream } => {
                let head = ResponseHead::new(200).header("Content-Length", BODY.to_string());
                conn.send_response(stream, &head, false).unwrap();
                self.pending.push((stream, pattern(BODY, 1)));
                self.tick(conn, Instant::ZERO);
            }
            Event::Closed(reason) => self.closed = Some(reason),
            _ => {}
        }
    }
    fn tick(&mut self, conn: &mut Tls<Either>, _now: Instant) {
        for (stream, body) in self.pending.iter_mut() {
            while !body.is_empty() {
                let n = conn.send_data(*stream, body.clone(), true).unwrap();
                if n == 0 {
                    break;
                }
                let _ = body.split_to(n);
            }
        }
        self.pending.retain(|(_, b)| !b.is_empty());
    }
}

/// Sends one POST once the handshake is done, and reads the response.
#[derive(Default)]
struct Fetch {
    stream: Option<StreamId>,
    upload: Option<Bytes>,
    body: Vec<u8>,
    done: bool,
    closed: Option<CloseReason>,
}

impl App<Tls<Either>> for Fetch {
    fn start(&mut self, conn: &mut Tls<Either>, _now: Instant) {
        // Before the handshake the connection is busy.
        assert!(conn.send_request(&RequestHead::new(Method::Get, "/"), true).is_err());
    }
    fn on_event(&mut self, conn: &mut Tls<Either>, event: Event, now: Instant) {
        match event {
            Event::Ready { .. } if self.stream.is_none() => {
                let head = RequestHead::new(Method::Post, "https://localhost/up")
                    .header("Host", "localhost")
                    .header("Content-Length", "20000");
                self.stream = Some(conn.send_request(&head, false).unwrap());
                self.upload = Some(pattern(20_000, 2));
                self.tick(conn, now);
            }
            Event::Data { stream, data } => {
                conn.release_capacity(stream, data.len()).unwrap();
                self.body.extend_from_slice(&data);
            }
            Event::EndStream { .. } => self.done = true,
            Event::Closed(reason) => self.closed = Some(reason),
            _ => {}
        }
    }
    fn tick(&mut self, conn: &mut Tls<Either>, _now: Instant) {
        if let (Some(stream), Some(up)) = (self.stream, self.upload.as_mut()) {
            while !up.is_empty() {
                let n = conn.send_data(stream, up.clone(), true).unwrap();
                if n == 0 {
                    break;
                }
                let _ = up.split_to(n);
            }
        }
    }
    fn finished(&self) -> bool {
        self.done
    }
}

fn pair(alpn: &'static [u8], now: Instant) -> (Tls<Either>, Tls<Either>) {
    let ca = Ca::new("sim CA");
    let (chain, key) = ca.leaf(&["localhost"]);
    let s = server_config(chain, key, &[ALPN_H2, ALPN_HTTP11], None).unwrap();
    let c = client_config(Roots::Store(ca.roots()), &[alpn], None).unwrap();
    (Tls::server(s, now, Either::server).unwrap(), Tls::client(c, "localhost", now, Either::client).unwrap())
}

#[test]
fn exchanges_over_random_links() {
    for seed in 1..=16u64 {
        let alpn = if seed % 2 == 0 { ALPN_H2 } else { ALPN_HTTP11 };
        let (mut s, mut c) = pair(alpn, Instant::ZERO);
        let (mut serve, mut fetch) = (Serve::default(), Fetch::default());
        let outcome = run(&Scenario::random(seed), &mut c, &mut s, &mut fetch, &mut serve);
        assert_eq!(outcome.stop, Stop::ClientFinished, "seed {seed}: {outcome:?}");
        assert!(fetch.body == pattern(BODY, 1), "seed {seed}: body of {} bytes", fetch.body.len());
        assert_eq!(c.inner().unwrap().is_h2(), alpn == ALPN_H2);
        assert!(s.last_error().is_none() && c.last_error().is_none());
    }
}

#[test]
fn a_partition_during_the_handshake_ends_in_handshake_timeouts() {
    let (mut s, mut c) = pair(ALPN_HTTP11, Instant::ZERO);
    let (mut serve, mut fetch) = (Serve::default(), Fetch::default());
    let scenario = Scenario::new(7).with_fault(Fault::PartitionAt(Instant::from_millis(6)));
    let outcome = run(&scenario, &mut c, &mut s, &mut fetch, &mut serve);
    assert!(outcome.client_closed && outcome.server_closed, "{outcome:?}");
    assert_eq!(s.last_error().unwrap().kind(), TlsErrorKind::HandshakeTimeout);
    assert_eq!(c.last_error().unwrap().kind(), TlsErrorKind::HandshakeTimeout);
    assert!(matches!(serve.closed, Some(CloseReason::Error(_))));
    assert!(matches!(fetch.closed, Some(CloseReason::Error(_))));
    assert!(outcome.now >= Instant::from_millis(10_000) && outcome.now < Instant::from_millis(11_000), "{outcome:?}");
}

#[test]
fn a_reset_after_the_response_closes_both_ends() {
    let (mut s, mut c) = pair(ALPN_HTTP11, Instant::ZERO);
    let (mut serve, mut fetch) = (Serve::default(), Fetch::default());
    let mut scenario = Scenario::new(3).with_fault(Fault::ResetAt(Instant::from_millis(5_000)));
    scenario.stop_when_client_finished = false;
    let outcome = run(&scenario, &mut c, &mut s, &mut fetch, &mut serve);
    assert!(fetch.done);
    assert!(outcome.client_closed && outcome.server_closed, "{outcome:?}");
    // A transport end without close_notify is the inner connection's EOF, not a TLS error.
    assert!(s.last_error().is_none() && c.last_error().is_none());
    assert!(!s.received_close_notify());
}
