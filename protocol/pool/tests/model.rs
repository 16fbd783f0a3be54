//! The hub against a simple model, over random sequences of requests,
//! connection events, outcomes and time: the caps are never exceeded,
//! each origin's requests are first assigned in the order they came, no
//! request is assigned to a connection that is not up, and every request is
//! answered exactly once.

mod common;

use common::Driver;
use proptest::prelude::*;
use sockless_core::Duration;
use sockless_pool::{Backoff, Config, Origin, Outcome, Protocol, ProtocolChoice, RequestId, RequestOptions, Timeouts};
use std::collections::BTreeMap;

const CAP: usize = 2;
const ORIGINS: usize = 2;
const H2_LIMIT: u32 = 3;

#[derive(Clone, Debug)]
enum Op {
    Submit { origin: usize, idempotent: bool, pool_wait: bool },
    Connect(usize),
    FailConnect(usize),
    Complete(usize),
    Close(usize, u8),
    GoAway(usize),
    Cancel(usize),
    Advance(u64),
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        4 => (0..4usize, any::<bool>(), any::<bool>())
            .prop_map(|(origin, idempotent, pool_wait)| Op::Submit { origin, idempotent, pool_wait }),
        3 => any::<usize>().prop_map(Op::Connect),
        1 => any::<usize>().prop_map(Op::FailConnect),
        4 => any::<usize>().prop_map(Op::Complete),
        1 => (any::<usize>(), 0..5u8).prop_map(|(i, o)| Op::Close(i, o)),
        1 => any::<usize>().prop_map(Op::GoAway),
        1 => any::<usize>().prop_map(Op::Cancel),
        2 => (0..40_000u64).prop_map(Op::Advance),
    ]
}

/// Origins 0 and 1 speak HTTP/1.1, 2 HTTP/2 (3 streams), 3 negotiates and
/// gets HTTP/1.1.
fn origin(i: usize) -> (Origin, ProtocolChoice, Protocol) {
    match i {
        0 => (Origin::http("a", 80), ProtocolChoice::Http1, Protocol::Http1),
        1 => (Origin::https("a", 80), ProtocolChoice::Http1, Protocol::Http1),
        2 => (Origin::http("h2", 80), ProtocolChoice::Http2, Protocol::Http2),
        _ => (Origin::https("n", 443), ProtocolChoice::Negotiate, Protocol::Http1),
    }
}

fn protocol_for(d: &Driver, conn: sockless_pool::ConnId) -> Protocol {
    let o = d.conns[&conn].origin.clone().unwrap();
    (0..4).map(origin).find(|(x, _, _)| *x == o).unwrap().2
}

fn connect(d: &mut Driver, conn: sockless_pool::ConnId) {
    let p = protocol_for(d, conn);
    if p == Protocol::Http2 {
        d.hub.handle_stream_limit(d.now, conn, H2_LIMIT);
    }
    d.connect(conn, p);
}

fn pick<T: Copy>(items: &[T], i: usize) -> Option<T> {
    (!items.is_empty()).then(|| items[i % items.len()])
}

fn check(d: &Driver, submitted: &[RequestId]) {
    let mut per_origin: BTreeMap<&Origin, usize> = BTreeMap::new();
    for c in d.conns.values() {
        *per_origin.entry(c.origin.as_ref().unwrap()).or_default() += 1;
    }
    assert!(per_origin.values().all(|&n| n <= CAP), "per-origin cap: {per_origin:?}");
    assert!(per_origin.len() <= ORIGINS, "origin cap: {per_origin:?}");
    for (id, c) in &d.conns {
        let limit = if protocol_for(d, *id) == Protocol::Http2 { H2_LIMIT as usize } else { 1 };
        assert!(c.carrying.len() <= limit, "{id:?} carries {:?}", c.carrying);
    }
    assert!(d.answered_twice.is_empty(), "answered twice: {:?}", d.answered_twice);
    // FIFO per origin: first assignments in submission order.
    let mut seen = std::collections::BTreeSet::new();
    let mut last: BTreeMap<&Origin, RequestId> = BTreeMap::new();
    for (r, _) in &d.assign_log {
        if seen.insert(*r) {
            let o = &d.origins_of[r];
            if let Some(prev) = last.insert(o, *r) {
                assert!(prev < *r, "{r:?} assigned before the earlier {prev:?} of {o}");
            }
        }
    }
    for r in d.answers.keys() {
        assert!(submitted.contains(r));
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 400, ..ProptestConfig::default() })]

    #[test]
    fn the_hub_keeps_its_rules(ops in proptest::collection::vec(op(), 1..120), backoff in any::<bool>()) {
        let config = Config {
            max_connections_per_origin: CAP,
            max_origins: ORIGINS,
            connect_backoff: backoff.then(Backoff::default),
            ..Config::default()
        };
        let mut d = Driver::new(config);
        let mut submitted = Vec::new();
        let mut cancelled = Vec::new();
        for op in ops {
            match op {
                Op::Submit { origin: i, idempotent, pool_wait } => {
                    let (o, protocol, _) = origin(i);
                    let timeouts = pool_wait.then(|| Timeouts { pool_wait: Some(Duration::from_secs(20)), ..Timeouts::default() });
                    let options = RequestOptions { idempotent, replayable: true, timeouts, protocol };
                    submitted.push(d.submit(&o, options));
                }
                Op::Connect(i) => {
                    if let Some(c) = pick(&d.connecting(), i) {
                        connect(&mut d, c);
                    }
                }
                Op::FailConnect(i) => {
                    if let Some(c) = pick(&d.connecting(), i) {
                        d.fail_connect(c);
                    }
                }
                Op::Complete(i) => {
                    let assigned: Vec<RequestId> = d.assigned.keys().copied().collect();
                    if let Some(r) = pick(&assigned, i) {
                        d.complete(r);
                    }
                }
                Op::Close(i, how) => {
                    let up: Vec<_> = d.conns.iter().filter(|(_, c)| c.connected).map(|(&id, _)| id).collect();
                    if let Some(c) = pick(&up, i) {
                        let outcome = [Outcome::ClosedBeforeSend, Outcome::NoResponse, Outcome::Refused, Outcome::Failed, Outcome::NoResponse][how as usize];
                        d.peer_close(c, outcome);
                    }
                }
                Op::GoAway(i) => {
                    let up: Vec<_> = d.conns.iter().filter(|(&id, c)| c.connected && d.hub.protocol_of(id) == Some(Protocol::Http2)).map(|(&id, _)| id).collect();
                    if let Some(c) = pick(&up, i) {
                        let carrying: Vec<RequestId> = d.conns[&c].carrying.iter().copied().collect();
                        for (n, r) in carrying.iter().enumerate() {
                            d.hub.handle_request_started(d.now, *r, Some(2 * n as u32 + 1));
                        }
                        d.hub.handle_goaway(d.now, c, 1);
                        d.drain();
                    }
                }
                Op::Cancel(i) => {
                    let open: Vec<RequestId> = submitted.iter().copied().filter(|r| !d.answers.contains_key(r) && !cancelled.contains(r)).collect();
                    if let Some(r) = pick(&open, i) {
                        cancelled.push(r);
                        d.assigned.remove(&r);
                        for c in d.conns.values_mut() {
                            c.carrying.remove(&r);
                        }
                        d.hub.cancel(d.now, r);
                        d.drain();
                    }
                }
                Op::Advance(ms) => d.advance(Duration::from_millis(ms)),
            }
            check(&d, &submitted);
        }
        // Let everything finish: connect what dials, complete what runs.
        for _ in 0..10_000 {
            if d.hub.pending_requests() == 0 {
                break;
            }
            for c in d.connecting() {
                connect(&mut d, c);
            }
            let assigned: Vec<RequestId> = d.assigned.keys().copied().collect();
            for r in assigned {
                d.complete(r);
            }
            check(&d, &submitted);
            d.advance(Duration::from_secs(1));
        }
        prop_assert_eq!(d.hub.pending_requests(), 0);
        for r in &submitted {
            prop_assert!(d.answers.contains_key(r) != cancelled.contains(r), "{:?} answered exactly once unless cancelled", r);
        }
    }
}
